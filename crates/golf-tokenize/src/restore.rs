//! The side channel that makes a SentencePiece golfer's code length a true code length over the text as given.
//!
//! SentencePiece normalizes a text before it tokenizes it (`nmt_nfkc`: whitespace runs collapsed to one space,
//! whitespace at either end dropped, tabs, newlines and some other characters made spaces, NFKC folding, control
//! characters removed), so a decoder that has the tokens has only the normalized text. The side channel says what
//! to change to get the original bytes back. It is a prefix code, so its length in bits is exact and it decodes
//! unambiguously; the golfers charge it on top of the model's bits, to the bytes each edit restores.
//!
//! The decoder's **view** is what the tokens' ids spell: each piece with `▁` as a space (as it is, where the model
//! does not escape whitespace), the first one without the dummy-prefix space, a byte token as its byte (byte
//! fallback: there is no `<unk>`), a control token nothing (encoding yields one only where a lone character of
//! the text is a control piece's text, as SentencePiece does; the side channel restores that character). The
//! code, with every integer n >= 1 in Elias gamma:
//!
//! ```text
//! gamma(edits + 1), then for each edit, in text order, one of:
//!   0  gamma(spaces + 1) whitespace    the view's space after skipping `spaces` more of them since the previous
//!                                      edit stands for a run of ASCII whitespace
//!   10 gamma(gap + 1) whitespace       a run of ASCII whitespace is inserted after `gap` more bytes of the view
//!   11 gamma(gap + 1) gamma(k + 1) gamma(n + 1) bytes
//!                                      after `gap` bytes, `k` bytes of the view stand for `n` original bytes,
//!                                      8 bits each
//! where whitespace is gamma(runs), then per run a character code (' ' 0, '\n' 10, '\t' 110, '\r' 111) and
//! gamma(its length).
//! ```

use std::ops::Range;

use crate::sentencepiece::{PieceKind, SentencePiece, Token, SPACE_SYMBOL};

/// What one edit restores, for the popover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditKind {
    /// Whitespace as given where the tokens have one space (`replaced`) or none.
    Whitespace { original: String, replaced: bool },
    /// Any other change: the view's bytes `normalized` stand for the original's.
    Raw { normalized: String, original: String },
}

/// One change of the normalized text back to the original.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// The original bytes it restores (possibly with unchanged bytes of the same normalization step).
    pub orig: Range<usize>,
    /// Its exact length in the side channel.
    pub bits: u32,
    pub kind: EditKind,
}

impl Edit {
    /// What it restores, in words: "4 spaces (one space in the tokens)", "“ﬁ” (“fi” in the tokens)".
    pub fn describe(&self) -> String {
        match &self.kind {
            EditKind::Whitespace { original, replaced } => {
                let what = describe_whitespace(original);
                if *replaced {
                    format!("{what} (one space in the tokens)")
                } else {
                    format!("{what} (dropped from the tokens)")
                }
            }
            EditKind::Raw { normalized, original } if normalized.is_empty() => {
                format!("{} (dropped from the tokens)", show(original))
            }
            EditKind::Raw { normalized, original } => {
                format!("{} ({} in the tokens)", show(original), show(normalized))
            }
        }
    }
}

/// A text's side channel: the code itself and its edits, each with the bits it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideChannel {
    /// The code, one bool per bit.
    pub code: Vec<bool>,
    /// Bits of the edit count at the head of the code.
    pub header_bits: u32,
    pub edits: Vec<Edit>,
    /// True when the cheap edits could not restore the text and one edit replaces all of it (a normalization
    /// this code does not foresee; expensive, never wrong).
    pub replaced_all: bool,
}

