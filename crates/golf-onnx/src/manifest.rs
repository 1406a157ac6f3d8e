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

/// What a manifest may say. A model folder may come from a stranger (`golf score --model DIR`, a folder on the
/// page), and its numbers size memory and work before the graph can confirm them, so each is bounded here: well
/// above any golfer this project runs (SmolLM2: 30 layers, 3 KV heads of 64, vocabulary 49,152, context 2048),
/// far below what would exhaust a machine.
pub mod limits {
    /// `golfer.json` itself (ours are about 4 KB).
    pub const MANIFEST_BYTES: u64 = 1 << 20;
    /// The ONNX graph and the artifact: protobuf's own limit for a graph without external data.
    pub const MODEL_BYTES: u64 = 2 << 30;
    /// The tokenizer, whose size the manifest does not give (SmolLM2's tokenizer.json: 1.6 MB).
    pub const TOKENIZER_BYTES: u64 = 64 << 20;
    pub const CONTEXT: usize = 32_768;
    pub const LAYERS: usize = 256;
    pub const KV_HEADS: usize = 256;
    pub const HEAD_DIM: usize = 1024;
    pub const VOCAB: usize = 1 << 20;
    pub const STOP_IDS: usize = 64;
    pub const PARAMS: u64 = 1_000_000_000_000;
    /// An autoregressive golfer's KV cache over a full window (float32 keys and values, every layer).
    pub const KV_CACHE_BYTES: u64 = 2 << 30;
    /// The diffusion golfer's logits over a full window (generation copies them out).
    pub const WINDOW_LOGITS_BYTES: u64 = 1 << 30;
    /// A file's path in the manifest, and the golfer's id.
    pub const PATH_BYTES: usize = 255;
    pub const ID_BYTES: usize = 64;
}

/// A tensor's element type, as far as the golfers care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    I64,
    F32,
    Other,
}

/// One input or output of an ONNX graph, as ONNX Runtime describes it once the session exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    /// Element type and dimensions (a negative dimension is decided at run time); None where it is not a tensor.
    pub tensor: Option<(Elem, Vec<i64>)>,
}

/// A graph's inputs and outputs: what [`Manifest::check_graph`] holds the manifest's numbers against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signature {
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
}

/// What a dimension of a port must be.
#[derive(Clone, Copy)]
enum Dim {
    /// This number (a batch of 1) where the graph fixes it.
    Is(i64),
    /// The manifest's field, where the graph fixes it.
    Field(&'static str, usize),
    /// Decided at run time: the golfers feed any number of tokens.
    Free,
    /// Anything (top-k's k).
    Any,
}

impl Manifest {
    /// Reads and checks a manifest from its bytes, with no I/O: the entry point for a fuzz target. `name` (its
    /// path) is in every error.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Manifest, crate::OnnxError> {
        if bytes.len() as u64 > limits::MANIFEST_BYTES {
            return Err(crate::OnnxError::Manifest(format!(
                "{name}: it is {} bytes; a manifest is at most {} bytes",
                bytes.len(),
                limits::MANIFEST_BYTES
            )));
        }
        let json = std::str::from_utf8(bytes)
            .map_err(|e| crate::OnnxError::Manifest(format!("{name}: not UTF-8 text (at byte {})", e.valid_up_to())))?;
        Manifest::parse(json, name)
    }

    /// Reads a manifest; `name` (its path) is in every error. Numbers that make no sense or exceed
    /// [`limits`] are refused here, by field, as are file paths that could leave the model folder.
    pub fn parse(json: &str, name: &str) -> Result<Manifest, crate::OnnxError> {
        let m: Manifest = serde_json::from_str(json).map_err(|e| crate::OnnxError::Manifest(format!("{name}: {e}")))?;
        m.validate().map_err(|why| crate::OnnxError::Manifest(format!("{name}: {why}")))?;
        Ok(m)
    }

