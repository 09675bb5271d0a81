//! Platform-aware parity: what kubeadm, EKS or a self-installed CNI writes into a cluster is not
//! the team's workload. Each side's platforms are detected from markers the platform itself
//! writes (or named with `--platform`); objects a detected platform wrote that the other side
//! cannot have, because it runs another platform, are moved out of the missing/extra
//! differences into a *platform differences* section that does not fail the gate. What a team
//! changes inside platform objects (aws-auth mappings, a Corefile stub domain, CNI settings, an
//! added subject on a platform binding) stays a difference wherever both sides have the object.
//!
//! Pure: it runs after `diff` on the comparison and both dumps, and never reads a cluster.

pub mod corefile;
pub mod kube_proxy;
pub mod profile;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::diff::{Change, Comparison, FieldDiff, ObjectDiff, RuleWarning, Segment, Verdict};
use crate::dump::{CoverageStatus, Dump, Stored};
use crate::model::{ObjectKey, Side};
pub use profile::{Entry, Profile};

/// A `--platform` value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid --platform: {0}")]
pub struct PlatformOptionError(pub String);

impl PlatformOptionError {
    pub fn hint(&self) -> &'static str {
        "write --platform old=kubeadm,new=eks (names: kubeadm, eks, calico, flannel, cilium, none; several joined \
         with +); `kparity rules --platforms` prints the profiles"
    }
}

/// What the user said about one side's platforms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Choice {
    /// Detect from the markers (the default).
    #[default]
    Detect,
    /// These platforms, whatever the markers say (`none`: no platform).
    Named(Vec<String>),
}

/// `--platform old=kubeadm,new=eks`: each side's choice, and the run's object filters that can
/// keep a platform's markers from being read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformOptions {
    pub old: Choice,
    pub new: Choice,
    pub scope: MarkerScope,
}

/// The run's object filters that do not show in a side's coverage: `-n`/`--exclude-namespaces`
/// (a type is read, but not in every namespace) and `-l`. A platform whose markers they leave out
/// cannot be detected, so its objects would read as the team's; the report then says so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkerScope {
    pub namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
    pub selector: bool,
}

impl MarkerScope {
    /// The filter that keeps this marker from being read, if one does: `-n`, `--exclude-namespaces`
    /// or `-l`. A marker whose object these filters would admit is read wherever its type is.
    fn hides(&self, m: &crate::rules::Match) -> Option<&'static str> {
        let ns = m.namespace.as_ref();
        if !self.namespaces.is_empty() && ns.is_some_and(|g| !self.namespaces.iter().any(|n| g.is_match(n))) {
            return Some("-n");
        }
        if ns.is_some_and(|g| self.exclude_namespaces.iter().any(|n| g.is_match(n))) {
            return Some("--exclude-namespaces");
        }
        self.selector.then_some("-l")
    }
}

impl PlatformOptions {
    /// Parses `--platform` values: `SIDE=NAME[+NAME...]` separated by commas, sides `old` and
    /// `new`, names from the built-in profiles or `none`.
    pub fn parse(values: &[String], known: &[Profile]) -> Result<PlatformOptions, PlatformOptionError> {
        Self::parse_text(values, known).map_err(PlatformOptionError)
    }

    fn parse_text(values: &[String], known: &[Profile]) -> Result<PlatformOptions, String> {
        let mut opts = PlatformOptions::default();
        let names: Vec<&str> = known.iter().map(|p| p.name.as_str()).collect();
        for part in values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
            let (side, list) =
                part.split_once('=').ok_or_else(|| format!("{part:?} is not SIDE=NAME, e.g. old=kubeadm,new=eks"))?;
            let mut chosen = Vec::new();
            for name in list.split('+').map(str::trim) {
                if name == "none" {
                    continue;
                }
                if !names.contains(&name) {
                    return Err(format!("unknown platform {name:?} (known: {}, none)", names.join(", ")));
                }
                chosen.push(name.to_string());
            }
            match side.trim() {
                "old" => opts.old = Choice::Named(chosen),
                "new" => opts.new = Choice::Named(chosen),
                other => return Err(format!("unknown side {other:?}: use old or new")),
            }
        }
        Ok(opts)
    }
}

