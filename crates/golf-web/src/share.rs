//! Share links: the URL fragment carries the text (raw DEFLATE by our own zlib port, base64url) and the view's
//! settings, so a link reproduces the view. Nothing is sent anywhere: a fragment never leaves the browser.
//!
//! Anyone can craft a link, so the decoder reads it as a stranger's file: a setting the page's controls cannot show
//! is not used (and the visitor is told), a text given twice refuses the link before anything is inflated, and the
//! one text is inflated to at most [`MAX_TEXT_BYTES`].

use std::fmt::Write as _;

/// A shared text decodes to at most this many bytes (the most the page scores): the link's whole inflation.
pub const MAX_TEXT_BYTES: usize = 4 << 20;

/// The longest URL Chromium opens (2 MB); a longer link fails to load, so the page refuses to make one.
pub const MAX_LINK_CHARS: usize = 2 << 20;

/// A link's text longer than this is shown but not scored until the visitor asks. The page is measured responsive
/// up to 100,000 characters (views.test.mjs), and on a 2-core machine its slowest golfers score that much in a few
/// minutes in their workers (SmolLM2 in Chromium reads 90-150 tokens/s, about 4 bytes each; MDLM's NELBO 75-140
/// tokens/s of about 2.5 bytes): the most a stranger's link should start without asking. The largest text the page
/// accepts (4 MB) would keep every core busy for hours.
pub const ASK_BEFORE_SCORING_BYTES: usize = 100_000;

/// The colour scale's control (`#scale` in web/index.html, checked by a test): bits per byte at the dark end.
pub const SCALE_MIN: f64 = 1.0;
pub const SCALE_MAX: f64 = 24.0;
pub const SCALE_STEP: f64 = 0.5;
pub const SCALE_DEFAULT: f64 = 12.0;

/// NELBO's number of masking rates K: the diffusion panel's slider (app/panels.rs builds it from these).
pub const NELBO_K_MIN: u32 = 1;
pub const NELBO_K_MAX: u32 = 128;
pub const NELBO_K_DEFAULT: u32 = 32;

/// At most this many imported golfers are named by a link (the page keeps a handful; a crafted link could name
/// thousands, each a line of the message that asks for its file).
pub const MAX_LOCALS: usize = 8;

/// The settings not taken that a message names one by one; more are counted.
const MAX_NAMED_IGNORED: usize = 6;

/// A value quoted in a message is cut to this many characters.
const MAX_QUOTED_CHARS: usize = 40;

/// The longest golfer id or file name a link may carry.
const MAX_NAME_BYTES: usize = 255;

/// Why a link cannot be made: the text is too long for a URL.
pub fn too_long(url_chars: usize) -> Option<String> {
    (url_chars > MAX_LINK_CHARS).then(|| {
        format!(
            "This text makes a link of {:.1} MB, and browsers open links of at most {:.0} MB: use Export JSON to share \
             it instead.",
            url_chars as f64 / (1 << 20) as f64,
            (MAX_LINK_CHARS >> 20) as f64
        )
    })
}

#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub text: String,
    /// Colour scale: bits per byte at the dark end.
    pub scale: f64,
    /// The diffusion golfer's estimator (`nelbo`, `confidence`, `l2r`) and NELBO's K.
    pub estimator: String,
    pub nelbo_k: u32,
    /// The difference heatmap's two golfers.
    pub diff: Option<(String, String)>,
    /// Heatmaps coloured by each token's rank instead of bits per byte.
    pub by_rank: bool,
    /// Golfers imported in the sender's browser (their file name and the artifact's sha256): a link cannot carry
    /// them, so the recipient is told which file to drop.
    pub local: Vec<LocalGolfer>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LocalGolfer {
    pub file: String,
    pub sha256: String,
}

