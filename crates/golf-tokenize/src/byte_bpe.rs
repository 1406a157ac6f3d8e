//! Byte-level BPE (GPT-2 style, as SmolLM2 uses it) through Hugging Face's `tokenizers`, loaded from the
//! `tokenizer.json` that scripts/smollm2/build.py rebuilds from the GGUF.
//!
//! Byte-level BPE has no normalization and no unknown token: the tokens' bytes, concatenated, are the text's bytes.
//! So each token's byte range is the running sum of its bytes' lengths, exact by construction (a token may end
//! inside a multi-byte character; callers that need character boundaries merge such tokens).
//! The file has no added tokens, so `<|im_start|>` written in a text is tokenized as plain text; control tokens
//! are only ever inserted by id.
//!
//! A vocabulary need not hold all 256 bytes: SmolLM2's lacks 21 (ten that UTF-8 never uses, eleven control
//! characters such as 0x04). The library would drop such a byte without a word; a text that holds one is refused
//! instead, naming the byte, since its bits would be a number for a shorter text.

use std::collections::HashMap;

use crate::sentencepiece::{Token, TokenizeError};

pub struct ByteBpe {
    inner: tokenizers::Tokenizer,
    /// Each id's bytes (its vocabulary string through the byte-level alphabet); control tokens' text as written.
    bytes: Vec<Vec<u8>>,
    ids: HashMap<String, u32>,
    /// The token of each single byte, where the vocabulary has one: a text of these bytes can always be spelled.
    byte_ids: [Option<u32>; 256],
}

/// GPT-2's alphabet: printable bytes stand for themselves, the others are shifted to U+0100 and up.
fn byte_alphabet() -> HashMap<char, u8> {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut map = HashMap::with_capacity(256);
    let mut shifted = 0u32;
    for b in 0..=255u8 {
        // 255 + shifted stays below U+0200: always a char.
        let c = if printable(b) {
            char::from(b)
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).unwrap_or(char::REPLACEMENT_CHARACTER)
        };
        map.insert(c, b);
    }
    map
}

/// Texts a tokenizer.json must spell exactly before it is accepted: whitespace of every kind and length,
/// digits, punctuation, case, characters NFC/NFKC would change, control characters, emoji, strings that look
/// like special tokens.
const PROBES: &[&str] = &[
    "Hello, World! It's 2024: don't.",
    "  two  spaces,\ttabs\t\tand\n\nnewlines\r\n   ",
    "   ",
    "\u{e9} e\u{301} \u{fb01} \u{2460} \u{ff21} \u{2126} \u{a0}\u{3000}",
    "\u{65e5}\u{672c}\u{8a9e} \u{1f600}\u{1f44d}\u{1f3fd} \u{2581}x",
    "\u{0}\u{7}\u{1b}\u{7f}\u{200b}\u{feff}",
    "<|im_end|> <s> </s> <unk> [CLS]",
    "12345678901234567890",
];

impl ByteBpe {
    pub fn from_json_bytes(json: &[u8]) -> Result<ByteBpe, TokenizeError> {
        let bad = |e: String| TokenizeError::BadTokenizerJson(e);
        let inner = tokenizers::Tokenizer::from_bytes(json).map_err(|e| bad(e.to_string()))?;
        let vocab = inner.get_vocab(false);
        let n = vocab.values().map(|&i| i as usize + 1).max().unwrap_or(0);
        if n != vocab.len() {
            return Err(bad(format!("vocabulary ids are not 0..{}", vocab.len())));
        }
        let alphabet = byte_alphabet();
        let mut bytes = vec![Vec::new(); n];
        for (tok, &id) in &vocab {
            // Tokens outside the alphabet are control tokens such as <|im_end|>: shown as written.
            if let Some(slot) = bytes.get_mut(id as usize) {
                *slot = tok
                    .chars()
                    .map(|c| alphabet.get(&c).copied())
                    .collect::<Option<Vec<u8>>>()
                    .unwrap_or_else(|| tok.as_bytes().to_vec());
            }
        }
        let mut byte_ids = [None; 256];
        for (c, &b) in &alphabet {
            if let Some(&id) = vocab.get(c.encode_utf8(&mut [0; 4])) {
                byte_ids[b as usize] = Some(id);
            }
        }
        // Text as people write it must be spellable: printable ASCII, tab, newline and carriage return. Other
        // missing bytes only refuse the texts that hold them (see the module comment).
        if let Some(b) = (b' '..=b'~').chain([b'\t', b'\n', b'\r']).find(|&b| byte_ids[b as usize].is_none()) {
            return Err(bad(format!(
                "its vocabulary has no token for the byte 0x{b:02X} ({:?}), so plain text could not be spelled",
                char::from(b)
            )));
        }
        let t = ByteBpe { inner, bytes, ids: vocab, byte_ids };
        // The golfer's contract: the tokens spell the text exactly. A normalizer, a pre-tokenizer that drops
        // whitespace, or a post-processor that adds text would break it; refuse them here, not mid-score.
        for probe in PROBES.iter().filter(|p| t.unspellable(p).is_none()) {
            if !t.library_spells(probe) {
                return Err(bad(format!(
                    "its tokens do not spell {probe:?} exactly (a normalizer, or a pre-tokenizer or post-processor \
                     that drops or adds text); a byte-level BPE golfer needs one whose tokens spell any text as given"
                )));
            }
        }
        Ok(t)
    }

