//! Whether the golfers get threads: the page's first script (web/boot.js) decides, reloading the page once under
//! the service worker where the host sends no cross-origin isolation headers. The page's code waits for that
//! decision before it starts any golfer, and where there are no threads it says why, in one line.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::dom::*;

/// Waits for boot.js's decision (`window.golfIsolation`; a page without it, as a test's, goes on at once) and
/// shows the line `#isolation` when the golfers will run single-threaded. The promise never settles when boot.js
/// reloads the page, so nothing starts twice.
pub(super) async fn settle() {
    let global = js_sys::global();
    let decided =
        js_sys::Reflect::get(&global, &"golfIsolation".into()).ok().and_then(|p| p.dyn_into::<js_sys::Promise>().ok());
    let why = match decided {
        Some(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|d| js_sys::Reflect::get(&d, &"why".into()).ok())
            .and_then(|w| w.as_string()),
        None => None,
    };
    if super::cross_origin_isolated() {
        return;
    }
    let why = why.unwrap_or_else(|| "the host sends no cross-origin isolation headers".to_string());
    set_text(
        "isolation",
        &format!(
            "Single-threaded here: {why}. Every number is the same; the neural golfers are slower than with threads."
        ),
    );
    set_attr("isolation", "data-why", &why);
    if let Some(line) = document().get_element_by_id("isolation") {
        let _ = line.remove_attribute("hidden");
    }
}
