//! What an artifact holds, typed: each weight as it is stored (int8 with its scales, fp8 codes, or a float
//! tensor) and the shapes of the Parameter Golf baseline architecture, read from the weights alone. Names that the
//! architecture does not have, or lacks, are refused here, with the names: never a model that runs but is wrong.

use std::collections::{BTreeMap, BTreeSet};

use crate::container::{Container, Tensor};
use crate::pickle::{quoted, DType, Value};
use crate::ImportError;

/// The baseline's export format marker (`__quant_format__`).
pub const INT8_FORMAT: &str = "int8_clean_per_row_v1";

/// One weight as the artifact stores it; the graph dequantizes it exactly as PyTorch's loader does.
#[derive(Clone, Debug)]
pub enum Stored {
    /// int8 codes times a per-row fp16 scale (or one scalar scale), rounded to `restore` (the dtype it had).
    Int8 { q: Tensor, scale: Tensor, restore: DType },
    /// float8_e4m3fn codes, no scale.
    Fp8(Tensor),
    /// A float tensor; fp16 ones are widened through `restore` where the artifact says it was bf16.
    Float { t: Tensor, restore: Option<DType> },
}

impl Stored {
    fn tensor(&self) -> &Tensor {
        match self {
            Stored::Int8 { q, .. } => q,
            Stored::Fp8(t) | Stored::Float { t, .. } => t,
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.tensor().shape
    }

    pub fn numel(&self) -> usize {
        self.tensor().numel()
    }
}

/// Which of the two formats the file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The baseline's `final_model.int8.ptz`.
    Int8,
    /// A flat state dict (the MDLM's `final_model.fp8.ptz`: fp8 matrices, fp16 small tensors).
    Flat,
}

pub struct Artifact {
    pub format: Format,
    pub weights: BTreeMap<String, Stored>,
}

/// The longest key a state dict may have (its names are dotted paths of a few dozen characters): every message
/// that names a tensor can then quote it whole.
pub const MAX_NAME: usize = 200;

fn entries<'a>(v: &'a Value, what: &str) -> Result<Vec<(&'a str, &'a Value)>, ImportError> {
    let Value::Dict(d) = v else {
        return Err(ImportError::Format(format!("'{what}' is {}, not a dict", v.describe())));
    };
    d.iter()
        .map(|(k, v)| match k {
            Value::Str(k) if k.chars().count() > MAX_NAME => Err(ImportError::Format(format!(
                "'{what}' has a key of {} characters ('{}'); a state dict's names are at most {MAX_NAME}",
                k.chars().count(),
                quoted(k)
            ))),
            Value::Str(k) => Ok((k.as_str(), v)),
            other => Err(ImportError::Format(format!("'{what}' has a key that is {}", other.describe()))),
        })
        .collect()
}

fn field<'a>(top: &[(&str, &'a Value)], key: &str) -> Option<&'a Value> {
    top.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn tensors(c: &Container, v: &Value, what: &str) -> Result<BTreeMap<String, Tensor>, ImportError> {
    entries(v, what)?
        .into_iter()
        .map(|(name, t)| match t {
            Value::Tensor(r) => Ok((name.to_string(), c.tensor(name, r)?)),
            other => Err(ImportError::Format(format!("'{what}.{name}' is {}, not a tensor", other.describe()))),
        })
        .collect()
}

fn strings(v: Option<&Value>, what: &str) -> Result<BTreeMap<String, String>, ImportError> {
    let Some(v) = v else { return Ok(BTreeMap::new()) };
    entries(v, what)?
        .into_iter()
        .map(|(k, s)| match s {
            Value::Str(s) => Ok((k.to_string(), s.clone())),
            other => Err(ImportError::Format(format!("'{what}.{k}' is {}, not a dtype name", other.describe()))),
        })
        .collect()
}

fn float_dtype(name: &str, what: &str) -> Result<DType, ImportError> {
    match name {
        "float32" => Ok(DType::F32),
        "float16" => Ok(DType::F16),
        "bfloat16" => Ok(DType::BF16),
        other => Err(ImportError::Format(format!("{what} is '{}', not float32, float16 or bfloat16", quoted(other)))),
    }
}

fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F16 | DType::BF16)
}

impl Artifact {
    pub fn read(ptz: &[u8]) -> Result<Artifact, ImportError> {
        let c = Container::read(ptz)?;
        let top = entries(&c.root, "the saved object")?;
        match field(&top, "__quant_format__") {
            Some(Value::Str(f)) if f == INT8_FORMAT => Self::int8(&c, &top),
            Some(other) => Err(ImportError::Format(format!(
                "its __quant_format__ is {}; this importer reads '{INT8_FORMAT}' (the baseline's) and flat state dicts",
                other.describe()
            ))),
            None => Self::flat(&c, &top),
        }
    }