/// One platform on one side, and how kparity knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidePlatform {
    pub name: String,
    pub display_name: String,
    /// The marker object that revealed it; `None` when named with `--platform`.
    pub evidence: Option<ObjectKey>,
}

/// One side's platforms and how many of its objects they wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideReport {
    pub platforms: Vec<SidePlatform>,
    /// Objects on this side a platform of this side wrote (compared, excluded or not).
    pub objects: usize,
    /// Platform differences found only on this side.
    pub only_here: usize,
}

/// Why an object is listed under platform differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformChange {
    /// Written by a platform of this side, which the other side does not run.
    OnlyOn(Side),
    /// Both sides hold it, each written by its own (different) platform: the platforms' values
    /// differ; the team's intent fields, if they differ, are reported as differences instead.
    Differs,
}

/// An object (or the platform-written part of one) listed under platform differences.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformDifference {
    pub change: PlatformChange,
    /// The difference as `diff` found it (for `Differs`, the platform-written fields only).
    pub diff: ObjectDiff,
    /// `eks/coredns`: the profile entry on each side where the object exists.
    pub old_entry: Option<String>,
    pub new_entry: Option<String>,
    pub why: String,
    /// Fields the platform entry names as the team's intent, present in this one-sided object:
    /// a reviewer checks these by hand, since the other side has nothing to compare them with.
    pub intent: Vec<String>,
}

/// The platform section of a report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlatformReport {
    pub old: SideReport,
    pub new: SideReport,
    pub differences: Vec<PlatformDifference>,
}

impl PlatformReport {
    /// True when neither side runs a known platform: reports say so in one line.
    pub fn is_empty(&self) -> bool {
        self.old.platforms.is_empty() && self.new.platforms.is_empty()
    }

