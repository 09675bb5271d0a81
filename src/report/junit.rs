//! The JUnit XML report, so CI dashboards show drift the way they show failing tests: one test
//! case per kind (failing when objects of that kind differ, the failure text listing them), one
//! erroring test case per type that could not be read, one skipped test case per excluded kind.
//!
//! The shape is the common Ant/Jenkins one (`testsuites` > `testsuite` with `properties`,
//! `system-out`, `system-err`); `tests/schemas/junit.xsd` holds the schema the tests validate it
//! against.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{RunInfo, describe_source, headline};
use crate::diff::{Comparison, ObjectDiff};

/// One `<testcase>`, before it is written out.
struct Case {
    classname: &'static str,
    name: String,
    outcome: Outcome,
    /// Shown as the case's `system-out` (e.g. what a waiver accepted).
    out: Option<String>,
}

enum Outcome {
    Pass,
    Failure { message: String, text: String },
    Error { kind: String, message: String, text: String },
    Skipped { message: String },
}

pub fn render(c: &Comparison, run: &RunInfo) -> String {
    let suite = Suite {
        name: format!("kparity diff {} {}", c.old.name, c.new.name),
        timestamp: junit_timestamp(&c.new.time),
        properties: vec![
            ("verdict", c.verdict.as_str().to_string()),
            ("old", describe_source(&c.old)),
            ("new", describe_source(&c.new)),
            ("profiles", c.profiles.join(",")),
        ],
        cases: cases(c),
        // The platform line and the platform differences (which pass the gate) ride along.
        system_out: match super::platform::headline(c) {
            Some(line) => format!("{}\n{line}\n{}", headline(c), super::platform::table_section(c).trim()),
            None => headline(c),
        },
        system_err: String::new(),
    };
    document(&suite, run)
}

/// The report of a run that could not compare at all (a side unreachable, bad input): one
/// erroring test case carrying the error, so a CI job that collects the file shows the failure
/// instead of finding no report.
pub fn render_failure(old: &str, new: &str, error: &str, run: &RunInfo, timestamp: &str) -> String {
    let case = Case {
        classname: "kparity.run",
        name: format!("compare {old} with {new}"),
        outcome: Outcome::Error {
            kind: "error".into(),
            message: error.lines().next().unwrap_or_default().to_string(),
            text: format!("{error}\n"),
        },
        out: None,
    };
    let suite = Suite {
        name: format!("kparity diff {old} {new}"),
        timestamp: junit_timestamp(timestamp),
        properties: vec![("verdict", "error".to_string())],
        cases: vec![case],
        system_out: String::new(),
        system_err: error.to_string(),
    };
    document(&suite, run)
}

/// The one `<testsuite>` of a report.
struct Suite {
    name: String,
    /// Already in JUnit's form (`junit_timestamp`).
    timestamp: String,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
    system_out: String,
    system_err: String,
}

