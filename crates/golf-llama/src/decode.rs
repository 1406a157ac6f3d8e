//! One decode step of the llama architecture, the same computation as `scripts/smollm2/convert.py`'s graph:
//! RMSNorm, fused q/k/v, interleaved RoPE, grouped-query attention over the cache, SwiGLU, the tied Q8_0 head.

use crate::kernels::{block_sums, q4_rows, q8_rows};
#[cfg(not(target_arch = "wasm32"))]
use crate::parallel::Helpers;
#[cfg(not(target_arch = "wasm32"))]
use crate::weights::GROUP;
use crate::weights::{Initializers, Q4, Q8};
use crate::LlamaError;

/// What the graph does not say about itself (the manifest does).
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

struct Layer {
    attn_norm: Vec<f32>,
    qkv: Q4,
    out: Q4,
    ffn_norm: Vec<f32>,
    gate_up: Q4,
    down: Q4,
}

pub struct Llama {
    dim: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    ffn: usize,
    eps: f32,
    /// The attention's 1/sqrt(head_dim), as the graph holds it.
    scale: f32,
    inv_freq: Vec<f32>,
    layers: Vec<Layer>,
    embed: Q8,
    out_norm: Vec<f32>,
    #[cfg(not(target_arch = "wasm32"))]
    helpers: Option<Helpers>,
}

/// The keys and values of every position so far, per layer as `[position][kv head][head_dim]` (appending a
/// position is one copy).
pub struct Cache {
    len: usize,
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
}

impl Cache {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Llama {
    /// Reads the weights from the golfer's ONNX graph. `threads` (natively; 0 = one per core) split every matrix's
    /// rows; in the browser the step runs on the calling thread.
    pub fn from_onnx(model: &[u8], shape: Shape, threads: usize) -> Result<Llama, LlamaError> {
        #[cfg(target_arch = "wasm32")]
        let _ = threads;
        let inits = Initializers::read(model)?;
        let scalar = |hint: &str| -> Result<f32, LlamaError> { Ok(inits.one(hint)?.f32s(hint, &[])?[0]) };
        let norm = |name: String, dim: Option<usize>| -> Result<Vec<f32>, LlamaError> {
            inits.one(&name)?.f32s(&name, &[dim])
        };
        let first = norm("blk.0.attn_norm.weight".into(), None)?;
        let (dim, hd, kvh) = (first.len(), shape.head_dim, shape.kv_heads);
        if hd == 0 || dim % hd != 0 || kvh == 0 || (dim / hd) % kvh != 0 || dim % 32 != 0 {
            return Err(LlamaError::Shape {
                name: "blk.0.attn_norm.weight".into(),
                got: vec![dim],
                expected: format!("a width that {kvh} KV heads of {hd} fit"),
            });
        }
        let mut layers = Vec::with_capacity(shape.layers);
        for l in 0..shape.layers {
            let layer = Layer {
                attn_norm: norm(format!("blk.{l}.attn_norm.weight"), Some(dim))?,
                qkv: Q4::read(&inits, "attn_q+attn_k+attn_v", l)?,
                out: Q4::read(&inits, "attn_output", l)?,
                ffn_norm: norm(format!("blk.{l}.ffn_norm.weight"), Some(dim))?,
                gate_up: Q4::read(&inits, "ffn_gate+ffn_up", l)?,
                down: Q4::read(&inits, "ffn_down", l)?,
            };
            let ffn = layer.gate_up.rows / 2;
            let fits = [
                (&layer.qkv, dim + 2 * kvh * hd, dim, "attn_q+attn_k+attn_v"),
                (&layer.out, dim, dim, "attn_output"),
                (&layer.gate_up, 2 * ffn, dim, "ffn_gate+ffn_up"),
                (&layer.down, dim, ffn, "ffn_down"),
            ];
            for (w, rows, cols, name) in fits {
                if w.rows != rows || w.cols != cols {
                    return Err(LlamaError::Shape {
                        name: format!("{name} of layer {l}"),
                        got: vec![w.rows, w.cols],
                        expected: format!("[{rows}, {cols}]"),
                    });
                }
            }
            layers.push(layer);
        }
        let embed = Q8::read(&inits)?;
        let inv_freq = inits.one("inv_freq")?.f32s("inv_freq", &[Some(1), Some(hd / 2)])?;
        Ok(Llama {
            dim,
            heads: dim / hd,
            kv_heads: kvh,
            head_dim: hd,
            ffn: layers.first().map_or(0, |l| l.gate_up.rows / 2),
            eps: scalar("eps")?,
            scale: scalar("scale")?,
            inv_freq,
            out_norm: norm("output_norm.weight".into(), Some(dim))?,
            layers,
            embed,
            #[cfg(not(target_arch = "wasm32"))]
            helpers: helpers(threads),
        })
    }

