//! The share-link decoder: a URL fragment anyone can craft (base64url + our own inflate, then settings). Whatever
//! it accepts holds the page's limits and survives a round trip: the link the page would make from the view opens
//! the same view, with nothing ignored.
#![no_main]

use golf_web::share::{self, LinkError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(fragment) = std::str::from_utf8(data) else { return };
    // Parts whose key is `t` (with a value or without one).
    let texts = fragment.split('&').filter(|p| p.split_once('=').map_or(*p, |(k, _)| k) == "t").count();
    let opened = match share::decode(fragment) {
        Ok(opened) => opened,
        Err(e) => {
            // A text given twice is refused as such, before anything is inflated, whatever the texts hold.
            if texts > 1 && fragment.len() <= share::MAX_LINK_CHARS {
                assert_eq!(e, LinkError::TextRepeated(texts), "{texts} texts");
            }
            return;
        }
    };
    assert_eq!(texts, 1, "a link with {texts} texts opened");
    let v = &opened.view;
    assert!(v.text.len() <= share::MAX_TEXT_BYTES, "a text of {} bytes", v.text.len());
    assert!((share::SCALE_MIN..=share::SCALE_MAX).contains(&v.scale), "scale {}", v.scale);
    assert!((share::NELBO_K_MIN..=share::NELBO_K_MAX).contains(&v.nelbo_k), "K {}", v.nelbo_k);
    assert!(v.local.len() <= share::MAX_LOCALS, "{} local golfers", v.local.len());
    assert!(
        opened.notice().is_none_or(|n| n.len() < 4096),
        "a notice of {} bytes",
        opened.notice().map_or(0, |n| n.len())
    );
    let again = share::decode(&share::encode(v))
        .unwrap_or_else(|e| panic!("a link made from an opened view does not open: {e}"));
    assert_eq!(&again.view, v, "a link made from an opened view opens another view");
    assert!(
        again.ignored.is_empty() && again.unnamed == 0,
        "a link made by the page has settings it ignores: {:?}",
        again.ignored
    );
});
