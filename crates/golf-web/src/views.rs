//! Pure view functions: spans and settings in, what to draw out. Unit-tested natively; the DOM glue in
//! `app` only copies their results onto elements.

use golf_core::{Span, TokenInfo};

/// viridis, a perceptually uniform, colour-blind-safe palette, from high bits (dark) to low bits (light).
const VIRIDIS: [[u8; 3]; 10] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x28, 0x78],
    [0x3e, 0x49, 0x89],
    [0x31, 0x68, 0x8e],
    [0x26, 0x82, 0x8e],
    [0x1f, 0x9e, 0x89],
    [0x35, 0xb7, 0x79],
    [0x6e, 0xce, 0x58],
    [0xb5, 0xde, 0x2b],
    [0xfd, 0xe7, 0x25],
];

/// Background colour for `bits` per byte on a scale of `0..=max`: light = cheap (predictable), dark = costly.
pub fn heat_color(bits: f64, max: f64) -> [u8; 3] {
    let t = if max > 0.0 { (bits / max).clamp(0.0, 1.0) } else { 0.0 };
    // t = 0 is the light end.
    let x = (1.0 - t) * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
}

/// GLTR's view of a model: how highly it ranked each actual token. Buckets by the highest rank they hold, with
/// their legend labels and colours (light, so the text on them stays dark and readable).
pub const RANK_BUCKETS: [(u32, &str, [u8; 3]); 4] = [
    (1, "top 1", [0x9b, 0xd8, 0x8a]),
    (10, "top 10", [0xfc, 0xe3, 0x7a]),
    (100, "top 100", [0xf7, 0xa0, 0x6a]),
    (u32::MAX, "beyond 100", [0xc9, 0xa7, 0xe0]),
];

/// The colour of text whose golfer has no ranks (gzip, and bytes outside any token).
pub const NO_RANK: [u8; 3] = [0xdd, 0xdd, 0xdd];

/// A cell's colour by the rank of the token it is in (1 = the model's first guess).
pub fn rank_color(rank: Option<u32>) -> [u8; 3] {
    match rank {
        Some(r) => RANK_BUCKETS.iter().find(|b| r <= b.0).map_or(NO_RANK, |b| b.2),
        None => NO_RANK,
    }
}

/// A heatmap cell's colour: by its bits per byte on the scale `0..=scale`, or (`by_rank`) by the rank of the
/// token it is in. The panels and the compact view colour alike through this.
pub fn cell_color(cell: &Cell, spans: &[Span], scale: f64, by_rank: bool) -> [u8; 3] {
    if by_rank {
        rank_color(span_at(spans, cell.start).and_then(|k| spans[k].token.as_ref()?.rank))
    } else {
        heat_color(cell.bits_per_byte(), scale)
    }
}

/// Text colour that stays readable on `bg` (WCAG relative luminance).
pub fn ink_for(bg: [u8; 3]) -> &'static str {
    let lin = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * lin(bg[0]) + 0.7152 * lin(bg[1]) + 0.0722 * lin(bg[2]);
    if l > 0.18 {
        "#111"
    } else {
        "#fff"
    }
}

pub fn css_rgb(c: [u8; 3]) -> String {
    format!("rgb({},{},{})", c[0], c[1], c[2])
}

/// Text for HTML: `&`, `<`, `>` and `"` escaped, so pasted markup is shown, never parsed.
pub fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// Cells of a heatmap drawn per task: a long text is drawn a part at a time, so that no task holds the page's
/// thread near 50 ms even while the golfers' workers take the cores (1,024 took 20-45 ms to parse on 2 cores).
pub const HEATMAP_CHUNK: usize = 256;

/// A heatmap is drawn as blocks of about this many characters or more, each ending after a line break where
/// there is one: the browser lays out and restyles only the blocks on screen (`content-visibility: auto`), so a
/// 100,000-character heatmap costs an edit or a scroll what a short one does.
pub const HEATMAP_BLOCK: usize = 1024;

/// How a text drawn in blocks is cut: a block ends after a line break once it has `block` characters, after a space
/// once it has `space_at`, or at `cut_at` regardless (a block ends a line); a part drawn in one task has about
/// `part` characters, and with `whole_words` ends after a space where one comes soon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cuts {
    pub block: usize,
    pub space_at: usize,
    pub cut_at: usize,
    pub part: usize,
    pub whole_words: bool,
}

/// The heatmaps': a block that ends after a line break lays out exactly as the unbroken text would. A longer
/// paragraph goes on in a new block (marked where it goes on: style.css `.hb.cont`) after a space from `space_at`
/// characters on: a block is laid out and painted whole whenever a part of it is drawn, and one of 3,600 characters
/// took 30-50 ms a frame on two cores.
pub const HEATMAP_CUTS: Cuts = Cuts {
    block: HEATMAP_BLOCK,
    space_at: 2 * HEATMAP_BLOCK,
    cut_at: 4 * HEATMAP_BLOCK,
    part: HEATMAP_CHUNK,
    whole_words: false,
};

/// The compact view's: three or more elements a character, laid out as flex columns, so a block (laid out whole
/// when its drawing takes its place) of a heatmap's size took 50-160 ms, and one of 512 characters 25-40 ms.
pub const COMPACT_CUTS: Cuts = Cuts { block: 128, space_at: 256, cut_at: 512, part: 128, whole_words: true };

