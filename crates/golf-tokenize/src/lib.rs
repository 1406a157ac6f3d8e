//! Tokenizers for the neural golfers, with every token aligned to the bytes of the text as given.

pub mod byte_bpe;
pub mod restore;
pub mod sentencepiece;

pub use byte_bpe::ByteBpe;
pub use restore::{Edit, EditKind, SideChannel};
pub use sentencepiece::{PieceKind, SentencePiece, Token, TokenizeError};

/// A golfer's tokenizer: what the model code needs from either kind.
pub enum TextTokenizer {
    SentencePiece(Box<SentencePiece>),
    ByteBpe(Box<ByteBpe>),
}

impl TextTokenizer {
    /// `kind` as a manifest names it: `sentencepiece` (a `.model` file, with byte fallback) or `byte-bpe` (a
    /// `tokenizer.json`).
    pub fn load(kind: &str, bytes: &[u8]) -> Result<TextTokenizer, TokenizeError> {
        match kind {
            "sentencepiece" => Ok(TextTokenizer::SentencePiece(Box::new(SentencePiece::from_model_bytes(bytes)?))),
            "byte-bpe" => Ok(TextTokenizer::ByteBpe(Box::new(ByteBpe::from_json_bytes(bytes)?))),
            other => Err(TokenizeError::BadTokenizerJson(format!("unknown tokenizer kind '{other}'"))),
        }
    }

    /// The text's tokens; refused (`TokenizeError::Unspellable`) for a text the vocabulary cannot spell.
    pub fn encode(&self, text: &str) -> Result<Vec<Token>, TokenizeError> {
        match self {
            TextTokenizer::SentencePiece(t) => Ok(t.encode(text)),
            TextTokenizer::ByteBpe(t) => t.encode(text),
        }
    }

    pub fn encode_ids(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        match self {
            TextTokenizer::SentencePiece(t) => Ok(t.encode_ids(text)),
            TextTokenizer::ByteBpe(t) => t.encode_ids(text),
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            TextTokenizer::SentencePiece(t) => t.vocab_size(),
            TextTokenizer::ByteBpe(t) => t.vocab_size(),
        }
    }

    /// The bytes a token contributes to generated text: SentencePiece's `▁` becomes a space, control tokens
    /// nothing, `<unk>` U+2047; a byte-level token may be part of a character. An id outside the vocabulary (a
    /// model with more outputs than its tokenizer has pieces) contributes nothing.
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        match self {
            TextTokenizer::SentencePiece(t) => {
                let Some(p) = t.piece(id) else {
                    return Vec::new();
                };
                match p.kind {
                    PieceKind::Unknown => "\u{2047}".into(),
                    PieceKind::Control => Vec::new(),
                    PieceKind::Byte => restore::byte_of(&p.text).into_iter().collect(),
                    _ => p.text.replace('\u{2581}', " ").into_bytes(),
                }
            }
            TextTokenizer::ByteBpe(t) => t.token_bytes(id).to_vec(),
        }
    }

    /// A token for display (partial characters as U+FFFD).
    pub fn token_text(&self, id: u32) -> String {
        String::from_utf8_lossy(&self.token_bytes(id)).into_owned()
    }

    /// What a decoder needs besides the tokens to restore `text` exactly, where the tokenizer normalizes it
    /// (SentencePiece); byte-level BPE is lossless and needs none.
    pub fn side_channel(&self, text: &str, tokens: &[Token]) -> Option<SideChannel> {
        match self {
            TextTokenizer::SentencePiece(t) => Some(t.side_channel(text, tokens)),
            TextTokenizer::ByteBpe(_) => None,
        }
    }

    /// SentencePiece's `<unk>` id: in the vocabulary, though encoding never yields it (byte fallback), so only a
    /// sampler can meet it; byte-level BPE has none.
    pub fn unk_id(&self) -> Option<u32> {
        match self {
            TextTokenizer::SentencePiece(t) => Some(t.unk_id()),
            TextTokenizer::ByteBpe(_) => None,
        }
    }

    /// Bytes counted for a token under Parameter Golf's rule (SentencePiece); for byte-level BPE, its bytes.
    pub fn golf_bytes(&self, prev: u32, id: u32) -> u32 {
        match self {
            TextTokenizer::SentencePiece(t) => t.golf_bytes(prev, id),
            TextTokenizer::ByteBpe(t) => t.token_bytes(id).len() as u32,
        }
    }
}
