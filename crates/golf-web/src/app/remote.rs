//! A golfer in its own Web Worker, as the page sees it: what it is (info, manifest) and where to send requests.
//! Its replies go to the page's handlers ([`super::on_event`]). A worker that dies (it threw, or ran out of
//! memory) is reported on its panel, and started again, from the same files, on the next request.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use golf_core::GolferInfo;
use golf_engine::wire::{Device, Reply, Request, RunsOn};
use golf_onnx::Manifest;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

use super::{Shared, State};

/// Trunk's loader for the worker bin (workers keep their names unhashed), relative to the page.
const WORKER_URL: &str = "./golf-worker_loader.js";

/// A running worker and its handlers (kept as long as it runs).
struct Live {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.worker.terminate();
        // An event already on its way (a crashed worker's error, after its load failed on the panic's own word)
        // finds a handler that takes it quietly, not these closures, which go now.
        self.worker.set_onmessage(None);
        self.worker.set_onerror(Some(&js_sys::Function::new_with_args("e", "e.preventDefault()")));
    }
}

/// How to start the worker again: its name and the load request with its files.
struct Recipe {
    name: String,
    load: Request,
    files: Vec<Vec<u8>>,
}

pub struct Remote {
    pub info: GolferInfo,
    pub manifest: Option<Manifest>,
    pub diffusion: bool,
    pub chat: bool,
    runs_on: RefCell<RunsOn>,
    live: RefCell<Option<Live>>,
    recipe: RefCell<Recipe>,
    /// Requests sent while the worker starts again, in order.
    waiting: RefCell<Vec<Request>>,
    restarting: Cell<bool>,
    state: Weak<RefCell<State>>,
    me: Weak<Remote>,
}

/// A message: `[json, ...files]`, the files' buffers transferred, not copied.
/// A score's text goes as the first file, its bytes moved, and not inside the JSON (the worker's `read` puts it
/// back): escaped into JSON and decoded as a string, a 4 MB text took the page's thread 30 ms.
fn send_to(worker: &Worker, request: &Request, files: &[Vec<u8>]) -> Result<(), String> {
    let (json, text) = match request {
        Request::Score { run, text, options, limits } if files.is_empty() => {
            let head = Request::Score { run: *run, text: String::new(), options: options.clone(), limits: *limits };
            (serde_json::to_string(&head), Some(text.as_bytes()))
        }
        _ => (serde_json::to_string(request), None),
    };
    let json = json.map_err(|e| e.to_string())?;
    let parts = js_sys::Array::of1(&JsValue::from_str(&json));
    let transfer = js_sys::Array::new();
    for f in text.into_iter().chain(files.iter().map(Vec::as_slice)) {
        let bytes = js_sys::Uint8Array::from(f);
        transfer.push(&bytes.buffer());
        parts.push(&bytes);
    }
    worker.post_message_with_transfer(&parts, &transfer).map_err(super::dom::js_err)
}

type Settle = Rc<RefCell<Option<(js_sys::Function, js_sys::Function)>>>;

