//! DOM glue: reads controls, drives the golfers in bounded steps (yielding to the browser between steps),
//! and copies the views' results onto elements. User text only ever becomes text nodes, never HTML.

use std::cell::RefCell;
use std::rc::Rc;

use golf_core::{per_byte_bits, GenerateSettings, Golfer, SamplerSettings, Span, Summary};
use golf_gzip::{GzipGolfer, Method};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{Document, Element, Event, HtmlElement, HtmlInputElement, HtmlTextAreaElement};

use crate::views::{self, Cell};
use crate::DEFAULT_TEXT;

/// Bits per byte at the dark end of the colour scale.
const SCALE_MAX: f64 = 12.0;

#[derive(Default)]
struct State {
    spans: Vec<Span>,
    cells: Vec<Cell>,
    /// Bumped to cancel a running score or generation: a loop that sees a newer number stops.
    score_run: u32,
    gen_run: u32,
}

type Shared = Rc<RefCell<State>>;

type Handler = Closure<dyn FnMut(Event)>;

thread_local! {
    /// Page-lifetime event handlers, kept rather than leaked.
    static HANDLERS: RefCell<Vec<Handler>> = const { RefCell::new(Vec::new()) };
}

fn document() -> Document {
    web_sys::window()
        .expect("window")
        .document()
        .expect("document")
}

fn by_id<T: JsCast>(id: &str) -> T {
    document()
        .get_element_by_id(id)
        .unwrap_or_else(|| panic!("#{id} missing from index.html"))
        .dyn_into::<T>()
        .unwrap_or_else(|_| panic!("#{id} has the wrong element type"))
}

fn set_text(id: &str, text: &str) {
    by_id::<Element>(id).set_text_content(Some(text));
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn on(id: &str, event: &str, f: impl FnMut(Event) + 'static) {
    let closure = Closure::wrap(Box::new(f) as Box<dyn FnMut(Event)>);
    by_id::<Element>(id)
        .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
        .expect("add listener");
    HANDLERS.with(|h| h.borrow_mut().push(closure));
}

/// Lets the browser paint and handle input before the next step.
async fn yield_now() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .expect("window")
            .set_timeout_with_callback(&resolve)
            .expect("setTimeout");
    });
    let _ = JsFuture::from(promise).await;
}

fn show_error(message: &str) {
    let banner: HtmlElement = by_id("error");
    banner.set_text_content(Some(message));
    banner.set_hidden(message.is_empty());
}

pub fn start() {
    console_error_panic_hook::set_once();
    let state: Shared = Rc::new(RefCell::new(State::default()));
    by_id::<HtmlTextAreaElement>("text").set_value(DEFAULT_TEXT);
    render_legend();

    let s = state.clone();
    on("score", "click", move |_| spawn_local(score(s.clone())));
    let s = state.clone();
    on("heatmap-gzip", "mouseover", move |e| hover(&s, &e));
    let s = state.clone();
    on("generate", "click", move |_| {
        spawn_local(generate(s.clone()))
    });
    let s = state.clone();
    on("stop", "click", move |_| {
        s.borrow_mut().gen_run += 1;
        set_text("gen-status", "stopped");
    });
    by_id::<HtmlElement>("app")
        .set_attribute("data-ready", "true")
        .expect("attribute");
    spawn_local(score(state));
}

fn render_legend() {
    let legend: Element = by_id("legend");
    legend.set_text_content(None);
    let doc = document();
    for (bits, color) in views::legend(SCALE_MAX, 7) {
        let chip = doc.create_element("span").expect("span");
        chip.set_class_name("chip");
        let bg = views::css_rgb(color);
        chip.set_attribute(
            "style",
            &format!("background:{bg};color:{}", views::ink_for(color)),
        )
        .expect("style");
        let label = if bits >= SCALE_MAX {
            format!("≥{bits:.0}")
        } else {
            format!("{bits:.0}")
        };
        chip.set_text_content(Some(&label));
        legend.append_child(&chip).expect("append");
    }
}

async fn score(state: Shared) {
    let id = {
        let mut s = state.borrow_mut();
        s.score_run += 1;
        s.score_run
    };
    show_error("");
    let text = by_id::<HtmlTextAreaElement>("text").value();
    let golfer = GzipGolfer::new(Method::Exact);
    set_text("status-gzip", "scoring…");
    let t0 = now_ms();
    let mut run = match golfer.start_score(text.as_bytes()) {
        Ok(run) => run,
        Err(e) => {
            show_error(&format!("gzip: {e}"));
            set_text("status-gzip", "");
            return;
        }
    };
    let mut spans = Vec::new();
    loop {
        let step = match golfer.score_step(&mut run).await {
            Ok(step) => step,
            Err(e) => return show_error(&format!("gzip: {e}")),
        };
        spans.extend(step.spans);
        if step.finished {
            break;
        }
        let pct = 100.0 * step.progress.done as f64 / step.progress.total.max(1) as f64;
        set_text("status-gzip", &format!("scoring… {pct:.0}%"));
        yield_now().await;
        if state.borrow().score_run != id {
            return;
        }
    }
    let ms = now_ms() - t0;
    let summary = Summary::of(&spans, text.len() as u64);
    let cells = views::cells(&text, &per_byte_bits(&spans, text.len()));
    render_heatmap(&cells);
    let bpb_el: Element = by_id("bpb-gzip");
    bpb_el.set_text_content(Some(&format!("{:.4}", summary.bpb)));
    bpb_el
        .set_attribute("data-bpb", &summary.bpb.to_string())
        .expect("attribute");
    set_text(
        "status-gzip",
        &format!(
            "{} bits for {} bytes · scored in {ms:.0} ms",
            summary.bits, summary.bytes
        ),
    );
    by_id::<Element>("panel-gzip")
        .set_attribute("data-scored", "true")
        .expect("attribute");
    let mut s = state.borrow_mut();
    s.spans = spans;
    s.cells = cells;
}

