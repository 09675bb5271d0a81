//! Writes an archive while a cluster is read. Pages are spooled to one temporary file per type
//! (a relist after 410 truncates that spool), so memory holds only pages in flight plus the
//! manifest; when reading ends, types are written in sorted order, which makes two archives of
//! an unchanged cluster identical apart from the capture time.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::SnapshotError;
use super::format::*;
use crate::dump::{Sink, key_of};
use crate::model::ApiType;
use crate::secrets::SecretKey;

struct Spool {
    file: BufWriter<File>,
    path: PathBuf,
    count: u64,
}

/// A `Sink` that spools objects for an archive.
pub struct SnapshotWriter {
    dir: tempfile::TempDir,
    spools: Mutex<HashMap<ApiType, Spool>>,
    /// The first spool error; reported by `finish` (a `Sink` cannot fail mid-read).
    error: Mutex<Option<std::io::Error>>,
    /// True when values were digested under a user key; otherwise values are not recorded.
    keyed: bool,
    /// The field semantics of the types read, written right after the header.
    semantics: Mutex<Option<crate::schema::SchemaRecord>>,
}

impl SnapshotWriter {
    /// Spools next to `output`, so the final rename stays on one filesystem.
    pub fn new(output: &Path, keyed: bool) -> Result<Self, SnapshotError> {
        let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let dir = tempfile::Builder::new()
            .prefix(".kparity-spool-")
            .tempdir_in(parent)
            .map_err(|e| SnapshotError::Io { path: parent.to_path_buf(), source: e })?;
        Ok(SnapshotWriter {
            dir,
            spools: Mutex::new(HashMap::new()),
            error: Mutex::new(None),
            keyed,
            semantics: Mutex::new(None),
        })
    }

    fn record_error(&self, e: std::io::Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    }

    /// Records the field semantics of the types read (the `kparity.semantics` line).
    pub fn set_semantics(&self, record: crate::schema::SchemaRecord) {
        *self.semantics.lock().unwrap_or_else(|p| p.into_inner()) = Some(record);
    }

    /// Writes the archive to `output` (via a temporary file renamed at the end, so a failed run
    /// never leaves a half-written archive under the final name).
    pub fn finish(
        self,
        output: &Path,
        header: &Header,
        mut statuses: Vec<TypeStatus>,
        incomplete_groups: Vec<IncompleteGroup>,
        excluded: Vec<ExcludedRecord>,
        seal_key: Option<&SecretKey>,
    ) -> Result<ArchiveSummary, SnapshotError> {
        if let Some(e) = self.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(SnapshotError::Io { path: self.dir.path().to_path_buf(), source: e });
        }
        let io = |e: std::io::Error| SnapshotError::Io { path: output.to_path_buf(), source: e };
        let mut spools = self.spools.into_inner().unwrap_or_else(|p| p.into_inner());
        for s in spools.values_mut() {
            s.file.flush().map_err(io)?;
        }
        statuses.sort_by(|a, b| a.ty.cmp(&b.ty));
        for s in &mut statuses {
            s.count = spools.get(&ApiType::from(&s.ty)).map_or(0, |sp| sp.count);
        }

        let tmp = output.with_extension("kparity.partial");
        let file = File::create(&tmp).map_err(io)?;
        let mut enc = zstd::stream::Encoder::new(BufWriter::new(file), 3).map_err(io)?;
        enc.include_checksum(true).map_err(io)?;
        let mut out = HashingWriter::new(enc, seal_key);

