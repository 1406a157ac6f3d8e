//! The page's roster: one enum over the golfers (no `dyn` async traits), and their runs.

use golf_core::{GenerateSettings, GenerateStep, GolfError, Golfer, GolferInfo, ScoreStep, Span, Summary, TokenInfo};
use golf_gzip::{GzipGeneration, GzipGolfer, GzipScore};
use golf_onnx::{ArGeneration, ArGolfer, ArScore, Estimator, MdlmGeneration, MdlmGolfer, MdlmScore};

pub enum Golf {
    Gzip(GzipGolfer),
    Ar(Box<ArGolfer>),
    Mdlm(Box<MdlmGolfer>),
}

pub enum ScoreRun {
    Gzip(GzipScore),
    Ar(ArScore),
    Mdlm(MdlmScore),
}

pub enum GenRun {
    Gzip(GzipGeneration),
    Ar(ArGeneration),
    Mdlm(MdlmGeneration),
}

/// The numbers a panel shows after scoring.
pub struct Totals {
    pub bpb: f64,
    pub bits: f64,
    /// Bytes scored: the whole text, or the prefix a time-limited chain rule reached.
    pub bytes: u64,
    /// Parameter Golf's bits per byte, for neural golfers with a SentencePiece tokenizer.
    pub golf_bpb: Option<f64>,
    pub tokens: Option<usize>,
}

impl Golf {
    pub fn id(&self) -> String {
        match self {
            Golf::Gzip(_) => "gzip".into(),
            Golf::Ar(g) => g.manifest.id.clone(),
            Golf::Mdlm(g) => g.manifest.id.clone(),
        }
    }

    pub fn info(&self) -> GolferInfo {
        match self {
            Golf::Gzip(g) => g.info(),
            Golf::Ar(g) => g.info(),
            Golf::Mdlm(g) => g.info(),
        }
    }

    pub fn label(&self) -> String {
        self.info().label
    }

    /// `estimator` applies to the diffusion golfer; the others have one way to score.
    pub fn start_score(&self, text: &str, estimator: Option<Estimator>) -> Result<ScoreRun, GolfError> {
        Ok(match self {
            Golf::Gzip(g) => ScoreRun::Gzip(g.start_score(text.as_bytes())?),
            Golf::Ar(g) => {
                // The page paces a run's calls (`pace`), starting small.
                let mut run = g.start_score(text.as_bytes())?;
                run.start_small();
                ScoreRun::Ar(run)
            }
            Golf::Mdlm(g) => ScoreRun::Mdlm(g.start_score_with(text.as_bytes(), estimator.unwrap_or(g.estimator))?),
        })
    }

    pub async fn score_step(&self, run: &mut ScoreRun) -> Result<ScoreStep, GolfError> {
        match (self, run) {
            (Golf::Gzip(g), ScoreRun::Gzip(r)) => g.score_step(r).await,
            (Golf::Ar(g), ScoreRun::Ar(r)) => g.score_step(r).await,
            (Golf::Mdlm(g), ScoreRun::Mdlm(r)) => g.score_step(r).await,
            _ => unreachable!("a run belongs to its golfer"),
        }
    }

    /// A diffusion chain rule that would run past `budget_s` seconds of its own model time at the rate measured so
    /// far is cut to the whole windows that fit; returns the tokens kept and the tokens of the text when it cut.
    pub fn fit_time(&self, run: &mut ScoreRun, spent_s: f64, budget_s: f64) -> Option<(usize, usize)> {
        let (Golf::Mdlm(g), ScoreRun::Mdlm(r)) = (self, run) else { return None };
        if matches!(r.estimator(), Estimator::Nelbo { .. }) {
            return None;
        }
        let (done, total) = r.calls();
        let keep = crate::views::tokens_within(done, total, spent_s, budget_s, g.window_tokens())?;
        let all = r.tokens();
        g.truncate(r, keep);
        (r.tokens() < all).then(|| (r.tokens(), all))
    }

    /// Paces a run's next steps at about `target_ms` each, from the last one's time (see `ArScore::pace`).
    pub fn pace(&self, run: &mut ScoreRun, last_ms: f64, target_ms: f64) {
        if let ScoreRun::Ar(r) = run {
            r.pace(last_ms, target_ms);
        }
    }

    /// The text a run scored (shorter than the input when a time limit cut it).
    pub fn scored_text<'a>(&self, run: &'a ScoreRun, text: &'a str) -> &'a str {
        match run {
            ScoreRun::Mdlm(r) => r.text(),
            _ => text,
        }
    }

    pub fn totals(&self, run: &ScoreRun, spans: &[Span], bytes: u64) -> Totals {
        let s = Summary::of(spans, bytes);
        let neural = |rep: golf_onnx::TokenReport, golf_count: bool| Totals {
            bpb: s.bpb,
            bits: s.bits,
            bytes,
            // Parameter Golf's count differs from the bytes as given only for SentencePiece.
            golf_bpb: golf_count.then_some(rep.golf_bpb),
            tokens: Some(rep.tokens),
        };
        match (self, run) {
            (Golf::Ar(g), ScoreRun::Ar(r)) => neural(g.report(r), g.has_golf_count()),
            (Golf::Mdlm(g), ScoreRun::Mdlm(r)) => neural(g.report(r), true),
            _ => Totals { bpb: s.bpb, bits: s.bits, bytes, golf_bpb: None, tokens: None },
        }
    }

    pub fn start_generate(&self, prompt: &str, settings: &GenerateSettings) -> Result<GenRun, GolfError> {
        Ok(match self {
            Golf::Gzip(g) => GenRun::Gzip(g.start_generate(prompt, settings)?),
            Golf::Ar(g) => GenRun::Ar(g.start_generate(prompt, settings)?),
            Golf::Mdlm(g) => GenRun::Mdlm(g.start_generate(prompt, settings)?),
        })
    }

    pub async fn generate_step(&self, run: &mut GenRun) -> Result<GenerateStep, GolfError> {
        match (self, run) {
            (Golf::Gzip(g), GenRun::Gzip(r)) => g.generate_step(r).await,
            (Golf::Ar(g), GenRun::Ar(r)) => g.generate_step(r).await,
            (Golf::Mdlm(g), GenRun::Mdlm(r)) => g.generate_step(r).await,
            _ => unreachable!("a run belongs to its golfer"),
        }
    }
}

impl GenRun {
    /// A diffusion canvas slot's popover: the prediction at the step that committed it.
    pub fn slot_info(&self, slot: usize) -> Option<&TokenInfo> {
        match self {
            GenRun::Mdlm(r) => r.info.get(slot).and_then(Option::as_ref),
            _ => None,
        }
    }
}
