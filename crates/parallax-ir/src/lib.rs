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

pub mod batch;
pub mod dtype;
pub mod model;
pub mod op;

pub use batch::{Batch, DecodeGroup, PrefillChunk};
pub use dtype::{DType, Precision};
pub use model::{Attention, AttentionKind, Block, BlockRun, Cell, Mlp, Model, Moe, Norm};
pub use op::{
    AttentionShape, CellShard, Collective, CollectiveKind, Elementwise, ElementwiseKind, Gemm,
    GroupRole, Op, OpBody, OpKind,
};
