//! The scoreboard under the text, on the first screen: each golfer's bits per byte as soon as it has one, and until
//! then what it is doing and, where the page can tell, about how long that will take.

use super::*;

fn chip(id: &str) -> Option<Element> {
    document().get_element_by_id(&format!("chip-{id}"))
}

/// A golfer's place on the scoreboard (named `label` until it says its own name), in the order golfers arrive.
pub(super) fn reserve(id: &str, label: &str) {
    if chip(id).is_some() {
        return;
    }
    let c = el("span", "chip-golfer", &format!("chip-{id}"));
    let name = el("span", "chip-name", &format!("chip-name-{id}"));
    name.set_text_content(Some(label));
    let bpb = el("span", "chip-bpb", &format!("chip-bpb-{id}"));
    let says = el("span", "chip-says", &format!("chip-says-{id}"));
    says.set_text_content(Some("waiting…"));
    for (k, child) in [&bpb, &name, &says].into_iter().enumerate() {
        if k > 0 {
            let _ = c.append_child(&document().create_text_node(" "));
        }
        let _ = c.append_child(child);
    }
    let _ = by_id::<Element>("scoreboard").append_child(&c);
}

/// Its name, once known.
pub(super) fn name(id: &str, label: &str) {
    reserve(id, label);
    if let Some(name) = document().get_element_by_id(&format!("chip-name-{id}")) {
        name.set_text_content(None);
        append_name(&name, label);
    }
    set_attr(&format!("chip-{id}"), "data-label", label);
}

/// What it is doing (its last number, if any, stays until a new one replaces it, dimmed); all of it in the
/// tooltip, where its cell is too narrow.
pub(super) fn says(id: &str, what: &str) {
    reserve(id, id);
    set_text(&format!("chip-says-{id}"), what);
    set_attr(&format!("chip-{id}"), "title", what);
    if let Some(bpb) = document().get_element_by_id(&format!("chip-bpb-{id}")) {
        let _ = bpb.class_list().add_1("stale");
    }
}

/// Its bits per byte, scored.
pub(super) fn scored(id: &str, bpb: f64) {
    reserve(id, id);
    set_text(&format!("chip-bpb-{id}"), &format!("{bpb:.3}"));
    set_attr(&format!("chip-bpb-{id}"), "data-bpb", &bpb.to_string());
    if let Some(b) = document().get_element_by_id(&format!("chip-bpb-{id}")) {
        let _ = b.class_list().remove_1("stale");
    }
    set_text(&format!("chip-says-{id}"), "");
    // Its whole name, where a phone's cell cuts it short.
    if let Some(c) = chip(id) {
        let label = c.get_attribute("data-label").unwrap_or_else(|| id.to_string());
        let _ = c.set_attribute("title", &format!("{label}: {bpb:.4} bits per byte"));
    }
}

/// A golfer that is gone (it did not load, or was removed).
pub(super) fn remove(id: &str) {
    if let Some(c) = chip(id) {
        c.remove();
    }
}

/// "doing 40 %, about 12 s left", from when the work began and the share of it done.
pub(super) fn progress(doing: &str, started_ms: f64, done: f64) -> String {
    let pct = format!("{doing} {:.0} %", 100.0 * done);
    match crate::views::time_left(now_ms() - started_ms, done) {
        Some(left) => format!("{pct}, {left}"),
        None => pct,
    }
}
