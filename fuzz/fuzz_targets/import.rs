//! The artifact importer end to end (container, zip, pickle, shapes, recipe, graph), as `golf import` and the
//! page's import row run it on a stranger's `.ptz`. The first byte picks how the rest is wrapped, so the fuzzer can
//! also reach past the decompressor: 0 = the bytes are the `.ptz`; 1 = zlib of them; 2 = xz of them; 3 = the xz
//! magic followed by the bytes (the xz decoder on anything).
#![no_main]

use golf_import::{import, Options};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let ptz = match mode % 4 {
        0 => body.to_vec(),
        1 => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = z.write_all(body);
            z.finish().unwrap_or_default()
        }
        2 => {
            let mut xz = Vec::new();
            let _ = lzma_rs::xz_compress(&mut &body[..], &mut xz);
            xz
        }
        _ => [&b"\xfd7zXZ\x00"[..], body].concat(),
    };
    let options =
        Options { artifact_name: "fuzz.ptz".into(), rebuild: "golf import fuzz.ptz".into(), ..Options::default() };
    // Any outcome but a panic, a hang or a huge allocation is fine: libFuzzer's -rss_limit_mb/-malloc_limit_mb and
    // -timeout catch the other two.
    if let Ok(folder) = import(&ptz, &options) {
        let (_, manifest) =
            folder.files.iter().find(|(name, _)| name == "golfer.json").expect("a folder has golfer.json");
        if let Err(e) = golf_onnx::Manifest::from_bytes(manifest, "golfer.json") {
            panic!("an imported folder's golfer.json is refused: {e}");
        }
        let mut names: Vec<&str> = folder.files.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), folder.files.len(), "two files of the folder have one name");
        assert!(names.iter().all(|n| !n.contains('/') && !n.contains("..")), "a file name is not plain: {names:?}");
    }
});
