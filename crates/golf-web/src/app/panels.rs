//! The bits-per-byte panels: one per golfer, its toggle and header line, the diffusion golfer's controls,
//! the heatmap, and the highlight that hover and the arrow keys move across every panel at once.

use super::*;

/// A placeholder where golfer `id`'s panel will be, until it has loaded (`add_panel` takes its place). It holds
/// the text uncoloured, in the heatmap's font and height, and a row for controls where the panel will have them
/// (`controls`), so the page does not move when the panel arrives.
pub(super) fn reserve_panel(id: &str, text: &str, controls: bool) {
    let slot = el("article", "panel placeholder", &format!("slot-{id}"));
    let head = el("header", "panel-head", "");
    let title = el("h3", "", "");
    title.set_text_content(Some(id));
    let status = el("span", "status", &format!("slot-status-{id}"));
    status.set_text_content(Some("loading…"));
    for child in [&title, &status] {
        let _ = head.append_child(child);
    }
    let hover = el("div", "hover", "");
    hover.set_text_content(Some("Its bits will colour the text once it has loaded and scored it."));
    let heatmap = el("div", "heatmap", "");
    fill_plain(&heatmap, text);
    let _ = slot.append_child(&head);
    if controls {
        let _ = slot.append_child(&el("div", "controls panel-controls", ""));
    }
    let _ = slot.append_child(&hover);
    let _ = slot.append_child(&heatmap);
    let _ = by_id::<Element>("panels").append_child(&slot);
    // Its score toggle's place too (greyed until it loads): the first toggle would push every panel down a line.
    let toggle = el("label", "toggle", &format!("slot-toggle-{id}"));
    let input = el("input", "", "");
    for (k, v) in [("type", "checkbox"), ("checked", ""), ("disabled", "")] {
        let _ = input.set_attribute(k, v);
    }
    let _ = toggle.append_child(&input);
    let _ = toggle.append_child(&document().create_text_node(&format!(" {id}")));
    let _ = by_id::<Element>("score-golfers").append_child(&toggle);
}

/// A reserved panel whose golfer did not load gives its place up (the error banner says why).
pub(super) fn release_panel(id: &str) {
    for slot in [format!("slot-{id}"), format!("slot-toggle-{id}")] {
        if let Some(slot) = document().get_element_by_id(&slot) {
            slot.remove();
        }
    }
}

pub(super) fn add_panel(state: &Shared, golf: Rc<Remote>) {
    let id = golf.id();
    let panel = el("article", "panel", &format!("panel-{id}"));
    let head = el("header", "panel-head", "");
    let title = el("h3", "", "");
    title.set_text_content(Some(&golf.label()));
    let bpb = el("span", "bpb", "");
    let value = el("span", "", &format!("bpb-{id}"));
    value.set_text_content(Some("–"));
    let _ = bpb.append_child(&value);
    let _ = bpb.append_child(&document().create_text_node(" bits/byte"));
    let golf_bpb = el("span", "golf-bpb", &format!("golf-bpb-{id}"));
    let status = el("span", "status", &format!("status-{id}"));
    let runs_on = el("span", "runs-on", &format!("runs-on-{id}"));
    for child in [&title, &bpb, &golf_bpb, &status, &runs_on] {
        let _ = head.append_child(child);
    }
    let _ = panel.append_child(&head);
    let index = state.borrow().panels.len();
    if golf.diffusion {
        let _ = panel.append_child(&diffusion_controls(state, index, &id));
    }
    let limit = el("p", "note", &format!("limit-{id}"));
    limit.unchecked_ref::<HtmlElement>().set_hidden(true);
    let hover = el("div", "hover", &format!("hover-{id}"));
    hover.set_text_content(Some("Hover a character to see its bits."));
    let heatmap = el("div", "heatmap", &format!("heatmap-{id}"));
    // The text, uncoloured, until the golfer has scored it: the panel is as tall as it will be, so the page does
    // not jump when the golfers that load together score one after another.
    fill_plain(&heatmap, &by_id::<HtmlTextAreaElement>("text").value());
    let note = el("p", "note", &format!("note-{id}"));
    note.unchecked_ref::<HtmlElement>().set_hidden(true);
    for child in [&limit, &hover, &heatmap, &note] {
        let _ = panel.append_child(child);
    }
    match document().get_element_by_id(&format!("slot-{id}")) {
        Some(slot) => {
            let _ = slot.replace_with_with_node_1(&panel);
        }
        None => {
            let _ = by_id::<Element>("panels").append_child(&panel);
        }
    }
    let s = state.clone();
    on(&heatmap, "mouseover", move |e| hover_cell(&s, &e));
    on(&heatmap, "mouseleave", |_| hide_popover());
    on(&heatmap, "blur", |_| hide_popover());
    let _ = heatmap.set_attribute("tabindex", "0");
    let _ = heatmap
        .set_attribute("aria-label", &format!("{}: bits per character; arrow keys step through tokens", golf.label()));
    let s = state.clone();
    on(&heatmap, "keydown", move |e| key_nav(&s, index, &e));
    race::add_toggle(&golf);
    add_score_toggle(state, &golf, index);
    describe_in_header(&golf);
    show_runs_on(&id, &golf.runs_on());
    state.borrow_mut().panels.push(Panel {
        golf,
        scoring: None,
        spans: Vec::new(),
        cells: Vec::new(),
        run: 0,
        scored: None,
        estimates: (0, Vec::new()),
        result: None,
    });
}

