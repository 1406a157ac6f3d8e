//! The diffusion golfer: a masked diffusion LM scored by three estimators, and generation by iterative unmasking.
//! The definitions (windows, mask hashing, tie-breaking) are those of scripts/mdlm/estimators.py, which computes the
//! same per-token bits for the parity tests.
//!
//! A text is the start-of-document token then its tokens (the stream), scored in windows of the training length T:
//! window w covers stream[w(T-1) .. w(T-1)+T]; its position 0 (the token before it) is visible and the rest are
//! scored, so every token is charged once. One model call per step:
//! - NELBO (K steps, seeded masks): an upper bound on the code length;
//! - left-to-right chain rule: reveal positions in order, charge -log2 p of each as it is revealed (exact for that
//!   order);
//! - confidence-order chain rule: reveal the masked position whose most likely token is most probable (ties: the
//!   leftmost), charging its true token's bits.

use golf_core::{
    GenerateSettings, GenerateStep, GolfError, Golfer, GolferInfo, Progress, Sampler, ScoreStep, Span, TokenInfo,
};
use golf_tokenize::{TextTokenizer, Token};

use crate::ar::Window;
use crate::manifest::Manifest;
use crate::runtime::{Input, Model};
use crate::tokens::{self, Predictions, Scored};
use crate::OnnxError;
use golf_core::TokenReport;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Estimator {
    Nelbo { steps: usize, seed: u64 },
    LeftToRight,
    Confidence,
}

impl Estimator {
    pub fn describe(&self) -> String {
        match self {
            Estimator::Nelbo { steps, seed } => {
                format!("NELBO with {steps} steps (seed {seed}): an upper bound on the code length")
            }
            Estimator::LeftToRight => "left-to-right chain rule: the exact code length of that order".into(),
            Estimator::Confidence => "confidence-order chain rule: the exact code length of that order".into(),
        }
    }
}

/// The network behind the golfer: its ONNX graph, or in the tests of the estimators' bookkeeping a fake that
/// answers every call from the ids alone and records what it was asked.
enum Net {
    Onnx(Model),
    #[cfg(test)]
    Fake(tests::Fake),
}

pub struct MdlmGolfer {
    model: Net,
    pub tokenizer: TextTokenizer,
    pub manifest: Manifest,
    mask_id: u32,
    t_eps: f64,
}

/// How one text is scored.
#[derive(Clone, Debug, PartialEq)]
pub struct MdlmScoreOptions {
    pub estimator: Estimator,
    /// Keep each token's popover in the spans (see `ArScoreOptions::popovers`).
    pub popovers: bool,
    /// Score only the first this many tokens (and the text up to the end of the last one).
    pub max_tokens: Option<usize>,
}

impl Default for MdlmScoreOptions {
    fn default() -> Self {
        MdlmScoreOptions { estimator: Estimator::Confidence, popovers: false, max_tokens: None }
    }
}

pub struct MdlmScore {
    estimator: Estimator,
    popovers: bool,
    /// The tokens and bytes of the whole text, before a limit cut it.
    all_tokens: usize,
    all_bytes: usize,
    text: String,
    tokens: Vec<Token>,
    stream: Vec<u32>,
    scored: Vec<Option<Scored>>,
    side: tokens::SideCell,
    /// NELBO: bits accumulated per token over the mask levels.
    acc: Vec<f64>,
    windows: usize,
    w: usize,
    /// Chain rules: which positions of the current window are still masked, and how many were revealed.
    masked: Vec<bool>,
    revealed: usize,
    /// NELBO: the mask level of the current window.
    k: usize,
    calls: u64,
    total_calls: u64,
    finished: bool,
}

