//! The page: every golfer runs in its own Web Worker (`remote`); this thread sends requests and renders the
//! workers' events. This module holds the state and the wiring; `loading` fetches a golfer, `panels` draws its
//! heatmap, `scoring` sends the scores and fills the panels, `results` the table, charts and exports, `race` the
//! generation race, `picker` the text box's sources.

mod canvas;
mod charts;
mod compact;
mod dom;
mod isolation;
mod links;
mod loading;
mod local;
mod panels;
mod picker;
mod race;
mod remote;
mod results;
mod reveal;
mod scoreboard;
mod scoring;

use std::cell::RefCell;
use std::rc::Rc;

use golf_core::Span;
use golf_onnx::Estimator;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Element, Event, HtmlElement, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};

use golf_engine::wire::{Device, Import, Reply, Request, RunsOn, Source, WebRuntime};
use golf_engine::{Course, Event as GolfEvent, Limits, Outcome, ScoreOptions, ScoreSummary};

use self::dom::*;
use self::links::auto_score;
use self::loading::*;
use self::panels::*;
use self::picker::*;
use self::remote::Remote;
use self::scoring::*;
use crate::views::{self, Cell};
use crate::DEFAULT_TEXT;

struct Panel {
    golf: Rc<Remote>,
    /// The score in flight, if any.
    scoring: Option<scoring::Scoring>,
    /// The characters its heatmap shows (the first [`views::HEATMAP_MAX_CHARS`]); its spans are its result's.
    cells: Rc<Vec<Cell>>,
    /// Bumped to stop this panel's score or replay (cancel, a new score): a loop holding an older number stops.
    run: u32,
    /// The text the panel last scored in full (its hash) and its bits per byte.
    scored: Option<(u64, f64)>,
    /// The diffusion golfer: (estimator, bpb, what part of the text) on the text with hash `.0`, in run order.
    estimates: (u64, Vec<(String, f64, Option<String>)>),
    /// The last finished score and the hash of the text it scored, for the table, charts and exports.
    result: Option<(u64, Rc<crate::results::Scored>)>,
}

#[derive(Default)]
struct State {
    panels: Vec<Panel>,
    /// Bumped to stop a running generation: a loop that sees a newer number stops.
    gen_run: u32,
    chain_budget_s: f64,
    /// The shared colour scale: bits per byte at the dark end.
    scale: f64,
    /// Colour the heatmaps by each token's rank (GLTR's view) instead of by bits per byte.
    by_rank: bool,
    /// The character highlighted in every panel (hover or keyboard).
    highlighted: Option<usize>,
    /// A redraw of the table and charts is scheduled.
    results_pending: bool,
    /// The local golfers a share link was made with, to say which files to drop when they are not here.
    wanted_local: Vec<crate::share::LocalGolfer>,
    /// The race in progress.
    race: Option<race::Race>,
    /// `?bench=`: the threads its golfer was loaded with.
    bench_threads: u32,
    /// Where the ONNX golfers are asked to run (the Device control, `?ep=`).
    device: Device,
    /// A link's long text is in the box: no golfer scores a long text until the visitor asks (`links::auto_score`).
    held: bool,
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
    spawn_local(start_in_steps());
}

