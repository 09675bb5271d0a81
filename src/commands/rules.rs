//! `kparity rules`: prints the effective rules in the format users write, so a user file can
//! start from them, and validates user files on the way.

use crate::cli::RulesArgs;
use crate::exit::Exit;
use crate::rules::{self, Origin};

/// With `--quiet` the rules are only validated: the exit code says whether they load.
pub fn run(args: &RulesArgs, quiet: bool) -> anyhow::Result<Exit> {
    let set = rules::load(&args.rules.to_options())?;
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
        set.rules.iter().map(|r| &r.origin).chain(set.waivers.iter().map(|w| &w.origin)).collect();
    origins.dedup();
    for origin in origins {
        let rules: Vec<_> = set.rules.iter().filter(|r| &r.origin == origin).collect();
        let waivers: Vec<_> = set.waivers.iter().filter(|w| &w.origin == origin).collect();
        out.push_str(&format!("\n# --- from {origin} ---\n"));
        out.push_str(&rules::render(&rules, &waivers));
    }
    if !quiet {
        crate::report::write_stdout(&out)?;
    }
    Ok(Exit::Ok)
}
