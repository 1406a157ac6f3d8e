//! Document sets: a JSONL file (a `text` field a line; the other fields kept as the document's metadata), a folder
//! of `.txt` files (in name order), or a Parameter Golf token shard ([`crate::pg_shard`]). Read a document at a
//! time, so memory goes with the longest document, not with the set.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::pg_shard::ShardDocuments;
use crate::EvalError;

/// One document: its place in the set (from 0), its text and what else the set says about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub index: u64,
    pub text: String,
    pub meta: Map<String, Value>,
}

/// The kind of a document set, from its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Corpus {
    Jsonl(PathBuf),
    TextFolder(PathBuf),
    /// A Parameter Golf shard and the SentencePiece model its tokens are decoded with.
    PgShard {
        shard: PathBuf,
        tokenizer: PathBuf,
    },
}

impl Corpus {
    /// The set at `path`: a folder of `.txt` files, a `.jsonl` file, or a `.bin` shard (which needs `tokenizer`).
    pub fn at(path: &Path, tokenizer: Option<&Path>) -> Result<Corpus, EvalError> {
        let meta = std::fs::metadata(path).map_err(|source| EvalError::Read { path: path.into(), source })?;
        if meta.is_dir() {
            return Ok(Corpus::TextFolder(path.into()));
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl") => Ok(Corpus::Jsonl(path.into())),
            Some("bin") => match tokenizer {
                Some(t) => Ok(Corpus::PgShard { shard: path.into(), tokenizer: t.into() }),
                None => Err(EvalError::NeedsTokenizer { path: path.into() }),
            },
            _ => Err(EvalError::UnknownCorpus { path: path.into() }),
        }
    }

    /// Where the documents come from (for messages and the run's record).
    pub fn path(&self) -> &Path {
        match self {
            Corpus::Jsonl(p) | Corpus::TextFolder(p) => p,
            Corpus::PgShard { shard, .. } => shard,
        }
    }

    /// The documents, in order.
    pub fn documents(&self) -> Result<Documents, EvalError> {
        Ok(match self {
            Corpus::Jsonl(path) => {
                let file =
                    std::fs::File::open(path).map_err(|source| EvalError::Read { path: path.clone(), source })?;
                Documents::Jsonl { path: path.clone(), lines: std::io::BufReader::new(file), line: 0, next: 0 }
            }
            Corpus::TextFolder(path) => {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|source| EvalError::Read { path: path.clone(), source })?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "txt"))
                    .collect();
                files.sort();
                if files.is_empty() {
                    return Err(EvalError::BadCorpus {
                        path: path.clone(),
                        why: "the folder has no .txt files".into(),
                    });
                }
                Documents::Files { files: files.into_iter(), next: 0 }
            }
            Corpus::PgShard { shard, tokenizer } => Documents::Shard(Box::new(ShardDocuments::open(shard, tokenizer)?)),
        })
    }
}

/// The documents of a set, one at a time.
pub enum Documents {
    Jsonl { path: PathBuf, lines: std::io::BufReader<std::fs::File>, line: u64, next: u64 },
    Files { files: std::vec::IntoIter<PathBuf>, next: u64 },
    Shard(Box<ShardDocuments>),
}

impl Iterator for Documents {
    type Item = Result<Document, EvalError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Documents::Jsonl { path, lines, line, next } => loop {
                let mut text = String::new();
                *line += 1;
                match lines.read_line(&mut text) {
                    Ok(0) => return None,
                    Ok(_) if text.trim().is_empty() => continue,
                    Ok(_) => {
                        let doc = jsonl_document(&text, *next).map_err(|why| EvalError::BadCorpus {
                            path: path.clone(),
                            why: format!("line {line}: {why}"),
                        });
                        *next += 1;
                        return Some(doc);
                    }
                    Err(e) => {
                        let why = match e.kind() {
                            std::io::ErrorKind::InvalidData => format!("line {line} is not UTF-8"),
                            _ => format!("line {line}: {e}"),
                        };
                        return Some(Err(EvalError::BadCorpus { path: path.clone(), why }));
                    }
                }
            },
            Documents::Files { files, next } => {
                let path = files.next()?;
                let index = *next;
                *next += 1;
                Some(text_file_document(&path, index))
            }
            Documents::Shard(shard) => shard.next(),
        }
    }
}

