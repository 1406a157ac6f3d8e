//! The page: loads the golfers, drives them round-robin in bounded steps (yielding to the browser between
//! steps), and copies the views' results onto elements.

mod charts;
mod dom;
mod download;
mod golfers;
mod race;
mod results;

use std::cell::RefCell;
use std::rc::Rc;

use golf_core::{per_byte_bits, Span};
use golf_gzip::{GzipGolfer, Method};
use golf_onnx::{ArGolfer, Estimator, Manifest, MdlmGolfer};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Element, Event, HtmlElement, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};

use self::dom::*;
use self::golfers::{GenRun, Golf, ScoreRun};
use crate::views::{self, Cell};
use crate::DEFAULT_TEXT;

/// Bits per byte at the dark end of the colour scale.
const SCALE_MAX: f64 = 12.0;

/// What one scoring step should take at most, so the page answers input between steps (long tasks are 50 ms
/// and up; a step under this keeps the page usable while it scores).
const STEP_TARGET_MS: f64 = 80.0;

/// Seconds of model time a diffusion chain rule may take (one model call per token); `?chain_s=N` changes it.
const CHAIN_BUDGET_S: f64 = 30.0;

struct Panel {
    golf: Rc<Golf>,
    spans: Vec<Span>,
    cells: Vec<Cell>,
    /// Bumped to stop this panel's score or replay (cancel, a new score): a loop holding an older number stops.
    run: u32,
    /// The text the panel last scored in full (its hash) and its bits per byte.
    scored: Option<(u64, f64)>,
    /// The diffusion golfer: (estimator, bpb, what part of the text) on the text with hash `.0`, in run order.
    estimates: (u64, Vec<(String, f64, Option<String>)>),
    /// The last finished score and the hash of the text it scored, for the table, charts and exports.
    result: Option<(u64, crate::results::Scored)>,
}

#[derive(Default)]
struct State {
    panels: Vec<Panel>,
    /// Bumped to stop a running generation: a loop that sees a newer number stops.
    gen_run: u32,
    chain_budget_s: f64,
    /// The shared colour scale: bits per byte at the dark end.
    scale: f64,
    /// The character highlighted in every panel (hover or keyboard).
    highlighted: Option<usize>,
    /// A redraw of the table and charts is scheduled.
    results_pending: bool,
}

fn text_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

type Shared = Rc<RefCell<State>>;

pub fn start() {
    console_error_panic_hook::set_once();
    let state: Shared = Rc::new(RefCell::new(State::default()));
    by_id::<HtmlTextAreaElement>("text").set_value(DEFAULT_TEXT);
    let params = web_sys::UrlSearchParams::new_with_str(&window().location().search().unwrap_or_default()).ok();
    let param = |name: &str| params.as_ref().and_then(|p| p.get(name));
    state.borrow_mut().chain_budget_s =
        param("chain_s").and_then(|s| s.parse().ok()).filter(|s: &f64| *s > 0.0).unwrap_or(CHAIN_BUDGET_S);
    state.borrow_mut().scale = SCALE_MAX;
    // A share link's fragment: its text and settings replace the defaults.
    let fragment = window().location().hash().unwrap_or_default();
    if let Some(f) = fragment.strip_prefix('#').filter(|f| !f.is_empty()) {
        match crate::share::decode(f) {
            Ok(view) => apply_shared(&state, view),
            Err(e) => show_error(&format!("This link's view could not be read ({e}); showing the default text.")),
        }
    }
    render_legend(state.borrow().scale);
    add_panel(&state, Golf::Gzip(GzipGolfer::new(Method::Exact)));
    wire_results(&state);
    wire_text_picker(&state);

    let s = state.clone();
    on_id("score", "click", move |_| {
        // A new score by hand clears the last error; the page's own loading keeps it in view.
        show_error("");
        spawn_local(score(s.clone(), None))
    });
    let s = state.clone();
    on_id("generate", "click", move |_| spawn_local(race::race(s.clone())));
    let s = state.clone();
    on_id("cancel", "click", move |_| cancel_score(&s));
    let s = state.clone();
    on_id("stop", "click", move |_| {
        s.borrow_mut().gen_run += 1;
        set_text("gen-status", "stopped");
    });
    on_id("diffusion-steps", "input", |_| {
        set_text("diffusion-steps-value", &by_id::<HtmlInputElement>("diffusion-steps").value())
    });
    set_attr("app", "data-ready", "true");
    let threads: Option<u32> = param("threads").and_then(|t| t.parse().ok());
    if let Some(id) = param("bench") {
        spawn_local(bench(state, id, threads));
        return;
    }
    // `?golfers=ar,mdlm` loads only those neural golfers (gzip is always there).
    let wanted: Option<Vec<String>> = param("golfers").map(|g| g.split(',').map(|s| s.trim().to_string()).collect());
    spawn_local(async move {
        score(state.clone(), None).await;
        // The neural golfers, smallest first; each is scored as soon as it is ready.
        let folders = ["ar", "mdlm", "smollm2"];
        for folder in folders.into_iter().filter(|f| wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == f))) {
            if load_onnx(&state, folder, threads).await {
                score(state.clone(), Some(folder.to_string())).await;
            }
        }
    });
}

/// Stops the running score after the step in progress; panels that had not finished say so.
fn cancel_score(state: &Shared) {
    let mut s = state.borrow_mut();
    for p in s.panels.iter_mut() {
        p.run += 1;
        let id = p.golf.id();
        if !by_id::<Element>(&format!("panel-{id}")).has_attribute("data-scored") {
            set_text(&format!("status-{id}"), "cancelled");
            set_attr(&format!("panel-{id}"), "data-cancelled", "true");
        }
    }
}

