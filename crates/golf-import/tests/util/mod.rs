//! Builds `.ptz` files for the tests, good and bad: a pickle writer for dictionaries of tensors, a zip writer that
//! can state sizes the bytes do not have, and the compressions an artifact may use.
#![allow(dead_code)]

use std::io::Write;

/// What a test pickles: the values a `torch.save` of a state dict holds.
#[derive(Clone, Debug)]
pub enum P {
    Str(String),
    Int(i64),
    Dict(Vec<(String, P)>),
    /// `_rebuild_tensor_v2` over storage `data/<key>` of `torch.<class>`.
    Tensor {
        class: &'static str,
        key: String,
        offset: i64,
        shape: Vec<i64>,
        stride: Vec<i64>,
    },
}

/// A contiguous float32 tensor over storage `key`.
pub fn f32_tensor(key: &str, shape: &[i64]) -> P {
    let mut stride = vec![1i64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        stride[i] = stride[i + 1].saturating_mul(shape[i + 1]);
    }
    P::Tensor { class: "FloatStorage", key: key.into(), offset: 0, shape: shape.to_vec(), stride }
}

fn str_op(out: &mut Vec<u8>, s: &str) {
    if s.len() < 256 {
        out.extend([0x8c, s.len() as u8]);
    } else {
        out.push(b'X');
        out.extend((s.len() as u32).to_le_bytes());
    }
    out.extend(s.as_bytes());
}

fn int_op(out: &mut Vec<u8>, i: i64) {
    out.extend([0x8a, 8]);
    out.extend(i.to_le_bytes());
}

fn ints_op(out: &mut Vec<u8>, v: &[i64]) {
    out.push(b'(');
    for &i in v {
        int_op(out, i);
    }
    out.push(b't');
}

fn emit(out: &mut Vec<u8>, p: &P) {
    match p {
        P::Str(s) => str_op(out, s),
        P::Int(i) => int_op(out, *i),
        P::Dict(items) => {
            out.extend(b"}(");
            for (k, v) in items {
                str_op(out, k);
                emit(out, v);
            }
            out.push(b'u');
        }
        P::Tensor { class, key, offset, shape, stride } => {
            out.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
            str_op(out, "storage");
            out.extend(format!("ctorch\n{class}\n").as_bytes());
            str_op(out, key);
            str_op(out, "cpu");
            int_op(out, shape.iter().try_fold(1i64, |n, &d| n.checked_mul(d)).unwrap_or(i64::MAX));
            out.extend(b"tQ");
            int_op(out, *offset);
            ints_op(out, shape);
            ints_op(out, stride);
            out.push(0x89);
            out.extend(b"ccollections\nOrderedDict\n)R");
            out.extend(b"tR");
        }
    }
}

