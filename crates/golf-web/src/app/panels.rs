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
    // The compact view shows the text instead, when chosen.
    for e in [&hover, &heatmap] {
        e.unchecked_ref::<HtmlElement>().set_hidden(compact::chosen());
    }
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
    super::scoreboard::name(&id, &golf.label());
    super::scoreboard::says(&id, "ready");
    describe_in_header(&golf);
    show_runs_on(&id, &golf.runs_on());
    state.borrow_mut().panels.push(Panel {
        golf,
        scoring: None,
        cells: Rc::default(),
        run: 0,
        scored: None,
        estimates: (0, Vec::new()),
        result: None,
    });
}

/// Dims (or not) the numbers a panel shows as out of date: the panel says so (`stale`), and so do the elements
/// that are dimmed, each by itself (style.css: a rule through the panel made the browser look through every
/// character of its heatmap when the class changed).
pub(super) fn set_stale(panel: &Element, stale: bool) {
    let _ = panel.class_list().toggle_with_force("stale", stale);
    // The dimmed parts found by id: a class lookup under the panel counts every character of its heatmap (a
    // keystroke in a 100,000-character text spent 9 ms of its task per panel there).
    let Some(gid) = panel.id().strip_prefix("panel-").map(str::to_string) else { return };
    let bpb = document().get_element_by_id(&format!("bpb-{gid}")).and_then(|v| v.parent_element());
    let heatmap = document().get_element_by_id(&format!("heatmap-{gid}"));
    let golf_bpb = document().get_element_by_id(&format!("golf-bpb-{gid}"));
    for e in [heatmap, bpb, golf_bpb].into_iter().flatten() {
        let _ = e.class_list().toggle_with_force("stale", stale);
    }
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
    let _ = label.append_child(&document().create_text_node(" "));
    append_name(&label, &golf.label());
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
            if let Some(p) = s.borrow_mut().panels.get_mut(index) {
                super::cancel_panel(p);
            }
        } else if !shows_current_score(&s, index) {
            // Ticked again: a panel whose score was stopped (or never finished) is scored, even where an older
            // score of the same text is kept: that one is not what the panel shows now.
            spawn_local(score(s.clone(), Some(gid.clone())));
        }
        schedule_results(&s);
    });
}