/// The blocks of a heatmap of characters `texts` ([`HEATMAP_CUTS`]).
pub fn heatmap_blocks(texts: &[&str]) -> Vec<std::ops::Range<usize>> {
    blocks(texts, &HEATMAP_CUTS)
}

/// The blocks of characters `texts` cut as `cuts` says: each ends after a line break once it has `cuts.block`
/// cells, or after a space at `cuts.space_at` (a paragraph that long gets a break there), or at `cuts.cut_at`
/// regardless.
pub fn blocks(texts: &[&str], cuts: &Cuts) -> Vec<std::ops::Range<usize>> {
    let mut blocks = Vec::new();
    let mut start = 0;
    for (i, c) in texts.iter().enumerate() {
        let len = i + 1 - start;
        let newline = c.ends_with('\n');
        if (len >= cuts.block && newline) || (len >= cuts.space_at && *c == " ") || len >= cuts.cut_at {
            blocks.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < texts.len() {
        blocks.push(start..texts.len());
    }
    blocks
}

/// The height a block of characters `texts` will have before it is laid out, in lines (a line per 100 characters of each
/// line of text): off screen it keeps this size, so the page's scroll height is about right from the start.
pub fn block_lines(texts: &[&str]) -> usize {
    let mut lines = 0;
    let mut run: usize = 0;
    for c in texts {
        if c.ends_with('\n') {
            lines += run / 100 + 1;
            run = 0;
        } else {
            run += 1;
        }
    }
    (lines + run.div_ceil(100)).max(1)
}

/// Part `range` of a panel's heatmap as HTML: one span per character, its background `color(cell)`, `data-i`
/// its index, class `tb` where a token of `spans` begins. Built as one string and set at once: element by
/// element it took 64 ms for 3,600 characters, longer than a frame. The colours are worked out here, a part at a
/// time, not for every character before the first part is drawn.
pub fn heatmap_html(
    cells: &[Cell],
    spans: &[Span],
    range: std::ops::Range<usize>,
    color: impl Fn(&Cell) -> [u8; 3],
) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(range.len() * 72);
    let start = range.start.min(cells.len());
    let end = range.end.min(cells.len());
    let shown = cells.get(start..end).unwrap_or_default();
    let starts = token_starts(shown, spans.get(span_at_or_after(spans, shown.first())..).unwrap_or_default());
    for ((i, cell), first) in (start..).zip(shown).zip(starts) {
        let c = color(cell);
        let [r, g, b] = c;
        let class = if first { " class=\"tb\"" } else { "" };
        let ink = ink_for(c);
        let _ = write!(out, "<span{class} data-i=\"{i}\" style=\"background:rgb({r},{g},{b});color:{ink}\">");
        escape_html(&cell.text, &mut out);
        out.push_str("</span>");
    }
    out
}

/// The first span that does not end before `cell` begins (where a walk over the spans from it starts).
fn span_at_or_after(spans: &[Span], cell: Option<&Cell>) -> usize {
    cell.map_or(0, |c| spans.partition_point(|s| s.end <= c.start))
}

/// The compact view's characters `range` as HTML: each character over one bar per golfer (`rows` of them;
/// `color(row, i)`: the colour of character `i` in that golfer's heatmap), words kept whole on a line, `data-i` on
/// every part so hover finds the character. A part ends a word it began (the parts of [`block_parts`] end after a
/// space).
pub fn compact_html<S: AsRef<str>>(
    texts: &[S],
    rows: usize,
    color: impl Fn(usize, usize) -> [u8; 3],
    range: std::ops::Range<usize>,
) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(range.len() * (64 + 40 * rows));
    let mut in_word = false;
    for i in range {
        let Some(text) = texts.get(i).map(AsRef::as_ref) else { break };
        if text == "\n" || text == "\r\n" {
            if std::mem::take(&mut in_word) {
                out.push_str("</span>");
            }
            out.push_str("<br>");
            continue;
        }
        let space = text.chars().all(char::is_whitespace);
        if space && std::mem::take(&mut in_word) {
            out.push_str("</span>");
        } else if !space && !in_word {
            out.push_str("<span class=\"cw\">");
            in_word = true;
        }
        // The character's text and its bars are the cell's own children (no wrappers: the view has a hundred
        // thousand of them, and every element is layout and garbage-collector work).
        let _ = write!(out, "<span class=\"cc\" data-i=\"{i}\">");
        escape_html(text, &mut out);
        for row in 0..rows {
            let _ = write!(out, "<i style=\"background:{}\"></i>", css_rgb(color(row, i)));
        }
        out.push_str("</span>");
    }
    if in_word {
        out.push_str("</span>");
    }
    out
}

/// The parts a block of characters (`block`, indices into `texts`) is drawn in, a part per task: about
/// `cuts.part` characters each. With `cuts.whole_words` each part ends after a space or a line break where one
/// comes within another part's length, so a word is not split between two parts (the compact view keeps a word on
/// one line only when it is drawn in one piece).
pub fn block_parts(texts: &[&str], block: std::ops::Range<usize>, cuts: &Cuts) -> Vec<std::ops::Range<usize>> {
    let end = block.end.min(texts.len());
    let step = cuts.part.max(1);
    let mut parts = Vec::new();
    let mut start = block.start;
    while start < end {
        let mut stop = start.saturating_add(step).min(end);
        if cuts.whole_words {
            let limit = stop.saturating_add(step).min(end);
            while stop < limit && !texts.get(stop - 1).is_some_and(|c| c.chars().all(char::is_whitespace)) {
                stop += 1;
            }
        }
        parts.push(start..stop);
        start = stop;
    }
    parts
}

