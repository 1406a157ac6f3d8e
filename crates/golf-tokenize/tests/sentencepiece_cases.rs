//! Spot checks against what Python's `sentencepiece` returns for the official Parameter Golf tokenizer (ids and byte
//! offsets copied from `sp.encode(text, return_type="proto")`). The full parity test over the held-out texts and
//! 50+ edge strings runs in pytest against the live Python library.

use golf_tokenize::SentencePiece;

/// The official Parameter Golf sp1024 (byte fallback), as committed with the importer.
fn model() -> SentencePiece {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../golf-import/tokenizer/fineweb_1024_bpe.model"))
        .expect("crates/golf-import/tokenizer/fineweb_1024_bpe.model");
    SentencePiece::from_model_bytes(&bytes).expect("parses")
}

/// (text, ids, byte offsets; empty when not checked)
type Case = (&'static str, &'static [u32], &'static [(usize, usize)]);

#[test]
fn matches_python_on_tricky_strings() {
    let sp = model();
    // A character the vocabulary lacks is its UTF-8 bytes (`<0xNN>` = id 4 + NN); all but the last are empty
    // ranges at the character's start, as Python reports them.
    let cases: &[Case] = &[
        (
            "日本語 text",
            &[234, 155, 169, 234, 160, 176, 236, 174, 162, 532, 757],
            &[(0, 0), (0, 0), (0, 3), (3, 3), (3, 3), (3, 6), (6, 6), (6, 6), (6, 9), (9, 12), (12, 14)],
        ),
        ("  hello   world  ", &[263, 565, 943, 458, 401], &[(2, 4), (4, 6), (6, 7), (7, 13), (13, 15)]),
        ("<s> <|endoftext|>", &[64, 946, 66, 939, 64, 1007, 940, 272, 943, 956, 468, 757, 1007, 66], &[]),
        ("ﬁne ①②", &[956, 469, 939, 972, 976], &[(0, 0), (0, 5), (5, 6), (6, 9), (9, 12)]),
        ("12345", &[972, 976, 994, 998, 995], &[]),
        ("é", &[199, 173], &[(0, 0), (0, 2)]),
        ("\t tab\nnl", &[941, 393, 312, 949], &[(2, 3), (3, 5), (5, 7), (7, 8)]),
        (
            "emoji 😀",
            &[411, 943, 990, 944, 939, 244, 163, 156, 132],
            &[(0, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 6), (6, 6), (6, 6), (6, 10)],
        ),
        ("\u{0}\u{7} ctl", &[4, 274, 941, 949], &[(0, 2), (2, 4), (4, 5), (5, 6)]),
        ("🇫🇷 flag", &[244, 163, 139, 175, 244, 163, 139, 187, 785, 472], &[]),
        ("", &[], &[]),
    ];
    for (text, ids, offsets) in cases {
        let tokens = sp.encode(text);
        let got: Vec<u32> = tokens.iter().map(|t| t.id).collect();
        assert_eq!(&got, ids, "ids of {text:?}");
        if !offsets.is_empty() {
            let got: Vec<(usize, usize)> = tokens.iter().map(|t| (t.orig.start, t.orig.end)).collect();
            assert_eq!(&got, offsets, "offsets of {text:?}");
        }
    }
}
