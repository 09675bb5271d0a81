//! Platform profiles as data: `ignore-rules/platforms/*.yaml`, embedded like the rule profiles.
//! A profile names the markers that recognise a platform on a side and the objects the platform
//! writes, each with why and (in the file's header) the source it was checked against.

use serde::Deserialize;

use crate::rules::pattern::PointerPattern;
use crate::rules::{Match, Origin, RawMatch, RulesError};

/// The built-in platform profiles, in detection order.
pub const BUILTIN: &[(&str, &str)] = &[
    ("kubeadm", include_str!("../../ignore-rules/platforms/kubeadm.yaml")),
    ("eks", include_str!("../../ignore-rules/platforms/eks.yaml")),
    ("calico", include_str!("../../ignore-rules/platforms/calico.yaml")),
    ("flannel", include_str!("../../ignore-rules/platforms/flannel.yaml")),
    ("cilium", include_str!("../../ignore-rules/platforms/cilium.yaml")),
];

/// One platform: how it is recognised, and what it writes.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `kubeadm`, `eks`: what `--platform` and the JSON report call it.
    pub name: String,
    /// `EKS`: what people read in reports.
    pub display_name: String,
    pub markers: Vec<Marker>,
    pub objects: Vec<Entry>,
}

/// An object only this platform writes: one present means the side runs the platform.
#[derive(Debug, Clone)]
pub struct Marker {
    pub why: String,
    pub matcher: Match,
}

/// A class of objects the platform writes.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub why: String,
    pub matcher: Match,
    /// Fields that carry the team's intent inside this platform object: compared against a
    /// counterpart on the other side even when the two sides run different platforms.
    pub intent: Vec<PointerPattern>,
    /// A CoreDNS Corefile (JSON pointer to the string): its server blocks other than the root
    /// zone (`.`) are the team's (stub domains, forwarders for private zones) and are compared.
    pub corefile: Option<String>,
    /// A KubeProxyConfiguration (JSON pointer to the YAML string): kubeadm and EKS keep it in
    /// differently named ConfigMaps, so the team's proxy mode is compared across them by value.
    pub kube_proxy_config: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawProfile {
    platform: String,
    display_name: String,
    markers: Vec<RawMarker>,
    objects: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarker {
    why: String,
    #[serde(rename = "match")]
    matcher: RawMatch,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    why: String,
    #[serde(rename = "match")]
    matcher: RawMatch,
    #[serde(default)]
    intent: Vec<PointerPattern>,
    #[serde(default)]
    corefile: Option<PointerPattern>,
    #[serde(default, rename = "kubeProxyConfig")]
    kube_proxy_config: Option<PointerPattern>,
}

/// Parses one platform profile; errors name the profile, line and column like rules files do.
pub fn parse(name: &str, text: &str) -> Result<Profile, RulesError> {
    let origin = Origin::Profile(format!("platforms/{name}"));
    let raw: RawProfile = serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        RulesError::Parse { origin: origin.clone(), line, column, message: e.to_string() }
    })?;
    let invalid = |message: String| RulesError::Invalid { origin: origin.clone(), message };
    if raw.platform != name {
        return Err(invalid(format!("declares `platform: {}`, expected {name}", raw.platform)));
    }
    if raw.markers.is_empty() || raw.objects.is_empty() {
        return Err(invalid("a platform profile needs markers and objects".into()));
    }
    let mut markers = Vec::new();
    for m in raw.markers {
        let matcher: Match = m.matcher.into();
        if m.why.trim().is_empty() || matcher.name.is_none() || matcher.kind.is_none() {
            return Err(invalid("every marker needs a why, a kind and a name: a label alone proves nothing".into()));
        }
        markers.push(Marker { why: m.why, matcher });
    }
    let mut objects = Vec::new();
    for e in raw.objects {
        let matcher: Match = e.matcher.into();
        // An entry must name what it covers: a platform's objects are recognised by their
        // identity, so a workload that merely carries a platform label or sits in kube-system is
        // never taken for one.
        if e.why.trim().is_empty() || matcher.name.is_none() || matcher.kind.is_none() {
            return Err(invalid(format!("object entry {:?} needs a why, a kind and a name", e.name)));
        }
        objects.push(Entry {
            name: e.name,
            why: e.why,
            matcher,
            intent: e.intent,
            corefile: e.corefile.map(|p| p.as_str().to_string()),
            kube_proxy_config: e.kube_proxy_config.map(|p| p.as_str().to_string()),
        });
    }
    Ok(Profile { name: raw.platform, display_name: raw.display_name, markers, objects })
}

/// Every built-in platform profile.
pub fn builtin() -> Result<Vec<Profile>, RulesError> {
    BUILTIN.iter().map(|(name, text)| parse(name, text)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_platform_profile_parses() {
        let profiles = builtin().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            profiles.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["kubeadm", "eks", "calico", "flannel", "cilium"]
        );
    }

    #[test]
    fn an_entry_without_a_name_is_refused() {
        let text = "platform: x\ndisplayName: X\nmarkers:\n  - {why: w, match: {kind: ConfigMap, name: a}}\nobjects:\n  - {name: all-labelled, why: w, match: {labels: \"eks.amazonaws.com/component\"}}\n";
        let err = parse("x", text).unwrap_err().to_string();
        assert!(err.contains("needs a why, a kind and a name"), "{err}");
    }
}
