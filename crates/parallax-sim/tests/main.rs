//! parallax-sim's integration tests, built as one test binary: each file in this folder is a
//! module here (one compile and link for all of them, not one per file). Add a new file's
//! module below; shared helpers live in `common/`.

mod budget;
mod capacity_router;
mod common;
mod conservation;
mod deadline;
mod determinism;
mod disagg;
mod engine_host;
mod frontend;
mod hand_computed;
mod hardening;
mod itl;
mod outputs;
mod prefix_cache;
mod properties;
mod rejection;
mod router;
mod skip_ahead_replicas;
mod speculation;
mod swap;
mod timeline_events;
mod trace_parsing;
mod workload_ops;
