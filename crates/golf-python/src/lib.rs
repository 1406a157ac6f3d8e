//! `four_golfers._native`: the golfers and `golf eval` for Python. The typed, documented front is the Python
//! package around it (`python/four_golfers/__init__.py`); errors reach Python as exceptions carrying the Rust
//! message.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use golf_core::{per_byte_bits, Golfer};
use golf_engine::{AnyGolfer, Engine, ScoreOptions};
use golf_eval::corpus::{Corpus, Document, Documents};
use golf_eval::results::Row;
use golf_eval::run::{recorded_options, run, score_shard, Plan, Run, Shard};
use golf_eval::score::{score_once, EngineScorer, GolferMeta, Scorer};
use golf_eval::EvalError;
use golf_gzip::{Dry, GzipGolfer, Method};
use golf_onnx::Estimator;
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

pyo3::create_exception!(
    four_golfers,
    GolfError,
    PyException,
    "A golfer or an evaluation refused its input (the message says what and what to do)."
);

fn golf_err(e: impl std::fmt::Display) -> PyErr {
    GolfError::new_err(e.to_string())
}

fn eval_err(e: EvalError) -> PyErr {
    match &e {
        EvalError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(e.to_string())
        }
        EvalError::UnknownCorpus { .. } | EvalError::NeedsTokenizer { .. } => PyValueError::new_err(e.to_string()),
        _ => golf_err(e),
    }
}

fn method(name: &str) -> PyResult<Method> {
    match name {
        "exact" => Ok(Method::Exact),
        "marginal" => Ok(Method::Marginal),
        other => Err(PyValueError::new_err(format!("gzip's method is \"exact\" or \"marginal\", not {other:?}"))),
    }
}

fn estimator(name: &str, steps: usize, seed: u64) -> PyResult<Estimator> {
    match name {
        "confidence" => Ok(Estimator::Confidence),
        "l2r" => Ok(Estimator::LeftToRight),
        "nelbo" if steps == 0 => Err(PyValueError::new_err("NELBO needs at least one masking rate (steps >= 1)")),
        "nelbo" => Ok(Estimator::Nelbo { steps, seed }),
        other => {
            Err(PyValueError::new_err(format!("the estimator is \"confidence\", \"l2r\" or \"nelbo\", not {other:?}")))
        }
    }
}

fn options(stride: Option<usize>, estimator_name: &str, steps: usize, mask_seed: u64) -> PyResult<ScoreOptions> {
    if stride == Some(0) {
        return Err(PyValueError::new_err("stride is a number of tokens: at least 1"));
    }
    Ok(ScoreOptions {
        popovers: false,
        stride,
        estimator: Some(estimator(estimator_name, steps, mask_seed)?),
        max_tokens: None,
    })
}

/// A run's plan from Python's arguments, checked: at least one golfer, a document a shard, a bootstrap draw; the
/// options recorded as the CLI records them.
fn plan(
    out: PathBuf,
    golfers: usize,
    shard_docs: usize,
    resamples: usize,
    seed: u64,
    gzip_method: &str,
    options: &ScoreOptions,
) -> PyResult<Plan> {
    if golfers == 0 {
        return Err(PyValueError::new_err("no golfers: give at least one"));
    }
    if shard_docs == 0 || resamples == 0 {
        return Err(PyValueError::new_err("shard_docs and resamples are at least 1"));
    }
    let options = recorded_options(&format!("{:?}", method(gzip_method)?), options);
    Ok(Plan { out, shard_docs, resamples, seed, options })
}

/// A golfer: gzip, or the one of a model folder.
fn load(spec: &str, folder: Option<PathBuf>, gzip_method: &str) -> PyResult<AnyGolfer> {
    match (spec, folder) {
        ("gzip", None) => Ok(AnyGolfer::Gzip(Rc::new(GzipGolfer::new(method(gzip_method)?, Dry::default())))),
        (_, Some(dir)) => {
            if !dir.join("golfer.json").is_file() {
                return Err(PyFileNotFoundError::new_err(format!(
                    "{} is not a model folder (it has no golfer.json)",
                    dir.display()
                )));
            }
            golf_core::block_on(golf_engine::load_folder(&dir))
                .map_err(|e| golf_err(format!("cannot load the model folder {}: {e}", dir.display())))
        }
        (other, None) => Err(PyValueError::new_err(format!("{other:?} needs a model folder"))),
    }
}