/// `?bench=ID[&threads=N]`: loads one neural golfer and prints the same speed measurement as `golf bench`.
async fn bench(state: Shared, id: String, threads: Option<u32>) {
    let out: Element = by_id("bench-result");
    out.unchecked_ref::<HtmlElement>().set_hidden(false);
    if !load_onnx(&state, &id, threads).await {
        return out.set_text_content(Some("the golfer did not load"));
    }
    let golf = state.borrow().panels.last().map(|p| p.golf.clone()).expect("loaded");
    out.set_text_content(Some("measuring…"));
    let clock = || now_ms() / 1e3;
    let measured = match &*golf {
        Golf::Ar(g) => golf_onnx::speed::measure(g, DEFAULT_TEXT, 2, clock).await.map(|s| {
            serde_json::json!({
                "prefill_tokens": s.prefill_tokens, "prefill_tokens_per_s": s.prefill_tokens_per_s(),
                "decode_tokens": s.decode_tokens, "decode_ms_per_token": s.decode_ms_per_token(),
            })
        }),
        Golf::Mdlm(g) => golf_onnx::speed::measure_mdlm(g, DEFAULT_TEXT, 2, clock).await.map(|s| {
            serde_json::json!({
                "window": s.window, "chain_tokens": s.chain_tokens, "chain_tokens_per_s": s.chain_tokens_per_s(),
                "nelbo_steps": s.nelbo_steps, "nelbo_tokens": s.nelbo_tokens,
                "nelbo_tokens_per_s": s.nelbo_tokens_per_s(),
            })
        }),
        Golf::Gzip(_) => return out.set_text_content(Some("gzip's speed: golf bench")),
    };
    match measured {
        Ok(mut json) => {
            let fields = json.as_object_mut().expect("an object");
            fields.insert("golfer".into(), id.into());
            fields.insert("threads".into(), ort_threads(threads).into());
            fields.insert("isolated".into(), cross_origin_isolated().into());
            out.set_text_content(Some(&json.to_string()));
        }
        Err(e) => out.set_text_content(Some(&format!("error: {e}"))),
    }
    out.set_attribute("data-done", "true").unwrap();
}

fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// ONNX Runtime Web's threads: more than one needs cross-origin isolation (SharedArrayBuffer).
fn ort_threads(asked: Option<u32>) -> u32 {
    if !cross_origin_isolated() {
        return 1;
    }
    asked.unwrap_or_else(|| window().navigator().hardware_concurrency().clamp(1.0, 4.0) as u32).max(1)
}

fn add_panel(state: &Shared, golf: Golf) {
    let id = golf.id();
    let panel = el("article", "panel", &format!("panel-{id}"));
    let head = el("header", "panel-head", "");
    let title = el("h3", "", "");
    title.set_text_content(Some(&golf.label()));
    let bpb = el("span", "bpb", "");
    let value = el("span", "", &format!("bpb-{id}"));
    value.set_text_content(Some("–"));
    bpb.append_child(&value).unwrap();
    bpb.append_child(&document().create_text_node(" bits/byte")).unwrap();
    let golf_bpb = el("span", "golf-bpb", &format!("golf-bpb-{id}"));
    let status = el("span", "status", &format!("status-{id}"));
    for child in [&title, &bpb, &golf_bpb, &status] {
        head.append_child(child).unwrap();
    }
    panel.append_child(&head).unwrap();
    let index = state.borrow().panels.len();
    if matches!(golf, Golf::Mdlm(_)) {
        panel.append_child(&diffusion_controls(state, index, &id)).unwrap();
    }
    let limit = el("p", "note", &format!("limit-{id}"));
    limit.unchecked_ref::<HtmlElement>().set_hidden(true);
    let hover = el("div", "hover", &format!("hover-{id}"));
    hover.set_text_content(Some("Hover a character to see its bits."));
    let heatmap = el("div", "heatmap", &format!("heatmap-{id}"));
    let note = el("p", "note", &format!("note-{id}"));
    note.unchecked_ref::<HtmlElement>().set_hidden(true);
    for child in [&limit, &hover, &heatmap, &note] {
        panel.append_child(child).unwrap();
    }
    by_id::<Element>("panels").append_child(&panel).unwrap();
    let s = state.clone();
    on(&heatmap, "mouseover", move |e| hover_cell(&s, &e));
    heatmap.set_attribute("tabindex", "0").unwrap();
    heatmap
        .set_attribute("aria-label", &format!("{}: bits per character; arrow keys step through tokens", golf.label()))
        .unwrap();
    let s = state.clone();
    on(&heatmap, "keydown", move |e| key_nav(&s, index, &e));
    race::add_toggle(&golf);
    add_score_toggle(state, &golf, index);
    describe_in_header(&golf);
    state.borrow_mut().panels.push(Panel {
        golf: Rc::new(golf),
        spans: Vec::new(),
        cells: Vec::new(),
        run: 0,
        scored: None,
        estimates: (0, Vec::new()),
        result: None,
    });
}

/// A checkbox per golfer above the panels: unticked, its panel is hidden and it does not score.
fn add_score_toggle(state: &Shared, golf: &Golf, index: usize) {
    let gid = golf.id();
    let label = el("label", "toggle", "");
    let input = el("input", "", &format!("score-{gid}"));
    input.set_attribute("type", "checkbox").unwrap();
    input.set_attribute("checked", "").unwrap();
    label.append_child(&input).unwrap();
    label.append_child(&document().create_text_node(&format!(" {}", golf.label()))).unwrap();
    by_id::<Element>("score-golfers").append_child(&label).unwrap();
    let s = state.clone();
    on(&input, "change", move |_| {
        let on = by_id::<HtmlInputElement>(&format!("score-{gid}")).checked();
        by_id::<HtmlElement>(&format!("panel-{gid}")).set_hidden(!on);
        let text = by_id::<HtmlTextAreaElement>("text").value();
        let stale = s.borrow().panels[index].result.as_ref().is_none_or(|(h, _)| *h != text_hash(&text));
        if on && stale {
            spawn_local(score(s.clone(), Some(gid.clone())));
        }
        schedule_results(&s);
    });
}

