//! Snapshot archives: a cluster's objects as read (secret values digested), its completeness
//! and an integrity manifest, in one compressed, self-describing file. Written while reading
//! (`write`), verified by every reader (`read`), and turned into a `Dump` for `diff`.

pub mod format;
pub mod read;
pub mod sign;
pub mod write;

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use crate::cpu::{Cpu, Job};
use crate::dump::{Collector, CoverageStatus, Dump, Sink, SourceInfo, SourceKind, TypeCoverage};
use crate::model::{ApiType, Excluded, GroupKind, GroupResource, GroupVersion, Incomplete, IncompleteReason, TypeRef};
use crate::rules::RuleSet;
use crate::schema::Semantics;
use crate::secrets::{KeyInfo, SecretKey};
use crate::source::{FilterMisses, ReadOptions};

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
    #[error("archive too large: {detail}")]
    TooLarge { detail: String },
    #[error("unauthenticated archive: {detail}")]
    Unauthenticated { detail: String },
    #[error("archive sealed under another key: its header names key {archive}, the given key is {given}")]
    WrongKey { archive: String, given: String },
    #[error("refusing to write {}: the file exists", path.display())]
    Exists { path: PathBuf },
    #[error("failed to use the signing key {}: {detail}", path.display())]
    SigningKey { path: PathBuf, detail: String },
    #[error("signature not accepted: {detail}")]
    Signature { detail: String },
    /// An archive a diff was given, refused for `source`.
    #[error("refusing snapshot {}", path.display())]
    Refused {
        path: PathBuf,
        #[source]
        source: Box<SnapshotError>,
    },
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
            SnapshotError::TooLarge { .. } => {
                Some("a hostile or damaged file; if it is a genuine archive, raise the limit named above")
            }
            SnapshotError::Unauthenticated { .. } => Some(
                "with a secret key given, kparity reads only archives sealed under it; without the key the archive \
                 reads as not authenticated (anyone could have written it)",
            ),
            SnapshotError::WrongKey { .. } => Some(
                "pass the key the archive was written with (KPARITY_SECRET_KEY or --secret-key-file); a header \
                 fingerprint that names no key you hold means the archive is not yours or was altered",
            ),
            SnapshotError::Exists { .. } => {
                Some("choose a new file name (archives are kept, not overwritten), or pass --force to replace it")
            }
            SnapshotError::SigningKey { .. } => Some(
                "pass an unencrypted OpenSSH ed25519 private key (ssh-keygen -t ed25519 -N '' -f FILE), kept in a \
                 secret store",
            ),
            SnapshotError::Refused { source, .. } => source.hint(),
            SnapshotError::Signature { .. } => Some(
                "check with `ssh-keygen -Y verify -f ALLOWED_SIGNERS -I IDENTITY -n kparity-archive -s ARCHIVE.sig < ARCHIVE`; \
                 a signature that does not verify means the archive or its signature was altered, or another key signed it",
            ),
        }
    }
}

/// Reads, verifies and normalizes an archive into a `Dump`, applying today's rules and the
/// diff's filters, without schemas (see `read_dump_with`).
pub fn read_dump(
    path: &Path,
    read_opts: &ReadOptions,
    rules: &RuleSet,
    key: &SecretKey,
    archive: &read::ReadOptions<'_>,
) -> Result<Dump, SnapshotError> {
    read_dump_with(path, read_opts, rules, key, archive, &Semantics::default(), None)
}

/// Objects handed to the collector at a time when an archive is read: a live read's page.
const ARCHIVE_PAGE: usize = 500;

