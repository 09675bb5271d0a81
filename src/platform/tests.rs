//! Platform separation on plain values: the default rules, two dumps, `diff`, then `separate`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::diff::{CompareOptions, compare};
use crate::dump::{SourceInfo, SourceKind};
use crate::normalize::normalize;
use crate::rules::{RuleOptions, RuleSet, load};
use crate::secrets::KeyInfo;

fn key_of(v: &Value) -> ObjectKey {
    let api = v["apiVersion"].as_str().unwrap_or("v1");
    let group = api.split_once('/').map(|(g, _)| g).unwrap_or("");
    ObjectKey {
        group: group.into(),
        kind: v["kind"].as_str().unwrap().into(),
        namespace: v["metadata"]["namespace"].as_str().map(String::from),
        name: v["metadata"]["name"].as_str().unwrap().into(),
    }
}

fn dump(objects: &[Value], rules: &RuleSet, version: &str) -> Dump {
    Dump {
        info: SourceInfo {
            kind: SourceKind::Context,
            name: "c".into(),
            server: "s".into(),
            kubernetes_version: Some(version.into()),
            time: String::new(),
            secret_key: KeyInfo::Keyed { fingerprint: "run:x".into() },
            origin_context: None,
        },
        objects: objects
            .iter()
            .map(|v| {
                let k = key_of(v);
                let n = normalize(&k, v.clone(), rules).normalized;
                (k, Stored::from(n))
            })
            .collect(),
        incomplete: Vec::new(),
        excluded: Vec::new(),
        served: Vec::new(),
        preferred: Vec::new(),
        listed: Vec::new(),
        rule_hits: Default::default(),
        type_skips: BTreeSet::new(),
        coverage: Vec::new(),
        filter_misses: Default::default(),
        provenance: Default::default(),
    }
}

fn cm(ns: &str, name: &str, labels: Value, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": ns, "name": name, "labels": labels}, "data": data})
}

fn deploy(ns: &str, name: &str, labels: Value, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": ns, "name": name, "labels": labels},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn crb(name: &str, labels: Value, subjects: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name, "labels": labels},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}, "subjects": subjects})
}

const KUBEADM_COREFILE: &str = ".:53 {\n    errors\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       ttl 30\n    }\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n}\n";
const EKS_COREFILE: &str = ".:53 {\n    errors\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n      pods insecure\n    }\n    forward . /etc/resolv.conf\n}\n";
const STUB: &str = "consul.local:53 {\n    forward . 10.150.0.1\n}\n";

fn coredns_sa() -> Value {
    json!([{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}])
}

/// A kubeadm side: its markers and objects, plus the team's workload.
fn kubeadm_side(corefile: &str, extra: Vec<Value>) -> Vec<Value> {
    let mut v = vec![
        cm("kube-system", "kubeadm-config", json!({}), json!({"ClusterConfiguration": "kind: ClusterConfiguration"})),
        cm("kube-system", "coredns", json!({}), json!({"Corefile": corefile})),
        deploy("kube-system", "coredns", json!({"k8s-app": "kube-dns"}), "registry.k8s.io/coredns/coredns:v1.12.1"),
        crb("system:coredns", json!({}), coredns_sa()),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
               "metadata": {"namespace": "kube-system", "name": "bootstrap-token-abcdef"}, "data": {"token-id": "hmac-sha256:x"}}),
        deploy("shop", "web", json!({"app": "web"}), "web:1"),
    ];
    v.extend(extra);
    v
}

/// An EKS side: aws-auth, the add-ons as EKS labels them, plus the team's workload.
fn eks_side(corefile: &str, map_roles: &str, extra: Vec<Value>) -> Vec<Value> {
    let eks = |c: &str| json!({"eks.amazonaws.com/component": c, "k8s-app": "kube-dns"});
    let mut v = vec![
        cm("kube-system", "aws-auth", json!({}), json!({"mapRoles": map_roles})),
        cm("kube-system", "coredns", eks("coredns"), json!({"Corefile": corefile})),
        deploy(
            "kube-system",
            "coredns",
            eks("coredns"),
            "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.12.1-eksbuild.1",
        ),
        crb("system:coredns", eks("coredns"), coredns_sa()),
        deploy("shop", "web", json!({"app": "web"}), "web:1"),
    ];
    v.extend(extra);
    v
}

const ROLES: &str = "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n";

