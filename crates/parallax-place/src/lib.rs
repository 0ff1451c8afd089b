//! # parallax-place
//!
//! Exact placement of a DNN operator DAG on accelerators with memory limits and CPUs.

#![warn(missing_docs)]