/// A JSONL line's document: an object with a string `text`; its other fields are the metadata.
pub fn jsonl_document(line: &str, index: u64) -> Result<Document, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Object(mut meta) = value else { return Err("not a JSON object".into()) };
    match meta.remove("text") {
        Some(Value::String(text)) => Ok(Document { index, text, meta }),
        Some(_) => Err("its \"text\" field is not a string".into()),
        None => Err("no \"text\" field".into()),
    }
}

fn text_file_document(path: &Path, index: u64) -> Result<Document, EvalError> {
    let bytes = std::fs::read(path).map_err(|source| EvalError::Read { path: path.into(), source })?;
    let text = String::from_utf8(bytes).map_err(|e| EvalError::BadCorpus {
        path: path.into(),
        why: format!("not UTF-8 (byte {} is not)", e.utf8_error().valid_up_to()),
    })?;
    let mut meta = Map::new();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    meta.insert("file".into(), Value::String(name));
    Ok(Document { index, text, meta })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_keeps_other_fields_and_skips_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.jsonl");
        std::fs::write(&path, "{\"id\": 7, \"text\": \"a\\nb\"}\n\n{\"text\": \"c\", \"url\": \"u\"}\n").unwrap();
        let docs: Vec<Document> = Corpus::at(&path, None).unwrap().documents().unwrap().map(Result::unwrap).collect();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "a\nb");
        assert_eq!(docs[0].meta.get("id"), Some(&Value::from(7)));
        assert_eq!((docs[1].index, docs[1].text.as_str()), (1, "c"));
    }

    #[test]
    fn jsonl_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.jsonl");
        for (body, says) in [
            ("{\"text\": \"a\"}\n{\"txt\": \"b\"}\n", "line 2: no \"text\" field"),
            ("{\"text\": 3}\n", "line 1: its \"text\" field is not a string"),
            ("[1]\n", "line 1: not a JSON object"),
            ("{\"text\": \"a\"}\nnot json\n", "line 2: not JSON"),
        ] {
            std::fs::write(&path, body).unwrap();
            let err = Corpus::at(&path, None).unwrap().documents().unwrap().find_map(Result::err).unwrap();
            assert!(err.to_string().contains(says), "{err} should say {says}");
        }
        std::fs::write(&path, b"{\"text\": \"\xff\"}\n").unwrap();
        let err = Corpus::at(&path, None).unwrap().documents().unwrap().find_map(Result::err).unwrap();
        assert!(err.to_string().contains("line 1 is not UTF-8"), "{err}");
    }

    #[test]
    fn folders_in_name_order_and_unknown_paths_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "second").unwrap();
        std::fs::write(dir.path().join("a.txt"), "first").unwrap();
        std::fs::write(dir.path().join("notes.md"), "not a document").unwrap();
        let docs: Vec<Document> =
            Corpus::at(dir.path(), None).unwrap().documents().unwrap().map(Result::unwrap).collect();
        assert_eq!(docs.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(), ["first", "second"]);
        assert_eq!(docs[1].meta.get("file"), Some(&Value::from("b.txt")));
        let other = dir.path().join("notes.md");
        assert!(matches!(Corpus::at(&other, None), Err(EvalError::UnknownCorpus { .. })));
        let shard = dir.path().join("fineweb_val_000000.bin");
        std::fs::write(&shard, b"").unwrap();
        assert!(matches!(Corpus::at(&shard, None), Err(EvalError::NeedsTokenizer { .. })));
    }
}
