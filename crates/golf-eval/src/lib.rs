//! Corpus-scale evaluation: every document of a set (JSONL, a folder of `.txt` files, or a Parameter Golf token
//! shard) scored by each golfer, in shards written as they finish so that an interrupted run continues where it
//! stopped; then one row per document and golfer (JSONL and Parquet) and a summary with bootstrap intervals.

pub mod corpus;
pub mod pg_shard;
pub mod results;
pub mod run;
pub mod score;
pub mod stats;

use std::path::PathBuf;

/// What can go wrong in an evaluation; every message says which file (and line or document) and what to do.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: {why}")]
    BadCorpus { path: PathBuf, why: String },
    #[error("{path} is not a document set: give a .jsonl file (a \"text\" field a line), a folder of .txt files or a Parameter Golf shard (.bin, with --tokenizer)")]
    UnknownCorpus { path: PathBuf },
    #[error("{path} is a Parameter Golf token shard: give the SentencePiece tokenizer it was written with (--tokenizer FILE.model)")]
    NeedsTokenizer { path: PathBuf },
    #[error("{out} holds another run ({why}); give another --out folder, or delete this one to start again")]
    OtherRun { out: PathBuf, why: String },
    #[error("the golfer {id} is given twice (a --model folder whose id is another golfer's?): each golfer once")]
    SameGolferTwice { id: String },
    #[error("document {doc} ({golfer}): {why}")]
    Score { doc: u64, golfer: String, why: String },
    #[error("writing Parquet to {path}: {why}")]
    Parquet { path: PathBuf, why: String },
    #[error("stopped on request after {done} of {total} shards; run the same command again to go on")]
    Interrupted { done: usize, total: usize },
}
