//! What every neural golfer does with per-token bits: totals under both byte counts, and spans over the text's
//! bytes with the popover's contents.

use std::cell::OnceCell;

use golf_core::{Alternative, GolfError, Span, TokenInfo, TokenReport};
use golf_tokenize::{SideChannel, TextTokenizer, Token};

use crate::ar::Window;

/// What one position of the stream got: its bits and the popover's contents.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scored {
    pub bits: f64,
    pub rank: u32,
    pub entropy: f32,
    pub top: Vec<(u32, f32)>,
    /// How the bits were found, when there is more to say (the diffusion golfer: when the token was revealed).
    pub detail: Option<String>,
    /// The diffusion golfer's chain rules: the token's place in the reveal order over the whole text.
    pub revealed: Option<u32>,
}

/// A model call's per-position outputs, read once per call: log2 p of each target and the popover's contents.
pub(crate) struct Predictions {
    pub logprob2: Vec<f32>,
    rank: Vec<i64>,
    entropy: Vec<f32>,
    top_ids: Vec<i64>,
    /// Row-major [position, k]; column 0 is each position's most likely token's probability.
    pub top_probs: Vec<f32>,
    pub k: usize,
    /// Whether [`Predictions::scored`] keeps the popover's contents (top-k, detail) or the bits, rank and entropy
    /// only.
    popovers: bool,
}

impl Predictions {
    /// The outputs of a call over `n` positions of a model with `vocab` tokens. A graph from a stranger may
    /// return any lengths and ids, so they are checked here rather than trusted where they are indexed.
    pub fn read(
        out: &crate::runtime::Outputs,
        n: usize,
        vocab: usize,
        popovers: bool,
    ) -> Result<Predictions, crate::OnnxError> {
        let logprob2 = out.f32("logprob2")?;
        let rank = out.i64("rank")?;
        let entropy = out.f32("entropy")?;
        let top_ids = out.i64("top_ids")?;
        let top_probs = out.f32("top_probs")?;
        let k = top_ids.len() / n.max(1);
        let bad = |why: String| crate::OnnxError::Runtime(format!("the model's outputs make no sense: {why}"));
        for (name, len, want) in [
            ("logprob2", logprob2.len(), n),
            ("rank", rank.len(), n),
            ("entropy", entropy.len(), n),
            ("top_ids", top_ids.len(), n * k),
            ("top_probs", top_probs.len(), n * k),
        ] {
            if len != want || k == 0 {
                return Err(bad(format!("{name} has {len} values for {n} positions")));
            }
        }
        if let Some(id) = top_ids.iter().find(|&&id| !(0..vocab as i64).contains(&id)) {
            return Err(bad(format!("top_ids has token {id}, outside the vocabulary of {vocab}")));
        }
        Ok(Predictions { rank, entropy, top_probs, top_ids, logprob2, k, popovers })
    }

    /// Predictions made up by a test's fake network: top-1 only (its target), rank 0, no entropy.
    #[cfg(test)]
    pub fn made_up(logprob2: Vec<f32>, top_probs: Vec<f32>, targets: &[u32], popovers: bool) -> Predictions {
        let n = logprob2.len();
        let top_ids = targets.iter().map(|&t| t as i64).collect();
        Predictions { logprob2, rank: vec![0; n], entropy: vec![0.0; n], top_ids, top_probs, k: 1, popovers }
    }

    /// Position `i` charged -log2 p of its target.
    pub fn scored(&self, i: usize, detail: Option<String>) -> Scored {
        let k = self.k;
        let kept = if self.popovers { k } else { 0 };
        Scored {
            bits: -self.logprob2[i] as f64,
            rank: self.rank[i] as u32,
            entropy: self.entropy[i],
            top: (0..kept).map(|c| (self.top_ids[i * k + c] as u32, self.top_probs[i * k + c])).collect(),
            detail: detail.filter(|_| self.popovers),
            revealed: None,
        }
    }
}

/// The text's tokens, or why this golfer cannot spell it.
pub(crate) fn encode(tok: &TextTokenizer, text: &str) -> Result<Vec<Token>, GolfError> {
    tok.encode(text).map_err(|e| GolfError::Unspellable(e.to_string()))
}

