//! What the page derives from the golfers' scores, as pure functions: the summary table, the charts' data
//! (bpb bars, cumulative bits, per-token histograms, the difference between two golfers) and the exports.

use golf_core::Span;

/// Parameter Golf's baseline val_bpb, the reference line on the bar chart.
pub const BASELINE_BPB: f64 = 1.2244;

/// One golfer's finished score of a text.
#[derive(Clone, Debug)]
pub struct Scored {
    pub id: String,
    pub label: String,
    pub spans: Vec<Span>,
    pub bits: f64,
    /// Bytes scored: the text's, or the prefix a time-limited chain rule reached.
    pub bytes: u64,
    /// The whole text's bytes: more than `bytes` when only a prefix was scored.
    pub text_bytes: u64,
    pub tokens: Option<usize>,
    pub ms: f64,
    pub model_bytes: u64,
}

impl Scored {
    pub fn bpb(&self) -> f64 {
        self.bits / self.bytes.max(1) as f64
    }

    /// Whether only a prefix of the text was scored (a chain rule cut by its time limit): its numbers are not
    /// comparable with whole-text ones, and every view says so.
    pub fn is_prefix(&self) -> bool {
        self.bytes < self.text_bytes
    }

    /// The golfer's name as the table and the charts show it, with the prefix it covers where it covers one.
    pub fn shown_label(&self) -> String {
        if self.is_prefix() {
            format!("{} (prefix: first {} of {} bytes)", self.label, self.bytes, self.text_bytes)
        } else {
            self.label.clone()
        }
    }

    /// Bits per byte with the model's own size charged, as compression benchmarks count a decompressor:
    /// (bits + 8 x model bytes) / bytes.
    pub fn charged_bpb(&self) -> f64 {
        (self.bits + 8.0 * self.model_bytes as f64) / self.bytes.max(1) as f64
    }
}

/// A row of the summary table, formatted.
pub fn summary_row(s: &Scored) -> [String; 8] {
    [
        s.shown_label(),
        format!("{:.4}{}", s.bpb(), if s.is_prefix() { " (prefix)" } else { "" }),
        format!("{:.0}", s.bits),
        s.tokens.map_or("–".into(), |t| t.to_string()),
        s.bytes.to_string(),
        format!("{:.0}", s.ms),
        if s.model_bytes == 0 { "0 (its code)".into() } else { format!("{:.2} MB", s.model_bytes as f64 / 1e6) },
        readable(s.charged_bpb()),
    ]
}

/// A number for the table that reads at any size: 12.3 below a thousand, else 5.9 × 10⁴.
pub fn readable(x: f64) -> String {
    if !x.is_finite() || x.abs() < 1000.0 {
        return format!("{x:.1}");
    }
    let exp = x.abs().log10().floor() as i32;
    let mut mantissa = x / 10f64.powi(exp);
    let mut exp = exp;
    if format!("{mantissa:.1}").starts_with("10") {
        mantissa /= 10.0;
        exp += 1;
    }
    const SUPERSCRIPT: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits: String = exp.to_string().chars().map(|c| SUPERSCRIPT[c as usize - '0' as usize]).collect();
    format!("{mantissa:.1} × 10{digits}")
}

pub const SUMMARY_HEADER: [&str; 8] =
    ["golfer", "bits/byte", "bits", "tokens", "bytes", "time (ms)", "model size", "bits/byte with model"];

/// Cumulative bits at the end of each span, thinned to at most `max_points` points (always keeping the last).
pub fn cumulative(spans: &[Span], max_points: usize) -> Vec<(f64, f64)> {
    let mut total = 0.0;
    let all: Vec<(f64, f64)> = spans
        .iter()
        .map(|s| {
            total += s.bits;
            (s.end as f64, total)
        })
        .collect();
    let every = all.len().div_ceil(max_points.max(1)).max(1);
    let mut out: Vec<(f64, f64)> = all.iter().step_by(every).copied().collect();
    if let (Some(last), Some(kept)) = (all.last(), out.last()) {
        if last != kept {
            out.push(*last);
        }
    }
    out.insert(0, (0.0, 0.0));
    out
}