fn document(suite: &Suite, run: &RunInfo) -> String {
    let cases = &suite.cases;
    let failures = cases.iter().filter(|k| matches!(k.outcome, Outcome::Failure { .. })).count();
    let errors = cases.iter().filter(|k| matches!(k.outcome, Outcome::Error { .. })).count();
    let skipped = cases.iter().filter(|k| matches!(k.outcome, Outcome::Skipped { .. })).count();
    let counts = format!(
        r#"tests="{}" failures="{failures}" errors="{errors}" skipped="{skipped}" time="{:.3}""#,
        cases.len(),
        run.duration.as_secs_f64()
    );
    let hostname = if run.hostname.is_empty() { "localhost" } else { run.hostname.as_str() };

    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(out, r#"<testsuites name="kparity" {counts}>"#);
    let _ = writeln!(
        out,
        r#"  <testsuite name="{}" package="kparity" id="0" timestamp="{}" hostname="{}" {counts}>"#,
        attr(&suite.name),
        attr(&suite.timestamp),
        attr(hostname),
    );
    let _ = writeln!(out, "    <properties>");
    for (name, value) in &suite.properties {
        let _ = writeln!(out, r#"      <property name="{}" value="{}"/>"#, attr(name), attr(value));
    }
    let _ = writeln!(out, "    </properties>");
    for case in cases {
        write_case(&mut out, case);
    }
    let _ = writeln!(out, "    <system-out>{}</system-out>", text(&suite.system_out));
    let _ = writeln!(out, "    <system-err>{}</system-err>", text(&suite.system_err));
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(out, "</testsuites>");
    out
}

fn cases(c: &Comparison) -> Vec<Case> {
    let mut cases = Vec::new();
    for (gk, k) in &c.kinds {
        if k.old == 0 && k.new == 0 && k.changed + k.missing + k.extra + k.waived == 0 {
            continue;
        }
        let objects: Vec<&ObjectDiff> = c.objects.iter().filter(|d| &d.key.group_kind() == gk).collect();
        let listing = |only_waived: bool| -> String {
            objects.iter().filter(|d| d.is_waived() == only_waived).map(|d| describe_object(d)).collect()
        };
        let outcome = if k.changed + k.missing + k.extra > 0 {
            let mut parts = Vec::new();
            for (n, what) in [(k.changed, "changed"), (k.missing, "missing in new"), (k.extra, "extra in new")] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            Outcome::Failure {
                message: format!("{} ({} in old, {} in new)", parts.join(", "), k.old, k.new),
                text: listing(false),
            }
        } else {
            Outcome::Pass
        };
        let waived = listing(true);
        cases.push(Case {
            classname: "kparity.kinds",
            name: gk.to_string(),
            outcome,
            out: (!waived.is_empty()).then(|| format!("accepted by waivers:\n{waived}")),
        });
    }
    for (side, i) in &c.incomplete {
        cases.push(Case {
            classname: "kparity.incomplete",
            name: format!("{side}: {}", i.type_ref),
            outcome: Outcome::Error {
                kind: i.reason.code().to_string(),
                message: i.reason.to_string(),
                text: format!("{} of {} could not be read: {}\n", i.type_ref, side, i.reason),
            },
            out: None,
        });
    }
    for u in &c.unproven {
        cases.push(Case {
            classname: "kparity.unproven",
            name: "secret values".to_string(),
            outcome: Outcome::Error { kind: "unproven".into(), message: u.message.clone(), text: String::new() },
            out: None,
        });
    }
    // A kind excluded on both sides for the same reason is one skipped case.
    let excluded: BTreeSet<(String, &str)> =
        c.excluded.iter().map(|(_, e)| (e.group_kind.to_string(), e.by.as_str())).collect();
    for (name, by) in excluded {
        cases.push(Case {
            classname: "kparity.excluded",
            name,
            outcome: Outcome::Skipped { message: format!("left out by {by}") },
            out: None,
        });
    }
    cases
}

/// `~ Deployment.apps shop/web` and its field changes, as the table report shows them.
fn describe_object(d: &ObjectDiff) -> String {
    super::object_lines(d, false)
}

fn write_case(out: &mut String, case: &Case) {
    let open = format!(r#"    <testcase classname="{}" name="{}" time="0""#, case.classname, attr(&case.name));
    let system_out = case.out.as_deref().map(|o| format!("      <system-out>{}</system-out>\n", text(o)));
    match (&case.outcome, &system_out) {
        (Outcome::Pass, None) => {
            let _ = writeln!(out, "{open}/>");
        }
        (outcome, system_out) => {
            let _ = writeln!(out, "{open}>");
            match outcome {
                Outcome::Pass => {}
                Outcome::Failure { message, text: body } => {
                    let _ = writeln!(
                        out,
                        r#"      <failure type="different" message="{}">{}</failure>"#,
                        attr(message),
                        text(body)
                    );
                }
                Outcome::Error { kind, message, text: body } => {
                    let _ = writeln!(
                        out,
                        r#"      <error type="{}" message="{}">{}</error>"#,
                        attr(kind),
                        attr(message),
                        text(body)
                    );
                }
                Outcome::Skipped { message } => {
                    let _ = writeln!(out, r#"      <skipped message="{}"/>"#, attr(message));
                }
            }
            if let Some(s) = system_out {
                out.push_str(s);
            }
            let _ = writeln!(out, "    </testcase>");
        }
    }
}

/// JUnit timestamps are ISO 8601 without a zone (`2026-11-22T02:00:07`); kparity's are RFC 3339
/// in UTC, so the zone and fractions are cut. An unparsable time becomes the epoch rather than an
/// invalid document.
fn junit_timestamp(rfc3339: &str) -> String {
    match time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339) {
        Ok(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        }
        Err(_) => "1970-01-01T00:00:00".to_string(),
    }
}

/// Characters XML 1.0 cannot hold at all (most control characters) are replaced, since object
/// names and values come from the clusters and could contain anything.
fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

/// Escapes element text.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value; line breaks are kept as character references, since a parser
/// would otherwise normalize them to spaces.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn junit_of_a_different_run_fails_one_case_per_differing_kind() {
        insta::assert_snapshot!(render(&fixture::different(), &fixture::run()));
    }

    #[test]
    fn junit_of_an_incomplete_run_errors_one_case_per_unreadable_type() {
        insta::assert_snapshot!(render(&fixture::incomplete(), &fixture::run()));
    }

    #[test]
    fn junit_of_an_equivalent_run_has_only_passing_cases() {
        let xml = render(&fixture::equivalent(), &fixture::run());
        assert!(xml.contains(r#"failures="0" errors="0""#), "{xml}");
        assert!(!xml.contains("<failure"), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
    }

    /// Validates `xml` with xmllint against the committed JUnit schema; Err holds xmllint's
    /// complaint.
    fn validate(xml: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("report.xml");
        std::fs::write(&file, xml).expect("write report");
        let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas/junit.xsd");
        let out = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(schema)
            .arg(&file)
            .output()
            .unwrap_or_else(|e| panic!("cannot run xmllint ({e}): install libxml2-utils (tests/run-all.sh does it)"));
        if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
    }

    #[test]
    fn junit_reports_validate_against_the_junit_schema() {
        let mut hostile = fixture::incomplete();
        hostile.objects[2].key.name = "web<&>\"x\"\u{7}".into();
        hostile.old.time = "not a time".into();
        for (what, c) in [
            ("different", fixture::different()),
            ("incomplete", fixture::incomplete()),
            ("equivalent", fixture::equivalent()),
            ("hostile names", hostile),
        ] {
            let xml = render(&c, &fixture::run());
            if let Err(e) = validate(&xml) {
                panic!("{what}: {e}\n{xml}");
            }
        }
    }

    #[test]
    fn junit_of_a_run_that_could_not_compare_is_one_error() {
        let error = "failed to read NEW (green): failed to reach context \"green\" at https://127.0.0.1:26443: connection refused\nhint: check the server address";
        let xml = render_failure("blue", "green", error, &fixture::run(), "2026-11-22T02:00:07Z");
        if let Err(e) = validate(&xml) {
            panic!("{e}\n{xml}");
        }
        insta::assert_snapshot!(xml);
    }

    #[test]
    fn the_schema_rejects_a_failure_without_type() {
        let xml = render(&fixture::different(), &fixture::run()).replace(r#"<failure type="different" "#, "<failure ");
        assert!(validate(&xml).is_err(), "the schema check cannot fail, so it proves nothing");
    }

    #[test]
    fn text_from_clusters_cannot_break_the_document() {
        assert_eq!(text("a<b>&c\u{1}d"), "a&lt;b&gt;&amp;c\u{FFFD}d");
        assert_eq!(attr("say \"hi\"\nthere"), "say &quot;hi&quot;&#10;there");
    }

    #[test]
    fn timestamps_lose_their_zone_as_junit_expects() {
        assert_eq!(junit_timestamp("2026-11-22T02:00:07.123Z"), "2026-11-22T02:00:07");
        assert_eq!(junit_timestamp("2026-11-22T03:00:07+01:00"), "2026-11-22T02:00:07");
        assert_eq!(junit_timestamp("yesterday"), "1970-01-01T00:00:00");
    }
}
