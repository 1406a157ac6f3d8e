//! A `.ptz` file: zlib or xz around a `torch.save` zip (`<root>/data.pkl` plus one entry per storage).

use std::collections::HashMap;
use std::io::{Cursor, Read};

use crate::pickle::{self, DType, TensorRef, Value};
use crate::ImportError;

/// The largest `torch.save` payload we unpack: well above any 16 MB entry's, well below what a page can hold.
const MAX_UNPACKED: u64 = 512 * 1024 * 1024;

/// A tensor's data, contiguous, little-endian.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl Tensor {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The unpickled object and the storages its tensors point into.
pub struct Container {
    pub root: Value,
    storages: HashMap<String, Vec<u8>>,
}

/// How the artifact's bytes were compressed.
pub fn unpack(ptz: &[u8]) -> Result<Vec<u8>, ImportError> {
    let mut out = Vec::new();
    if ptz.starts_with(b"\xfd7zXZ\x00") {
        lzma_rs::xz_decompress(&mut Cursor::new(ptz), &mut out)
            .map_err(|e| ImportError::Container(format!("its xz stream is damaged ({e})")))?;
    } else if ptz.first() == Some(&0x78) {
        flate2::read::ZlibDecoder::new(ptz)
            .take(MAX_UNPACKED + 1)
            .read_to_end(&mut out)
            .map_err(|e| ImportError::Container(format!("its zlib stream is damaged ({e})")))?;
    } else if ptz.starts_with(b"PK\x03\x04") {
        out = ptz.to_vec(); // a plain torch.save file
    } else {
        return Err(ImportError::Container(
            "it is neither zlib, xz nor a torch.save zip (a Parameter Golf artifact is torch.save compressed with zlib or lzma)"
                .into(),
        ));
    }
    if out.len() as u64 > MAX_UNPACKED {
        return Err(ImportError::Container(format!("it unpacks to more than {} MB", MAX_UNPACKED >> 20)));
    }
    Ok(out)
}

impl Container {
    pub fn read(ptz: &[u8]) -> Result<Container, ImportError> {
        let raw = unpack(ptz)?;
        let mut zip = zip::ZipArchive::new(Cursor::new(raw))
            .map_err(|e| ImportError::Container(format!("the torch.save zip cannot be read ({e})")))?;
        let names: Vec<String> = zip
            .file_names()
            .map(|n| n.map(|n| n.to_string()))
            .collect::<Result<_, _>>()
            .map_err(|e| ImportError::Container(format!("the torch.save zip cannot be read ({e})")))?;
        let pkl = names
            .iter()
            .find(|n| n.ends_with("/data.pkl") || n.as_str() == "data.pkl")
            .ok_or_else(|| ImportError::Container("the torch.save zip has no data.pkl".into()))?
            .clone();
        let root_dir = &pkl[..pkl.len() - "data.pkl".len()];
        let mut read = |name: &str| -> Result<Vec<u8>, ImportError> {
            let mut f =
                zip.by_name(name).map_err(|e| ImportError::Container(format!("{name} cannot be read ({e})")))?;
            let mut buf = Vec::with_capacity(f.size() as usize);
            f.read_to_end(&mut buf).map_err(|e| ImportError::Container(format!("{name} cannot be read ({e})")))?;
            Ok(buf)
        };
        let root = pickle::parse(&read(&pkl)?)?;
        let mut storages = HashMap::new();
        let prefix = format!("{root_dir}data/");
        for name in names.iter().filter(|n| n.starts_with(&prefix)) {
            storages.insert(name[prefix.len()..].to_string(), read(name)?);
        }
        Ok(Container { root, storages })
    }

    /// A tensor's bytes, in row-major order. A view that is not contiguous is refused rather than guessed at.
    pub fn tensor(&self, name: &str, t: &TensorRef) -> Result<Tensor, ImportError> {
        let numel: usize = t.shape.iter().product();
        let mut expect = 1usize;
        for (dim, stride) in t.shape.iter().zip(&t.stride).rev() {
            if *dim > 1 && *stride != expect {
                return Err(ImportError::Container(format!(
                    "{name} is a non-contiguous view (size {:?}, stride {:?})",
                    t.shape, t.stride
                )));
            }
            expect *= dim;
        }
        let storage = self
            .storages
            .get(&t.key)
            .ok_or_else(|| ImportError::Container(format!("{name}'s storage data/{} is missing", t.key)))?;
        let size = t.dtype.size();
        let start = t.offset * size;
        let end = start + numel * size;
        if end > storage.len() {
            return Err(ImportError::Container(format!(
                "{name} needs {end} bytes of storage data/{}, which holds {}",
                t.key,
                storage.len()
            )));
        }
        Ok(Tensor { dtype: t.dtype, shape: t.shape.clone(), data: storage[start..end].to_vec() })
    }
}
