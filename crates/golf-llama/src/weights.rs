//! The weights, read from the initializers of the golfer's ONNX graph and repacked for the kernels.
//!
//! The converter names each initializer `<hint>_<counter>` (`attn_q+attn_k+attn_v.q4_80`) and writes them layer
//! by layer, so the n-th initializer with a hint belongs to layer n.

use std::collections::HashMap;

use golf_core::protobuf::{packed_varints, Fields, Value};

use crate::LlamaError;

/// ONNX `TensorProto.DataType` values we read.
const FLOAT: u64 = 1;
const UINT8: u64 = 2;
const FLOAT16: u64 = 10;

/// One initializer: its dims, element type and raw little-endian bytes (borrowed from the model).
pub(crate) struct Tensor<'a> {
    dims: Vec<usize>,
    kind: u64,
    raw: &'a [u8],
}

/// Every initializer of a model, by hint, in the order the graph holds them.
pub(crate) struct Initializers<'a> {
    by_hint: HashMap<&'a str, Vec<Tensor<'a>>>,
}

fn fields(buf: &[u8]) -> impl Iterator<Item = Result<(u32, Value<'_>), LlamaError>> {
    Fields::new(buf).map(|f| f.map_err(|()| LlamaError::Malformed("bad protobuf")))
}

impl<'a> Initializers<'a> {
    pub(crate) fn read(model: &'a [u8]) -> Result<Initializers<'a>, LlamaError> {
        let mut graph = None;
        for f in fields(model) {
            if let (7, Value::Bytes(b)) = f? {
                graph = Some(b);
            }
        }
        let graph = graph.ok_or(LlamaError::Malformed("no graph"))?;
        let mut by_hint: HashMap<&str, Vec<Tensor>> = HashMap::new();
        for f in fields(graph) {
            // Field 5 of GraphProto: an initializer.
            let (5, Value::Bytes(t)) = f? else { continue };
            let (mut dims, mut kind, mut name, mut raw) = (Vec::new(), 0, "", &[][..]);
            for g in fields(t) {
                match g? {
                    (1, Value::Varint(d)) => dims.push(d as usize),
                    (1, Value::Bytes(packed)) => dims.extend(
                        packed_varints(packed)
                            .map_err(|_| LlamaError::Malformed("bad dims"))?
                            .into_iter()
                            .map(|d| d as usize),
                    ),
                    (2, Value::Varint(k)) => kind = k,
                    (8, Value::Bytes(n)) => {
                        name = std::str::from_utf8(n).map_err(|_| LlamaError::Malformed("a name is not UTF-8"))?
                    }
                    (9, Value::Bytes(r)) => raw = r,
                    _ => {}
                }
            }
            let hint = name
                .rsplit_once('_')
                .map_or(name, |(h, n)| if n.bytes().all(|b| b.is_ascii_digit()) { h } else { name });
            by_hint.entry(hint).or_default().push(Tensor { dims, kind, raw });
        }
        Ok(Initializers { by_hint })
    }

    /// The initializers with `hint`, in order.
    pub(crate) fn all(&self, hint: &str) -> Result<&[Tensor<'a>], LlamaError> {
        self.by_hint.get(hint).map(Vec::as_slice).ok_or_else(|| LlamaError::Missing(hint.to_string()))
    }

    pub(crate) fn one(&self, hint: &str) -> Result<&Tensor<'a>, LlamaError> {
        Ok(&self.all(hint)?[0])
    }
}

