//! Renders a comparison for people (table, markdown) and machines (json). The only code that
//! writes to stdout; everything here is a pure function of the `Comparison`.

pub mod explain;
#[cfg(test)]
mod fixture;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod metrics;
mod platform;
pub mod style;
pub mod table;

use std::io::Write;

use serde_json::Value;

use crate::diff::{Change, Comparison, Verdict};
use crate::dump::SourceInfo;

/// The sections of a report for people, in the order every such format shows them: the
/// sources and verdict, counts per kind, the differences, the platforms', what could not be read
/// or proven, API differences, what was and was not read, what the rules did, warnings. Each
/// renderer (table, markdown) writes each section its own way, or nothing when it is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Head,
    Kinds,
    Differences,
    Platform,
    Unread,
    Unproven,
    Api,
    Coverage,
    Rules,
    Suppressed,
    Warnings,
}

/// The kinds left out on purpose, grouped by why (each kind once per reason): one line per
/// reason reads better than the long list.
pub(crate) fn excluded_by_reason(c: &Comparison) -> std::collections::BTreeMap<&str, Vec<String>> {
    let mut by_reason: std::collections::BTreeMap<&str, Vec<String>> = std::collections::BTreeMap::new();
    for (_, e) in &c.excluded {
        let list = by_reason.entry(e.by.as_str()).or_default();
        let name = e.group_kind.to_string();
        if !list.contains(&name) {
            list.push(name);
        }
    }
    by_reason
}

pub(crate) const SECTIONS: [Section; 11] = [
    Section::Head,
    Section::Kinds,
    Section::Differences,
    Section::Platform,
    Section::Unread,
    Section::Unproven,
    Section::Api,
    Section::Coverage,
    Section::Rules,
    Section::Suppressed,
    Section::Warnings,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Summary per kind, then each differing object with its field changes (default).
    Table,
    /// The machine interface (see `schema_version`).
    Json,
    /// For a pull-request or issue comment.
    Markdown,
    /// JUnit XML for CI dashboards: one test case per kind and per unreadable type.
    Junit,
    /// One self-contained HTML page for reviews and audit files (no script, nothing fetched).
    Html,
}

/// Facts about the run itself (not the clusters), for the formats that record them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// Wall time of the whole comparison.
    pub duration: std::time::Duration,
    /// The machine that ran kparity (JUnit's `hostname`).
    pub hostname: String,
    /// When the run finished, in seconds since the epoch.
    pub finished_unix: u64,
}

pub fn render(c: &Comparison, format: Format) -> String {
    render_with(c, format, &RunInfo::default())
}

/// Renders with the run's own facts (duration, host) for the formats that record them.
pub fn render_with(c: &Comparison, format: Format, run: &RunInfo) -> String {
    match format {
        Format::Table => table::render(c),
        Format::Json => json::render(c),
        Format::Markdown => markdown::render(c),
        Format::Junit => junit::render(c, run),
        Format::Html => html::render(c),
    }
}

/// Writes a report to stdout. A closed pipe (`kparity diff ... | head`) is not an error.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// `blue (https://127.0.0.1:16443, v1.37.2)` or `snapshot blue.kparity (context blue, v1.37.2)`.
pub(crate) fn describe_source(s: &SourceInfo) -> String {
    let version = s.kubernetes_version.as_deref().unwrap_or("unknown version");
    match s.kind {
        crate::dump::SourceKind::Context => format!("{} ({}, {version})", s.name, s.server),
        crate::dump::SourceKind::Snapshot => format!(
            "snapshot {} (context {}, {version}, taken {})",
            s.name,
            s.origin_context.as_deref().unwrap_or("?"),
            s.time
        ),
    }
}

