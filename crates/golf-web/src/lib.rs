//! The Four Golfers page. `views` (the heatmaps), `results` (table, charts' data, exports) and `share` (links)
//! are pure and tested natively; `app` is the DOM and canvas glue (wasm only).

pub mod results;
pub mod share;
pub mod views;

#[cfg(target_arch = "wasm32")]
pub mod app;

/// The default text: a FineWeb document, embedded at build time from the shared data.
pub const DEFAULT_TEXT: &str = include_str!(concat!(env!("OUT_DIR"), "/default_text.txt"));
