//! A stranger's document set for `golf eval`: the bytes as JSONL lines, and as a Parameter Golf token shard decoded
//! with the official sp1024. Refused or read, never a panic or a runaway allocation; a document read is text.
#![no_main]

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

use golf_eval::corpus::jsonl_document;
use golf_eval::pg_shard::ShardDocuments;
use golf_tokenize::SentencePiece;
use libfuzzer_sys::fuzz_target;

static SP: OnceLock<SentencePiece> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for (k, line) in text.lines().enumerate() {
            if let Ok(doc) = jsonl_document(line, k as u64) {
                assert!(!doc.meta.contains_key("text"), "the text stays out of the metadata");
            }
        }
    }
    let sp = SP.get_or_init(|| {
        SentencePiece::from_model_bytes(include_bytes!("../../crates/golf-import/tokenizer/fineweb_1024_bpe.model"))
            .expect("the committed official sp1024 parses")
    });
    let Ok(docs) = ShardDocuments::from_reader(Cursor::new(data), data.len() as u64, Path::new("fuzz.bin"), sp.clone())
    else {
        return;
    };
    let mut tokens = 0;
    for doc in docs {
        let Ok(doc) = doc else { break };
        let n = doc.meta.get("tokens").and_then(|t| t.as_u64()).expect("a shard's document says its tokens");
        tokens += n;
        // Each token decodes to at most a piece's bytes: the text cannot outgrow what the shard holds by much.
        assert!(doc.text.len() as u64 <= 64 * n, "{} bytes from {n} tokens", doc.text.len());
    }
    assert!(2 * tokens + 1024 <= data.len() as u64, "{tokens} tokens read from {} bytes", data.len());
});
