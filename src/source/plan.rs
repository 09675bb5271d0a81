//! Chooses the API version each side lists a type in. When an upgrade moved a group's preferred
//! version, listing each side in its own preferred version would compare two encodings of one
//! object (fields renamed, defaults added by the conversion); reading both in a version both
//! serve compares like with like. Pure: it only looks at the two sides' discovery.
//!
//! `preferred` holds every listable resource once, in the version discovery reads it in by
//! default (the group's preferred version where it serves the resource, else the best version
//! that does), so a resource served only in a non-preferred version is planned on both sides too.

use std::collections::{BTreeMap, HashMap};

use crate::model::{ApiType, GroupResource};

/// What each side lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub old: Vec<ApiType>,
    pub new: Vec<ApiType>,
}

/// One side's discovery, as the planner needs it.
#[derive(Debug, Clone, Copy)]
pub struct Discovery<'a> {
    pub preferred: &'a [ApiType],
    pub served: &'a [ApiType],
}

/// Where the preferred versions of a type differ, both sides read it in a version both serve:
/// NEW's preferred version if OLD serves it (OLD's objects as they will look after the
/// migration), else OLD's preferred if NEW serves it, else any version both serve. Without a
/// common version each side keeps its preferred one and the diff compares across versions.
pub fn reconcile(old: Discovery<'_>, new: Discovery<'_>) -> Plan {
    let served_versions = |d: Discovery<'_>| -> HashMap<GroupResource, Vec<ApiType>> {
        let mut m: HashMap<GroupResource, Vec<ApiType>> = HashMap::new();
        for t in d.served {
            m.entry(t.group_resource()).or_default().push(t.clone());
        }
        m
    };
    let (old_served, new_served) = (served_versions(old), served_versions(new));
    let new_pref: BTreeMap<GroupResource, &ApiType> = new.preferred.iter().map(|t| (t.group_resource(), t)).collect();
    let old_pref: BTreeMap<GroupResource, &ApiType> = old.preferred.iter().map(|t| (t.group_resource(), t)).collect();

    let serves = |m: &HashMap<GroupResource, Vec<ApiType>>, key: &GroupResource, version: &str| {
        m.get(key).and_then(|v| v.iter().find(|t| t.version == version)).cloned()
    };
    // The version both read, per (group, resource) whose preferred versions differ.
    let mut chosen: HashMap<GroupResource, String> = HashMap::new();
    for (key, o) in &old_pref {
        let Some(n) = new_pref.get(key) else { continue };
        if o.version == n.version {
            continue;
        }
        let common = if serves(&old_served, key, &n.version).is_some() {
            Some(n.version.clone())
        } else if serves(&new_served, key, &o.version).is_some() {
            Some(o.version.clone())
        } else {
            old_served
                .get(key)
                .into_iter()
                .flatten()
                .find(|t| serves(&new_served, key, &t.version).is_some())
                .map(|t| t.version.clone())
        };
        if let Some(v) = common {
            chosen.insert(key.clone(), v);
        }
    }
    let apply = |pref: &[ApiType], served: &HashMap<GroupResource, Vec<ApiType>>| -> Vec<ApiType> {
        pref.iter()
            .map(|t| {
                let key = t.group_resource();
                chosen.get(&key).and_then(|v| serves(served, &key, v)).unwrap_or_else(|| t.clone())
            })
            .collect()
    };
    Plan { old: apply(old.preferred, &old_served), new: apply(new.preferred, &new_served) }
}

