//! The SentencePiece model parser on any bytes (a tokenizer dropped on the page with an artifact), then the
//! encoder on awkward texts with every model it accepts: no panic, no runaway time, and the side channel gives back
//! each text exactly.
#![no_main]

use golf_tokenize::restore::restore;
use golf_tokenize::SentencePiece;
use libfuzzer_sys::fuzz_target;

const TEXTS: &[&str] = &[
    "",
    "x",
    " ",
    "a b  c\t\td\r\n",
    "The adrenal glands are small glands on top of each kidney.",
    "ﬁne ① Ｆｕｌｌ ｶﾀｶﾅ x² ½ ™ \u{a0}\u{3000}\u{200b}\u{ad}\u{feff}",
    "emoji 😀🎉👍🏽 🇫🇷 👨‍👩‍👧 日本語 한국어 Привет a\u{301}",
    "\u{0}\u{7}\u{1b}\u{7f}\u{80}\u{fffd}",
    "<s></s><unk>▁▁<0x41>",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

fuzz_target!(|data: &[u8]| {
    let Ok(sp) = SentencePiece::from_model_bytes(data) else { return };
    // Every single character the model's own pieces spell, too (a one-character control piece, say).
    let mut texts: Vec<String> = TEXTS.iter().map(|t| t.to_string()).collect();
    texts.extend((0..sp.vocab_size().min(64) as u32).filter_map(|id| sp.piece(id)).map(|p| p.text.clone()));
    for text in &texts {
        let tokens = sp.encode(text);
        let side = sp.side_channel(text, &tokens);
        let back = restore(&sp.view(&tokens), &side.code, text.len())
            .unwrap_or_else(|e| panic!("the side channel of {text:?} does not decode: {e}"));
        assert!(back == text.as_bytes(), "{text:?} comes back as {:?}", String::from_utf8_lossy(&back));
    }
});
