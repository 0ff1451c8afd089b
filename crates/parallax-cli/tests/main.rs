//! parallax-cli's integration tests, built as one test binary: each file in this folder is a
//! module here (one compile and link for all of them, not one per file). Add a new file's
//! module below; shared helpers live in `common/`.

mod cli_launch;
mod common;
mod engine_flags;
mod frontend;
mod hetero_cli;
mod moe_skew;
mod place_budgets;
mod place_paper_features;
mod precision_flags;
mod report;
mod search_serving;
mod search_time_limit;
mod speculation;
