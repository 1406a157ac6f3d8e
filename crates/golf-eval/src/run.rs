//! A run over a document set: the documents in shards of a fixed number, each scored by every golfer and written
//! (whole, by a rename) as it finishes, with a checksum of its inputs; a run started again in the same folder
//! keeps every shard whose inputs are unchanged and scores the rest. At the end the shards become the results
//! (`documents.jsonl`, `documents.parquet`) and the summary (`summary.json`), read back from the shards' files,
//! so a resumed run writes what an uninterrupted one does.
//!
//! The folder: `run.json` (the golfers and options: another run's folder is refused), `shards/NNNNNN.jsonl` (a
//! header line, then a row per document and golfer), and the results.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::corpus::{Corpus, Document};
use crate::results::{ParquetRows, Row};
use crate::score::{GolferMeta, Scorer};
use crate::stats::{summarize, Scores, Summary};
use crate::EvalError;

/// How a run is cut and summarized.
#[derive(Clone, Debug)]
pub struct Plan {
    pub out: PathBuf,
    /// Documents per shard: the most a crash loses, and what is held in memory at once.
    pub shard_docs: usize,
    pub resamples: usize,
    pub seed: u64,
    /// The score options, as recorded (a change makes it another run).
    pub options: Value,
}

/// The options a run records (its `Plan::options`): gzip's method (as `golf_gzip::Method` prints it) and the score
/// options, the same from the CLI and from Python, so either can go on with a run the other began.
pub fn recorded_options(gzip_method: &str, options: &golf_engine::ScoreOptions) -> Value {
    serde_json::json!({ "gzip_method": gzip_method, "score": options })
}

/// The run's record (`run.json`): what its shards were scored with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    golfers: Vec<GolferMeta>,
    options: Value,
    shard_docs: usize,
}

/// A shard file's first line.
#[derive(Debug, Serialize, Deserialize)]
struct ShardHead {
    shard: usize,
    /// sha256 of the run's record and the shard's documents (their texts and metadata).
    inputs: String,
    documents: usize,
}

/// How far a run is, after each document.
#[derive(Clone, Debug)]
pub struct Progress {
    pub shard: usize,
    pub shards: usize,
    pub documents_done: u64,
    pub documents: u64,
    /// Documents kept from an earlier run's shards.
    pub kept: u64,
}

/// What a run wrote.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    pub shards: usize,
    /// Shards kept from an earlier run and shards scored now.
    pub kept: usize,
    pub scored: usize,
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> EvalError + '_ {
    move |source| EvalError::Write { path: path.into(), source }
}

/// Writes `path` whole or not at all: into a file beside it, then renamed over it.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), EvalError> {
    let tmp = partial(path);
    let file = std::fs::File::create(&tmp).map_err(write_err(&tmp))?;
    let mut out = BufWriter::new(file);
    write(&mut out).map_err(write_err(&tmp))?;
    let file = out.into_inner().map_err(|e| EvalError::Write { path: tmp.clone(), source: e.into_error() })?;
    file.sync_all().map_err(write_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(write_err(path))
}

/// Where `path` is written before it is complete: `NAME.partial` beside it.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn shard_path(out: &Path, shard: usize) -> PathBuf {
    out.join("shards").join(format!("{shard:06}.jsonl"))
}

