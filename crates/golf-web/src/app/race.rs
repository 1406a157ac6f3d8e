//! The generation race: one prompt, every ticked golfer writing at once, each at its own speed (the next step
//! goes to the lane that has had the least time), each lane streaming its text with its speed over wall-clock
//! time, time to first token, elapsed time and token count.

use std::rc::Rc;

use golf_core::{GenerateSettings, GolfError, Golfer, SamplerSettings};
use golf_engine::{AnyGeneration, AnyGolfer};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlInputElement};

use super::dom::*;
use super::Shared;
use crate::results::{next_lane, LaneClock};
use crate::views;

/// Work between two returns of the thread to the page (one frame at 60 Hz).
const FRAME_MS: f64 = 16.0;

struct Lane {
    golf: Rc<AnyGolfer>,
    run: AnyGeneration,
    out: Element,
    canvas: Element,
    stats: Element,
    lane: Element,
    clock: LaneClock,
    committed: Vec<bool>,
    masked_history: Vec<usize>,
    done: bool,
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
    let id = {
        let mut s = state.borrow_mut();
        s.gen_run += 1;
        s.gen_run
    };
    show_error("");
    let prompt = by_id::<HtmlInputElement>("prompt").value();
    let chat = by_id::<HtmlInputElement>("chat").checked();
    let golfs: Vec<Rc<AnyGolfer>> = state
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
    lanes_el.remove_attribute("data-done").unwrap();
    if golfs.is_empty() {
        return show_error("Tick at least one golfer to race.");
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
        title.set_text_content(Some(&golf.info().label));
        let stats = el("span", "status", &format!("lane-stats-{gid}"));
        head.append_child(&title).unwrap();
        head.append_child(&stats).unwrap();
        let out = el("div", "generated", &format!("lane-out-{gid}"));
        lane.append_child(&head).unwrap();
        lane.append_child(&out).unwrap();
        lanes_el.append_child(&lane).unwrap();
        // A golfer without a chat template continues the prompt as plain text.
        let (run, note) = match golf.start_generate(&prompt, &settings) {
            Err(GolfError::NoChat { .. }) => (
                golf.start_generate(&prompt, &GenerateSettings { chat: false, ..settings.clone() }),
                Some("no chat template: plain continuation"),
            ),
            r => (r, None),
        };
        let run = match run {
            Ok(run) => run,
            Err(e) => {
                stats.set_text_content(Some(&format!("cannot start: {e}")));
                lane.set_attribute("data-error", &e.to_string()).unwrap();
                continue;
            }
        };
        let prompt_el = el("span", "prompt", "");
        let chatting = chat && note.is_none();
        // In chat mode the answer starts on its own line, after the question.
        prompt_el.set_text_content(Some(&if chatting { format!("{prompt}\n") } else { prompt.clone() }));
        if let Some(n) = note {
            prompt_el.set_attribute("title", n).unwrap();
        }
        out.append_child(&prompt_el).unwrap();
        let canvas = el("span", "canvas", "");
        out.append_child(&canvas).unwrap();
        lanes.push(Lane {
            golf,
            run,
            out,
            canvas,
            stats,
            lane,
            clock: LaneClock::new(now_ms()),
            committed: Vec::new(),
            masked_history: Vec::new(),
            done: false,
        });
    }
    set_text("gen-status", "racing…");
    // Each step goes to the lane that has had the least time (`next_lane`): every lane moves at its own speed.
    // The page gets the thread back between steps once a frame's worth of work has run.
    let mut since_yield = now_ms();
    while let Some(i) = next_lane(lanes.iter().map(|l| (&l.clock, l.done))) {
        if state.borrow().gen_run != id {
            return;
        }
        let lane = &mut lanes[i];
        let t = now_ms();
        let step = match lane.golf.generate_step(&mut lane.run).await {
            Ok(step) => step,
            Err(e) => {
                lane.done = true;
                lane.stats.set_text_content(Some(&format!("stopped: {e}")));
                lane.lane.set_attribute("data-error", &e.to_string()).unwrap();
                continue;
            }
        };
        let now = now_ms();
        let mut new_tokens = 0;
        if let Some(canvas) = &step.canvas {
            let before = lane.committed.iter().filter(|&&c| c).count();
            render_canvas(&lane.canvas, canvas, &lane.golf, &lane.run, &mut lane.committed);
            new_tokens = lane.committed.iter().filter(|&&c| c).count() - before;
            lane.masked_history.push(canvas.iter().filter(|s| s.is_none()).count());
            let history: Vec<String> = lane.masked_history.iter().map(|m| m.to_string()).collect();
            lane.out.set_attribute("data-masked-history", &history.join(",")).unwrap();
        }
        if !step.text.is_empty() {
            let piece = el("span", "", "");
            piece.set_text_content(Some(&step.text));
            if let Some(t) = &step.token {
                piece.set_attribute("title", &views::token_title(t)).unwrap();
            }
            lane.canvas.append_child(&piece).unwrap();
            new_tokens += 1;
        }
        lane.clock.step(t, now, new_tokens);
        lane.stats.set_text_content(Some(&lane.clock.line(now)));
        let own = format!(
            "{:.1} tokens/s of its own compute time; the lanes share this page's thread",
            lane.clock.own_tokens_per_s()
        );
        let _ = lane.stats.set_attribute("title", &own);
        for (name, value) in lane.clock.attributes(now) {
            lane.lane.set_attribute(name, &value).unwrap();
        }
        if step.finished {
            lane.done = true;
            lane.lane.set_attribute("data-done", "true").unwrap();
            lane.out.set_attribute("data-done", "true").unwrap();
        }
        // A lane that finished is shown finished at once, not after the next lane's step.
        if step.finished || now - since_yield >= FRAME_MS {
            yield_now().await;
            since_yield = now_ms();
        }
    }
    lanes_el.set_attribute("data-done", "true").unwrap();
    set_text("gen-status", "done");
}

/// Race toggles: one checkbox per golfer, ticked.
pub fn add_toggle(golf: &AnyGolfer) {
    let label = el("label", "toggle", "");
    let input = el("input", "", &format!("race-{}", golf.id()));
    input.set_attribute("type", "checkbox").unwrap();
    input.set_attribute("checked", "").unwrap();
    label.append_child(&input).unwrap();
    label.append_child(&document().create_text_node(&format!(" {}", golf.label()))).unwrap();
    by_id::<HtmlElement>("race-golfers").append_child(&label).unwrap();
}

/// A diffusion canvas: committed tokens as text (the ones new in this step marked, each with its popover from
/// the step that committed it) and the slots still masked as placeholders.
pub(super) fn render_canvas(
    target: &Element,
    canvas: &[Option<String>],
    golf: &AnyGolfer,
    run: &AnyGeneration,
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
                if let Some(info) = golf.slot_info(run, i) {
                    e.set_attribute("title", &views::token_title(info)).unwrap();
                }
                committed[i] = true;
                e
            }
            None => {
                let e = el("span", "mask-slot", "");
                e.set_text_content(Some("\u{2591}"));
                e.set_attribute("aria-label", "masked").unwrap();
                e
            }
        };
        frag.append_child(&e).unwrap();
    }
    target.append_child(&frag).unwrap();
}
