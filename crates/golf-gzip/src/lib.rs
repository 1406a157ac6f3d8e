//! gzip as a language model.
//!
//! A text's code length under gzip is its raw DEFLATE stream (zlib level 9, bit-exact with zlib 1.2.13):
//! `bits = 8 x stream length`. [`attribution`] charges each of those bits to the bytes it encodes; the
//! `.gz` container adds an 18-byte header and trailer that carry no information about the text, reported apart.

pub mod attribution;
pub mod deflate;
mod generate;

use golf_core::accounting::to_bits;
use golf_core::{GenerateSettings, GenerateStep, GolfError, Golfer, GolferInfo, Progress, ScoreStep, Span, TokenInfo};

use attribution::{attribute, Coding};
use deflate::Deflater;
pub use generate::{Dry, GzipGeneration};

/// Bytes of gzip's container around the raw DEFLATE stream: 10-byte header + CRC-32 + ISIZE.
pub const GZIP_CONTAINER_BYTES: u64 = 18;

/// The marginal method compresses every prefix, O(N^2): above this size it would take minutes.
pub const MARGINAL_MAX_BYTES: usize = 16 * 1024;

/// Input bytes compressed per scoring step: about 25 ms natively, so the page stays responsive.
const SCORE_STEP_BYTES: usize = 256 * 1024;
/// Prefix bytes compressed per marginal step.
const MARGINAL_STEP_WORK: usize = 2 * 1024 * 1024;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// Decode the stream and charge every bit to the bytes it encodes; adds up to the stream exactly.
    #[default]
    Exact,
    /// The inspiration page's method: bits of byte i = 8 x (|deflate(text[..=i])| - |deflate(text[..i])|),
    /// with nothing sent before the first byte. Whole bytes only, often 0 or 8, sometimes negative.
    Marginal,
}

#[derive(Clone, Debug, Default)]
pub struct GzipGolfer {
    method: Method,
    /// Generation's penalty on verbatim repeats.
    dry: Dry,
}

impl GzipGolfer {
    pub fn new(method: Method, dry: Dry) -> GzipGolfer {
        GzipGolfer { method, dry }
    }
}

/// How one text is scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GzipScoreOptions {
    /// Attach token text and a description of each symbol to the spans (the page's popovers).
    pub popovers: bool,
}

/// Per-run scoring state.
pub struct GzipScore {
    popovers: bool,
    state: ScoreState,
}

enum ScoreState {
    Exact(Box<Deflater>),
    Marginal { text: Vec<u8>, next: usize, prev_len: usize },
    Done,
}

impl Golfer for GzipGolfer {
    type ScoreRun = GzipScore;
    type GenerateRun = GzipGeneration;
    type ScoreOptions = GzipScoreOptions;

    fn info(&self) -> GolferInfo {
        GolferInfo {
            id: "gzip".into(),
            label: "gzip -9".into(),
            about: "DEFLATE at zlib level 9 used as a language model: a 32 KB window of exact repeats plus \
                    Huffman codes, no training."
                .into(),
            params: None,
            model_bytes: 0,
        }
    }

    fn start_score(&self, text: &[u8], options: &GzipScoreOptions) -> Result<GzipScore, GolfError> {
        if text.is_empty() {
            return Err(GolfError::EmptyInput);
        }
        let state = match self.method {
            Method::Exact => ScoreState::Exact(Box::new(Deflater::new(text.to_vec()))),
            Method::Marginal => {
                if text.len() > MARGINAL_MAX_BYTES {
                    return Err(GolfError::TooLong {
                        len: text.len(),
                        max: MARGINAL_MAX_BYTES,
                        why: "the marginal method recompresses every prefix (quadratic time); use the exact method",
                    });
                }
                ScoreState::Marginal { text: text.to_vec(), next: 0, prev_len: 0 }
            }
        };
        Ok(GzipScore { popovers: options.popovers, state })
    }

    fn progress_unit(&self) -> &'static str {
        "bytes"
    }

    async fn score_step(&self, run: &mut GzipScore) -> Result<ScoreStep, GolfError> {
        let popovers = run.popovers;
        Ok(match &mut run.state {
            ScoreState::Exact(d) => {
                let total = d.input_len() as u64;
                if !d.advance(SCORE_STEP_BYTES) {
                    return Ok(ScoreStep {
                        progress: Progress { done: d.consumed() as u64, total },
                        ..Default::default()
                    });
                }
                let spans = exact_spans(d, popovers)?;
                run.state = ScoreState::Done;
                ScoreStep { spans, progress: Progress { done: total, total }, finished: true }
            }
            ScoreState::Marginal { text, next, prev_len } => {
                let mut spans = Vec::new();
                let mut work = 0;
                while *next < text.len() && work < MARGINAL_STEP_WORK {
                    let i = *next;
                    let len = Deflater::new(text[..=i].to_vec()).finish().len();
                    let bits = 8.0 * (len as f64 - *prev_len as f64);
                    let token = popovers.then(|| {
                        Box::new(TokenInfo {
                            text: String::from_utf8_lossy(&text[i..=i]).into_owned(),
                            detail: Some(format!("prefix compresses to {len} bytes (was {prev_len})")),
                            ..Default::default()
                        })
                    });
                    spans.push(Span { start: i as u32, end: i as u32 + 1, bits, token });
                    *prev_len = len;
                    *next += 1;
                    work += i + 1;
                }
                let progress = Progress { done: *next as u64, total: text.len() as u64 };
                let finished = *next == text.len();
                if finished {
                    run.state = ScoreState::Done;
                }
                ScoreStep { spans, progress, finished }
            }
            ScoreState::Done => ScoreStep { finished: true, ..Default::default() },
        })
    }

    fn start_generate(&self, prompt: &str, settings: &GenerateSettings) -> Result<GzipGeneration, GolfError> {
        if settings.chat {
            return Err(GolfError::NoChat { golfer: "gzip".into() });
        }
        GzipGeneration::new(prompt, settings, self.dry)
    }

    async fn generate_step(&self, run: &mut GzipGeneration) -> Result<GenerateStep, GolfError> {
        Ok(run.step())
    }
}

