//! Our inflate (share links' text, the gzip golfer's bit attribution) against zlib's on any bytes: where zlib
//! decodes a raw DEFLATE stream within the limit, ours gives the same bytes; where ours decodes, zlib agrees. (Ours
//! also refuses whole bytes after the final block, which zlib leaves unread.)
#![no_main]

use golf_gzip::attribution::InflateError;
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let ours = golf_gzip::attribution::inflate(data, LIMIT);
    let theirs = golf_fuzz::zlib::inflate_raw(data, LIMIT);
    match (&ours, &theirs) {
        (Ok(a), Some((b, false))) => assert_eq!(a, b, "our inflate and zlib's decode the stream differently"),
        (Err(InflateError::Malformed(_, "data after the final block")), Some((_, true))) => {}
        (Ok(a), Some((_, true))) => panic!("ours decoded {} bytes and ignored data after the final block", a.len()),
        (Ok(a), None) => {
            panic!("ours decoded {} bytes of a stream zlib refuses (or that goes past the limit)", a.len())
        }
        (Err(e), Some((b, _))) => panic!("zlib decodes {} bytes where ours says: {e}", b.len()),
        (Err(_), None) => {}
    }
    // The attribution's decoder is the same one with bookkeeping: on a stream that decodes it must tile the text.
    if let Ok(text) = &ours {
        if let Ok(a) = golf_gzip::attribution::attribute(data, text) {
            let mut at = 0;
            for c in &a.charges {
                assert_eq!(c.start as usize, at, "charges leave a gap or overlap");
                assert!(c.end > c.start);
                at = c.end as usize;
            }
            assert_eq!(at, text.len(), "charges do not cover the text");
        }
    }
});
