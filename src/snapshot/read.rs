//! Reads an archive, verifying it on the way: every reader (`verify`, `diff`) goes through here,
//! so a truncated, corrupted, tampered or unauthenticated archive is refused the same way
//! everywhere, and nothing read from it is used before the whole file has checked out.
//!
//! Reading is bounded: no line may exceed `ReadLimits::max_line` bytes and the decompressed
//! stream may not exceed `ReadLimits::max_total`, so a hostile file (a zstd bomb, one endless
//! line) is refused with a clear error instead of exhausting memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use hmac::Mac;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::SnapshotError;
use super::format::*;
use crate::dump::key_of;
use crate::model::{ApiType, ObjectKey};
use crate::schema::SchemaRecord;
use crate::secrets::SecretKey;

/// What a reader receives, in file order.
pub enum Event<'a> {
    Header(&'a Header),
    Object(&'a ApiType, Value),
}

/// Bounds on what a reader accepts from an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// The longest line, in bytes. Kubernetes objects are at most a few MiB (the API server's
    /// request limit is 3 MiB, etcd's value limit 1.5 MiB); format 2 keeps every other line
    /// small too.
    pub max_line: u64,
    /// The most decompressed bytes in all.
    pub max_total: u64,
}

/// 64 MiB per line.
pub const DEFAULT_MAX_LINE: u64 = 64 << 20;
/// 8 GiB decompressed.
pub const DEFAULT_MAX_TOTAL: u64 = 8 << 30;

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits { max_line: DEFAULT_MAX_LINE, max_total: DEFAULT_MAX_TOTAL }
    }
}

/// How an archive is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions<'a> {
    /// The user's key: when given, an archive not authenticated under it is refused.
    pub key: Option<&'a SecretKey>,
    pub limits: ReadLimits,
}

/// What proved the archive's origin, beyond its self-consistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// The HMAC seal checked out under the given key (whose fingerprint the header names).
    Hmac { fingerprint: String },
    /// No key was given: the checksums are consistent, but anyone can recompute them.
    None,
}

/// A verified archive's header and trailer.
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Header,
    pub trailer: Trailer,
    pub sha256: String,
    pub authentication: Authentication,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    /// The field semantics recorded after the header (`None`: an archive of an older kparity).
    pub semantics: Option<SchemaRecord>,
}

impl Verified {
    /// The archive's format version (1 is the older scheme, still read).
    pub fn format_version(&self) -> u32 {
        self.header.version
    }
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Reads and verifies `path` with the default limits. See `read_with`.
pub fn read(path: &Path, key: Option<&SecretKey>, visit: impl FnMut(Event<'_>)) -> Result<Verified, SnapshotError> {
    read_with(path, &ReadOptions { key, limits: ReadLimits::default() }, visit)
}

/// Where a format 2 reader is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Objects,
    Manifest,
    Trailer,
}

/// Reads and verifies `path`, handing each object to `visit` as it streams by. Returns an error
/// (and the caller must discard whatever it built) unless the whole archive is intact, and,
/// when a key is given, authenticated under that key.
pub fn read_with(
    path: &Path,
    opts: &ReadOptions<'_>,
    mut visit: impl FnMut(Event<'_>),
) -> Result<Verified, SnapshotError> {
    let io = |e: std::io::Error| SnapshotError::Io { path: path.to_path_buf(), source: e };
    let limits = opts.limits;
    let mut file = File::open(path).map_err(io)?;
    let compressed_bytes = file.metadata().map_err(io)?.len();
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut file, &mut magic).map_err(io)?;
    if got == 0 {
        return Err(SnapshotError::NotArchive { detail: "the file is empty".into() });
    }
    if got < 4 || magic != ZSTD_MAGIC {
        return Err(SnapshotError::NotArchive { detail: "it is not zstd-compressed (kparity archives are)".into() });
    }
    let file = File::open(path).map_err(io)?;
    let decoder = zstd::stream::read::Decoder::new(file).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 16, decoder);

