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

/// Where the page asks its ONNX golfers to run: the Device control, `?ep=auto|webgpu|cpu` in the URL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// WebGPU where the browser gives an adapter, else the CPU.
    #[default]
    Auto,
    /// WebGPU; the CPU (and a message saying why) where it is missing or fails.
    WebGpu,
    /// ONNX Runtime Web's wasm provider.
    Cpu,
}

impl Device {
    pub const ALL: [Device; 3] = [Device::Auto, Device::WebGpu, Device::Cpu];

    /// The name in the URL and the control.
    pub fn name(self) -> &'static str {
        match self {
            Device::Auto => "auto",
            Device::WebGpu => "webgpu",
            Device::Cpu => "cpu",
        }
    }

    pub fn parse(name: &str) -> Option<Device> {
        Device::ALL.into_iter().find(|d| d.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// ONNX Runtime Web for a worker: the absolute URL of its files, its threads and the device asked for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebRuntime {
    pub dist: String,
    pub threads: u32,
    pub device: Device,
}

/// Where a loaded golfer runs, for its status line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RunsOn {
    /// gzip: plain Rust in its worker.
    Code,
    /// The WebGPU execution provider on this adapter (its vendor and architecture, as the browser names them).
    WebGpu { adapter: String },
    /// The wasm execution provider; `why` says why not WebGPU when it was asked for or Auto found none.
    Wasm { threads: u32, why: Option<String> },
}

impl RunsOn {
    pub fn describe(&self) -> String {
        match self {
            RunsOn::Code => "runs in its worker".into(),
            RunsOn::WebGpu { adapter } => format!("on WebGPU ({adapter})"),
            RunsOn::Wasm { threads, why } => {
                let on = format!("on the CPU (wasm, {threads} thread{})", if *threads == 1 { "" } else { "s" });
                match why {
                    Some(why) => format!("{on}: {why}"),
                    None => on,
                }
            }
        }
    }
}

/// How to import an artifact: its file's name, the golfer's name, the MLP's activation (empty: the importer's
/// default), the tokens per window, and the tokenizer's file name when one is sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Import {
    pub file: String,
    pub name: String,
    pub activation: String,
    pub context: Option<usize>,
    pub tokenizer: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Downloads the model folder at `base` (an absolute URL ending in `/`; `folder` names it in messages: its
    /// path relative to the page), checking every file, then loads it as [`Request::Load`] does.
    Fetch {
        base: String,
        folder: String,
        runtime: WebRuntime,
    },
    /// Starts ONNX Runtime Web as `runtime` says and creates the golfer from `manifest` and the two files sent
    /// with this message.
    Load {
        manifest: Box<Manifest>,
        runtime: WebRuntime,
    },
    /// Imports a participant's artifact (the file sent with this message, then optionally its SentencePiece
    /// `.model`) as `golf import` does, and loads the result as [`Request::Load`] does: the import's
    /// decompression and conversion take seconds, which the page's main thread must not spend.
    Import {
        import: Import,
        runtime: WebRuntime,
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

impl Request {
    /// Points a load at another device; false for a request that loads no ONNX golfer.
    pub fn set_device(&mut self, device: Device) -> bool {
        match self {
            Request::Fetch { runtime, .. } | Request::Load { runtime, .. } | Request::Import { runtime, .. } => {
                runtime.device = device;
                true
            }
            _ => false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The worker listens (messages sent before this would be lost).
    Ready,
    /// A fetched folder's manifest is read: the golfer's label and its model file's size.
    Named {
        label: String,
        bytes: u64,
    },
    /// Bytes of its model file so far.
    Download {
        done: u64,
        total: u64,
    },
    /// An artifact is imported (its golfer id, and what the import assumed); the model is being created.
    Imported {
        id: String,
        assumed: Vec<String>,
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
        runs_on: RunsOn,
    },
    /// `on_webgpu`: it failed in ONNX Runtime Web's WebGPU build, which this worker cannot unload; the page tries
    /// again on the CPU in a new worker.
    LoadFailed {
        message: String,
        on_webgpu: bool,
    },
    Event {
        run: u32,
        event: Event,
    },
    Bench {
        result: Result<serde_json::Value, String>,
    },
    /// A cancel is taken: the run of `course` is dropped and sends nothing more (its last events came before
    /// this). `steps`: how many engine steps the worker ran after the cancel reached it (at most the one in
    /// progress), so the page can show that a cancel stops a run within one step.
    Stopped {
        course: Course,
        steps: u64,
    },
}
