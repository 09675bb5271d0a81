//! The run as Prometheus metrics (text exposition format 0.0.4), for the node-exporter textfile
//! collector or a Pushgateway, so a nightly drift job can alert: the verdict as a gauge, objects
//! per side, differences by change, unreadable types, duration and time of the run.
//!
//! Every series carries `old` and `new` labels naming the compared sources, so several pairs
//! can be checked into one textfile directory or one Pushgateway without clashing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::RunInfo;
use crate::diff::Comparison;
use crate::exit::Exit;

/// The verdicts a run can end with, `error` being a run that could not compare at all.
const VERDICTS: [&str; 4] = ["equivalent", "different", "incomplete", "error"];

pub fn render(c: &Comparison, run: &RunInfo) -> String {
    let mut m = Metrics::new(&c.old.name, &c.new.name);
    m.verdict(c.verdict.as_str(), Exit::from(c.verdict));

    m.family("kparity_objects", "Objects compared, per side (after rules left some out).");
    m.sample("kparity_objects", &[("side", "old")], c.summary.objects_old as f64);
    m.sample("kparity_objects", &[("side", "new")], c.summary.objects_new as f64);

    m.family(
        "kparity_differences",
        "Objects that differ, by change: changed, missing in new, extra in new (waived ones excluded).",
    );
    m.sample("kparity_differences", &[("change", "changed")], c.summary.changed as f64);
    m.sample("kparity_differences", &[("change", "missing")], c.summary.missing as f64);
    m.sample("kparity_differences", &[("change", "extra")], c.summary.extra as f64);

    m.family("kparity_waived_differences", "Objects whose every difference a waiver accepts.");
    m.sample("kparity_waived_differences", &[], c.summary.waived as f64);

    m.family(
        "kparity_kind_differences",
        "Objects that differ per kind, by change; only kinds with differences appear.",
    );
    for (gk, k) in &c.kinds {
        if k.changed + k.missing + k.extra == 0 {
            continue;
        }
        let kind = gk.to_string();
        for (change, n) in [("changed", k.changed), ("missing", k.missing), ("extra", k.extra)] {
            m.sample("kparity_kind_differences", &[("kind", &kind), ("change", change)], n as f64);
        }
    }

    m.family(
        "kparity_incomplete_types",
        "Types that could not be read completely, per side: any makes the verdict incomplete.",
    );
    for side in [crate::model::Side::Old, crate::model::Side::New] {
        let n = c.incomplete.iter().filter(|(s, _)| *s == side).count();
        m.sample("kparity_incomplete_types", &[("side", side.as_str())], n as f64);
    }
    m.family("kparity_incomplete_type", "One series per type that could not be read, with the reason's category.");
    for (side, i) in &c.incomplete {
        let ty = i.type_ref.to_string();
        m.sample(
            "kparity_incomplete_type",
            &[("side", side.as_str()), ("type", &ty), ("reason", i.reason.code())],
            1.0,
        );
    }

    if !c.platform.is_empty() {
        m.family(
            "kparity_platform_differences",
            "Objects set apart as platform differences, per side (only_old, only_new, differs); they do not fail the gate.",
        );
        let differs =
            c.platform.differences.iter().filter(|d| d.change == crate::platform::PlatformChange::Differs).count();
        m.sample("kparity_platform_differences", &[("change", "only_old")], c.platform.old.only_here as f64);
        m.sample("kparity_platform_differences", &[("change", "only_new")], c.platform.new.only_here as f64);
        m.sample("kparity_platform_differences", &[("change", "differs")], differs as f64);
    }

    m.family(
        "kparity_unproven",
        "Checks that could not prove equality although everything was read (e.g. secret keys differ).",
    );
    m.sample("kparity_unproven", &[], c.unproven.len() as f64);

    m.run(run);
    m.out
}

/// The metrics of a run that could not compare at all (a side unreachable, bad input): the
/// `error` verdict and exit code 2, so an alert on the verdict fires rather than going stale.
pub fn render_failure(old: &str, new: &str, run: &RunInfo) -> String {
    let mut m = Metrics::new(old, new);
    m.verdict("error", Exit::Trouble);
    m.run(run);
    m.out
}

/// Writes `text` to `path` atomically (a temporary file in the same directory, renamed over
/// it), so a collector scraping the file never reads half of it.
pub fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".kparity-metrics").suffix(".tmp").tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    // Temporary files are created private; the collector usually runs as another user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

struct Metrics {
    out: String,
    labels: String,
}

impl Metrics {
    fn new(old: &str, new: &str) -> Self {
        Metrics { out: String::new(), labels: format!(r#"old="{}",new="{}""#, escape(old), escape(new)) }
    }

    fn family(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(self.out, "# TYPE {name} gauge");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let mut l = self.labels.clone();
        for (k, v) in labels {
            let _ = write!(l, r#",{k}="{}""#, escape(v));
        }
        let _ = writeln!(self.out, "{name}{{{l}}} {value}");
    }

    fn verdict(&mut self, verdict: &str, exit: Exit) {
        self.family(
            "kparity_verdict",
            "1 for the verdict of the last run, 0 for the others (error: nothing could be compared).",
        );
        for v in VERDICTS {
            self.sample("kparity_verdict", &[("verdict", v)], if v == verdict { 1.0 } else { 0.0 });
        }
        self.family("kparity_exit_code", "Exit code of the last run: 0 equivalent, 1 different, 2 trouble.");
        self.sample("kparity_exit_code", &[], f64::from(exit as u8));
    }

    fn run(&mut self, run: &RunInfo) {
        self.family("kparity_duration_seconds", "Wall time of the last run.");
        self.sample("kparity_duration_seconds", &[], run.duration.as_secs_f64());
        self.family("kparity_last_run_timestamp_seconds", "When the last run finished, in seconds since the epoch.");
        self.sample("kparity_last_run_timestamp_seconds", &[], run.finished_unix as f64);
    }
}

/// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn metrics_of_a_different_run() {
        insta::assert_snapshot!(render(&fixture::different(), &fixture::run()));
    }

    #[test]
    fn metrics_of_an_incomplete_run_name_each_unreadable_type() {
        insta::assert_snapshot!(render(&fixture::incomplete(), &fixture::run()));
    }

    #[test]
    fn metrics_of_a_failed_run_raise_the_error_verdict() {
        insta::assert_snapshot!(render_failure("blue", "green", &fixture::run()));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let m = render_failure("snap \"1\".kparity", "green", &fixture::run());
        assert!(m.contains(r#"old="snap \"1\".kparity""#), "{m}");
    }

    #[test]
    fn every_sample_belongs_to_a_declared_gauge() {
        let m = render(&fixture::incomplete(), &fixture::run());
        let declared: Vec<&str> =
            m.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.strip_suffix(" gauge")).collect();
        for line in m.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split('{').next().unwrap_or_default();
            assert!(declared.contains(&name), "{line}");
            let value = line.rsplit(' ').next().unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn metrics_file_is_replaced_whole_and_readable_by_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kparity.prom");
        std::fs::write(&path, "stale").expect("write");
        write_file(&path, "kparity_up 1\n").expect("write metrics");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "kparity_up 1\n");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }
}
