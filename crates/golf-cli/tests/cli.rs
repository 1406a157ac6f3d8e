//! The `golf` binary on what a user or a stranger can hand it: output to a reader that goes away, and model
//! folders whose manifest lies about the graph or points outside the folder.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const GOLF: &str = env!("CARGO_BIN_EXE_golf");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sp_model() -> PathBuf {
    repo().join("models/ar/fineweb_1024_bpe.model")
}

/// A folder of its own for one test, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(test: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!("golf-cli-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        Temp(dir)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// About 1 MB of text: its tokens as JSON are several times the size of a pipe's buffer.
fn big_text(dir: &Path) -> PathBuf {
    let docs = std::fs::read(repo().join("samples/fineweb-val-first-docs.txt")).expect("the committed sample");
    let path = dir.join("big.txt");
    std::fs::write(&path, docs.repeat(60)).expect("write the text");
    path
}

/// Runs golf with its standard output a pipe that nobody reads: every write to it fails with EPIPE.
fn with_closed_stdout(args: &[&std::ffi::OsStr]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(GOLF).args(args).stdout(writer).stderr(Stdio::piped()).output().expect("golf runs")
}

#[test]
fn a_closed_standard_output_ends_every_command_quietly() {
    let t = Temp::new("closed");
    let text = big_text(&t.0);
    let sp = sp_model();
    let runs: [Vec<&std::ffi::OsStr>; 5] = [
        vec!["tokenize".as_ref(), "--model".as_ref(), sp.as_os_str(), text.as_os_str()],
        vec!["score".as_ref(), "--json".as_ref(), "--per-byte".as_ref(), text.as_os_str()],
        vec!["score".as_ref(), text.as_os_str()],
        vec!["generate".as_ref(), "--prompt".as_ref(), "The ".as_ref(), "--max-bytes".as_ref(), "2000".as_ref()],
        vec!["score".as_ref(), "--json".as_ref(), "--tokens".as_ref(), text.as_os_str()],
    ];
    // Before: tokenize panicked (exit 101), score and generate said "golf: Broken pipe (os error 32)", exit 1.
    let failed: Vec<String> = runs
        .iter()
        .map(|args| (args, with_closed_stdout(args)))
        .filter(|(_, out)| !(out.status.success() && out.stderr.is_empty()))
        .map(|(args, out)| format!("{args:?}: {:?}, {:?}", out.status, String::from_utf8_lossy(&out.stderr)))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn tokenize_into_head_c_5() {
    let t = Temp::new("head");
    let text = big_text(&t.0);
    let mut child = Command::new(GOLF)
        .args(["tokenize".as_ref(), "--model".as_ref(), sp_model().as_os_str(), text.as_os_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("golf runs");
    let mut first = [0u8; 5];
    child.stdout.take().expect("its output").read_exact(&mut first).expect("5 bytes");
    // Dropping the reader closes the pipe, as `head -c 5` does once it has its bytes.
    let out = child.wait_with_output().expect("golf ends");
    assert_eq!(&first, b"{\"ids");
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn tokenize_writes_one_json_value_per_text() {
    let t = Temp::new("tokenize");
    let text = "Hello, world.\nA second line.";
    let file = t.0.join("t.txt");
    std::fs::write(&file, text).expect("write");
    let out = Command::new(GOLF)
        .args(["tokenize".as_ref(), "--model".as_ref(), sp_model().as_os_str(), file.as_os_str()])
        .output()
        .expect("golf runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON value");
    let (ids, offsets) = (v["ids"].as_array().expect("ids"), v["offsets"].as_array().expect("offsets"));
    assert!(!ids.is_empty() && ids.len() == offsets.len(), "{v}");
    // The offsets tile the text (SentencePiece keeps every byte of this text in some token).
    let ends: Vec<(u64, u64)> =
        offsets.iter().map(|o| (o[0].as_u64().expect("start"), o[1].as_u64().expect("end"))).collect();
    assert_eq!(ends.first().map(|e| e.0), Some(0));
    assert_eq!(ends.last().map(|e| e.1), Some(text.len() as u64));
    assert!(ends.windows(2).all(|w| w[0].1 == w[1].0), "{ends:?}");

    let array = t.0.join("a.json");
    std::fs::write(&array, serde_json::json!([text, "", "x"]).to_string()).expect("write");
    let out = Command::new(GOLF)
        .args(["tokenize".as_ref(), "--json-array".as_ref(), "--model".as_ref(), sp_model().as_os_str()])
        .arg(&array)
        .output()
        .expect("golf runs");
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON array");
    assert_eq!(all.as_array().map(Vec::len), Some(3), "{all}");
    assert_eq!(all[0], v, "the same result for the same text");
    assert_eq!(all[1], serde_json::json!({ "ids": [], "offsets": [] }));
}

/// A copy of the committed AR folder (`files` copied, the others left out) with its manifest edited.
fn ar_folder(test: &str, files: &[&str], change: impl FnOnce(&mut serde_json::Value)) -> Temp {
    let t = Temp::new(test);
    let src = repo().join("models/ar");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("golfer.json")).expect("models/ar/golfer.json"))
            .expect("JSON");
    change(&mut m);
    std::fs::write(t.0.join("golfer.json"), m.to_string()).expect("write golfer.json");
    for f in files {
        std::fs::copy(src.join(f), t.0.join(f)).expect("copy a model file");
    }
    t
}

fn score_folder(dir: &Path) -> (i32, String) {
    let text = repo().join("samples/fineweb-val-first-docs.txt");
    let out = Command::new(GOLF).arg("score").arg("--model").arg(dir).arg(text).output().expect("golf runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The one line of a refusal: exit status 1, one line on stderr.
fn refusal(dir: &Path) -> String {
    let (status, stderr) = score_folder(dir);
    assert_eq!(status, 1, "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn a_manifest_path_outside_its_folder_is_refused_unread() {
    let f = ar_folder("passwd", &[], |m| m["onnx"]["path"] = "/etc/passwd".into());
    let e = refusal(&f.0);
    assert!(e.contains("\"onnx.path\" is \"/etc/passwd\": it is an absolute path"), "{e}");
    // Before, /etc/passwd was read and its sha256 reported.
    assert!(!e.contains("sha256"), "{e}");
    let f = ar_folder("dotdot", &[], |m| m["tokenizer"]["file"] = "../ar/fineweb_1024_bpe.model".into());
    assert!(refusal(&f.0).contains("\"tokenizer.file\" is \"../ar/fineweb_1024_bpe.model\""));
}

#[test]
fn a_huge_shape_field_is_refused_at_once() {
    // Before: an 11.2 GB allocation and an abort (100,000,000), or 1.9 GB and an ONNX Runtime error (1,000,000).
    for layers in [100_000_000u64, 1_000_000] {
        let f = ar_folder("layers", &["model.onnx", "fineweb_1024_bpe.model"], |m| m["layers"] = layers.into());
        let e = refusal(&f.0);
        assert!(
            e.contains(&format!("\"layers\" is {layers}; it must be at most 256")) && e.contains("golfer.json"),
            "{e}"
        );
    }
}

/// Whether the folder's golfer could load at all (ONNX Runtime found); the test is skipped, and logged for
/// scripts/test.sh, where it is not.
fn runtime_or_skip(test: &str) -> bool {
    let f = ar_folder(test, &["model.onnx", "fineweb_1024_bpe.model"], |_| {});
    let (status, stderr) = score_folder(&f.0);
    if stderr.contains("ONNX Runtime not found") {
        eprintln!("skipped {test}: {stderr}");
        if let Some(log) = std::env::var_os("GOLF_SKIP_LOG") {
            use std::io::Write;
            if let Ok(mut log) = std::fs::OpenOptions::new().append(true).create(true).open(log) {
                let _ = writeln!(log, "cargo test golf-cli {test}: ONNX Runtime not found (set ORT_DYLIB_PATH)");
            }
        }
        return false;
    }
    assert_eq!(status, 0, "the unedited copy scores: {stderr}");
    true
}

#[test]
fn shape_fields_are_checked_against_the_graph() {
    if !runtime_or_skip("shape_fields_are_checked_against_the_graph") {
        return;
    }
    let files = ["model.onnx", "fineweb_1024_bpe.model"];
    for (field, value, says) in [
        ("layers", 7, "the graph has 6 layers (inputs past_key_*), golfer.json says \"layers\": 7"),
        ("kv_heads", 4, "past_key_0 has shape [1, 2, ?, 64], but golfer.json says \"kv_heads\": 4"),
        ("head_dim", 32, "past_key_0 has shape [1, 2, ?, 64], but golfer.json says \"head_dim\": 32"),
        ("vocab", 2048, "fineweb_1024_bpe.model: it has 1024 tokens, but golfer.json says \"vocab\": 2048"),
    ] {
        let f = ar_folder("graph", &files, |m| m[field] = value.into());
        let e = refusal(&f.0);
        assert!(e.contains(says), "{field} {value}: {e}");
        assert!(!e.contains("ONNX Runtime:"), "a raw ONNX Runtime error: {e}");
    }
    // A token id outside the vocabulary is refused by name (it indexed the logits).
    let out = Command::new(GOLF)
        .args(["decoder-logprobs", "--model"])
        .arg(repo().join("models/ar"))
        .args(["--ids", "1,5000"])
        .output()
        .expect("golf runs");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("--ids has 5000, outside") && e.contains("1024 tokens"), "{e}");
}