/// The page's set-up, in a few tasks: the wasm's instantiation (whose functions V8 compiles as they are first
/// called, on this thread), the wiring, the reserved panels and the first worker each end in a task of their own,
/// so that no one of them takes a frame's budget on a small machine.
async fn start_in_steps() {
    yield_now().await;
    let state: Shared = Rc::new(RefCell::new(State::default()));
    by_id::<HtmlTextAreaElement>("text").set_value(DEFAULT_TEXT);
    // A share link's text and settings replace the defaults; the URL's parameters are read (and bounded).
    let link = links::open(&state);
    render_legend(state.borrow().scale, state.borrow().by_rank);
    wire_results(&state);
    wire_popover();
    wire_text_picker(&state);
    local::wire(&state);

    let s = state.clone();
    on_id("score", "click", move |_| {
        // A new score by hand clears the last error; the page's own loading keeps it in view.
        show_error("");
        links::release(&s);
        spawn_local(score(s.clone(), None))
    });
    let s = state.clone();
    on_id("generate", "click", move |_| spawn_local(race::race(s.clone())));
    let s = state.clone();
    on_id("cancel", "click", move |_| cancel_score(&s));
    let s = state.clone();
    on_id("stop", "click", move |_| {
        race::stop(&s);
        set_text("gen-status", "stopped");
    });
    on_id("diffusion-steps", "input", |_| {
        set_text("diffusion-steps-value", &by_id::<HtmlInputElement>("diffusion-steps").value())
    });
    // `?ep=` (read with the link).
    by_id::<HtmlSelectElement>("device").set_value(state.borrow().device.name());
    let s = state.clone();
    on_id("device", "change", move |_| {
        let choice = by_id::<HtmlSelectElement>("device").value();
        device_changed(&s, Device::parse(&choice).unwrap_or_default());
    });
    let threads = link.threads;
    // Nothing starts before the page knows whether it has threads (or is about to reload to get them).
    isolation::settle().await;
    if let Some(id) = link.bench {
        // Set up: a benchmark has no panels to reserve.
        set_attr("app", "data-ready", "true");
        bench(state, id, threads).await;
        return;
    }
    yield_now().await;
    // `?golfers=ar,mdlm` loads only those neural golfers (gzip is always there).
    let wanted = link.golfers;
    // The neural golfers, smallest first; each is scored as soon as it is ready. Each one's panel has its place
    // from the start, so the page does not jump as they arrive (the diffusion golfer's with its row of controls).
    let folders: Vec<(&str, bool)> = [("ar", false), ("mdlm", true), ("smollm2", false)]
        .into_iter()
        .filter(|(f, _)| wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == f)))
        .collect();
    let text = by_id::<HtmlTextAreaElement>("text").value();
    // gzip's place too: its worker starts in a moment.
    reserve_panel("gzip", &text, false);
    scoreboard::reserve("gzip", "gzip -9");
    for &(folder, controls) in &folders {
        reserve_download_row(folder);
        reserve_panel(folder, &text, controls);
        scoreboard::reserve(folder, folder);
    }
    // Set up: the panels have their places and a link's text and settings are applied. Tests wait for this mark
    // before they read the page.
    set_attr("app", "data-ready", "true");
    reveal::watch(&state);
    yield_now().await;
    spawn_local(async move {
        match Remote::start(&state, "gzip", Request::Gzip, Vec::new(), |_| {}).await {
            Ok((gzip, _)) => {
                add_panel(&state, gzip);
                auto_score(state.clone(), Some("gzip".into())).await;
                settle_first_panel().await;
            }
            Err(e) => {
                release_panel("gzip");
                scoreboard::remove("gzip");
                show_error(&format!("gzip did not start: {e}"));
            }
        }
        // Every golfer loads at once (each in its own worker) and scores as soon as it is ready: the imported
        // ones this browser keeps, and the site's own.
        let s = state.clone();
        spawn_local(async move {
            local::restore(&s).await;
            let wanted = std::mem::take(&mut s.borrow_mut().wanted_local);
            local::missing_locals(&s, &wanted);
        });
        for (folder, _) in folders {
            let s = state.clone();
            spawn_local(async move {
                ask_before_download(folder).await;
                if load_onnx(&s, folder, threads).await {
                    auto_score(s.clone(), Some(folder.to_string())).await;
                }
            });
        }
    });
}

/// Waits (at most two seconds) until gzip's panel shows its bits and the frames after it are drawn, before the
/// neural golfers start: the page's first layouts, gzip's heatmap and the first table and charts then have both
/// cores of a small machine. Started at once, three workers compiling ONNX Runtime Web stretched those frames
/// past 50 ms on two cores; gzip takes about half a second, so the others start that much later.
async fn settle_first_panel() {
    let start = now_ms();
    while now_ms() - start < 2000.0 {
        let scored = document()
            .get_element_by_id("panel-gzip")
            .is_some_and(|p| p.get_attribute("data-scored").as_deref() == Some("true"));
        if scored {
            break;
        }
        after_frame().await;
    }
    for _ in 0..3 {
        after_frame().await;
    }
}

/// Stops the running score after the step in progress; panels that had not finished say so.
fn cancel_score(state: &Shared) {
    let mut s = state.borrow_mut();
    for p in s.panels.iter_mut() {
        cancel_panel(p);
    }
}

/// Stops one panel's score (or replay) after its step in progress; if it had not finished, it says so.
fn cancel_panel(p: &mut Panel) {
    p.run += 1;
    let id = p.golf.id();
    if p.scoring.take().is_some() {
        // Set again when its worker has taken the cancel (`on_stopped`).
        let _ = by_id::<Element>(&format!("panel-{id}")).remove_attribute("data-stopped");
        p.golf.send(&Request::Cancel { course: Course::Score });
    }
    if !by_id::<Element>(&format!("panel-{id}")).has_attribute("data-scored") {
        set_text(&format!("status-{id}"), "cancelled");
        scoreboard::says(&id, "cancelled");
        set_attr(&format!("panel-{id}"), "data-cancelled", "true");
    }
}