    /// Every field's range and how the fields fit together; the error says which field and why.
    fn validate(&self) -> Result<(), String> {
        let m = self;
        let within = |field: &str, value: usize, min: usize, max: usize| {
            if value < min {
                Err(format!("\"{field}\" is {value}; it must be at least {min}"))
            } else if value > max {
                Err(format!("\"{field}\" is {value}; it must be at most {max}"))
            } else {
                Ok(())
            }
        };
        check_id(&m.id)?;
        within("context", m.context, 2, limits::CONTEXT)?;
        within("layers", m.layers, 1, limits::LAYERS)?;
        within("kv_heads", m.kv_heads, 1, limits::KV_HEADS)?;
        within("head_dim", m.head_dim, 1, limits::HEAD_DIM)?;
        within("vocab", m.vocab, 2, limits::VOCAB)?;
        if m.params > limits::PARAMS {
            return Err(format!("\"params\" is {}; it must be at most {}", m.params, limits::PARAMS));
        }
        // Each factor is bounded above, so these products fit in a u64.
        let (layers, kv_heads, head_dim, context) =
            (m.layers as u64, m.kv_heads as u64, m.head_dim as u64, m.context as u64);
        if m.kind == ModelKind::Autoregressive {
            let cache = 2 * layers * kv_heads * head_dim * context * 4;
            if cache > limits::KV_CACHE_BYTES {
                return Err(format!(
                    "a window's KV cache would take {} MiB (2 x \"layers\" {} x \"kv_heads\" {} x \"head_dim\" {} x \"context\" {} floats); the limit is {} MiB",
                    cache >> 20,
                    m.layers,
                    m.kv_heads,
                    m.head_dim,
                    m.context,
                    limits::KV_CACHE_BYTES >> 20
                ));
            }
        } else {
            let logits = context * m.vocab as u64 * 4;
            if logits > limits::WINDOW_LOGITS_BYTES {
                return Err(format!(
                    "a window's logits would take {} MiB (\"context\" {} x \"vocab\" {} floats); the limit is {} MiB",
                    logits >> 20,
                    m.context,
                    m.vocab,
                    limits::WINDOW_LOGITS_BYTES >> 20
                ));
            }
        }
        if let Some(stride) = m.stride {
            if stride == 0 || stride > m.context {
                return Err(format!("\"stride\" is {stride}; it must be from 1 to the context ({})", m.context));
            }
        }
        if m.stop_ids.len() > limits::STOP_IDS {
            return Err(format!("\"stop_ids\" has {} ids; at most {} are allowed", m.stop_ids.len(), limits::STOP_IDS));
        }
        let chat = m.chat.iter().flat_map(|c| [("chat.im_start", c.im_start), ("chat.im_end", c.im_end)]);
        let ids = std::iter::once(("bos_id", m.bos_id)).chain(m.stop_ids.iter().map(|&i| ("stop_ids", i))).chain(chat);
        for (field, id) in ids {
            if id as usize >= m.vocab {
                return Err(format!("\"{field}\" has id {id}, outside the vocabulary of {}", m.vocab));
            }
        }
        if m.kind == ModelKind::Diffusion {
            let mask = m.mask_id.ok_or("a diffusion model needs \"mask_id\", its [MASK] token")?;
            // [MASK] is in the vocabulary or one past it (the embedding's extra row).
            if mask as usize > m.vocab {
                return Err(format!("\"mask_id\" is {mask}; it must be at most the vocabulary's size ({})", m.vocab));
            }
        }
        if let Some(t) = m.t_eps {
            if !(t > 0.0 && t < 1.0) {
                return Err(format!("\"t_eps\" is {t}; it must be between 0 and 1"));
            }
        }
        if !matches!(m.tokenizer.kind.as_str(), "sentencepiece" | "byte-bpe") {
            return Err(format!(
                "\"tokenizer.kind\" is {:?}; it must be \"sentencepiece\" or \"byte-bpe\"",
                m.tokenizer.kind
            ));
        }
        let files = [("onnx", &m.onnx)].into_iter().chain(m.artifact.as_ref().map(|a| ("artifact", a)));
        for (field, f) in files {
            check_path(&format!("{field}.path"), &f.path)?;
            check_sha256(&format!("{field}.sha256"), &f.sha256)?;
            if f.bytes == 0 || f.bytes > limits::MODEL_BYTES {
                return Err(format!(
                    "\"{field}.bytes\" is {}; it must be from 1 to {} ({} GiB)",
                    f.bytes,
                    limits::MODEL_BYTES,
                    limits::MODEL_BYTES >> 30
                ));
            }
        }
        check_path("tokenizer.file", &m.tokenizer.file)?;
        check_sha256("tokenizer.sha256", &m.tokenizer.sha256)?;
        Ok(())
    }

