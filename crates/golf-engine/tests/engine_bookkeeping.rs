//! The engine's bookkeeping with a fake golfer (its model is a counter): turns, replacing and cancelling runs,
//! span tiling, time limits, canvases. The real golfers' numbers are tested on real models elsewhere.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use golf_core::{block_on, GenerateSettings, GenerateStep, GolfError, Golfer, GolferInfo, Progress, ScoreStep, Span};
use golf_core::{Summary, TokenInfo};
use golf_engine::{Command, Course, Engine, EngineError, Event, Limits, Outcome};

/// A golfer that charges each byte `bits` and scores `per_step` bytes per step, each step costing `step_ms` on
/// the shared clock.
struct Fake {
    id: &'static str,
    per_step: usize,
    step_ms: f64,
    clock: Rc<Cell<f64>>,
    fault: Fault,
    /// What the engine passed to `fit_time`.
    spent: RefCell<Vec<f64>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Skips a byte between two steps.
    Gap,
    /// Says it finished one step early.
    EndsEarly,
}

#[derive(Clone, Default)]
struct FakeOptions {
    bits: f64,
}

struct FakeRun {
    len: usize,
    pos: usize,
    bits: f64,
}

struct FakeGeneration {
    left: usize,
    canvas: Vec<Option<String>>,
    diffusion: bool,
}

fn fake(id: &'static str, per_step: usize, step_ms: f64, clock: &Rc<Cell<f64>>) -> Fake {
    Fake { id, per_step, step_ms, clock: clock.clone(), fault: Fault::None, spent: RefCell::default() }
}

impl Golfer for Fake {
    type ScoreRun = FakeRun;
    type GenerateRun = FakeGeneration;
    type ScoreOptions = FakeOptions;

    fn info(&self) -> GolferInfo {
        GolferInfo { id: self.id.into(), label: self.id.into(), about: String::new(), params: None, model_bytes: 0 }
    }

    fn start_score(&self, text: &[u8], o: &FakeOptions) -> Result<FakeRun, GolfError> {
        if text.is_empty() {
            return Err(GolfError::EmptyInput);
        }
        Ok(FakeRun { len: text.len(), pos: 0, bits: if o.bits == 0.0 { 1.0 } else { o.bits } })
    }

    async fn score_step(&self, run: &mut FakeRun) -> Result<ScoreStep, GolfError> {
        self.clock.set(self.clock.get() + self.step_ms);
        let start = run.pos + usize::from(self.fault == Fault::Gap && run.pos > 0);
        let end = (start + self.per_step).min(run.len);
        run.pos = end;
        let spans =
            (start..end).map(|i| Span { start: i as u32, end: i as u32 + 1, bits: run.bits, token: None }).collect();
        let early = self.fault == Fault::EndsEarly && end + self.per_step >= run.len;
        let finished = end == run.len || early;
        Ok(ScoreStep { spans, progress: Progress { done: end as u64, total: run.len as u64 }, finished })
    }

    fn progress_unit(&self) -> &'static str {
        "bytes"
    }

    fn scored_bytes(&self, run: &FakeRun) -> Option<usize> {
        Some(run.len)
    }

    /// Cuts the text to what has been scored plus one step once the budget is spent.
    fn fit_time(&self, run: &mut FakeRun, spent_s: f64, budget_s: f64) -> Option<(usize, usize)> {
        self.spent.borrow_mut().push(spent_s);
        if spent_s < budget_s || run.len <= run.pos + self.per_step {
            return None;
        }
        let all = run.len;
        run.len = run.pos + self.per_step;
        Some((run.len, all))
    }

    fn start_generate(&self, prompt: &str, settings: &GenerateSettings) -> Result<FakeGeneration, GolfError> {
        if prompt.is_empty() {
            return Err(GolfError::EmptyPrompt);
        }
        let diffusion = settings.force_leftmost;
        let left = settings.max_steps;
        Ok(FakeGeneration { left, canvas: vec![None; if diffusion { left } else { 0 }], diffusion })
    }

    async fn generate_step(&self, run: &mut FakeGeneration) -> Result<GenerateStep, GolfError> {
        self.clock.set(self.clock.get() + self.step_ms);
        run.left -= 1;
        let finished = run.left == 0;
        if run.diffusion {
            // Commits one slot per step, from the right.
            run.canvas[run.left] = Some("x".into());
            return Ok(GenerateStep { canvas: Some(run.canvas.clone()), finished, ..Default::default() });
        }
        let token = Some(TokenInfo { text: "a".into(), ..Default::default() });
        Ok(GenerateStep { text: "a".into(), bytes: b"a".to_vec(), token, finished, canvas: None })
    }

    fn slot_info<'a>(&self, run: &'a FakeGeneration, slot: usize) -> Option<&'a TokenInfo> {
        static COMMITTED: std::sync::OnceLock<TokenInfo> = std::sync::OnceLock::new();
        run.canvas[slot]
            .as_ref()
            .map(|_| COMMITTED.get_or_init(|| TokenInfo { text: "x".into(), ..Default::default() }))
    }
}

