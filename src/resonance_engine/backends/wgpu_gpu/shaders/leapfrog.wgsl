// One leapfrog step of the damped, driven, nonlinear wave equation on a batch of 2D
// fields, written as three dispatches (see backends/wgpu_gpu/field.py):
//
//   step_interior  u_next = (2u - prev_coef u_prev + cx2 lap_x + cy2 lap_y + dt2 f(u))
//                           * inv_denom, written over u_prev in place; the outer ring is
//                           left alone (absorbing), zeroed (fixed) or wrapped (periodic)
//   add_sources    u_next += sum over the source entries of a cell of weight * drive
//   apply_mur      first-order Mur condition on the outer ring (absorbing only)
//
// Fields are flat arrays of batch * ny * nx values, member k, row i, column j at
// k * nx * ny + i * nx + j. `real` (f32 or f64) comes from the prelude.

struct Grid {
    nx: u32,
    ny: u32,
    batch: u32,
    boundary: u32,   // 0 fixed, 1 periodic, 2 absorbing
    feedback: u32,   // 0 none, 1 cubic (-k u^3), 2 tanh (k tanh u)
    n_cells: u32,    // distinct cells touched by the sources
    n_sources: u32,  // columns of the drive table
    pad: u32,
}

// coef = [cx2, cy2, dt2, k, mur_x, mur_y, 0, 0, prev_coef[batch], inv_denom[batch]]
@group(0) @binding(0) var<uniform> grid: Grid;
@group(0) @binding(1) var<storage, read> coef: array<real>;

@group(1) @binding(0) var<storage, read> cur: array<real>;
@group(1) @binding(1) var<storage, read_write> nxt: array<real>;

// Sources as a compressed sparse row table: distinct cell m owns the entries
// src_start[m] .. src_start[m + 1] (weight and drive column of each).
@group(2) @binding(0) var<storage, read> src_cell: array<u32>;
@group(2) @binding(1) var<storage, read> src_start: array<u32>;
@group(2) @binding(2) var<storage, read> src_weight: array<real>;
@group(2) @binding(3) var<storage, read> src_owner: array<u32>;
// This step's row of the drive table (batch * n_sources values), bound at a dynamic offset.
@group(2) @binding(4) var<storage, read> drive: array<real>;

fn feedback_term(c: real) -> real {
    let k = coef[3];
    if (grid.feedback == 1u) {
        return -k * c * c * c;
    }
    if (grid.feedback == 2u) {
        return k * saturating_tanh(c);
    }
    return real(0.0);
}

fn on_ring(i: u32, j: u32) -> bool {
    return i == 0u || j == 0u || i == grid.ny - 1u || j == grid.nx - 1u;
}

// Workgroup shape of step_interior (columns x rows); set per pipeline from
// RESONANCE_WGPU_WORKGROUP, default 64 x 4.
override GROUP_X: u32 = 64u;
override GROUP_Y: u32 = 4u;

@compute @workgroup_size(GROUP_X, GROUP_Y, 1)
fn step_interior(@builtin(global_invocation_id) gid: vec3<u32>) {
    let nx = grid.nx;
    let ny = grid.ny;
    let j = gid.x;
    let i = gid.y;
    if (j >= nx || i >= ny) {
        return;
    }
    let k = gid.z;
    let base = k * nx * ny;
    let at = base + i * nx + j;
    if (grid.boundary != 1u && on_ring(i, j)) {
        if (grid.boundary == 0u) {
            nxt[at] = real(0.0);
        }
        return;
    }
    let west = select(j - 1u, nx - 1u, j == 0u);
    let east = select(j + 1u, 0u, j == nx - 1u);
    let north = select(i - 1u, ny - 1u, i == 0u);
    let south = select(i + 1u, 0u, i == ny - 1u);
    let c = cur[at];
    let lap = coef[0] * (cur[base + i * nx + west] + cur[base + i * nx + east] - c - c)
        + coef[1] * (cur[base + north * nx + j] + cur[base + south * nx + j] - c - c);
    let prev_coef = coef[8u + k];
    let inv_denom = coef[8u + grid.batch + k];
    nxt[at] = (c + c - prev_coef * nxt[at] + lap + coef[2] * feedback_term(c)) * inv_denom;
}

@compute @workgroup_size(64, 1, 1)
fn add_sources(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = gid.x;
    if (m >= grid.n_cells) {
        return;
    }
    let k = gid.z;
    let cell = src_cell[m];
    // The ring is overwritten by the boundary condition unless the grid is periodic.
    if (grid.boundary != 1u && on_ring(cell / grid.nx, cell % grid.nx)) {
        return;
    }
    var total = real(0.0);
    for (var e = src_start[m]; e < src_start[m + 1u]; e++) {
        total += src_weight[e] * drive[k * grid.n_sources + src_owner[e]];
    }
    let at = k * grid.nx * grid.ny + cell;
    nxt[at] = nxt[at] + total;
}

// Mur value of the edge cell (i, 0) or (i, nx - 1) from the new interior neighbour.
fn mur_column(base: u32, i: u32, right: bool) -> real {
    let edge = base + i * grid.nx + select(0u, grid.nx - 1u, right);
    let inner = base + i * grid.nx + select(1u, grid.nx - 2u, right);
    return cur[inner] + coef[4] * (nxt[inner] - cur[edge]);
}

// One thread per ring cell: the 2 (ny - 2) column cells, then the 2 nx row cells. The
// row cells at the corners need the new column value of the row next to them: they
// recompute it instead of reading it, so no thread reads what another one writes.
@compute @workgroup_size(64, 1, 1)
fn apply_mur(@builtin(global_invocation_id) gid: vec3<u32>) {
    let nx = grid.nx;
    let ny = grid.ny;
    let rows = ny - 2u;
    let t = gid.x;
    let base = gid.z * nx * ny;
    if (t < 2u * rows) {
        let right = t >= rows;
        let i = 1u + t % rows;
        nxt[base + i * nx + select(0u, nx - 1u, right)] = mur_column(base, i, right);
        return;
    }
    if (t >= 2u * rows + 2u * nx) {
        return;
    }
    let r = t - 2u * rows;
    let bottom = r >= nx;
    let j = r % nx;
    let edge_row = select(0u, ny - 1u, bottom);
    let inner_row = select(1u, ny - 2u, bottom);
    var inner_new: real;
    if (j == 0u || j == nx - 1u) {
        inner_new = mur_column(base, inner_row, j != 0u);
    } else {
        inner_new = nxt[base + inner_row * nx + j];
    }
    let edge = base + edge_row * nx + j;
    nxt[edge] = cur[base + inner_row * nx + j] + coef[5] * (inner_new - cur[edge]);
}
