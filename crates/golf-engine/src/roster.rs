//! The roster: every kind of golfer, and the only `match` over them in the workspace.
//!
//! A run carries its own golfer ([`Scoring`], [`Generating`]), so a run cannot be stepped by another golfer's
//! model: the pairing holds by construction. Adding a golfer is one variant here and its own crate or module.

use std::rc::Rc;

use golf_core::{GenerateSettings, GenerateStep, GolfError, Golfer, GolferInfo, ScoreStep, TokenInfo, TokenReport};
use golf_gzip::{GzipGolfer, GzipScoreOptions};
use golf_onnx::{ArGolfer, ArScoreOptions, Estimator, Manifest, MdlmGolfer, MdlmScoreOptions, ModelKind, OnnxError};

/// A golfer of any kind.
#[derive(Clone)]
pub enum AnyGolfer {
    Gzip(Rc<GzipGolfer>),
    Ar(Rc<ArGolfer>),
    Mdlm(Rc<MdlmGolfer>),
}

/// How one score is run, for any golfer; each golfer takes what applies to it and ignores the rest (gzip has no
/// stride; only the diffusion golfer has estimators).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreOptions {
    /// Keep each span's popover (token text, top-k, how the bits were spent); off, bits only.
    pub popovers: bool,
    /// Autoregressive golfers: start a new window every this many tokens (default: the manifest's).
    pub stride: Option<usize>,
    /// The diffusion golfer's estimator (default: the confidence-order chain rule).
    pub estimator: Option<Estimator>,
    /// The diffusion golfer: score only the first this many tokens.
    pub max_tokens: Option<usize>,
}

/// A golfer with one run of it.
pub struct Scoring<G: Golfer> {
    golfer: Rc<G>,
    run: G::ScoreRun,
}

pub struct Generating<G: Golfer> {
    golfer: Rc<G>,
    run: G::GenerateRun,
}

/// A score of any golfer.
pub enum AnyScore {
    Gzip(Scoring<GzipGolfer>),
    Ar(Scoring<ArGolfer>),
    Mdlm(Scoring<MdlmGolfer>),
}

/// A generation of any golfer.
pub enum AnyGeneration {
    Gzip(Generating<GzipGolfer>),
    Ar(Generating<ArGolfer>),
    Mdlm(Generating<MdlmGolfer>),
}

/// `$body` with `$p` bound to the inner value of whichever variant `$value` is.
macro_rules! each {
    ($kind:ident, $value:expr, $p:pat => $body:expr) => {
        match $value {
            $kind::Gzip($p) => $body,
            $kind::Ar($p) => $body,
            $kind::Mdlm($p) => $body,
        }
    };
}

/// A front end's work that differs by kind of golfer (the CLI's benchmarks): a method per kind, called by
/// [`AnyGolfer::per_kind`], so that the match over golfers stays here and a new kind is a compile error there.
pub trait PerKind {
    type Out;
    fn gzip(self, golfer: &GzipGolfer) -> Self::Out;
    fn autoregressive(self, golfer: &ArGolfer) -> Self::Out;
    fn diffusion(self, golfer: &MdlmGolfer) -> Self::Out;
}

impl AnyGolfer {
    /// `work`'s method for this golfer's kind.
    pub fn per_kind<W: PerKind>(&self, work: W) -> W::Out {
        match self {
            AnyGolfer::Gzip(g) => work.gzip(g),
            AnyGolfer::Ar(g) => work.autoregressive(g),
            AnyGolfer::Mdlm(g) => work.diffusion(g),
        }
    }

    /// The golfer a model folder's manifest describes, from the bytes of its files (already checked against the
    /// manifest by the loader).
    pub async fn load(manifest: Manifest, onnx: &[u8], tokenizer: &[u8]) -> Result<AnyGolfer, OnnxError> {
        Ok(match manifest.kind {
            ModelKind::Autoregressive => AnyGolfer::Ar(Rc::new(ArGolfer::load(manifest, onnx, tokenizer).await?)),
            ModelKind::Diffusion => AnyGolfer::Mdlm(Rc::new(MdlmGolfer::load(manifest, onnx, tokenizer).await?)),
        })
    }

    /// The neural golfers' manifest (gzip has none: its model is its code).
    pub fn manifest(&self) -> Option<&Manifest> {
        match self {
            AnyGolfer::Gzip(_) => None,
            AnyGolfer::Ar(g) => Some(&g.manifest),
            AnyGolfer::Mdlm(g) => Some(&g.manifest),
        }
    }

    /// Whether it scores by estimators over a masked window (and generates by unmasking a canvas).
    pub fn is_diffusion(&self) -> bool {
        matches!(self, AnyGolfer::Mdlm(_))
    }

    /// Whether it can score bytes that are not UTF-8 (gzip: it has no tokenizer).
    pub fn scores_raw_bytes(&self) -> bool {
        matches!(self, AnyGolfer::Gzip(_))
    }

    pub fn id(&self) -> String {
        self.info().id
    }

    pub fn label(&self) -> String {
        self.info().label
    }