    /// `kubeadm 1.37` or `EKS 1.37 + Calico`, with the side's Kubernetes minor version.
    pub fn describe(side: &SideReport, version: Option<&str>) -> String {
        if side.platforms.is_empty() {
            return "no known platform".into();
        }
        let minor = version.and_then(crate::rules::MinorVersion::of_git_version);
        side.platforms
            .iter()
            .enumerate()
            .map(|(i, p)| match (i, minor) {
                (0, Some(m)) => format!("{} {m}", p.display_name),
                _ => p.display_name.clone(),
            })
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// Which platforms run on a side: those named, else every profile with a marker present.
fn detect(dump: &Dump, choice: &Choice, profiles: &[Profile]) -> Vec<SidePlatform> {
    match choice {
        Choice::Named(names) => profiles
            .iter()
            .filter(|p| names.contains(&p.name))
            .map(|p| SidePlatform { name: p.name.clone(), display_name: p.display_name.clone(), evidence: None })
            .collect(),
        Choice::Detect => profiles
            .iter()
            .filter_map(|p| {
                let evidence = dump.objects.iter().find_map(|(key, stored)| {
                    let hit = p.markers.iter().any(|m| {
                        m.matcher.matches_key(key)
                            && stored.content().to_value().is_ok_and(|v| m.matcher.matches_object(key, &v))
                    });
                    hit.then(|| key.clone())
                })?;
                Some(SidePlatform {
                    name: p.name.clone(),
                    display_name: p.display_name.clone(),
                    evidence: Some(evidence),
                })
            })
            .collect(),
    }
}

/// The profile entry that wrote `obj` among a side's platforms: (platform name, entry).
fn entry_of<'p>(
    platforms: &[SidePlatform],
    profiles: &'p [Profile],
    key: &ObjectKey,
    obj: &Value,
) -> Option<(&'p str, &'p Entry)> {
    profiles.iter().filter(|p| platforms.iter().any(|s| s.name == p.name)).find_map(|p| {
        p.objects
            .iter()
            .find(|e| e.matcher.matches_key(key) && e.matcher.matches_object(key, obj))
            .map(|e| (p.name.as_str(), e))
    })
}

fn content(dump: &Dump, key: &ObjectKey) -> Option<Value> {
    dump.objects.get(key).map(Stored::content).and_then(|c| c.to_value().ok())
}

/// Detects each side's platforms and moves what they explain out of the comparison's
/// differences into `cmp.platform`, then recounts the summary and the verdict: `equivalent`
/// only when no difference is left (a kube-proxy setting difference can turn it `different`);
/// `incomplete` always stays.
pub fn separate(cmp: &mut Comparison, old: &Dump, new: &Dump, profiles: &[Profile], opts: &PlatformOptions) {
    let mut report = PlatformReport {
        old: SideReport { platforms: detect(old, &opts.old, profiles), ..Default::default() },
        new: SideReport { platforms: detect(new, &opts.new, profiles), ..Default::default() },
        differences: Vec::new(),
    };
    report.old.objects = platform_objects(old, &report.old.platforms, profiles);
    report.new.objects = platform_objects(new, &report.new.platforms, profiles);
    let runs = |side: &SideReport, platform: &str| side.platforms.iter().any(|p| p.name == platform);

    let mut kept = Vec::new();
    for d in std::mem::take(&mut cmp.objects) {
        let (a, b) = (content(old, &d.key), content(new, &d.key));
        let ea = a.as_ref().and_then(|v| entry_of(&report.old.platforms, profiles, &d.key, v));
        let eb = b.as_ref().and_then(|v| entry_of(&report.new.platforms, profiles, &d.key, v));
        match (d.change, ea, eb) {
            // Only on one side, written by a platform the other side does not run: the other
            // side cannot be expected to have it. (Between two sides of one platform, a missing
            // platform object is a real difference: an EKS cluster without its aws-auth.)
            (Change::Missing, Some(entry), _) if !runs(&report.new, entry.0) => {
                uncount(cmp, &d);
                report.old.only_here += 1;
                report.differences.push(only_on(Side::Old, d, entry, a.as_ref()));
            }
            (Change::Extra, _, Some(entry)) if !runs(&report.old, entry.0) => {
                uncount(cmp, &d);
                report.new.only_here += 1;
                report.differences.push(only_on(Side::New, d, entry, b.as_ref()));
            }
            // Both sides hold it, each written by a different platform: the platforms' own
            // values are listed; the team's intent fields still count as differences.
            (Change::Changed, Some(pa), Some(pb))
                if pa.0 != pb.0 && !runs(&report.new, pa.0) && !runs(&report.old, pb.0) =>
            {
                uncount(cmp, &d);
                let (platform, team) = split_pair(d, (pa, pb), (a.as_ref(), b.as_ref()));
                report.differences.extend(platform);
                if let Some(team) = team {
                    count(cmp, &team);
                    kept.push(team);
                }
            }
            _ => kept.push(d),
        }
    }
    if let Some(d) = kube_proxy_differences(old, new, &report, profiles) {
        count(cmp, &d);
        kept.push(d);
    }
    let unseen = [(Side::Old, old, &opts.old, &report.old), (Side::New, new, &opts.new, &report.new)]
        .into_iter()
        .flat_map(|(side, dump, choice, found)| not_detected(side, dump, choice, found, profiles, &opts.scope, &kept))
        .collect::<Vec<_>>();
    cmp.rule_warnings.extend(unseen);
    cmp.objects = kept;
    // `incomplete` stays: nothing here can prove what was not read.
    if cmp.verdict != Verdict::Incomplete {
        let left = cmp.summary.changed + cmp.summary.missing + cmp.summary.extra;
        cmp.verdict = if left > 0 { Verdict::Different } else { Verdict::Equivalent };
    }
    cmp.platform = report;
}

/// Platforms that may run on a side although detection did not find them, because their
/// markers were not read there (a type left out by `--kinds` or a rule, a namespace or label
/// filter) and that would explain some of the differences left: each is a warning that names the
/// filter, the differences and the `--platform` that lists them apart. Nothing is moved: without
/// its marker a platform is not assumed.
fn not_detected(
    side: Side,
    dump: &Dump,
    choice: &Choice,
    found: &SideReport,
    profiles: &[Profile],
    scope: &MarkerScope,
    differences: &[ObjectDiff],
) -> Vec<RuleWarning> {
    if *choice != Choice::Detect {
        return Vec::new();
    }
    profiles
        .iter()
        .filter(|p| !found.platforms.iter().any(|s| s.name == p.name))
        .filter_map(|p| {
            let by = p.markers.iter().find_map(|m| marker_unread(dump, scope, &m.matcher))?;
            let written: Vec<&ObjectKey> = differences
                .iter()
                // Keys first: only differences an entry of this platform names are parsed.
                .filter(|d| p.objects.iter().any(|e| e.matcher.matches_key(&d.key)))
                // Held on this side, written by this platform, and not already explained by a
                // platform detected there.
                .filter(|d| {
                    content(dump, &d.key).is_some_and(|v| {
                        p.objects.iter().any(|e| e.matcher.matches_object(&d.key, &v))
                            && entry_of(&found.platforms, profiles, &d.key, &v).is_none()
                    })
                })
                .map(|d| &d.key)
                .collect();
            let example = (*written.first()?).clone();
            Some(RuleWarning::PlatformNotDetected {
                side,
                platform: p.name.clone(),
                display_name: p.display_name.clone(),
                by,
                differences: written.len(),
                example,
            })
        })
        .collect()
}

/// What kept a marker from being read on a side, if anything: its type's coverage (left out by
/// `--kinds`, `--exclude-kinds` or a rule, or not read completely) or the run's namespace and
/// label filters. A type the side does not serve at all holds no marker, so it hides nothing.
fn marker_unread(dump: &Dump, scope: &MarkerScope, m: &crate::rules::Match) -> Option<String> {
    let statuses: Vec<&CoverageStatus> = dump
        .coverage
        .iter()
        .filter(|c| c.type_ref.kind.as_deref().is_some_and(|k| m.matches_type(&c.type_ref.group, k)))
        .map(|c| &c.status)
        .collect();
    let by_type = if statuses.iter().any(|s| matches!(s, CoverageStatus::Read { .. })) {
        None
    } else {
        statuses.first().map(|s| match s {
            CoverageStatus::Excluded { by } => by.clone(),
            _ => "not read completely".to_string(),
        })
    };
    by_type.or_else(|| scope.hides(m).map(String::from))
}

/// How a report names a profile entry: `PLATFORM/ENTRY`.
fn label((platform, e): (&str, &Entry)) -> String {
    format!("{platform}/{}", e.name)
}

/// An object only `side` holds, written by a platform the other side does not run.
fn only_on(side: Side, d: ObjectDiff, entry: (&str, &Entry), value: Option<&Value>) -> PlatformDifference {
    let e = entry.1;
    let (old_entry, new_entry) = match side {
        Side::Old => (Some(label(entry)), None),
        Side::New => (None, Some(label(entry))),
    };
    PlatformDifference {
        change: PlatformChange::OnlyOn(side),
        old_entry,
        new_entry,
        why: e.why.clone(),
        intent: intent_present(e, value),
        diff: d,
    }
}

/// A pair each side's platform wrote differently: the platforms' own values as a platform
/// difference, and the team's intent fields, with only their patch operations, as an object
/// difference that still counts.
fn split_pair(
    d: ObjectDiff,
    (pa, pb): ((&str, &Entry), (&str, &Entry)),
    (a, b): (Option<&Value>, Option<&Value>),
) -> (Option<PlatformDifference>, Option<ObjectDiff>) {
    let (ea, eb) = (pa.1, pb.1);
    let (team, platform) = split_fields(&d, ea, eb, a, b);
    let platform = (!platform.is_empty()).then(|| PlatformDifference {
        change: PlatformChange::Differs,
        diff: ObjectDiff { fields: platform, patch: Vec::new(), ..d.clone() },
        old_entry: Some(label(pa)),
        new_entry: Some(label(pb)),
        why: format!("{} / {}", ea.why, eb.why),
        intent: Vec::new(),
    });
    let team = (!team.is_empty()).then(|| {
        let patch = d.patch.iter().filter(|op| is_intent_pointer(ea, eb, op.path().as_str())).cloned().collect();
        ObjectDiff { fields: team, patch, ..d }
    });
    (platform, team)
}

/// How many objects of a side its platforms wrote.
fn platform_objects(dump: &Dump, platforms: &[SidePlatform], profiles: &[Profile]) -> usize {
    if platforms.is_empty() {
        return 0;
    }
    // Keys first: only objects whose identity a platform entry names are parsed.
    let named = |k: &ObjectKey| {
        profiles
            .iter()
            .filter(|p| platforms.iter().any(|s| s.name == p.name))
            .any(|p| p.objects.iter().any(|e| e.matcher.matches_key(k)))
    };
    dump.objects
        .iter()
        .filter(|(k, _)| named(k))
        .filter(|(k, s)| s.content().to_value().is_ok_and(|v| entry_of(platforms, profiles, k, &v).is_some()))
        .count()
}

/// The side's kube-proxy configuration as its platform keeps it: (object, pointer, text).
fn kube_proxy_config(dump: &Dump, side: &SideReport, profiles: &[Profile]) -> Option<(ObjectKey, String, String)> {
    // Keys first: only an object an entry keeping kube-proxy's configuration names is parsed
    // (parsing every object of a large cluster cost a twentieth of a live diff's CPU).
    let named = |k: &ObjectKey| {
        profiles
            .iter()
            .filter(|p| side.platforms.iter().any(|s| s.name == p.name))
            .any(|p| p.objects.iter().any(|e| e.kube_proxy_config.is_some() && e.matcher.matches_key(k)))
    };
    dump.objects.iter().filter(|(k, _)| named(k)).find_map(|(key, stored)| {
        let v = stored.content().to_value().ok()?;
        let (_, e) = entry_of(&side.platforms, profiles, key, &v)?;
        let ptr = e.kube_proxy_config.as_deref()?;
        let text = v.pointer(ptr)?.as_str()?;
        Some((key.clone(), ptr.to_string(), text.to_string()))
    })
}

/// kubeadm keeps kube-proxy's configuration in `kube-proxy` (`config.conf`), EKS in
/// `kube-proxy-config` (`config`): different objects, so no pair compares them. The settings a
/// team chooses (`kube_proxy::settings`: the proxy mode, IPVS scheduler, masquerading, node port
/// addresses, conntrack...) are compared with kube-proxy's defaults applied; each that differs
/// is a difference, reported on NEW's object. A configuration that is not a YAML mapping on
/// either side is compared as written.
fn kube_proxy_differences(old: &Dump, new: &Dump, report: &PlatformReport, profiles: &[Profile]) -> Option<ObjectDiff> {
    let (a_key, _, a) = kube_proxy_config(old, &report.old, profiles)?;
    let (b_key, b_ptr, b) = kube_proxy_config(new, &report.new, profiles)?;
    if a_key == b_key {
        // Same object on both sides: compared as a pair already.
        return None;
    }
    // Paths are NEW's (`data.config.mode`); OLD's values come from its own object.
    let base: Vec<Segment> =
        b_ptr.split('/').skip(1).map(|s| Segment::Key(s.replace("~1", "/").replace("~0", "~"))).collect();
    let field = |path: Vec<Segment>, old: Value, new: Value| FieldDiff {
        change: crate::diff::FieldChange { path, old: Some(old), new: Some(new) },
        waived: None,
        hidden: false,
        written_by: Default::default(),
    };
    let fields: Vec<FieldDiff> = match (kube_proxy::settings(&a), kube_proxy::settings(&b)) {
        (Some(sa), Some(sb)) => sa
            .into_iter()
            .zip(sb)
            .filter(|(x, y)| x.value != y.value)
            .map(|(x, y)| {
                let mut path = base.clone();
                path.extend(x.path.split('/').map(|p| Segment::Key(p.into())));
                field(path, x.value, y.value)
            })
            .collect(),
        _ if a == b => Vec::new(),
        _ => vec![field(base, Value::String(a), Value::String(b))],
    };
    if fields.is_empty() {
        return None;
    }
    Some(ObjectDiff {
        key: b_key,
        change: Change::Changed,
        fields,
        patch: Vec::new(),
        waived: None,
        written_by: Default::default(),
        explained: None,
    })
}

/// Takes a difference out of the summary and its kind's counts.
fn uncount(cmp: &mut Comparison, d: &ObjectDiff) {
    adjust(cmp, d, |n| *n = n.saturating_sub(1));
}

/// Counts a difference in the summary and its kind's counts.
fn count(cmp: &mut Comparison, d: &ObjectDiff) {
    adjust(cmp, d, |n| *n += 1);
}

fn adjust(cmp: &mut Comparison, d: &ObjectDiff, f: impl Fn(&mut usize)) {
    let entry = cmp.kinds.entry(d.key.group_kind()).or_default();
    let s = &mut cmp.summary;
    let (e, t) = match (d.is_waived(), d.change) {
        (true, _) => (&mut entry.waived, &mut s.waived),
        (false, Change::Changed) => (&mut entry.changed, &mut s.changed),
        (false, Change::Missing) => (&mut entry.missing, &mut s.missing),
        (false, Change::Extra) => (&mut entry.extra, &mut s.extra),
    };
    f(e);
    f(t);
}

/// True when an RFC 6901 pointer (a patch operation's path) lies within an intent field or
/// the Corefile of either entry.
fn is_intent_pointer(a: &Entry, b: &Entry, pointer: &str) -> bool {
    let path: Vec<String> = pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect();
    let corefile = [&a.corefile, &b.corefile].into_iter().flatten().any(|c| pointer.starts_with(c.as_str()));
    corefile || a.intent.iter().chain(&b.intent).any(|p| p.covers(&path))
}

/// The intent fields an entry names that this object holds, as JSON pointers.
fn intent_present(e: &Entry, obj: Option<&Value>) -> Vec<String> {
    let Some(obj) = obj else { return Vec::new() };
    let mut out = BTreeSet::new();
    for p in &e.intent {
        let mut v = obj.clone();
        p.for_each_mut(&mut v, &mut |path, _| {
            out.insert(path.to_string());
        });
    }
    if let Some(ptr) = &e.corefile {
        if let Some(text) = obj.pointer(ptr).and_then(Value::as_str) {
            for zone in corefile::team_blocks(text).keys() {
                out.insert(format!("{ptr} (server block {zone})"));
            }
        }
    }
    out.into_iter().collect()
}

/// Splits a changed object's fields into the team's (under either side's intent pointers, or
/// the server blocks of a Corefile other than the root zone's) and the platforms' (the rest).
fn split_fields(
    d: &ObjectDiff,
    old_entry: &Entry,
    new_entry: &Entry,
    old: Option<&Value>,
    new: Option<&Value>,
) -> (Vec<FieldDiff>, Vec<FieldDiff>) {
    let (mut team, mut platform) = (Vec::new(), Vec::new());
    let corefile = old_entry.corefile.clone().or_else(|| new_entry.corefile.clone());
    for f in &d.fields {
        let path = f.change.key_path();
        let pointer: String = path.iter().map(|k| format!("/{}", crate::rules::pattern::escape_segment(k))).collect();
        if corefile.as_deref() == Some(pointer.as_str()) {
            platform.push(f.clone());
            continue;
        }
        let is_intent = old_entry.intent.iter().chain(&new_entry.intent).any(|p| p.covers(&path));
        if is_intent { team.push(f.clone()) } else { platform.push(f.clone()) }
    }
    // The Corefile's team part: server blocks compared by zone.
    if let Some(ptr) = corefile {
        let blocks = |v: Option<&Value>| {
            v.and_then(|v| v.pointer(&ptr)).and_then(Value::as_str).map(corefile::team_blocks).unwrap_or_default()
        };
        let (a, b) = (blocks(old), blocks(new));
        let zones: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        let mut base: Vec<Segment> =
            ptr.split('/').skip(1).map(|s| Segment::Key(s.replace("~1", "/").replace("~0", "~"))).collect();
        for zone in zones {
            let (x, y) = (a.get(zone), b.get(zone));
            if x != y {
                let mut path = base.clone();
                path.push(Segment::Key(format!("server block {zone}")));
                let text = |v: Option<&Vec<String>>| v.map(|l| Value::String(l.join("\n")));
                team.push(FieldDiff {
                    change: crate::diff::FieldChange { path, old: text(x), new: text(y) },
                    waived: None,
                    hidden: false,
                    written_by: Default::default(),
                });
            }
        }
        base.clear();
    }
    (team, platform)
}

#[cfg(test)]
mod tests;