fn score_ticked(gid: &str) -> bool {
    document()
        .get_element_by_id(&format!("score-{gid}"))
        .is_none_or(|e| e.unchecked_ref::<HtmlInputElement>().checked())
}

/// The header's line for a golfer gets its numbers once it has loaded.
fn describe_in_header(golf: &Golf) {
    let info = golf.info();
    let Some(li) = document().get_element_by_id(&format!("about-{}", info.id)) else { return };
    let facts = el("span", "facts", "");
    let params = info.params.map_or("no parameters".to_string(), |p| format!("{} parameters", group_digits(p)));
    let size = if info.model_bytes == 0 {
        "no model file (its model is its code)".to_string()
    } else {
        format!("{:.2} MB on disk", info.model_bytes as f64 / 1e6)
    };
    facts.set_text_content(Some(&format!(" [{params} · {size}]")));
    li.append_child(&facts).unwrap();
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The diffusion golfer's panel controls: which estimator scores the text, NELBO's number of masking rates, a
/// replay of the order a chain rule revealed the tokens in, and the estimates so far next to the AR golfer's.
fn diffusion_controls(state: &Shared, index: usize, id: &str) -> Element {
    let row = el("div", "controls panel-controls", "");
    let label = el("label", "", "");
    label.append_child(&document().create_text_node("Estimator ")).unwrap();
    let select = el("select", "", &format!("estimator-{id}"));
    for (value, text) in [
        ("nelbo", "NELBO (an upper bound, whole text)"),
        ("confidence", "chain rule, most confident first (exact)"),
        ("l2r", "chain rule, left to right (exact)"),
    ] {
        let option = el("option", "", "");
        option.set_attribute("value", value).unwrap();
        option.set_text_content(Some(text));
        select.append_child(&option).unwrap();
    }
    label.append_child(&select).unwrap();
    let steps_label = el("label", "", &format!("nelbo-steps-label-{id}"));
    steps_label.set_attribute("title", "NELBO: masking rates averaged over, one model call per window each").unwrap();
    steps_label.append_child(&document().create_text_node("Masking rates K ")).unwrap();
    let steps = el("input", "", &format!("nelbo-steps-{id}"));
    for (k, v) in [("type", "range"), ("min", "1"), ("max", "128"), ("value", "32")] {
        steps.set_attribute(k, v).unwrap();
    }
    let steps_value = el("output", "", &format!("nelbo-steps-value-{id}"));
    steps_value.set_text_content(Some("32"));
    steps_label.append_child(&steps).unwrap();
    steps_label.append_child(&steps_value).unwrap();
    let replay = el("button", "secondary", &format!("replay-{id}"));
    replay.set_attribute("type", "button").unwrap();
    replay.set_attribute("disabled", "").unwrap();
    replay
        .set_attribute("title", "Chain rules only: watch the tokens appear in the order the model revealed them")
        .unwrap();
    replay.set_text_content(Some("Replay the unmasking"));
    let estimates = el("div", "estimates", &format!("estimates-{id}"));
    // A share link's estimator and K.
    let app: Element = by_id("app");
    if let Some(e) = app.get_attribute("data-estimator") {
        select.unchecked_ref::<HtmlSelectElement>().set_value(&e);
        steps_label.unchecked_ref::<HtmlElement>().set_hidden(e != "nelbo");
    }
    if let Some(k) = app.get_attribute("data-nelbo-k") {
        steps.unchecked_ref::<HtmlInputElement>().set_value(&k);
        steps_value.set_text_content(Some(&k));
    }
    for child in [&label, &steps_label, &replay, &estimates] {
        row.append_child(child).unwrap();
    }
    let gid = id.to_string();
    let s = state.clone();
    on(&select, "change", move |_| {
        let nelbo = by_id::<HtmlSelectElement>(&format!("estimator-{gid}")).value() == "nelbo";
        by_id::<HtmlElement>(&format!("nelbo-steps-label-{gid}")).set_hidden(!nelbo);
        spawn_local(score(s.clone(), Some(gid.clone())));
    });
    let gid = id.to_string();
    on(&steps, "input", move |_| {
        set_text(&format!("nelbo-steps-value-{gid}"), &by_id::<HtmlInputElement>(&format!("nelbo-steps-{gid}")).value())
    });
    let (s, gid) = (state.clone(), id.to_string());
    on(&steps, "change", move |_| spawn_local(score(s.clone(), Some(gid.clone()))));
    let s = state.clone();
    on(&replay, "click", move |_| spawn_local(replay_unmasking(s.clone(), index)));
    row
}

/// The estimator chosen in a diffusion panel (None for the other golfers).
fn chosen_estimator(golf: &Golf) -> Option<Estimator> {
    let Golf::Mdlm(_) = golf else { return None };
    let id = golf.id();
    Some(match by_id::<HtmlSelectElement>(&format!("estimator-{id}")).value().as_str() {
        "confidence" => Estimator::Confidence,
        "l2r" => Estimator::LeftToRight,
        _ => Estimator::Nelbo { steps: input_number(&format!("nelbo-steps-{id}"), 32.0).max(1.0) as usize, seed: 0 },
    })
}

fn estimator_label(e: Estimator) -> String {
    match e {
        Estimator::Nelbo { steps, .. } => format!("NELBO, K = {steps} (a bound)"),
        Estimator::Confidence => "chain rule, confidence order".into(),
        Estimator::LeftToRight => "chain rule, left to right".into(),
    }
}

/// Loads a neural golfer from `models/{folder}/` (ONNX Runtime Web and every file from this site), with a
/// download progress bar; true when it loaded and has a panel.
async fn load_onnx(state: &Shared, folder: &str, threads: Option<u32>) -> bool {
    let row = el("div", "download", &format!("download-{folder}"));
    let label = el("span", "download-label", "");
    label.set_text_content(Some(folder));
    let bar = el("progress", "", &format!("progress-{folder}"));
    let note = el("span", "download-note", &format!("progress-text-{folder}"));
    note.set_text_content(Some("starting…"));
    for child in [&label, &bar, &note] {
        row.append_child(child).unwrap();
    }
    by_id::<Element>("downloads").append_child(&row).unwrap();
    let bar: web_sys::HtmlProgressElement = bar.unchecked_into();
    let mb = |b: u64| b as f64 / 1e6;
    let result: Result<Golf, String> = async {
        golf_onnx::runtime::init_web(&absolute("ort/"), ort_threads(threads)).await.map_err(|e| e.to_string())?;
        let manifest =
            Manifest::parse(&fetch_text(&format!("models/{folder}/golfer.json")).await?).map_err(|e| e.to_string())?;
        label.set_text_content(Some(&manifest.label));
        let tok_path = format!("models/{folder}/{}", manifest.tokenizer.file);
        let tok = download::Expect {
            path: &tok_path,
            sha256: &manifest.tokenizer.sha256,
            bytes: None,
            rebuild: &manifest.rebuild,
        };
        let (tokenizer, _) = download::model_file(&tok, &|_, _| {}).await?;
        let onnx_path = format!("models/{folder}/{}", manifest.onnx.path);
        let onnx = download::Expect {
            path: &onnx_path,
            sha256: &manifest.onnx.sha256,
            bytes: Some(manifest.onnx.bytes),
            rebuild: &manifest.rebuild,
        };
        let progress = |done: u64, total: u64| {
            bar.set_max(total.max(1) as f64);
            bar.set_value(done as f64);
            note.set_text_content(Some(&format!("{:.1} of {:.1} MB", mb(done), mb(total))));
        };
        let (bytes, source) = download::model_file(&onnx, &progress).await?;
        let size = mb(bytes.len() as u64);
        let (how, tag) = match source {
            download::Source::Network { seconds } => (format!("downloaded {size:.1} MB in {seconds:.1} s"), "network"),
            download::Source::BrowserCache => (format!("{size:.1} MB from the browser's cache"), "cache"),
        };
        row.set_attribute("data-source", tag).unwrap();
        note.set_text_content(Some(&format!("{how}; starting the model…")));
        let t0 = now_ms();
        let golfer = if manifest.kind == "diffusion" {
            Golf::Mdlm(Box::new(MdlmGolfer::load(manifest, &bytes, &tokenizer).await.map_err(|e| e.to_string())?))
        } else {
            Golf::Ar(Box::new(ArGolfer::load(manifest, &bytes, &tokenizer).await.map_err(|e| e.to_string())?))
        };
        note.set_text_content(Some(&format!("{how}; model ready in {:.1} s", (now_ms() - t0) / 1e3)));
        Ok(golfer)
    }
    .await;
    match result {
        Ok(g) => {
            row.set_attribute("data-done", "true").unwrap();
            add_panel(state, g);
            true
        }
        Err(e) => {
            row.set_attribute("data-error", "true").unwrap();
            note.set_text_content(Some("failed"));
            show_error(&format!("The {folder} golfer did not load: {e}. The other golfers still work."));
            false
        }
    }
}

/// The text box's sources: the samples, a chosen file, a dropped file; a new text is scored at once.
fn wire_text_picker(state: &Shared) {
    let select: HtmlSelectElement = by_id("sample");
    let current = by_id::<HtmlTextAreaElement>("text").value();
    for (id, label, text) in crate::SAMPLES {
        let option = el("option", "", "");
        option.set_attribute("value", id).unwrap();
        option.set_text_content(Some(label));
        select.append_child(&option).unwrap();
        if *text == current {
            select.set_value(id);
        }
    }
    let own = el("option", "", "");
    own.set_attribute("value", "own").unwrap();
    own.set_text_content(Some("Your own text"));
    select.append_child(&own).unwrap();
    if !crate::SAMPLES.iter().any(|(_, _, t)| *t == current) {
        select.set_value("own");
    }
    let s = state.clone();
    on_id("sample", "change", move |_| {
        let id = by_id::<HtmlSelectElement>("sample").value();
        if let Some((_, _, text)) = crate::SAMPLES.iter().find(|(i, _, _)| *i == id) {
            by_id::<HtmlTextAreaElement>("text").set_value(text);
            show_error("");
            spawn_local(score(s.clone(), None));
        }
    });
    on_id("text", "input", |_| by_id::<HtmlSelectElement>("sample").set_value("own"));
    let s = state.clone();
    on_id("file", "change", move |_| {
        let input: HtmlInputElement = by_id("file");
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            spawn_local(load_file(s.clone(), file));
        }
    });
    on_id("text", "dragover", |e| e.prevent_default());
    let s = state.clone();
    on_id("text", "drop", move |e| {
        let Some(drag) = e.dyn_ref::<web_sys::DragEvent>() else { return };
        let Some(file) = drag.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) else { return };
        e.prevent_default();
        spawn_local(load_file(s.clone(), file));
    });
}