    fn int8(c: &Container, top: &[(&str, &Value)]) -> Result<Artifact, ImportError> {
        const KNOWN: [&str; 7] =
            ["__quant_format__", "quantized", "scales", "dtypes", "passthrough", "passthrough_orig_dtypes", "qmeta"];
        let unknown: Vec<&str> = top.iter().map(|(k, _)| *k).filter(|k| !KNOWN.contains(k)).collect();
        if !unknown.is_empty() {
            return Err(ImportError::Format(format!(
                "the artifact has top-level entries the baseline's format does not: {}",
                unknown.join(", ")
            )));
        }
        let need = |k: &str| field(top, k).ok_or_else(|| ImportError::Format(format!("the artifact has no '{k}'")));
        let quantized = tensors(c, need("quantized")?, "quantized")?;
        let mut scales = tensors(c, need("scales")?, "scales")?;
        let dtypes = strings(Some(need("dtypes")?), "dtypes")?;
        let passthrough = tensors(c, need("passthrough")?, "passthrough")?;
        let orig = strings(field(top, "passthrough_orig_dtypes"), "passthrough_orig_dtypes")?;
        if let Some(q) = field(top, "qmeta") {
            for (name, meta) in entries(q, "qmeta")? {
                let m = entries(meta, &format!("qmeta.{name}"))?;
                let per_row = matches!(field(&m, "scheme"), Some(Value::Str(s)) if s == "per_row")
                    && matches!(field(&m, "axis"), Some(Value::Int(0)) | None);
                if !per_row {
                    return Err(ImportError::Format(format!(
                        "qmeta.{name} describes a scheme other than per-row int8 along axis 0"
                    )));
                }
            }
        }
        let mut weights = BTreeMap::new();
        for (name, q) in quantized {
            if q.dtype != DType::I8 {
                return Err(ImportError::Format(format!("quantized.{name} is {}, not int8", q.dtype.name())));
            }
            let scale =
                scales.remove(&name).ok_or_else(|| ImportError::Format(format!("quantized.{name} has no scale")))?;
            let per_row = scale.shape.len() == 1 && q.shape.first() == scale.shape.first();
            if !(per_row || scale.shape.is_empty()) || !is_float(scale.dtype) {
                return Err(ImportError::Format(format!(
                    "scales.{name} is {} {:?}: neither one scale per row of {:?} nor one scalar",
                    scale.dtype.name(),
                    scale.shape,
                    q.shape
                )));
            }
            let restore = float_dtype(
                dtypes.get(&name).ok_or_else(|| ImportError::Format(format!("dtypes has no entry for {name}")))?,
                &format!("dtypes.{name}"),
            )?;
            weights.insert(name, Stored::Int8 { q, scale, restore });
        }
        if let Some(name) = scales.keys().next() {
            return Err(ImportError::Format(format!("scales.{name} belongs to no quantized tensor")));
        }
        for (name, t) in passthrough {
            let restore =
                orig.get(&name).map(|o| float_dtype(o, &format!("passthrough_orig_dtypes.{name}"))).transpose()?;
            weights.insert(name, Stored::Float { t, restore });
        }
        Ok(Artifact { format: Format::Int8, weights })
    }

    fn flat(c: &Container, top: &[(&str, &Value)]) -> Result<Artifact, ImportError> {
        let mut weights = BTreeMap::new();
        for (name, v) in top {
            let Value::Tensor(r) = v else {
                return Err(ImportError::Format(format!(
                    "'{name}' is {}: a flat artifact holds tensors only (and a baseline one has __quant_format__)",
                    v.describe()
                )));
            };
            let t = c.tensor(name, r)?;
            let stored = if t.dtype == DType::F8E4M3 { Stored::Fp8(t) } else { Stored::Float { t, restore: None } };
            weights.insert(name.to_string(), stored);
        }
        Ok(Artifact { format: Format::Flat, weights })
    }

    fn shape(&self, name: &str) -> Option<&[usize]> {
        self.weights.get(name).map(Stored::shape)
    }

    /// Parameters, as `sum(p.numel())` over the model counts them.
    pub fn params(&self) -> u64 {
        self.weights.values().map(|w| w.numel() as u64).sum()
    }
}

/// The dimensions of a baseline-architecture model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shapes {
    pub layers: usize,
    /// Rows of the embedding (a diffusion model's has one more than its vocabulary: [MASK]).
    pub embed_rows: usize,
    pub dim: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub hidden: usize,
    /// `skip_weights` rows: min(encoder layers, decoder layers).
    pub skips: usize,
    /// An untied output head (`lm_head.weight`) instead of the tied embedding.
    pub untied_head: bool,
}

