//! The engine: commands in, events out. It owns every run and advances them one step each in turn, so all
//! panels fill in together and a race runs beside a score. It awaits one step at a time, so no two calls ever
//! reach one model at once (no lease, no polling); a command takes effect between two steps, so cancelling
//! reaches a run within one model step.
//!
//! Generic over the golfer so that its bookkeeping is tested with a fake one; the page and the CLI run it over
//! [`crate::AnyGolfer`].

use std::collections::VecDeque;
use std::rc::Rc;

use golf_core::accounting::{to_bits, to_units};
use golf_core::{GenerateSettings, GolfError, Golfer, Span, TokenInfo, TokenReport, Units};
use serde::{Deserialize, Serialize};

/// A golfer's name in commands and events: its `GolferInfo::id`.
pub type GolferId = String;

/// What a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Course {
    Score,
    Generate,
}

/// Limits a score is run under (off by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Cut a run that would take more than this many seconds of its own steps to what fits ([`Golfer::fit_time`]).
    pub budget_s: Option<f64>,
}

pub enum Command<O> {
    /// Scores `text`; a score of the same golfer that is still running is dropped for it.
    Score { golfer: GolferId, text: Vec<u8>, options: O, limits: Limits },
    /// Continues `prompt`; replaces the golfer's running generation.
    Generate { golfer: GolferId, prompt: String, settings: GenerateSettings },
    /// Stops the golfer's run of `course`, if any; nothing more is reported for it.
    Cancel { golfer: GolferId, course: Course },
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum EngineError {
    #[error(transparent)]
    Golf(#[from] GolfError),
    #[error("no golfer called \"{0}\" is loaded")]
    UnknownGolfer(GolferId),
    /// A golfer's spans must tile the text in order: a gap or an overlap would be a wrong number.
    #[error("{golfer}'s spans do not tile the text: a span starts at byte {start}, after byte {expected}")]
    SpansDoNotTile { golfer: GolferId, start: u32, expected: u32 },
    #[error("{golfer} finished with spans up to byte {end} of the {bytes} it scored")]
    SpansEndEarly { golfer: GolferId, end: u32, bytes: usize },
    /// An error that crossed from a worker to the page, as its message.
    #[error("{0}")]
    Relayed(String),
}

/// An error on the wire: its message, read back as [`EngineError::Relayed`].
mod as_message {
    use super::EngineError;

    pub fn serialize<S: serde::Serializer>(e: &EngineError, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&e.to_string())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<EngineError, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(EngineError::Relayed)
    }
}

/// A chain rule cut to what fits in its time limit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cut {
    pub kept_tokens: usize,
    pub all_tokens: usize,
    /// The bytes the kept tokens cover (a prefix of the text).
    pub bytes: usize,
}

/// A finished score's totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreSummary {
    pub bits: f64,
    /// The bytes scored: the text's, or the prefix a time limit kept.
    pub bytes: u64,
    pub text_bytes: u64,
    pub bpb: f64,
    pub report: Option<TokenReport>,
    /// How the bits were estimated, where a golfer has more than one way.
    pub method: Option<String>,
    pub cut: Option<Cut>,
    /// Milliseconds from the command to the end, and in the run's own steps.
    pub wall_ms: f64,
    pub own_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Scored(Box<ScoreSummary>),
    Generated { steps: usize, ms: f64 },
}

/// Serializable, so that a worker can send them to the page as they are (an error as its message).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// How far a run is, in the golfer's own unit (bytes, tokens or model calls).
    Progress {
        golfer: GolferId,
        course: Course,
        done: u64,
        total: u64,
        unit: String,
    },
    /// Spans finished in one step, in order.
    Spans {
        golfer: GolferId,
        spans: Vec<Span>,
    },
    /// A time limit cut the text being scored.
    Cut {
        golfer: GolferId,
        cut: Cut,
    },
    /// Text that became displayable, and the token sampled.
    Token {
        golfer: GolferId,
        text: String,
        bytes: Vec<u8>,
        token: Option<TokenInfo>,
    },
    /// A diffusion canvas after a step (None: still masked), and the popovers of the slots committed in it.
    Canvas {
        golfer: GolferId,
        canvas: Vec<Option<String>>,
        committed: Vec<(usize, TokenInfo)>,
    },
    Finished {
        golfer: GolferId,
        course: Course,
        outcome: Outcome,
    },
    /// The run stopped; the golfer and the engine go on.
    Error {
        golfer: GolferId,
        course: Course,
        #[serde(with = "as_message")]
        error: EngineError,
    },
}

