//! The Markdown report, for a pull-request or issue comment: verdict, a table of the kinds that
//! differ, each object's changes folded in `<details>`, and what could not be read.

use std::fmt::Write as _;

use super::{Section, change_marker, describe_source, headline};
use crate::diff::{Change, Comparison, Verdict};

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(c: &Comparison) -> String {
    super::SECTIONS.iter().map(|s| section(c, *s)).collect()
}

fn section(c: &Comparison, s: Section) -> String {
    match s {
        Section::Head => head(c),
        Section::Kinds => kinds(c),
        Section::Differences => differences(c),
        Section::Platform => super::platform::markdown_section(c),
        Section::Unread => unread(c),
        Section::Unproven => unproven(c),
        Section::Api => api(c),
        Section::Coverage => coverage(c),
        Section::Rules => rules(c),
        Section::Suppressed => suppressed(c),
        Section::Warnings => warnings(c),
    }
}

/// The verdict, where each side was read, coverage and platforms.
fn head(c: &Comparison) -> String {
    let mut out = String::new();
    let icon = match c.verdict {
        Verdict::Equivalent => "✅",
        Verdict::Different => "❌",
        Verdict::Incomplete => "⚠️",
    };
    let _ = writeln!(out, "### {icon} kparity: {}\n", c.verdict.as_str());
    let _ = writeln!(out, "{}\n", headline(c));
    let _ = writeln!(out, "- **old:** {}", cell(&describe_source(&c.old)));
    let _ = writeln!(out, "- **new:** {}", cell(&describe_source(&c.new)));
    let [old_cov, new_cov] = super::coverage_lines(c);
    let _ = writeln!(out, "- **coverage:** {}", cell(&old_cov));
    let _ = writeln!(out, "- **coverage:** {}", cell(&new_cov));
    if let Some(line) = super::platform::headline(c) {
        let _ = writeln!(out, "- **{}", cell(&line).replacen(": ", ":** ", 1));
    }
    let _ = writeln!(out);
    out
}

/// The kinds that differ.
fn kinds(c: &Comparison) -> String {
    let mut out = String::new();
    let differing: Vec<_> = c
        .kinds
        .iter()
        .filter(|(_, k)| k.changed + k.missing + k.extra + k.waived > 0 || k.incomplete_old || k.incomplete_new)
        .collect();
    if !differing.is_empty() {
        let _ = writeln!(
            out,
            "| Kind | Unexplained | Old | New | Changed | Missing | Extra | Waived | Skipped (old/new) |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        for (gk, k) in differing {
            let count = |v: usize, unread: bool| if unread { "?".to_string() } else { v.to_string() };
            let _ = writeln!(
                out,
                "| `{}` | **{}** | {} | {} | {} | {} | {} | {} | {}/{} |",
                gk,
                k.unexplained(),
                count(k.old, k.incomplete_old),
                count(k.new, k.incomplete_new),
                k.changed,
                k.missing,
                k.extra,
                k.waived,
                k.skipped_old,
                k.skipped_new
            );
        }
        let _ = writeln!(out);
    }
    out
}

