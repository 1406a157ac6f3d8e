//! `golf`: score a text's bits per byte, generate, and benchmark, with the same code the page runs.

/// `println!` that hands back the error instead of panicking: a reader that has gone away (`golf ... | head`) ends
/// the program quietly (see [`main`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod bench;
mod eval;
mod locate;
mod progress;

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use golf_core::{block_on, GenerateSettings, GolfError, Golfer, GolferInfo, SamplerSettings, Span, TokenReport};
use golf_engine::{AnyGolfer, Command as EngineCommand, Engine, Event, Limits, Outcome, ScoreOptions, ScoreSummary};
use golf_gzip::{Dry, GzipGolfer, Method, GZIP_CONTAINER_BYTES, MARGINAL_MAX_BYTES};
use golf_onnx::Estimator;
use progress::Meter;

#[derive(Parser)]
#[command(
    name = "golf",
    version,
    about = "How do tiny language models behave? Bits per byte and generation, side by side."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GolferId {
    /// DEFLATE at zlib level 9 (bit-exact with zlib 1.2.13)
    Gzip,
    /// The Parameter Golf baseline architecture, int8, trained here (models/ar)
    Ar,
    /// SmolLM2-135M-Instruct, 4-bit, converted from its GGUF at set-up (models/smollm2)
    Smollm2,
    /// The masked diffusion LM, fp8 e4m3, trained here (models/mdlm)
    Mdlm,
}

/// How the diffusion golfer scores (`golf score` and `golf eval`).
#[derive(clap::Args, Clone, Copy)]
struct EstimatorFlags {
    /// The diffusion golfer's estimator
    #[arg(long, value_enum, default_value = "confidence")]
    estimator: EstimatorArg,
    /// The diffusion golfer's NELBO: number of masking rates
    #[arg(long, default_value_t = 64)]
    steps: usize,
    /// The diffusion golfer's NELBO: seed of the masks
    #[arg(long, default_value_t = 0)]
    mask_seed: u64,
}

