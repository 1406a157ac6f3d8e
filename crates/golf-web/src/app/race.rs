//! The generation race: one prompt, every ticked golfer writing at once, each in its own worker and so at its
//! own speed; each lane streams its text with its speed over wall-clock time, time to first token, elapsed time
//! and token count.

use std::collections::HashMap;
use std::rc::Rc;

use golf_core::{GenerateSettings, SamplerSettings, TokenInfo};
use golf_engine::wire::Request;
use golf_engine::{Course, Event};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlInputElement};

use super::dom::*;
use super::remote::Remote;
use super::reveal;
use super::Shared;
use crate::results::LaneClock;
use crate::views;

struct Lane {
    golf: Rc<Remote>,
    out: Element,
    canvas: Element,
    stats: Element,
    lane: Element,
    clock: LaneClock,
    /// When the lane's last event came: its next step ran from then.
    last_ms: f64,
    committed: Vec<bool>,
    /// The popovers of a diffusion canvas's committed slots.
    slots: HashMap<usize, TokenInfo>,
    masked_history: Vec<usize>,
    done: bool,
}

/// The race in progress: its run number (its lanes' events carry it) and its lanes.
pub(super) struct Race {
    run: u32,
    lanes: Vec<Lane>,
}

/// A number from one of the race's boxes, within the box's own min and max; the message names the setting.
fn number(id: &str, what: &str) -> Result<f64, String> {
    let input = by_id::<HtmlInputElement>(id);
    let value = input.value();
    let n: f64 = value.trim().parse().map_err(|_| format!("{what}: “{value}” is not a number."))?;
    let bound = |b: String| b.parse::<f64>().ok();
    match (bound(input.min()), bound(input.max())) {
        (Some(lo), Some(hi)) if !(lo..=hi).contains(&n) => Err(format!("{what} must be from {lo} to {hi}, not {n}.")),
        (Some(lo), None) if n < lo => Err(format!("{what} must be at least {lo}, not {n}.")),
        _ if !n.is_finite() => Err(format!("{what}: “{value}” is not a number.")),
        _ => Ok(n),
    }
}

/// A whole number from one of the race's boxes.
fn count(id: &str, what: &str) -> Result<u64, String> {
    let n = number(id, what)?;
    if n.fract() != 0.0 || n < 0.0 {
        return Err(format!("{what} must be a whole number, not {n}."));
    }
    Ok(n as u64)
}

/// The race's settings, read once when it starts and checked as the CLI checks them.
fn settings(chat: bool) -> Result<GenerateSettings, String> {
    let settings = GenerateSettings {
        sampler: SamplerSettings {
            temperature: number("temperature", "Temperature")? as f32,
            top_p: number("top-p", "Top-p")? as f32,
            repetition_penalty: number("repetition-penalty", "Repetition penalty")? as f32,
            seed: count("seed", "Seed")?,
            ..SamplerSettings::default()
        },
        max_bytes: count("max-bytes", "Max bytes")? as usize,
        // Every golfer writes at most this many tokens (gzip: pieces; the diffusion golfer: masked slots).
        max_steps: count("max-tokens", "Max tokens")? as usize,
        chat,
        diffusion_steps: count("diffusion-steps", "Diffusion steps")? as usize,
        force_leftmost: by_id::<HtmlInputElement>("leftmost").checked(),
    };
    settings.validate().map_err(|e| format!("Cannot race: {e}."))?;
    Ok(settings)
}

