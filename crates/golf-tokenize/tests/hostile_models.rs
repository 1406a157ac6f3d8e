//! SentencePiece models a stranger can drop on the page beside an artifact: each one that once crashed, stalled
//! or misled the encoder is refused when loaded, with a reason, or now encodes and restores exactly. Every model
//! is built here (tests/common).

mod common;

use common::*;
use golf_tokenize::restore::restore;
use golf_tokenize::{PieceKind, SentencePiece, TextTokenizer, TokenizeError};

fn load(m: &Model) -> SentencePiece {
    SentencePiece::from_model_bytes(&m.bytes()).expect("the model loads")
}

fn refusal(bytes: &[u8]) -> TokenizeError {
    match SentencePiece::from_model_bytes(bytes) {
        Ok(_) => panic!("the model was accepted"),
        Err(e) => e,
    }
}

/// Encodes, codes the side channel, and decodes from the ids alone: the exact text, with the cheap edits.
fn round_trip(sp: &SentencePiece, text: &str) {
    let tokens = sp.encode(text);
    let sc = sp.side_channel(text, &tokens);
    let view = sp.view(&tokens);
    let back = restore(&view, &sc.code, text.len()).expect("decodes");
    assert_eq!(String::from_utf8_lossy(&back), text);
    assert!(!sc.replaced_all, "the cheap edits restore {text:?}");
    assert_eq!(sc.bits(), sc.header_bits + sc.edits.iter().map(|e| e.bits).sum::<u32>());
}

// Finding 1: a one-character control piece.

#[test]
fn a_lone_character_that_is_a_control_piece_restores_exactly() {
    let m = Model::new(&["a", "b", "ab"]).flags(false, true, true).with_piece(piece("x", 0.0, CONTROL));
    let sp = load(&m);
    let x = (sp.vocab_size() - 1) as u32;
    // As in SentencePiece (its PieceToId finds control pieces first), a lone `x` is that control piece, which
    // spells no text: the side channel restores the `x`.
    let tokens = sp.encode("x");
    assert_eq!(tokens.iter().map(|t| t.id).collect::<Vec<_>>(), [x]);
    assert_eq!(sp.piece(x).map(|p| p.kind), Some(PieceKind::Control));
    assert!(sp.view(&tokens).is_empty());
    let sc = sp.side_channel("x", &tokens);
    assert_eq!(sc.edits.len(), 1);
    assert_eq!(sc.edits[0].orig, 0..1);
    for text in ["x", "xx", "axb", " x ", "x x", "abx", "xab", "x\u{301}", "x😀x"] {
        round_trip(&sp, text);
    }
}

#[test]
fn a_control_piece_that_is_the_dummy_prefix_restores_exactly() {
    let m = Model::new(&["a", "b"]).with_piece(piece("\u{2581}", 0.0, CONTROL));
    let sp = load(&m);
    for text in ["a", "a b", "  a  b  ", "\u{2581}", "b\u{2581}a"] {
        round_trip(&sp, text);
    }
}

// Finding 2: a normalizer whose trie loops.

#[test]
fn a_charsmap_trie_that_loops_is_refused() {
    // "a" -> "b", and the node after "a" leads back to itself on every further "a": a lookup would read the whole
    // rest of a run of "a"s at each of its characters (quadratic).
    let mut trie = Trie::of(&[(b"a", 0)]);
    trie.nodes[1].children.push((b'a', 1));
    let m = Model::new(&["a", "b"]).with_charsmap(charsmap_blob(&trie.units(), b"b\0"));
    let e = refusal(&m.bytes());
    assert!(matches!(e, TokenizeError::Normalizer(_)), "{e}");
    assert!(e.to_string().contains("loop"), "{e}");
}

#[test]
fn a_rule_longer_than_64_bytes_is_refused_and_one_of_64_is_kept() {
    let long = "a".repeat(65);
    let m = Model::new(&["a", "b"]).with_charsmap(charsmap(&[(&long, "b")]));
    assert!(refusal(&m.bytes()).to_string().contains("longer than 64 bytes"));
    // Nor may a path without a rule at its end go further: a lookup would walk it all the same.
    let mut trie = Trie::of(&[(long.as_bytes(), 0)]);
    trie.nodes[65].value = None;
    trie.nodes[1].value = Some(0);
    let m = Model::new(&["a", "b"]).with_charsmap(charsmap_blob(&trie.units(), b"b\0"));
    assert!(refusal(&m.bytes()).to_string().contains("longer than 64 bytes"));

    let key = "a".repeat(64);
    let m = Model::new(&["a", "b"]).flags(false, true, true).with_charsmap(charsmap(&[(&key, "b")]));
    let sp = load(&m);
    assert_eq!(sp.normalize(&key).0, "b");
    let text = "a".repeat(300);
    assert_eq!(sp.normalize(&text).0, format!("bbbb{}", "a".repeat(44)));
    round_trip(&sp, &text);
}

