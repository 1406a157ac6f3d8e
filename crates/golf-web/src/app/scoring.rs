//! Scoring: every ticked golfer in turn, one bounded step each, then its panel, the estimates line and the
//! replay of a chain rule's unmasking.

use super::*;

/// Scores the text with every golfer (or only the one with id `only`), one step each in turn, so all panels
/// fill in together. A newer score of a panel (or cancel) stops this one's run of it.
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
    struct Running {
        index: usize,
        golf: Rc<AnyGolfer>,
        ticket: u32,
        run: AnyScore,
        estimator: Option<Estimator>,
        spans: Vec<Span>,
        t0: f64,
        /// Seconds spent in this golfer's own steps (the time limit counts these, not the other golfers').
        spent: f64,
        /// Set when a chain rule was cut to what fits in the time limit.
        cut: Option<String>,
        /// The last step's time, which paces the next.
        last_ms: f64,
    }
    let mut runs: Vec<Option<Running>> = Vec::new();
    let chosen: Vec<(usize, Rc<AnyGolfer>)> = state
        .borrow()
        .panels
        .iter()
        .enumerate()
        .filter(|(_, p)| only.as_ref().is_none_or(|id| *id == p.golf.id()) && score_ticked(&p.golf.id()))
        .map(|(i, p)| (i, p.golf.clone()))
        .collect();
    for (index, golf) in chosen {
        let gid = golf.id();
        let ticket = {
            let mut s = state.borrow_mut();
            s.panels[index].run += 1;
            s.panels[index].run
        };
        let panel: Element = by_id(&format!("panel-{gid}"));
        for attr in ["data-scored", "data-cancelled", "data-progress", "data-cut-tokens", "data-replay"] {
            panel.remove_attribute(attr).unwrap();
        }
        // The numbers shown are the last text's until this score finishes.
        panel.class_list().add_1("stale").unwrap();
        by_id::<HtmlElement>(&format!("limit-{gid}")).set_hidden(true);
        let estimator = chosen_estimator(&golf);
        let options = ScoreOptions { popovers: true, estimator, ..ScoreOptions::default() };
        match golf.start_score(text.as_bytes(), &options) {
            Ok(run) => {
                set_text(&format!("status-{gid}"), "scoring…");
                let t0 = now_ms();
                let spans = Vec::new();
                runs.push(Some(Running {
                    index,
                    golf,
                    ticket,
                    run,
                    estimator,
                    spans,
                    t0,
                    spent: 0.0,
                    cut: None,
                    last_ms: 0.0,
                }));
            }
            Err(e) => {
                show_error(&format!("{}: {e}", golf.label()));
                set_text(&format!("status-{gid}"), &format!("not scored: {e}"));
            }
        }
        // Starting a run tokenizes the text: one golfer's start per task.
        yield_now().await;
    }
    while runs.iter().any(Option::is_some) {
        for slot in runs.iter_mut() {
            let Some(r) = slot.as_mut() else { continue };
            if state.borrow().panels[r.index].run != r.ticket {
                *slot = None;
                continue;
            }
            let gid = r.golf.id();
            r.golf.pace(&mut r.run, r.last_ms, STEP_TARGET_MS);
            let t = now_ms();
            let step = r.golf.score_step(&mut r.run).await;
            r.last_ms = now_ms() - t;
            r.spent += r.last_ms / 1e3;
            if state.borrow().panels[r.index].run != r.ticket {
                *slot = None;
                continue;
            }
            match step {
                Ok(step) => {
                    r.spans.extend(step.spans);
                    if step.finished {
                        let ms = now_ms() - r.t0;
                        let r = slot.take().expect("running");
                        finish_panel(&state, r.index, &r.golf, &r.run, r.estimator, r.spans, &text, ms, r.cut);
                        // Drawing a panel is a task of its own: the next golfer's step starts after a yield.
                        yield_now().await;
                        continue;
                    }
                    if let Some((kept, all)) = r.golf.fit_time(&mut r.run, r.spent, budget_s) {
                        let rate = step.progress.done as f64 / r.spent;
                        let bytes = r.golf.scored_bytes(&r.run).unwrap_or(text.len());
                        r.cut = Some(format!(
                            "A chain rule makes one model call per token: at {rate:.0} tokens/s here, the first \
                             {kept} of {all} tokens ({bytes} of {} bytes, whole windows of the model's context) fit \
                             in {budget_s:.0} s, so that is what it scored. NELBO scores the whole text.",
                            text.len()
                        ));
                        set_attr(&format!("panel-{gid}"), "data-cut-tokens", &kept.to_string());
                    }
                    let (done, total) = (step.progress.done, step.progress.total);
                    let pct = 100.0 * done as f64 / total.max(1) as f64;
                    let what = r.golf.progress_unit();
                    set_text(&format!("status-{gid}"), &format!("scoring… {pct:.0}% ({done} of {total} {what})"));
                    set_attr(&format!("panel-{gid}"), "data-progress", &done.to_string());
                }
                Err(e) => {
                    show_error(&format!("{}: {e}", r.golf.label()));
                    set_text(&format!("status-{gid}"), "failed");
                    *slot = None;
                }
            }
        }
        yield_now().await;
    }
}

