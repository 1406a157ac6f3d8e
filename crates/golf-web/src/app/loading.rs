//! Loading a neural golfer from the site's own files, with a download progress bar.

use super::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// The download row of golfer `folder` (its label, progress bar and note): the one reserved for it
/// ([`reserve_download_row`]), or a new one.
fn download_row(folder: &str) -> (Element, Element, Element, Element) {
    let doc = document();
    if let (Some(row), Some(bar), Some(note)) = (
        doc.get_element_by_id(&format!("download-{folder}")),
        doc.get_element_by_id(&format!("progress-{folder}")),
        doc.get_element_by_id(&format!("progress-text-{folder}")),
    ) {
        if let Some(label) = row.first_element_child() {
            return (row, label, bar, note);
        }
    }
    reserve_download_row(folder);
    download_row(folder)
}

/// A download row for golfer `folder`, waiting: made before any golfer loads, so the rows do not push the page
/// down one by one as the golfers start.
pub(super) fn reserve_download_row(folder: &str) {
    let row = el("div", "download", &format!("download-{folder}"));
    let label = el("span", "download-label", "");
    label.set_text_content(Some(folder));
    let bar = el("progress", "", &format!("progress-{folder}"));
    // Empty, not the animation of work under way.
    let _ = bar.set_attribute("value", "0");
    let note = el("span", "download-note", &format!("progress-text-{folder}"));
    note.set_text_content(Some("waiting for the golfers before it…"));
    for child in [&label, &bar, &note] {
        let _ = row.append_child(child);
    }
    let _ = by_id::<Element>("downloads").append_child(&row);
}

/// Loads a neural golfer from `models/{folder}/` in a worker of its own (ONNX Runtime Web and every file from this
/// site; the worker downloads, checks and caches them), with a download progress bar; true when it loaded and has
/// a panel.
pub(super) async fn load_onnx(state: &Shared, folder: &str, threads: Option<u32>) -> bool {
    let (row, label, bar, note) = download_row(folder);
    note.set_text_content(Some("starting…"));
    let bar: web_sys::HtmlProgressElement = bar.unchecked_into();
    let mb = |b: u64| b as f64 / 1e6;
    let how = Rc::new(RefCell::new(String::new()));
    scoreboard::says(folder, "starting…");
    let progress = {
        let (row, label, bar, note, how) = (row.clone(), label.clone(), bar.clone(), note.clone(), how.clone());
        let id = folder.to_string();
        let started = std::cell::Cell::new(None::<f64>);
        move |reply: &Reply| match reply {
            Reply::Named { label: name, bytes } => {
                // What it is about to download, before it does.
                label.set_text_content(Some(&format!("{name} ({:.1} MB)", mb(*bytes))));
                scoreboard::name(&id, name);
            }
            Reply::Download { done, total } => {
                bar.set_max((*total).max(1) as f64);
                bar.set_value(*done as f64);
                note.set_text_content(Some(&format!("{:.1} of {:.1} MB", mb(*done), mb(*total))));
                let t0 = started.get().unwrap_or_else(now_ms);
                started.set(Some(t0));
                let share = *done as f64 / (*total).max(1) as f64;
                scoreboard::says(&id, &scoreboard::progress("downloading", t0, share));
            }
            Reply::Fetched { bytes, source } => {
                let size = mb(*bytes);
                let (text, tag) = match source {
                    Source::Network { seconds } => (format!("downloaded {size:.1} MB in {seconds:.1} s"), "network"),
                    Source::BrowserCache => (format!("{size:.1} MB from the browser's cache"), "cache"),
                };
                let _ = row.set_attribute("data-source", tag);
                note.set_text_content(Some(&format!("{text}; starting the model…")));
                scoreboard::says(&id, "starting the model…");
                *how.borrow_mut() = text;
            }
            _ => {}
        }
    };
    let load = Request::Fetch {
        base: absolute(&format!("models/{folder}/")),
        folder: format!("models/{folder}"),
        runtime: web_runtime(state, threads),
    };
    match Remote::start(state, folder, load, Vec::new(), progress).await {
        Ok((golfer, ready_ms)) => {
            // Where it runs is said in its panel's head (one line here, so the page below does not move).
            note.set_text_content(Some(&format!("{}; model ready in {:.1} s", how.borrow(), ready_ms / 1e3)));
            let _ = row.set_attribute("data-done", "true");
            add_panel(state, golfer);
            true
        }
        Err(e) => {
            let _ = row.set_attribute("data-error", "true");
            note.set_text_content(Some("failed"));
            release_panel(folder);
            scoreboard::remove(folder);
            let why = match ort_hosting_problem().await {
                // The cause the visitor (or whoever hosts the page) can act on first; ONNX Runtime Web's words after.
                Some(hosting) => format!("{hosting} ({e})"),
                None => e,
            };
            show_error(&format!("The {folder} golfer did not load: {why}. The other golfers still work."));
            false
        }
    }
}