/// Reads, verifies and normalizes an archive into a `Dump` under today's rules, the diff's
/// filters and the field semantics agreed for the comparison. The archive's recorded
/// incompleteness carries into the dump, and so does what the capture did not include: a
/// resource the archive says was served but holds no record of (taken with narrower filters, or
/// by a kparity that did not read it) is incomplete, never empty. With a key in `archive`, an
/// archive not sealed under that key is refused. `key` digests what users' `digest` rules
/// designate and the archive holds in clear. `opened`: what the comparison was planned with
/// (`read::read_opening` of the same path), which the verified file must confirm.
pub fn read_dump_with(
    path: &Path,
    read_opts: &ReadOptions,
    rules: &RuleSet,
    key: &SecretKey,
    archive: &read::ReadOptions<'_>,
    semantics: &Semantics,
    opened: Option<&read::Opening>,
) -> Result<Dump, SnapshotError> {
    let filters = &read_opts.filters;
    let Collecting { collected, verified, namespaces_seen } =
        collect(ArchiveRead { path, read_opts, rules, key, archive, semantics, opened })?;
    let h = &verified.header;
    let served: Vec<ApiType> = h.api_resources.iter().map(ApiType::from).collect();

    let mut account = Accounting::new(filters, rules, collected.incomplete.clone());
    account.trailer_types(&verified.trailer, &collected);
    account.captured_exclusions(&verified.trailer, &served);
    let failed_gv = account.failed_groups(&verified.trailer);
    account.unrecorded(&served, &failed_gv);
    let Accounting { mut coverage, mut incomplete, type_skips, excluded_types, .. } = account;
    coverage.sort_by(|a, b| a.type_ref.cmp(&b.type_ref));

    // Filters narrower at diff time than at capture time are fine; wider ones are not: what the
    // archive did not capture was not read.
    for why in filters_wider_than_capture(filters, &h.filters, &served) {
        incomplete.push(Incomplete {
            type_ref: TypeRef { group: "*".into(), version: "*".into(), resource: None, kind: None },
            reason: IncompleteReason::Recorded(why),
        });
    }
    // Every exclusion in one set (capture-time ones in the words the capture recorded, which
    // are a live read's), so a snapshot reports like the live cluster.
    let excluded: Vec<Excluded> =
        excluded_types.into_iter().map(|(group_kind, by)| Excluded { group_kind, by }).collect();
    let filter_misses = filter_misses(filters, &verified.trailer, &served, &namespaces_seen);
    Ok(Dump {
        info: source_info(path, h),
        objects: collected.objects,
        incomplete,
        excluded,
        served,
        // An archive lists each type once, in the version read at capture.
        preferred: verified.trailer.types.iter().map(|t| ApiType::from(&t.ty)).collect(),
        listed: verified.trailer.types.iter().map(|t| ApiType::from(&t.ty)).collect(),
        rule_hits: collected.rule_hits,
        type_skips,
        coverage,
        filter_misses,
        provenance: collected.provenance,
    })
}

/// An archive's objects as collected, with the archive as verified.
struct Collecting {
    collected: crate::dump::Collected,
    verified: read::Verified,
    /// The `-n` namespaces the archive holds anything of (before filters).
    namespaces_seen: BTreeSet<String>,
}

/// What `read_dump_with` was given, for `collect`.
#[derive(Clone, Copy)]
struct ArchiveRead<'a, 'o> {
    path: &'a Path,
    read_opts: &'a ReadOptions,
    rules: &'a RuleSet,
    key: &'a SecretKey,
    archive: &'a read::ReadOptions<'o>,
    semantics: &'a Semantics,
    opened: Option<&'a read::Opening>,
}

/// Reads and verifies an archive, handing the objects the filters and rules admit to a collector
/// (secret values digested under this run's key first).
fn collect(given: ArchiveRead<'_, '_>) -> Result<Collecting, SnapshotError> {
    let ArchiveRead { path, read_opts, rules, key, archive, semantics, opened } = given;
    let collector = Collector::with_semantics(rules, semantics).keeping_as_read(read_opts.keep_as_read.clone());
    let filters = &read_opts.filters;
    let mut namespaces_seen: BTreeSet<String> = BTreeSet::new();
    // Objects go to the collector a page at a time, as a live read delivers them: a page's
    // objects and records are packed together (`packed`). An archive holds each type's objects
    // together, so a page ends where its type does. Pages are normalized and packed on the CPU
    // pool while the archive is read on, and kept in the order read.
    let verified = Cpu::scoped(|cpu| {
        let collector = &collector;
        let mut jobs: VecDeque<(ApiType, Job<crate::dump::CollectedPage>)> = VecDeque::new();
        let mut page: Option<(ApiType, Vec<crate::dump::ReadObject>)> = None;
        let mut deliver = |page: &mut Option<(ApiType, Vec<crate::dump::ReadObject>)>, bound: usize| {
            if let Some((ty, items)) = page.take() {
                let owned = ty.clone();
                jobs.push_back((ty, cpu.run(move || collector.prepare(&owned, items))));
            }
            while jobs.len() > bound {
                let (ty, job) = jobs.pop_front().expect("more jobs than the bound");
                collector.keep(&ty, job.wait());
            }
        };
        let verified = read::read_with(path, archive, |event| {
            if let read::Event::Object(ty, mut obj) = event {
                crate::source::list::redact_archived(ty, &mut obj, rules, key);
                let object_key = crate::dump::key_of(ty, &obj);
                if let Some(ns) =
                    crate::source::namespace_filtered_by(&object_key).filter(|ns| filters.namespaces.contains(ns))
                {
                    namespaces_seen.insert(ns.clone());
                }
                // The type's exclusion is noted once, from the trailer; `admits` holds the filters'
                // part of it.
                if rules.skipped_type(ty).is_some() || !filters.admits(ty, &obj) {
                    return;
                }
                let attribution = crate::attribution::take_encoded(&mut obj);
                if page.as_ref().is_some_and(|(t, items)| t != ty || items.len() >= ARCHIVE_PAGE) {
                    deliver(&mut page, crate::cpu::threads());
                }
                let (_, items) = page.get_or_insert_with(|| (ty.clone(), Vec::with_capacity(ARCHIVE_PAGE)));
                items.push(crate::dump::ReadObject { object: obj, attribution });
            }
        })
        .and_then(|v| match opened {
            // What was planned from the opening must be what the verified file says.
            Some(o) => o.check_read(path, &v).map(|()| v),
            None => Ok(v),
        });
        // A refused archive keeps nothing; the jobs end with the scope.
        if verified.is_ok() {
            deliver(&mut page, 0);
        }
        verified
    })
    .map_err(|e| SnapshotError::Refused { path: path.to_path_buf(), source: Box::new(e) })?;
    Ok(Collecting { collected: collector.finish(), verified, namespaces_seen })
}

