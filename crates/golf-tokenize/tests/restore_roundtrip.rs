//! The side channel with the AR golfer's real tokenizer: for texts that normalization changes in every way it
//! does (whitespace runs, tabs, CRLF, NFKC, control characters, whitespace only, emoji, code), a decoder that has
//! only the token ids and the side channel gets the exact bytes back, and
//! the channel's length is the sum of what its edits are charged.

use golf_tokenize::restore::restore;
use golf_tokenize::{PieceKind, SentencePiece, Token};

fn model() -> SentencePiece {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/ar/fineweb_1024_bpe.model"))
        .expect("models/ar/fineweb_1024_bpe.model");
    SentencePiece::from_model_bytes(&bytes).expect("parses")
}

/// What the decoder reads, built here from the ids alone.
fn decoder_view(sp: &SentencePiece, tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tokens {
        let p = sp.piece(t.id).expect("an id of the vocabulary");
        match p.kind {
            PieceKind::Unknown => panic!("byte fallback: encoding yields no <unk>"),
            // Byte fallback: `<0xE3>` spells one raw byte.
            PieceKind::Byte => out.extend(golf_tokenize::restore::byte_of(&p.text)),
            _ => out.extend(p.text.replace('\u{2581}', " ").bytes()),
        }
    }
    out
}

fn source_files() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut out: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    out.sort();
    out
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

const CASES: &[&str] = &[
    "a b",
    "a    b",
    "a          b",
    "  leading",
    "trailing   ",
    "\t\ttabs\tinside\t",
    "lines\nand\n\nparagraphs\n\n\n",
    "windows\r\nline\r\nends\r\n",
    "   ",
    " ",
    "\n",
    "\t \r\n \t",
    "ﬁne ﬂour, ① ② ③, Ｆｕｌｌｗｉｄｔｈ, ｶﾀｶﾅ, x² ½ ™",
    "\u{a0}non-breaking\u{a0}spaces\u{3000}and ideographic",
    "zero\u{200b}width\u{200b}space, soft\u{ad}hyphen, BOM\u{feff}here",
    "control\u{7}bell\u{1b}escape\u{0}nul",
    "emoji 😀🎉👍🏽, flag 🇫🇷, family 👨‍👩‍👧, ❤️",
    "日本語のテキスト 中文文本 한국어 Привет, мир",
    "a\u{301} combining, é precomposed",
    "literal ▁ meta space ▁▁",
    "fn main() {\n    let x = 1;\n\tif x > 0 {\n\t\tprintln!(\"{x}\");\n\t}\n}\n",
];

#[test]
fn decodes_back_to_the_exact_bytes() {
    let sp = model();
    let mut texts: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    texts.extend(source_files());
    for name in ["fineweb-val-first-docs.txt", "fineweb-edu-excerpt.txt", "enwik8-excerpt.txt"] {
        texts.push(sample(name));
    }
    for text in &texts {
        let tokens = sp.encode(text);
        let sc = sp.side_channel(text, &tokens);
        let view = decoder_view(&sp, &tokens);
        let back = restore(&view, &sc.code, text.len()).expect("decodes");
        assert_eq!(String::from_utf8_lossy(&back), *text, "round trip of {:?}", &text[..text.len().min(60)]);
        assert!(!sc.replaced_all, "the cheap edits restore {:?}", &text[..text.len().min(60)]);
        assert_eq!(sc.bits(), sc.header_bits + sc.edits.iter().map(|e| e.bits).sum::<u32>());
        // Every edit restores bytes of the text, in order.
        assert!(sc.edits.windows(2).all(|w| w[0].orig.end <= w[1].orig.start));
        assert!(sc.edits.iter().all(|e| e.orig.end <= text.len()));
    }
}

#[test]
fn whitespace_costs_what_it_takes_to_restore() {
    let sp = model();
    let bits = |t: &str| sp.side_channel(t, &sp.encode(t)).bits();
    // "a b" needs only the (empty) edit count; more spaces cost more, and more again.
    assert_eq!(bits("a b"), 1);
    assert!(bits("a    b") > bits("a b"));
    assert!(bits("a          b") > bits("a    b"));
    // A text that is only whitespace has no tokens at all, but it still costs something.
    assert!(bits("   ") > 1);
    assert!(bits("\n\n") > 1);
    let sc = sp.side_channel("a    b", &sp.encode("a    b"));
    assert_eq!(sc.edits.len(), 1);
    assert_eq!(sc.edits[0].orig, 1..5);
    assert_eq!(sc.edits[0].describe(), "4 spaces (one space in the tokens)");
}
