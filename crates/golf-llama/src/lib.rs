//! SmolLM2's decode step (one token over a KV cache) in plain Rust, for generation.
//!
//! ONNX Runtime's `MatMulNBits` expands the 4-bit weights to floats on every call, which a one-row decode step
//! cannot amortize (3x slower than llama.cpp in the browser). Here each 4-bit block is dotted with the float32
//! activations straight from its nibbles (no 8-bit rounding of the activations, unlike llama.cpp), so the
//! logits are the graph's up to float32 rounding. The weights are read from the golfer's own ONNX graph
//! (`scripts/smollm2/convert.py`), so the page downloads nothing more. Prefill stays on ONNX Runtime; its KV
//! cache is handed over with [`Llama::cache_from_present`].

mod decode;
mod kernels;
#[cfg(not(target_arch = "wasm32"))]
mod parallel;
mod weights;

pub use decode::{Cache, Llama, Shape};

#[derive(Debug, thiserror::Error)]
pub enum LlamaError {
    #[error("the SmolLM2 graph is not a valid ONNX file ({0}); rebuild it with: python scripts/smollm2/build.py")]
    Malformed(&'static str),
    #[error("the SmolLM2 graph has no initializer {0:?}: it was not made by scripts/smollm2/convert.py; rebuild it with: python scripts/smollm2/build.py")]
    Missing(String),
    #[error(
        "the SmolLM2 graph's {name} is {got:?}, expected {expected}; rebuild it with: python scripts/smollm2/build.py"
    )]
    Shape { name: String, got: Vec<usize>, expected: String },
    #[error("a KV cache of {got} values does not fit {layers} layers of {positions} positions")]
    Cache { got: usize, layers: usize, positions: usize },
}
