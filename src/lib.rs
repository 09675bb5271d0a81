//! kparity proves two Kubernetes clusters are equivalent.
//!
//! Data flows one way: a **source** (a live cluster via `source::live`, or a snapshot archive)
//! yields raw objects with secret values already digested; **normalize** turns each into the
//! form that is compared (rules from `ignore-rules/`, semantic canonicalization) and the
//! **dump** indexes them by `ObjectKey`; **diff** pairs the two dumps, diffs content, applies
//! waivers and decides the verdict; **report** renders it. Only `source` does I/O with an API
//! server and only `report` writes to stdout.

pub mod absence;
pub mod attribution;
pub mod cli;
pub mod commands;
pub mod cpu;
pub mod diff;
pub mod dump;
pub mod error;
pub mod exit;
pub mod explain;
pub mod helm_release;
pub mod model;
pub mod normalize;
pub mod packed;
pub mod platform;
pub mod progress;
pub mod report;
pub mod rules;
pub mod schema;
pub mod secrets;
pub mod snapshot;
pub mod source;
