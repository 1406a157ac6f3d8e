//! The one place that differs between native and the browser: starting ONNX Runtime, creating a session and
//! running it. Natively, ONNX Runtime is the shared library from the PyPI `onnxruntime` package, loaded at run
//! time; in the browser it is ONNX Runtime Web, served by the site itself.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
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

/// An ONNX Runtime error as [`OnnxError::Ort`], with its code and message (without what some of them carry
/// back: the session builder they failed on).
fn rt<R>(e: ort::Error<R>) -> OnnxError {
    OnnxError::Ort(ort::Error::new_with_code(e.code(), e.message()))
}

/// An error of ort-web's own (loading ONNX Runtime Web, copying a value out of it).
#[cfg(target_arch = "wasm32")]
fn web<E: std::fmt::Display>(e: E) -> OnnxError {
    OnnxError::Runtime(format!("ONNX Runtime Web: {e}"))
}

/// The process's ONNX Runtime environment (kept alive here: sessions only hold a weak reference to it).
static ENV: OnceLock<Environment> = OnceLock::new();

fn env() -> Result<&'static Environment, OnnxError> {
    #[cfg(not(target_arch = "wasm32"))]
    native::init()?;
    ENV.get().ok_or_else(|| OnnxError::Runtime("ONNX Runtime Web is not loaded yet".into()))
}

#[cfg(not(target_arch = "wasm32"))]
pub mod native {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;

    use super::ENV;
    use crate::OnnxError;

    static LOADED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    /// Intra-op threads for sessions created from now on (0: ONNX Runtime's default, one per core).
    pub(super) static THREADS: AtomicUsize = AtomicUsize::new(0);

    /// Generation through the ONNX graph even where the manifest names a faster decoder of ours (to compare).
    static GRAPH_DECODE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    pub fn set_graph_decode(on: bool) {
        GRAPH_DECODE.store(on, Ordering::Relaxed);
    }

    pub fn graph_decode() -> bool {
        GRAPH_DECODE.load(Ordering::Relaxed)
    }

    pub fn set_threads(n: usize) {
        THREADS.store(n, Ordering::Relaxed);
    }

    pub fn threads() -> usize {
        THREADS.load(Ordering::Relaxed)
    }

    /// Finds and loads ONNX Runtime once: `ORT_DYLIB_PATH`, else the onnxruntime wheel in the project's `.venv`.
    pub fn init() -> Result<&'static Path, OnnxError> {
        let loaded = LOADED.get_or_init(|| {
            let path = find_library().ok_or_else(|| {
                "ONNX Runtime not found: set ORT_DYLIB_PATH to libonnxruntime.so.1.* from the PyPI onnxruntime \
                 package (scripts/test.sh installs one into .venv)"
                    .to_string()
            })?;
            let env = ort::init_from(&path)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?
                .with_telemetry(false)
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime: {e}"))?;
            let _ = ENV.set(env);
            Ok(path)
        });
        loaded.as_deref().map_err(|e| OnnxError::Runtime(e.clone()))
    }

    fn find_library() -> Option<PathBuf> {
        // An empty ORT_DYLIB_PATH (as `ORT_DYLIB_PATH= golf ...` leaves it) means unset, not the path "".
        if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        let mut bases: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
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
            let f = std::fs::read_dir(&capi)
                .ok()?
                .flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with("libonnxruntime.so.1."))?;
            Some(f.path())
        })
    }
}

/// Which build of ONNX Runtime Web a worker runs, and so where its sessions run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebBuild {
    /// `ort.wasm.min.js`: the wasm execution provider only (it has every operator our graphs use).
    Wasm,
    /// `ort.webgpu.min.js` with its asyncify wasm: sessions on the WebGPU execution provider. Its own wasm provider
    /// lacks `GatherBlockQuantized` (SmolLM2's embedding), so a fallback to the CPU needs the plain build, in a
    /// new worker: one ONNX Runtime Web per worker.
    WebGpu,
}

#[cfg(target_arch = "wasm32")]
static BUILD: OnceLock<WebBuild> = OnceLock::new();

/// Whether sessions run on a GPU (WebGPU); then a decode step is the graph's, not a CPU kernel of ours.
pub fn on_gpu() -> bool {
    #[cfg(target_arch = "wasm32")]
    return BUILD.get() == Some(&WebBuild::WebGpu);
    #[cfg(not(target_arch = "wasm32"))]
    false
}

/// The WebGPU build's wasm (26.8 MB), which the page serves in parts (`crate::parts`): the worker joins them and
/// hands the bytes to [`init_web`].
pub const WEBGPU_WASM: &str = "ort-wasm-simd-threaded.asyncify.wasm";

