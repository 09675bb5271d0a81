//! The terminal report: verdict first, a summary per kind, each differing object with its field
//! changes, then what could not be read, what was left out, and rule warnings.

use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use super::{Section, describe_source, headline, object_lines};
use crate::diff::Comparison;

pub fn render(c: &Comparison) -> String {
    super::SECTIONS.iter().map(|s| section(c, *s)).collect()
}

fn section(c: &Comparison, s: Section) -> String {
    match s {
        Section::Head => head(c),
        Section::Kinds => kinds(c),
        Section::Differences => differences(c),
        Section::Platform => super::platform::table_section(c),
        Section::Unread => unread(c),
        Section::Unproven => unproven(c),
        Section::Api => api(c),
        Section::Coverage => excluded(c),
        Section::Rules => rules(c),
        Section::Suppressed => suppressed(c),
        Section::Warnings => warnings(c),
    }
}

/// Where each side was read, the platforms, the verdict and the coverage lines.
fn head(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "old: {}", describe_source(&c.old));
    let _ = writeln!(out, "new: {}", describe_source(&c.new));
    if let Some(line) = super::platform::headline(c) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", headline(c));
    for line in super::coverage_lines(c) {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// Counts per kind.
fn kinds(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.kinds.is_empty() {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
        t.set_header(vec!["KIND", "UNEXPLAINED", "OLD", "NEW", "CHANGED", "MISSING", "EXTRA", "WAIVED", "SKIPPED"]);
        for (gk, k) in &c.kinds {
            if k.old + k.new + k.skipped_old + k.skipped_new == 0 && !k.incomplete_old && !k.incomplete_new {
                continue;
            }
            let n = |v: usize| if v == 0 { "·".to_string() } else { v.to_string() };
            // An unread side shows "?": a count of what could not be read proves nothing.
            let count = |v: usize, unread: bool| if unread { "?".to_string() } else { v.to_string() };
            let skipped = if k.skipped_old + k.skipped_new == 0 {
                "·".to_string()
            } else {
                format!("{}/{}", k.skipped_old, k.skipped_new)
            };
            t.add_row(vec![
                gk.to_string(),
                n(k.unexplained()),
                count(k.old, k.incomplete_old),
                count(k.new, k.incomplete_new),
                n(k.changed),
                n(k.missing),
                n(k.extra),
                n(k.waived),
                skipped,
            ]);
        }
        for i in 1..9 {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        let _ = writeln!(out, "\n{t}");
        let _ = writeln!(
            out,
            "OLD/NEW: objects compared; SKIPPED: objects read and left out by a rule (old/new); MISSING/EXTRA include explained ones"
        );
    }
    out
}

/// Each differing object with its field changes.
fn differences(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.objects.is_empty() {
        let _ = writeln!(out, "\nDifferences (~ changed, - missing in new, + extra in new):");
        for d in &c.objects {
            let mut lines = object_lines(d, true);
            if let Some((o, n)) = c.read_across_versions(&d.key.group, &d.key.kind) {
                // Marks the first line: the object was read in different versions on each side.
                let end = lines.find('\n').unwrap_or(lines.len());
                lines.insert_str(end, &format!("  [compared across versions: old {o}, new {n}]"));
            }
            out.push_str(&lines);
        }
    }
    out
}

/// The types that could not be read.
fn unread(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.incomplete.is_empty() {
        let _ = writeln!(out, "\nCould not be read (the verdict cannot be \"equivalent\"):");
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_width(120);
        t.set_header(vec!["SIDE", "TYPE", "REASON"]);
        for (side, i) in &c.incomplete {
            let name = match side {
                crate::model::Side::Old => &c.old.name,
                crate::model::Side::New => &c.new.name,
            };
            t.add_row(vec![format!("{side} ({name})"), i.type_ref.to_string(), i.reason.to_string()]);
        }
        let _ = writeln!(out, "{t}");
    }
    out
}

/// Why the verdict is not proven although everything was read.
fn unproven(c: &Comparison) -> String {
    let mut out = String::new();
    for u in &c.unproven {
        let _ = writeln!(out, "\nNot proven: {}", u.message);
    }
    out
}

/// API differences: served on one side only, preferred versions, objects under versions NEW does not serve.
fn api(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.api_differences.is_empty() {
        let _ = writeln!(out, "\nAPI differences (served on one side only):");
        for a in &c.api_differences {
            let gv = if a.group.is_empty() { a.version.clone() } else { format!("{}/{}", a.group, a.version) };
            let _ = writeln!(out, "  only {}: {gv} {} ({})", a.side, a.resource, a.kind);
        }
    }
    if !c.preferred_versions.is_empty() {
        let _ = writeln!(out, "\nAPI differences (preferred version differs):");
        for p in &c.preferred_versions {
            let _ = writeln!(out, "  {}", super::describe_preferred(p));
        }
    }
    if !c.unserved_on_new.is_empty() {
        let _ = writeln!(
            out,
            "\nAPI differences (objects on old only under versions new does not serve; they will not survive the migration as they are):"
        );
        for u in &c.unserved_on_new {
            let _ = writeln!(out, "  {}", super::describe_unserved(u));
            for k in &u.objects {
                let _ = writeln!(out, "    {k}");
            }
        }
    }
    out
}

/// What was left out on purpose, one line per reason.
fn excluded(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.excluded.is_empty() {
        let by_reason = super::excluded_by_reason(c);
        let _ = writeln!(out, "\nExcluded on purpose (not compared):");
        for (by, kinds) in by_reason {
            // A filter can exclude dozens of kinds: name a few, count the rest.
            const SHOWN: usize = 6;
            let text = if kinds.len() > SHOWN {
                format!("{} and {} more", kinds[..SHOWN].join(", "), kinds.len() - SHOWN)
            } else {
                kinds.join(", ")
            };
            let _ = writeln!(out, "  {by}: {text}");
        }
    }
    out
}

/// What each rule that acted removed.
fn rules(c: &Comparison) -> String {
    let mut out = String::new();
    let rules = super::rule_lines(c);
    if !rules.is_empty() {
        let _ = writeln!(out, "\nRules that acted (what each removed, per side):");
        for line in rules {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// With `--show-suppressed`: what each rule removed, object by object.
fn suppressed(c: &Comparison) -> String {
    let mut out = String::new();
    let suppressed = super::suppressed_lines(c);
    if !suppressed.is_empty() {
        let _ = writeln!(out, "\nSuppressed by rules (--show-suppressed):");
        for line in suppressed {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// Rule warnings.
fn warnings(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.rule_warnings.is_empty() {
        let _ = writeln!(out, "\nRule warnings:");
        for w in &c.rule_warnings {
            let _ = writeln!(out, "  ! {w}");
        }
    }
    out
}