/// A file into the text box: UTF-8 text up to the share limit, or an error that says what is wrong.
async fn load_file(state: Shared, file: web_sys::File) {
    let name = file.name();
    if file.size() > crate::share::MAX_TEXT_BYTES as f64 {
        return show_error(&format!(
            "{name} is {:.1} MB; the page takes texts up to {} MB.",
            file.size() / 1e6,
            crate::share::MAX_TEXT_BYTES >> 20
        ));
    }
    let bytes = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
        Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
        Err(e) => return show_error(&format!("{name} could not be read: {}", js_err(e))),
    };
    match String::from_utf8(bytes) {
        Ok(text) => {
            by_id::<HtmlTextAreaElement>("text").set_value(&text);
            by_id::<HtmlSelectElement>("sample").set_value("own");
            show_error("");
            score(state, None).await;
        }
        Err(e) => show_error(&format!(
            "{name} is not UTF-8 text (byte {} is not valid UTF-8); the golfers score text. `golf score --bytes` scores raw bytes with gzip.",
            e.utf8_error().valid_up_to()
        )),
    }
}

/// A shared view: the text, the colour scale, the diffusion golfer's estimator and the difference's golfers.
fn apply_shared(state: &Shared, view: crate::share::View) {
    by_id::<HtmlTextAreaElement>("text").set_value(&view.text);
    state.borrow_mut().scale = view.scale;
    let scale: HtmlInputElement = by_id("scale");
    scale.set_value(&view.scale.to_string());
    set_text("scale-value", &view.scale.to_string());
    let app: Element = by_id("app");
    app.set_attribute("data-estimator", &view.estimator).unwrap();
    app.set_attribute("data-nelbo-k", &view.nelbo_k.to_string()).unwrap();
    if let Some((a, b)) = view.diff {
        by_id::<Element>("diff-a").set_attribute("data-want", &a).unwrap();
        by_id::<Element>("diff-b").set_attribute("data-want", &b).unwrap();
    }
}

