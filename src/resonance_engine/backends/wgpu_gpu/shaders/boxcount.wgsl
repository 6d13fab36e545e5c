// Box counts of the mask |u| > threshold[k] at box sizes 1, 2, 4, ... (fractal dimension
// D), as a pyramid: level 0 flags every cell, level L flags every box of side 2^L from
// its (up to) four children of level L - 1. A flag has bit 0 "some cell active" and bit 1
// "every cell inside the grid active"; children outside the grid count as neither active
// nor breaking "every" (the padding of the numpy reference). Each dispatch also adds up
// its level's count: occupancy (bit 0), or in boundary mode boxes active and not full
// (level 0 always counts active cells). `real` comes from the prelude.

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
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> lv: Level;
@group(0) @binding(1) var<storage, read> field: array<real>;
@group(0) @binding(2) var<storage, read> threshold: array<real>;
@group(0) @binding(3) var<storage, read> child: array<u32>;
@group(0) @binding(4) var<storage, read_write> parent: array<u32>;
@group(0) @binding(5) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> group_count: atomic<u32>;

fn add_count(counted: bool, lid: u32, k: u32) {
    if (counted) {
        atomicAdd(&group_count, 1u);
    }
    workgroupBarrier();
    if (lid == 0u) {
        let total = atomicLoad(&group_count);
        if (total > 0u) {
            atomicAdd(&counts[k * lv.slots + lv.level], total);
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
    }
    workgroupBarrier();
    let k = gid.z;
    var on = false;
    if (gid.x < lv.nx && gid.y < lv.ny) {
        let at = gid.y * lv.nx + gid.x;
        on = abs(field[k * lv.nx * lv.ny + at]) > threshold[k];
        parent[k * lv.nx * lv.ny + at] = select(0u, 3u, on);
    }
    add_count(on, lid, k);
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
        var some = false;
        var every = true;
        let child_base = k * lv.child_x * lv.child_y;
        for (var dy = 0u; dy < 2u; dy++) {
            for (var dx = 0u; dx < 2u; dx++) {
                let cx = 2u * gid.x + dx;
                let cy = 2u * gid.y + dy;
                if (cx < lv.child_x && cy < lv.child_y) {
                    let flag = child[child_base + cy * lv.child_x + cx];
                    some = some || (flag & 1u) != 0u;
                    every = every && (flag & 2u) != 0u;
                }
            }
        }
        parent[k * lv.boxes_x * lv.boxes_y + gid.y * lv.boxes_x + gid.x] =
            select(0u, 1u, some) | select(0u, 2u, every);
        counted = some && (lv.boundary == 0u || !every);
    }
    add_count(counted, lid, k);
}
