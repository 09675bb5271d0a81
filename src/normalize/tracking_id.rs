//! Argo CD's resource tracking id (`argocd.argoproj.io/tracking-id`): left out of the comparison
//! when it names the object it is on, compared as written otherwise.
//!
//! Argo CD (util/argo/resource_tracking.go, v2.14 and 3.x) writes
//! `APP:GROUP/KIND:NAMESPACE/NAME` (`BuildAppInstanceValue`) and reads it back with
//! `SplitN(value, ":", 3)`, then exactly one `/` in each of the last two parts
//! (`ParseAppInstanceValue`). The core group is empty (`app:/ConfigMap:ns/name`); a
//! cluster-scoped object carries the Application's destination namespace (possibly empty); a name
//! may hold `:` (`system:...` ClusterRoles), which the third part keeps. The installation id is a
//! separate annotation, compared as any other. Argo CD treats an object as its own only when the
//! id names the object itself (controller `isSelfReferencedObj`: group, kind and name equal, and
//! namespace equal or the object cluster-scoped); a copied id naming another object is not its.
//!
//! An id that parses and names the object it is on says one thing: Argo CD's Application (named
//! per destination: guestbook-blue, guestbook-green) manages this object. That is the migration
//! tool's bookkeeping, written where Argo CD synced — like Velero's restore labels where Velero
//! restored — not the object's content: a Blue applied with kubectl and a Green synced by Argo CD
//! hold the same objects. So it is left out on either side, whichever tool wrote the other side.
//! An id naming another object (copied with its annotations; Argo CD does not treat the object as
//! its own) or one Argo CD would not parse is not that bookkeeping and is compared as written.

use crate::model::ObjectKey;

/// True when `value` parses as Argo CD parses a tracking id and names the object `key`: Argo
/// CD's own mark on its own object.
pub fn names_itself(value: &str, key: &ObjectKey) -> bool {
    let parsed = || {
        let mut parts = value.splitn(3, ':');
        let (_app, group_kind, ns_name) = (parts.next()?, parts.next()?, parts.next()?);
        let (group, kind) = split_exactly_once(group_kind, '/')?;
        let (namespace, name) = split_exactly_once(ns_name, '/')?;
        Some((group, kind, namespace, name))
    };
    let Some((group, kind, namespace, name)) = parsed() else { return false };
    // A cluster-scoped object's id carries the Application's destination namespace (or none).
    let own_namespace = key.namespace.as_deref().is_none_or(|ns| ns == namespace);
    group == key.group && kind == key.kind && name == key.name && own_namespace
}

/// Go's `strings.Split(s, sep)` giving exactly two parts.
fn split_exactly_once(s: &str, sep: char) -> Option<(&str, &str)> {
    let (a, b) = s.split_once(sep)?;
    (!b.contains(sep)).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectKey {
        ObjectKey { group: group.into(), kind: kind.into(), namespace: ns.map(Into::into), name: name.into() }
    }

    #[test]
    fn an_id_naming_its_own_object_whatever_the_application() {
        let k = key("apps", "Deployment", Some("guestbook"), "guestbook-ui");
        assert!(names_itself("guestbook-blue:apps/Deployment:guestbook/guestbook-ui", &k));
        assert!(names_itself("guestbook-green:apps/Deployment:guestbook/guestbook-ui", &k));
        // Applications in any namespace are named `NS_NAME`: still the first part.
        assert!(names_itself("team_guestbook:apps/Deployment:guestbook/guestbook-ui", &k));
    }

    #[test]
    fn core_group_cluster_scope_and_colons_in_names_parse_as_argo_cd_parses_them() {
        let cm = key("", "ConfigMap", Some("guestbook"), "guestbook-config");
        assert!(names_itself("a:/ConfigMap:guestbook/guestbook-config", &cm));
        // A cluster-scoped object carries the destination namespace, or none.
        let role = key("rbac.authorization.k8s.io", "ClusterRole", None, "system:guestbook:reader");
        assert!(names_itself("a:rbac.authorization.k8s.io/ClusterRole:guestbook/system:guestbook:reader", &role));
        assert!(names_itself("a:rbac.authorization.k8s.io/ClusterRole:/system:guestbook:reader", &role));
        assert!(!names_itself("a:rbac.authorization.k8s.io/ClusterRole:/system:guestbook", &role));
    }

    #[test]
    fn an_id_naming_another_object_is_kept_as_written() {
        let k = key("apps", "Deployment", Some("guestbook"), "guestbook-ui");
        for other in [
            "a:apps/Deployment:guestbook/other",
            "a:apps/StatefulSet:guestbook/guestbook-ui",
            "a:/Deployment:guestbook/guestbook-ui",
            "a:extensions/Deployment:guestbook/guestbook-ui",
            "a:apps/Deployment:default/guestbook-ui",
            "a:apps/Deployment:/guestbook-ui",
        ] {
            assert!(!names_itself(other, &k), "{other}");
        }
    }

    #[test]
    fn a_value_argo_cd_would_not_parse_is_kept_as_written() {
        let k = key("apps", "Deployment", Some("guestbook"), "guestbook-ui");
        for bad in [
            "",
            "guestbook-blue",
            "guestbook-blue:apps/Deployment",
            "guestbook-blue:apps/Deployment/guestbook/guestbook-ui",
            "guestbook-blue:apps:Deployment:guestbook/guestbook-ui",
            "guestbook-blue:apps/v1/Deployment:guestbook/guestbook-ui",
            "guestbook-blue:apps/Deployment:guestbook/x/guestbook-ui",
            "guestbook-blue:apps/Deployment:guestbook-ui",
        ] {
            assert!(!names_itself(bad, &k), "{bad:?}");
        }
    }
}