/// The numbers a panel shows after scoring.
pub(super) struct Totals {
    pub bpb: f64,
    pub bits: f64,
    /// Bytes scored: the whole text, or the prefix a time-limited chain rule reached.
    pub bytes: u64,
    /// Parameter Golf's bits per byte, for neural golfers with a SentencePiece tokenizer.
    pub golf_bpb: Option<f64>,
    pub tokens: Option<usize>,
}

impl Totals {
    fn of(report: Option<golf_core::TokenReport>, spans: &[Span], bytes: u64) -> Totals {
        let s = golf_core::Summary::of(spans, bytes);
        Totals {
            bpb: s.bpb,
            bits: s.bits,
            bytes,
            golf_bpb: report.as_ref().filter(|r| r.golf_count).map(|r| r.golf_bpb),
            tokens: report.map(|r| r.tokens),
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn finish_panel(
    state: &Shared,
    index: usize,
    g: &AnyGolfer,
    run: &AnyScore,
    estimator: Option<Estimator>,
    spans: Vec<Span>,
    text: &str,
    ms: f64,
    cut: Option<String>,
) {
    let gid = g.id();
    let t0 = now_ms();
    let scored = &text[..g.scored_bytes(run).unwrap_or(text.len())];
    let totals = Totals::of(g.report(run), &spans, scored.len() as u64);
    let cells = views::cells(scored, &per_byte_bits(&spans, scored.len()));
    let (scale, by_rank) = (state.borrow().scale, state.borrow().by_rank);
    render_heatmap(&gid, &cells, &spans, scale, by_rank);
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
    let limit: HtmlElement = by_id(&format!("limit-{gid}"));
    limit.set_hidden(cut.is_none());
    limit.set_text_content(cut.as_deref());
    set_attr(&format!("panel-{gid}"), "data-scored", "true");
    by_id::<Element>(&format!("panel-{gid}")).class_list().remove_1("stale").unwrap();
    let order = views::reveal_order(&spans);
    if let Ok(Some(button)) = document().query_selector(&format!("#replay-{gid}")) {
        button.toggle_attribute_with_force("disabled", order.is_empty()).unwrap();
    }
    let hash = text_hash(text);
    let info = g.info();
    let scored_result = crate::results::Scored {
        id: info.id,
        label: info.label,
        spans: spans.clone(),
        bits: totals.bits,
        bytes: totals.bytes,
        text_bytes: text.len() as u64,
        tokens: totals.tokens,
        ms,
        model_bytes: info.model_bytes,
    };
    let mut s = state.borrow_mut();
    let panel = &mut s.panels[index];
    panel.result = Some((hash, scored_result));
    panel.spans = spans;
    panel.cells = cells;
    panel.scored = cut.is_none().then_some((hash, totals.bpb));
    if let Some(estimator) = estimator {
        if panel.estimates.0 != hash {
            panel.estimates = (hash, Vec::new());
        }
        let part = cut.is_some().then(|| format!("first {} bytes", totals.bytes));
        let label = estimator_label(estimator);
        panel.estimates.1.retain(|(l, _, _)| *l != label);
        panel.estimates.1.push((label, totals.bpb, part));
    }
    drop(s);
    compact::render(state);
    render_estimates(state);
    // How long drawing the panel took: the page's responsiveness budget.
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
        let t0 = now_ms();
        results::render(&s);
        set_attr("results", "data-render-ms", &format!("{:.0}", now_ms() - t0));
    });
}

/// The diffusion panels' line of estimates on the current text, next to the AR golfer's bpb on it.
pub(super) fn render_estimates(state: &Shared) {
    let s = state.borrow();
    let ar =
        s.panels.iter().find(|p| matches!(*p.golf, AnyGolfer::Ar(_)) && p.golf.id() == "ar").and_then(|p| p.scored);
    for p in s.panels.iter().filter(|p| matches!(*p.golf, AnyGolfer::Mdlm(_))) {
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
        let p = &mut s.panels[index];
        p.run += 1;
        let order = views::reveal_order(&p.spans);
        let ranges: Vec<std::ops::Range<usize>> =
            order.iter().map(|&i| views::cells_of(&p.cells, &p.spans[i])).collect();
        (p.golf.id(), p.run, order, ranges, p.cells.len().min(views::HEATMAP_MAX_CHARS))
    };
    if order.is_empty() {
        return;
    }
    let heatmap: Element = by_id(&format!("heatmap-{gid}"));
    let children = heatmap.children();
    let set_masked = |range: std::ops::Range<usize>, masked: bool| {
        for c in range.start.min(total)..range.end.min(total) {
            if let Some(e) = children.item(c as u32) {
                e.class_list().toggle_with_force("masked", masked).unwrap();
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
