//! Progress of long reads on stderr, per side (types done / total, objects read), shown only
//! when stderr is a terminal so logs and pipes stay clean.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
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
        self.show(total);
    }

    /// Takes back objects a relisted type's restart forgot.
    pub fn forget_objects(&self, n: usize) {
        let total = self.objects.fetch_sub(n, Ordering::Relaxed).saturating_sub(n);
        self.show(total);
    }

    /// Objects received and kept so far.
    pub fn objects(&self) -> usize {
        self.objects.load(Ordering::Relaxed)
    }

    fn show(&self, total: usize) {
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

/// Counts the objects a side keeps, per type, so that when a type is read again from the start
/// (an abandoned watch-list stream, a 410 Gone) what the restart forgets is taken back: the
/// count shown is what the side holds, never the same objects twice.
pub struct Counted<'a> {
    progress: &'a SideProgress,
    by_type: Mutex<HashMap<crate::model::ApiType, usize>>,
}

impl<'a> Counted<'a> {
    pub fn new(progress: &'a SideProgress) -> Self {
        Counted { progress, by_type: Mutex::new(HashMap::new()) }
    }

    /// `n` more objects of `ty` were kept.
    pub fn kept(&self, ty: &crate::model::ApiType, n: usize) {
        *self.by_type.lock().unwrap_or_else(|e| e.into_inner()).entry(ty.clone()).or_default() += n;
        self.progress.add_objects(n);
    }

    /// Everything kept of `ty` was forgotten.
    pub fn restart(&self, ty: &crate::model::ApiType) {
        if let Some(n) = self.by_type.lock().unwrap_or_else(|e| e.into_inner()).remove(ty) {
            self.progress.forget_objects(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ApiType;

    fn ty(resource: &str) -> ApiType {
        ApiType {
            group: String::new(),
            version: "v1".into(),
            resource: resource.into(),
            kind: "ConfigMap".into(),
            namespaced: true,
        }
    }

    #[test]
    fn a_restarted_type_is_counted_once() {
        let progress = SideProgress::hidden();
        let counted = Counted::new(&progress);
        counted.kept(&ty("configmaps"), 3);
        counted.kept(&ty("secrets"), 2);
        counted.kept(&ty("configmaps"), 4);
        assert_eq!(progress.objects(), 9);
        // The stream of configmaps is abandoned and the type paged from the start.
        counted.restart(&ty("configmaps"));
        assert_eq!(progress.objects(), 2);
        counted.kept(&ty("configmaps"), 7);
        assert_eq!(progress.objects(), 9);
        // A restart of a type that kept nothing takes nothing back.
        counted.restart(&ty("pods"));
        assert_eq!(progress.objects(), 9);
    }
}
