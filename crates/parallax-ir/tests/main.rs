//! parallax-ir's integration tests, built as one test binary: each file in this folder is a
//! module here (one compile and link for all of them, not one per file). Add a new file's
//! module below.

mod errors;
mod hf_import;
mod kv;
mod lower;
mod params;
mod proptest_import;
mod quantization;
mod routing;
