//! What a link opens the page with: a share link's fragment (its text and view) and the URL's parameters. Anyone
//! can craft either, so both are read as a stranger's input (`crate::share`, `crate::params`): what the page does
//! not take as given is said in one message, and a long text waits for the visitor before any golfer scores it.

use super::*;

/// The URL's parameters that the rest of the set-up needs, read and bounded.
pub(super) struct Opening {
    /// `?threads=`: ONNX Runtime Web's threads per golfer, at most the machine's cores (None: the page chooses).
    pub threads: Option<u32>,
    /// `?golfers=`: only these of the site's neural golfers (None: all of them).
    pub golfers: Option<Vec<String>>,
    /// `?bench=`: the golfer to measure.
    pub bench: Option<String>,
}

/// Reads the page's link: applies a share link's text and settings and the URL's parameters to `state` and the
/// controls, and shows one message for everything it did not take as given.
pub(super) fn open(state: &Shared) -> Opening {
    let mut notes: Vec<String> = Vec::new();
    state.borrow_mut().scale = crate::share::SCALE_DEFAULT;
    let fragment = window().location().hash().unwrap_or_default();
    if let Some(f) = fragment.strip_prefix('#').filter(|f| !f.is_empty()) {
        match crate::share::decode(f) {
            Ok(opened) => {
                notes.extend(opened.notice());
                let ask = opened.asks_before_scoring();
                apply_shared(state, opened.view);
                if ask {
                    hold_for_visitor(state);
                }
            }
            Err(e) => {
                if let crate::share::LinkError::Damaged { detail } = &e {
                    web_sys::console::warn_1(&format!("share link: {detail}").into());
                }
                notes.push(e.to_string());
            }
        }
    }
    let search = web_sys::UrlSearchParams::new_with_str(&window().location().search().unwrap_or_default()).ok();
    let param = |name: &str| search.as_ref().and_then(|p| p.get(name));
    let mut take = |note: Option<String>| notes.extend(note);
    state.borrow_mut().chain_budget_s = match param("chain_s") {
        Some(s) => {
            let taken = crate::params::chain_budget(&s);
            take(taken.note);
            taken.value
        }
        None => crate::params::CHAIN_BUDGET_S,
    };
    // `?ep=auto|webgpu|cpu`: where the ONNX golfers run.
    if let Some(ep) = param("ep") {
        match Device::parse(&ep) {
            Some(device) => state.borrow_mut().device = device,
            None => take(Some(format!(
                "This link's ?ep={} is not a device (auto, webgpu or cpu); the golfers run on Auto.",
                ep.chars().take(24).collect::<String>()
            ))),
        }
    }
    let threads = param("threads").and_then(|t| {
        let taken = crate::params::threads(&t, window().navigator().hardware_concurrency(), cross_origin_isolated());
        take(taken.note);
        taken.value
    });
    let golfers = param("golfers").map(|g| {
        let taken = crate::params::golfers(&g);
        take(taken.note);
        taken.value
    });
    let bench = param("bench").and_then(|b| crate::params::bench(&b).map_err(|e| take(Some(e))).ok());
    if !notes.is_empty() {
        show_error(&notes.join(" "));
    }
    Opening { threads, golfers, bench }
}

/// A shared view: the text, the colour scale, the diffusion golfer's estimator and the difference's golfers (the
/// decoder took only values the controls can show).
fn apply_shared(state: &Shared, view: crate::share::View) {
    by_id::<HtmlTextAreaElement>("text").set_value(&view.text);
    state.borrow_mut().scale = view.scale;
    state.borrow_mut().by_rank = view.by_rank;
    state.borrow_mut().wanted_local = view.local;
    by_id::<HtmlSelectElement>("colour-by").set_value(if view.by_rank { "rank" } else { "bits" });
    let scale: HtmlInputElement = by_id("scale");
    scale.set_value(&view.scale.to_string());
    set_text("scale-value", &view.scale.to_string());
    let app: Element = by_id("app");
    let _ = app.set_attribute("data-estimator", &view.estimator);
    let _ = app.set_attribute("data-nelbo-k", &view.nelbo_k.to_string());
    if let Some((a, b)) = view.diff {
        let _ = by_id::<Element>("diff-a").set_attribute("data-want", &a);
        let _ = by_id::<Element>("diff-b").set_attribute("data-want", &b);
    }
}

/// A link's long text is shown, not scored: a line under the text box says so, with a button that scores it.
/// The golfers still load; each panel says it waits.
fn hold_for_visitor(state: &Shared) {
    let text = by_id::<HtmlTextAreaElement>("text").value();
    state.borrow_mut().held = true;
    let row = el("div", "controls", "link-ask");
    let _ = row.set_attribute("role", "status");
    let note = el("span", "note", "");
    note.set_text_content(Some(&format!(
        "This link's text is long ({}), so it is shown but not scored yet: scoring it keeps every golfer busy for \
         minutes or more on this machine. Score it when you are ready, or edit it first.",
        size(text.len())
    )));
    let button = el("button", "", "link-ask-score");
    let _ = button.set_attribute("type", "button");
    button.set_text_content(Some("Score this text"));
    let _ = row.append_child(&note);
    let _ = row.append_child(&button);
    let _ = by_id::<Element>("text").after_with_node_1(&row);
    let s = state.clone();
    on(&button, "click", move |_| {
        release(&s);
        spawn_local(score(s.clone(), None));
    });
}

fn size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1 << 20) as f64),
        b => format!("{} KB", b >> 10),
    }
}

/// The visitor scores the text (the line's button, or Score): nothing waits any more.
pub(super) fn release(state: &Shared) {
    if !std::mem::take(&mut state.borrow_mut().held) {
        return;
    }
    if let Some(row) = document().get_element_by_id("link-ask") {
        row.remove();
    }
    for p in state.borrow().panels.iter() {
        if let Some(panel) = document().get_element_by_id(&format!("panel-{}", p.golf.id())) {
            let _ = panel.remove_attribute("data-held");
        }
    }
}

/// Scores as a golfer arrives (or moves) without the visitor asking, unless a link's long text came and no score
/// was asked for since: while the box holds a long text then, the panel says it waits (`data-held`). (A text
/// edited short scores as usual.)
pub(super) async fn auto_score(state: Shared, only: Option<String>) {
    let held = state.borrow().held;
    let long = || by_id::<HtmlTextAreaElement>("text").value().len() > crate::share::ASK_BEFORE_SCORING_BYTES;
    if !(held && long()) {
        return score(state, only).await;
    }
    let ids: Vec<String> =
        state.borrow().panels.iter().map(|p| p.golf.id()).filter(|id| only.as_ref().is_none_or(|o| o == id)).collect();
    for id in ids {
        if document().get_element_by_id(&format!("status-{id}")).is_some() {
            set_text(&format!("status-{id}"), "not scored yet: the link's text is long (Score this text, above)");
            set_attr(&format!("panel-{id}"), "data-held", "true");
        }
    }
}