/// Filter values that match nothing in the archive: kinds it does not serve, and `-n`
/// namespaces it holds nothing of although it read Namespaces completely.
fn filter_misses(
    filters: &crate::source::Filters,
    trailer: &format::Trailer,
    served: &[ApiType],
    namespaces_seen: &BTreeSet<String>,
) -> FilterMisses {
    let read_namespaces =
        trailer.types.iter().any(|t| t.ty.group.is_empty() && t.ty.resource == "namespaces" && t.incomplete.is_none());
    let mut misses = FilterMisses { kinds: filters.kind_misses(served), ..Default::default() };
    if read_namespaces {
        misses.namespaces = filters.namespaces.iter().filter(|n| !namespaces_seen.contains(*n)).cloned().collect();
    }
    misses
}

/// Where an archive's side came from, as its header records it.
fn source_info(path: &Path, h: &format::Header) -> SourceInfo {
    SourceInfo {
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
    }
}

/// What an archive accounts for, type by type, as a live read would report it: each type read
/// (its count and read point), excluded (by this diff's filters and rules first, else as the
/// capture recorded) or incomplete (recorded at capture, read twice, or never captured).
struct Accounting<'a> {
    filters: &'a crate::source::Filters,
    rules: &'a RuleSet,
    coverage: Vec<TypeCoverage>,
    incomplete: Vec<Incomplete>,
    type_skips: BTreeSet<crate::rules::RuleId>,
    excluded_types: BTreeSet<(GroupKind, String)>,
    /// The resources the archive holds a record of.
    accounted: BTreeSet<GroupResource>,
}

impl<'a> Accounting<'a> {
    fn new(filters: &'a crate::source::Filters, rules: &'a RuleSet, incomplete: Vec<Incomplete>) -> Self {
        Accounting {
            filters,
            rules,
            coverage: Vec::new(),
            incomplete,
            type_skips: BTreeSet::new(),
            excluded_types: BTreeSet::new(),
            accounted: BTreeSet::new(),
        }
    }

    fn cover(&mut self, ty: &ApiType, status: CoverageStatus) {
        self.coverage.push(TypeCoverage { type_ref: TypeRef::from(ty), status });
    }

    /// This diff's exclusion of `ty`, noted.
    fn exclusion(&mut self, ty: &ApiType) -> Option<String> {
        exclusion(self.filters, self.rules, ty, &mut self.type_skips, &mut self.excluded_types)
    }

