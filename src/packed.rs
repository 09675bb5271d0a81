//! Many small texts kept compressed together, each read back alone.
//!
//! Both sides of a large cluster are held until the diff, and what they hold is mostly JSON text
//! that repeats itself from object to object: the same field names, labels, images and managers.
//! One object alone compresses to about 60%; a run of objects of one type compresses to a tenth
//! or less, because each object's repetitions of its neighbours cost almost nothing. So texts are
//! packed into blocks of up to `BLOCK_PLAIN` bytes, one zstd frame each, and a text is a range of
//! its block. A text is read back only when something looks at it (an object that differs, a
//! record that explains it), and blocks are read back in the order they were written, so each
//! thread keeps the last few blocks it opened.

use std::cell::RefCell;
use std::sync::Arc;

/// The most plain bytes one block holds (a text larger than this is a block of its own). Large
/// enough that a block compresses nearly as well as a whole page; small enough that opening one
/// to read one object costs well under a millisecond.
const BLOCK_PLAIN: usize = 128 * 1024;
/// A block whose plain text is at most this long is kept plain: compressing it saves little.
const COMPRESS_ABOVE: usize = 256;
/// zstd's fastest standard level: the point is memory, at a cost well below parsing.
const COMPRESS_LEVEL: i32 = 1;
/// Blocks each thread keeps open: a diff reads both sides' blocks in turn, and an explanation
/// reads an object's record beside it.
const OPEN_PER_THREAD: usize = 4;

/// Texts compressed together (or, when short, kept as they are).
#[derive(Debug)]
struct Block {
    compressed: bool,
    bytes: Box<[u8]>,
}

/// One text: a range of a block.
#[derive(Debug, Clone)]
pub struct Slot {
    block: Arc<Block>,
    start: u32,
    len: u32,
}

/// Packs `texts` into blocks, in order; `None` for a `None` text. Consecutive texts share a block
/// until it holds `BLOCK_PLAIN` bytes.
pub fn pack<T: AsRef<[u8]>>(texts: &[Option<T>]) -> Vec<Option<Slot>> {
    let mut out: Vec<Option<Slot>> = Vec::with_capacity(texts.len());
    let mut plain: Vec<u8> = Vec::new();
    // The ranges of the block being filled, as (index in `out`, start, len).
    let mut pending: Vec<(usize, u32, u32)> = Vec::new();
    for text in texts {
        let Some(text) = text.as_ref().map(AsRef::as_ref) else {
            out.push(None);
            continue;
        };
        if !plain.is_empty() && plain.len() + text.len() > BLOCK_PLAIN {
            seal(&mut plain, &mut pending, &mut out);
        }
        // A block never exceeds `BLOCK_PLAIN` unless one text does, so offsets fit `u32`.
        // A text that does not fit (4 GiB) gets no slot; `CanonicalJson` then keeps it plain.
        if let (Ok(start), Ok(len)) = (u32::try_from(plain.len()), u32::try_from(text.len())) {
            pending.push((out.len(), start, len));
            plain.extend_from_slice(text);
        }
        out.push(None);
    }
    seal(&mut plain, &mut pending, &mut out);
    out
}

/// Compresses the block being filled and points its texts' slots at it.
fn seal(plain: &mut Vec<u8>, pending: &mut Vec<(usize, u32, u32)>, out: &mut [Option<Slot>]) {
    if pending.is_empty() {
        plain.clear();
        return;
    }
    let block = Arc::new(match (plain.len() > COMPRESS_ABOVE).then(|| compress(plain)).flatten() {
        Some(z) => Block { compressed: true, bytes: z.into_boxed_slice() },
        None => Block { compressed: false, bytes: std::mem::take(plain).into_boxed_slice() },
    });
    for (i, start, len) in pending.drain(..) {
        out[i] = Some(Slot { block: block.clone(), start, len });
    }
    plain.clear();
}

impl Slot {
    /// The text, read back from its block.
    pub fn text(&self) -> std::io::Result<Vec<u8>> {
        let range = |plain: &[u8]| -> std::io::Result<Vec<u8>> {
            let start = self.start as usize;
            plain
                .get(start..start + self.len as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "text outside its block"))
        };
        if !self.block.compressed {
            return range(&self.block.bytes);
        }
        thread_local! {
            /// The blocks this thread opened last, most recent first.
            static OPEN: RefCell<Vec<(Arc<Block>, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
        }
        OPEN.with(|open| {
            let mut open = open.borrow_mut();
            let at = match open.iter().position(|(b, _)| Arc::ptr_eq(b, &self.block)) {
                Some(at) => at,
                None => {
                    let plain = decompress(&self.block.bytes)?;
                    open.truncate(OPEN_PER_THREAD - 1);
                    open.push((self.block.clone(), plain));
                    open.len() - 1
                }
            };
            let entry = open.remove(at);
            let text = range(&entry.1);
            open.insert(0, entry);
            text
        })
    }