/// Whether panel `index` shows a finished score of the text in the box: its last score is of this text and
/// nothing started since has taken it down (a new score, cancelled or not, removes `data-scored` until it
/// finishes).
pub(super) fn shows_current_score(state: &Shared, index: usize) -> bool {
    let s = state.borrow();
    let Some(p) = s.panels.get(index) else { return false };
    let finished = document()
        .get_element_by_id(&format!("panel-{}", p.golf.id()))
        .is_some_and(|e| e.get_attribute("data-scored").as_deref() == Some("true"));
    let text = by_id::<HtmlTextAreaElement>("text").value();
    finished && p.scoring.is_none() && p.result.as_ref().is_some_and(|(h, _)| *h == text_hash(&text))
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
    // The range a share link's K is checked against (`crate::share`).
    let (min, max) = (crate::share::NELBO_K_MIN.to_string(), crate::share::NELBO_K_MAX.to_string());
    let value = crate::share::NELBO_K_DEFAULT.to_string();
    for (k, v) in [("type", "range"), ("min", min.as_str()), ("max", max.as_str()), ("value", value.as_str())] {
        let _ = steps.set_attribute(k, v);
    }
    let steps_value = el("output", "", &format!("nelbo-steps-value-{id}"));
    steps_value.set_text_content(Some(&value));
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
/// its token (`by_rank`). `cells` are the characters shown (at most [`views::HEATMAP_MAX_CHARS`]); `scored` holds
/// the spans. Both are shared with the drawing, which works out each part's colours as it draws it.
pub(super) fn render_heatmap(
    gid: &str,
    cells: &Rc<Vec<Cell>>,
    scored: &Rc<crate::results::Scored>,
    scale: f64,
    by_rank: bool,
) {
    let (shown, cells, scored) = (cells.clone(), cells.clone(), scored.clone());
    let html = move |range| {
        let spans = &scored.spans[..];
        views::heatmap_html(&cells, spans, range, |c| views::cell_color(c, spans, scale, by_rank))
    };
    draw_blocks(&format!("heatmap-{gid}"), shown, &HEATMAP_STYLE, html, None);
}

/// The note under a heatmap that shows only the first characters of the text.
pub(super) fn show_truncation(gid: &str, note: Option<String>) {
    let el: HtmlElement = by_id(&format!("note-{gid}"));
    el.set_hidden(note.is_none());
    el.set_text_content(note.as_deref());
}

/// A heatmap's text, uncoloured, in the blocks its drawing will have: the panel is as tall as it will be, and the
/// browser lays out only the blocks on screen.
fn fill_plain(heatmap: &Element, text: &str) {
    use unicode_segmentation::UnicodeSegmentation;
    let chars: Vec<&str> = text.graphemes(true).take(views::HEATMAP_MAX_CHARS).collect();
    heatmap.set_text_content(None);
    for block in views::blocks(&chars, &HEATMAP_STYLE.cuts) {
        let goes_on = goes_on(&block, |k| chars.get(k).copied().unwrap_or_default());
        let _ =
            heatmap.append_child(&plain_block(&chars[block.clone()], &chars[block].concat(), &HEATMAP_STYLE, goes_on));
    }
    let _ = heatmap.set_attribute("data-text", &text_key(&chars));
}

/// A heatmap block for characters `texts` holding them uncoloured (`plain`, their text, in a `span.rest`) until
/// their drawing replaces the block.
fn plain_block(texts: &[&str], plain: &str, style: &BlockStyle, goes_on: bool) -> Element {
    let div = block_div(texts, style, goes_on);
    let rest = el("span", "rest", "");
    rest.set_text_content(Some(plain));
    let _ = div.append_child(&rest);
    div
}

/// An empty block of a heatmap for characters `texts`, as tall as they will be while it is off screen; `goes_on`: it
/// goes on with the line the block before it ended (class `cont`).
fn block_div(texts: &[&str], style: &BlockStyle, goes_on: bool) -> Element {
    let div = el("div", if goes_on { "hb cont" } else { "hb" }, "");
    let lines = views::block_lines(texts);
    let height = format!("contain-intrinsic-block-size:auto calc({lines} * {}em)", style.line_em);
    let _ = div.set_attribute("style", &height);
    div
}

/// Whether the block of characters `block` goes on with a line that the block before it ended (it was cut at a space
/// or mid-word, not after a line break); `text(k)` is character `k`.
fn goes_on<'a>(block: &std::ops::Range<usize>, text: impl Fn(usize) -> &'a str) -> bool {
    block.start > 0 && !text(block.start - 1).ends_with('\n')
}

/// How a text drawn in blocks is laid out: the height of a line (for a block not laid out yet), how it is cut into
/// blocks and parts, and the weight of a character's elements in a frame's layout ([`swap_turn`]).
#[derive(Clone, Copy)]
pub(super) struct BlockStyle {
    pub(super) line_em: f64,
    pub(super) cuts: views::Cuts,
    pub(super) weight: usize,
    /// From this many characters on, only what is near the view is drawn ([`draw_blocks`]).
    pub(super) lazy_over: usize,
    /// A block of more characters than this is drawn in place, a part per turn ([`Drawing::draw_in_place`]); its
    /// HTML must be an element per character. Smaller blocks are drawn outside the page and swapped in whole.
    pub(super) in_place_over: usize,
}

/// The panels' heatmaps and the difference map (style.css: `.heatmap`), drawn whole, an element per character.
pub(super) const HEATMAP_STYLE: BlockStyle = BlockStyle {
    line_em: 1.55,
    cuts: views::HEATMAP_CUTS,
    weight: 1,
    lazy_over: usize::MAX,
    in_place_over: views::HEATMAP_BLOCK,
};

/// Characters (times their style's weight) whose drawn blocks or parts take their places in one frame: each one
/// swapped in is styled and laid out in the frame's rendering. The heatmaps, the difference map and the compact view
/// drawing at once (a block each per task) made frames of 50-80 ms of style and layout, and the default text's
/// 3,600-character paragraph swapped in whole a frame of 60 ms of work on two cores.
const SWAP_BUDGET: usize = 1536;