/// Each byte's bits in order, from spans that tile the text from byte 0, as [`golf_core::per_byte_bits`] gives
/// them but without a vector the size of the text; 0 past the last span.
pub fn byte_bits(spans: &[Span]) -> impl Iterator<Item = f64> + '_ {
    spans.iter().flat_map(golf_core::byte_bits).chain(std::iter::repeat(0.0))
}

/// The cells of the first `max` characters of `text` (all of it if it has fewer), with their bits from `spans`,
/// and whether the text goes on past them. Only what a heatmap shows is made: a 4 MB text's four million cells
/// took the page's thread for most of a second.
pub fn shown_cells(text: &str, spans: &[Span], max: usize) -> (Vec<Cell>, bool) {
    use unicode_segmentation::UnicodeSegmentation;
    let mut bits = byte_bits(spans);
    let mut out = Vec::new();
    for (i, g) in text.grapheme_indices(true) {
        if out.len() >= max {
            return (out, true);
        }
        let end = i + g.len();
        let sum: f64 = (&mut bits).take(g.len()).sum();
        out.push(Cell { text: g.into(), start: i as u32, end: end as u32, bits: sum });
    }
    (out, false)
}

/// The byte where the first `max` characters of `text` end (its length if it has no more).
pub fn end_of_chars(text: &str, max: usize) -> usize {
    use unicode_segmentation::UnicodeSegmentation;
    text.grapheme_indices(true).nth(max).map_or(text.len(), |(i, _)| i)
}

/// A per-character difference between two golfers' bits over a text (A's minus B's), worked out a slice of the
/// text at a time ([`CharDiff::advance`]) so that a long text does not hold the page's thread: the totals over the
/// whole text, and the characters and differences of the first `keep` characters (what the map shows).
pub struct CharDiff<'a> {
    text: &'a str,
    at: usize,
    a: Box<dyn Iterator<Item = f64> + 'a>,
    b: Box<dyn Iterator<Item = f64> + 'a>,
    keep: usize,
    /// Characters so far.
    pub chars: usize,
    /// Characters on which A spends more bits than B.
    pub more: usize,
    /// A's bits minus B's, over the characters so far.
    pub total: f64,
    /// The first `keep` characters: their text and byte range.
    pub shown: Vec<(String, (u32, u32))>,
    /// Their differences.
    pub diff: Vec<f64>,
}

impl<'a> CharDiff<'a> {
    /// `text` is what both golfers scored (`a` and `b`: their spans over it, or over more).
    pub fn new(text: &'a str, a: &'a [Span], b: &'a [Span], keep: usize) -> CharDiff<'a> {
        CharDiff {
            text,
            at: 0,
            a: Box::new(byte_bits(a)),
            b: Box::new(byte_bits(b)),
            keep,
            chars: 0,
            more: 0,
            total: 0.0,
            shown: Vec::new(),
            diff: Vec::new(),
        }
    }

    /// Goes on over about `bytes` more bytes of the text (whole characters); true once the text is done.
    pub fn advance(&mut self, bytes: usize) -> bool {
        use unicode_segmentation::UnicodeSegmentation;
        let Some(rest) = self.text.get(self.at..) else { return true };
        let stop = self.at.saturating_add(bytes.max(1));
        for (i, g) in rest.grapheme_indices(true) {
            let start = self.at + i;
            if start >= stop {
                self.at = start;
                return false;
            }
            let end = start + g.len();
            let a: f64 = (&mut self.a).take(g.len()).sum();
            let b: f64 = (&mut self.b).take(g.len()).sum();
            let d = a - b;
            self.total += d;
            self.more += usize::from(d > 0.0);
            if self.chars < self.keep {
                self.shown.push((g.to_string(), (start as u32, end as u32)));
                self.diff.push(d);
            }
            self.chars += 1;
        }
        self.at = self.text.len();
        true
    }
}

/// What a golfer's worker says when it panics: what it was doing, the panic's message and where (a worker's
/// panic hook throws it, and sends it as a load's failure while it loads).
pub fn panic_text(doing: Option<&str>, what: &str, at: Option<(&str, u32)>) -> String {
    let doing = doing.map_or(String::new(), |d| format!(" while {d}"));
    let what = if what.trim().is_empty() { "a panic without a message" } else { what.trim() };
    let at = at.map_or(String::new(), |(file, line)| format!(", at {file}:{line}"));
    format!("it crashed{doing}: {what}{at}")
}

/// Why a worker stopped, from its error event's message: without the browser's "Uncaught Error: " (a panic's text
/// is a reason already: [`panic_text`]); an empty message is what it means.
pub fn worker_stopped(message: &str) -> String {
    let m = message.trim();
    let m = m.strip_prefix("Uncaught ").unwrap_or(m);
    let m = m.strip_prefix("Error: ").unwrap_or(m).trim();
    let why = if m.is_empty() { "it crashed or ran out of memory" } else { m };
    format!("its worker stopped ({why})")
}

/// An import's failure as the visitor reads it: the file, then the reason.
pub fn not_imported(file: &str, why: &str) -> String {
    format!("{file} was not imported: {why}")
}

/// One character of the heatmap: its bytes and the bits charged to them.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// One grapheme cluster: what a reader counts as one character.
    pub text: String,
    pub start: u32,
    pub end: u32,
    pub bits: f64,
}