fn run(old: &[Value], new: &[Value], opts: &PlatformOptions) -> Comparison {
    let rules = load(&RuleOptions::default()).unwrap();
    let (a, b) = (dump(old, &rules, "v1.37.2"), dump(new, &rules, "v1.37.2"));
    compare_and_separate(&a, &b, &rules, opts)
}

/// `diff` on two dumps, then `separate` with the built-in platform profiles.
fn compare_and_separate(a: &Dump, b: &Dump, rules: &RuleSet, opts: &PlatformOptions) -> Comparison {
    let mut c = compare(
        a,
        b,
        rules,
        CompareOptions { today: time::macros::date!(2026 - 12 - 03), ignore_secret_values: false },
    );
    separate(&mut c, a, b, &profile::builtin().unwrap(), opts);
    c
}

fn listed(c: &Comparison) -> Vec<String> {
    c.platform
        .differences
        .iter()
        .map(|d| {
            let what = match d.change {
                PlatformChange::OnlyOn(s) => format!("only {s}"),
                PlatformChange::Differs => "differs".into(),
            };
            format!("{what} {}", d.diff.key)
        })
        .collect()
}

fn remaining(c: &Comparison) -> Vec<String> {
    c.objects
        .iter()
        .map(|d| {
            let fields: Vec<String> = d.fields.iter().map(|f| f.change.display_path()).collect();
            format!("{} {} {}", d.change.as_str(), d.key, fields.join(","))
        })
        .collect()
}

#[test]
fn kubeadm_against_eks_with_the_same_workload_is_equivalent_with_the_platform_listed() {
    let c = run(&kubeadm_side(KUBEADM_COREFILE, vec![]), &eks_side(EKS_COREFILE, ROLES, vec![]), &Default::default());
    assert_eq!(remaining(&c), Vec::<String>::new(), "{:#?}", c.platform);
    assert_eq!(c.verdict, Verdict::Equivalent);
    let names: Vec<&str> = c.platform.old.platforms.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["kubeadm"]);
    assert_eq!(c.platform.new.platforms[0].name, "eks");
    assert_eq!(PlatformReport::describe(&c.platform.new, Some("v1.37.2")), "EKS 1.37");
    let l = listed(&c);
    for expected in [
        "only old ConfigMap kube-system/kubeadm-config",
        "only old Secret kube-system/bootstrap-token-abcdef",
        "only new ConfigMap kube-system/aws-auth",
        "differs ConfigMap kube-system/coredns",
        "differs Deployment.apps kube-system/coredns",
        "differs ClusterRoleBinding.rbac.authorization.k8s.io system:coredns",
    ] {
        assert!(l.iter().any(|x| x == expected), "{expected} not in {l:#?}");
    }
    // Counted per side; aws-auth's mappings are named as intent to review.
    assert_eq!((c.platform.old.only_here, c.platform.new.only_here), (2, 1));
    assert_eq!((c.platform.old.objects, c.platform.new.objects), (5, 4));
    let auth = c.platform.differences.iter().find(|d| d.diff.key.name == "aws-auth").unwrap();
    assert_eq!(auth.intent, ["/data/mapRoles"]);
}