impl EstimatorFlags {
    fn estimator(self) -> Estimator {
        self.estimator.estimator(self.steps, self.mask_seed)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum EstimatorArg {
    /// Negative ELBO over --steps masking rates with seeded masks: an upper bound
    Nelbo,
    /// Reveal tokens left to right, charging each as it is revealed: exact for that order
    L2r,
    /// Reveal the most confident masked position next: exact for that order
    Confidence,
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodArg {
    /// Decode the stream and charge every bit to the bytes it encodes (adds up to the stream exactly)
    Exact,
    /// 8 x (|deflate(text[..=i])| - |deflate(text[..i])|) per byte, as the inspiration page does
    Marginal,
}

/// Where the model folders and the shared data (large texts, for benchmarks) are.
#[derive(clap::Args, Clone)]
struct Places {
    /// Folder of model folders (default: models/ next to the current directory or the golf binary)
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    /// The shared data folder, for `golf bench`'s 4 MB enwik8 prefix (default: $GOLF_DATA, else ../shared/data
    /// beside the repository)
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// One model folder (a golfer.json and its files, such as `golf import` writes) instead of --golfer
    #[arg(long, global = true)]
    model: Option<PathBuf>,
}

impl Places {
    /// The golfer to run: --model's folder, else --golfer ([`Places::load_named`]).
    fn load(&self, golfer: GolferId, gzip: GzipGolfer) -> Result<AnyGolfer> {
        match &self.model {
            Some(dir) => Places::load_folder(dir),
            None => self.load_named(golfer, gzip),
        }
    }

    /// Golfer `golfer`: gzip as given, the others from their folder under the models folder, named as on the
    /// command line.
    fn load_named(&self, golfer: GolferId, gzip: GzipGolfer) -> Result<AnyGolfer> {
        if golfer == GolferId::Gzip {
            return Ok(AnyGolfer::Gzip(std::rc::Rc::new(gzip)));
        }
        let name = golfer.to_possible_value().expect("every golfer has a name");
        Places::load_folder(&locate::models_dir(self.models.as_deref())?.join(name.get_name()))
    }

    /// The golfer of model folder `dir`.
    fn load_folder(dir: &std::path::Path) -> Result<AnyGolfer> {
        block_on(golf_engine::load_folder(dir))
            .with_context(|| format!("cannot load the model folder {}", dir.display()))
    }
}

impl MethodArg {
    fn method(self) -> Method {
        match self {
            MethodArg::Exact => Method::Exact,
            MethodArg::Marginal => Method::Marginal,
        }
    }
}

impl EstimatorArg {
    fn estimator(self, steps: usize, seed: u64) -> Estimator {
        match self {
            EstimatorArg::Nelbo => Estimator::Nelbo { steps, seed },
            EstimatorArg::L2r => Estimator::LeftToRight,
            EstimatorArg::Confidence => Estimator::Confidence,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Bits, bits per byte and time for a text (FILE, or standard input when FILE is - or absent)
    #[command(after_help = format!(
        "The marginal method recompresses every prefix, so it takes O(N^2) time; it is limited to {} bytes. \
         Its per-byte bits are whole bytes' worth (mostly 0 or 8) and can be negative, because a longer prefix \
         can compress to fewer bytes. The exact method has neither problem.\n\n\
         Neural golfers report two bits-per-byte numbers: over the bytes of the text as given (the true code \
         length: the model's bits plus what restores the whitespace and characters that SentencePiece's \
         normalization changed), and under Parameter Golf's byte count (eval_val's piece-length rule), \
         comparable with val_bpb.",
        MARGINAL_MAX_BYTES
    ))]
    Score {
        #[arg(long, value_enum, default_value = "gzip")]
        golfer: GolferId,
        /// gzip's method
        #[arg(long, value_enum, default_value = "exact")]
        method: MethodArg,
        /// Neural golfers: start a new window every N tokens (default from the model's golfer.json: the AR
        /// golfer uses the window size, no overlap, as Parameter Golf's eval_val; SmolLM2 a sliding window of
        /// 2048 every 1024). Smaller is slower and costs fewer bits
        #[arg(long)]
        stride: Option<usize>,
        /// Print one JSON object with the spans
        #[arg(long)]
        json: bool,
        /// With --json: add each span's token text and how its bits were spent
        #[arg(long)]
        tokens: bool,
        /// With --json: add "per_byte", the bits of every byte (each span spread evenly over its bytes)
        #[arg(long)]
        per_byte: bool,
        /// Score the input as raw bytes even if it is not UTF-8 (gzip only)
        #[arg(long)]
        bytes: bool,
        #[command(flatten)]
        estimator: EstimatorFlags,
        /// The diffusion golfer: score only the first N tokens (and the text up to the end of the last one), as
        /// the page does when a chain rule would take longer than its time limit
        #[arg(long)]
        max_tokens: Option<usize>,
        /// No progress on stderr (it is shown only on a terminal, for work longer than a second)
        #[arg(long, short)]
        quiet: bool,
        #[command(flatten)]
        places: Places,
        file: Option<PathBuf>,
    },
    /// Score a document set with several golfers: a row per document and golfer (Parquet and JSONL) and a
    /// summary with bootstrap intervals; a stopped run (Ctrl-C, a crash) goes on where it stopped when run again
    #[command(after_help = "Every document's bits are what `golf score` gives for it alone. The summary's bits per \
        byte are total bits over total bytes (a long document weighs more), with a 95 % interval from resampling \
        the documents (--resamples, --seed); for each pair of golfers, the difference and the share of documents \
        the first wins.")]
    Eval(eval::EvalArgs),
    /// Continue a prompt, streaming the text as it is sampled
    Generate {
        #[arg(long, value_enum, default_value = "gzip")]
        golfer: GolferId,
        #[arg(long)]
        prompt: String,
        #[arg(long, default_value_t = 200)]
        max_bytes: usize,
        /// Neural golfers: stop after this many tokens
        #[arg(long, default_value_t = 256)]
        max_tokens: usize,
        /// 0 = greedy
        #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
        temperature: f32,
        /// 1 = off
        #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
        top_p: f32,
        /// 0 = off
        #[arg(long, default_value_t = 0)]
        top_k: usize,
        /// Neural golfers: penalty on recently generated tokens (1 = off)
        #[arg(long, default_value_t = 1.1, allow_negative_numbers = true)]
        repetition_penalty: f32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Instruct models (SmolLM2): send the prompt as a user message in the chat template and print the
        /// answer, which ends at <|im_end|>
        #[arg(long)]
        chat: bool,
        /// The diffusion golfer: denoising steps (--max-tokens is the number of masked slots, at most half its
        /// window)
        #[arg(long, default_value_t = 32)]
        steps: usize,
        /// The diffusion golfer: commit the leftmost masked slots each step instead of the most confident
        #[arg(long)]
        leftmost: bool,
        /// The diffusion golfer: print the canvas after every step (masked slots as ░)
        #[arg(long)]
        show_steps: bool,
        /// SmolLM2: decode through the ONNX graph instead of golf-llama's 4-bit kernels (to compare them)
        #[arg(long)]
        graph_decode: bool,
        /// Strength of gzip's penalty on verbatim repeats (0 = off)
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        dry_multiplier: f64,
        #[command(flatten)]
        places: Places,
    },
    /// SmolLM2's decoder checked: log2 p of each next token of IDS as generation computes it (the first PREFILL
    /// through the ONNX graph, then golf-llama's decode step per token), as a JSON array
    #[command(hide = true)]
    DecoderLogprobs {
        #[arg(long, value_enum, default_value = "smollm2")]
        golfer: GolferId,
        /// Token ids, comma-separated
        #[arg(long, value_delimiter = ',')]
        ids: Vec<u32>,
        #[arg(long, default_value_t = 1)]
        prefill: usize,
        #[command(flatten)]
        places: Places,
    },
    /// Token ids and byte offsets of texts, as JSON, under a SentencePiece `.model` or a byte-level BPE
    /// `tokenizer.json` (text that looks like a control token is plain text)
    Tokenize {
        /// The tokenizer file: `.model` (SentencePiece) or `.json` (byte-level BPE)
        #[arg(long)]
        model: PathBuf,
        /// Read a JSON array of strings and print an array of results (one object per string)
        #[arg(long)]
        json_array: bool,
        file: Option<PathBuf>,
    },
    /// A participant's Parameter Golf artifact (final_model.int8.ptz; or the MDLM's fp8 .ptz) into a model folder
    /// that `--model DIR` scores and generates with: the ONNX graph, golfer.json, the tokenizer and the artifact
    #[command(after_help = "The depth, width, heads, KV heads and MLP width are read from the weights. What the \
        weights cannot show is assumed from the baseline unless given, and said: the activation, the RoPE base, the \
        logit softcap and the context. An artifact with names or shapes the baseline does not have is refused, \
        naming them.")]
    Import {
        /// The artifact (zlib or lzma around torch.save)
        artifact: PathBuf,
        /// The SentencePiece .model it was trained with (default: the official Parameter Golf sp1024)
        #[arg(long)]
        tokenizer: Option<PathBuf>,
        /// The MLP's activation: relu2 (the baseline's) or leaky_relu2[:slope] (slope 0.5 if not given)
        #[arg(long)]
        activation: Option<String>,
        /// Tokens per scoring window: your training sequence length (default 1024, the baseline's)
        #[arg(long)]
        context: Option<usize>,
        /// RoPE base (default 10000)
        #[arg(long)]
        rope_base: Option<f32>,
        /// Logit softcap (default 30)
        #[arg(long)]
        softcap: Option<f32>,
        /// The golfer's name (default: the file's)
        #[arg(long)]
        name: Option<String>,
        /// The folder to write
        #[arg(long)]
        out: PathBuf,
    },
    /// gzip: exact scoring throughput on 4 MB and the marginal/exact time ratio on 16 KB.
    /// Neural golfers: prefill tokens/s on 512 tokens and decode ms/token over 64; AR also generation with the KV
    /// cache against a full forward pass per token; the diffusion golfer tokens/s under its chain rules and NELBO
    Bench {
        #[arg(long, value_enum, default_value = "gzip")]
        golfer: GolferId,
        /// AR: tokens to generate in the cache-vs-full comparison
        #[arg(long, default_value_t = 256)]
        tokens: usize,
        /// ONNX Runtime intra-op threads (default: as many as cores)
        #[arg(long)]
        threads: Option<usize>,
        /// AR and SmolLM2: print the prefill and decode measurement as one JSON object (for peer benchmarks)
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        places: Places,
    },
}

fn main() {
    let status = match run(Cli::parse()) {
        Ok(()) => 0,
        // The reader of our output has gone (`golf tokenize ... | head -c 5`): the end of the run, not a failure,
        // so no message and status 0, as ripgrep does (a conventional C program would die of SIGPIPE, status 141;
        // Rust ignores SIGPIPE and gets this error instead).
        Err(e) if closed_output(&e) => 0,
        Err(e) => {
            // Not eprintln!: a closed stderr must not turn an error into a panic.
            let _ = writeln!(std::io::stderr(), "golf: {e:#}");
            1
        }
    };
    std::process::exit(status);
}

/// Whether `e` is a write to a pipe whose reader has closed it (directly or inside a JSON writer's error).
fn closed_output(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind));
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Score {
            golfer,
            method,
            stride,
            json,
            tokens,
            per_byte,
            bytes,
            estimator,
            max_tokens,
            quiet,
            places,
            file,
        } => {
            let meter = Meter::new(quiet);
            meter.phase("reading the text");
            let text = read_input(file.as_ref())?;
            meter.phase("loading the model");
            let method = method.method();
            let golfer = places.load(golfer, GzipGolfer::new(method, Dry::default()))?;
            if !(bytes && golfer.scores_raw_bytes()) {
                if let Err(e) = std::str::from_utf8(&text) {
                    bail!(GolfError::NotUtf8 { offset: e.valid_up_to() });
                }
            }
            let options =
                ScoreOptions { popovers: json && tokens, stride, estimator: Some(estimator.estimator()), max_tokens };
            let out = Output { json, tokens, per_byte, file: file.clone() };
            let info = golfer.info();
            let gzip = golfer.manifest().is_none().then_some(method);
            let start = Instant::now();
            meter.phase("tokenizing");
            let mut engine = engine_of(golfer);
            engine.command(EngineCommand::Score {
                golfer: info.id.clone(),
                text: text.clone(),
                options,
                limits: Limits::default(),
            });
            let mut spans = Vec::new();
            let mut summary = None;
            drive(&mut engine, |event| {
                match event {
                    Event::Progress { done, total, unit, .. } => meter.progress(done, total, &unit),
                    Event::Spans { spans: s, .. } => spans.extend(s),
                    Event::Finished { outcome: Outcome::Scored(s), .. } => summary = Some(s),
                    _ => {}
                }
                Ok(())
            })?;
            let summary = summary.context("the score ended without totals")?;
            let seconds = start.elapsed().as_secs_f64();
            meter.phase("writing the report");
            meter.finish();
            match (gzip, &summary.report) {
                (Some(method), _) => report_gzip(method, &summary, &spans, seconds, &out),
                (None, Some(report)) => report_neural(&info, &summary, report, &spans, seconds, &out),
                (None, None) => bail!("{} gave no token report", info.label),
            }
        }
        Command::Generate {
            golfer,
            prompt,
            max_bytes,
            max_tokens,
            temperature,
            top_p,
            top_k,
            repetition_penalty,
            seed,
            chat,
            steps,
            leftmost,
            show_steps,
            graph_decode,
            dry_multiplier,
            places,
        } => {
            golf_onnx::runtime::native::set_graph_decode(graph_decode);
            let mut settings = GenerateSettings {
                sampler: SamplerSettings { temperature, top_k, top_p, repetition_penalty, seed },
                max_bytes,
                max_steps: max_tokens,
                chat,
                diffusion_steps: steps,
                force_leftmost: leftmost,
            };
            settings.validate()?;
            if !(dry_multiplier.is_finite() && dry_multiplier >= 0.0) {
                bail!("the repeat penalty's strength (--dry-multiplier) must be a number from 0 (off) up, not {dry_multiplier}");
            }
            let dry = Dry { multiplier: dry_multiplier, ..Dry::default() };
            let golfer = places.load(golfer, GzipGolfer::new(Method::Exact, dry))?;
            if golfer.manifest().is_none() {
                // gzip has no tokens (--max-tokens is the neural golfers'): its pieces stop at --max-bytes.
                settings.max_steps = max_bytes;
            }
            generate(golfer, &prompt, settings, show_steps, &mut std::io::stdout().lock())
        }
        Command::Eval(args) => eval::eval(args),
        Command::Bench { golfer, tokens, threads, json, places } => {
            if let Some(n) = threads {
                golf_onnx::runtime::native::set_threads(n);
            }
            let data = locate::data_dir(places.data.as_deref());
            // The cache-vs-full comparison is the small AR golfers'; SmolLM2's full passes would take minutes.
            let compare_cache = golfer == GolferId::Ar || places.model.is_some();
            let compare_cache = compare_cache && !json;
            places.load(golfer, GzipGolfer::default())?.per_kind(bench::Bench { data, tokens, compare_cache, json })
        }
        Command::DecoderLogprobs { golfer, ids, prefill, places } => {
            places.load(golfer, GzipGolfer::default())?.per_kind(bench::DecoderLogprobs { ids, prefill })
        }
        Command::Tokenize { model, json_array, file } => tokenize(&model, json_array, file.as_ref()),
        Command::Import { artifact, tokenizer, activation, context, rope_base, softcap, name, out } => {
            import(&artifact, tokenizer.as_ref(), activation, context, rope_base, softcap, name, &out)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn import(
    artifact: &std::path::Path,
    tokenizer: Option<&PathBuf>,
    activation: Option<String>,
    context: Option<usize>,
    rope_base: Option<f32>,
    softcap: Option<f32>,
    name: Option<String>,
    out: &std::path::Path,
) -> Result<()> {
    let ptz = std::fs::read(artifact).with_context(|| format!("cannot read {}", artifact.display()))?;
    let file_name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tokenizer = match tokenizer {
        Some(p) => Some((file_name(p), std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?)),
        None => None,
    };
    let rebuild: Vec<String> = std::env::args().map(|a| if a.contains(' ') { format!("'{a}'") } else { a }).collect();
    let options = golf_import::Options {
        activation: activation.as_deref().map(golf_import::parse_activation).transpose()?,
        rope_base,
        logit_softcap: softcap,
        context,
        // Entries are all called final_model.*.ptz; their folder says whose they are.
        name: name.or_else(|| {
            let generic = file_name(artifact).starts_with("final_model");
            let parent = artifact.canonicalize().ok()?.parent().map(file_name)?;
            generic.then_some(parent).filter(|p| !p.is_empty())
        }),
        tokenizer,
        artifact_name: file_name(artifact),
        rebuild: rebuild.join(" "),
    };
    let folder = golf_import::import(&ptz, &options).with_context(|| format!("{}", artifact.display()))?;
    // A model folder (it has a golfer.json) is imported over; any other folder with files in it is left alone.
    let occupied = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    if occupied && !out.join("golfer.json").exists() {
        bail!("{} has files in it and is not a model folder: give --out a new or empty folder", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, data) in &folder.files {
        let path = out.join(name);
        std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let m = &folder.manifest;
    outln!(
        "{}: {} parameters, {} layers; written to {}",
        m.label,
        indicatif::HumanCount(m.params),
        m.layers,
        out.display()
    )?;
    for a in &folder.assumed {
        outln!("  assumed: {a}")?;
    }
    outln!("score it with: golf score --model {} FILE", out.display())?;
    Ok(())
}

/// An engine with one golfer, on the wall clock.
fn engine_of(golfer: AnyGolfer) -> Engine<AnyGolfer> {
    let t0 = Instant::now();
    let mut engine = Engine::new(move || t0.elapsed().as_secs_f64() * 1e3);
    engine.insert(golfer.id(), golfer);
    engine
}

/// Runs the engine until it is idle, handing every event to `on`; an error event ends it.
fn drive(engine: &mut Engine<AnyGolfer>, mut on: impl FnMut(Event) -> Result<()>) -> Result<()> {
    while engine.busy() {
        for event in block_on(engine.step()) {
            if let Event::Error { error, .. } = event {
                return Err(error.into());
            }
            on(event)?;
        }
    }
    Ok(())
}

/// Streams a generation: the text as it is sampled; a diffusion canvas after every step (with `show_steps`) or
/// once at the end, masked slots as ░.
fn generate(
    golfer: AnyGolfer,
    prompt: &str,
    settings: GenerateSettings,
    show_steps: bool,
    out: &mut impl Write,
) -> Result<()> {
    let diffusion = golfer.is_diffusion();
    let chat = settings.chat;
    let mut engine = engine_of(golfer.clone());
    engine.command(EngineCommand::Generate { golfer: golfer.id(), prompt: prompt.to_string(), settings });
    if !diffusion {
        if chat {
            writeln!(out, "> {prompt}")?;
        } else {
            write!(out, "{prompt}")?;
        }
    }
    let render = |canvas: &[Option<String>]| -> String {
        canvas.iter().map(|s| s.clone().unwrap_or_else(|| "\u{2591}".into())).collect()
    };
    let (mut step, mut last) = (0, Vec::new());
    drive(&mut engine, |event| {
        match event {
            Event::Token { text, .. } => write!(out, "{text}")?,
            Event::Canvas { canvas, .. } => {
                step += 1;
                if show_steps {
                    writeln!(out, "[{step:>3}] {prompt}{}", render(&canvas))?;
                }
                last = canvas;
            }
            Event::Finished { .. } if diffusion && !show_steps => writeln!(out, "{prompt}{}", render(&last))?,
            Event::Finished { .. } if !diffusion => writeln!(out)?,
            _ => {}
        }
        out.flush()?;
        Ok(())
    })
}

/// Prints each text's tokens as JSON, written as it goes rather than built as one `serde_json::Value` (a value
/// per number), so a closed reader stops it at the next write.
fn tokenize(model: &PathBuf, json_array: bool, file: Option<&PathBuf>) -> Result<()> {
    let bytes = std::fs::read(model).with_context(|| format!("cannot read '{}'", model.display()))?;
    let kind = if model.extension().is_some_and(|e| e == "json") { "byte-bpe" } else { "sentencepiece" };
    let tok = golf_tokenize::TextTokenizer::load(kind, &bytes).with_context(|| format!("'{}'", model.display()))?;
    let input = read_input(file)?;
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if json_array {
        let texts: Vec<String> =
            serde_json::from_slice(&input).context("--json-array expects a JSON array of strings")?;
        drop(input);
        out.write_all(b"[")?;
        for (i, text) in texts.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            let tokens = tok.encode(text).with_context(|| format!("text {i} of the array"))?;
            write_tokens(&mut out, &tokens)?;
        }
        out.write_all(b"]")?;
    } else {
        let text = String::from_utf8(input).map_err(|e| GolfError::NotUtf8 { offset: e.utf8_error().valid_up_to() })?;
        write_tokens(&mut out, &tok.encode(&text)?)?;
    }
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// One text's `{"ids":[..],"offsets":[[start,end],..]}` (byte offsets into the text as given).
fn write_tokens(out: &mut impl Write, tokens: &[golf_tokenize::Token]) -> std::io::Result<()> {
    out.write_all(b"{\"ids\":[")?;
    for (i, t) in tokens.iter().enumerate() {
        write!(out, "{}{}", if i > 0 { "," } else { "" }, t.id)?;
    }
    out.write_all(b"],\"offsets\":[")?;
    for (i, t) in tokens.iter().enumerate() {
        write!(out, "{}[{},{}]", if i > 0 { "," } else { "" }, t.orig.start, t.orig.end)?;
    }
    out.write_all(b"]}")
}

fn read_input(file: Option<&PathBuf>) -> Result<Vec<u8>> {
    let text = match file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).with_context(|| format!("cannot read '{}'", p.display()))?
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).context("cannot read standard input")?;
            buf
        }
    };
    if text.is_empty() {
        bail!(GolfError::EmptyInput);
    }
    Ok(text)
}

