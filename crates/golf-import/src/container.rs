//! A `.ptz` file: zlib or xz around a `torch.save` zip (`<root>/data.pkl` plus one entry per storage).
//!
//! Everything here reads a stranger's file: every size it states is bounded by the bytes that are really there,
//! decompression stops at [`MAX_UNPACKED`], each storage is read once and shared by the tensors that view it, and
//! the tensors together may not claim more bytes than the storages hold.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::sync::Arc;

use crate::pickle::{self, quoted, DType, TensorRef, Value};
use crate::ImportError;

/// The most a `.ptz` may decompress to, whatever its compression: a Parameter Golf entry is at most 16 MB
/// compressed and real ones unpack to about 3 times that; far more is a decompression bomb, not a model.
pub const MAX_UNPACKED: usize = 256 << 20;

/// Parameter Golf's limit on a whole entry (code and compressed model), for messages.
const ENTRY_MB: usize = 16;

/// A tensor's data, contiguous, little-endian: a view into its storage, which other tensors may share.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    numel: usize,
    storage: Arc<Vec<u8>>,
    start: usize,
    len: usize,
}

impl Tensor {
    /// The number of elements (checked against the storage when the tensor was read, so it cannot overflow).
    pub fn numel(&self) -> usize {
        self.numel
    }

    /// The tensor's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.storage.get(self.start..self.start + self.len).unwrap_or_default()
    }
}

/// The unpickled object and the storages its tensors point into.
pub struct Container {
    pub root: Value,
    storages: HashMap<String, Arc<Vec<u8>>>,
    /// The storages' bytes, all together: what the tensors together may view.
    storage_bytes: usize,
    /// Bytes viewed by the tensors read so far.
    viewed: Cell<usize>,
}

fn too_big(limit: usize) -> ImportError {
    ImportError::Container(format!(
        "it decompresses to more than {} MB; an entry is at most {ENTRY_MB} MB compressed",
        limit >> 20
    ))
}

/// Reads all of `r`, refusing past `limit` bytes, without ever holding more than `limit` bytes (a reserve that
/// fails is refused as well: on the page's 32-bit memory it can).
fn read_capped(mut r: impl Read, limit: usize, what: &str) -> Result<Vec<u8>, ImportError> {
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => {
                return Err(ImportError::Container(format!(
                    "its {what} stream asks for a dictionary of more than {} MB",
                    limit >> 20
                )))
            }
            Err(e) => return Err(ImportError::Container(format!("its {what} stream is damaged ({e})"))),
        };
        let got = chunk.get(..n).unwrap_or_default();
        if got.len() > limit - out.len() {
            return Err(too_big(limit));
        }
        if out.capacity() - out.len() < got.len() {
            let want = out.capacity().saturating_mul(2).clamp(out.len() + got.len(), limit);
            out.try_reserve_exact(want - out.len()).map_err(|_| {
                ImportError::Container(format!("there is not enough memory to unpack it ({} MB)", want >> 20))
            })?;
        }
        out.extend_from_slice(got);
    }
}

/// The `torch.save` zip inside the artifact's compression.
pub fn unpack(ptz: &[u8]) -> Result<Cow<'_, [u8]>, ImportError> {
    unpack_limited(ptz, MAX_UNPACKED)
}

fn unpack_limited(ptz: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, ImportError> {
    if ptz.starts_with(b"\xfd7zXZ\x00") {
        // A dictionary larger than what may be unpacked is never needed: a header that asks for one is refused
        // (the 256 KiB are the decoder's own buffers).
        let dict_kb = u32::try_from(limit >> 10).unwrap_or(u32::MAX).saturating_add(256);
        let xz = lzma_rust2::XzReader::new_mem_limit(ptz, false, dict_kb);
        Ok(Cow::Owned(read_capped(xz, limit, "xz")?))
    } else if ptz.first() == Some(&0x78) {
        Ok(Cow::Owned(read_capped(flate2::read::ZlibDecoder::new(ptz), limit, "zlib")?))
    } else if ptz.starts_with(b"PK\x03\x04") {
        // A plain torch.save file.
        if ptz.len() > limit {
            return Err(too_big(limit));
        }
        Ok(Cow::Borrowed(ptz))
    } else {
        Err(ImportError::Container(
            "it is neither zlib, xz nor a torch.save zip (a Parameter Golf artifact is torch.save compressed with zlib or lzma)"
                .into(),
        ))
    }
}

/// Reads the zip's entries, each at most the bytes the archive holds after its start, and all of them together
/// at most the archive's size (entries that overlap would otherwise read the same bytes over and over).
struct Entries<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    archive_len: usize,
    read: usize,
}