impl SideChannel {
    pub fn bits(&self) -> u32 {
        u32::try_from(self.code.len()).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RestoreError {
    #[error("the side channel ends in the middle of an edit")]
    Truncated,
    #[error("the side channel points past the end of the normalized text")]
    OutOfRange,
    #[error("the side channel has {0} bits left over after its last edit")]
    Trailing(usize),
    #[error("the side channel restores more than the {0} bytes it may")]
    TooLong(usize),
}

const WHITESPACE: [(u8, &[bool]); 4] =
    [(b' ', &[false]), (b'\n', &[true, false]), (b'\t', &[true, true, false]), (b'\r', &[true, true, true])];

struct Writer(Vec<bool>);

impl Writer {
    fn gamma(&mut self, n: u64) {
        debug_assert!(n >= 1);
        let width = 64 - n.leading_zeros();
        self.0.extend(std::iter::repeat_n(false, width as usize - 1));
        self.0.extend((0..width).rev().map(|i| n >> i & 1 == 1));
    }

    fn bits(&mut self, bits: &[bool]) {
        self.0.extend_from_slice(bits);
    }

    fn byte(&mut self, b: u8) {
        self.0.extend((0..8).rev().map(|i| b >> i & 1 == 1));
    }
}

struct Reader<'a> {
    code: &'a [bool],
    at: usize,
}

impl Reader<'_> {
    fn bit(&mut self) -> Result<bool, RestoreError> {
        let b = *self.code.get(self.at).ok_or(RestoreError::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    fn gamma(&mut self) -> Result<u64, RestoreError> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 63 {
                return Err(RestoreError::Truncated);
            }
        }
        let mut n = 1u64;
        for _ in 0..zeros {
            n = n << 1 | u64::from(self.bit()?);
        }
        Ok(n)
    }

    fn byte(&mut self) -> Result<u8, RestoreError> {
        let mut b = 0u8;
        for _ in 0..8 {
            b = b << 1 | u8::from(self.bit()?);
        }
        Ok(b)
    }
}

/// Runs of equal characters in a whitespace string: (character, length).
fn runs(s: &[u8]) -> Vec<(u8, usize)> {
    let mut out: Vec<(u8, usize)> = Vec::new();
    for &b in s {
        match out.last_mut() {
            Some((c, n)) if *c == b => *n += 1,
            _ => out.push((b, 1)),
        }
    }
    out
}

fn describe_whitespace(s: &str) -> String {
    let name = |c: u8, n: usize| {
        let (one, many) = match c {
            b' ' => ("a space", "spaces"),
            b'\n' => ("a newline", "newlines"),
            b'\t' => ("a tab", "tabs"),
            _ => ("a carriage return", "carriage returns"),
        };
        if n == 1 {
            one.to_string()
        } else {
            format!("{n} {many}")
        }
    };
    runs(s.as_bytes()).into_iter().map(|(c, n)| name(c, n)).collect::<Vec<_>>().join(" + ")
}

