// Box counts of the mask |u| > threshold[k] at box sizes 1, 2, 4, ... (fractal dimension
// D), as a pyramid: level 0 flags every cell, level L flags every box of side 2^L from
// its (up to) four children of level L - 1. A flag has bit 0 "some cell active" and bit 1
// "every cell inside the grid active"; children outside the grid count as neither active
// nor breaking "every" (the padding of the numpy reference). Each dispatch also adds up
// its level's count: occupancy (bit 0), or in boundary mode boxes active and not full
// (level 0 always counts active cells). `real` comes from the prelude.
// The calibrated counts (see MetricKernels.shifted_box_counts) use three more fields:
// `factor` (children per axis of a pyramid box: 0 or 2, or 3 for base-3 boxes),
// `extent_at` (level 0 also records, at counts[k * slots + extent_at + 0..3], the mask's
// extent as max(~row), max(row), max(~col), max(col); 0: not recorded) and `shifts`
// (shifted_boxes: n shifts per axis; boxes of `factor` x `factor` flags of the level in
// `child`, the grid moved by (oy, ox) flags, counted at counts[k * slots + level + oy n + ox]).

struct Level {
    nx: u32,
    ny: u32,
    boxes_x: u32,   // boxes of this level along x: ceil(nx / 2^level)
    boxes_y: u32,
    child_x: u32,   // boxes of the level below (unused at level 0)
    child_y: u32,
    level: u32,
    slots: u32,     // levels + 1: the row length of counts
    boundary: u32,  // 1: count active boxes that are not full
    factor: u32,     // 0 (= 2), 2 or 3
    extent_at: u32,  // where level 0 records the extent (0: nowhere)
    shifts: u32,     // shifted_boxes: shifts per axis
}

@group(0) @binding(0) var<uniform> lv: Level;
@group(0) @binding(1) var<storage, read> field: array<real>;
@group(0) @binding(2) var<storage, read> threshold: array<real>;
@group(0) @binding(3) var<storage, read> child: array<u32>;
@group(0) @binding(4) var<storage, read_write> parent: array<u32>;
@group(0) @binding(5) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> group_count: atomic<u32>;
var<workgroup> group_extent: array<atomic<u32>, 4>;

fn add_count(counted: bool, lid: u32, at: u32) {
    if (counted) {
        atomicAdd(&group_count, 1u);
    }
    workgroupBarrier();
    if (lid == 0u) {
        let total = atomicLoad(&group_count);
        if (total > 0u) {
            atomicAdd(&counts[at], total);
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn boxes_level0(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    if (lid == 0u) {
        atomicStore(&group_count, 0u);
        for (var e = 0u; e < 4u; e++) {
            atomicStore(&group_extent[e], 0u);
        }
    }
    workgroupBarrier();
    let k = gid.z;
    var on = false;
    if (gid.x < lv.nx && gid.y < lv.ny) {
        let at = gid.y * lv.nx + gid.x;
        on = abs(field[k * lv.nx * lv.ny + at]) > threshold[k];
        parent[k * lv.nx * lv.ny + at] = select(0u, 3u, on);
    }
    if (on && lv.extent_at > 0u) {
        atomicMax(&group_extent[0], ~gid.y);
        atomicMax(&group_extent[1], gid.y);
        atomicMax(&group_extent[2], ~gid.x);
        atomicMax(&group_extent[3], gid.x);
    }
    add_count(on, lid, k * lv.slots);
    if (lid == 0u && lv.extent_at > 0u && atomicLoad(&group_count) > 0u) {
        for (var e = 0u; e < 4u; e++) {
            atomicMax(&counts[k * lv.slots + lv.extent_at + e], atomicLoad(&group_extent[e]));
        }
    }
}

// The flag of box (i, j) of f x f children of the level in `child`, the box grid shifted by
// (oy, ox) children: the children of rows f i - oy .. f i - oy + f - 1 (and the same in
// columns) inside the level; a box without one is neither active nor breaks "every".
fn box_flag(k: u32, i: u32, j: u32, f: u32, oy: u32, ox: u32) -> u32 {
    let r0 = max(i32(f * i) - i32(oy), 0);
    let r1 = min(i32(f * i + f) - i32(oy), i32(lv.child_y));
    let c0 = max(i32(f * j) - i32(ox), 0);
    let c1 = min(i32(f * j + f) - i32(ox), i32(lv.child_x));
    var some = false;
    var every = true;
    let child_base = k * lv.child_x * lv.child_y;
    for (var cy = r0; cy < r1; cy++) {
        for (var cx = c0; cx < c1; cx++) {
            let flag = child[child_base + u32(cy) * lv.child_x + u32(cx)];
            some = some || (flag & 1u) != 0u;
            every = every && (flag & 2u) != 0u;
        }
    }
    return select(0u, 1u, some) | select(0u, 2u, every);
}

// Whether a box of this flag counts: active, and in boundary mode not full.
fn counts_box(flag: u32) -> bool {
    return (flag & 1u) != 0u && (lv.boundary == 0u || (flag & 2u) == 0u);
}

@compute @workgroup_size(16, 16, 1)
fn boxes_level(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    if (lid == 0u) {
        atomicStore(&group_count, 0u);
    }
    workgroupBarrier();
    let k = gid.z;
    var counted = false;
    if (gid.x < lv.boxes_x && gid.y < lv.boxes_y) {
        let flag = box_flag(k, gid.y, gid.x, max(lv.factor, 2u), 0u, 0u);
        parent[k * lv.boxes_x * lv.boxes_y + gid.y * lv.boxes_x + gid.x] = flag;
        counted = counts_box(flag);
    }
    add_count(counted, lid, k * lv.slots + lv.level);
}

// Boxes of factor x factor flags of the level in `child` (child_x x child_y flags), the
// box grid shifted by (oy, ox) flags: box (I, J) covers rows factor I - oy .. + factor - 1
// (clipped to the level; flags outside are inactive and do not break "every"). gid.z is
// (member, oy, ox); boxes_x, boxes_y bound the boxes of every shift.
@compute @workgroup_size(16, 16, 1)
fn shifted_boxes(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    if (lid == 0u) {
        atomicStore(&group_count, 0u);
    }
    workgroupBarrier();
    let n = lv.shifts;
    let k = gid.z / (n * n);
    let shift = gid.z % (n * n);
    var counted = false;
    if (gid.x < lv.boxes_x && gid.y < lv.boxes_y) {
        counted = counts_box(box_flag(k, gid.y, gid.x, lv.factor, shift / n, shift % n));
    }
    add_count(counted, lid, k * lv.slots + lv.level + shift);
}