    /// Holds the manifest's numbers against the graph's own inputs and outputs (`graph`, from ONNX Runtime once
    /// the session exists): the layers, KV heads, head size and vocabulary where the graph fixes them, and every
    /// input and output the golfer of its kind feeds or reads. No I/O.
    pub fn check_graph(&self, graph: &Signature) -> Result<(), crate::OnnxError> {
        let bad =
            |why: String| crate::OnnxError::Manifest(format!("{} does not fit its golfer.json: {why}", self.onnx.path));
        let (t, v) = (Dim::Free, Dim::Field("vocab", self.vocab));
        let mut inputs = vec![
            ("input_ids".to_string(), Elem::I64, vec![Dim::Is(1), t]),
            ("targets".to_string(), Elem::I64, vec![Dim::Is(1), t]),
        ];
        let mut outputs = vec![
            ("logprob2".to_string(), Elem::F32, vec![Dim::Is(1), t]),
            ("rank".to_string(), Elem::I64, vec![Dim::Is(1), t]),
            ("top_ids".to_string(), Elem::I64, vec![Dim::Is(1), t, Dim::Any]),
            ("top_probs".to_string(), Elem::F32, vec![Dim::Is(1), t, Dim::Any]),
            ("entropy".to_string(), Elem::F32, vec![Dim::Is(1), t]),
        ];
        match self.kind {
            ModelKind::Autoregressive => {
                let past = graph.inputs.iter().filter(|p| p.name.starts_with("past_key_")).count();
                if past != self.layers {
                    return Err(bad(format!(
                        "the graph has {past} layers (inputs past_key_*), golfer.json says \"layers\": {}",
                        self.layers
                    )));
                }
                let kv = |d| {
                    vec![Dim::Is(1), Dim::Field("kv_heads", self.kv_heads), d, Dim::Field("head_dim", self.head_dim)]
                };
                for i in 0..self.layers {
                    for k in ["key", "value"] {
                        inputs.push((format!("past_{k}_{i}"), Elem::F32, kv(Dim::Free)));
                        outputs.push((format!("present_{k}_{i}"), Elem::F32, kv(Dim::Free)));
                    }
                }
                outputs.push(("last_logits".to_string(), Elem::F32, vec![Dim::Is(1), v]));
            }
            ModelKind::Diffusion => outputs.push(("logits".to_string(), Elem::F32, vec![Dim::Is(1), t, v])),
        }
        for (kind, ports, want) in [("input", &graph.inputs, &inputs), ("output", &graph.outputs, &outputs)] {
            // Named lookups through a map: a stranger's graph may have many ports.
            let index: std::collections::HashMap<&str, &Port> = ports.iter().map(|p| (p.name.as_str(), p)).collect();
            for (name, elem, dims) in want {
                let port = index.get(name.as_str()).ok_or_else(|| bad(format!("the graph has no {kind} {name}")))?;
                check_port(kind, port, *elem, dims).map_err(bad)?;
            }
        }
        // An input the golfers do not feed would fail every call.
        let fed: std::collections::HashSet<&str> = inputs.iter().map(|(name, ..)| name.as_str()).collect();
        if let Some(extra) = graph.inputs.iter().find(|p| !fed.contains(p.name.as_str())) {
            return Err(bad(format!("the graph needs an input {} that the golfer does not give", extra.name)));
        }
        Ok(())
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

    /// The tokenizer its bytes describe; a bad file names itself and how to get it back. Its vocabulary must fit
    /// the model's: every id it gives is fed to the graph, and every id the graph gives back is shown as a piece
    /// (SentencePiece has a piece for each id below its size; byte-level BPE shows unknown ids as nothing).
    pub fn load_tokenizer(&self, bytes: &[u8]) -> Result<golf_tokenize::TextTokenizer, crate::OnnxError> {
        let bad = |why: String| crate::OnnxError::BadFile {
            file: self.tokenizer.file.clone(),
            why,
            rebuild: self.tokenizer_rebuild().to_string(),
        };
        let tok = golf_tokenize::TextTokenizer::load(&self.tokenizer.kind, bytes).map_err(|e| bad(e.to_string()))?;
        let n = tok.vocab_size();
        let fits = match tok {
            golf_tokenize::TextTokenizer::SentencePiece(_) => n == self.vocab,
            golf_tokenize::TextTokenizer::ByteBpe(_) => n <= self.vocab,
        };
        if !fits {
            return Err(bad(format!("it has {n} tokens, but golfer.json says \"vocab\": {}", self.vocab)));
        }
        Ok(tok)
    }
}

/// A golfer's id names it in commands, messages and the page: short, plain ASCII.
fn check_id(id: &str) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.len() > limits::ID_BYTES || !id.chars().all(plain) {
        return Err(format!("\"id\" is {id:?}; it must be 1 to {} letters, digits, '-', '_' or '.'", limits::ID_BYTES));
    }
    Ok(())
}