impl AsRef<str> for Cell {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl Cell {
    pub fn bits_per_byte(&self) -> f64 {
        self.bits / (self.end - self.start) as f64
    }
}

/// Splits `text` into characters as a reader sees them (extended grapheme clusters: a letter with its combining
/// marks, an emoji ZWJ sequence, CRLF), with the bits of their bytes summed.
pub fn cells(text: &str, per_byte: &[f64]) -> Vec<Cell> {
    use unicode_segmentation::UnicodeSegmentation;
    text.grapheme_indices(true)
        .map(|(i, g)| {
            let end = i + g.len();
            Cell { text: g.into(), start: i as u32, end: end as u32, bits: per_byte[i..end].iter().sum() }
        })
        .collect()
}

/// How a character is named in a popover: line breaks and spaces by name, the rest quoted.
pub fn shown(text: &str) -> String {
    match text {
        "\n" | "\r\n" => "\\n".to_string(),
        " " => "space".to_string(),
        t => format!("'{t}'"),
    }
}

/// The span covering byte `at` (spans tile the text in order).
pub fn span_at(spans: &[Span], at: u32) -> Option<usize> {
    let i = spans.partition_point(|s| s.end <= at);
    (i < spans.len() && spans[i].start <= at).then_some(i)
}

/// The hover line for a character and the span it belongs to.
pub fn hover_text(cell: &Cell, span: Option<&Span>) -> String {
    let shown = self::shown(&cell.text);
    let mut s = format!(
        "{shown} (byte {}{}): {:.2} bits",
        cell.start,
        if cell.end - cell.start > 1 { format!("-{}", cell.end - 1) } else { String::new() },
        cell.bits
    );
    if let Some(span) = span {
        if let Some(t) = &span.token {
            if let Some(rank) = t.rank {
                // A model's token: what it was, its rank, and what the model expected instead.
                s += &format!(" · token {:?}: {:.2} bits, rank {rank}", t.text, span.bits);
                if let Some(h) = t.entropy {
                    s += &format!(", entropy {h:.2} bits");
                }
                if !t.top_k.is_empty() {
                    let top: Vec<String> =
                        t.top_k.iter().map(|a| format!("{:?} {:.1}%", a.text, 100.0 * a.prob)).collect();
                    s += &format!(" · top: {}", top.join(", "));
                }
                // How the bits were found (the diffusion golfer: when the token was revealed).
                if let Some(d) = &t.detail {
                    s += &format!(" · {d}");
                }
                return s;
            }
        }
        let detail = span.token.as_ref().and_then(|t| t.detail.clone()).unwrap_or_default();
        s += &format!(
            " · its symbol covers {} byte{} for {:.2} bits{}{}",
            span.end - span.start,
            if span.end - span.start == 1 { "" } else { "s" },
            span.bits,
            if detail.is_empty() { "" } else { ": " },
            detail
        );
    }
    s
}

/// The heatmap draws at most this many characters: one element each, and past this the page would crawl.
pub const HEATMAP_MAX_CHARS: usize = 100_000;

/// The note under a heatmap cut at [`HEATMAP_MAX_CHARS`] characters (`cut`), which cover the first `shown_bytes`
/// of the text's `total_bytes`.
pub fn truncation_note(cut: bool, shown_bytes: usize, total_bytes: usize) -> Option<String> {
    cut.then(|| {
        format!(
            "Showing the first {HEATMAP_MAX_CHARS} characters (the first {shown_bytes} of {total_bytes} bytes); the \
             numbers above cover the whole text."
        )
    })
}

/// The order in which a diffusion golfer revealed the spans: span indices, first revealed first. Spans without
/// an order (gzip, AR, the NELBO) are left out.
pub fn reveal_order(spans: &[Span]) -> Vec<usize> {
    let mut order: Vec<(u32, usize)> =
        spans.iter().enumerate().filter_map(|(i, s)| Some((s.token.as_ref()?.revealed?, i))).collect();
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
}

/// Spans revealed per animation frame so that a replay of `n` spans lasts about `frames` frames.
pub fn replay_batch(n: usize, frames: usize) -> usize {
    n.div_ceil(frames.max(1)).max(1)
}

/// The cells (indices into [`cells`]'s output) covering the bytes of `span`.
pub fn cells_of(cells: &[Cell], span: &Span) -> std::ops::Range<usize> {
    let a = cells.partition_point(|c| c.end <= span.start);
    let b = cells.partition_point(|c| c.start < span.end);
    a..b.max(a)
}

/// For each cell, whether a token (span) starts there: the heatmap marks token boundaries with it.
pub fn token_starts(cells: &[Cell], spans: &[Span]) -> Vec<bool> {
    let mut out = vec![false; cells.len()];
    let mut k = 0;
    for (i, c) in cells.iter().enumerate() {
        while k < spans.len() && spans[k].start < c.start {
            k += 1;
        }
        out[i] = k < spans.len() && spans[k].start == c.start;
    }
    out
}

/// The first cell of the next (or previous) token from cell `at`, for keyboard navigation.
pub fn next_token_cell(cells: &[Cell], spans: &[Span], at: usize, forward: bool) -> Option<usize> {
    let here = span_at(spans, cells.get(at)?.start)?;
    let target = if forward { here.checked_add(1).filter(|&k| k < spans.len())? } else { here.checked_sub(1)? };
    let start = spans[target].start;
    Some(cells.partition_point(|c| c.end <= start))
}

/// Legend stops: (bits per byte, colour) from 0 to `max`.
pub fn legend(max: f64, stops: usize) -> Vec<(f64, [u8; 3])> {
    (0..stops)
        .map(|i| {
            let b = max * i as f64 / (stops - 1) as f64;
            (b, heat_color(b, max))
        })
        .collect()
}

/// The popover of a generated token: what was sampled, its rank and the entropy of the distribution it came
/// from, the model's five favourites, and how it was chosen (a diffusion golfer: the step that committed it).
pub fn token_title(t: &TokenInfo) -> String {
    let mut parts = vec![format!("{:?}", t.text)];
    if let Some(rank) = t.rank {
        parts.push(format!("rank {rank}"));
    }
    if let Some(h) = t.entropy {
        parts.push(format!("entropy {h:.2} bits"));
    }
    if !t.top_k.is_empty() {
        let top: Vec<String> = t.top_k.iter().take(5).map(|a| format!("{:?} {:.1}%", a.text, 100.0 * a.prob)).collect();
        parts.push(format!("top: {}", top.join(", ")));
    }
    if let Some(d) = &t.detail {
        parts.push(d.clone());
    }
    parts.join(" · ")
}

/// About how long a piece of work has left, from how long it has run and the share of it done ("about 12 s
/// left"); none until there is enough to go by (3 % done, half a second run).
pub fn time_left(elapsed_ms: f64, done: f64) -> Option<String> {
    if !(0.03..1.0).contains(&done) || !(500.0..f64::INFINITY).contains(&elapsed_ms) {
        return None;
    }
    let left_s = elapsed_ms / 1e3 * (1.0 - done) / done;
    Some(if left_s < 1.5 {
        "about a second left".to_string()
    } else if left_s < 90.0 {
        format!("about {:.0} s left", left_s)
    } else {
        format!("about {:.0} min left", left_s / 60.0)
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn time_left_waits_for_enough_to_go_by_then_says_seconds_or_minutes() {
        assert_eq!(time_left(400.0, 0.5), None);
        assert_eq!(time_left(10_000.0, 0.01), None);
        assert_eq!(time_left(10_000.0, 1.0), None);
        assert_eq!(time_left(f64::NAN, 0.5), None);
        assert_eq!(time_left(4_000.0, 0.25).as_deref(), Some("about 12 s left"));
        assert_eq!(time_left(1_000.0, 0.5).as_deref(), Some("about a second left"));
        assert_eq!(time_left(60_000.0, 0.25).as_deref(), Some("about 3 min left"));
    }
    use super::*;
    use golf_core::Alternative;

    #[test]
    fn a_crashed_worker_says_why_and_an_import_names_its_file() {
        let panic = panic_text(Some("importing the artifact"), "capacity overflow", Some(("src/zip.rs", 76)));
        assert_eq!(panic, "it crashed while importing the artifact: capacity overflow, at src/zip.rs:76");
        assert_eq!(panic_text(None, " ", None), "it crashed: a panic without a message");
        // The error event of a worker whose panic hook threw, of a bare trap, and of one that died without a word.
        let thrown = worker_stopped(&format!("Uncaught Error: {panic}"));
        assert_eq!(thrown, format!("its worker stopped ({panic})"));
        assert_eq!(
            worker_stopped("Uncaught RuntimeError: unreachable"),
            "its worker stopped (RuntimeError: unreachable)"
        );
        assert_eq!(worker_stopped(""), "its worker stopped (it crashed or ran out of memory)");
        let said = not_imported("final_model.int8.ptz", &thrown);
        assert!(
            said.starts_with("final_model.int8.ptz was not imported: its worker stopped (it crashed while"),
            "{said}"
        );
        assert!(!said.contains("starts again"));
    }

    #[test]
    fn ranks_fall_in_gltrs_buckets() {
        let bucket = |r| RANK_BUCKETS.iter().position(|b| b.2 == rank_color(Some(r)));
        assert_eq!([1, 2, 10, 11, 100, 101, 5000].map(bucket), [0, 1, 1, 2, 2, 3, 3].map(Some));
        assert_eq!(rank_color(None), NO_RANK);
        for (_, _, c) in RANK_BUCKETS {
            assert_eq!(ink_for(c), ink_for(NO_RANK), "every bucket keeps the same readable ink");
        }
    }

    #[test]
    fn token_titles_name_only_what_is_known() {
        let bare = TokenInfo { text: "ab".into(), ..Default::default() };
        assert_eq!(token_title(&bare), "\"ab\"");
        let alt = |text: &str, prob| Alternative { text: text.into(), prob };
        let full = TokenInfo {
            text: " the".into(),
            rank: Some(2),
            entropy: Some(3.25),
            top_k: vec![
                alt(" a", 0.5),
                alt(" the", 0.25),
                alt("x", 0.1),
                alt("y", 0.05),
                alt("z", 0.04),
                alt("w", 0.03),
            ],
            detail: Some("committed at step 3 with probability 0.250".into()),
            revealed: Some(2),
            restore_bits: None,
        };
        assert_eq!(
            token_title(&full),
            "\" the\" · rank 2 · entropy 3.25 bits · top: \" a\" 50.0%, \" the\" 25.0%, \"x\" 10.0%, \"y\" 5.0%, \"z\" 4.0% · \
             committed at step 3 with probability 0.250"
        );
    }

    #[test]
    fn colors_run_light_to_dark() {
        assert_eq!(heat_color(0.0, 12.0), VIRIDIS[9]);
        assert_eq!(heat_color(12.0, 12.0), VIRIDIS[0]);
        assert_eq!(heat_color(99.0, 12.0), VIRIDIS[0]);
        assert_eq!(heat_color(-3.0, 12.0), VIRIDIS[9]);
        assert_eq!(ink_for(VIRIDIS[0]), "#fff");
        assert_eq!(ink_for(VIRIDIS[9]), "#111");
    }

    #[test]
    fn cells_sum_multibyte_characters() {
        let text = "aé😀";
        let per_byte = [1.0, 2.0, 3.0, 1.0, 1.0, 1.0, 1.0];
        let c = cells(text, &per_byte);
        assert_eq!(c.len(), 3);
        assert_eq!((c[1].start, c[1].end, c[1].bits), (1, 3, 5.0));
        assert_eq!(c[2].bits_per_byte(), 1.0);
    }

    #[test]
    fn a_character_is_what_a_reader_sees() {
        // e + combining acute, a family emoji (three people joined by ZWJ), a flag (two regional indicators), CRLF.
        let text = "e\u{301}\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{1F1EB}\u{1F1F7}\r\nx";
        let c = cells(text, &vec![1.0; text.len()]);
        let shown: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            shown,
            ["e\u{301}", "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}", "\u{1F1EB}\u{1F1F7}", "\r\n", "x"]
        );
        assert_eq!((c[0].start, c[0].end, c[0].bits), (0, 3, 3.0));
        assert_eq!(c[1].end - c[1].start, 18);
        assert_eq!(c.last().map(|c| c.end as usize), Some(text.len()));
        assert_eq!(hover_text(&c[3], None), "\\n (byte 29-30): 2.00 bits");
    }

    #[test]
    fn span_lookup() {
        let s = |a, b| Span { start: a, end: b, bits: 1.0, token: None };
        let spans = [s(0, 1), s(1, 5), s(5, 6)];
        assert_eq!(span_at(&spans, 0), Some(0));
        assert_eq!(span_at(&spans, 4), Some(1));
        assert_eq!(span_at(&spans, 5), Some(2));
        assert_eq!(span_at(&spans, 6), None);
    }

    #[test]
    fn hover_shows_a_model_token_rank_and_alternatives() {
        let cell = Cell { text: "e".into(), start: 1, end: 2, bits: 1.5 };
        let token = golf_core::TokenInfo {
            text: " the".into(),
            rank: Some(2),
            top_k: vec![golf_core::Alternative { text: " a".into(), prob: 0.25 }],
            entropy: Some(3.0),
            detail: None,
            revealed: None,
            restore_bits: None,
        };
        let span = Span { start: 0, end: 4, bits: 6.0, token: Some(Box::new(token)) };
        let t = hover_text(&cell, Some(&span));
        assert!(t.contains("token \" the\": 6.00 bits, rank 2, entropy 3.00 bits · top: \" a\" 25.0%"), "{t}");
    }

    #[test]
    fn replay_follows_the_reveal_order() {
        let s = |a, b, r: Option<u32>| Span {
            start: a,
            end: b,
            bits: 1.0,
            token: Some(Box::new(golf_core::TokenInfo { revealed: r, ..Default::default() })),
        };
        let spans = [s(0, 2, Some(2)), s(2, 3, None), s(3, 5, Some(0)), s(5, 6, Some(1))];
        assert_eq!(reveal_order(&spans), vec![2, 3, 0]);
        assert_eq!(replay_batch(1000, 300), 4);
        assert_eq!(replay_batch(0, 300), 1);
        // Cells a [0,1) é [1,3) b [3,4) c [4,5).
        let c = cells("aébc", &[1.0; 5]);
        assert_eq!(cells_of(&c, &s(1, 3, None)), 1..2);
        assert_eq!(cells_of(&c, &spans[2]), 2..4);
        assert_eq!(cells_of(&c, &s(0, 5, None)), 0..4);
    }

    #[test]
    fn token_boundaries_and_keyboard_steps() {
        let s = |a, b| Span { start: a, end: b, bits: 1.0, token: None };
        // "ab é!" : tokens "ab", " é", "!"; cells a b space é !
        let c = cells("ab é!", &[1.0; 6]);
        let spans = [s(0, 2), s(2, 5), s(5, 6)];
        assert_eq!(token_starts(&c, &spans), vec![true, false, true, false, true]);
        assert_eq!(next_token_cell(&c, &spans, 0, true), Some(2));
        assert_eq!(next_token_cell(&c, &spans, 3, true), Some(4));
        assert_eq!(next_token_cell(&c, &spans, 4, true), None);
        assert_eq!(next_token_cell(&c, &spans, 3, false), Some(0));
        assert_eq!(next_token_cell(&c, &spans, 1, false), None);
    }

    #[test]
    fn heatmap_blocks_tile_the_text_and_end_at_line_breaks() {
        let text: String = (0..40).map(|i| format!("line {i} {}\n", "x".repeat(150))).collect();
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let cells: Vec<&str> = chars.iter().map(String::as_str).collect();
        let blocks = heatmap_blocks(&cells);
        assert!(blocks.len() > 1);
        assert_eq!(blocks[0].start, 0);
        assert_eq!(blocks.last().unwrap().end, cells.len());
        for w in blocks.windows(2) {
            assert_eq!(w[0].end, w[1].start);
            assert_eq!(cells[w[0].end - 1], "\n");
            assert!(w[0].len() >= HEATMAP_BLOCK);
        }
        // One paragraph with no line break: cut at a space, never mid-word while one is near.
        let words: Vec<String> = "word ".repeat(10_000).chars().map(String::from).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let blocks = heatmap_blocks(&words);
        assert!(blocks
            .iter()
            .rev()
            .skip(1)
            .all(|b| words[b.end - 1] == " " && (HEATMAP_CUTS.space_at..HEATMAP_CUTS.space_at + 5).contains(&b.len())));
        // No space at all: cut at `cut_at`.
        let solid: Vec<&str> = vec!["字"; 3 * HEATMAP_CUTS.cut_at + 7];
        let blocks = heatmap_blocks(&solid);
        assert_eq!(
            blocks.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [HEATMAP_CUTS.cut_at, HEATMAP_CUTS.cut_at, HEATMAP_CUTS.cut_at, 7]
        );
        assert_eq!(block_lines(&cells[..152]), 2);
        // The compact view's smaller blocks: at most `cut_at` characters, ending after a space from `space_at`.
        let small = super::blocks(&words, &COMPACT_CUTS);
        assert!(small.iter().all(|b| b.len() <= COMPACT_CUTS.cut_at), "{small:?}");
        assert!(small
            .iter()
            .rev()
            .skip(1)
            .all(|b| words[b.end - 1] == " " && (COMPACT_CUTS.space_at..COMPACT_CUTS.space_at + 5).contains(&b.len())));
    }

    #[test]
    fn long_texts_are_cut_with_a_note() {
        assert_eq!(truncation_note(false, 10, 10), None);
        let note = truncation_note(true, 100_400, 3_900_000).unwrap();
        assert!(note.contains("first 100000 characters (the first 100400 of 3900000 bytes)"), "{note}");
    }

    /// Spans over `text` as a golfer gives them: tokens of 1 to 3 bytes that tile it, with uneven bits.
    fn some_spans(len: usize) -> Vec<Span> {
        let mut spans = Vec::new();
        let mut at = 0;
        while at < len {
            let end = (at + 1 + at % 3).min(len);
            spans.push(Span { start: at as u32, end: end as u32, bits: 0.1 + (at % 7) as f64 * 1.37, token: None });
            at = end;
        }
        spans
    }

    #[test]
    fn shown_cells_are_the_first_cells_of_the_whole_text() {
        let text = "Héllo, wörld! e\u{301} \u{1F1EB}\u{1F1F7}\r\n".repeat(50);
        let spans = some_spans(text.len());
        let all = cells(&text, &golf_core::per_byte_bits(&spans, text.len()));
        let (shown, cut) = shown_cells(&text, &spans, 123);
        assert!(cut);
        assert_eq!(shown[..], all[..123], "the same characters and bits as from a whole per-byte vector");
        assert_eq!(shown_cells(&text, &spans, all.len()), (all.clone(), false));
        assert_eq!(shown_cells(&text, &spans, usize::MAX), (all, false));
        // Spans that stop short (a chain rule's prefix) leave the rest at 0 bits, as per_byte_bits does.
        let (short, _) = shown_cells(&text, &spans[..4], 40);
        assert!(short[10..].iter().all(|c| c.bits == 0.0) && short[0].bits > 0.0);
    }

    #[test]
    fn the_shown_characters_end_where_their_cells_do() {
        let text = "e\u{301}x\u{1F1EB}\u{1F1F7}\r\nab".repeat(10);
        let spans = some_spans(text.len());
        for max in [0, 1, 3, 7, 1000] {
            let (cells, _) = shown_cells(&text, &spans, max);
            assert_eq!(end_of_chars(&text, max), cells.last().map_or(0, |c| c.end as usize), "{max}");
        }
        assert_eq!(end_of_chars("", 5), 0);
    }

    #[test]
    fn parts_tile_a_block_and_end_after_spaces_when_asked() {
        let text = "lorem ipsum dolorsitametconsecteturadipiscing elit\n".repeat(40);
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let texts: Vec<&str> = chars.iter().map(String::as_str).collect();
        for whole_words in [false, true] {
            let cuts = Cuts { whole_words, ..HEATMAP_CUTS };
            let block = 7..texts.len() - 3;
            let parts = block_parts(&texts, block.clone(), &cuts);
            assert_eq!(parts.first().map(|p| p.start), Some(block.start));
            assert_eq!(parts.last().map(|p| p.end), Some(block.end));
            assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
            assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= 2 * HEATMAP_CHUNK));
            let ends_in_space = parts[..parts.len() - 1].iter().all(|p| texts[p.end - 1].trim().is_empty());
            assert_eq!(ends_in_space, whole_words, "{parts:?}");
        }
        // A word longer than a chunk is cut after all, at twice the chunk.
        let long: Vec<&str> = vec!["x"; 5 * COMPACT_CUTS.part];
        let parts = block_parts(&long, 0..long.len(), &COMPACT_CUTS);
        assert_eq!(parts[0], 0..2 * COMPACT_CUTS.part);
        assert!(block_parts(&long, std::ops::Range { start: 10, end: 3 }, &COMPACT_CUTS).is_empty());
    }