/// The exact method's spans: every bit of the stream charged to the bytes it encodes.
fn exact_spans(d: &Deflater, popovers: bool) -> Result<Vec<Span>, GolfError> {
    let text = d.input();
    let a = attribute(d.output(), text)
        .map_err(|e| GolfError::Model(golf_core::ModelError::msg(format!("gzip attribution failed: {e}"))))?;
    Ok(a.charges
        .iter()
        .map(|c| {
            let token = popovers.then(|| {
                let bytes = &text[c.start as usize..c.end as usize];
                let detail = match c.coding {
                    Coding::Literal => format!("literal, {} code bits", c.code_bits),
                    Coding::Stored => "stored byte (uncompressed block), 8 bits".to_string(),
                    Coding::Match { length, distance } => {
                        format!("copy {length} bytes from {distance} back, {} code bits", c.code_bits)
                    }
                };
                Box::new(TokenInfo {
                    text: String::from_utf8_lossy(bytes).into_owned(),
                    detail: Some(detail),
                    ..Default::default()
                })
            });
            Span { start: c.start, end: c.end, bits: to_bits(c.units), token }
        })
        .collect())
}

/// Scores a whole text synchronously (CLI, tests): drives the steps to the end.
pub fn score_blocking(golfer: &GzipGolfer, text: &[u8], options: GzipScoreOptions) -> Result<Vec<Span>, GolfError> {
    let mut run = golfer.start_score(text, &options)?;
    golf_core::block_on(golf_core::score_to_end(golfer, &mut run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use golf_core::Summary;

    #[test]
    fn exact_total_is_the_stream() {
        let text = "It was the best of times, it was the worst of times, it was the age of wisdom.".repeat(30);
        let spans = score_blocking(
            &GzipGolfer::new(Method::Exact, Dry::default()),
            text.as_bytes(),
            GzipScoreOptions::default(),
        )
        .unwrap();
        let stream = Deflater::new(text.as_bytes().to_vec()).finish();
        assert_eq!(Summary::of(&spans, text.len() as u64).bits, stream.len() as f64 * 8.0);
    }

    #[test]
    fn marginal_telescopes_to_the_stream_and_is_capped() {
        let text = b"abracadabra abracadabra abracadabra";
        let spans =
            score_blocking(&GzipGolfer::new(Method::Marginal, Dry::default()), text, GzipScoreOptions::default())
                .unwrap();
        assert_eq!(spans.len(), text.len());
        let total: f64 = spans.iter().map(|s| s.bits).sum();
        assert_eq!(total, Deflater::new(text.to_vec()).finish().len() as f64 * 8.0);
        let big = vec![b'x'; MARGINAL_MAX_BYTES + 1];
        assert!(matches!(
            GzipGolfer::new(Method::Marginal, Dry::default()).start_score(&big, &GzipScoreOptions::default()),
            Err(GolfError::TooLong { .. })
        ));
    }

    #[test]
    fn stepping_does_not_change_the_stream() {
        let text: Vec<u8> = (0..700_000u32).map(|i| (i.wrapping_mul(2654435761) >> 27) as u8 + b'a').collect();
        let mut d = Deflater::new(text.clone());
        while !d.advance(1000) {}
        assert_eq!(d.output(), &Deflater::new(text).finish()[..]);
    }

    #[test]
    fn a_reset_stream_equals_a_fresh_one() {
        let long: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2654435761) >> 28) as u8 + b'a').collect();
        let mut d = Deflater::new(long);
        while !d.advance(usize::MAX) {}
        for text in [&b"short text, short text"[..], b"x", b"another text entirely, another"] {
            d.reset(text.to_vec());
            while !d.advance(usize::MAX) {}
            assert_eq!(d.output(), &Deflater::new(text.to_vec()).finish()[..]);
        }
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(
            GzipGolfer::default().start_score(b"", &GzipScoreOptions::default()).err(),
            Some(GolfError::EmptyInput)
        );
    }
}
