//! Writes an archive while a cluster is read. Pages are spooled to one temporary file per type,
//! each spool with a name of its own for the whole run (a relist after 410 starts a new spool,
//! never reuses or truncates another type's), so memory holds only pages in flight plus a small
//! index. When reading ends, types are written in sorted order and each type's objects sorted
//! by (namespace, name), which makes two archives of an unchanged cluster identical apart from
//! the capture time, whatever order the server listed them in.
//!
//! Every file is created exclusively (`O_CREAT|O_EXCL`, which never follows a symlink) with mode
//! 0600, inside a fresh private directory next to the output; the archive reaches its final name
//! only when complete, and never over an existing file unless asked to.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::SnapshotError;
use super::format::*;
use crate::dump::{ReadObject, Sink, key_of};
use crate::model::ApiType;
use crate::secrets::SecretKey;

struct Spool {
    file: BufWriter<File>,
    path: PathBuf,
}

struct Spools {
    by_type: HashMap<ApiType, Spool>,
    /// Spool file names are never reused within a run: a relisted type gets a new one.
    next_id: u64,
}

/// A `Sink` that spools objects for an archive.
pub struct SnapshotWriter {
    dir: tempfile::TempDir,
    spools: Mutex<Spools>,
    /// The first spool error; reported by `finish` (a `Sink` cannot fail mid-read).
    error: Mutex<Option<std::io::Error>>,
    /// True when values were digested under a user key; otherwise values are not recorded.
    keyed: bool,
    /// Replace an existing file at the output path (`--force`); otherwise refuse it.
    replace: bool,
    /// The field semantics of the types read, written right after the header.
    semantics: Mutex<Option<crate::schema::SchemaRecord>>,
}

/// Creates `path` exclusively with mode 0600: fails if anything (a file, a symlink) is there.
pub fn create_private(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path)
}

impl SnapshotWriter {
    /// Spools next to `output`, so the final rename stays on one filesystem. Refuses at once an
    /// output path that exists (see `replace_existing`), before any cluster is read.
    pub fn new(output: &Path, keyed: bool) -> Result<Self, SnapshotError> {
        Self::with_options(output, keyed, false)
    }

    /// As `new`; with `replace`, an existing file at `output` is replaced (a symlink there is
    /// replaced itself, never followed).
    pub fn with_options(output: &Path, keyed: bool, replace: bool) -> Result<Self, SnapshotError> {
        if !replace && std::fs::symlink_metadata(output).is_ok() {
            return Err(SnapshotError::Exists { path: output.to_path_buf() });
        }
        let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        // tempfile creates the directory with mode 0700 under a random name.
        let dir = tempfile::Builder::new()
            .prefix(".kparity-spool-")
            .tempdir_in(parent)
            .map_err(|e| SnapshotError::Io { path: parent.to_path_buf(), source: e })?;
        Ok(SnapshotWriter {
            dir,
            spools: Mutex::new(Spools { by_type: HashMap::new(), next_id: 0 }),
            error: Mutex::new(None),
            keyed,
            replace,
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

    /// Writes the archive to `output` (via a temporary file that reaches the final name only
    /// when complete, so a failed run never leaves a half-written archive under that name).
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
        let spools = self.spools.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut spools = spools.by_type;
        for s in spools.values_mut() {
            s.file.flush().map_err(io)?;
        }
        statuses.sort_by(|a, b| a.ty.cmp(&b.ty));
        statuses.dedup_by(|a, b| a.ty == b.ty);

        let tmp = self.dir.path().join("archive.partial");
        let file = create_private(&tmp).map_err(io)?;
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
        for status in &mut statuses {
            let ty = ApiType::from(&status.ty);
            line(&mut out, &serde_json::json!({ TYPE_KEY: status.ty }))?;
            let before = manifest.len();
            if let Some(spool) = spools.get_mut(&ty) {
                write_sorted(&ty, spool, &mut out, &mut manifest).map_err(io)?;
            }
            status.count = (manifest.len() - before) as u64;
        }
        for chunk in manifest.chunks(MANIFEST_CHUNK) {
            line(&mut out, &serde_json::json!({ MANIFEST_KEY: chunk }))?;
        }
        let object_count = manifest.len() as u64;
        let trailer = Trailer { types: statuses, incomplete_groups, excluded, object_count, manifest: Vec::new() };
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
        place(&tmp, output, self.replace)?;
        let bytes = std::fs::metadata(output).map_err(io)?.len();
        Ok(ArchiveSummary { objects: object_count, bytes, sha256: seal.sha256 })
    }
}

/// Moves the finished archive to its final name. Without `replace`, a hard link claims the name
/// atomically and fails if anything is there (a file or symlink planted meanwhile); with it,
/// rename replaces whatever is there (a symlink itself, not its target).
fn place(tmp: &Path, output: &Path, replace: bool) -> Result<(), SnapshotError> {
    let io = |e: std::io::Error| SnapshotError::Io { path: output.to_path_buf(), source: e };
    if replace {
        return std::fs::rename(tmp, output).map_err(io);
    }
    match std::fs::hard_link(tmp, output) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(SnapshotError::Exists { path: output.to_path_buf() })
        }
        // A filesystem without hard links: copy into an exclusively created file instead.
        Err(_) => {
            let mut dst = create_private(output).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    SnapshotError::Exists { path: output.to_path_buf() }
                } else {
                    io(e)
                }
            })?;
            let mut src = File::open(tmp).map_err(io)?;
            std::io::copy(&mut src, &mut dst).map_err(io)?;
            dst.sync_all().map_err(io)
        }
    }
}

