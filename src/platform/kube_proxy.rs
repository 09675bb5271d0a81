//! A KubeProxyConfiguration's team settings as kube-proxy applies them. kubeadm and EKS keep
//! kube-proxy's configuration in differently named ConfigMaps, and each writes only some fields
//! (kubeadm leaves most unset, EKS spells out a few defaults), so the texts never compare. What
//! a team chooses — the proxy mode, the IPVS scheduler, strict ARP, masquerading, the node port
//! addresses, conntrack sizing and timeouts, sync periods — is compared here field by field,
//! each with the default kube-proxy applies where it is unset. Addresses kube-proxy binds, the
//! cluster CIDR, client and logging settings are the platform's and not compared.
//!
//! The kube-proxy DaemonSet's flags (`--proxy-mode`, `--ipvs-scheduler`...) are not read here:
//! kubeadm's and EKS's DaemonSets both start kube-proxy with `--config`, and then kube-proxy
//! replaces every setting parsed from flags by the file's, logging and `--hostname-override`
//! aside (`cmd/kube-proxy/app/options.go` `Complete`, v1.37.2: `o.config = c`; each flag's help
//! says "ignored if a config file is specified by --config"). A kube-proxy run from flags alone
//! has no configuration object: between two platforms, its DaemonSet's flags are then listed
//! among the platform differences, not compared as team settings (a known limit).
//!
//! Defaults checked against k8s.io/kubernetes v1.37.2: `pkg/proxy/apis/config/v1alpha1/defaults.go`
//! (`SetDefaults_KubeProxyConfiguration`), `cmd/kube-proxy/app/server_linux.go` (an empty mode is
//! `iptables`), `pkg/proxy/ipvs/proxier.go` (an empty scheduler is `rr`), and the field types of
//! `k8s.io/kube-proxy/config/v1alpha1` (a pointer field is defaulted only when unset; a plain
//! duration also when zero).

use serde_json::Value;

/// How one setting is read, and its value when unset.
#[derive(Debug, Clone, Copy)]
enum Setting {
    /// A string; unset or empty is `default`.
    Text(&'static str),
    /// A boolean; unset (or null) is `default`.
    Flag(bool),
    /// An integer behind a pointer; unset (or null) is `default`, an explicit 0 stays 0.
    Count(i64),
    /// A duration; unset is `default` seconds, and so is zero when `zero_is_unset` (a plain
    /// `metav1.Duration` the defaulting treats as unset when zero).
    Period { default_secs: u64, zero_is_unset: bool },
    /// A list of strings; unset is empty. Compared as written.
    List,
}

/// The compared settings: (path in the configuration, how it is read).
const SETTINGS: &[(&str, Setting)] = &[
    ("mode", Setting::Text("iptables")),
    ("ipvs/scheduler", Setting::Text("rr")),
    ("ipvs/strictARP", Setting::Flag(false)),
    ("ipvs/excludeCIDRs", Setting::List),
    ("ipvs/tcpTimeout", Setting::Period { default_secs: 0, zero_is_unset: false }),
    ("ipvs/tcpFinTimeout", Setting::Period { default_secs: 0, zero_is_unset: false }),
    ("ipvs/udpTimeout", Setting::Period { default_secs: 0, zero_is_unset: false }),
    ("ipvs/syncPeriod", Setting::Period { default_secs: 30, zero_is_unset: true }),
    ("iptables/masqueradeAll", Setting::Flag(false)),
    ("iptables/masqueradeBit", Setting::Count(14)),
    ("iptables/localhostNodePorts", Setting::Flag(true)),
    ("iptables/syncPeriod", Setting::Period { default_secs: 30, zero_is_unset: true }),
    ("iptables/minSyncPeriod", Setting::Period { default_secs: 1, zero_is_unset: true }),
    ("nftables/masqueradeAll", Setting::Flag(false)),
    ("nftables/masqueradeBit", Setting::Count(14)),
    ("nftables/syncPeriod", Setting::Period { default_secs: 30, zero_is_unset: true }),
    ("nftables/minSyncPeriod", Setting::Period { default_secs: 1, zero_is_unset: true }),
    ("nodePortAddresses", Setting::List),
    ("conntrack/maxPerCore", Setting::Count(32 * 1024)),
    ("conntrack/min", Setting::Count(128 * 1024)),
    ("conntrack/tcpEstablishedTimeout", Setting::Period { default_secs: 24 * 3600, zero_is_unset: false }),
    ("conntrack/tcpCloseWaitTimeout", Setting::Period { default_secs: 3600, zero_is_unset: false }),
    ("conntrack/tcpBeLiberal", Setting::Flag(false)),
    ("conntrack/udpTimeout", Setting::Period { default_secs: 0, zero_is_unset: false }),
    ("conntrack/udpStreamTimeout", Setting::Period { default_secs: 0, zero_is_unset: false }),
];

/// One setting's effective value: `path` (`ipvs/scheduler`) and the value kube-proxy runs with,
/// as shown in a report. A value that cannot be read as its type is kept as written, so it
/// differs from any well-formed one.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    pub path: &'static str,
    pub value: Value,
}

