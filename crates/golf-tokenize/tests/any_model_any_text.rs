//! The property the fuzzer checks, over hand-built models of every shape the loader accepts (and a few it must
//! refuse) and awkward texts, fixed and pseudo-random: encoding never panics, the tokens tile the text, and a
//! decoder that has only the ids and the side channel gets the exact bytes back, with the cheap edits.

mod common;

use common::*;
use golf_tokenize::restore::restore;
use golf_tokenize::{SentencePiece, Token};

/// Normalization rules of every kind: a tab to a space, a ligature, a deletion, a two-character key, a digit,
/// a replacement with inner spaces, one to a space, one to a literal ▁, one to nothing but spaces.
const RULES: &[(&str, &str)] = &[
    ("\t", " "),
    ("\u{fb01}", "fi"),
    ("\u{200b}", ""),
    ("ab", "x"),
    ("\u{2460}", "1"),
    ("A", "a  a"),
    ("z", " "),
    ("q", "\u{2581}"),
    ("Q", "  "),
];

fn models() -> Vec<(String, SentencePiece)> {
    let official =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../golf-import/tokenizer/fineweb_1024_bpe.model"))
            .expect("the official sp1024");
    let mut out = vec![("official sp1024".to_string(), SentencePiece::from_model_bytes(&official).expect("loads"))];
    let mut add = |name: String, m: Model| {
        let sp = SentencePiece::from_model_bytes(&m.bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name, sp));
    };
    add("bytes only".into(), Model::new(&[]));
    let merges = ["\u{2581}", "a", "b", "x", "\u{2581}a", "ab", "\u{2581}ab", " ", " a", "1", "fi", "\u{2581}\u{2581}"];
    for bits in 0..8 {
        let (dummy, remove, escape) = (bits & 1 == 1, bits & 2 == 2, bits & 4 == 4);
        let flags = format!("dummy {dummy}, remove {remove}, escape {escape}");
        add(format!("merges, {flags}"), Model::new(&merges).flags(dummy, remove, escape));
        add(
            format!("rules and control pieces, {flags}"),
            Model::new(&merges)
                .flags(dummy, remove, escape)
                .with_charsmap(charsmap(RULES))
                .with_piece(piece("c", 0.0, CONTROL))
                .with_piece(piece("é", 0.0, CONTROL)),
        );
    }
    // Control pieces for the dummy prefix and for a plain space; <unk> spelled as a character of the text.
    let mut m =
        Model::new(&["a", "b"]).with_piece(piece("\u{2581}", 0.0, CONTROL)).with_piece(piece(" ", 0.0, CONTROL));
    m.pieces[0].text = b"u".to_vec();
    add("control spaces, <unk> as u".into(), m.clone());
    add("control spaces, <unk> as u, no escaping".into(), m.flags(true, false, false));
    out
}

const FIXED: &[&str] = &[
    "",
    " ",
    "   ",
    "x",
    "c",
    "cc c",
    "u",
    "é",
    "e\u{301}",
    "\u{2581}",
    "\u{2581}\u{2581} \u{2581}",
    "  x  ",
    "\t\n\r ",
    "a b",
    "ab  ab",
    "A",
    "AA A",
    "zz q Q",
    "Q",
    "\u{fb01} x \u{2460}",
    "\u{200b}",
    "a\u{200b}b",
    "\0",
    "<s>",
    "<0x41>",
    "<unk>",
    "😀",
    "日本 語",
    "a\r\n\r\nb",
    "\u{a0}\u{3000}",
];

/// A little xorshift, so the "random" texts are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn texts() -> Vec<String> {
    const ALPHABET: &[&str] = &[
        "a", "b", "c", "x", "u", "z", "q", "Q", "A", "é", "e\u{301}", " ", "  ", "\t", "\n", "\r", "\u{2581}",
        "\u{fb01}", "\u{2460}", "\u{200b}", "😀", "\0", "<s>", "日", "1", "ab",
    ];
    let mut out: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let len = rng.next() % 24;
        out.push((0..len).map(|_| ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize]).collect());
    }
    out
}

fn check(name: &str, sp: &SentencePiece, text: &str) {
    let what = format!("{name}, {text:?}");
    let tokens = sp.encode(text);
    let (norm, _) = sp.normalize(text);
    // The tokens tile the normalized text, and their original ranges run forward inside the text.
    let mut at = 0;
    let mut orig_end = 0;
    for t in &tokens {
        assert_eq!(t.norm.start, at, "{what}: tokens tile the normalized text");
        at = t.norm.end;
        assert!(t.orig.start <= t.orig.end && t.orig.end <= text.len(), "{what}: {t:?}");
        assert!(t.orig.end >= orig_end, "{what}: original ranges run forward");
        orig_end = t.orig.end;
        assert!(sp.piece(t.id).is_some(), "{what}: ids are the vocabulary's");
    }
    assert_eq!(at, norm.len(), "{what}: tokens cover the normalized text");
    // The decoder has only the ids.
    let ids_only: Vec<Token> = tokens.iter().map(|t| Token { id: t.id, norm: 0..0, orig: 0..0 }).collect();
    let view = sp.view(&ids_only);
    assert_eq!(view, sp.view(&tokens), "{what}: the view depends on the ids alone");
    let sc = sp.side_channel(text, &tokens);
    let back = restore(&view, &sc.code, text.len()).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(back, text.as_bytes(), "{what}: restored");
    assert!(!sc.replaced_all, "{what}: the cheap edits restore it");
    assert_eq!(sc.bits(), sc.header_bits + sc.edits.iter().map(|e| e.bits).sum::<u32>(), "{what}");
    assert!(sc.edits.windows(2).all(|w| w[0].orig.end <= w[1].orig.start), "{what}: edits in order");
    assert!(sc.edits.iter().all(|e| e.orig.end <= text.len()), "{what}");
    // Parameter Golf's byte count takes any pair of ids.
    let mut prev = sp.bos_id().unwrap_or(0);
    for t in &tokens {
        let _ = sp.golf_bytes(prev, t.id);
        prev = t.id;
    }
    // Fewer bits than the text would take spelled out in full, plus the code's framing.
    assert!(sc.bits() as usize <= 8 * text.len() + 64 + 16 * sc.edits.len(), "{what}: {} bits", sc.bits());
}

#[test]
fn any_text_round_trips_under_any_accepted_model() {
    let texts = texts();
    for (name, sp) in models() {
        for text in &texts {
            check(&name, &sp, text);
        }
    }
}

#[test]
fn models_the_encoder_does_not_implement_are_refused() {
    let refused = [
        ("no byte fallback", {
            let mut m = Model::new(&["a"]);
            m.byte_fallback = false;
            m
        }),
        ("user-defined", Model::new(&["a"]).with_piece(piece("<mask>", 0.0, USER_DEFINED))),
        ("unused", Model::new(&["a"]).with_piece(piece("zz", 0.0, UNUSED))),
    ];
    for (name, m) in refused {
        assert!(SentencePiece::from_model_bytes(&m.bytes()).is_err(), "{name}");
    }
}
