//! The offline parse floor: decompresses kparity snapshot archives (zstd streams of JSON lines)
//! and parses every line into a `serde_json::Value`, nothing else. Any offline diff must at least
//! do this much work.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        anyhow::bail!("usage: kparity-parse-floor SNAPSHOT...");
    }
    let started = Instant::now();
    for f in &files {
        let file = std::fs::File::open(f).with_context(|| format!("failed to open {}", f.display()))?;
        let reader = std::io::BufReader::new(zstd::Decoder::new(file)?);
        let (mut lines, mut bytes) = (0usize, 0usize);
        let mut keep = Vec::new();
        for line in reader.lines() {
            let line = line.with_context(|| format!("failed to decompress {}", f.display()))?;
            bytes += line.len() + 1;
            let v: serde_json::Value =
                serde_json::from_str(&line).with_context(|| format!("failed to parse a line of {}", f.display()))?;
            keep.push(v);
            lines += 1;
        }
        println!("{}: lines={lines} uncompressed_bytes={bytes}", f.display());
        drop(keep);
    }
    println!("elapsed_seconds={:.3}", started.elapsed().as_secs_f64());
    Ok(())
}
