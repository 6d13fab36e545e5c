// Coherence C from the Gaussian-weighted local moments m1 = E_w[x], m2 = E_w[x^2] of
// x = (u - shift[k]) * mscale[k] (separable weights along x then y; near the edges the
// weights inside the grid are renormalized to sum to 1, or with option INWARD the cells
// within `radius` of an edge take the moments of the nearest cell whose whole window is
// inside, along each axis that holds a whole window), var = max(m2 - m1^2, 0), then
//   mode 0 ("frame"):   C = 1 / (var + eps), rescaled per member by its min and max
//                       (minmax_partial, then normalize_frame); C = 1 where min == max
//   mode 1 ("bounded"): C = 1 / (1 + var / scale)
//   mode 2:             var itself (the local variance kernel)
//   mode 3 ("local"):   C = min(m1^2 / m2, 1), 1 where m2 = 0
//   mode 4:             C = 1 / (coh_a var + coh_b) (the analyzer's "frame", "bounded" and
//                       "relative" forms of scaled moments; then the rescaling for "frame")
//   mode 5:             min(var / m2, 1), 0 where m2 = 0 (the relative local variance)
// params: weights[0..taps), shift[0..batch), then eps, scale (mode 4: coh_b, coh_a), then
// with option SCALED mscale[0..batch) (else 1). `real` from the prelude.

struct Grid {
    nx: u32,
    ny: u32,
    radius: u32,  // taps = 2 radius + 1
    batch: u32,
    mode: u32,    // 0: frame, 1: bounded, 2: variance
    groups: u32,  // partial (min, max) pairs per member
    options: u32, // INWARD | SCALED
    pad1: u32,
}

const GROUP: u32 = 256u;
const INWARD: u32 = 1u;
const SCALED: u32 = 2u;

// The cell whose window the moments of cell i along an axis of n cells are taken over.
fn window_centre(i: u32, n: u32) -> i32 {
    let r = grid.radius;
    if ((grid.options & INWARD) != 0u && n >= 2u * r + 1u) {
        return i32(clamp(i, r, n - 1u - r));
    }
    return i32(i);
}

@group(0) @binding(0) var<uniform> grid: Grid;
@group(0) @binding(1) var<storage, read> src: array<real>;
@group(0) @binding(2) var<storage, read> params: array<real>;
@group(0) @binding(3) var<storage, read_write> dst: array<real>;
@group(0) @binding(4) var<storage, read_write> part: array<real>;

var<workgroup> low: array<real, GROUP>;
var<workgroup> high: array<real, GROUP>;

// First pass: dst[2 i] = E_x[x], dst[2 i + 1] = E_x[x^2] along x.
@compute @workgroup_size(64, 4, 1)
fn smooth_x(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= grid.nx || gid.y >= grid.ny) {
        return;
    }
    let r = i32(grid.radius);
    let row = (gid.z * grid.ny + gid.y) * grid.nx;
    let shift = params[2u * grid.radius + 1u + gid.z];
    var scale = real(1.0);
    if ((grid.options & SCALED) != 0u) {
        scale = params[2u * grid.radius + 3u + grid.batch + gid.z];
    }
    let centre = window_centre(gid.x, grid.nx);
    var m1 = real(0.0);
    var m2 = real(0.0);
    var norm = real(0.0);
    for (var t = -r; t <= r; t++) {
        let x = centre + t;
        if (x >= 0 && x < i32(grid.nx)) {
            let w = params[u32(t + r)];
            let v = (src[row + u32(x)] - shift) * scale;
            m1 += w * v;
            m2 += w * v * v;
            norm += w;
        }
    }
    let at = 2u * (row + gid.x);
    dst[at] = m1 / norm;
    dst[at + 1u] = m2 / norm;
}

