//! Spot checks against what Python's `sentencepiece` returns for the Parameter Golf tokenizer (ids and byte
//! offsets copied from `sp.encode(text, return_type="proto")`). The full parity test over the held-out texts and
//! 50+ edge strings runs in pytest against the live Python library.

use golf_tokenize::SentencePiece;

/// The older tokenizer (no byte fallback) that these ids were copied for, committed in the MDLM's folder; the
/// official one is checked by the pytest parity test.
fn model() -> SentencePiece {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/mdlm/fineweb_1024_bpe.model"))
        .expect("models/mdlm/fineweb_1024_bpe.model");
    SentencePiece::from_model_bytes(&bytes).expect("parses")
}

/// (text, ids, byte offsets; empty when not checked)
type Case = (&'static str, &'static [u32], &'static [(usize, usize)]);

#[test]
fn matches_python_on_tricky_strings() {
    let sp = model();
    let cases: &[Case] = &[
        ("日本語 text", &[3, 274, 493], &[(0, 9), (9, 12), (12, 14)]),
        ("  hello   world  ", &[7, 308, 944, 706], &[(2, 4), (4, 6), (6, 7), (7, 15)]),
        ("<s> <|endoftext|>", &[3, 947, 3, 940, 3, 1010, 941, 16, 944, 957, 213, 493, 1010, 3], &[]),
        ("ﬁne ①②", &[957, 215, 940, 972, 977], &[(0, 0), (0, 5), (5, 6), (6, 9), (9, 12)]),
        ("12345", &[972, 977, 993, 1000, 996], &[]),
        ("é", &[3], &[(0, 2)]),
        ("\t tab\nnl", &[942, 139, 56, 950], &[(2, 3), (3, 5), (5, 7), (7, 8)]),
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
