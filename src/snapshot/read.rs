//! Reads an archive, verifying it on the way: every reader (`verify`, `diff`) goes through here,
//! so a truncated, corrupted or tampered archive is refused the same way everywhere, and nothing
//! read from it is used before the whole file has checked out.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use hmac::Mac;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::SnapshotError;
use super::format::*;
use crate::dump::key_of;
use crate::model::ApiType;
use crate::schema::SchemaRecord;
use crate::secrets::SecretKey;

/// What a reader receives, in file order.
pub enum Event<'a> {
    Header(&'a Header),
    Object(&'a ApiType, Value),
}

/// A verified archive's header and trailer.
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Header,
    pub trailer: Trailer,
    pub sha256: String,
    /// `Some(true)` when the seal's HMAC was checked against the given key.
    pub hmac_checked: Option<bool>,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    /// The field semantics recorded after the header (`None`: an archive of an older kparity).
    pub semantics: Option<SchemaRecord>,
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Reads and verifies `path`, handing each object to `visit` as it streams by. Returns an error
/// (and the caller must discard whatever it built) unless the whole archive is intact.
pub fn read(path: &Path, key: Option<&SecretKey>, mut visit: impl FnMut(Event<'_>)) -> Result<Verified, SnapshotError> {
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
    let mut reader = BufReader::with_capacity(1 << 16, decoder);

    let mut sha = Sha256::new();
    let mut mac = key.map(super::seal_mac);
    let mut header: Option<Header> = None;
    let mut current: Option<ApiType> = None;
    let mut trailer: Option<Trailer> = None;
    let mut object_digests: Vec<(String, String, Option<String>, String, String)> = Vec::new();
    let mut seal: Option<Seal> = None;
    let mut semantics: Option<SchemaRecord> = None;
    let mut uncompressed_bytes = 0u64;
    let mut line = Vec::with_capacity(4096);
    let mut n = 0usize;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(|e| SnapshotError::Corrupt {
            detail: format!("the compressed stream is damaged or truncated ({e})"),
        })?;
        if read == 0 {
            break;
        }
        n += 1;
        uncompressed_bytes += read as u64;
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
        match marker.as_deref() {
            Some(SEAL_KEY) => {
                let s: Seal = serde_json::from_value(value[SEAL_KEY].clone())
                    .map_err(|e| SnapshotError::Malformed { line: n, detail: format!("seal: {e}") })?;
                seal = Some(s);
                continue;
            }
            _ => {
                sha.update(&line);
                if let Some(m) = &mut mac {
                    m.update(&line);
                }
            }
        }
        if n == 1 {
            let h = parse_header(&value)?;
            visit(Event::Header(&h));
            header = Some(h);
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
                let t: TypeRecord = serde_json::from_value(value[TYPE_KEY].clone())
                    .map_err(|e| SnapshotError::Malformed { line: n, detail: format!("type record: {e}") })?;
                current = Some(ApiType::from(&t));
            }
            Some(TRAILER_KEY) => {
                let t: Trailer = serde_json::from_value(value[TRAILER_KEY].clone())
                    .map_err(|e| SnapshotError::Malformed { line: n, detail: format!("trailer: {e}") })?;
                trailer = Some(t);
            }
            Some(HEADER_KEY) => return Err(SnapshotError::Malformed { line: n, detail: "a second header".into() }),
            _ => {
                let ty = current
                    .as_ref()
                    .ok_or(SnapshotError::Malformed { line: n, detail: "an object before any type record".into() })?;
                let key = key_of(ty, &value);
                object_digests.push((key.group, key.kind, key.namespace, key.name, hex::encode(Sha256::digest(&line))));
                visit(Event::Object(ty, value));
            }
        }
    }
    let header = header.ok_or(SnapshotError::NotArchive { detail: "it is empty once decompressed".into() })?;
    let trailer = trailer
        .ok_or(SnapshotError::Truncated { detail: "the trailer (completeness and manifest) is missing".into() })?;
    let seal = seal.ok_or(SnapshotError::Truncated { detail: "the integrity seal is missing".into() })?;

    // Per-object check first: it names the object that was changed.
    if trailer.manifest.len() != object_digests.len() || trailer.object_count != object_digests.len() as u64 {
        return Err(SnapshotError::Tampered {
            detail: format!(
                "the manifest lists {} objects but the archive holds {}",
                trailer.manifest.len(),
                object_digests.len()
            ),
        });
    }
    for (i, (entry, (g, k, ns, name, digest))) in trailer.manifest.iter().zip(&object_digests).enumerate() {
        let ManifestEntry(eg, ek, ens, ename, edigest) = entry;
        let key =
            crate::model::ObjectKey { group: g.clone(), kind: k.clone(), namespace: ns.clone(), name: name.clone() };
        if (eg, ek, ens, ename) != (g, k, ns, name) {
            return Err(SnapshotError::Tampered {
                detail: format!("object #{} is {key}, but the manifest lists another object there", i + 1),
            });
        }
        if edigest != digest {
            return Err(SnapshotError::Tampered {
                detail: format!("object {key} does not match its SHA-256 in the manifest"),
            });
        }
    }
    let sha256 = hex::encode(sha.finalize());
    if sha256 != seal.sha256 {
        return Err(SnapshotError::Tampered {
            detail: "the content does not match the archive's SHA-256 seal (modified after it was written)".into(),
        });
    }
    let hmac_checked = match (mac, &seal.hmac_sha256) {
        (Some(m), Some(expected)) => {
            let got = hex::encode(m.finalize().into_bytes());
            if &got != expected {
                return Err(SnapshotError::Tampered {
                    detail: "the HMAC seal does not match under the given secret key (modified, or a different key)"
                        .into(),
                });
            }
            Some(true)
        }
        _ => None,
    };
    Ok(Verified { header, trailer, sha256, hmac_checked, compressed_bytes, uncompressed_bytes, semantics })
}

/// The semantics record of an archive, read ahead of the verified read so both sides of a diff
/// can agree on one set of semantics before either is normalized. Unverified by itself: the
/// verified read that follows refuses the archive (and everything built from it) if any byte of
/// it was changed, with the same message every reader gives; so anything unreadable here is
/// simply `None`, left for that read to report.
pub fn read_semantics(path: &Path) -> Option<SchemaRecord> {
    let file = File::open(path).ok()?;
    let decoder = zstd::stream::read::Decoder::new(file).ok()?;
    let mut reader = BufReader::with_capacity(1 << 16, decoder);
    let mut line = Vec::new();
    for n in 1..=2 {
        line.clear();
        reader.read_until(b'\n', &mut line).ok()?;
        let value: Value = serde_json::from_slice(&line).ok()?;
        if n == 1 {
            parse_header(&value).ok()?;
        } else if let Some(r) = value.get(SEMANTICS_KEY) {
            return serde_json::from_value(r.clone()).ok();
        }
    }
    None
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
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
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
