//! Share links: the URL fragment carries the text (raw DEFLATE by our own zlib port, base64url) and the view's
//! settings, so a link reproduces the view. Nothing is sent anywhere: a fragment never leaves the browser.

/// A shared text decodes to at most this many bytes.
pub const MAX_TEXT_BYTES: usize = 4 << 20;

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
}

pub fn encode(view: &View) -> String {
    let packed = golf_gzip::deflate::Deflater::new(view.text.as_bytes().to_vec()).finish();
    let mut s = format!("t={}&s={}&e={}&k={}", base64url(&packed), view.scale, view.estimator, view.nelbo_k);
    if let Some((a, b)) = &view.diff {
        s += &format!("&d={a},{b}");
    }
    s
}

/// Reads a fragment (without the `#`); a damaged link says what is wrong with it.
pub fn decode(fragment: &str) -> Result<View, String> {
    let mut view = View { text: String::new(), scale: 12.0, estimator: "nelbo".into(), nelbo_k: 32, diff: None };
    let mut has_text = false;
    for part in fragment.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| format!("'{part}' is not key=value"))?;
        match key {
            "t" => {
                let packed = unbase64url(value).ok_or("the text is not valid base64url")?;
                let bytes = golf_gzip::attribution::inflate(&packed, MAX_TEXT_BYTES)
                    .map_err(|e| format!("the text does not decompress: {e}"))?;
                view.text = String::from_utf8(bytes).map_err(|_| "the text is not UTF-8")?;
                has_text = true;
            }
            "s" => view.scale = value.parse().ok().filter(|s: &f64| *s > 0.0 && *s <= 64.0).ok_or("bad scale")?,
            "e" if ["nelbo", "confidence", "l2r"].contains(&value) => view.estimator = value.into(),
            "k" => view.nelbo_k = value.parse().ok().filter(|k| (1..=1024).contains(k)).ok_or("bad K")?,
            "d" => {
                let (a, b) = value.split_once(',').ok_or("the difference needs two golfers")?;
                view.diff = Some((a.into(), b.into()));
            }
            // Unknown keys (a newer page's settings) are ignored.
            _ => {}
        }
    }
    if !has_text {
        return Err("the link has no text".into());
    }
    Ok(view)
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
        };
        let link = encode(&view);
        assert!(link.len() < view.text.len(), "the text is compressed ({} bytes)", link.len());
        assert_eq!(decode(&link).unwrap(), view);
    }

    #[test]
    fn damaged_links_say_why() {
        assert!(decode("s=3").unwrap_err().contains("no text"));
        assert!(decode("t=@@").unwrap_err().contains("base64url"));
        assert!(decode("t=AAAA").unwrap_err().contains("decompress"));
        let ok = encode(&View { text: "x".into(), scale: 12.0, estimator: "l2r".into(), nelbo_k: 32, diff: None });
        assert!(decode(&format!("{ok}&s=-1")).unwrap_err().contains("scale"));
    }
}
