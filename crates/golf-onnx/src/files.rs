//! Reading a model folder from disk (native): files are checked against the manifest's sha256 before use.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::manifest::{FileEntry, Manifest};
use crate::{ArGolfer, OnnxError};

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `path` and checks its size and sha256.
pub fn read_verified(path: &Path, sha256: &str, bytes: Option<u64>, rebuild: &str) -> Result<Vec<u8>, OnnxError> {
    let bad = |why: String| OnnxError::BadFile { file: path.display().to_string(), why, rebuild: rebuild.to_string() };
    let data = std::fs::read(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    if let Some(n) = bytes {
        if data.len() as u64 != n {
            return Err(bad(format!("it is {} bytes, the manifest says {n}", data.len())));
        }
    }
    let got = sha256_hex(&data);
    if got != sha256 {
        return Err(bad(format!("sha256 {got} does not match the manifest's {sha256}")));
    }
    Ok(data)
}

fn entry(dir: &Path, f: &FileEntry, rebuild: &str) -> Result<Vec<u8>, OnnxError> {
    read_verified(&dir.join(&f.path), &f.sha256, Some(f.bytes), rebuild)
}

/// Loads an autoregressive golfer from its folder (`golfer.json`, the ONNX file); the tokenizer is taken from
/// the folder if it is there, else from `data_dir/tokenizers/`.
pub async fn load_ar(dir: &Path, data_dir: &Path) -> Result<ArGolfer, OnnxError> {
    let manifest_path = dir.join("golfer.json");
    let json = std::fs::read_to_string(&manifest_path)
        .map_err(|e| OnnxError::Manifest(format!("cannot read {}: {e}", manifest_path.display())))?;
    let manifest = Manifest::parse(&json)?;
    let onnx = entry(dir, &manifest.onnx, &manifest.rebuild)?;
    let local = dir.join(&manifest.tokenizer.file);
    let tok_path: PathBuf =
        if local.exists() { local } else { data_dir.join("tokenizers").join(&manifest.tokenizer.file) };
    let tokenizer = read_verified(&tok_path, &manifest.tokenizer.sha256, None, &manifest.rebuild)?;
    ArGolfer::load(manifest, &onnx, &tokenizer).await
}
