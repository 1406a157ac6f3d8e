//! Everything below the panels: the summary table, the charts, the difference heatmap, exports and the share
//! link. Each redraws from the panels' finished scores of the current text.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlSelectElement};

use wasm_bindgen_futures::spawn_local;

use super::dom::*;
use super::{charts, text_hash, Shared};
use crate::results::{self, Scored, SUMMARY_HEADER};

/// The finished scores of the current text, with each panel's colour index (shared, not copied: a long text's
/// spans took tens of milliseconds to copy).
fn current(state: &Shared, text: &str) -> Vec<(usize, Rc<Scored>)> {
    let hash = text_hash(text);
    state
        .borrow()
        .panels
        .iter()
        .enumerate()
        .filter(|(_, p)| super::score_ticked(&p.golf.id()))
        .filter_map(|(i, p)| p.result.as_ref().filter(|(h, _)| *h == hash).map(|(_, s)| (i, Rc::clone(s))))
        .collect()
}

fn text() -> String {
    by_id::<web_sys::HtmlTextAreaElement>("text").value()
}

/// Redraws the table, the charts and the difference heatmap.
/// Draws the table, the charts and the difference map, each in a task of its own (together they took longer
/// than a frame). Returns the milliseconds the longest part took.
pub async fn render(state: &Shared) -> f64 {
    let text = text();
    let scored = current(state, &text);
    by_id::<HtmlElement>("results").set_hidden(scored.is_empty());
    if scored.is_empty() {
        return 0.0;
    }
    let mut longest = 0.0f64;
    let mut t = now_ms();
    let mut part_done = |t: &mut f64| {
        let now = now_ms();
        longest = longest.max(now - *t);
        *t = now;
    };
    render_table(&scored);
    part_done(&mut t);
    let refs: Vec<(usize, &Scored)> = scored.iter().map(|(i, s)| (*i, &**s)).collect();
    for (id, draw) in [
        ("chart-bpb", charts::bpb_bars as fn(&str, &[(usize, &Scored)]) -> _),
        ("chart-cumulative", charts::cumulative),
        ("chart-histogram", charts::histogram),
    ] {
        // A task each, after a frame (a chart draws outside the page and never needs the page's layout:
        // canvas.rs).
        after_frame().await;
        t = now_ms();
        if let Err(e) = draw(id, &refs) {
            show_error(&format!("the chart {id} could not be drawn: {e}"));
        }
        part_done(&mut t);
    }
    yield_now().await;
    t = now_ms();
    fill_diff_choices(&scored);
    render_diff(state);
    part_done(&mut t);
    longest
}

fn render_table(scored: &[(usize, Rc<Scored>)]) {
    let table: Element = by_id("summary");
    table.set_text_content(None);
    let head = el("tr", "", "");
    for h in SUMMARY_HEADER {
        let th = el("th", "", "");
        th.set_text_content(Some(h));
        let _ = head.append_child(&th);
    }
    let _ = table.append_child(&head);
    for (i, s) in scored {
        let tr = el("tr", "", &format!("summary-{}", s.id));
        for (k, cell) in results::summary_row(s).into_iter().enumerate() {
            let td = el("td", if k == 0 { "" } else { "num" }, "");
            if k == 0 {
                let swatch = el("span", "swatch", "");
                let c = charts::golfer_color(*i);
                let _ = swatch.set_attribute("style", &format!("background:rgb({},{},{})", c.0, c.1, c.2));
                let _ = td.append_child(&swatch);
            }
            let _ = td.append_child(&document().create_text_node(&cell));
            let _ = tr.append_child(&td);
        }
        let _ = tr.set_attribute("data-bpb", &s.bpb().to_string());
        let _ = table.append_child(&tr);
    }
}

/// Keeps the two pickers' choices when the golfers they name are still there.
fn fill_diff_choices(scored: &[(usize, Rc<Scored>)]) {
    for (k, id) in ["diff-a", "diff-b"].into_iter().enumerate() {
        let select: HtmlSelectElement = by_id(id);
        let keep = Some(select.value())
            .filter(|v| !v.is_empty())
            .or_else(|| select.get_attribute("data-want"))
            .unwrap_or_default();
        select.set_text_content(None);
        for (_, s) in scored {
            let option = el("option", "", "");
            let _ = option.set_attribute("value", &s.id);
            option.set_text_content(Some(&s.label));
            let _ = select.append_child(&option);
        }
        let fallback = scored.get(k.min(scored.len() - 1)).map(|(_, s)| s.id.clone()).unwrap_or_default();
        let want = if scored.iter().any(|(_, s)| s.id == keep) { keep } else { fallback };
        select.set_value(&want);
    }
    // A golfer minus itself says nothing: once a second golfer has scored, B becomes another one (the choice
    // made while only one had scored was no choice).
    let (a, b): (HtmlSelectElement, HtmlSelectElement) = (by_id("diff-a"), by_id("diff-b"));
    if a.value() == b.value() {
        if let Some((_, other)) = scored.iter().find(|(_, s)| s.id != a.value()) {
            b.set_value(&other.id);
        }
    }
}