/// One line saying what the verdict is and why.
pub(crate) fn headline(c: &Comparison) -> String {
    let s = &c.summary;
    let compared = format!("{} objects in old, {} in new", s.objects_old, s.objects_new);
    let waived = if s.waived > 0 { format!(", {} waived", s.waived) } else { String::new() };
    match c.verdict {
        Verdict::Equivalent => format!("EQUIVALENT: no differences ({compared}{waived})"),
        Verdict::Different => {
            // What nobody explained leads: that is what a reviewer must look at first.
            let explained =
                if s.explained > 0 { format!(", {} of them explained", s.explained) } else { String::new() };
            format!(
                "DIFFERENT: {} unexplained; {} changed, {} missing, {} extra{explained} ({compared}{waived})",
                s.unexplained(),
                s.changed,
                s.missing,
                s.extra
            )
        }
        Verdict::Incomplete => {
            let n = c.incomplete.len();
            let mut why = Vec::new();
            if n > 0 {
                why.push(format!("{n} type{} could not be read", if n == 1 { "" } else { "s" }));
            }
            for u in &c.unproven {
                why.push(u.headline.clone());
            }
            format!(
                "INCOMPLETE: {}; parity is not proven ({} changed, {} missing, {} extra among what was read)",
                why.join(", "),
                s.changed,
                s.missing,
                s.extra
            )
        }
    }
}

/// `old blue: 57 of 67 types read (1234 objects), 8 excluded by rules, 2 excluded by filters, 0 incomplete`.
pub(crate) fn coverage_lines(c: &Comparison) -> [String; 2] {
    let line = |side: &str, info: &SourceInfo, cov: &[crate::dump::TypeCoverage]| {
        format!("{side} {}: {}", info.name, crate::dump::CoverageSummary::of(cov).line())
    };
    [line("old", &c.old, &c.coverage_old), line("new", &c.new, &c.coverage_new)]
}

/// One coverage entry as people read it: `apps/v1 deployments (Deployment): read, 3 objects`.
pub(crate) fn coverage_entry(t: &crate::dump::TypeCoverage) -> (String, String) {
    use crate::dump::CoverageStatus;
    let what = match (&t.type_ref.resource, &t.type_ref.kind) {
        (Some(_), Some(k)) => format!("{} ({k})", t.type_ref),
        (None, Some(k)) => {
            format!("{k}{}", if t.type_ref.group.is_empty() { String::new() } else { format!(".{}", t.type_ref.group) })
        }
        _ => t.type_ref.to_string(),
    };
    let status = match &t.status {
        CoverageStatus::Read { objects, .. } => {
            format!("read, {objects} object{}", if *objects == 1 { "" } else { "s" })
        }
        CoverageStatus::Excluded { by } => format!("excluded by {by}"),
        CoverageStatus::Incomplete { reason } => format!("incomplete: {reason}"),
    };
    (what, status)
}

/// A value as shown in a field change: compact JSON, long values shortened.
pub(crate) fn show_value(v: Option<&Value>) -> String {
    const MAX: usize = 80;
    match v {
        None => "(absent)".to_string(),
        Some(Value::String(s)) if s == "(value hidden)" => s.clone(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > MAX {
                let cut: String = s.chars().take(MAX - 1).collect();
                format!("{cut}…")
            } else {
                s
            }
        }
    }
}

/// A field change as people read it: `old → new`, or `changed (value hidden)` for a secret.
pub(crate) fn field_change_text(f: &crate::diff::FieldDiff) -> String {
    if f.hidden {
        "changed (value hidden)".to_string()
    } else if f.change.is_order() {
        // A keyed list's order: the item keys in order, `[migrate, verify] → [verify, migrate]`.
        let keys = |v: Option<&Value>| {
            let items =
                v.and_then(Value::as_array).map(|a| a.iter().map(|k| k.as_str().unwrap_or("?")).collect::<Vec<_>>());
            format!("[{}]", items.unwrap_or_default().join(", "))
        };
        format!("{} → {}", keys(f.change.old.as_ref()), keys(f.change.new.as_ref()))
    } else {
        format!("{} → {}", show_value(f.change.old.as_ref()), show_value(f.change.new.as_ref()))
    }
}