    let mut sha = Sha256::new();
    let mut mac: Option<hmac::Hmac<Sha256>> = None;
    let mut header: Option<Header> = None;
    let mut version = 0u32;
    let mut current: Option<(TypeRecord, ApiType)> = None;
    // Type records in file order, with the number of objects that followed each.
    let mut types_seen: Vec<(TypeRecord, u64)> = Vec::new();
    let mut last_key: Option<(Option<String>, String)> = None;
    let mut phase = Phase::Objects;
    let mut trailer: Option<Trailer> = None;
    // Objects and manifest entries are each folded into a running hash of (key hash, line
    // SHA-256) pairs and compared at the end: memory stays constant however many objects an
    // archive holds. Only on a mismatch is the file read again, object and manifest in
    // lockstep, to name the object.
    let mut objects_chain = Sha256::new();
    let mut manifest_chain = Sha256::new();
    let mut objects_seen = 0u64;
    let mut manifest_seen = 0u64;
    let mut seal: Option<Seal> = None;
    let mut semantics: Option<SchemaRecord> = None;
    let mut uncompressed_bytes = 0u64;
    let mut line = Vec::with_capacity(4096);
    let mut n = 0usize;
    loop {
        line.clear();
        let read = (&mut reader).take(limits.max_line.saturating_add(1)).read_until(b'\n', &mut line).map_err(|e| {
            SnapshotError::Corrupt { detail: format!("the compressed stream is damaged or truncated ({e})") }
        })?;
        if read == 0 {
            break;
        }
        n += 1;
        if read as u64 > limits.max_line {
            return Err(SnapshotError::TooLarge {
                detail: format!(
                    "line {n} is longer than the limit of {} (no kparity archive line is; raise --archive-max-line only \
                     for an archive you trust)",
                    human_bytes(limits.max_line)
                ),
            });
        }
        uncompressed_bytes += read as u64;
        if uncompressed_bytes > limits.max_total {
            return Err(SnapshotError::TooLarge {
                detail: format!(
                    "it decompresses to more than the limit of {} (raise --archive-max-size for a genuinely larger archive)",
                    human_bytes(limits.max_total)
                ),
            });
        }
        if seal.is_some() {
            return Err(SnapshotError::Malformed { line: n, detail: "data after the seal".into() });
        }
        if line.last() != Some(&b'\n') {
            return Err(SnapshotError::Truncated { detail: format!("line {n} is cut off") });
        }
        let value: Value = serde_json::from_slice(&line).map_err(|e| {
            if n == 1 {
                SnapshotError::NotArchive { detail: "its first line is not a kparity header".into() }
            } else {
                SnapshotError::Malformed { line: n, detail: format!("not JSON: {e}") }
            }
        })?;
        let marker = value.as_object().filter(|m| m.len() == 1).and_then(|m| m.keys().next().cloned());
        if marker.as_deref() == Some(SEAL_KEY) {
            let s: Seal = serde_json::from_value(value[SEAL_KEY].clone())
                .map_err(|e| SnapshotError::Malformed { line: n, detail: format!("seal: {e}") })?;
            seal = Some(s);
            continue;
        }
        if n == 1 {
            let h = parse_header(&value)?;
            version = h.version;
            if let Some(key) = opts.key {
                mac = Some(check_key(&h, key)?);
            }
            visit(Event::Header(&h));
            header = Some(h);
        }
        sha.update(&line);
        if let Some(m) = &mut mac {
            m.update(&line);
        }
        if n == 1 {
            continue;
        }
        if trailer.is_some() {
            return Err(SnapshotError::Malformed { line: n, detail: "data after the trailer".into() });
        }
        match marker.as_deref() {
            Some(SEMANTICS_KEY) if n == 2 => {
                let r: SchemaRecord = serde_json::from_value(value[SEMANTICS_KEY].clone())
                    .map_err(|e| SnapshotError::Malformed { line: n, detail: format!("semantics record: {e}") })?;
                semantics = Some(r);
            }
            Some(SEMANTICS_KEY) => {
                return Err(SnapshotError::Malformed {
                    line: n,
                    detail: "a semantics record not right after the header".into(),
                });
            }
            Some(TYPE_KEY) => {
                if phase != Phase::Objects {
                    return Err(SnapshotError::Malformed {
                        line: n,
                        detail: "a type record after the manifest".into(),
                    });
                }
                let t: TypeRecord = serde_json::from_value(value[TYPE_KEY].clone())
                    .map_err(|e| SnapshotError::Malformed { line: n, detail: format!("type record: {e}") })?;
                if version >= 2 && types_seen.last().is_some_and(|(prev, _)| *prev >= t) {
                    return Err(SnapshotError::Tampered {
                        detail: format!(
                            "type {}/{} {} at line {n} is out of order or repeated (types are written sorted, each once)",
                            t.group, t.version, t.resource
                        ),
                    });
                }
                types_seen.push((t.clone(), 0));
                last_key = None;
                current = Some((t.clone(), ApiType::from(&t)));
            }
            Some(TRAILER_KEY) => {
                let t: Trailer = serde_json::from_value(value[TRAILER_KEY].clone())
                    .map_err(|e| SnapshotError::Malformed { line: n, detail: format!("trailer: {e}") })?;
                if version >= 2 && !t.manifest.is_empty() {
                    return Err(SnapshotError::Malformed {
                        line: n,
                        detail: "a format 2 trailer holds no manifest (it is in manifest lines)".into(),
                    });
                }
                phase = Phase::Trailer;
                trailer = Some(t);
            }
            Some(MANIFEST_KEY) if version >= 2 => {
                let entries: Vec<ManifestEntry> = serde_json::from_value(value[MANIFEST_KEY].clone())
                    .map_err(|e| SnapshotError::Malformed { line: n, detail: format!("manifest: {e}") })?;
                phase = Phase::Manifest;
                manifest_seen += entries.len() as u64;
                if manifest_seen > objects_seen {
                    return Err(SnapshotError::Tampered {
                        detail: format!("the manifest lists more objects than the archive holds ({objects_seen})"),
                    });
                }
                for e in &entries {
                    chain(&mut manifest_chain, entry_hash(e), e.4.as_bytes());
                }
            }
            Some(HEADER_KEY) => return Err(SnapshotError::Malformed { line: n, detail: "a second header".into() }),
            _ => {
                if phase != Phase::Objects {
                    return Err(SnapshotError::Malformed { line: n, detail: "an object after the manifest".into() });
                }
                let (_, ty) = current
                    .as_ref()
                    .ok_or(SnapshotError::Malformed { line: n, detail: "an object before any type record".into() })?;
                let key = key_of(ty, &value);
                if version >= 2 {
                    let sort_key = (key.namespace.clone(), key.name.clone());
                    if last_key.as_ref().is_some_and(|prev| *prev >= sort_key) {
                        return Err(SnapshotError::Tampered {
                            detail: format!(
                                "object {key} at line {n} is out of order or repeated (objects are written sorted by \
                                 namespace and name, each once)"
                            ),
                        });
                    }
                    last_key = Some(sort_key);
                }
                if let Some(last) = types_seen.last_mut() {
                    last.1 += 1;
                }
                objects_seen += 1;
                let digest = hex::encode(Sha256::digest(&line));
                chain(
                    &mut objects_chain,
                    key_hash(&key.group, &key.kind, key.namespace.as_deref(), &key.name),
                    digest.as_bytes(),
                );
                visit(Event::Object(ty, value));
            }
        }
    }
    let header = header.ok_or(SnapshotError::NotArchive { detail: "it is empty once decompressed".into() })?;
    let trailer = trailer
        .ok_or(SnapshotError::Truncated { detail: "the trailer (completeness and manifest) is missing".into() })?;
    let seal = seal.ok_or(SnapshotError::Truncated { detail: "the integrity seal is missing".into() })?;
    if version < 2 {
        // Format 1 keeps its manifest in the trailer line (bounded by the line limit).
        manifest_seen = trailer.manifest.len() as u64;
        for e in &trailer.manifest {
            chain(&mut manifest_chain, entry_hash(e), e.4.as_bytes());
        }
    }

