//! Real artifacts still import as before the importer learned to refuse hostile ones: the committed golfers'
//! (whose manifests the Python exporter wrote) and, where the shared data is beside the checkout, participants'
//! entries (tests/python/test_import.py scores those against their own code).

use golf_onnx::manifest::Manifest;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn options(artifact: &str) -> golf_import::Options {
    golf_import::Options {
        artifact_name: artifact.into(),
        rebuild: format!("golf import {artifact}"),
        ..Default::default()
    }
}

#[test]
fn the_committed_golfers_artifacts_import_with_their_manifests_dimensions() {
    for (golfer, artifact) in [("ar", "final_model.int8.ptz"), ("mdlm", "final_model.fp8.ptz")] {
        let dir = format!("{ROOT}/models/{golfer}");
        let ptz = std::fs::read(format!("{dir}/{artifact}")).unwrap();
        let json = std::fs::read_to_string(format!("{dir}/golfer.json")).unwrap();
        let want = Manifest::parse(&json, "golfer.json").unwrap();
        let got = golf_import::import(&ptz, &options(artifact)).unwrap().manifest;
        assert_eq!(
            (got.kind, got.layers, got.kv_heads, got.head_dim, got.vocab, got.params, got.mask_id),
            (want.kind, want.layers, want.kv_heads, want.head_dim, want.vocab, want.params, want.mask_id),
            "{golfer}"
        );
    }
}

#[test]
fn participants_entries_import_or_are_refused_by_name() {
    let shared = format!("{ROOT}/../shared/artifacts");
    if !std::path::Path::new(&shared).is_dir() {
        eprintln!("skipped: no shared artifacts at {shared}");
        return;
    }
    let read = |entry: &str| std::fs::read(format!("{shared}/{entry}/final_model.int8.ptz")).unwrap();
    for entry in ["samtruss-7x384-c839523", "samtruss-7x384-leaky-44620a5"] {
        let m = golf_import::import(&read(entry), &options("final_model.int8.ptz")).unwrap().manifest;
        assert_eq!((m.layers, m.params), (7, 7_630_520), "{entry}");
    }
    for (entry, names) in [
        ("montysteele-6x2-adapters-dc69b08", "names it does not know: repeat_scales, repeat_shifts"),
        (
            "digitalsword99-swiglu-5f3e761",
            "blocks.N.mlp.gate_up.weight, pass_gate; names it lacks: blocks.N.mlp.fc.weight",
        ),
    ] {
        let Err(e) = golf_import::import(&read(entry), &options("final_model.int8.ptz")) else { panic!("{entry}") };
        assert!(e.to_string().contains(names), "{entry}: {e}");
    }
}
