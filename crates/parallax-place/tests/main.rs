//! parallax-place's integration tests, built as one test binary: each file in this folder is a
//! module here (one compile and link for all of them, not one per file). Add a new file's
//! module below; shared helpers live in `common/`.

mod bad_input;
mod binding_memory;
mod bnb;
mod common;
mod dp_bruteforce;
mod expected_optima;
mod experts;
mod fuzz;
mod hardening;
mod latency;
mod milp;
mod pipedream;
mod scotch;
mod split_maxima;
