//! The layer chain of a pipelined plan, for choosing uneven stage boundaries.
//!
//! A pipeline's throughput is set by its slowest stage, and its feasibility by its fullest one.
//! [`layer_chain`] turns one stage shape of a plan (stage width and cell layouts) into a chain
//! of **blocks** (stage boundaries fall on block boundaries) with, for each block, its time
//! on a representative mix of batches and the device memory it needs; the input embedding is
//! folded into the first block and the final norm, LM head and sampling into the last, so
//! that every stage of a split holds at least one block. A contiguous max-load solver (the
//! facade uses `parallax-place`'s exact DP) then splits the chain into `pp` stages.
//!
//! # How the costs are obtained
//!
//! From the same [`crate::PlanStageCost`] and [`crate::memory`] code the simulator and the
//! memory check use, by differences of two-stage probe plans `layers=a+(L−a)` of the plan's
//! stage shape: the last stage starting at the first block of a run minus the last stage
//! starting one block later is one block of that run; the first stage ending after block 1
//! minus that block is the embedding (with the pipeline send), and likewise for the LM head.
//! Blocks of one run are identical, so this takes two probes per run (plus two), **independent
//! of depth**. Stage wall time is not exactly additive (CUDA-graph overlap, host issue), so
//! chain times are a model of the stage loads: the split it yields is simulated like any plan.
//!
//! Memory per block: its weights plus `pp` times its KV for the workload's largest request
//! (one pipeline engine's share, as [`crate::MemoryReport::shortfall`] checks); the capacity
//! of a stage is what the engine's memory rule leaves weights and KV beside the runtime
//! reserve and the largest activation reserve of the probe stages
//! ([`crate::memory::MemoryRule::weights_kv_limit`]; under TensorRT-LLM's free-memory fraction the
//! KV counts `1 / fraction` times against the memory left after reserves). Conservative: a
//! split within capacity is then re-checked exactly by the caller.

use crate::error::PlanError;
use crate::lower::{lower_unchecked, LowerOptions};
use crate::plan::{Geometry, Plan};
use parallax_hw::{Cluster, CostModel};
use parallax_ir::{Batch, Model};
use parallax_sim::StageCost;
use std::sync::Arc;

/// One block of a [`LayerChain`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainBlock {
    /// Layers of the block.
    pub layers: u32,
    /// Seconds of the block on the representative batch mix (embedding folded into the
    /// first block, LM head into the last).
    pub seconds: f64,
    /// Device bytes the block needs on its stage (weights plus its KV share, weighted as
    /// [`crate::memory::MemoryRule::weights_kv_limit`] says).
    pub bytes: f64,
}

/// The blocks of a model under one stage shape, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerChain {
    /// Blocks, first to last.
    pub blocks: Vec<ChainBlock>,
    /// Bytes a stage may give its blocks (the engine's limit on weights and KV beside the
    /// reserves).
    pub capacity_bytes: f64,
}

impl LayerChain {
    /// Per-stage layer counts of a split given as per-stage block counts.
    pub fn layers_of(&self, blocks_per_stage: &[usize]) -> Vec<u32> {
        let mut out = Vec::with_capacity(blocks_per_stage.len());
        let mut i = 0;
        for &n in blocks_per_stage {
            out.push(self.blocks[i..i + n].iter().map(|b| b.layers).sum());
            i += n;
        }
        out
    }

    /// Per-stage block counts of per-stage layer counts, or `None` when a stage boundary
    /// falls inside a block or the layers do not cover the chain.
    pub fn blocks_of(&self, layers_per_stage: &[u32]) -> Option<Vec<usize>> {
        let mut out = Vec::with_capacity(layers_per_stage.len());
        let mut i = 0;
        for &l in layers_per_stage {
            let (mut acc, start) = (0u32, i);
            while acc < l && i < self.blocks.len() {
                acc += self.blocks[i].layers;
                i += 1;
            }
            if acc != l {
                return None;
            }
            out.push(i - start);
        }
        (i == self.blocks.len()).then_some(out)
    }

    /// Max stage load and whether every stage fits, for per-stage block counts.
    pub fn evaluate(&self, blocks_per_stage: &[usize]) -> (f64, bool) {
        let mut i = 0;
        let mut worst: f64 = 0.0;
        let mut fits = true;
        for &n in blocks_per_stage {
            let s = &self.blocks[i..i + n];
            worst = worst.max(s.iter().map(|b| b.seconds).sum());
            fits &= s.iter().map(|b| b.bytes).sum::<f64>() <= self.capacity_bytes;
            i += n;
        }
        (worst, fits)
    }
}

