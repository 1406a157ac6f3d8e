//! Reading a model folder from disk (native). The folder may come from a stranger (`golf score --model DIR`): a
//! file is read only when it is inside the folder (a symbolic link out of it is refused too), is a regular file
//! and is no larger than the manifest says, and its sha256 is checked before use.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::manifest::{limits, Manifest};
use crate::{ArGolfer, OnnxError};

/// How big a file may be: what the manifest says, or (where it says nothing) a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Exactly(u64),
    AtMost(u64),
}

impl Size {
    fn max(self) -> u64 {
        match self {
            Size::Exactly(n) | Size::AtMost(n) => n,
        }
    }
}

/// Reads `path` whole after checking that it is a regular file of at most `size` bytes (so a small manifest
/// cannot make us read a huge or endless file); `name` is in the error.
fn read_sized(path: &Path, name: &str, size: Size) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it ({e})"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read it ({e})"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    let len = meta.len();
    let max = size.max();
    match size {
        Size::Exactly(n) if len != n => return Err(format!("it is {len} bytes, the manifest says {n}")),
        Size::AtMost(n) if len > n => return Err(format!("it is {len} bytes; the limit is {n}")),
        _ => {}
    }
    // `len <= max`, and every limit fits in memory on a 64-bit machine; `take` stops a file that grows meanwhile.
    let mut data = Vec::with_capacity(usize::try_from(len).map_err(|_| format!("{name} is too big"))?);
    file.take(max.saturating_add(1)).read_to_end(&mut data).map_err(|e| format!("cannot read it ({e})"))?;
    if data.len() as u64 > max {
        return Err(format!("it grew past {max} bytes while being read"));
    }
    Ok(data)
}

/// `rel` inside `dir` (the manifest's parse has refused absolute paths and `..`), after following links: a
/// path that resolves outside the folder is refused.
fn inside(dir: &Path, rel: &str) -> Result<PathBuf, String> {
    let root = dir.canonicalize().map_err(|e| format!("cannot read the folder {} ({e})", dir.display()))?;
    let path = root.join(rel).canonicalize().map_err(|e| format!("cannot read it ({e})"))?;
    if !path.starts_with(&root) {
        return Err(format!("it leads outside the model folder (to {})", path.display()));
    }
    Ok(path)
}

/// The model folder's file `rel`, checked against its size and sha256; errors name it and how to rebuild it.
pub fn read_entry(dir: &Path, rel: &str, sha256: &str, size: Size, rebuild: &str) -> Result<Vec<u8>, OnnxError> {
    let name = dir.join(rel).display().to_string();
    let bad = |why: String| OnnxError::BadFile { file: name.clone(), why, rebuild: rebuild.to_string() };
    let path = inside(dir, rel).map_err(bad)?;
    let data = read_sized(&path, &name, size).map_err(bad)?;
    let exact = match size {
        Size::Exactly(n) => Some(n),
        Size::AtMost(_) => None,
    };
    crate::verify(&name, &data, sha256, exact, rebuild)?;
    Ok(data)
}

/// A model folder's manifest, ONNX bytes and tokenizer bytes, all checked. A folder is complete on its own: the
/// tokenizer is the file the manifest names, inside it.
pub fn read_folder(dir: &Path) -> Result<(Manifest, Vec<u8>, Vec<u8>), OnnxError> {
    let manifest_path = dir.join("golfer.json");
    let name = manifest_path.display().to_string();
    let json = inside(dir, "golfer.json")
        .and_then(|path| read_sized(&path, &name, Size::AtMost(limits::MANIFEST_BYTES)))
        .map_err(|why| OnnxError::Manifest(format!("{name}: {why}")))?;
    let manifest = Manifest::from_bytes(&json, &name)?;
    let onnx = read_entry(
        dir,
        &manifest.onnx.path,
        &manifest.onnx.sha256,
        Size::Exactly(manifest.onnx.bytes),
        &manifest.rebuild,
    )?;
    let tokenizer = read_entry(
        dir,
        &manifest.tokenizer.file,
        &manifest.tokenizer.sha256,
        Size::AtMost(limits::TOKENIZER_BYTES),
        manifest.tokenizer_rebuild(),
    )?;
    Ok((manifest, onnx, tokenizer))
}

/// Loads an autoregressive golfer (AR, SmolLM2) from its folder.
pub async fn load_ar(dir: &Path) -> Result<ArGolfer, OnnxError> {
    let (manifest, onnx, tokenizer) = read_folder(dir)?;
    ArGolfer::load(manifest, &onnx, &tokenizer).await
}