#[test]
fn a_stub_domain_in_the_corefile_is_a_difference_the_root_block_is_not() {
    let with_stub = format!("{KUBEADM_COREFILE}{STUB}");
    let c = run(&kubeadm_side(&with_stub, vec![]), &eks_side(EKS_COREFILE, ROLES, vec![]), &Default::default());
    assert_eq!(c.verdict, Verdict::Different);
    assert_eq!(
        remaining(&c),
        [r#"changed ConfigMap kube-system/coredns data.Corefile["server block consul.local:53"]"#]
    );
    // The same stub domain on both sides: equivalent again.
    let c = run(
        &kubeadm_side(&with_stub, vec![]),
        &eks_side(&format!("{EKS_COREFILE}{STUB}"), ROLES, vec![]),
        &Default::default(),
    );
    assert_eq!(c.verdict, Verdict::Equivalent, "{:#?}", remaining(&c));
}

#[test]
fn an_added_subject_on_a_platform_binding_is_a_difference() {
    let mut green = eks_side(EKS_COREFILE, ROLES, vec![]);
    green[3] = crb(
        "system:coredns",
        json!({"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"}),
        json!([{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}, {"kind": "User", "name": "mallory"}]),
    );
    let c = run(&kubeadm_side(KUBEADM_COREFILE, vec![]), &green, &Default::default());
    assert_eq!(c.verdict, Verdict::Different);
    assert_eq!(remaining(&c), ["changed ClusterRoleBinding.rbac.authorization.k8s.io system:coredns subjects[1]"]);
    // Its label (eks.amazonaws.com/component) is the platform's and listed, not failed.
    assert!(listed(&c).contains(&"differs ClusterRoleBinding.rbac.authorization.k8s.io system:coredns".to_string()));
}

#[test]
fn a_workload_wearing_a_platform_label_or_living_in_kube_system_is_not_platform() {
    let label = json!({"eks.amazonaws.com/component": "coredns"});
    let sneaky = vec![
        deploy("shop", "api", label.clone(), "api:1"),
        deploy("kube-system", "my-agent", label, "agent:1"),
        cm("kube-system", "aws-auth-backup", json!({}), json!({"mapRoles": ROLES})),
    ];
    let c = run(&kubeadm_side(KUBEADM_COREFILE, vec![]), &eks_side(EKS_COREFILE, ROLES, sneaky), &Default::default());
    assert_eq!(c.verdict, Verdict::Different);
    assert_eq!(
        remaining(&c),
        [
            "extra ConfigMap kube-system/aws-auth-backup ",
            "extra Deployment.apps kube-system/my-agent ",
            "extra Deployment.apps shop/api ",
        ]
    );
}

#[test]
fn between_two_sides_of_one_platform_platform_objects_are_compared_in_full() {
    let other_roles = format!(
        "{ROLES}- rolearn: arn:aws:iam::111122223333:role/admin\n  username: admin\n  groups: [system:masters]\n"
    );
    let c =
        run(&eks_side(EKS_COREFILE, ROLES, vec![]), &eks_side(EKS_COREFILE, &other_roles, vec![]), &Default::default());
    assert_eq!(remaining(&c), ["changed ConfigMap kube-system/aws-auth data.mapRoles"]);
    assert_eq!(c.verdict, Verdict::Different);
    // An EKS side without its aws-auth is missing it, not "platform".
    let mut without = eks_side(EKS_COREFILE, ROLES, vec![]);
    without.remove(0);
    let c = run(&eks_side(EKS_COREFILE, ROLES, vec![]), &without, &Default::default());
    assert_eq!(remaining(&c), ["missing ConfigMap kube-system/aws-auth "]);
    assert!(c.platform.differences.is_empty());
}

#[test]
fn platforms_named_on_the_command_line_replace_detection() {
    let none = PlatformOptions::parse(&["old=none".into()], &profile::builtin().unwrap()).unwrap();
    let c = run(&kubeadm_side(KUBEADM_COREFILE, vec![]), &eks_side(EKS_COREFILE, ROLES, vec![]), &none);
    assert!(c.platform.old.platforms.is_empty());
    assert_eq!(c.verdict, Verdict::Different);
    assert!(remaining(&c).contains(&"missing ConfigMap kube-system/kubeadm-config ".to_string()));
    // Named, the evidence is the flag, not a marker.
    let named = PlatformOptions::parse(&["old=kubeadm,new=eks+calico".into()], &profile::builtin().unwrap()).unwrap();
    assert_eq!(named.new, Choice::Named(vec!["eks".into(), "calico".into()]));
    let c = run(&kubeadm_side(KUBEADM_COREFILE, vec![]), &eks_side(EKS_COREFILE, ROLES, vec![]), &named);
    assert_eq!(c.platform.old.platforms[0].evidence, None);
    assert_eq!(c.verdict, Verdict::Equivalent);
}

#[test]
fn bad_platform_options_are_refused() {
    let known = profile::builtin().unwrap();
    for (arg, msg) in
        [("old", "is not SIDE=NAME"), ("left=eks", "use old or new"), ("new=gke", "unknown platform \"gke\"")]
    {
        let err = PlatformOptions::parse(&[arg.into()], &known).unwrap_err().to_string();
        assert!(err.contains(msg), "{arg}: {err}");
    }
}

#[test]
fn the_proxy_mode_is_compared_across_the_configmaps_each_platform_keeps_it_in() {
    let kubeadm_proxy = |mode: &str| {
        cm(
            "kube-system",
            "kube-proxy",
            json!({"app": "kube-proxy"}),
            json!({
            "config.conf": format!("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \"{mode}\"\nclusterCIDR: 10.244.0.0/16\n"),
            "kubeconfig.conf": "apiVersion: v1\nkind: Config\n"}),
        )
    };
    let eks_proxy = cm(
        "kube-system",
        "kube-proxy-config",
        json!({"eks.amazonaws.com/component": "kube-proxy", "k8s-app": "kube-proxy"}),
        json!({"config": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \"iptables\"\nclusterCIDR: \"\"\n"}),
    );
    // kubeadm's empty mode is kube-proxy's default, iptables: the same as EKS's.
    let c = run(
        &kubeadm_side(KUBEADM_COREFILE, vec![kubeadm_proxy("")]),
        &eks_side(EKS_COREFILE, ROLES, vec![eks_proxy.clone()]),
        &Default::default(),
    );
    assert_eq!(c.verdict, Verdict::Equivalent, "{:#?}", remaining(&c));
    // ipvs on the self-hosted cluster is the team's choice, and EKS runs iptables: a difference.
    let c = run(
        &kubeadm_side(KUBEADM_COREFILE, vec![kubeadm_proxy("ipvs")]),
        &eks_side(EKS_COREFILE, ROLES, vec![eks_proxy]),
        &Default::default(),
    );
    assert_eq!(c.verdict, Verdict::Different);
    assert_eq!(remaining(&c), ["changed ConfigMap kube-system/kube-proxy-config data.config.mode"]);
    assert_eq!(c.summary.changed, 1);
}

/// Beyond the mode: the team's other kube-proxy settings are compared across the two
/// ConfigMaps with kube-proxy's defaults applied, each one reported; the platform's own
/// (addresses, cluster CIDR) are not.
#[test]
fn other_kube_proxy_settings_are_compared_with_defaults_applied() {
    let kubeadm_proxy = |extra: &str| {
        cm(
            "kube-system",
            "kube-proxy",
            json!({"app": "kube-proxy"}),
            json!({
            "config.conf": format!("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nbindAddress: 0.0.0.0\nclusterCIDR: 10.244.0.0/16\nconntrack: {{maxPerCore: null, min: null}}\niptables: {{masqueradeAll: false, minSyncPeriod: 0s, syncPeriod: 0s}}\nmode: \"\"\n{extra}"),
            "kubeconfig.conf": "apiVersion: v1\nkind: Config\n"}),
        )
    };
    let eks_proxy = cm(
        "kube-system",
        "kube-proxy-config",
        json!({"eks.amazonaws.com/component": "kube-proxy", "k8s-app": "kube-proxy"}),
        json!({"config": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nbindAddress: 0.0.0.0\nclusterCIDR: \"\"\nconntrack: {maxPerCore: 32768, min: 131072}\nmetricsBindAddress: 0.0.0.0:10249\nmode: \"iptables\"\n"}),
    );
    let compare = |extra: &str| {
        run(
            &kubeadm_side(KUBEADM_COREFILE, vec![kubeadm_proxy(extra)]),
            &eks_side(EKS_COREFILE, ROLES, vec![eks_proxy.clone()]),
            &Default::default(),
        )
    };
    // Spelled-out defaults, unset and zero values, other addresses and CIDRs: the same.
    let c = compare("");
    assert_eq!(c.verdict, Verdict::Equivalent, "{:#?}", remaining(&c));
    let c = compare("nodePortAddresses: [primary]\nconntrack: {maxPerCore: 0}\nipvs: {strictARP: true}\n");
    assert_eq!(c.verdict, Verdict::Different);
    assert_eq!(
        remaining(&c),
        ["changed ConfigMap kube-system/kube-proxy-config \
          data.config.ipvs.strictARP,data.config.nodePortAddresses,data.config.conntrack.maxPerCore"]
    );
    assert_eq!(c.summary.changed, 1, "one object, three fields");
}

fn coverage(types: &[(&str, &str, CoverageStatus)]) -> Vec<crate::dump::TypeCoverage> {
    types
        .iter()
        .map(|(group, kind, status)| crate::dump::TypeCoverage {
            type_ref: crate::model::TypeRef {
                group: group.to_string(),
                version: "v1".into(),
                resource: Some(format!("{}s", kind.to_lowercase())),
                kind: Some(kind.to_string()),
            },
            status: status.clone(),
        })
        .collect()
}

fn aws_node() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"namespace": "kube-system", "name": "aws-node", "labels": {"k8s-app": "aws-node"}},
           "spec": {"template": {"spec": {"containers": [{"name": "aws-node", "image": "amazon-k8s-cni:v1.20.4"}]}}}})
}

