//! A golfer's Web Worker: one engine with one golfer; requests from the page in, the engine's events out. Model
//! calls (seconds for SmolLM2) happen here, so the page's main thread only renders.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use golf_core::{Golfer, GolferInfo};
use golf_engine::fetch::{fetch_folder, Step};
use golf_engine::wire::{Reply, Request};
use golf_engine::{AnyGolfer, Command, Course, Engine};
use golf_gzip::{Dry, GzipGolfer, Method};
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

fn loaded(golfer: &AnyGolfer, ready_ms: f64) -> Reply {
    let info: GolferInfo = golfer.info();
    let manifest = golfer.manifest().cloned().map(Box::new);
    Reply::Loaded { info, manifest, diffusion: golfer.is_diffusion(), chat: golfer.can_chat(), ready_ms }
}

/// ONNX Runtime Web, then the golfer from its manifest and files.
async fn create(
    manifest: golf_onnx::Manifest,
    onnx: &[u8],
    tokenizer: &[u8],
    dist: &str,
    threads: u32,
) -> Result<AnyGolfer, String> {
    golf_onnx::runtime::init_web(dist, threads).await.map_err(|e| e.to_string())?;
    AnyGolfer::load(manifest, onnx, tokenizer).await.map_err(|e| e.to_string())
}

/// Downloads a model folder (progress to the page as it goes) and creates its golfer; returns it and the
/// milliseconds creating it took.
async fn fetch_and_create(base: &str, folder: &str, dist: &str, threads: u32) -> Result<(AnyGolfer, f64), String> {
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
    let golfer = create(f.manifest, &f.onnx, &f.tokenizer, dist, threads).await?;
    Ok((golfer, now_ms() - t0))
}

/// A load's end: the golfer joins the engine and the page hears it is ready, or why it is not.
fn settle(engine: &mut Engine<AnyGolfer>, id: &mut String, result: Result<(AnyGolfer, f64), String>) {
    match result {
        Ok((golfer, ready_ms)) => {
            post(&loaded(&golfer, ready_ms));
            *id = golfer.id();
            engine.insert(id.clone(), golfer);
        }
        Err(message) => post(&Reply::LoadFailed { message }),
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
        Request::Load { manifest, dist, threads } => {
            let t0 = now_ms();
            let result = match &files[..] {
                [onnx, tokenizer] => create(*manifest, onnx, tokenizer, &dist, threads).await,
                _ => Err(format!("a load needs two files (the model and its tokenizer), not {}", files.len())),
            };
            settle(engine, id, result.map(|g| (g, now_ms() - t0)));
        }
        Request::Fetch { base, folder, dist, threads } => {
            let result = fetch_and_create(&base, &folder, &dist, threads).await;
            settle(engine, id, result);
        }
        Request::Gzip => {
            let golfer = AnyGolfer::Gzip(Rc::new(GzipGolfer::new(Method::Exact, Dry::default())));
            settle(engine, id, Ok((golfer, 0.0)));
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