/// The current view as a share link's fragment.
fn current_view(state: &Shared) -> crate::share::View {
    let mdlm = state.borrow().panels.iter().any(|p| matches!(*p.golf, Golf::Mdlm(_)));
    let (estimator, nelbo_k) = if mdlm {
        let k = input_number("nelbo-steps-mdlm", 32.0) as u32;
        (by_id::<HtmlSelectElement>("estimator-mdlm").value(), k)
    } else {
        let app: Element = by_id("app");
        let k = app.get_attribute("data-nelbo-k").and_then(|k| k.parse().ok()).unwrap_or(32);
        (app.get_attribute("data-estimator").unwrap_or_else(|| "nelbo".into()), k)
    };
    let (a, b) = (by_id::<HtmlSelectElement>("diff-a").value(), by_id::<HtmlSelectElement>("diff-b").value());
    crate::share::View {
        text: by_id::<HtmlTextAreaElement>("text").value(),
        scale: state.borrow().scale,
        estimator,
        nelbo_k,
        diff: (!a.is_empty() && !b.is_empty()).then_some((a, b)),
    }
}

/// The controls under the panels: colour scale, token boundaries, share, exports, the difference's pickers.
fn wire_results(state: &Shared) {
    let s = state.clone();
    on_id("scale", "input", move |_| {
        let v = input_number("scale", SCALE_MAX).clamp(0.5, 64.0);
        set_text("scale-value", &v.to_string());
        s.borrow_mut().scale = v;
        rescale(&s);
    });
    on_id("boundaries", "change", |_| {
        let on = by_id::<HtmlInputElement>("boundaries").checked();
        by_id::<Element>("panels").class_list().toggle_with_force("boundaries", on).unwrap();
    });
    let s = state.clone();
    on_id("share", "click", move |_| {
        let fragment = crate::share::encode(&current_view(&s));
        let url =
            format!("{}#{fragment}", window().location().href().unwrap_or_default().split('#').next().unwrap_or(""));
        let _ = window().history().and_then(|h| h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url)));
        let link: HtmlInputElement = by_id("share-link");
        link.set_value(&url);
        link.unchecked_ref::<HtmlElement>().set_hidden(false);
        link.select();
        // Copying needs the clipboard permission; the link is selected in the box either way.
        let _ = window().navigator().clipboard().write_text(&url);
        set_text(
            "share-note",
            &format!("Link with the text and settings ({} characters), copied if allowed.", url.len()),
        );
    });
    let s = state.clone();
    on_id("export-json", "click", move |_| results::export_json(&s));
    let s = state.clone();
    on_id("export-csv", "click", move |_| results::export_csv(&s));
    for id in ["chart-bpb", "chart-cumulative", "chart-histogram"] {
        on_id(&format!("png-{id}"), "click", move |_| results::export_png(id));
    }
    for id in ["diff-a", "diff-b"] {
        let s = state.clone();
        on_id(id, "change", move |_| results::render_diff(&s));
    }
}

fn render_legend(scale: f64) {
    let legend: Element = by_id("legend");
    legend.set_text_content(None);
    for (bits, color) in views::legend(scale, 7) {
        let chip = el("span", "chip", "");
        let style = format!("background:{};color:{}", views::css_rgb(color), views::ink_for(color));
        chip.set_attribute("style", &style).unwrap();
        let label = if bits >= scale { format!("≥{bits:.1}") } else { format!("{bits:.1}") };
        chip.set_text_content(Some(&label));
        legend.append_child(&chip).unwrap();
    }
}

