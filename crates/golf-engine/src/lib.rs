//! One engine for every golfer, for the page and the CLI alike: the roster ([`AnyGolfer`]: the only `match`
//! over golfers in the workspace), the engine that runs them ([`Engine`]: commands in, events out) and the loader
//! of model folders. No DOM and no ONNX Runtime types in its API; tested natively.

pub mod engine;
#[cfg(target_arch = "wasm32")]
pub mod fetch;
mod load;
pub mod roster;
pub mod wire;

pub use engine::{Command, Course, Cut, Engine, EngineError, Event, GolferId, Limits, Outcome, ScoreSummary};
#[cfg(not(target_arch = "wasm32"))]
pub use load::load_folder;
pub use roster::{AnyGeneration, AnyGolfer, AnyScore, PerKind, ScoreOptions};
