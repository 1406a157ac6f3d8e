//! Loading a model folder (its `golfer.json`, the ONNX graph and the tokenizer, each checked against the
//! manifest's sha256) into a golfer of the kind the manifest names.

/// A model folder on disk (the CLI).
#[cfg(not(target_arch = "wasm32"))]
pub async fn load_folder(dir: &std::path::Path) -> Result<crate::AnyGolfer, golf_onnx::OnnxError> {
    let (manifest, onnx, tokenizer) = golf_onnx::files::read_folder(dir)?;
    crate::AnyGolfer::load(manifest, &onnx, &tokenizer).await
}
