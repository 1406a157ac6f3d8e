//! A model folder from the site (the page): `golfer.json`, then each file read from Cache Storage when it holds
//! this exact version (keyed by the manifest's sha256, so a rebuilt model is fetched again), else downloaded with
//! progress; hashed as the bytes arrive and checked against the manifest before use (`golf_onnx::check_digest`,
//! the same check as a folder on disk); stored in the cache after a good download. Runs in a worker or a page.

use golf_onnx::manifest::limits;
use golf_onnx::{Manifest, OnnxError};
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheStorage, Response};

pub use crate::wire::Source;

const CACHE_NAME: &str = "four-golfers-models";

#[wasm_bindgen]
extern "C" {
    /// `fetch` of whichever global this runs in (a window or a worker).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str) -> js_sys::Promise;
}

/// What a folder's download is doing, for its progress bar.
pub enum Step<'a> {
    /// The manifest is read: the golfer's label.
    Named(&'a str),
    /// Bytes of the model file so far, of its total.
    Bytes { done: u64, total: u64 },
}

/// A model folder's manifest and checked files.
pub struct Fetched {
    pub manifest: Manifest,
    pub onnx: Vec<u8>,
    pub tokenizer: Vec<u8>,
    /// Where the model file came from.
    pub source: Source,
}

fn js_err(e: JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| "unknown error".into())
}

fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| js_sys::Reflect::get(&p, &"now".into()).ok()?.dyn_into::<js_sys::Function>().ok()?.call0(&p).ok())
        .and_then(|t| t.as_f64())
        .unwrap_or(0.0)
}

async fn open_cache() -> Option<Cache> {
    // Cache Storage exists only in secure contexts (https, or http on localhost / 127.0.0.1).
    let caches: CacheStorage = js_sys::Reflect::get(&js_sys::global(), &"caches".into()).ok()?.dyn_into().ok()?;
    JsFuture::from(caches.open(CACHE_NAME)).await.ok()?.dyn_into().ok()
}

async fn fetch(url: &str, name: &str) -> Result<Response, String> {
    JsFuture::from(global_fetch(url))
        .await
        .map_err(|e| format!("cannot download {name}: {}", js_err(e)))?
        .dyn_into()
        .map_err(|_| "fetch did not return a Response".to_string())
}

/// Reads a body chunk by chunk, reporting (bytes so far, total) and hashing as it goes; returns the bytes and
/// their sha256 (hex). A body longer than `max` bytes is refused as soon as it passes it (`name` in the error),
/// so a folder's manifest cannot make the page download or hold more than it says.
async fn read_body(
    resp: &Response,
    name: &str,
    total: u64,
    max: u64,
    progress: &dyn Fn(u64, u64),
) -> Result<(Vec<u8>, String), String> {
    let too_big = |n: u64| format!("{name} is {n} bytes or more; at most {max} were expected");
    if total > max {
        return Err(too_big(total));
    }
    let body = resp.body().ok_or("the response has no body")?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().dyn_into().map_err(|_| "no stream reader")?;
    // `total <= max`, and every `max` fits in wasm32's address space.
    let mut data = Vec::with_capacity(usize::try_from(total).map_err(|_| too_big(total))?);
    let mut hash = Sha256::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(js_err)?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map_err(js_err)?.as_bool().unwrap_or(true);
        if done {
            break;
        }
        let value: js_sys::Uint8Array =
            js_sys::Reflect::get(&chunk, &"value".into()).map_err(js_err)?.dyn_into().map_err(js_err)?;
        let start = data.len();
        let end = start as u64 + u64::from(value.length());
        if end > max {
            let _ = JsFuture::from(reader.cancel()).await;
            return Err(too_big(end));
        }
        data.resize(start + value.length() as usize, 0);
        if let Some(dst) = data.get_mut(start..) {
            value.copy_to(dst);
            hash.update(&*dst);
        }
        progress(data.len() as u64, total.max(data.len() as u64));
    }
    Ok((data, golf_onnx::hex(&hash.finalize())))
}

/// One file of a folder: `url` to fetch it from, `name` (its path relative to the page) in messages.
struct Expect<'a> {
    url: String,
    name: String,
    sha256: &'a str,
    /// Its exact size, where the manifest gives it.
    bytes: Option<u64>,
    rebuild: &'a str,
}