impl Entries<'_> {
    fn read(&mut self, entry: &str) -> Result<Vec<u8>, ImportError> {
        let name = quoted(entry);
        let cannot = |e: &dyn std::fmt::Display| ImportError::Container(format!("{name} cannot be read ({e})"));
        let mut f = self.zip.by_name(entry).map_err(|e| cannot(&e))?;
        if f.compression() != zip::CompressionMethod::Stored {
            return Err(ImportError::Container(format!(
                "{name} is compressed inside the zip ({}); torch.save stores its entries as they are",
                f.compression()
            )));
        }
        let start = f.data_start().and_then(|s| usize::try_from(s).ok()).unwrap_or(self.archive_len);
        let available = self.archive_len.saturating_sub(start);
        let size = usize::try_from(f.size()).unwrap_or(usize::MAX);
        if size > available {
            return Err(ImportError::Container(format!(
                "{name} claims {} bytes, but the archive holds only {available} after its start",
                f.size()
            )));
        }
        if size > self.archive_len - self.read.min(self.archive_len) {
            return Err(ImportError::Container(format!(
                "its entries claim more bytes than the {}-byte archive holds ({name} overlaps another)",
                self.archive_len
            )));
        }
        self.read += size;
        let mut buf = Vec::new();
        buf.try_reserve_exact(size).map_err(|_| {
            ImportError::Container(format!("there is not enough memory to read {name} ({} MB)", size >> 20))
        })?;
        (&mut f).take(size as u64).read_to_end(&mut buf).map_err(|e| cannot(&e))?;
        if buf.len() != size {
            return Err(ImportError::Container(format!("{name} ends after {} of its {size} bytes", buf.len())));
        }
        // Reading past the stated size checks the entry's CRC, which the zip reader does at its end.
        let mut rest = [0u8; 1];
        if f.read(&mut rest).map_err(|e| cannot(&e))? != 0 {
            return Err(ImportError::Container(format!("{name} holds more than the {size} bytes it claims")));
        }
        Ok(buf)
    }
}

impl Container {
    pub fn read(ptz: &[u8]) -> Result<Container, ImportError> {
        let raw = unpack(ptz)?;
        let zip = zip::ZipArchive::new(Cursor::new(&raw[..]))
            .map_err(|e| ImportError::Container(format!("the torch.save zip cannot be read ({e})")))?;
        let names: Vec<String> = zip
            .file_names()
            .map(|n| n.map(|n| n.to_string()))
            .collect::<Result<_, _>>()
            .map_err(|e| ImportError::Container(format!("the torch.save zip cannot be read ({e})")))?;
        let mut entries = Entries { zip, archive_len: raw.len(), read: 0 };
        let pkl = names
            .iter()
            .find(|n| n.ends_with("/data.pkl") || n.as_str() == "data.pkl")
            .ok_or_else(|| ImportError::Container("the torch.save zip has no data.pkl".into()))?;
        let root_dir = pkl.strip_suffix("data.pkl").unwrap_or_default();
        let root = pickle::parse(&entries.read(pkl)?)?;
        let mut storages = HashMap::new();
        let mut storage_bytes = 0usize;
        let prefix = format!("{root_dir}data/");
        for name in &names {
            let Some(key) = name.strip_prefix(&prefix) else { continue };
            if storages.contains_key(key) {
                return Err(ImportError::Container(format!("the torch.save zip has {} twice", quoted(name))));
            }
            let data = entries.read(name)?;
            storage_bytes += data.len();
            storages.insert(key.to_string(), Arc::new(data));
        }
        Ok(Container { root, storages, storage_bytes, viewed: Cell::new(0) })
    }