thread_local! {
    /// What the blocks swapped in since the last frame weigh.
    static SWAPPED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Waits until a block of `weight` may take its place in this frame (the first block of a frame always may).
pub(super) async fn swap_turn(weight: usize) {
    loop {
        let used = SWAPPED.with(|s| s.get());
        if used == 0 || used + weight <= SWAP_BUDGET {
            if used == 0 {
                // The budget is the frame's: it comes back once the frame is drawn.
                spawn_local(async {
                    after_frame().await;
                    SWAPPED.with(|s| s.set(0));
                });
            }
            SWAPPED.with(|s| s.set(used + weight));
            return;
        }
        after_frame().await;
    }
}

/// What an element's blocks hold: the same for the same characters, so a redrawing of the same text keeps them
/// (FNV-1a over the characters and their ends: a hash of 100,000 strings the standard way took 4 ms).
fn text_key(texts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for t in texts {
        for b in t.bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:x}-{}", texts.len())
}

/// Characters drawn in blocks: how many, and each one's text.
pub(super) trait Chars: 'static {
    fn count(&self) -> usize;
    fn text(&self, i: usize) -> &str;
}

impl Chars for Vec<Cell> {
    fn count(&self) -> usize {
        self.len()
    }
    fn text(&self, i: usize) -> &str {
        self.get(i).map_or("", |c| c.text.as_str())
    }
}

impl Chars for Vec<(String, (u32, u32))> {
    fn count(&self) -> usize {
        self.len()
    }
    fn text(&self, i: usize) -> &str {
        self.get(i).map_or("", |c| c.0.as_str())
    }
}

/// Characters of plain blocks made per task while a drawing sets up its blocks.
const PLAIN_PER_TASK: usize = 16 * 1024;

/// Draws characters `chars` into element `target_id` in blocks ([`views::blocks`]), then a part per task
/// ([`views::block_parts`]): `html(range)` gives a part's HTML. All of it happens in the tasks after this one;
/// `data-drawn` goes at once and comes back when the drawing is done. A newer drawing of the same element stops an
/// older one that is still going.
///
/// First every block, holding its text uncoloured until its drawing replaces it, whole: a block on screen is as
/// tall as its content, so the page does not move (they are made about [`PLAIN_PER_TASK`] characters a task; past
/// the first, a heatmap's box has reached its height and scrolls). A redrawing of the same text (a new scale, rank
/// colours) keeps the blocks shown until their new drawing replaces them. Then each part is parsed into a copy of
/// its block outside the page, and the copy's elements take the place of the block's once complete: the browser
/// lays the block out once, not once per part (a 3,600-character paragraph laid out 15 times per panel took frames
/// past 50 ms on two cores). A block longer than `style.in_place_over` is drawn in place instead, a part in each
/// frame's turn ([`swap_turn`]): swapped in whole, its elements alone took a frame past 50 ms.
///
/// With `style.lazy_over` characters or more, only the blocks near what its scrolling box shows are drawn (then
/// `data-drawn`), and the others as they come near it ([`draw_near_view`], on scroll): the compact view's hundred
/// thousand characters, drawn whole, made half a million elements whose style, layout and garbage collection took
/// frames past 50 ms.
pub(super) fn draw_blocks<C: Chars>(
    target_id: &str,
    chars: Rc<C>,
    style: &BlockStyle,
    html: impl Fn(std::ops::Range<usize>) -> String + 'static,
    recolor: Option<Recolor>,
) {
    let drawing = next_drawing(target_id);
    let target: Element = by_id(target_id);
    let _ = target.remove_attribute("data-drawn");
    let (target_id, style) = (target_id.to_string(), *style);
    spawn_local(async move {
        yield_now().await;
        let latest = || is_latest_drawing(&target_id, drawing);
        if !latest() {
            return;
        }
        let texts: Vec<&str> = (0..chars.count()).map(|i| chars.text(i)).collect();
        let blocks = views::blocks(&texts, &style.cuts);
        let key = text_key(&texts);
        let old = target.children();
        let old: Vec<Element> = (0..old.length()).filter_map(|i| old.item(i)).collect();
        let same = old.len() == blocks.len() && target.get_attribute("data-text").as_deref() == Some(key.as_str());
        if !same {
            target.set_text_content(None);
            let _ = target.set_attribute("data-text", &key);
        }
        let mut shown: Vec<Element> = Vec::with_capacity(blocks.len());
        let mut made = 0;
        for (i, block) in blocks.iter().enumerate() {
            match old.get(i) {
                Some(e) if same => shown.push(e.clone()),
                _ => {
                    if made >= PLAIN_PER_TASK {
                        yield_now().await;
                        if !latest() {
                            return;
                        }
                        made = 0;
                    }
                    let block_texts = texts.get(block.clone()).unwrap_or_default();
                    let goes_on = goes_on(block, |k| texts.get(k).copied().unwrap_or_default());
                    let plain = plain_block(block_texts, &block_texts.concat(), &style, goes_on);
                    let _ = target.append_child(&plain);
                    shown.push(plain);
                    made += block.len();
                }
            }
        }
        drop(texts);
        let lazy = chars.count() >= style.lazy_over;
        let drawing_state = Rc::new(Drawing {
            target_id: target_id.clone(),
            number: drawing,
            target,
            chars,
            blocks,
            shown: RefCell::new(shown),
            drawn: RefCell::new(Vec::new()),
            style,
            html: Box::new(html),
            recolor,
            lazy,
            running: std::cell::Cell::new(false),
        });
        if lazy {
            LAZY.with(|l| l.borrow_mut().insert(target_id, drawing_state.clone()));
        }
        drawing_state.run().await;
    });
}

