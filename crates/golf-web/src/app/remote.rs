//! A golfer in its own Web Worker, as the page sees it: what it is (info, manifest) and where to send requests.
//! Its replies go to the page's handlers ([`super::on_event`]); a worker that dies says so on its panel.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use golf_core::GolferInfo;
use golf_engine::wire::{Reply, Request};
use golf_onnx::Manifest;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

use super::Shared;

/// Trunk's loader for the worker bin (workers keep their names unhashed), relative to the page.
const WORKER_URL: &str = "./golf-worker_loader.js";

pub struct Remote {
    pub info: GolferInfo,
    pub manifest: Option<Manifest>,
    pub diffusion: bool,
    pub chat: bool,
    worker: Worker,
    state: Weak<RefCell<super::State>>,
    // Kept for the worker's lifetime.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

/// A message: `[json, ...files]`, the files' buffers transferred, not copied.
fn send_to(worker: &Worker, request: &Request, files: &[&[u8]]) -> Result<(), String> {
    let json = serde_json::to_string(request).map_err(|e| e.to_string())?;
    let parts = js_sys::Array::of1(&JsValue::from_str(&json));
    let transfer = js_sys::Array::new();
    for f in files {
        let bytes = js_sys::Uint8Array::from(*f);
        transfer.push(&bytes.buffer());
        parts.push(&bytes);
    }
    worker.post_message_with_transfer(&parts, &transfer).map_err(super::dom::js_err)
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

    /// Sends a request; a worker that cannot take it any more is reported on its panel.
    pub fn send(&self, request: &Request) {
        if let Err(e) = send_to(&self.worker, request, &[]) {
            if let Some(state) = self.state.upgrade() {
                super::worker_failed(&state, &self.id(), &format!("cannot reach its worker: {e}"));
            }
        }
    }

    /// Starts a worker (called `name`) and loads a golfer into it (`load` with `files`); resolves once it is ready
    /// to score, with
    /// the milliseconds creating the model took. `progress` hears the replies that come before (a download's).
    pub async fn start(
        state: &Shared,
        name: &str,
        load: Request,
        files: Vec<Vec<u8>>,
        progress: impl Fn(&Reply) + 'static,
    ) -> Result<(Rc<Remote>, f64), String> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        // The golfer's name, for the browser's tools (and the tests).
        options.set_name(name);
        let worker = Worker::new_with_options(WORKER_URL, &options).map_err(super::dom::js_err)?;
        // Until the golfer is loaded, replies settle this promise; after, they go to the page's handlers.
        let settle: Rc<RefCell<Option<(js_sys::Function, js_sys::Function)>>> = Rc::default();
        let promise = {
            let settle = settle.clone();
            js_sys::Promise::new(&mut |resolve, reject| *settle.borrow_mut() = Some((resolve, reject)))
        };
        let id: Rc<RefCell<String>> = Rc::default();
        let pending = RefCell::new(Some((load, files)));
        let on_message = {
            let (state, settle, id, worker) = (Rc::downgrade(state), settle.clone(), id.clone(), worker.clone());
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let Some(json) = e.data().as_string() else { return };
                let reply: Reply = match serde_json::from_str(&json) {
                    Ok(r) => r,
                    Err(e) => return web_sys::console::error_1(&format!("a bad reply from a worker: {e}").into()),
                };
                match reply {
                    Reply::Ready => {
                        if let Some((load, files)) = pending.borrow_mut().take() {
                            let files: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
                            if let Err(e) = send_to(&worker, &load, &files) {
                                if let Some((_, reject)) = settle.borrow_mut().take() {
                                    let _ = reject.call1(&JsValue::NULL, &e.into());
                                }
                            }
                        }
                    }
                    Reply::Loaded { .. } => {
                        if let Some((resolve, _)) = settle.borrow_mut().take() {
                            let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(&json));
                        }
                    }
                    Reply::LoadFailed { message } => {
                        if let Some((_, reject)) = settle.borrow_mut().take() {
                            let _ = reject.call1(&JsValue::NULL, &message.into());
                        }
                    }
                    Reply::Event { run, event } => {
                        if let Some(state) = state.upgrade() {
                            super::on_event(&state, &id.borrow(), run, event);
                        }
                    }
                    Reply::Named { .. } | Reply::Download { .. } | Reply::Fetched { .. } => progress(&reply),
                    Reply::Bench { result } => {
                        if let Some(state) = state.upgrade() {
                            super::on_bench(&state, &id.borrow(), result);
                        }
                    }
                }
            })
        };
        let on_error = {
            let (state, settle, id) = (Rc::downgrade(state), settle.clone(), id.clone());
            let worker = worker.clone();
            Closure::<dyn FnMut(ErrorEvent)>::new(move |e: ErrorEvent| {
                e.prevent_default();
                // A worker that threw is not trusted to go on: it is stopped, and its golfer reported.
                worker.terminate();
                let why =
                    if e.message().is_empty() { "it crashed or ran out of memory".to_string() } else { e.message() };
                match settle.borrow_mut().take() {
                    Some((_, reject)) => {
                        let _ = reject.call1(&JsValue::NULL, &format!("its worker stopped: {why}").into());
                    }
                    None => {
                        if let Some(state) = state.upgrade() {
                            super::worker_failed(&state, &id.borrow(), &format!("its worker stopped: {why}"));
                        }
                    }
                }
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let loaded = match JsFuture::from(promise).await {
            Ok(json) => json.as_string().unwrap_or_default(),
            Err(e) => {
                worker.terminate();
                return Err(e.as_string().unwrap_or_else(|| super::dom::js_err(e)));
            }
        };
        let Ok(Reply::Loaded { info, manifest, diffusion, chat, ready_ms }) = serde_json::from_str(&loaded) else {
            worker.terminate();
            return Err("the worker's answer was not a loaded golfer".into());
        };
        *id.borrow_mut() = info.id.clone();
        let manifest = manifest.map(|m| *m);
        let state = Rc::downgrade(state);
        Ok((
            Rc::new(Remote {
                info,
                manifest,
                diffusion,
                chat,
                worker,
                state,
                _on_message: on_message,
                _on_error: on_error,
            }),
            ready_ms,
        ))
    }

    /// Stops the worker at once (a test's way of crashing it; the page's way of dropping a golfer).
    pub fn terminate(&self) {
        self.worker.terminate();
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}