/// The layer chain of `plan`'s stage shape (see the module docs).
///
/// # Arguments
/// - `plan`: a plan with `pp ≥ 2` (its `dp` and `layers` are ignored).
/// - `batches`: the representative mix as `(batch, weight)`; a block's time is
///   `Σ weight × step seconds`.
/// - `opts`: lowering options; `required_kv_tokens` is the workload's largest request.
///
/// # Complexity
/// O(runs) probe lowerings, each O(cells per block): independent of depth.
///
/// # Errors
/// [`PlanError`] when the plan's stage shape is invalid for the model or the cluster, or the
/// model has fewer than two blocks.
pub fn layer_chain(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    cost: Arc<dyn CostModel>,
    opts: &LowerOptions,
    batches: &[(Batch, f64)],
) -> Result<LayerChain, PlanError> {
    let geo = Geometry::new(model);
    let total = geo.total_layers;
    // Blocks as (first layer, layers) in order.
    let mut blocks: Vec<(u32, u32, usize)> = Vec::new();
    let mut runs: Vec<(u32, u32, u32)> = Vec::new(); // (start, per, count) of non-empty runs
    for &(s, per, n) in geo.runs() {
        if per == 0 || n == 0 {
            continue;
        }
        runs.push((s, per, n));
        for k in 0..n {
            blocks.push((s + k * per, per, runs.len() - 1));
        }
    }
    if blocks.len() < 2 {
        return Err(PlanError::inconsistent(
            plan,
            "pp",
            format!(
                "model `{}` has {} block(s); a pipeline needs at least two",
                model.name,
                blocks.len()
            ),
        ));
    }
    let engines = plan.pp as f64;
    let tokens = opts.required_kv_tokens.max(opts.memory.block_size as u64);
    let mut activation: f64 = 0.0;
    let mut runtime = 0.0;
    // The rule's fraction for the plan's own TP × PP (the probes have two stages).
    let gpu_memory = cluster.gpu.memory_bytes;
    let fraction = opts.memory.fraction_for(gpu_memory, plan);
    let rule = opts.memory.rule;
    let (_, kv_weight) = rule.weights_kv_limit(fraction, gpu_memory as f64, 0.0, 0.0);
    // (seconds, weights, request KV bytes) of stage `which` of the probe split
    // at layer `a`.
    let mut probe = |a: u32, which: usize| -> Result<(f64, f64, f64), PlanError> {
        let mut p = plan.clone();
        p.dp = 1;
        p.pp = 2;
        p.layers = Some(vec![a, total - a]);
        let l = lower_unchecked(model, &p, cluster, cost.clone(), opts)?;
        let st = &l.stages[0][which];
        let secs: f64 = batches.iter().map(|(b, w)| w * st.step(b).seconds).sum();
        let m = &l.memory.stages[which];
        activation = activation.max(m.activation_bytes);
        runtime = m.runtime_bytes;
        Ok((
            secs,
            m.weights_bytes,
            kv_weight * m.request_kv_bytes(tokens),
        ))
    };
    // One block of each run: last stage starting at the block minus starting one block later
    // (or, for a run whose first block is the model's last, first stages ending around it).
    let mut per_run: Vec<(f64, f64)> = Vec::with_capacity(runs.len());
    for &(s, per, n) in &runs {
        let (t, w, k) = if s > 0 && s + per < total {
            // The last stage starting at the run's first block minus starting one later.
            let a = probe(s, 1)?;
            let b = probe(s + per, 1)?;
            (a.0 - b.0, a.1 - b.1, a.2 - b.2)
        } else if s == 0 && n >= 2 && 2 * per < total {
            // The first stage ending after the second block minus ending after the first.
            let a = probe(2 * per, 0)?;
            let b = probe(per, 0)?;
            (a.0 - b.0, a.1 - b.1, a.2 - b.2)
        } else {
            // Only the model's first or last block: priced whole below.
            (0.0, 0.0, 0.0)
        };
        per_run.push((t.max(0.0), w.max(0.0) + engines * k.max(0.0)));
    }
    let mut chain: Vec<ChainBlock> = blocks
        .iter()
        .map(|&(_, per, r)| ChainBlock {
            layers: per,
            seconds: per_run[r].0,
            bytes: per_run[r].1,
        })
        .collect();
    // Embedding (and send) into the first block, LM head into the last.
    let first_end = blocks[0].0 + blocks[0].1;
    let f = probe(first_end, 0)?;
    chain[0].seconds = f.0;
    chain[0].bytes = f.1 + engines * f.2;
    let last_start = blocks[blocks.len() - 1].0;
    let l = probe(last_start, 1)?;
    let n = chain.len();
    chain[n - 1].seconds = l.0;
    chain[n - 1].bytes = l.1 + engines * l.2;
    let (capacity_bytes, _) =
        rule.weights_kv_limit(fraction, gpu_memory as f64, runtime + activation, runtime);
    Ok(LayerChain {
        blocks: chain,
        capacity_bytes,
    })
}