/// Starts a race among the ticked golfers; a newer race or Stop ends it.
pub async fn race(state: Shared) {
    stop(&state);
    reveal::hide();
    let run = {
        let mut s = state.borrow_mut();
        s.gen_run += 1;
        s.gen_run
    };
    show_error("");
    let prompt = by_id::<HtmlInputElement>("prompt").value();
    let chat = by_id::<HtmlInputElement>("chat").checked();
    let golfs: Vec<Rc<Remote>> = state
        .borrow()
        .panels
        .iter()
        .map(|p| p.golf.clone())
        .filter(|g| {
            document()
                .get_element_by_id(&format!("race-{}", g.id()))
                .is_some_and(|e| e.unchecked_ref::<HtmlInputElement>().checked())
        })
        .collect();
    let lanes_el: Element = by_id("lanes");
    lanes_el.set_text_content(None);
    let _ = lanes_el.remove_attribute("data-done");
    if golfs.is_empty() {
        return show_error("Tick at least one golfer to race.");
    }
    if prompt.is_empty() {
        return show_error("Cannot race: the prompt is empty: give a few words to continue.");
    }
    let settings = match settings(chat) {
        Ok(s) => s,
        Err(e) => return show_error(&e),
    };
    let mut lanes: Vec<Lane> = Vec::new();
    for golf in golfs {
        let gid = golf.id();
        let lane = el("article", "lane", &format!("lane-{gid}"));
        let head = el("header", "lane-head", "");
        let title = el("h3", "", "");
        title.set_text_content(Some(&golf.label()));
        let stats = el("span", "status", &format!("lane-stats-{gid}"));
        let _ = head.append_child(&title);
        let _ = head.append_child(&stats);
        let out = el("div", "generated", &format!("lane-out-{gid}"));
        let _ = lane.append_child(&head);
        let _ = lane.append_child(&out);
        let _ = lanes_el.append_child(&lane);
        // A golfer without a chat template continues the prompt as plain text.
        let note = (chat && !golf.chat).then_some("no chat template: plain continuation");
        let settings = GenerateSettings { chat: chat && golf.chat, ..settings.clone() };
        let prompt_el = el("span", "prompt", "");
        // In chat mode the answer starts on its own line, after the question.
        prompt_el.set_text_content(Some(&if settings.chat { format!("{prompt}\n") } else { prompt.clone() }));
        if let Some(n) = note {
            let _ = prompt_el.set_attribute("title", n);
        }
        let _ = out.append_child(&prompt_el);
        let canvas = el("span", "canvas", "");
        let _ = out.append_child(&canvas);
        golf.send(&Request::Generate { run, prompt: prompt.clone(), settings });
        let now = now_ms();
        lanes.push(Lane {
            golf,
            out,
            canvas,
            stats,
            lane,
            clock: LaneClock::new(now),
            last_ms: now,
            committed: Vec::new(),
            slots: HashMap::new(),
            masked_history: Vec::new(),
            done: false,
        });
    }
    set_text("gen-status", "racing…");
    state.borrow_mut().race = Some(Race { run, lanes });
}

/// Stops the race in progress: every lane's worker drops its generation.
pub(super) fn stop(state: &Shared) {
    let Some(race) = state.borrow_mut().race.take() else { return };
    for lane in race.lanes.iter().filter(|l| !l.done) {
        lane.golf.send(&Request::Cancel { course: Course::Generate });
    }
}