struct Output {
    json: bool,
    tokens: bool,
    per_byte: bool,
    file: Option<PathBuf>,
}

impl Output {
    fn name(&self) -> String {
        self.file.as_ref().map_or("standard input".to_string(), |p| p.display().to_string())
    }

    /// Prints `fields` plus the spans (and per-byte bits) as one JSON object, written as it goes: a 10 MB text
    /// has millions of spans, which as one JSON value would take gigabytes.
    fn json(&self, fields: serde_json::Map<String, serde_json::Value>, spans: &[Span], len: usize) -> Result<()> {
        /// A span without its popover.
        #[derive(serde::Serialize)]
        struct Bits {
            start: u32,
            end: u32,
            bits: f64,
        }
        let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let head = serde_json::to_string(&fields)?;
        // The fields without their closing brace, then the arrays.
        out.write_all(&head.as_bytes()[..head.len() - 1])?;
        out.write_all(if fields.is_empty() { b"\"spans\":[" } else { b",\"spans\":[" })?;
        for (i, s) in spans.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            if self.tokens {
                serde_json::to_writer(&mut out, s)?;
            } else {
                serde_json::to_writer(&mut out, &Bits { start: s.start, end: s.end, bits: s.bits })?;
            }
        }
        out.write_all(b"]")?;
        if self.per_byte {
            debug_assert_eq!(spans.last().map_or(0, |s| s.end as usize), len, "spans tile the text");
            out.write_all(b",\"per_byte\":[")?;
            let mut first = true;
            for b in spans.iter().flat_map(golf_core::byte_bits) {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                serde_json::to_writer(&mut out, &b)?;
            }
            out.write_all(b"]")?;
        }
        out.write_all(b"}\n")?;
        out.flush()?;
        Ok(())
    }
}