/// Each differing object, folded.
fn differences(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.objects.is_empty() {
        let _ = writeln!(out, "<details><summary>{} differing object(s)</summary>\n", c.objects.len());
        for d in &c.objects {
            let waived = if d.is_waived() { " _(waived)_" } else { "" };
            let what = match d.change {
                Change::Changed => "changed",
                Change::Missing => "missing in new",
                Change::Extra => "extra in new",
            };
            let across = match c.read_across_versions(&d.key.group, &d.key.kind) {
                Some((o, n)) => format!(" _(compared across versions: old {o}, new {n})_"),
                None => String::new(),
            };
            let _ =
                writeln!(out, "- `{} {}` {what}{waived}{across}", change_marker(d.change), cell(&d.key.to_string()));
            if d.change == Change::Changed {
                let _ = writeln!(out, "  ```");
                for f in &d.fields {
                    let value = super::field_change_text(f);
                    let w = if f.waived.is_some() { "  [waived]" } else { "" };
                    // Manager names are chosen by clients: no backtick may close the fence.
                    let by = f.written_by.short().map(|b| format!("   {}", b.replace('`', "'"))).unwrap_or_default();
                    let _ = writeln!(out, "  {}: {value}{w}{by}", f.change.display_path());
                }
                let _ = writeln!(out, "  ```");
            } else {
                if let Some(why) = &d.explained {
                    let _ = writeln!(out, "  explained: {}", cell(why));
                }
                if let Some(by) = d.written_by.short() {
                    let _ = writeln!(out, "  written by {}", cell(&by));
                }
            }
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    out
}

/// The types that could not be read.
fn unread(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.incomplete.is_empty() {
        let _ = writeln!(out, "**Could not be read** (parity not proven):\n");
        let _ = writeln!(out, "| Side | Type | Reason |");
        let _ = writeln!(out, "|---|---|---|");
        for (side, i) in &c.incomplete {
            let _ = writeln!(out, "| {side} | `{}` | {} |", cell(&i.type_ref.to_string()), cell(&i.reason.to_string()));
        }
        let _ = writeln!(out);
    }
    out
}

/// Why the verdict is not proven although everything was read.
fn unproven(c: &Comparison) -> String {
    let mut out = String::new();
    for u in &c.unproven {
        let _ = writeln!(out, "**Not proven:** {}\n", cell(&u.message));
    }
    out
}

/// API differences.
fn api(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.api_differences.is_empty() {
        let _ = writeln!(out, "<details><summary>API differences ({})</summary>\n", c.api_differences.len());
        for a in &c.api_differences {
            let gv = if a.group.is_empty() { a.version.clone() } else { format!("{}/{}", a.group, a.version) };
            let _ = writeln!(out, "- only {}: `{gv}` {} ({})", a.side, a.resource, a.kind);
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if !c.preferred_versions.is_empty() {
        let _ = writeln!(out, "**API differences (preferred version differs):**\n");
        for p in &c.preferred_versions {
            let _ = writeln!(out, "- {}", cell(&super::describe_preferred(p)));
        }
        let _ = writeln!(out);
    }
    if !c.unserved_on_new.is_empty() {
        let _ = writeln!(
            out,
            "**API differences (objects on old only under versions new does not serve; they will not survive the migration as they are):**\n"
        );
        for u in &c.unserved_on_new {
            let objects: Vec<String> = u.objects.iter().map(|k| format!("`{}`", cell(&k.to_string()))).collect();
            let _ = writeln!(out, "- {}: {}", cell(&super::describe_unserved(u)), objects.join(", "));
        }
        let _ = writeln!(out);
    }
    out
}

/// Every discovered resource of each side, folded.
fn coverage(c: &Comparison) -> String {
    let mut out = String::new();
    for (side, cov) in [("old", &c.coverage_old), ("new", &c.coverage_new)] {
        if cov.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<details><summary>Coverage of {side} ({} types)</summary>\n", cov.len());
        let _ = writeln!(out, "| Type | Status |");
        let _ = writeln!(out, "|---|---|");
        for t in cov {
            let (what, status) = super::coverage_entry(t);
            let _ = writeln!(out, "| `{}` | {} |", cell(&what), cell(&status));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    out
}

/// What each rule that acted removed, folded.
fn rules(c: &Comparison) -> String {
    let mut out = String::new();
    let rules = super::rule_lines(c);
    if !rules.is_empty() {
        let _ = writeln!(out, "<details><summary>Rules that acted ({})</summary>\n", rules.len());
        for line in rules {
            let _ = writeln!(out, "- {}", cell(&line));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    out
}

/// With `--show-suppressed`: what each rule removed, object by object.
fn suppressed(c: &Comparison) -> String {
    let mut out = String::new();
    let suppressed = super::suppressed_lines(c);
    if !suppressed.is_empty() {
        let _ = writeln!(out, "<details><summary>Suppressed by rules</summary>\n\n```");
        for line in suppressed {
            let _ = writeln!(out, "{}", line.replace('`', "'"));
        }
        let _ = writeln!(out, "```\n\n</details>\n");
    }
    out
}

/// Rule warnings.
fn warnings(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.rule_warnings.is_empty() {
        let _ = writeln!(out, "**Rule warnings:**\n");
        for w in &c.rule_warnings {
            let _ = writeln!(out, "- {}", cell(&w.to_string()));
        }
        let _ = writeln!(out);
    }
    out
}