/// Recolours a drawn block of characters `range` where it stands, giving false (and changing nothing) where the
/// block's elements are not the ones its drawing would make ([`draw_blocks`]).
pub(super) type Recolor = Box<dyn Fn(&Element, std::ops::Range<usize>) -> bool>;

/// A drawing whose blocks are laid out: what it draws and which of its blocks are drawn.
struct Drawing {
    target_id: String,
    number: u32,
    target: Element,
    chars: Rc<dyn Chars>,
    blocks: Vec<std::ops::Range<usize>>,
    /// The blocks in the page, uncoloured or drawn.
    shown: RefCell<Vec<Element>>,
    drawn: RefCell<Vec<bool>>,
    style: BlockStyle,
    html: Box<dyn Fn(std::ops::Range<usize>) -> String>,
    recolor: Option<Recolor>,
    lazy: bool,
    /// Drawing is under way (a scroll does not start another loop).
    running: std::cell::Cell<bool>,
}

thread_local! {
    /// The lazy drawings, by element: a scroll of their box draws the blocks that came near its view.
    static LAZY: RefCell<std::collections::HashMap<String, Rc<Drawing>>> = RefCell::default();
}

impl Drawing {
    fn latest(&self) -> bool {
        is_latest_drawing(&self.target_id, self.number)
    }

    /// Draws the blocks still to draw (a lazy drawing: those near its box's view), then says `data-drawn`.
    async fn run(self: Rc<Self>) {
        if self.running.replace(true) {
            return;
        }
        self.drawn.borrow_mut().resize(self.blocks.len(), false);
        loop {
            let next = if self.lazy { self.next_near_view() } else { self.drawn.borrow().iter().position(|d| !d) };
            let Some(i) = next else { break };
            if !self.draw_block(i).await {
                self.running.set(false);
                return;
            }
        }
        self.running.set(false);
        if self.latest() {
            let _ = self.target.set_attribute("data-drawn", "true");
        }
    }

    /// The first block not drawn yet that is near what the scrolling box around the drawing shows (within a view's
    /// height above or below it).
    fn next_near_view(&self) -> Option<usize> {
        let scroller = self.target.parent_element()?;
        let view = scroller.get_bounding_client_rect();
        let margin = view.height().max(200.0);
        let (top, bottom) = (view.top() - margin, view.bottom() + margin);
        // The first block that ends below the top of the window: blocks are in order down the page.
        let shown = self.shown.borrow();
        let first = shown.partition_point(|b| b.get_bounding_client_rect().bottom() < top);
        let drawn = self.drawn.borrow();
        (first..shown.len())
            .take_while(|&i| shown.get(i).is_some_and(|b| b.get_bounding_client_rect().top() <= bottom))
            .find(|&i| !drawn.get(i).copied().unwrap_or(true))
    }

