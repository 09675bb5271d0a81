//! The HTML report, for reviews and audit files: one self-contained page (inline CSS, no script,
//! no font or image fetched, a Content-Security-Policy forbidding any load) with the verdict,
//! per-kind counts led by the unexplained column, collapsible per-object differences with
//! attribution, the platform differences, what could not be read, API differences, coverage and
//! what was excluded, the rules that acted and the waivers, in the sections every report for
//! people shares (`report::SECTIONS`).
//!
//! Everything shown comes from the clusters (names, labels, values, manager names): every piece
//! of text goes through `esc`, nothing is inserted raw, so hostile object content renders as text.

use std::fmt::Write as _;

use super::{Section, coverage_lines, describe_source, field_change_text, headline, rule_lines};
use crate::diff::{Change, Comparison};

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.5rem;margin:0 0 .5rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.verdict{padding:.75rem 1rem;border-radius:6px;font-weight:600;margin:1rem 0}
.equivalent{background:#dafbe1;border:1px solid #4ac26b} .different{background:#ffebe9;border:1px solid #ff8182}
.incomplete{background:#fff8c5;border:1px solid #d4a72c}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9em} th,td{border:1px solid #d0d7de;padding:.2rem .45rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums} th{background:#f6f8fa}
td.unexplained{font-weight:700;background:#fff1f0} code,pre{font-family:ui-monospace,monospace;font-size:.9em}
details{margin:.3rem 0;border:1px solid #d0d7de;border-radius:6px;padding:.3rem .6rem}
summary{cursor:pointer;font-family:ui-monospace,monospace} .by{color:#57606a;font-size:.9em}
.waived{color:#57606a} .explained{color:#0969da} ul{margin:.3rem 0}
";

pub fn render(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>kparity: {}</title><style>{STYLE}</style></head><body>\n",
        esc(c.verdict.as_str())
    );
    for s in super::SECTIONS {
        o.push_str(&section(c, s));
    }
    let _ = writeln!(
        o,
        "<p class=\"by\">kparity {} — schema of the JSON report: {}</p></body></html>",
        env!("CARGO_PKG_VERSION"),
        super::json::SCHEMA_VERSION
    );
    o
}

fn section(c: &Comparison, s: Section) -> String {
    match s {
        Section::Head => head(c),
        Section::Kinds => kinds(c),
        Section::Differences => differences(c),
        Section::Platform => platform(c),
        // One list for both: what could not be read and what is not proven keep the verdict
        // from `equivalent` alike.
        Section::Unread => not_proven(c),
        Section::Unproven => String::new(),
        Section::Api => api(c),
        Section::Coverage => coverage(c) + &excluded(c),
        Section::Rules => rules(c) + &waivers(c),
        Section::Suppressed => suppressed(c),
        Section::Warnings => warnings(c),
    }
}

/// The verdict and where each side was read (and its platforms).
fn head(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<h1>kparity report</h1>");
    let _ = writeln!(o, "<div id=\"verdict\" class=\"verdict {}\">{}</div>", c.verdict.as_str(), esc(&headline(c)));
    let _ = writeln!(o, "<ul id=\"sources\"><li><b>old:</b> {}</li>", esc(&describe_source(&c.old)));
    let _ = writeln!(o, "<li><b>new:</b> {}</li>", esc(&describe_source(&c.new)));
    if let Some(line) = super::platform::headline(c) {
        let _ = writeln!(o, "<li>{}</li>", esc(&line));
    }
    let _ = writeln!(o, "</ul>");
    o
}

/// Counts per kind, led by the unexplained column.
fn kinds(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<h2>Per kind</h2><table id=\"kinds\">");
    let _ = writeln!(
        o,
        "<tr><th>Kind</th><th>Unexplained</th><th>Old</th><th>New</th><th>Changed</th><th>Missing</th>\
         <th>Extra</th><th>Explained</th><th>Waived</th><th>Skipped</th></tr>"
    );
    for (gk, k) in &c.kinds {
        if k.old + k.new + k.skipped_old + k.skipped_new == 0 && !k.incomplete_old && !k.incomplete_new {
            continue;
        }
        let count = |v: usize, unread: bool| if unread { "?".to_string() } else { v.to_string() };
        let u = k.unexplained();
        let _ = writeln!(
            o,
            "<tr><td><code>{}</code></td><td class=\"n{}\">{u}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}/{}</td></tr>",
            esc(&gk.to_string()),
            if u > 0 { " unexplained" } else { "" },
            count(k.old, k.incomplete_old),
            count(k.new, k.incomplete_new),
            k.changed,
            k.missing,
            k.extra,
            k.missing_explained + k.extra_explained,
            k.waived,
            k.skipped_old,
            k.skipped_new
        );
    }
    let _ = writeln!(o, "</table>");
    o
}

/// Each differing object, with attribution; open when the list is short.
fn differences(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<h2>Differences ({})</h2><div id=\"differences\">", c.objects.len());
    if c.objects.is_empty() {
        let _ = writeln!(o, "<p>None.</p>");
    }
    // A short list is shown open; a long one folded, each object a click away.
    let open = if c.objects.len() <= 20 { " open" } else { "" };
    for d in &c.objects {
        let what = match d.change {
            Change::Changed => "changed",
            Change::Missing => "missing in new",
            Change::Extra => "extra in new",
        };
        let waived = if d.is_waived() { " <span class=\"waived\">(waived)</span>" } else { "" };
        let _ = writeln!(
            o,
            "<details class=\"object\"{open}><summary>{} {} — {what}{waived}</summary>",
            super::change_marker(d.change),
            esc(&d.key.to_string())
        );
        if d.change == Change::Changed {
            let _ = writeln!(o, "<table><tr><th>Field</th><th>Change</th><th>Written by</th></tr>");
            for f in &d.fields {
                let waiver =
                    f.waived.as_deref().map(|w| format!("<br><span class=\"waived\">waived: {}</span>", esc(w)));
                let _ = writeln!(
                    o,
                    "<tr><td><code>{}</code></td><td><code>{}</code>{}</td><td class=\"by\">{}</td></tr>",
                    esc(&f.change.display_path()),
                    esc(&field_change_text(f)),
                    waiver.unwrap_or_default(),
                    esc(&f.written_by.short().unwrap_or_else(|| "(not recorded)".into()))
                );
            }
            let _ = writeln!(o, "</table>");
        } else {
            if let Some(why) = &d.explained {
                let _ = writeln!(o, "<p class=\"explained\">explained: {}</p>", esc(why));
            }
            if let Some(by) = d.written_by.short() {
                let _ = writeln!(o, "<p class=\"by\">written by {}</p>", esc(&by));
            }
            if let Some(w) = &d.waived {
                let _ = writeln!(o, "<p class=\"waived\">waived: {}</p>", esc(w));
            }
        }
        let _ = writeln!(o, "</details>");
    }
    let _ = writeln!(o, "</div>");
    o
}

/// The platform differences, which do not fail the gate by themselves.
fn platform(c: &Comparison) -> String {
    let mut o = String::new();
    if c.platform.is_empty() {
        return o;
    }
    let _ = writeln!(o, "<h2>{}</h2><ul id=\"platform\">", esc(&super::platform::section_title(c)));
    for d in &c.platform.differences {
        let _ = writeln!(o, "<li><code>{}</code></li>", esc(&super::platform::describe(d)));
    }
    let _ = writeln!(o, "</ul>");
    o
}

/// What could not be read, and why a verdict is not proven although everything was.
fn not_proven(c: &Comparison) -> String {
    let mut o = String::new();
    if !c.incomplete.is_empty() || !c.unproven.is_empty() {
        let _ = writeln!(o, "<h2>Not proven</h2><ul id=\"incomplete\">");
        for (side, i) in &c.incomplete {
            let _ = writeln!(
                o,
                "<li>{side}: <code>{}</code>: {}</li>",
                esc(&i.type_ref.to_string()),
                esc(&i.reason.to_string())
            );
        }
        for u in &c.unproven {
            let _ = writeln!(o, "<li>{}</li>", esc(&u.message));
        }
        let _ = writeln!(o, "</ul>");
    }
    o
}

/// API differences: served on one side only, preferred versions that differ, objects under
/// versions NEW does not serve.
fn api(c: &Comparison) -> String {
    let mut o = String::new();
    if c.api_differences.is_empty() && c.preferred_versions.is_empty() && c.unserved_on_new.is_empty() {
        return o;
    }
    let _ = writeln!(o, "<h2>API differences</h2><ul id=\"api\">");
    for a in &c.api_differences {
        let gv = if a.group.is_empty() { a.version.clone() } else { format!("{}/{}", a.group, a.version) };
        let _ =
            writeln!(o, "<li>only {}: <code>{}</code> {} ({})</li>", a.side, esc(&gv), esc(&a.resource), esc(&a.kind));
    }
    for p in &c.preferred_versions {
        let _ = writeln!(o, "<li>{}</li>", esc(&super::describe_preferred(p)));
    }
    for u in &c.unserved_on_new {
        let objects: Vec<String> = u.objects.iter().map(|k| format!("<code>{}</code>", esc(&k.to_string()))).collect();
        let _ = writeln!(o, "<li>{}: {}</li>", esc(&super::describe_unserved(u)), objects.join(", "));
    }
    let _ = writeln!(o, "</ul>");
    o
}

/// What was read on each side: the coverage lines, and every discovered resource, folded.
fn coverage(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<h2>Coverage</h2><ul id=\"coverage\">");
    for line in coverage_lines(c) {
        let _ = writeln!(o, "<li>{}</li>", esc(&line));
    }
    let _ = writeln!(o, "</ul>");
    for (side, cov) in [("old", &c.coverage_old), ("new", &c.coverage_new)] {
        if cov.is_empty() {
            continue;
        }
        let _ = writeln!(o, "<details><summary>Coverage of {side} ({} types)</summary><table>", cov.len());
        let _ = writeln!(o, "<tr><th>Type</th><th>Status</th></tr>");
        for t in cov {
            let (what, status) = super::coverage_entry(t);
            let _ = writeln!(o, "<tr><td><code>{}</code></td><td>{}</td></tr>", esc(&what), esc(&status));
        }
        let _ = writeln!(o, "</table></details>");
    }
    o
}

/// What was left out on purpose, one line per reason.
fn excluded(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<h2>Excluded on purpose</h2><ul id=\"excluded\">");
    for (by, kinds) in super::excluded_by_reason(c) {
        let _ = writeln!(o, "<li>{}: {}</li>", esc(by), esc(&kinds.join(", ")));
    }
    let _ = writeln!(o, "</ul>");
    o
}

/// What each rule that acted removed.
fn rules(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<h2>Rules that acted</h2><ul id=\"rules\">");
    for line in rule_lines(c) {
        let _ = writeln!(o, "<li>{}</li>", esc(&line));
    }
    let _ = writeln!(o, "</ul>");
    o
}

