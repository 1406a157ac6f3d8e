//! A model folder's manifest (`golfer.json`) from a stranger: parsing and validation on any bytes, with no file
//! and no ONNX Runtime. What it accepts must hold its limits and survive a round trip through JSON. The same bytes
//! as a parts manifest (`NAME.parts.json`, a file the page serves in parts): what it accepts tiles the whole.
#![no_main]

use golf_onnx::parts::{Parts, MAX_PARTS, PART_BYTES};
use golf_onnx::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Parts::from_bytes(data, "model.onnx", "model.onnx.parts.json") {
        assert!(!p.parts.is_empty() && p.parts.len() <= MAX_PARTS, "{} parts", p.parts.len());
        let mut end = 0;
        for (at, part) in p.offsets() {
            assert!(at == end && part.bytes > 0 && part.bytes <= PART_BYTES && !part.path.contains('/'), "{part:?}");
            end = at + part.bytes;
        }
        assert_eq!(end, p.bytes, "the parts do not tile the whole");
    }
    let Ok(m) = Manifest::from_bytes(data, "golfer.json") else { return };
    let json = serde_json::to_vec(&m).expect("an accepted manifest serializes");
    let again = Manifest::from_bytes(&json, "golfer.json")
        .unwrap_or_else(|e| panic!("an accepted manifest, written out again, is refused: {e}"));
    assert_eq!(serde_json::to_value(&again).ok(), serde_json::to_value(&m).ok(), "the round trip changed it");
    for path in
        [Some(&m.onnx.path), m.artifact.as_ref().map(|a| &a.path), Some(&m.tokenizer.file)].into_iter().flatten()
    {
        assert!(!path.starts_with('/') && !path.split('/').any(|p| p == ".."), "a path leaves the folder: {path}");
    }
    assert!(m.bos_id < m.vocab as u32 && m.stop_ids.iter().all(|&s| s < m.vocab as u32), "an id past the vocabulary");
});
