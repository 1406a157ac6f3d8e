//! The Four Golfers page. `views` (the heatmaps), `results` (table, charts' data, exports), `share` (links),
//! `params` (the URL's parameters) and `hosting` (what a host must serve right) are pure and tested natively;
//! `app` is the DOM and canvas glue (wasm only).

pub mod hosting;
pub mod params;
pub mod results;
pub mod share;
pub mod views;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod worker;

include!(concat!(env!("OUT_DIR"), "/samples.rs"));

/// The default text: a FineWeb document (the first sample), embedded at build time from samples/.
pub const DEFAULT_TEXT: &str = SAMPLES[0].2;

#[cfg(test)]
mod tests {
    #[test]
    fn the_samples_are_there() {
        assert!(super::SAMPLES.len() >= 5);
        for (id, label, text) in super::SAMPLES {
            assert!(text.len() > 1000 && text.len() <= 4_000 || id.starts_with("fineweb"), "{id}: {}", text.len());
            assert!(!label.is_empty() && !text.ends_with('\n'));
        }
        assert!(super::DEFAULT_TEXT.contains("adrenal"));
    }
}