/// The team settings of a KubeProxyConfiguration (its YAML or JSON text), defaults applied;
/// `None` when the text is not a YAML mapping.
pub fn settings(config: &str) -> Option<Vec<Effective>> {
    let v: Value = serde_norway::from_str(config).ok()?;
    v.as_object()?;
    Some(
        SETTINGS
            .iter()
            .map(|(path, setting)| {
                let raw = path.split('/').try_fold(&v, |node, part| node.get(part)).filter(|x| !x.is_null());
                Effective { path, value: effective(raw, *setting) }
            })
            .collect(),
    )
}

fn effective(raw: Option<&Value>, setting: Setting) -> Value {
    match (setting, raw) {
        (Setting::Text(d), None) => Value::String(d.into()),
        (Setting::Text(d), Some(Value::String(s))) if s.trim().is_empty() => Value::String(d.into()),
        (Setting::Flag(d), None) => Value::Bool(d),
        (Setting::Count(d), None) => Value::from(d),
        (Setting::Period { default_secs, .. }, None) => Value::String(go_duration(u128::from(default_secs) * NANOS)),
        (Setting::Period { default_secs, zero_is_unset }, Some(Value::String(s))) => match parse_go_duration(s) {
            Some(0) if zero_is_unset => Value::String(go_duration(u128::from(default_secs) * NANOS)),
            Some(ns) => Value::String(go_duration(ns)),
            None => Value::String(s.clone()),
        },
        (Setting::List, None) => Value::Array(Vec::new()),
        (_, Some(v)) => v.clone(),
    }
}

const NANOS: u128 = 1_000_000_000;

/// A Go duration (`1h30m`, `90s`, `1.5h`, `300ms`) in nanoseconds; `None` for anything else,
/// negative durations included (kube-proxy refuses them).
fn parse_go_duration(s: &str) -> Option<u128> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let per_unit: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * per_unit;
    }
    Some(total.round() as u128)
}

