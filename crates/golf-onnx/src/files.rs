//! Reading a model folder from disk (native): files are checked against the manifest's sha256 before use.

use std::path::Path;

use crate::manifest::{FileEntry, Manifest};
use crate::{ArGolfer, OnnxError};

/// Reads `path` and checks its size and sha256.
pub fn read_verified(path: &Path, sha256: &str, bytes: Option<u64>, rebuild: &str) -> Result<Vec<u8>, OnnxError> {
    let name = path.display().to_string();
    let data = std::fs::read(path).map_err(|e| OnnxError::BadFile {
        file: name.clone(),
        why: format!("cannot read it ({e})"),
        rebuild: rebuild.to_string(),
    })?;
    crate::verify(&name, &data, sha256, bytes, rebuild)?;
    Ok(data)
}

fn entry(dir: &Path, f: &FileEntry, rebuild: &str) -> Result<Vec<u8>, OnnxError> {
    read_verified(&dir.join(&f.path), &f.sha256, Some(f.bytes), rebuild)
}

/// A model folder's manifest, ONNX bytes and tokenizer bytes, all checked. A folder is complete on its own: the
/// tokenizer is the file the manifest names, next to it.
pub fn read_folder(dir: &Path) -> Result<(Manifest, Vec<u8>, Vec<u8>), OnnxError> {
    let manifest_path = dir.join("golfer.json");
    let json = std::fs::read_to_string(&manifest_path)
        .map_err(|e| OnnxError::Manifest(format!("cannot read {}: {e}", manifest_path.display())))?;
    let manifest = Manifest::parse(&json, &manifest_path.display().to_string())?;
    let onnx = entry(dir, &manifest.onnx, &manifest.rebuild)?;
    let tokenizer = read_verified(
        &dir.join(&manifest.tokenizer.file),
        &manifest.tokenizer.sha256,
        None,
        manifest.tokenizer_rebuild(),
    )?;
    Ok((manifest, onnx, tokenizer))
}

/// Loads an autoregressive golfer (AR, SmolLM2) from its folder.
pub async fn load_ar(dir: &Path) -> Result<ArGolfer, OnnxError> {
    let (manifest, onnx, tokenizer) = read_folder(dir)?;
    ArGolfer::load(manifest, &onnx, &tokenizer).await
}

/// Loads the diffusion golfer from its folder.
pub async fn load_mdlm(dir: &Path) -> Result<crate::MdlmGolfer, OnnxError> {
    let (manifest, onnx, tokenizer) = read_folder(dir)?;
    crate::MdlmGolfer::load(manifest, &onnx, &tokenizer).await
}
