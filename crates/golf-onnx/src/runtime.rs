//! The one place that differs between native and the browser: creating a session and running it.
//! Natively, ONNX Runtime is the shared library from the PyPI `onnxruntime` package, loaded at run time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::Session;
use ort::value::{DynValue, Tensor};

use crate::OnnxError;

/// A value that stays in ONNX Runtime's memory between calls (the KV cache).
pub type Value = DynValue;

pub enum Input {
    I64 { shape: Vec<i64>, data: Vec<i64> },
    F32 { shape: Vec<i64>, data: Vec<f32> },
    Value(Value),
}

fn rt<E: std::fmt::Display>(e: E) -> OnnxError {
    OnnxError::Runtime(format!("ONNX Runtime: {e}"))
}

/// The process's ONNX Runtime environment (kept alive here: sessions only hold a weak reference).
static ENV: OnceLock<Result<(PathBuf, ort::environment::Environment), String>> = OnceLock::new();

/// Finds and loads ONNX Runtime once: `ORT_DYLIB_PATH`, else the onnxruntime wheel in the project's `.venv`.
pub fn init() -> Result<&'static ort::environment::Environment, OnnxError> {
    let env = ENV.get_or_init(|| {
        let path = find_library().ok_or_else(|| {
            "ONNX Runtime not found: set ORT_DYLIB_PATH to libonnxruntime.so.1.* from the PyPI onnxruntime package \
             (scripts/test.sh installs one into .venv)"
                .to_string()
        })?;
        let env = ort::init_from(&path)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime: {e}"))?;
        Ok((path, env))
    });
    env.as_ref()
        .map(|(_, e)| e)
        .map_err(|e| OnnxError::Runtime(e.clone()))
}

/// Where ONNX Runtime was loaded from, once loaded.
pub fn library_path() -> Option<&'static Path> {
    ENV.get()
        .and_then(|r| r.as_ref().ok())
        .map(|(p, _)| p.as_path())
}

fn find_library() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return Some(PathBuf::from(p));
    }
    let mut bases = vec![std::env::current_dir().ok()?];
    if let Ok(exe) = std::env::current_exe() {
        bases.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    bases.into_iter().find_map(|base| {
        let lib = base.join(".venv/lib");
        let py = std::fs::read_dir(&lib)
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("python3"))?;
        let capi = py.path().join("site-packages/onnxruntime/capi");
        let f = std::fs::read_dir(&capi).ok()?.flatten().find(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("libonnxruntime.so.1.")
        })?;
        Some(f.path())
    })
}

pub struct Model {
    session: Mutex<Session>,
}

pub struct Outputs {
    values: HashMap<String, DynValue>,
}

impl Outputs {
    fn get(&self, name: &str) -> Result<&DynValue, OnnxError> {
        self.values
            .get(name)
            .ok_or_else(|| OnnxError::Runtime(format!("the model has no output '{name}'")))
    }

    pub fn f32(&self, name: &str) -> Result<Vec<f32>, OnnxError> {
        Ok(self
            .get(name)?
            .try_extract_tensor::<f32>()
            .map_err(rt)?
            .1
            .to_vec())
    }

    pub fn i64(&self, name: &str) -> Result<Vec<i64>, OnnxError> {
        Ok(self
            .get(name)?
            .try_extract_tensor::<i64>()
            .map_err(rt)?
            .1
            .to_vec())
    }

    /// Takes an output to feed back as an input (it stays in the runtime).
    pub fn take(&mut self, name: &str) -> Result<Value, OnnxError> {
        self.values
            .remove(name)
            .ok_or_else(|| OnnxError::Runtime(format!("the model has no output '{name}'")))
    }
}

impl Model {
    pub async fn from_bytes(bytes: &[u8]) -> Result<Model, OnnxError> {
        let env = init()?;
        let session = Session::builder(env)
            .map_err(rt)?
            .commit_from_memory(bytes)
            .map_err(rt)?;
        Ok(Model {
            session: Mutex::new(session),
        })
    }

    pub async fn run(&self, inputs: Vec<(&str, Input)>) -> Result<Outputs, OnnxError> {
        let mut feeds: Vec<(std::borrow::Cow<str>, ort::session::SessionInputValue)> =
            Vec::with_capacity(inputs.len());
        for (name, input) in inputs {
            let value: DynValue = match input {
                Input::I64 { shape, data } => {
                    Tensor::from_array((shape, data)).map_err(rt)?.into_dyn()
                }
                Input::F32 { shape, data } => {
                    Tensor::from_array((shape, data)).map_err(rt)?.into_dyn()
                }
                Input::Value(v) => v,
            };
            feeds.push((name.to_string().into(), value.into()));
        }
        let mut session = self
            .session
            .lock()
            .map_err(|_| OnnxError::Runtime("session poisoned".into()))?;
        let mut out = session.run(feeds).map_err(rt)?;
        let names: Vec<String> = out.keys().map(str::to_string).collect();
        let values = names
            .into_iter()
            .filter_map(|n| out.remove(&n).map(|v| (n, v)))
            .collect();
        Ok(Outputs { values })
    }
}
