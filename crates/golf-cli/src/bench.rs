//! `golf bench`: throughput numbers measured in one run, ratios against a baseline from the same run.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use golf_gzip::{score_blocking, Dry, GzipGolfer, GzipScoreOptions, Method};

use crate::locate;

/// The committed text the speed measurements run on (FineWeb documents, in the repository's samples/).
const SAMPLE: &str = "fineweb-val-first-docs.txt";

/// Best of `runs` timings, in seconds.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("runs > 0"))
}

/// Prefill and decode speed (golf_onnx::speed, the same measurement the page's `?bench=` mode makes).
/// `golf bench` for one golfer, by its kind: gzip against zlib on the data's texts, a neural golfer's speed (and
/// for the small AR golfers, generation with and without the KV cache).
pub struct Bench {
    pub data: std::path::PathBuf,
    pub tokens: usize,
    pub compare_cache: bool,
    /// Print the neural golfers' speed as JSON (golf_onnx::speed::Speed) instead of lines.
    pub json: bool,
}

impl golf_engine::PerKind for Bench {
    type Out = Result<()>;
    fn gzip(self, _: &golf_gzip::GzipGolfer) -> Result<()> {
        anyhow::ensure!(!self.json, "bench --json is for the autoregressive golfers (ar, smollm2, --model)");
        run(&self.data)
    }
    fn autoregressive(self, golfer: &golf_onnx::ArGolfer) -> Result<()> {
        onnx_speed(golfer, self.json)?;
        if self.compare_cache {
            ar_generation(golfer, self.tokens)?;
        }
        Ok(())
    }
    fn diffusion(self, golfer: &golf_onnx::MdlmGolfer) -> Result<()> {
        anyhow::ensure!(!self.json, "bench --json is for the autoregressive golfers (ar, smollm2, --model)");
        mdlm_speed(golfer)
    }
}

/// `golf decoder-logprobs`: an autoregressive golfer's decoder, token by token (the others have none).
pub struct DecoderLogprobs {
    pub ids: Vec<u32>,
    pub prefill: usize,
}

impl golf_engine::PerKind for DecoderLogprobs {
    type Out = Result<()>;
    fn gzip(self, _: &golf_gzip::GzipGolfer) -> Result<()> {
        anyhow::bail!("gzip has no decoder")
    }
    fn autoregressive(self, golfer: &golf_onnx::ArGolfer) -> Result<()> {
        let vocab = golfer.manifest.vocab;
        if let Some(id) = self.ids.iter().find(|&&id| id as usize >= vocab) {
            anyhow::bail!("--ids has {id}, outside {}'s vocabulary of {vocab} tokens", golfer.manifest.label);
        }
        anyhow::ensure!(self.ids.len() >= 2, "--ids needs at least 2 token ids (a prefill and a token to predict)");
        let lp = golf_core::block_on(golfer.decoder_logprobs(&self.ids, self.prefill))?;
        outln!("{}", serde_json::to_string(&lp)?)?;
        Ok(())
    }
    fn diffusion(self, _: &golf_onnx::MdlmGolfer) -> Result<()> {
        anyhow::bail!("the diffusion golfer has no decoder")
    }
}

pub fn onnx_speed(golfer: &golf_onnx::ArGolfer, json: bool) -> Result<()> {
    let path = locate::sample(SAMPLE)?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read '{}'", path.display()))?;
    let t0 = Instant::now();
    let s = golf_core::block_on(golf_onnx::speed::measure(golfer, &text, 3, || t0.elapsed().as_secs_f64()))?;
    if json {
        outln!("{}", serde_json::to_string(&s)?)?;
        return Ok(());
    }
    outln!("{} speed, native ONNX Runtime {}:", golfer.manifest.label, threads_note())?;
    outln!("  prefill {} tokens   {:>8.1} tokens/s", s.prefill_tokens, s.prefill_tokens_per_s())?;
    let ours = s.decode_ms_per_token();
    match s.graph_decode_ms_per_token() {
        Some(graph) => {
            outln!("  decode {} tokens     {ours:>8.2} ms/token  (golf-llama's 4-bit kernels)", s.decode_tokens)?;
            outln!(
                "  decode on the graph  {graph:>8.2} ms/token  (ONNX Runtime; {:.2}x golf-llama's time)",
                graph / ours
            )?;
        }
        None => outln!("  decode {} tokens     {ours:>8.2} ms/token", s.decode_tokens)?,
    }
    Ok(())
}

/// The diffusion golfer's tokens/s under the chain rules (one model call per token) and NELBO (K calls per
/// window); the same measurement as the page's `?bench=mdlm`.
pub fn mdlm_speed(golfer: &golf_onnx::MdlmGolfer) -> Result<()> {
    let path = locate::sample(SAMPLE)?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read '{}'", path.display()))?;
    let t0 = Instant::now();
    let s = golf_core::block_on(golf_onnx::speed::measure_mdlm(golfer, &text, 3, || t0.elapsed().as_secs_f64()))?;
    outln!("{} speed, native ONNX Runtime {}, windows of {} tokens:", golfer.manifest.label, threads_note(), s.window)?;
    outln!(
        "  chain rule (l2r or confidence): {:>8.1} tokens/s  ({} reveals in {:.2} s; one model call per token)",
        s.chain_tokens_per_s(),
        s.chain_tokens,
        s.chain_seconds
    )?;
    outln!(
        "  NELBO, K = {}:                 {:>8.1} tokens/s  ({} tokens in {:.2} s; K calls per window)",
        s.nelbo_steps,
        s.nelbo_tokens_per_s(),
        s.nelbo_tokens,
        s.nelbo_seconds
    )?;
    Ok(())
}