/// Old holds no platform; new holds the VPC CNI's DaemonSet, with ConfigMaps (aws-auth) read or
/// not: `separate` on those two dumps.
fn run_covered(new_configmaps: CoverageStatus, opts: &PlatformOptions) -> Comparison {
    let rules = load(&RuleOptions::default()).unwrap();
    let workload = deploy("shop", "web", json!({"app": "web"}), "web:1");
    let a = dump(std::slice::from_ref(&workload), &rules, "v1.37.2");
    let mut b = dump(&[workload, aws_node()], &rules, "v1.37.2");
    let read = CoverageStatus::Read { objects: 1, read_at: None };
    b.coverage = coverage(&[
        ("", "ConfigMap", new_configmaps),
        ("apps", "DaemonSet", read.clone()),
        ("apps", "Deployment", read),
    ]);
    compare_and_separate(&a, &b, &rules, opts)
}

fn not_detected_warnings(c: &Comparison) -> Vec<String> {
    c.rule_warnings.iter().filter(|w| w.code() == "platform-not-detected").map(|w| w.to_string()).collect()
}

#[test]
fn a_platform_whose_markers_the_filters_left_unread_is_named_and_its_objects_still_count() {
    // `--kinds daemonsets,deployments`: aws-auth is never read, so EKS cannot be detected. The
    // VPC CNI's DaemonSet stays an extra object (nothing is assumed without a marker), and the
    // report says why and how to list it apart.
    let c = run_covered(CoverageStatus::Excluded { by: "--kinds".into() }, &Default::default());
    assert_eq!(remaining(&c), ["extra DaemonSet.apps kube-system/aws-node "]);
    assert_eq!(c.verdict, Verdict::Different);
    let w = not_detected_warnings(&c);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("EKS was not detected on new") && w[0].contains("(--kinds)"), "{}", w[0]);
    assert!(w[0].contains("DaemonSet.apps kube-system/aws-node") && w[0].contains("--platform new=eks"), "{}", w[0]);

    // Named with --platform, the DaemonSet is a platform difference and no warning is left.
    let named = PlatformOptions { new: Choice::Named(vec!["eks".into()]), ..Default::default() };
    let c = run_covered(CoverageStatus::Excluded { by: "--kinds".into() }, &named);
    assert_eq!(c.verdict, Verdict::Equivalent, "{:#?}", remaining(&c));
    assert_eq!(not_detected_warnings(&c), Vec::<String>::new());
}