/// Where a golfer's model runs, in its panel's head (and `data-device` for the tests); gzip says nothing.
pub(super) fn show_runs_on(id: &str, runs_on: &RunsOn) {
    let (device, text) = match runs_on {
        RunsOn::Code => ("code", String::new()),
        RunsOn::WebGpu { .. } => ("webgpu", runs_on.describe()),
        RunsOn::Wasm { .. } => ("wasm", runs_on.describe()),
    };
    set_text(&format!("runs-on-{id}"), &text);
    set_attr(&format!("panel-{id}"), "data-device", device);
}

/// A checkbox per golfer above the panels: unticked, its panel is hidden and it does not score.
pub(super) fn add_score_toggle(state: &Shared, golf: &Remote, index: usize) {
    let gid = golf.id();
    let label = el("label", "toggle", "");
    let input = el("input", "", &format!("score-{gid}"));
    let _ = input.set_attribute("type", "checkbox");
    let _ = input.set_attribute("checked", "");
    let _ = label.append_child(&input);
    let _ = label.append_child(&document().create_text_node(&format!(" {}", golf.label())));
    match document().get_element_by_id(&format!("slot-toggle-{gid}")) {
        Some(slot) => {
            let _ = slot.replace_with_with_node_1(&label);
        }
        None => {
            let _ = by_id::<Element>("score-golfers").append_child(&label);
        }
    }
    let s = state.clone();
    on(&input, "change", move |_| {
        let on = by_id::<HtmlInputElement>(&format!("score-{gid}")).checked();
        by_id::<HtmlElement>(&format!("panel-{gid}")).set_hidden(!on);
        if !on {
            // Unticked mid-score: its run stops too, not only its panel.
            super::cancel_panel(&mut s.borrow_mut().panels[index]);
        }
        let text = by_id::<HtmlTextAreaElement>("text").value();
        let stale = s.borrow().panels[index].result.as_ref().is_none_or(|(h, _)| *h != text_hash(&text));
        if on && stale {
            spawn_local(score(s.clone(), Some(gid.clone())));
        }
        schedule_results(&s);
    });
}

pub(super) fn score_ticked(gid: &str) -> bool {
    document()
        .get_element_by_id(&format!("score-{gid}"))
        .is_none_or(|e| e.unchecked_ref::<HtmlInputElement>().checked())
}

/// The header's line for a golfer gets its numbers once it has loaded.
pub(super) fn describe_in_header(golf: &Remote) {
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
    let _ = li.append_child(&facts);
}