    pub fn vocab(&self) -> usize {
        self.embed.rows
    }

    pub fn empty_cache(&self) -> Cache {
        let n = self.layers.len();
        Cache { len: 0, keys: vec![Vec::new(); n], values: vec![Vec::new(); n] }
    }

    /// A cache from ONNX Runtime's `present_key_i` / `present_value_i` outputs (`[1, kv_heads, positions,
    /// head_dim]` each, layer by layer), so that a prompt prefilled there decodes here.
    pub fn cache_from_present(&self, present: &[(Vec<f32>, Vec<f32>)]) -> Result<Cache, LlamaError> {
        let (kvh, hd) = (self.kv_heads, self.head_dim);
        let positions = present.first().map_or(0, |(k, _)| k.len() / (kvh * hd));
        let bad = |got| LlamaError::Cache { got, layers: self.layers.len(), positions };
        if present.len() != self.layers.len() {
            return Err(bad(present.len()));
        }
        let transpose = |t: &[f32]| -> Result<Vec<f32>, LlamaError> {
            if t.len() != positions * kvh * hd {
                return Err(bad(t.len()));
            }
            let mut out = Vec::with_capacity(t.len());
            for p in 0..positions {
                for h in 0..kvh {
                    out.extend_from_slice(&t[(h * positions + p) * hd..][..hd]);
                }
            }
            Ok(out)
        };
        let mut cache = self.empty_cache();
        for (l, (k, v)) in present.iter().enumerate() {
            cache.keys[l] = transpose(k)?;
            cache.values[l] = transpose(v)?;
        }
        cache.len = positions;
        Ok(cache)
    }

    /// Feeds `token` at the cache's next position; returns the next token's logits.
    pub fn step(&self, token: u32, cache: &mut Cache) -> Vec<f32> {
        let (dim, hd, kvh) = (self.dim, self.head_dim, self.kv_heads);
        let mut x = vec![0f32; dim];
        self.embed.row(token as usize, &mut x);
        let pos = cache.len;
        // The graph's angles: float32 position times float32 inverse frequency.
        let (cos, sin): (Vec<f32>, Vec<f32>) = self
            .inv_freq
            .iter()
            .map(|&f| ((pos as f32) * f).cos())
            .zip(self.inv_freq.iter().map(|&f| ((pos as f32) * f).sin()))
            .unzip();
        let mut qkv = vec![0f32; dim + 2 * kvh * hd];
        let mut att = vec![0f32; dim];
        let mut proj = vec![0f32; dim];
        let mut gate_up = vec![0f32; 2 * self.ffn];
        let mut scores = vec![0f32; pos + 1];
        for (l, layer) in self.layers.iter().enumerate() {
            let h = rms_norm(&x, &layer.attn_norm, self.eps);
            self.q4(&layer.qkv, &h, &mut qkv);
            let (q, kv) = qkv.split_at_mut(dim);
            let (k, v) = kv.split_at_mut(kvh * hd);
            for head in q.chunks_exact_mut(hd).chain(k.chunks_exact_mut(hd)) {
                rope(head, &cos, &sin);
            }
            cache.keys[l].extend_from_slice(k);
            cache.values[l].extend_from_slice(v);
            let (keys, values) = (&cache.keys[l], &cache.values[l]);
            let group = self.heads / kvh;
            for (hq, (q, out)) in q.chunks_exact(hd).zip(att.chunks_exact_mut(hd)).enumerate() {
                let g = hq / group;
                for (p, s) in scores.iter_mut().enumerate() {
                    let k = &keys[(p * kvh + g) * hd..][..hd];
                    *s = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * self.scale;
                }
                softmax(&mut scores);
                out.fill(0.0);
                for (p, &w) in scores.iter().enumerate() {
                    for (o, &v) in out.iter_mut().zip(&values[(p * kvh + g) * hd..][..hd]) {
                        *o += w * v;
                    }
                }
            }
            self.q4(&layer.out, &att, &mut proj);
            x.iter_mut().zip(&proj).for_each(|(x, p)| *x += p);
            let h = rms_norm(&x, &layer.ffn_norm, self.eps);
            self.q4(&layer.gate_up, &h, &mut gate_up);
            let (gate, up) = gate_up.split_at_mut(self.ffn);
            for (g, u) in gate.iter_mut().zip(up.iter()) {
                *g = *g * (1.0 / (1.0 + (-*g).exp())) * u;
            }
            self.q4(&layer.down, gate, &mut proj);
            x.iter_mut().zip(&proj).for_each(|(x, p)| *x += p);
        }
        cache.len += 1;
        let h = rms_norm(&x, &self.out_norm, self.eps);
        let mut logits = vec![0f32; self.embed.rows];
        self.rows(&mut logits, |first, y| q8_rows(&self.embed, first, &h, y));
        logits
    }