fn engine(clock: &Rc<Cell<f64>>) -> Engine<Fake> {
    let c = clock.clone();
    Engine::new(move || c.get())
}

fn score(golfer: &str, text: &str) -> Command<FakeOptions> {
    Command::Score {
        golfer: golfer.into(),
        text: text.as_bytes().to_vec(),
        options: FakeOptions::default(),
        limits: Limits::default(),
    }
}

fn generate(golfer: &str, steps: usize, diffusion: bool) -> Command<FakeOptions> {
    let settings = GenerateSettings { max_steps: steps, force_leftmost: diffusion, ..GenerateSettings::default() };
    Command::Generate { golfer: golfer.into(), prompt: "p".into(), settings }
}

/// Steps until the engine is idle; every event, in order.
fn drain(engine: &mut Engine<Fake>) -> Vec<Event> {
    let mut all = Vec::new();
    while engine.busy() {
        all.extend(block_on(engine.step()));
    }
    all
}

fn golfer_of(e: &Event) -> &str {
    match e {
        Event::Progress { golfer, .. }
        | Event::Spans { golfer, .. }
        | Event::Cut { golfer, .. }
        | Event::Token { golfer, .. }
        | Event::Canvas { golfer, .. }
        | Event::Finished { golfer, .. }
        | Event::Error { golfer, .. } => golfer,
    }
}

fn finished_score(events: &[Event], golfer: &str) -> golf_engine::ScoreSummary {
    events
        .iter()
        .find_map(|e| match e {
            Event::Finished { golfer: g, outcome: Outcome::Scored(s), .. } if g == golfer => Some((**s).clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{golfer} finished no score in {events:?}"))
}

#[test]
fn runs_take_turns_one_step_each() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("a", fake("a", 2, 1.0, &clock));
    e.insert("b", fake("b", 2, 1.0, &clock));
    e.insert("c", fake("c", 2, 1.0, &clock));
    e.command(score("a", "aaaaaa")); // 3 steps
    e.command(score("b", "bb")); // 1 step
    e.command(score("c", "cccc")); // 2 steps
    let order: Vec<String> = drain(&mut e)
        .iter()
        .filter(|ev| matches!(ev, Event::Spans { .. }))
        .map(|ev| golfer_of(ev).to_string())
        .collect();
    assert_eq!(order, ["a", "b", "c", "a", "c", "a"]);
}

#[test]
fn spans_tile_and_the_bits_add_up() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("a", fake("a", 3, 1.0, &clock));
    let text = "an odd length text";
    e.command(Command::Score {
        golfer: "a".into(),
        text: text.as_bytes().to_vec(),
        options: FakeOptions { bits: 0.1 },
        limits: Limits::default(),
    });
    let events = drain(&mut e);
    let spans: Vec<Span> = events
        .iter()
        .filter_map(|ev| if let Event::Spans { spans, .. } = ev { Some(spans.clone()) } else { None })
        .flatten()
        .collect();
    let s = finished_score(&events, "a");
    let expect = Summary::of(&spans, text.len() as u64);
    assert_eq!((s.bits, s.bpb, s.bytes), (expect.bits, expect.bpb, text.len() as u64));
    assert_eq!(s.own_ms, 6.0, "six steps of 1 ms");
    let progress: Vec<u64> =
        events.iter().filter_map(|ev| if let Event::Progress { done, .. } = ev { Some(*done) } else { None }).collect();
    assert_eq!(progress, [3, 6, 9, 12, 15], "progress after every step but the last");
}

#[test]
fn a_new_score_replaces_the_running_one() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("a", fake("a", 1, 1.0, &clock));
    e.command(score("a", "the first text"));
    block_on(e.step());
    block_on(e.step());
    e.command(score("a", "second"));
    let events = drain(&mut e);
    assert_eq!(finished_score(&events, "a").bytes, 6);
    let starts: Vec<u32> = events
        .iter()
        .filter_map(|ev| if let Event::Spans { spans, .. } = ev { Some(spans[0].start) } else { None })
        .collect();
    assert_eq!(starts, [0, 1, 2, 3, 4, 5], "only the second text's spans");
    assert_eq!(events.iter().filter(|ev| matches!(ev, Event::Finished { .. })).count(), 1);
}

#[test]
fn cancel_stops_only_that_run() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("a", fake("a", 1, 1.0, &clock));
    e.insert("b", fake("b", 1, 1.0, &clock));
    e.command(score("a", "aaaa"));
    e.command(generate("a", 3, false));
    e.command(score("b", "bbbb"));
    block_on(e.step()); // a's score
    e.command(Command::Cancel { golfer: "a".into(), course: Course::Score });
    let events = drain(&mut e);
    assert!(events
        .iter()
        .all(|ev| !(golfer_of(ev) == "a" && matches!(ev, Event::Spans { .. } | Event::Progress { .. }))));
    let tokens = events.iter().filter(|ev| matches!(ev, Event::Token { .. })).count();
    assert_eq!(tokens, 3, "a's generation went on beside the cancelled score");
    assert_eq!(finished_score(&events, "b").bytes, 4);
    assert!(!e.running("a", Course::Score) && !e.busy());
}

