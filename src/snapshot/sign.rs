//! Detached SSH signatures of archives: `ARCHIVE.sig` beside the archive, a standard SSHSIG
//! signature (namespace `kparity-archive`, SHA-512) over the archive file's exact bytes, made
//! with an OpenSSH ed25519 private key. An auditor who holds no secret checks it with the stock
//! tool — `ssh-keygen -Y verify -f allowed_signers -I IDENTITY -n kparity-archive -s ARCHIVE.sig
//! < ARCHIVE` — or with `kparity verify --allowed-signers FILE`, which applies the same
//! allowed_signers rules (principals, `namespaces=`, `valid-after=`/`valid-before=`).
//!
//! All cryptography is the RustCrypto `ssh-key` crate's; this module only finds files, parses the
//! allowed_signers format (see ssh-keygen(1), ALLOWED SIGNERS) and reports.

use std::path::{Path, PathBuf};

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use super::SnapshotError;
use super::format::SIGNATURE_NAMESPACE;
use super::write::create_private;

/// `ARCHIVE.sig`: the signature file of an archive, as ssh-keygen -Y sign names it.
pub fn signature_path(archive: &Path) -> PathBuf {
    let mut s = archive.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// Signs `archive` with the OpenSSH ed25519 private key in `key_file`, writing `ARCHIVE.sig`
/// (mode 0600, exclusively created unless `replace`). Returns the signature's path and the
/// signing key's fingerprint (`SHA256:...`, as ssh-keygen -l prints it).
pub fn sign_archive(archive: &Path, key_file: &Path, replace: bool) -> Result<(PathBuf, String), SnapshotError> {
    let key = load_signing_key(key_file)?;
    let message = std::fs::read(archive).map_err(|e| SnapshotError::Io { path: archive.to_path_buf(), source: e })?;
    let sig = key.sign(SIGNATURE_NAMESPACE, HashAlg::Sha512, &message).map_err(|e| SnapshotError::SigningKey {
        path: key_file.to_path_buf(),
        detail: format!("signing failed: {e}"),
    })?;
    let pem = sig.to_pem(LineEnding::LF).map_err(|e| SnapshotError::SigningKey {
        path: key_file.to_path_buf(),
        detail: format!("encoding failed: {e}"),
    })?;
    let path = signature_path(archive);
    let io = |e: std::io::Error| SnapshotError::Io { path: path.clone(), source: e };
    if replace {
        // Replace through a fresh name, so a symlink at the .sig path is replaced, not followed.
        let tmp = signature_path(&archive.with_extension(format!("tmp-{}", std::process::id())));
        let _ = std::fs::remove_file(&tmp);
        write_new(&tmp, pem.as_bytes()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
    } else {
        write_new(&path, pem.as_bytes()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                SnapshotError::Exists { path: path.clone() }
            } else {
                io(e)
            }
        })?;
    }
    Ok((path, key.public_key().fingerprint(HashAlg::Sha256).to_string()))
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = create_private(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Refuses, before anything is read, a signing key that could not sign.
pub fn check_signing_key(key_file: &Path) -> Result<(), SnapshotError> {
    load_signing_key(key_file).map(|_| ())
}

fn load_signing_key(key_file: &Path) -> Result<PrivateKey, SnapshotError> {
    let err = |detail: String| SnapshotError::SigningKey { path: key_file.to_path_buf(), detail };
    let text = std::fs::read_to_string(key_file).map_err(|e| err(format!("cannot read it ({e})")))?;
    let key = PrivateKey::from_openssh(text.trim_start())
        .map_err(|e| err(format!("not an OpenSSH private key ({e}); `ssh-keygen -t ed25519` writes one")))?;
    if key.is_encrypted() {
        return Err(err(
            "the key is passphrase-protected and kparity does not prompt; use a key without a passphrase kept in a \
             secret store, or sign afterwards with ssh-keygen -Y sign -n kparity-archive"
                .into(),
        ));
    }
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(err(format!("it is an {} key; archives are signed with ed25519 keys", key.algorithm())));
    }
    Ok(key)
}

/// Who signed an archive, once the signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The principals field of the allowed_signers line that accepted the key.
    pub principals: String,
    /// `SHA256:...` of the signing key.
    pub fingerprint: String,
}

