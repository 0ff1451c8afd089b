//! parallax-report's integration tests, built as one test binary: each file in this folder is a
//! module here (one compile and link for all of them, not one per file). Add a new file's
//! module below.

mod report;
