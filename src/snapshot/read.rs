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
    let limits = opts.limits;
    let (mut reader, compressed_bytes) = open_stream(path)?;
    let mut verifier = Verifier::new(opts);
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
        verifier.bound(n, read as u64)?;
        verifier.line(n, &line, &mut visit)?;
    }
    verifier.finish(path, compressed_bytes)
}

/// An archive's decompressed stream, buffered for reading line by line.
type Stream = BufReader<zstd::stream::read::Decoder<'static, BufReader<File>>>;

/// Opens the archive's decompressed stream, refusing a file that is not zstd at all, and
/// returns it with the file's size.
fn open_stream(path: &Path) -> Result<(Stream, u64), SnapshotError> {
    let io = |e: std::io::Error| SnapshotError::Io { path: path.to_path_buf(), source: e };
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
    Ok((BufReader::with_capacity(1 << 16, decoder), compressed_bytes))
}

/// The state of one archive's verification as its lines stream by: the running seal and HMAC,
/// where the reader is in the file, the running object and manifest hashes, and what it found.
/// Objects and manifest entries are each folded into a running hash of (key hash, line SHA-256)
/// pairs and compared at the end: memory stays constant however many objects an archive holds.
/// Only on a mismatch is the file read again, object and manifest in lockstep, to name the object.
struct Verifier<'o> {
    opts: &'o ReadOptions<'o>,
    sha: Sha256,
    mac: Option<hmac::Hmac<Sha256>>,
    header: Option<Header>,
    version: u32,
    current: Option<ApiType>,
    /// Type records in file order, with the number of objects that followed each.
    types_seen: Vec<(TypeRecord, u64)>,
    last_key: Option<(Option<String>, String)>,
    phase: Phase,
    trailer: Option<Trailer>,
    objects_chain: Sha256,
    manifest_chain: Sha256,
    objects_seen: u64,
    manifest_seen: u64,
    seal: Option<Seal>,
    semantics: Option<SchemaRecord>,
    uncompressed_bytes: u64,
}

impl<'o> Verifier<'o> {
    fn new(opts: &'o ReadOptions<'o>) -> Self {
        Verifier {
            opts,
            sha: Sha256::new(),
            mac: None,
            header: None,
            version: 0,
            current: None,
            types_seen: Vec::new(),
            last_key: None,
            phase: Phase::Objects,
            trailer: None,
            objects_chain: Sha256::new(),
            manifest_chain: Sha256::new(),
            objects_seen: 0,
            manifest_seen: 0,
            seal: None,
            semantics: None,
            uncompressed_bytes: 0,
        }
    }

    /// Line `n` of `read` bytes keeps within the limits.
    fn bound(&mut self, n: usize, read: u64) -> Result<(), SnapshotError> {
        let limits = self.opts.limits;
        if read > limits.max_line {
            return Err(SnapshotError::TooLarge {
                detail: format!(
                    "line {n} is longer than the limit of {} (no kparity archive line is; raise --archive-max-line only \
                     for an archive you trust)",
                    human_bytes(limits.max_line)
                ),
            });
        }
        self.uncompressed_bytes += read;
        if self.uncompressed_bytes > limits.max_total {
            return Err(SnapshotError::TooLarge {
                detail: format!(
                    "it decompresses to more than the limit of {} (raise --archive-max-size for a genuinely larger archive)",
                    human_bytes(limits.max_total)
                ),
            });
        }
        Ok(())
    }