// Finding 3: replacements and keys that are not whole UTF-8 characters.

#[test]
fn a_replacement_that_is_not_utf8_is_refused() {
    let trie = Trie::of(&[(b"a", 0)]);
    let m = Model::new(&["a"]).with_charsmap(charsmap_blob(&trie.units(), b"\xff\xfe\0"));
    let e = refusal(&m.bytes());
    assert!(matches!(e, TokenizeError::Normalizer(_)), "{e}");
    assert!(e.to_string().contains("not UTF-8"), "{e}");
}

#[test]
fn a_key_that_ends_inside_a_character_is_refused() {
    // The first byte of "é" alone: a match would cut the text inside the character.
    let trie = Trie::of(&[(b"\xc3", 0)]);
    let m = Model::new(&["a"]).with_charsmap(charsmap_blob(&trie.units(), b"e\0"));
    assert!(refusal(&m.bytes()).to_string().contains("ends inside a UTF-8 character"));
}

#[test]
fn a_replacement_outside_the_pool_or_inside_a_character_is_refused() {
    for value in [1000, 1] {
        let trie = Trie::of(&[(b"a", value)]);
        let m = Model::new(&["a"]).with_charsmap(charsmap_blob(&trie.units(), "é\0".as_bytes()));
        assert!(refusal(&m.bytes()).to_string().contains("replacement starts outside"), "value {value}");
    }
}

#[test]
fn a_rule_that_grows_text_more_than_16_times_is_refused() {
    let m = Model::new(&["a", "b"]).with_charsmap(charsmap(&[("a", &"b".repeat(17))]));
    assert!(refusal(&m.bytes()).to_string().contains("16 times"));
    // Spaces count as the three bytes of `▁` they become.
    let m = Model::new(&["a", "b"]).with_charsmap(charsmap(&[("a", "      ")]));
    assert!(refusal(&m.bytes()).to_string().contains("makes 18 bytes of 1"));
    // A two-byte key may make 32 bytes; and 16 from one byte is fine.
    let m = Model::new(&["a", "b"]).with_charsmap(charsmap(&[("é", &"b".repeat(32)), ("a", &"b".repeat(16))]));
    round_trip(&load(&m), "aé a");
}

#[test]
fn a_charsmap_whose_sizes_do_not_add_up_is_refused() {
    let cases: [(Vec<u8>, &str); 4] = [
        (vec![1, 0], "shorter than its 4-byte header"),
        ([400u32.to_le_bytes().as_slice(), &[0; 8]].concat(), "only 8 follow"),
        ([6u32.to_le_bytes().as_slice(), &[0; 8]].concat(), "whole number of 4-byte units"),
        ([(2u32 << 20).to_le_bytes().as_slice(), &vec![0; 2 << 20]].concat(), "largest accepted"),
    ];
    for (blob, why) in cases {
        let e = refusal(&Model::new(&["a"]).with_charsmap(blob).bytes());
        assert!(e.to_string().contains(why), "{e} / {why}");
    }
}

// Finding 4: everything else read from the file is checked when it is loaded.