/// Scores the text with every golfer (or only the one with id `only`), one step each in turn, so all panels
/// fill in together. A newer score of a panel (or cancel) stops this one's run of it.
async fn score(state: Shared, only: Option<String>) {
    let text = by_id::<HtmlTextAreaElement>("text").value();
    let budget_s = state.borrow().chain_budget_s;
    struct Running {
        index: usize,
        golf: Rc<Golf>,
        ticket: u32,
        run: ScoreRun,
        spans: Vec<Span>,
        t0: f64,
        /// Seconds spent in this golfer's own steps (the time limit counts these, not the other golfers').
        spent: f64,
        /// Set when a chain rule was cut to what fits in the time limit.
        cut: Option<String>,
    }
    let mut runs: Vec<Option<Running>> = Vec::new();
    let chosen: Vec<(usize, Rc<Golf>)> = state
        .borrow()
        .panels
        .iter()
        .enumerate()
        .filter(|(_, p)| only.as_ref().is_none_or(|id| *id == p.golf.id()) && score_ticked(&p.golf.id()))
        .map(|(i, p)| (i, p.golf.clone()))
        .collect();
    for (index, golf) in chosen {
        let gid = golf.id();
        let ticket = {
            let mut s = state.borrow_mut();
            s.panels[index].run += 1;
            s.panels[index].run
        };
        let panel: Element = by_id(&format!("panel-{gid}"));
        for attr in ["data-scored", "data-cancelled", "data-progress", "data-cut-tokens", "data-replay"] {
            panel.remove_attribute(attr).unwrap();
        }
        // The numbers shown are the last text's until this score finishes.
        panel.class_list().add_1("stale").unwrap();
        by_id::<HtmlElement>(&format!("limit-{gid}")).set_hidden(true);
        match golf.start_score(&text, chosen_estimator(&golf)) {
            Ok(run) => {
                set_text(&format!("status-{gid}"), "scoring…");
                let t0 = now_ms();
                runs.push(Some(Running { index, golf, ticket, run, spans: Vec::new(), t0, spent: 0.0, cut: None }));
            }
            Err(e) => {
                show_error(&format!("{}: {e}", golf.label()));
                set_text(&format!("status-{gid}"), "");
            }
        }
        // Starting a run tokenizes the text: one golfer's start per task.
        yield_now().await;
    }
    while runs.iter().any(Option::is_some) {
        for slot in runs.iter_mut() {
            let Some(r) = slot.as_mut() else { continue };
            if state.borrow().panels[r.index].run != r.ticket {
                *slot = None;
                continue;
            }
            let gid = r.golf.id();
            let t = now_ms();
            let step = r.golf.score_step(&mut r.run).await;
            let took = now_ms() - t;
            r.spent += took / 1e3;
            r.golf.pace(&mut r.run, took, STEP_TARGET_MS);
            if state.borrow().panels[r.index].run != r.ticket {
                *slot = None;
                continue;
            }
            match step {
                Ok(step) => {
                    r.spans.extend(step.spans);
                    if step.finished {
                        let ms = now_ms() - r.t0;
                        let r = slot.take().expect("running");
                        finish_panel(&state, r.index, &r.golf, &r.run, r.spans, &text, ms, r.cut);
                        // Drawing a panel is a task of its own: the next golfer's step starts after a yield.
                        yield_now().await;
                        continue;
                    }
                    if let Some((kept, all)) = r.golf.fit_time(&mut r.run, r.spent, budget_s) {
                        let rate = step.progress.done as f64 / r.spent;
                        let bytes = r.golf.scored_text(&r.run, &text).len();
                        r.cut = Some(format!(
                            "A chain rule makes one model call per token: at {rate:.0} tokens/s here, the first \
                             {kept} of {all} tokens ({bytes} of {} bytes, whole windows of the model's context) fit \
                             in {budget_s:.0} s, so that is what it scored. NELBO scores the whole text.",
                            text.len()
                        ));
                        set_attr(&format!("panel-{gid}"), "data-cut-tokens", &kept.to_string());
                    }
                    let (done, total) = (step.progress.done, step.progress.total);
                    let pct = 100.0 * done as f64 / total.max(1) as f64;
                    let what = if matches!(*r.golf, Golf::Mdlm(_)) { "model calls" } else { "tokens" };
                    set_text(&format!("status-{gid}"), &format!("scoring… {pct:.0}% ({done} of {total} {what})"));
                    set_attr(&format!("panel-{gid}"), "data-progress", &done.to_string());
                }
                Err(e) => {
                    show_error(&format!("{}: {e}", r.golf.label()));
                    set_text(&format!("status-{gid}"), "failed");
                    *slot = None;
                }
            }
        }
        yield_now().await;
    }
}