/// A file of the model folder: a relative path that stays inside it, on disk and as a URL relative to the
/// folder's (no absolute path, no `..`, no character that a file system or a URL reads as something else).
pub(crate) fn check_path(field: &str, path: &str) -> Result<(), String> {
    let refuse =
        |why: &str| Err(format!("\"{field}\" is {path:?}: {why}; it must name a file inside the model folder"));
    if path.is_empty() {
        return refuse("it is empty");
    }
    if path.len() > limits::PATH_BYTES {
        return refuse(&format!("it is longer than {} bytes", limits::PATH_BYTES));
    }
    if path.starts_with('/') {
        return refuse("it is an absolute path");
    }
    if let Some(c) = path.chars().find(|&c| c.is_control() || matches!(c, '\\' | ':' | '?' | '#' | '%')) {
        return refuse(&format!("it contains {c:?}"));
    }
    if path.split('/').any(|part| matches!(part, "" | "." | "..")) {
        return refuse("it has an empty, '.' or '..' part");
    }
    Ok(())
}

/// A digest as manifests write it: 64 lower-case hex digits.
pub(crate) fn check_sha256(field: &str, sha: &str) -> Result<(), String> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(format!("\"{field}\" is {sha:?}; it must be 64 lower-case hex digits"));
    }
    Ok(())
}