/// One golfer, loaded once, on an engine of its own.
#[pyclass(unsendable)]
struct NativeGolfer {
    engine: Engine<AnyGolfer>,
    id: String,
    info: golf_core::GolferInfo,
}

#[pymethods]
impl NativeGolfer {
    /// `spec` "gzip" (with `gzip_method`) or any name with `folder`, a model folder.
    #[new]
    #[pyo3(signature = (spec, folder=None, gzip_method="exact"))]
    fn new(spec: &str, folder: Option<PathBuf>, gzip_method: &str) -> PyResult<NativeGolfer> {
        let golfer = load(spec, folder, gzip_method)?;
        let info = golfer.info();
        let mut engine = Engine::new(|| 0.0);
        engine.insert(info.id.clone(), golfer);
        Ok(NativeGolfer { engine, id: info.id.clone(), info })
    }

    /// id, label, about, params, model_bytes.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("id", &self.info.id)?;
        d.set_item("label", &self.info.label)?;
        d.set_item("about", &self.info.about)?;
        d.set_item("params", self.info.params)?;
        d.set_item("model_bytes", self.info.model_bytes)?;
        Ok(d)
    }

    /// The text's totals, and its per-byte bits as little-endian float64 bytes (`per_byte`).
    #[pyo3(signature = (text, stride=None, estimator="confidence", steps=64, mask_seed=0))]
    fn score<'py>(
        &mut self,
        py: Python<'py>,
        text: &str,
        stride: Option<usize>,
        estimator: &str,
        steps: usize,
        mask_seed: u64,
    ) -> PyResult<Bound<'py, PyDict>> {
        if text.is_empty() {
            return Err(PyValueError::new_err("Nothing to score: the text is empty"));
        }
        let options = options(stride, estimator, steps, mask_seed)?;
        let (summary, spans) =
            score_once(&mut self.engine, &self.id, text.as_bytes(), &options, true).map_err(golf_err)?;
        let per_byte = per_byte_bits(&spans, text.len());
        let bytes: Vec<u8> = per_byte.iter().flat_map(|b| b.to_le_bytes()).collect();
        let d = PyDict::new(py);
        d.set_item("bits", summary.bits)?;
        d.set_item("bytes", summary.bytes)?;
        d.set_item("bpb", summary.bpb)?;
        let report = summary.report.as_ref();
        d.set_item("tokens", report.map(|r| r.tokens))?;
        let golf = report.filter(|r| r.golf_count);
        d.set_item("golf_bytes", golf.map(|r| r.golf_bytes))?;
        d.set_item("golf_bpb", golf.map(|r| r.golf_bpb))?;
        d.set_item("method", summary.method.as_deref())?;
        d.set_item("per_byte", PyBytes::new(py, &bytes))?;
        Ok(d)
    }
}

/// `golf eval`: `golfers` as (name, model folder or None for gzip); returns the summary as JSON. `progress`, if
/// given, is called with a dict after each document; Ctrl-C stops after the document in progress.
#[pyfunction]
#[pyo3(signature = (corpus, out, golfers, tokenizer=None, shard_docs=64, resamples=1000, seed=0, gzip_method="exact",
                    stride=None, estimator="confidence", steps=64, mask_seed=0, progress=None))]
#[allow(clippy::too_many_arguments)]
fn evaluate(
    py: Python<'_>,
    corpus: PathBuf,
    out: PathBuf,
    golfers: Vec<(String, Option<PathBuf>)>,
    tokenizer: Option<PathBuf>,
    shard_docs: usize,
    resamples: usize,
    seed: u64,
    gzip_method: &str,
    stride: Option<usize>,
    estimator: &str,
    steps: usize,
    mask_seed: u64,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let options = options(stride, estimator, steps, mask_seed)?;
    let plan = plan(out, golfers.len(), shard_docs, resamples, seed, gzip_method, &options)?;
    let set = Corpus::at(&corpus, tokenizer.as_deref()).map_err(eval_err)?;
    let loaded =
        golfers.into_iter().map(|(name, folder)| load(&name, folder, gzip_method)).collect::<PyResult<Vec<_>>>()?;
    let mut scorer = EngineScorer::new(loaded, options);
    let stop = AtomicBool::new(false);
    let mut raised: Option<PyErr> = None;
    let result = run(&set, &mut scorer, &plan, &stop, |p| {
        if raised.is_some() {
            return;
        }
        // Python's own signal handlers (Ctrl-C) run here, between documents.
        if let Err(e) = py.check_signals() {
            stop.store(true, Ordering::Relaxed);
            raised = Some(e);
            return;
        }
        if let Some(cb) = &progress {
            let d = PyDict::new(py);
            let fields = [
                ("shard", p.shard as u64),
                ("shards", p.shards as u64),
                ("documents_done", p.documents_done),
                ("documents", p.documents),
                ("kept", p.kept),
            ];
            let call =
                fields.iter().try_for_each(|(k, v)| d.set_item(k, v)).and_then(|_| cb.call1(py, (d,)).map(|_| ()));
            if let Err(e) = call {
                stop.store(true, Ordering::Relaxed);
                raised = Some(e);
            }
        }
    });
    match (result, raised) {
        (Err(EvalError::Interrupted { .. }), Some(e)) => Err(e),
        (Err(e @ EvalError::Interrupted { .. }), None) => Err(PyKeyboardInterrupt::new_err(e.to_string())),
        (Err(e), _) => Err(eval_err(e)),
        (Ok(outcome), _) => serde_json::to_string(&outcome.summary).map_err(golf_err),
    }
}