pub fn encode(view: &View) -> String {
    let packed = golf_gzip::deflate::Deflater::new(view.text.as_bytes().to_vec()).finish();
    let mut s = format!("t={}&s={}&e={}&k={}", base64url(&packed), view.scale, view.estimator, view.nelbo_k);
    if let Some((a, b)) = &view.diff {
        let _ = write!(s, "&d={a},{b}");
    }
    if view.by_rank {
        s += "&c=rank";
    }
    for l in &view.local {
        let _ = write!(s, "&l={}:{}", l.sha256, base64url(l.file.as_bytes()));
    }
    s
}

/// What a link gave: its view, and the settings it carried that were not used, each in the visitor's words with
/// what the page accepts (the text and the other settings are kept).
#[derive(Clone, Debug, PartialEq)]
pub struct Opened {
    pub view: View,
    /// The first few, each named (at most `MAX_NAMED_IGNORED`)...
    pub ignored: Vec<String>,
    /// ... and how many more: a crafted link can hold a million bad parts, and none is worth a string.
    pub unnamed: usize,
}

/// What a link's settings were not taken for: the first few in words, the rest counted.
#[derive(Default)]
struct Said {
    named: Vec<String>,
    more: usize,
}

impl Said {
    /// `why` is written only while few are named.
    fn add(&mut self, why: impl FnOnce() -> String) {
        match self.named.len() < MAX_NAMED_IGNORED {
            true => self.named.push(why()),
            false => self.more = self.more.saturating_add(1),
        }
    }
}

impl Opened {
    /// What the page says about the settings it did not use, if any.
    pub fn notice(&self) -> Option<String> {
        if self.ignored.is_empty() {
            return None;
        }
        let mut named = self.ignored.join("; ");
        if self.unnamed > 0 {
            let _ = write!(named, "; and {} more", self.unnamed);
        }
        Some(format!(
            "This link's text is shown, but some of its settings could not be used, so the page uses its own: {named}."
        ))
    }

    /// The text is long enough that the page asks before scoring it.
    pub fn asks_before_scoring(&self) -> bool {
        self.view.text.len() > ASK_BEFORE_SCORING_BYTES
    }
}

/// Why a link's view could not be opened, in the visitor's words (the page then shows its default text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// No `t=` in it: most often a link cut short when it was copied.
    NoText,
    /// `t=` more than once: no link the page makes; refused before anything is inflated.
    TextRepeated(usize),
    /// The text does not decode; `detail` says where, for whoever debugs it.
    Damaged { detail: String },
    /// The text (or the link) is larger than the page takes.
    TooBig,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const DEFAULT: &str = "The page shows its default text instead.";
        match self {
            LinkError::NoText => write!(
                f,
                "This link has no text in it: it was probably cut off when it was copied. Copy the whole link \
                 again, or ask its sender for it. {DEFAULT}"
            ),
            LinkError::TextRepeated(n) => write!(
                f,
                "This link holds {n} texts where a share link holds one, so it was not made by this page's Share \
                 link button (or it was changed since); none of them was opened. {DEFAULT}"
            ),
            LinkError::Damaged { detail } => write!(
                f,
                "This link is cut off or damaged: its text could not be read. Copy the whole link again, or ask its \
                 sender for it. {DEFAULT} (Detail: {detail}.)"
            ),
            LinkError::TooBig => write!(
                f,
                "This link's text is larger than the {} MB the page scores, so it was not opened. {DEFAULT}",
                MAX_TEXT_BYTES >> 20
            ),
        }
    }
}

impl std::error::Error for LinkError {}

/// The settings a link may carry, by key, in the words a message names them with. `l` (imported golfers) may
/// repeat; the others are read once.
const SETTINGS: [(&str, &str); 5] = [
    ("s", "colour scale"),
    ("e", "diffusion golfer's estimator"),
    ("k", "NELBO's K"),
    ("d", "difference heatmap's golfers"),
    ("c", "colouring"),
];