/// Loads ONNX Runtime Web (`build`) from `dist_base` (absolute, ending in `/`: the site's own copy, so nothing is
/// fetched from elsewhere), telemetry off, with `threads` compute threads (more than 1 needs cross-origin
/// isolation); `wasm_binary`, where given, is its wasm file's bytes (else it fetches the file itself). Once per
/// worker: a second call with another build is refused.
#[cfg(target_arch = "wasm32")]
pub async fn init_web(
    dist_base: &str,
    threads: u32,
    build: WebBuild,
    wasm_binary: Option<&js_sys::Uint8Array>,
) -> Result<(), OnnxError> {
    if let Some(loaded) = BUILD.get() {
        return if *loaded == build {
            Ok(())
        } else {
            Err(OnnxError::Runtime(format!("this worker already runs ONNX Runtime Web's {loaded:?} build")))
        };
    }
    let script = match build {
        WebBuild::Wasm => "ort.wasm.min.js",
        WebBuild::WebGpu => "ort.webgpu.min.js",
    };
    ort::set_api(ort_web::api(ort_web::Dist::new(dist_base).with_script_name(script)).await.map_err(web)?);
    // ONNX Runtime Web reads its thread count from the global `ort.env.wasm` before the first session.
    let set = || -> Result<(), wasm_bindgen::JsValue> {
        let ort = js_sys::Reflect::get(&js_sys::global(), &"ort".into())?;
        let env = js_sys::Reflect::get(&ort, &"env".into())?;
        let wasm = js_sys::Reflect::get(&env, &"wasm".into())?;
        js_sys::Reflect::set(&wasm, &"numThreads".into(), &threads.into())?;
        // Where its wasm files are: a worker that evaluated the script has no script URL to go by.
        js_sys::Reflect::set(&wasm, &"wasmPaths".into(), &dist_base.into())?;
        if let Some(binary) = wasm_binary {
            js_sys::Reflect::set(&wasm, &"wasmBinary".into(), binary)?;
        }
        Ok(())
    };
    set().map_err(|e| OnnxError::Runtime(format!("cannot configure ONNX Runtime Web: {e:?}")))?;
    let env = ort::init().with_telemetry(false).build().map_err(rt)?;
    let _ = ENV.set(env);
    let _ = BUILD.set(build);
    Ok(())
}

/// Adds ONNX Runtime Web's WebGPU provider to a session, by the name ort-web knows ("WebGPU"): ort's own
/// `ep::WebGPU` passes the canonical "WebGpuExecutionProvider", which ort-web 0.5 refuses.
#[cfg(target_arch = "wasm32")]
fn append_webgpu(builder: &mut ort::session::builder::SessionBuilder) -> Result<(), OnnxError> {
    use ort::AsPointer;
    let api = ort::api();
    // SAFETY: the builder's options pointer is valid for its lifetime; no provider options are passed.
    let status = unsafe {
        (api.SessionOptionsAppendExecutionProvider)(
            builder.ptr_mut(),
            c"WebGPU".as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            0,
        )
    };
    if status.0.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null status carries a message until it is released, once, here.
    let message = unsafe { std::ffi::CStr::from_ptr((api.GetErrorMessage)(status.0)) }.to_string_lossy().into_owned();
    unsafe { (api.ReleaseStatus)(status.0) };
    Err(OnnxError::Runtime(format!("ONNX Runtime Web cannot add its WebGPU provider: {message}")))
}

/// The session is lent out for each call (not locked across awaits). The engine that owns a golfer runs one
/// step at a time, so a model never has two calls in flight; one that would is refused, not queued.
pub struct Model {
    session: Mutex<Option<Session>>,
}

/// A session taken out of its model for one call; it goes back on drop, error or not.
struct Lease<'m> {
    model: &'m Model,
    session: Option<Session>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.model.session.lock() {
            *slot = self.session.take();
        }
    }
}

/// A call's outputs: small ones copied out to Rust, the KV cache left in the runtime until taken.
pub struct Outputs {
    values: HashMap<String, DynValue>,
}

impl Outputs {
    fn get(&self, name: &str) -> Result<&DynValue, OnnxError> {
        self.values.get(name).ok_or_else(|| OnnxError::Runtime(format!("the model has no output '{name}'")))
    }

    pub fn f32(&self, name: &str) -> Result<Vec<f32>, OnnxError> {
        Ok(self.get(name)?.try_extract_tensor::<f32>().map_err(rt)?.1.to_vec())
    }