/// Loads the diffusion golfer from its folder.
pub async fn load_mdlm(dir: &Path) -> Result<crate::MdlmGolfer, OnnxError> {
    let (manifest, onnx, tokenizer) = read_folder(dir)?;
    crate::MdlmGolfer::load(manifest, &onnx, &tokenizer).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A model folder made here, removed when dropped: a manifest (the committed AR one, pointing at small
    /// stand-in files) and its files. Reading a folder does not look inside the graph, so any bytes stand in.
    struct Folder(PathBuf);

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const ONNX: &[u8] = b"stands in for a graph";
    const TOKENIZER: &[u8] = b"stands in for a tokenizer";

    fn sha(data: &[u8]) -> String {
        use sha2::Digest;
        crate::hex(&sha2::Sha256::digest(data))
    }

    fn folder(test: &str, change: impl FnOnce(&mut serde_json::Value)) -> Folder {
        let dir = std::env::temp_dir().join(format!("golf-files-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/ar/golfer.json");
        let mut m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("models/ar/golfer.json")).expect("JSON");
        m["onnx"] = json!({ "path": "model.onnx", "sha256": sha(ONNX), "bytes": ONNX.len() });
        m["tokenizer"]["file"] = json!("tok.model");
        m["tokenizer"]["sha256"] = json!(sha(TOKENIZER));
        change(&mut m);
        std::fs::write(dir.join("golfer.json"), m.to_string()).expect("write golfer.json");
        std::fs::write(dir.join("model.onnx"), ONNX).expect("write model.onnx");
        std::fs::write(dir.join("tok.model"), TOKENIZER).expect("write tok.model");
        Folder(dir)
    }

    fn error(f: &Folder) -> String {
        read_folder(&f.0).expect_err("refused").to_string()
    }

    #[test]
    fn a_folder_reads_its_own_files() {
        let f = folder("good", |_| {});
        let (m, onnx, tok) = read_folder(&f.0).expect("the folder reads");
        assert_eq!((m.id.as_str(), onnx.as_slice(), tok.as_slice()), ("ar", ONNX, TOKENIZER));
    }

    #[test]
    fn a_path_out_of_the_folder_is_refused_unread() {
        let passwd = std::fs::read("/etc/passwd").ok();
        let f = folder("absolute", |m| m["onnx"]["path"] = json!("/etc/passwd"));
        let e = error(&f);
        assert!(e.contains("\"onnx.path\" is \"/etc/passwd\": it is an absolute path"), "{e}");
        // Its digest (which a mismatch would print) is not in the message: the file was never read.
        if let Some(data) = passwd {
            assert!(!e.contains(&sha(&data)), "{e}");
        }
        let f = folder("dotdot", |m| m["tokenizer"]["file"] = json!("../../etc/passwd"));
        assert!(error(&f).contains("\"tokenizer.file\" is \"../../etc/passwd\""));
    }

    #[test]
    fn a_symbolic_link_out_of_the_folder_is_refused() {
        let f = folder("link", |_| {});
        let outside = folder("link-target", |_| {});
        std::fs::remove_file(f.0.join("model.onnx")).expect("remove");
        std::os::unix::fs::symlink(outside.0.join("model.onnx"), f.0.join("model.onnx")).expect("a link");
        let e = error(&f);
        assert!(e.contains("model.onnx") && e.contains("leads outside the model folder"), "{e}");
        // A link that stays inside is an ordinary file of the folder.
        std::fs::remove_file(f.0.join("model.onnx")).expect("remove");
        std::fs::write(f.0.join("real.onnx"), ONNX).expect("write");
        std::os::unix::fs::symlink("real.onnx", f.0.join("model.onnx")).expect("a link");
        read_folder(&f.0).expect("a link inside the folder");
    }

    /// A sparse file of `len` bytes: costs nothing on disk; reading 1 TiB whole is what must not be tried.
    fn sparse(path: &Path, len: u64) {
        std::fs::File::create(path).and_then(|f| f.set_len(len)).expect("a sparse file");
    }

    #[test]
    fn files_larger_than_the_manifest_says_are_refused_before_reading() {
        let f = folder("big-onnx", |_| {});
        sparse(&f.0.join("model.onnx"), 1 << 40);
        let e = error(&f);
        assert!(e.contains("model.onnx: it is 1099511627776 bytes, the manifest says 21"), "{e}");

        let f = folder("big-tokenizer", |_| {});
        sparse(&f.0.join("tok.model"), limits::TOKENIZER_BYTES + 1);
        let e = error(&f);
        assert!(e.contains("tok.model: it is 67108865 bytes; the limit is 67108864"), "{e}");

        let f = folder("big-manifest", |_| {});
        sparse(&f.0.join("golfer.json"), 1 << 40);
        let e = error(&f);
        assert!(e.contains("golfer.json: it is 1099511627776 bytes; the limit is 1048576"), "{e}");
    }

    #[test]
    fn a_folder_in_place_of_a_file_is_refused() {
        let f = folder("dir", |_| {});
        std::fs::remove_file(f.0.join("model.onnx")).expect("remove");
        std::fs::create_dir(f.0.join("model.onnx")).expect("a folder");
        assert!(error(&f).contains("model.onnx: it is not a regular file"));
    }
}
