//! A participant's Parameter Golf artifact into a model folder that the golfers load: the baseline's
//! `final_model.int8.ptz` (int8 per row with fp16 scales, fp16/fp32 passthrough, any depth, width and head count)
//! or the MDLM's `final_model.fp8.ptz`. The same code runs in the CLI (`golf import`) and on the page.
//!
//! What the weights cannot tell (the activation, RoPE base, logit softcap, context) is taken from the options or
//! the baseline's defaults and said, in the manifest and to the caller. What the importer does not know (other
//! names, other shapes, another container) is refused with the names: a model that loads but scores wrong is the
//! one outcome it never gives.
//!
//! The file is a stranger's (the page imports what visitors drop), so every size and count in it is bounded by what
//! the file can hold before anything is allocated for it: decompression stops at [`MAX_UNPACKED`], a zip entry at the
//! bytes after its start, the pickle at [`MAX_BUILT`] bytes of objects and [`MAX_DEPTH`] levels, the tensors at the
//! storages' bytes (each storage read once and shared), the layers at [`MAX_LAYERS`] and the block numbers present;
//! the caller's [`Options`] are checked against what the graph and the golfers can use ([`Options::check`]).

mod artifact;
mod container;
mod graph;
mod onnx;
mod pickle;

use golf_onnx::manifest::{FileEntry, Manifest, ModelKind, TokenizerEntry};
use golf_tokenize::SentencePiece;
use sha2::{Digest, Sha256};

pub use artifact::{Artifact, Format, Shapes, MAX_LAYERS, MAX_NAME};
pub use container::MAX_UNPACKED;
pub use graph::{fp8_e4m3_value, Activation, Hyper};
pub use pickle::{MAX_BUILT, MAX_DEPTH};

/// The official Parameter Golf sp1024 tokenizer (byte fallback on), which participants' entries use.
pub const OFFICIAL_TOKENIZER: &[u8] = include_bytes!("../tokenizer/fineweb_1024_bpe.model");
pub const OFFICIAL_TOKENIZER_NAME: &str = "fineweb_1024_bpe.model";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the artifact cannot be unpacked: {0}")]
    Container(String),
    #[error("the artifact's pickle cannot be read: {0}")]
    Pickle(String),
    #[error("the artifact is not in a format this importer reads: {0}")]
    Format(String),
    #[error("{0}")]
    Architecture(String),
    #[error("the tokenizer: {0}")]
    Tokenizer(String),
    #[error("{0}")]
    Option(String),
}

/// The longest context an import may ask for: far beyond any Parameter Golf entry's training length (1024 to
/// 4096), within what an autoregressive golfer's KV cache can hold on the page.
pub const MAX_CONTEXT: usize = 8192;
/// A diffusion model attends to its whole window at once (context² scores per head and layer, and one model call
/// per token for the chain-rule estimators), so its window is bounded lower.
pub const MAX_DIFFUSION_CONTEXT: usize = 2048;
/// RoPE bases in use run from 10,000 (the baseline) to about 10^7.
pub const MAX_ROPE_BASE: f32 = 1e9;
/// Logit softcaps in use are 15 to 50; past this the cap does nothing the graph can show.
pub const MAX_LOGIT_SOFTCAP: f32 = 1e4;
/// A golfer's name, as the page and the terminal show it.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest file name the folder may hold (and a manifest may give).
const MAX_FILE_NAME_BYTES: usize = 255;
/// The longest golfer id (the name, slugged).
const MAX_ID_BYTES: usize = 64;

/// What the caller says about the artifact; `None` takes the baseline's value and says so.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub activation: Option<Activation>,
    pub rope_base: Option<f32>,
    pub logit_softcap: Option<f32>,
    /// Tokens per scoring window (Parameter Golf's eval_val uses the training sequence length).
    pub context: Option<usize>,
    pub name: Option<String>,
    /// A SentencePiece `.model` file (name, bytes); default: the official sp1024.
    pub tokenizer: Option<(String, Vec<u8>)>,
    /// The artifact's file name, for the manifest.
    pub artifact_name: String,
    /// How the folder can be made again (the command line), for error messages.
    pub rebuild: String,
}

