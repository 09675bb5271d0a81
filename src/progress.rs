//! Progress of long reads on stderr, per side (types done / total, objects read), shown only
//! when stderr is a terminal so logs and pipes stay clean.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress display of a run; hidden when stderr is not a terminal or `--quiet` is given.
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let show = !quiet && std::io::stderr().is_terminal();
        Progress { multi: show.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())) }
    }

    pub fn side(&self, label: &str) -> SideProgress {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(0));
            let style = ProgressStyle::with_template("{spinner} {prefix:<20} {pos:>4}/{len:<4} types  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        SideProgress { bar, objects: AtomicUsize::new(0) }
    }
}

/// Counters of one side; cheap to update from many list tasks at once.
pub struct SideProgress {
    bar: Option<ProgressBar>,
    objects: AtomicUsize,
}

impl SideProgress {
    /// A progress that shows nothing (tests, snapshots read from files).
    pub fn hidden() -> Self {
        SideProgress { bar: None, objects: AtomicUsize::new(0) }
    }

    pub fn set_total(&self, types: usize) {
        if let Some(b) = &self.bar {
            b.set_length(types as u64);
        }
    }

    pub fn add_objects(&self, n: usize) {
        let total = self.objects.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(b) = &self.bar {
            b.set_message(format!("{total} objects"));
        }
    }

    pub fn type_done(&self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}
