//! A golfer's Web Worker: one engine with one golfer; requests from the page in, the engine's events out. Model
//! calls (seconds for SmolLM2) happen here, so the page's main thread only renders.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use golf_core::{Golfer, GolferInfo};
use golf_engine::fetch::{fetch_folder, Step};
use golf_engine::wire::{Device, Import, Reply, Request, RunsOn, WebRuntime};
use golf_engine::{AnyGolfer, Command, Course, Engine};
use golf_gzip::{Dry, GzipGolfer, Method};
use golf_onnx::runtime::WebBuild;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

// ONNX Runtime Web's loader (ort-web) adds a <script> to `document`; a worker has neither. This gives it a
// `document` whose script elements are fetched and evaluated in the worker's global scope, and `window`.
#[wasm_bindgen(inline_js = r#"
export function install_dom_shim() {
  if (self.document) return;
  self.window = self;
  const element = (tag) => ({
    tag, listeners: {}, setAttribute() {}, addEventListener(ev, f) { this.listeners[ev] = f; },
  });
  self.document = {
    createElement: element,
    head: {
      appendChild(el) {
        if (el.tag !== 'script') return; // preload links: the worker fetches when it needs to
        fetch(el.src)
          .then((r) => { if (!r.ok) throw new Error(`${el.src}: HTTP ${r.status}`); return r.text(); })
          // The script declares `var ort` in strict mode: eval keeps it local, so hand it to the global.
          .then((code) => { (0, eval)(code + '\n;self.ort = ort;'); el.listeners.load && el.listeners.load(); })
          .catch((e) => el.listeners.error && el.listeners.error({ error: e }));
      },
    },
  };
}
"#)]
extern "C" {
    fn install_dom_shim();
}

// The worker's WebGPU adapter, named by its vendor and architecture; null where there is none (no
// `navigator.gpu`, or `requestAdapter()` gives nothing, as headless Chromium without --enable-unsafe-webgpu).
#[wasm_bindgen(inline_js = r#"
export async function webgpu_adapter() {
  if (!self.navigator || !navigator.gpu) return null;
  let adapter = null;
  try { adapter = await navigator.gpu.requestAdapter(); } catch (e) { return null; }
  if (!adapter) return null;
  const info = adapter.info || {};
  const name = [info.vendor, info.architecture].filter((s) => s).join(' ');
  return name || 'unnamed adapter';
}
"#)]
extern "C" {
    async fn webgpu_adapter() -> JsValue;
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn now_ms() -> f64 {
    scope().performance().map_or(0.0, |p| p.now())
}

fn post(reply: &Reply) {
    match serde_json::to_string(reply) {
        Ok(json) => {
            let _ = scope().post_message(&JsValue::from_str(&json));
        }
        Err(e) => web_sys::console::error_1(&format!("golf worker: cannot encode a reply: {e}").into()),
    }
}

/// Requests not yet handled, and the waiting engine loop's wake-up.
#[derive(Default)]
struct Inbox {
    queue: VecDeque<(Request, Vec<Vec<u8>>)>,
    wake: Option<js_sys::Function>,
}

type SharedInbox = Rc<RefCell<Inbox>>;

/// A message: `[json, ...files]`, the files as Uint8Arrays.
fn read(e: &MessageEvent) -> Result<(Request, Vec<Vec<u8>>), String> {
    let parts: js_sys::Array = e.data().dyn_into().map_err(|_| "a message must be an array".to_string())?;
    let json = parts.get(0).as_string().ok_or("the message has no JSON head")?;
    let request: Request = serde_json::from_str(&json).map_err(|e| format!("a bad request: {e}"))?;
    let files = (1..parts.length()).map(|i| js_sys::Uint8Array::new(&parts.get(i)).to_vec()).collect();
    Ok((request, files))
}

pub fn start() {
    console_error_panic_hook::set_once();
    install_dom_shim();
    let inbox = SharedInbox::default();
    let i = inbox.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| match read(&e) {
        Ok(message) => {
            let wake = {
                let mut inbox = i.borrow_mut();
                inbox.queue.push_back(message);
                inbox.wake.take()
            };
            if let Some(f) = wake {
                let _ = f.call0(&JsValue::NULL);
            }
        }
        Err(e) => web_sys::console::error_1(&format!("golf worker: {e}").into()),
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    spawn_local(serve(inbox));
    post(&Reply::Ready);
}

/// Resolves when a request arrives.
async fn next_request(inbox: &SharedInbox) {
    if !inbox.borrow().queue.is_empty() {
        return;
    }
    let promise = js_sys::Promise::new(&mut |resolve, _| inbox.borrow_mut().wake = Some(resolve));
    let _ = JsFuture::from(promise).await;
}

/// Gives the worker's event loop a turn, so that a request (Cancel) can arrive between two steps.
async fn yield_now() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = JsFuture::from(promise).await;
}

/// The run numbers the page gave the current score and generation.
#[derive(Default)]
struct Runs {
    score: u32,
    generate: u32,
}

/// The engine loop: requests between steps, one step at a time, every event sent as it happens.
async fn serve(inbox: SharedInbox) {
    let mut engine: Engine<AnyGolfer> = Engine::new(now_ms);
    let mut id = String::new();
    let mut runs = Runs::default();
    loop {
        let next = inbox.borrow_mut().queue.pop_front();
        if let Some((request, files)) = next {
            handle(&mut engine, &mut id, &mut runs, request, files).await;
            continue;
        }
        if engine.busy() {
            for event in engine.step().await {
                let run = if event.course() == Course::Score { runs.score } else { runs.generate };
                post(&Reply::Event { run, event });
            }
            yield_now().await;
        } else {
            next_request(&inbox).await;
        }
    }
}

fn loaded(golfer: &AnyGolfer, ready_ms: f64, runs_on: RunsOn) -> Reply {
    let info: GolferInfo = golfer.info();
    let manifest = golfer.manifest().cloned().map(Box::new);
    Reply::Loaded { info, manifest, diffusion: golfer.is_diffusion(), chat: golfer.can_chat(), ready_ms, runs_on }
}

/// Why a golfer did not load; `on_webgpu` when ONNX Runtime Web's WebGPU build is what failed.
struct Failed {
    message: String,
    on_webgpu: bool,
}

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed { message, on_webgpu: false }
    }
}

