//! ONNX golfers on ONNX Runtime. One code path for scoring and generation; only session creation and the
//! run call differ between native (`ort` with ONNX Runtime loaded at run time) and the browser (`ort-web`).

pub mod ar;
#[cfg(not(target_arch = "wasm32"))]
pub mod files;
pub mod manifest;
pub mod mdlm;
pub mod parts;
pub mod runtime;
pub mod speed;
mod tokens;

pub use manifest::{Decoder, Manifest, ModelKind};

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("ONNX Runtime: {0}")]
    Ort(#[from] ort::Error),
    #[error("{0}")]
    Runtime(String),
    #[error("{file}: {why}. Rebuild it with: {rebuild}")]
    BadFile { file: String, why: String, rebuild: String },
    #[error("{0}")]
    Manifest(String),
    #[error(transparent)]
    Decoder(#[from] golf_llama::LlamaError),
}

/// Checks a model file's bytes against its manifest entry; the error names the file and how to rebuild it.
pub fn verify(file: &str, data: &[u8], sha256: &str, bytes: Option<u64>, rebuild: &str) -> Result<(), OnnxError> {
    use sha2::{Digest, Sha256};
    check_digest(file, data.len() as u64, &hex(&Sha256::digest(data)), sha256, bytes, rebuild)
}

/// [`verify`] for bytes hashed as they arrived (a download): `len` bytes whose sha256 is `got` (hex).
pub fn check_digest(
    file: &str,
    len: u64,
    got: &str,
    sha256: &str,
    bytes: Option<u64>,
    rebuild: &str,
) -> Result<(), OnnxError> {
    let bad = |why: String| OnnxError::BadFile { file: file.to_string(), why, rebuild: rebuild.to_string() };
    if let Some(n) = bytes {
        if len != n {
            return Err(bad(format!("it is {len} bytes, the manifest says {n}")));
        }
    }
    if got != sha256 {
        return Err(bad(format!("sha256 {got} does not match the manifest's {sha256}")));
    }
    Ok(())
}

/// Lower-case hex, as manifests write digests.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<OnnxError> for golf_core::GolfError {
    fn from(e: OnnxError) -> Self {
        golf_core::GolfError::Model(golf_core::ModelError::new(e))
    }
}
pub use ar::{ArGeneration, ArGolfer, ArScore, ArScoreOptions, Window};
pub use golf_core::TokenReport;
pub use mdlm::{Estimator, MdlmGeneration, MdlmGolfer, MdlmScore, MdlmScoreOptions};
