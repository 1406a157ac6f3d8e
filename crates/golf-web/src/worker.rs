//! A golfer's Web Worker: one engine with one golfer; requests from the page in, the engine's events out. Model
//! calls (seconds for SmolLM2) happen here, so the page's main thread only renders.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use golf_core::{Golfer, GolferInfo};
use golf_engine::fetch::{fetch_folder, parted_file, Step};
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

/// Sends a reply to the page: its JSON as bytes, moved rather than copied. As strings, a long text's spans made
/// hundreds of megabytes of them for the page's garbage collector, whose pauses took its thread past 50 ms.
fn post(reply: &Reply) {
    match serde_json::to_vec(reply) {
        Ok(json) => {
            let bytes = js_sys::Uint8Array::from(json.as_slice());
            let _ = scope().post_message_with_transfer(&bytes, &js_sys::Array::of1(&bytes.buffer()));
        }
        Err(e) => web_sys::console::error_1(&format!("golf worker: cannot encode a reply: {e}").into()),
    }
}

/// Requests not yet handled (each with the engine steps run before it arrived), and the waiting engine loop's
/// wake-up.
#[derive(Default)]
struct Inbox {
    queue: VecDeque<(Request, Vec<Vec<u8>>, u64)>,
    wake: Option<js_sys::Function>,
    /// Engine steps run so far: a cancel says how many ran after it arrived.
    steps: u64,
}

type SharedInbox = Rc<RefCell<Inbox>>;

/// A message: `[json, ...files]`, the files as Uint8Arrays.
fn read(e: &MessageEvent) -> Result<(Request, Vec<Vec<u8>>), String> {
    let parts: js_sys::Array = e.data().dyn_into().map_err(|_| "a message must be an array".to_string())?;
    let json = parts.get(0).as_string().ok_or("the message has no JSON head")?;
    let mut request: Request = serde_json::from_str(&json).map_err(|e| format!("a bad request: {e}"))?;
    let mut files: Vec<Vec<u8>> =
        (1..parts.length()).map(|i| js_sys::Uint8Array::new(&parts.get(i)).to_vec()).collect();
    // A score's text comes as its first file (the page's `send_to`).
    if let Request::Score { text, .. } = &mut request {
        if text.is_empty() && !files.is_empty() {
            *text = String::from_utf8(files.remove(0)).map_err(|_| "a score's text is not UTF-8".to_string())?;
        }
    }
    Ok((request, files))
}

