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
    Profile { name: "helm", default: true, text: include_str!("../../ignore-rules/helm.yaml") },
    // On by default: every rule in it is scoped to the Kubernetes versions it was measured
    // between, so it is inert unless the two sides run two different listed minor versions.
    Profile { name: "upgrade", default: true, text: include_str!("../../ignore-rules/upgrade.yaml") },
    Profile {
        name: "argocd-label-tracking",
        default: false,
        text: include_str!("../../ignore-rules/argocd-label-tracking.yaml"),
    },
    // Opt-in: Argo CD's own control objects are a real difference between the cluster that runs
    // Argo CD and one it deploys to; left out only when the user says that is the comparison.
    Profile {
        name: "argocd-control-plane",
        default: false,
        text: include_str!("../../ignore-rules/argocd-control-plane.yaml"),
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

#[cfg(test)]
mod what_builtin_rules_hide {
    use serde_json::{Value, json};

    use crate::model::ObjectKey;
    use crate::normalize::{Normalized, normalize};
    use crate::rules::{RuleOptions, load};

    /// `content`, `presence` or `skip`: what the default rules do with the object.
    fn check(group: &str, kind: &str, namespace: Option<&str>, obj: Value, expected: &str) {
        let rules = load(&RuleOptions::default()).unwrap();
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let key = ObjectKey { group: group.into(), kind: kind.into(), namespace: namespace.map(String::from), name };
        let got = match normalize(&key, obj, &rules).normalized {
            Normalized::Content(_) => "content",
            Normalized::Presence(..) => "presence",
            Normalized::Skipped(..) => "skip",
        };
        assert_eq!(got, expected, "{key:?}");
    }

    #[test]
    fn control_plane_objects_are_compared() {
        let bootstrap = json!({"rbac.authorization.kubernetes.io/autoupdate": "true"});
        let labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
        let crb = json!({"metadata": {"name": "cluster-admin", "labels": labels, "annotations": bootstrap}});
        check("rbac.authorization.k8s.io", "ClusterRoleBinding", None, crb, "content");
        let fs = json!({"metadata": {"name": "global-default", "annotations": {"apf.kubernetes.io/autoupdate-spec": "true"}}});
        check("flowcontrol.apiserver.k8s.io", "FlowSchema", None, fs, "content");
        check(
            "scheduling.k8s.io",
            "PriorityClass",
            None,
            json!({"metadata": {"name": "system-node-critical"}}),
            "content",
        );
        let local = json!({"metadata": {"name": "v1.apps", "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"}}});
        check("apiregistration.k8s.io", "APIService", None, local, "content");
        check("", "Service", Some("default"), json!({"metadata": {"name": "kubernetes"}}), "content");
        let cm = json!({"metadata": {"name": "extension-apiserver-authentication"}, "data": {"client-ca-file": "x"}});
        check("", "ConfigMap", Some("kube-system"), cm, "content");
    }

    /// The object as the default rules leave it for comparison.
    fn normalized(group: &str, kind: &str, obj: Value) -> Value {
        let rules = load(&RuleOptions::default()).unwrap();
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let key = ObjectKey { group: group.into(), kind: kind.into(), namespace: Some("shop".into()), name };
        match normalize(&key, obj, &rules).normalized {
            Normalized::Content(v) | Normalized::Presence(_, v) | Normalized::Skipped(_, v) => v,
        }
    }

    fn daemonset(generation: &str, image: &str) -> Value {
        json!({"metadata": {"name": "agent", "annotations": {"deprecated.daemonset.template.generation": generation}},
               "spec": {"template": {"spec": {"containers": [{"name": "a", "image": image}]}}}})
    }

    #[test]
    fn daemonset_template_generation_is_history_but_the_template_is_compared() {
        // Changed and changed back (generation 3) against a fresh one (1): the same.
        assert_eq!(
            normalized("apps", "DaemonSet", daemonset("3", "a:1")),
            normalized("apps", "DaemonSet", daemonset("1", "a:1"))
        );
        // A real template difference at the same generation still shows.
        assert_ne!(
            normalized("apps", "DaemonSet", daemonset("1", "a:1")),
            normalized("apps", "DaemonSet", daemonset("1", "a:2"))
        );
        // The annotation is left out of DaemonSets only.
        let other = normalized("apps", "Deployment", daemonset("3", "a:1"));
        assert!(other.pointer("/metadata/annotations/deprecated.daemonset.template.generation").is_some());
    }

    #[test]
    fn only_the_cloud_controllers_finalizer_is_left_out() {
        let svc = |finalizers: Value| json!({"metadata": {"name": "web", "finalizers": finalizers}, "spec": {"type": "LoadBalancer"}});
        let cloud = normalized("", "Service", svc(json!(["service.kubernetes.io/load-balancer-cleanup"])));
        assert_eq!(
            cloud,
            normalized("", "Service", json!({"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"}}))
        );
        // A team's own finalizer beside it is compared, and so is a team finalizer alone.
        let both =
            normalized("", "Service", svc(json!(["service.kubernetes.io/load-balancer-cleanup", "example.com/keep"])));
        assert_eq!(both["metadata"]["finalizers"], json!(["example.com/keep"]));
        assert_ne!(both, cloud);
        // Not removed from other kinds.
        let cm = normalized("", "ConfigMap", svc(json!(["service.kubernetes.io/load-balancer-cleanup"])));
        assert_eq!(cm["metadata"]["finalizers"], json!(["service.kubernetes.io/load-balancer-cleanup"]));
    }

    #[test]
    fn issuance_history_and_hook_runs_are_left_out_only_when_a_controller_or_helm_made_them() {
        let owned = |kind: &str| json!({"metadata": {"name": "web-tls-x7k2p", "ownerReferences": [{"kind": kind, "name": "web-tls", "controller": true}]}});
        check("cert-manager.io", "CertificateRequest", Some("shop"), owned("Certificate"), "skip");
        check("acme.cert-manager.io", "Order", Some("shop"), owned("CertificateRequest"), "skip");
        check("acme.cert-manager.io", "Challenge", Some("shop"), owned("Order"), "skip");
        // Made by hand (no owner), or the Certificate itself: compared.
        check(
            "cert-manager.io",
            "CertificateRequest",
            Some("shop"),
            json!({"metadata": {"name": "manual"}}),
            "content",
        );
        check("cert-manager.io", "Certificate", Some("shop"), owned("Certificate"), "content");
        let hook = json!({"metadata": {"name": "db-migrate", "annotations": {"helm.sh/hook": "pre-upgrade"}}});
        check("batch", "Job", Some("shop"), hook.clone(), "skip");
        check("", "Pod", Some("shop"), hook.clone(), "skip");
        // The annotation on another kind (a ConfigMap hook) does not hide it, nor does a Job without it.
        check("", "ConfigMap", Some("shop"), hook, "content");
        check("batch", "Job", Some("shop"), json!({"metadata": {"name": "db-migrate"}}), "content");
    }

    #[test]
    fn only_truly_derived_objects_are_left_out() {
        let ours = json!({"metadata": {"name": "db"}, "subsets": [{"addresses": [{"ip": "192.0.2.1"}]}]});
        check("", "Endpoints", Some("shop"), ours, "content");
        let derived = json!({"metadata": {"name": "web", "labels": {"endpoints.kubernetes.io/managed-by": "endpoint-controller"}}});
        check("", "Endpoints", Some("shop"), derived, "skip");
        let older = json!({"metadata": {"name": "web", "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "t"}}});
        check("", "Endpoints", Some("shop"), older, "skip");
        let slice = |manager: &str| json!({"metadata": {"name": "web-abcde", "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": manager}}});
        check("discovery.k8s.io", "EndpointSlice", Some("shop"), slice("endpointslice-controller.k8s.io"), "skip");
        check(
            "discovery.k8s.io",
            "EndpointSlice",
            Some("shop"),
            slice("endpointslicemirroring-controller.k8s.io"),
            "skip",
        );
        check("discovery.k8s.io", "EndpointSlice", Some("shop"), slice("team.example.com"), "content");
        let token = |name: &str| json!({"metadata": {"name": name, "annotations": {"kubernetes.io/service-account.name": "ci"}}, "type": "kubernetes.io/service-account-token"});
        check("", "Secret", Some("shop"), token("ci-token"), "presence");
        check("", "Secret", Some("shop"), token("ci-token-x7k2p"), "skip");
        let pv = json!({"metadata": {"name": "pvc-1234", "annotations": {"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}}, "spec": {"claimRef": {"namespace": "shop", "name": "data"}}});
        check("", "PersistentVolume", None, pv, "content");
    }
}

#[cfg(test)]
mod what_argocd_control_plane_hides {
    use serde_json::{Value, json};

    use crate::model::ObjectKey;
    use crate::normalize::{Normalized, normalize};
    use crate::rules::{RuleOptions, load};

    /// `skip` or `content` for an object, with and without the opt-in profile: by default every
    /// object here is compared.
    fn check(group: &str, kind: &str, namespace: Option<&str>, obj: Value, with_profile: &str) {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let key = ObjectKey { group: group.into(), kind: kind.into(), namespace: namespace.map(String::from), name };
        let verdict = |profiles: Vec<String>| {
            let rules = load(&RuleOptions { profiles, ..RuleOptions::default() }).unwrap();
            match normalize(&key, obj.clone(), &rules).normalized {
                Normalized::Content(_) => "content",
                Normalized::Presence(..) => "presence",
                Normalized::Skipped(..) => "skip",
            }
        };
        assert_eq!(verdict(vec![]), "content", "by default {key:?} is compared");
        assert_eq!(verdict(vec!["argocd-control-plane".into()]), with_profile, "{key:?}");
    }

    #[test]
    fn argo_cd_records_and_install_are_left_out() {
        let cm =
            json!({"metadata": {"name": "argocd-cm", "labels": {"app.kubernetes.io/part-of": "argocd"}}, "data": {}});
        check("", "ConfigMap", Some("argocd"), cm, "skip");
        let cluster =
            json!({"metadata": {"name": "cluster-green", "labels": {"argocd.argoproj.io/secret-type": "cluster"}}});
        check("", "Secret", Some("argocd"), cluster, "skip");
        check("argoproj.io", "Application", Some("team-a"), json!({"metadata": {"name": "shop-green"}}), "skip");
        check("argoproj.io", "AppProject", Some("argocd"), json!({"metadata": {"name": "default"}}), "skip");
        check("", "Namespace", None, json!({"metadata": {"name": "argocd"}}), "skip");
        let crd = json!({"metadata": {"name": "applications.argoproj.io"}});
        check("apiextensions.k8s.io", "CustomResourceDefinition", None, crd, "skip");
        let role = json!({"metadata": {"name": "argocd-application-controller", "labels": {"app.kubernetes.io/part-of": "argocd"}}});
        check("rbac.authorization.k8s.io", "ClusterRole", None, role, "skip");
    }

    #[test]
    fn what_argo_cd_deployed_and_other_argo_projects_are_compared() {
        // The workload objects of Argo Rollouts and Workflows share the argoproj.io group.
        check("argoproj.io", "Rollout", Some("shop"), json!({"metadata": {"name": "web"}}), "content");
        let crd = json!({"metadata": {"name": "rollouts.argoproj.io"}});
        check("apiextensions.k8s.io", "CustomResourceDefinition", None, crd, "content");
        check("", "Namespace", None, json!({"metadata": {"name": "argocd-apps"}}), "content");
        // A synced object keeps its tracking marks and is compared where it was deployed.
        let synced = json!({"metadata": {"name": "web", "labels": {"app.kubernetes.io/part-of": "argocd"},
            "annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"}}});
        check("apps", "Deployment", Some("shop"), synced, "content");
        // A ClusterRole of the team's, not of Argo CD's install.
        check(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            None,
            json!({"metadata": {"name": "argocd-viewer"}}),
            "content",
        );
    }
}