/// A document as it travels between a driver and its workers: (place, text, metadata as JSON).
type WireDoc = (u64, String, String);

fn to_wire(d: &Document) -> WireDoc {
    (d.index, d.text.clone(), serde_json::Value::Object(d.meta.clone()).to_string())
}

fn from_wire((index, text, meta): WireDoc) -> PyResult<Document> {
    match serde_json::from_str(&meta) {
        Ok(serde_json::Value::Object(meta)) => Ok(Document { index, text, meta }),
        _ => Err(PyValueError::new_err(format!("document {index}: its metadata is not a JSON object"))),
    }
}

/// The golfers' records without loading a model: gzip's from its code, the others' from their golfer.json.
fn metas(golfers: &[(String, Option<PathBuf>)], gzip_method: &str) -> PyResult<Vec<GolferMeta>> {
    golfers
        .iter()
        .map(|(name, folder)| match (name.as_str(), folder) {
            ("gzip", None) => Ok(GolferMeta::of(GzipGolfer::new(method(gzip_method)?, Dry::default()).info(), None)),
            (_, Some(dir)) => GolferMeta::of_folder(dir).map_err(eval_err),
            (other, None) => Err(PyValueError::new_err(format!("{other:?} needs a model folder"))),
        })
        .collect()
}

fn metas_json(metas: &[GolferMeta]) -> String {
    serde_json::to_string(metas).unwrap_or_default()
}

/// A run's folder on a driver that hands shards to workers elsewhere (four_golfers.ray): the shards still to
/// score, a shard's rows written whole as they come back, then the results. No model is loaded here.
#[pyclass(unsendable)]
struct RunFolder {
    run: Run,
    docs: Documents,
    next: usize,
    kept: usize,
    metas: Vec<GolferMeta>,
    /// Shards handed out and not written yet, by place.
    out_now: std::collections::HashMap<usize, Shard>,
}