/// `data.pkl` for `root`.
pub fn pickle(root: &P) -> Vec<u8> {
    let mut out = vec![0x80, 2];
    emit(&mut out, root);
    out.push(b'.');
    out
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// One zip entry: its name, its bytes, and the size its headers claim (its length where `None`).
pub struct Entry {
    pub name: String,
    pub data: Vec<u8>,
    pub claim: Option<u64>,
    /// Where the central directory says the entry's local header is (its own where `None`).
    pub points_at: Option<usize>,
    /// The CRC the headers state (its data's where `None`).
    pub crc: Option<u32>,
}

pub fn entry(name: &str, data: Vec<u8>) -> Entry {
    Entry { name: name.into(), data, claim: None, points_at: None, crc: None }
}

/// An entry's size as its headers state it: 32 bits, or 0xFFFFFFFF and a zip64 extra field with the real one.
fn sizes(e: &Entry) -> (u32, Vec<u8>) {
    let size = e.claim.unwrap_or(e.data.len() as u64);
    if size < 0xFFFF_FFFF {
        return (size as u32, Vec::new());
    }
    let mut extra = vec![0x01, 0x00, 16, 0];
    extra.extend(size.to_le_bytes());
    extra.extend(size.to_le_bytes());
    (0xFFFF_FFFF, extra)
}

/// A zip of stored entries, as torch.save writes it.
pub fn zip(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        let (size32, extra) = sizes(e);
        let crc = e.crc.unwrap_or_else(|| crc32(&e.data));
        offsets.push(out.len());
        out.extend(b"PK\x03\x04");
        out.extend([45, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method (stored), time, date
        out.extend(crc.to_le_bytes());
        out.extend(size32.to_le_bytes());
        out.extend(size32.to_le_bytes());
        out.extend((e.name.len() as u16).to_le_bytes());
        out.extend((extra.len() as u16).to_le_bytes());
        out.extend(e.name.as_bytes());
        out.extend(&extra);
        out.extend(&e.data);
    }
    for (i, e) in entries.iter().enumerate() {
        let (size32, extra) = sizes(e);
        central.extend(b"PK\x01\x02");
        central.extend([45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // made by, needed, flags, method, time, date
        central.extend(e.crc.unwrap_or_else(|| crc32(&e.data)).to_le_bytes());
        central.extend(size32.to_le_bytes());
        central.extend(size32.to_le_bytes());
        central.extend((e.name.len() as u16).to_le_bytes());
        central.extend((extra.len() as u16).to_le_bytes());
        central.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // comment length, disk, internal and external attributes
        central.extend((e.points_at.unwrap_or(offsets[i]) as u32).to_le_bytes());
        central.extend(e.name.as_bytes());
        central.extend(&extra);
    }
    let cd_start = out.len();
    out.extend(&central);
    out.extend(b"PK\x05\x06");
    out.extend([0, 0, 0, 0]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend((cd_start as u32).to_le_bytes());
    out.extend([0, 0]);
    out
}

/// A torch.save file: `data.pkl` and one stored entry per storage.
pub fn torch_save(pkl: Vec<u8>, storages: Vec<(String, Vec<u8>)>) -> Vec<u8> {
    let mut entries = vec![entry("archive/data.pkl", pkl)];
    entries.extend(storages.into_iter().map(|(k, d)| entry(&format!("archive/data/{k}"), d)));
    zip(&entries)
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(0)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// The dimensions of a small baseline-architecture model.
#[derive(Clone, Copy)]
pub struct Dims {
    pub vocab_rows: i64,
    pub layers: i64,
    pub dim: i64,
    pub heads: i64,
    pub kv_heads: i64,
    pub hidden: i64,
}

/// A model of the official tokenizer's 1024 pieces: width 4, 2 heads of 2, 1 KV head, MLP 8.
pub const SMALL: Dims = Dims { vocab_rows: 1024, layers: 2, dim: 4, heads: 2, kv_heads: 1, hidden: 8 };

/// Every weight's name and shape, in the baseline's architecture.
pub fn baseline_shapes(d: Dims) -> Vec<(String, Vec<i64>)> {
    let hd = d.dim / d.heads;
    let mut out = vec![("tok_emb.weight".to_string(), vec![d.vocab_rows, d.dim])];
    for i in 0..d.layers {
        let p = |k: &str| format!("blocks.{i}.{k}");
        out.extend([
            (p("attn.c_q.weight"), vec![d.dim, d.dim]),
            (p("attn.c_k.weight"), vec![d.kv_heads * hd, d.dim]),
            (p("attn.c_v.weight"), vec![d.kv_heads * hd, d.dim]),
            (p("attn.proj.weight"), vec![d.dim, d.dim]),
            (p("attn.q_gain"), vec![d.heads]),
            (p("attn_scale"), vec![d.dim]),
            (p("mlp_scale"), vec![d.dim]),
            (p("resid_mix"), vec![2, d.dim]),
            (p("mlp.fc.weight"), vec![d.hidden, d.dim]),
            (p("mlp.proj.weight"), vec![d.dim, d.hidden]),
        ]);
    }
    let skips = (d.layers / 2).min(d.layers - d.layers / 2);
    if skips > 0 {
        out.push(("skip_weights".into(), vec![skips, d.dim]));
    }
    out
}

/// A flat state dict of float32 tensors, each over its own storage of the size its shape needs (none for a shape
/// whose size does not fit in memory: the importer must refuse it before it looks).
pub fn flat_ptz(tensors: &[(String, Vec<i64>)]) -> Vec<u8> {
    flat_ptz_int8(tensors, &[])
}

/// [`flat_ptz`], with the tensors named in `int8` stored as int8.
pub fn flat_ptz_int8(tensors: &[(String, Vec<i64>)], int8: &[&str]) -> Vec<u8> {
    let mut items = Vec::new();
    let mut storages = Vec::new();
    for (i, (name, shape)) in tensors.iter().enumerate() {
        let key = i.to_string();
        let is_int8 = int8.contains(&name.as_str());
        let mut t = f32_tensor(&key, shape);
        if let (true, P::Tensor { class, .. }) = (is_int8, &mut t) {
            *class = "CharStorage";
        }
        items.push((name.clone(), t));
        let numel = shape.iter().try_fold(1i64, |n, &d| n.checked_mul(d)).unwrap_or(i64::MAX);
        let size = if is_int8 { 1 } else { 4 };
        let bytes = if (0..=1 << 24).contains(&numel) { numel as usize * size } else { size };
        // Small, non-zero values: a gain or a mix of 0 is as good as any for building the graph.
        storages.push((key, (0..bytes).map(|b| if b % 4 == 3 { 0x3c } else { 0 }).collect()));
    }
    torch_save(pickle(&P::Dict(items)), storages)
}

/// A model folder's options for a test artifact.
pub fn options() -> golf_import::Options {
    golf_import::Options {
        artifact_name: "final_model.int8.ptz".into(),
        rebuild: "golf import final_model.int8.ptz".into(),
        ..Default::default()
    }
}

/// The error `import` gives, as the user reads it.
pub fn refusal(ptz: &[u8], o: &golf_import::Options) -> String {
    match golf_import::import(ptz, o) {
        Ok(_) => panic!("imported"),
        Err(e) => e.to_string(),
    }
}