/// Reads a fragment (without the `#`). A damaged text says what is wrong with it; a setting the page cannot show
/// is not used and said, and the rest of the view kept. The fragment is scanned whole before its text is inflated,
/// and only one text is: a link costs at most [`MAX_TEXT_BYTES`] of inflation.
pub fn decode(fragment: &str) -> Result<Opened, LinkError> {
    if fragment.len() > MAX_LINK_CHARS {
        return Err(LinkError::TooBig);
    }
    // Each part as (key, value); a part without `=` has no value.
    let parts: Vec<(&str, Option<&str>)> = fragment
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or((p, None), |(k, v)| (k, Some(v))))
        .collect();
    let texts: Vec<&str> = parts.iter().filter(|(k, _)| *k == "t").map(|(_, v)| v.unwrap_or("")).collect();
    let packed = match texts.as_slice() {
        [] => return Err(LinkError::NoText),
        [one] => *one,
        more => return Err(LinkError::TextRepeated(more.len())),
    };
    let mut view = View {
        text: read_text(packed)?,
        scale: SCALE_DEFAULT,
        estimator: "nelbo".into(),
        nelbo_k: NELBO_K_DEFAULT,
        diff: None,
        by_rank: false,
        local: Vec::new(),
    };
    let mut said = Said::default();
    let mut seen: Vec<&str> = Vec::new();
    let mut locals = 0usize;
    for &(key, value) in &parts {
        let Some(value) = value else {
            said.add(|| format!("{}, which is not a setting", quoted(key)));
            continue;
        };
        if let Some((_, name)) = SETTINGS.iter().find(|(k, _)| *k == key) {
            if seen.contains(&key) {
                said.add(|| format!("a second {name}, {} (the first one is used)", quoted(value)));
                continue;
            }
            seen.push(key);
        }
        match key {
            "t" => {}
            "s" => match value.parse().ok().filter(|&s| on_scale(s)) {
                Some(scale) => view.scale = scale,
                None => said.add(|| {
                    format!(
                    "the colour scale {} (the scale goes from {SCALE_MIN} to {SCALE_MAX} bits per byte, in steps of \
                     {SCALE_STEP})",
                    quoted(value)
                )
                }),
            },
            "e" => match ["nelbo", "confidence", "l2r"].contains(&value) {
                true => view.estimator = value.into(),
                false => said
                    .add(|| format!("the diffusion golfer's estimator {} (nelbo, confidence or l2r)", quoted(value))),
            },
            "k" => match value.parse().ok().filter(|k| (NELBO_K_MIN..=NELBO_K_MAX).contains(k)) {
                Some(k) => view.nelbo_k = k,
                None => said.add(|| {
                    format!("NELBO's K {} (masking rates, from {NELBO_K_MIN} to {NELBO_K_MAX})", quoted(value))
                }),
            },
            "d" => {
                match value.split_once(',').filter(|(a, b)| a.len() <= MAX_NAME_BYTES && b.len() <= MAX_NAME_BYTES) {
                    Some((a, b)) => view.diff = Some((a.into(), b.into())),
                    None => said.add(|| format!("the difference heatmap's golfers {} (two, as a,b)", quoted(value))),
                }
            }
            "c" => match value {
                "rank" | "bits" => view.by_rank = value == "rank",
                _ => said.add(|| format!("the colouring {} (bits or rank)", quoted(value))),
            },
            "l" => {
                locals += 1;
                if locals > MAX_LOCALS {
                    continue;
                }
                match local_golfer(value) {
                    Some(l) => view.local.push(l),
                    None => said.add(|| format!("an imported golfer {} (as sha256:file name)", quoted(value))),
                }
            }
            // Unknown keys (a newer page's settings) are ignored quietly.
            _ => {}
        }
    }
    if locals > MAX_LOCALS {
        said.add(|| format!("{} more imported golfers (a link names at most {MAX_LOCALS})", locals - MAX_LOCALS));
    }
    Ok(Opened { view, ignored: said.named, unnamed: said.more })
}