/// The names a block has.
const BLOCK_KEYS: [&str; 10] = [
    "attn.c_q.weight",
    "attn.c_k.weight",
    "attn.c_v.weight",
    "attn.proj.weight",
    "attn.q_gain",
    "attn_scale",
    "mlp_scale",
    "resid_mix",
    "mlp.fc.weight",
    "mlp.proj.weight",
];

/// "blocks.3.mlp.gate_up.weight" -> "blocks.N.mlp.gate_up.weight", so a message lists a pattern once.
fn pattern(name: &str) -> String {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        ["blocks", i, rest @ ..] if i.parse::<usize>().is_ok() => format!("blocks.N.{}", rest.join(".")),
        _ => name.to_string(),
    }
}

/// At most this many names in a message; the rest are counted.
const LISTED: usize = 20;

fn listed(names: &BTreeSet<String>) -> String {
    let patterns: BTreeSet<String> = names.iter().map(|n| pattern(n)).collect();
    let mut out: Vec<String> = patterns.iter().take(LISTED).map(|p| quoted(p)).collect();
    if patterns.len() > LISTED {
        out.push(format!("and {} more", patterns.len() - LISTED));
    }
    out.join(", ")
}

/// The most layers a model may have: far beyond any 16 MB entry, and a bound on the names the check builds.
pub const MAX_LAYERS: usize = 256;

const NOT_BASELINE: &str = "this is not the Parameter Golf baseline architecture that the importer knows";

/// The number of layers the block names show: refused where they skip a number or pass [`MAX_LAYERS`], before a
/// name is made for every block the highest number implies.
fn layers(blocks: &BTreeSet<usize>) -> Result<usize, ImportError> {
    let Some(&last) = blocks.last() else { return Ok(0) };
    if last >= MAX_LAYERS {
        return Err(ImportError::Architecture(format!(
            "{NOT_BASELINE}; it has blocks.{last}, and the importer reads at most {MAX_LAYERS} layers (blocks.0 to blocks.{})",
            MAX_LAYERS - 1
        )));
    }
    // The first number missing below `last` (there is one unless all of 0..=last are present).
    if let Some(gap) = (0..=last).zip(blocks.iter()).find(|(want, got)| want != *got).map(|(want, _)| want) {
        let next = blocks.range(gap..).next().copied().unwrap_or(last);
        let missing =
            if next - gap == 1 { format!("blocks.{gap}") } else { format!("blocks.{gap} to blocks.{}", next - 1) };
        return Err(ImportError::Architecture(format!("{NOT_BASELINE}; it has blocks.{next} but no {missing}")));
    }
    Ok(last + 1)
}