    #[test]
    fn a_difference_in_slices_equals_the_whole_one() {
        let text = "a é\u{1F468}\u{200D}\u{1F469} b\r\nc\u{1F1EB}\u{1F1F7}d ".repeat(300);
        let (a, b) = (some_spans(text.len()), vec![Span { start: 0, end: text.len() as u32, bits: 3.0, token: None }]);
        // The whole-text way: per-byte vectors and every character at once.
        let (pa, pb) = (golf_core::per_byte_bits(&a, text.len()), golf_core::per_byte_bits(&b, text.len()));
        let chars = cells(&text, &pa);
        let ranges: Vec<(u32, u32)> = chars.iter().map(|c| (c.start, c.end)).collect();
        let whole = crate::results::difference(&pa, &pb, &ranges);
        for slice in [1, 7, 100, 1 << 20] {
            let mut d = CharDiff::new(&text, &a, &b, 50);
            let mut rounds = 1;
            while !d.advance(slice) {
                rounds += 1;
            }
            assert!(d.advance(slice), "done stays done");
            assert_eq!(d.chars, chars.len());
            assert_eq!(d.more, whole.iter().filter(|&&x| x > 0.0).count());
            assert!((d.total - whole.iter().sum::<f64>()).abs() < 1e-6, "{} {}", d.total, whole.iter().sum::<f64>());
            assert_eq!(d.diff[..], whole[..50]);
            assert_eq!(d.shown.len(), 50);
            assert!(d.shown.iter().zip(&chars).all(|((t, r), c)| *t == c.text && *r == (c.start, c.end)));
            assert!(slice > text.len() || rounds > 1);
        }
    }

