//! The side channel that makes a SentencePiece golfer's code length a true code length over the text as given.
//!
//! SentencePiece normalizes a text before it tokenizes it (`nmt_nfkc`: whitespace runs collapsed to one space,
//! whitespace at either end dropped, tabs, newlines and some other characters made spaces, NFKC folding, control
//! characters removed), so a decoder that has the tokens has only the normalized text. The side channel says what
//! to change to get the original bytes back. It is a prefix code, so its length in bits is exact and it decodes
//! unambiguously; the golfers charge it on top of the model's bits, to the bytes each edit restores.
//!
//! The decoder's **view** is what the tokens spell: each piece with `▁` as a space, a byte token as its byte
//! (byte fallback: there is no `<unk>`). The code, with every integer n >= 1 in Elias gamma:
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
        self.code.len() as u32
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

/// Codes one change (its kind, its place after `done`, what it restores) into `w`.
fn code_edit(w: &mut Writer, view: &[u8], done: usize, c: &Change, original: &[u8]) -> EditKind {
    let whitespace = is_ascii_whitespace_run(original);
    if whitespace && c.replaced == 1 && view[c.at] == b' ' {
        // Where a space of the view stands for other whitespace, its place is counted in spaces: far fewer
        // than bytes, so the gap costs fewer bits.
        w.bits(&[false]);
        w.gamma(view[done..c.at].iter().filter(|&&b| b == b' ').count() as u64 + 1);
    } else if whitespace && c.replaced == 0 {
        w.bits(&[true, false]);
        w.gamma((c.at - done) as u64 + 1);
    } else {
        w.bits(&[true, true]);
        w.gamma((c.at - done) as u64 + 1);
        w.gamma(c.replaced as u64 + 1);
        w.gamma(original.len() as u64 + 1);
        for &b in original {
            w.byte(b);
        }
        return EditKind::Raw {
            normalized: String::from_utf8_lossy(&view[c.at..c.at + c.replaced]).into_owned(),
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
        let kind = code_edit(&mut w, view, done, c, &text[c.orig.clone()]);
        edits.push(Edit { orig: c.orig.clone(), bits: (w.0.len() - before) as u32, kind });
        done = c.at + c.replaced;
    }
    SideChannel { code: w.0, header_bits, edits, replaced_all: false }
}

/// A run of whitespace as the code gives it.
fn read_whitespace(r: &mut Reader, out: &mut Vec<u8>) -> Result<(), RestoreError> {
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
        let n = r.gamma()? as usize;
        out.extend(std::iter::repeat_n(c, n));
    }
    Ok(())
}

/// The decoder: the original bytes from the view and the side channel.
pub fn restore(view: &[u8], code: &[bool]) -> Result<Vec<u8>, RestoreError> {
    let mut r = Reader { code, at: 0 };
    let edits = r.gamma()? - 1;
    let mut out = Vec::with_capacity(view.len() + 16);
    let mut done = 0usize;
    let place = |done: usize, gap: u64| {
        usize::try_from(gap)
            .ok()
            .and_then(|g| done.checked_add(g))
            .filter(|&a| a <= view.len())
            .ok_or(RestoreError::OutOfRange)
    };
    for _ in 0..edits {
        let (at, replaced) = if !r.bit()? {
            // A space of the view, counted in spaces.
            let skip = (r.gamma()? - 1) as usize;
            let at = view[done..]
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b' ')
                .nth(skip)
                .map(|(i, _)| done + i)
                .ok_or(RestoreError::OutOfRange)?;
            out.extend_from_slice(&view[done..at]);
            read_whitespace(&mut r, &mut out)?;
            (at, 1)
        } else if !r.bit()? {
            let at = place(done, r.gamma()? - 1)?;
            out.extend_from_slice(&view[done..at]);
            read_whitespace(&mut r, &mut out)?;
            (at, 0)
        } else {
            let at = place(done, r.gamma()? - 1)?;
            let replaced = (r.gamma()? - 1) as usize;
            if replaced > view.len() - at {
                return Err(RestoreError::OutOfRange);
            }
            out.extend_from_slice(&view[done..at]);
            for _ in 0..r.gamma()? - 1 {
                out.push(r.byte()?);
            }
            (at, replaced)
        };
        done = at + replaced;
    }
    out.extend_from_slice(&view[done..]);
    match code.len() - r.at {
        0 => Ok(out),
        n => Err(RestoreError::Trailing(n)),
    }
}

