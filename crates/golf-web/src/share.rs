//! Share links: the URL fragment carries the text (raw DEFLATE by our own zlib port, base64url) and the view's
//! settings, so a link reproduces the view. Nothing is sent anywhere: a fragment never leaves the browser.

/// A shared text decodes to at most this many bytes.
pub const MAX_TEXT_BYTES: usize = 4 << 20;

/// The longest URL Chromium opens (2 MB); a longer link fails to load, so the page refuses to make one.
pub const MAX_LINK_CHARS: usize = 2 << 20;

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
        s += &format!("&d={a},{b}");
    }
    if view.by_rank {
        s += "&c=rank";
    }
    for l in &view.local {
        s += &format!("&l={}:{}", l.sha256, base64url(l.file.as_bytes()));
    }
    s
}

/// What a link gave: its view, and the settings it carried that were ignored, with why (the text is kept).
#[derive(Clone, Debug, PartialEq)]
pub struct Opened {
    pub view: View,
    pub ignored: Vec<String>,
}

/// Reads a fragment (without the `#`). A damaged text says what is wrong with it; a bad setting is ignored and
/// said, and the rest of the view kept.
pub fn decode(fragment: &str) -> Result<Opened, String> {
    let mut view = View {
        text: String::new(),
        scale: 12.0,
        estimator: "nelbo".into(),
        nelbo_k: 32,
        diff: None,
        by_rank: false,
        local: Vec::new(),
    };
    let mut ignored = Vec::new();
    let mut has_text = false;
    for part in fragment.split('&').filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            ignored.push(format!("'{part}' (not key=value)"));
            continue;
        };
        match key {
            "t" => {
                let packed = unbase64url(value).ok_or("the text is not valid base64url")?;
                let bytes = golf_gzip::attribution::inflate(&packed, MAX_TEXT_BYTES)
                    .map_err(|e| format!("the text does not decompress: {e}"))?;
                view.text = String::from_utf8(bytes).map_err(|_| "the text is not UTF-8")?;
                has_text = true;
            }
            "s" => match value.parse().ok().filter(|s: &f64| *s > 0.0 && *s <= 64.0) {
                Some(scale) => view.scale = scale,
                None => ignored.push(format!("the colour scale '{value}' (a number above 0, at most 64)")),
            },
            "e" => match ["nelbo", "confidence", "l2r"].contains(&value) {
                true => view.estimator = value.into(),
                false => ignored.push(format!("the estimator '{value}' (nelbo, confidence or l2r)")),
            },
            "k" => match value.parse().ok().filter(|k| (1..=1024).contains(k)) {
                Some(k) => view.nelbo_k = k,
                None => ignored.push(format!("NELBO's K '{value}' (1 to 1024)")),
            },
            "d" => match value.split_once(',') {
                Some((a, b)) => view.diff = Some((a.into(), b.into())),
                None => ignored.push(format!("the difference '{value}' (two golfers, as a,b)")),
            },
            "c" => match value {
                "rank" | "bits" => view.by_rank = value == "rank",
                _ => ignored.push(format!("the colouring '{value}' (bits or rank)")),
            },
            "l" => {
                let local = value.split_once(':').and_then(|(sha, file)| {
                    let file = String::from_utf8(unbase64url(file)?).ok()?;
                    let hex = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
                    hex.then(|| LocalGolfer { file, sha256: sha.to_string() })
                });
                match local {
                    Some(l) => view.local.push(l),
                    None => ignored.push(format!("the local golfer '{value}' (sha256:file)")),
                }
            }
            // Unknown keys (a newer page's settings) are ignored quietly.
            _ => {}
        }
    }
    if !has_text {
        return Err("the link has no text".into());
    }
    Ok(Opened { view, ignored })
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

fn unbase64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
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

    #[test]
    fn base64url_round_trips_every_length() {
        for n in 0..10 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 97 + 255) as u8).collect();
            assert_eq!(unbase64url(&base64url(&bytes)).unwrap(), bytes, "{n}");
        }
        assert_eq!(base64url(b"hi?"), "aGk_");
        assert_eq!(unbase64url("a+b"), None);
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
        assert_eq!(decode(&link).unwrap(), Opened { view, ignored: Vec::new() });
    }

    #[test]
    fn damaged_links_say_why() {
        assert!(decode("s=3").unwrap_err().contains("no text"));
        assert!(decode("t=@@").unwrap_err().contains("base64url"));
        assert!(decode("t=AAAA").unwrap_err().contains("decompress"));
        // A bad setting keeps the text and the other settings, and says what was ignored.
        let ok = encode(&View {
            text: "x".into(),
            scale: 7.5,
            estimator: "l2r".into(),
            nelbo_k: 32,
            diff: None,
            by_rank: false,
            local: Vec::new(),
        });
        let opened = decode(&format!("{ok}&k=0&e=best&junk&l=x:y")).unwrap();
        assert_eq!((opened.view.text.as_str(), opened.view.scale, opened.view.estimator.as_str()), ("x", 7.5, "l2r"));
        assert_eq!(opened.ignored.len(), 4, "{:?}", opened.ignored);
        assert!(opened.ignored[3].contains("local golfer 'x:y'"));
        assert!(opened.ignored[0].contains("NELBO's K '0'") && opened.ignored[1].contains("estimator 'best'"));
        let opened = decode(&format!("{ok}&s=-1")).unwrap();
        assert!(opened.ignored[0].contains("colour scale '-1'") && opened.view.scale == 7.5);
    }

    #[test]
    fn links_longer_than_browsers_open_are_refused() {
        assert_eq!(too_long(MAX_LINK_CHARS), None);
        let why = too_long(2_684_354).unwrap();
        assert!(why.contains("2.6 MB") && why.contains("Export JSON"), "{why}");
    }
}
