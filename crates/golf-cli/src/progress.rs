//! Progress on stderr for work that takes more than a second: what is being done, how far, how fast, and how
//! long is left. Silent when stderr is not a terminal (scripts, pipes, tests) or with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How long work runs before its progress appears: quick commands print nothing extra.
const SHOW_AFTER: Duration = Duration::from_secs(1);

pub struct Meter {
    bar: ProgressBar,
    /// The units the bar counts to, once counting.
    total: std::cell::Cell<Option<u64>>,
}

impl Meter {
    /// A meter that shows itself after [`SHOW_AFTER`], from its own thread, so that one long call (tokenizing
    /// 10 MB) is covered too.
    pub fn new(quiet: bool) -> Meter {
        let bar = ProgressBar::hidden();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
        if !quiet && std::io::stderr().is_terminal() {
            let shown = bar.clone();
            std::thread::spawn(move || {
                std::thread::sleep(SHOW_AFTER);
                if !shown.is_finished() {
                    shown.set_draw_target(ProgressDrawTarget::stderr());
                    shown.enable_steady_tick(Duration::from_millis(250));
                }
            });
        }
        Meter { bar, total: std::cell::Cell::new(None) }
    }

    /// Work whose size is not known: a spinner and `what`.
    pub fn phase(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }

    /// Counted work: `what` (e.g. "scoring"), then a bar of `unit`s with the rate and the time left.
    fn count(&self, what: &str, unit: &str, total: u64) {
        let template = format!(
            "{{spinner}} {{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} · {{rate}} {unit}/s · {{elapsed}} so \
             far, about {{eta}} left"
        );
        let style = ProgressStyle::with_template(&template).expect("a valid template").progress_chars("=> ").with_key(
            "rate",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}", s.per_sec());
            },
        );
        self.bar.set_style(style);
        self.bar.set_message(what.to_string());
        self.bar.set_length(total);
        self.bar.reset_eta();
    }

    /// A score's progress, in the golfer's own unit (bytes, tokens or model calls): a bar once the total is
    /// known, and the next phase's name once every unit is done.
    pub fn progress(&self, done: u64, total: u64, unit: &str) {
        if self.total.replace(Some(total)) != Some(total) {
            self.count("scoring", unit, total);
        }
        self.bar.set_position(done);
        if done == total {
            self.phase("building the spans");
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
