//! The page: loads the golfers, drives them round-robin in bounded steps (yielding to the browser between
//! steps), and copies the views' results onto elements.

mod dom;
mod download;
mod golfers;

use std::cell::RefCell;
use std::rc::Rc;

use golf_core::{per_byte_bits, GenerateSettings, SamplerSettings, Span};
use golf_gzip::{GzipGolfer, Method};
use golf_onnx::{ArGolfer, Manifest};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Element, Event, HtmlElement, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};

use self::dom::*;
use self::golfers::{Golf, ScoreRun};
use crate::views::{self, Cell};
use crate::DEFAULT_TEXT;

/// Bits per byte at the dark end of the colour scale.
const SCALE_MAX: f64 = 12.0;

struct Panel {
    golf: Rc<Golf>,
    spans: Vec<Span>,
    cells: Vec<Cell>,
}

#[derive(Default)]
struct State {
    panels: Vec<Panel>,
    /// Bumped to cancel a running score or generation: a loop that sees a newer number stops.
    score_run: u32,
    gen_run: u32,
}

type Shared = Rc<RefCell<State>>;

pub fn start() {
    console_error_panic_hook::set_once();
    let state: Shared = Rc::new(RefCell::new(State::default()));
    by_id::<HtmlTextAreaElement>("text").set_value(DEFAULT_TEXT);
    render_legend();
    add_panel(&state, Golf::Gzip(GzipGolfer::new(Method::Exact)));

    let s = state.clone();
    on_id("score", "click", move |_| spawn_local(score(s.clone(), None)));
    let s = state.clone();
    on_id("generate", "click", move |_| spawn_local(generate(s.clone())));
    let s = state.clone();
    on_id("cancel", "click", move |_| cancel_score(&s));
    let s = state.clone();
    on_id("stop", "click", move |_| {
        s.borrow_mut().gen_run += 1;
        set_text("gen-status", "stopped");
    });
    set_attr("app", "data-ready", "true");
    let params = web_sys::UrlSearchParams::new_with_str(&window().location().search().unwrap_or_default()).ok();
    let param = |name: &str| params.as_ref().and_then(|p| p.get(name));
    let threads: Option<u32> = param("threads").and_then(|t| t.parse().ok());
    if let Some(id) = param("bench") {
        spawn_local(bench(state, id, threads));
        return;
    }
    spawn_local(async move {
        score(state.clone(), None).await;
        // The neural golfers, smallest first; each is scored as soon as it is ready.
        for folder in ["ar", "smollm2"] {
            if load_onnx(&state, folder, threads).await {
                score(state.clone(), Some(folder.to_string())).await;
            }
        }
    });
}

