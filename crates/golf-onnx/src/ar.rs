//! Autoregressive golfers (the Parameter Golf AR model and SmolLM2, which differ only in manifest and tokenizer):
//! scoring as a true code length over a KV cache, and generation one token per step.
//!
//! Scoring: the token stream is `<s>` followed by the text's tokens; each token is predicted from the ones before
//! it. The model sees at most `window` tokens: the stream is cut into windows that start every `stride` tokens,
//! each prefilled in chunks over a fresh KV cache, and each token is charged in the first window that predicts it.
//! `stride == window` is Parameter Golf's `eval_val` (non-overlapping windows); a smaller stride is a sliding window.

use golf_core::{
    Alternative, GenerateSettings, GenerateStep, GolfError, Golfer, GolferInfo, Progress, Sampler, ScoreStep, Span,
    TokenInfo, Utf8Stream,
};
use golf_tokenize::{TextTokenizer, Token};

use crate::manifest::Manifest;
use crate::runtime::{Input, Model, Value};
use crate::tokens::{self, Predictions, Scored};
use crate::OnnxError;
use golf_core::TokenReport;

/// Tokens prefilled per model call while scoring.
const SCORE_CHUNK: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub size: usize,
    pub stride: usize,
}

pub struct ArGolfer {
    model: Model,
    /// The manifest's own decode step for generation (SmolLM2's 4-bit kernels), where it names one.
    decoder: Option<golf_llama::Llama>,
    pub tokenizer: TextTokenizer,
    pub manifest: Manifest,
    /// The manifest's window: its context, and its stride for scoring.
    window: Window,
}

/// How one text is scored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArScoreOptions {
    /// Start a new window every this many tokens, from 1 to the window size (default: the manifest's stride).
    pub stride: Option<usize>,
    /// Keep each token's popover (top-k, rank, entropy) in the spans; off, a score keeps bits only, as a big
    /// text needs.
    pub popovers: bool,
}

/// Where a windowed score is. Windows start every `stride` tokens and hold at most `size`; each is fed in calls
/// of up to [`SCORE_CHUNK`] tokens over its own cache, and a position is charged by the first call that reaches
/// it. Kept apart from the model so that its bookkeeping is tested on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Walk {
    window: Window,
    /// Positions to score (the text's tokens).
    n: usize,
    window_start: usize,
    pos: usize,
    finished: bool,
}

/// One model call of a walk: feed `stream[from..to]`, over the window's cache unless `fresh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Call {
    from: usize,
    to: usize,
    fresh: bool,
}

impl Walk {
    fn new(window: Window, n: usize) -> Walk {
        Walk { window, n, window_start: 0, pos: 0, finished: n == 0 }
    }

    /// The next call, or None when every position is charged.
    fn next(&self) -> Option<Call> {
        if self.finished {
            return None;
        }
        let window_end = (self.window_start + self.window.size).min(self.n);
        let to = (self.pos + SCORE_CHUNK).min(window_end);
        Some(Call { from: self.pos, to, fresh: self.pos == self.window_start })
    }

    /// Moves past `call`: on in its window, to the next window (a fresh cache from the next stride), or done.
    fn advance(&mut self, call: Call) {
        let window_end = (self.window_start + self.window.size).min(self.n);
        self.pos = call.to;
        if call.to == self.n {
            self.finished = true;
        } else if call.to == window_end {
            self.window_start += self.window.stride;
            self.pos = self.window_start;
        }
    }
}

pub struct ArScore {
    window: Window,
    walk: Walk,
    popovers: bool,
    text: String,
    tokens: Vec<Token>,
    /// `<s>` then the token ids: position i predicts `stream[i + 1]`.
    stream: Vec<u32>,
    scored: Vec<Option<Scored>>,
    /// How many of `scored` are set (counted, not recounted: a step must not cost O(text)).
    done: usize,
    side: tokens::SideCell,
    cache: Option<Vec<Value>>,
}