/// A string for a popover: control and invisible characters as U+XXXX.
fn show(s: &str) -> String {
    let visible =
        |c: char| !c.is_control() && !matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{feff}');
    if !s.is_empty() && s.chars().all(visible) {
        format!("“{s}”")
    } else {
        s.chars()
            .map(|c| if visible(c) { c.to_string() } else { format!("U+{:04X}", c as u32) })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn is_ascii_whitespace_run(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|b| WHITESPACE.iter().any(|(c, _)| c == b))
}

/// Codes one change (its kind, its place after `done`, what it restores) into `w`; `changes` makes sure that
/// `done <= c.at <= c.at + c.replaced <= view.len()`.
fn code_edit(w: &mut Writer, view: &[u8], done: usize, c: &Change, original: &[u8]) -> EditKind {
    let whitespace = is_ascii_whitespace_run(original);
    let gap = c.at.saturating_sub(done);
    if whitespace && c.replaced == 1 && view.get(c.at) == Some(&b' ') {
        // Where a space of the view stands for other whitespace, its place is counted in spaces: far fewer
        // than bytes, so the gap costs fewer bits.
        w.bits(&[false]);
        let spaces = view.get(done..c.at).unwrap_or_default().iter().filter(|&&b| b == b' ').count();
        w.gamma(spaces as u64 + 1);
    } else if whitespace && c.replaced == 0 {
        w.bits(&[true, false]);
        w.gamma(gap as u64 + 1);
    } else {
        w.bits(&[true, true]);
        w.gamma(gap as u64 + 1);
        w.gamma(c.replaced as u64 + 1);
        w.gamma(original.len() as u64 + 1);
        for &b in original {
            w.byte(b);
        }
        let normalized = view.get(c.at..c.at + c.replaced).unwrap_or_default();
        return EditKind::Raw {
            normalized: String::from_utf8_lossy(normalized).into_owned(),
            original: String::from_utf8_lossy(original).into_owned(),
        };
    }
    let runs = runs(original);
    w.gamma(runs.len() as u64);
    for (ch, n) in runs {
        let code = WHITESPACE.iter().find(|(w, _)| *w == ch).map_or(&[][..], |(_, code)| *code);
        w.bits(code);
        w.gamma(n as u64);
    }
    EditKind::Whitespace { original: String::from_utf8_lossy(original).into_owned(), replaced: c.replaced == 1 }
}

/// One wanted change: at view byte `at`, `replaced` view bytes stand for the original bytes `orig`.
struct Change {
    at: usize,
    replaced: usize,
    orig: Range<usize>,
}

/// The whole code for `changes` (in order, not overlapping).
fn code(view: &[u8], text: &[u8], changes: &[Change]) -> SideChannel {
    let mut w = Writer(Vec::new());
    w.gamma(changes.len() as u64 + 1);
    let header_bits = w.0.len() as u32;
    let mut edits = Vec::with_capacity(changes.len());
    let mut done = 0;
    for c in changes {
        let before = w.0.len();
        let kind = code_edit(&mut w, view, done, c, text.get(c.orig.clone()).unwrap_or_default());
        let bits = u32::try_from(w.0.len() - before).unwrap_or(u32::MAX);
        edits.push(Edit { orig: c.orig.clone(), bits, kind });
        done = c.at + c.replaced;
    }
    SideChannel { code: w.0, header_bits, edits, replaced_all: false }
}

/// A run of whitespace as the code gives it, appended to `out` unless that would make it longer than `limit`.
fn read_whitespace(r: &mut Reader, out: &mut Vec<u8>, limit: usize) -> Result<(), RestoreError> {
    for _ in 0..r.gamma()? {
        let c = if !r.bit()? {
            b' '
        } else if !r.bit()? {
            b'\n'
        } else if !r.bit()? {
            b'\t'
        } else {
            b'\r'
        };
        // A run's length takes only about twice its logarithm in bits: check it before making it.
        let n = usize::try_from(r.gamma()?).ok().filter(|&n| n <= limit.saturating_sub(out.len()));
        out.extend(std::iter::repeat_n(c, n.ok_or(RestoreError::TooLong(limit))?));
    }
    Ok(())
}

/// The decoder: the original bytes from the view and the side channel. `limit` bounds what it makes (the
/// text's length, or the most the caller accepts): a run of whitespace of any length costs only a few bits, so a
/// damaged or hostile code could otherwise ask for more memory than there is.
pub fn restore(view: &[u8], code: &[bool], limit: usize) -> Result<Vec<u8>, RestoreError> {
    let mut r = Reader { code, at: 0 };
    let edits = r.gamma()? - 1;
    let mut out = Vec::with_capacity(view.len().min(limit) + 16);
    let mut done = 0usize;
    let place = |done: usize, gap: u64| {
        usize::try_from(gap)
            .ok()
            .and_then(|g| done.checked_add(g))
            .filter(|&a| a <= view.len())
            .ok_or(RestoreError::OutOfRange)
    };
    let copy = |out: &mut Vec<u8>, from: usize, to: usize| {
        let part = view.get(from..to).ok_or(RestoreError::OutOfRange)?;
        if part.len() > limit.saturating_sub(out.len()) {
            return Err(RestoreError::TooLong(limit));
        }
        out.extend_from_slice(part);
        Ok(())
    };
    // Each edit reads at least two bits, so this loop ends with the code.
    for _ in 0..edits {
        let (at, replaced) = if !r.bit()? {
            // A space of the view, counted in spaces.
            let skip = usize::try_from(r.gamma()? - 1).map_err(|_| RestoreError::OutOfRange)?;
            let at = view
                .get(done..)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b' ')
                .nth(skip)
                .map(|(i, _)| done + i)
                .ok_or(RestoreError::OutOfRange)?;
            copy(&mut out, done, at)?;
            read_whitespace(&mut r, &mut out, limit)?;
            (at, 1)
        } else if !r.bit()? {
            let at = place(done, r.gamma()? - 1)?;
            copy(&mut out, done, at)?;
            read_whitespace(&mut r, &mut out, limit)?;
            (at, 0)
        } else {
            let at = place(done, r.gamma()? - 1)?;
            let replaced = usize::try_from(r.gamma()? - 1).map_err(|_| RestoreError::OutOfRange)?;
            if replaced > view.len() - at {
                return Err(RestoreError::OutOfRange);
            }
            copy(&mut out, done, at)?;
            // Each byte takes eight bits of the code, so this is bounded by the code's length.
            for _ in 0..r.gamma()? - 1 {
                if out.len() >= limit {
                    return Err(RestoreError::TooLong(limit));
                }
                out.push(r.byte()?);
            }
            (at, replaced)
        };
        done = at + replaced;
    }
    copy(&mut out, done, view.len())?;
    match code.len() - r.at {
        0 => Ok(out),
        n => Err(RestoreError::Trailing(n)),
    }
}

