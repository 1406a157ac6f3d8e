//! ONNX golfers on ONNX Runtime. One code path for scoring and generation; only session creation and the
//! run call differ between native (`ort` with ONNX Runtime loaded at run time) and the browser (`ort-web`).

pub mod ar;
#[cfg(not(target_arch = "wasm32"))]
pub mod files;
pub mod manifest;
pub mod runtime;

pub use manifest::Manifest;

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("{0}")]
    Runtime(String),
    #[error("{file}: {why}. Rebuild it with: {rebuild}")]
    BadFile { file: String, why: String, rebuild: String },
    #[error("{0}")]
    Manifest(String),
}

impl From<OnnxError> for golf_core::GolfError {
    fn from(e: OnnxError) -> Self {
        golf_core::GolfError::Model(e.to_string())
    }
}
pub use ar::{ArGeneration, ArGolfer, ArReport, ArScore, Window};