impl ArGolfer {
    pub async fn load(manifest: Manifest, onnx: &[u8], tokenizer: &[u8]) -> Result<ArGolfer, OnnxError> {
        let tokenizer = manifest.load_tokenizer(tokenizer)?;
        let model = Model::from_bytes(onnx).await?;
        manifest.check_graph(&model.signature()?)?;
        let window = Window { size: manifest.context, stride: manifest.stride.unwrap_or(manifest.context) };
        let decoder = match manifest.decoder {
            #[cfg(not(target_arch = "wasm32"))]
            Some(_) if crate::runtime::native::graph_decode() => None,
            Some(_) if crate::runtime::on_gpu() => None,
            Some(crate::Decoder::Llama) => {
                let shape = golf_llama::Shape {
                    layers: manifest.layers,
                    kv_heads: manifest.kv_heads,
                    head_dim: manifest.head_dim,
                };
                #[cfg(not(target_arch = "wasm32"))]
                let threads = crate::runtime::native::threads();
                #[cfg(target_arch = "wasm32")]
                let threads = 1;
                Some(golf_llama::Llama::from_onnx(onnx, shape, threads)?)
            }
            None => None,
        };
        Ok(ArGolfer { model, decoder, tokenizer, manifest, window })
    }

    fn empty_cache(&self) -> Vec<Input> {
        let m = &self.manifest;
        (0..2 * m.layers)
            .map(|_| Input::F32 { shape: vec![1, m.kv_heads as i64, 0, m.head_dim as i64], data: Vec::new() })
            .collect()
    }

    /// One call: feeds `ids` (with `targets`, the token after each) over `cache`; returns the outputs and the
    /// new cache.
    async fn call(
        &self,
        ids: &[u32],
        targets: &[u32],
        cache: Option<Vec<Value>>,
    ) -> Result<(crate::runtime::Outputs, Vec<Value>), OnnxError> {
        let mut out = self.call_outputs(ids, targets, cache).await?;
        let present = self.cache_names().iter().map(|(_, name)| out.take(name)).collect::<Result<_, _>>()?;
        Ok((out, present))
    }

    /// [`Self::call`]'s outputs, the new cache among them.
    async fn call_outputs(
        &self,
        ids: &[u32],
        targets: &[u32],
        cache: Option<Vec<Value>>,
    ) -> Result<crate::runtime::Outputs, OnnxError> {
        let t = ids.len() as i64;
        let mut inputs = vec![
            ("input_ids", Input::I64 { shape: vec![1, t], data: ids.iter().map(|&i| i as i64).collect() }),
            ("targets", Input::I64 { shape: vec![1, t], data: targets.iter().map(|&i| i as i64).collect() }),
        ];
        let past: Vec<Input> = match cache {
            Some(values) => values.into_iter().map(Input::Value).collect(),
            None => self.empty_cache(),
        };
        let names = self.cache_names();
        for (name, value) in names.iter().zip(past) {
            inputs.push((name.0.as_str(), value));
        }
        self.model.run(inputs).await
    }

    /// The next token's logits after `ids`, fed over the run's cache: one step of our decoder where there is one
    /// and the ids are one token it has the cache for; else the graph (a prompt, or a window started again),
    /// whose cache the decoder then takes over.
    async fn next_logits(&self, run: &mut ArGeneration, ids: &[u32]) -> Result<Vec<f32>, OnnxError> {
        let decoder = self.decoder.as_ref().filter(|_| !run.on_graph);
        if let (Some(decoder), Some(cache), [id]) = (decoder, &mut run.decoded, ids) {
            return Ok(decoder.step(*id, cache));
        }
        let Some(decoder) = decoder else {
            let (out, cache) = self.call(ids, ids, run.cache.take()).await?;
            run.cache = Some(cache);
            return self.last_logits(&out);
        };
        let (logits, cache) = self.prefill_for(decoder, ids).await?;
        run.decoded = Some(cache);
        Ok(logits)
    }

    /// `ids` through the graph from an empty cache: the last position's logits and the cache, for `decoder`.
    async fn prefill_for(
        &self,
        decoder: &golf_llama::Llama,
        ids: &[u32],
    ) -> Result<(Vec<f32>, golf_llama::Cache), OnnxError> {
        let out = self.call_outputs(ids, ids, None).await?;
        let present = (0..self.manifest.layers)
            .map(|i| Ok((out.f32(&format!("present_key_{i}"))?, out.f32(&format!("present_value_{i}"))?)))
            .collect::<Result<Vec<_>, OnnxError>>()?;
        Ok((self.last_logits(&out)?, decoder.cache_from_present(&present)?))
    }