/// `~ Deployment.apps shop/web` and its indented field changes and waivers, as the table and
/// the JUnit failure text show a differing object.
pub(crate) fn object_lines(d: &crate::diff::ObjectDiff, mark_waived: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let waived = if mark_waived && d.is_waived() { "  [waived]" } else { "" };
    let _ = writeln!(s, "{} {}{waived}", change_marker(d.change), d.key);
    match d.change {
        Change::Changed => {
            for f in &d.fields {
                let by = f.written_by.short().map(|w| format!("   {w}")).unwrap_or_default();
                let _ = writeln!(s, "    {}: {}{by}", f.change.display_path(), field_change_text(f));
                if let Some(reason) = &f.waived {
                    let _ = writeln!(s, "      waived: {reason}");
                }
            }
        }
        Change::Missing | Change::Extra => {
            if let Some(why) = &d.explained {
                let _ = writeln!(s, "    explained: {why}");
            }
            if let Some(w) = d.written_by.short() {
                let _ = writeln!(s, "    written by {w}");
            }
            if let Some(reason) = &d.waived {
                let _ = writeln!(s, "    waived: {reason}");
            }
        }
    }
    s
}

/// One line per rule that acted: `core/server-assigned-metadata (drop): fields dropped old 84, new 86`.
pub(crate) fn rule_lines(c: &Comparison) -> Vec<String> {
    c.rules
        .iter()
        .filter(|r| r.acted())
        .map(|r| {
            let mut parts = Vec::new();
            let pair = |what: &str, p: (usize, usize)| format!("{what} old {}, new {}", p.0, p.1);
            if r.skipped != (0, 0) {
                parts.push(pair("objects skipped", r.skipped));
            }
            if r.kinds_skipped != (0, 0) {
                parts.push(pair("kinds not listed", r.kinds_skipped));
            }
            if r.fields_dropped != (0, 0) {
                let what = if r.action == "accept" { "fields accepted" } else { "fields dropped" };
                parts.push(pair(what, r.fields_dropped));
            }
            if parts.is_empty() {
                parts.push(pair("objects", r.objects));
            }
            let origin = match &r.origin {
                crate::rules::Origin::Profile(p) => format!("profile {p}"),
                crate::rules::Origin::File(f) => f.display().to_string(),
            };
            format!("{} ({origin}, {}): {}", r.name, r.action, parts.join("; "))
        })
        .collect()
}

/// What the rules removed from each object kept as read (`--show-suppressed`): the object, then
/// one line per side and rule.
pub(crate) fn suppressed_lines(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    for e in &c.explained {
        let mut lines = Vec::new();
        for (side, s) in [("old", &e.old), ("new", &e.new)] {
            for st in s.iter().flat_map(|s| &s.steps) {
                lines.push(format!("  {side}: {}", crate::explain::step_line(st)));
            }
        }
        if !lines.is_empty() {
            out.push(e.key.to_string());
            out.extend(lines);
        }
    }
    out
}

pub(crate) fn change_marker(c: Change) -> &'static str {
    match c {
        Change::Changed => "~",
        Change::Missing => "-",
        Change::Extra => "+",
    }
}

/// One line about a type whose preferred version moved, saying how its objects were compared.
pub(crate) fn describe_preferred(p: &crate::diff::PreferredVersionDifference) -> String {
    let gk = crate::model::GroupKind { group: p.group.clone(), kind: p.kind.clone() };
    let how = match (&p.old_read, &p.new_read) {
        (Some(a), Some(b)) if a == b => format!("both read as {a}"),
        (Some(a), Some(b)) => format!("no version served by both: compared across versions (old {a}, new {b})"),
        _ => "not listed on both sides".to_string(),
    };
    format!("{gk} ({}): old prefers {}, new prefers {}; {how}", p.resource, p.old_preferred, p.new_preferred)
}

/// One line about objects of OLD that NEW serves in none of their versions.
pub(crate) fn describe_unserved(u: &crate::diff::UnservedOnNew) -> String {
    let gk = crate::model::GroupKind { group: u.group.clone(), kind: u.kind.clone() };
    let new = if u.new_versions.is_empty() { "none".to_string() } else { u.new_versions.join(", ") };
    format!(
        "{gk} ({}): {} object(s); old serves {}, new serves {new}",
        u.resource,
        u.objects.len(),
        u.old_versions.join(", ")
    )
}