impl SentencePiece {
    /// How token `id` reads in the view, in steps of (normalized bytes it covers, view bytes it shows); `first`
    /// for the text's first token, whose dummy-prefix space the view drops. One function for both the view and
    /// the side channel's map from normalized bytes to view bytes, so the two always agree.
    fn spell(&self, first: bool, id: u32, mut step: impl FnMut(usize, &[u8])) {
        let Some(p) = self.piece(id) else {
            return;
        };
        match p.kind {
            // Text shows nothing for a control piece (encoding yields one only for a lone character that is a
            // control piece's text: the side channel restores it) or for <unk> (never yielded: byte fallback).
            PieceKind::Control | PieceKind::Unknown => {}
            PieceKind::Byte => {
                if let Some(b) = byte_of(&p.text) {
                    step(1, &[b]);
                }
            }
            _ => {
                let mut s = p.text.as_bytes();
                if first && self.add_dummy_prefix() {
                    if let Some(rest) = s.strip_prefix(self.space().as_bytes()) {
                        step(s.len() - rest.len(), &[]);
                        s = rest;
                    }
                }
                let escaped = self.space() == SPACE_SYMBOL;
                while !s.is_empty() {
                    if let Some(rest) = s.strip_prefix(SPACE_SYMBOL.as_bytes()).filter(|_| escaped) {
                        step(SPACE_SYMBOL.len(), b" ");
                        s = rest;
                    } else if let Some((b, rest)) = s.split_first() {
                        step(1, std::slice::from_ref(b));
                        s = rest;
                    }
                }
            }
        }
    }

    /// What a decoder that has the tokens' ids reads: the module's view.
    pub fn view(&self, tokens: &[Token]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            self.spell(i == 0, t.id, |_, shown| out.extend_from_slice(shown));
        }
        out
    }

    /// The side channel that turns `tokens` (from `self.encode(text)`) back into `text`.
    pub fn side_channel(&self, text: &str, tokens: &[Token]) -> SideChannel {
        let view = self.view(tokens);
        // The encoder checks itself: if the cheap edits do not restore the text (tokens that are not this text's),
        // one edit that replaces everything does. The cost is then high, but never wrong.
        if let Some(changes) = self.changes(text, tokens, &view) {
            let sc = code(&view, text.as_bytes(), &changes);
            if restore(&view, &sc.code, text.len()).as_deref() == Ok(text.as_bytes()) {
                return sc;
            }
        }
        let all = Change { at: 0, replaced: view.len(), orig: 0..text.len() };
        SideChannel { replaced_all: true, ..code(&view, text.as_bytes(), &[all]) }
    }

    /// The normalizer's steps (runs of normalized bytes from one original offset) whose original bytes differ
    /// from what the view shows for them, in view coordinates; `None` if `tokens` do not tile the normalized text.
    fn changes(&self, text: &str, tokens: &[Token], view: &[u8]) -> Option<Vec<Change>> {
        let (norm, to_orig) = self.normalize(text);
        // View offset of each normalized byte (and one past the end).
        let mut to_view = vec![0usize; norm.len() + 1];
        let mut v = 0usize;
        let mut next = 0usize;
        for (i, t) in tokens.iter().enumerate() {
            if t.norm.start != next || t.norm.end < t.norm.start || t.norm.end > norm.len() {
                return None;
            }
            let mut at = t.norm.start;
            self.spell(i == 0, t.id, |covers, shown| {
                let end = (at + covers).min(t.norm.end);
                to_view.get_mut(at..end).unwrap_or_default().fill(v);
                at = end;
                v += shown.len();
            });
            // What the view does not show (a control piece) sits where the view goes on.
            to_view.get_mut(at..t.norm.end).unwrap_or_default().fill(v);
            next = t.norm.end;
        }
        if next != norm.len() || v != view.len() {
            return None;
        }
        *to_view.last_mut()? = v;
        let bytes = text.as_bytes();
        let mut changes = Vec::new();
        let mut done = 0usize;
        let mut check = |n: Range<usize>, o: Range<usize>| -> Option<()> {
            let (a, b) = (*to_view.get(n.start)?, *to_view.get(n.end)?);
            if a < done || b < a {
                return None;
            }
            if view.get(a..b)? != bytes.get(o.clone())? {
                changes.push(Change { at: a, replaced: b - a, orig: o });
            }
            done = b;
            Some(())
        };
        let orig = |at: usize| to_orig.get(at).copied();
        // Before the first normalized byte: what the normalizer dropped at the start.
        check(0..0, 0..orig(0)?)?;
        // Then step by step, where a step is the normalized bytes from one original offset.
        let mut start = 0;
        while start < norm.len() {
            let mut end = start + 1;
            while end < norm.len() && orig(end) == orig(end - 1) {
                end += 1;
            }
            check(start..end, orig(start)?..orig(end)?)?;
            start = end;
        }
        // After the last: what it dropped at the end.
        check(norm.len()..norm.len(), orig(norm.len())?..text.len())?;
        Some(changes)
    }
}

