//! Model files: read from the browser's Cache Storage when it holds this exact version (keyed by the manifest's
//! sha256, so a rebuilt model is fetched again), else downloaded from the site with progress; hashed as the
//! bytes arrive and checked against the manifest before use; stored in the cache after a good download.

use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

use super::dom::{absolute, js_err, window};

const CACHE_NAME: &str = "four-golfers-models";

/// Where a file's bytes came from, for the status line.
pub enum Source {
    Network { seconds: f64 },
    BrowserCache,
}

pub struct Expect<'a> {
    /// Path relative to the page, e.g. `models/smollm2/model.onnx`.
    pub path: &'a str,
    pub sha256: &'a str,
    pub bytes: Option<u64>,
    pub rebuild: &'a str,
}

async fn open_cache() -> Option<Cache> {
    // Cache Storage exists only in secure contexts (https, or http on localhost / 127.0.0.1).
    let caches = window().caches().ok()?;
    JsFuture::from(caches.open(CACHE_NAME)).await.ok()?.dyn_into().ok()
}

fn cache_key(f: &Expect) -> String {
    format!("{}?sha256={}", absolute(f.path), f.sha256)
}

/// Reads a response body chunk by chunk, reporting (bytes so far, total) and hashing as it goes.
async fn read_body(resp: &Response, total: u64, progress: &dyn Fn(u64, u64)) -> Result<(Vec<u8>, String), String> {
    let body = resp.body().ok_or("the response has no body")?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().dyn_into().map_err(|_| "no stream reader")?;
    let mut data = Vec::with_capacity(total as usize);
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
        data.resize(start + value.length() as usize, 0);
        value.copy_to(&mut data[start..]);
        hash.update(&data[start..]);
        progress(data.len() as u64, total.max(data.len() as u64));
    }
    let hex = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((data, hex))
}

fn check(f: &Expect, data: &[u8], sha256: &str) -> Result<(), String> {
    let bad = |why: String| format!("{}: {why}. Rebuild it with: {}", f.path, f.rebuild);
    if let Some(n) = f.bytes {
        if data.len() as u64 != n {
            return Err(bad(format!("it is {} bytes, the manifest says {n}", data.len())));
        }
    }
    if sha256 != f.sha256 {
        return Err(bad(format!("sha256 {sha256} does not match the manifest's {}", f.sha256)));
    }
    Ok(())
}

pub async fn model_file(f: &Expect<'_>, progress: &dyn Fn(u64, u64)) -> Result<(Vec<u8>, Source), String> {
    let cache = open_cache().await;
    let key = cache_key(f);
    if let Some(cache) = &cache {
        let hit = JsFuture::from(cache.match_with_str(&key)).await.ok().and_then(|v| v.dyn_into::<Response>().ok());
        if let Some(resp) = hit {
            let total = f.bytes.unwrap_or(0);
            if let Ok((data, sha)) = read_body(&resp, total, progress).await {
                if check(f, &data, &sha).is_ok() {
                    return Ok((data, Source::BrowserCache));
                }
            }
            // A damaged cached copy: forget it and download again.
            let _ = JsFuture::from(cache.delete_with_str(&key)).await;
        }
    }
    let t0 = super::dom::now_ms();
    let resp: Response = JsFuture::from(window().fetch_with_str(f.path))
        .await
        .map_err(|e| format!("cannot download {}: {}", f.path, js_err(e)))?
        .dyn_into()
        .map_err(|_| "fetch did not return a Response".to_string())?;
    if !resp.ok() {
        return Err(format!(
            "cannot download {}: HTTP {} (is the model built? Rebuild it with: {})",
            f.path,
            resp.status(),
            f.rebuild
        ));
    }
    let total =
        resp.headers().get("content-length").ok().flatten().and_then(|v| v.parse().ok()).or(f.bytes).unwrap_or(0);
    let (data, sha) = read_body(&resp, total, progress).await?;
    check(f, &data, &sha)?;
    if let Some(cache) = &cache {
        // Best effort: a full quota only means the next visit downloads again.
        let copy = js_sys::Uint8Array::from(data.as_slice());
        if let Ok(stored) = Response::new_with_opt_buffer_source(Some(&copy)) {
            let _ = JsFuture::from(cache.put_with_str(&key, &stored)).await;
        }
    }
    Ok((data, Source::Network { seconds: (super::dom::now_ms() - t0) / 1e3 }))
}