/// The checksum of a shard's inputs: the run's record, then each document's place, metadata and text.
fn inputs_checksum(record: &Record, docs: &[Document]) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(record).unwrap_or_default());
    for d in docs {
        h.update(d.index.to_le_bytes());
        let meta = Value::Object(d.meta.clone()).to_string();
        h.update((meta.len() as u64).to_le_bytes());
        h.update(meta.as_bytes());
        h.update((d.text.len() as u64).to_le_bytes());
        h.update(d.text.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The head line of the shard file at `path`, if it is a complete shard's.
fn shard_head(path: &Path) -> Option<ShardHead> {
    let file = std::fs::File::open(path).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(file).read_line(&mut line).ok()?;
    serde_json::from_str(&line).ok()
}

/// The rows of the shard file at `path`.
fn shard_rows(path: &Path) -> Result<Vec<Row>, EvalError> {
    let file = std::fs::File::open(path).map_err(|source| EvalError::Read { path: path.into(), source })?;
    let mut rows = Vec::new();
    for (k, line) in std::io::BufReader::new(file).lines().enumerate().skip(1) {
        let line = line.map_err(|source| EvalError::Read { path: path.into(), source })?;
        let row = serde_json::from_str(&line).map_err(|e| EvalError::BadCorpus {
            path: path.into(),
            why: format!("line {}: not a results row ({e}); delete the file to score its shard again", k + 1),
        })?;
        rows.push(row);
    }
    Ok(rows)
}

/// Scores `docs` with every golfer of `scorer`: a row per document and golfer, golfers in their order; `None`
/// when `stop` was set before the last document.
pub fn score_shard(
    scorer: &mut dyn Scorer,
    docs: &[Document],
    stop: &AtomicBool,
    mut after_doc: impl FnMut(),
) -> Result<Option<Vec<Row>>, EvalError> {
    let golfers: Vec<GolferMeta> = scorer.golfers().to_vec();
    let mut rows = Vec::with_capacity(docs.len() * golfers.len());
    for d in docs {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        for (g, meta) in golfers.iter().enumerate() {
            let row = if d.text.is_empty() {
                // Nothing to score: no bits, and no bits per byte.
                Row {
                    doc: d.index,
                    golfer: meta.id.clone(),
                    bytes: 0,
                    bits: 0.0,
                    bpb: None,
                    tokens: None,
                    golf_bytes: None,
                    golf_bpb: None,
                    seconds: 0.0,
                    meta: d.meta.clone(),
                }
            } else {
                let s = scorer.score(g, &d.text).map_err(|why| EvalError::Score {
                    doc: d.index,
                    golfer: meta.id.clone(),
                    why,
                })?;
                Row {
                    doc: d.index,
                    golfer: meta.id.clone(),
                    bytes: s.bytes,
                    bits: s.bits,
                    bpb: (s.bytes > 0).then(|| s.bits / s.bytes as f64),
                    tokens: s.tokens,
                    golf_bytes: s.golf_bytes,
                    golf_bpb: s.golf_bpb,
                    seconds: s.seconds,
                    meta: d.meta.clone(),
                }
            };
            rows.push(row);
        }
        after_doc();
    }
    Ok(Some(rows))
}

/// Counts the documents of `corpus` (a first pass: the progress has a total).
pub fn count_documents(corpus: &Corpus) -> Result<u64, EvalError> {
    let mut n = 0;
    for d in corpus.documents()? {
        d?;
        n += 1;
    }
    Ok(n)
}

/// A run's folder, open: its record checked (or written), its documents counted. The steps of a run, for any
/// scheduler: [`run`] takes them in order on one machine; the Python package's Ray driver hands shards to actors.
pub struct Run {
    out: PathBuf,
    record: Record,
    documents: u64,
    resamples: usize,
    seed: u64,
}

/// A shard to score: its place, its inputs' checksum and its documents.
pub struct Shard {
    pub index: usize,
    pub inputs: String,
    pub documents: Vec<Document>,
}

impl Run {
    /// Opens `plan.out` for `golfers` over `corpus`: another run's folder is refused, naming the difference.
    pub fn open(corpus: &Corpus, golfers: Vec<GolferMeta>, plan: &Plan) -> Result<Run, EvalError> {
        for (k, g) in golfers.iter().enumerate() {
            if golfers[..k].iter().any(|h| h.id == g.id) {
                return Err(EvalError::SameGolferTwice { id: g.id.clone() });
            }
        }
        let out = &plan.out;
        let shard_docs = plan.shard_docs.max(1);
        std::fs::create_dir_all(out.join("shards")).map_err(write_err(out))?;
        let record = Record { golfers, options: plan.options.clone(), shard_docs };
        let record_path = out.join("run.json");
        match std::fs::read(&record_path) {
            Ok(bytes) => {
                let earlier: Record = serde_json::from_slice(&bytes).map_err(|e| EvalError::OtherRun {
                    out: out.clone(),
                    why: format!("its run.json is not one: {e}"),
                })?;
                if earlier != record {
                    return Err(EvalError::OtherRun { out: out.clone(), why: difference(&earlier, &record) });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = serde_json::to_string_pretty(&record).unwrap_or_default();
                write_atomically(&record_path, |w| writeln!(w, "{text}"))?;
            }
            Err(source) => return Err(EvalError::Read { path: record_path, source }),
        }
        let documents = count_documents(corpus)?;
        if documents == 0 {
            return Err(EvalError::BadCorpus { path: corpus.path().into(), why: "it holds no documents".into() });
        }
        Ok(Run { out: out.clone(), record, documents, resamples: plan.resamples, seed: plan.seed })
    }

    pub fn documents(&self) -> u64 {
        self.documents
    }

    pub fn shards(&self) -> usize {
        self.documents.div_ceil(self.record.shard_docs as u64) as usize
    }

    pub fn shard_docs(&self) -> usize {
        self.record.shard_docs
    }

    /// Shard `index` of `documents` (the next `shard_docs` of the set), with its inputs' checksum.
    pub fn shard(&self, index: usize, documents: Vec<Document>) -> Shard {
        let inputs = inputs_checksum(&self.record, &documents);
        Shard { index, inputs, documents }
    }

    /// Whether an earlier run finished `shard` with the same inputs.
    pub fn is_done(&self, shard: &Shard) -> bool {
        shard_head(&shard_path(&self.out, shard.index))
            .is_some_and(|h| h.inputs == shard.inputs && h.documents == shard.documents.len())
    }

    /// Writes `shard`'s rows, whole.
    pub fn write_shard(&self, shard: &Shard, rows: &[Row]) -> Result<(), EvalError> {
        let head = ShardHead { shard: shard.index, inputs: shard.inputs.clone(), documents: shard.documents.len() };
        write_atomically(&shard_path(&self.out, shard.index), |w| {
            serde_json::to_writer(&mut *w, &head)?;
            writeln!(w)?;
            for row in rows {
                serde_json::to_writer(&mut *w, row)?;
                writeln!(w)?;
            }
            Ok(())
        })
    }

    /// The results and the summary, from every shard's file (each must be written).
    pub fn finish(&self) -> Result<Summary, EvalError> {
        merge(&self.out, self.shards(), &self.record.golfers, self.resamples, self.seed)
    }
}

/// What differs between two runs' records, in words.
fn difference(earlier: &Record, now: &Record) -> String {
    if earlier.golfers != now.golfers {
        let ids = |r: &Record| r.golfers.iter().map(|g| g.id.clone()).collect::<Vec<_>>().join(", ");
        format!("golfers {} there, {} now (or their models changed)", ids(earlier), ids(now))
    } else if earlier.shard_docs != now.shard_docs {
        format!("{} documents a shard there, {} now", earlier.shard_docs, now.shard_docs)
    } else {
        format!("options {} there, {} now", earlier.options, now.options)
    }
}

/// Runs `plan` over `corpus` with `scorer`, keeping the shards an earlier run in `plan.out` finished with the same
/// inputs; `stop` (set by Ctrl-C) ends it after the document in progress, the finished shards kept.
pub fn run(
    corpus: &Corpus,
    scorer: &mut dyn Scorer,
    plan: &Plan,
    stop: &AtomicBool,
    mut progress: impl FnMut(&Progress),
) -> Result<Outcome, EvalError> {
    let run = Run::open(corpus, scorer.golfers().to_vec(), plan)?;
    let shards = run.shards();
    let mut docs = corpus.documents()?;
    let (mut kept, mut scored) = (0, 0);
    let mut state = Progress { shard: 0, shards, documents_done: 0, documents: run.documents(), kept: 0 };
    for index in 0..shards {
        state.shard = index;
        let batch: Vec<Document> = docs.by_ref().take(run.shard_docs()).collect::<Result<_, _>>()?;
        let shard = run.shard(index, batch);
        let n = shard.documents.len() as u64;
        if run.is_done(&shard) {
            kept += 1;
            state.documents_done += n;
            state.kept += n;
            progress(&state);
            continue;
        }
        let rows = score_shard(scorer, &shard.documents, stop, || {
            state.documents_done += 1;
            progress(&state);
        })?;
        let Some(rows) = rows else {
            return Err(EvalError::Interrupted { done: kept + scored, total: shards });
        };
        run.write_shard(&shard, &rows)?;
        scored += 1;
    }
    let summary = run.finish()?;
    Ok(Outcome { summary, shards, kept, scored })
}

/// The run's results from its shards' files, in order: `documents.jsonl`, `documents.parquet`, `summary.json`.
/// Shard files past the last (an earlier run over a longer set) are removed.
fn merge(out: &Path, shards: usize, golfers: &[GolferMeta], resamples: usize, seed: u64) -> Result<Summary, EvalError> {
    let jsonl_path = out.join("documents.jsonl");
    let parquet_path = out.join("documents.parquet");
    let parquet_tmp = partial(&parquet_path);
    let mut parquet = ParquetRows::create(&parquet_tmp)?;
    let mut per_golfer: Vec<Vec<(u64, f64)>> = vec![Vec::new(); golfers.len()];
    write_atomically(&jsonl_path, |w| {
        for shard in 0..shards {
            let rows = shard_rows(&shard_path(out, shard)).map_err(std::io::Error::other)?;
            for row in rows {
                if let Some(g) = golfers.iter().position(|g| g.id == row.golfer) {
                    per_golfer[g].push((row.bytes, row.bits));
                }
                serde_json::to_writer(&mut *w, &row)?;
                writeln!(w)?;
                parquet.push(row).map_err(std::io::Error::other)?;
            }
        }
        Ok(())
    })?;
    parquet.finish()?;
    std::fs::rename(&parquet_tmp, &parquet_path).map_err(write_err(&parquet_path))?;
    // An earlier run's shards past this set's end.
    let mut extra = shards;
    while shard_path(out, extra).exists() {
        let path = shard_path(out, extra);
        std::fs::remove_file(&path).map_err(write_err(&path))?;
        extra += 1;
    }
    let scores: Vec<Scores> = golfers.iter().zip(&per_golfer).map(|(g, docs)| Scores { golfer: &g.id, docs }).collect();
    let summary = summarize(&scores, resamples, seed, 0.95);
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    write_atomically(&out.join("summary.json"), |w| writeln!(w, "{text}"))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::DocScore;

    /// A stand-in golfer for the bookkeeping: a document's bits are a function of its text, and it counts its calls
    /// (and sets `stop` after `stop_after` of them, as Ctrl-C would).
    struct Fake<'a> {
        golfers: Vec<GolferMeta>,
        calls: usize,
        stop_after: Option<(usize, &'a AtomicBool)>,
    }

    impl<'a> Fake<'a> {
        fn new(stop_after: Option<(usize, &'a AtomicBool)>) -> Fake<'a> {
            let g = |id: &str| GolferMeta { id: id.into(), label: id.into(), identity: id.into() };
            Fake { golfers: vec![g("a"), g("b")], calls: 0, stop_after }
        }
    }

    impl Scorer for Fake<'_> {
        fn golfers(&self) -> &[GolferMeta] {
            &self.golfers
        }
        fn score(&mut self, golfer: usize, text: &str) -> Result<DocScore, String> {
            self.calls += 1;
            if let Some((n, stop)) = self.stop_after {
                if self.calls >= n {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            if text == "refuse" {
                return Err("cannot spell it".into());
            }
            let bytes = text.len() as u64;
            let bits = bytes as f64 * (1.0 + golfer as f64) + text.bytes().map(f64::from).sum::<f64>() / 1000.0;
            Ok(DocScore { bytes, bits, tokens: Some(bytes / 2), golf_bytes: None, golf_bpb: None, seconds: 0.0 })
        }
    }

    fn corpus(dir: &Path, texts: &[&str]) -> Corpus {
        let path = dir.join("set.jsonl");
        let lines: Vec<String> =
            texts.iter().enumerate().map(|(k, t)| serde_json::json!({"text": t, "n": k}).to_string()).collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        Corpus::Jsonl(path)
    }

    fn plan(out: &Path) -> Plan {
        Plan { out: out.into(), shard_docs: 2, resamples: 100, seed: 3, options: Value::Null }
    }

    fn texts() -> Vec<String> {
        (0..7).map(|k| if k == 3 { String::new() } else { format!("document {k} {}", "x".repeat(k * 5)) }).collect()
    }

    #[test]
    fn an_interrupted_run_goes_on_and_writes_what_an_uninterrupted_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let texts = texts();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let set = corpus(dir.path(), &texts);
        let never = AtomicBool::new(false);
        let whole = dir.path().join("whole");
        let mut fake = Fake::new(None);
        let one = run(&set, &mut fake, &plan(&whole), &never, |_| {}).unwrap();
        assert_eq!((one.shards, one.kept, one.scored), (4, 0, 4));
        // An empty document is not scored: 6 documents of 7, two golfers.
        assert_eq!(fake.calls, 12);

        let halves = dir.path().join("halves");
        let stop = AtomicBool::new(false);
        let mut stopping = Fake::new(Some((5, &stop)));
        let err = run(&set, &mut stopping, &plan(&halves), &stop, |_| {}).unwrap_err();
        assert!(matches!(err, EvalError::Interrupted { done: 1, total: 4 }), "{err}");
        let mut fake = Fake::new(None);
        let again = run(&set, &mut fake, &plan(&halves), &never, |_| {}).unwrap();
        assert_eq!((again.kept, again.scored), (1, 3));
        for file in ["documents.jsonl", "summary.json"] {
            assert_eq!(std::fs::read(whole.join(file)).unwrap(), std::fs::read(halves.join(file)).unwrap(), "{file}");
        }
        assert_eq!(one.summary, again.summary);

        // Started once more: every shard kept, nothing scored.
        let mut fake = Fake::new(None);
        let third = run(&set, &mut fake, &plan(&halves), &never, |_| {}).unwrap();
        assert_eq!((third.kept, third.scored, fake.calls), (4, 0, 0));
    }

    #[test]
    fn a_changed_document_is_scored_again_and_a_shorter_set_drops_the_shards_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let never = AtomicBool::new(false);
        let out = dir.path().join("out");
        let set = corpus(dir.path(), &["a", "b", "c", "d", "e"]);
        run(&set, &mut Fake::new(None), &plan(&out), &never, |_| {}).unwrap();
        let set = corpus(dir.path(), &["a", "b", "C", "d"]);
        let mut fake = Fake::new(None);
        let o = run(&set, &mut fake, &plan(&out), &never, |_| {}).unwrap();
        assert_eq!((o.shards, o.kept, o.scored, fake.calls), (2, 1, 1, 4));
        assert!(!shard_path(&out, 2).exists());
        let rows = std::fs::read_to_string(out.join("documents.jsonl")).unwrap();
        assert_eq!(rows.lines().count(), 8);
    }

    #[test]
    fn another_runs_folder_and_a_refused_document_are_said() {
        let dir = tempfile::tempdir().unwrap();
        let never = AtomicBool::new(false);
        let out = dir.path().join("out");
        let set = corpus(dir.path(), &["a", "refuse"]);
        let err = run(&set, &mut Fake::new(None), &plan(&out), &never, |_| {}).unwrap_err();
        assert_eq!(err.to_string(), "document 1 (a): cannot spell it");
        let empty = corpus(&dir.path().join("out"), &[]);
        let err = run(&empty, &mut Fake::new(None), &plan(&dir.path().join("none")), &never, |_| {}).unwrap_err();
        assert!(err.to_string().ends_with("set.jsonl: it holds no documents"), "{err}");
        let mut twice = Fake::new(None);
        twice.golfers[1].id = "a".into();
        let err = run(&set, &mut twice, &plan(&dir.path().join("twice")), &never, |_| {}).unwrap_err();
        assert!(matches!(err, EvalError::SameGolferTwice { .. }), "{err}");
        let other = Plan { shard_docs: 3, ..plan(&out) };
        let err = run(&set, &mut Fake::new(None), &other, &never, |_| {}).unwrap_err();
        assert!(err.to_string().contains("2 documents a shard there, 3 now"), "{err}");
    }
}