/// A generation event from golfer `id`'s worker.
pub(super) fn on_race_event(state: &Shared, id: &str, run: u32, event: Event) {
    let mut s = state.borrow_mut();
    let Some(race) = s.race.as_mut().filter(|r| r.run == run) else { return };
    let Some(lane) = race.lanes.iter_mut().find(|l| l.golf.id() == id && !l.done) else { return };
    let now = now_ms();
    let mut new_tokens = 0;
    match event {
        Event::Token { text, token, .. } => {
            if !text.is_empty() {
                let piece = el("span", "", "");
                piece.set_text_content(Some(&text));
                if let Some(t) = &token {
                    let _ = piece.set_attribute("title", &views::token_title(t));
                }
                let _ = lane.canvas.append_child(&piece);
                new_tokens += 1;
            }
        }
        Event::Canvas { canvas, committed, .. } => {
            lane.slots.extend(committed);
            let before = lane.committed.iter().filter(|&&c| c).count();
            render_canvas(&lane.canvas, &canvas, &lane.slots, &mut lane.committed);
            new_tokens = lane.committed.iter().filter(|&&c| c).count() - before;
            lane.masked_history.push(canvas.iter().filter(|s| s.is_none()).count());
            let history: Vec<String> = lane.masked_history.iter().map(|m| m.to_string()).collect();
            let _ = lane.out.set_attribute("data-masked-history", &history.join(","));
        }
        Event::Finished { .. } => {
            lane.done = true;
            let _ = lane.lane.set_attribute("data-done", "true");
            let _ = lane.out.set_attribute("data-done", "true");
        }
        Event::Error { error, .. } => {
            lane.done = true;
            lane.stats.set_text_content(Some(&format!("stopped: {error}")));
            let _ = lane.lane.set_attribute("data-error", &error.to_string());
        }
        _ => return,
    }
    lane.clock.step(lane.last_ms, now, new_tokens);
    lane.last_ms = now;
    if !lane.lane.has_attribute("data-error") {
        lane.stats.set_text_content(Some(&lane.clock.line(now)));
    }
    let own = format!("{:.1} tokens/s of its own compute time, in its own worker", lane.clock.own_tokens_per_s());
    let _ = lane.stats.set_attribute("title", &own);
    for (name, value) in lane.clock.attributes(now) {
        let _ = lane.lane.set_attribute(name, &value);
    }
    if race.lanes.iter().all(|l| l.done) {
        let _ = by_id::<Element>("lanes").set_attribute("data-done", "true");
        set_text("gen-status", "done");
        s.race = None;
    }
}

/// A lane whose worker stopped says so; the race goes on without it.
pub(super) fn lane_failed(state: &Shared, id: &str, why: &str) {
    let mut s = state.borrow_mut();
    let Some(race) = s.race.as_mut() else { return };
    if let Some(lane) = race.lanes.iter_mut().find(|l| l.golf.id() == id && !l.done) {
        lane.done = true;
        lane.stats.set_text_content(Some(&format!("stopped: {why}")));
        let _ = lane.lane.set_attribute("data-error", why);
    }
    if race.lanes.iter().all(|l| l.done) {
        let _ = by_id::<Element>("lanes").set_attribute("data-done", "true");
        set_text("gen-status", "done");
        s.race = None;
    }
}

/// Race toggles: one checkbox per golfer, ticked.
pub fn add_toggle(golf: &Remote) {
    let label = el("label", "toggle", "");
    let input = el("input", "", &format!("race-{}", golf.id()));
    let _ = input.set_attribute("type", "checkbox");
    let _ = input.set_attribute("checked", "");
    let _ = label.append_child(&input);
    let _ = label.append_child(&document().create_text_node(" "));
    append_name(&label, &golf.label());
    let _ = by_id::<HtmlElement>("race-golfers").append_child(&label);
}

/// A diffusion canvas: committed tokens as text (the ones new in this step marked, each with its popover from
/// the step that committed it) and the slots still masked as placeholders.
pub(super) fn render_canvas(
    target: &Element,
    canvas: &[Option<String>],
    slots: &HashMap<usize, TokenInfo>,
    committed: &mut Vec<bool>,
) {
    committed.resize(canvas.len(), false);
    target.set_text_content(None);
    let frag = document().create_document_fragment();
    for (i, slot) in canvas.iter().enumerate() {
        let e = match slot {
            Some(text) => {
                let e = el("span", if committed[i] { "" } else { "fresh" }, "");
                e.set_text_content(Some(text));
                if let Some(info) = slots.get(&i) {
                    let _ = e.set_attribute("title", &views::token_title(info));
                }
                committed[i] = true;
                e
            }
            None => {
                let e = el("span", "mask-slot", "");
                e.set_text_content(Some("\u{2591}"));
                let _ = e.set_attribute("aria-label", "masked");
                e
            }
        };
        let _ = frag.append_child(&e);
    }
    let _ = target.append_child(&frag);
}