/// Writes one type's spooled objects sorted by (namespace, name), each key once, recording
/// each line's manifest entry. Only an index (key, offset, length) is held in memory.
fn write_sorted<W: Write>(
    ty: &ApiType,
    spool: &mut Spool,
    out: &mut HashingWriter<W>,
    manifest: &mut Vec<ManifestEntry>,
) -> std::io::Result<()> {
    let mut f = spool.file.get_ref().try_clone()?;
    f.rewind()?;
    let mut index = Vec::new();
    let mut reader = BufReader::new(&f);
    let mut offset = 0u64;
    let mut l = Vec::new();
    loop {
        l.clear();
        let n = reader.read_until(b'\n', &mut l)?;
        if n == 0 {
            break;
        }
        let obj: Value = serde_json::from_slice(&l).map_err(std::io::Error::other)?;
        let key = key_of(ty, &obj);
        index.push((key.namespace, key.name, offset, n));
        offset += n as u64;
    }
    drop(reader);
    index.sort();
    // A list never holds one key twice; should a server repeat one, the first copy is kept, so
    // the archive's keys stay unique (readers refuse duplicates as tampering).
    index.dedup_by(|a, b| (&a.0, &a.1) == (&b.0, &b.1));
    let mut bytes = Vec::new();
    for (ns, name, at, len) in index {
        f.seek(SeekFrom::Start(at))?;
        bytes.resize(len, 0);
        f.read_exact(&mut bytes)?;
        manifest.push(ManifestEntry(ty.group.clone(), ty.kind.clone(), ns, name, hex::encode(Sha256::digest(&bytes))));
        out.write_all(&bytes)?;
    }
    Ok(())
}

/// What was written.
#[derive(Debug, Clone)]
pub struct ArchiveSummary {
    pub objects: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl Sink for SnapshotWriter {
    /// The page's lines, as the spool holds them.
    type Prepared = Vec<u8>;

    fn prepare(&self, ty: &ApiType, items: Vec<ReadObject>) -> Vec<u8> {
        let mut lines = Vec::with_capacity(items.len() * 512);
        for ReadObject { object: mut obj, attribution } in items {
            // The archive holds the record in the object's metadata (`attribution::ATTRIBUTION`),
            // where an archive reader takes it out again.
            if let (Some(record), Some(Value::Object(meta))) = (attribution, obj.get_mut("metadata"))
                && let Some(record) = record.to_value()
            {
                meta.insert(crate::attribution::ATTRIBUTION.into(), record);
            }
            if !self.keyed && ty.is_secret() {
                blank_secret_values(&mut obj);
            }
            // serde_json maps are sorted by key: this serialization is canonical.
            if serde_json::to_writer(&mut lines, &obj).is_err() {
                continue;
            }
            lines.push(b'\n');
        }
        lines
    }

    fn keep(&self, ty: &ApiType, lines: Vec<u8>) {
        let mut spools = self.spools.lock().unwrap_or_else(|p| p.into_inner());
        if !spools.by_type.contains_key(ty) {
            let path = self.dir.path().join(format!("{}.ndjson", spools.next_id));
            spools.next_id += 1;
            match create_private(&path) {
                Ok(f) => {
                    spools.by_type.insert(ty.clone(), Spool { file: BufWriter::new(f), path });
                }
                Err(e) => {
                    drop(spools);
                    self.record_error(e);
                    return;
                }
            }
        }
        if let Some(spool) = spools.by_type.get_mut(ty)
            && let Err(e) = spool.file.write_all(&lines)
        {
            drop(spools);
            self.record_error(e);
        }
    }

    fn restart(&self, ty: &ApiType) {
        let mut spools = self.spools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(spool) = spools.by_type.remove(ty) {
            drop(spool.file);
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
    // Every annotation but the allow-listed ones, and fields a Secret does not have.
    crate::secrets::blank_secret_metadata(obj, UNKEYED_SECRET_VALUE);
}

/// Hashes everything written through it (and HMACs it under the seal key, if any).
struct HashingWriter<W: Write> {
    inner: W,
    sha: Sha256,
    mac: Option<Hmac<Sha256>>,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W, key: Option<&SecretKey>) -> Self {
        HashingWriter { inner, sha: Sha256::new(), mac: key.map(SecretKey::seal_mac) }
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
