//! Scoring one document with one golfer: behind a trait, so that the run's bookkeeping (shards, resuming,
//! merging) is tested with a stand-in; [`EngineScorer`] is the real one, the same engine `golf score` drives.

use std::time::Instant;

use golf_core::{block_on, Golfer, Span};
use golf_engine::{AnyGolfer, Command, Engine, Event, Limits, Outcome, ScoreOptions, ScoreSummary};
use serde::{Deserialize, Serialize};

/// A golfer of a run: its id (a column of the results), its name, and what identifies its model (a change of it
/// makes earlier shards another run's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GolferMeta {
    pub id: String,
    pub label: String,
    pub identity: String,
}

impl GolferMeta {
    /// A golfer's, from what it says of itself and its manifest (gzip has none): the same whether the golfer is
    /// loaded or only its folder's `golfer.json` is read ([`GolferMeta::of_folder`]).
    pub fn of(info: golf_core::GolferInfo, manifest: Option<&golf_onnx::Manifest>) -> GolferMeta {
        let identity = match manifest {
            Some(m) => format!("{} onnx {} tokenizer {}", info.label, m.onnx.sha256, m.tokenizer.sha256),
            None => info.label.clone(),
        };
        GolferMeta { id: info.id, label: info.label, identity }
    }

    /// The golfer of model folder `dir`, from its `golfer.json` alone (no model is loaded).
    pub fn of_folder(dir: &std::path::Path) -> Result<GolferMeta, crate::EvalError> {
        let path = dir.join("golfer.json");
        let bytes = std::fs::read(&path).map_err(|source| crate::EvalError::Read { path: path.clone(), source })?;
        let manifest = golf_onnx::Manifest::from_bytes(&bytes, &path.display().to_string())
            .map_err(|e| crate::EvalError::BadCorpus { path: path.clone(), why: e.to_string() })?;
        Ok(GolferMeta::of(manifest.info(), Some(&manifest)))
    }
}

/// What a golfer made of one document.
#[derive(Clone, Debug, PartialEq)]
pub struct DocScore {
    pub bytes: u64,
    pub bits: f64,
    pub tokens: Option<u64>,
    /// Parameter Golf's byte count and bpb, where its tokenizer's count can differ from the text's.
    pub golf_bytes: Option<u64>,
    pub golf_bpb: Option<f64>,
    pub seconds: f64,
}

/// Scores documents with the run's golfers.
pub trait Scorer {
    fn golfers(&self) -> &[GolferMeta];
    /// Golfer `golfer` (an index into [`Scorer::golfers`]) on `text`; the error is the golfer's message.
    fn score(&mut self, golfer: usize, text: &str) -> Result<DocScore, String>;
}

/// The golfers on the engine `golf score` uses, with one set of score options for all.
pub struct EngineScorer {
    engine: Engine<AnyGolfer>,
    golfers: Vec<GolferMeta>,
    options: ScoreOptions,
}

impl EngineScorer {
    /// `golfers`, each loaded once; `options` as `golf score` takes them (popovers are never kept: bits only).
    pub fn new(golfers: Vec<AnyGolfer>, options: ScoreOptions) -> EngineScorer {
        let t0 = Instant::now();
        let mut engine = Engine::new(move || t0.elapsed().as_secs_f64() * 1e3);
        let options = ScoreOptions { popovers: false, ..options };
        let metas = golfers
            .into_iter()
            .map(|g| {
                let meta = GolferMeta::of(g.info(), g.manifest());
                engine.insert(meta.id.clone(), g);
                meta
            })
            .collect();
        EngineScorer { engine, golfers: metas, options }
    }

    /// The options every document is scored with (part of the run's record).
    pub fn options(&self) -> &ScoreOptions {
        &self.options
    }
}

impl Scorer for EngineScorer {
    fn golfers(&self) -> &[GolferMeta] {
        &self.golfers
    }

    fn score(&mut self, golfer: usize, text: &str) -> Result<DocScore, String> {
        let id = self.golfers.get(golfer).ok_or("no such golfer")?.id.clone();
        let start = Instant::now();
        let (s, _) = score_once(&mut self.engine, &id, text.as_bytes(), &self.options, false)?;
        let report = s.report.as_ref();
        let golf = report.filter(|r| r.golf_count);
        Ok(DocScore {
            bytes: s.bytes,
            bits: s.bits,
            tokens: report.map(|r| r.tokens as u64),
            golf_bytes: golf.map(|r| r.golf_bytes),
            golf_bpb: golf.map(|r| r.golf_bpb),
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// Golfer `golfer` of `engine` on `text`, run to the end as `golf score` runs it: its totals, and its spans if
/// `keep_spans`; the error is the golfer's message.
pub fn score_once(
    engine: &mut Engine<AnyGolfer>,
    golfer: &str,
    text: &[u8],
    options: &ScoreOptions,
    keep_spans: bool,
) -> Result<(Box<ScoreSummary>, Vec<Span>), String> {
    engine.command(Command::Score {
        golfer: golfer.into(),
        text: text.to_vec(),
        options: options.clone(),
        limits: Limits::default(),
    });
    let (mut summary, mut spans) = (None, Vec::new());
    while engine.busy() {
        for event in block_on(engine.step()) {
            match event {
                Event::Error { error, .. } => return Err(error.to_string()),
                Event::Spans { spans: s, .. } if keep_spans => spans.extend(s),
                Event::Finished { outcome: Outcome::Scored(s), .. } => summary = Some(s),
                _ => {}
            }
        }
    }
    Ok((summary.ok_or("the score ended without totals")?, spans))
}