#[allow(clippy::too_many_arguments)]
fn finish_panel(
    state: &Shared,
    index: usize,
    g: &Golf,
    run: &ScoreRun,
    spans: Vec<Span>,
    text: &str,
    ms: f64,
    cut: Option<String>,
) {
    let gid = g.id();
    let t0 = now_ms();
    let scored = g.scored_text(run, text);
    let totals = g.totals(run, &spans, scored.len() as u64);
    let cells = views::cells(scored, &per_byte_bits(&spans, scored.len()));
    let scale = state.borrow().scale;
    render_heatmap(&gid, &cells, &spans, scale);
    set_text(&format!("hover-{gid}"), "Hover a character to see its bits.");
    set_text(&format!("bpb-{gid}"), &format!("{:.4}", totals.bpb));
    set_attr(&format!("bpb-{gid}"), "data-bpb", &totals.bpb.to_string());
    if let Some(gb) = totals.golf_bpb {
        set_text(&format!("golf-bpb-{gid}"), &format!("Parameter Golf count: {gb:.4}"));
        set_attr(&format!("golf-bpb-{gid}"), "data-bpb", &gb.to_string());
    }
    let tokens = totals.tokens.map_or(String::new(), |t| format!(" in {t} tokens"));
    set_text(
        &format!("status-{gid}"),
        &format!("{:.0} bits for {} bytes{tokens} · scored in {ms:.0} ms", totals.bits, totals.bytes),
    );
    let limit: HtmlElement = by_id(&format!("limit-{gid}"));
    limit.set_hidden(cut.is_none());
    limit.set_text_content(cut.as_deref());
    set_attr(&format!("panel-{gid}"), "data-scored", "true");
    by_id::<Element>(&format!("panel-{gid}")).class_list().remove_1("stale").unwrap();
    let order = views::reveal_order(&spans);
    if let Ok(Some(button)) = document().query_selector(&format!("#replay-{gid}")) {
        button.toggle_attribute_with_force("disabled", order.is_empty()).unwrap();
    }
    let hash = text_hash(text);
    let info = g.info();
    let scored_result = crate::results::Scored {
        id: info.id,
        label: info.label,
        spans: spans.clone(),
        bits: totals.bits,
        bytes: totals.bytes,
        tokens: totals.tokens,
        ms,
        model_bytes: info.model_bytes,
    };
    let mut s = state.borrow_mut();
    let panel = &mut s.panels[index];
    panel.result = Some((hash, scored_result));
    panel.spans = spans;
    panel.cells = cells;
    panel.scored = cut.is_none().then_some((hash, totals.bpb));
    if let ScoreRun::Mdlm(r) = run {
        if panel.estimates.0 != hash {
            panel.estimates = (hash, Vec::new());
        }
        let part = cut.is_some().then(|| format!("first {} bytes", totals.bytes));
        let label = estimator_label(r.estimator());
        panel.estimates.1.retain(|(l, _, _)| *l != label);
        panel.estimates.1.push((label, totals.bpb, part));
    }
    drop(s);
    render_estimates(state);
    // How long drawing the panel took: the page's responsiveness budget.
    set_attr(&format!("panel-{gid}"), "data-render-ms", &format!("{:.0}", now_ms() - t0));
    schedule_results(state);
}

/// Redraws the table and charts in a task of their own, once for any number of panels finishing together.
fn schedule_results(state: &Shared) {
    if std::mem::replace(&mut state.borrow_mut().results_pending, true) {
        return;
    }
    let s = state.clone();
    spawn_local(async move {
        yield_now().await;
        s.borrow_mut().results_pending = false;
        let t0 = now_ms();
        results::render(&s);
        set_attr("results", "data-render-ms", &format!("{:.0}", now_ms() - t0));
    });
}

/// The diffusion panels' line of estimates on the current text, next to the AR golfer's bpb on it.
fn render_estimates(state: &Shared) {
    let s = state.borrow();
    let ar = s.panels.iter().find(|p| matches!(*p.golf, Golf::Ar(_)) && p.golf.id() == "ar").and_then(|p| p.scored);
    for p in s.panels.iter().filter(|p| matches!(*p.golf, Golf::Mdlm(_))) {
        let (hash, list) = &p.estimates;
        let mut parts: Vec<String> = list
            .iter()
            .map(|(label, bpb, part)| match part {
                Some(part) => format!("{label}: {bpb:.4} ({part})"),
                None => format!("{label}: {bpb:.4}"),
            })
            .collect();
        if let Some((_, bpb)) = ar.filter(|(h, _)| h == hash) {
            parts.push(format!("the AR golfer: {bpb:.4}"));
        }
        let line = if parts.is_empty() {
            String::new()
        } else {
            format!("On this text, bits per byte: {}", parts.join(" · "))
        };
        set_text(&format!("estimates-{}", p.golf.id()), &line);
    }
}

/// Replays the order a chain rule revealed the text's tokens in: every character starts masked and the tokens
/// appear one batch per frame, over about five seconds.
async fn replay_unmasking(state: Shared, index: usize) {
    let (gid, ticket, order, ranges, total) = {
        let mut s = state.borrow_mut();
        let p = &mut s.panels[index];
        p.run += 1;
        let order = views::reveal_order(&p.spans);
        let ranges: Vec<std::ops::Range<usize>> =
            order.iter().map(|&i| views::cells_of(&p.cells, &p.spans[i])).collect();
        (p.golf.id(), p.run, order, ranges, p.cells.len().min(views::HEATMAP_MAX_CHARS))
    };
    if order.is_empty() {
        return;
    }
    let heatmap: Element = by_id(&format!("heatmap-{gid}"));
    let children = heatmap.children();
    let set_masked = |range: std::ops::Range<usize>, masked: bool| {
        for c in range.start.min(total)..range.end.min(total) {
            if let Some(e) = children.item(c as u32) {
                e.class_list().toggle_with_force("masked", masked).unwrap();
            }
        }
    };
    set_masked(0..total, true);
    set_attr(&format!("panel-{gid}"), "data-replay", "running");
    let batch = views::replay_batch(order.len(), 300);
    for (n, chunk) in ranges.chunks(batch).enumerate() {
        if state.borrow().panels[index].run != ticket {
            set_masked(0..total, false);
            return;
        }
        for r in chunk {
            set_masked(r.clone(), false);
        }
        let shown = ((n + 1) * batch).min(order.len());
        set_text(&format!("hover-{gid}"), &format!("Replay: {shown} of {} tokens revealed", order.len()));
        sleep_ms(16).await;
    }
    set_masked(0..total, false);
    set_attr(&format!("panel-{gid}"), "data-replay", "done");
}