fn threads_note() -> String {
    match golf_onnx::runtime::native::threads() {
        0 => format!("(default threads; {} cores)", std::thread::available_parallelism().map_or(1, |n| n.get())),
        n => format!("({n} threads)"),
    }
}

/// Generation with the KV cache against a full forward pass over the whole context for every token, greedy,
/// so both must produce the same tokens.
pub fn ar_generation(golfer: &golf_onnx::ArGolfer, tokens: usize) -> Result<()> {
    use golf_core::{block_on, GenerateSettings, Golfer, SamplerSettings};
    let prompt = "The history of the city";
    let settings = GenerateSettings {
        sampler: SamplerSettings { temperature: 0.0, repetition_penalty: 1.0, ..SamplerSettings::default() },
        max_bytes: usize::MAX,
        max_steps: tokens,
        chat: false,
        ..GenerateSettings::default()
    };
    let t = Instant::now();
    let mut run = golfer.start_generate(prompt, &settings)?;
    let mut cached = Vec::new();
    loop {
        let step = block_on(golfer.generate_step(&mut run))?;
        if step.finished {
            break;
        }
        cached.push(step.token.map(|t| t.text).unwrap_or_default());
    }
    let t_cached = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut ids = vec![golfer.manifest.bos_id];
    ids.extend(golfer.tokenizer.encode_ids(prompt)?);
    let mut full = Vec::new();
    for _ in 0..tokens {
        let window = &ids[ids.len().saturating_sub(golfer.window().size)..];
        let logits = block_on(golfer.next_logits_uncached(window))?;
        let best = (0..logits.len()).fold(0, |b, i| if logits[i] > logits[b] { i } else { b }) as u32;
        full.push(golfer.piece_text(best));
        ids.push(best);
    }
    let t_full = t.elapsed().as_secs_f64();
    let n = cached.len();
    outln!("AR generation, {n} tokens after {prompt:?}, greedy, window {}:", golfer.window().size)?;
    outln!(
        "  with the KV cache                   {:>7.2} ms/token ({:.0} tokens/s)",
        t_cached * 1e3 / n as f64,
        n as f64 / t_cached
    )?;
    outln!(
        "  full forward pass for every token  {:>7.2} ms/token ({:.0} tokens/s)",
        t_full * 1e3 / n as f64,
        n as f64 / t_full
    )?;
    outln!("  speed-up from the cache: {:.1}x", t_full / t_cached)?;
    outln!("  same tokens both ways: {}", if cached == full { "yes" } else { "NO" })?;
    Ok(())
}

pub fn run(data: &Path) -> Result<()> {
    let enwik = data.join("enwik8/enwik8-prefix.xml");
    let text = std::fs::read(&enwik).with_context(|| {
        format!(
            "cannot read '{}': the gzip benchmark needs the shared data's 4 MB enwik8 prefix (set GOLF_DATA or pass \
             --data DIR)",
            enwik.display()
        )
    })?;
    let mb = text.len() as f64 / 1e6;
    let exact = GzipGolfer::new(Method::Exact, Dry::default());
    let (bits_only, with_info) = (GzipScoreOptions { popovers: false }, GzipScoreOptions { popovers: true });
    let (t_bits, spans) = best_of(3, || score_blocking(&exact, &text, bits_only));
    let bpb = golf_core::Summary::of(&spans?, text.len() as u64).bpb;
    let (t_info, _) = best_of(3, || score_blocking(&exact, &text, with_info));
    outln!("gzip exact scoring, {} ({:.2} MB, {bpb:.4} bpb):", enwik.display(), mb)?;
    outln!("  bits only              {:.1} MB/s ({:.0} ms)", mb / t_bits, t_bits * 1e3)?;
    outln!("  with token details     {:.1} MB/s ({:.0} ms)", mb / t_info, t_info * 1e3)?;

    let fineweb = locate::sample(SAMPLE)?;
    let small = std::fs::read(&fineweb).with_context(|| format!("cannot read '{}'", fineweb.display()))?;
    let small = &small[..small.len().min(16 * 1024)];
    let (t_exact, _) = best_of(5, || score_blocking(&exact, small, bits_only));
    let marginal = GzipGolfer::new(Method::Marginal, Dry::default());
    let (t_marginal, _) = best_of(1, || score_blocking(&marginal, small, bits_only));
    outln!("marginal vs exact on the first {} bytes of {}:", small.len(), fineweb.display())?;
    outln!("  exact    {:.2} ms", t_exact * 1e3)?;
    outln!("  marginal {:.0} ms", t_marginal * 1e3)?;
    outln!("  marginal/exact time ratio: {:.0}x", t_marginal / t_exact)?;
    Ok(())
}