impl Tensor<'_> {
    fn check(&self, name: &str, kind: u64, dims: &[Option<usize>]) -> Result<(), LlamaError> {
        let size = match kind {
            FLOAT => 4,
            FLOAT16 => 2,
            _ => 1,
        };
        let fits = self.kind == kind
            && self.dims.len() == dims.len()
            && self.dims.iter().zip(dims).all(|(&d, want)| want.is_none_or(|w| w == d))
            && self.raw.len() == self.dims.iter().product::<usize>() * size;
        if fits {
            return Ok(());
        }
        let want: Vec<String> = dims.iter().map(|d| d.map_or("?".into(), |d| d.to_string())).collect();
        Err(LlamaError::Shape {
            name: name.to_string(),
            got: self.dims.clone(),
            expected: format!("[{}] of ONNX type {kind}, stored as raw data", want.join(", ")),
        })
    }

    pub(crate) fn f32s(&self, name: &str, dims: &[Option<usize>]) -> Result<Vec<f32>, LlamaError> {
        self.check(name, FLOAT, dims)?;
        Ok(self.raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    /// Halves as their bits (kept so: half the bytes a decode step reads for them). Infinities and NaNs are
    /// refused, so that the kernels' conversion need not handle them.
    fn f16s(&self, name: &str, dims: &[Option<usize>]) -> Result<Vec<u16>, LlamaError> {
        self.check(name, FLOAT16, dims)?;
        let halves: Vec<u16> = self.raw.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
        if halves.iter().any(|h| h & 0x7c00 == 0x7c00) {
            return Err(LlamaError::Shape {
                name: name.into(),
                got: self.dims.clone(),
                expected: "finite scales".into(),
            });
        }
        Ok(halves)
    }

    pub(crate) fn dims(&self) -> &[usize] {
        &self.dims
    }
}

/// IEEE half to single precision (exact: every half is a float).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        // Subnormal: value man * 2^-24, exactly representable as a normal float.
        (0, m) => return f32::from_bits(sign) + (m as f32) * f32::powi(2.0, -24) * if sign != 0 { -1.0 } else { 1.0 },
        (31, 0) => sign | 0x7f80_0000,
        (31, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Rows are stored in groups of [`GROUP`], block by block: group g's block b holds the four rows' block b one
/// after another (`[group][block][row in group]`), so a kernel that computes four rows at a time reads memory
/// in one sequential stream (four rows side by side were four short streams, which the prefetcher followed
/// badly: half the bandwidth).
pub const GROUP: usize = 4;

/// Where row `r`'s block `b` is, in blocks, in the grouped layout.
pub(crate) fn grouped(r: usize, b: usize, blocks: usize) -> usize {
    ((r / GROUP) * blocks + b) * GROUP + r % GROUP
}

/// A Q4_1 matrix (`rows` outputs of `cols` inputs): per block of 32 inputs, `x = d*q + m` with q in 0..16.
/// `nibbles` holds 16 bytes per block, byte j = element j | element j+16 << 4 (GGUF's order: one mask gives
/// elements 0..16, one shift 16..32); blocks, `d` and `m` are in the [`grouped`] order.
pub struct Q4 {
    pub rows: usize,
    pub cols: usize,
    pub(crate) nibbles: Vec<u8>,
    /// fp16 bits.
    pub(crate) d: Vec<u16>,
    pub(crate) m: Vec<u16>,
}

impl Q4 {
    /// From the converter's `MatMulNBits` initializers: nibbles in ONNX Runtime's order (byte i = element 2i |
    /// element 2i+1 << 4), `d` and `m` as fp16 `[rows, cols/32]`.
    pub(crate) fn read(inits: &Initializers, hint: &str, layer: usize) -> Result<Q4, LlamaError> {
        let get = |suffix: &str| -> Result<&Tensor, LlamaError> {
            let name = format!("{hint}.{suffix}");
            inits.all(&name)?.get(layer).ok_or(LlamaError::Missing(format!("{name} of layer {layer}")))
        };
        let q4 = get("q4")?;
        let &[rows, blocks, 16] = q4.dims() else {
            return Err(LlamaError::Shape {
                name: format!("{hint}.q4"),
                got: q4.dims.clone(),
                expected: "[rows, blocks, 16]".into(),
            });
        };
        q4.check(&format!("{hint}.q4"), UINT8, &[Some(rows), Some(blocks), Some(16)])?;
        if !rows.is_multiple_of(GROUP) {
            return Err(LlamaError::Shape {
                name: format!("{hint}.q4"),
                got: q4.dims.clone(),
                expected: format!("rows in groups of {GROUP}"),
            });
        }
        let d = get("d")?.f16s(&format!("{hint}.d"), &[Some(rows), Some(blocks)])?;
        let m = get("m")?.f16s(&format!("{hint}.m"), &[Some(rows), Some(blocks)])?;
        let (mut nibbles, mut gd, mut gm) = (vec![0u8; q4.raw.len()], vec![0u16; d.len()], vec![0u16; m.len()]);
        for (at, src) in q4.raw.chunks_exact(16).enumerate() {
            let to = grouped(at / blocks, at % blocks, blocks);
            let elem = |e: usize| (src[e / 2] >> (4 * (e % 2))) & 15;
            for (j, out) in nibbles[to * 16..][..16].iter_mut().enumerate() {
                *out = elem(j) | elem(j + 16) << 4;
            }
            (gd[to], gm[to]) = (d[at], m[at]);
        }
        Ok(Q4 { rows, cols: blocks * 32, nibbles, d: gd, m: gm })
    }
}

/// A Q8_0 matrix (the tied embedding and LM head): per block of 32, `x = d*q` with q an i8; blocks and `d` in
/// the [`grouped`] order.
pub struct Q8 {
    pub rows: usize,
    pub cols: usize,
    pub(crate) q: Vec<i8>,
    /// fp16 bits.
    pub(crate) d: Vec<u16>,
}

impl Q8 {
    /// From the converter's `token_embd.q8` (q + 128 as uint8 `[V, blocks, 32]`) and `token_embd.d` (fp16
    /// `[V, blocks, 1]`).
    pub(crate) fn read(inits: &Initializers) -> Result<Q8, LlamaError> {
        let codes = inits.one("token_embd.q8")?;
        let &[rows, blocks, 32] = codes.dims() else {
            return Err(LlamaError::Shape {
                name: "token_embd.q8".into(),
                got: codes.dims.clone(),
                expected: "[vocab, blocks, 32]".into(),
            });
        };
        codes.check("token_embd.q8", UINT8, &[Some(rows), Some(blocks), Some(32)])?;
        if !rows.is_multiple_of(GROUP) {
            return Err(LlamaError::Shape {
                name: "token_embd.q8".into(),
                got: codes.dims.clone(),
                expected: format!("rows in groups of {GROUP}"),
            });
        }
        let d = inits.one("token_embd.d")?.f16s("token_embd.d", &[Some(rows), Some(blocks), Some(1)])?;
        let (mut q, mut gd) = (vec![0i8; codes.raw.len()], vec![0u16; d.len()]);
        for (at, src) in codes.raw.chunks_exact(32).enumerate() {
            let to = grouped(at / blocks, at % blocks, blocks);
            for (o, &u) in q[to * 32..][..32].iter_mut().zip(src) {
                *o = (u as i16 - 128) as i8;
            }
            gd[to] = d[at];
        }
        Ok(Q8 { rows, cols: blocks * 32, q, d: gd })
    }

    /// Row `r`, dequantized (the token's embedding): exactly the graph's `GatherBlockQuantized`.
    pub(crate) fn row(&self, r: usize, out: &mut [f32]) {
        let blocks = self.cols / 32;
        for (b, o) in out.chunks_exact_mut(32).enumerate() {
            let at = grouped(r, b, blocks);
            let d = f16_to_f32(self.d[at]);
            for (o, &q) in o.iter_mut().zip(&self.q[at * 32..][..32]) {
                *o = q as f32 * d;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), f32::powi(2.0, -24));
        assert_eq!(f16_to_f32(0x8001), -f32::powi(2.0, -24));
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    }
}