impl SentencePiece {
    /// What a decoder that has `tokens` reads: the module's view.
    pub fn view(&self, tokens: &[Token]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let p = self.piece(t.id);
            match p.kind {
                // Encoding yields neither (byte fallback spells what the vocabulary lacks).
                PieceKind::Control | PieceKind::Unknown => {}
                PieceKind::Byte => out.extend(byte_of(&p.text)),
                _ => {
                    let mut s = p.text.as_str();
                    if i == 0 && self.add_dummy_prefix() {
                        s = s.strip_prefix(self.space()).unwrap_or(s);
                    }
                    out.extend(s.replace(SPACE_SYMBOL, " ").bytes());
                }
            }
        }
        out
    }

    /// The side channel that turns `tokens` (from `self.encode(text)`) back into `text`.
    pub fn side_channel(&self, text: &str, tokens: &[Token]) -> SideChannel {
        let view = self.view(tokens);
        let changes = self.changes(text, tokens, &view);
        let sc = code(&view, text.as_bytes(), &changes);
        // The encoder checks itself: if the cheap edits do not restore the text (a normalization this code did
        // not foresee), one edit that replaces everything does. The cost is then high, but never wrong.
        if restore(&view, &sc.code).as_deref() == Ok(text.as_bytes()) {
            return sc;
        }
        let all = Change { at: 0, replaced: view.len(), orig: 0..text.len() };
        SideChannel { replaced_all: true, ..code(&view, text.as_bytes(), &[all]) }
    }

    /// The normalizer's steps (runs of normalized bytes from one original offset) whose original bytes differ
    /// from what the view shows for them, in view coordinates.
    fn changes(&self, text: &str, tokens: &[Token], view: &[u8]) -> Vec<Change> {
        let (norm, to_orig) = self.normalize(text);
        let space = self.space().as_bytes();
        // View offset of each normalized byte (and one past the end).
        let mut to_view = vec![0usize; norm.len() + 1];
        let mut v = 0usize;
        for (i, t) in tokens.iter().enumerate() {
            let p = self.piece(t.id);
            match p.kind {
                PieceKind::Byte => {
                    to_view[t.norm.clone()].fill(v);
                    v += 1;
                }
                _ => {
                    let bytes = &norm.as_bytes()[t.norm.clone()];
                    let mut k = 0;
                    while k < bytes.len() {
                        let at = t.norm.start + k;
                        if bytes[k..].starts_with(space) {
                            let dummy = i == 0 && k == 0 && self.add_dummy_prefix();
                            to_view[at..at + space.len()].fill(v);
                            v += usize::from(!dummy);
                            k += space.len();
                        } else {
                            to_view[at] = v;
                            v += 1;
                            k += 1;
                        }
                    }
                }
            }
        }
        to_view[norm.len()] = v;
        debug_assert_eq!(v, view.len());
        let bytes = text.as_bytes();
        let mut changes = Vec::new();
        let mut check = |n: Range<usize>, o: Range<usize>| {
            let (a, b) = (to_view[n.start], to_view[n.end]);
            if view[a..b] != bytes[o.clone()] {
                changes.push(Change { at: a, replaced: b - a, orig: o });
            }
        };
        // Before the first normalized byte: what the normalizer dropped at the start.
        check(0..0, 0..to_orig[0]);
        // Then step by step, where a step is the normalized bytes from one original offset.
        let mut start = 0;
        while start < norm.len() {
            let mut end = start + 1;
            while end < norm.len() && to_orig[end] == to_orig[end - 1] {
                end += 1;
            }
            check(start..end, to_orig[start]..to_orig[end]);
            start = end;
        }
        // After the last: what it dropped at the end.
        check(norm.len()..norm.len(), to_orig[norm.len()]..text.len());
        changes
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
        assert_eq!(restore(view, &sc.code).unwrap(), text);
        assert_eq!(sc.bits(), sc.header_bits + sc.edits.iter().map(|e| e.bits).sum::<u32>());
        assert!(matches!(sc.edits[1].kind, EditKind::Whitespace { replaced: true, .. }));
        assert!(matches!(sc.edits[2].kind, EditKind::Raw { .. }));
        assert_eq!(
            sc.edits[1].describe(),
            "a carriage return + a newline + a carriage return + a newline (one space in the tokens)"
        );
        // A damaged code is refused, not misread.
        assert_eq!(restore(view, &sc.code[..sc.code.len() - 1]), Err(RestoreError::Truncated));
        let mut longer = sc.code.clone();
        longer.push(true);
        assert_eq!(restore(view, &longer), Err(RestoreError::Trailing(1)));
    }

    #[test]
    fn no_changes_cost_one_bit() {
        let sc = code(b"abc", b"abc", &[]);
        assert_eq!(sc.bits(), 1);
        assert_eq!(restore(b"abc", &sc.code).unwrap(), b"abc");
    }
}
