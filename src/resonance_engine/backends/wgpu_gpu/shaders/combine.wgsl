// The CI field without its per-member factor alpha D^beta (known on the host after the
// box counts): E = G C (1 - exp(-tau / gamma)), and per workgroup the partial sums of G,
// C, tau and E (the spatial means): part[4 (k groups + g) + 0..3]. `real` and
// `real_exp` come from the prelude.

struct Shape {
    nx: u32,
    ny: u32,
    pad0: u32,
    pad1: u32,
}

const GROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> params: array<real>;  // 1 / gamma
@group(0) @binding(2) var<storage, read> gain: array<real>;
@group(0) @binding(3) var<storage, read> coherence: array<real>;
@group(0) @binding(4) var<storage, read> dwell: array<real>;
@group(0) @binding(5) var<storage, read_write> ci: array<real>;
@group(0) @binding(6) var<storage, read_write> part: array<vec4<real>>;

var<workgroup> sums: array<vec4<real>, GROUP>;

// 1 - exp(-x) for x >= 0 without cancellation near 0 (WGSL has no expm1).
fn one_minus_exp(x: real) -> real {
    if (x < real(0.25)) {
        return x * (real(1.0) - x / real(2.0) * (real(1.0) - x / real(3.0) * (real(1.0)
            - x / real(4.0) * (real(1.0) - x / real(5.0) * (real(1.0) - x / real(6.0))))));
    }
    return real(1.0) - real_exp(-x);
}

@compute @workgroup_size(256, 1, 1)
fn combine(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let n = shape.nx * shape.ny;
    let base = wg.z * n;
    let inv_gamma = params[0];
    var total = vec4<real>(real(0.0));
    for (var c = wg.x * GROUP + lid; c < n; c += groups.x * GROUP) {
        let g = gain[base + c];
        let h = coherence[base + c];
        let t = dwell[base + c];
        let e = g * h * one_minus_exp(t * inv_gamma);
        ci[base + c] = e;
        total += vec4<real>(g, h, t, e);
    }
    sums[lid] = total;
    workgroupBarrier();
    for (var half = GROUP / 2u; half > 0u; half /= 2u) {
        if (lid < half) {
            sums[lid] += sums[lid + half];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        part[wg.z * groups.x + wg.x] = sums[0];
    }
}