impl Shapes {
    /// Reads the dimensions from the weights and checks that the names and every shape are the baseline's.
    pub fn infer(a: &Artifact) -> Result<Shapes, ImportError> {
        let blocks: BTreeSet<usize> =
            a.weights.keys().filter_map(|n| n.strip_prefix("blocks.")?.split('.').next()?.parse().ok()).collect();
        let layers = layers(&blocks)?;
        let untied_head = a.weights.contains_key("lm_head.weight");
        let mut expected: BTreeSet<String> = (0..layers)
            .flat_map(|i| BLOCK_KEYS.iter().map(move |k| format!("blocks.{i}.{k}")))
            .chain(["tok_emb.weight".to_string()])
            .collect();
        let skips = (layers / 2).min(layers - layers / 2);
        if skips > 0 {
            expected.insert("skip_weights".into());
        }
        if untied_head {
            expected.insert("lm_head.weight".into());
        }
        let present: BTreeSet<String> = a.weights.keys().cloned().collect();
        let unknown: BTreeSet<String> = present.difference(&expected).cloned().collect();
        let missing: BTreeSet<String> = expected.difference(&present).cloned().collect();
        if !unknown.is_empty() || !missing.is_empty() || layers == 0 {
            let mut why = String::from(NOT_BASELINE);
            if !unknown.is_empty() {
                why += &format!("; names it does not know: {}", listed(&unknown));
            }
            if !missing.is_empty() {
                why += &format!("; names it lacks: {}", listed(&missing));
            }
            return Err(ImportError::Architecture(why));
        }
        // An empty tensor has no place in the model, and its zero would divide the dimensions below.
        if let Some((name, w)) = a.weights.iter().find(|(_, w)| w.shape().contains(&0)) {
            return Err(ImportError::Architecture(format!(
                "{} is {:?}: a dimension of 0 (an empty tensor), which no weight of the model has",
                quoted(name),
                w.shape()
            )));
        }
        let shape = |n: &str| a.shape(n).unwrap_or(&[]);
        let [embed_rows, dim] = *shape("tok_emb.weight") else {
            return Err(ImportError::Architecture(format!(
                "tok_emb.weight is {:?}, not a matrix",
                shape("tok_emb.weight")
            )));
        };
        let heads = a.weights.get("blocks.0.attn.q_gain").map_or(0, Stored::numel);
        if heads == 0 || dim % heads != 0 || !(dim / heads).is_multiple_of(2) {
            return Err(ImportError::Architecture(format!(
                "{heads} heads (blocks.0.attn.q_gain) do not split a width of {dim} into even head sizes"
            )));
        }
        let head_dim = dim / heads; // at least 2: checked above
        let kv_rows = shape("blocks.0.attn.c_k.weight").first().copied().unwrap_or(0);
        let kv_heads = kv_rows.checked_div(head_dim).unwrap_or(0);
        if kv_heads == 0 || kv_rows % head_dim != 0 || !heads.is_multiple_of(kv_heads) {
            return Err(ImportError::Architecture(format!(
                "blocks.0.attn.c_k.weight has {kv_rows} rows: not a number of KV heads of {head_dim} that divides {heads} heads"
            )));
        }
        let hidden = shape("blocks.0.mlp.fc.weight").first().copied().unwrap_or(0);
        let s = Shapes { layers, embed_rows, dim, heads, kv_heads, head_dim, hidden, skips, untied_head };
        for (name, want) in s.expected_shapes() {
            let got = shape(&name);
            if got != want.as_slice() {
                return Err(ImportError::Architecture(format!(
                    "{name} is {}; a model of these dimensions has {want:?}",
                    quoted(&format!("{got:?}"))
                )));
            }
        }
        Ok(s)
    }

    fn expected_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let Shapes { dim: d, heads: h, kv_heads: kvh, head_dim: hd, hidden, .. } = *self;
        let mut out = vec![("tok_emb.weight".to_string(), vec![self.embed_rows, d])];
        for i in 0..self.layers {
            let p = |k: &str| format!("blocks.{i}.{k}");
            out.extend([
                (p("attn.c_q.weight"), vec![h.saturating_mul(hd), d]),
                (p("attn.c_k.weight"), vec![kvh.saturating_mul(hd), d]),
                (p("attn.c_v.weight"), vec![kvh.saturating_mul(hd), d]),
                (p("attn.proj.weight"), vec![d, h.saturating_mul(hd)]),
                (p("attn.q_gain"), vec![h]),
                (p("attn_scale"), vec![d]),
                (p("mlp_scale"), vec![d]),
                (p("resid_mix"), vec![2, d]),
                (p("mlp.fc.weight"), vec![hidden, d]),
                (p("mlp.proj.weight"), vec![d, hidden]),
            ]);
        }
        if self.skips > 0 {
            out.push(("skip_weights".into(), vec![self.skips, d]));
        }
        if self.untied_head {
            out.push(("lm_head.weight".into(), vec![self.embed_rows, d]));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_count_is_refused_where_block_numbers_skip() {
        let set = |v: &[usize]| v.iter().copied().collect::<BTreeSet<usize>>();
        assert_eq!(layers(&set(&[])).unwrap(), 0);
        assert_eq!(layers(&set(&[0, 1, 2])).unwrap(), 3);
        let e = layers(&set(&[0, 1, 2, MAX_LAYERS - 1])).unwrap_err().to_string();
        assert!(e.ends_with("it has blocks.255 but no blocks.3 to blocks.254"), "{e}");
        let e = layers(&set(&[1])).unwrap_err().to_string();
        assert!(e.ends_with("it has blocks.1 but no blocks.0"), "{e}");
        let e = layers(&set(&[0, 2, 3])).unwrap_err().to_string();
        assert!(e.ends_with("it has blocks.2 but no blocks.1"), "{e}");
        let e = layers(&set(&[0, MAX_LAYERS])).unwrap_err().to_string();
        assert!(e.contains("it has blocks.256, and the importer reads at most 256 layers"), "{e}");
    }

    #[test]
    fn patterns_collapse_block_numbers() {
        let names: BTreeSet<String> =
            ["blocks.0.mlp.gate_up.weight", "blocks.4.mlp.gate_up.weight", "pass_gate"].map(String::from).into();
        assert_eq!(listed(&names), "blocks.N.mlp.gate_up.weight, pass_gate");
    }
}