    /// log2 p(ids[i + 1] | ids[..=i]) for i from `prefill - 1` on, the way generation computes them: `ids[..prefill]`
    /// through the graph, then one token per step through the golfer's decoder (for its parity test against a
    /// float64 reference). An error where the golfer has no decoder.
    pub async fn decoder_logprobs(&self, ids: &[u32], prefill: usize) -> Result<Vec<f64>, GolfError> {
        let decoder = self.decoder.as_ref().ok_or_else(|| {
            GolfError::BadSetting(format!(
                "{} has no decoder of its own (its manifest names none)",
                self.manifest.label
            ))
        })?;
        if prefill == 0 || prefill >= ids.len() {
            return Err(GolfError::BadSetting(format!(
                "the prefill must be from 1 to {}, not {prefill}",
                ids.len() - 1
            )));
        }
        let (mut logits, mut cache) = self.prefill_for(decoder, &ids[..prefill]).await?;
        let mut out = Vec::with_capacity(ids.len() - prefill);
        for (i, &next) in ids.iter().enumerate().skip(prefill) {
            let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
            let z: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
            out.push((logits[next as usize] as f64 - max - z.ln()) / std::f64::consts::LN_2);
            if i + 1 < ids.len() {
                logits = decoder.step(next, &mut cache);
            }
        }
        Ok(out)
    }

    /// The last position's logits, one per token of the vocabulary (a stranger's graph may return any length).
    fn last_logits(&self, out: &crate::runtime::Outputs) -> Result<Vec<f32>, OnnxError> {
        let logits = out.f32("last_logits")?;
        if logits.len() != self.manifest.vocab {
            return Err(OnnxError::Runtime(format!(
                "the model gave {} last_logits for a vocabulary of {}",
                logits.len(),
                self.manifest.vocab
            )));
        }
        Ok(logits)
    }

    fn cache_names(&self) -> Vec<(String, String)> {
        (0..self.manifest.layers)
            .flat_map(|i| ["key", "value"].map(|k| (format!("past_{k}_{i}"), format!("present_{k}_{i}"))))
            .collect()
    }

    /// The next-token logits after `ids` computed from scratch, without a KV cache: the inspiration page's way
    /// of generating (a full forward pass over the window for every new token), kept for the benchmark.
    pub async fn next_logits_uncached(&self, ids: &[u32]) -> Result<Vec<f32>, OnnxError> {
        let (out, _) = self.call(ids, ids, None).await?;
        self.last_logits(&out)
    }

    /// A token as text (`▁` as a space; part of a character as U+FFFD).
    pub fn piece_text(&self, id: u32) -> String {
        self.tokenizer.token_text(id)
    }

    /// The prompt as one user turn of the model's ChatML template, ending where the assistant's answer starts.
    /// Control tokens are inserted by id; the texts between them are tokenized as plain text.
    fn chat_prompt(&self, prompt: &str) -> Result<Vec<u32>, GolfError> {
        let chat =
            self.manifest.chat.as_ref().ok_or_else(|| GolfError::NoChat { golfer: self.manifest.label.clone() })?;
        let mut ids = Vec::new();
        for (role, content) in [("system", chat.system.as_str()), ("user", prompt)] {
            ids.push(chat.im_start);
            ids.extend(crate::tokens::encode_ids(&self.tokenizer, &format!("{role}\n{content}"))?);
            ids.push(chat.im_end);
            ids.extend(crate::tokens::encode_ids(&self.tokenizer, "\n")?);
        }
        ids.push(chat.im_start);
        ids.extend(crate::tokens::encode_ids(&self.tokenizer, "assistant\n")?);
        Ok(ids)
    }

    /// Whether generation decodes with a decoder of ours (the manifest's `decoder`) rather than the graph.
    pub fn has_decoder(&self) -> bool {
        self.decoder.is_some()
    }

    /// [`Golfer::start_generate`], decoding every token through the graph even where the golfer has a decoder
    /// of its own (the benchmark compares the two).
    pub fn start_generate_on_graph(
        &self,
        prompt: &str,
        settings: &GenerateSettings,
    ) -> Result<ArGeneration, GolfError> {
        let mut run = self.start_generate(prompt, settings)?;
        run.on_graph = true;
        Ok(run)
    }

    /// The manifest's window: the context, and the stride scoring uses unless told otherwise.
    pub fn window(&self) -> Window {
        self.window
    }

    fn spans(&self, run: &ArScore) -> Vec<Span> {
        let side = tokens::side(&self.tokenizer, &run.text, &run.tokens, &run.side);
        tokens::spans(&self.tokenizer, &run.text, &run.tokens, &run.scored, side, run.popovers)
    }
}

impl Golfer for ArGolfer {
    type ScoreRun = ArScore;
    type GenerateRun = ArGeneration;
    type ScoreOptions = ArScoreOptions;

