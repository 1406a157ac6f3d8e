//! Byte-level BPE (GPT-2 style, as SmolLM2 uses it) through Hugging Face's `tokenizers`, loaded from the
//! `tokenizer.json` that scripts/smollm2/build.py rebuilds from the GGUF.
//!
//! Byte-level BPE has no normalization and no unknown token: the tokens' bytes, concatenated, are the text's bytes.
//! So each token's byte range is the running sum of its bytes' lengths, exact by construction (a token may end
//! inside a multi-byte character; callers that need character boundaries merge such tokens).
//! The file has no added tokens, so `<|im_start|>` written in a text is tokenized as plain text; control tokens
//! are only ever inserted by id.

use std::collections::HashMap;

use crate::sentencepiece::{Token, TokenizeError};

pub struct ByteBpe {
    inner: tokenizers::Tokenizer,
    /// Each id's bytes (its vocabulary string through the byte-level alphabet); control tokens' text as written.
    bytes: Vec<Vec<u8>>,
    ids: HashMap<String, u32>,
}

/// GPT-2's alphabet: printable bytes stand for themselves, the others are shifted to U+0100 and up.
fn byte_alphabet() -> HashMap<char, u8> {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut map = HashMap::with_capacity(256);
    let mut shifted = 0u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).expect("in range")
        };
        map.insert(c, b);
    }
    map
}

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
            bytes[id as usize] = tok
                .chars()
                .map(|c| alphabet.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .unwrap_or_else(|| tok.as_bytes().to_vec());
        }
        Ok(ByteBpe { inner, bytes, ids: vocab })
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

    pub fn encode_ids(&self, text: &str) -> Vec<u32> {
        match self.inner.encode_fast(text, false) {
            Ok(enc) => enc.get_ids().to_vec(),
            // The pipeline has no step that can fail on a string (no truncation, padding or added tokens).
            Err(e) => unreachable!("byte-level BPE failed on a string: {e}"),
        }
    }

    /// Tokens with their byte ranges in `text` (see the module comment).
    pub fn encode(&self, text: &str) -> Vec<Token> {
        let mut at = 0;
        let tokens: Vec<Token> = self
            .encode_ids(text)
            .into_iter()
            .map(|id| {
                let len = self.token_bytes(id).len();
                let t = Token { id, norm: at..at + len, orig: at..at + len };
                at += len;
                t
            })
            .collect();
        debug_assert_eq!(at, text.len(), "byte-level BPE must cover the text exactly");
        tokens
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

    #[test]
    fn a_tiny_vocabulary_round_trips_bytes() {
        // Four merges over "Ġ", "a", "b": the pipeline SmolLM2's tokenizer.json uses, in miniature.
        let json = r#"{"version":"1.0","added_tokens":[],"normalizer":null,
          "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},
            {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":true}]},
          "post_processor":null,"decoder":null,
          "model":{"type":"BPE","vocab":{"<|im_end|>":0,"a":1,"b":2,"Ġ":3,"1":4,"2":5,"ab":6,"Ġab":7},
            "merges":[["a","b"],["Ġ","ab"]]}}"#;
        let t = ByteBpe::from_json_bytes(json.as_bytes()).unwrap();
        let tokens = t.encode("ab ab12");
        assert_eq!(tokens.iter().map(|k| k.id).collect::<Vec<_>>(), [6, 7, 4, 5]);
        assert_eq!(tokens.iter().map(|k| k.orig.clone()).collect::<Vec<_>>(), [0..2, 2..5, 5..6, 6..7]);
        assert_eq!(t.token_bytes(7), b" ab");
        assert_eq!(t.token_bytes(0), b"<|im_end|>");
    }
}