    /// Bytes its block holds in memory (shared with the other texts of the block).
    pub fn block_len(&self) -> usize {
        self.block.bytes.len()
    }

    /// Whether two slots share one block.
    pub fn same_block(&self, other: &Slot) -> bool {
        Arc::ptr_eq(&self.block, &other.block)
    }

    /// Whether its block is kept compressed.
    pub fn compressed(&self) -> bool {
        self.block.compressed
    }
}

/// Compresses with this thread's compression context: setting one up per block of a small page
/// cost more than compressing it.
fn compress(plain: &[u8]) -> Option<Vec<u8>> {
    thread_local! {
        static CONTEXT: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    }
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(COMPRESS_LEVEL).ok();
        }
        c.as_mut()?.compress(plain).ok()
    })
}

/// Decompresses a frame `compress` wrote (it records the content size) with this thread's
/// decompression context.
fn decompress(z: &[u8]) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static CONTEXT: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    }
    let Some(size) = zstd::zstd_safe::get_frame_content_size(z).ok().flatten().and_then(|n| usize::try_from(n).ok())
    else {
        return zstd::decode_all(z);
    };
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(zstd::bulk::Decompressor::new()?);
        }
        match c.as_mut() {
            Some(d) => d.decompress(z, size),
            None => zstd::decode_all(z),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(n: usize, f: impl Fn(usize) -> String) -> Vec<Option<String>> {
        (0..n).map(|i| Some(f(i))).collect()
    }

    #[test]
    fn every_text_reads_back_whole_and_none_stays_none() {
        let mut t = texts(3000, |i| format!(r#"{{"metadata":{{"name":"cm-{i}","namespace":"ns-{}"}}}}"#, i % 7));
        t[5] = None;
        t[2999] = None;
        t.insert(0, Some(String::new()));
        t.push(Some("x".repeat(3 * BLOCK_PLAIN)));
        let slots = pack(&t);
        assert_eq!(slots.len(), t.len());
        for (s, want) in slots.iter().zip(&t) {
            match (s, want) {
                (Some(s), Some(w)) => assert_eq!(s.text().unwrap(), w.as_bytes()),
                (None, None) => {}
                other => panic!("slot and text disagree: {other:?}"),
            }
        }
    }

    #[test]
    fn consecutive_texts_share_blocks_that_compress_together() {
        let t = texts(2000, |i| {
            format!(
                r#"{{"kind":"ConfigMap","metadata":{{"name":"settings-{i}","labels":{{"app":"web"}}}},"data":{{"k":"v"}}}}"#
            )
        });
        let plain: usize = t.iter().flatten().map(String::len).sum();
        let slots: Vec<Slot> = pack(&t).into_iter().flatten().collect();
        let mut blocks: Vec<&Slot> = slots.iter().collect();
        blocks.dedup_by(|a, b| a.same_block(b));
        assert!(blocks.len() > 1, "{plain} bytes span more than one block of {BLOCK_PLAIN}");
        assert!(blocks.len() <= plain / BLOCK_PLAIN + 1, "blocks are filled: {} for {plain} bytes", blocks.len());
        let held: usize = blocks.iter().map(|s| s.block_len()).sum();
        assert!(held * 10 < plain, "a run of similar texts compresses to under a tenth: {held} of {plain}");
        // Blocks read alternately (as the diff reads two sides) and out of order read back whole.
        for i in [1999, 0, 1000, 1, 1998, 500] {
            assert_eq!(slots[i].text().unwrap(), t[i].as_ref().unwrap().as_bytes());
        }
    }

    #[test]
    fn a_short_page_is_kept_plain() {
        let slots = pack(&[Some("{}"), Some(r#"{"a":1}"#)]);
        let s = slots[1].as_ref().unwrap();
        assert!(!s.compressed());
        assert_eq!(s.text().unwrap(), br#"{"a":1}"#);
        assert!(pack::<&str>(&[None, None]).iter().all(Option::is_none));
    }

    #[test]
    fn more_blocks_than_a_thread_keeps_open_still_read_back() {
        let pages: Vec<Vec<Option<Slot>>> = (0..OPEN_PER_THREAD * 2)
            .map(|p| pack(&texts(50, |i| format!("page {p} text {i} {}", "y".repeat(300)))))
            .collect();
        for round in 0..2 {
            for (p, page) in pages.iter().enumerate() {
                let i = (p + round) % 50;
                assert_eq!(
                    page[i].as_ref().unwrap().text().unwrap(),
                    format!("page {p} text {i} {}", "y".repeat(300)).as_bytes()
                );
            }
        }
    }
}
