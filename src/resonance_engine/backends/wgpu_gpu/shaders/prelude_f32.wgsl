// Prelude for float32 fields: prepended to every shader that computes with `real`.

alias real = f32;

// tanh that never evaluates exp out of range: |x| > 20 is +-1 to float32 rounding.
// NaN fails the comparison and goes through tanh, so it still propagates.
fn saturating_tanh(x: real) -> real {
    if (abs(x) > 20.0) {
        return sign(x);
    }
    return tanh(x);
}