        let line = |out: &mut HashingWriter<_>, v: &Value| -> Result<(), SnapshotError> {
            let mut bytes =
                serde_json::to_vec(v).map_err(|e| SnapshotError::Malformed { line: 0, detail: e.to_string() })?;
            bytes.push(b'\n');
            out.write_all(&bytes).map_err(io)
        };
        line(&mut out, &serde_json::json!({ HEADER_KEY: header }))?;
        if let Some(record) = self.semantics.lock().unwrap_or_else(|p| p.into_inner()).take() {
            line(&mut out, &serde_json::json!({ SEMANTICS_KEY: record }))?;
        }
        let mut manifest = Vec::new();
        for status in &statuses {
            let ty = ApiType::from(&status.ty);
            line(&mut out, &serde_json::json!({ TYPE_KEY: status.ty }))?;
            let Some(spool) = spools.get_mut(&ty) else { continue };
            let mut f = spool.file.get_ref().try_clone().map_err(io)?;
            f.rewind().map_err(io)?;
            for l in BufReader::new(f).lines() {
                let l = l.map_err(io)?;
                let obj: Value = serde_json::from_str(&l)
                    .map_err(|e| SnapshotError::Malformed { line: 0, detail: e.to_string() })?;
                let key = key_of(&ty, &obj);
                let mut bytes = l.into_bytes();
                bytes.push(b'\n');
                manifest.push(ManifestEntry(
                    key.group,
                    key.kind,
                    key.namespace,
                    key.name,
                    hex::encode(Sha256::digest(&bytes)),
                ));
                out.write_all(&bytes).map_err(io)?;
            }
        }
        let object_count = manifest.len() as u64;
        let trailer = Trailer { types: statuses, incomplete_groups, excluded, object_count, manifest };
        line(&mut out, &serde_json::json!({ TRAILER_KEY: trailer }))?;
        let (inner, sha256, hmac) = out.finish();
        let seal = Seal { sha256, hmac_sha256: hmac };
        let mut seal_line = serde_json::to_vec(&serde_json::json!({ SEAL_KEY: seal }))
            .map_err(|e| SnapshotError::Malformed { line: 0, detail: e.to_string() })?;
        seal_line.push(b'\n');
        let mut enc = inner;
        enc.write_all(&seal_line).map_err(io)?;
        let mut buf = enc.finish().map_err(io)?;
        buf.flush().map_err(io)?;
        buf.get_ref().sync_all().map_err(io)?;
        drop(buf);
        std::fs::rename(&tmp, output).map_err(io)?;
        let bytes = std::fs::metadata(output).map_err(io)?.len();
        Ok(ArchiveSummary { objects: object_count, bytes, sha256: seal.sha256 })
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct ArchiveSummary {
    pub objects: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl Sink for SnapshotWriter {
    fn page(&self, ty: &ApiType, items: Vec<Value>) {
        let mut lines = Vec::with_capacity(items.len() * 512);
        for mut obj in items {
            if !self.keyed && ty.group.is_empty() && ty.kind == "Secret" {
                blank_secret_values(&mut obj);
            }
            // serde_json maps are sorted by key: this serialization is canonical.
            if serde_json::to_writer(&mut lines, &obj).is_err() {
                continue;
            }
            lines.push(b'\n');
        }
        let n = lines.iter().filter(|b| **b == b'\n').count() as u64;
        let mut spools = self.spools.lock().unwrap_or_else(|p| p.into_inner());
        if !spools.contains_key(ty) {
            let path = self.dir.path().join(format!("{}.ndjson", spools.len()));
            let opened = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path);
            match opened {
                Ok(f) => {
                    spools.insert(ty.clone(), Spool { file: BufWriter::new(f), path, count: 0 });
                }
                Err(e) => {
                    drop(spools);
                    self.record_error(e);
                    return;
                }
            }
        }
        if let Some(spool) = spools.get_mut(ty) {
            match spool.file.write_all(&lines) {
                Ok(()) => spool.count += n,
                Err(e) => {
                    drop(spools);
                    self.record_error(e);
                }
            }
        }
    }

    fn restart(&self, ty: &ApiType) {
        let mut spools = self.spools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(spool) = spools.remove(ty) {
            let _ = std::fs::remove_file(&spool.path);
        }
    }
}

/// Without a key, secret values are not recorded at all (not even a digest): the archive stays
/// deterministic and reveals nothing; diffs then report secret values as unproven.
fn blank_secret_values(obj: &mut Value) {
    for field in ["data", "stringData"] {
        if let Some(Value::Object(m)) = obj.get_mut(field) {
            for v in m.values_mut() {
                *v = Value::String(UNKEYED_SECRET_VALUE.into());
            }
        }
    }
    if let Some(Value::Object(ann)) = obj.pointer_mut("/metadata/annotations") {
        if let Some(v) = ann.get_mut("kubectl.kubernetes.io/last-applied-configuration") {
            *v = Value::String(UNKEYED_SECRET_VALUE.into());
        }
    }
}

/// Hashes everything written through it (and HMACs it under the seal key, if any).
struct HashingWriter<W: Write> {
    inner: W,
    sha: Sha256,
    mac: Option<Hmac<Sha256>>,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W, key: Option<&SecretKey>) -> Self {
        HashingWriter { inner, sha: Sha256::new(), mac: key.map(super::seal_mac) }
    }

    fn finish(self) -> (W, String, Option<String>) {
        (self.inner, hex::encode(self.sha.finalize()), self.mac.map(|m| hex::encode(m.finalize().into_bytes())))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        if let Some(m) = &mut self.mac {
            m.update(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
