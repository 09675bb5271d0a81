//! Response bodies as the API server encoded them, decoded as they arrive and bounded by what
//! they decode to.
//!
//! kparity asks for gzip on every request and decodes it here rather than in the HTTP client's
//! layer. The API server compresses a watch as a series of gzip members, one per flush, and a
//! single-member decoder (the client layer's) refuses every member after the first: a stream
//! would have to be read uncompressed, about fifteen times the bytes of the same objects in
//! pages. A series of members is what RFC 1952 calls a gzip file, so one decoder serves pages
//! and streams alike.

use std::io::Write;

use flate2::write::MultiGzDecoder;
use http::{HeaderMap, header};

/// How a body is encoded (`Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

impl Encoding {
    /// The encoding a response declares. Anything kparity did not ask for is refused rather
    /// than parsed as if it were plain.
    pub fn of(headers: &HeaderMap) -> Result<Encoding, String> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else { return Ok(Encoding::Identity) };
        let text = value.to_str().unwrap_or("").trim();
        if text.eq_ignore_ascii_case("gzip") || text.eq_ignore_ascii_case("x-gzip") {
            Ok(Encoding::Gzip)
        } else if text.is_empty() || text.eq_ignore_ascii_case("identity") {
            Ok(Encoding::Identity)
        } else {
            Err(format!("the server answered with Content-Encoding {text:?}, which kparity did not ask for"))
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// It decodes to more than the bound: refused before it is held whole.
    TooLarge,
    /// The compressed data is damaged, or stops inside a member.
    Corrupt(String),
}

/// Decodes one body piece by piece. What it decodes is kept until `take` (a stream hands it on
/// as it arrives) or `finish` (a page is read whole).
pub struct Decoder {
    inner: Inner,
    /// What each push decoded and nobody took yet, piece by piece: a page is joined once, at
    /// its exact size, instead of growing one buffer by doubling (which held up to twice a
    /// page per request in flight).
    decoded: Vec<Vec<u8>>,
}

enum Inner {
    Identity(Bounded),
    // Boxed: its inflate state is tens of KiB, one per body.
    Gzip(Box<MultiGzDecoder<Bounded>>),
}

impl Decoder {
    /// A decoder of `encoding` whose whole output may not exceed `limit` bytes.
    pub fn new(encoding: Encoding, limit: usize) -> Self {
        let sink = Bounded { out: Vec::new(), total: 0, limit };
        let inner = match encoding {
            Encoding::Identity => Inner::Identity(sink),
            Encoding::Gzip => Inner::Gzip(Box::new(MultiGzDecoder::new(sink))),
        };
        Decoder { inner, decoded: Vec::new() }
    }

    /// Decodes the next piece of the body.
    pub fn push(&mut self, piece: &[u8]) -> Result<(), DecodeError> {
        let written = match &mut self.inner {
            Inner::Identity(sink) => sink.write_all(piece),
            // The decoder buffers some output: flushed so that `take` sees all of it.
            Inner::Gzip(gz) => gz.write_all(piece).and_then(|()| gz.flush()),
        };
        written.map_err(classify)?;
        self.keep();
        Ok(())
    }

    /// What was decoded since the last call: one piece as it is, several joined.
    pub fn take(&mut self) -> Vec<u8> {
        match self.decoded.len() {
            0 => Vec::new(),
            1 => self.decoded.pop().unwrap_or_default(),
            _ => {
                let mut joined = Vec::with_capacity(self.decoded.iter().map(Vec::len).sum());
                for piece in self.decoded.drain(..) {
                    joined.extend_from_slice(&piece);
                }
                joined
            }
        }
    }

    /// How the body is encoded.
    pub fn encoding(&self) -> Encoding {
        match self.inner {
            Inner::Identity(_) => Encoding::Identity,
            Inner::Gzip(_) => Encoding::Gzip,
        }
    }

    /// The bound of what the whole body may decode to.
    pub fn limit(&self) -> usize {
        match &self.inner {
            Inner::Identity(sink) => sink.limit,
            Inner::Gzip(gz) => gz.get_ref().limit,
        }
    }

    /// Moves what the sink holds to the decoded pieces.
    fn keep(&mut self) {
        let out = std::mem::take(&mut self.sink_mut().out);
        if !out.is_empty() {
            self.decoded.push(out);
        }
    }

    /// The body is over: what was decoded and not taken. A compressed body that stops inside a
    /// member (its header, its data or its trailer) was cut on the way.
    pub fn finish(mut self) -> Result<Vec<u8>, DecodeError> {
        if let Inner::Gzip(gz) = &mut self.inner {
            gz.try_finish().map_err(classify)?;
        }
        self.keep();
        Ok(self.take())
    }

    fn sink_mut(&mut self) -> &mut Bounded {
        match &mut self.inner {
            Inner::Identity(s) => s,
            Inner::Gzip(gz) => gz.get_mut(),
        }
    }
}

fn classify(e: std::io::Error) -> DecodeError {
    if e.get_ref().is_some_and(|inner| inner.is::<Overflow>()) {
        DecodeError::TooLarge
    } else {
        DecodeError::Corrupt(e.to_string())
    }
}

/// The decoded bytes and how many there were in all, refusing a write past the bound: a small
/// compressed piece can decode to a thousand times its size.
struct Bounded {
    out: Vec<u8>,
    total: usize,
    limit: usize,
}

#[derive(Debug)]
struct Overflow;

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the decoded body is larger than the bound")
    }
}