#[test]
fn a_score_and_a_race_of_one_golfer_interleave() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("a", fake("a", 1, 1.0, &clock));
    e.command(score("a", "aaa"));
    e.command(generate("a", 3, false));
    let kinds: Vec<&str> = drain(&mut e)
        .iter()
        .filter_map(|ev| match ev {
            Event::Spans { .. } => Some("score"),
            Event::Token { .. } => Some("token"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["score", "token", "score", "token", "score", "token"]);
}

#[test]
fn spans_with_a_gap_are_refused() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("a", Fake { fault: Fault::Gap, ..fake("a", 2, 1.0, &clock) });
    e.command(score("a", "abcdefgh"));
    let events = drain(&mut e);
    assert!(
        events.iter().any(|ev| matches!(
            ev,
            Event::Error { error: EngineError::SpansDoNotTile { start: 3, expected: 2, .. }, .. }
        )),
        "{events:?}"
    );
    assert!(!events.iter().any(|ev| matches!(ev, Event::Finished { .. })), "no number for a broken tiling");
}

#[test]
fn spans_that_stop_short_are_refused() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("a", Fake { fault: Fault::EndsEarly, ..fake("a", 2, 1.0, &clock) });
    e.command(score("a", "abcdefgh"));
    let events = drain(&mut e);
    let error = events.iter().find_map(|ev| if let Event::Error { error, .. } = ev { Some(error) } else { None });
    assert!(matches!(error, Some(EngineError::SpansEndEarly { end: 6, bytes: 8, .. })), "{events:?}");
}

#[test]
fn bad_commands_become_error_events() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("a", fake("a", 1, 1.0, &clock));
    e.command(score("nobody", "text"));
    e.command(score("a", ""));
    e.command(generate("a", 0, false));
    let errors: Vec<String> = drain(&mut e)
        .iter()
        .filter_map(|ev| if let Event::Error { error, .. } = ev { Some(error.to_string()) } else { None })
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("\"nobody\""), "{errors:?}");
    assert!(errors[1].contains("empty"), "{errors:?}");
    assert!(errors[2].contains("max tokens"), "{errors:?}");
}

#[test]
fn a_time_limit_counts_the_runs_own_time() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("slow", fake("slow", 1, 100.0, &clock));
    e.insert("other", fake("other", 1, 1000.0, &clock));
    e.command(Command::Score {
        golfer: "slow".into(),
        text: vec![b'x'; 100],
        options: FakeOptions::default(),
        limits: Limits { budget_s: Some(0.35) },
    });
    e.command(score("other", "abc"));
    let events = drain(&mut e);
    let slow = e.golfer("slow").expect("loaded");
    // Its own 100 ms steps, not the other golfer's 1 s ones in between.
    assert_eq!(slow.spent.borrow()[..4], [0.1, 0.2, 0.3, 0.4]);
    let cut = events.iter().find_map(|ev| if let Event::Cut { cut, .. } = ev { Some(*cut) } else { None });
    let cut = cut.expect("a cut");
    assert_eq!((cut.kept_tokens, cut.all_tokens, cut.bytes), (5, 100, 5));
    let s = finished_score(&events, "slow");
    assert_eq!((s.bytes, s.text_bytes, s.cut), (5, 100, Some(cut)));
}

#[test]
fn a_canvas_names_the_slots_committed_in_each_step() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("d", fake("d", 1, 1.0, &clock));
    e.command(generate("d", 3, true));
    let events = drain(&mut e);
    let committed: Vec<Vec<usize>> = events
        .iter()
        .filter_map(|ev| match ev {
            Event::Canvas { committed, .. } => Some(committed.iter().map(|(i, _)| *i).collect()),
            _ => None,
        })
        .collect();
    assert_eq!(committed, [vec![2], vec![1], vec![0]]);
    assert!(matches!(events.last(), Some(Event::Finished { outcome: Outcome::Generated { steps: 3, .. }, .. })));
}

#[test]
fn removing_a_golfer_drops_its_runs() {
    let clock = Rc::new(Cell::new(0.0));
    let mut e = engine(&clock);
    e.insert("a", fake("a", 1, 1.0, &clock));
    e.insert("b", fake("b", 1, 1.0, &clock));
    e.command(score("a", "aaaa"));
    e.command(score("b", "bb"));
    e.remove("a");
    let events = drain(&mut e);
    assert!(events.iter().all(|ev| golfer_of(ev) == "b"));
    assert!(e.golfer("a").is_none());
}
