//! parallax-plan's integration tests, built as one test binary: each file in this folder is a
//! module here (one compile and link for all of them, not one per file). Add a new file's
//! module below.

mod common;
mod custom_allreduce;
mod disagg;
mod engine_fused_moe;
mod enumerate;
mod enumerate_families;
mod fp8_gemm_quant;
mod fp8_kv_decode;
mod fused_moe;
mod hardening;
mod hetero;
mod host_link;
mod lowering;
mod mapping;
mod memory;
mod moe_dispatch;
mod moe_replicas;
mod moe_skew;
mod plan_string;
mod predict;
mod predict_bad_cost;
mod stage_tp;
