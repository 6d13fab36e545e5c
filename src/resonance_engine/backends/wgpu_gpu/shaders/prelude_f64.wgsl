// Prelude for float64 fields (adapters with the "shader-f64" feature).

alias real = f64;

// Vulkan's extended instruction set has no 64-bit tanh/exp, so the tanh feedback is
// refused for float64 fields before any shader runs; this stub only keeps the leapfrog
// shader valid.
fn saturating_tanh(x: real) -> real {
    return x;
}