/// splitmix64: the mask hash shared with scripts/mdlm/estimators.py.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The uniform number deciding whether position `i` of window `w` is masked at level `k`.
pub fn mask_uniform(seed: u64, w: u64, k: u64, i: u64) -> f64 {
    (splitmix64(seed ^ (w << 40) ^ (k << 20) ^ i) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl MdlmGolfer {
    pub async fn load(manifest: Manifest, onnx: &[u8], tokenizer: &[u8]) -> Result<MdlmGolfer, OnnxError> {
        let tokenizer = manifest.load_tokenizer(tokenizer)?;
        let mask_id = manifest.mask_id.ok_or_else(|| OnnxError::Manifest("golfer.json: no mask_id".into()))?;
        let t_eps = manifest.t_eps.unwrap_or(1e-3);
        let model = Model::from_bytes(onnx).await?;
        manifest.check_graph(&model.signature()?)?;
        let model = Net::Onnx(model);
        Ok(MdlmGolfer { model, tokenizer, manifest, mask_id, t_eps })
    }

    fn window_len(&self) -> usize {
        self.manifest.context
    }

    /// The tokens of window `w` of a stream.
    fn window<'a>(&self, stream: &'a [u32], w: usize) -> (usize, &'a [u32]) {
        let a = w * (self.window_len() - 1);
        (a, &stream[a..(a + self.window_len()).min(stream.len())])
    }

    /// Positions that are never masked: position 0 and start-of-document tokens.
    fn fixed(&self, win: &[u32]) -> Vec<bool> {
        win.iter().enumerate().map(|(i, &t)| i == 0 || t == self.manifest.bos_id).collect()
    }

    /// The graph's inputs for the window `ids` with its `masked` positions hidden, predicting `targets`.
    fn inputs(&self, ids: &[u32], masked: &[bool], targets: &[u32]) -> Vec<(&'static str, Input)> {
        let t = ids.len() as i64;
        let input: Vec<i64> =
            ids.iter().zip(masked).map(|(&id, &m)| if m { self.mask_id as i64 } else { id as i64 }).collect();
        let targets = targets.iter().map(|&i| i as i64).collect();
        vec![
            ("input_ids", Input::I64 { shape: vec![1, t], data: input }),
            ("targets", Input::I64 { shape: vec![1, t], data: targets }),
        ]
    }

    /// One scoring call: each position's prediction of `targets`, with the `masked` positions of `ids` hidden.
    async fn call(
        &self,
        ids: &[u32],
        masked: &[bool],
        targets: &[u32],
        popovers: bool,
    ) -> Result<Predictions, OnnxError> {
        match &self.model {
            Net::Onnx(model) => {
                let out = model.run(self.inputs(ids, masked, targets)).await?;
                Predictions::read(&out, ids.len(), self.manifest.vocab, popovers)
            }
            #[cfg(test)]
            Net::Fake(fake) => Ok(fake.predict(masked, targets, popovers)),
        }
    }

    /// One generation call: the logits at every position.
    async fn logits(&self, ids: &[u32], masked: &[bool], targets: &[u32]) -> Result<Vec<f32>, OnnxError> {
        match &self.model {
            Net::Onnx(model) => {
                let logits = model.run(self.inputs(ids, masked, targets)).await?.f32("logits")?;
                // One row per position, one logit per token (a stranger's graph may return any length).
                if logits.len() != ids.len() * self.manifest.vocab {
                    return Err(OnnxError::Runtime(format!(
                        "the model gave {} logits for {} positions and a vocabulary of {}",
                        logits.len(),
                        ids.len(),
                        self.manifest.vocab
                    )));
                }
                Ok(logits)
            }
            #[cfg(test)]
            Net::Fake(_) => Err(OnnxError::Runtime("the fake network does not generate".into())),
        }
    }

    fn window_count(&self, stream_len: usize) -> usize {
        let step = self.window_len() - 1;
        (stream_len.saturating_sub(1)).div_ceil(step)
    }

    /// Model calls a run makes: K per window for NELBO, one per scored token for the chain rules.
    fn calls_needed(&self, estimator: Estimator, stream: &[u32], windows: usize) -> u64 {
        match estimator {
            Estimator::Nelbo { steps, .. } => (windows * steps) as u64,
            _ => {
                (0..windows).map(|w| self.fixed(self.window(stream, w).1).iter().filter(|f| !**f).count() as u64).sum()
            }
        }
    }

    /// Tokens per window (each window scores this many new tokens).
    pub fn window_tokens(&self) -> usize {
        self.window_len() - 1
    }

    fn start(&self, text: &[u8], options: &MdlmScoreOptions) -> Result<MdlmScore, GolfError> {
        let estimator = options.estimator;
        if let Estimator::Nelbo { steps: 0, .. } = estimator {
            return Err(GolfError::BadSetting("the NELBO needs at least 1 masking rate (steps)".into()));
        }
        let (text, tokens, stream) = tokens::prepare(&self.tokenizer, self.manifest.bos_id, text)?;
        let windows = self.window_count(stream.len());
        let total_calls = self.calls_needed(estimator, &stream, windows);
        let n = tokens.len();
        let mut run = MdlmScore {
            estimator,
            popovers: options.popovers,
            all_tokens: n,
            all_bytes: text.len(),
            text,
            tokens,
            stream,
            scored: vec![None; n],
            side: Default::default(),
            acc: vec![0.0; n],
            windows,
            w: 0,
            masked: Vec::new(),
            revealed: 0,
            k: 0,
            calls: 0,
            total_calls,
            finished: n == 0,
        };
        if let Some(max) = options.max_tokens {
            self.truncate(&mut run, max);
        }
        Ok(run)
    }

    /// Keeps only the first `max_tokens` tokens of a run (and the text up to the end of the last one), so a slow
    /// chain rule can stop at a length it finishes in time. Windows are independent, so the kept tokens get exactly
    /// the bits a run over that prefix alone gives; a window already started is kept whole.
    fn truncate(&self, run: &mut MdlmScore, max_tokens: usize) {
        let started = if run.calls > 0 { ((run.w + 1) * self.window_tokens()).min(run.tokens.len()) } else { 0 };
        let n = max_tokens.max(started).max(1);
        if n >= run.tokens.len() {
            return;
        }
        let mut end = run.tokens[n - 1].orig.end;
        while !run.text.is_char_boundary(end) {
            end += 1;
        }
        run.text.truncate(end);
        run.tokens.truncate(n);
        run.stream.truncate(n + 1);
        run.scored.truncate(n);
        run.side = Default::default();
        run.acc.truncate(n);
        run.windows = self.window_count(run.stream.len());
        run.total_calls = self.calls_needed(run.estimator, &run.stream, run.windows);
    }
}

/// A chain rule makes one model call per token, window after window. From `done` of `total` calls taking
/// `spent_s` seconds, the tokens to keep so that the run ends within `budget_s` (whole windows of `window` tokens,
/// at least one); None while it fits, or before `MIN_CALLS` calls give a rate to go by.
pub fn tokens_within(done: u64, total: u64, spent_s: f64, budget_s: f64, window: usize) -> Option<usize> {
    const MIN_CALLS: u64 = 8;
    if done < MIN_CALLS || spent_s <= 0.0 {
        return None;
    }
    let rate = done as f64 / spent_s;
    if total as f64 / rate <= budget_s {
        return None;
    }
    let windows = ((rate * budget_s) / window as f64).floor().max(1.0) as usize;
    Some(windows * window)
}

impl Golfer for MdlmGolfer {
    type ScoreRun = MdlmScore;
    type GenerateRun = MdlmGeneration;

    fn info(&self) -> GolferInfo {
        self.manifest.info()
    }

    type ScoreOptions = MdlmScoreOptions;

    fn start_score(&self, text: &[u8], options: &MdlmScoreOptions) -> Result<MdlmScore, GolfError> {
        self.start(text, options)
    }

    fn progress_unit(&self) -> &'static str {
        "model calls"
    }

    fn scored_bytes(&self, run: &MdlmScore) -> Option<usize> {
        Some(run.text.len())
    }

    fn report(&self, run: &MdlmScore) -> Option<TokenReport> {
        let size = self.window_len();
        let side = tokens::side(&self.tokenizer, &run.text, &run.tokens, &run.side);
        let window = Window { size, stride: size - 1 };
        Some(tokens::report(&self.tokenizer, &run.text, &run.tokens, &run.stream, &run.scored, side, window))
    }

    fn scoring_method(&self, run: &MdlmScore) -> Option<String> {
        let mut method = run.estimator.describe();
        if run.tokens.len() < run.all_tokens {
            method += &format!(
                "; the first {} of {} tokens ({} of {} bytes)",
                run.tokens.len(),
                run.all_tokens,
                run.text.len(),
                run.all_bytes
            );
        }
        Some(method)
    }

    /// The chain rules make one call per token: a long text is cut to the whole windows that fit in the budget.
    /// The NELBO is never cut (it makes a fixed number of calls per window).
    fn fit_time(&self, run: &mut MdlmScore, spent_s: f64, budget_s: f64) -> Option<(usize, usize)> {
        if matches!(run.estimator, Estimator::Nelbo { .. }) {
            return None;
        }
        let keep = tokens_within(run.calls, run.total_calls, spent_s, budget_s, self.window_tokens())?;
        let before = run.tokens.len();
        self.truncate(run, keep);
        (run.tokens.len() < before).then_some((run.tokens.len(), run.all_tokens))
    }

    fn slot_info<'a>(&self, run: &'a MdlmGeneration, slot: usize) -> Option<&'a TokenInfo> {
        run.info.get(slot).and_then(Option::as_ref)
    }

    async fn score_step(&self, run: &mut MdlmScore) -> Result<ScoreStep, GolfError> {
        let progress = |run: &MdlmScore| Progress { done: run.calls, total: run.total_calls };
        while !run.finished {
            let (a, win) = self.window(&run.stream, run.w);
            let fixed = self.fixed(win);
            let next_window = match run.estimator {
                Estimator::Nelbo { steps, seed } => {
                    let t = self.t_eps + (1.0 - self.t_eps) * (run.k as f64 + 0.5) / steps as f64;
                    let masked: Vec<bool> = (0..win.len())
                        .map(|i| !fixed[i] && mask_uniform(seed, run.w as u64, run.k as u64, i as u64) < t)
                        .collect();
                    let called = masked.iter().any(|&m| m);
                    if called {
                        let pred = self.call(win, &masked, win, run.popovers).await?;
                        for i in (0..win.len()).filter(|&i| masked[i]) {
                            run.acc[a + i - 1] += -(pred.logprob2[i] as f64) / t / steps as f64;
                            // The popover shows the prediction from the lowest masking rate that hid the token;
                            // its bits are the accumulated estimate, filled in at the end.
                            if run.scored[a + i - 1].is_none() {
                                let note = format!("NELBO over {steps} masking rates; first hidden at t = {t:.3}");
                                run.scored[a + i - 1] = Some(pred.scored(i, Some(note)));
                            }
                        }
                    }
                    run.calls += 1;
                    run.k += 1;
                    let done = run.k == steps;
                    if done {
                        run.k = 0;
                    }
                    if called && !done {
                        return Ok(ScoreStep { spans: Vec::new(), progress: progress(run), finished: false });
                    }
                    done
                }
                Estimator::LeftToRight | Estimator::Confidence => {
                    if run.masked.is_empty() {
                        run.masked = fixed.iter().map(|f| !f).collect();
                        run.revealed = 0;
                    }
                    let to_reveal = run.masked.iter().filter(|&&m| m).count() + run.revealed;
                    if to_reveal > 0 && run.revealed < to_reveal {
                        let pred = self.call(win, &run.masked, win, run.popovers).await?;
                        let i = if run.estimator == Estimator::LeftToRight {
                            run.masked.iter().position(|&m| m).expect("a masked position")
                        } else {
                            let (conf, k) = (&pred.top_probs, pred.k);
                            let mut best: Option<usize> = None;
                            for j in (0..win.len()).filter(|&j| run.masked[j]) {
                                if best.is_none_or(|b| conf[j * k] > conf[b * k]) {
                                    best = Some(j);
                                }
                            }
                            best.expect("a masked position")
                        };
                        let note = format!("revealed {} of {} in its window", run.revealed + 1, to_reveal);
                        let mut s = pred.scored(i, Some(note));
                        s.revealed = Some(run.calls as u32);
                        run.scored[a + i - 1] = Some(s);
                        run.masked[i] = false;
                        run.revealed += 1;
                        run.calls += 1;
                    }
                    let done = !run.masked.iter().any(|&m| m);
                    if done {
                        run.masked.clear();
                    } else {
                        return Ok(ScoreStep { spans: Vec::new(), progress: progress(run), finished: false });
                    }
                    true
                }
            };
            if next_window {
                run.w += 1;
                if run.w == run.windows {
                    run.finished = true;
                } else if run.calls > 0 {
                    return Ok(ScoreStep { spans: Vec::new(), progress: progress(run), finished: false });
                }
            }
        }
        if matches!(run.estimator, Estimator::Nelbo { .. }) {
            for (i, s) in run.scored.iter_mut().enumerate() {
                let bits = run.acc[i];
                match s {
                    Some(s) => s.bits = bits,
                    // Never hidden at any of the K rates: this estimate charges it nothing.
                    None => {
                        *s = Some(Scored {
                            bits,
                            detail: Some("never masked in this estimate".into()),
                            ..Default::default()
                        })
                    }
                }
            }
        }
        let side = tokens::side(&self.tokenizer, &run.text, &run.tokens, &run.side);
        let spans: Vec<Span> = tokens::spans(&self.tokenizer, &run.text, &run.tokens, &run.scored, side, run.popovers);
        Ok(ScoreStep { spans, progress: progress(run), finished: true })
    }

    fn start_generate(&self, prompt: &str, settings: &GenerateSettings) -> Result<MdlmGeneration, GolfError> {
        if prompt.is_empty() {
            return Err(GolfError::EmptyPrompt);
        }
        if settings.chat {
            return Err(GolfError::NoChat { golfer: self.manifest.label.clone() });
        }
        let t = self.window_len();
        let slots = settings.max_steps.clamp(1, t / 2);
        let mut canvas = vec![self.manifest.bos_id];
        canvas.extend(crate::tokens::encode_ids(&self.tokenizer, prompt)?);
        // Keep the end of a long prompt: the canvas is one window.
        if canvas.len() + slots > t {
            canvas.drain(1..canvas.len() + slots - t + 1);
        }
        let start = canvas.len();
        canvas.extend(std::iter::repeat_n(self.mask_id, slots));
        Ok(MdlmGeneration {
            canvas,
            start,
            sampler: Sampler::new(settings.sampler),
            steps_left: settings.diffusion_steps.max(1),
            force_leftmost: settings.force_leftmost,
            step: 0,
            info: vec![None; slots],
        })
    }

    async fn generate_step(&self, run: &mut MdlmGeneration) -> Result<GenerateStep, GolfError> {
        let masked: Vec<bool> = run.canvas.iter().map(|&id| id == self.mask_id).collect();
        let remaining = masked.iter().filter(|&&m| m).count();
        if remaining == 0 {
            return Ok(GenerateStep { finished: true, canvas: Some(self.canvas_text(run)), ..Default::default() });
        }
        // Targets only feed the scoring outputs; [MASK] is outside the vocabulary, so give any in-range id.
        let targets: Vec<u32> = run.canvas.iter().map(|&id| if id == self.mask_id { 0 } else { id }).collect();
        let logits = self.logits(&run.canvas, &masked, &targets).await?;
        let v = logits.len() / run.canvas.len();
        // A proposal for every masked slot: a sampled token and the probability it was drawn with.
        let mut proposals: Vec<(usize, u32, f64)> = Vec::with_capacity(remaining);
        for i in (0..run.canvas.len()).filter(|&i| masked[i]) {
            let dist = run.sampler.distribution(&tokens::sampleable(&self.tokenizer, &logits[i * v..(i + 1) * v]), &[]);
            let id = run.sampler.draw(&dist);
            let p = dist.iter().find(|&&(j, _)| j == id).map_or(0.0, |&(_, p)| p);
            proposals.push((i, id as u32, p));
        }
        let n = remaining.div_ceil(run.steps_left);
        if !run.force_leftmost {
            // Most confident first; equal confidence: leftmost first.
            proposals.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        }
        for &(i, id, p) in proposals.iter().take(n) {
            run.canvas[i] = id;
            let row = &logits[i * v..(i + 1) * v];
            let mut info = crate::ar::describe_logits(&self.tokenizer, row, id);
            info.detail = Some(format!("committed at step {} with probability {p:.3}", run.step + 1));
            info.revealed = Some(run.step as u32);
            run.info[i - run.start] = Some(info);
        }
        run.step += 1;
        run.steps_left = run.steps_left.saturating_sub(1).max(1);
        let finished = remaining <= n;
        Ok(GenerateStep { canvas: Some(self.canvas_text(run)), finished, ..Default::default() })
    }
}

