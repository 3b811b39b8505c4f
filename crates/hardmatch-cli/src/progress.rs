//! Progress bars for long reads and writes, drawn on stderr only when it is a terminal.
//!
//! Libraries report through their `Reporter` traits; this module is where those reports
//! become something a person watches.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::printer::Printer;

/// A counter with a rate ("12,000 users · 4,100/s"), for reads whose total is unknown.
#[derive(Debug)]
pub struct Counter {
    bar: ProgressBar,
    printer: Printer,
}

impl Counter {
    pub fn new(printer: &Printer, noun: &'static str) -> Self {
        let bar = if printer.shows_progress() {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let template = format!("{{spinner}} {{msg}} {{pos}} {noun} · {{per_sec}} · {{elapsed}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        Self {
            bar,
            printer: printer.clone(),
        }
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    pub fn set_position(&self, position: u64) {
        self.bar.set_position(position);
    }

    /// A warning printed above the bar, so the two do not garble each other.
    pub fn warning(&self, message: &str) {
        self.bar.suspend(|| self.printer.warning(message));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl hardmatch_ad::Reporter for Counter {
    fn directory_started(&self, url: &str, base_dn: &str) {
        self.set_message(format!("reading {base_dn} at {url}:"));
    }

    fn progress(&self, users: u64, _elapsed: Duration) {
        self.set_position(users);
    }

    fn warning(&self, warning: &hardmatch_ad::AdWarning) {
        Counter::warning(self, &warning.to_string());
    }
}

impl hardmatch_graph::Reporter for Counter {
    fn on_phase_started(&self, phase: hardmatch_graph::SnapshotPhase) {
        self.set_message(format!("reading {}:", phase_name(phase)));
        self.set_position(0);
    }

    fn on_progress(&self, _phase: hardmatch_graph::SnapshotPhase, count: usize) {
        self.set_position(count as u64);
    }
}

fn phase_name(phase: hardmatch_graph::SnapshotPhase) -> &'static str {
    use hardmatch_graph::SnapshotPhase;
    match phase {
        SnapshotPhase::ActiveUsers => "active users",
        SnapshotPhase::DeletedUsers => "deleted users",
        SnapshotPhase::TenantInfo => "tenant",
        SnapshotPhase::Roles => "role holders",
    }
}
