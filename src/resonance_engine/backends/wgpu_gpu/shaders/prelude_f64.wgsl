// Prelude for float64 fields (adapters with the "shader-f64" feature).

alias real = f64;

// Vulkan's extended instruction set has no 64-bit tanh/exp, so the tanh feedback is
// refused for float64 fields before any shader runs; this stub only keeps the leapfrog
// shader valid.
fn saturating_tanh(x: real) -> real {
    return x;
}

// Vulkan has no 64-bit exp: the CI combination evaluates exp in float32 (relative error
// ~1e-7 on 1 - exp(-tau / gamma)).
fn real_exp(x: real) -> real {
    return real(exp(f32(x)));
}