fn report_gzip(method: Method, summary: &ScoreSummary, spans: &[Span], seconds: f64, out: &Output) -> Result<()> {
    let method_name = match method {
        Method::Exact => "exact",
        Method::Marginal => "marginal",
    };
    let stream_bytes = (summary.bits / 8.0).round() as u64;
    if out.json {
        let serde_json::Value::Object(fields) = serde_json::json!({
            "golfer": "gzip", "method": method_name, "bytes": summary.bytes, "bits": summary.bits,
            "bpb": summary.bpb, "gzip_file_bytes": stream_bytes + GZIP_CONTAINER_BYTES, "seconds": seconds,
        }) else {
            unreachable!()
        };
        return out.json(fields, spans, summary.bytes as usize);
    }
    outln!("gzip -9 ({method_name}) on {}", out.name())?;
    outln!("  bytes  {}", summary.bytes)?;
    outln!("  bits   {}", summary.bits)?;
    outln!("  bpb    {:.4}", summary.bpb)?;
    outln!(
        "  stream {stream_bytes} bytes of raw DEFLATE; {} bytes as a .gz file (+{GZIP_CONTAINER_BYTES}-byte header and trailer)",
        stream_bytes + GZIP_CONTAINER_BYTES
    )?;
    outln!("  time   {:.1} ms", seconds * 1e3)?;
    Ok(())
}

