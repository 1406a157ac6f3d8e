//! The golfer's ONNX graph for a baseline-architecture artifact: the weights stay as stored (int8 with fp16
//! scales, fp8 codes, fp16) and are dequantized in the graph exactly as PyTorch's loader does; a KV cache in and
//! out (autoregressive); the scoring outputs computed in the graph.
//!
//! Inputs: `input_ids`, `targets` int64 [1, T], and for an autoregressive graph `past_key_{i}`/`past_value_{i}`
//! float [1, kv_heads, P, head_dim]. Outputs: `logprob2` [1, T] (log2 p(target)), `rank` int64 [1, T] (1 = the most
//! likely token), `top_ids` int64 / `top_probs` [1, T, 10], `entropy` [1, T] (bits), `last_logits` [1, vocab],
//! `present_key_{i}`/`present_value_{i}`; a diffusion graph (bidirectional, no cache) adds `logits` [1, T, vocab].

use half::{bf16, f16};

use crate::artifact::{Artifact, Shapes, Stored};
use crate::container::Tensor;
use crate::onnx::{dtype, value_info, Attr, Dim, Graph};
use crate::pickle::DType;
use crate::ImportError;

pub const TOP_K: i64 = 10;

/// The MLP's nonlinearity, which the weights do not show.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// relu(x)², the baseline's.
    Relu2,
    /// leaky_relu(x, slope)².
    LeakyRelu2(f32),
}

impl Activation {
    pub fn name(self) -> String {
        match self {
            Activation::Relu2 => "relu2".into(),
            Activation::LeakyRelu2(s) => format!("leaky_relu2:{s}"),
        }
    }
}

/// What the weights do not say, with the baseline's values as defaults.
#[derive(Clone, Copy, Debug)]
pub struct Hyper {
    pub activation: Activation,
    pub rope_base: f32,
    pub logit_softcap: f32,
    /// Bidirectional attention, no cache, the head without the [MASK] row (the diffusion golfer).
    pub diffusion: bool,
}

/// float8_e4m3fn: sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, 0x7F/0xFF are NaN.
pub fn fp8_e4m3_value(code: u8) -> f32 {
    let sign = if code & 0x80 != 0 { -1.0 } else { 1.0 };
    let e = ((code >> 3) & 0x0F) as i32;
    let m = (code & 0x07) as f32;
    if e == 0x0F && code & 0x07 == 0x07 {
        // The NaN torch converts them to, bit for bit (its sign, the fp8 mantissa shifted into place).
        return f32::from_bits(0x7FF0_0000 | (u32::from(code >> 7) << 31));
    }
    let v = if e == 0 { m / 8.0 * 2f32.powi(-6) } else { (1.0 + m / 8.0) * 2f32.powi(e - 7) };
    sign * v
}

fn floats(t: &Tensor) -> Result<Vec<f32>, ImportError> {
    let c = t.bytes().chunks_exact(t.dtype.size());
    Ok(match t.dtype {
        DType::F32 => c.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        DType::F16 => c.map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        DType::BF16 => c.map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        DType::F64 => c.map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32).collect(),
        DType::F8E4M3 => t.bytes().iter().map(|&b| fp8_e4m3_value(b)).collect(),
        DType::I8 => t.bytes().iter().map(|&b| b as i8 as f32).collect(),
        other => return Err(ImportError::Format(format!("a {} tensor where a float one belongs", other.name()))),
    })
}

/// Rounds to `to` and back, as `.to(dtype)` then `.float()` does.
fn round_to(v: f32, to: DType) -> f32 {
    match to {
        DType::BF16 => bf16::from_f32(v).to_f32(),
        DType::F16 => f16::from_f32(v).to_f32(),
        _ => v,
    }
}