/// The plan for two sides of any kind: `None` is a side whose versions are fixed already (an
/// archive holds each type in the version it was taken in, and reads what it holds). Two live
/// sides agree a version per type (`reconcile`); a live side beside an archive reads its own
/// preferred versions.
pub fn for_sides(old: Option<Discovery<'_>>, new: Option<Discovery<'_>>) -> Plan {
    match (old, new) {
        (Some(o), Some(n)) => reconcile(o, n),
        (o, n) => Plan {
            old: o.map(|d| d.preferred.to_vec()).unwrap_or_default(),
            new: n.map(|d| d.preferred.to_vec()).unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(group: &str, version: &str, resource: &str) -> ApiType {
        ApiType {
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
            kind: "K".into(),
            namespaced: true,
        }
    }

    fn versions(plan: &[ApiType]) -> Vec<String> {
        plan.iter().map(|t| format!("{}/{}", t.group, t.version)).collect()
    }

    fn check(old: (&[ApiType], &[ApiType]), new: (&[ApiType], &[ApiType]), expected: (&[&str], &[&str])) {
        let plan =
            reconcile(Discovery { preferred: old.0, served: old.1 }, Discovery { preferred: new.0, served: new.1 });
        assert_eq!(versions(&plan.old), expected.0, "old plan");
        assert_eq!(versions(&plan.new), expected.1, "new plan");
    }

    #[test]
    fn same_preferred_version_is_read_as_preferred() {
        let a = [ty("apps", "v1", "deployments")];
        check((&a, &a), (&a, &a), (&["apps/v1"], &["apps/v1"]));
    }

    #[test]
    fn old_is_read_in_news_preferred_version_when_it_serves_it() {
        let old_pref = [ty("x.io", "v1beta1", "widgets")];
        let old_served = [ty("x.io", "v1beta1", "widgets"), ty("x.io", "v1", "widgets")];
        let new_pref = [ty("x.io", "v1", "widgets")];
        check((&old_pref, &old_served), (&new_pref, &new_pref), (&["x.io/v1"], &["x.io/v1"]));
    }

    #[test]
    fn new_is_read_in_olds_preferred_version_when_only_new_serves_both() {
        let old_pref = [ty("x.io", "v1beta1", "widgets")];
        let new_pref = [ty("x.io", "v1", "widgets")];
        let new_served = [ty("x.io", "v1", "widgets"), ty("x.io", "v1beta1", "widgets")];
        check((&old_pref, &old_pref), (&new_pref, &new_served), (&["x.io/v1beta1"], &["x.io/v1beta1"]));
    }

    #[test]
    fn a_third_common_version_is_used_when_neither_preferred_is_served_by_the_other() {
        let old_pref = [ty("x.io", "v1alpha1", "widgets")];
        let old_served = [ty("x.io", "v1alpha1", "widgets"), ty("x.io", "v1beta1", "widgets")];
        let new_pref = [ty("x.io", "v1", "widgets")];
        let new_served = [ty("x.io", "v1", "widgets"), ty("x.io", "v1beta1", "widgets")];
        check((&old_pref, &old_served), (&new_pref, &new_served), (&["x.io/v1beta1"], &["x.io/v1beta1"]));
    }

    #[test]
    fn a_resource_outside_its_groups_preferred_version_is_planned_on_both_sides() {
        // Both sides prefer v1 for the group; `grants` exists only in v1beta1 (ReferenceGrant).
        let side = [ty("x.io", "v1", "routes"), ty("x.io", "v1beta1", "grants")];
        let served = [ty("x.io", "v1", "routes"), ty("x.io", "v1beta1", "routes"), ty("x.io", "v1beta1", "grants")];
        check((&side, &served), (&side, &served), (&["x.io/v1", "x.io/v1beta1"], &["x.io/v1", "x.io/v1beta1"]));
        // An upgrade promoted it to v1beta1 while keeping v1alpha1: both read the common v1alpha1.
        let old = [ty("x.io", "v1alpha1", "grants")];
        let new_pref = [ty("x.io", "v1beta1", "grants")];
        let new_served = [ty("x.io", "v1beta1", "grants"), ty("x.io", "v1alpha1", "grants")];
        check((&old, &old), (&new_pref, &new_served), (&["x.io/v1alpha1"], &["x.io/v1alpha1"]));
    }

    #[test]
    fn beside_an_archive_a_live_side_reads_its_preferred_versions_and_the_archive_what_it_holds() {
        let pref = [ty("x.io", "v1", "widgets")];
        let served = [ty("x.io", "v1", "widgets"), ty("x.io", "v1beta1", "widgets")];
        let live = Some(Discovery { preferred: &pref, served: &served });
        for (plan, live_side) in [(for_sides(live, None), 0), (for_sides(None, live), 1)] {
            let (l, a) = if live_side == 0 { (&plan.old, &plan.new) } else { (&plan.new, &plan.old) };
            assert_eq!(versions(l), ["x.io/v1"]);
            assert!(a.is_empty(), "an archive is not listed");
        }
        // Two live sides agree, as `reconcile` does.
        let old_pref = [ty("x.io", "v1beta1", "widgets")];
        let plan = for_sides(
            Some(Discovery { preferred: &old_pref, served: &served }),
            Some(Discovery { preferred: &pref, served: &served }),
        );
        assert_eq!(
            (versions(&plan.old), versions(&plan.new)),
            (vec!["x.io/v1".to_string()], vec!["x.io/v1".to_string()])
        );
    }

    #[test]
    fn without_a_common_version_each_side_keeps_its_preferred_one() {
        let old_pref = [ty("x.io", "v1alpha1", "widgets")];
        let new_pref = [ty("x.io", "v1", "widgets")];
        check((&old_pref, &old_pref), (&new_pref, &new_pref), (&["x.io/v1alpha1"], &["x.io/v1"]));
    }
}