/// A model folder: its files by name (`golfer.json` among them) and what was assumed.
pub struct Folder {
    pub manifest: Manifest,
    pub files: Vec<(String, Vec<u8>)>,
    /// One line per assumption, for the terminal or the page.
    pub assumed: Vec<String>,
}

/// Parses `leaky_relu2:0.5`, `relu2`.
pub fn parse_activation(s: &str) -> Result<Activation, ImportError> {
    let a = match s.split_once(':') {
        None if s == "relu2" => Activation::Relu2,
        None if s == "leaky_relu2" => Activation::LeakyRelu2(0.5),
        Some(("leaky_relu2", slope)) => match slope.parse::<f32>() {
            Ok(v) if v.is_finite() => Activation::LeakyRelu2(v),
            _ => return Err(ImportError::Option(format!("the slope in '{s}' is not a number"))),
        },
        _ => return Err(ImportError::Option(format!("unknown activation '{s}': use relu2 or leaky_relu2[:slope]"))),
    };
    check_activation(a)?;
    Ok(a)
}

fn check_activation(a: Activation) -> Result<(), ImportError> {
    match a {
        Activation::LeakyRelu2(slope) if !(0.0..=1.0).contains(&slope) => Err(ImportError::Option(format!(
            "a leaky ReLU slope of {slope} is out of range: give one from 0 to 1 (the slope for negative inputs)"
        ))),
        _ => Ok(()),
    }
}

fn check_context(context: usize, diffusion: bool) -> Result<(), ImportError> {
    let (max, why) = if diffusion {
        (MAX_DIFFUSION_CONTEXT, " for a diffusion model (it attends to its whole window at once)")
    } else {
        (MAX_CONTEXT, "")
    };
    if !(2..=max).contains(&context) {
        return Err(ImportError::Option(format!(
            "a context of {context} tokens is out of range{why}: give one from 2 to {max}"
        )));
    }
    Ok(())
}

/// A file of the model folder: a plain name, not one of the folder's own files, not a path.
fn check_file_name(name: &str, what: &str) -> Result<(), ImportError> {
    let why = if name.is_empty() {
        "is empty"
    } else if name.len() > MAX_FILE_NAME_BYTES {
        "is too long (at most 255 bytes)"
    } else if name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
        "is not a plain file name"
    } else if name == "model.onnx" || name == "golfer.json" {
        "is the name of a file the import writes"
    } else {
        return Ok(());
    };
    Err(ImportError::Option(format!("the {what}'s file name '{}' {why}", pickle::quoted(name))))
}

impl Options {
    /// Checks what the caller gave against what the graph and the golfers can use, before any work.
    pub fn check(&self) -> Result<(), ImportError> {
        if let Some(a) = self.activation {
            check_activation(a)?;
        }
        if let Some(base) = self.rope_base {
            if !(1.0..=MAX_ROPE_BASE).contains(&base) {
                return Err(ImportError::Option(format!(
                    "a RoPE base of {base} is out of range: give one from 1 to {MAX_ROPE_BASE} (the baseline's is 10000)"
                )));
            }
        }
        if let Some(cap) = self.logit_softcap {
            if !(cap > 0.0 && cap <= MAX_LOGIT_SOFTCAP) {
                return Err(ImportError::Option(format!(
                    "a logit softcap of {cap} is out of range: give one above 0 and at most {MAX_LOGIT_SOFTCAP} (the baseline's is 30)"
                )));
            }
        }
        if let Some(context) = self.context {
            check_context(context, false)?;
        }
        if let Some(name) = &self.name {
            let chars = name.chars().count();
            if chars > MAX_NAME_CHARS {
                return Err(ImportError::Option(format!(
                    "the name '{}' has {chars} characters: give one of at most {MAX_NAME_CHARS}",
                    pickle::quoted(name)
                )));
            }
        }
        check_file_name(&self.artifact_name, "artifact")?;
        let tok = self.tokenizer.as_ref().map_or(OFFICIAL_TOKENIZER_NAME, |(name, _)| name.as_str());
        check_file_name(tok, "tokenizer")?;
        if tok == self.artifact_name {
            return Err(ImportError::Option(format!(
                "the artifact and the tokenizer are both called '{}': the folder holds both",
                pickle::quoted(tok)
            )));
        }
        Ok(())
    }
}

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn slug(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    // An id is a handle, not a label: cut long ones (the slug is ASCII, so any cut is a char boundary).
    out.truncate(MAX_ID_BYTES);
    out.trim_matches('-').to_string()
}