/// A weight's float32 values as PyTorch's loader yields them (for the small tensors baked into the graph).
fn values(w: &Stored) -> Result<Vec<f32>, ImportError> {
    Ok(match w {
        Stored::Fp8(t) => floats(t)?,
        Stored::Float { t, restore } => {
            let v = floats(t)?;
            match restore {
                Some(r) => v.into_iter().map(|x| round_to(x, *r)).collect(),
                None => v,
            }
        }
        Stored::Int8 { q, scale, restore } => {
            let s = floats(scale)?;
            let rows = q.shape.first().copied().unwrap_or(1).max(1);
            let per_row = (q.numel() / rows).max(1);
            let scale_of = |i: usize| if s.len() == 1 { s.first() } else { s.get(i / per_row) };
            floats(q)?
                .into_iter()
                .enumerate()
                .map(|(i, x)| {
                    let sc = scale_of(i)
                        .ok_or_else(|| ImportError::Format("an int8 tensor without a scale for each row".into()))?;
                    Ok(round_to(x * sc, *restore))
                })
                .collect::<Result<_, ImportError>>()?
        }
    })
}

fn onnx_type(d: DType) -> Result<i32, ImportError> {
    Ok(match d {
        DType::F32 => dtype::FLOAT,
        DType::F16 => dtype::FLOAT16,
        DType::BF16 => dtype::BFLOAT16,
        DType::I8 => dtype::INT8,
        DType::U8 | DType::F8E4M3 => dtype::UINT8,
        other => return Err(ImportError::Format(format!("a {} weight", other.name()))),
    })
}

struct Builder<'a> {
    g: Graph,
    a: &'a Artifact,
    fp8_table: Option<String>,
}

impl Builder<'_> {
    fn stored(&self, name: &str) -> Result<&Stored, ImportError> {
        self.a.weights.get(name).ok_or_else(|| self.missing(name))
    }

    fn missing(&self, name: &str) -> ImportError {
        ImportError::Architecture(format!("{name} is missing or empty"))
    }

    fn cast(&mut self, x: &str, to: i32) -> String {
        self.g.op("Cast", &[x], "", &[("to", Attr::Int(to as i64))])
    }

    /// Through `restore`'s precision and back, in the graph.
    fn restore(&mut self, w: String, restore: Option<DType>) -> String {
        match restore {
            Some(DType::BF16) => {
                let r = self.cast(&w, dtype::BFLOAT16);
                self.cast(&r, dtype::FLOAT)
            }
            Some(DType::F16) => {
                let r = self.cast(&w, dtype::FLOAT16);
                self.cast(&r, dtype::FLOAT)
            }
            _ => w,
        }
    }

    /// A float32 weight computed in the graph from what is stored (ONNX Runtime folds it at load).
    fn weight(&mut self, name: &str) -> Result<String, ImportError> {
        let w = self.stored(name)?.clone();
        Ok(match w {
            Stored::Fp8(t) => {
                let table = self.fp8_table.clone().unwrap_or_default();
                let codes = self.g.raw(&format!("{name}.fp8"), dtype::UINT8, &t.shape, t.bytes().to_vec());
                let idx = self.cast(&codes, dtype::INT32);
                self.g.op("Gather", &[&table, &idx], &format!("{name}.f32"), &[("axis", Attr::Int(0))])
            }
            Stored::Int8 { q, scale, restore } => {
                let qc = self.g.raw(&format!("{name}.q"), dtype::INT8, &q.shape, q.bytes().to_vec());
                let qf = self.cast(&qc, dtype::FLOAT);
                let w = if scale.shape.is_empty() {
                    let s = floats(&scale)?.first().copied().ok_or_else(|| self.missing(name))?;
                    let sc = self.g.f32(&format!("{name}.scale"), s);
                    self.g.op("Mul", &[&qf, &sc], &format!("{name}.dq"), &[])
                } else {
                    let rows = q.shape.first().copied().ok_or_else(|| self.missing(name))?;
                    let mut dims = vec![rows];
                    dims.extend(std::iter::repeat_n(1, q.shape.len().saturating_sub(1)));
                    let bytes = scale.bytes().to_vec();
                    let sc = self.g.raw(&format!("{name}.scale"), onnx_type(scale.dtype)?, &dims, bytes);
                    let sf = if scale.dtype == DType::F32 { sc } else { self.cast(&sc, dtype::FLOAT) };
                    self.g.op("Mul", &[&qf, &sf], &format!("{name}.dq"), &[])
                };
                self.restore(w, Some(restore))
            }
            Stored::Float { t, restore } => match t.dtype {
                DType::F32 => self.g.raw(name, dtype::FLOAT, &t.shape, t.bytes().to_vec()),
                DType::F16 | DType::BF16 => {
                    let c = self.g.raw(name, onnx_type(t.dtype)?, &t.shape, t.bytes().to_vec());
                    let w = self.cast(&c, dtype::FLOAT);
                    self.restore(w, restore)
                }
                // Kept as stored and widened in the graph: as float32 in the file it would be 4 times the bytes.
                DType::I8 => {
                    let c = self.g.raw(name, dtype::INT8, &t.shape, t.bytes().to_vec());
                    let w = self.cast(&c, dtype::FLOAT);
                    self.restore(w, restore)
                }
                _ => {
                    let v = values(&Stored::Float { t: t.clone(), restore })?;
                    self.g.f32s(name, &t.shape, &v)
                }
            },
        })
    }

    fn values(&self, name: &str) -> Result<Vec<f32>, ImportError> {
        values(self.stored(name)?)
    }

    fn linear(&mut self, x: &str, name: &str) -> Result<String, ImportError> {
        let w = self.weight(name)?;
        let wt = self.g.op("Transpose", &[&w], "", &[("perm", Attr::Ints(vec![1, 0]))]);
        let hint = name.split('.').rev().nth(1).unwrap_or("linear").to_string();
        Ok(self.g.op("MatMul", &[x, &wt], &hint, &[]))
    }
}