    /// Draws block `i`: its parts, a task each, into a copy outside the page, whose elements then take the place of
    /// the block's (a long block: in place, [`Self::draw_in_place`]). False when a newer drawing took over.
    async fn draw_block(&self, i: usize) -> bool {
        let (Some(block), Some(shown)) = (self.blocks.get(i).cloned(), self.shown.borrow().get(i).cloned()) else {
            return false;
        };
        if let Some(d) = self.drawn.borrow_mut().get_mut(i) {
            *d = true;
        }
        // A redrawing of the same text in the same elements (a new scale, a new score) recolours them in place: a
        // block swapped in made the browser walk every box of the view in that frame's pre-paint (12 ms a frame in
        // the compact view of a long text, past 50 ms with a core busy), a recolouring only repaints.
        let plain = shown.first_element_child().is_some_and(|c| c.class_list().contains("rest"));
        if let (Some(recolor), false) = (&self.recolor, plain) {
            yield_now().await;
            swap_turn(block.len() * self.style.weight).await;
            if !self.latest() {
                return false;
            }
            if recolor(&shown, block.clone()) {
                return true;
            }
        }
        // The block's characters (indices from its start).
        let texts: Vec<&str> = block.clone().map(|k| self.chars.text(k)).collect();
        let staged = block_div(&texts, &self.style, goes_on(&block, |k| self.chars.text(k)));
        let parts: Vec<std::ops::Range<usize>> = views::block_parts(&texts, 0..texts.len(), &self.style.cuts)
            .into_iter()
            .map(|r| r.start + block.start..r.end + block.start)
            .collect();
        drop(texts);
        if block.len() > self.style.in_place_over {
            return self.draw_in_place(&shown, block, parts).await;
        }
        for range in parts {
            yield_now().await;
            if !self.latest() {
                return false;
            }
            let _ = staged.insert_adjacent_html("beforeend", &(self.html)(range));
        }
        swap_turn(block.len() * self.style.weight).await;
        if !self.latest() {
            return false;
        }
        // The copy's elements take the place of the block's own, in it: the block itself swapped for the copy made
        // the browser walk every box of a long text's view in that frame's pre-paint (in the compact view of a 4 MiB
        // text, 11 ms against 1 ms, and frames of 27-32 ms against 11-13; tests/browser/frames.mjs prints them).
        shown.replace_children_with_node(&js_sys::Array::from(&staged.child_nodes()));
        true
    }

    /// Draws the long block `shown` (characters `block`) in place, part by part, each in its frame's turn: a block
    /// swapped in whole is styled and laid out in one frame, and a part's new elements are most of a frame's work
    /// (the rest of the block is laid out and painted again: about a quarter of a new element's cost a character, so
    /// a 3,600-character paragraph takes a frame's turn a part). Until
    /// its part comes, a character keeps what the block showed: its earlier drawing's element, or the uncoloured
    /// text of the block's `rest`. False when a newer drawing took over.
    async fn draw_in_place(
        &self,
        shown: &Element,
        block: std::ops::Range<usize>,
        parts: Vec<std::ops::Range<usize>>,
    ) -> bool {
        let relayout = block.len() * self.style.weight / 4;
        for range in parts {
            yield_now().await;
            if !self.latest() {
                return false;
            }
            let html = (self.html)(range.clone());
            swap_turn(range.len() * self.style.weight + relayout).await;
            if !self.latest() {
                return false;
            }
            let rest: String = (range.end..block.end).map(|k| self.chars.text(k)).collect();
            replace_chars(shown, range.start - block.start, range.len(), &html, &rest);
        }
        true
    }
}

/// In block `div`, whose children are an element per character and then perhaps a `rest` holding the uncoloured
/// text of the characters after them, puts `html` (the elements of `count` characters) in place of the `count`
/// characters from child `at` on; `rest` is the uncoloured text of the characters after those.
fn replace_chars(div: &Element, at: usize, count: usize, html: &str, rest: &str) {
    let kids = div.children();
    let child = |k: usize| u32::try_from(k).ok().and_then(|k| kids.item(k));
    let mut removed = 0;
    while removed < count {
        let Some(kid) = child(at) else { break };
        if kid.class_list().contains("rest") {
            if rest.is_empty() {
                kid.remove();
            } else {
                kid.set_text_content(Some(rest));
            }
            break;
        }
        kid.remove();
        removed += 1;
    }
    match child(at) {
        Some(next) => {
            let _ = next.insert_adjacent_html("beforebegin", html);
        }
        None => {
            let _ = div.insert_adjacent_html("beforeend", html);
        }
    }
}

/// The lazy drawing of element `target_id` goes on with the blocks that came near its box's view (its box
/// scrolled).
pub(super) fn draw_near_view(target_id: &str) {
    let Some(d) = LAZY.with(|l| l.borrow().get(target_id).cloned()) else { return };
    if d.latest() && !d.running.get() {
        let _ = d.target.remove_attribute("data-drawn");
        spawn_local(d.run());
    }
}

thread_local! {
    /// Each element's latest drawing: a part of an older one that is still to come is not drawn.
    static DRAWING: RefCell<std::collections::HashMap<String, u32>> = RefCell::default();
}

/// A new drawing of element `target_id`: an older one still going stops at its next part.
pub(super) fn next_drawing(target_id: &str) -> u32 {
    reveal::hide();
    DRAWING.with(|d| {
        let mut d = d.borrow_mut();
        let n = d.entry(target_id.to_string()).or_default();
        *n = n.wrapping_add(1);
        *n
    })
}