    /// Whether it has a chat template (instruct models).
    pub fn can_chat(&self) -> bool {
        self.manifest().is_some_and(|m| m.chat.is_some())
    }

    /// The speed benchmark `golf bench` prints (prefill and decode, best of `runs` on `text`), as JSON; `now` is a
    /// clock in seconds. gzip's needs the shared 4 MB text: the CLI runs it.
    pub async fn speed(&self, text: &str, runs: usize, now: impl Fn() -> f64) -> Result<serde_json::Value, GolfError> {
        use golf_onnx::speed;
        Ok(match self {
            AnyGolfer::Ar(g) => {
                let s = speed::measure(g, text, runs, now).await?;
                serde_json::json!({
                    "prefill_tokens": s.prefill_tokens, "prefill_tokens_per_s": s.prefill_tokens_per_s(),
                    "decode_tokens": s.decode_tokens, "decode_ms_per_token": s.decode_ms_per_token(),
                    "graph_decode_ms_per_token": s.graph_decode_ms_per_token(),
                })
            }
            AnyGolfer::Mdlm(g) => {
                let s = speed::measure_mdlm(g, text, runs, now).await?;
                serde_json::json!({
                    "window": s.window, "chain_tokens": s.chain_tokens, "chain_tokens_per_s": s.chain_tokens_per_s(),
                    "nelbo_steps": s.nelbo_steps, "nelbo_tokens": s.nelbo_tokens,
                    "nelbo_tokens_per_s": s.nelbo_tokens_per_s(),
                })
            }
            AnyGolfer::Gzip(_) => return Err(GolfError::BadSetting("gzip's speed: golf bench".into())),
        })
    }
}

impl Golfer for AnyGolfer {
    type ScoreRun = AnyScore;
    type GenerateRun = AnyGeneration;
    type ScoreOptions = ScoreOptions;

    fn info(&self) -> GolferInfo {
        each!(AnyGolfer, self, g => g.info())
    }

    fn start_score(&self, text: &[u8], o: &ScoreOptions) -> Result<AnyScore, GolfError> {
        Ok(match self {
            AnyGolfer::Gzip(g) => {
                let run = g.start_score(text, &GzipScoreOptions { popovers: o.popovers })?;
                AnyScore::Gzip(Scoring { golfer: g.clone(), run })
            }
            AnyGolfer::Ar(g) => {
                let run = g.start_score(text, &ArScoreOptions { stride: o.stride, popovers: o.popovers })?;
                AnyScore::Ar(Scoring { golfer: g.clone(), run })
            }
            AnyGolfer::Mdlm(g) => {
                let options = MdlmScoreOptions {
                    estimator: o.estimator.unwrap_or(MdlmScoreOptions::default().estimator),
                    popovers: o.popovers,
                    max_tokens: o.max_tokens,
                };
                AnyScore::Mdlm(Scoring { golfer: g.clone(), run: g.start_score(text, &options)? })
            }
        })
    }

    async fn score_step(&self, run: &mut AnyScore) -> Result<ScoreStep, GolfError> {
        each!(AnyScore, run, s => s.golfer.score_step(&mut s.run).await)
    }

    fn progress_unit(&self) -> &'static str {
        each!(AnyGolfer, self, g => g.progress_unit())
    }

    fn scored_bytes(&self, run: &AnyScore) -> Option<usize> {
        each!(AnyScore, run, s => s.golfer.scored_bytes(&s.run))
    }

    fn report(&self, run: &AnyScore) -> Option<TokenReport> {
        each!(AnyScore, run, s => s.golfer.report(&s.run))
    }

    fn scoring_method(&self, run: &AnyScore) -> Option<String> {
        each!(AnyScore, run, s => s.golfer.scoring_method(&s.run))
    }

    fn fit_time(&self, run: &mut AnyScore, spent_s: f64, budget_s: f64) -> Option<(usize, usize)> {
        each!(AnyScore, run, s => s.golfer.fit_time(&mut s.run, spent_s, budget_s))
    }

    fn start_generate(&self, prompt: &str, settings: &GenerateSettings) -> Result<AnyGeneration, GolfError> {
        Ok(match self {
            AnyGolfer::Gzip(g) => {
                AnyGeneration::Gzip(Generating { golfer: g.clone(), run: g.start_generate(prompt, settings)? })
            }
            AnyGolfer::Ar(g) => {
                AnyGeneration::Ar(Generating { golfer: g.clone(), run: g.start_generate(prompt, settings)? })
            }
            AnyGolfer::Mdlm(g) => {
                AnyGeneration::Mdlm(Generating { golfer: g.clone(), run: g.start_generate(prompt, settings)? })
            }
        })
    }

    async fn generate_step(&self, run: &mut AnyGeneration) -> Result<GenerateStep, GolfError> {
        each!(AnyGeneration, run, s => s.golfer.generate_step(&mut s.run).await)
    }

    fn slot_info<'a>(&self, run: &'a AnyGeneration, slot: usize) -> Option<&'a TokenInfo> {
        each!(AnyGeneration, run, s => s.golfer.slot_info(&s.run, slot))
    }
}