    /// The types the archive read: excluded now, incomplete at capture or read twice, or read.
    fn trailer_types(&mut self, trailer: &format::Trailer, collected: &crate::dump::Collected) {
        for t in &trailer.types {
            let ty = ApiType::from(&t.ty);
            self.accounted.insert(ty.group_resource());
            if let Some(by) = self.exclusion(&ty) {
                self.cover(&ty, CoverageStatus::Excluded { by });
                continue;
            }
            if let Some(inc) = &t.incomplete {
                let reason = IncompleteReason::Archived { code: inc.reason.clone(), message: inc.message.clone() };
                self.cover(&ty, CoverageStatus::Incomplete { reason: reason.to_string() });
                self.incomplete.push(Incomplete { type_ref: TypeRef::from(&ty), reason });
                continue;
            }
            let status = match collected.incomplete.iter().find(|i| i.type_ref == TypeRef::from(&ty)) {
                Some(dup) => CoverageStatus::Incomplete { reason: dup.reason.to_string() },
                None => CoverageStatus::Read {
                    objects: collected.counts.get(&ty).copied().unwrap_or(0),
                    read_at: t.resource_version.clone(),
                },
            };
            self.cover(&ty, status);
        }
    }

    /// Kinds the capture left out, recorded by kind; the served list gives their resource and
    /// version. A type this diff leaves out itself is reported with this diff's reason, as a
    /// live read reports it.
    fn captured_exclusions(&mut self, trailer: &format::Trailer, served: &[ApiType]) {
        for e in &trailer.excluded {
            let matching: Vec<&ApiType> = served.iter().filter(|t| t.group == e.group && t.kind == e.kind).collect();
            for t in &matching {
                self.accounted.insert(t.group_resource());
            }
            let (type_ref, by) = match best_version(&matching) {
                Some(t) => (TypeRef::from(t), self.exclusion(t).unwrap_or_else(|| e.by.clone())),
                None => (
                    TypeRef {
                        group: e.group.clone(),
                        version: String::new(),
                        resource: None,
                        kind: Some(e.kind.clone()),
                    },
                    e.by.clone(),
                ),
            };
            self.excluded_types.insert((GroupKind { group: e.group.clone(), kind: e.kind.clone() }, by.clone()));
            self.coverage.push(TypeCoverage { type_ref, status: CoverageStatus::Excluded { by } });
        }
    }

    /// Group-versions whose discovery failed at capture (unless a rule skips the group): each
    /// is incomplete. Returns them, so their resources are not also "not captured".
    fn failed_groups(&mut self, trailer: &format::Trailer) -> BTreeSet<GroupVersion> {
        let mut failed_gv = BTreeSet::new();
        for g in &trailer.incomplete_groups {
            if self.rules.skipped_group(&g.group).is_some() {
                continue;
            }
            failed_gv.insert(GroupVersion { group: g.group.clone(), version: g.version.clone() });
            let type_ref = TypeRef { group: g.group.clone(), version: g.version.clone(), resource: None, kind: None };
            let reason = IncompleteReason::Archived { code: g.reason.clone(), message: g.message.clone() };
            self.coverage.push(TypeCoverage {
                type_ref: type_ref.clone(),
                status: CoverageStatus::Incomplete { reason: reason.to_string() },
            });
            self.incomplete.push(Incomplete { type_ref, reason });
        }
        failed_gv
    }

    /// Served at capture, but the archive holds no record of it at all: incomplete, never empty
    /// (unless this diff leaves it out anyway).
    fn unrecorded(&mut self, served: &[ApiType], failed_gv: &BTreeSet<GroupVersion>) {
        let mut unrecorded: std::collections::BTreeMap<GroupResource, Vec<&ApiType>> = Default::default();
        for t in served {
            if !self.accounted.contains(&t.group_resource()) && !failed_gv.contains(&t.group_version()) {
                unrecorded.entry(t.group_resource()).or_default().push(t);
            }
        }
        for versions in unrecorded.values() {
            let Some(ty) = best_version(versions) else { continue };
            if let Some(by) = self.exclusion(ty) {
                self.cover(ty, CoverageStatus::Excluded { by });
                continue;
            }
            let served_in: Vec<&str> = versions.iter().map(|t| t.version.as_str()).collect();
            let reason = IncompleteReason::Recorded(format!(
                "not captured: the archive lists {} as served ({}) but holds no record of reading it",
                ty.resource,
                served_in.join(", ")
            ));
            self.cover(ty, CoverageStatus::Incomplete { reason: reason.to_string() });
            self.incomplete.push(Incomplete { type_ref: TypeRef::from(ty), reason });
        }
    }
}

/// The version a resource is read in by default among those listed (GA > beta > alpha, newest).
fn best_version<'a>(types: &[&'a ApiType]) -> Option<&'a ApiType> {
    types.iter().copied().max_by_key(|t| crate::source::discovery::version_rank(&t.version))
}