#[test]
fn bad_models_are_refused_with_a_reason() {
    let base = || Model::new(&["a", "b", "ab"]);
    let with = |f: &dyn Fn(&mut Model)| {
        let mut m = base();
        f(&mut m);
        m.bytes()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not protobuf", vec![0xff, 0xff, 0xff], "not a well-formed protobuf"),
        ("empty", Vec::new(), "no pieces"),
        ("repeated piece", with(&|m| m.pieces.push(piece("ab", 0.0, NORMAL))), "repeats piece"),
        ("NaN score", with(&|m| m.pieces[260].score = f32::NAN), "not a finite number"),
        ("infinite score", with(&|m| m.pieces[260].score = f32::INFINITY), "not a finite number"),
        ("lowercase byte piece", with(&|m| m.pieces[3 + 0x4a].text = b"<0x4a>".to_vec()), "byte piece"),
        ("signed byte piece", with(&|m| m.pieces[3 + 0x0a].text = b"<0x+A>".to_vec()), "byte piece"),
        ("no byte_fallback flag", with(&|m| m.byte_fallback = false), "no byte fallback"),
        ("a byte missing", with(&|m| m.pieces[3 + 0x80].kind = NORMAL), "no byte fallback"),
        ("two <unk>", with(&|m| m.pieces.push(piece("<unk2>", 0.0, UNKNOWN))), "second <unk>"),
        ("no <unk>", with(&|m| m.pieces[0].kind = CONTROL), "no <unk>"),
        ("user-defined", with(&|m| m.pieces.push(piece("<mask>", 0.0, USER_DEFINED))), "user-defined"),
        ("unused", with(&|m| m.pieces.push(piece("zz", 0.0, UNUSED))), "unused"),
        ("type 7", with(&|m| m.pieces.push(piece("zz", 0.0, 7))), "type 7"),
        ("empty piece", with(&|m| m.pieces.push(piece("", 0.0, NORMAL))), "is empty"),
        ("piece not UTF-8", with(&|m| m.pieces[260].text = vec![0xc3]), "not UTF-8"),
        ("long piece", with(&|m| m.pieces.push(piece(&"z".repeat(513), 0.0, NORMAL))), "longer than 512"),
        ("unigram", with(&|m| m.model_type = 1), "unigram"),
        ("suffix whitespace", with(&|m| put_varint(&mut m.trainer_extra, 24, 1)), "treat_whitespace_as_suffix"),
        ("bos_id past the pieces", with(&|m| put_varint(&mut m.trainer_extra, 41, 5000)), "bos_id is 5000"),
        ("pad_id -2", with(&|m| put_varint(&mut m.trainer_extra, 43, u64::MAX - 1)), "pad_id is -2"),
    ];
    for (what, bytes, why) in cases {
        let e = match SentencePiece::from_model_bytes(&bytes) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(why), "{what}: {e}");
    }
    // -1 is how SentencePiece writes "none" (pad_id's default).
    let m = with(&|m| put_varint(&mut m.trainer_extra, 43, u64::MAX));
    assert!(SentencePiece::from_model_bytes(&m).is_ok());
}

#[test]
fn the_bos_piece_is_the_trainers_if_it_is_a_control_piece() {
    let sp = load(&Model::new(&["a"]));
    assert_eq!(sp.bos_id(), Some(1));
    let mut m = Model::new(&["a"]).with_piece(piece("<bos>", 0.0, CONTROL));
    put_bytes(&mut m.trainer_extra, 46, b"<bos>");
    assert_eq!(load(&m).bos_id(), Some((m.pieces.len() - 1) as u32));
    // A normal piece is no start-of-document token.
    let mut m = Model::new(&["a"]);
    put_bytes(&mut m.trainer_extra, 46, b"a");
    assert_eq!(load(&m).bos_id(), None);
}

#[test]
fn ids_outside_the_vocabulary_are_no_panic() {
    let sp = load(&Model::new(&["a"]));
    let past = sp.vocab_size() as u32;
    assert!(sp.piece(past).is_none());
    assert_eq!(sp.golf_bytes(0, past), 0);
    assert_eq!(sp.golf_bytes(past, 259), 1); // "a", after no piece at all
    let tok = TextTokenizer::load("sentencepiece", &Model::new(&["a"]).bytes()).unwrap();
    assert!(tok.token_bytes(u32::MAX).is_empty());
}

// Read alongside: without escaping, a literal ▁ in the text is a piece like any other.

#[test]
fn without_escaping_a_literal_meta_space_restores_exactly() {
    let m = Model::new(&["\u{2581}", "a", " ", " a"]).flags(true, true, false);
    let sp = load(&m);
    // The view shows pieces as they are: ▁ is a character of the text here, not a space.
    let tokens = sp.encode("a \u{2581}");
    assert_eq!(sp.view(&tokens), "a \u{2581}".as_bytes());
    for text in ["\u{2581}", "a \u{2581} a", "  \u{2581}\u{2581}  a", "\u{2581} "] {
        round_trip(&sp, text);
    }
}

#[test]
fn a_hostile_side_channel_cannot_ask_for_unbounded_memory() {
    // One edit: a run of 2^62 spaces inserted at the start, in 130 bits.
    let mut code = vec![false, true, false]; // gamma(2): one edit
    code.extend([true, false]); // whitespace inserted
    code.push(true); // gamma(1): at gap 0
    code.push(true); // gamma(1): one run
    code.push(false); // of spaces
    code.extend(std::iter::repeat_n(false, 62));
    code.push(true);
    code.extend(std::iter::repeat_n(false, 62)); // gamma(2^62)
    assert_eq!(restore(b"", &code, 1 << 20), Err(golf_tokenize::restore::RestoreError::TooLong(1 << 20)));
}