/// The text's ids, or why this golfer cannot spell it.
pub(crate) fn encode_ids(tok: &TextTokenizer, text: &str) -> Result<Vec<u32>, GolfError> {
    tok.encode_ids(text).map_err(|e| GolfError::Unspellable(e.to_string()))
}

/// A text to score: checked, tokenized, and its stream (the start-of-document token, then the tokens' ids).
pub(crate) fn prepare(
    tok: &TextTokenizer,
    bos_id: u32,
    text: &[u8],
) -> Result<(String, Vec<Token>, Vec<u32>), GolfError> {
    if text.is_empty() {
        return Err(GolfError::EmptyInput);
    }
    let text = std::str::from_utf8(text).map_err(|e| GolfError::NotUtf8 { offset: e.valid_up_to() })?.to_string();
    let tokens = encode(tok, &text)?;
    let mut stream = vec![bos_id];
    stream.extend(tokens.iter().map(|t| t.id));
    Ok((text, tokens, stream))
}

/// A run's side channel (`golf_tokenize::restore`), computed once, when first asked for, over the run's text and
/// tokens as they are then (a truncated run sets a fresh cell).
pub(crate) type SideCell = OnceCell<Option<SideChannel>>;

pub(crate) fn side<'a>(
    tok: &TextTokenizer,
    text: &str,
    tokens: &[Token],
    cell: &'a SideCell,
) -> Option<&'a SideChannel> {
    cell.get_or_init(|| tok.side_channel(text, tokens)).as_ref()
}

/// Totals of a run: `stream` is the start-of-document token then the tokens' ids; `scored[i]` is token i's.
pub(crate) fn report(
    tok: &TextTokenizer,
    text: &str,
    tokens: &[Token],
    stream: &[u32],
    scored: &[Option<Scored>],
    side: Option<&SideChannel>,
    window: Window,
) -> TokenReport {
    let mut model_bits = 0.0;
    let mut golf_bytes = 0u64;
    for (i, t) in tokens.iter().enumerate() {
        model_bits += scored[i].as_ref().map_or(0.0, |s| s.bits);
        golf_bytes += tok.golf_bytes(stream[i], t.id) as u64;
    }
    let restore_bits = side.map_or(0.0, |s| s.bits() as f64);
    let bits = model_bits + restore_bits;
    let bytes = text.len() as u64;
    TokenReport {
        tokens: tokens.len(),
        model_bits,
        golf_bytes,
        golf_bpb: model_bits / golf_bytes.max(1) as f64,
        restore_bits,
        restore_edits: side.map_or(0, |s| s.edits.len()),
        bits,
        bytes,
        bpb: bits / bytes.max(1) as f64,
        window: window.size,
        stride: window.stride,
        golf_count: matches!(tok, TextTokenizer::SentencePiece(_)),
    }
}