impl Event {
    /// The run it belongs to.
    pub fn course(&self) -> Course {
        match self {
            Event::Progress { course, .. } | Event::Finished { course, .. } | Event::Error { course, .. } => *course,
            Event::Spans { .. } | Event::Cut { .. } => Course::Score,
            Event::Token { .. } | Event::Canvas { .. } => Course::Generate,
        }
    }
}

struct Job<G: Golfer> {
    golfer: GolferId,
    model: Rc<G>,
    started_ms: f64,
    /// Time in this run's own steps (a time limit counts these, not the other runs').
    own_ms: f64,
    steps: usize,
    work: Work<G>,
}

enum Work<G: Golfer> {
    Score { run: G::ScoreRun, text_bytes: usize, limits: Limits, end: u32, units: Units, cut: Option<Cut> },
    Generate { run: G::GenerateRun, canvas: Vec<Option<String>> },
}

impl<G: Golfer> Job<G> {
    fn course(&self) -> Course {
        match self.work {
            Work::Score { .. } => Course::Score,
            Work::Generate { .. } => Course::Generate,
        }
    }
}

pub struct Engine<G: Golfer> {
    golfers: Vec<(GolferId, Rc<G>)>,
    /// Runs in turn order: the front one steps next, then goes to the back.
    jobs: VecDeque<Job<G>>,
    /// Errors of commands that never became runs, reported by the next [`Engine::step`].
    pending: Vec<Event>,
    /// Milliseconds from any fixed point (`Instant` natively, `performance.now()` on the page).
    clock: Box<dyn Fn() -> f64>,
}

impl<G: Golfer> Engine<G> {
    pub fn new(clock: impl Fn() -> f64 + 'static) -> Engine<G> {
        Engine { golfers: Vec::new(), jobs: VecDeque::new(), pending: Vec::new(), clock: Box::new(clock) }
    }

    /// Adds a golfer under `id`, replacing one of that name (and dropping its runs).
    pub fn insert(&mut self, id: impl Into<GolferId>, golfer: G) {
        let id = id.into();
        self.remove(&id);
        self.golfers.push((id, Rc::new(golfer)));
    }

    /// Removes a golfer and its runs.
    pub fn remove(&mut self, id: &str) {
        self.golfers.retain(|(g, _)| g != id);
        self.jobs.retain(|j| j.golfer != id);
    }

    pub fn golfer(&self, id: &str) -> Option<&G> {
        self.golfers.iter().find(|(g, _)| g == id).map(|(_, m)| m.as_ref())
    }

    /// Whether a run or an error is waiting for [`Engine::step`].
    pub fn busy(&self) -> bool {
        !self.jobs.is_empty() || !self.pending.is_empty()
    }

    /// Whether `golfer` has a run of `course`.
    pub fn running(&self, golfer: &str, course: Course) -> bool {
        self.jobs.iter().any(|j| j.golfer == golfer && j.course() == course)
    }

    /// Starts or stops runs. Starting one is cheap (tokenizing the text at most); the work is in [`Engine::step`].
    pub fn command(&mut self, command: Command<G::ScoreOptions>) {
        let (golfer, course) = match &command {
            Command::Score { golfer, .. } => (golfer.clone(), Course::Score),
            Command::Generate { golfer, .. } => (golfer.clone(), Course::Generate),
            Command::Cancel { golfer, course } => (golfer.clone(), *course),
        };
        self.jobs.retain(|j| !(j.golfer == golfer && j.course() == course));
        self.pending
            .retain(|e| !matches!(e, Event::Error { golfer: g, course: c, .. } if *g == golfer && *c == course));
        if let Command::Cancel { .. } = command {
            return;
        }
        let Some(model) = self.golfers.iter().find(|(g, _)| *g == golfer).map(|(_, m)| m.clone()) else {
            let error = EngineError::UnknownGolfer(golfer.clone());
            self.pending.push(Event::Error { golfer, course, error });
            return;
        };
        let work =
            match command {
                Command::Score { text, options, limits, .. } => model
                    .start_score(&text, &options)
                    .map(|run| Work::Score { run, text_bytes: text.len(), limits, end: 0, units: 0, cut: None }),
                Command::Generate { prompt, settings, .. } => {
                    settings.validate().map_err(|e| GolfError::BadSetting(e.to_string())).and_then(|()| {
                        model.start_generate(&prompt, &settings).map(|run| Work::Generate { run, canvas: Vec::new() })
                    })
                }
                Command::Cancel { .. } => return,
            };
        match work {
            Ok(work) => {
                let started_ms = (self.clock)();
                self.jobs.push_back(Job { golfer, model, started_ms, own_ms: 0.0, steps: 0, work });
            }
            Err(e) => self.pending.push(Event::Error { golfer, course, error: e.into() }),
        }
    }