#[test]
fn a_platform_whose_markers_were_read_and_absent_is_not_warned_about() {
    // ConfigMaps were read and hold no aws-auth: EKS is simply not there, and the DaemonSet is
    // the team's extra object, without a warning suggesting otherwise.
    let c = run_covered(CoverageStatus::Read { objects: 0, read_at: None }, &Default::default());
    assert_eq!(remaining(&c), ["extra DaemonSet.apps kube-system/aws-node "]);
    assert_eq!(not_detected_warnings(&c), Vec::<String>::new());
}

#[test]
fn namespace_and_label_filters_that_leave_markers_out_are_named() {
    let read = CoverageStatus::Read { objects: 0, read_at: None };
    for (scope, by) in [
        (MarkerScope { exclude_namespaces: vec!["kube-system".into()], ..Default::default() }, "--exclude-namespaces"),
        (MarkerScope { namespaces: vec!["shop".into()], ..Default::default() }, "-n"),
        (MarkerScope { selector: true, ..Default::default() }, "-l"),
    ] {
        let c = run_covered(read.clone(), &PlatformOptions { scope, ..Default::default() });
        let w = not_detected_warnings(&c);
        assert_eq!(w.len(), 1, "{by}: {w:#?}");
        assert!(w[0].contains(&format!("({by})")), "{}", w[0]);
        assert_eq!(c.verdict, Verdict::Different);
    }
    // A namespace filter that includes kube-system hides no marker.
    let scope = MarkerScope { namespaces: vec!["shop".into(), "kube-system".into()], ..Default::default() };
    let c = run_covered(read, &PlatformOptions { scope, ..Default::default() });
    assert_eq!(not_detected_warnings(&c), Vec::<String>::new());
}
