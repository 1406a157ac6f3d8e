//! Scoring: every ticked golfer's worker scores the text at once; each panel fills in from its worker's events
//! (progress, spans, a time limit's cut, the totals), then the estimates line and the replay of a chain rule's
//! unmasking.

use super::*;

/// A score in flight, on the page's side: what its events add up to.
pub(super) struct Scoring {
    /// The run number its events carry (the panel's `run` when it was sent).
    run: u32,
    /// Shared by the panels that score it (a copy each of a 4 MB text was time on the page's thread).
    text: Rc<str>,
    estimator: Option<Estimator>,
    spans: Vec<Span>,
    t0: f64,
    /// Set when a chain rule was cut to what fits in the time limit.
    cut: Option<String>,
}

impl Scoring {
    /// The text it scores.
    pub(super) fn text(&self) -> &str {
        &self.text
    }
}

/// Scores the text with every ticked golfer (or only the one with id `only`): each in its own worker, all at
/// once. A newer score of a panel (or cancel) replaces this one's run of it.
pub(super) async fn score(state: Shared, only: Option<String>) {
    let text = by_id::<HtmlTextAreaElement>("text").value();
    if text.is_empty() {
        // Nothing replaces the last results, so they stay as they were (not dimmed as out of date).
        show_error("Nothing to score: the text is empty. Paste some text, pick a sample or drop a file.");
        return;
    }
    if text.len() > crate::share::MAX_TEXT_BYTES {
        // The same limit as a dropped file's; the last results stay as they were.
        show_error(&format!(
            "The text is {:.1} MB; the page scores texts up to {} MB (the golf CLI takes any length).",
            text.len() as f64 / 1e6,
            crate::share::MAX_TEXT_BYTES >> 20
        ));
        return;
    }
    let budget_s = state.borrow().chain_budget_s;
    let chosen: Vec<(usize, Rc<Remote>)> = state
        .borrow()
        .panels
        .iter()
        .enumerate()
        .filter(|(_, p)| only.as_ref().is_none_or(|id| *id == p.golf.id()) && score_ticked(&p.golf.id()))
        .map(|(i, p)| (i, p.golf.clone()))
        .collect();
    if chosen.is_empty() && only.is_none() {
        // Score said nothing when no golfer was ticked: say why nothing happens.
        let loaded = !state.borrow().panels.is_empty();
        show_error(if loaded {
            "Nothing to score with: tick at least one golfer to score (the boxes above Score)."
        } else {
            "No golfer has loaded yet: each one scores the text as soon as it is ready."
        });
        return;
    }
    reveal::hide();
    let text: Rc<str> = Rc::from(text);
    let mut requests: Vec<(Rc<Remote>, usize, Request)> = Vec::new();
    for (index, golf) in chosen {
        let gid = golf.id();
        let panel: Element = by_id(&format!("panel-{gid}"));
        for attr in
            ["data-scored", "data-cancelled", "data-progress", "data-cut-tokens", "data-replay", "data-worker-failed"]
        {
            let _ = panel.remove_attribute(attr);
        }
        // The numbers shown are the last text's until this score finishes.
        set_stale(&panel, true);
        by_id::<HtmlElement>(&format!("limit-{gid}")).set_hidden(true);
        set_text(&format!("status-{gid}"), "scoring…");
        scoreboard::says(&gid, "scoring…");
        let estimator = chosen_estimator(&golf);
        let options = ScoreOptions { popovers: true, estimator, ..ScoreOptions::default() };
        // A chain rule that would take longer than the budget is cut to the whole windows that fit.
        let limits = Limits { budget_s: Some(budget_s) };
        let run = {
            let mut s = state.borrow_mut();
            let p = &mut s.panels[index];
            p.run += 1;
            let scoring =
                Scoring { run: p.run, text: text.clone(), estimator, spans: Vec::new(), t0: now_ms(), cut: None };
            p.scoring = Some(scoring);
            p.run
        };
        requests.push((golf, index, Request::Score { run, text: text.to_string(), options, limits }));
    }
    // The panels say at once that they score; a long text goes to the workers in the next task (reading it from
    // the box and handing it over together took the page's thread 30 ms for 4 MB), unless cancelled meanwhile.
    if text.len() > SEND_LATER_BYTES {
        yield_now().await;
    }
    for (golf, index, request) in requests {
        let Request::Score { run, .. } = &request else { continue };
        let current = state.borrow().panels.get(index).and_then(|p| p.scoring.as_ref()).is_some_and(|s| s.run == *run);
        if current {
            golf.send(&request);
        }
    }
}

/// Texts longer than this go to the workers a task after Score marks the panels.
const SEND_LATER_BYTES: usize = 256 * 1024;

