//! Tokenizers for the neural golfers, with every token aligned to the bytes of the text as given.

pub mod sentencepiece;

mod protobuf;

pub use sentencepiece::{SentencePiece, Token, TokenizeError};