    #[test]
    fn hover_describes_the_symbol() {
        let cell = Cell { text: "x".into(), start: 3, end: 4, bits: 2.5 };
        let span = Span { start: 2, end: 6, bits: 10.0, token: None };
        let t = hover_text(&cell, Some(&span));
        assert!(t.starts_with("'x' (byte 3): 2.50 bits"), "{t}");
        assert!(t.contains("covers 4 bytes for 10.00 bits"), "{t}");
    }

    #[test]
    fn heatmap_html_escapes_the_text_and_marks_token_starts() {
        let spans =
            vec![Span { start: 0, end: 2, bits: 4.0, token: None }, Span { start: 2, end: 3, bits: 1.0, token: None }];
        let cells = cells("<b&", &golf_core::per_byte_bits(&spans, 3));
        let color = |c: &Cell| cell_color(c, &spans, 8.0, false);
        let html = heatmap_html(&cells, &spans, 0..3, color);
        assert_eq!(heatmap_html(&cells, &spans, 1..3, color).matches("<span").count(), 2);
        assert_eq!(heatmap_html(&cells, &spans, 2..9, color).matches("<span").count(), 1, "a range past the end");
        assert_eq!(html.matches("<span").count(), 3);
        assert!(html.contains(">&lt;</span>") && html.contains(">&amp;</span>") && !html.contains("<b"), "{html}");
        assert_eq!(html.matches("class=\"tb\"").count(), 2, "{html}");
        assert!(html.contains("data-i=\"2\""));
    }