pub fn start() {
    std::panic::set_hook(Box::new(on_panic));
    install_dom_shim();
    let inbox = SharedInbox::default();
    let i = inbox.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| match read(&e) {
        Ok((request, files)) => {
            let wake = {
                let mut inbox = i.borrow_mut();
                let steps = inbox.steps;
                inbox.queue.push_back((request, files, steps));
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
    /// The score's text's byte where the characters its heatmap shows end ([`popovers_end`]).
    popovers_end: u32,
}

/// The engine loop: requests between steps, one step at a time, every event sent as it happens.
async fn serve(inbox: SharedInbox) {
    let mut engine: Engine<AnyGolfer> = Engine::new(now_ms);
    let mut id = String::new();
    let mut runs = Runs::default();
    loop {
        let next = inbox.borrow_mut().queue.pop_front();
        if let Some((request, files, arrived)) = next {
            let cancel = match request {
                Request::Cancel { course } => Some(course),
                _ => None,
            };
            handle(&mut engine, &mut id, &mut runs, request, files).await;
            if let Some(course) = cancel {
                let steps = inbox.borrow().steps.saturating_sub(arrived);
                post(&Reply::Stopped { course, steps });
            }
            continue;
        }
        if engine.busy() {
            for event in engine.step().await {
                let run = if event.course() == Course::Score { runs.score } else { runs.generate };
                post_event(run, event, runs.popovers_end);
            }
            {
                let mut inbox = inbox.borrow_mut();
                inbox.steps = inbox.steps.saturating_add(1);
            }
            yield_now().await;
        } else {
            next_request(&inbox).await;
        }
    }
}

/// Spans per message: a 4 MB text's gzip spans (a million, with their popovers) in one message took the page's
/// thread most of a second to read; in parts of this many, each part is read in a task of its own, in a few ms.
const SPANS_PER_MESSAGE: usize = 2048;

/// The byte of `text` where the characters a heatmap shows end (the first [`crate::views::HEATMAP_MAX_CHARS`]).
/// A span that starts past it goes to the page without its popover (its token's text, alternatives, how its bits
/// were found): no view reads one there, and a 4 MB text's million of them were most of what the page read, kept
/// and freed.
fn popovers_end(text: &str) -> u32 {
    let end = crate::views::end_of_chars(text, crate::views::HEATMAP_MAX_CHARS);
    u32::try_from(end).unwrap_or(u32::MAX)
}

/// Sends an engine event of run `run`, a long list of spans in parts, without the popovers of spans that start at
/// `popovers_end` or after.
fn post_event(run: u32, event: golf_engine::Event, popovers_end: u32) {
    match event {
        golf_engine::Event::Spans { golfer, mut spans } => {
            for s in spans.iter_mut().filter(|s| s.start >= popovers_end) {
                s.token = None;
            }
            if spans.len() <= SPANS_PER_MESSAGE {
                return post(&Reply::Event { run, event: golf_engine::Event::Spans { golfer, spans } });
            }
            let mut spans = spans.into_iter();
            loop {
                let part: Vec<golf_core::Span> = spans.by_ref().take(SPANS_PER_MESSAGE).collect();
                if part.is_empty() {
                    break;
                }
                post(&Reply::Event { run, event: golf_engine::Event::Spans { golfer: golfer.clone(), spans: part } });
            }
        }
        event => post(&Reply::Event { run, event }),
    }
}

thread_local! {
    /// What the worker is loading, while it loads a golfer (a panic then ends the load, and says so).
    static LOADING: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// Runs `load` with `what` as what the worker is doing, for a panic's message.
async fn loading<T>(what: &'static str, load: impl std::future::Future<Output = T>) -> T {
    LOADING.with(|l| l.set(Some(what)));
    let result = load.await;
    LOADING.with(|l| l.set(None));
    result
}

/// A panic ends the worker (the page starts a new one when it needs it) and the page says why: the panic's text
/// and where, not the bare trap ("RuntimeError: unreachable") that said nothing of it. During a load the page
/// hears it as the load's failure; and the panic is thrown as a JS error carrying the same text, which the page's
/// handler of the worker's errors reads, whichever of the two comes first.
fn on_panic(info: &std::panic::PanicHookInfo) {
    console_error_panic_hook::hook(info);
    let payload = info.payload();
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let doing = LOADING.with(|l| l.get());
    let why = crate::views::panic_text(doing, &what, info.location().map(|l| (l.file(), l.line())));
    if doing.is_some() {
        post(&Reply::LoadFailed { message: crate::views::worker_stopped(&why), on_webgpu: false });
    }
    wasm_bindgen::throw_str(&why);
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
        golf_onnx::runtime::init_web(&runtime.dist, runtime.threads, WebBuild::Wasm, None)
            .await
            .map_err(|e| e.to_string())?;
        let golfer = AnyGolfer::load(manifest, onnx, tokenizer).await.map_err(|e| e.to_string())?;
        let why = (runtime.device == Device::WebGpu).then(|| "this browser gives no WebGPU adapter".to_string());
        return Ok((golfer, on_wasm(why)));
    };
    let on_gpu = |e: String| Failed { message: e, on_webgpu: true };
    // Served in parts (static hosts refuse a 26.8 MB file): joined here and handed over as bytes.
    let wasm = golf_onnx::runtime::WEBGPU_WASM;
    let (binary, _) = parted_file(&format!("{}{wasm}", runtime.dist), &format!("ort/{wasm}"), None, &|_, _| {})
        .await
        .map_err(on_gpu)?;
    golf_onnx::runtime::init_web(&runtime.dist, runtime.threads, WebBuild::WebGpu, Some(&binary))
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
        Step::Named { label, bytes } => post(&Reply::Named { label: label.to_string(), bytes }),
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
/// tells the page what was assumed, and creates its golfer (id `local-NAME`). A failure's message is the reason
/// alone: the page puts the file's name before it.
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
    // The page says which file was not imported, before the reason given here (as for any failure of it).
    let not_imported = |e: String| Failed::from(e);
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
                [onnx, tokenizer] => loading("loading its model", create(*manifest, onnx, tokenizer, &runtime)).await,
                _ => Err(format!("a load needs two files (the model and its tokenizer), not {}", files.len()).into()),
            };
            settle(engine, id, result.map(|(g, on)| (g, on, now_ms() - t0)));
        }
        Request::Fetch { base, folder, runtime } => {
            let result = loading("loading its model", fetch_and_create(&base, &folder, &runtime)).await;
            settle(engine, id, result);
        }
        Request::Import { import, runtime } => {
            let result = loading("importing the artifact", import_and_create(import, files, &runtime)).await;
            settle(engine, id, result);
        }
        Request::Gzip => {
            let golfer = AnyGolfer::Gzip(Rc::new(GzipGolfer::new(Method::Exact, Dry::default())));
            settle(engine, id, Ok((golfer, RunsOn::Code, 0.0)));
        }
        Request::Score { run, text, options, limits } => {
            runs.score = run;
            runs.popovers_end = popovers_end(&text);
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
