//! The speed benchmark shared by `golf bench` and the page's `?bench=` mode, so both measure the same thing:
//! prefill (scoring `PREFILL` positions of text, in the scoring path's chunks over the KV cache) and decode
//! (`DECODE` greedy tokens, one model call each, after the prompt's prefill). Best of `runs`.

use golf_core::{score_to_end, GenerateSettings, GolfError, Golfer, SamplerSettings};

use crate::{ArGolfer, ArScoreOptions, Estimator, MdlmGolfer, MdlmScoreOptions};

pub const PREFILL: usize = 512;
pub const DECODE: usize = 64;
const PROMPT: &str = "The history of the city";

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Speed {
    pub prefill_tokens: usize,
    pub prefill_seconds: f64,
    pub decode_tokens: usize,
    pub decode_seconds: f64,
    /// Where the golfer decodes with a decoder of its own: the same decode through the ONNX graph.
    pub graph_decode_seconds: Option<f64>,
}

impl Speed {
    pub fn prefill_tokens_per_s(&self) -> f64 {
        self.prefill_tokens as f64 / self.prefill_seconds
    }

    pub fn decode_ms_per_token(&self) -> f64 {
        self.decode_seconds * 1e3 / self.decode_tokens.max(1) as f64
    }

    pub fn graph_decode_ms_per_token(&self) -> Option<f64> {
        self.graph_decode_seconds.map(|s| s * 1e3 / self.decode_tokens.max(1) as f64)
    }
}

/// `text` must hold at least `PREFILL` tokens; `now` is a clock in seconds.
pub async fn measure(golfer: &ArGolfer, text: &str, runs: usize, now: impl Fn() -> f64) -> Result<Speed, GolfError> {
    let tokens = crate::tokens::encode(&golfer.tokenizer, text)?;
    if tokens.len() < PREFILL {
        return Err(GolfError::Model(golf_core::ModelError::msg(format!(
            "the benchmark text has {} tokens, fewer than {PREFILL}",
            tokens.len()
        ))));
    }
    // PREFILL - 1 tokens of text: with the start-of-document token the model reads PREFILL positions.
    let mut end = tokens[PREFILL - 2].orig.end;
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let prefix = &text.as_bytes()[..end];
    let settings = GenerateSettings {
        sampler: SamplerSettings { temperature: 0.0, repetition_penalty: 1.0, ..SamplerSettings::default() },
        max_bytes: usize::MAX,
        max_steps: DECODE + 1,
        chat: false,
        ..GenerateSettings::default()
    };
    let mut best = Speed {
        prefill_tokens: 0,
        prefill_seconds: f64::INFINITY,
        decode_tokens: 0,
        decode_seconds: f64::INFINITY,
        graph_decode_seconds: None,
    };
    for _ in 0..runs.max(1) {
        let t = now();
        // With popovers, as the page scores.
        let options = ArScoreOptions { popovers: true, ..ArScoreOptions::default() };
        let mut run = golfer.start_score(prefix, &options)?;
        score_to_end(golfer, &mut run).await?;
        let seconds = now() - t;
        if seconds < best.prefill_seconds {
            best.prefill_seconds = seconds;
            best.prefill_tokens = golfer.report(&run).map_or(0, |r| r.tokens) + 1;
        }

        let (seconds, steps) = decode(golfer, golfer.start_generate(PROMPT, &settings)?, &now).await?;
        if seconds < best.decode_seconds {
            best.decode_seconds = seconds;
            best.decode_tokens = steps;
        }
        if golfer.has_decoder() {
            let (seconds, _) = decode(golfer, golfer.start_generate_on_graph(PROMPT, &settings)?, &now).await?;
            best.graph_decode_seconds = Some(best.graph_decode_seconds.map_or(seconds, |b| b.min(seconds)));
        }
    }
    Ok(best)
}

/// Seconds for the decode steps of `run` after the prompt's prefill and first token, and their number.
async fn decode(
    golfer: &ArGolfer,
    mut run: crate::ArGeneration,
    now: &impl Fn() -> f64,
) -> Result<(f64, usize), GolfError> {
    golfer.generate_step(&mut run).await?;
    let t = now();
    let mut steps = 0;
    while !golfer.generate_step(&mut run).await?.finished {
        steps += 1;
    }
    Ok((now() - t, steps))
}

/// The diffusion golfer's speed: model calls on full windows of text. The chain rules make one call per token
/// (`CHAIN_CALLS` reveals of the first window, confidence order); NELBO makes K calls per window (one window,
/// K = `NELBO_STEPS`).
pub const CHAIN_CALLS: usize = 64;
pub const NELBO_STEPS: usize = 32;

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct MdlmSpeed {
    pub window: usize,
    pub chain_tokens: usize,
    pub chain_seconds: f64,
    pub nelbo_steps: usize,
    pub nelbo_tokens: usize,
    pub nelbo_seconds: f64,
}

impl MdlmSpeed {
    pub fn chain_tokens_per_s(&self) -> f64 {
        self.chain_tokens as f64 / self.chain_seconds
    }

    pub fn nelbo_tokens_per_s(&self) -> f64 {
        self.nelbo_tokens as f64 / self.nelbo_seconds
    }
}

/// `text` must fill at least one window; `now` is a clock in seconds.
pub async fn measure_mdlm(
    golfer: &MdlmGolfer,
    text: &str,
    runs: usize,
    now: impl Fn() -> f64,
) -> Result<MdlmSpeed, GolfError> {
    let window = golfer.window_tokens();
    let tokens = crate::tokens::encode(&golfer.tokenizer, text)?;
    if tokens.len() < window {
        return Err(GolfError::Model(golf_core::ModelError::msg(format!(
            "the benchmark text has {} tokens, fewer than {window}",
            tokens.len()
        ))));
    }
    let prefix = &text.as_bytes()[..tokens[window - 1].orig.end];
    let mut best = MdlmSpeed {
        window: window + 1,
        chain_tokens: CHAIN_CALLS,
        chain_seconds: f64::INFINITY,
        nelbo_steps: NELBO_STEPS,
        nelbo_tokens: window,
        nelbo_seconds: f64::INFINITY,
    };
    for _ in 0..runs.max(1) {
        let options = MdlmScoreOptions { estimator: Estimator::Confidence, popovers: true, max_tokens: None };
        let mut run = golfer.start_score(prefix, &options)?;
        let t = now();
        for _ in 0..CHAIN_CALLS {
            golfer.score_step(&mut run).await?;
        }
        best.chain_seconds = best.chain_seconds.min(now() - t);

        let nelbo = MdlmScoreOptions { estimator: Estimator::Nelbo { steps: NELBO_STEPS, seed: 0 }, ..options };
        let mut run = golfer.start_score(prefix, &nelbo)?;
        let t = now();
        score_to_end(golfer, &mut run).await?;
        best.nelbo_seconds = best.nelbo_seconds.min(now() - t);
    }
    Ok(best)
}
