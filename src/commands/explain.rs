//! `kparity explain OLD NEW KIND[.GROUP]/[NAMESPACE/]NAME`: reads only that object's kind (and
//! namespace) on both sides as `diff` does, keeps the object as read, and prints why it compared
//! equal or not. Exit codes are what `diff` would say about this one object.

use crate::cli::{DiffArgs, ExplainArgs};
use crate::diff::Comparison;
use crate::dump::KeepAsRead;
use crate::exit::Exit;
use crate::model::ObjectKey;
use crate::report::Format;
use crate::source::KindFilter;

/// Bad input to `explain`, each with the hint a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("invalid object {given:?}: expected KIND[.GROUP]/NAMESPACE/NAME or KIND[.GROUP]/NAME")]
    Target { given: String },
    #[error("{target} is absent on both sides")]
    Absent { target: String, namespaced_hint: bool },
    #[error("{target} names objects of several kinds: {kinds}")]
    Ambiguous { target: String, kinds: String },
}

impl ExplainError {
    pub fn hint(&self) -> String {
        match self {
            ExplainError::Target { .. } => {
                "write e.g. Deployment.apps/shop/web (namespaced) or ClusterRole.rbac.authorization.k8s.io/view".into()
            }
            ExplainError::Absent { namespaced_hint: true, .. } => {
                "a namespaced object needs its namespace: KIND[.GROUP]/NAMESPACE/NAME; `kparity diff OLD NEW --kinds KIND` lists what exists".into()
            }
            ExplainError::Absent { .. } => {
                "check the kind, namespace and name; `kparity diff OLD NEW --kinds KIND` lists what exists".into()
            }
            ExplainError::Ambiguous { .. } => "name the group: KIND.GROUP/...".into(),
        }
    }
}

/// The object named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: KindFilter,
    pub namespace: Option<String>,
    pub name: String,
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, ExplainError> {
        let bad = || ExplainError::Target { given: s.to_string() };
        let parts: Vec<&str> = s.split('/').collect();
        let (kind, namespace, name) = match parts.as_slice() {
            [k, n] => (*k, None, *n),
            [k, ns, n] => (*k, Some(ns.to_string()), *n),
            _ => return Err(bad()),
        };
        if name.is_empty() || namespace.as_deref() == Some("") {
            return Err(bad());
        }
        let kind = KindFilter::parse(kind).map_err(|_| bad())?;
        Ok(Target { kind, namespace, name: name.to_string() })
    }
}

pub async fn run(
    args: &ExplainArgs,
    kubeconfig_path: Option<&std::path::Path>,
    quiet: bool,
) -> Result<Exit, crate::error::CommandError> {
    let target = Target::parse(&args.object)?;
    // Read only the object's kind, and its namespace: what `diff` would read to compare it.
    let mut read = args.read.clone();
    read.kinds = vec![target.kind.text()];
    if let Some(ns) = &target.namespace {
        read.namespaces = vec![ns.clone()];
    }
    let diff_args = DiffArgs {
        old: args.old.clone(),
        new: args.new.clone(),
        output: Format::Table,
        ignore_secret_values: args.ignore_secret_values,
        platform: args.platform.clone(),
        metrics_file: None,
        show_suppressed: false,
        read,
        rules: args.rules.clone(),
        key: args.key.clone(),
        archive: args.archive.clone(),
    };
    let keep =
        KeepAsRead::One { kind: target.kind.clone(), namespace: target.namespace.clone(), name: target.name.clone() };
    let cmp = super::diff::read_and_compare(&diff_args, kubeconfig_path, quiet, keep).await?;
    let explained: Vec<_> = cmp.explained.iter().collect();
    let one = match explained.as_slice() {
        [one] => *one,
        [] => {
            // Its kind unread on a side: the object may exist there; that is trouble, not absence.
            if !cmp.incomplete.is_empty() {
                if !quiet {
                    crate::error::write_stdout(&crate::report::table::render(&cmp))?;
                }
                return Ok(Exit::Trouble);
            }
            return Err(ExplainError::Absent {
                target: args.object.clone(),
                namespaced_hint: target.namespace.is_none(),
            }
            .into());
        }
        many => {
            let kinds: Vec<String> = many.iter().map(|e| e.key.group_kind().to_string()).collect();
            return Err(ExplainError::Ambiguous { target: args.object.clone(), kinds: kinds.join(", ") }.into());
        }
    };
    let exit = object_exit(&cmp, &one.key);
    if !quiet {
        crate::error::write_stdout(&crate::report::explain::render(&cmp, one))?;
    }
    Ok(exit)
}

/// What `diff` says about this one object: trouble when its kind was not read completely on a
/// side, different when it differs (and no waiver accepts all of it), else the same.
fn object_exit(c: &Comparison, key: &ObjectKey) -> Exit {
    let unread = c
        .incomplete
        .iter()
        .any(|(_, i)| i.type_ref.group == key.group && i.type_ref.kind.as_ref().is_none_or(|k| *k == key.kind));
    if unread {
        return Exit::Trouble;
    }
    match c.objects.iter().find(|d| d.key == *key) {
        Some(d) if !d.is_waived() => Exit::Different,
        _ => Exit::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_like_kubectl_kinds_with_namespace_and_name() {
        let t = Target::parse("Deployment.apps/shop/web").unwrap();
        assert_eq!(
            (t.kind.text(), t.namespace.as_deref(), t.name.as_str()),
            ("deployment.apps".into(), Some("shop"), "web")
        );
        let t = Target::parse("ClusterRole.rbac.authorization.k8s.io/view").unwrap();
        assert_eq!((t.namespace, t.name.as_str()), (None, "view"));
        for bad in ["web", "a/b/c/d", "ConfigMap/", "ConfigMap//x", "/shop/x"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