/// ONNX Runtime Web for a golfer's worker: the site's own copy, its threads, the device the page asks for.
fn web_runtime(state: &Shared, threads: Option<u32>) -> WebRuntime {
    WebRuntime { dist: absolute("ort/"), threads: ort_threads(threads), device: state.borrow().device }
}

/// A participant's artifact imported and loaded in a worker of its own (the import takes seconds: not on this
/// thread); with what the import assumed.
pub(super) async fn start_import(
    state: &Shared,
    import: Import,
    files: Vec<Vec<u8>>,
) -> Result<(Rc<Remote>, Vec<String>), String> {
    let assumed: Rc<RefCell<Vec<String>>> = Rc::default();
    let heard = assumed.clone();
    let name = import.name.clone();
    let load = Request::Import { import, runtime: web_runtime(state, None) };
    let started = Remote::start(state, &name, load, files, move |reply| {
        if let Reply::Imported { assumed, .. } = reply {
            *heard.borrow_mut() = assumed.clone();
        }
    })
    .await;
    let (golf, _) = match started {
        Ok(started) => started,
        Err(e) => {
            return Err(match ort_hosting_problem().await {
                Some(hosting) => format!("{hosting} ({e})"),
                None => e,
            })
        }
    };
    let assumed = assumed.take();
    Ok((golf, assumed))
}

/// When a golfer fails to start, whether the host is the cause: ONNX Runtime Web's module scripts must be served
/// as JavaScript, or the browser refuses them and ONNX Runtime Web says only "no available backend found". Each
/// is fetched again (from the browser's cache, as a rule) and its status and Content-Type checked; the first
/// problem is said (a host that serves one wrong serves both wrong).
pub(super) async fn ort_hosting_problem() -> Option<String> {
    for file in crate::hosting::ORT_MODULES {
        let url = absolute(&format!("ort/{file}"));
        let Ok(response) = wasm_bindgen_futures::JsFuture::from(window().fetch_with_str(&url)).await else {
            // Offline, say: nothing to tell about the host.
            continue;
        };
        let Ok(response) = response.dyn_into::<web_sys::Response>() else { continue };
        let content_type = response.headers().get("content-type").ok().flatten();
        if let Some(problem) = crate::hosting::module_problem(file, response.status(), content_type.as_deref()) {
            return Some(problem);
        }
    }
    None
}

/// Downloads this big are asked about first on a phone or a metered connection.
const ASK_OVER_BYTES: u64 = 20 << 20;