/// Reads an artifact and builds its model folder.
pub fn import(ptz: &[u8], o: &Options) -> Result<Folder, ImportError> {
    o.check()?;
    let a = Artifact::read(ptz)?;
    let s = Shapes::infer(&a)?;
    let (tok_name, tok_bytes) =
        o.tokenizer.clone().unwrap_or_else(|| (OFFICIAL_TOKENIZER_NAME.to_string(), OFFICIAL_TOKENIZER.to_vec()));
    let sp = SentencePiece::from_model_bytes(&tok_bytes).map_err(|e| ImportError::Tokenizer(e.to_string()))?;
    let vocab = sp.vocab_size();
    let diffusion = match (a.format, s.embed_rows) {
        (_, r) if r == vocab => false,
        (Format::Flat, r) if Some(r) == vocab.checked_add(1) => true,
        (_, r) => {
            return Err(ImportError::Tokenizer(format!(
                "{tok_name} has {vocab} pieces but the model's embedding has {r} rows: give the tokenizer it was trained with (--tokenizer FILE.model)"
            )))
        }
    };
    let bos_id = sp.bos_id().ok_or_else(|| ImportError::Tokenizer(format!("{tok_name} has no <s> piece")))?;
    let mut assumed = Vec::new();
    let mut say = |what: String| assumed.push(what);
    let activation = o.activation.unwrap_or_else(|| {
        say("activation relu2 (the baseline's relu(x)²; the weights cannot show it: give yours if it differs)".into());
        Activation::Relu2
    });
    let rope_base = o.rope_base.unwrap_or_else(|| {
        say("RoPE base 10000 (the baseline's)".into());
        10000.0
    });
    let logit_softcap = o.logit_softcap.unwrap_or_else(|| {
        say("logit softcap 30 (the baseline's)".into());
        30.0
    });
    let default_context = if diffusion { 256 } else { 1024 };
    let context = o.context.unwrap_or_else(|| {
        say(format!(
            "context {default_context} tokens ({}; give your training sequence length if it differs)",
            if diffusion { "this project's MDLM" } else { "the baseline's TRAIN_SEQ_LEN" }
        ));
        default_context
    });
    check_context(context, diffusion)?;
    if diffusion {
        assumed.push(format!(
            "a masked diffusion model (its embedding has one row beyond the tokenizer's {vocab}: [MASK] = {vocab}), bidirectional"
        ));
    }
    if tok_name == OFFICIAL_TOKENIZER_NAME && o.tokenizer.is_none() {
        assumed.push("the official Parameter Golf sp1024 tokenizer".into());
    }
    let hyper = Hyper { activation, rope_base, logit_softcap, diffusion };
    let format = match a.format {
        Format::Int8 => "int8",
        Format::Flat if a.weights.values().any(|w| matches!(w, artifact::Stored::Fp8(_))) => "fp8 e4m3",
        Format::Flat => "float",
    };
    let params = a.params();
    let model = graph::build(a, &s, &hyper)?;

    let name = o.name.clone().unwrap_or_else(|| o.artifact_name.trim_end_matches(".ptz").to_string());
    let arch = format!(
        "{} layers x {}, {} heads / {} KV, MLP {}, {}{}",
        s.layers,
        s.dim,
        s.heads,
        s.kv_heads,
        s.hidden,
        activation.name(),
        if s.untied_head { ", untied head" } else { "" }
    );
    let about = format!("Imported from {} ({arch}). Assumed: {}.", o.artifact_name, assumed.join("; "));
    let file =
        |path: &str, data: &[u8]| FileEntry { path: path.into(), sha256: sha256(data), bytes: data.len() as u64 };
    let manifest = Manifest {
        // A name of no letters or digits ("???") still needs an id.
        id: Some(slug(&name)).filter(|id| !id.is_empty()).unwrap_or_else(|| "imported".into()),
        kind: if diffusion { ModelKind::Diffusion } else { ModelKind::Autoregressive },
        label: format!("{name} ({format}, imported)"),
        about,
        onnx: file("model.onnx", &model),
        artifact: Some(file(&o.artifact_name, ptz)),
        tokenizer: TokenizerEntry {
            kind: "sentencepiece".into(),
            file: tok_name.clone(),
            sha256: sha256(&tok_bytes),
            source: if o.tokenizer.is_none() {
                "the official Parameter Golf sp1024 tokenizer (openai/parameter-golf, MIT)".into()
            } else {
                "given to golf import".into()
            },
            rebuild: None,
        },
        params,
        context,
        stride: None,
        layers: s.layers,
        kv_heads: s.kv_heads,
        head_dim: s.head_dim,
        vocab,
        bos_id,
        stop_ids: Vec::new(),
        chat: None,
        decoder: None,
        mask_id: if diffusion {
            Some(u32::try_from(vocab).map_err(|_| ImportError::Tokenizer(format!("{tok_name} has too many pieces")))?)
        } else {
            None
        },
        t_eps: diffusion.then_some(1e-3),
        rebuild: o.rebuild.clone(),
        training: serde_json::json!({
            "imported_from": { "file": o.artifact_name, "sha256": sha256(ptz), "bytes": ptz.len() },
            "format": format,
            "dim": s.dim, "heads": s.heads, "mlp_hidden": s.hidden, "untied_head": s.untied_head,
            "assumed": {
                "activation": activation.name(),
                "rope_base": rope_base,
                "logit_softcap": logit_softcap,
                "context": context,
            },
            "stated": assumed,
        }),
        results: serde_json::Value::Null,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| ImportError::Option(e.to_string()))?;
    // The folder must load as any other: its manifest passes the same checks.
    Manifest::parse(&json, "golfer.json").map_err(|e| ImportError::Option(e.to_string()))?;
    let files = vec![
        ("model.onnx".to_string(), model),
        (o.artifact_name.clone(), ptz.to_vec()),
        (tok_name, tok_bytes),
        ("golfer.json".to_string(), json.into_bytes()),
    ];
    Ok(Folder { manifest, files, assumed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_parse() {
        assert_eq!(parse_activation("relu2").unwrap(), Activation::Relu2);
        assert_eq!(parse_activation("leaky_relu2:0.25").unwrap(), Activation::LeakyRelu2(0.25));
        assert!(parse_activation("gelu").unwrap_err().to_string().contains("relu2"));
        assert!(parse_activation("leaky_relu2:x").is_err());
    }

    #[test]
    fn the_official_tokenizer_has_byte_fallback() {
        let sp = SentencePiece::from_model_bytes(OFFICIAL_TOKENIZER).unwrap();
        assert_eq!(sp.vocab_size(), 1024);
        assert_eq!(sp.piece_to_id("<0x00>"), 4);
        assert_eq!(sp.piece_to_id("<0xFF>"), 259);
    }
}
