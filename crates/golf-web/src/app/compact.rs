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
    // The view coming back would be laid out whole in one frame.
    reveal::hide();
    // The panels' heatmaps and their info lines go, each by itself: a class on the panels' container that the
    // style sheet reads through it made the browser look through every character of every heatmap (85 ms).
    // Found by id: a class lookup under the panels counts every character of every heatmap.
    let ids: Vec<String> = state.borrow().panels.iter().map(|p| p.golf.id()).collect();
    for id in ids {
        for part in ["heatmap", "hover"] {
            if let Some(e) = document().get_element_by_id(&format!("{part}-{id}")) {
                e.unchecked_ref::<HtmlElement>().set_hidden(compact);
            }
        }
    }
    if let Some(c) = document().get_element_by_id("compact") {
        c.unchecked_ref::<HtmlElement>().set_hidden(!compact);
    }
    if compact {
        follow_scroll();
        // In a task after the frame that hides the heatmaps (taking a 100,000-character heatmap's layout down is
        // the browser's work of that frame: tens of milliseconds).
        let s = state.clone();
        spawn_local(async move {
            after_frame().await;
            render(&s);
        });
    }
}

/// The panels that scored the same text as the first scored panel (its hash), as much of it (a chain rule's
/// prefix covers fewer bytes), in panel order. Cheap: the popover asks for it on every hover.
fn rows(s: &State) -> Vec<&Panel> {
    let same = |p: &Panel| p.result.as_ref().map(|(h, r)| (*h, r.bytes));
    let Some(base) = s.panels.iter().find(|p| !p.cells.is_empty()).and_then(same) else { return Vec::new() };
    s.panels.iter().filter(|p| !p.cells.is_empty() && same(p) == Some(base)).collect()
}

/// The compact view's layout: a line is a character over a bar per golfer (style.css: `.compact`).
fn style(rows: usize) -> BlockStyle {
    BlockStyle {
        line_em: 1.35 + 0.36 * rows as f64 + 0.45,
        cuts: views::COMPACT_CUTS,
        weight: 2 + rows,
        lazy_over: LAZY_OVER,
        // Its HTML groups characters into words: its blocks (at most `COMPACT_CUTS.cut_at`) are swapped in whole.
        in_place_over: usize::MAX,
    }
}

/// Characters from which the compact view draws only what is near its view, and the rest as it is scrolled to.
const LAZY_OVER: usize = 16 * 1024;

/// The compact view's box draws what its scroll brings near (a lazy drawing: [`draw_blocks`]).
fn follow_scroll() {
    thread_local! {
        static WIRED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if WIRED.with(|w| w.replace(true)) {
        return;
    }
    if let Some(scroller) = document().get_element_by_id("compact") {
        on(&scroller, "scroll", |_| draw_near_view("compact-text"));
    }
}

/// Redraws the compact view, if it is shown: drawn in blocks, a part per task, as the heatmaps are (the whole
/// of a long text's view in one go took seconds).
pub(super) fn render(state: &Shared) {
    if !chosen() {
        return;
    }
    let Some(target) = document().get_element_by_id("compact") else { return };
    let key = match target.query_selector(".compact-key") {
        Ok(Some(k)) => k,
        _ => {
            let k = el("p", "compact-key", "");
            let _ = target.append_child(&k);
            k
        }
    };
    let text = match document().get_element_by_id("compact-text") {
        Some(t) => t,
        None => {
            let t = el("div", "compact-text", "compact-text");
            let _ = target.append_child(&t);
            t
        }
    };
    let s = state.borrow();
    let rows = rows(&s);
    let Some(base) = rows.first() else {
        // Any drawing still going stops.
        next_drawing("compact-text");
        text.set_text_content(None);
        let _ = text.remove_attribute("data-text");
        key.set_text_content(Some("Score a text to compare the golfers here."));
        return;
    };
    let names: Vec<String> = rows.iter().map(|p| p.golf.label()).collect();
    key.set_text_content(Some(&format!("Bars under each character, top to bottom: {}", names.join(", "))));
    // Shared with the drawing, which works out each part's colours as it draws it.
    let bars: Vec<(Rc<Vec<Cell>>, Rc<crate::results::Scored>)> =
        rows.iter().filter_map(|p| Some((p.cells.clone(), p.result.as_ref()?.1.clone()))).collect();
    let base = base.cells.clone();
    let (scale, by_rank, n) = (s.scale, s.by_rank, bars.len());
    drop(s);
    let color = Rc::new(move |row: usize, i: usize| {
        let bar = bars.get(row).and_then(|(cells, scored)| Some((cells.get(i)?, &scored.spans[..])));
        bar.map_or(views::NO_RANK, |(c, spans)| views::cell_color(c, spans, scale, by_rank))
    });
    let chars = base.clone();
    let paint = color.clone();
    let html = move |range| views::compact_html(&base, n, &*color, range);
    let recolor: Recolor = Box::new(move |block: &Element, range| recolor(block, range, n, &*paint));
    draw_blocks("compact-text", chars, &style(n), html, Some(recolor));
}

/// Gives the bars of a drawn block of the compact view (characters `range`, `rows` bars each) the colours
/// `color(row, i)`, where they stand; false, changing nothing, if the block holds other characters or another
/// number of bars (`views::compact_html` made it: a cell per character but line breaks, its bars its children).
fn recolor(
    block: &Element,
    range: std::ops::Range<usize>,
    rows: usize,
    color: &dyn Fn(usize, usize) -> [u8; 3],
) -> bool {
    let found = block.get_elements_by_class_name("cc");
    let mut cells = Vec::with_capacity(found.length() as usize);
    for k in 0..found.length() {
        let Some(cell) = found.item(k) else { return false };
        let Some(i) = cell.get_attribute("data-i").and_then(|v| v.parse::<usize>().ok()) else { return false };
        if !range.contains(&i) || cell.child_element_count() as usize != rows {
            return false;
        }
        cells.push((i, cell));
    }
    for (i, cell) in cells {
        let bars = cell.children();
        for row in 0..rows {
            if let Some(bar) = u32::try_from(row).ok().and_then(|r| bars.item(r)) {
                let _ = bar.set_attribute("style", &format!("background:{}", views::css_rgb(color(row, i))));
            }
        }
    }
    true
}

/// Every golfer's bits for character `i`, one per line, for the compact view's popover.
pub(super) fn describe(state: &Shared, i: usize) -> Option<String> {
    let s = state.borrow();
    let rows = rows(&s);
    let cell = rows.first()?.cells.get(i)?;
    let mut out = format!("{} (byte {})", views::shown(&cell.text), cell.start);
    for p in &rows {
        let Some(c) = p.cells.get(i) else { continue };
        let spans = p.spans();
        let token = views::span_at(spans, c.start).and_then(|k| spans.get(k)?.token.as_ref());
        let rank = token.and_then(|t| t.rank).map_or(String::new(), |r| format!(", rank {r}"));
        let piece = token.map_or(String::new(), |t| format!(" in {:?}", t.text));
        out += &format!("\n{}: {:.2} bits{piece}{rank}", p.golf.label(), c.bits);
    }
    Some(out)
}

pub(super) fn hover(state: &Shared, e: &Event) {
    let Some(target) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
    // The character's cell (its bars are its children).
    let Some(cell) = target.closest(".cc").ok().flatten() else { return };
    let Some(i) = cell.get_attribute("data-i").and_then(|v| v.parse::<usize>().ok()) else { return };
    let Some(text) = describe(state, i) else { return };
    popover_by_pointer();
    show_popover(&cell, &text);
}
