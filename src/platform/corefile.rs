//! The part of a CoreDNS Corefile that is a team's intent. kubeadm and the EKS CoreDNS add-on each
//! write their own root server block (`.:53 { errors health kubernetes ... forward . ... }`), so
//! those blocks differ by platform; a server block for any other zone (a stub domain, a private
//! zone forwarded elsewhere) is something a team added, and must be the same on both sides.

use std::collections::BTreeMap;

/// The server blocks of a Corefile by their keys (`consul.local:53`), without the root zone's,
/// each body as its non-empty, comment-free lines with spaces collapsed (CoreDNS reads tokens,
/// so indentation and spacing carry no meaning).
pub fn team_blocks(corefile: &str) -> BTreeMap<String, Vec<String>> {
    let mut blocks = BTreeMap::new();
    let mut depth = 0usize;
    let (mut key, mut body, mut line_buf) = (String::new(), Vec::<String>::new(), String::new());
    for raw in corefile.lines() {
        let line = raw.split('#').next().unwrap_or_default();
        for ch in line.chars() {
            match ch {
                '{' => {
                    if depth == 0 {
                        key = normalize_tokens(&line_buf);
                        line_buf.clear();
                    } else {
                        line_buf.push(ch);
                    }
                    depth += 1;
                }
                '}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        push_line(&mut body, &line_buf);
                        line_buf.clear();
                        if !is_root(&key) {
                            blocks.insert(key.clone(), std::mem::take(&mut body));
                        }
                        body.clear();
                    } else {
                        line_buf.push(ch);
                    }
                }
                _ => line_buf.push(ch),
            }
        }
        if depth > 0 {
            push_line(&mut body, &line_buf);
            line_buf.clear();
        } else {
            line_buf.push(' ');
        }
    }
    blocks
}

fn push_line(body: &mut Vec<String>, line: &str) {
    let t = normalize_tokens(line);
    if !t.is_empty() {
        body.push(t);
    }
}

fn normalize_tokens(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A server block key serving the root zone: `.`, `.:53`, `dns://.:53`, or several keys of
/// which one is the root.
fn is_root(key: &str) -> bool {
    key.split([' ', ',']).filter(|k| !k.is_empty()).any(|k| {
        let k = k.split("://").last().unwrap_or(k);
        k == "." || k.starts_with(".:")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBEADM: &str = ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache 30\n}\n";

    fn check(corefile: &str, expected: &[(&str, &[&str])]) {
        let got = team_blocks(corefile);
        let want: BTreeMap<String, Vec<String>> =
            expected.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn the_root_block_is_the_platforms_and_a_stub_domain_is_the_teams() {
        check(KUBEADM, &[]);
        let with_stub =
            format!("{KUBEADM}consul.local:53 {{\n    errors\n    cache 30\n    forward . 10.150.0.1   # consul\n}}\n");
        check(&with_stub, &[("consul.local:53", &["errors", "cache 30", "forward . 10.150.0.1"])]);
        // Spacing and comments carry no meaning; nested blocks stay in the body.
        let nested = "corp.example:53 {\n  forward . 10.0.0.2 {\n    max_concurrent 10\n  }\n}\n";
        check(nested, &[("corp.example:53", &["forward . 10.0.0.2 {", "max_concurrent 10", "}"])]);
        check("dns://.:53 {\n errors\n}\n", &[]);
    }
}