/// Golfer `id`'s worker took a cancel of its `course`: a cancelled score's panel says so (`data-stopped`: the
/// steps the worker ran after the cancel reached it), unless a newer score of it is already under way.
fn on_stopped(state: &Shared, id: &str, course: Course, steps: u64) {
    let idle = state.borrow().panels.iter().any(|p| p.golf.id() == id && p.scoring.is_none());
    if course == Course::Score && idle {
        set_attr(&format!("panel-{id}"), "data-stopped", &steps.to_string());
    }
}

/// The text box changed: a score of the old text stops, results of another text are dimmed at once (until they
/// are scored again), and a share link made for the old text is taken away. An emptied box replaces nothing, so
/// the last results stay as they were (as when an empty text is scored).
fn text_changed(state: &Shared) {
    let text = by_id::<HtmlTextAreaElement>("text").value();
    by_id::<HtmlElement>("share-link").set_hidden(true);
    set_text("share-note", "");
    // A score of the text as it was is no longer wanted: it stops (Score scores the new text).
    for p in state.borrow_mut().panels.iter_mut() {
        if p.scoring.as_ref().is_some_and(|s| s.text() != text) {
            cancel_panel(p);
            set_text(&format!("status-{}", p.golf.id()), "stopped: the text changed; Score scores the new one");
        }
    }
    if text.is_empty() {
        return;
    }
    let hash = text_hash(&text);
    for p in state.borrow().panels.iter() {
        let old = p.result.as_ref().is_some_and(|(h, _)| *h != hash);
        let panel: Element = by_id(&format!("panel-{}", p.golf.id()));
        set_stale(&panel, old);
    }
}

/// `?bench=ID[&threads=N]`: loads one neural golfer and prints the same speed measurement as `golf bench`
/// (measured in its worker).
async fn bench(state: Shared, id: String, threads: Option<u32>) {
    let out: Element = by_id("bench-result");
    out.unchecked_ref::<HtmlElement>().set_hidden(false);
    if !load_onnx(&state, &id, threads).await {
        return out.set_text_content(Some("the golfer did not load"));
    }
    let Some(golf) = state.borrow().panels.last().map(|p| p.golf.clone()) else { return };
    state.borrow_mut().bench_threads = ort_threads(threads);
    out.set_text_content(Some("measuring…"));
    golf.send(&Request::Bench);
}

/// The speed a worker measured, for `?bench=`.
fn on_bench(state: &Shared, id: &str, result: Result<serde_json::Value, String>) {
    let out: Element = by_id("bench-result");
    match result {
        Ok(mut json) => {
            if let Some(fields) = json.as_object_mut() {
                fields.insert("golfer".into(), id.into());
                fields.insert("threads".into(), state.borrow().bench_threads.into());
                fields.insert("isolated".into(), cross_origin_isolated().into());
            }
            out.set_text_content(Some(&json.to_string()));
        }
        Err(e) => out.set_text_content(Some(&format!("error: {e}"))),
    }
    let _ = out.set_attribute("data-done", "true");
}

/// An event from golfer `id`'s worker, for the run numbered `run`.
fn on_event(state: &Shared, id: &str, run: u32, event: GolfEvent) {
    match event.course() {
        Course::Score => scoring::on_score_event(state, id, run, event),
        Course::Generate => race::on_race_event(state, id, run, event),
    }
}

/// A golfer's worker started again (after a crash, or on another device): its status line says where it runs.
fn golfer_started(state: &Shared, id: &str) {
    if let Some(p) = state.borrow().panels.iter().find(|p| p.golf.id() == id) {
        show_runs_on(id, &p.golf.runs_on());
    }
}

/// The Device control (or `?ep=`) changed: the ONNX golfers move there (a new worker each), the URL keeps the
/// choice, and the text is scored again where they now run.
fn device_changed(state: &Shared, device: Device) {
    state.borrow_mut().device = device;
    set_url_param("ep", (device != Device::Auto).then_some(device.name()));
    let moved: Vec<String> =
        state.borrow().panels.iter().filter(|p| p.golf.move_to(device)).map(|p| p.golf.id()).collect();
    for id in &moved {
        set_text(&format!("runs-on-{id}"), &format!("moving to {}…", device.name()));
        // Its lane in a race under way would wait for the old worker forever: it stops, saying why.
        race::lane_failed(state, id, &format!("it moved to {} (Generate races it there)", device.name()));
    }
    if !moved.is_empty() {
        spawn_local(auto_score(state.clone(), None));
    }
}