    /// Advances the next run by one step and returns what happened; empty when there is nothing to do.
    pub async fn step(&mut self) -> Vec<Event> {
        if !self.pending.is_empty() {
            return std::mem::take(&mut self.pending);
        }
        let Some(mut job) = self.jobs.pop_front() else { return Vec::new() };
        let mut events = Vec::new();
        let done = match Self::advance(&mut job, &self.clock, &mut events).await {
            Ok(done) => done,
            Err(error) => {
                events.push(Event::Error { golfer: job.golfer.clone(), course: job.course(), error });
                true
            }
        };
        if !done {
            self.jobs.push_back(job);
        }
        events
    }

    /// One step of `job`; true when it is over.
    async fn advance(job: &mut Job<G>, clock: &dyn Fn() -> f64, events: &mut Vec<Event>) -> Result<bool, EngineError> {
        let golfer = job.golfer.clone();
        let model = job.model.clone();
        let t = clock();
        match &mut job.work {
            Work::Score { run, text_bytes, limits, end, units, cut } => {
                let step = model.score_step(run).await?;
                job.own_ms += clock() - t;
                job.steps += 1;
                for s in &step.spans {
                    if s.start != *end || s.end < s.start {
                        return Err(EngineError::SpansDoNotTile { golfer, start: s.start, expected: *end });
                    }
                    *end = s.end;
                    *units += to_units(s.bits);
                }
                if !step.spans.is_empty() {
                    events.push(Event::Spans { golfer: golfer.clone(), spans: step.spans });
                }
                if step.finished {
                    let bytes = model.scored_bytes(run).unwrap_or(*text_bytes);
                    if *end as usize != bytes {
                        return Err(EngineError::SpansEndEarly { golfer, end: *end, bytes });
                    }
                    let bits = to_bits(*units);
                    let summary = ScoreSummary {
                        bits,
                        bytes: bytes as u64,
                        text_bytes: *text_bytes as u64,
                        bpb: bits / bytes.max(1) as f64,
                        report: model.report(run),
                        method: model.scoring_method(run),
                        cut: *cut,
                        wall_ms: clock() - job.started_ms,
                        own_ms: job.own_ms,
                    };
                    let outcome = Outcome::Scored(Box::new(summary));
                    events.push(Event::Finished { golfer, course: Course::Score, outcome });
                    return Ok(true);
                }
                if let Some(budget) = limits.budget_s {
                    if let Some((kept_tokens, all_tokens)) = model.fit_time(run, job.own_ms / 1e3, budget) {
                        let bytes = model.scored_bytes(run).unwrap_or(*text_bytes);
                        let c = Cut { kept_tokens, all_tokens, bytes };
                        *cut = Some(c);
                        events.push(Event::Cut { golfer: golfer.clone(), cut: c });
                    }
                }
                let (done, total) = (step.progress.done, step.progress.total);
                let unit = model.progress_unit().to_string();
                events.push(Event::Progress { golfer, course: Course::Score, done, total, unit });
                Ok(false)
            }
            Work::Generate { run, canvas } => {
                let step = model.generate_step(run).await?;
                job.own_ms += clock() - t;
                if !step.text.is_empty() || step.token.is_some() {
                    events.push(Event::Token {
                        golfer: golfer.clone(),
                        text: step.text,
                        bytes: step.bytes,
                        token: step.token,
                    });
                    job.steps += 1;
                }
                if let Some(next) = step.canvas {
                    let committed = next
                        .iter()
                        .enumerate()
                        .filter(|&(i, slot)| slot.is_some() && canvas.get(i).is_none_or(Option::is_none))
                        .filter_map(|(i, _)| Some((i, model.slot_info(run, i)?.clone())))
                        .collect();
                    *canvas = next.clone();
                    events.push(Event::Canvas { golfer: golfer.clone(), canvas: next, committed });
                    job.steps += 1;
                }
                if step.finished {
                    let outcome = Outcome::Generated { steps: job.steps, ms: clock() - job.started_ms };
                    events.push(Event::Finished { golfer, course: Course::Generate, outcome });
                    return Ok(true);
                }
                Ok(false)
            }
        }
    }
}