impl MdlmGolfer {
    /// The generated slots: text for committed tokens, None for those still masked.
    fn canvas_text(&self, run: &MdlmGeneration) -> Vec<Option<String>> {
        run.canvas[run.start..].iter().map(|&id| (id != self.mask_id).then(|| self.tokenizer.token_text(id))).collect()
    }
}

pub struct MdlmGeneration {
    canvas: Vec<u32>,
    /// Where the generated slots start (after the start token and the prompt).
    start: usize,
    sampler: Sampler,
    steps_left: usize,
    force_leftmost: bool,
    step: usize,
    /// Each slot's popover, from the step that committed it.
    info: Vec<Option<TokenInfo>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use golf_core::block_on;
    use std::sync::Mutex;

    /// A network whose answers depend only on the ids: the bits of target `t` are `bits_of(t)` whatever is
    /// masked, and position `j`'s confidence is a fixed shuffle of the positions, so each estimator's bookkeeping
    /// can be checked against a count made here. It records each call's mask.
    #[derive(Default)]
    pub(super) struct Fake {
        calls: Mutex<Vec<Vec<bool>>>,
    }

    fn bits_of(target: u32) -> f64 {
        1.0 + (target % 7) as f64
    }

    /// Position `j`'s confidence: distinct for the first 29 positions, in an order that is not left to right.
    fn confidence(j: usize) -> f32 {
        ((j * 11) % 29) as f32 / 29.0
    }