// Second pass: smooth both moments along y, then the variance and C (before the frame
// rescaling in mode 0).
@compute @workgroup_size(64, 4, 1)
fn smooth_y(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= grid.nx || gid.y >= grid.ny) {
        return;
    }
    let r = i32(grid.radius);
    let base = gid.z * grid.ny * grid.nx;
    let centre = window_centre(gid.y, grid.ny);
    var m1 = real(0.0);
    var m2 = real(0.0);
    var norm = real(0.0);
    for (var t = -r; t <= r; t++) {
        let y = centre + t;
        if (y >= 0 && y < i32(grid.ny)) {
            let w = params[u32(t + r)];
            let at = 2u * (base + u32(y) * grid.nx + gid.x);
            m1 += w * src[at];
            m2 += w * src[at + 1u];
            norm += w;
        }
    }
    m1 = m1 / norm;
    m2 = m2 / norm;
    let variance = max(m2 - m1 * m1, real(0.0));
    let consts = 2u * grid.radius + 1u + grid.batch;
    var c: real;
    if (grid.mode == 0u) {
        c = real(1.0) / (variance + params[consts]);
    } else if (grid.mode == 1u) {
        c = real(1.0) / (real(1.0) + variance / params[consts + 1u]);
    } else if (grid.mode == 3u) {
        c = select(real(1.0), min(m1 * m1 / m2, real(1.0)), m2 > real(0.0));
    } else if (grid.mode == 4u) {
        c = real(1.0) / (params[consts + 1u] * variance + params[consts]);
    } else if (grid.mode == 5u) {
        c = select(real(0.0), min(variance / m2, real(1.0)), m2 > real(0.0));
    } else {
        c = variance;
    }
    dst[base + gid.y * grid.nx + gid.x] = c;
}

// Partial min and max of dst per workgroup: part[2 (k groups + g) + 0..1].
@compute @workgroup_size(256, 1, 1)
fn minmax_partial(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
) {
    let n = grid.nx * grid.ny;
    let base = wg.z * n;
    var lo = dst[base];
    var hi = lo;
    for (var c = wg.x * GROUP + lid; c < n; c += grid.groups * GROUP) {
        let v = dst[base + c];
        lo = min(lo, v);
        hi = max(hi, v);
    }
    low[lid] = lo;
    high[lid] = hi;
    workgroupBarrier();
    for (var half = GROUP / 2u; half > 0u; half /= 2u) {
        if (lid < half) {
            low[lid] = min(low[lid], low[lid + half]);
            high[lid] = max(high[lid], high[lid + half]);
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let at = 2u * (wg.z * grid.groups + wg.x);
        part[at] = low[0];
        part[at + 1u] = high[0];
    }
}

// Rescale dst to [0, 1] by its member's min and max (each workgroup first reduces the
// member's partials, at most GROUP of them).
@compute @workgroup_size(256, 1, 1)
fn normalize_frame(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let k = wg.z;
    let first = 2u * k * grid.groups;
    var lo = part[first];
    var hi = part[first + 1u];
    if (lid < grid.groups) {
        lo = part[first + 2u * lid];
        hi = part[first + 2u * lid + 1u];
    }
    low[lid] = lo;
    high[lid] = hi;
    workgroupBarrier();
    for (var half = GROUP / 2u; half > 0u; half /= 2u) {
        if (lid < half) {
            low[lid] = min(low[lid], low[lid + half]);
            high[lid] = max(high[lid], high[lid + half]);
        }
        workgroupBarrier();
    }
    let vmin = low[0];
    let vmax = high[0];
    let n = grid.nx * grid.ny;
    let base = k * n;
    let flat = !(vmax > vmin);
    let inv = select(real(1.0) / (vmax - vmin), real(0.0), flat);
    for (var c = wg.x * GROUP + lid; c < n; c += groups.x * GROUP) {
        if (flat) {
            dst[base + c] = real(1.0);
        } else {
            dst[base + c] = (dst[base + c] - vmin) * inv;
        }
    }
}