    // Per-object check first: it names the object that was changed.
    if manifest_seen != objects_seen || trailer.object_count != objects_seen {
        return Err(SnapshotError::Tampered {
            detail: format!(
                "the manifest lists {manifest_seen} objects (the trailer counts {}) but the archive holds {objects_seen}",
                trailer.object_count,
            ),
        });
    }
    if objects_chain.finalize() != manifest_chain.finalize() {
        return Err(locate_manifest_mismatch(path, &trailer, limits));
    }
    // Per-type counts: each type record is followed by exactly the objects its status counts.
    if trailer.types.len() != types_seen.len() {
        return Err(SnapshotError::Tampered {
            detail: format!(
                "the trailer lists {} types but the archive holds {} type records",
                trailer.types.len(),
                types_seen.len()
            ),
        });
    }
    for (status, (ty, count)) in trailer.types.iter().zip(&types_seen) {
        if status.ty != *ty {
            return Err(SnapshotError::Tampered {
                detail: format!(
                    "the trailer lists type {}/{} {} where the archive holds {}/{} {}",
                    status.ty.group, status.ty.version, status.ty.resource, ty.group, ty.version, ty.resource
                ),
            });
        }
        if status.count != *count {
            return Err(SnapshotError::Tampered {
                detail: format!(
                    "the trailer counts {} objects of {}/{} {} but the archive holds {count}",
                    status.count, ty.group, ty.version, ty.resource
                ),
            });
        }
    }
    let sha256 = hex::encode(sha.finalize());
    if sha256 != seal.sha256 {
        return Err(SnapshotError::Tampered {
            detail: "the content does not match the archive's SHA-256 seal (modified after it was written)".into(),
        });
    }
    let authentication = match (mac, &seal.hmac_sha256) {
        (Some(m), Some(expected)) => {
            let expected = hex::decode(expected)
                .map_err(|_| SnapshotError::Tampered { detail: "the HMAC seal is not a hex digest".into() })?;
            // Constant-time comparison of the tag.
            m.verify_slice(&expected).map_err(|_| SnapshotError::Tampered {
                detail: "the HMAC seal does not match under the given secret key (the archive was modified)".into(),
            })?;
            Authentication::Hmac { fingerprint: header.secret_key_fingerprint.clone().unwrap_or_default() }
        }
        (Some(_), None) => {
            return Err(SnapshotError::Unauthenticated {
                detail: "it has no HMAC seal although its header names a key (the seal was removed), so it cannot be \
                         authenticated under the given key"
                    .into(),
            });
        }
        (None, _) => Authentication::None,
    };
    Ok(Verified { header, trailer, sha256, authentication, compressed_bytes, uncompressed_bytes, semantics })
}