    impl Fake {
        pub(super) fn predict(&self, masked: &[bool], targets: &[u32], popovers: bool) -> Predictions {
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(masked.to_vec());
            }
            let logprob2 = targets.iter().map(|&t| -bits_of(t) as f32).collect();
            let top_probs = (0..targets.len()).map(confidence).collect();
            Predictions::made_up(logprob2, top_probs, targets, popovers)
        }
    }

    const TEXT: &[u8] = b"The adrenal glands are small organs above the kidneys. They make hormones such as cortisol, \
        which helps the body respond to stress, and adrenaline.";

    /// The committed diffusion golfer's manifest and tokenizer, windows of `context` tokens, over the fake.
    fn golfer(context: usize) -> MdlmGolfer {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/mdlm");
        let json = std::fs::read_to_string(format!("{dir}/golfer.json")).expect("models/mdlm/golfer.json");
        let mut manifest = Manifest::parse(&json, "golfer.json").expect("its manifest");
        manifest.context = context;
        let bytes = std::fs::read(format!("{dir}/{}", manifest.tokenizer.file)).expect("its tokenizer");
        let tokenizer = manifest.load_tokenizer(&bytes).expect("a tokenizer");
        let mask_id = manifest.mask_id.expect("a mask id");
        MdlmGolfer { model: Net::Fake(Fake::default()), tokenizer, mask_id, t_eps: 1e-3, manifest }
    }

    fn score(g: &MdlmGolfer, estimator: Estimator) -> MdlmScore {
        let options = MdlmScoreOptions { estimator, popovers: true, max_tokens: None };
        let mut run = g.start_score(TEXT, &options).expect("a run");
        while !block_on(g.score_step(&mut run)).expect("a step").finished {}
        run
    }

    fn calls(g: &MdlmGolfer) -> Vec<Vec<bool>> {
        match &g.model {
            Net::Fake(f) => f.calls.lock().map(|c| c.clone()).unwrap_or_default(),
            Net::Onnx(_) => Vec::new(),
        }
    }

    #[test]
    fn chain_rules_charge_every_token_once_in_their_order() {
        for estimator in [Estimator::LeftToRight, Estimator::Confidence] {
            let g = golfer(9);
            let run = score(&g, estimator);
            let n = run.tokens.len();
            assert!(run.windows >= 4, "the text spans several windows ({n} tokens)");
            // One call per token, each masking exactly the window's positions not yet revealed.
            let calls = calls(&g);
            assert_eq!(calls.len(), n, "{estimator:?}");
            assert_eq!(run.calls as usize, n);
            for w in 0..run.windows {
                let (a, win) = g.window(&run.stream, w);
                let mut order: Vec<(u32, usize)> = (1..win.len())
                    .map(|j| (run.scored[a + j - 1].as_ref().and_then(|s| s.revealed).unwrap(), j))
                    .collect();
                order.sort();
                let revealed: Vec<usize> = order.iter().map(|&(_, j)| j).collect();
                let mut want: Vec<usize> = (1..win.len()).collect();
                if estimator == Estimator::Confidence {
                    // Most confident first; ties to the left.
                    want.sort_by(|&x, &y| confidence(y).total_cmp(&confidence(x)).then(x.cmp(&y)));
                }
                assert_eq!(revealed, want, "{estimator:?}, window {w}");
                for (step, &(call, _)) in order.iter().enumerate() {
                    let masked = calls[call as usize].iter().filter(|&&m| m).count();
                    assert_eq!(masked, win.len() - 1 - step, "{estimator:?}, window {w}: call {call} hides the rest");
                }
            }
            for (i, s) in run.scored.iter().enumerate() {
                assert_eq!(s.as_ref().map(|s| s.bits), Some(bits_of(run.stream[i + 1])), "{estimator:?} token {i}");
            }
        }
    }

    #[test]
    fn nelbo_charges_each_hidden_token_its_bits_over_t_at_every_rate() {
        let (steps, seed) = (5, 7);
        let g = golfer(9);
        let run = score(&g, Estimator::Nelbo { steps, seed });
        let mut want = vec![0.0; run.tokens.len()];
        let mut calls_made = 0;
        for w in 0..run.windows {
            let (a, win) = g.window(&run.stream, w);
            for k in 0..steps {
                let t = 1e-3 + (1.0 - 1e-3) * (k as f64 + 0.5) / steps as f64;
                let hidden: Vec<usize> =
                    (1..win.len()).filter(|&j| mask_uniform(seed, w as u64, k as u64, j as u64) < t).collect();
                calls_made += usize::from(!hidden.is_empty());
                for j in hidden {
                    want[a + j - 1] += bits_of(win[j]) / t / steps as f64;
                }
            }
        }
        assert_eq!(calls(&g).len(), calls_made, "a rate that hides nothing makes no call");
        assert_eq!(run.calls as usize, run.windows * steps, "progress counts every rate");
        for (i, s) in run.scored.iter().enumerate() {
            let s = s.as_ref().expect("every token has a score");
            assert!((s.bits - want[i]).abs() < 1e-9, "token {i}: {} bits, {} counted here", s.bits, want[i]);
            if want[i] == 0.0 {
                assert_eq!(s.detail.as_deref(), Some("never masked in this estimate"));
            }
        }
    }

    #[test]
    fn chain_rules_are_cut_to_whole_windows_that_fit() {
        // 10 calls in 1 s: 10 tokens/s; 1,000 calls would take 100 s.
        assert_eq!(tokens_within(10, 1000, 1.0, 30.0, 100), Some(300));
        assert_eq!(tokens_within(10, 250, 1.0, 30.0, 100), None, "fits in 25 s");
        assert_eq!(tokens_within(4, 1000, 1.0, 30.0, 100), None, "too early to tell");
        assert_eq!(tokens_within(10, 1000, 10.0, 30.0, 100), Some(100), "at least one window");
    }
}