impl Expect<'_> {
    fn check(&self, data: &[u8], sha256: &str) -> Result<(), String> {
        golf_onnx::check_digest(&self.name, data.len() as u64, sha256, self.sha256, self.bytes, self.rebuild)
            .map_err(|e| e.to_string())
    }

    /// The most bytes to read: the manifest's size (itself bounded by its parse), else the tokenizer's limit.
    fn max(&self) -> u64 {
        self.bytes.unwrap_or(limits::TOKENIZER_BYTES)
    }
}

async fn model_file(f: &Expect<'_>, progress: &dyn Fn(u64, u64)) -> Result<(Vec<u8>, Source), String> {
    let cache = open_cache().await;
    let key = format!("{}?sha256={}", f.url, f.sha256);
    if let Some(cache) = &cache {
        let hit = JsFuture::from(cache.match_with_str(&key)).await.ok().and_then(|v| v.dyn_into::<Response>().ok());
        if let Some(resp) = hit {
            if let Ok((data, sha)) = read_body(&resp, &f.name, f.bytes.unwrap_or(0), f.max(), progress).await {
                if f.check(&data, &sha).is_ok() {
                    return Ok((data, Source::BrowserCache));
                }
            }
            // A damaged cached copy: forget it and download again.
            let _ = JsFuture::from(cache.delete_with_str(&key)).await;
        }
    }
    let t0 = now_ms();
    let resp = fetch(&f.url, &f.name).await?;
    if !resp.ok() {
        return Err(format!(
            "cannot download {}: HTTP {} (is the model built? Rebuild it with: {})",
            f.name,
            resp.status(),
            f.rebuild
        ));
    }
    let total =
        resp.headers().get("content-length").ok().flatten().and_then(|v| v.parse().ok()).or(f.bytes).unwrap_or(0);
    let (data, sha) = read_body(&resp, &f.name, total, f.max(), progress).await?;
    f.check(&data, &sha)?;
    if let Some(cache) = &cache {
        // Best effort: a full quota only means the next visit downloads again.
        let copy = js_sys::Uint8Array::from(data.as_slice());
        if let Ok(stored) = Response::new_with_opt_buffer_source(Some(&copy)) {
            let _ = JsFuture::from(cache.put_with_str(&key, &stored)).await;
        }
    }
    Ok((data, Source::Network { seconds: (now_ms() - t0) / 1e3 }))
}

/// The model folder at `base` (an absolute URL ending in `/`), named `folder` (its path relative to the page) in
/// messages. Every file's URL is `base` plus a path the manifest's parse has checked to stay inside the folder.
pub async fn fetch_folder(base: &str, folder: &str, progress: &dyn Fn(Step)) -> Result<Fetched, String> {
    let manifest_name = format!("{folder}/golfer.json");
    let resp = fetch(&format!("{base}golfer.json"), &manifest_name).await?;
    if !resp.ok() {
        return Err(format!("cannot download {manifest_name}: HTTP {}", resp.status()));
    }
    let (json, _) = read_body(&resp, &manifest_name, 0, limits::MANIFEST_BYTES, &|_, _| {}).await?;
    let manifest = Manifest::from_bytes(&json, &manifest_name).map_err(|e: OnnxError| e.to_string())?;
    progress(Step::Named(&manifest.label));
    let file = |path: &str| (format!("{base}{path}"), format!("{folder}/{path}"));
    let (url, name) = file(&manifest.tokenizer.file);
    let tok =
        Expect { url, name, sha256: &manifest.tokenizer.sha256, bytes: None, rebuild: manifest.tokenizer_rebuild() };
    let (tokenizer, _) = model_file(&tok, &|_, _| {}).await?;
    let (url, name) = file(&manifest.onnx.path);
    let onnx = Expect {
        url,
        name,
        sha256: &manifest.onnx.sha256,
        bytes: Some(manifest.onnx.bytes),
        rebuild: &manifest.rebuild,
    };
    let (onnx, source) = model_file(&onnx, &|done, total| progress(Step::Bytes { done, total })).await?;
    Ok(Fetched { manifest, onnx, tokenizer, source })
}
