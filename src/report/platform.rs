//! The platform part of every report: which platform each side runs (and how kparity knows),
//! and the *platform differences* section, counted per side. Nothing here when neither side runs
//! a known platform, so reports of plain clusters read as before.

use std::fmt::Write as _;

use serde::Serialize;

use crate::diff::Comparison;
use crate::model::Side;
use crate::platform::{PlatformChange, PlatformDifference, PlatformReport, SideReport};

/// `platforms: old blue: kubeadm 1.37 (detected: ConfigMap kube-system/kubeadm-config); new green: EKS 1.37 (...)`.
pub(crate) fn headline(c: &Comparison) -> Option<String> {
    let p = &c.platform;
    if p.is_empty() {
        return None;
    }
    let side = |label: &str, name: &str, s: &SideReport, version: Option<&str>| {
        let how = match s.platforms.first().map(|p| &p.evidence) {
            Some(Some(key)) => format!(" (detected: {key})"),
            Some(None) => " (--platform)".to_string(),
            None => String::new(),
        };
        format!("{label} {name}: {}{how}", PlatformReport::describe(s, version))
    };
    Some(format!(
        "platforms: {}; {}",
        side("old", &c.old.name, &p.old, c.old.kubernetes_version.as_deref()),
        side("new", &c.new.name, &p.new, c.new.kubernetes_version.as_deref())
    ))
}

/// `Platform differences (listed, not failing the gate): 12 only on old (kubeadm), 9 only on new (EKS), 3 differ`.
pub(crate) fn section_title(c: &Comparison) -> String {
    let p = &c.platform;
    let differ = p.differences.iter().filter(|d| d.change == PlatformChange::Differs).count();
    format!(
        "Platform differences (listed, not failing the gate): {} only on old ({}), {} only on new ({}), {} written differently by each platform; platform objects: {} on old, {} on new",
        p.old.only_here,
        PlatformReport::describe(&p.old, None),
        p.new.only_here,
        PlatformReport::describe(&p.new, None),
        differ,
        p.old.objects,
        p.new.objects
    )
}

/// The first line of one platform difference, without a marker.
pub(crate) fn describe(d: &PlatformDifference) -> String {
    let what = match d.change {
        PlatformChange::OnlyOn(Side::Old) => format!("only on old [{}]", d.old_entry.as_deref().unwrap_or("?")),
        PlatformChange::OnlyOn(Side::New) => format!("only on new [{}]", d.new_entry.as_deref().unwrap_or("?")),
        PlatformChange::Differs => format!(
            "written by each platform [{} | {}]",
            d.old_entry.as_deref().unwrap_or("?"),
            d.new_entry.as_deref().unwrap_or("?")
        ),
    };
    let intent = if d.intent.is_empty() {
        String::new()
    } else {
        format!("; holds the team's settings, review by hand: {}", d.intent.join(", "))
    };
    format!("{} {what}{intent}", d.diff.key)
}

/// The section for the table report.
pub(crate) fn table_section(c: &Comparison) -> String {
    let mut out = String::new();
    if c.platform.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n{}:", section_title(c));
    for d in &c.platform.differences {
        let marker = match d.change {
            PlatformChange::OnlyOn(Side::Old) => "-",
            PlatformChange::OnlyOn(Side::New) => "+",
            PlatformChange::Differs => "~",
        };
        let _ = writeln!(out, "  {marker} {}", describe(d));
        for f in &d.diff.fields {
            let _ = writeln!(out, "      {}: {}", f.change.display_path(), super::field_change_text(f));
        }
    }
    out
}

/// The section for the Markdown report.
pub(crate) fn markdown_section(c: &Comparison) -> String {
    let mut out = String::new();
    if c.platform.is_empty() {
        return out;
    }
    let _ = writeln!(out, "<details><summary>{}</summary>\n", section_title(c).replace('|', "\\|"));
    for d in &c.platform.differences {
        let _ = writeln!(out, "- `{}`", describe(d).replace('`', "'"));
    }
    let _ = writeln!(out, "\n</details>\n");
    out
}

/// The JSON view (added within schema 1; absent when neither side runs a known platform).
#[derive(Serialize)]
pub(crate) struct JsonView<'a> {
    old: JsonSide<'a>,
    new: JsonSide<'a>,
    differences: Vec<JsonDifference<'a>>,
}

#[derive(Serialize)]
struct JsonSide<'a> {
    /// `kubeadm 1.37`, as the other formats print it.
    description: String,
    platforms: Vec<JsonPlatform<'a>>,
    /// Objects on this side written by one of its platforms.
    platform_objects: usize,
    /// Platform differences found only on this side.
    only_here: usize,
}

#[derive(Serialize)]
struct JsonPlatform<'a> {
    name: &'a str,
    display_name: &'a str,
    /// `detected` (by a marker object, named in `evidence`) or `flag` (`--platform`).
    how: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<String>,
}

#[derive(Serialize)]
struct JsonDifference<'a> {
    key: super::json::KeyView<'a>,
    /// `only_old`, `only_new` or `differs`.
    change: &'static str,
    old_entry: Option<&'a str>,
    new_entry: Option<&'a str>,
    why: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    intent: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<super::json::FieldView<'a>>,
}

pub(crate) fn json_view(c: &Comparison) -> Option<JsonView<'_>> {
    let p = &c.platform;
    if p.is_empty() {
        return None;
    }
    fn side<'a>(s: &'a SideReport, version: Option<&str>) -> JsonSide<'a> {
        JsonSide {
            description: PlatformReport::describe(s, version),
            platforms: s
                .platforms
                .iter()
                .map(|p| JsonPlatform {
                    name: &p.name,
                    display_name: &p.display_name,
                    how: if p.evidence.is_some() { "detected" } else { "flag" },
                    evidence: p.evidence.as_ref().map(|k| k.to_string()),
                })
                .collect(),
            platform_objects: s.objects,
            only_here: s.only_here,
        }
    }
    Some(JsonView {
        old: side(&p.old, c.old.kubernetes_version.as_deref()),
        new: side(&p.new, c.new.kubernetes_version.as_deref()),
        differences: p
            .differences
            .iter()
            .map(|d| JsonDifference {
                key: super::json::KeyView::of(&d.diff.key),
                change: match d.change {
                    PlatformChange::OnlyOn(Side::Old) => "only_old",
                    PlatformChange::OnlyOn(Side::New) => "only_new",
                    PlatformChange::Differs => "differs",
                },
                old_entry: d.old_entry.as_deref(),
                new_entry: d.new_entry.as_deref(),
                why: &d.why,
                intent: &d.intent,
                fields: d.diff.fields.iter().map(super::json::FieldView::of).collect(),
            })
            .collect(),
    })
}
