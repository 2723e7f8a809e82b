//! Feedback during long work: progress bars on stderr for every long stage (reading,
//! validating, posting, exports, e-invoices), drawn only when stderr is a terminal and the run
//! is not `--quiet`, and a `tracing` event at the start and the end of every stage with its
//! counts and duration.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns progress bars on or off for the process (the binary turns them on unless `--quiet`).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

fn draw_target() -> Option<ProgressDrawTarget> {
    // indicatif draws nothing when stderr is not a terminal.
    ENABLED.load(Ordering::Relaxed).then(ProgressDrawTarget::stderr)
}

/// A bar over `total` items (`unit` names them: "bytes" gives byte counts and speeds).
pub fn bar(total: u64, label: &str, unit: &str) -> ProgressBar {
    let Some(target) = draw_target() else { return ProgressBar::hidden() };
    let pb = ProgressBar::with_draw_target(Some(total), target);
    let template = if unit == "bytes" {
        "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}".to_string()
    } else {
        format!("{{msg:30!}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit}, eta {{eta}}")
    };
    pb.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "),
    );
    pb.set_message(label.to_string());
    pb
}

/// A spinner with a running count, for work whose size is not known before it ends.
pub fn spinner(label: &str, unit: &str) -> ProgressBar {
    let Some(target) = draw_target() else { return ProgressBar::hidden() };
    let pb = ProgressBar::with_draw_target(None, target);
    let template = format!("{{spinner}} {{msg:30!}} {{human_pos}} {unit} in {{elapsed}}");
    pb.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner()));
    pb.set_message(label.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// A stage of the run: logged at info when it starts and when it ends, with what it works on,
/// its count and its duration.
pub struct Stage {
    name: &'static str,
    subject: String,
    started: Instant,
}

impl Stage {
    /// Starts a stage on `subject` (a file, an entity; may be empty).
    pub fn start(name: &'static str, subject: impl Into<String>) -> Stage {
        let subject = subject.into();
        tracing::info!(stage = name, subject = %subject, "Stage started.");
        Stage { name, subject, started: Instant::now() }
    }

    /// Ends it, with a count of what it handled (`items` names them).
    pub fn done(self, count: u64, items: &str) {
        let ms = self.started.elapsed().as_millis() as u64;
        tracing::info!(stage = self.name, subject = %self.subject, count, items, ms, "Stage finished.");
    }
}
