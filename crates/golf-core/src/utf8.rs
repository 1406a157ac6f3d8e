//! UTF-8-safe streaming: a model emits bytes (a token may end mid-character); the screen gets whole characters.

/// Buffers the bytes of an unfinished character; invalid sequences come out as U+FFFD, as `from_utf8_lossy` would.
#[derive(Clone, Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns the text that is now complete.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let good = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..good]).expect("checked prefix"));
                    match e.error_len() {
                        // Invalid bytes: replace and keep going.
                        Some(bad) => {
                            out.push('\u{FFFD}');
                            self.pending.drain(..good + bad);
                        }
                        // An unfinished character at the end: wait for more.
                        None => {
                            self.pending.drain(..good);
                            return out;
                        }
                    }
                }
            }
        }
    }

    /// Ends the stream: an unfinished character becomes U+FFFD.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_inside_characters_are_held_back() {
        let text = "naïve 日本 🎉!";
        for chunk in 1..=5 {
            let mut s = Utf8Stream::new();
            let mut out = String::new();
            for piece in text.as_bytes().chunks(chunk) {
                let got = s.push(piece);
                assert!(text.starts_with(&(out.clone() + &got)));
                out += &got;
            }
            out += &s.finish();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut s = Utf8Stream::new();
        let mut out = s.push(b"a\xffb\xe6\x97");
        assert_eq!(out, "a\u{FFFD}b");
        out += &s.finish();
        assert_eq!(out, String::from_utf8_lossy(b"a\xffb\xe6\x97"));
    }
}