/// One port of the graph against what the golfer feeds or reads.
fn check_port(kind: &str, port: &Port, elem: Elem, dims: &[Dim]) -> Result<(), String> {
    let name = &port.name;
    let Some((got_elem, got)) = &port.tensor else {
        return Err(format!("its {kind} {name} is not a tensor"));
    };
    let shape = || {
        let d: Vec<String> = got.iter().map(|&d| if d < 0 { "?".to_string() } else { d.to_string() }).collect();
        format!("[{}]", d.join(", "))
    };
    if *got_elem != elem {
        let want = if elem == Elem::I64 { "int64" } else { "float32" };
        return Err(format!("its {kind} {name} is not {want}"));
    }
    // No dimensions at all: a runtime that reports no shape (ONNX Runtime Web may not); the names and types
    // still hold, and every call checks the lengths it gets back.
    if got.is_empty() {
        return Ok(());
    }
    if got.len() != dims.len() {
        return Err(format!("its {kind} {name} has shape {}, where {} dimensions are expected", shape(), dims.len()));
    }
    for (i, (&g, want)) in got.iter().zip(dims).enumerate() {
        let ok = match *want {
            Dim::Any => true,
            Dim::Free => g < 0,
            Dim::Is(n) => g < 0 || g == n,
            Dim::Field(_, n) => g < 0 || u64::try_from(g).is_ok_and(|g| g == n as u64),
        };
        if !ok {
            return Err(match *want {
                Dim::Field(field, n) => {
                    format!("its {kind} {name} has shape {}, but golfer.json says \"{field}\": {n}", shape())
                }
                Dim::Free => format!(
                    "its {kind} {name} has shape {}: dimension {i} is fixed, where the golfer feeds any number of tokens",
                    shape()
                ),
                _ => format!("its {kind} {name} has shape {}: dimension {i} must be 1", shape()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn committed(folder: &str) -> Value {
        let path = format!("{}/../../models/{folder}/golfer.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).expect("a committed manifest is JSON")
    }

    /// The committed manifest of `folder` with `change` made, parsed: the manifest or the error's text.
    fn edited(folder: &str, change: impl FnOnce(&mut Value)) -> Result<Manifest, String> {
        let mut m = committed(folder);
        change(&mut m);
        Manifest::parse(&m.to_string(), "golfer.json").map_err(|e| e.to_string())
    }

    fn refused(folder: &str, change: impl FnOnce(&mut Value), says: &str) {
        match edited(folder, change) {
            Ok(_) => panic!("accepted; it should say {says:?}"),
            Err(e) => assert!(e.contains(says), "{e:?} does not say {says:?}"),
        }
    }

    #[test]
    fn the_committed_manifests_pass() {
        for folder in ["ar", "mdlm", "smollm2"] {
            edited(folder, |_| {}).unwrap_or_else(|e| panic!("{folder}: {e}"));
        }
    }

    #[test]
    fn numbers_a_manifest_reports_are_read_exactly() {
        // Found by the manifest fuzz target: serde_json's default float parsing may land one ulp off, so a number
        // written back (the page's exports, an imported folder) changed; the workspace asks for exact parsing.
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/mdlm/golfer.json")).unwrap();
        let text = text.replace("\"epochs\": 1.0623585896444638", "\"epochs\": 1.0623585896444138");
        let m = Manifest::from_bytes(text.as_bytes(), "golfer.json").unwrap();
        assert_eq!(m.training["epochs"].as_f64(), Some(1.0623585896444138));
        let again = Manifest::from_bytes(&serde_json::to_vec(&m).unwrap(), "golfer.json").unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), serde_json::to_value(&m).unwrap());
    }

    #[test]
    fn shape_fields_are_bounded_before_anything_is_sized_by_them() {
        refused("ar", |m| m["layers"] = json!(100_000_000), "\"layers\" is 100000000; it must be at most 256");
        refused("ar", |m| m["layers"] = json!(1_000_000), "\"layers\" is 1000000; it must be at most 256");
        refused("ar", |m| m["layers"] = json!(0), "\"layers\" is 0; it must be at least 1");
        refused("ar", |m| m["kv_heads"] = json!(1u64 << 40), "\"kv_heads\" is 1099511627776; it must be at most 256");
        refused("ar", |m| m["head_dim"] = json!(4096), "\"head_dim\" is 4096; it must be at most 1024");
        refused("ar", |m| m["vocab"] = json!(1 << 21), "\"vocab\" is 2097152; it must be at most 1048576");
        refused("ar", |m| m["context"] = json!(1 << 20), "\"context\" is 1048576; it must be at most 32768");
        refused("ar", |m| m["context"] = json!(0), "\"context\" is 0; it must be at least 2");
        refused("ar", |m| m["params"] = json!(u64::MAX), "\"params\"");
        refused("ar", |m| m["layers"] = json!(-1), "invalid value: integer `-1`");
        refused("ar", |m| m["layers"] = json!(1e6), "invalid type: floating point");
    }

    #[test]
    fn fields_within_their_ranges_must_still_fit_together() {
        // 256 layers x 256 KV heads x 64 x 32768 positions: a 1 TiB cache.
        refused(
            "ar",
            |m| {
                m["layers"] = json!(256);
                m["kv_heads"] = json!(256);
                m["context"] = json!(32768);
            },
            "a window's KV cache would take",
        );
        refused(
            "mdlm",
            |m| {
                m["vocab"] = json!(1 << 20);
                m["mask_id"] = json!(1 << 20);
                m["context"] = json!(32768);
            },
            "a window's logits would take",
        );
        refused("ar", |m| m["stride"] = json!(513), "\"stride\" is 513");
        refused("ar", |m| m["stop_ids"] = json!(vec![2; 65]), "\"stop_ids\" has 65 ids");
        refused("ar", |m| m["stop_ids"] = json!([1024]), "\"stop_ids\" has id 1024, outside the vocabulary of 1024");
        refused("smollm2", |m| m["chat"]["im_end"] = json!(49152), "\"chat.im_end\" has id 49152");
        refused("mdlm", |m| m["mask_id"] = json!(1025), "\"mask_id\" is 1025");
        refused("mdlm", |m| m["t_eps"] = json!(0.0), "\"t_eps\" is 0");
        refused("mdlm", |m| m["t_eps"] = json!(1.5), "\"t_eps\" is 1.5");
        refused("ar", |m| m["tokenizer"]["kind"] = json!("wordpiece"), "\"tokenizer.kind\" is \"wordpiece\"");
        refused("ar", |m| m["onnx"]["bytes"] = json!(0), "\"onnx.bytes\" is 0");
        refused("ar", |m| m["onnx"]["bytes"] = json!(1u64 << 40), "\"onnx.bytes\" is 1099511627776");
        refused("ar", |m| m["artifact"]["sha256"] = json!("abc"), "\"artifact.sha256\" is \"abc\"");
        refused("ar", |m| m["id"] = json!("<b>ar</b>"), "\"id\" is \"<b>ar</b>\"");
        refused("ar", |m| m["id"] = json!(""), "\"id\" is \"\"");
    }

    #[test]
    fn paths_that_could_leave_the_folder_are_refused() {
        for (path, why) in [
            ("/etc/passwd", "it is an absolute path"),
            ("../ar/model.onnx", "'..'"),
            ("sub/../../x", "'..'"),
            ("./model.onnx", "'.'"),
            ("sub//model.onnx", "empty"),
            ("", "it is empty"),
            ("C:\\Windows\\win.ini", "contains ':'"),
            ("..\\x", "contains '\\\\'"),
            ("%2e%2e/x", "contains '%'"),
            ("model.onnx?x=1", "contains '?'"),
            ("model.onnx#x", "contains '#'"),
            ("model\u{0}.onnx", "contains '\\0'"),
        ] {
            let e = edited("ar", |m| m["onnx"]["path"] = json!(path)).expect_err("refused");
            assert!(e.contains(&format!("\"onnx.path\" is {path:?}: ")) && e.contains(why), "{path}: {e}");
        }
        refused("ar", |m| m["tokenizer"]["file"] = json!("/etc/passwd"), "\"tokenizer.file\" is \"/etc/passwd\"");
        refused("ar", |m| m["artifact"]["path"] = json!("../x.ptz"), "\"artifact.path\" is \"../x.ptz\"");
        refused("ar", |m| m["onnx"]["path"] = json!("x".repeat(300)), "longer than 255 bytes");
        // Plain names, with subfolders and the characters people put in file names, stay allowed.
        for path in ["model.onnx", "onnx/model.onnx", "my tokenizer (v2).model", "final_model.int8.ptz"] {
            edited("ar", |m| m["onnx"]["path"] = json!(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }

    #[test]
    fn from_bytes_refuses_a_huge_or_binary_manifest_without_parsing_it() {
        let big = vec![b' '; limits::MANIFEST_BYTES as usize + 1];
        let e = Manifest::from_bytes(&big, "x/golfer.json").unwrap_err().to_string();
        assert!(e.contains("x/golfer.json") && e.contains("at most 1048576 bytes"), "{e}");
        let e = Manifest::from_bytes(b"{\"id\": \"\xff\"}", "golfer.json").unwrap_err().to_string();
        assert!(e.contains("not UTF-8"), "{e}");
        let good = committed("ar").to_string();
        assert!(Manifest::from_bytes(good.as_bytes(), "golfer.json").is_ok());
        // Deep nesting is serde_json's recursion limit, not a stack overflow.
        let deep = format!("{{\"training\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Manifest::from_bytes(deep.as_bytes(), "golfer.json").is_err());
    }

    /// A port as ONNX Runtime reports it (-1: decided at run time).
    fn port(name: &str, elem: Elem, dims: &[i64]) -> Port {
        Port { name: name.into(), tensor: Some((elem, dims.to_vec())) }
    }

    /// The signature of the graphs `golf import` and scripts/smollm2/convert.py write (as ONNX Runtime reports
    /// models/ar/model.onnx: `[1, T]` ids, `[1, kv_heads, P, head_dim]` caches, `[1, vocab]` last logits).
    fn ar_graph(layers: usize, kv_heads: i64, head_dim: i64, vocab: i64) -> Signature {
        let mut inputs = vec![port("input_ids", Elem::I64, &[1, -1]), port("targets", Elem::I64, &[1, -1])];
        let mut outputs = vec![
            port("logprob2", Elem::F32, &[1, -1]),
            port("rank", Elem::I64, &[1, -1]),
            port("top_ids", Elem::I64, &[1, -1, 10]),
            port("top_probs", Elem::F32, &[1, -1, 10]),
            port("entropy", Elem::F32, &[1, -1]),
            port("last_logits", Elem::F32, &[1, vocab]),
        ];
        for i in 0..layers {
            for k in ["key", "value"] {
                inputs.push(port(&format!("past_{k}_{i}"), Elem::F32, &[1, kv_heads, -1, head_dim]));
                outputs.push(port(&format!("present_{k}_{i}"), Elem::F32, &[1, kv_heads, -1, head_dim]));
            }
        }
        Signature { inputs, outputs }
    }

    fn graph_error(m: &Manifest, g: &Signature) -> String {
        m.check_graph(g).expect_err("a graph that does not fit").to_string()
    }

    #[test]
    fn the_manifest_must_match_the_graph() {
        let m = edited("ar", |_| {}).expect("the AR manifest");
        m.check_graph(&ar_graph(6, 2, 64, 1024)).expect("the AR graph fits its manifest");
        let e = graph_error(&m, &ar_graph(7, 2, 64, 1024));
        assert!(e.contains("model.onnx") && e.contains("7 layers") && e.contains("\"layers\": 6"), "{e}");
        let e = graph_error(&m, &ar_graph(5, 2, 64, 1024));
        assert!(e.contains("5 layers"), "{e}");
        let e = graph_error(&m, &ar_graph(6, 3, 64, 1024));
        assert!(e.contains("past_key_0 has shape [1, 3, ?, 64], but golfer.json says \"kv_heads\": 2"), "{e}");
        let e = graph_error(&m, &ar_graph(6, 2, 32, 1024));
        assert!(e.contains("\"head_dim\": 64"), "{e}");
        let e = graph_error(&m, &ar_graph(6, 2, 64, 49152));
        assert!(e.contains("last_logits has shape [1, 49152], but golfer.json says \"vocab\": 1024"), "{e}");
        // Dimensions the graph leaves to run time cannot disagree.
        m.check_graph(&ar_graph(6, -1, -1, -1)).expect("dynamic dimensions");

        let mut g = ar_graph(6, 2, 64, 1024);
        g.outputs.retain(|p| p.name != "entropy");
        assert!(graph_error(&m, &g).contains("the graph has no output entropy"));
        let mut g = ar_graph(6, 2, 64, 1024);
        g.inputs[0] = port("input_ids", Elem::I64, &[1, 512]);
        assert!(graph_error(&m, &g).contains("input input_ids has shape [1, 512]: dimension 1 is fixed"));
        let mut g = ar_graph(6, 2, 64, 1024);
        g.inputs[1] = port("targets", Elem::F32, &[1, -1]);
        assert!(graph_error(&m, &g).contains("input targets is not int64"));
        let mut g = ar_graph(6, 2, 64, 1024);
        g.inputs.push(port("attention_mask", Elem::I64, &[1, -1]));
        assert!(graph_error(&m, &g).contains("needs an input attention_mask"));
        // A runtime that reports no shapes: only the names and types are held against the manifest.
        let mut g = ar_graph(6, 2, 64, 1024);
        g.inputs.iter_mut().chain(&mut g.outputs).for_each(|p| p.tensor.as_mut().expect("a tensor").1.clear());
        m.check_graph(&g).expect("no shapes to disagree with");
        let mut g = ar_graph(6, 2, 64, 1024);
        g.inputs[2].tensor = None;
        assert!(graph_error(&m, &g).contains("past_key_0 is not a tensor"));
    }

    #[test]
    fn a_diffusion_manifest_is_held_against_its_logits() {
        let m = edited("mdlm", |_| {}).expect("the MDLM manifest");
        let mut g = ar_graph(0, 0, 0, 1024);
        g.outputs.push(port("logits", Elem::F32, &[1, -1, 1024]));
        m.check_graph(&g).expect("the MDLM graph fits its manifest");
        g.outputs.last_mut().expect("logits").tensor = Some((Elem::F32, vec![1, -1, 1025]));
        assert!(
            graph_error(&m, &g).contains("output logits has shape [1, ?, 1025], but golfer.json says \"vocab\": 1024")
        );
        // An autoregressive graph's cache inputs would never be fed.
        let mut g = ar_graph(6, 2, 64, 1024);
        g.outputs.push(port("logits", Elem::F32, &[1, -1, 1024]));
        assert!(graph_error(&m, &g).contains("needs an input past_key_0"));
    }

    #[test]
    fn the_tokenizer_must_fit_the_vocabulary() {
        let bytes = include_bytes!("../../golf-import/tokenizer/fineweb_1024_bpe.model");
        let m = edited("ar", |_| {}).expect("the AR manifest");
        assert_eq!(m.load_tokenizer(bytes).expect("it fits").vocab_size(), 1024);
        for vocab in [512, 2048] {
            let m = edited("ar", |m| m["vocab"] = json!(vocab)).expect("a manifest");
            let e = m.load_tokenizer(bytes).err().expect("refused").to_string();
            assert!(e.contains(&format!("it has 1024 tokens, but golfer.json says \"vocab\": {vocab}")), "{e}");
        }
    }

    /// The real graphs, through ONNX Runtime: the signature the checks see is the one the tests above assume, and
    /// a hand-edited shape field is refused before any call. Skipped (and logged) where ONNX Runtime is not found.
    #[test]
    fn the_committed_graphs_fit_their_manifests_and_not_an_edited_one() {
        if let Err(e) = crate::runtime::native::init() {
            skip("the_committed_graphs_fit_their_manifests_and_not_an_edited_one", &e.to_string());
            return;
        }
        for folder in ["ar", "mdlm"] {
            let m = edited(folder, |_| {}).expect("a committed manifest");
            let path = format!("{}/../../models/{folder}/{}", env!("CARGO_MANIFEST_DIR"), m.onnx.path);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let model = golf_core::block_on(crate::runtime::Model::from_bytes(&bytes)).expect("a session");
            let g = model.signature().expect("its signature");
            m.check_graph(&g).unwrap_or_else(|e| panic!("{folder}: {e}"));
            for (field, value) in [("layers", 7), ("vocab", 2048), ("kv_heads", 4), ("head_dim", 32)] {
                let m = edited(folder, |m| m[field] = json!(value)).expect("an edited manifest");
                let e = m.check_graph(&g);
                // The diffusion graph has no cache: its layers, KV heads and head size are not the graph's.
                if folder == "ar" || field == "vocab" {
                    let e = e.err().unwrap_or_else(|| panic!("{folder}: {field} {value} accepted")).to_string();
                    assert!(e.contains(&format!("\"{field}\"")), "{e}");
                }
            }
        }
    }

    /// Records a skipped test where `scripts/test.sh` lists them ($GOLF_SKIP_LOG).
    fn skip(test: &str, why: &str) {
        eprintln!("skipped {test}: {why}");
        if let Some(log) = std::env::var_os("GOLF_SKIP_LOG") {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(log) {
                let _ = writeln!(f, "cargo test golf-onnx {test}: {why}");
            }
        }
    }
}
