// Reductions that turn resident fields into the little the host asks for:
//   energy_sums  per member, the three sums of the discrete energy (field/energy.py):
//                sum (a - b)^2, sum over x-edges (Dx a)(Dx b), sum over y-edges (Dy a)(Dy b),
//                with a = u[n], b = u[n-1]; one partial sum per workgroup, added up on
//                the host in float64
//   block_mean   a frame downsampled by averaging factor x factor blocks
// `real` (f32 or f64) comes from the prelude.

struct Shape {
    nx: u32,
    ny: u32,
    periodic: u32,  // energy_sums: 1 when the grid wraps around (seam edges count)
    factor: u32,    // block_mean: block side (cells)
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> a: array<real>;
@group(0) @binding(2) var<storage, read> b: array<real>;
@group(0) @binding(3) var<storage, read_write> result: array<real>;

const GROUP: u32 = 256u;
var<workgroup> kinetic: array<real, GROUP>;
var<workgroup> along_x: array<real, GROUP>;
var<workgroup> along_y: array<real, GROUP>;

// Grid-stride over the cells of member wg.z; result[(k * groups + g) * 3 + 0..2].
@compute @workgroup_size(256, 1, 1)
fn energy_sums(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let nx = shape.nx;
    let ny = shape.ny;
    let n = nx * ny;
    let base = wg.z * n;
    let wrap = shape.periodic == 1u;
    var kin = real(0.0);
    var ex = real(0.0);
    var ey = real(0.0);
    for (var c = wg.x * GROUP + lid; c < n; c += groups.x * GROUP) {
        let i = c / nx;
        let j = c % nx;
        let ac = a[base + c];
        let bc = b[base + c];
        let d = ac - bc;
        kin += d * d;
        if (j + 1u < nx || wrap) {
            let e = base + i * nx + select(j + 1u, 0u, j + 1u == nx);
            ex += (a[e] - ac) * (b[e] - bc);
        }
        if (i + 1u < ny || wrap) {
            let s = base + select(i + 1u, 0u, i + 1u == ny) * nx + j;
            ey += (a[s] - ac) * (b[s] - bc);
        }
    }
    kinetic[lid] = kin;
    along_x[lid] = ex;
    along_y[lid] = ey;
    workgroupBarrier();
    for (var half = GROUP / 2u; half > 0u; half /= 2u) {
        if (lid < half) {
            kinetic[lid] += kinetic[lid + half];
            along_x[lid] += along_x[lid + half];
            along_y[lid] += along_y[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let out = (wg.z * groups.x + wg.x) * 3u;
        result[out] = kinetic[0];
        result[out + 1u] = along_x[0];
        result[out + 2u] = along_y[0];
    }
}

// One thread per output cell (q, r) of member z: the mean of the full block it covers.
@compute @workgroup_size(16, 16, 1)
fn block_mean(@builtin(global_invocation_id) gid: vec3<u32>) {
    let f = shape.factor;
    let out_nx = shape.nx / f;
    let out_ny = shape.ny / f;
    let q = gid.x;
    let r = gid.y;
    if (q >= out_nx || r >= out_ny) {
        return;
    }
    let base = gid.z * shape.nx * shape.ny;
    var total = real(0.0);
    for (var di = 0u; di < f; di++) {
        let row = base + (r * f + di) * shape.nx + q * f;
        for (var dj = 0u; dj < f; dj++) {
            total += a[row + dj];
        }
    }
    result[(gid.z * out_ny + r) * out_nx + q] = total / real(f * f);
}

// Per member partial sums of u, u^2 and the partial max of |u| (frame_stats of the
// metrics): result[(k * groups + g) * 3 + 0..2]. NaN and inf propagate through the sums.
@compute @workgroup_size(256, 1, 1)
fn frame_sums(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let n = shape.nx * shape.ny;
    let base = wg.z * n;
    var total = real(0.0);
    var squares = real(0.0);
    var largest = real(0.0);
    for (var c = wg.x * GROUP + lid; c < n; c += groups.x * GROUP) {
        let x = a[base + c];
        total += x;
        squares += x * x;
        largest = max(largest, abs(x));
    }
    kinetic[lid] = total;
    along_x[lid] = squares;
    along_y[lid] = largest;
    workgroupBarrier();
    for (var half = GROUP / 2u; half > 0u; half /= 2u) {
        if (lid < half) {
            kinetic[lid] += kinetic[lid + half];
            along_x[lid] += along_x[lid + half];
            along_y[lid] = max(along_y[lid], along_y[lid + half]);
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let out = (wg.z * groups.x + wg.x) * 3u;
        result[out] = kinetic[0];
        result[out + 1u] = along_x[0];
        result[out + 2u] = along_y[0];
    }
}