/// Why to ask before a big download, if this visitor should be asked: a connection that asks to save data or is
/// slow (`navigator.connection`, where the browser has it), or a phone (a touch screen as narrow as one).
fn reason_to_ask() -> Option<&'static str> {
    let connection = js_sys::Reflect::get(&window().navigator(), &"connection".into()).ok();
    let field = |name: &str| connection.as_ref().and_then(|c| js_sys::Reflect::get(c, &name.into()).ok());
    if field("saveData").and_then(|v| v.as_bool()) == Some(true) {
        return Some("your browser asks to save data");
    }
    if matches!(field("effectiveType").and_then(|v| v.as_string()).as_deref(), Some("slow-2g" | "2g" | "3g")) {
        return Some("your connection is slow");
    }
    let media = |q: &str| window().match_media(q).ok().flatten().is_some_and(|m| m.matches());
    if media("(pointer: coarse)") && media("(max-width: 700px)") {
        return Some("this looks like a phone");
    }
    None
}

/// The name of golfer `folder` and the size of the model it downloads, from its manifest (the page's own copy).
async fn model_size(folder: &str) -> Option<(String, u64)> {
    let resp: web_sys::Response =
        JsFuture::from(window().fetch_with_str(&absolute(&format!("models/{folder}/golfer.json"))))
            .await
            .ok()?
            .dyn_into()
            .ok()?;
    let text = JsFuture::from(resp.text().ok()?).await.ok()?.as_string()?;
    let manifest = golf_onnx::Manifest::from_bytes(text.as_bytes(), "golfer.json").ok()?;
    Some((manifest.label, manifest.onnx.bytes))
}

/// Before a big model's download on a phone or a metered connection: asks under the scoreboard (`#ask`), with the
/// golfer's name and size, and returns once the visitor says yes (at once where there is nothing to ask, or the
/// visitor has said yes before in this browser). "Not now" gives the golfer's places up; the question stays.
pub(super) async fn ask_before_download(folder: &str) {
    let agreed = format!("four-golfers-download-{folder}");
    let storage = window().local_storage().ok().flatten();
    if storage.as_ref().and_then(|s| s.get_item(&agreed).ok().flatten()).is_some() {
        return;
    }
    let Some(why) = reason_to_ask() else { return };
    let Some((name, bytes)) = model_size(folder).await.filter(|(_, b)| *b > ASK_OVER_BYTES) else { return };
    let (row, _, _, note) = download_row(folder);
    let _ = row.set_attribute("data-asking", "true");
    note.set_text_content(Some("waiting for your answer above"));
    let ask: HtmlElement = by_id("ask");
    let question = el("p", "", &format!("ask-{folder}"));
    question
        .set_text_content(Some(&format!("The {name} golfer is a {:.1} MB download, and {why}.", bytes as f64 / 1e6)));
    let yes = el("button", "small", &format!("download-yes-{folder}"));
    yes.set_text_content(Some(&format!("Download it ({:.0} MB)", bytes as f64 / 1e6)));
    let no = el("button", "secondary small", &format!("download-no-{folder}"));
    no.set_text_content(Some("Not now"));
    let _ = question.append_child(&yes);
    let _ = question.append_child(&no);
    let _ = ask.append_child(&question);
    ask.set_hidden(false);
    scoreboard::says(folder, &format!("asks first: {:.0} MB", bytes as f64 / 1e6));
    let id = folder.to_string();
    on(&no, "click", move |_| {
        // The other golfers go on; the question stays, for later.
        release_panel(&id);
        scoreboard::remove(&id);
        set_attr(&format!("download-no-{id}"), "hidden", "");
    });
    let clicked = js_sys::Promise::new(&mut |resolve, _| {
        on(&yes, "click", move |_| {
            let _ = resolve.call0(&JsValue::NULL);
        });
    });
    let _ = JsFuture::from(clicked).await;
    if let Some(s) = &storage {
        let _ = s.set_item(&agreed, "yes");
    }
    question.remove();
    ask.set_hidden(ask.child_element_count() == 0);
    let _ = row.remove_attribute("data-asking");
    note.set_text_content(Some("starting…"));
    if document().get_element_by_id(&format!("slot-{folder}")).is_none() {
        // Answered after "Not now": its places come back.
        let text = by_id::<HtmlTextAreaElement>("text").value();
        reserve_panel(folder, &text, false);
        scoreboard::reserve(folder, &name);
    }
}