/// Whether `drawing` is still element `target_id`'s latest.
pub(super) fn is_latest_drawing(target_id: &str, drawing: u32) -> bool {
    DRAWING.with(|d| d.borrow().get(target_id).copied()) == Some(drawing)
}

/// Recolours every heatmap and the legend for a new shared scale or colouring.
pub(super) fn rescale(state: &Shared) {
    let s = state.borrow();
    render_legend(s.scale, s.by_rank);
    for p in &s.panels {
        if let (false, Some((_, scored))) = (p.cells.is_empty(), &p.result) {
            render_heatmap(&p.golf.id(), &p.cells, scored, s.scale, s.by_rank);
        }
    }
    drop(s);
    compact::render(state);
    results::render_diff(state);
}

/// The popover follows a pointer from now on (a scroll hides it).
pub(super) fn popover_by_pointer() {
    BY_KEYS.with(|k| k.set(false));
}

pub(super) fn hover_cell(state: &Shared, e: &Event) {
    popover_by_pointer();
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
    // The part of the page on screen: on a phone zoomed in, the visual viewport, inside the layout viewport that
    // `position: fixed` places against.
    let (x0, y0, vw, vh) = match window().visual_viewport() {
        Some(v) => (v.offset_left(), v.offset_top(), v.width(), v.height()),
        None => (
            0.0,
            0.0,
            window().inner_width().ok().and_then(|w| w.as_f64()).unwrap_or(1024.0),
            window().inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(768.0),
        ),
    };
    let (w, h) = (pop.offset_width() as f64, pop.offset_height() as f64);
    // Below the character, or above it where the screen ends; never past either side.
    let top = if at.bottom() + 6.0 + h > y0 + vh && at.top() - 6.0 - h >= y0 {
        at.top() - 6.0 - h
    } else {
        at.bottom() + 6.0
    };
    let left = at.left().min(x0 + vw - w - 4.0).max(x0 + 4.0);
    let _ = pop.style().set_property("left", &format!("{left}px"));
    let _ = pop.style().set_property("top", &format!("{top}px"));
}

thread_local! {
    /// Whether the popover shown was placed by the arrow keys (not by a pointer).
    static BY_KEYS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A popover floats where its character was: a scroll (of the page or of a panel) or a tap anywhere but on the
/// text hides it. A tap on a race's token shows what the golfer considered there (a pointer gets its tooltip).
pub(super) fn wire_popover() {
    // The arrow keys scroll their character into view themselves, and place the popover after.
    on_window_capture("scroll", |_| {
        if !BY_KEYS.with(|k| k.get()) {
            hide_popover();
        }
    });
    on_window_capture("pointerdown", |e| {
        let on_text = e
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|t| t.closest(".heatmap, .compact, .generated, .popover").ok().flatten())
            .is_some();
        if !on_text {
            hide_popover();
        }
    });
    on_id("lanes", "click", |e| {
        let token = e
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|t| t.closest(".generated [title]").ok().flatten());
        if let Some(token) = token {
            popover_by_pointer();
            show_popover(&token, &token.get_attribute("title").unwrap_or_default());
        }
    });
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
        let spans = panel.spans();
        let span = views::span_at(spans, cell.start).and_then(|k| spans.get(k));
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
        let Some(p) = s.panels.get(index) else { return };
        let at = s.highlighted.unwrap_or(0).min(p.cells.len().saturating_sub(1));
        match key.as_str() {
            "ArrowRight" => views::next_token_cell(&p.cells, p.spans(), at, true),
            "ArrowLeft" => views::next_token_cell(&p.cells, p.spans(), at, false),
            "Home" => Some(0),
            "End" => p.cells.len().checked_sub(1),
            _ => return,
        }
    };
    e.prevent_default();
    BY_KEYS.with(|k| k.set(true));
    if let Some(i) = next {
        let gid = state.borrow().panels[index].golf.id();
        if let Ok(Some(cell)) = document().query_selector(&format!("#heatmap-{gid} span[data-i=\"{i}\"]")) {
            cell.scroll_into_view_with_bool(false);
        }
        highlight(state, i, &gid);
    }
}

impl Panel {
    /// The spans of its last finished score (none before it has one).
    pub(super) fn spans(&self) -> &[Span] {
        self.result.as_ref().map_or(&[], |(_, r)| &r.spans[..])
    }
}
