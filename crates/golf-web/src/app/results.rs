//! Everything below the panels: the summary table, the charts, the difference heatmap, exports and the share
//! link. Each redraws from the panels' finished scores of the current text.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlSelectElement};

use super::dom::*;
use super::{charts, text_hash, Shared};
use crate::results::{self, Scored, SUMMARY_HEADER};

/// The finished scores of the current text, with each panel's colour index.
fn current(state: &Shared, text: &str) -> Vec<(usize, Scored)> {
    let hash = text_hash(text);
    state
        .borrow()
        .panels
        .iter()
        .enumerate()
        .filter(|(_, p)| super::score_ticked(&p.golf.id()))
        .filter_map(|(i, p)| p.result.as_ref().filter(|(h, _)| *h == hash).map(|(_, s)| (i, s.clone())))
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
    let refs: Vec<(usize, &Scored)> = scored.iter().map(|(i, s)| (*i, s)).collect();
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

fn render_table(scored: &[(usize, Scored)]) {
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
fn fill_diff_choices(scored: &[(usize, Scored)]) {
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

/// Where golfer A spends more bits than golfer B, character by character, on the shared text.
pub fn render_diff(state: &Shared) {
    let text = text();
    let scored = current(state, &text);
    let (a_id, b_id) = (by_id::<HtmlSelectElement>("diff-a").value(), by_id::<HtmlSelectElement>("diff-b").value());
    let find = |id: &str| scored.iter().find(|(_, s)| s.id == id).map(|(_, s)| s);
    let target: Element = by_id("diff-heatmap");
    target.set_text_content(None);
    let (Some(a), Some(b)) = (find(&a_id), find(&b_id)) else { return };
    // Only the bytes both scored (a time-limited chain rule may have scored a prefix).
    let len = (a.bytes.min(b.bytes)) as usize;
    let mut end = len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let shared = &text[..end];
    let pa = golf_core::per_byte_bits(&a.spans, a.bytes as usize);
    let pb = golf_core::per_byte_bits(&b.spans, b.bytes as usize);
    // Characters as the panels show them: grapheme clusters.
    let graphemes: Vec<(usize, &str)> =
        unicode_segmentation::UnicodeSegmentation::grapheme_indices(shared, true).collect();
    let chars: Vec<(u32, u32)> = graphemes.iter().map(|&(i, g)| (i as u32, (i + g.len()) as u32)).collect();
    let diff = results::difference(&pa, &pb, &chars);
    let scale = state.borrow().scale / 2.0;
    let dark = super::charts::prefers_dark();
    let n = graphemes.len().min(crate::views::HEATMAP_MAX_CHARS);
    let texts: Vec<&str> = graphemes[..n].iter().map(|&(_, g)| g).collect();
    let shown: Vec<(String, (u32, u32))> = texts.iter().map(|g| g.to_string()).zip(chars.iter().copied()).collect();
    let label = a.label.clone();
    let more = diff.iter().filter(|&&d| d > 0.0).count();
    let total: f64 = diff.iter().sum();
    super::panels::draw_blocks("diff-heatmap", &texts, move |range| {
        results::diff_html(&shown, &diff, range, scale, dark, &label)
    });
    set_text(
        "diff-summary",
        &format!(
            "{} minus {}: {total:+.0} bits over {} bytes; {} spends more on {more} of {} characters. Purple: {} \
             spends more; orange: {} does.",
            a.label,
            b.label,
            shared.len(),
            a.label,
            chars.len(),
            a.label,
            b.label
        ),
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
    let scored: Vec<Scored> = current(state, &text).into_iter().map(|(_, s)| s).collect();
    let json = results::export_json(&text, &scored);
    match serde_json::to_string_pretty(&json) {
        Ok(pretty) => download("four-golfers-bits.json", "application/json", &pretty),
        Err(e) => show_error(&format!("the export could not be written: {e}")),
    }
}

pub fn export_csv(state: &Shared) {
    let text = text();
    let scored: Vec<Scored> = current(state, &text).into_iter().map(|(_, s)| s).collect();
    download("four-golfers-bits.csv", "text/csv", &results::export_csv(&text, &scored));
}

/// A chart as a PNG file.
pub fn export_png(canvas_id: &str) {
    let canvas: web_sys::HtmlCanvasElement = by_id(canvas_id);
    if let Ok(url) = canvas.to_data_url_with_type("image/png") {
        save_url(&format!("four-golfers-{canvas_id}.png"), &url);
    }
}
