// Reductions over fields that only need their bits: the finiteness check that
// WaveSolver2D runs every check_interval steps. The field buffer is read as 32-bit words
// whatever its float type, so the test cannot be folded away by a compiler that assumes
// finite floats.

struct Words {
    per_member: u32,  // words per batch member
    stride: u32,      // 1 for f32, 2 for f64 (test only the high word)
    offset: u32,      // 0 for f32, 1 for f64 (little-endian high word)
    mask: u32,        // exponent bits: 0x7f800000 (f32) or 0x7ff00000 (f64)
}

@group(0) @binding(0) var<uniform> words: Words;
@group(0) @binding(1) var<storage, read> field: array<u32>;
@group(0) @binding(2) var<storage, read_write> nonfinite: array<atomic<u32>>;

// Grid-stride loop: x covers the cells of one member, z the member.
@compute @workgroup_size(256, 1, 1)
fn flag_nonfinite(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let k = gid.z;
    let step = groups.x * 256u * words.stride;
    var found = false;
    for (var w = gid.x * words.stride + words.offset; w < words.per_member; w += step) {
        found = found || (field[k * words.per_member + w] & words.mask) == words.mask;
    }
    if (found) {
        atomicOr(&nonfinite[k], 1u);
    }
}