/// Checks `signature` (an SSHSIG PEM) over `archive`'s exact bytes against `allowed_signers`.
/// With `identity`, the key must be allowed for that principal (as `ssh-keygen -Y verify -I`);
/// without, for any principal (as `ssh-keygen -Y find-principals`, then verify).
pub fn verify_signature(
    archive: &Path,
    signature: &Path,
    allowed_signers: &Path,
    identity: Option<&str>,
) -> Result<Signer, SnapshotError> {
    let fail = |detail: String| SnapshotError::Signature { detail };
    let pem = std::fs::read_to_string(signature)
        .map_err(|e| SnapshotError::Io { path: signature.to_path_buf(), source: e })?;
    let sig = SshSig::from_pem(pem.trim()).map_err(|e| {
        fail(format!(
            "{} is not an SSH signature ({e}); it must begin with -----BEGIN SSH SIGNATURE-----",
            signature.display()
        ))
    })?;
    if sig.namespace() != SIGNATURE_NAMESPACE {
        return Err(fail(format!(
            "{} is a signature for namespace {:?}, not {SIGNATURE_NAMESPACE:?}",
            signature.display(),
            sig.namespace()
        )));
    }
    let signer_key = PublicKey::from(sig.public_key().clone());
    let fingerprint = signer_key.fingerprint(HashAlg::Sha256).to_string();
    let text = std::fs::read_to_string(allowed_signers)
        .map_err(|e| SnapshotError::Io { path: allowed_signers.to_path_buf(), source: e })?;
    let entries = parse_allowed_signers(&text)
        .map_err(|(line, detail)| fail(format!("{}:{line}: {detail}", allowed_signers.display())))?;
    let now = time::OffsetDateTime::now_utc();
    let accepted = entries.iter().find(|e| {
        e.key.key_data() == sig.public_key()
            && identity.is_none_or(|id| principal_matches(&e.principals, id))
            && e.namespaces.as_ref().is_none_or(|ns| pattern_list_matches(ns, SIGNATURE_NAMESPACE))
            && e.valid_after.is_none_or(|t| now >= t)
            && e.valid_before.is_none_or(|t| now <= t)
    });
    let Some(entry) = accepted else {
        let who = identity.map(|i| format!(" for identity {i:?}")).unwrap_or_default();
        return Err(fail(format!(
            "the archive was signed by key {fingerprint}, which {} does not allow{who} (to sign for namespace \
             {SIGNATURE_NAMESPACE}, now)",
            allowed_signers.display()
        )));
    };
    let message = std::fs::read(archive).map_err(|e| SnapshotError::Io { path: archive.to_path_buf(), source: e })?;
    entry.key.verify(SIGNATURE_NAMESPACE, &message, &sig).map_err(|e| {
        fail(format!(
            "the signature by {fingerprint} does not match the archive's bytes ({e}): the archive or its signature \
             was modified after signing"
        ))
    })?;
    Ok(Signer { principals: entry.principals.clone(), fingerprint })
}

/// One line of an allowed_signers file.
struct AllowedSigner {
    principals: String,
    namespaces: Option<String>,
    valid_after: Option<time::OffsetDateTime>,
    valid_before: Option<time::OffsetDateTime>,
    key: PublicKey,
}

/// Parses an allowed_signers file: `PRINCIPALS [OPTIONS] KEYTYPE BASE64 [COMMENT]` per line,
/// `#` comments. Lines marked `cert-authority` are skipped: kparity signs with plain keys, and
/// a certificate-backed signature is for ssh-keygen to judge.
fn parse_allowed_signers(text: &str) -> Result<Vec<AllowedSigner>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let toks = tokens(line);
        let err = |d: &str| (i + 1, d.to_string());
        let principals = toks.first().ok_or_else(|| err("no principals"))?.trim_matches('"').to_string();
        let (options, key_at) = match toks.get(1) {
            Some(t) if is_key_type(t) => (None, 1),
            Some(t) => (Some(t.clone()), 2),
            None => return Err(err("no public key")),
        };
        let key_text = toks.get(key_at..).map(|k| k.join(" ")).ok_or_else(|| err("no public key"))?;
        let key = PublicKey::from_openssh(&key_text).map_err(|e| err(&format!("not a public key: {e}")))?;
        let mut entry = AllowedSigner { principals, namespaces: None, valid_after: None, valid_before: None, key };
        let mut skip = false;
        for opt in options.iter().flat_map(|o| split_unquoted(o, ',')) {
            let (name, value) = match opt.split_once('=') {
                Some((n, v)) => (n.to_ascii_lowercase(), Some(v.trim_matches('"').to_string())),
                None => (opt.to_ascii_lowercase(), None),
            };
            match (name.as_str(), value) {
                ("cert-authority", None) => skip = true,
                ("namespaces", Some(v)) => entry.namespaces = Some(v),
                ("valid-after", Some(v)) => {
                    entry.valid_after = Some(parse_time(&v).ok_or_else(|| err("bad valid-after"))?)
                }
                ("valid-before", Some(v)) => {
                    entry.valid_before = Some(parse_time(&v).ok_or_else(|| err("bad valid-before"))?)
                }
                (other, _) => return Err(err(&format!("unknown option {other:?}"))),
            }
        }
        if !skip {
            out.push(entry);
        }
    }
    Ok(out)
}

