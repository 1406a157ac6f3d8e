//! The compact view: the text once, each character with one thin bar per golfer beneath it (coloured as its
//! heatmap is), so one spot can be compared across golfers without scrolling between panels. Switchable with the
//! panels; hovering a character lists every golfer's bits for it in the popover.

use super::*;

/// Whether the compact view is chosen.
pub(super) fn chosen() -> bool {
    document().get_element_by_id("view-compact").is_some_and(|e| e.unchecked_ref::<HtmlInputElement>().checked())
}

/// Shows the compact view or the panels, as chosen, and draws the compact view.
pub(super) fn apply(state: &Shared) {
    let compact = chosen();
    if let Some(p) = document().get_element_by_id("panels") {
        let _ = p.class_list().toggle_with_force("compact-mode", compact);
    }
    if let Some(c) = document().get_element_by_id("compact") {
        c.unchecked_ref::<HtmlElement>().set_hidden(!compact);
    }
    if compact {
        render(state);
    }
}

/// The panels that scored the same text as the first scored panel (its hash), all of it (a chain rule's prefix
/// has fewer cells), in panel order. Cheap: the popover asks for it on every hover.
fn rows(s: &State) -> Vec<&Panel> {
    let same = |p: &Panel| p.result.as_ref().map(|r| (r.0, p.cells.len()));
    let Some(base) = s.panels.iter().find(|p| !p.cells.is_empty()).and_then(same) else { return Vec::new() };
    s.panels.iter().filter(|p| same(p) == Some(base)).collect()
}

/// Redraws the compact view, if it is shown.
pub(super) fn render(state: &Shared) {
    if !chosen() {
        return;
    }
    let Some(target) = document().get_element_by_id("compact") else { return };
    target.set_text_content(None);
    let s = state.borrow();
    let rows = rows(&s);
    let Some(base) = rows.first() else {
        target.set_text_content(Some("Score a text to compare the golfers here."));
        return;
    };
    let key = el("p", "compact-key", "");
    let names: Vec<String> = rows.iter().map(|p| p.golf.label()).collect();
    key.set_text_content(Some(&format!("Bars under each character, top to bottom: {}", names.join(", "))));
    let _ = target.append_child(&key);
    let text = el("div", "compact-text", "compact-text");
    let bars: Vec<(&[Cell], &[Span])> = rows.iter().map(|p| (&p.cells[..], &p.spans[..])).collect();
    text.set_inner_html(&views::compact_html(&base.cells, &bars, s.scale, s.by_rank));
    let _ = target.append_child(&text);
}

/// Every golfer's bits for character `i`, one per line, for the compact view's popover.
pub(super) fn describe(state: &Shared, i: usize) -> Option<String> {
    let s = state.borrow();
    let rows = rows(&s);
    let cell = rows.first()?.cells.get(i)?;
    let mut out = format!("{} (byte {})", views::shown(&cell.text), cell.start);
    for p in &rows {
        let c = &p.cells[i];
        let token = views::span_at(&p.spans, c.start).and_then(|k| p.spans[k].token.as_ref());
        let rank = token.and_then(|t| t.rank).map_or(String::new(), |r| format!(", rank {r}"));
        let piece = token.map_or(String::new(), |t| format!(" in {:?}", t.text));
        out += &format!("\n{}: {:.2} bits{piece}{rank}", p.golf.label(), c.bits);
    }
    Some(out)
}

pub(super) fn hover(state: &Shared, e: &Event) {
    let Some(target) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
    let Some(i) = target.get_attribute("data-i").and_then(|v| v.parse::<usize>().ok()) else { return };
    let Some(text) = describe(state, i) else { return };
    let cell = target.closest(".cc").ok().flatten().unwrap_or(target);
    show_popover(&cell, &text);
}
