//! `golf eval`: a document set scored by several golfers, resumable, with a summary (golf-eval does the work).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use golf_eval::corpus::Corpus;
use golf_eval::run::{recorded_options, run, Plan, Progress};
use golf_eval::score::EngineScorer;
use golf_eval::stats::Summary;
use golf_eval::EvalError;
use golf_gzip::{Dry, GzipGolfer};

use crate::{EstimatorFlags, GolferId, MethodArg, Places};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// The documents: a .jsonl file (a "text" field a line; the other fields are kept), a folder of .txt files, or
    /// a Parameter Golf shard (fineweb_val_*.bin, with --tokenizer)
    corpus: PathBuf,
    /// The folder for the results (documents.parquet, documents.jsonl, summary.json) and the shards a
    /// stopped run goes on from
    #[arg(long)]
    out: PathBuf,
    /// The golfers, in the results' order (--model adds a model folder's)
    #[arg(long, value_enum, value_delimiter = ',', default_value = "gzip,ar,mdlm,smollm2")]
    golfers: Vec<GolferId>,
    /// The SentencePiece model a Parameter Golf shard was written with
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Documents per shard: what a crash can lose, and what is in memory at once
    #[arg(long, default_value_t = 64)]
    shard_docs: usize,
    /// Bootstrap draws of the documents for the summary's 95 % intervals
    #[arg(long, default_value_t = 1000)]
    resamples: usize,
    /// Seed of the bootstrap draws: the same seed gives the same intervals
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// gzip's method
    #[arg(long, value_enum, default_value = "exact")]
    method: MethodArg,
    /// Neural golfers: start a new window every N tokens (default: each model's golfer.json, as `golf score`)
    #[arg(long)]
    stride: Option<usize>,
    #[command(flatten)]
    estimator: EstimatorFlags,
    /// No progress on stderr
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    places: Places,
}

pub fn eval(args: EvalArgs) -> Result<()> {
    let corpus = Corpus::at(&args.corpus, args.tokenizer.as_deref())?;
    let method = args.method.method();
    let mut golfers = Vec::new();
    for &g in &args.golfers {
        golfers.push(args.places.load_named(g, GzipGolfer::new(method, Dry::default()))?);
    }
    if let Some(dir) = &args.places.model {
        golfers.push(Places::load_folder(dir)?);
    }
    let options = golf_engine::ScoreOptions {
        popovers: false,
        stride: args.stride,
        estimator: Some(args.estimator.estimator()),
        max_tokens: None,
    };
    let mut scorer = EngineScorer::new(golfers, options);
    let plan = Plan {
        out: args.out.clone(),
        shard_docs: args.shard_docs,
        resamples: args.resamples,
        seed: args.seed,
        options: recorded_options(&format!("{method:?}"), scorer.options()),
    };
    // Ctrl-C: stop after the document in progress (its shard is scored again next time); a second one at once.
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register_conditional_shutdown(signal_hook::consts::SIGINT, 130, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    let mut shown = Shown::new(args.quiet);
    let outcome = run(&corpus, &mut scorer, &plan, &stop, |p| shown.progress(p));
    shown.done();
    let outcome = match outcome {
        Err(e @ EvalError::Interrupted { .. }) => {
            eprintln!("{e}");
            std::process::exit(130);
        }
        other => other.with_context(|| format!("evaluating {}", args.corpus.display()))?,
    };
    if stop.load(Ordering::Relaxed) {
        eprintln!("(Ctrl-C came after the last document: the run is complete.)");
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    writeln!(
        out,
        "{} documents in {} shards ({} kept from an earlier run, {} scored now)",
        outcome.summary.documents, outcome.shards, outcome.kept, outcome.scored
    )?;
    print_summary(&mut out, &outcome.summary)?;
    writeln!(
        out,
        "results: {}",
        ["documents.parquet", "documents.jsonl", "summary.json"]
            .map(|f| args.out.join(f).display().to_string())
            .join(", ")
    )?;
    Ok(())
}

fn print_summary(out: &mut impl Write, s: &Summary) -> Result<()> {
    let pct = (s.level * 100.0).round();
    writeln!(out, "bits per byte over all documents (total bits / total bytes), {pct:.0} % bootstrap interval ({} draws, seed {}):", s.resamples, s.seed)?;
    for g in &s.golfers {
        writeln!(out, "  {:<10} {:.4}  [{:.4}, {:.4}]  {} bytes", g.golfer, g.bpb, g.low, g.high, g.bytes)?;
    }
    if !s.pairs.is_empty() {
        writeln!(out, "differences (A - B), interval, and the share of documents A needs fewer bits per byte on:")?;
        for p in &s.pairs {
            writeln!(
                out,
                "  {:<10} - {:<10} {:+.4}  [{:+.4}, {:+.4}]  A wins {:.1} %",
                p.a,
                p.b,
                p.difference,
                p.low,
                p.high,
                100.0 * p.a_wins
            )?;
        }
    }
    Ok(())
}

/// Progress on stderr: a line that rewrites itself on a terminal, a line per shard otherwise.
struct Shown {
    quiet: bool,
    terminal: bool,
    start: Instant,
    last_shard: Option<usize>,
    dirty: bool,
}

impl Shown {
    fn new(quiet: bool) -> Shown {
        Shown {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            start: Instant::now(),
            last_shard: None,
            dirty: false,
        }
    }

    fn progress(&mut self, p: &Progress) {
        if self.quiet {
            return;
        }
        let scored = p.documents_done - p.kept;
        let secs = self.start.elapsed().as_secs_f64();
        let left = if scored > 0 && p.documents > p.documents_done {
            let each = secs / scored as f64;
            format!(", about {} left", human((p.documents - p.documents_done) as f64 * each))
        } else {
            String::new()
        };
        let line = format!(
            "shard {} of {} · {} of {} documents{}{}",
            p.shard + 1,
            p.shards,
            p.documents_done,
            p.documents,
            if p.kept > 0 { format!(" ({} kept)", p.kept) } else { String::new() },
            left
        );
        if self.terminal {
            eprint!("\r\x1b[2K{line}");
            self.dirty = true;
        } else if self.last_shard != Some(p.shard) && p.shard > 0 || p.documents_done == p.documents {
            eprintln!("{line}");
        }
        self.last_shard = Some(p.shard);
    }

    fn done(&mut self) {
        if self.dirty {
            eprintln!();
        }
    }
}

fn human(seconds: f64) -> String {
    match seconds {
        s if s < 90.0 => format!("{s:.0} s"),
        s if s < 5400.0 => format!("{:.0} min", s / 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}
