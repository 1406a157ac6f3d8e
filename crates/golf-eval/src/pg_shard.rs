//! Parameter Golf's token shards (`fineweb_val_*.bin`): a header of 256 little-endian int32 (20240520, version 1,
//! the token count), then the tokens as little-endian uint16. Every document starts with BOS; a document is the
//! text its tokens after BOS decode to, with the tokenizer the shard was written with. Read a document at a time.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use golf_tokenize::SentencePiece;
use serde_json::{Map, Value};

use crate::corpus::Document;
use crate::EvalError;

/// The first header word of every shard.
pub const SHARD_MAGIC: i32 = 20240520;
pub const SHARD_VERSION: i32 = 1;
const HEADER_BYTES: u64 = 256 * 4;

/// The documents of one shard, decoded as they are read (from a file, or any reader of a shard's bytes).
pub struct ShardDocuments<R: Read = BufReader<std::fs::File>> {
    path: PathBuf,
    name: String,
    tokens: R,
    tokenizer: SentencePiece,
    bos: u32,
    /// Tokens left to read, and where the next one is (from 0).
    left: u64,
    at: u64,
    /// The BOS that starts the next document, once read.
    next_bos: Option<u64>,
    index: u64,
}

impl ShardDocuments {
    /// Opens `shard` (its header and size checked) to decode with the SentencePiece model at `tokenizer`.
    pub fn open(shard: &Path, tokenizer: &Path) -> Result<ShardDocuments, EvalError> {
        let model = std::fs::read(tokenizer).map_err(|source| EvalError::Read { path: tokenizer.into(), source })?;
        let sp = SentencePiece::from_model_bytes(&model).map_err(|e| EvalError::BadCorpus {
            path: tokenizer.into(),
            why: format!("not a SentencePiece model ({e})"),
        })?;
        if sp.bos_id().is_none() {
            return Err(EvalError::BadCorpus {
                path: tokenizer.into(),
                why: "the tokenizer has no BOS piece, so a shard's documents cannot be found".into(),
            });
        }
        let file = std::fs::File::open(shard).map_err(|source| EvalError::Read { path: shard.into(), source })?;
        let size = file.metadata().map_err(|source| EvalError::Read { path: shard.into(), source })?.len();
        ShardDocuments::from_reader(BufReader::with_capacity(1 << 20, file), size, shard, sp)
    }
}

impl<R: Read> ShardDocuments<R> {
    /// The documents of the `size` bytes of a shard that `tokens` reads (`shard` names it in messages), decoded
    /// with `sp` (which must have a BOS piece).
    pub fn from_reader(
        mut tokens: R,
        size: u64,
        shard: &Path,
        sp: SentencePiece,
    ) -> Result<ShardDocuments<R>, EvalError> {
        let bad = |why: String| EvalError::BadCorpus { path: shard.into(), why };
        let bos = sp.bos_id().ok_or_else(|| bad("the tokenizer has no BOS piece".into()))?;
        let mut header = [0u8; HEADER_BYTES as usize];
        tokens.read_exact(&mut header).map_err(|_| bad(format!("{size} bytes: shorter than a shard's header")))?;
        let word =
            |k: usize| i32::from_le_bytes([header[4 * k], header[4 * k + 1], header[4 * k + 2], header[4 * k + 3]]);
        if word(0) != SHARD_MAGIC || word(1) != SHARD_VERSION {
            return Err(bad(format!(
                "not a Parameter Golf shard (its header starts {} {}, a shard's {SHARD_MAGIC} {SHARD_VERSION})",
                word(0),
                word(1)
            )));
        }
        let count = u64::try_from(word(2)).map_err(|_| bad(format!("a negative token count ({})", word(2))))?;
        if size != HEADER_BYTES + 2 * count {
            return Err(bad(format!(
                "the header says {count} tokens ({} bytes in all), the file has {size} bytes",
                HEADER_BYTES + 2 * count
            )));
        }
        let name = shard.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut docs = ShardDocuments {
            path: shard.into(),
            name,
            tokens,
            tokenizer: sp,
            bos,
            left: count,
            at: 0,
            next_bos: None,
            index: 0,
        };
        match docs.read_token()? {
            Some(t) if t == bos => docs.next_bos = Some(0),
            Some(t) => {
                return Err(bad(format!("its first token is {t}, not BOS ({bos}): every document starts with BOS")))
            }
            None => {}
        }
        Ok(docs)
    }

    fn read_token(&mut self) -> Result<Option<u32>, EvalError> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut two = [0u8; 2];
        self.tokens.read_exact(&mut two).map_err(|source| EvalError::Read { path: self.path.clone(), source })?;
        self.left -= 1;
        self.at += 1;
        Ok(Some(u32::from(u16::from_le_bytes(two))))
    }

    /// The next document: the tokens from a BOS to the next (or the end), decoded.
    fn next_document(&mut self) -> Result<Option<Document>, EvalError> {
        let Some(start) = self.next_bos.take() else { return Ok(None) };
        let mut ids = Vec::new();
        while let Some(t) = self.read_token()? {
            if t == self.bos {
                self.next_bos = Some(self.at - 1);
                break;
            }
            ids.push(t);
        }
        let bad = |why: String| EvalError::BadCorpus { path: self.path.clone(), why };
        let bytes = self.tokenizer.decode(&ids).ok_or_else(|| {
            bad(format!("the document at token {start} has an id outside the tokenizer's vocabulary"))
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| bad(format!("the document at token {start} does not decode to UTF-8 text")))?;
        let mut meta = Map::new();
        meta.insert("shard".into(), Value::String(self.name.clone()));
        meta.insert("token".into(), Value::from(start));
        meta.insert("tokens".into(), Value::from(ids.len() + 1));
        let doc = Document { index: self.index, text, meta };
        self.index += 1;
        Ok(Some(doc))
    }
}

impl<R: Read> Iterator for ShardDocuments<R> {
    type Item = Result<Document, EvalError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_document() {
            Ok(Some(d)) => Some(Ok(d)),
            Ok(None) => None,
            Err(e) => {
                // Nothing more after an error.
                self.next_bos = None;
                Some(Err(e))
            }
        }
    }
}
