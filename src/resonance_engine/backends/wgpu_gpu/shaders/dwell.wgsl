// Dwell tau from a ring buffer of past frames, then the current frame is stored:
//   tau[k] = sum_l weight[l] * max(0, 1 - |u[k] - past_l| * inv_h[k]),
//   past_l = history[k, slot[l]] * slot_scale[k, slot[l]].
// Two storages: int16 codes packed two per u32 word (dwell_codes: one invocation per
// word, so no two invocations write one word; a frame is `words` words, the last one
// half used for an odd cell count) and the field's float type (dwell_float). The code
// of a value is floor(u * store_scale + 0.5) clipped to +-32767, as the numpy reference.
// params: inv_h[0..b), store_scale[0..b), weight[0..lags), slot_scale[0..b K) (k-major).
// `real` comes from the prelude.

struct Ring {
    nx: u32,
    ny: u32,
    batch: u32,
    history: u32,  // K
    lags: u32,     // past frames used
    store: u32,    // slot of the current frame; >= history: do not store
    words: u32,    // u32 words per stored int16 frame: ceil(nx ny / 2)
    pad: u32,
}

@group(0) @binding(0) var<uniform> ring: Ring;
@group(0) @binding(1) var<storage, read> field: array<real>;
@group(0) @binding(2) var<storage, read> params: array<real>;
@group(0) @binding(3) var<storage, read> slots: array<u32>;
@group(0) @binding(4) var<storage, read_write> codes: array<u32>;
@group(0) @binding(5) var<storage, read_write> frames: array<real>;
@group(0) @binding(6) var<storage, read_write> tau: array<real>;

fn similarity(x: real, past: real, inv_h: real) -> real {
    return max(real(0.0), real(1.0) - abs(x - past) * inv_h);
}

// The item of an invocation whose x is flattened over 2D workgroups of 256.
fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.y * groups.x * 256u + gid.x;
}

fn encode(x: real, scale: real) -> u32 {
    let q = clamp(floor(x * scale + real(0.5)), real(-32767.0), real(32767.0));
    return u32(i32(q)) & 0xffffu;
}

// One invocation per word (two cells) of member gid.y; x is flattened over 2D groups.
@compute @workgroup_size(256, 1, 1)
fn dwell_codes(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let w = flat_index(gid, groups);
    let k = gid.z;
    if (w >= ring.words) {
        return;
    }
    let n = ring.nx * ring.ny;
    let cell = 2u * w;
    let two = cell + 1u < n;
    let x0 = field[k * n + cell];
    var x1 = real(0.0);
    if (two) {
        x1 = field[k * n + cell + 1u];
    }
    let inv_h = params[k];
    let weights = 2u * ring.batch;
    let scales = weights + ring.lags;
    var t0 = real(0.0);
    var t1 = real(0.0);
    for (var l = 0u; l < ring.lags; l++) {
        let slot = slots[l];
        let word = codes[(k * ring.history + slot) * ring.words + w];
        let scale = params[scales + k * ring.history + slot];
        let weight = params[weights + l];
        let p0 = real(i32(word << 16u) >> 16u) * scale;
        let p1 = real(i32(word) >> 16u) * scale;
        t0 += weight * similarity(x0, p0, inv_h);
        t1 += weight * similarity(x1, p1, inv_h);
    }
    tau[k * n + cell] = t0;
    if (two) {
        tau[k * n + cell + 1u] = t1;
    }
    if (ring.store < ring.history) {
        let s = params[ring.batch + k];
        var word = encode(x0, s);
        if (two) {
            word = word | (encode(x1, s) << 16u);
        }
        codes[(k * ring.history + ring.store) * ring.words + w] = word;
    }
}

// One invocation per cell, frames stored as they are (times store_scale).
@compute @workgroup_size(256, 1, 1)
fn dwell_float(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let cell = flat_index(gid, groups);
    let k = gid.z;
    let n = ring.nx * ring.ny;
    if (cell >= n) {
        return;
    }
    let x = field[k * n + cell];
    let inv_h = params[k];
    let weights = 2u * ring.batch;
    let scales = weights + ring.lags;
    var t = real(0.0);
    for (var l = 0u; l < ring.lags; l++) {
        let slot = slots[l];
        let past = frames[(k * ring.history + slot) * n + cell] * params[scales + k * ring.history + slot];
        t += params[weights + l] * similarity(x, past, inv_h);
    }
    tau[k * n + cell] = t;
    if (ring.store < ring.history) {
        frames[(k * ring.history + ring.store) * n + cell] = x * params[ring.batch + k];
    }
}

// The recursive dwell (MetricKernels.recursive_dwell): the exact step of
// dtau/dt = 1 - k tau over one frame interval, one invocation per cell. `frames` holds the
// state (b, 2, ny, nx): the previous frame, then tau; both are replaced. params: inv_h[0..b),
// then decay = exp(-dt / lambda), increment = dt, rate = dt / lambda. `real_exp` from the
// prelude (float32 exp for float64 fields: Vulkan has no 64-bit exp).
@compute @workgroup_size(256, 1, 1)
fn dwell_recursive(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let cell = flat_index(gid, groups);
    let k = gid.z;
    let n = ring.nx * ring.ny;
    if (cell >= n) {
        return;
    }
    let x = field[k * n + cell];
    let at = 2u * k * n + cell;
    let decay = params[ring.batch];
    let increment = params[ring.batch + 1u];
    let rate = params[ring.batch + 2u];
    let a = abs(x - frames[at]) * params[k];
    let e = decay * real_exp(-a);
    let kdt = rate + a;
    var gain = real(1.0) - real(0.5) * kdt;
    if (kdt > real(1e-6)) {
        gain = (real(1.0) - e) / kdt;
    }
    let t = e * frames[at + n] + increment * gain;
    tau[k * n + cell] = t;
    frames[at] = x;
    frames[at + n] = t;
}
