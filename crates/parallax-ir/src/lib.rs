//! # parallax-ir
//!
//! The model intermediate representation of Parallax.
//!
//! - [`Model`]: embeddings, runs of identical [`Block`]s stored once with a repeat count, LM head.
//! - [`Cell`]: attention (MHA/GQA/MQA/MLA, sliding window), dense MLP, MoE, norm.
//! - Import from Hugging Face `config.json` ([`hf`]).
//! - Accounting: parameters, weight bytes, KV bytes per token, FLOPs and bytes per cell.
//! - Lowering of a cell under a [`CellShard`] to hardware-agnostic [`Op`]s for one [`Batch`].
//!
//! This crate does no I/O except where a function's name says it reads a file.

#![warn(missing_docs)]

pub mod accounting;
pub mod batch;
pub mod catalog;
pub mod dtype;
pub mod error;
pub mod hf;
pub mod hf_cache;
pub mod json;
pub mod lower;
pub mod model;
pub mod op;
pub mod routing;

pub use batch::{Batch, DecodeGroup, PrefillChunk, MAX_BATCH_SEQUENCES, MAX_SEQUENCE_TOKENS};
pub use catalog::{embedded, resolve, EmbeddedModel};
pub use dtype::{DType, KvCacheDtype, Precision, Quantization};
pub use error::IrError;
pub use lower::{check_shard, lower_cell, lower_embedding, lower_lm_head};
pub use model::{
    Attention, AttentionKind, Block, BlockRun, Cell, Indexer, Mlp, Model, Moe, Norm,
    SparseAttention,
};
pub use op::{
    AttentionShape, CellShard, Collective, CollectiveKind, Elementwise, ElementwiseKind, FusedMoe,
    Gemm, GroupRole, Op, OpBody, OpKind,
};

/// `value` as written, for an error message: its first `max` characters, then `…` when it is
/// longer (a megabyte-long field is named, not echoed).
///
/// ```
/// assert_eq!(parallax_ir::shown("abcdef", 3), "abc…");
/// assert_eq!(parallax_ir::shown("ab", 3), "ab");
/// ```
pub fn shown(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        value.to_string()
    } else {
        format!("{}…", value.chars().take(max).collect::<String>())
    }
}

/// Largest input file read, bytes (2 GiB): larger request traces or tables should be split.
pub const MAX_INPUT_BYTES: u64 = 2 << 30;

/// Check that `path` is a regular file of at most [`MAX_INPUT_BYTES`] before reading it.
///
/// # Errors
/// The I/O error of its metadata (missing, …), or `InvalidInput` naming what it is instead.
pub fn check_input_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "is a directory, expected a file",
        ));
    }
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "is not a regular file (a device, pipe or socket), expected a file",
        ));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "is {} bytes, expected at most {MAX_INPUT_BYTES} (2 GiB)",
                meta.len()
            ),
        ));
    }
    Ok(())
}

/// The text of the file at `path` without a leading UTF-8 byte-order mark (which editors on
/// Windows write and which would otherwise become part of the first JSON token, CSV column
/// name or trace field). Every input file of the library crates and the CLI is read through
/// this (the placement crate, which does not depend on this one, strips it alike).
///
/// Only regular files are read (a device such as `/dev/zero` or a named pipe would never end
/// or block), and at most [`MAX_INPUT_BYTES`].
///
/// # Errors
/// The I/O error of reading the file (missing, a directory, not UTF-8, …); `InvalidInput` for
/// something other than a regular file or a file larger than [`MAX_INPUT_BYTES`].
pub fn read_text(path: &std::path::Path) -> std::io::Result<String> {
    check_input_file(path)?;
    let mut text = std::fs::read_to_string(path)?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}