/// Nanoseconds as Go prints a duration (`24h0m0s`, `1m30s`, `30s`, `0s`, `300ms`).
fn go_duration(ns: u128) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if !ns.is_multiple_of(NANOS) {
        return if ns < NANOS && ns.is_multiple_of(1_000_000) {
            format!("{}ms", ns / 1_000_000)
        } else {
            format!("{ns}ns")
        };
    }
    let secs = ns / NANOS;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(config: &str, path: &str) -> Value {
        settings(config).expect("a mapping").into_iter().find(|e| e.path == path).expect("a compared setting").value
    }

    /// What kubeadm writes (most fields unset, zero or null) and what EKS writes (a few
    /// defaults spelled out) run kube-proxy the same way.
    #[test]
    fn unset_zero_and_spelled_out_defaults_are_the_same_setting() {
        let kubeadm = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \"\"\nclusterCIDR: 10.244.0.0/16\nconntrack: {maxPerCore: null, min: null, tcpEstablishedTimeout: null, tcpCloseWaitTimeout: null}\niptables: {masqueradeAll: false, masqueradeBit: null, minSyncPeriod: 0s, syncPeriod: 0s}\nipvs: {scheduler: \"\", strictARP: false, excludeCIDRs: null, tcpTimeout: 0s}\nnodePortAddresses: null\n";
        let eks = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nbindAddress: 0.0.0.0\nclusterCIDR: \"\"\nconntrack: {maxPerCore: 32768, min: 131072}\nmetricsBindAddress: 0.0.0.0:10249\nmode: \"iptables\"\niptables: {syncPeriod: 30s, minSyncPeriod: 1s}\n";
        assert_eq!(settings(kubeadm), settings(eks));
        assert_eq!(value(kubeadm, "mode"), "iptables");
        assert_eq!(value(kubeadm, "conntrack/tcpEstablishedTimeout"), "24h0m0s");
        assert_eq!(value(kubeadm, "iptables/syncPeriod"), "30s");
    }

    /// Each team choice differs from the default it replaces, including an explicit zero where
    /// zero is not "unset" (a conntrack timeout of 0s leaves the kernel's; unset sets 24h).
    #[test]
    fn a_team_choice_differs_from_the_default() {
        let base = settings("kind: KubeProxyConfiguration\n").unwrap();
        for (config, path) in [
            ("mode: ipvs", "mode"),
            ("mode: nftables", "mode"),
            ("ipvs: {scheduler: lc}", "ipvs/scheduler"),
            ("ipvs: {strictARP: true}", "ipvs/strictARP"),
            ("ipvs: {excludeCIDRs: [10.0.0.0/8]}", "ipvs/excludeCIDRs"),
            ("iptables: {masqueradeAll: true}", "iptables/masqueradeAll"),
            ("iptables: {localhostNodePorts: false}", "iptables/localhostNodePorts"),
            ("iptables: {masqueradeBit: 0}", "iptables/masqueradeBit"),
            ("iptables: {syncPeriod: 1m}", "iptables/syncPeriod"),
            ("nodePortAddresses: [primary]", "nodePortAddresses"),
            ("conntrack: {maxPerCore: 0}", "conntrack/maxPerCore"),
            ("conntrack: {min: 262144}", "conntrack/min"),
            ("conntrack: {tcpEstablishedTimeout: 0s}", "conntrack/tcpEstablishedTimeout"),
            ("conntrack: {tcpCloseWaitTimeout: 30m}", "conntrack/tcpCloseWaitTimeout"),
            ("conntrack: {tcpBeLiberal: true}", "conntrack/tcpBeLiberal"),
        ] {
            let changed = settings(&format!("kind: KubeProxyConfiguration\n{config}\n")).unwrap();
            let differing: Vec<&str> = changed.iter().zip(&base).filter(|(a, b)| a != b).map(|(a, _)| a.path).collect();
            assert_eq!(differing, [path], "{config}");
        }
    }

    #[test]
    fn durations_compare_by_length_whatever_their_spelling() {
        for (a, b) in [("24h", "1440m"), ("1h0m0s", "3600s"), ("1.5h", "90m"), ("300ms", "0.3s")] {
            assert_eq!(parse_go_duration(a), parse_go_duration(b), "{a} {b}");
        }
        for bad in ["", "1d", "-1s", "h", "1x"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
        // Unreadable is kept as written, so it differs from every readable value.
        assert_eq!(value("conntrack: {tcpCloseWaitTimeout: 1day}", "conntrack/tcpCloseWaitTimeout"), "1day");
        assert_eq!(go_duration(90 * NANOS), "1m30s");
    }

    #[test]
    fn a_text_that_is_not_a_mapping_has_no_settings() {
        assert_eq!(settings("- a\n- b\n"), None);
        assert_eq!(settings("mode: [unclosed"), None);
    }
}
