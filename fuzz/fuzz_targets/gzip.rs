//! The gzip golfer on any bytes: its stream is zlib's level-9 raw DEFLATE byte for byte, its bits add up to 8 x the
//! stream's length, and its spans tile the text.
#![no_main]

use golf_core::{Golfer, Summary};
use golf_gzip::{score_blocking, Dry, GzipGolfer, GzipScoreOptions, Method};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let zlib = golf_fuzz::zlib::deflate_raw9(data);
    let ours = golf_gzip::deflate::Deflater::new(data.to_vec()).finish();
    assert!(
        ours == zlib,
        "our stream ({} bytes) differs from zlib {}'s ({} bytes)",
        ours.len(),
        golf_fuzz::zlib::version(),
        zlib.len()
    );
    let golfer = GzipGolfer::new(Method::Exact, Dry::default());
    let spans = score_blocking(&golfer, data, GzipScoreOptions { popovers: true })
        .unwrap_or_else(|e| panic!("the gzip golfer refused a text zlib compresses: {e}"));
    let mut at = 0u32;
    for s in &spans {
        assert_eq!(s.start, at, "spans leave a gap or overlap at byte {at}");
        assert!(s.end > s.start, "an empty span at byte {at}");
        at = s.end;
    }
    assert_eq!(at as usize, data.len(), "spans stop before the end");
    assert_eq!(Summary::of(&spans, data.len() as u64).bits, 8.0 * zlib.len() as f64, "bits are not 8 x zlib's length");
    let _ = golfer.info();
});
