//! `golf`: score a text's bits per byte, generate, and benchmark, with the same code the page runs.

mod bench;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use golf_core::{GenerateSettings, GolfError, Golfer, SamplerSettings, Span, Summary};
use golf_gzip::{Dry, GzipGolfer, Method, GZIP_CONTAINER_BYTES, MARGINAL_MAX_BYTES};

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

#[derive(Clone, Copy, ValueEnum)]
enum GolferId {
    /// DEFLATE at zlib level 9 (bit-exact with zlib 1.2.13)
    Gzip,
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodArg {
    /// Decode the stream and charge every bit to the bytes it encodes (adds up to the stream exactly)
    Exact,
    /// 8 x (|deflate(text[..=i])| - |deflate(text[..i])|) per byte, as the inspiration page does
    Marginal,
}

#[derive(Subcommand)]
enum Command {
    /// Bits, bits per byte and time for a text (FILE, or standard input when FILE is - or absent)
    #[command(after_help = format!(
        "The marginal method recompresses every prefix, so it takes O(N^2) time; it is limited to {} bytes. \
         Its per-byte bits are whole bytes' worth (mostly 0 or 8) and can be negative, because a longer prefix \
         can compress to fewer bytes. The exact method has neither problem.",
        MARGINAL_MAX_BYTES
    ))]
    Score {
        #[arg(long, value_enum, default_value = "gzip")]
        golfer: GolferId,
        #[arg(long, value_enum, default_value = "exact")]
        method: MethodArg,
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
        file: Option<PathBuf>,
    },
    /// Continue a prompt, streaming the text as it is sampled
    Generate {
        #[arg(long, value_enum, default_value = "gzip")]
        golfer: GolferId,
        #[arg(long)]
        prompt: String,
        #[arg(long, default_value_t = 200)]
        max_bytes: usize,
        /// 0 = greedy
        #[arg(long, default_value_t = 0.8)]
        temperature: f32,
        #[arg(long, default_value_t = 0.95)]
        top_p: f32,
        /// 0 = off
        #[arg(long, default_value_t = 0)]
        top_k: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Strength of gzip's penalty on verbatim repeats (0 = off)
        #[arg(long, default_value_t = 1.0)]
        dry_multiplier: f64,
    },
    /// Token ids and byte offsets of texts under a SentencePiece model, as JSON
    Tokenize {
        /// The SentencePiece `.model` file
        #[arg(long)]
        model: PathBuf,
        /// Read a JSON array of strings and print an array of results (one object per string)
        #[arg(long)]
        json_array: bool,
        file: Option<PathBuf>,
    },
    /// Scoring throughput of the exact method on 4 MB, and the marginal/exact time ratio on 16 KB
    Bench {
        /// Folder holding enwik8/ and fineweb/ (the project's shared data)
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
    },
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("golf: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Score {
            golfer: GolferId::Gzip,
            method,
            json,
            tokens,
            per_byte,
            bytes,
            file,
        } => {
            let text = read_input(file.as_ref())?;
            if !bytes {
                if let Err(e) = std::str::from_utf8(&text) {
                    bail!(GolfError::NotUtf8 {
                        offset: e.valid_up_to()
                    });
                }
            }
            let method = match method {
                MethodArg::Exact => Method::Exact,
                MethodArg::Marginal => Method::Marginal,
            };
            let golfer = GzipGolfer {
                method,
                token_info: json && tokens,
                dry: Dry::default(),
            };
            let start = Instant::now();
            let spans = golf_gzip::score_blocking(&golfer, &text)?;
            let seconds = start.elapsed().as_secs_f64();
            let output = Output { json, per_byte };
            report(
                &golfer,
                method,
                &text,
                &spans,
                seconds,
                output,
                file.as_ref(),
            )
        }
        Command::Generate {
            golfer: GolferId::Gzip,
            prompt,
            max_bytes,
            temperature,
            top_p,
            top_k,
            seed,
            dry_multiplier,
        } => {
            let settings = GenerateSettings {
                sampler: SamplerSettings {
                    temperature,
                    top_k,
                    top_p,
                    repetition_penalty: 1.0,
                    seed,
                },
                max_bytes,
                max_steps: max_bytes,
            };
            let golfer = GzipGolfer {
                dry: Dry {
                    multiplier: dry_multiplier,
                    ..Dry::default()
                },
                ..GzipGolfer::default()
            };
            let mut run = golfer.start_generate(&prompt, &settings)?;
            let mut out = std::io::stdout().lock();
            write!(out, "{prompt}")?;
            loop {
                let step = run.step();
                write!(out, "{}", step.text)?;
                out.flush()?;
                if step.finished {
                    writeln!(out)?;
                    return Ok(());
                }
            }
        }
        Command::Bench { data } => bench::run(&data),
        Command::Tokenize {
            model,
            json_array,
            file,
        } => tokenize(&model, json_array, file.as_ref()),
    }
}

