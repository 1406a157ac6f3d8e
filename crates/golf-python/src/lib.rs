//! `four_golfers._native`: the golfers and `golf eval` for Python. The typed, documented front is the Python
//! package around it (`python/four_golfers/__init__.py`); errors reach Python as exceptions carrying the Rust
//! message.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use golf_core::{per_byte_bits, Golfer};
use golf_engine::{AnyGolfer, Engine, ScoreOptions};
use golf_eval::corpus::Corpus;
use golf_eval::run::{recorded_options, run, Plan};
use golf_eval::score::{score_once, EngineScorer};
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
    if golfers.is_empty() {
        return Err(PyValueError::new_err("no golfers: give at least one"));
    }
    if shard_docs == 0 || resamples == 0 {
        return Err(PyValueError::new_err("shard_docs and resamples are at least 1"));
    }
    let set = Corpus::at(&corpus, tokenizer.as_deref()).map_err(eval_err)?;
    let loaded =
        golfers.into_iter().map(|(name, folder)| load(&name, folder, gzip_method)).collect::<PyResult<Vec<_>>>()?;
    let options = options(stride, estimator, steps, mask_seed)?;
    let mut scorer = EngineScorer::new(loaded, options);
    let plan = Plan {
        out,
        shard_docs,
        resamples,
        seed,
        options: recorded_options(&format!("{:?}", method(gzip_method)?), scorer.options()),
    };
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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeGolfer>()?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add("GolfError", m.py().get_type::<GolfError>())?;
    Ok(())
}