    fn q4(&self, w: &Q4, x: &[f32], y: &mut [f32]) {
        let xs = block_sums(x);
        self.rows(y, |first, y| q4_rows(w, first, x, &xs, y));
    }

    /// Runs `f(first row, rows)` over `y`, split in one part per thread (multiples of four rows: the kernels'
    /// blocking).
    fn rows(&self, y: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(helpers) = &self.helpers {
            let (len, chunk) = (y.len(), y.len().div_ceil(helpers.threads()).next_multiple_of(GROUP));
            let out = Shared(y.as_mut_ptr());
            return helpers.run(&|t| {
                let first = (t * chunk).min(len);
                let n = chunk.min(len - first);
                // SAFETY: thread t writes rows [t*chunk, t*chunk + n) only, disjoint from every other thread's,
                // and `run` returns (ending the borrow) only when all are done.
                let part = unsafe { std::slice::from_raw_parts_mut(out.at(first), n) };
                f(first, part)
            });
        }
        f(0, y)
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn helpers(threads: usize) -> Option<Helpers> {
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
    (threads > 1).then(|| Helpers::new(threads))
}

/// The output rows' pointer, shared by the threads that each write their own part of them.
#[cfg(not(target_arch = "wasm32"))]
struct Shared(*mut f32);

// SAFETY: only used to hand disjoint parts of one slice to threads (see `Llama::rows`).
#[cfg(not(target_arch = "wasm32"))]
unsafe impl Sync for Shared {}

#[cfg(not(target_arch = "wasm32"))]
impl Shared {
    fn at(&self, i: usize) -> *mut f32 {
        // SAFETY: `i <= len` of the slice the pointer came from.
        unsafe { self.0.add(i) }
    }
}

/// The graph's RMSNorm: x / sqrt(mean(x^2) + eps) * w.
fn rms_norm(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let r = (ms + eps).sqrt();
    x.iter().zip(w).map(|(x, w)| x / r * w).collect()
}

/// Interleaved rotary embedding: pairs (2i, 2i+1) rotate by angle i (llama.cpp's permuted q/k layout).
fn rope(head: &mut [f32], cos: &[f32], sin: &[f32]) {
    for ((pair, &c), &s) in head.chunks_exact_mut(2).zip(cos).zip(sin) {
        let (a, b) = (pair[0], pair[1]);
        pair[0] = a * c - b * s;
        pair[1] = b * c + a * s;
    }
}

fn softmax(s: &mut [f32]) {
    let max = s.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let mut z = 0f32;
    for v in s.iter_mut() {
        *v = (*v - max).exp();
        z += *v;
    }
    s.iter_mut().for_each(|v| *v /= z);
}
