//! `golfer.json`: what a model folder holds and how it was made.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenizerEntry {
    /// `sentencepiece` (a `.model` file).
    pub kind: String,
    pub file: String,
    pub sha256: String,
    /// Where the file comes from when it is not in the model folder (the shared data's tokenizers/).
    #[serde(default)]
    pub source: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub about: String,
    pub onnx: FileEntry,
    #[serde(default)]
    pub artifact: Option<FileEntry>,
    pub tokenizer: TokenizerEntry,
    pub params: u64,
    /// The most tokens the model attends to (its training sequence length).
    pub context: usize,
    pub layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub bos_id: u32,
    /// The command that rebuilds the files, for error messages.
    pub rebuild: String,
    /// Training facts and measured numbers, shown as they are.
    #[serde(default)]
    pub training: serde_json::Value,
    #[serde(default)]
    pub results: serde_json::Value,
}

impl Manifest {
    pub fn parse(json: &str) -> Result<Manifest, crate::OnnxError> {
        serde_json::from_str(json).map_err(|e| crate::OnnxError::Manifest(format!("golfer.json: {e}")))
    }
}