/// The graph's bytes. Takes the artifact to free its storages before the graph is serialized: the weights are
/// then in memory twice at most (storages and initializers, or initializers and the file), not three times.
pub fn build(a: Artifact, s: &Shapes, h: &Hyper) -> Result<Vec<u8>, ImportError> {
    let mut b = Builder { g: Graph::default(), a: &a, fp8_table: None };
    if a.weights.values().any(|w| matches!(w, Stored::Fp8(_))) {
        let table: Vec<f32> = (0..=255u8).map(fp8_e4m3_value).collect();
        b.fp8_table = Some(b.g.f32s("fp8_e4m3_table", &[256], &table));
    }
    let causal = !h.diffusion;
    let (l, d, nh, kvh, hd) = (s.layers, s.dim, s.heads, s.kv_heads, s.head_dim);
    let vocab = if h.diffusion { s.embed_rows.saturating_sub(1) } else { s.embed_rows };
    let groups = nh / kvh;
    let (d_i, nh_i, kvh_i, hd_i) = (d as i64, nh as i64, kvh as i64, hd as i64);

    let mut inputs = vec![
        value_info("input_ids", dtype::INT64, &[Dim::Fixed(1), Dim::Named("T")]),
        value_info("targets", dtype::INT64, &[Dim::Fixed(1), Dim::Named("T")]),
    ];
    let cache_dims = |len: &'static str| [Dim::Fixed(1), Dim::Fixed(kvh_i), Dim::Named(len), Dim::Fixed(hd_i)];
    if causal {
        for i in 0..l {
            for kind in ["key", "value"] {
                inputs.push(value_info(&format!("past_{kind}_{i}"), dtype::FLOAT, &cache_dims("P")));
            }
        }
    }
    let mut present = Vec::new();

    let eps = b.g.f32("eps", f32::EPSILON);
    let rms = |b: &mut Builder, x: &str| -> String {
        let sq = b.g.op("Mul", &[x, x], "", &[]);
        let axis = b.g.i64s("axis", &[-1]);
        let ms = b.g.op("ReduceMean", &[&sq, &axis], "", &[("keepdims", Attr::Int(1))]);
        let plus = b.g.op("Add", &[&ms, &eps], "", &[]);
        let root = b.g.op("Sqrt", &[&plus], "", &[]);
        b.g.op("Div", &[x, &root], "rms", &[])
    };

    // Positions P .. P+T-1 (0 .. T-1 without a cache) and their rotary angles.
    let zero = b.g.i64s("i", &[0]);
    let one = b.g.i64s("i", &[1]);
    let two = b.g.i64s("i", &[2]);
    let p0 = if causal {
        let three = b.g.i64s("i", &[3]);
        let shape = b.g.op("Shape", &["past_key_0"], "", &[]);
        let past_len = b.g.op("Slice", &[&shape, &two, &three], "P", &[]);
        b.g.op("Squeeze", &[&past_len, &zero], "", &[])
    } else {
        b.g.i64("zero", 0)
    };
    let ids_shape = b.g.op("Shape", &["input_ids"], "", &[]);
    let seq_len = b.g.op("Slice", &[&ids_shape, &one, &two], "T", &[]);
    let t0 = b.g.op("Squeeze", &[&seq_len, &zero], "", &[]);
    let end = b.g.op("Add", &[&p0, &t0], "", &[]);
    let step = b.g.i64("one", 1);
    let pos = b.g.op("Range", &[&p0, &end, &step], "pos", &[]);
    let posf = b.g.op("Cast", &[&pos], "", &[("to", Attr::Int(dtype::FLOAT as i64))]);
    let inv_freq: Vec<f32> = (0..hd).step_by(2).map(|i| 1.0 / h.rope_base.powf(i as f32 / hd as f32)).collect();
    let posu = b.g.op("Unsqueeze", &[&posf, &one], "", &[]);
    let inv = b.g.f32s("inv_freq", &[1, hd / 2], &inv_freq);
    let freqs = b.g.op("Mul", &[&posu, &inv], "", &[]);
    let rope_shape = b.g.i64s("shape", &[1, 1, -1, hd_i / 2]);
    let cos_f = b.g.op("Cos", &[&freqs], "", &[]);
    let cos = b.g.op("Reshape", &[&cos_f, &rope_shape], "cos", &[]);
    let sin_f = b.g.op("Sin", &[&freqs], "", &[]);
    let sin = b.g.op("Reshape", &[&sin_f, &rope_shape], "sin", &[]);
    let half_split = b.g.i64s("split", &[hd_i / 2, hd_i / 2]);

    let rope = |b: &mut Builder, x: &str| -> String {
        let ab = b.g.op_n("Split", &[x, &half_split], "", 2, &[("axis", Attr::Int(-1))]);
        let (a1, b1) = (&ab[0], &ab[1]);
        let ac = b.g.op("Mul", &[a1, &cos], "", &[]);
        let bs = b.g.op("Mul", &[b1, &sin], "", &[]);
        let first = b.g.op("Add", &[&ac, &bs], "", &[]);
        let bc = b.g.op("Mul", &[b1, &cos], "", &[]);
        let as_ = b.g.op("Mul", &[a1, &sin], "", &[]);
        let second = b.g.op("Sub", &[&bc, &as_], "", &[]);
        b.g.op("Concat", &[&first, &second], "rope", &[("axis", Attr::Int(-1))])
    };
    let heads = |b: &mut Builder, x: &str, n: i64| -> String {
        let shape = b.g.i64s("shape", &[1, -1, n, hd_i]);
        let r = b.g.op("Reshape", &[x, &shape], "", &[]);
        b.g.op("Transpose", &[&r], "", &[("perm", Attr::Ints(vec![0, 2, 1, 3]))])
    };
    let neg_inf = if causal { b.g.f32("neg_inf", f32::NEG_INFINITY) } else { String::new() };
    let scale = b.g.f32("attn_scale", (1.0 / (hd as f64).sqrt()) as f32);

    let mut attention = |b: &mut Builder, x: &str, i: usize| -> Result<String, ImportError> {
        let p = format!("blocks.{i}.attn.");
        let q_lin = b.linear(x, &format!("{p}c_q.weight"))?;
        let q_h = heads(b, &q_lin, nh_i);
        let q_n = rms(b, &q_h);
        let q_r = rope(b, &q_n);
        let k_lin = b.linear(x, &format!("{p}c_k.weight"))?;
        let k_h = heads(b, &k_lin, kvh_i);
        let k_n = rms(b, &k_h);
        let k = rope(b, &k_n);
        let v_lin = b.linear(x, &format!("{p}c_v.weight"))?;
        let v = heads(b, &v_lin, kvh_i);
        let gain = b.values(&format!("{p}q_gain"))?;
        let gain_c = b.g.f32s(&format!("{p}q_gain"), &[1, nh, 1, 1], &gain);
        let q = b.g.op("Mul", &[&q_r, &gain_c], "", &[]);
        let (mut k_all, mut v_all) = (k.clone(), v.clone());
        if causal {
            let (pk, pv) = (format!("past_key_{i}"), format!("past_value_{i}"));
            let (ok, ov) = (format!("present_key_{i}"), format!("present_value_{i}"));
            b.g.op_into("Concat", &[&pk, &k], &[&ok], &[("axis", Attr::Int(2))]);
            b.g.op_into("Concat", &[&pv, &v], &[&ov], &[("axis", Attr::Int(2))]);
            present.push(value_info(&ok, dtype::FLOAT, &cache_dims("S")));
            present.push(value_info(&ov, dtype::FLOAT, &cache_dims("S")));
            (k_all, v_all) = (ok, ov);
        }
        if groups > 1 {
            // Each KV head serves `groups` consecutive query heads.
            let ks = b.g.op("Shape", &[&k_all], "", &[]);
            let three = b.g.i64s("i", &[3]);
            let s_len = b.g.op("Slice", &[&ks, &two, &three], "", &[]);
            let lead = b.g.i64s("shape", &[1, kvh_i, groups as i64]);
            let tail = b.g.i64s("shape", &[hd_i]);
            let expand_to = b.g.op("Concat", &[&lead, &s_len, &tail], "", &[("axis", Attr::Int(0))]);
            let to_heads = b.g.i64s("shape", &[1, nh_i, -1, hd_i]);
            for t in [&mut k_all, &mut v_all] {
                let u = b.g.op("Unsqueeze", &[t.as_str(), &two], "", &[]);
                let e = b.g.op("Expand", &[&u, &expand_to], "", &[]);
                *t = b.g.op("Reshape", &[&e, &to_heads], "", &[]);
            }
        }
        let kt = b.g.op("Transpose", &[&k_all], "", &[("perm", Attr::Ints(vec![0, 1, 3, 2]))]);
        let qk = b.g.op("MatMul", &[&q, &kt], "", &[]);
        let mut scores = b.g.op("Mul", &[&qk, &scale], "", &[]);
        if causal {
            // Query at absolute position p sees keys 0..=p of the whole cache.
            let ks = b.g.op("Shape", &[&k_all], "", &[]);
            let three = b.g.i64s("i", &[3]);
            let total_1 = b.g.op("Slice", &[&ks, &two, &three], "", &[]);
            let total = b.g.op("Squeeze", &[&total_1, &zero], "", &[]);
            let z = b.g.i64("zero", 0);
            let o = b.g.i64("one", 1);
            let kpos = b.g.op("Range", &[&z, &total, &o], "", &[]);
            let kpos_u = b.g.op("Unsqueeze", &[&kpos, &zero], "", &[]);
            let pos_u = b.g.op("Unsqueeze", &[&pos, &one], "", &[]);
            let allowed = b.g.op("LessOrEqual", &[&kpos_u, &pos_u], "", &[]);
            scores = b.g.op("Where", &[&allowed, &scores, &neg_inf], "", &[]);
        }
        let probs = b.g.op("Softmax", &[&scores], "", &[("axis", Attr::Int(-1))]);
        let pv = b.g.op("MatMul", &[&probs, &v_all], "", &[]);
        let y = b.g.op("Transpose", &[&pv], "", &[("perm", Attr::Ints(vec![0, 2, 1, 3]))]);
        let flat = b.g.i64s("shape", &[1, -1, d_i]);
        let yr = b.g.op("Reshape", &[&y, &flat], "", &[]);
        b.linear(&yr, &format!("{p}proj.weight"))
    };

    let block = |b: &mut Builder,
                 attention: &mut dyn FnMut(&mut Builder, &str, usize) -> Result<String, ImportError>,
                 x: &str,
                 x0: &str,
                 i: usize|
     -> Result<String, ImportError> {
        let p = format!("blocks.{i}.");
        let mix = b.values(&format!("{p}resid_mix"))?;
        let (Some(mix0), Some(mix1)) = (mix.get(..d), mix.get(d..)) else {
            return Err(b.missing(&format!("{p}resid_mix")));
        };
        let m0 = b.g.f32s(&format!("{p}mix0"), &[d], mix0);
        let m1 = b.g.f32s(&format!("{p}mix1"), &[d], mix1);
        let xm = b.g.op("Mul", &[x, &m0], "", &[]);
        let x0m = b.g.op("Mul", &[x0, &m1], "", &[]);
        let x = b.g.op("Add", &[&xm, &x0m], "", &[]);
        let xn = rms(b, &x);
        let att = attention(b, &xn, i)?;
        let a_scale = b.weight(&format!("{p}attn_scale"))?;
        let att_s = b.g.op("Mul", &[&att, &a_scale], "", &[]);
        let x = b.g.op("Add", &[&x, &att_s], "", &[]);
        let xn = rms(b, &x);
        let fc = b.linear(&xn, &format!("{p}mlp.fc.weight"))?;
        let act = match h.activation {
            Activation::Relu2 => b.g.op("Relu", &[&fc], "", &[]),
            Activation::LeakyRelu2(slope) => b.g.op("LeakyRelu", &[&fc], "", &[("alpha", Attr::Float(slope))]),
        };
        let sq = b.g.op("Mul", &[&act, &act], "", &[]);
        let m = b.linear(&sq, &format!("{p}mlp.proj.weight"))?;
        let m_scale = b.weight(&format!("{p}mlp_scale"))?;
        let ms = b.g.op("Mul", &[&m, &m_scale], "", &[]);
        Ok(b.g.op("Add", &[&x, &ms], "x", &[]))
    };

    let emb = b.weight("tok_emb.weight")?;
    let gathered = b.g.op("Gather", &[&emb, "input_ids"], "", &[("axis", Attr::Int(0))]);
    let x0 = rms(&mut b, &gathered);
    let mut x = x0.clone();
    let n_enc = l / 2;
    let skip_w = if s.skips > 0 { b.values("skip_weights")? } else { Vec::new() };
    let mut skips = Vec::new();
    for i in 0..n_enc {
        x = block(&mut b, &mut attention, &x, &x0, i)?;
        skips.push(x.clone());
    }
    for j in 0..l - n_enc {
        if let Some(sk) = skips.pop() {
            let row = skip_w.chunks_exact(d.max(1)).nth(j).ok_or_else(|| b.missing("skip_weights"))?;
            let w = b.g.f32s(&format!("skip_weights.{j}"), &[d], row);
            let sw = b.g.op("Mul", &[&sk, &w], "", &[]);
            x = b.g.op("Add", &[&x, &sw], "", &[]);
        }
        x = block(&mut b, &mut attention, &x, &x0, n_enc + j)?;
    }
    let mut head = if s.untied_head { b.weight("lm_head.weight")? } else { emb };
    if h.diffusion && !s.untied_head {
        // The tied head predicts the vocabulary only, never [MASK].
        let v = b.g.i64s("i", &[vocab as i64]);
        head = b.g.op("Slice", &[&head, &zero, &v], "head", &[]);
    }
    let xn = rms(&mut b, &x);
    let ht = b.g.op("Transpose", &[&head], "", &[("perm", Attr::Ints(vec![1, 0]))]);
    let raw = b.g.op("MatMul", &[&xn, &ht], "raw_logits", &[]);
    let cap = b.g.f32("softcap", h.logit_softcap);
    let div = b.g.op("Div", &[&raw, &cap], "", &[]);
    let tanh = b.g.op("Tanh", &[&div], "", &[]);
    let logits = if causal {
        b.g.op("Mul", &[&tanh, &cap], "logits", &[])
    } else {
        b.g.op_into("Mul", &[&tanh, &cap], &["logits"], &[]);
        "logits".to_string()
    };
    let mut outputs = scoring_outputs(&mut b.g, &logits, vocab as i64);
    outputs.extend(present);
    if !causal {
        outputs.push(value_info("logits", dtype::FLOAT, &[Dim::Fixed(1), Dim::Named("T"), Dim::Fixed(vocab as i64)]));
    }
    let name = if causal { "ar_golfer" } else { "mdlm_golfer" };
    let Builder { g, .. } = b;
    drop(a);
    Ok(g.into_model(name, inputs, outputs))
}

