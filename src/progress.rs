//! The one way the program reports progress: bars on stderr when it is a terminal, plain log lines
//! when it is not (a nightly scheduler's log), nothing with `--quiet`. Never on stdout.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

#[derive(Clone, Copy, Debug)]
pub struct Progress {
    quiet: bool,
    bars: bool,
}

/// One stage of a run, timed from its start.
pub struct Stage {
    name: String,
    bar: ProgressBar,
    started: Instant,
    progress: Progress,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress {
            quiet,
            bars: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// A silent reporter, for library callers and tests.
    pub fn hidden() -> Progress {
        Progress {
            quiet: true,
            bars: false,
        }
    }

    /// A stage measured in bytes of a file of `total` bytes.
    pub fn bytes(&self, name: &str, total: u64) -> Stage {
        let style = ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        self.start(name, ProgressBar::new(total).with_style(style))
    }

    /// A stage with no measure of its size.
    pub fn spinner(&self, name: &str) -> Stage {
        let style = ProgressStyle::with_template("{prefix:>12} {spinner} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = ProgressBar::new_spinner().with_style(style);
        if self.bars {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        self.start(name, bar)
    }

    fn start(&self, name: &str, bar: ProgressBar) -> Stage {
        if !self.bars {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_prefix(name.to_string());
        Stage {
            name: name.to_string(),
            bar,
            started: Instant::now(),
            progress: *self,
        }
    }

    /// A line for the log (stderr), unless quiet.
    pub fn log(&self, message: &str) {
        if !self.quiet {
            if self.bars {
                eprintln!("{message}");
            } else {
                eprintln!("underwater: {message}");
            }
        }
    }
}

impl Stage {
    /// A handle that advances the bar, safe to move into a reader's callback.
    pub fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }

    /// Ends the stage with a one-line account of what it did.
    pub fn finish(self, detail: &str) {
        self.bar.finish_and_clear();
        let secs = self.started.elapsed().as_secs_f64();
        self.progress
            .log(&format!("{:>12}: {detail} ({secs:.2}s)", self.name));
    }
}