    #[test]
    fn a_heatmap_drawn_in_parts_is_the_heatmap_drawn_whole() {
        let text = "tokens of a few bytes, é and \u{1F1EB}\u{1F1F7} too\n".repeat(40);
        let spans = some_spans(text.len());
        let (cells, _) = shown_cells(&text, &spans, usize::MAX);
        let color = |c: &Cell| cell_color(c, &spans, 8.0, false);
        let whole = heatmap_html(&cells, &spans, 0..cells.len(), color);
        for step in [1, 5, 37] {
            let parts: String = (0..cells.len())
                .step_by(step)
                .map(|a| heatmap_html(&cells, &spans, a..(a + step).min(cells.len()), color))
                .collect();
            assert_eq!(parts, whole, "parts of {step}");
        }
        let starts = token_starts(&cells, &spans).iter().filter(|&&b| b).count();
        assert_eq!(whole.matches("class=\"tb\"").count(), starts);
    }

    #[test]
    fn compact_html_groups_words_and_gives_each_golfer_a_bar() {
        let texts = ["a", " ", "b", "\n", "c", "<"];
        let color = |row: usize, i: usize| if row == 0 { [1, 2, 3] } else { [4, 5, i as u8] };
        let html = compact_html(&texts, 2, color, 0..6);
        assert_eq!(html.matches("<span class=\"cw\">").count(), 3, "a, b and c< are words: {html}");
        assert_eq!(html.matches("<i ").count(), 10, "two bars under each of the five characters shown: {html}");
        assert_eq!(html.matches("rgb(1,2,3)").count(), 5, "{html}");
        assert!(
            html.contains(
                "data-i=\"5\">&lt;<i style=\"background:rgb(1,2,3)\"></i><i style=\"background:rgb(4,5,5)\">"
            ),
            "{html}"
        );
        assert_eq!(html.matches("<br>").count(), 1);
        assert_eq!(html.matches("<span").count(), html.matches("</span>").count(), "balanced: {html}");
        // A part of the characters: its own words, balanced, and indices that say where it is.
        let part = compact_html(&texts, 2, color, 2..5);
        assert!(part.starts_with("<span class=\"cw\"><span class=\"cc\" data-i=\"2\">b<i "), "{part}");
        assert_eq!(part.matches("<span").count(), part.matches("</span>").count(), "balanced: {part}");
        assert_eq!(compact_html(&texts, 2, color, 4..99).matches("class=\"cc\"").count(), 2);
    }
}