/// What every autoregressive golfer's graph reports, from logits [1, T, vocab] and the `targets` input.
fn scoring_outputs(g: &mut Graph, logits: &str, vocab: i64) -> Vec<crate::onnx::ValueInfoProto> {
    let inv_ln2 = std::f64::consts::LN_2.recip();
    let two = g.i64s("i", &[2]);
    let logsm = g.op("LogSoftmax", &[logits], "", &[("axis", Attr::Int(-1))]);
    let tu = g.op("Unsqueeze", &["targets", &two], "", &[]);
    let picked = g.op("GatherElements", &[&logsm, &tu], "", &[("axis", Attr::Int(2))]);
    let sq = g.op("Squeeze", &[&picked, &two], "", &[]);
    let c = g.f32("inv_ln2", inv_ln2 as f32);
    g.op_into("Mul", &[&sq, &c], &["logprob2"], &[]);
    // Rank of the target: 1 + how many tokens the model put strictly above it.
    let gt = g.op("Greater", &[&logsm, &picked], "", &[]);
    let above = g.op("Cast", &[&gt], "", &[("to", Attr::Int(dtype::INT64 as i64))]);
    let axis = g.i64s("axis", &[-1]);
    let count = g.op("ReduceSum", &[&above, &axis], "", &[("keepdims", Attr::Int(0))]);
    let one = g.i64("one", 1);
    g.op_into("Add", &[&count, &one], &["rank"], &[]);
    let probs = g.op("Exp", &[&logsm], "", &[]);
    let k = g.i64s("k", &[TOP_K]);
    g.op_into("TopK", &[&probs, &k], &["top_probs", "top_ids"], &[("axis", Attr::Int(-1))]);
    let pl = g.op("Mul", &[&probs, &logsm], "", &[]);
    let axis = g.i64s("axis", &[-1]);
    let plogp = g.op("ReduceSum", &[&pl, &axis], "", &[("keepdims", Attr::Int(0))]);
    let c = g.f32("neg_inv_ln2", -inv_ln2 as f32);
    g.op_into("Mul", &[&plogp, &c], &["entropy"], &[]);
    let last = g.i64("last", -1);
    g.op_into("Gather", &[logits, &last], &["last_logits"], &[("axis", Attr::Int(1))]);
    let t = || [Dim::Fixed(1), Dim::Named("T")];
    let tk = || [Dim::Fixed(1), Dim::Named("T"), Dim::Fixed(TOP_K)];
    vec![
        value_info("logprob2", dtype::FLOAT, &t()),
        value_info("rank", dtype::INT64, &t()),
        value_info("top_ids", dtype::INT64, &tk()),
        value_info("top_probs", dtype::FLOAT, &tk()),
        value_info("entropy", dtype::FLOAT, &t()),
        value_info("last_logits", dtype::FLOAT, &[Dim::Fixed(1), Dim::Fixed(vocab)]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp8_codes_decode_as_torch_does() {
        assert_eq!(fp8_e4m3_value(0x00), 0.0);
        assert_eq!(fp8_e4m3_value(0x38), 1.0);
        assert_eq!(fp8_e4m3_value(0x7E), 448.0);
        assert_eq!(fp8_e4m3_value(0x01), 2f32.powi(-9));
        assert_eq!(fp8_e4m3_value(0xB8), -1.0);
        assert_eq!((fp8_e4m3_value(0x7F).to_bits(), fp8_e4m3_value(0xFF).to_bits()), (0x7FF0_0000, 0xFFF0_0000));
    }
}