/// Bytes of the text the difference map works through per task: 3-5 ms of the page's thread (three times that
/// took 10-20 ms, and 58 with other work on the cores).
const DIFF_SLICE_BYTES: usize = 32 * 1024;

/// Where golfer A spends more bits than golfer B, character by character, on the shared text. A long text is
/// worked through a slice per task ([`views::CharDiff`]), then drawn a part per task; `data-drawn` comes once the
/// summary and the whole map are there.
pub fn render_diff(state: &Shared) {
    let text = text();
    let scored = current(state, &text);
    let (a_id, b_id) = (by_id::<HtmlSelectElement>("diff-a").value(), by_id::<HtmlSelectElement>("diff-b").value());
    let find = |id: &str| scored.iter().find(|(_, s)| s.id == id).map(|(_, s)| Rc::clone(s));
    let target: Element = by_id("diff-heatmap");
    let drawing = super::panels::next_drawing("diff-heatmap");
    let _ = target.remove_attribute("data-drawn");
    let (Some(a), Some(b)) = (find(&a_id), find(&b_id)) else {
        target.set_text_content(None);
        set_text("diff-summary", "");
        return;
    };
    // Only the bytes both scored (a time-limited chain rule may have scored a prefix).
    let mut end = (a.bytes.min(b.bytes) as usize).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let scale = state.borrow().scale / 2.0;
    let work = async move {
        let shared = text.get(..end).unwrap_or_default();
        let mut diff = crate::views::CharDiff::new(shared, &a.spans, &b.spans, crate::views::HEATMAP_MAX_CHARS);
        while !diff.advance(DIFF_SLICE_BYTES) {
            yield_now().await;
            if !super::panels::is_latest_drawing("diff-heatmap", drawing) {
                return;
            }
        }
        draw_diff(&a, &b, diff, shared.len(), scale);
    };
    // A short text is done at once (one slice: the future finishes in its first poll, in this task).
    spawn_local(work);
}

/// The difference map and its summary line, once `diff` has gone through the `bytes` both golfers scored.
fn draw_diff(a: &Scored, b: &Scored, diff: crate::views::CharDiff, bytes: usize, scale: f64) {
    let dark = super::charts::prefers_dark();
    let label = a.label.clone();
    let (chars, more, total) = (diff.chars, diff.more, diff.total);
    let (shown, diffs) = (Rc::new(diff.shown), diff.diff);
    set_text(
        "diff-summary",
        &format!(
            "{} minus {}: {total:+.0} bits over {bytes} bytes; {} spends more on {more} of {chars} characters. \
             Purple: {} spends more; orange: {} does.",
            a.label, b.label, a.label, a.label, b.label
        ),
    );
    super::panels::draw_blocks(
        "diff-heatmap",
        shown.clone(),
        &super::panels::HEATMAP_STYLE,
        move |range| results::diff_html(&shown, &diffs, range, scale, dark, &label),
        None,
    );
}

/// Offers `contents` as a file download (a blob URL: nothing leaves the page).
pub fn download(name: &str, mime: &str, contents: &str) {
    let parts = js_sys::Array::of1(&JsValue::from_str(contents));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    save_url(name, &url);
    let _ = web_sys::Url::revoke_object_url(&url);
}

fn save_url(name: &str, url: &str) {
    let a: web_sys::HtmlAnchorElement = el("a", "", "").unchecked_into();
    a.set_href(url);
    a.set_download(name);
    if let Some(body) = document().body() {
        let _ = body.append_child(&a);
    }
    a.click();
    a.remove();
}

pub fn export_json(state: &Shared) {
    let text = text();
    let scored: Vec<Scored> = current(state, &text).into_iter().map(|(_, s)| (*s).clone()).collect();
    let json = results::export_json(&text, &scored);
    match serde_json::to_string_pretty(&json) {
        Ok(pretty) => download("four-golfers-bits.json", "application/json", &pretty),
        Err(e) => show_error(&format!("the export could not be written: {e}")),
    }
}

pub fn export_csv(state: &Shared) {
    let text = text();
    let scored: Vec<Scored> = current(state, &text).into_iter().map(|(_, s)| (*s).clone()).collect();
    download("four-golfers-bits.csv", "text/csv", &results::export_csv(&text, &scored));
}

/// A chart as a PNG file.
pub fn export_png(canvas_id: &str) {
    let canvas: web_sys::HtmlCanvasElement = by_id(canvas_id);
    if let Ok(url) = canvas.to_data_url_with_type("image/png") {
        save_url(&format!("four-golfers-{canvas_id}.png"), &url);
    }
}