/// Starts a worker and sends it `recipe`'s load once it listens. Until the golfer is loaded its replies settle
/// the returned promise (with the Loaded or LoadFailed reply's JSON) and go to `progress`; after, they go to the
/// page's handlers for golfer `id` (known once loaded).
fn spawn(
    state: &Weak<RefCell<State>>,
    recipe: &Recipe,
    id: Rc<RefCell<String>>,
    progress: Rc<dyn Fn(&Reply)>,
) -> Result<(Live, js_sys::Promise), String> {
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    // The golfer's name, for the browser's tools (and the tests).
    options.set_name(&recipe.name);
    let worker = Worker::new_with_options(WORKER_URL, &options).map_err(super::dom::js_err)?;
    let settle: Settle = Rc::default();
    let promise = {
        let settle = settle.clone();
        js_sys::Promise::new(&mut |resolve, reject| *settle.borrow_mut() = Some((resolve, reject)))
    };
    let reject = |settle: &Settle, why: String| {
        if let Some((_, reject)) = settle.borrow_mut().take() {
            let _ = reject.call1(&JsValue::NULL, &why.into());
        }
    };
    let pending = RefCell::new(Some((recipe.load.clone(), recipe.files.clone())));
    let on_message = {
        let (state, settle, id, worker) = (state.clone(), settle.clone(), id.clone(), worker.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            // A reply's JSON, as bytes (the worker's `post`).
            let Some(json) =
                e.data().dyn_into::<js_sys::Uint8Array>().ok().and_then(|b| String::from_utf8(b.to_vec()).ok())
            else {
                return web_sys::console::error_1(&"a worker's reply is not JSON bytes".into());
            };
            let reply: Reply = match serde_json::from_str(&json) {
                Ok(r) => r,
                Err(e) => return web_sys::console::error_1(&format!("a bad reply from a worker: {e}").into()),
            };
            match reply {
                Reply::Ready => {
                    if let Some((load, files)) = pending.borrow_mut().take() {
                        if let Err(e) = send_to(&worker, &load, &files) {
                            reject(&settle, e);
                        }
                    }
                }
                Reply::Loaded { .. } | Reply::LoadFailed { .. } => {
                    if let Some((resolve, _)) = settle.borrow_mut().take() {
                        let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(&json));
                    }
                }
                Reply::Named { .. } | Reply::Download { .. } | Reply::Fetched { .. } | Reply::Imported { .. } => {
                    progress(&reply)
                }
                Reply::Event { run, event } => {
                    if let Some(state) = state.upgrade() {
                        super::on_event(&state, &id.borrow(), run, event);
                    }
                }
                Reply::Bench { result } => {
                    if let Some(state) = state.upgrade() {
                        super::on_bench(&state, &id.borrow(), result);
                    }
                }
                Reply::Stopped { course, steps } => {
                    if let Some(state) = state.upgrade() {
                        super::on_stopped(&state, &id.borrow(), course, steps);
                    }
                }
            }
        })
    };
    let on_error = {
        let (state, settle, id, worker) = (state.clone(), settle.clone(), id.clone(), worker.clone());
        Closure::<dyn FnMut(ErrorEvent)>::new(move |e: ErrorEvent| {
            e.prevent_default();
            // A worker that threw is not trusted to go on: it is stopped, and its golfer reported.
            worker.terminate();
            let why = crate::views::worker_stopped(&e.message());
            // While it loads, the load fails with the reason (the caller names what was loading: a golfer, a
            // file); nothing starts it again.
            if settle.borrow().is_some() {
                return reject(&settle, why);
            }
            // A load that failed first (a panic says so before it throws) has no golfer to report.
            let id = id.borrow().clone();
            if id.is_empty() {
                return;
            }
            if let Some(state) = state.upgrade() {
                super::worker_failed(&state, &id, &format!("{why}; it starts again on the next score or race"));
            }
        })
    };
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok((Live { worker, _on_message: on_message, _on_error: on_error }, promise))
}

/// The Loaded or LoadFailed reply a start's promise gave, or why there is none.
async fn loaded(promise: js_sys::Promise) -> Result<Reply, String> {
    let json = JsFuture::from(promise).await.map_err(|e| e.as_string().unwrap_or_else(|| super::dom::js_err(e)))?;
    serde_json::from_str(&json.as_string().unwrap_or_default()).map_err(|e| e.to_string())
}

/// A golfer ready in its worker: the worker and what its Loaded reply said.
struct Booted {
    live: Live,
    info: GolferInfo,
    manifest: Option<Manifest>,
    diffusion: bool,
    chat: bool,
    ready_ms: f64,
    runs_on: RunsOn,
}

/// Starts `recipe`'s worker and waits for its golfer. A golfer that fails in ONNX Runtime Web's WebGPU build is
/// started again, on the CPU, in a new worker (one runtime per worker), and `recipe` keeps that choice; its
/// status line says why.
async fn boot(
    state: &Weak<RefCell<State>>,
    recipe: &RefCell<Recipe>,
    id: Rc<RefCell<String>>,
    progress: Rc<dyn Fn(&Reply)>,
) -> Result<Booted, String> {
    let mut fell_back: Option<String> = None;
    loop {
        let (live, promise) = spawn(state, &recipe.borrow(), id.clone(), progress.clone())?;
        match loaded(promise).await? {
            Reply::Loaded { info, manifest, diffusion, chat, ready_ms, runs_on } => {
                let runs_on = match (runs_on, fell_back) {
                    (RunsOn::Wasm { threads, .. }, Some(why)) => RunsOn::Wasm { threads, why: Some(why) },
                    (runs_on, _) => runs_on,
                };
                let manifest = manifest.map(|m| *m);
                return Ok(Booted { live, info, manifest, diffusion, chat, ready_ms, runs_on });
            }
            Reply::LoadFailed { message, on_webgpu: true } if fell_back.is_none() => {
                drop(live);
                web_sys::console::warn_1(
                    &format!("{}: WebGPU failed, trying the CPU: {message}", recipe.borrow().name).into(),
                );
                recipe.borrow_mut().load.set_device(Device::Cpu);
                fell_back = Some(format!("WebGPU failed ({message})"));
            }
            Reply::LoadFailed { message, .. } => return Err(message),
            _ => return Err("the worker's answer was not a loaded golfer".into()),
        }
    }
}