/// Scores a few bytes: WebGPU compiles its shaders on a session's first run, and a graph that creates but cannot
/// run there fails now, while the page can still fall back, not in the middle of a score.
async fn warm_up(golfer: &AnyGolfer) -> Result<(), String> {
    let mut engine: Engine<AnyGolfer> = Engine::new(now_ms);
    engine.insert("warm-up", golfer.clone());
    let options = golf_engine::ScoreOptions::default();
    let text = b"Hello.".to_vec();
    engine.command(Command::Score { golfer: "warm-up".into(), text, options, limits: Default::default() });
    while engine.busy() {
        for event in engine.step().await {
            if let golf_engine::Event::Error { error, .. } = event {
                return Err(error.to_string());
            }
        }
    }
    Ok(())
}

/// ONNX Runtime Web (the WebGPU build where it was asked for and the browser has an adapter, else the plain
/// one), then the golfer from its manifest and files.
async fn create(
    manifest: golf_onnx::Manifest,
    onnx: &[u8],
    tokenizer: &[u8],
    runtime: &WebRuntime,
) -> Result<(AnyGolfer, RunsOn), Failed> {
    let adapter = match runtime.device {
        Device::Cpu => None,
        Device::Auto | Device::WebGpu => webgpu_adapter().await.as_string(),
    };
    let on_wasm = |why: Option<String>| RunsOn::Wasm { threads: runtime.threads, why };
    let Some(adapter) = adapter else {
        golf_onnx::runtime::init_web(&runtime.dist, runtime.threads, WebBuild::Wasm)
            .await
            .map_err(|e| e.to_string())?;
        let golfer = AnyGolfer::load(manifest, onnx, tokenizer).await.map_err(|e| e.to_string())?;
        let why = (runtime.device == Device::WebGpu).then(|| "this browser gives no WebGPU adapter".to_string());
        return Ok((golfer, on_wasm(why)));
    };
    let on_gpu = |e: String| Failed { message: e, on_webgpu: true };
    golf_onnx::runtime::init_web(&runtime.dist, runtime.threads, WebBuild::WebGpu)
        .await
        .map_err(|e| on_gpu(e.to_string()))?;
    let golfer = AnyGolfer::load(manifest, onnx, tokenizer).await.map_err(|e| on_gpu(e.to_string()))?;
    warm_up(&golfer).await.map_err(on_gpu)?;
    Ok((golfer, RunsOn::WebGpu { adapter }))
}

/// Downloads a model folder (progress to the page as it goes) and creates its golfer; returns it, where it runs
/// and the milliseconds creating it took.
async fn fetch_and_create(base: &str, folder: &str, runtime: &WebRuntime) -> Result<(AnyGolfer, RunsOn, f64), Failed> {
    let last_pct = std::cell::Cell::new(u64::MAX);
    let progress = |step: Step| match step {
        Step::Named(label) => post(&Reply::Named { label: label.to_string() }),
        Step::Bytes { done, total } => {
            // A message per percent is plenty for a progress bar.
            let pct = done * 100 / total.max(1);
            if last_pct.replace(pct) != pct {
                post(&Reply::Download { done, total });
            }
        }
    };
    let f = fetch_folder(base, folder, &progress).await?;
    post(&Reply::Fetched { bytes: f.onnx.len() as u64, source: f.source });
    let t0 = now_ms();
    let (golfer, runs_on) = create(f.manifest, &f.onnx, &f.tokenizer, runtime).await?;
    Ok((golfer, runs_on, now_ms() - t0))
}