    fn info(&self) -> GolferInfo {
        self.manifest.info()
    }

    fn start_score(&self, text: &[u8], options: &ArScoreOptions) -> Result<ArScore, GolfError> {
        let size = self.window.size;
        let stride = options.stride.unwrap_or(self.window.stride);
        if stride == 0 || stride > size {
            return Err(GolfError::BadSetting(format!(
                "the stride must be from 1 to the window size ({size} tokens), not {stride}"
            )));
        }
        let (text, tokens, stream) = tokens::prepare(&self.tokenizer, self.manifest.bos_id, text)?;
        let n = tokens.len();
        Ok(ArScore {
            window: Window { size, stride },
            walk: Walk::new(Window { size, stride }, n),
            popovers: options.popovers,
            text,
            tokens,
            stream,
            scored: vec![None; n],
            done: 0,
            side: Default::default(),
            cache: None,
        })
    }

    fn report(&self, run: &ArScore) -> Option<TokenReport> {
        let side = tokens::side(&self.tokenizer, &run.text, &run.tokens, &run.side);
        Some(tokens::report(&self.tokenizer, &run.text, &run.tokens, &run.stream, &run.scored, side, run.window))
    }

    async fn score_step(&self, run: &mut ArScore) -> Result<ScoreStep, GolfError> {
        let n = run.tokens.len();
        let progress = |run: &ArScore| Progress { done: run.done as u64, total: n as u64 };
        if let Some(call) = run.walk.next() {
            let cache = if call.fresh { None } else { run.cache.take() };
            let (ids, targets) = (&run.stream[call.from..call.to], &run.stream[call.from + 1..call.to + 1]);
            let (out, cache) = self.call(ids, targets, cache).await?;
            let pred = Predictions::read(&out, ids.len(), self.manifest.vocab, run.popovers)?;
            for j in 0..ids.len() {
                let at = call.from + j;
                if run.scored[at].is_none() {
                    run.scored[at] = Some(pred.scored(j, None));
                    run.done += 1;
                }
            }
            run.cache = Some(cache);
            run.walk.advance(call);
            if !run.walk.finished {
                return Ok(ScoreStep { spans: Vec::new(), progress: progress(run), finished: false });
            }
        }
        Ok(ScoreStep { spans: self.spans(run), progress: progress(run), finished: true })
    }

    fn start_generate(&self, prompt: &str, settings: &GenerateSettings) -> Result<ArGeneration, GolfError> {
        if prompt.is_empty() {
            return Err(GolfError::EmptyPrompt);
        }
        let mut context = if settings.chat {
            self.chat_prompt(prompt)?
        } else {
            let mut ids = vec![self.manifest.bos_id];
            ids.extend(crate::tokens::encode_ids(&self.tokenizer, prompt)?);
            ids
        };
        let keep = self.window.size / 2;
        if context.len() > keep {
            context.drain(1..context.len() - keep + 1);
        }
        Ok(ArGeneration {
            pending: context.clone(),
            context,
            cache: None,
            decoded: None,
            on_graph: false,
            cache_len: 0,
            sampler: Sampler::new(settings.sampler),
            settings: settings.clone(),
            utf8: Utf8Stream::new(),
            steps: 0,
            bytes: 0,
            finished: false,
        })
    }

    async fn generate_step(&self, run: &mut ArGeneration) -> Result<GenerateStep, GolfError> {
        if run.finished || run.steps >= run.settings.max_steps || run.bytes >= run.settings.max_bytes {
            run.finished = true;
            return Ok(GenerateStep { text: run.utf8.finish(), finished: true, ..Default::default() });
        }
        if run.cache_len + run.pending.len() > self.window.size {
            // The window is full: start again from the most recent half of the context.
            let keep = self.window.size / 2;
            run.pending = run.context[run.context.len() - keep..].to_vec();
            run.cache = None;
            run.decoded = None;
            run.cache_len = 0;
        }
        let ids = std::mem::take(&mut run.pending);
        let logits = self.next_logits(run, &ids).await?;
        run.cache_len += ids.len();
        let recent = &run.context[run.context.len().saturating_sub(64)..];
        let id = run.sampler.sample(&tokens::sampleable(&self.tokenizer, &logits), recent) as u32;
        if self.manifest.stop_ids.contains(&id) {
            // End of the answer (`<|im_end|>`): nothing to show for it.
            run.finished = true;
            return Ok(GenerateStep { text: run.utf8.finish(), finished: true, ..Default::default() });
        }
        let info = describe_logits(&self.tokenizer, &logits, id);
        run.context.push(id);
        run.pending = vec![id];
        run.steps += 1;
        let bytes = self.tokenizer.token_bytes(id);
        run.bytes += bytes.len();
        let text = run.utf8.push(&bytes);
        Ok(GenerateStep { text, bytes, token: Some(info), finished: false, canvas: None })
    }
}

