//! The results: one row per document and golfer, as JSONL (a shard's file, and the whole run's) and as Parquet
//! (for pandas, polars and DuckDB).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::EvalError;

/// What one golfer made of one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The document's place in the set, from 0.
    pub doc: u64,
    pub golfer: String,
    /// The document's UTF-8 bytes, and the bits the golfer needs for them.
    pub bytes: u64,
    pub bits: f64,
    /// Bits over bytes; none for an empty document.
    pub bpb: Option<f64>,
    pub tokens: Option<u64>,
    /// Parameter Golf's byte count and the bpb over it, where the golfer's tokenizer makes them differ.
    pub golf_bytes: Option<u64>,
    pub golf_bpb: Option<f64>,
    /// How long it took (measured: the one column that differs between two runs).
    pub seconds: f64,
    /// The document's other fields in the set (a JSONL line's, a file's name, a shard's place).
    pub meta: Map<String, Value>,
}

const SCHEMA: &str = "
message results {
  required int64 doc;
  required binary golfer (STRING);
  required int64 bytes;
  required double bits;
  optional double bpb;
  optional int64 tokens;
  optional int64 golf_bytes;
  optional double golf_bpb;
  required double seconds;
  required binary meta (STRING);
}";

/// Rows per row group: a group is held in memory until written.
const GROUP_ROWS: usize = 32 * 1024;

/// Writes rows to a Parquet file, a row group at a time.
pub struct ParquetRows {
    path: PathBuf,
    writer: SerializedFileWriter<std::fs::File>,
    group: Vec<Row>,
}

impl ParquetRows {
    pub fn create(path: &Path) -> Result<ParquetRows, EvalError> {
        let bad = |e: parquet::errors::ParquetError| EvalError::Parquet { path: path.into(), why: e.to_string() };
        let file = std::fs::File::create(path).map_err(|source| EvalError::Write { path: path.into(), source })?;
        let schema = Arc::new(parse_message_type(SCHEMA).map_err(bad)?);
        let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
        let writer = SerializedFileWriter::new(file, schema, props).map_err(bad)?;
        Ok(ParquetRows { path: path.into(), writer, group: Vec::new() })
    }

    pub fn push(&mut self, row: Row) -> Result<(), EvalError> {
        self.group.push(row);
        if self.group.len() >= GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), EvalError> {
        if self.group.is_empty() {
            return Ok(());
        }
        let bad = |e: parquet::errors::ParquetError| EvalError::Parquet { path: self.path.clone(), why: e.to_string() };
        let rows = std::mem::take(&mut self.group);
        let mut group = self.writer.next_row_group().map_err(bad)?;
        let mut column = 0;
        while let Some(mut col) = group.next_column().map_err(bad)? {
            let int = |f: &dyn Fn(&Row) -> u64| rows.iter().map(|r| f(r) as i64).collect::<Vec<i64>>();
            let text = |f: &dyn Fn(&Row) -> String| {
                rows.iter().map(|r| ByteArray::from(f(r).into_bytes())).collect::<Vec<_>>()
            };
            // An optional column: its values where present, and a definition level per row.
            fn optional<T: Copy>(values: impl Iterator<Item = Option<T>>) -> (Vec<T>, Vec<i16>) {
                let (mut present, mut levels) = (Vec::new(), Vec::new());
                for v in values {
                    levels.push(i16::from(v.is_some()));
                    present.extend(v);
                }
                (present, levels)
            }
            let written = match column {
                0 => col.typed::<Int64Type>().write_batch(&int(&|r| r.doc), None, None),
                1 => col.typed::<ByteArrayType>().write_batch(&text(&|r| r.golfer.clone()), None, None),
                2 => col.typed::<Int64Type>().write_batch(&int(&|r| r.bytes), None, None),
                3 => {
                    col.typed::<DoubleType>().write_batch(&rows.iter().map(|r| r.bits).collect::<Vec<_>>(), None, None)
                }
                4 => {
                    let (v, l) = optional(rows.iter().map(|r| r.bpb));
                    col.typed::<DoubleType>().write_batch(&v, Some(&l), None)
                }
                5 | 6 => {
                    let pick = |r: &Row| if column == 5 { r.tokens } else { r.golf_bytes };
                    let (v, l) = optional(rows.iter().map(|r| pick(r).map(|x| x as i64)));
                    col.typed::<Int64Type>().write_batch(&v, Some(&l), None)
                }
                7 => {
                    let (v, l) = optional(rows.iter().map(|r| r.golf_bpb));
                    col.typed::<DoubleType>().write_batch(&v, Some(&l), None)
                }
                8 => col.typed::<DoubleType>().write_batch(
                    &rows.iter().map(|r| r.seconds).collect::<Vec<_>>(),
                    None,
                    None,
                ),
                _ => col.typed::<ByteArrayType>().write_batch(
                    &text(&|r| Value::Object(r.meta.clone()).to_string()),
                    None,
                    None,
                ),
            };
            written.map_err(bad)?;
            col.close().map_err(bad)?;
            column += 1;
        }
        group.close().map_err(bad)?;
        Ok(())
    }

    /// Writes what is left and the file's footer.
    pub fn finish(mut self) -> Result<(), EvalError> {
        self.flush()?;
        let path = self.path.clone();
        self.writer.close().map_err(|e| EvalError::Parquet { path, why: e.to_string() })?;
        Ok(())
    }
}
