//! Full-page captures: off screen, the heatmaps' blocks and the race are not rendered (`content-visibility: auto`,
//! which keeps a long text's edits and scrolls cheap), so a full-page screenshot showed every panel but the first
//! as an empty box. Once nothing is at work (no golfer loading or scoring, every drawing done, no race or replay),
//! the page renders them all, a frame's share at a time, and says so (`data-revealed` on `#app`); any new work
//! takes them back to `auto` first, so that it costs what it did. Printing needs none of this (style.css, `@media
//! print`).

use super::*;

/// Elements of the views from which their blocks stay as they are: rendered whole, a long text's views would make
/// a window resize lay out every one of them (the default text's four heatmaps and difference map are about
/// 19,000, an element per character).
const REVEAL_MAX_ELEMENTS: u32 = 32 * 1024;

/// How often the page looks again whether its work is done, while it is not.
const LOOK_EVERY_MS: i32 = 250;

thread_local! {
    static STATE: RefCell<std::rc::Weak<RefCell<State>>> = RefCell::default();
    /// Bumped by [`hide`]: a reveal under way that sees a newer number stops.
    static ROUND: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// A look for the end of the work is under way.
    static LOOKING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The elements rendered whole.
    static SHOWN: RefCell<Vec<Element>> = RefCell::default();
}

/// Watches the page's work from now on: once it is done, what is off screen is rendered.
pub(super) fn watch(state: &Shared) {
    STATE.with(|s| *s.borrow_mut() = Rc::downgrade(state));
    look_again();
}

/// New work begins (a drawing, a score, a race, a replay, the other view): what was rendered whole goes back to
/// `auto`, and it is rendered again when the work is done.
pub(super) fn hide() {
    ROUND.with(|r| r.set(r.get().wrapping_add(1)));
    let shown = SHOWN.with(|s| std::mem::take(&mut *s.borrow_mut()));
    if !shown.is_empty() {
        for e in shown {
            let _ = e.class_list().remove_1("shown");
        }
        if let Some(app) = document().get_element_by_id("app") {
            let _ = app.remove_attribute("data-revealed");
        }
    }
    look_again();
}

/// Looks every [`LOOK_EVERY_MS`] until the page's work is done, then reveals (one look at a time).
fn look_again() {
    if LOOKING.with(|l| l.replace(true)) {
        return;
    }
    spawn_local(async {
        let round = loop {
            sleep_ms(LOOK_EVERY_MS).await;
            let Some(state) = STATE.with(|s| s.borrow().upgrade()) else {
                LOOKING.with(|l| l.set(false));
                return;
            };
            if !at_work(&state) {
                break ROUND.with(|r| r.get());
            }
        };
        LOOKING.with(|l| l.set(false));
        reveal(round).await;
    });
}

/// Whether a golfer is loading or scoring, a drawing is under way, or a race or a replay runs.
fn at_work(state: &Shared) -> bool {
    let s = state.borrow();
    if s.race.is_some() || s.panels.iter().any(|p| p.scoring.is_some()) {
        return true;
    }
    let doc = document();
    let attr_is = |id: &str, name: &str, value: &str| {
        doc.get_element_by_id(id).and_then(|e| e.get_attribute(name)).as_deref() == Some(value)
    };
    if s.panels.iter().any(|p| attr_is(&format!("panel-{}", p.golf.id()), "data-replay", "running")) {
        return true;
    }
    drop(s);
    if attr_is("import-status", "data-state", "working") {
        return true;
    }
    // A golfer still downloading or starting (not one that waits for the visitor's answer).
    let loading = doc
        .get_element_by_id("downloads")
        .and_then(|d| d.query_selector(".download:not([data-done]):not([data-error]):not([data-asking])").ok())
        .flatten()
        .is_some();
    loading || views_of_text().iter().any(|v| v.child_element_count() > 0 && !v.has_attribute("data-drawn"))
}

/// The elements that hold a text in blocks: the heatmaps (reserved places too), the difference map, the compact
/// view's text.
fn views_of_text() -> Vec<Element> {
    let doc = document();
    let heatmaps = doc.get_elements_by_class_name("heatmap");
    let mut views: Vec<Element> = (0..heatmaps.length()).filter_map(|i| heatmaps.item(i)).collect();
    views.extend(doc.get_element_by_id("compact-text"));
    views
}

/// Renders, a frame's share at a time, every block of the views shown and the race, unless newer work began
/// (round `round` is no longer the latest); then `data-revealed` on `#app`.
async fn reveal(round: u32) {
    let latest = || ROUND.with(|r| r.get()) == round;
    // Only views the page shows (the panels' heatmaps are hidden while the compact view is), and only a text
    // short enough.
    let views: Vec<Element> =
        views_of_text().into_iter().filter(|v| v.get_bounding_client_rect().width() > 0.0).collect();
    let blocks: Vec<Element> = views
        .iter()
        .flat_map(|v| {
            let kids = v.children();
            (0..kids.length()).filter_map(move |i| kids.item(i))
        })
        .filter(|b| b.class_list().contains("hb"))
        .collect();
    // What laying a block out costs goes with its elements (a heatmap's: one a character; the compact view's: one
    // a character and one a golfer's bar).
    let elements = |e: &Element| e.get_elements_by_tag_name("*").length();
    // Counted only up to the limit: a long text's views hold hundreds of thousands.
    let mut counted: u32 = 0;
    for b in &blocks {
        counted = counted.saturating_add(elements(b));
        if counted > REVEAL_MAX_ELEMENTS {
            return;
        }
    }
    let race = document().query_selector(".course.race").ok().flatten();
    for e in blocks.into_iter().chain(race) {
        // Laid out and painted whole in the frame it is shown in, as a drawn block swapped in is.
        swap_turn(elements(&e) as usize).await;
        if !latest() {
            return;
        }
        let _ = e.class_list().add_1("shown");
        SHOWN.with(|s| s.borrow_mut().push(e));
    }
    after_frame().await;
    if latest() {
        set_attr("app", "data-revealed", "true");
    }
}
