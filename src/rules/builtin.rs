//! The built-in profiles: `ignore-rules/*.yaml`, embedded in the binary so the rules that
//! decided a verdict always travel with the tool that produced it.

use super::{Origin, RuleFile, RulesError, parse_rule_file};

/// A built-in profile: a rules file shipped in `ignore-rules/`.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub name: &'static str,
    /// On unless `--no-profile NAME` or `--no-default-rules`.
    pub default: bool,
    pub text: &'static str,
}

/// In application order: general server-side noise first, then migration-tool marks.
pub const PROFILES: &[Profile] = &[
    Profile { name: "core", default: true, text: include_str!("../../ignore-rules/core.yaml") },
    // On by default: the lists whose order the API gives no meaning (every other list keeps its
    // order, see `normalize`).
    Profile { name: "list-order", default: true, text: include_str!("../../ignore-rules/list-order.yaml") },
    Profile { name: "velero", default: true, text: include_str!("../../ignore-rules/velero.yaml") },
    Profile { name: "argocd", default: true, text: include_str!("../../ignore-rules/argocd.yaml") },
    // On by default: every rule in it is scoped to the Kubernetes versions it was measured
    // between, so it is inert unless the two sides run two different listed minor versions.
    Profile { name: "upgrade", default: true, text: include_str!("../../ignore-rules/upgrade.yaml") },
    Profile {
        name: "argocd-label-tracking",
        default: false,
        text: include_str!("../../ignore-rules/argocd-label-tracking.yaml"),
    },
];

pub fn parse(profile: &Profile) -> Result<RuleFile, RulesError> {
    parse_rule_file(profile.text, Origin::Profile(profile.name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_parses_and_names_itself() {
        for p in PROFILES {
            let file = parse(p).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                file.profile.as_deref(),
                Some(p.name),
                "ignore-rules/{}.yaml must declare `profile: {}`",
                p.name,
                p.name
            );
            assert!(!file.rules.is_empty(), "profile {} has no rules", p.name);
        }
    }
}
