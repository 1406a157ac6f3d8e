//! `golf bench`: throughput numbers measured in one run, ratios against a baseline from the same run.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use golf_gzip::{score_blocking, GzipGolfer, Method};

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

pub fn run(data: &Path) -> Result<()> {
    let enwik = data.join("enwik8/enwik8-prefix.xml");
    let text = std::fs::read(&enwik).with_context(|| format!("cannot read '{}' (pass --data DIR)", enwik.display()))?;
    let mb = text.len() as f64 / 1e6;
    let bits_only = GzipGolfer { token_info: false, ..GzipGolfer::new(Method::Exact) };
    let with_info = GzipGolfer::new(Method::Exact);
    let (t_bits, spans) = best_of(3, || score_blocking(&bits_only, &text));
    let bpb = golf_core::Summary::of(&spans?, text.len() as u64).bpb;
    let (t_info, _) = best_of(3, || score_blocking(&with_info, &text));
    println!("gzip exact scoring, {} ({:.2} MB, {bpb:.4} bpb):", enwik.display(), mb);
    println!("  bits only              {:.1} MB/s ({:.0} ms)", mb / t_bits, t_bits * 1e3);
    println!("  with token details     {:.1} MB/s ({:.0} ms)", mb / t_info, t_info * 1e3);

    let fineweb = data.join("fineweb/val-first-docs.txt");
    let small = std::fs::read(&fineweb).with_context(|| format!("cannot read '{}'", fineweb.display()))?;
    let small = &small[..small.len().min(16 * 1024)];
    let (t_exact, _) = best_of(5, || score_blocking(&bits_only, small));
    let marginal = GzipGolfer { token_info: false, ..GzipGolfer::new(Method::Marginal) };
    let (t_marginal, _) = best_of(1, || score_blocking(&marginal, small));
    println!("marginal vs exact on the first {} bytes of {}:", small.len(), fineweb.display());
    println!("  exact    {:.2} ms", t_exact * 1e3);
    println!("  marginal {:.0} ms", t_marginal * 1e3);
    println!("  marginal/exact time ratio: {:.0}x", t_marginal / t_exact);
    Ok(())
}