/// Folds one (key hash, hex digest) pair into a running hash.
fn chain(h: &mut Sha256, key_hash: u64, hex_digest: &[u8]) {
    h.update(key_hash.to_be_bytes());
    h.update((hex_digest.len() as u64).to_be_bytes());
    h.update(hex_digest);
}

fn entry_hash(e: &ManifestEntry) -> u64 {
    key_hash(&e.0, &e.1, e.2.as_deref(), &e.3)
}

/// Reads the archive again, its objects and its manifest side by side, and names the first
/// object that does not match its entry. Only called once the archive is known to be tampered.
fn locate_manifest_mismatch(path: &Path, trailer: &Trailer, limits: ReadLimits) -> SnapshotError {
    let generic = || SnapshotError::Tampered { detail: "the objects do not match the manifest".into() };
    let open = || -> Option<LineReader> { LineReader::open(path, limits) };
    let (Some(mut objects), Some(mut manifest_lines)) = (open(), open()) else { return generic() };
    let mut queue: std::collections::VecDeque<ManifestEntry> = trailer.manifest.iter().cloned().collect();
    let from_lines = trailer.manifest.is_empty();
    let mut current: Option<ApiType> = None;
    let mut i = 0usize;
    while let Some(line) = objects.next_line() {
        let Ok(value) = serde_json::from_slice::<Value>(&line) else { return generic() };
        let marker = value.as_object().filter(|m| m.len() == 1).and_then(|m| m.keys().next().cloned());
        match marker.as_deref() {
            Some(HEADER_KEY | SEMANTICS_KEY) => continue,
            Some(TYPE_KEY) => {
                let Ok(t) = serde_json::from_value::<TypeRecord>(value[TYPE_KEY].clone()) else { return generic() };
                current = Some(ApiType::from(&t));
                continue;
            }
            Some(MANIFEST_KEY | TRAILER_KEY | SEAL_KEY) => break,
            _ => {}
        }
        let Some(ty) = &current else { return generic() };
        let key = key_of(ty, &value);
        // The next manifest entry: from the trailer (format 1) or the manifest lines (format 2).
        while from_lines && queue.is_empty() {
            let Some(l) = manifest_lines.next_line() else { return generic() };
            let Ok(v) = serde_json::from_slice::<Value>(&l) else { return generic() };
            if let Some(entries) = v.get(MANIFEST_KEY) {
                let Ok(entries) = serde_json::from_value::<Vec<ManifestEntry>>(entries.clone()) else {
                    return generic();
                };
                queue.extend(entries);
            }
        }
        let Some(entry) = queue.pop_front() else { return generic() };
        i += 1;
        let listed = ObjectKey {
            group: entry.0.clone(),
            kind: entry.1.clone(),
            namespace: entry.2.clone(),
            name: entry.3.clone(),
        };
        if listed != key {
            return SnapshotError::Tampered {
                detail: format!("object #{i} is {key}, but the manifest lists {listed} there"),
            };
        }
        if entry.4 != hex::encode(Sha256::digest(&line)) {
            return SnapshotError::Tampered {
                detail: format!("object {key} does not match its SHA-256 in the manifest"),
            };
        }
    }
    generic()
}

/// Lines of an archive (already checked once), for the second, locating pass.
struct LineReader {
    reader: BufReader<zstd::stream::read::Decoder<'static, BufReader<File>>>,
    max_line: u64,
    buf: Vec<u8>,
}

impl LineReader {
    fn open(path: &Path, limits: ReadLimits) -> Option<LineReader> {
        let decoder = zstd::stream::read::Decoder::new(File::open(path).ok()?).ok()?;
        Some(LineReader { reader: BufReader::new(decoder), max_line: limits.max_line, buf: Vec::new() })
    }