#[pymethods]
impl RunFolder {
    #[new]
    #[pyo3(signature = (corpus, out, golfers, tokenizer=None, shard_docs=64, resamples=1000, seed=0,
                        gzip_method="exact", stride=None, estimator="confidence", steps=64, mask_seed=0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        corpus: PathBuf,
        out: PathBuf,
        golfers: Vec<(String, Option<PathBuf>)>,
        tokenizer: Option<PathBuf>,
        shard_docs: usize,
        resamples: usize,
        seed: u64,
        gzip_method: &str,
        stride: Option<usize>,
        estimator: &str,
        steps: usize,
        mask_seed: u64,
    ) -> PyResult<RunFolder> {
        let options = options(stride, estimator, steps, mask_seed)?;
        let plan = plan(out, golfers.len(), shard_docs, resamples, seed, gzip_method, &options)?;
        let set = Corpus::at(&corpus, tokenizer.as_deref()).map_err(eval_err)?;
        let metas = metas(&golfers, gzip_method)?;
        let run = Run::open(&set, metas.clone(), &plan).map_err(eval_err)?;
        let docs = set.documents().map_err(eval_err)?;
        Ok(RunFolder { run, docs, next: 0, kept: 0, metas, out_now: Default::default() })
    }

    fn documents(&self) -> u64 {
        self.run.documents()
    }

    fn shards(&self) -> usize {
        self.run.shards()
    }

    /// Shards an earlier run finished (with the same inputs), passed over so far.
    fn kept(&self) -> usize {
        self.kept
    }

    /// The golfers' records, as JSON (a worker's must be the same).
    fn golfers(&self) -> String {
        metas_json(&self.metas)
    }

    /// The next shard still to score, as (place, documents), or None when there is none left.
    fn next_shard(&mut self) -> PyResult<Option<(usize, Vec<WireDoc>)>> {
        while self.next < self.run.shards() {
            let index = self.next;
            self.next += 1;
            let batch: Vec<Document> =
                self.docs.by_ref().take(self.run.shard_docs()).collect::<Result<_, _>>().map_err(eval_err)?;
            let shard = self.run.shard(index, batch);
            if self.run.is_done(&shard) {
                self.kept += 1;
                continue;
            }
            let wire = shard.documents.iter().map(to_wire).collect();
            self.out_now.insert(index, shard);
            return Ok(Some((index, wire)));
        }
        Ok(None)
    }

    /// Writes shard `index`'s rows (JSONL, as a worker's `score` gives them), whole; each of its documents must
    /// have a row per golfer, once.
    fn write_shard(&mut self, index: usize, rows: &str) -> PyResult<()> {
        let shard = self
            .out_now
            .get(&index)
            .ok_or_else(|| PyValueError::new_err(format!("shard {index} was not handed out")))?;
        let rows: Vec<Row> = rows
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| golf_err(format!("shard {index}: a row is not one ({e})")))?;
        let expected: Vec<(u64, &str)> =
            shard.documents.iter().flat_map(|d| self.metas.iter().map(move |g| (d.index, g.id.as_str()))).collect();
        let got: Vec<(u64, &str)> = rows.iter().map(|r| (r.doc, r.golfer.as_str())).collect();
        if got != expected {
            return Err(golf_err(format!(
                "shard {index}: {} rows came back for {} documents and {} golfers, not a row per document and golfer",
                rows.len(),
                shard.documents.len(),
                self.metas.len()
            )));
        }
        self.run.write_shard(shard, &rows).map_err(eval_err)?;
        self.out_now.remove(&index);
        Ok(())
    }

    /// The results and the summary (JSON), once every shard is written.
    fn finish(&self) -> PyResult<String> {
        if let Some(k) = self.out_now.keys().min() {
            return Err(golf_err(format!("shard {k} was handed out and never written")));
        }
        let summary = self.run.finish().map_err(eval_err)?;
        serde_json::to_string(&summary).map_err(golf_err)
    }
}

/// The golfers loaded once on a worker, scoring shards of documents into rows.
#[pyclass(unsendable)]
struct ShardScorer {
    scorer: EngineScorer,
}

#[pymethods]
impl ShardScorer {
    #[new]
    #[pyo3(signature = (golfers, gzip_method="exact", stride=None, estimator="confidence", steps=64, mask_seed=0, threads=0))]
    fn new(
        golfers: Vec<(String, Option<PathBuf>)>,
        gzip_method: &str,
        stride: Option<usize>,
        estimator: &str,
        steps: usize,
        mask_seed: u64,
        threads: usize,
    ) -> PyResult<ShardScorer> {
        // ONNX Runtime's threads for this worker (0: its own choice).
        golf_onnx::runtime::native::set_threads(threads);
        let loaded =
            golfers.into_iter().map(|(name, folder)| load(&name, folder, gzip_method)).collect::<PyResult<Vec<_>>>()?;
        Ok(ShardScorer { scorer: EngineScorer::new(loaded, options(stride, estimator, steps, mask_seed)?) })
    }

    fn golfers(&self) -> String {
        metas_json(self.scorer.golfers())
    }

    /// The rows of `docs` (a row per document and golfer), as JSONL.
    fn score(&mut self, docs: Vec<WireDoc>) -> PyResult<String> {
        let docs = docs.into_iter().map(from_wire).collect::<PyResult<Vec<_>>>()?;
        let never = AtomicBool::new(false);
        let rows = score_shard(&mut self.scorer, &docs, &never, || {}).map_err(eval_err)?.unwrap_or_default();
        let mut out = String::new();
        for row in &rows {
            out.push_str(&serde_json::to_string(row).map_err(golf_err)?);
            out.push('\n');
        }
        Ok(out)
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeGolfer>()?;
    m.add_class::<RunFolder>()?;
    m.add_class::<ShardScorer>()?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add("GolfError", m.py().get_type::<GolfError>())?;
    Ok(())
}
