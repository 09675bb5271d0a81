//! Argo CD's resource tracking id (`argocd.argoproj.io/tracking-id`), canonicalized so that only
//! the Application's name is left out of the comparison.
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
//! So the Application's name (named per destination: guestbook-blue, guestbook-green) is replaced
//! by one mark only when the id parses and names the object it is on; the rest stays and is
//! compared. Anything else is kept as written (fail closed), app name included.

use crate::model::ObjectKey;

/// What stands for the Application's name in a canonical id. Parentheses cannot occur in an
/// Application's name (a Kubernetes object name), so the mark is never mistaken for one.
pub const APP_MARK: &str = "(application)";

/// The canonical form of `value` on the object `key`, or `None` to compare it as written: it
/// does not parse as Argo CD parses it, or names another object.
pub fn canonical(value: &str, key: &ObjectKey) -> Option<String> {
    let mut parts = value.splitn(3, ':');
    let (_app, group_kind, ns_name) = (parts.next()?, parts.next()?, parts.next()?);
    let (group, kind) = split_exactly_once(group_kind, '/')?;
    let (namespace, name) = split_exactly_once(ns_name, '/')?;
    let own_namespace = match &key.namespace {
        Some(ns) => ns == namespace,
        None => true,
    };
    let names_itself = group == key.group && kind == key.kind && name == key.name && own_namespace;
    names_itself.then(|| format!("{APP_MARK}:{group_kind}:{ns_name}"))
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
    fn only_the_application_name_is_left_out() {
        let k = key("apps", "Deployment", Some("guestbook"), "guestbook-ui");
        let blue = canonical("guestbook-blue:apps/Deployment:guestbook/guestbook-ui", &k);
        let green = canonical("guestbook-green:apps/Deployment:guestbook/guestbook-ui", &k);
        assert_eq!(blue.as_deref(), Some("(application):apps/Deployment:guestbook/guestbook-ui"));
        assert_eq!(blue, green);
        // Applications in any namespace are named `NS_NAME`: still the first part.
        assert_eq!(canonical("team_guestbook:apps/Deployment:guestbook/guestbook-ui", &k), blue);
    }

    #[test]
    fn core_group_cluster_scope_and_colons_in_names_parse_as_argo_cd_parses_them() {
        let cm = key("", "ConfigMap", Some("guestbook"), "guestbook-config");
        assert_eq!(
            canonical("a:/ConfigMap:guestbook/guestbook-config", &cm).as_deref(),
            Some("(application):/ConfigMap:guestbook/guestbook-config")
        );
        // A cluster-scoped object carries the destination namespace, or none; it is kept (and
        // so compared between the sides), not checked against the object's (absent) one.
        let role = key("rbac.authorization.k8s.io", "ClusterRole", None, "system:guestbook:reader");
        assert_eq!(
            canonical("a:rbac.authorization.k8s.io/ClusterRole:guestbook/system:guestbook:reader", &role).as_deref(),
            Some("(application):rbac.authorization.k8s.io/ClusterRole:guestbook/system:guestbook:reader")
        );
        assert_eq!(
            canonical("a:rbac.authorization.k8s.io/ClusterRole:/system:guestbook:reader", &role).as_deref(),
            Some("(application):rbac.authorization.k8s.io/ClusterRole:/system:guestbook:reader")
        );
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
            assert_eq!(canonical(other, &k), None, "{other}");
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
            assert_eq!(canonical(bad, &k), None, "{bad:?}");
        }
    }
}