    pub fn i64(&self, name: &str) -> Result<Vec<i64>, OnnxError> {
        Ok(self.get(name)?.try_extract_tensor::<i64>().map_err(rt)?.1.to_vec())
    }

    /// Takes an output to feed back as an input (it stays in the runtime).
    pub fn take(&mut self, name: &str) -> Result<Value, OnnxError> {
        self.values.remove(name).ok_or_else(|| OnnxError::Runtime(format!("the model has no output '{name}'")))
    }
}

impl Model {
    pub async fn from_bytes(bytes: &[u8]) -> Result<Model, OnnxError> {
        let mut builder = Session::builder(env()?).map_err(rt)?;
        #[cfg(not(target_arch = "wasm32"))]
        let session = {
            let n = native::THREADS.load(std::sync::atomic::Ordering::Relaxed);
            if n > 0 {
                builder = builder.with_intra_threads(n).map_err(rt)?;
            }
            builder.commit_from_memory(bytes).map_err(rt)?
        };
        #[cfg(target_arch = "wasm32")]
        let session = {
            if BUILD.get() == Some(&WebBuild::WebGpu) {
                // Only WebGPU: a graph it cannot take fails here, and the page falls back to the plain build.
                append_webgpu(&mut builder)?;
                // Its warning that shape nodes stay on the CPU (as they should) reaches the console as an error.
                builder = builder.with_log_level(ort::logging::LogLevel::Error).map_err(rt)?;
            }
            builder.commit_from_memory(bytes).await.map_err(rt)?
        };
        Ok(Model { session: Mutex::new(Some(session)) })
    }

    /// The graph's inputs and outputs, for [`crate::Manifest::check_graph`].
    pub fn signature(&self) -> Result<crate::manifest::Signature, OnnxError> {
        use crate::manifest::{Elem, Port};
        use ort::value::{TensorElementType, ValueType};
        let port = |o: &ort::value::Outlet| Port {
            name: o.name().to_string(),
            tensor: match o.dtype() {
                ValueType::Tensor { ty, shape, .. } => Some((
                    match ty {
                        TensorElementType::Int64 => Elem::I64,
                        TensorElementType::Float32 => Elem::F32,
                        _ => Elem::Other,
                    },
                    shape.to_vec(),
                )),
                _ => None,
            },
        };
        let lease = self.lease()?;
        let session =
            lease.session.as_ref().ok_or_else(|| OnnxError::Runtime("the model is already running".into()))?;
        Ok(crate::manifest::Signature {
            inputs: session.inputs().iter().map(port).collect(),
            outputs: session.outputs().iter().map(port).collect(),
        })
    }

    fn lease(&self) -> Result<Lease<'_>, OnnxError> {
        let session = self.session.lock().map_err(|_| OnnxError::Runtime("session poisoned".into()))?.take();
        let session = session.ok_or_else(|| OnnxError::Runtime("the model is already running".into()))?;
        Ok(Lease { model: self, session: Some(session) })
    }

    pub async fn run(&self, inputs: Vec<(&str, Input)>) -> Result<Outputs, OnnxError> {
        let mut feeds: Vec<(std::borrow::Cow<str>, ort::session::SessionInputValue)> = Vec::with_capacity(inputs.len());
        for (name, input) in inputs {
            let value: DynValue = match input {
                Input::I64 { shape, data } => Tensor::from_array((shape, data)).map_err(rt)?.into_dyn(),
                Input::F32 { shape, data } => Tensor::from_array((shape, data)).map_err(rt)?.into_dyn(),
                Input::Value(v) => v,
            };
            feeds.push((name.to_string().into(), value.into()));
        }
        let mut lease = self.lease()?;
        let session = lease.session.as_mut().expect("leased");
        #[cfg(not(target_arch = "wasm32"))]
        let mut out = session.run(feeds).map_err(rt)?;
        #[cfg(target_arch = "wasm32")]
        let options = ort::session::RunOptions::new().map_err(rt)?;
        #[cfg(target_arch = "wasm32")]
        let mut out = session.run_async(feeds, &options).await.map_err(rt)?;
        let names: Vec<String> = out.keys().map(str::to_string).collect();
        let mut values = HashMap::new();
        for name in names {
            let Some(value) = out.remove(&name) else { continue };
            #[cfg(target_arch = "wasm32")]
            let value = {
                // Copy only the small outputs out of the runtime; the KV cache stays there.
                let mut value = value;
                if !name.starts_with("present_") {
                    use ort_web::ValueExt;
                    value.sync(ort_web::SyncDirection::Rust).await.map_err(web)?;
                }
                value
            };
            values.insert(name, value);
        }
        Ok(Outputs { values })
    }
}
