//! Why an object is missing or extra when the difference is expected from Kubernetes semantics:
//! made by a controller whose own object is compared, or a kind the restore tool leaves out by
//! default. An explained difference is still reported (the verdict does not change); reports put
//! the unexplained ones first, since those are what a reviewer must look at.

use serde_json::Value;

use crate::dump::Dump;
use crate::model::ObjectKey;

/// The kinds Velero does not restore unless asked to (its restore reference, "By default, Velero
/// will not restore": nodes, events, events.events.k8s.io, backups/restores/resticrepositories/
/// backuprepositories.velero.io, csinodes and volumeattachments.storage.k8s.io).
const VELERO_NOT_RESTORED: &[(&str, &str)] = &[
    ("", "Node"),
    ("", "Event"),
    ("events.k8s.io", "Event"),
    ("velero.io", "Backup"),
    ("velero.io", "Restore"),
    ("velero.io", "ResticRepository"),
    ("velero.io", "BackupRepository"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
];

/// Why `key` (present on one side only, `obj` its normalized content) is expected to differ, or
/// `None`. `velero`: the `velero` profile is on, so NEW may be a Velero restore of OLD.
pub fn explain(key: &ObjectKey, obj: &Value, missing: bool, old: &Dump, new: &Dump, velero: bool) -> Option<String> {
    if let Some(owner) = controller_of(key, obj) {
        let compared = |d: &Dump| d.objects.get(&owner).is_some_and(|s| !s.is_skipped());
        if compared(old) && compared(new) {
            return Some(format!("made by its controller {owner}, which is compared on both sides"));
        }
    }
    if velero && missing && VELERO_NOT_RESTORED.iter().any(|(g, k)| key.group == *g && key.kind == *k) {
        return Some(format!("{} is not restored by Velero by default", key.group_kind()));
    }
    None
}

/// The key of the object's controller (the ownerReference with `controller: true`): same
/// namespace for a namespaced owner; an owner of a cluster-scoped object is cluster-scoped.
fn controller_of(key: &ObjectKey, obj: &Value) -> Option<ObjectKey> {
    let r = obj
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?;
    let api_version = r.get("apiVersion")?.as_str()?;
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    Some(ObjectKey {
        group: group.to_string(),
        kind: r.get("kind")?.as_str()?.to_string(),
        namespace: key.namespace.clone(),
        name: r.get("name")?.as_str()?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::{CanonicalJson, Kept, Stored};
    use serde_json::json;

    fn dump(objects: &[(ObjectKey, Stored)]) -> Dump {
        let mut d = Dump::empty();
        d.objects = objects.iter().cloned().collect();
        d
    }

    fn k(group: &str, kind: &str, name: &str) -> ObjectKey {
        ObjectKey { group: group.into(), kind: kind.into(), namespace: Some("shop".into()), name: name.into() }
    }

    #[test]
    fn an_object_made_by_a_compared_controller_is_explained_and_an_orphan_is_not() {
        let deploy = k("apps", "Deployment", "web");
        let content = Stored::new(Kept::Content, CanonicalJson::from_value(&json!({})));
        let rs = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": true}]}});
        let both = dump(&[(deploy.clone(), content.clone())]);
        let why = explain(&k("apps", "ReplicaSet", "web-1"), &rs, true, &both, &both, false);
        assert_eq!(
            why.as_deref(),
            Some("made by its controller Deployment.apps shop/web, which is compared on both sides")
        );
        // The controller absent on one side: the owner's own difference is what explains it.
        let none = dump(&[]);
        assert_eq!(explain(&k("apps", "ReplicaSet", "web-1"), &rs, true, &both, &none, false), None);
        // A reference that is not the controller's explains nothing.
        let not_controller =
            json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}]}});
        assert_eq!(explain(&k("apps", "ReplicaSet", "web-1"), &not_controller, true, &both, &both, false), None);
    }

    #[test]
    fn kinds_velero_does_not_restore_are_explained_only_as_missing_with_the_profile_on() {
        let none = dump(&[]);
        let node = ObjectKey { group: "".into(), kind: "Node".into(), namespace: None, name: "n1".into() };
        assert!(explain(&node, &json!({}), true, &none, &none, true).is_some());
        assert_eq!(explain(&node, &json!({}), true, &none, &none, false), None);
        assert_eq!(explain(&node, &json!({}), false, &none, &none, true), None);
        assert_eq!(explain(&k("", "ConfigMap", "c"), &json!({}), true, &none, &none, true), None);
    }
}
