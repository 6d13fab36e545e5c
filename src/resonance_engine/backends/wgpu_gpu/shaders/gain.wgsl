// Gain G: the mean of |u| over the window x window square centred on each cell,
// truncated at the edges (the mean over the cells inside the grid). Two passes of a
// separable box filter: box_sum_x writes the sums of |u| along x, box_mean_y sums those
// along y and divides by the number of cells inside the grid. O(window) per cell and pass.
// `real` comes from the prelude.

struct Grid {
    nx: u32,
    ny: u32,
    radius: u32,  // window / 2
    pad: u32,
}

@group(0) @binding(0) var<uniform> grid: Grid;
@group(0) @binding(1) var<storage, read> src: array<real>;
@group(0) @binding(2) var<storage, read_write> dst: array<real>;

@compute @workgroup_size(64, 4, 1)
fn box_sum_x(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= grid.nx || gid.y >= grid.ny) {
        return;
    }
    let row = (gid.z * grid.ny + gid.y) * grid.nx;
    let lo = select(0u, gid.x - grid.radius, gid.x > grid.radius);
    let hi = min(gid.x + grid.radius + 1u, grid.nx);
    var total = real(0.0);
    for (var x = lo; x < hi; x++) {
        total += abs(src[row + x]);
    }
    dst[row + gid.x] = total;
}

@compute @workgroup_size(64, 4, 1)
fn box_mean_y(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= grid.nx || gid.y >= grid.ny) {
        return;
    }
    let base = gid.z * grid.ny * grid.nx;
    let lo = select(0u, gid.y - grid.radius, gid.y > grid.radius);
    let hi = min(gid.y + grid.radius + 1u, grid.ny);
    var total = real(0.0);
    for (var y = lo; y < hi; y++) {
        total += src[base + y * grid.nx + gid.x];
    }
    let x_lo = select(0u, gid.x - grid.radius, gid.x > grid.radius);
    let x_hi = min(gid.x + grid.radius + 1u, grid.nx);
    let cells = real((hi - lo) * (x_hi - x_lo));
    dst[base + gid.y * grid.nx + gid.x] = total / cells;
}
