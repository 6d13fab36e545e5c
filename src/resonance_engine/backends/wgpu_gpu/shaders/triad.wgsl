// a = b + scale * c over flat arrays: the bandwidth reference (two loads, one store).

@group(0) @binding(0) var<storage, read> b: array<real>;
@group(0) @binding(1) var<storage, read> c: array<real>;
@group(0) @binding(2) var<storage, read_write> a: array<real>;
@group(0) @binding(3) var<storage, read> scale: array<real>;

@compute @workgroup_size(256, 1, 1)
fn triad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let n = arrayLength(&a);
    let s = scale[0];
    for (var i = gid.x; i < n; i += groups.x * 256u) {
        a[i] = b[i] + s * c[i];
    }
}
