//! `kparity rules`: prints the effective rules in the format users write, so a user file can
//! start from them, and validates user files on the way.

use crate::cli::RulesArgs;
use crate::exit::Exit;
use crate::rules::{self, Origin};

/// With `--quiet` the rules are only validated: the exit code says whether they load.
pub fn run(args: &RulesArgs, quiet: bool) -> Result<Exit, crate::error::CommandError> {
    let set = rules::load(&args.rules.to_options())?;
    if args.platforms {
        // Parsed first, so a broken profile is an error rather than a listing.
        crate::platform::profile::builtin()?;
        let mut out = String::new();
        for (name, text) in crate::platform::profile::BUILTIN {
            out.push_str(&format!("# ===== ignore-rules/platforms/{name}.yaml =====\n{text}\n"));
        }
        if !quiet {
            crate::error::write_stdout(&out)?;
        }
        return Ok(Exit::Ok);
    }
    if args.markdown {
        crate::error::write_stdout(&markdown(&set))?;
        return Ok(Exit::Ok);
    }
    let mut out = String::new();
    out.push_str("# Effective kparity rules, in application order.\n");
    out.push_str(&format!(
        "# Profiles: {}\n",
        if set.profiles.is_empty() { "(none)".to_string() } else { set.profiles.join(", ") }
    ));
    for f in &set.files {
        out.push_str(&format!("# File: {}\n", f.display()));
    }
    let mut origins: Vec<&Origin> =
        set.rules().iter().map(|r| &r.origin).chain(set.waivers.iter().map(|w| &w.origin)).collect();
    origins.dedup();
    for origin in origins {
        let rules: Vec<_> = set.rules().iter().filter(|r| &r.origin == origin).collect();
        let waivers: Vec<_> = set.waivers.iter().filter(|w| &w.origin == origin).collect();
        out.push_str(&format!("\n# --- from {origin} ---\n"));
        out.push_str(&rules::render(&rules, &waivers));
    }
    if !quiet {
        crate::error::write_stdout(&out)?;
    }
    Ok(Exit::Ok)
}

/// The rules as a Markdown table: the README's list of built-in rules is generated with this,
/// and a test keeps it current.
pub fn markdown(set: &rules::RuleSet) -> String {
    use rules::Action;
    let mut out = String::from("| Profile | Rule | Action | Applies to | Why |\n|---|---|---|---|---|\n");
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    for r in set.rules() {
        let origin = match &r.origin {
            Origin::Profile(p) => p.clone(),
            Origin::File(f) => f.display().to_string(),
        };
        let action = match &r.action {
            Action::Skip => "skip".to_string(),
            Action::Presence => "presence".to_string(),
            Action::Drop(paths) => {
                format!("drop {}", paths.iter().map(|p| format!("`{}`", p.as_str())).collect::<Vec<_>>().join(" "))
            }
            Action::Digest(paths) => {
                format!("digest {}", paths.iter().map(|p| format!("`{}`", p.as_str())).collect::<Vec<_>>().join(" "))
            }
            Action::Unordered(paths) => {
                format!("unordered {}", paths.iter().map(|p| format!("`{}`", p.as_str())).collect::<Vec<_>>().join(" "))
            }
            Action::DropValues(lists) => format!(
                "drop values {}",
                lists
                    .iter()
                    .map(|(p, v)| format!("`{}` from `{}`", v.join("`, `"), p.as_str()))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Action::Canonicalize(format, paths) => format!(
                "canonicalize {} {}",
                serde_norway::to_string(format).unwrap_or_default().trim(),
                paths.iter().map(|p| format!("`{}`", p.as_str())).collect::<Vec<_>>().join(" ")
            ),
        };
        let m = &r.matcher;
        let mut scope = Vec::new();
        let mut push = |label: &str, v: Option<&str>| {
            if let Some(v) = v {
                scope.push(format!("{label} `{}`", if v.is_empty() { "\"\"" } else { v }));
            }
        };
        push("group", m.group.as_ref().map(|g| g.as_str()));
        push("kind", m.kind.as_ref().map(|g| g.as_str()));
        push("namespace", m.namespace.as_ref().map(|g| g.as_str()));
        push("name", m.name.as_ref().map(|g| g.as_str()));
        push("labels", m.labels.as_ref().map(|s| s.as_str()));
        push("annotations", m.annotations.as_ref().map(|s| s.as_str()));
        push("owned by", m.owned_by.as_ref().map(|g| g.as_str()));
        for (k, v) in &m.fields {
            scope.push(format!("`{k}` = `{v}`"));
        }
        for (k, v) in &m.fields_not {
            scope.push(format!("`{k}` ≠ `{v}`"));
        }
        let scope = if scope.is_empty() { "every object".to_string() } else { scope.join(", ") };
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            origin,
            r.name,
            cell(&action),
            cell(&scope),
            cell(&r.why)
        ));
    }
    out
}