impl std::error::Error for Overflow {}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.total.saturating_add(buf.len()) > self.limit {
            return Err(std::io::Error::other(Overflow));
        }
        self.total += buf.len();
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use proptest::prelude::*;

    fn member(text: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(text).unwrap();
        gz.finish().unwrap()
    }

    /// Three members, as the API server flushes a watch, and where each one ends (in the body,
    /// in what it decodes to).
    fn members() -> (Vec<u8>, Vec<u8>, Vec<(usize, usize)>) {
        let parts: [&[u8]; 3] =
            [b"{\"type\":\"ADDED\"}\n", b"{\"type\":\"ADDED\",\"n\":2}\n{\"a\":1}\n", b"{\"type\":\"BOOKMARK\"}\n"];
        let (mut body, mut plain, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        for p in parts {
            body.extend(member(p));
            plain.extend_from_slice(p);
            ends.push((body.len(), plain.len()));
        }
        (body, plain, ends)
    }

    fn decode(encoding: Encoding, pieces: &[&[u8]], limit: usize) -> Result<Vec<u8>, DecodeError> {
        let mut d = Decoder::new(encoding, limit);
        let mut out = Vec::new();
        for p in pieces {
            d.push(p)?;
            out.extend(d.take());
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    proptest! {
        /// However the transport splits it, a series of gzip members decodes to what was
        /// compressed, and each piece's output is handed on as it arrives.
        #[test]
        fn members_decode_whole_across_any_split(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
            let (body, plain, _) = members();
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
            at.extend([0, body.len()]);
            at.sort_unstable();
            let pieces: Vec<&[u8]> = at.windows(2).map(|w| &body[w[0]..w[1]]).collect();
            prop_assert_eq!(decode(Encoding::Gzip, &pieces, usize::MAX), Ok(plain));
        }
    }

    #[test]
    fn a_body_cut_inside_a_member_is_corrupt_and_one_cut_between_members_is_shorter() {
        let (body, plain, ends) = members();
        for len in 0..body.len() {
            let got = decode(Encoding::Gzip, &[&body[..len]], usize::MAX);
            if let Some(&(_, upto)) = ends.iter().find(|&&(end, _)| end == len) {
                // A series of whole members is a valid body; what it says is for the JSON (a
                // page) or the bookmark (a stream) to judge.
                assert_eq!(got, Ok(plain[..upto].to_vec()), "cut at {len}");
            } else {
                assert!(matches!(got, Err(DecodeError::Corrupt(_))), "cut at {len}: {got:?}");
            }
        }
    }

    #[test]
    fn a_damaged_byte_is_corrupt_wherever_it_is() {
        let (body, plain, _) = members();
        for i in 0..body.len() {
            let mut bad = body.clone();
            bad[i] ^= 0x55;
            // A flipped bit in the header's optional fields (mtime, OS) changes nothing read.
            match decode(Encoding::Gzip, &[&bad], usize::MAX) {
                Ok(out) => assert_eq!(out, plain, "byte {i} damaged yet decoded to something else"),
                Err(e) => assert!(matches!(e, DecodeError::Corrupt(_)), "byte {i}: {e:?}"),
            }
        }
    }

    #[test]
    fn what_a_body_decodes_to_is_bounded_before_it_is_held() {
        // 64 MiB of zeros compress to about 64 KiB: the bound is on what it decodes to.
        let bomb = {
            let mut gz = GzEncoder::new(Vec::new(), Compression::best());
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..64 {
                gz.write_all(&zeros).unwrap();
            }
            gz.finish().unwrap()
        };
        assert!(bomb.len() < 1 << 20);
        let mut d = Decoder::new(Encoding::Gzip, 4 << 20);
        let mut held = 0;
        let mut refused = false;
        for piece in bomb.chunks(16 * 1024) {
            match d.push(piece) {
                Ok(()) => held += d.take().len(),
                Err(e) => {
                    assert_eq!(e, DecodeError::TooLarge);
                    refused = true;
                    break;
                }
            }
        }
        assert!(refused, "a body decoding to 64 MiB passed a bound of 4 MiB");
        assert!(held <= 4 << 20, "{held} bytes were handed on");
        // The bound counts the whole body, plain ones too, and a body at the bound passes.
        assert_eq!(decode(Encoding::Identity, &[b"12345", b"6789"], 8), Err(DecodeError::TooLarge));
        assert_eq!(decode(Encoding::Identity, &[b"1234", b"5678"], 8), Ok(b"12345678".to_vec()));
        let (body, plain, _) = members();
        assert_eq!(decode(Encoding::Gzip, &[&body], plain.len()), Ok(plain.clone()));
        assert_eq!(decode(Encoding::Gzip, &[&body], plain.len() - 1), Err(DecodeError::TooLarge));
    }

    #[test]
    fn only_the_encodings_asked_for_are_accepted() {
        let of = |v: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(v) = v {
                h.insert(header::CONTENT_ENCODING, v.parse().unwrap());
            }
            Encoding::of(&h)
        };
        assert_eq!(of(None), Ok(Encoding::Identity));
        assert_eq!(of(Some("identity")), Ok(Encoding::Identity));
        assert_eq!(of(Some("gzip")), Ok(Encoding::Gzip));
        assert_eq!(of(Some("GZIP")), Ok(Encoding::Gzip));
        for other in ["br", "deflate", "zstd", "gzip, br"] {
            assert!(of(Some(other)).is_err(), "{other}");
        }
        // Plain bytes under a gzip label are damaged, never taken as they are.
        assert!(matches!(decode(Encoding::Gzip, &[b"{\"items\":[]}"], usize::MAX), Err(DecodeError::Corrupt(_))));
    }
}