pub(super) fn group_digits(n: u64) -> String {
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
pub(super) fn diffusion_controls(state: &Shared, index: usize, id: &str) -> Element {
    let row = el("div", "controls panel-controls", "");
    let label = el("label", "", "");
    let _ = label.append_child(&document().create_text_node("Estimator "));
    let select = el("select", "", &format!("estimator-{id}"));
    for (value, text) in [
        ("nelbo", "NELBO (an upper bound, whole text)"),
        ("confidence", "chain rule, most confident first (exact)"),
        ("l2r", "chain rule, left to right (exact)"),
    ] {
        let option = el("option", "", "");
        let _ = option.set_attribute("value", value);
        option.set_text_content(Some(text));
        let _ = select.append_child(&option);
    }
    let _ = label.append_child(&select);
    let steps_label = el("label", "", &format!("nelbo-steps-label-{id}"));
    let _ = steps_label.set_attribute("title", "NELBO: masking rates averaged over, one model call per window each");
    let _ = steps_label.append_child(&document().create_text_node("Masking rates K "));
    let steps = el("input", "", &format!("nelbo-steps-{id}"));
    for (k, v) in [("type", "range"), ("min", "1"), ("max", "128"), ("value", "32")] {
        let _ = steps.set_attribute(k, v);
    }
    let steps_value = el("output", "", &format!("nelbo-steps-value-{id}"));
    steps_value.set_text_content(Some("32"));
    let _ = steps_label.append_child(&steps);
    let _ = steps_label.append_child(&steps_value);
    let replay = el("button", "secondary", &format!("replay-{id}"));
    let _ = replay.set_attribute("type", "button");
    let _ = replay.set_attribute("disabled", "");
    let _ =
        replay.set_attribute("title", "Chain rules only: watch the tokens appear in the order the model revealed them");
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
        let _ = row.append_child(child);
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
pub(super) fn chosen_estimator(golf: &Remote) -> Option<Estimator> {
    if !golf.diffusion {
        return None;
    }
    let id = golf.id();
    Some(match by_id::<HtmlSelectElement>(&format!("estimator-{id}")).value().as_str() {
        "confidence" => Estimator::Confidence,
        "l2r" => Estimator::LeftToRight,
        _ => Estimator::Nelbo { steps: input_number(&format!("nelbo-steps-{id}"), 32.0).max(1.0) as usize, seed: 0 },
    })
}

pub(super) fn estimator_label(e: Estimator) -> String {
    match e {
        Estimator::Nelbo { steps, .. } => format!("NELBO, K = {steps} (a bound)"),
        Estimator::Confidence => "chain rule, confidence order".into(),
        Estimator::LeftToRight => "chain rule, left to right".into(),
    }
}

/// Draws a panel's heatmap: each character coloured by its bits per byte on the shared scale, or by the rank of
/// its token (`by_rank`).
pub(super) fn render_heatmap(gid: &str, cells: &[Cell], spans: &[Span], scale: f64, by_rank: bool) {
    let (total, shown) = (cells.len(), cells.len().min(views::HEATMAP_MAX_CHARS));
    let colors: Vec<[u8; 3]> = cells[..shown].iter().map(|c| views::cell_color(c, spans, scale, by_rank)).collect();
    let starts = views::token_starts(&cells[..shown], spans);
    let texts: Vec<&str> = cells[..shown].iter().map(|c| c.text.as_str()).collect();
    let cells = cells[..shown].to_vec();
    draw_blocks(&format!("heatmap-{gid}"), &texts, move |range| views::heatmap_html(&cells, &colors, &starts, range));
    let note: HtmlElement = by_id(&format!("note-{gid}"));
    let text = views::truncation_note(total);
    note.set_hidden(text.is_none());
    note.set_text_content(text.as_deref());
}

/// A heatmap's text, uncoloured, in the blocks its drawing will have: the panel is as tall as it will be, and the
/// browser lays out only the blocks on screen.
fn fill_plain(heatmap: &Element, text: &str) {
    use unicode_segmentation::UnicodeSegmentation;
    let chars: Vec<&str> = text.graphemes(true).take(views::HEATMAP_MAX_CHARS).collect();
    heatmap.set_text_content(None);
    for block in views::heatmap_blocks(&chars) {
        let _ = heatmap.append_child(&plain_block(&chars[block.clone()], &chars[block].concat()));
    }
}

/// A heatmap block for characters `texts` holding them uncoloured (`plain`, their text, in a `span.rest`) until
/// their drawing replaces the block.
fn plain_block(texts: &[&str], plain: &str) -> Element {
    let div = block_div(texts);
    let rest = el("span", "rest", "");
    rest.set_text_content(Some(plain));
    let _ = div.append_child(&rest);
    div
}

/// An empty block of a heatmap for characters `texts`, as tall as they will be while it is off screen.
fn block_div(texts: &[&str]) -> Element {
    let div = el("div", "hb", "");
    let lines = views::block_lines(texts);
    let _ = div.set_attribute("style", &format!("contain-intrinsic-block-size:auto calc({lines} * 1.55em)"));
    div
}

/// Draws characters `texts` into element `target_id` as heatmap blocks ([`views::heatmap_blocks`]), a part of
/// [`views::HEATMAP_CHUNK`] characters per task: `html(range)` gives a part's HTML. A newer drawing of the same
/// element stops an older one that is still going.
pub(super) fn draw_blocks(target_id: &str, texts: &[&str], html: impl Fn(std::ops::Range<usize>) -> String + 'static) {
    thread_local! {
        /// Each element's latest drawing: a part of an older one that is still to come is not drawn.
        static DRAWING: RefCell<std::collections::HashMap<String, u32>> = RefCell::default();
    }
    let drawing = DRAWING.with(|d| {
        let mut d = d.borrow_mut();
        let n = d.entry(target_id.to_string()).or_default();
        *n += 1;
        *n
    });
    let target: Element = by_id(target_id);
    // A redrawing of the same text (a new scale, rank colours) keeps the blocks shown until their new drawing
    // replaces them; another text starts from its uncoloured blocks.
    let old = target.children();
    let old: Vec<Element> = (0..old.length()).filter_map(|i| old.item(i)).collect();
    // `data-drawn` once the last part is in (the tests wait for it).
    let _ = target.remove_attribute("data-drawn");
    // Every block now, holding its text uncoloured until its drawing replaces it, whole: a block on screen is as
    // tall as its content, so the page does not move. Its parts are parsed into a copy outside the page, a part
    // per task, and the copy takes the block's place once complete: the browser lays the block out once, not once
    // per part (a 3,600-character paragraph laid out 15 times per panel took frames past 50 ms on two cores).
    let mut parts: Vec<Part> = Vec::new();
    let blocks = views::heatmap_blocks(texts);
    let plains: Vec<String> = blocks.iter().map(|b| texts[b.clone()].concat()).collect();
    let same =
        old.len() == blocks.len() && old.iter().zip(&plains).all(|(e, p)| e.text_content().as_deref() == Some(p));
    if !same {
        target.set_text_content(None);
    }
    for (i, (block, plain)) in blocks.into_iter().zip(plains).enumerate() {
        let shown = if same {
            old[i].clone()
        } else {
            let shown = plain_block(&texts[block.clone()], &plain);
            let _ = target.append_child(&shown);
            shown
        };
        let staged = block_div(&texts[block.clone()]);
        for start in block.clone().step_by(views::HEATMAP_CHUNK) {
            let end = (start + views::HEATMAP_CHUNK).min(block.end);
            let last = end == block.end;
            parts.push(Part { staged: staged.clone(), shown: last.then(|| shown.clone()), range: start..end });
        }
    }
    let mut parts = parts.into_iter().peekable();
    if let Some(part) = parts.next() {
        part.draw(&html);
    }
    if parts.peek().is_none() {
        let _ = target.set_attribute("data-drawn", "true");
        return;
    }
    let target_id = target_id.to_string();
    spawn_local(async move {
        for part in parts {
            yield_now().await;
            if DRAWING.with(|d| d.borrow().get(&target_id).copied()) != Some(drawing) {
                return;
            }
            part.draw(&html);
        }
        let _ = target.set_attribute("data-drawn", "true");
    });
}

/// A part of a heatmap block still to draw: its characters, the block's copy outside the page that it goes into,
/// and (for the block's last part) the block in the page that the copy then replaces.
struct Part {
    staged: Element,
    shown: Option<Element>,
    range: std::ops::Range<usize>,
}

impl Part {
    fn draw(self, html: &impl Fn(std::ops::Range<usize>) -> String) {
        let _ = self.staged.insert_adjacent_html("beforeend", &html(self.range));
        if let Some(shown) = self.shown {
            let _ = shown.replace_with_with_node_1(&self.staged);
        }
    }
}

/// Recolours every heatmap and the legend for a new shared scale or colouring.
pub(super) fn rescale(state: &Shared) {
    let s = state.borrow();
    render_legend(s.scale, s.by_rank);
    for p in &s.panels {
        if !p.cells.is_empty() {
            render_heatmap(&p.golf.id(), &p.cells, &p.spans, s.scale, s.by_rank);
        }
    }
    drop(s);
    compact::render(state);
    results::render_diff(state);
}

pub(super) fn hover_cell(state: &Shared, e: &Event) {
    let Some(target) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
    let Some(i) = target.get_attribute("data-i").and_then(|v| v.parse::<usize>().ok()) else { return };
    let Some(gid) = target.closest(".heatmap").ok().flatten().map(|h| h.id().replacen("heatmap-", "", 1)) else {
        return;
    };
    highlight(state, i, &gid);
}

/// The floating popover: the description of the character under the pointer (or the arrow keys' highlight) in
/// the panel it is in, next to that character. It floats over the page, so showing it never moves the text.
fn popover() -> Option<HtmlElement> {
    let doc = document();
    if let Some(p) = doc.get_element_by_id("popover") {
        return p.dyn_into().ok();
    }
    let p = el("div", "popover", "popover");
    p.set_attribute("role", "tooltip").ok()?;
    doc.body()?.append_child(&p).ok()?;
    p.dyn_into().ok()
}

pub(super) fn show_popover(cell: &Element, text: &str) {
    let Some(pop) = popover() else { return };
    pop.set_text_content(Some(text));
    pop.set_hidden(false);
    let at = cell.get_bounding_client_rect();
    let (vw, vh) = (
        window().inner_width().ok().and_then(|w| w.as_f64()).unwrap_or(1024.0),
        window().inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(768.0),
    );
    let (w, h) = (pop.offset_width() as f64, pop.offset_height() as f64);
    // Below the character, or above it where the window ends; never past the right edge.
    let top =
        if at.bottom() + 6.0 + h > vh && at.top() - 6.0 - h >= 0.0 { at.top() - 6.0 - h } else { at.bottom() + 6.0 };
    let left = at.left().min(vw - w - 8.0).max(4.0);
    let _ = pop.style().set_property("left", &format!("{left}px"));
    let _ = pop.style().set_property("top", &format!("{top}px"));
}

pub(super) fn hide_popover() {
    if let Some(p) = document().get_element_by_id("popover").and_then(|p| p.dyn_into::<HtmlElement>().ok()) {
        p.set_hidden(true);
    }
}

/// Highlights character `i` in every panel at once and shows each panel's description of it, in its info line
/// (one line, clipped) and, for `source`'s panel (where the pointer or the keys are), in the floating popover.
pub(super) fn highlight(state: &Shared, i: usize, source: &str) {
    let previous = state.borrow_mut().highlighted.replace(i);
    let s = state.borrow();
    let cell_in =
        |gid: &str, k: usize| document().query_selector(&format!("#heatmap-{gid} span[data-i=\"{k}\"]")).ok().flatten();
    for panel in &s.panels {
        let gid = panel.golf.id();
        if let Some(e) = previous.and_then(|k| cell_in(&gid, k)) {
            let _ = e.class_list().remove_1("hl");
        }
        let Some(cell) = panel.cells.get(i) else { continue };
        let span = views::span_at(&panel.spans, cell.start).map(|k| &panel.spans[k]);
        let text = views::hover_text(cell, span);
        if let Some(e) = cell_in(&gid, i) {
            let _ = e.class_list().add_1("hl");
            if gid == source {
                show_popover(&e, &text);
            }
        }
        set_text(&format!("hover-{gid}"), &text);
    }
}

/// Arrow keys move the highlight token by token (Home and End: the first and last character).
pub(super) fn key_nav(state: &Shared, index: usize, e: &Event) {
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
        let gid = state.borrow().panels[index].golf.id();
        if let Ok(Some(cell)) = document().query_selector(&format!("#heatmap-{gid} span[data-i=\"{i}\"]")) {
            cell.scroll_into_view_with_bool(false);
        }
        highlight(state, i, &gid);
    }
}