fn tokenize(model: &PathBuf, json_array: bool, file: Option<&PathBuf>) -> Result<()> {
    let bytes =
        std::fs::read(model).with_context(|| format!("cannot read '{}'", model.display()))?;
    let sp = golf_tokenize::SentencePiece::from_model_bytes(&bytes)
        .with_context(|| format!("'{}'", model.display()))?;
    let input = read_input(file)?;
    let texts: Vec<String> = if json_array {
        serde_json::from_slice(&input).context("--json-array expects a JSON array of strings")?
    } else {
        vec![String::from_utf8(input).map_err(|e| GolfError::NotUtf8 {
            offset: e.utf8_error().valid_up_to(),
        })?]
    };
    let results: Vec<serde_json::Value> = texts
        .iter()
        .map(|t| {
            let tokens = sp.encode(t);
            serde_json::json!({
                "ids": tokens.iter().map(|k| k.id).collect::<Vec<_>>(),
                "offsets": tokens.iter().map(|k| [k.orig.start, k.orig.end]).collect::<Vec<_>>(),
            })
        })
        .collect();
    let out = if json_array {
        serde_json::Value::Array(results)
    } else {
        results.into_iter().next().unwrap()
    };
    println!("{out}");
    Ok(())
}

fn read_input(file: Option<&PathBuf>) -> Result<Vec<u8>> {
    let text = match file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).with_context(|| format!("cannot read '{}'", p.display()))?
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read standard input")?;
            buf
        }
    };
    if text.is_empty() {
        bail!(GolfError::EmptyInput);
    }
    Ok(text)
}

#[derive(serde::Serialize)]
struct ScoreJson<'a> {
    golfer: &'static str,
    method: &'static str,
    bytes: u64,
    bits: f64,
    bpb: f64,
    /// Raw DEFLATE stream + gzip's 18-byte header and trailer.
    gzip_file_bytes: u64,
    seconds: f64,
    spans: &'a [Span],
    #[serde(skip_serializing_if = "Option::is_none")]
    per_byte: Option<Vec<f64>>,
}

struct Output {
    json: bool,
    per_byte: bool,
}

fn report(
    golfer: &GzipGolfer,
    method: Method,
    text: &[u8],
    spans: &[Span],
    seconds: f64,
    output: Output,
    file: Option<&PathBuf>,
) -> Result<()> {
    let summary = Summary::of(spans, text.len() as u64);
    let method_name = match method {
        Method::Exact => "exact",
        Method::Marginal => "marginal",
    };
    let stream_bytes = (summary.bits / 8.0).round() as u64;
    if output.json {
        let obj = ScoreJson {
            golfer: "gzip",
            method: method_name,
            bytes: summary.bytes,
            bits: summary.bits,
            bpb: summary.bpb,
            gzip_file_bytes: stream_bytes + GZIP_CONTAINER_BYTES,
            seconds,
            spans,
            per_byte: output
                .per_byte
                .then(|| golf_core::per_byte_bits(spans, text.len())),
        };
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &obj)?;
        writeln!(out)?;
        return Ok(());
    }
    let name = file.map_or("standard input".to_string(), |p| p.display().to_string());
    println!("{} ({method_name}) on {name}", golfer.info().label);
    println!("  bytes  {}", summary.bytes);
    println!("  bits   {}", summary.bits);
    println!("  bpb    {:.4}", summary.bpb);
    println!(
        "  stream {stream_bytes} bytes of raw DEFLATE; {} bytes as a .gz file (+{GZIP_CONTAINER_BYTES}-byte header and trailer)",
        stream_bytes + GZIP_CONTAINER_BYTES
    );
    println!("  time   {:.1} ms", seconds * 1e3);
    Ok(())
}