    pub fn vocab_size(&self) -> usize {
        self.bytes.len()
    }

    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// The bytes a token stands for.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], |b| b.as_slice())
    }

    /// The first byte of `text` the vocabulary has no token for, and its offset.
    pub fn unspellable(&self, text: &str) -> Option<(u8, usize)> {
        text.bytes().enumerate().find(|&(_, b)| self.byte_ids[b as usize].is_none()).map(|(at, b)| (b, at))
    }

    /// The library's ids for `text`, if their bytes are exactly `text`'s.
    fn library_ids(&self, text: &str) -> Option<Vec<u32>> {
        let enc = self.inner.encode_fast(text, false).ok()?;
        let mut rest = text.as_bytes();
        for &id in enc.get_ids() {
            rest = rest.strip_prefix(self.token_bytes(id))?;
        }
        rest.is_empty().then(|| enc.get_ids().to_vec())
    }

    fn library_spells(&self, text: &str) -> bool {
        self.library_ids(text).is_some()
    }

    /// The ids whose bytes are exactly `text`'s; refused for a text with a byte the vocabulary lacks.
    pub fn encode_ids(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        if let Some((byte, offset)) = self.unspellable(text) {
            return Err(TokenizeError::Unspellable { byte, offset });
        }
        // Checked when loaded on texts of every kind, so the library's ids hold; should it still fail on a text,
        // or change it, spelling it byte by byte keeps every token's bytes the text's and the code length true.
        Ok(self.library_ids(text).unwrap_or_else(|| text.bytes().filter_map(|b| self.byte_ids[b as usize]).collect()))
    }

    /// Tokens with their byte ranges in `text` (see the module comment).
    pub fn encode(&self, text: &str) -> Result<Vec<Token>, TokenizeError> {
        let mut at = 0;
        Ok(self
            .encode_ids(text)?
            .into_iter()
            .map(|id| {
                let len = self.token_bytes(id).len();
                let t = Token { id, norm: at..at + len, orig: at..at + len };
                at += len;
                t
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_alphabet_is_gpt2s() {
        let map = byte_alphabet();
        assert_eq!(map.len(), 256);
        let mut bytes: Vec<u8> = map.values().copied().collect();
        bytes.sort_unstable();
        assert_eq!(bytes, (0..=255).collect::<Vec<u8>>());
        // Printable ASCII stands for itself; the space is shifted to U+0120 ("Ġ"), newline to U+010A ("Ċ").
        assert_eq!(map[&'A'], b'A');
        assert_eq!(map[&'\u{120}'], b' ');
        assert_eq!(map[&'\u{10A}'], b'\n');
    }

    /// A tokenizer.json in SmolLM2's shape: the 256 byte tokens, a control token, a few merges; `normalizer`
    /// and `pre_tokenizer` as given.
    fn tiny(normalizer: &str, pre_tokenizer: &str, skip_byte: Option<u8>) -> String {
        let mut vocab = serde_json::Map::new();
        vocab.insert("<|im_end|>".into(), 0.into());
        let mut alphabet: Vec<(char, u8)> = byte_alphabet().into_iter().collect();
        alphabet.sort_by_key(|&(_, b)| b);
        for (c, b) in alphabet {
            if Some(b) != skip_byte {
                let id = vocab.len();
                vocab.insert(c.to_string(), id.into());
            }
        }
        for t in ["ab", "\u{120}ab"] {
            let id = vocab.len();
            vocab.insert(t.into(), id.into());
        }
        format!(
            r#"{{"version":"1.0","added_tokens":[],"normalizer":{normalizer},"pre_tokenizer":{pre_tokenizer},
              "post_processor":null,"decoder":null,
              "model":{{"type":"BPE","vocab":{},"merges":[["a","b"],["Ġ","ab"]]}}}}"#,
            serde_json::Value::Object(vocab)
        )
    }

    const SMOLLM2_PRE: &str = r#"{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},
        {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":true}]}"#;

    #[test]
    fn a_tiny_vocabulary_round_trips_bytes() {
        // Two merges over "Ġ", "a", "b": the pipeline SmolLM2's tokenizer.json uses, in miniature.
        let t = ByteBpe::from_json_bytes(tiny("null", SMOLLM2_PRE, None).as_bytes()).unwrap();
        let tokens = t.encode("ab ab12").unwrap();
        let ids: Vec<u32> = tokens.iter().map(|k| k.id).collect();
        assert_eq!(ids, [t.id("ab"), t.id("\u{120}ab"), t.id("1"), t.id("2")].map(Option::unwrap));
        assert_eq!(tokens.iter().map(|k| k.orig.clone()).collect::<Vec<_>>(), [0..2, 2..5, 5..6, 6..7]);
        assert_eq!(t.token_bytes(t.id("\u{120}ab").unwrap()), b" ab");
        assert_eq!(t.token_bytes(0), b"<|im_end|>");
        assert!(t.token_bytes(u32::MAX).is_empty());
    }

    #[test]
    fn a_tokenizer_that_changes_the_text_is_refused_when_loaded() {
        // Lowercasing, or a pre-tokenizer that drops whitespace: the tokens would not spell the text, and the
        // spans would not tile it.
        for (normalizer, pre) in [
            (r#"{"type":"Lowercase"}"#, SMOLLM2_PRE),
            (r#"{"type":"NFKC"}"#, SMOLLM2_PRE),
            ("null", r#"{"type":"Whitespace"}"#),
        ] {
            let e = ByteBpe::from_json_bytes(tiny(normalizer, pre, None).as_bytes()).err().expect("refused");
            assert!(e.to_string().contains("do not spell"), "{e}");
        }
    }

    #[test]
    fn a_vocabulary_missing_a_byte_refuses_the_texts_that_hold_it() {
        // SmolLM2's vocabulary has no token for 0x04, for instance: such a text is refused by name, not scored
        // as a shorter one (the library alone would drop the byte).
        for (missing, text, offset) in [(0x04, "ab\u{4}c", 2), (0x80, "a \u{400}", 3)] {
            let t = ByteBpe::from_json_bytes(tiny("null", SMOLLM2_PRE, Some(missing)).as_bytes()).unwrap();
            assert_eq!(t.unspellable(text), Some((missing, offset)));
            let e = t.encode(text).expect_err("refused");
            assert!(matches!(e, TokenizeError::Unspellable { byte, offset: at } if byte == missing && at == offset));
            assert!(e.to_string().contains(&format!("no token for the byte 0x{missing:02X}")), "{e}");
            // Texts without it are spelled as before.
            assert_eq!(t.encode("ab ab").unwrap().len(), 2);
        }
    }

    #[test]
    fn a_vocabulary_that_cannot_spell_plain_text_is_refused() {
        for missing in [b'q', b'~', b'\n'] {
            let e =
                ByteBpe::from_json_bytes(tiny("null", SMOLLM2_PRE, Some(missing)).as_bytes()).err().expect("refused");
            assert!(e.to_string().contains(&format!("no token for the byte 0x{missing:02X}")), "{e}");
        }
    }
}
