//! The golfer contract shared by every golfer, the CLI and the page.
//!
//! Bytes are the common unit: every golfer reports [`Span`]s over the UTF-8 bytes of the text as given,
//! the spans tile `[0, len)`, and `bpb = sum(bits) / len`. No I/O, no ONNX Runtime, no web APIs here.

pub mod accounting;
pub mod contract;
pub mod exec;
pub mod protobuf;
pub mod sampling;
pub mod utf8;

pub use accounting::{byte_bits, per_byte_bits, Summary, Units, UNITS_PER_BIT};
pub use contract::{
    Alternative, GenerateSettings, GenerateStep, GolfError, Golfer, GolferInfo, ModelError, Progress, ScoreStep, Span,
    TokenInfo, TokenReport,
};
pub use exec::{block_on, score_to_end};
pub use sampling::{Rng, Sampler, SamplerSettings, SettingsError};
pub use utf8::Utf8Stream;