/// The text of `t=`: base64url, raw DEFLATE, UTF-8.
fn read_text(packed: &str) -> Result<String, LinkError> {
    let damaged = |detail: String| LinkError::Damaged { detail };
    let packed = unbase64url(packed).ok_or_else(|| damaged("the text is not base64url".into()))?;
    let bytes = golf_gzip::attribution::inflate(&packed, MAX_TEXT_BYTES).map_err(|e| match e {
        golf_gzip::attribution::InflateError::TooLong(_) => LinkError::TooBig,
        e => damaged(e.to_string()),
    })?;
    String::from_utf8(bytes)
        .map_err(|e| damaged(format!("the text is not UTF-8 at byte {}", e.utf8_error().valid_up_to())))
}

/// A value the colour scale's slider can show.
fn on_scale(s: f64) -> bool {
    let steps = (s - SCALE_MIN) / SCALE_STEP;
    (SCALE_MIN..=SCALE_MAX).contains(&s) && (steps - steps.round()).abs() < 1e-9
}

fn local_golfer(value: &str) -> Option<LocalGolfer> {
    let (sha, file) = value.split_once(':')?;
    let file = String::from_utf8(unbase64url(file)?).ok().filter(|f| !f.is_empty() && f.len() <= MAX_NAME_BYTES)?;
    let hex = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| LocalGolfer { file, sha256: sha.to_string() })
}