fn render_heatmap(cells: &[Cell]) {
    let doc = document();
    let heatmap: Element = by_id("heatmap-gzip");
    heatmap.set_text_content(None);
    let frag = doc.create_document_fragment();
    for (i, cell) in cells.iter().take(views::HEATMAP_MAX_CHARS).enumerate() {
        let el = doc.create_element("span").expect("span");
        let bg = views::heat_color(cell.bits_per_byte(), SCALE_MAX);
        el.set_attribute(
            "style",
            &format!(
                "background:{};color:{}",
                views::css_rgb(bg),
                views::ink_for(bg)
            ),
        )
        .expect("style");
        el.set_attribute("data-i", &i.to_string())
            .expect("attribute");
        // A text node: pasted markup is shown, never parsed.
        el.append_child(&doc.create_text_node(&cell.text.to_string()))
            .expect("append");
        frag.append_child(&el).expect("append");
    }
    heatmap.append_child(&frag).expect("append");
    let note: HtmlElement = by_id("note-gzip");
    let text = views::truncation_note(cells.len());
    note.set_hidden(text.is_none());
    note.set_text_content(text.as_deref());
}

fn hover(state: &Shared, e: &Event) {
    let Some(target) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
        return;
    };
    let Some(i) = target
        .get_attribute("data-i")
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return;
    };
    let s = state.borrow();
    let Some(cell) = s.cells.get(i) else { return };
    let span = views::span_at(&s.spans, cell.start).map(|k| &s.spans[k]);
    set_text("hover-gzip", &views::hover_text(cell, span));
}

fn input_number(id: &str, default: f64) -> f64 {
    by_id::<HtmlInputElement>(id)
        .value()
        .trim()
        .parse()
        .unwrap_or(default)
}

async fn generate(state: Shared) {
    let id = {
        let mut s = state.borrow_mut();
        s.gen_run += 1;
        s.gen_run
    };
    show_error("");
    let prompt = by_id::<HtmlInputElement>("prompt").value();
    let settings = GenerateSettings {
        sampler: SamplerSettings {
            temperature: input_number("temperature", 0.8) as f32,
            seed: input_number("seed", 42.0) as u64,
            ..SamplerSettings::default()
        },
        max_bytes: input_number("max-bytes", 200.0) as usize,
        max_steps: 1000,
    };
    let golfer = GzipGolfer::default();
    let mut run = match golfer.start_generate(&prompt, &settings) {
        Ok(run) => run,
        Err(e) => return show_error(&format!("gzip: {e}")),
    };
    let out: Element = by_id("gen-output");
    out.set_text_content(None);
    let doc = document();
    let prompt_el = doc.create_element("span").expect("span");
    prompt_el.set_class_name("prompt");
    prompt_el.set_text_content(Some(&prompt));
    out.append_child(&prompt_el).expect("append");
    let t0 = now_ms();
    let mut steps = 0;
    set_text("gen-status", "generating…");
    loop {
        if state.borrow().gen_run != id {
            return;
        }
        let step = match golfer.generate_step(&mut run).await {
            Ok(step) => step,
            Err(e) => return show_error(&format!("gzip: {e}")),
        };
        if !step.text.is_empty() {
            let piece = doc.create_element("span").expect("span");
            piece.set_text_content(Some(&step.text));
            if let Some(t) = &step.token {
                let title = format!(
                    "{} (rank {})",
                    t.detail.clone().unwrap_or_default(),
                    t.rank.unwrap_or(0)
                );
                piece.set_attribute("title", &title).expect("attribute");
            }
            out.append_child(&piece).expect("append");
        }
        if step.finished {
            break;
        }
        steps += 1;
        let secs = (now_ms() - t0) / 1e3;
        set_text(
            "gen-status",
            &format!(
                "{steps} chunks · {:.1} chunks/s",
                steps as f64 / secs.max(1e-9)
            ),
        );
        yield_now().await;
    }
    out.set_attribute("data-done", "true").expect("attribute");
    let secs = (now_ms() - t0) / 1e3;
    set_text(
        "gen-status",
        &format!("done: {steps} chunks in {secs:.1} s"),
    );
}
