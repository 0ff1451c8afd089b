//! parallax-hw's integration tests, built as one test binary: each file in this folder is a
//! module here (one compile and link for all of them, not one per file). Add a new file's
//! module below; shared helpers live in `common/`.

mod catalog;
mod cluster;
mod collective_model;
mod collectives;
mod common;
mod errors;
mod hardening;
mod hetero_cluster;
mod mla_decode;
mod profile_aiconfigurator_moe;
mod profile_calibrate;
mod profile_dry_run;
mod profile_format;
mod profile_fused_moe;
mod profile_holdout;
mod profile_import;
mod profile_measured;
mod profile_model;
mod roofline_blackwell;
mod roofline_fp8;
mod roofline_gemm;