/// Spans over the original bytes: one per token, with pieces that cover no original byte (a ligature's first
/// half) or end inside a character (a byte-level token holding part of an emoji) joined to the next, and
/// whitespace the normalizer dropped at either end given to the nearest token; then the side channel's bits added
/// to the spans whose bytes its edits restore. Without `popovers` the spans carry bits only (a big text's
/// popovers would take hundreds of bytes per token).
pub(crate) fn spans(
    tok: &TextTokenizer,
    text: &str,
    tokens: &[Token],
    scored: &[Option<Scored>],
    side: Option<&SideChannel>,
    popovers: bool,
) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::with_capacity(tokens.len());
    let mut carry = 0.0;
    let mut carry_bytes: Vec<u8> = Vec::new();
    // A span joined from several tokens is revealed when its last piece is.
    let mut carry_revealed: Option<u32> = None;
    let unscored = Scored::default();
    for (i, t) in tokens.iter().enumerate() {
        let s = scored[i].as_ref().unwrap_or(&unscored);
        let bits = s.bits;
        if popovers {
            carry_bytes.extend(tok.token_bytes(t.id));
            carry_revealed = carry_revealed.max(s.revealed);
        }
        if t.orig.is_empty() || !text.is_char_boundary(t.orig.end) {
            carry += bits;
            continue;
        }
        let token = popovers.then(|| {
            Box::new(TokenInfo {
                text: String::from_utf8_lossy(&std::mem::take(&mut carry_bytes)).into_owned(),
                rank: Some(s.rank),
                top_k: s.top.iter().map(|&(id, p)| Alternative { text: tok.token_text(id), prob: p }).collect(),
                entropy: Some(s.entropy),
                detail: s.detail.clone(),
                revealed: carry_revealed.take(),
                restore_bits: None,
            })
        });
        let start = spans.last().map_or(0, |p: &Span| p.end);
        spans.push(Span { start, end: t.orig.end as u32, bits: bits + carry, token });
        carry = 0.0;
    }
    let len = text.len() as u32;
    match spans.last_mut() {
        Some(last) => {
            last.end = len;
            last.bits += carry;
        }
        // Text with no tokens at all (only whitespace): only the side channel pays for it.
        None if len > 0 => spans.push(Span { start: 0, end: len, bits: carry, token: None }),
        None => {}
    }
    if let Some(side) = side {
        charge_side_channel(&mut spans, side, popovers);
    }
    spans
}

/// Adds the side channel's bits to the spans: each edit's to the span holding the first byte it restores, the
/// edit count at its head to the first span; and says so in their popovers, where there are popovers.
fn charge_side_channel(spans: &mut [Span], side: &SideChannel, popovers: bool) {
    let charge = |span: &mut Span, bits: u32, note: &dyn Fn() -> String| {
        span.bits += bits as f64;
        if !popovers {
            return;
        }
        let note = note();
        let info = span.token.get_or_insert_with(Default::default);
        *info.restore_bits.get_or_insert(0.0) += bits as f64;
        info.detail = Some(match info.detail.take() {
            Some(d) => format!("{d}; {note}"),
            None => note,
        });
    };
    let Some(first) = spans.first_mut() else {
        return;
    };
    let header = || match side.edits.len() {
        0 => format!("+{}: the text as given is what the tokens spell", plural_bits(side.header_bits)),
        n => format!(
            "+{}: the count of edits ({n}) that restore what normalization changed",
            plural_bits(side.header_bits)
        ),
    };
    charge(first, side.header_bits, &header);
    for e in &side.edits {
        let i = spans.partition_point(|s| s.end as usize <= e.orig.start).min(spans.len() - 1);
        charge(&mut spans[i], e.bits, &|| format!("+{} to restore {}", plural_bits(e.bits), e.describe()));
    }
}

fn plural_bits(n: u32) -> String {
    if n == 1 {
        "1 bit".into()
    } else {
        format!("{n} bits")
    }
}

/// Logits for sampling, with `<unk>` ruled out: byte fallback means no text encodes to it, so it stands for
/// nothing and would print only a placeholder (⁇). Popovers keep the model's own distribution.
pub(crate) fn sampleable<'a>(tok: &TextTokenizer, logits: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
    match tok.unk_id().map(|u| u as usize).filter(|&u| u < logits.len()) {
        Some(u) => {
            let mut owned = logits.to_vec();
            owned[u] = f32::NEG_INFINITY;
            owned.into()
        }
        None => logits.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_rules_out_unk_and_nothing_else() {
        let bytes = include_bytes!("../../golf-import/tokenizer/fineweb_1024_bpe.model");
        let tok = TextTokenizer::load("sentencepiece", bytes).expect("the official tokenizer loads");
        let unk = tok.unk_id().expect("SentencePiece has an <unk> piece") as usize;
        // `<unk>` the most likely token: it must still never be drawn.
        let mut logits = vec![0.0f32; tok.vocab_size()];
        logits[unk] = 30.0;
        let out = sampleable(&tok, &logits);
        assert_eq!(out[unk], f32::NEG_INFINITY);
        assert!(out.iter().enumerate().all(|(i, &l)| i == unk || l == 0.0));
    }
}
