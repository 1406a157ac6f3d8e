//! A model folder from the site (the page): `golfer.json`, then each file read from Cache Storage when it holds
//! this exact version (keyed by the manifest's sha256, so a rebuilt model is fetched again), else downloaded with
//! progress; hashed as the bytes arrive and checked against the manifest before use (`golf_onnx::check_digest`,
//! the same check as a folder on disk); stored in the cache after a good download. Runs in a worker or a page.
//! A file over 16 MiB is served in parts (`golf_onnx::parts`): fetched a few parts at a time into one buffer,
//! each part checked and cached under its own sha256, the joined file checked against the whole's.

use futures_util::stream::{self, StreamExt, TryStreamExt};
use golf_onnx::manifest::limits;
use golf_onnx::parts::{Part, Parts, PART_BYTES};
use golf_onnx::{Manifest, OnnxError};
use sha2::{Digest, Sha256};
use std::cell::Cell;
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
    /// The manifest is read: the golfer's label and its model file's size.
    Named { label: &'a str, bytes: u64 },
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

/// A response's body, chunk by chunk.
struct Chunks(web_sys::ReadableStreamDefaultReader);

impl Chunks {
    fn of(resp: &Response) -> Result<Chunks, String> {
        let body = resp.body().ok_or("the response has no body")?;
        Ok(Chunks(body.get_reader().dyn_into().map_err(|_| "no stream reader")?))
    }

    /// The next chunk, or none at the body's end.
    async fn next(&self) -> Result<Option<js_sys::Uint8Array>, String> {
        let chunk = JsFuture::from(self.0.read()).await.map_err(js_err)?;
        if js_sys::Reflect::get(&chunk, &"done".into()).map_err(js_err)?.as_bool().unwrap_or(true) {
            return Ok(None);
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(js_err)?;
        Ok(Some(value.dyn_into().map_err(js_err)?))
    }

    async fn cancel(&self) {
        let _ = JsFuture::from(self.0.cancel()).await;
    }
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
    let chunks = Chunks::of(resp)?;
    // `total <= max`, and every `max` fits in wasm32's address space.
    let mut data = Vec::with_capacity(usize::try_from(total).map_err(|_| too_big(total))?);
    let mut hash = Sha256::new();
    while let Some(value) = chunks.next().await? {
        let start = data.len();
        let end = start as u64 + u64::from(value.length());
        if end > max {
            chunks.cancel().await;
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
    if f.bytes.is_some_and(|n| n > PART_BYTES) {
        // Checked there: the joined parts against their manifest's sha256, and that against this one's.
        let (joined, source) = parted_file(&f.url, &f.name, Some((f.sha256, f.bytes)), progress).await?;
        return Ok((joined.to_vec(), source));
    }
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

/// Reads a part's body into `into` (exactly its size), reporting each chunk's length; hashes it when `hash` is
/// given. A body longer or shorter than the part is refused.
async fn read_part(
    resp: &Response,
    name: &str,
    into: &js_sys::Uint8Array,
    mut hash: Option<&mut Sha256>,
    progress: &dyn Fn(u64),
) -> Result<(), String> {
    let size = into.length();
    let chunks = Chunks::of(resp)?;
    let mut at: u32 = 0;
    let mut scratch = Vec::new();
    while let Some(value) = chunks.next().await? {
        let n = value.length();
        if n > size - at {
            chunks.cancel().await;
            return Err(format!(
                "{name} is more than the {size} bytes its parts manifest says. Rebuild the page with: {REBUILD_PAGE}"
            ));
        }
        into.set(&value, at);
        if let Some(h) = hash.as_deref_mut() {
            scratch.resize(n as usize, 0);
            value.copy_to(&mut scratch);
            h.update(&scratch);
        }
        at += n;
        progress(u64::from(n));
    }
    if at != size {
        return Err(format!(
            "{name} is {at} bytes; its parts manifest says {size}. Rebuild the page with: {REBUILD_PAGE}"
        ));
    }
    Ok(())
}

/// The sha256 (hex) of bytes held by JavaScript, copied over a MiB at a time.
fn js_sha256(data: &js_sys::Uint8Array) -> String {
    let mut hash = Sha256::new();
    let mut scratch = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < data.length() {
        let end = (at + scratch.len() as u32).min(data.length());
        let buf = &mut scratch[..(end - at) as usize];
        data.subarray(at, end).copy_to(buf);
        hash.update(&*buf);
        at = end;
    }
    golf_onnx::hex(&hash.finalize())
}

/// What makes the parts of a file.
const REBUILD_PAGE: &str = "scripts/build.sh";

/// How many parts are downloaded at once.
const PARTS_AT_ONCE: usize = 3;

/// One part into its place in `whole`: from the cache when it holds this part's exact version (checked when it
/// was stored; the joined file is checked again), else downloaded, checked and stored. True if it was downloaded.
async fn fetch_part(
    cache: Option<&Cache>,
    dir: &str,
    folder: &str,
    part: &Part,
    into: js_sys::Uint8Array,
    progress: &dyn Fn(u64),
) -> Result<bool, String> {
    let url = format!("{dir}{}", part.path);
    let name = format!("{folder}{}", part.path);
    let key = format!("{url}?sha256={}", part.sha256);
    if let Some(cache) = cache {
        let hit = JsFuture::from(cache.match_with_str(&key)).await.ok().and_then(|v| v.dyn_into::<Response>().ok());
        if let Some(resp) = hit {
            if read_part(&resp, &name, &into, None, progress).await.is_ok() {
                return Ok(false);
            }
            let _ = JsFuture::from(cache.delete_with_str(&key)).await;
        }
    }
    let resp = fetch(&url, &name).await?;
    if !resp.ok() {
        return Err(format!("cannot download {name}: HTTP {}", resp.status()));
    }
    let mut hash = Sha256::new();
    read_part(&resp, &name, &into, Some(&mut hash), progress).await?;
    let got = golf_onnx::hex(&hash.finalize());
    if got != part.sha256 {
        return Err(format!(
            "{name}: sha256 {got} does not match its parts manifest's {}. Rebuild the page with: {REBUILD_PAGE}",
            part.sha256
        ));
    }
    if let Some(cache) = cache {
        // Best effort, as for a whole file.
        if let Ok(stored) = Response::new_with_opt_buffer_source(Some(&into)) {
            let _ = JsFuture::from(cache.put_with_str(&key, &stored)).await;
        }
    }
    Ok(true)
}

/// Forgets what earlier builds left in the cache for the file at `url`: the whole file, and parts that this
/// build's manifest does not list.
async fn prune(cache: &Cache, url: &str, parts: &Parts, dir: &str) {
    let keep: Vec<String> = parts.parts.iter().map(|p| format!("{dir}{}?sha256={}", p.path, p.sha256)).collect();
    let Ok(keys) = JsFuture::from(cache.keys()).await else { return };
    for request in js_sys::Array::from(&keys).iter() {
        let Some(key) = js_sys::Reflect::get(&request, &"url".into()).ok().and_then(|u| u.as_string()) else {
            continue;
        };
        let ours = key.starts_with(&format!("{url}?")) || key.starts_with(&format!("{url}.part"));
        if ours && !keep.contains(&key) {
            let _ = JsFuture::from(cache.delete_with_str(&key)).await;
        }
    }
}

/// A file served in parts (`{url}.parts.json` and the parts it lists, `name` in messages), joined into one
/// buffer and checked against the whole's sha256 (and against `expect`, the sha256 and size a model's manifest
/// gives, where there is one). A joined file that does not match, made of cached parts, is fetched again once.
/// Parts are made by the page's build, so every error about them says to rebuild the page.
pub async fn parted_file(
    url: &str,
    name: &str,
    expect: Option<(&str, Option<u64>)>,
    progress: &dyn Fn(u64, u64),
) -> Result<(js_sys::Uint8Array, Source), String> {
    let rebuild = REBUILD_PAGE;
    let manifest_name = format!("{name}.parts.json");
    let resp = fetch(&format!("{url}.parts.json"), &manifest_name).await?;
    if !resp.ok() {
        return Err(format!(
            "cannot download {manifest_name}: HTTP {} (a file over 16 MiB is served in parts; is the page's build \
             complete? Rebuild it with: {rebuild})",
            resp.status()
        ));
    }
    let (json, _) = read_body(&resp, &manifest_name, 0, golf_onnx::parts::MANIFEST_BYTES, &|_, _| {}).await?;
    let file = url.rsplit('/').next().unwrap_or(url);
    let parts = Parts::from_bytes(&json, file, &manifest_name)?;
    if let Some((sha256, bytes)) = expect {
        if parts.sha256 != sha256 || bytes.is_some_and(|b| b != parts.bytes) {
            return Err(format!(
                "{manifest_name} describes another version of {name} than its manifest (sha256 {}, {} bytes). \
                 Rebuild the page with: {rebuild}",
                parts.sha256, parts.bytes
            ));
        }
    }
    let size =
        u32::try_from(parts.bytes).map_err(|_| format!("{name} is {} bytes, more than wasm32 holds", parts.bytes))?;
    let dir = &url[..url.len() - file.len()];
    let folder = &name[..name.len() - name.rsplit('/').next().map_or(0, str::len)];
    let cache = open_cache().await;
    let t0 = now_ms();
    for attempt in 0..2 {
        let use_cache = if attempt == 0 { cache.as_ref() } else { None };
        let whole = js_sys::Uint8Array::new_with_length(size);
        let done = Cell::new(0u64);
        let step = |n: u64| {
            // A cached part found short and downloaded again counts twice: the bar stops at full.
            done.set((done.get() + n).min(parts.bytes));
            progress(done.get(), parts.bytes);
        };
        let downloaded: Vec<bool> = stream::iter(parts.offsets())
            .map(|(at, part)| {
                let into = whole.subarray(at as u32, (at + part.bytes) as u32);
                fetch_part(use_cache, dir, folder, part, into, &step)
            })
            .buffered(PARTS_AT_ONCE)
            .try_collect()
            .await?;
        let sha = js_sha256(&whole);
        if sha == parts.sha256 {
            if let Some(cache) = &cache {
                prune(cache, url, &parts, dir).await;
            }
            let source = if downloaded.contains(&true) {
                Source::Network { seconds: (now_ms() - t0) / 1e3 }
            } else {
                Source::BrowserCache
            };
            return Ok((whole, source));
        }
        if let (Some(cache), false) = (&cache, downloaded.iter().all(|&d| d)) {
            // Cached parts that do not make the whole: forget them and download every part again.
            for p in &parts.parts {
                let _ = JsFuture::from(cache.delete_with_str(&format!("{dir}{}?sha256={}", p.path, p.sha256))).await;
            }
            continue;
        }
        return Err(format!(
            "{name}: its parts join to sha256 {sha}, not the {} of their manifest. Rebuild the page with: {rebuild}",
            parts.sha256
        ));
    }
    Err(format!("{name}: its parts do not join to the file their manifest describes. Rebuild the page with: {rebuild}"))
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
    progress(Step::Named { label: &manifest.label, bytes: manifest.onnx.bytes });
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