/// A value from the link, in quotes, cut short: a crafted link's value can be megabytes long.
fn quoted(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("\"{}…\"", &value[..cut]),
        None => format!("\"{value}\""),
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes unpadded base64url; None for a character outside the alphabet or a length no encoding has (a lone
/// character at the end: a link cut off mid-byte).
fn unbase64url(s: &str) -> Option<Vec<u8>> {
    // A table, not a search of the alphabet per character: a link's text is up to 2 MB, decoded on the page's thread.
    const VALUES: [u8; 256] = {
        let mut t = [255u8; 256];
        let mut i = 0;
        while i < 64 {
            t[ALPHABET[i] as usize] = i as u8;
            i += 1;
        }
        t
    };
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = VALUES[c as usize];
        if v == 255 {
            return None;
        }
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(text: &str) -> View {
        View {
            text: text.into(),
            scale: 7.5,
            estimator: "l2r".into(),
            nelbo_k: 32,
            diff: None,
            by_rank: false,
            local: Vec::new(),
        }
    }

    /// A link with a text and no settings.
    fn text_only(text: &str) -> String {
        let link = encode(&view(text));
        link[..link.find('&').unwrap()].to_string()
    }

    /// Raw DEFLATE for `n` zero bytes, built by hand (one fixed-Huffman block: a literal 0, then matches of
    /// distance 1), so a test has a text of any size in a few kilobytes without deflating megabytes.
    fn zeros_stream(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u64, 0u32);
        let mut put = |value: u64, len: u32, out: &mut Vec<u8>| {
            acc |= value << bits;
            bits += len;
            while bits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        };
        // Huffman codes go in most significant bit first; the rest of the stream least significant first.
        let code = |c: u64, len: u32| (0..len).fold(0, |r, i| r | ((c >> i) & 1) << (len - 1 - i));
        put(1, 1, &mut out); // the last block
        put(1, 2, &mut out); // fixed Huffman
        put(code(0x30, 8), 8, &mut out); // literal 0
        let mut left = n - 1;
        // Matches of 258 (code 285: 8 bits, 11000101, no extra bits) at distance 1 (distance code 0), then literals.
        while left >= 258 {
            put(code(0xc5, 8), 8, &mut out);
            put(0, 5, &mut out);
            left -= 258;
        }
        for _ in 0..left {
            put(code(0x30, 8), 8, &mut out);
        }
        put(0, 7, &mut out); // end of block (256: 0000000)
        put(0, 7, &mut out); // flush
        out
    }

    #[test]
    fn the_hand_made_stream_inflates_to_zeros() {
        for n in [1, 2, 3, 4, 258, 259, 260, 261, 262, 1000, 100_001] {
            let bytes = golf_gzip::attribution::inflate(&zeros_stream(n), n).unwrap();
            assert!(bytes.len() == n && bytes.iter().all(|&b| b == 0), "{n}");
        }
    }

    #[test]
    fn base64url_round_trips_every_length() {
        for n in 0..10 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 97 + 255) as u8).collect();
            assert_eq!(unbase64url(&base64url(&bytes)).unwrap(), bytes, "{n}");
        }
        assert_eq!(base64url(b"hi?"), "aGk_");
        assert_eq!(unbase64url("a+b"), None);
        // A lone character past the last whole byte: no encoder writes that (a link cut off).
        assert_eq!(unbase64url("aGk_a"), None);
    }

    #[test]
    fn a_view_round_trips() {
        let view = View {
            text: "Déjà vu, 😀 & more = text\n".repeat(20),
            scale: 8.5,
            estimator: "confidence".into(),
            nelbo_k: 16,
            diff: Some(("ar".into(), "gzip".into())),
            by_rank: true,
            local: vec![LocalGolfer { file: "final_model.int8.ptz".into(), sha256: "ab".repeat(32) }],
        };
        let link = encode(&view);
        assert!(link.len() < view.text.len(), "the text is compressed ({} bytes)", link.len());
        assert_eq!(decode(&link).unwrap(), Opened { view, ignored: Vec::new(), unnamed: 0 });
        // Every value the controls can show goes through a link unchanged.
        let mut v = self::view("x");
        for k in NELBO_K_MIN..=NELBO_K_MAX {
            v.nelbo_k = k;
            v.scale = SCALE_MIN + f64::from(k % 47) * SCALE_STEP;
            assert_eq!(decode(&encode(&v)).unwrap(), Opened { view: v.clone(), ignored: Vec::new(), unnamed: 0 });
        }
    }

    #[test]
    fn damaged_links_say_why_in_a_visitors_words() {
        assert_eq!(decode("s=3"), Err(LinkError::NoText));
        assert!(matches!(decode("t=@@"), Err(LinkError::Damaged { .. })));
        // A link cut off mid-stream: the visitor reads that it is cut off or damaged; the inflater's words come
        // last, in a parenthesis.
        let whole = encode(&view(&"Some text that is long enough to need a few bytes of DEFLATE. ".repeat(30)));
        let cut = &whole[..whole.find('&').unwrap() / 2];
        let e = decode(cut).unwrap_err();
        assert!(matches!(e, LinkError::Damaged { .. }), "{e:?}");
        let said = e.to_string();
        assert!(said.starts_with("This link is cut off or damaged: its text could not be read."), "{said}");
        let detail = said.find("(Detail: ").unwrap();
        assert!(!said[..detail].contains("DEFLATE") && !said[..detail].contains("bit"), "{said}");
        assert!(said.ends_with(".)"), "{said}");
        for e in [LinkError::NoText, LinkError::TextRepeated(3), LinkError::TooBig] {
            let said = e.to_string();
            assert!(said.starts_with("This link") && said.contains("default text"), "{said}");
        }
        // Not UTF-8 (a lone 0xff byte, stored).
        let stored = base64url(&[1, 1, 0, 0xfe, 0xff, 0xff]);
        assert!(decode(&format!("t={stored}")).unwrap_err().to_string().contains("not UTF-8 at byte 0"));
    }

    #[test]
    fn a_bad_setting_keeps_the_text_and_the_others() {
        let t = text_only("x");
        let opened = decode(&format!("{t}&s=7.5&k=0&e=best&junk&l=x:y")).unwrap();
        assert_eq!((opened.view.text.as_str(), opened.view.scale, opened.view.estimator.as_str()), ("x", 7.5, "nelbo"));
        assert_eq!(opened.ignored.len(), 4, "{:?}", opened.ignored);
        assert!(opened.ignored[0].contains("NELBO's K \"0\"") && opened.ignored[1].contains("estimator \"best\""));
        assert!(opened.ignored[2].contains("\"junk\", which is not a setting"));
        assert!(opened.ignored[3].contains("imported golfer \"x:y\""));
        let opened = decode(&format!("{t}&s=-1")).unwrap();
        assert!(opened.ignored[0].contains("colour scale \"-1\"") && opened.view.scale == SCALE_DEFAULT);
        assert_eq!(decode(&encode(&view("x"))).unwrap().notice(), None);
    }

    /// The probe's link: `k=1024` passed the old check (1..=1024) but the slider stops at 128; `s=0.0001` passed
    /// "above 0" and darkened every character. A link now takes what the controls can show, and says what it
    /// did not take.
    #[test]
    fn settings_are_taken_only_within_the_controls_ranges() {
        let t = text_only("x");
        for (setting, taken) in [
            ("k=1024", None),
            ("k=129", None),
            ("k=128", Some((SCALE_DEFAULT, 128))),
            ("k=1", Some((SCALE_DEFAULT, 1))),
            ("s=0.0001", None),
            ("s=0.5", None),
            ("s=24.5", None),
            ("s=7.3", None),
            ("s=NaN", None),
            ("s=inf", None),
            ("s=1", Some((1.0, NELBO_K_DEFAULT))),
            ("s=24", Some((24.0, NELBO_K_DEFAULT))),
            ("s=23.5", Some((23.5, NELBO_K_DEFAULT))),
        ] {
            let opened = decode(&format!("{t}&{setting}")).unwrap();
            match taken {
                Some(want) => assert_eq!(((opened.view.scale, opened.view.nelbo_k), opened.ignored.len()), (want, 0)),
                None => {
                    assert_eq!((opened.view.scale, opened.view.nelbo_k), (SCALE_DEFAULT, NELBO_K_DEFAULT), "{setting}");
                    let notice = opened.notice().unwrap();
                    let range = if setting.starts_with('k') { "from 1 to 128" } else { "from 1 to 24 bits per byte" };
                    assert!(notice.contains(range) && notice.contains(&setting[2..]), "{notice}");
                }
            }
        }
    }

    /// The page's controls have the ranges a link is checked against: the colour scale's slider in index.html,
    /// and K's slider, which app/panels.rs builds from `NELBO_K_MIN`/`NELBO_K_MAX`.
    #[test]
    fn the_colour_scales_range_is_index_htmls() {
        let html = include_str!("../../../web/index.html");
        let at = html.find("<input id=\"scale\"").expect("index.html has the #scale slider");
        let tag = &html[at..at + html[at..].find('>').unwrap()];
        let attr = |name: &str| -> f64 {
            let from = tag.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("#scale has no {name}: {tag}"));
            let value = &tag[from + name.len() + 3..];
            value[..value.find('"').unwrap()].parse().unwrap()
        };
        assert_eq!(
            [attr("min"), attr("max"), attr("step"), attr("value")],
            [SCALE_MIN, SCALE_MAX, SCALE_STEP, SCALE_DEFAULT],
            "{tag}"
        );
        assert!(on_scale(SCALE_DEFAULT) && (NELBO_K_MIN..=NELBO_K_MAX).contains(&NELBO_K_DEFAULT));
    }

    /// The fuzzer's 2 MB link: `t=` 385 times, each inflating to 4 MB (1.6 GB of inflation, 9 s on the page's
    /// thread, and only the last kept); here 385 texts of 512 KiB (our hand-made stream packs less tightly). A
    /// second text refuses the link before any is inflated: below, the first would be too big and the last is not
    /// base64 at all, and neither is what the link is refused for.
    #[test]
    fn a_repeated_text_is_refused_before_anything_is_inflated() {
        let bomb = format!("t={}", base64url(&zeros_stream(512 << 10)));
        let link = vec![bomb.as_str(); 385].join("&");
        assert!(link.len() < MAX_LINK_CHARS, "{}", link.len());
        assert_eq!(decode(&link), Err(LinkError::TextRepeated(385)));
        let too_big = format!("t={}", base64url(&zeros_stream(MAX_TEXT_BYTES + 1)));
        assert_eq!(decode(&format!("{too_big}&s=3&t=@@")), Err(LinkError::TextRepeated(2)));
        // A repeated setting keeps the first and says so.
        let opened = decode(&format!("{}&s=3&s=5&k=8&k=9", encode(&view("x")))).unwrap();
        assert_eq!((opened.view.scale, opened.view.nelbo_k), (7.5, 32), "the encoded view's own come first");
        assert_eq!(opened.ignored.len(), 4, "{:?}", opened.ignored);
        assert!(opened.ignored[0].contains("second colour scale, \"3\" (the first one is used)"));
        let opened = decode(&format!("{}&k=8&k=9", text_only("x"))).unwrap();
        assert_eq!((opened.view.nelbo_k, opened.ignored.len()), (8, 1), "{:?}", opened.ignored);
    }

    /// One text, inflated to at most `MAX_TEXT_BYTES`: the link's whole inflation.
    #[test]
    fn a_links_inflation_is_bounded() {
        let most = decode(&format!("t={}", base64url(&zeros_stream(MAX_TEXT_BYTES)))).unwrap();
        assert_eq!(most.view.text.len(), MAX_TEXT_BYTES);
        assert_eq!(decode(&format!("t={}", base64url(&zeros_stream(MAX_TEXT_BYTES + 1)))), Err(LinkError::TooBig));
        assert_eq!(decode(&"x".repeat(MAX_LINK_CHARS + 1)), Err(LinkError::TooBig));
    }

    #[test]
    fn a_large_text_asks_before_it_is_scored() {
        let at = |n| decode(&format!("t={}", base64url(&zeros_stream(n)))).unwrap().asks_before_scoring();
        assert!(!at(ASK_BEFORE_SCORING_BYTES));
        assert!(at(ASK_BEFORE_SCORING_BYTES + 1));
        assert!(!decode(&encode(&view(crate::DEFAULT_TEXT))).unwrap().asks_before_scoring());
    }

    /// A crafted link with thousands of bad parts, or megabyte values, gets a message of a few lines.
    #[test]
    fn the_notice_stays_short() {
        let ok = encode(&view("x"));
        let junk = format!("{ok}&{}&e={}", vec!["junk"; 1000].join("&"), "é".repeat(100_000));
        let notice = decode(&junk).unwrap().notice().unwrap();
        assert!(notice.len() < 1000 && notice.contains("and 995 more"), "{} bytes: {notice}", notice.len());
        let sha = "ab".repeat(32);
        let many: Vec<String> =
            (0..20).map(|i| format!("l={sha}:{}", base64url(format!("f{i}.ptz").as_bytes()))).collect();
        let opened = decode(&format!("{ok}&{}", many.join("&"))).unwrap();
        assert_eq!(opened.view.local.len(), MAX_LOCALS);
        assert!(opened.ignored[0].contains("12 more imported golfers"), "{:?}", opened.ignored);
        // A 2 MB link of a million bad parts: six are named, the rest counted (no string each).
        let million = format!("{ok}&{}", "a&".repeat((MAX_LINK_CHARS - ok.len()) / 2 - 1));
        let opened = decode(&million).unwrap();
        assert_eq!((opened.ignored.len(), opened.unnamed), (6, (MAX_LINK_CHARS - ok.len()) / 2 - 1 - 6));
    }

    #[test]
    fn links_longer_than_browsers_open_are_refused() {
        assert_eq!(too_long(MAX_LINK_CHARS), None);
        let why = too_long(2_684_354).unwrap();
        assert!(why.contains("2.6 MB") && why.contains("Export JSON"), "{why}");
    }
}
