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