/// What the diff's filters ask for that the capture's filters left out: each a sentence naming
/// what was not captured. A capture filtered more narrowly cannot speak for the rest.
fn filters_wider_than_capture(
    diff: &crate::source::Filters,
    capture: &format::FiltersRecord,
    served: &[ApiType],
) -> Vec<String> {
    let mut out = namespaces_not_captured(diff, capture);
    out.extend(kinds_not_captured(diff, capture, served));
    // The diff's selector must select within the capture's: the same requirements or more. An
    // archive whose recorded selector does not parse selected something unknown.
    let captured = capture.selector.as_deref().map(crate::rules::pattern::Selector::parse);
    let within = match (&captured, &diff.selector) {
        (None, _) => true,
        (Some(Ok(cap)), Some(d)) => d.narrows(cap),
        (Some(_), _) => false,
    };
    if !within {
        out.push(format!(
            "not captured: objects outside the selector {} the archive was taken with; pass the same -l",
            capture.selector.as_deref().unwrap_or_default()
        ));
    }
    out
}

/// The namespaces the diff asks for that the capture's `-n` or `--exclude-namespace` left out.
fn namespaces_not_captured(diff: &crate::source::Filters, capture: &format::FiltersRecord) -> Vec<String> {
    let mut out = Vec::new();
    if !capture.namespaces.is_empty() {
        if diff.namespaces.is_empty() {
            out.push(format!(
                "not captured: the archive holds only namespaces {}; pass -n with some of them",
                capture.namespaces.join(", ")
            ));
        } else {
            let missing: Vec<&str> =
                diff.namespaces.iter().filter(|n| !capture.namespaces.contains(n)).map(String::as_str).collect();
            if !missing.is_empty() {
                out.push(format!(
                    "not captured: namespace {} (the archive holds only namespaces {})",
                    missing.join(", "),
                    capture.namespaces.join(", ")
                ));
            }
        }
    }
    for n in &capture.exclude_namespaces {
        let asked = !diff.exclude_namespaces.contains(n) && (diff.namespaces.is_empty() || diff.namespaces.contains(n));
        if asked {
            out.push(format!(
                "not captured: namespace {n} (the archive left it out); pass --exclude-namespace {n} to compare without it"
            ));
        }
    }
    out
}

/// Every served type the diff asks for that the capture's kind filters left out (or, for an
/// archive without its served list, the kind filters compared as written).
fn kinds_not_captured(
    diff: &crate::source::Filters,
    capture: &format::FiltersRecord,
    served: &[ApiType],
) -> Option<String> {
    use crate::source::{Filters, KindFilter};
    let parse = |v: &[String]| v.iter().filter_map(|k| KindFilter::parse(k).ok()).collect::<Vec<_>>();
    let capture_kinds =
        Filters { kinds: parse(&capture.kinds), exclude_kinds: parse(&capture.exclude_kinds), ..Default::default() };
    let diff_kinds =
        Filters { kinds: diff.kinds.clone(), exclude_kinds: diff.exclude_kinds.clone(), ..Default::default() };
    let how = || {
        let mut h = Vec::new();
        if !capture.kinds.is_empty() {
            h.push(format!("--kinds {}", capture.kinds.join(",")));
        }
        if !capture.exclude_kinds.is_empty() {
            h.push(format!("--exclude-kinds {}", capture.exclude_kinds.join(",")));
        }
        h.join(" ")
    };
    if served.is_empty() {
        let exclude_missing = capture
            .exclude_kinds
            .iter()
            .any(|k| KindFilter::parse(k).map_or(true, |k| !diff.exclude_kinds.contains(&k)));
        let wider = (!capture.kinds.is_empty() && diff.kinds.is_empty()) || exclude_missing;
        return wider.then(|| format!("not captured: kinds outside the capture's filters ({})", how()));
    }
    let mut kinds: Vec<String> = served
        .iter()
        .filter(|t| diff_kinds.excludes_type(t).is_none() && capture_kinds.excludes_type(t).is_some())
        .map(|t| t.group_kind().to_string())
        .collect();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        return None;
    }
    const SHOWN: usize = 5;
    let more = kinds.len().saturating_sub(SHOWN);
    let mut list = kinds.into_iter().take(SHOWN).collect::<Vec<_>>().join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    Some(format!("not captured: kind {list} (the archive was taken with {})", how()))
}