/// Stops the running score after the step in progress; panels that had not finished say so.
fn cancel_score(state: &Shared) {
    let mut s = state.borrow_mut();
    s.score_run += 1;
    for p in &s.panels {
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
    let Golf::Ar(g) = &*golf else { return };
    out.set_text_content(Some("measuring…"));
    match golf_onnx::speed::measure(g, DEFAULT_TEXT, 2, || now_ms() / 1e3).await {
        Ok(speed) => {
            let json = serde_json::json!({
                "golfer": id, "threads": ort_threads(threads), "isolated": cross_origin_isolated(),
                "prefill_tokens": speed.prefill_tokens, "prefill_tokens_per_s": speed.prefill_tokens_per_s(),
                "decode_tokens": speed.decode_tokens, "decode_ms_per_token": speed.decode_ms_per_token(),
            });
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
    let hover = el("div", "hover", &format!("hover-{id}"));
    hover.set_text_content(Some("Hover a character to see its bits."));
    let heatmap = el("div", "heatmap", &format!("heatmap-{id}"));
    let note = el("p", "note", &format!("note-{id}"));
    note.unchecked_ref::<HtmlElement>().set_hidden(true);
    for child in [&head, &hover, &heatmap, &note] {
        panel.append_child(child).unwrap();
    }
    by_id::<Element>("panels").append_child(&panel).unwrap();
    let index = state.borrow().panels.len();
    let s = state.clone();
    on(&heatmap, "mouseover", move |e| hover_cell(&s, index, &e));
    let option = el("option", "", "");
    option.set_attribute("value", &index.to_string()).unwrap();
    option.set_text_content(Some(&golf.label()));
    by_id::<Element>("gen-golfer").append_child(&option).unwrap();
    state.borrow_mut().panels.push(Panel { golf: Rc::new(golf), spans: Vec::new(), cells: Vec::new() });
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
    let result: Result<ArGolfer, String> = async {
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
        let golfer = ArGolfer::load(manifest, &bytes, &tokenizer).await.map_err(|e| e.to_string())?;
        note.set_text_content(Some(&format!("{how}; model ready in {:.1} s", (now_ms() - t0) / 1e3)));
        Ok(golfer)
    }
    .await;
    match result {
        Ok(g) => {
            row.set_attribute("data-done", "true").unwrap();
            add_panel(state, Golf::Ar(Box::new(g)));
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

fn render_legend() {
    let legend: Element = by_id("legend");
    legend.set_text_content(None);
    for (bits, color) in views::legend(SCALE_MAX, 7) {
        let chip = el("span", "chip", "");
        let style = format!("background:{};color:{}", views::css_rgb(color), views::ink_for(color));
        chip.set_attribute("style", &style).unwrap();
        let label = if bits >= SCALE_MAX { format!("≥{bits:.0}") } else { format!("{bits:.0}") };
        chip.set_text_content(Some(&label));
        legend.append_child(&chip).unwrap();
    }
}

/// Scores the text with every golfer (or only the one with id `only`), one step each in turn, so all panels
/// fill in together.
async fn score(state: Shared, only: Option<String>) {
    let id = {
        let mut s = state.borrow_mut();
        s.score_run += 1;
        s.score_run
    };
    show_error("");
    let text = by_id::<HtmlTextAreaElement>("text").value();
    let golfs: Vec<(usize, Rc<Golf>)> = state
        .borrow()
        .panels
        .iter()
        .enumerate()
        .filter(|(_, p)| only.as_ref().is_none_or(|id| *id == p.golf.id()))
        .map(|(i, p)| (i, p.golf.clone()))
        .collect();
    let mut runs: Vec<Option<(ScoreRun, Vec<Span>, f64)>> = Vec::new();
    for (_, g) in &golfs {
        let gid = g.id();
        let panel: Element = by_id(&format!("panel-{gid}"));
        for attr in ["data-scored", "data-cancelled", "data-progress"] {
            panel.remove_attribute(attr).unwrap();
        }
        match g.start_score(&text) {
            Ok(run) => {
                set_text(&format!("status-{gid}"), "scoring…");
                runs.push(Some((run, Vec::new(), now_ms())));
            }
            Err(e) => {
                show_error(&format!("{}: {e}", g.label()));
                set_text(&format!("status-{gid}"), "");
                runs.push(None);
            }
        }
    }
    while runs.iter().any(Option::is_some) {
        for (i, (index, g)) in golfs.iter().enumerate() {
            let Some((run, spans, t0)) = runs[i].as_mut() else { continue };
            let gid = g.id();
            match g.score_step(run).await {
                Ok(step) => {
                    spans.extend(step.spans);
                    if step.finished {
                        let ms = now_ms() - *t0;
                        let (run, spans, _) = runs[i].take().expect("running");
                        finish_panel(&state, *index, g, &run, spans, &text, ms);
                    } else {
                        let (done, total) = (step.progress.done, step.progress.total);
                        let pct = 100.0 * done as f64 / total.max(1) as f64;
                        set_text(&format!("status-{gid}"), &format!("scoring… {pct:.0}% ({done} of {total} tokens)"));
                        set_attr(&format!("panel-{gid}"), "data-progress", &done.to_string());
                    }
                }
                Err(e) => {
                    show_error(&format!("{}: {e}", g.label()));
                    runs[i] = None;
                }
            }
        }
        yield_now().await;
        if state.borrow().score_run != id {
            return;
        }
    }
}

fn finish_panel(state: &Shared, index: usize, g: &Golf, run: &ScoreRun, spans: Vec<Span>, text: &str, ms: f64) {
    let gid = g.id();
    let totals = g.totals(run, &spans, text.len() as u64);
    let cells = views::cells(text, &per_byte_bits(&spans, text.len()));
    render_heatmap(&gid, &cells);
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
    set_attr(&format!("panel-{gid}"), "data-scored", "true");
    let mut s = state.borrow_mut();
    s.panels[index].spans = spans;
    s.panels[index].cells = cells;
}

fn render_heatmap(gid: &str, cells: &[Cell]) {
    let doc = document();
    let heatmap: Element = by_id(&format!("heatmap-{gid}"));
    heatmap.set_text_content(None);
    let frag = doc.create_document_fragment();
    for (i, cell) in cells.iter().take(views::HEATMAP_MAX_CHARS).enumerate() {
        let e = doc.create_element("span").unwrap();
        let bg = views::heat_color(cell.bits_per_byte(), SCALE_MAX);
        e.set_attribute("style", &format!("background:{};color:{}", views::css_rgb(bg), views::ink_for(bg))).unwrap();
        e.set_attribute("data-i", &i.to_string()).unwrap();
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

fn hover_cell(state: &Shared, index: usize, e: &Event) {
    let Some(target) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
    let Some(i) = target.get_attribute("data-i").and_then(|v| v.parse::<usize>().ok()) else { return };
    let s = state.borrow();
    let panel = &s.panels[index];
    let Some(cell) = panel.cells.get(i) else { return };
    let span = views::span_at(&panel.spans, cell.start).map(|k| &panel.spans[k]);
    set_text(&format!("hover-{}", panel.golf.id()), &views::hover_text(cell, span));
}

fn input_number(id: &str, default: f64) -> f64 {
    by_id::<HtmlInputElement>(id).value().trim().parse().unwrap_or(default)
}

async fn generate(state: Shared) {
    let id = {
        let mut s = state.borrow_mut();
        s.gen_run += 1;
        s.gen_run
    };
    show_error("");
    let index: usize = by_id::<HtmlSelectElement>("gen-golfer").value().parse().unwrap_or(0);
    let Some(golf) = state.borrow().panels.get(index).map(|p| p.golf.clone()) else { return };
    let prompt = by_id::<HtmlInputElement>("prompt").value();
    let settings = GenerateSettings {
        sampler: SamplerSettings {
            temperature: input_number("temperature", 0.8) as f32,
            seed: input_number("seed", 42.0) as u64,
            repetition_penalty: 1.1,
            ..SamplerSettings::default()
        },
        max_bytes: input_number("max-bytes", 200.0) as usize,
        max_steps: 1000,
        chat: by_id::<HtmlInputElement>("chat").checked(),
        ..GenerateSettings::default()
    };
    let mut run = match golf.start_generate(&prompt, &settings) {
        Ok(run) => run,
        Err(e) => return show_error(&format!("{}: {e}", golf.label())),
    };
    let out: Element = by_id("gen-output");
    out.set_text_content(None);
    out.remove_attribute("data-done").unwrap();
    let prompt_el = el("span", "prompt", "");
    // In chat mode the answer starts on its own line, after the question.
    prompt_el.set_text_content(Some(&if settings.chat { format!("{prompt}\n") } else { prompt.clone() }));
    out.append_child(&prompt_el).unwrap();
    let t0 = now_ms();
    let mut steps = 0;
    set_text("gen-status", "generating…");
    loop {
        if state.borrow().gen_run != id {
            return;
        }
        let step = match golf.generate_step(&mut run).await {
            Ok(step) => step,
            Err(e) => return show_error(&format!("{}: {e}", golf.label())),
        };
        if !step.text.is_empty() {
            let piece = el("span", "", "");
            piece.set_text_content(Some(&step.text));
            if let Some(t) = &step.token {
                let title = format!("{} (rank {})", t.detail.clone().unwrap_or_default(), t.rank.unwrap_or(0));
                piece.set_attribute("title", &title).unwrap();
            }
            out.append_child(&piece).unwrap();
        }
        if step.finished {
            break;
        }
        steps += 1;
        let secs = (now_ms() - t0) / 1e3;
        set_text("gen-status", &format!("{steps} steps · {:.1} steps/s", steps as f64 / secs.max(1e-9)));
        yield_now().await;
    }
    out.set_attribute("data-done", "true").unwrap();
    let secs = (now_ms() - t0) / 1e3;
    set_text("gen-status", &format!("done: {steps} steps in {secs:.1} s"));
}