fn report_neural(
    info: &GolferInfo,
    summary: &ScoreSummary,
    r: &TokenReport,
    spans: &[Span],
    seconds: f64,
    out: &Output,
) -> Result<()> {
    let estimator = &summary.method;
    if out.json {
        let serde_json::Value::Object(mut fields) = serde_json::to_value(r)? else { unreachable!() };
        // Which counts there are is what the text output prints; the JSON has both numbers either way.
        fields.remove("golf_count");
        fields.insert("golfer".into(), info.id.clone().into());
        if let Some(e) = estimator {
            fields.insert("estimator".into(), e.clone().into());
        }
        fields.insert("seconds".into(), seconds.into());
        return out.json(fields, spans, summary.bytes as usize);
    }
    outln!("{} on {}", info.label, out.name())?;
    if let Some(e) = estimator {
        outln!("  estimator  {e}")?;
    }
    outln!("  bytes      {}", r.bytes)?;
    if r.golf_count {
        outln!("  tokens     {} (SentencePiece with byte fallback: every byte has a token)", r.tokens)?;
        outln!(
            "  bits       {:.1} (model {:.1} + {:.0} to restore what normalization changed, in {} edits)",
            r.bits,
            r.model_bits,
            r.restore_bits,
            r.restore_edits
        )?;
    } else {
        outln!("  tokens     {} (byte-level: every byte has a token)", r.tokens)?;
        outln!("  bits       {:.1}", r.bits)?;
    }
    outln!("  bpb        {:.4} over the bytes as given", r.bpb)?;
    if r.golf_count {
        outln!(
            "  golf bpb   {:.4} under Parameter Golf's byte count ({} bytes; model bits only, over the normalized text)",
            r.golf_bpb, r.golf_bytes
        )?;
    }
    outln!(
        "  window     {} tokens, a new window every {} tokens{}",
        r.window,
        r.stride,
        if r.stride == r.window { " (no overlap, as eval_val)" } else { "" }
    )?;
    outln!("  time       {:.1} ms ({:.0} tokens/s)", seconds * 1e3, r.tokens as f64 / seconds)?;
    Ok(())
}