/// The popover for a sampled token: its rank, the ten most likely tokens and the entropy, at temperature 1.
pub(crate) fn describe_logits(tok: &TextTokenizer, logits: &[f32], id: u32) -> TokenInfo {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let z: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    let p = |l: f32| (l as f64 - max).exp() / z;
    // The ten most likely, without sorting the whole vocabulary (49,152 logits: milliseconds per token).
    let by_logit = |&a: &usize, &b: &usize| logits[b].total_cmp(&logits[a]).then(a.cmp(&b));
    let mut order: Vec<usize> = (0..logits.len()).collect();
    if order.len() > 10 {
        order.select_nth_unstable_by(9, by_logit);
        order.truncate(10);
    }
    order.sort_by(by_logit);
    let entropy = logits.iter().map(|&l| p(l)).filter(|&q| q > 0.0).map(|q| -q * q.log2()).sum::<f64>();
    TokenInfo {
        text: tok.token_text(id),
        rank: Some(1 + logits.iter().filter(|&&l| l > logits[id as usize]).count() as u32),
        top_k: order
            .iter()
            .take(10)
            .map(|&i| Alternative { text: tok.token_text(i as u32), prob: p(logits[i]) as f32 })
            .collect(),
        entropy: Some(entropy as f32),
        detail: Some(format!("{:.2} bits", -p(logits[id as usize]).log2())),
        revealed: None,
        restore_bits: None,
    }
}

pub struct ArGeneration {
    context: Vec<u32>,
    pending: Vec<u32>,
    cache: Option<Vec<Value>>,
    /// The cache of the golfer's own decoder, once a prompt was prefilled (then `cache` stays empty).
    decoded: Option<golf_llama::Cache>,
    /// Every step through the graph even where the golfer has a decoder (to compare them).
    on_graph: bool,
    cache_len: usize,
    sampler: Sampler,
    settings: GenerateSettings,
    utf8: Utf8Stream,
    steps: usize,
    bytes: usize,
    finished: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a walk to its end: for each position, the context the call that charged it gave it (tokens of the
    /// window up to and including it), and the number of calls.
    fn walk(size: usize, stride: usize, n: usize) -> (Vec<usize>, usize) {
        let mut w = Walk::new(Window { size, stride }, n);
        let mut charged_with = vec![0; n];
        let mut calls = 0;
        while let Some(call) = w.next() {
            calls += 1;
            assert!(call.to > call.from && call.to - call.from <= SCORE_CHUNK, "{call:?}");
            assert!(call.to - w.window_start <= size, "a call reaches past its window: {call:?}");
            for (at, c) in charged_with.iter_mut().enumerate().take(call.to).skip(call.from) {
                if *c == 0 {
                    *c = at - w.window_start + 1;
                }
            }
            w.advance(call);
        }
        (charged_with, calls)
    }

    #[test]
    fn non_overlapping_windows_charge_each_token_once_as_eval_val_does() {
        let (ctx, calls) = walk(512, 512, 1300);
        // Windows 0..512, 512..1024, 1024..1300: position i sees i mod 512 tokens before it, and itself.
        assert!(ctx.iter().enumerate().all(|(i, &c)| c == i % 512 + 1));
        assert_eq!(calls, 4 + 4 + 3);
    }

    #[test]
    fn a_sliding_window_gives_every_later_token_at_least_size_minus_stride_of_context() {
        for (size, stride, n) in [(256, 64, 1000), (512, 128, 513), (128, 1, 300), (1024, 1000, 2500)] {
            let (ctx, _) = walk(size, stride, n);
            for (i, &c) in ctx.iter().enumerate() {
                assert!(c >= 1 && c <= size, "{size}/{stride}: position {i} charged with {c}");
                if i >= size {
                    assert!(c > size - stride, "{size}/{stride}: position {i} has only {c} tokens of context");
                }
            }
        }
    }

    #[test]
    fn an_empty_text_needs_no_call() {
        assert_eq!(walk(512, 512, 0), (vec![], 0));
    }
}