    fn next_line(&mut self) -> Option<Vec<u8>> {
        self.buf.clear();
        let n = (&mut self.reader).take(self.max_line.saturating_add(1)).read_until(b'\n', &mut self.buf).ok()?;
        (n > 0 && n as u64 <= self.max_line).then(|| self.buf.clone())
    }
}

/// A 64-bit hash of an object key (length-prefixed fields), to match objects to manifest entries.
fn key_hash(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> u64 {
    let mut h = Sha256::new();
    for part in [Some(group), Some(kind), namespace, Some(name)] {
        match part {
            Some(p) => {
                h.update([1u8]);
                h.update((p.len() as u64).to_be_bytes());
                h.update(p.as_bytes());
            }
            None => h.update([0u8]),
        }
    }
    let d = h.finalize();
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// With a key given, the header must name that key (under the archive's scheme); returns the
/// MAC to check the seal with.
fn check_key(h: &Header, key: &SecretKey) -> Result<hmac::Hmac<Sha256>, SnapshotError> {
    let (expected, mac) = if h.version == 1 {
        (key.legacy_fingerprint(), key.legacy_seal_mac())
    } else {
        (key.fingerprint().to_string(), key.seal_mac())
    };
    match &h.secret_key_fingerprint {
        None => Err(SnapshotError::Unauthenticated {
            detail: "it was written without a secret key, so it carries no HMAC seal and cannot be authenticated \
                     under the given key"
                .into(),
        }),
        Some(found) if *found != expected => Err(SnapshotError::WrongKey { archive: found.clone(), given: expected }),
        Some(_) => Ok(mac),
    }
}

/// The semantics record of an archive, read ahead of the verified read so both sides of a diff
/// can agree on one set of semantics before either is normalized. Unverified by itself: the
/// verified read that follows refuses the archive (and everything built from it) if any byte of
/// it was changed, with the same message every reader gives; so anything unreadable here is
/// simply `None`, left for that read to report. Lines are bounded by `limits` like every read.
pub fn read_semantics(path: &Path, limits: ReadLimits) -> Option<SchemaRecord> {
    let mut lines = LineReader::open(path, limits)?;
    let header: Value = serde_json::from_slice(&lines.next_line()?).ok()?;
    parse_header(&header).ok()?;
    let second: Value = serde_json::from_slice(&lines.next_line()?).ok()?;
    second.get(SEMANTICS_KEY).and_then(|r| serde_json::from_value(r.clone()).ok())
}

fn parse_header(value: &Value) -> Result<Header, SnapshotError> {
    let Some(h) = value.get(HEADER_KEY) else {
        return Err(SnapshotError::NotArchive { detail: "its first line is not a kparity header".into() });
    };
    if h.get("format").and_then(Value::as_str) != Some(FORMAT_NAME) {
        return Err(SnapshotError::NotArchive {
            detail: "its header does not name the kparity-snapshot format".into(),
        });
    }
    match h.get("version").and_then(Value::as_u64) {
        Some(v) if (u64::from(OLDEST_READABLE_VERSION)..=u64::from(FORMAT_VERSION)).contains(&v) => {}
        Some(v) => return Err(SnapshotError::UnsupportedVersion { found: v, supported: FORMAT_VERSION }),
        None => return Err(SnapshotError::Malformed { line: 1, detail: "the header has no format version".into() }),
    }
    serde_json::from_value(h.clone()).map_err(|e| SnapshotError::Malformed { line: 1, detail: format!("header: {e}") })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// `64 MiB`, `8 GiB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} B")
}

/// Parses `512`, `64K`, `64M`, `8G` (binary units; an optional `iB`/`B` suffix).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("iB").or_else(|| t.strip_suffix('B')).unwrap_or(t);
    let (num, shift) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 10),
        Some('M' | 'm') => (&t[..t.len() - 1], 20),
        Some('G' | 'g') => (&t[..t.len() - 1], 30),
        Some('T' | 't') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = num.trim().parse().map_err(|_| format!("invalid size {s:?}: write e.g. 64M or 8G"))?;
    let v = n.checked_shl(shift).filter(|v| v >> shift == n).ok_or_else(|| format!("size {s:?} is too large"))?;
    if v == 0 {
        return Err("a size limit must be positive".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(human_bytes(DEFAULT_MAX_LINE), "64 MiB");
        assert_eq!(human_bytes(DEFAULT_MAX_TOTAL), "8 GiB");
        assert_eq!(human_bytes(1000), "1000 B");
    }
}
