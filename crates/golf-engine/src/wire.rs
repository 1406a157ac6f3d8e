//! Messages between the page and a golfer's worker, as JSON. A model's files travel beside a `Load` as
//! transferred buffers (the ONNX graph, then the tokenizer), not inside the JSON.

use golf_core::{GenerateSettings, GolferInfo};
use golf_onnx::Manifest;
use serde::{Deserialize, Serialize};

use crate::{Course, Event, Limits, ScoreOptions};

/// Where a model file's bytes came from, for the status line.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Source {
    Network { seconds: f64 },
    BrowserCache,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Downloads the model folder at `base` (an absolute URL ending in `/`; `folder` names it in messages: its
    /// path relative to the page), checking every file, then loads it as [`Request::Load`] does.
    Fetch {
        base: String,
        folder: String,
        dist: String,
        threads: u32,
    },
    /// Starts ONNX Runtime Web from `dist` (the absolute URL of its files) with `threads` threads and creates the
    /// golfer from `manifest` and the two files sent with this message.
    Load {
        manifest: Box<Manifest>,
        dist: String,
        threads: u32,
    },
    /// The gzip golfer: its model is its code.
    Gzip,
    /// Runs are numbered by the page; a run's events carry its number, so the page can tell a run it replaced
    /// from the one it wants.
    Score {
        run: u32,
        text: String,
        options: ScoreOptions,
        limits: Limits,
    },
    Generate {
        run: u32,
        prompt: String,
        settings: GenerateSettings,
    },
    Cancel {
        course: Course,
    },
    /// The speed benchmark of `golf bench` (prefill and decode), as one JSON object.
    Bench,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The worker listens (messages sent before this would be lost).
    Ready,
    /// A fetched folder's manifest is read: the golfer's label.
    Named {
        label: String,
    },
    /// Bytes of its model file so far.
    Download {
        done: u64,
        total: u64,
    },
    /// The files are here and checked; the model is being created.
    Fetched {
        bytes: u64,
        source: Source,
    },
    /// Ready to score; `ready_ms` is how long creating the model took.
    Loaded {
        info: GolferInfo,
        manifest: Option<Box<Manifest>>,
        diffusion: bool,
        chat: bool,
        ready_ms: f64,
    },
    LoadFailed {
        message: String,
    },
    Event {
        run: u32,
        event: Event,
    },
    Bench {
        result: Result<serde_json::Value, String>,
    },
}
