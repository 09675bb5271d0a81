//! Snapshot archives: a cluster's objects as read (secret values digested), its completeness
//! and an integrity manifest, in one compressed, self-describing file. Written while reading
//! (`write`), verified by every reader (`read`), and turned into a `Dump` for `diff`.

pub mod format;
pub mod read;
pub mod write;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hmac::Hmac;
use sha2::Sha256;

use crate::dump::{Collector, Dump, SourceInfo, SourceKind};
use crate::model::{ApiType, Excluded, GroupKind, Incomplete, IncompleteReason, TypeRef};
use crate::rules::RuleSet;
use crate::schema::Semantics;
use crate::secrets::{KeyInfo, SecretKey};
use crate::source::ReadOptions;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("failed to access {}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("not a kparity archive: {detail}")]
    NotArchive { detail: String },
    #[error("unsupported archive format version {found} (this kparity reads version {supported})")]
    UnsupportedVersion { found: u64, supported: u32 },
    #[error("corrupted archive: {detail}")]
    Corrupt { detail: String },
    #[error("truncated archive: {detail}")]
    Truncated { detail: String },
    #[error("tampered archive: {detail}")]
    Tampered { detail: String },
    #[error("malformed archive at line {line}: {detail}")]
    Malformed { line: usize, detail: String },
}

impl SnapshotError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            SnapshotError::UnsupportedVersion { .. } => Some("upgrade kparity to read this archive"),
            SnapshotError::Corrupt { .. } | SnapshotError::Truncated { .. } => {
                Some("the file is incomplete or damaged; restore it from the place archives are kept")
            }
            SnapshotError::Tampered { .. } => {
                Some("the archive was modified after kparity wrote it; do not trust its content")
            }
            SnapshotError::NotArchive { .. } => Some(
                "archives are written by `kparity snapshot`; a context name that is also a file name needs ctx:NAME",
            ),
            SnapshotError::Malformed { .. } => {
                Some("the file is not a well-formed kparity archive; restore it from the place archives are kept")
            }
            SnapshotError::Io { .. } => Some("check the path and that the file is readable"),
        }
    }
}

/// The MAC sealing an archive under a user key, domain-separated from secret-value digests.
pub(crate) fn seal_mac(key: &SecretKey) -> Hmac<Sha256> {
    key.mac_for("kparity archive seal v1")
}

/// Reads, verifies and normalizes an archive into a `Dump`, applying today's rules and the
/// diff's filters, without schemas (see `read_dump_with`).
pub fn read_dump(path: &Path, read_opts: &ReadOptions, rules: &RuleSet) -> anyhow::Result<Dump> {
    read_dump_with(path, read_opts, rules, &Semantics::default())
}

