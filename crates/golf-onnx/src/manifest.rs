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
    /// `sentencepiece` (a `.model` file) or `byte-bpe` (a `tokenizers` JSON file).
    pub kind: String,
    pub file: String,
    pub sha256: String,
    /// Where the file came from and its license (the file itself is in the model folder).
    #[serde(default)]
    pub source: String,
    /// How to get the file back when it is missing or damaged, where that differs from the manifest's `rebuild`
    /// (a committed tokenizer is restored, not rebuilt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuild: Option<String>,
}

/// ChatML, as instruct models use it: `<|im_start|>role\ncontent<|im_end|>\n` per turn.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatTemplate {
    pub im_start: u32,
    pub im_end: u32,
    /// The template's default system prompt.
    pub system: String,
}

/// What kind of model a folder holds, which decides the golfer that runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Predicts each token from the ones before it, over a KV cache (the AR golfer, SmolLM2, imported entries).
    Autoregressive,
    /// A masked diffusion LM: predicts masked tokens from the whole window.
    Diffusion,
}

/// A decode step of our own that generation uses instead of the ONNX graph's (prefill and scoring stay on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decoder {
    /// `golf-llama`: llama blocks over the graph's own Q4_1/Q8_0 initializers (SmolLM2's converter).
    Llama,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub kind: ModelKind,
    pub label: String,
    pub about: String,
    pub onnx: FileEntry,
    #[serde(default)]
    pub artifact: Option<FileEntry>,
    pub tokenizer: TokenizerEntry,
    pub params: u64,
    /// The most tokens the model attends to while scoring (the AR golfer: its training sequence length; SmolLM2:
    /// a cap below its 8192 that keeps memory and time in bounds).
    pub context: usize,
    /// Scoring windows start every `stride` tokens (default: `context`, non-overlapping windows as Parameter
    /// Golf's eval_val; smaller: a sliding window in which every token after the first window sees at least
    /// `context - stride` tokens).
    #[serde(default)]
    pub stride: Option<usize>,
    pub layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    /// The start-of-document token: the context the first token is predicted from.
    pub bos_id: u32,
    /// Tokens that end a generation (`<|im_end|>`).
    #[serde(default)]
    pub stop_ids: Vec<u32>,
    #[serde(default)]
    pub chat: Option<ChatTemplate>,
    /// Generation decodes with this instead of the graph (the graph's numbers up to float32 rounding, faster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder: Option<Decoder>,
    /// The diffusion golfer's [MASK] token (one past the vocabulary).
    #[serde(default)]
    pub mask_id: Option<u32>,
    /// The smallest masking rate of its NELBO schedule.
    #[serde(default)]
    pub t_eps: Option<f64>,
    /// The command that rebuilds the files, for error messages.
    pub rebuild: String,
    /// Training facts and measured numbers, shown as they are.
    #[serde(default)]
    pub training: serde_json::Value,
    #[serde(default)]
    pub results: serde_json::Value,
}

impl Manifest {
    /// Reads a manifest; `name` (its path) is in every error. Numbers that make no sense are refused here, by
    /// field, rather than scoring a text as 0 bits (a context of 0 did).
    pub fn parse(json: &str, name: &str) -> Result<Manifest, crate::OnnxError> {
        let bad = |why: String| crate::OnnxError::Manifest(format!("{name}: {why}"));
        let m: Manifest = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let at_least = |field: &str, value: usize, min: usize| {
            if value < min {
                Err(bad(format!("\"{field}\" is {value}; it must be at least {min}")))
            } else {
                Ok(())
            }
        };
        at_least("context", m.context, 2)?;
        at_least("layers", m.layers, 1)?;
        at_least("kv_heads", m.kv_heads, 1)?;
        at_least("head_dim", m.head_dim, 1)?;
        at_least("vocab", m.vocab, 2)?;
        if m.kind == ModelKind::Diffusion && m.mask_id.is_none() {
            return Err(bad("a diffusion model needs \"mask_id\", its [MASK] token".into()));
        }
        if let Some(stride) = m.stride {
            if stride == 0 || stride > m.context {
                return Err(bad(format!("\"stride\" is {stride}; it must be from 1 to the context ({})", m.context)));
            }
        }
        for (field, id) in std::iter::once(("bos_id", m.bos_id)).chain(m.stop_ids.iter().map(|&i| ("stop_ids", i))) {
            if id as usize >= m.vocab {
                return Err(bad(format!("\"{field}\" has id {id}, outside the vocabulary of {}", m.vocab)));
            }
        }
        Ok(m)
    }

    /// What the golfer contract reports: the artifact's size where there is one, else the ONNX file's.
    pub fn info(&self) -> golf_core::GolferInfo {
        golf_core::GolferInfo {
            id: self.id.clone(),
            label: self.label.clone(),
            about: self.about.clone(),
            params: Some(self.params),
            model_bytes: self.artifact.as_ref().map_or(self.onnx.bytes, |a| a.bytes),
        }
    }

    /// How to get the tokenizer file back.
    pub fn tokenizer_rebuild(&self) -> &str {
        self.tokenizer.rebuild.as_deref().unwrap_or(&self.rebuild)
    }

    /// The tokenizer its bytes describe; a bad file names itself and how to get it back.
    pub fn load_tokenizer(&self, bytes: &[u8]) -> Result<golf_tokenize::TextTokenizer, crate::OnnxError> {
        golf_tokenize::TextTokenizer::load(&self.tokenizer.kind, bytes).map_err(|e| crate::OnnxError::BadFile {
            file: self.tokenizer.file.clone(),
            why: e.to_string(),
            rebuild: self.tokenizer_rebuild().to_string(),
        })
    }
}