/// A score's event from golfer `id`'s worker.
pub(super) fn on_score_event(state: &Shared, id: &str, run: u32, event: GolfEvent) {
    let Some(index) = state.borrow().panels.iter().position(|p| p.golf.id() == id) else { return };
    let current = state.borrow().panels[index].scoring.as_ref().is_some_and(|s| s.run == run);
    if !current {
        return; // a run this panel replaced or cancelled
    }
    match event {
        GolfEvent::Progress { done, total, unit, .. } => {
            let pct = 100.0 * done as f64 / total.max(1) as f64;
            set_text(&format!("status-{id}"), &format!("scoring… {pct:.0}% ({done} of {total} {unit})"));
            if let Some(t0) = state.borrow().panels[index].scoring.as_ref().map(|s| s.t0) {
                scoreboard::says(id, &scoreboard::progress("scoring", t0, done as f64 / total.max(1) as f64));
            }
            set_attr(&format!("panel-{id}"), "data-progress", &done.to_string());
        }
        GolfEvent::Spans { spans, .. } => {
            if let Some(s) = state.borrow_mut().panels[index].scoring.as_mut() {
                s.spans.extend(spans);
            }
        }
        GolfEvent::Cut { cut, .. } => {
            let mut s = state.borrow_mut();
            let budget_s = s.chain_budget_s;
            let Some(scoring) = s.panels[index].scoring.as_mut() else { return };
            scoring.cut = Some(format!(
                "A chain rule makes one model call per token: the first {} of {} tokens ({} of {} bytes, whole \
                 windows of the model's context) fit in {budget_s:.0} s here, so that is what it scored. NELBO \
                 scores the whole text.",
                cut.kept_tokens,
                cut.all_tokens,
                cut.bytes,
                scoring.text.len()
            ));
            drop(s);
            set_attr(&format!("panel-{id}"), "data-cut-tokens", &cut.kept_tokens.to_string());
        }
        GolfEvent::Finished { outcome: Outcome::Scored(summary), .. } => {
            let Some(scoring) = state.borrow_mut().panels[index].scoring.take() else { return };
            let ms = now_ms() - scoring.t0;
            finish_panel(state, index, &summary, scoring.estimator, scoring.spans, &scoring.text, ms, scoring.cut);
        }
        GolfEvent::Error { error, .. } => {
            state.borrow_mut().panels[index].scoring = None;
            let label = state.borrow().panels[index].golf.label();
            show_error(&format!("{label}: {error}"));
            set_text(&format!("status-{id}"), &format!("not scored: {error}"));
            scoreboard::says(id, "not scored");
        }
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn finish_panel(
    state: &Shared,
    index: usize,
    summary: &ScoreSummary,
    estimator: Option<Estimator>,
    spans: Vec<Span>,
    text: &str,
    ms: f64,
    cut: Option<String>,
) {
    let Some(g) = state.borrow().panels.get(index).map(|p| p.golf.clone()) else { return };
    let gid = g.id();
    let t0 = now_ms();
    // What it scored: the text, or the prefix a time limit cut it to (at a character's end).
    let mut end = (summary.bytes as usize).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let scored = text.get(..end).unwrap_or_default();
    let golf_bpb = summary.report.as_ref().filter(|r| r.golf_count).map(|r| r.golf_bpb);
    let tokens = summary.report.as_ref().map(|r| r.tokens);
    // Only the characters the heatmap shows: a 4 MB text's millions of cells held the page for most of a second.
    let (cells, more) = views::shown_cells(scored, &spans, views::HEATMAP_MAX_CHARS);
    let cells = Rc::new(cells);
    let shown_bytes = cells.last().map_or(0, |c| c.end as usize);
    // Only the diffusion golfer's chain rules reveal tokens in an order (a look at a million spans took 9 ms).
    let replayable = g.diffusion && spans.iter().any(|s| s.token.as_ref().is_some_and(|t| t.revealed.is_some()));
    let hash = text_hash(text);
    let info = g.info();
    // The spans move into the result (kept once: the panel's views read them there), not copied.
    let result = Rc::new(crate::results::Scored {
        id: info.id,
        label: info.label,
        spans,
        bits: summary.bits,
        bytes: summary.bytes,
        text_bytes: text.len() as u64,
        tokens,
        ms,
        model_bytes: info.model_bytes,
    });
    let (scale, by_rank) = (state.borrow().scale, state.borrow().by_rank);
    render_heatmap(&gid, &cells, &result, scale, by_rank);
    show_truncation(&gid, views::truncation_note(more, shown_bytes, scored.len()));
    set_text(&format!("hover-{gid}"), "Hover a character to see its bits.");
    set_text(&format!("bpb-{gid}"), &format!("{:.4}", summary.bpb));
    scoreboard::scored(&gid, summary.bpb);
    set_attr(&format!("bpb-{gid}"), "data-bpb", &summary.bpb.to_string());
    if let Some(gb) = golf_bpb {
        set_text(&format!("golf-bpb-{gid}"), &format!("Parameter Golf count: {gb:.4}"));
        set_attr(&format!("golf-bpb-{gid}"), "data-bpb", &gb.to_string());
    }
    let in_tokens = tokens.map_or(String::new(), |t| format!(" in {t} tokens"));
    set_text(
        &format!("status-{gid}"),
        &format!("{:.0} bits for {} bytes{in_tokens} · scored in {ms:.0} ms", summary.bits, summary.bytes),
    );
    let limit: HtmlElement = by_id(&format!("limit-{gid}"));
    limit.set_hidden(cut.is_none());
    limit.set_text_content(cut.as_deref());
    set_attr(&format!("panel-{gid}"), "data-scored", "true");
    set_stale(&by_id::<Element>(&format!("panel-{gid}")), false);
    if let Ok(Some(button)) = document().query_selector(&format!("#replay-{gid}")) {
        let _ = button.toggle_attribute_with_force("disabled", !replayable);
    }
    let mut s = state.borrow_mut();
    let Some(panel) = s.panels.get_mut(index) else { return };
    panel.result = Some((hash, result));
    panel.cells = cells;
    panel.scored = cut.is_none().then_some((hash, summary.bpb));
    if let Some(estimator) = estimator {
        if panel.estimates.0 != hash {
            panel.estimates = (hash, Vec::new());
        }
        let part = cut.is_some().then(|| format!("first {} bytes", summary.bytes));
        let label = estimator_label(estimator);
        panel.estimates.1.retain(|(l, _, _)| *l != label);
        panel.estimates.1.push((label, summary.bpb, part));
    }
    drop(s);
    compact::render(state);
    render_estimates(state);
    // How long this task took (the heatmap is drawn in the tasks after it): the page's responsiveness budget.
    set_attr(&format!("panel-{gid}"), "data-render-ms", &format!("{:.0}", now_ms() - t0));
    schedule_results(state);
}

/// Redraws the table and charts in a task of their own, once for any number of panels finishing together.
pub(super) fn schedule_results(state: &Shared) {
    if std::mem::replace(&mut state.borrow_mut().results_pending, true) {
        return;
    }
    let s = state.clone();
    spawn_local(async move {
        yield_now().await;
        s.borrow_mut().results_pending = false;
        // The longest of its parts (each drawn in a task of its own).
        let longest = results::render(&s).await;
        set_attr("results", "data-render-ms", &format!("{longest:.0}"));
    });
}

/// The diffusion panels' line of estimates on the current text, next to the AR golfer's bpb on it.
pub(super) fn render_estimates(state: &Shared) {
    let s = state.borrow();
    let ar = s.panels.iter().find(|p| p.golf.id() == "ar").and_then(|p| p.scored);
    for p in s.panels.iter().filter(|p| p.golf.diffusion) {
        let (hash, list) = &p.estimates;
        let mut parts: Vec<String> = list
            .iter()
            .map(|(label, bpb, part)| match part {
                Some(part) => format!("{label}: {bpb:.4} ({part})"),
                None => format!("{label}: {bpb:.4}"),
            })
            .collect();
        if let Some((_, bpb)) = ar.filter(|(h, _)| h == hash) {
            parts.push(format!("the AR golfer: {bpb:.4}"));
        }
        let line = if parts.is_empty() {
            String::new()
        } else {
            format!("On this text, bits per byte: {}", parts.join(" · "))
        };
        set_text(&format!("estimates-{}", p.golf.id()), &line);
    }
}

/// Replays the order a chain rule revealed the text's tokens in: every character starts masked and the tokens
/// appear one batch per frame, over about five seconds.
pub(super) async fn replay_unmasking(state: Shared, index: usize) {
    let (gid, ticket, order, ranges, total) = {
        let mut s = state.borrow_mut();
        let Some(p) = s.panels.get_mut(index) else { return };
        p.run += 1;
        let spans = p.spans();
        let order = views::reveal_order(spans);
        let ranges: Vec<std::ops::Range<usize>> =
            order.iter().filter_map(|&i| Some(views::cells_of(&p.cells, spans.get(i)?))).collect();
        (p.golf.id(), p.run, order, ranges, p.cells.len().min(views::HEATMAP_MAX_CHARS))
    };
    if order.is_empty() {
        return;
    }
    // Every character's class changes each frame: only the blocks on screen are to be restyled.
    reveal::hide();
    let heatmap: Element = by_id(&format!("heatmap-{gid}"));
    // Its characters in order, whichever block holds them.
    let children = heatmap.get_elements_by_tag_name("span");
    let set_masked = |range: std::ops::Range<usize>, masked: bool| {
        for c in range.start.min(total)..range.end.min(total) {
            if let Some(e) = children.item(c as u32) {
                let _ = e.class_list().toggle_with_force("masked", masked);
            }
        }
    };
    set_masked(0..total, true);
    set_attr(&format!("panel-{gid}"), "data-replay", "running");
    let batch = views::replay_batch(order.len(), 300);
    for (n, chunk) in ranges.chunks(batch).enumerate() {
        if state.borrow().panels[index].run != ticket {
            set_masked(0..total, false);
            return;
        }
        for r in chunk {
            set_masked(r.clone(), false);
        }
        let shown = ((n + 1) * batch).min(order.len());
        set_text(&format!("hover-{gid}"), &format!("Replay: {shown} of {} tokens revealed", order.len()));
        sleep_ms(16).await;
    }
    set_masked(0..total, false);
    set_attr(&format!("panel-{gid}"), "data-replay", "done");
}