/// The byte a byte-fallback piece (`<0x41>`) stands for.
pub fn byte_of(piece: &str) -> Option<u8> {
    piece.strip_prefix("<0x").and_then(|h| h.strip_suffix('>')).and_then(|h| u8::from_str_radix(h, 16).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_round_trips() {
        let mut w = Writer(Vec::new());
        for n in [1u64, 2, 3, 4, 7, 8, 1000, u32::MAX as u64] {
            w.gamma(n);
        }
        assert_eq!(w.0[..1], [true]); // gamma(1) is one bit
        let mut r = Reader { code: &w.0, at: 0 };
        for n in [1u64, 2, 3, 4, 7, 8, 1000, u32::MAX as u64] {
            assert_eq!(r.gamma().unwrap(), n);
        }
        assert_eq!(r.at, w.0.len());
    }

    #[test]
    fn code_and_restore_any_changes() {
        let view = b"a b c";
        let text = b"  a\r\n\r\nb \xef\xac\x81c\t";
        // "  " inserted at 0; "\r\n\r\n" for the first space; "ﬁ" inserted before c (a raw insertion before a
        // non-space); "\t" appended at the end.
        let changes = [
            Change { at: 0, replaced: 0, orig: 0..2 },
            Change { at: 1, replaced: 1, orig: 3..7 },
            Change { at: 4, replaced: 0, orig: 9..12 },
            Change { at: 5, replaced: 0, orig: 13..14 },
        ];
        let sc = code(view, text, &changes);
        assert_eq!(restore(view, &sc.code, text.len()).unwrap(), text);
        assert_eq!(sc.bits(), sc.header_bits + sc.edits.iter().map(|e| e.bits).sum::<u32>());
        assert!(matches!(sc.edits[1].kind, EditKind::Whitespace { replaced: true, .. }));
        assert!(matches!(sc.edits[2].kind, EditKind::Raw { .. }));
        assert_eq!(
            sc.edits[1].describe(),
            "a carriage return + a newline + a carriage return + a newline (one space in the tokens)"
        );
        // A damaged code is refused, not misread.
        assert_eq!(restore(view, &sc.code[..sc.code.len() - 1], 100), Err(RestoreError::Truncated));
        let mut longer = sc.code.clone();
        longer.push(true);
        assert_eq!(restore(view, &longer, 100), Err(RestoreError::Trailing(1)));
        // Nor is one that makes more than the caller allows.
        assert_eq!(restore(view, &sc.code, text.len() - 1), Err(RestoreError::TooLong(text.len() - 1)));
    }

    #[test]
    fn no_changes_cost_one_bit() {
        let sc = code(b"abc", b"abc", &[]);
        assert_eq!(sc.bits(), 1);
        assert_eq!(restore(b"abc", &sc.code, 3).unwrap(), b"abc");
    }
}