    /// One line: the seal, the header, or (sealed and MACed) a record or an object.
    fn line(&mut self, n: usize, line: &[u8], visit: &mut impl FnMut(Event<'_>)) -> Result<(), SnapshotError> {
        if self.seal.is_some() {
            return Err(SnapshotError::Malformed { line: n, detail: "data after the seal".into() });
        }
        if line.last() != Some(&b'\n') {
            return Err(SnapshotError::Truncated { detail: format!("line {n} is cut off") });
        }
        let value: Value = serde_json::from_slice(line).map_err(|e| {
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
            self.seal = Some(s);
            return Ok(());
        }
        if n == 1 {
            let h = parse_header(&value)?;
            self.version = h.version;
            if let Some(key) = self.opts.key {
                self.mac = Some(check_key(&h, key)?);
            }
            visit(Event::Header(&h));
            self.header = Some(h);
        }
        self.sha.update(line);
        if let Some(m) = &mut self.mac {
            m.update(line);
        }
        if n == 1 {
            return Ok(());
        }
        if self.trailer.is_some() {
            return Err(SnapshotError::Malformed { line: n, detail: "data after the trailer".into() });
        }
        self.record(n, line, marker.as_deref(), value, visit)
    }

    /// A line after the header: the semantics record, a type record, the trailer, manifest
    /// lines, or an object of the current type.
    fn record(
        &mut self,
        n: usize,
        line: &[u8],
        marker: Option<&str>,
        value: Value,
        visit: &mut impl FnMut(Event<'_>),
    ) -> Result<(), SnapshotError> {
        let malformed = |detail: String| SnapshotError::Malformed { line: n, detail };
        match marker {
            Some(SEMANTICS_KEY) if n == 2 => {
                let r: SchemaRecord = serde_json::from_value(value[SEMANTICS_KEY].clone())
                    .map_err(|e| malformed(format!("semantics record: {e}")))?;
                self.semantics = Some(r);
            }
            Some(SEMANTICS_KEY) => return Err(malformed("a semantics record not right after the header".into())),
            Some(TYPE_KEY) => {
                if self.phase != Phase::Objects {
                    return Err(malformed("a type record after the manifest".into()));
                }
                let t: TypeRecord = serde_json::from_value(value[TYPE_KEY].clone())
                    .map_err(|e| malformed(format!("type record: {e}")))?;
                if self.version >= 2 && self.types_seen.last().is_some_and(|(prev, _)| *prev >= t) {
                    return Err(SnapshotError::Tampered {
                        detail: format!(
                            "type {}/{} {} at line {n} is out of order or repeated (types are written sorted, each once)",
                            t.group, t.version, t.resource
                        ),
                    });
                }
                self.last_key = None;
                self.current = Some(ApiType::from(&t));
                self.types_seen.push((t, 0));
            }
            Some(TRAILER_KEY) => {
                let t: Trailer = serde_json::from_value(value[TRAILER_KEY].clone())
                    .map_err(|e| malformed(format!("trailer: {e}")))?;
                if self.version >= 2 && !t.manifest.is_empty() {
                    return Err(malformed("a format 2 trailer holds no manifest (it is in manifest lines)".into()));
                }
                self.phase = Phase::Trailer;
                self.trailer = Some(t);
            }
            Some(MANIFEST_KEY) if self.version >= 2 => {
                let entries: Vec<ManifestEntry> = serde_json::from_value(value[MANIFEST_KEY].clone())
                    .map_err(|e| malformed(format!("manifest: {e}")))?;
                self.phase = Phase::Manifest;
                self.manifest_seen += entries.len() as u64;
                if self.manifest_seen > self.objects_seen {
                    return Err(SnapshotError::Tampered {
                        detail: format!(
                            "the manifest lists more objects than the archive holds ({})",
                            self.objects_seen
                        ),
                    });
                }
                for e in &entries {
                    chain(&mut self.manifest_chain, entry_hash(e), e.4.as_bytes());
                }
            }
            Some(HEADER_KEY) => return Err(malformed("a second header".into())),
            _ => self.object(n, line, value, visit)?,
        }
        Ok(())
    }

    /// An object: after its type record and before the manifest, in order (format 2), folded
    /// into the objects hash, then handed to `visit`.
    fn object(
        &mut self,
        n: usize,
        line: &[u8],
        value: Value,
        visit: &mut impl FnMut(Event<'_>),
    ) -> Result<(), SnapshotError> {
        if self.phase != Phase::Objects {
            return Err(SnapshotError::Malformed { line: n, detail: "an object after the manifest".into() });
        }
        let ty = self
            .current
            .as_ref()
            .ok_or(SnapshotError::Malformed { line: n, detail: "an object before any type record".into() })?;
        let key = key_of(ty, &value);
        if self.version >= 2 {
            let sort_key = (key.namespace.clone(), key.name.clone());
            if self.last_key.as_ref().is_some_and(|prev| *prev >= sort_key) {
                return Err(SnapshotError::Tampered {
                    detail: format!(
                        "object {key} at line {n} is out of order or repeated (objects are written sorted by \
                         namespace and name, each once)"
                    ),
                });
            }
            self.last_key = Some(sort_key);
        }
        if let Some(last) = self.types_seen.last_mut() {
            last.1 += 1;
        }
        self.objects_seen += 1;
        let digest = hex::encode(Sha256::digest(line));
        chain(
            &mut self.objects_chain,
            key_hash(&key.group, &key.kind, key.namespace.as_deref(), &key.name),
            digest.as_bytes(),
        );
        visit(Event::Object(ty, value));
        Ok(())
    }

    /// The end of the file: every part present, the manifest and the per-type counts matching
    /// what was read, the SHA-256 seal, and the HMAC seal under the given key.
    fn finish(mut self, path: &Path, compressed_bytes: u64) -> Result<Verified, SnapshotError> {
        let header =
            self.header.take().ok_or(SnapshotError::NotArchive { detail: "it is empty once decompressed".into() })?;
        let trailer = self
            .trailer
            .take()
            .ok_or(SnapshotError::Truncated { detail: "the trailer (completeness and manifest) is missing".into() })?;
        let seal =
            self.seal.take().ok_or(SnapshotError::Truncated { detail: "the integrity seal is missing".into() })?;
        if self.version < 2 {
            // Format 1 keeps its manifest in the trailer line (bounded by the line limit).
            self.manifest_seen = trailer.manifest.len() as u64;
            for e in &trailer.manifest {
                chain(&mut self.manifest_chain, entry_hash(e), e.4.as_bytes());
            }
        }
        self.check_manifest(path, &trailer)?;
        self.check_types(&trailer)?;
        let sha256 = hex::encode(self.sha.finalize());
        if sha256 != seal.sha256 {
            return Err(SnapshotError::Tampered {
                detail: "the content does not match the archive's SHA-256 seal (modified after it was written)".into(),
            });
        }
        let authentication = authenticate(self.mac, &seal, &header)?;
        Ok(Verified {
            header,
            trailer,
            sha256,
            authentication,
            compressed_bytes,
            uncompressed_bytes: self.uncompressed_bytes,
            semantics: self.semantics,
        })
    }

    /// The manifest lists exactly the objects read, each with its line's digest. Checked
    /// before the counts per type: it names the object that was changed.
    fn check_manifest(&mut self, path: &Path, trailer: &Trailer) -> Result<(), SnapshotError> {
        let (manifest_seen, objects_seen) = (self.manifest_seen, self.objects_seen);
        if manifest_seen != objects_seen || trailer.object_count != objects_seen {
            return Err(SnapshotError::Tampered {
                detail: format!(
                    "the manifest lists {manifest_seen} objects (the trailer counts {}) but the archive holds {objects_seen}",
                    trailer.object_count,
                ),
            });
        }
        let objects = std::mem::take(&mut self.objects_chain).finalize();
        let manifest = std::mem::take(&mut self.manifest_chain).finalize();
        if objects != manifest {
            return Err(locate_manifest_mismatch(path, trailer, self.opts.limits));
        }
        Ok(())
    }

    /// Per-type counts: each type record is followed by exactly the objects its status counts.
    fn check_types(&self, trailer: &Trailer) -> Result<(), SnapshotError> {
        if trailer.types.len() != self.types_seen.len() {
            return Err(SnapshotError::Tampered {
                detail: format!(
                    "the trailer lists {} types but the archive holds {} type records",
                    trailer.types.len(),
                    self.types_seen.len()
                ),
            });
        }
        for (status, (ty, count)) in trailer.types.iter().zip(&self.types_seen) {
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
        Ok(())
    }
}

/// The HMAC seal under the given key, compared in constant time; without a key, none.
fn authenticate(
    mac: Option<hmac::Hmac<Sha256>>,
    seal: &Seal,
    header: &Header,
) -> Result<Authentication, SnapshotError> {
    match (mac, &seal.hmac_sha256) {
        (Some(m), Some(expected)) => {
            let expected = hex::decode(expected)
                .map_err(|_| SnapshotError::Tampered { detail: "the HMAC seal is not a hex digest".into() })?;
            m.verify_slice(&expected).map_err(|_| SnapshotError::Tampered {
                detail: "the HMAC seal does not match under the given secret key (the archive was modified)".into(),
            })?;
            Ok(Authentication::Hmac { fingerprint: header.secret_key_fingerprint.clone().unwrap_or_default() })
        }
        (Some(_), None) => Err(SnapshotError::Unauthenticated {
            detail: "it has no HMAC seal although its header names a key (the seal was removed), so it cannot be \
                     authenticated under the given key"
                .into(),
        }),
        (None, _) => Ok(Authentication::None),
    }
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

/// What an archive says about itself before its objects: enough to plan a comparison (the
/// rules in force between two versions, the field semantics) without reading it through.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Opening {
    /// The `gitVersion` of the server it was taken from, as its header records it.
    pub kubernetes_version: Option<String>,
    /// Its schema record; `None` for an archive of an older kparity.
    pub schemas: Option<SchemaRecord>,
}

/// Reads an archive's header and schema record. Nothing here is verified yet: the full read
/// (`read_with`) verifies the whole file, header included, and refuses it if anything differs,
/// so a forged header can change what is planned only for a comparison that is then refused
/// (and the version it read is checked against the verified one, `Opening::check_read`). An
/// unreadable opening is empty: the full read reports why.
pub fn read_opening(path: &Path, limits: ReadLimits) -> Opening {
    let Some(mut lines) = LineReader::open(path, limits) else { return Opening::default() };
    let Some(header) = lines.next_line().and_then(|l| serde_json::from_slice::<Value>(&l).ok()) else {
        return Opening::default();
    };
    let Ok(header) = parse_header(&header) else { return Opening::default() };
    let schemas = lines
        .next_line()
        .and_then(|l| serde_json::from_slice::<Value>(&l).ok())
        .and_then(|second| second.get(SEMANTICS_KEY).and_then(|r| serde_json::from_value(r.clone()).ok()));
    Opening { kubernetes_version: header.kubernetes_version, schemas }
}

impl Opening {
    /// The verified read of the same file must say what this opening planned with (the
    /// version that chose the rules, the schema record that set the semantics): otherwise the
    /// file was replaced in between, and the comparison would rest on another file's plan.
    pub fn check_read(&self, path: &Path, verified: &Verified) -> Result<(), SnapshotError> {
        let version = verified.header.kubernetes_version.as_deref();
        if self.kubernetes_version.as_deref() == version && self.schemas == verified.semantics {
            return Ok(());
        }
        Err(SnapshotError::Tampered {
            detail: format!(
                "{} changed while it was read: its header and schema record first said Kubernetes {}, then {}{}",
                path.display(),
                self.kubernetes_version.as_deref().unwrap_or("unknown"),
                version.unwrap_or("unknown"),
                if self.schemas == verified.semantics { "" } else { ", with another schema record" }
            ),
        })
    }
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