/// Imports a participant's artifact (`files`: the `.ptz`, then optionally its tokenizer) as `golf import` does,
/// tells the page what was assumed, and creates its golfer (id `local-NAME`).
async fn import_and_create(
    import: Import,
    files: Vec<Vec<u8>>,
    runtime: &WebRuntime,
) -> Result<(AnyGolfer, RunsOn, f64), Failed> {
    let mut files = files.into_iter();
    let ptz = files.next().ok_or_else(|| Failed::from("an import needs the artifact".to_string()))?;
    let tokenizer = match (import.tokenizer, files.next()) {
        (Some(name), Some(bytes)) => Some((name, bytes)),
        (None, None) => None,
        _ => return Err("an import's tokenizer needs both its name and its file".to_string().into()),
    };
    let not_imported = |e: String| Failed::from(format!("{} was not imported: {e}", import.file));
    let activation = (!import.activation.is_empty())
        .then(|| golf_import::parse_activation(&import.activation))
        .transpose()
        .map_err(|e| not_imported(e.to_string()))?;
    let options = golf_import::Options {
        activation,
        rope_base: None,
        logit_softcap: None,
        context: import.context,
        name: Some(import.name),
        tokenizer,
        artifact_name: import.file.clone(),
        rebuild: format!("drop {} on the page again", import.file),
    };
    let folder = golf_import::import(&ptz, &options).map_err(|e| not_imported(e.to_string()))?;
    let mut manifest = folder.manifest;
    manifest.id = format!("local-{}", manifest.id);
    post(&Reply::Imported { id: manifest.id.clone(), assumed: folder.assumed });
    let file = |name: &str| {
        let found = folder.files.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_slice());
        found.ok_or_else(|| not_imported(format!("the import made no {name}")))
    };
    let (onnx, tokenizer) = (file("model.onnx")?, file(&manifest.tokenizer.file)?);
    let t0 = now_ms();
    let (golfer, runs_on) = create(manifest, onnx, tokenizer, runtime).await?;
    Ok((golfer, runs_on, now_ms() - t0))
}

/// A load's end: the golfer joins the engine and the page hears it is ready, or why it is not.
fn settle(engine: &mut Engine<AnyGolfer>, id: &mut String, result: Result<(AnyGolfer, RunsOn, f64), Failed>) {
    match result {
        Ok((golfer, runs_on, ready_ms)) => {
            post(&loaded(&golfer, ready_ms, runs_on));
            *id = golfer.id();
            engine.insert(id.clone(), golfer);
        }
        Err(Failed { message, on_webgpu }) => post(&Reply::LoadFailed { message, on_webgpu }),
    }
}

async fn handle(
    engine: &mut Engine<AnyGolfer>,
    id: &mut String,
    runs: &mut Runs,
    request: Request,
    files: Vec<Vec<u8>>,
) {
    match request {
        Request::Load { manifest, runtime } => {
            let t0 = now_ms();
            let result = match &files[..] {
                [onnx, tokenizer] => create(*manifest, onnx, tokenizer, &runtime).await,
                _ => Err(format!("a load needs two files (the model and its tokenizer), not {}", files.len()).into()),
            };
            settle(engine, id, result.map(|(g, on)| (g, on, now_ms() - t0)));
        }
        Request::Fetch { base, folder, runtime } => {
            let result = fetch_and_create(&base, &folder, &runtime).await;
            settle(engine, id, result);
        }
        Request::Import { import, runtime } => {
            let result = import_and_create(import, files, &runtime).await;
            settle(engine, id, result);
        }
        Request::Gzip => {
            let golfer = AnyGolfer::Gzip(Rc::new(GzipGolfer::new(Method::Exact, Dry::default())));
            settle(engine, id, Ok((golfer, RunsOn::Code, 0.0)));
        }
        Request::Score { run, text, options, limits } => {
            runs.score = run;
            engine.command(Command::Score { golfer: id.clone(), text: text.into_bytes(), options, limits });
        }
        Request::Generate { run, prompt, settings } => {
            runs.generate = run;
            engine.command(Command::Generate { golfer: id.clone(), prompt, settings });
        }
        Request::Cancel { course } => engine.command(Command::Cancel { golfer: id.clone(), course }),
        Request::Bench => {
            let result = match engine.golfer(id) {
                Some(g) => g.speed(crate::DEFAULT_TEXT, 2, || now_ms() / 1e3).await.map_err(|e| e.to_string()),
                None => Err("no golfer is loaded".into()),
            };
            post(&Reply::Bench { result });
        }
    }
}
