//! A file the page serves in parts (`NAME.parts.json` beside `NAME.part00`, `NAME.part01`, ...): static hosts
//! refuse large files (Cloudflare Pages at 25 MiB, GitHub at 100 MB), so every file of `dist/` over
//! [`PART_BYTES`] is staged as parts of at most that size (`scripts/stage_parts.py` writes them) and joined in the
//! worker that needs it. The parts manifest gives each part's size and sha256 and the whole's, so every part is
//! checked before it is kept and the joined file before it is used.

use crate::manifest::{check_path, check_sha256};
use serde::Deserialize;

/// The largest part, and the largest file the page reads whole: 16 MiB.
pub const PART_BYTES: u64 = 16 << 20;
/// A parts manifest itself (ours are under 1 KB).
pub const MANIFEST_BYTES: u64 = 64 << 10;
/// At most this many parts (4 GiB of 16 MiB parts, more than wasm32 can hold).
pub const MAX_PARTS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// A file name in the same folder as the parts manifest.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parts {
    /// The name of the whole file (without its folder).
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    /// In order: the whole is their concatenation.
    pub parts: Vec<Part>,
}

impl Parts {
    /// Parses and checks `NAME.parts.json` for the file `file` (its name in messages is `name`): every part a
    /// plain name of at most [`PART_BYTES`] bytes, the sizes adding up to the whole, digests well formed.
    pub fn from_bytes(json: &[u8], file: &str, name: &str) -> Result<Parts, String> {
        let refuse = |why: String| format!("{name}: {why}");
        if json.len() as u64 > MANIFEST_BYTES {
            return Err(refuse(format!("it is {} bytes; a parts manifest is at most {MANIFEST_BYTES}", json.len())));
        }
        let parts: Parts = serde_json::from_slice(json).map_err(|e| refuse(format!("not a parts manifest: {e}")))?;
        if parts.file != file {
            return Err(refuse(format!("it describes {:?}, not {file:?}", parts.file)));
        }
        check_sha256("sha256", &parts.sha256).map_err(refuse)?;
        if parts.parts.is_empty() || parts.parts.len() > MAX_PARTS {
            return Err(refuse(format!("it lists {} parts; it must list 1 to {MAX_PARTS}", parts.parts.len())));
        }
        let mut sum: u64 = 0;
        for (i, p) in parts.parts.iter().enumerate() {
            let field = format!("parts[{i}].path");
            check_path(&field, &p.path).map_err(refuse)?;
            if p.path.contains('/') {
                return Err(refuse(format!("\"{field}\" is {:?}: a part is a file beside its manifest", p.path)));
            }
            check_sha256(&format!("parts[{i}].sha256"), &p.sha256).map_err(refuse)?;
            if p.bytes == 0 || p.bytes > PART_BYTES {
                return Err(refuse(format!("part {} is {} bytes; a part has 1 to {PART_BYTES}", p.path, p.bytes)));
            }
            sum += p.bytes;
        }
        if sum != parts.bytes {
            return Err(refuse(format!("its parts add up to {sum} bytes, not the {} of the whole", parts.bytes)));
        }
        Ok(parts)
    }

    /// Where each part goes in the whole: its byte offset.
    pub fn offsets(&self) -> impl Iterator<Item = (u64, &Part)> {
        self.parts.iter().scan(0u64, |at, p| {
            let start = *at;
            *at += p.bytes;
            Some((start, p))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn good() -> serde_json::Value {
        json!({"file": "model.onnx", "bytes": PART_BYTES + 5, "sha256": A, "parts": [
            {"path": "model.onnx.part00", "bytes": PART_BYTES, "sha256": B},
            {"path": "model.onnx.part01", "bytes": 5, "sha256": A},
        ]})
    }

    fn parse(v: &serde_json::Value) -> Result<Parts, String> {
        Parts::from_bytes(v.to_string().as_bytes(), "model.onnx", "models/x/model.onnx.parts.json")
    }

    #[test]
    fn a_good_manifest_gives_each_part_its_offset() {
        let p = parse(&good()).unwrap();
        let at: Vec<(u64, &str)> = p.offsets().map(|(o, p)| (o, p.path.as_str())).collect();
        assert_eq!(at, [(0, "model.onnx.part00"), (PART_BYTES, "model.onnx.part01")]);
    }

    #[test]
    fn a_bad_manifest_is_refused_naming_what_is_wrong() {
        type Edit = fn(&mut serde_json::Value);
        let cases: Vec<(Edit, &str)> = vec![
            (|v| v["file"] = json!("other.onnx"), "it describes \"other.onnx\", not \"model.onnx\""),
            (|v| v["bytes"] = json!(PART_BYTES + 6), "add up to 16777221 bytes, not the 16777222"),
            (|v| v["sha256"] = json!("ABC"), "\"sha256\" is \"ABC\""),
            (|v| v["parts"][1]["sha256"] = json!(A.to_uppercase()), "\"parts[1].sha256\""),
            (|v| v["parts"][0]["path"] = json!("../ar/model.onnx"), "\"parts[0].path\" is \"../ar/model.onnx\""),
            (|v| v["parts"][0]["path"] = json!("sub/part"), "a part is a file beside its manifest"),
            (|v| v["parts"][0]["path"] = json!("p?x=1"), "contains '?'"),
            (|v| v["parts"][0]["bytes"] = json!(PART_BYTES + 1), "part model.onnx.part00 is 16777217 bytes"),
            (|v| v["parts"][1]["bytes"] = json!(0), "part model.onnx.part01 is 0 bytes"),
            (|v| v["parts"] = json!([]), "it lists 0 parts"),
            (|v| v["extra"] = json!(1), "unknown field `extra`"),
            (|v| v["bytes"] = json!(-1), "not a parts manifest"),
        ];
        for (edit, why) in cases {
            let mut v = good();
            edit(&mut v);
            let e = parse(&v).expect_err(why);
            assert!(e.starts_with("models/x/model.onnx.parts.json: ") && e.contains(why), "{why}: {e}");
        }
        let many: Vec<_> = (0..=MAX_PARTS).map(|i| json!({"path": format!("p{i}"), "bytes": 1, "sha256": A})).collect();
        let e = parse(&json!({"file": "model.onnx", "bytes": many.len(), "sha256": A, "parts": many})).unwrap_err();
        assert!(e.contains("it lists 257 parts"), "{e}");
        let e = Parts::from_bytes(&vec![b' '; MANIFEST_BYTES as usize + 1], "m", "m.parts.json").unwrap_err();
        assert!(e.contains("a parts manifest is at most 65536"), "{e}");
    }

    /// The sizes cannot overflow into a sum that matches: 256 parts of at most 16 MiB stay far below u64's range.
    #[test]
    fn the_largest_manifest_sums_exactly() {
        let parts: Vec<_> =
            (0..MAX_PARTS).map(|i| json!({"path": format!("p{i}"), "bytes": PART_BYTES, "sha256": A})).collect();
        let total = PART_BYTES * MAX_PARTS as u64;
        let p = parse(&json!({"file": "model.onnx", "bytes": total, "sha256": A, "parts": parts})).unwrap();
        assert_eq!(p.offsets().last().map(|(o, _)| o), Some(total - PART_BYTES));
    }
}
