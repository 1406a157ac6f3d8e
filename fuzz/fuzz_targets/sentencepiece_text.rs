//! The encoder and side channel on any text with the real tokenizers: the official sp1024 (participants' entries
//! and the AR golfer use it) and, where the shared data is beside the repository, the records' SP8192. The side
//! channel restores every text exactly.
#![no_main]

use golf_tokenize::restore::restore;
use golf_tokenize::SentencePiece;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn models() -> &'static [SentencePiece] {
    static MODELS: OnceLock<Vec<SentencePiece>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let data = std::env::var("GOLF_DATA")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data").into());
        let sp8192 = std::fs::read(format!("{data}/tokenizers/fineweb_8192_bpe.model")).ok();
        [Some(golf_import::OFFICIAL_TOKENIZER.to_vec()), sp8192]
            .into_iter()
            .flatten()
            .map(|m| SentencePiece::from_model_bytes(&m).expect("a real tokenizer parses"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for sp in models() {
        let tokens = sp.encode(&text);
        let side = sp.side_channel(&text, &tokens);
        let back = restore(&sp.view(&tokens), &side.code, text.len())
            .unwrap_or_else(|e| panic!("the side channel of {text:?} does not decode: {e}"));
        assert!(back == text.as_bytes(), "{text:?} comes back as {:?}", String::from_utf8_lossy(&back));
    }
});