/// Reads, verifies and normalizes an archive into a `Dump` under today's rules, the diff's
/// filters and the field semantics agreed for the comparison. The archive's recorded
/// incompleteness carries into the dump.
pub fn read_dump_with(
    path: &Path,
    read_opts: &ReadOptions,
    rules: &RuleSet,
    semantics: &Semantics,
) -> anyhow::Result<Dump> {
    let collector = Collector::with_semantics(rules, semantics);
    let mut type_skips = BTreeSet::new();
    let mut excluded_types: BTreeSet<(GroupKind, String)> = BTreeSet::new();
    let filters = &read_opts.filters;
    let verified = read::read(path, None, |event| {
        if let read::Event::Object(ty, obj) = event {
            if let Some(rule) = rules.skipped_type(ty) {
                if let Some(i) = rules.rules.iter().position(|r| std::ptr::eq(r, rule)) {
                    type_skips.insert(i);
                }
                excluded_types.insert((ty.group_kind(), format!("rule {}", rule.name)));
                return;
            }
            let key = crate::dump::key_of(ty, &obj);
            if filters.excludes_object(&key) {
                return;
            }
            crate::dump::Sink::page(&collector, ty, vec![obj]);
        }
    })
    .map_err(|e| anyhow::Error::new(e).context(format!("refusing snapshot {}", path.display())))?;
    let (objects, rule_hits) = collector.finish();
    let h = &verified.header;

    let mut incomplete = Vec::new();
    for t in &verified.trailer.types {
        let ty = ApiType::from(&t.ty);
        if let Some(rule) = rules.skipped_type(&ty) {
            excluded_types.insert((ty.group_kind(), format!("rule {}", rule.name)));
            continue;
        }
        if filters.excludes_type(&ty).is_some() {
            continue;
        }
        if let Some(inc) = &t.incomplete {
            incomplete.push(Incomplete {
                type_ref: TypeRef::from(&ty),
                reason: IncompleteReason::Recorded(format!(
                    "recorded in the archive as {}: {}",
                    inc.reason, inc.message
                )),
            });
        }
    }
    for g in &verified.trailer.incomplete_groups {
        if rules.skipped_group(&g.group).is_some() {
            continue;
        }
        incomplete.push(Incomplete {
            type_ref: TypeRef { group: g.group.clone(), version: g.version.clone(), resource: None, kind: None },
            reason: IncompleteReason::Recorded(format!("recorded in the archive as {}: {}", g.reason, g.message)),
        });
    }
    // Filters narrower at diff time than at capture time are fine; wider ones are not: what the
    // archive did not capture was not read.
    if let Some(why) = filters_wider_than_capture(filters, &h.filters) {
        incomplete.push(Incomplete {
            type_ref: TypeRef { group: "*".into(), version: "*".into(), resource: None, kind: None },
            reason: IncompleteReason::Recorded(why),
        });
    }
    let mut excluded: Vec<Excluded> =
        excluded_types.into_iter().map(|(group_kind, by)| Excluded { group_kind, by }).collect();
    excluded.extend(verified.trailer.excluded.iter().map(|e| Excluded {
        group_kind: GroupKind { group: e.group.clone(), kind: e.kind.clone() },
        // Same wording as a live read's exclusions, so a snapshot reports like the live cluster.
        by: e.by.clone(),
    }));
    excluded.sort();
    excluded.dedup();

    let info = SourceInfo {
        kind: SourceKind::Snapshot,
        name: path.display().to_string(),
        server: h.server.clone(),
        kubernetes_version: h.kubernetes_version.clone(),
        time: h.captured_at.clone(),
        secret_key: match &h.secret_key_fingerprint {
            Some(f) => KeyInfo::Keyed { fingerprint: f.clone() },
            None => KeyInfo::Unkeyed,
        },
        origin_context: Some(h.context.clone()),
    };
    Ok(Dump {
        info,
        objects,
        incomplete,
        excluded,
        served: h.api_resources.iter().map(ApiType::from).collect(),
        // An archive lists each type once, in the version preferred at capture.
        preferred: verified.trailer.types.iter().map(|t| ApiType::from(&t.ty)).collect(),
        listed: verified.trailer.types.iter().map(|t| ApiType::from(&t.ty)).collect(),
        rule_hits,
        type_skips,
    })
}

/// A capture filtered more narrowly than the diff asks for cannot speak for the rest.
fn filters_wider_than_capture(diff: &crate::source::Filters, capture: &format::FiltersRecord) -> Option<String> {
    if !capture.namespaces.is_empty()
        && (diff.namespaces.is_empty() || diff.namespaces.iter().any(|n| !capture.namespaces.contains(n)))
    {
        return Some(format!("the archive holds only namespaces {}", capture.namespaces.join(", ")));
    }
    if !capture.kinds.is_empty() && diff.kinds.is_empty() {
        return Some(format!("the archive holds only kinds {}", capture.kinds.join(", ")));
    }
    if let Some(k) = capture.exclude_kinds.iter().find(|k| {
        !diff.exclude_kinds.iter().any(|d| d == &crate::source::KindFilter::parse(k).unwrap_or_else(|_| d.clone()))
    }) {
        return Some(format!("the archive left out kind {k}; pass --exclude-kinds {k} to compare without it"));
    }
    if let Some(n) = capture.exclude_namespaces.iter().find(|n| !diff.exclude_namespaces.contains(n)) {
        return Some(format!("the archive left out namespace {n}; pass --exclude-namespace {n} to compare without it"));
    }
    if capture.selector.is_some() && diff.selector != capture.selector {
        return Some(format!(
            "the archive holds only objects matching {}",
            capture.selector.as_deref().unwrap_or_default()
        ));
    }
    None
}
