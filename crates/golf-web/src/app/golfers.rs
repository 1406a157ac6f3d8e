//! The page's roster: one enum over the golfers (no `dyn` async traits), and their runs.

use golf_core::{GenerateSettings, GenerateStep, GolfError, Golfer, ScoreStep, Span, Summary};
use golf_gzip::{GzipGeneration, GzipGolfer, GzipScore};
use golf_onnx::{ArGeneration, ArGolfer, ArScore};

pub enum Golf {
    Gzip(GzipGolfer),
    Ar(Box<ArGolfer>),
}

pub enum ScoreRun {
    Gzip(GzipScore),
    Ar(ArScore),
}

pub enum GenRun {
    Gzip(GzipGeneration),
    Ar(ArGeneration),
}

/// The numbers a panel shows after scoring.
pub struct Totals {
    pub bpb: f64,
    pub bits: f64,
    pub bytes: u64,
    /// Parameter Golf's bits per byte, for neural golfers.
    pub golf_bpb: Option<f64>,
    pub tokens: Option<usize>,
}

impl Golf {
    pub fn id(&self) -> String {
        match self {
            Golf::Gzip(_) => "gzip".into(),
            Golf::Ar(g) => g.manifest.id.clone(),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Golf::Gzip(g) => g.info().label,
            Golf::Ar(g) => g.info().label,
        }
    }

    pub fn start_score(&self, text: &str) -> Result<ScoreRun, GolfError> {
        Ok(match self {
            Golf::Gzip(g) => ScoreRun::Gzip(g.start_score(text.as_bytes())?),
            Golf::Ar(g) => ScoreRun::Ar(g.start_score(text.as_bytes())?),
        })
    }

    pub async fn score_step(&self, run: &mut ScoreRun) -> Result<ScoreStep, GolfError> {
        match (self, run) {
            (Golf::Gzip(g), ScoreRun::Gzip(r)) => g.score_step(r).await,
            (Golf::Ar(g), ScoreRun::Ar(r)) => g.score_step(r).await,
            _ => unreachable!("a run belongs to its golfer"),
        }
    }

    pub fn totals(&self, run: &ScoreRun, spans: &[Span], bytes: u64) -> Totals {
        let s = Summary::of(spans, bytes);
        match (self, run) {
            (Golf::Ar(g), ScoreRun::Ar(r)) => {
                let rep = g.report(r);
                // Parameter Golf's count differs from the bytes as given only for SentencePiece.
                let golf_bpb = g.has_golf_count().then_some(rep.golf_bpb);
                Totals { bpb: s.bpb, bits: s.bits, bytes, golf_bpb, tokens: Some(rep.tokens) }
            }
            _ => Totals { bpb: s.bpb, bits: s.bits, bytes, golf_bpb: None, tokens: None },
        }
    }

    pub fn start_generate(&self, prompt: &str, settings: &GenerateSettings) -> Result<GenRun, GolfError> {
        Ok(match self {
            Golf::Gzip(g) => GenRun::Gzip(g.start_generate(prompt, settings)?),
            Golf::Ar(g) => GenRun::Ar(g.start_generate(prompt, settings)?),
        })
    }

    pub async fn generate_step(&self, run: &mut GenRun) -> Result<GenerateStep, GolfError> {
        match (self, run) {
            (Golf::Gzip(g), GenRun::Gzip(r)) => g.generate_step(r).await,
            (Golf::Ar(g), GenRun::Ar(r)) => g.generate_step(r).await,
            _ => unreachable!("a run belongs to its golfer"),
        }
    }
}