/// Counts of spans' bits in `bins` bins of `width` bits (the last bin takes everything above).
pub fn histogram(spans: &[Span], bins: usize, width: f64) -> Vec<u32> {
    let mut counts = vec![0u32; bins.max(1)];
    for s in spans {
        let b = ((s.bits.max(0.0) / width) as usize).min(counts.len() - 1);
        counts[b] += 1;
    }
    counts
}

/// Per character: A's bits minus B's (positive where A spends more). `a` and `b` are per-byte bits over the
/// same text; `chars` are the characters' byte ranges.
pub fn difference(a: &[f64], b: &[f64], chars: &[(u32, u32)]) -> Vec<f64> {
    chars
        .iter()
        .map(|&(s, e)| {
            let r = s as usize..(e as usize).min(a.len()).min(b.len());
            a[r.clone()].iter().sum::<f64>() - b[r].iter().sum::<f64>()
        })
        .collect()
}

/// A golfer's name for a bar chart's axis, in lines of at most `width` characters: the label without its
/// parenthesis, broken after hyphens and spaces (a single part longer than `width` keeps its own line, whole).
pub fn name_lines(label: &str, width: usize) -> Vec<String> {
    let name = label.split(" (").next().unwrap_or(label);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for part in name.split_inclusive(['-', ' ']) {
        if !line.is_empty() && line.trim_end().chars().count() + part.trim_end().chars().count() > width {
            lines.push(line.trim_end().to_string());
            line.clear();
        }
        line += part;
    }
    if !line.trim_end().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// A number for an axis tick: whole numbers without a decimal point and with thousands grouped (14,000, not
/// 14000.0), others with at most two decimals.
pub fn axis_number(v: f64) -> String {
    if v.fract() != 0.0 || v.abs() >= 1e15 {
        let s = format!("{v:.2}");
        return s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    let digits = (v.abs() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A diverging, colour-blind-safe palette (ColorBrewer PuOr): purple where A spends more bits than B, orange
/// where B does, neutral where they agree; `max` bits per byte saturates. On a `dark` page the neutral middle is
/// the panel's own dark grey and the hues brighten with the difference, so agreement is not a white block.
pub fn diff_color(d: f64, max: f64, dark: bool) -> [u8; 3] {
    const PUOR: [[u8; 3]; 7] = [
        [0xb3, 0x58, 0x06],
        [0xf1, 0xa3, 0x40],
        [0xfe, 0xe0, 0xb6],
        [0xf7, 0xf7, 0xf7],
        [0xd8, 0xda, 0xeb],
        [0x99, 0x8e, 0xc3],
        [0x54, 0x27, 0x88],
    ];
    const PUOR_DARK: [[u8; 3]; 7] = [
        [0xf1, 0xa3, 0x40],
        [0xb3, 0x65, 0x1c],
        [0x5c, 0x3b, 0x1f],
        [0x2a, 0x2c, 0x33],
        [0x3e, 0x38, 0x63],
        [0x6f, 0x62, 0xaa],
        [0xb8, 0xb0, 0xe0],
    ];
    let palette = if dark { &PUOR_DARK } else { &PUOR };
    let t = if max > 0.0 { (d / max).clamp(-1.0, 1.0) } else { 0.0 };
    let x = (t + 1.0) / 2.0 * (palette.len() - 1) as f64;
    let i = (x.floor() as usize).min(palette.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (palette[i], palette[i + 1]);
    [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
}

/// The export: per golfer its totals, spans and per-byte bits, in the shape of `golf score --json --per-byte`.
pub fn export_json(text: &str, scored: &[Scored]) -> serde_json::Value {
    let golfers: Vec<serde_json::Value> = scored
        .iter()
        .map(|s| {
            let spans: Vec<serde_json::Value> = s
                .spans
                .iter()
                .map(|sp| serde_json::json!({ "start": sp.start, "end": sp.end, "bits": sp.bits }))
                .collect();
            serde_json::json!({
                "golfer": s.id,
                "label": s.label,
                "bytes": s.bytes,
                "bits": s.bits,
                "bpb": s.bpb(),
                "tokens": s.tokens,
                "model_bytes": s.model_bytes,
                "spans": spans,
                "per_byte": golf_core::per_byte_bits(&s.spans, s.bytes as usize),
            })
        })
        .collect();
    serde_json::json!({ "text_bytes": text.len(), "golfers": golfers })
}

/// The export as CSV: one row per byte of the text, one column of bits per golfer (empty past a golfer's
/// scored prefix).
pub fn export_csv(text: &str, scored: &[Scored]) -> String {
    let per_byte: Vec<Vec<f64>> = scored.iter().map(|s| golf_core::per_byte_bits(&s.spans, s.bytes as usize)).collect();
    let mut out = String::from("byte,char");
    for s in scored {
        out += &format!(",{}", s.id);
    }
    out.push('\n');
    for i in 0..text.len() {
        // The character starting at this byte (continuation bytes get none), quoted for CSV.
        let ch = if text.is_char_boundary(i) { text[i..].chars().next().map(String::from) } else { None };
        let ch = ch.map_or(String::new(), |c| match c.as_str() {
            "\n" => "\\n".into(),
            c => format!("\"{}\"", c.replace('"', "\"\"")),
        });
        out += &format!("{i},{ch}");
        for p in &per_byte {
            match p.get(i) {
                Some(v) => out += &format!(",{v}"),
                None => out.push(','),
            }
        }
        out.push('\n');
    }
    out
}

/// A race lane's clock: tokens, time to first token and speed. The speed is what the lane visibly wrote per
/// second of wall-clock since the race started; the lane's own compute time (its steps alone) is kept apart,
/// for the scheduler and as the golfer's speed when it has the CPU to itself.
#[derive(Clone, Debug)]
pub struct LaneClock {
    start_ms: f64,
    first_ms: Option<f64>,
    last_ms: f64,
    tokens: usize,
    own_ms: f64,
}

impl LaneClock {
    pub fn new(start_ms: f64) -> LaneClock {
        LaneClock { start_ms, first_ms: None, last_ms: start_ms, tokens: 0, own_ms: 0.0 }
    }

    /// A step that ran from `t0` to `t1` and produced `tokens` tokens.
    pub fn step(&mut self, t0: f64, t1: f64, tokens: usize) {
        self.own_ms += t1 - t0;
        self.last_ms = t1;
        self.tokens += tokens;
        if tokens > 0 && self.first_ms.is_none() {
            self.first_ms = Some(t1);
        }
    }

    pub fn ttft_ms(&self) -> Option<f64> {
        self.first_ms.map(|f| f - self.start_ms)
    }

    /// Milliseconds the lane's own steps took.
    pub fn own_ms(&self) -> f64 {
        self.own_ms
    }

    /// Tokens per second of wall-clock, from the race's start to the lane's last step.
    pub fn tokens_per_s(&self) -> f64 {
        per_s(self.tokens, self.last_ms - self.start_ms)
    }

    /// Tokens per second of the lane's own steps: its speed with the CPU to itself.
    pub fn own_tokens_per_s(&self) -> f64 {
        per_s(self.tokens, self.own_ms)
    }

    pub fn line(&self, now_ms: f64) -> String {
        let ttft = self.ttft_ms().map_or("–".into(), |t| format!("{t:.0} ms"));
        format!(
            "{} tokens · {:.1} tokens/s · first token {ttft} · {:.1} s",
            self.tokens,
            self.tokens_per_s(),
            (now_ms - self.start_ms) / 1e3
        )
    }

    /// The same numbers as data attributes, for tests and scripts.
    pub fn attributes(&self, now_ms: f64) -> Vec<(&'static str, String)> {
        let mut a = vec![
            ("data-tokens", self.tokens.to_string()),
            ("data-tokens-per-s", self.tokens_per_s().to_string()),
            ("data-own-tokens-per-s", self.own_tokens_per_s().to_string()),
            ("data-elapsed-ms", (now_ms - self.start_ms).to_string()),
        ];
        if let Some(t) = self.ttft_ms() {
            a.push(("data-ttft-ms", t.to_string()));
        }
        a
    }
}

fn per_s(n: usize, ms: f64) -> f64 {
    if ms > 0.0 {
        n as f64 * 1e3 / ms
    } else {
        0.0
    }
}

/// Part `range` of the difference map as HTML: one span per character (`chars`: its text and byte range),
/// coloured by `diff` (A's bits minus B's) per byte on `scale`, titled with the difference; `data-i` its index.
pub fn diff_html<S: AsRef<str>>(
    chars: &[(S, (u32, u32))],
    diff: &[f64],
    range: std::ops::Range<usize>,
    scale: f64,
    dark: bool,
    a_label: &str,
) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(range.len() * 96);
    let mut title = String::new();
    crate::views::escape_html(a_label, &mut title);
    for k in range {
        let ((c, (s, e)), d) = (&chars[k], diff[k]);
        let c = c.as_ref();
        let bg = diff_color(d / (e - s).max(1) as f64, scale, dark);
        let (bg, ink) = (crate::views::css_rgb(bg), crate::views::ink_for(bg));
        let _ =
            write!(out, "<span data-i=\"{k}\" title=\"{title}: {d:+.2} bits\" style=\"background:{bg};color:{ink}\">");
        crate::views::escape_html(c, &mut out);
        out.push_str("</span>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u32, end: u32, bits: f64) -> Span {
        Span { start, end, bits, token: None }
    }

    fn scored(spans: Vec<Span>, model_bytes: u64) -> Scored {
        let bits = spans.iter().map(|s| s.bits).sum();
        let bytes = spans.last().map_or(0, |s| s.end as u64);
        Scored {
            id: "x".into(),
            label: "X".into(),
            spans,
            bits,
            bytes,
            text_bytes: bytes,
            tokens: Some(2),
            ms: 5.0,
            model_bytes,
        }
    }

    #[test]
    fn a_prefix_says_so() {
        let mut s = scored(vec![span(0, 4, 8.0)], 0);
        assert_eq!(summary_row(&s)[0], "X");
        s.text_bytes = 10;
        let row = summary_row(&s);
        assert_eq!(row[0], "X (prefix: first 4 of 10 bytes)");
        assert_eq!(row[1], "2.0000 (prefix)");
    }

    #[test]
    fn big_numbers_read_as_powers_of_ten() {
        assert_eq!(readable(3.0), "3.0");
        assert_eq!(readable(999.9), "999.9");
        assert_eq!(readable(58_712.0), "5.9 × 10⁴");
        assert_eq!(readable(99_960.0), "1.0 × 10⁵");
        assert_eq!(readable(8.47e12), "8.5 × 10¹²");
    }

    #[test]
    fn charging_the_model_size() {
        let s = scored(vec![span(0, 4, 8.0), span(4, 8, 8.0)], 1);
        assert_eq!(s.bpb(), 2.0);
        assert_eq!(s.charged_bpb(), 3.0);
        let row = summary_row(&s);
        assert_eq!(row[1], "2.0000");
        assert_eq!(row[7], "3.0");
    }

    #[test]
    fn cumulative_bits_end_at_the_total() {
        let spans: Vec<Span> = (0..10).map(|i| span(i, i + 1, 1.0)).collect();
        let c = cumulative(&spans, 3);
        assert_eq!(c.first(), Some(&(0.0, 0.0)));
        assert_eq!(c.last(), Some(&(10.0, 10.0)));
        assert!(c.len() <= 3 + 2);
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    }

    #[test]
    fn histogram_bins_and_overflow() {
        let spans = [span(0, 1, 0.5), span(1, 2, 1.5), span(2, 3, 99.0), span(3, 4, -0.1)];
        assert_eq!(histogram(&spans, 3, 1.0), vec![2, 1, 1]);
    }

    #[test]
    fn difference_per_character_and_its_colours() {
        // "aé": a = byte 0, é = bytes 1..3.
        let d = difference(&[1.0, 2.0, 2.0], &[0.5, 1.0, 1.0], &[(0, 1), (1, 3)]);
        assert_eq!(d, vec![0.5, 2.0]);
        assert_eq!(diff_color(0.0, 4.0, false), [0xf7, 0xf7, 0xf7]);
        assert_eq!(diff_color(9.0, 4.0, false), [0x54, 0x27, 0x88]);
        assert_eq!(diff_color(-9.0, 4.0, false), [0xb3, 0x58, 0x06]);
        // Dark: agreement is the panel's grey, not white; big differences are the bright ends.
        assert_eq!(diff_color(0.0, 4.0, true), [0x2a, 0x2c, 0x33]);
        assert_eq!(crate::views::ink_for(diff_color(0.0, 4.0, true)), "#fff");
        assert_eq!(diff_color(9.0, 4.0, true), [0xb8, 0xb0, 0xe0]);
    }

    #[test]
    fn chart_labels_fit() {
        assert_eq!(name_lines("SmolLM2-135M-Instruct (4-bit)", 12), ["SmolLM2-", "135M-", "Instruct"]);
        assert_eq!(name_lines("SmolLM2-135M-Instruct (4-bit)", 14), ["SmolLM2-135M-", "Instruct"]);
        assert_eq!(name_lines("gzip -9", 12), ["gzip -9"]);
        assert_eq!(name_lines("Parameter Golf AR (int8)", 12), ["Parameter", "Golf AR"]);
        assert_eq!(axis_number(14000.0), "14,000");
        assert_eq!(axis_number(0.0), "0");
        assert_eq!(axis_number(2.5), "2.5");
        assert_eq!(axis_number(0.30000000000000004), "0.3");
        assert_eq!(axis_number(-1234567.0), "-1,234,567");
    }

    #[test]
    fn a_lane_clock_states_wall_clock_speed_and_keeps_its_own_time() {
        let mut c = LaneClock::new(1000.0);
        c.step(1000.0, 1100.0, 0); // a prefill with no token yet
        assert_eq!(c.ttft_ms(), None);
        c.step(1300.0, 1400.0, 1); // the others ran from 1100 to 1300
        c.step(1900.0, 2000.0, 2);
        assert_eq!(c.ttft_ms(), Some(400.0));
        // 3 tokens in the 1 s since the start, though its own steps took 0.3 s.
        assert_eq!(c.tokens_per_s(), 3.0);
        assert_eq!(c.own_tokens_per_s(), 10.0);
        assert_eq!(c.line(2000.0), "3 tokens · 3.0 tokens/s · first token 400 ms · 1.0 s");
    }

    #[test]
    fn exports_carry_every_byte() {
        let s = scored(vec![span(0, 1, 2.0), span(1, 3, 4.0)], 0);
        let json = export_json("aé", std::slice::from_ref(&s));
        assert_eq!(json["golfers"][0]["per_byte"], serde_json::json!([2.0, 2.0, 2.0]));
        assert_eq!(json["golfers"][0]["bpb"], 2.0);
        let csv = export_csv("a\"é", &[scored(vec![span(0, 2, 2.0), span(2, 4, 4.0)], 0)]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "byte,char,x");
        assert_eq!(lines[1], "0,\"a\",1");
        assert_eq!(lines[2], "1,\"\"\"\",1");
        assert_eq!(lines[3], "2,\"é\",2");
        assert_eq!(lines[4], "3,,2");
    }

    #[test]
    fn the_difference_map_escapes_text_and_labels() {
        let chars = [("<", (0, 1)), ("é", (1, 3))];
        let html = diff_html(&chars, &[2.0, -1.0], 0..2, 4.0, false, "A & B");
        assert_eq!(html.matches("<span").count(), 2);
        assert!(html.contains(">&lt;</span>") && html.contains("A &amp; B: +2.00 bits") && html.contains("-1.00 bits"));
    }
}
