//! The share-link decoder: a URL fragment anyone can craft (base64url + our own inflate, then settings). Whatever
//! it accepts must survive a round trip: the link the page would make from the view opens the same view.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(fragment) = std::str::from_utf8(data) else { return };
    let Ok(opened) = golf_web::share::decode(fragment) else { return };
    let again = golf_web::share::decode(&golf_web::share::encode(&opened.view))
        .unwrap_or_else(|e| panic!("a link made from an opened view does not open: {e}"));
    assert_eq!(again.view, opened.view, "a link made from an opened view opens another view");
    assert!(again.ignored.is_empty(), "a link made by the page has settings it ignores: {:?}", again.ignored);
});