/// Every waiver and what became of it.
fn waivers(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<h2>Waivers</h2>");
    if c.waivers.is_empty() {
        let _ = writeln!(o, "<p>None.</p>");
    }
    let _ = writeln!(o, "<table id=\"waivers\">");
    if !c.waivers.is_empty() {
        let _ = writeln!(o, "<tr><th>Covers</th><th>Reason</th><th>Expires</th><th>From</th><th>Status</th></tr>");
    }
    for w in &c.waivers {
        let status = match (w.expired, w.used) {
            (true, _) => "expired (no longer applies)",
            (false, true) => "applied",
            (false, false) => "matched nothing",
        };
        let _ = writeln!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{status}</td></tr>",
            esc(&w.covers),
            esc(&w.reason),
            esc(&w.expires.map(|d| d.to_string()).unwrap_or_else(|| "never".into())),
            esc(&w.origin.to_string())
        );
    }
    let _ = writeln!(o, "</table>");
    o
}

/// With `--show-suppressed`: what each rule removed, object by object.
fn suppressed(c: &Comparison) -> String {
    let mut o = String::new();
    let lines = super::suppressed_lines(c);
    if lines.is_empty() {
        return o;
    }
    let _ = writeln!(o, "<h2>Suppressed by rules</h2><pre id=\"suppressed\">");
    for line in lines {
        let _ = writeln!(o, "{}", esc(&line));
    }
    let _ = writeln!(o, "</pre>");
    o
}

/// Rule warnings.
fn warnings(c: &Comparison) -> String {
    let mut o = String::new();
    if !c.rule_warnings.is_empty() {
        let _ = writeln!(o, "<h2>Rule warnings</h2><ul>");
        for w in &c.rule_warnings {
            let _ = writeln!(o, "<li>{}</li>", esc(&w.to_string()));
        }
        let _ = writeln!(o, "</ul>");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_open_a_tag_or_leave_an_attribute() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn the_page_loads_nothing_and_runs_nothing() {
        let html = render(&super::super::fixture::different());
        // The fixture's image value holds `<rc>` and quotes: escaped, never raw.
        assert!(html.contains("&lt;rc&gt;"), "{html}");
        assert!(!html.contains("<rc>"));
        for forbidden in ["<script", "src=", "href=", "@import", "url("] {
            assert!(!html.contains(forbidden), "{forbidden} in the page");
        }
    }
}