fn is_key_type(t: &str) -> bool {
    t.starts_with("ssh-") || t.starts_with("ecdsa-sha2-") || t.starts_with("sk-")
}

/// Whitespace-separated tokens; double quotes group (and are kept inside the token).
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn split_unquoted(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == sep && !quoted {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// `YYYYMMDD[HHMM[SS]][Z]`, as ssh-keygen accepts; taken as UTC.
fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = match s.len() {
        8 => (0, 0, 0),
        12 => (num(8..10)?, num(10..12)?, 0),
        14 => (num(8..10)?, num(10..12)?, num(12..14)?),
        _ => return None,
    };
    let month = time::Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()?;
    let t = time::Time::from_hms(u8::try_from(h).ok()?, u8::try_from(mi).ok()?, u8::try_from(se).ok()?).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

/// A principals field (comma-separated patterns, `!` negates) matching `identity`.
fn principal_matches(patterns: &str, identity: &str) -> bool {
    pattern_list_matches(patterns, identity)
}

/// ssh's pattern lists: any positive pattern matches and no negated one does.
fn pattern_list_matches(list: &str, s: &str) -> bool {
    let mut matched = false;
    for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg.as_bytes(), s.as_bytes()) {
                return false;
            }
        } else if glob(p.as_bytes(), s.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// `*` and `?` wildcards.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti";

    #[test]
    fn allowed_signers_lines_parse_as_ssh_keygen_reads_them() {
        let text = format!(
            "# comment\n\nauditor@example.com {KEY} a comment\n\
             \"ops@example.com,!mallory@example.com\" namespaces=\"git,kparity-archive\",valid-after=20250101 {KEY}\n\
             ca@example.com cert-authority {KEY}\n"
        );
        let e = parse_allowed_signers(&text).unwrap();
        assert_eq!(e.len(), 2, "the cert-authority line is skipped");
        assert_eq!(e[0].principals, "auditor@example.com");
        assert!(e[0].namespaces.is_none());
        assert_eq!(e[1].namespaces.as_deref(), Some("git,kparity-archive"));
        assert!(e[1].valid_after.is_some());
        assert!(parse_allowed_signers(&format!("x bogus-option {KEY}")).is_err());
        assert!(parse_allowed_signers("x ssh-ed25519 notbase64").is_err());
    }

    #[test]
    fn principal_patterns_follow_ssh() {
        assert!(principal_matches("auditor@example.com", "auditor@example.com"));
        assert!(!principal_matches("auditor@example.com", "auditor@example.org"));
        assert!(principal_matches("*@example.com", "ops@example.com"));
        assert!(!principal_matches("\"*@example.com,!mallory@example.com\"".trim_matches('"'), "mallory@example.com"));
        assert!(pattern_list_matches("git,kparity-*", "kparity-archive"));
        assert!(!pattern_list_matches("git,file", "kparity-archive"));
        assert!(glob(b"a?c", b"abc") && !glob(b"a?c", b"ac"));
    }

    #[test]
    fn times_parse_in_ssh_keygen_forms() {
        assert!(parse_time("20250101").is_some());
        assert!(parse_time("202501011230").is_some());
        assert!(parse_time("20250101123059Z").is_some());
        assert!(parse_time("2025-01-01").is_none());
        assert!(parse_time("20251301").is_none());
    }
}