/// A golfer's worker stopped (it crashed or ran out of memory): its panel and lane say so; the others go on.
fn worker_failed(state: &Shared, id: &str, why: &str) {
    if let Some(p) = state.borrow_mut().panels.iter_mut().find(|p| p.golf.id() == id) {
        p.scoring = None;
        p.run += 1;
        p.golf.died();
    }
    if document().get_element_by_id(&format!("status-{id}")).is_some() {
        set_text(&format!("status-{id}"), &format!("stopped: {why}"));
        set_attr(&format!("panel-{id}"), "data-worker-failed", "true");
    }
    race::lane_failed(state, id, why);
    show_error(&format!("{id}: {why}. The other golfers go on."));
}

fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// ONNX Runtime Web's threads per golfer: more than one needs cross-origin isolation (SharedArrayBuffer). The
/// golfers' workers share the cores (and the page's thread needs one to stay responsive), so each gets half of
/// them, 1 to 4, unless `?threads=` says.
fn ort_threads(asked: Option<u32>) -> u32 {
    if !cross_origin_isolated() {
        return 1;
    }
    // `?threads=` comes bounded by the machine's cores (`links::open`); this bound holds whoever calls.
    asked
        .map(|t| t.clamp(1, crate::params::MAX_THREADS))
        .unwrap_or_else(|| (window().navigator().hardware_concurrency() / 2.0).clamp(1.0, 4.0) as u32)
}

/// The current view as a share link's fragment.
fn current_view(state: &Shared) -> crate::share::View {
    let mdlm = state.borrow().panels.iter().any(|p| p.golf.diffusion);
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
        by_rank: state.borrow().by_rank,
        local: local::shared_locals(state),
    }
}

/// The controls under the panels: colour scale, token boundaries, share, exports, the difference's pickers.
fn wire_results(state: &Shared) {
    let s = state.clone();
    on_id("scale", "input", move |_| {
        let v =
            input_number("scale", crate::share::SCALE_DEFAULT).clamp(crate::share::SCALE_MIN, crate::share::SCALE_MAX);
        set_text("scale-value", &v.to_string());
        s.borrow_mut().scale = v;
        rescale(&s);
    });
    let s = state.clone();
    on_id("colour-by", "change", move |_| {
        s.borrow_mut().by_rank = by_id::<HtmlSelectElement>("colour-by").value() == "rank";
        rescale(&s);
    });
    let s = state.clone();
    on_id("view-compact", "change", move |_| compact::apply(&s));
    let s = state.clone();
    on_id("compact", "mouseover", move |e| compact::hover(&s, &e));
    on_id("compact", "mouseleave", |_| hide_popover());
    on_id("boundaries", "change", |_| {
        let on = by_id::<HtmlInputElement>("boundaries").checked();
        let _ = by_id::<Element>("panels").class_list().toggle_with_force("boundaries", on);
    });
    let s = state.clone();
    on_id("share", "click", move |_| {
        let fragment = crate::share::encode(&current_view(&s));
        let url =
            format!("{}#{fragment}", window().location().href().unwrap_or_default().split('#').next().unwrap_or(""));
        if let Some(why) = crate::share::too_long(url.len()) {
            by_id::<HtmlElement>("share-link").set_hidden(true);
            return set_text("share-note", &why);
        }
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

fn render_legend(scale: f64, by_rank: bool) {
    let legend: Element = by_id("legend");
    legend.set_text_content(None);
    set_text("legend-label", if by_rank { "rank of the token:" } else { "bits per byte:" });
    if by_rank {
        let chips = views::RANK_BUCKETS.iter().map(|b| (b.1, b.2)).chain([("no ranks (gzip)", views::NO_RANK)]);
        for (label, color) in chips {
            let chip = el("span", "chip", "");
            let _ = chip.set_attribute(
                "style",
                &format!("background:{};color:{}", views::css_rgb(color), views::ink_for(color)),
            );
            chip.set_text_content(Some(label));
            let _ = legend.append_child(&chip);
        }
        return;
    }
    for (bits, color) in views::legend(scale, 7) {
        let chip = el("span", "chip", "");
        let style = format!("background:{};color:{}", views::css_rgb(color), views::ink_for(color));
        let _ = chip.set_attribute("style", &style);
        let label = if bits >= scale { format!("≥{bits:.1}") } else { format!("{bits:.1}") };
        chip.set_text_content(Some(&label));
        let _ = legend.append_child(&chip);
    }
}

pub(super) fn input_number(id: &str, default: f64) -> f64 {
    by_id::<HtmlInputElement>(id).value().trim().parse().unwrap_or(default)
}
