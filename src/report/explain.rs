//! The `kparity explain` report: one object as read on each side, each rule's effect in order,
//! the normalized forms, and the field differences with who wrote them.

use std::fmt::Write as _;

use super::{describe_source, field_change_text};
use crate::diff::{Change, Comparison};
use crate::explain::{ObjectExplanation, SideExplanation, step_line};

pub fn render(c: &Comparison, e: &ObjectExplanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "old: {}", describe_source(&c.old));
    let _ = writeln!(out, "new: {}", describe_source(&c.new));
    let _ = writeln!(out);
    let diff = c.objects.iter().find(|d| d.key == e.key);
    let skipped_by = |s: &Option<SideExplanation>| {
        s.as_ref().and_then(|s| s.steps.first().filter(|st| st.action == "skip").map(|st| st.rule.clone()))
    };
    let verdict = match (diff, skipped_by(&e.old), skipped_by(&e.new)) {
        (Some(d), _, _) if d.is_waived() => "DIFFERENT, accepted by a waiver".to_string(),
        (Some(d), _, _) => match d.change {
            Change::Changed => format!("DIFFERENT: {} field(s) differ", d.fields.len()),
            Change::Missing => "DIFFERENT: missing in new".to_string(),
            Change::Extra => "DIFFERENT: extra in new".to_string(),
        },
        (None, Some(a), Some(b)) if a == b => format!("NOT COMPARED: skipped by rule {a} on both sides"),
        (None, Some(a), None) if e.new.is_none() => format!("NOT COMPARED: skipped by rule {a}, absent in new"),
        (None, None, Some(b)) if e.old.is_none() => format!("NOT COMPARED: skipped by rule {b}, absent in old"),
        (None, _, _) if e.old.is_some() && e.new.is_some() => "EQUAL: the normalized forms are the same".to_string(),
        (None, _, _) => "NOT REPORTED: present on one side only, where its kind was not read on the other".to_string(),
    };
    let _ = writeln!(out, "{}: {verdict}", e.key);
    for (name, side) in [("old", &e.old), ("new", &e.new)] {
        let _ = writeln!(out, "\n== {name} ==");
        let Some(s) = side else {
            let _ = writeln!(out, "(absent)");
            continue;
        };
        let _ = writeln!(out, "-- as read --");
        let _ = writeln!(out, "{}", pretty(&s.as_read));
        let _ = writeln!(out, "-- rules, in order --");
        if s.steps.is_empty() {
            let _ = writeln!(out, "(no rule acted)");
        }
        for (i, st) in s.steps.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, step_line(st));
        }
        let _ = writeln!(
            out,
            "then canonical forms: apiVersion set aside, quantities by value and null or empty maps and lists \
             as absent where the schema says so, lists ordered only where a rule says so"
        );
        let _ = writeln!(out, "-- as compared --");
        let _ = writeln!(out, "{}", pretty(&s.normalized));
    }
    let _ = writeln!(out, "\n== differences ==");
    match diff {
        None => {
            let _ = writeln!(out, "(none)");
        }
        Some(d) => {
            for f in &d.fields {
                let by = f.written_by.short().map(|w| format!("   {w}")).unwrap_or_default();
                let _ = writeln!(out, "{}: {}{by}", f.change.display_path(), field_change_text(f));
                if let Some(w) = &f.waived {
                    let _ = writeln!(out, "  waived: {w}");
                }
            }
            if d.change != Change::Changed {
                if let Some(why) = &d.explained {
                    let _ = writeln!(out, "explained: {why}");
                }
                if let Some(by) = d.written_by.short() {
                    let _ = writeln!(out, "written by {by}");
                }
            }
        }
    }
    out
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