/// `source::type_exclusion` for an archive's type, noted as a live read notes it: the
/// exclusion in `excluded`, a rule's type-level skip in `type_skips`.
fn exclusion(
    filters: &crate::source::Filters,
    rules: &RuleSet,
    ty: &ApiType,
    type_skips: &mut BTreeSet<crate::rules::RuleId>,
    excluded: &mut BTreeSet<(GroupKind, String)>,
) -> Option<String> {
    let (by, rule) = crate::source::type_exclusion(filters, rules, ty)?;
    type_skips.extend(rule);
    excluded.insert((ty.group_kind(), by.clone()));
    Some(by)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Filters, KindFilter};

    fn ty(group: &str, resource: &str, kind: &str) -> ApiType {
        ApiType {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: kind.into(),
            namespaced: true,
        }
    }

    fn check(diff: Filters, capture: format::FiltersRecord, expected: &[&str]) {
        let served =
            [ty("apps", "deployments", "Deployment"), ty("", "configmaps", "ConfigMap"), ty("", "secrets", "Secret")];
        assert_eq!(filters_wider_than_capture(&diff, &capture, &served), expected);
    }

    fn kinds(k: &[&str]) -> Vec<KindFilter> {
        k.iter().map(|k| KindFilter::parse(k).unwrap()).collect()
    }

    #[test]
    fn a_diff_filter_asking_for_what_the_capture_left_out_names_it() {
        let cap_kinds = format::FiltersRecord { kinds: vec!["Deployment".into()], ..Default::default() };
        // Captured with --kinds Deployment, diffed with --kinds ConfigMap: not captured.
        check(
            Filters { kinds: kinds(&["ConfigMap"]), ..Default::default() },
            cap_kinds.clone(),
            &["not captured: kind ConfigMap (the archive was taken with --kinds Deployment)"],
        );
        // The same kind, in another spelling: captured.
        check(Filters { kinds: kinds(&["deployments.apps"]), ..Default::default() }, cap_kinds.clone(), &[]);
        // No filter at diff time: everything else is missing.
        check(
            Filters::default(),
            cap_kinds,
            &["not captured: kind ConfigMap, Secret (the archive was taken with --kinds Deployment)"],
        );
        let cap_excl = format::FiltersRecord { exclude_kinds: vec!["secrets".into()], ..Default::default() };
        check(Filters { exclude_kinds: kinds(&["Secret"]), ..Default::default() }, cap_excl.clone(), &[]);
        check(
            Filters { kinds: kinds(&["Secret", "ConfigMap"]), ..Default::default() },
            cap_excl,
            &["not captured: kind Secret (the archive was taken with --exclude-kinds secrets)"],
        );
        let cap_ns = format::FiltersRecord { namespaces: vec!["a".into(), "b".into()], ..Default::default() };
        check(Filters { namespaces: vec!["b".into()], ..Default::default() }, cap_ns.clone(), &[]);
        check(
            Filters { namespaces: vec!["b".into(), "c".into()], ..Default::default() },
            cap_ns,
            &["not captured: namespace c (the archive holds only namespaces a, b)"],
        );
        let cap_sel = format::FiltersRecord { selector: Some("app=web".into()), ..Default::default() };
        let sel = |s: &str| Some(crate::rules::pattern::Selector::parse(s).unwrap());
        check(Filters { selector: sel("app=web"), ..Default::default() }, cap_sel.clone(), &[]);
        // Narrower than at capture: every object it selects was captured.
        check(Filters { selector: sel("app==web,tier=front"), ..Default::default() }, cap_sel.clone(), &[]);
        check(
            Filters { selector: sel("app=db"), ..Default::default() },
            cap_sel,
            &["not captured: objects outside the selector app=web the archive was taken with; pass the same -l"],
        );
        check(
            Filters::default(),
            format::FiltersRecord { selector: Some("app=web".into()), ..Default::default() },
            &["not captured: objects outside the selector app=web the archive was taken with; pass the same -l"],
        );
        // A recorded selector that does not parse selected something unknown.
        check(
            Filters { selector: sel("app=web"), ..Default::default() },
            format::FiltersRecord { selector: Some("app=web;x".into()), ..Default::default() },
            &["not captured: objects outside the selector app=web;x the archive was taken with; pass the same -l"],
        );
        let cap_xns = format::FiltersRecord { exclude_namespaces: vec!["kube-system".into()], ..Default::default() };
        check(Filters { namespaces: vec!["shop".into()], ..Default::default() }, cap_xns.clone(), &[]);
        assert_eq!(
            filters_wider_than_capture(&Filters::default(), &cap_xns, &[]).len(),
            1,
            "an excluded namespace asked for again"
        );
    }
}
