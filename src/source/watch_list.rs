//! Reads one type as a watch-list stream (KEP-3157): `watch=true&sendInitialEvents=true&
//! resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true` (the request is built by
//! `list::stream_url` with kube-core's `WatchParams::streaming_lists`). The server sends the type's
//! current state as `ADDED` events, then a `BOOKMARK` annotated `k8s.io/initial-events-end`
//! whose resourceVersion is the consistent point those events describe. The stream is one
//! request instead of one per page of 500, and the server serves it from its watch cache.
//!
//! A stream is bounded by the type's deadline, and by the request timeout only while nothing
//! arrives: a type of 100,000 objects streams for longer than one page request may take.
//!
//! Reading a stream is an attempt, never a verdict: anything but a complete stream ending in
//! that bookmark (the server refuses the parameters, RBAC grants `list` but not `watch`, an
//! event other than `ADDED` comes first, an `ERROR` event, a cut or stalled stream, an oversized
//! line) ends the attempt, and the caller reads the type again with paged lists, whose retries
//! and failure reasons are the ones every fault test pins down.

use serde::Deserialize;
use serde_json::Value;

use crate::dump::ReadObject;

/// The annotation of the bookmark that ends the initial events.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// One watch event as the API server writes it.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: ReadObject,
}

/// What one line of the stream meant.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// An object of the initial state.
    Object(ReadObject),
    /// A bookmark that does not end the initial events (a periodic one): nothing to do.
    Skip,
    /// The initial events are complete, at this resourceVersion (`None` if the server gave none).
    End(Option<String>),
}

/// Why a stream attempt ended without the type's state: the caller falls back to paged lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned(pub String);

/// Interprets one line (one event) of a watch-list stream.
pub fn step(line: &[u8]) -> Result<Step, Abandoned> {
    let event: Event = serde_json::from_slice(line)
        .map_err(|e| Abandoned(format!("an event of the stream is not a watch event: {e}")))?;
    match event.kind.as_str() {
        "ADDED" => Ok(Step::Object(event.object)),
        "BOOKMARK" => {
            let meta = event.object.object.get("metadata");
            let ends =
                meta.and_then(|m| m.get("annotations")).and_then(|a| a.get(INITIAL_EVENTS_END)).and_then(Value::as_str)
                    == Some("true");
            if !ends {
                return Ok(Step::Skip);
            }
            let rv = meta.and_then(|m| m.get("resourceVersion")).and_then(Value::as_str).filter(|v| !v.is_empty());
            Ok(Step::End(rv.map(str::to_string)))
        }
        // A change before the initial state is complete: the stream no longer describes one
        // point, and folding changes in would be a second implementation of the reflector.
        "MODIFIED" | "DELETED" => {
            Err(Abandoned(format!("a {} event came before the initial events ended", event.kind)))
        }
        "ERROR" => {
            let message = event.object.object.get("message").and_then(Value::as_str).unwrap_or("no message");
            Err(Abandoned(format!("the server ended the stream with an error: {message}")))
        }
        other => Err(Abandoned(format!("unknown watch event type {other:?}"))),
    }
}

/// What a batch of complete lines (`Lines::take`) held, read in order up to the first event
/// that ends the attempt or the initial events: the objects before it, and how the stream ends
/// there (`None`: it goes on).
pub fn events(batch: &[u8]) -> (Vec<ReadObject>, Option<Result<Option<String>, Abandoned>>) {
    let mut objects = Vec::new();
    for line in batch.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
        match step(line) {
            Ok(Step::Object(o)) => objects.push(o),
            Ok(Step::Skip) => {}
            // Nothing after the end is read.
            Ok(Step::End(rv)) => return (objects, Some(Ok(rv))),
            Err(e) => return (objects, Some(Err(e))),
        }
    }
    (objects, None)
}

/// Whether a batch may hold the bookmark that ends the initial events: its events are read at
/// once rather than waiting for a full batch, since nothing may follow the bookmark for a
/// while. Only a hint (a false positive reads a small batch early, and a bookmark it misses is
/// read when the stream ends or the batch fills).
pub fn may_end(lines: &[u8]) -> bool {
    memchr::memmem::find(lines, b"BOOKMARK").is_some()
}

/// Splits a byte stream into lines (the API server writes one JSON event per line), holding at
/// most one incomplete line, bounded by `max_line` bytes.
pub struct Lines {
    partial: Vec<u8>,
    max_line: usize,
}

impl Lines {
    pub fn new(max_line: usize) -> Self {
        Lines { partial: Vec::new(), max_line }
    }