impl Remote {
    pub fn id(&self) -> String {
        self.info.id.clone()
    }

    pub fn label(&self) -> String {
        self.info.label.clone()
    }

    pub fn info(&self) -> GolferInfo {
        self.info.clone()
    }

    /// Starts a worker (called `name`) and loads a golfer into it (`load` with `files`); resolves once it is ready
    /// to score, with the milliseconds creating the model took. `progress` hears the replies that come before (a
    /// download's).
    pub async fn start(
        state: &Shared,
        name: &str,
        load: Request,
        files: Vec<Vec<u8>>,
        progress: impl Fn(&Reply) + 'static,
    ) -> Result<(Rc<Remote>, f64), String> {
        let recipe = RefCell::new(Recipe { name: name.to_string(), load, files });
        let weak = Rc::downgrade(state);
        let id: Rc<RefCell<String>> = Rc::default();
        let b = boot(&weak, &recipe, id.clone(), Rc::new(progress)).await?;
        *id.borrow_mut() = b.info.id.clone();
        let remote = Rc::new_cyclic(|me| Remote {
            info: b.info,
            manifest: b.manifest,
            diffusion: b.diffusion,
            chat: b.chat,
            runs_on: RefCell::new(b.runs_on),
            live: RefCell::new(Some(b.live)),
            recipe,
            waiting: RefCell::default(),
            restarting: Cell::new(false),
            state: weak,
            me: me.clone(),
        });
        Ok((remote, b.ready_ms))
    }

    /// Where its model runs, for its status line.
    pub fn runs_on(&self) -> RunsOn {
        self.runs_on.borrow().clone()
    }

    /// Moves its model to another device: a new worker (one ONNX Runtime Web build per worker), loaded from the
    /// same files; requests sent meanwhile wait for it. False for gzip, which has no device.
    pub fn move_to(&self, device: Device) -> bool {
        if !self.recipe.borrow_mut().load.set_device(device) {
            return false;
        }
        self.live.borrow_mut().take();
        self.restart();
        true
    }

    /// Sends a request; a worker that died is started again first (the request waits for it).
    pub fn send(&self, request: &Request) {
        if self.restarting.get() || self.live.borrow().is_none() {
            self.waiting.borrow_mut().push(request.clone());
            return self.restart();
        }
        let sent = self.live.borrow().as_ref().map(|l| send_to(&l.worker, request, &[]));
        if let Some(Err(e)) = sent {
            self.failed(&format!("cannot reach its worker: {e}"));
        }
    }

    fn failed(&self, why: &str) {
        if let Some(state) = self.state.upgrade() {
            super::worker_failed(&state, &self.id(), why);
        }
    }

    /// Marks the worker dead: the next request starts a new one.
    pub fn died(&self) {
        // Called from the worker's own error handler: that closure is dropped a task later, not while it runs.
        if let Some(live) = self.live.borrow_mut().take() {
            spawn_local(async move { drop(live) });
        }
    }

    fn restart(&self) {
        if self.restarting.replace(true) {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        spawn_local(async move {
            let id = Rc::new(RefCell::new(me.id()));
            let result = boot(&me.state, &me.recipe, id, Rc::new(|_: &Reply| {})).await;
            me.restarting.set(false);
            match result {
                Ok(b) => {
                    *me.live.borrow_mut() = Some(b.live);
                    *me.runs_on.borrow_mut() = b.runs_on;
                    if let Some(state) = me.state.upgrade() {
                        super::golfer_started(&state, &me.id());
                    }
                    for request in std::mem::take(&mut *me.waiting.borrow_mut()) {
                        me.send(&request);
                    }
                }
                Err(e) => {
                    me.waiting.borrow_mut().clear();
                    me.failed(&format!("its worker did not start again: {e}"));
                }
            }
        });
    }

    /// Stops the worker now (a golfer removed from the page).
    pub fn terminate(&self) {
        self.live.borrow_mut().take();
    }
}