    /// A tensor's bytes, in row-major order. A view that is not contiguous is refused rather than guessed at.
    pub fn tensor(&self, name: &str, t: &TensorRef) -> Result<Tensor, ImportError> {
        let shape = &t.shape;
        if shape.len() != t.stride.len() {
            return Err(ImportError::Container(format!(
                "{name} has {} sizes but {} strides",
                shape.len(),
                t.stride.len()
            )));
        }
        let too_large = || ImportError::Container(format!("{name}'s size {shape:?} is too large"));
        let numel = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(too_large)?;
        let mut expect = 1usize;
        for (dim, stride) in shape.iter().zip(&t.stride).rev() {
            if *dim > 1 && *stride != expect {
                return Err(ImportError::Container(format!(
                    "{name} is a non-contiguous view (size {shape:?}, stride {:?})",
                    t.stride
                )));
            }
            // At most numel (or 0 after a zero dimension): cannot overflow.
            expect = expect.saturating_mul(*dim);
        }
        let storage = self
            .storages
            .get(&t.key)
            .ok_or_else(|| ImportError::Container(format!("{name}'s storage data/{} is missing", quoted(&t.key))))?;
        let size = t.dtype.size();
        let len = numel.checked_mul(size).ok_or_else(too_large)?;
        let end = t.offset.checked_mul(size).and_then(|start| start.checked_add(len));
        let Some(end) = end.filter(|&e| e <= storage.len()) else {
            return Err(ImportError::Container(format!(
                "{name} ({} {shape:?} at element {}) needs more than the {} bytes of storage data/{}",
                t.dtype.name(),
                t.offset,
                storage.len(),
                quoted(&t.key)
            )));
        };
        let viewed = self.viewed.get().saturating_add(len);
        if viewed > self.storage_bytes {
            return Err(ImportError::Container(format!(
                "{name}: the tensors claim more bytes than the {} bytes of storage in the file (tensors that share their bytes are not a state dict this importer reads)",
                self.storage_bytes
            )));
        }
        self.viewed.set(viewed);
        Ok(Tensor { dtype: t.dtype, shape: shape.clone(), numel, storage: Arc::clone(storage), start: end - len, len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn xz_preset(data: &[u8], preset: u32) -> Vec<u8> {
        let mut w = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(preset)).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        xz_preset(data, 1)
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn every_decompressor_stops_at_the_same_cap() {
        const LIMIT: usize = 1 << 20;
        let within = vec![0u8; LIMIT];
        let beyond = vec![0u8; LIMIT + 1];
        for (what, pack) in [("xz", xz as fn(&[u8]) -> Vec<u8>), ("zlib", zlib)] {
            assert_eq!(unpack_limited(&pack(&within), LIMIT).unwrap().len(), LIMIT, "{what}");
            let e = unpack_limited(&pack(&beyond), LIMIT).unwrap_err().to_string();
            assert!(e.contains("decompresses to more than 1 MB; an entry is at most 16 MB compressed"), "{what}: {e}");
        }
        let mut plain = b"PK\x03\x04".to_vec();
        plain.resize(LIMIT + 1, 0);
        assert!(unpack_limited(&plain, LIMIT).unwrap_err().to_string().contains("more than 1 MB"));
    }

    #[test]
    fn the_cap_is_stated_in_the_error() {
        let e = too_big(MAX_UNPACKED).to_string();
        assert!(e.contains("decompresses to more than 256 MB; an entry is at most 16 MB compressed"), "{e}");
    }

    #[test]
    fn an_xz_dictionary_beyond_the_cap_is_refused() {
        // preset 3's dictionary is 4 MiB: over a cap of 1 MiB.
        let e = unpack_limited(&xz_preset(b"hello", 3), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("its xz stream asks for a dictionary of more than 1 MB"), "{e}");
    }

    #[test]
    fn a_damaged_xz_stream_is_refused() {
        let mut bad = xz(&[7u8; 1000]);
        let n = bad.len();
        bad[n / 2] ^= 0xFF;
        let e = unpack(&bad).unwrap_err().to_string();
        assert!(e.contains("its xz stream is damaged"), "{e}");
    }
}