    /// Adds a chunk and appends every line it completes to `out`, each ending in a newline;
    /// returns how many it appended. The rest waits for the next chunk.
    pub fn take(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<usize, Abandoned> {
        let complete = match memchr::memrchr(b'\n', chunk) {
            None => {
                self.partial.extend_from_slice(chunk);
                0
            }
            Some(last) => {
                let (lines, rest) = chunk.split_at(last + 1);
                out.append(&mut self.partial);
                out.extend_from_slice(lines);
                self.partial.extend_from_slice(rest);
                memchr::memchr_iter(b'\n', lines).count()
            }
        };
        if self.partial.len() > self.max_line {
            return Err(Abandoned(format!("an event of the stream is longer than {} bytes", self.max_line)));
        }
        Ok(complete)
    }

    /// Whether a partial line is left (the stream ended inside an event).
    pub fn has_partial(&self) -> bool {
        !self.partial.iter().all(u8::is_ascii_whitespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The lines `chunks` complete, as `events` splits them, the last result, and whether a
    /// partial line is left.
    fn lines_of(chunks: &[&[u8]], max: usize) -> (Vec<String>, Result<usize, Abandoned>, bool) {
        let mut lines = Lines::new(max);
        let mut out = Vec::new();
        let mut last = Ok(0);
        for c in chunks {
            last = lines.take(c, &mut out);
            if last.is_err() {
                break;
            }
        }
        let seen = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(|l| String::from_utf8_lossy(l).to_string())
            .collect();
        (seen, last, lines.has_partial())
    }

    #[test]
    fn lines_are_split_across_chunks_and_an_unfinished_one_is_kept() {
        let (seen, r, partial) = lines_of(&[b"{\"a\"", b":1}\n\n{\"b\":2}\n{\"c\"", b":3"], 100);
        assert_eq!(seen, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(r, Ok(0), "the last chunk completes no line");
        assert!(partial, "the cut third event is still pending");
        let (seen, r, partial) = lines_of(&[b"one\ntw", b"o\nthree\n"], 100);
        assert_eq!(seen, vec!["one", "two", "three"]);
        assert_eq!(r, Ok(2));
        assert!(!partial);
    }

    #[test]
    fn a_line_longer_than_the_bound_ends_the_attempt() {
        let (_, r, _) = lines_of(&[&[b'x'; 64], &[b'y'; 64]], 100);
        assert!(r.is_err(), "{r:?}");
        // Complete lines of any count pass as long as each is within the bound.
        let many = "{}\n".repeat(1000);
        let (seen, r, _) = lines_of(&[many.as_bytes()], 100);
        assert_eq!((seen.len(), r), (1000, Ok(1000)));
    }

    #[test]
    fn a_batch_is_read_up_to_the_event_that_ends_it() {
        let added = |n: &str| json!({"type": "ADDED", "object": {"metadata": {"name": n}}}).to_string();
        let end = json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12",
            "annotations": {INITIAL_EVENTS_END: "true"}}}})
        .to_string();
        let periodic = json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}).to_string();
        let batch = format!("{}\n{periodic}\n\n{}\n{end}\n{}\n", added("a"), added("b"), added("c"));
        let (objects, ending) = events(batch.as_bytes());
        let names: Vec<_> = objects.iter().map(|o| o.object["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b"], "nothing after the end is read");
        assert_eq!(ending, Some(Ok(Some("12".into()))));
        assert!(may_end(batch.as_bytes()));
        let modified = json!({"type": "MODIFIED", "object": {}}).to_string();
        let (objects, ending) = events(format!("{}\n{modified}\n{}\n", added("a"), added("b")).as_bytes());
        assert_eq!(objects.len(), 1);
        assert!(matches!(ending, Some(Err(_))), "{ending:?}");
        let (objects, ending) = events(format!("{}\n{}\n", added("a"), added("b")).as_bytes());
        assert_eq!((objects.len(), ending), (2, None));
        assert!(!may_end(format!("{}\n", added("a")).as_bytes()));
    }

    #[test]
    fn events_are_read_until_the_bookmark_that_ends_the_initial_events() {
        let added = json!({"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "7"}}});
        assert_eq!(
            step(added.to_string().as_bytes()),
            Ok(Step::Object(json!({"metadata": {"name": "a", "resourceVersion": "7"}}).into()))
        );
        let periodic = json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}});
        assert_eq!(step(periodic.to_string().as_bytes()), Ok(Step::Skip));
        let not_true = json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9",
            "annotations": {INITIAL_EVENTS_END: "false"}}}});
        assert_eq!(step(not_true.to_string().as_bytes()), Ok(Step::Skip));
        let end = json!({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12",
            "annotations": {INITIAL_EVENTS_END: "true"}}}});
        assert_eq!(step(end.to_string().as_bytes()), Ok(Step::End(Some("12".into()))));
    }

    #[test]
    fn anything_but_initial_state_abandons_the_stream() {
        for line in [
            json!({"type": "MODIFIED", "object": {"metadata": {"name": "a"}}}).to_string(),
            json!({"type": "DELETED", "object": {"metadata": {"name": "a"}}}).to_string(),
            json!({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}).to_string(),
            json!({"type": "SURPRISE", "object": {}}).to_string(),
            json!({"kind": "ConfigMapList", "items": []}).to_string(),
            "{\"type\":\"ADDED\",\"object\":{\"metadata\"".to_string(),
            "<html>".to_string(),
        ] {
            assert!(step(line.as_bytes()).is_err(), "{line}");
        }
    }
}