fn render_heatmap(gid: &str, cells: &[Cell], spans: &[Span], scale: f64) {
    let doc = document();
    let heatmap: Element = by_id(&format!("heatmap-{gid}"));
    heatmap.set_text_content(None);
    let frag = doc.create_document_fragment();
    let starts = views::token_starts(cells, spans);
    for (i, cell) in cells.iter().take(views::HEATMAP_MAX_CHARS).enumerate() {
        let e = doc.create_element("span").unwrap();
        let bg = views::heat_color(cell.bits_per_byte(), scale);
        e.set_attribute("style", &format!("background:{};color:{}", views::css_rgb(bg), views::ink_for(bg))).unwrap();
        e.set_attribute("data-i", &i.to_string()).unwrap();
        if starts[i] {
            e.set_class_name("tb");
        }
        // A text node: pasted markup is shown, never parsed.
        e.append_child(&doc.create_text_node(&cell.text.to_string())).unwrap();
        frag.append_child(&e).unwrap();
    }
    heatmap.append_child(&frag).unwrap();
    let note: HtmlElement = by_id(&format!("note-{gid}"));
    let text = views::truncation_note(cells.len());
    note.set_hidden(text.is_none());
    note.set_text_content(text.as_deref());
}

/// Recolours every heatmap and the legend for a new shared scale.
fn rescale(state: &Shared) {
    let s = state.borrow();
    render_legend(s.scale);
    for p in &s.panels {
        if !p.cells.is_empty() {
            render_heatmap(&p.golf.id(), &p.cells, &p.spans, s.scale);
        }
    }
    drop(s);
    results::render_diff(state);
}

fn hover_cell(state: &Shared, e: &Event) {
    let Some(target) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
    let Some(i) = target.get_attribute("data-i").and_then(|v| v.parse::<usize>().ok()) else { return };
    highlight(state, i);
}

/// Highlights character `i` in every panel at once and shows each panel's popover for it.
fn highlight(state: &Shared, i: usize) {
    let previous = state.borrow_mut().highlighted.replace(i);
    let s = state.borrow();
    let cell_in =
        |gid: &str, k: usize| document().query_selector(&format!("#heatmap-{gid} span[data-i=\"{k}\"]")).ok().flatten();
    for panel in &s.panels {
        let gid = panel.golf.id();
        if let Some(e) = previous.and_then(|k| cell_in(&gid, k)) {
            e.class_list().remove_1("hl").unwrap();
        }
        let Some(cell) = panel.cells.get(i) else { continue };
        if let Some(e) = cell_in(&gid, i) {
            e.class_list().add_1("hl").unwrap();
        }
        let span = views::span_at(&panel.spans, cell.start).map(|k| &panel.spans[k]);
        set_text(&format!("hover-{gid}"), &views::hover_text(cell, span));
    }
}

/// Arrow keys move the highlight token by token (Home and End: the first and last character).
fn key_nav(state: &Shared, index: usize, e: &Event) {
    let Some(key) = e.dyn_ref::<web_sys::KeyboardEvent>().map(|k| k.key()) else { return };
    let next = {
        let s = state.borrow();
        let p = &s.panels[index];
        let at = s.highlighted.unwrap_or(0).min(p.cells.len().saturating_sub(1));
        match key.as_str() {
            "ArrowRight" => views::next_token_cell(&p.cells, &p.spans, at, true),
            "ArrowLeft" => views::next_token_cell(&p.cells, &p.spans, at, false),
            "Home" => Some(0),
            "End" => p.cells.len().checked_sub(1),
            _ => return,
        }
    };
    e.prevent_default();
    if let Some(i) = next {
        highlight(state, i);
        let gid = state.borrow().panels[index].golf.id();
        if let Ok(Some(cell)) = document().query_selector(&format!("#heatmap-{gid} span[data-i=\"{i}\"]")) {
            cell.scroll_into_view_with_bool(false);
        }
    }
}

pub(super) fn input_number(id: &str, default: f64) -> f64 {
    by_id::<HtmlInputElement>(id).value().trim().parse().unwrap_or(default)
}

/// A diffusion canvas: committed tokens as text (the ones new in this step marked, each with its popover from
/// the step that committed it) and the slots still masked as placeholders.
pub(super) fn render_canvas(target: &Element, canvas: &[Option<String>], run: &GenRun, committed: &mut Vec<bool>) {
    committed.resize(canvas.len(), false);
    target.set_text_content(None);
    let frag = document().create_document_fragment();
    for (i, slot) in canvas.iter().enumerate() {
        let e = match slot {
            Some(text) => {
                let e = el("span", if committed[i] { "" } else { "fresh" }, "");
                e.set_text_content(Some(text));
                if let Some(info) = run.slot_info(i) {
                    let top: Vec<String> =
                        info.top_k.iter().take(5).map(|a| format!("{:?} {:.1}%", a.text, 100.0 * a.prob)).collect();
                    let title = format!(
                        "{:?}: {} · rank {} · top: {}",
                        info.text,
                        info.detail.clone().unwrap_or_default(),
                        info.rank.unwrap_or(0),
                        top.join(", ")
                    );
                    e.set_attribute("title", &title).unwrap();
                }
                committed[i] = true;
                e
            }
            None => {
                let e = el("span", "mask-slot", "");
                e.set_text_content(Some("\u{2591}"));
                e.set_attribute("aria-label", "masked").unwrap();
                e
            }
        };
        frag.append_child(&e).unwrap();
    }
    target.append_child(&frag).unwrap();
}
