//! One-iteration prediction and the batch specs of the CLI.
//!
//! [`predict`] prices one iteration of one replica with tensor parallelism `tp` by lowering
//! the plan `dp=1,pp=1,tp=N` and calling its stage's [`StageCost::step`] — the very code path
//! the simulator runs.

use crate::error::PlanError;
use crate::lower::{lower_unchecked, LowerOptions};
use crate::memory::MemoryReport;
use crate::plan::Plan;
use parallax_hw::{Cluster, CostModel};
use parallax_ir::{
    Batch, DecodeGroup, Model, OpKind, PrefillChunk, MAX_BATCH_SEQUENCES, MAX_SEQUENCE_TOKENS,
};
use parallax_sim::StageCost;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The predicted latency of one iteration.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IterationPrediction {
    /// The plan priced (`dp=1,pp=1,tp=N`).
    pub plan: String,
    /// The cost model's name.
    pub cost_model: String,
    /// Whether the iteration ran as a CUDA graph (decode-only, graphs on, batch small enough).
    pub cuda_graph: bool,
    /// Tokens through the GEMMs: the batch's, plus the drafts verified under speculative
    /// decoding ([`LowerOptions::speculative_tokens`] per decoding request).
    pub tokens: u64,
    /// Wall time of the iteration in milliseconds.
    pub iteration_ms: f64,
    /// Milliseconds by op kind: keys `gemm`, `attention`, `elementwise`, `communication`,
    /// `overhead`; they sum to `iteration_ms`.
    pub breakdown_ms: BTreeMap<String, f64>,
    /// Summed device time of the kernels, milliseconds (what a CUDA-graph replay takes
    /// before the fixed per-iteration overhead).
    pub device_ms: f64,
    /// Host time to issue the ops eagerly, milliseconds (counts only for eager iterations).
    pub host_ms: f64,
    /// Lowered ops (kernels) the iteration issues, to the nearest whole op (a draft module's
    /// share of the stage's ops is priced as a fraction of its layers).
    pub ops: u64,
    /// Floating-point operations per device.
    pub flops_per_device: f64,
    /// Bytes moved to and from device memory per device.
    pub bytes_per_device: f64,
    /// Whether the weights, reserves and the batch's KV fit one device.
    pub fits_memory: bool,
    /// The memory of the plan's single stage.
    pub memory: MemoryReport,
}

/// Predict one iteration of `batch` on one replica of `tp` GPUs of `cluster`.
///
/// To predict on a bare GPU, pass a one-node cluster of it (e.g.
/// `Cluster::parse("1x8xH100")`); the TP group takes the first `tp` GPUs of the node.
///
/// # Arguments
/// - `tp`: tensor-parallel degree of every cell.
/// - `cuda_graphs`: whether decode-only iterations run as CUDA graphs.
/// - `cost`: the cost model.
///
/// # Returns
/// The iteration time with its breakdown, computed by the same [`crate::PlanStageCost`] the
/// simulator uses. A plan whose weights do not fit is still priced; `fits_memory` says so.
///
/// # Complexity
/// O(cells per block + prefill chunks): microseconds.
///
/// # Errors
/// [`PlanError::Inconsistent`] when `tp` does not fit the model's heads/widths or the cluster,
/// [`PlanError::BatchSpec`] for an empty batch.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use parallax_ir::{Batch, DecodeGroup};
/// let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
/// let cluster = parallax_hw::Cluster::parse("1x8xH100").unwrap();
/// let cost = Arc::new(parallax_hw::RooflineModel::new(&cluster.gpu));
/// let batch = Batch { prefill: vec![], decode: DecodeGroup::uniform(32, 1024) };
/// let p = parallax_plan::predict(&model, &cluster, 1, &batch, true, cost).unwrap();
/// assert!(p.iteration_ms > 1.0 && p.iteration_ms < 100.0);
/// ```
pub fn predict(
    model: &Model,
    cluster: &Cluster,
    tp: u32,
    batch: &Batch,
    cuda_graphs: bool,
    cost: Arc<dyn CostModel>,
) -> Result<IterationPrediction, PlanError> {
    predict_with(
        model,
        cluster,
        tp,
        batch,
        cost,
        &LowerOptions {
            cuda_graphs,
            ..LowerOptions::default()
        },
    )
}

/// The longest sequence of `batch`: a prefill chunk's cached plus new tokens, or the longest
/// decode context.
pub fn longest_sequence(batch: &Batch) -> u64 {
    batch
        .prefill
        .iter()
        .map(|c| u64::from(c.prefix) + u64::from(c.new_tokens))
        .chain([u64::from(batch.decode.context_max)])
        .max()
        .unwrap_or(0)
}

/// [`predict`] with every lowering option.
///
/// # Errors
/// As [`predict`], plus [`PlanError::Option`] for out-of-range options, for a sequence
/// longer than the model's context window ([`longest_sequence`] > `max_position_embeddings`)
/// for a cost model whose times sum to a NaN or infinite iteration, and for a batch whose
/// iteration is finite but absurd (more than [`parallax_sim::MAX_STEP_S`]).
pub fn predict_with(
    model: &Model,
    cluster: &Cluster,
    tp: u32,
    batch: &Batch,
    cost: Arc<dyn CostModel>,
    opts: &LowerOptions,
) -> Result<IterationPrediction, PlanError> {
    predict_plan(model, cluster, &Plan::new(1, 1, tp), batch, cost, opts)
}

/// [`predict_with`] for one stage of `plan` (its cell layouts: expert parallelism, attention
/// or MLP replicas), which must have `dp = 1` and `pp = 1`.
///
/// # Errors
/// As [`predict_with`], and [`PlanError::Inconsistent`] for a plan with several replicas or
/// stages.
pub fn predict_plan(
    model: &Model,
    cluster: &Cluster,
    plan: &Plan,
    batch: &Batch,
    cost: Arc<dyn CostModel>,
    opts: &LowerOptions,
) -> Result<IterationPrediction, PlanError> {
    if plan.dp != 1 || plan.pp != 1 {
        return Err(PlanError::inconsistent(
            plan,
            if plan.dp != 1 { "dp" } else { "pp" },
            "one iteration runs on one stage of one replica: give dp=1 and pp=1",
        ));
    }
    if batch.is_empty() {
        return Err(PlanError::EmptyBatch);
    }
    // A sequence beyond the model's context window is not an iteration it runs.
    let longest = longest_sequence(batch);
    if longest > u64::from(model.max_position_embeddings) {
        return Err(PlanError::Option {
            option: "the batch's longest sequence".into(),
            value: format!("{longest} tokens"),
            expected: format!(
                "sequences (cached + new tokens, or decode context) of at most model `{}`'s \
                 context window of {} tokens (max_position_embeddings, or max_model_len where \
                 set)",
                model.name, model.max_position_embeddings
            ),
        });
    }
    let name = cost.name().to_string();
    let lowered = lower_unchecked(model, plan, cluster, cost, opts)?;
    let step = lowered.stages[0][0].step(batch);
    let tokens =
        batch.tokens() + u64::from(opts.speculative_tokens) * u64::from(batch.decode.requests);
    if step.seconds.is_finite() && step.seconds > parallax_sim::MAX_STEP_S {
        // A finite but absurd iteration: a batch too large for the stage (65,536 prompts of
        // 100,000 tokens), or a cost model's absurd op times; both are named.
        return Err(PlanError::Option {
            option: "the iteration".into(),
            value: format!(
                "{} s for {} sequences, {tokens} tokens on plan {plan} under cost model \
                 `{name}`",
                parallax_sim::error::compact(step.seconds),
                batch.sequences(),
            ),
            expected: format!(
                "at most {} s: a smaller batch (--prefill/--decode), or a cost model whose op \
                 times are not absurd",
                parallax_sim::error::compact(parallax_sim::MAX_STEP_S)
            ),
        });
    }
    if !(0.0..=parallax_sim::MAX_STEP_S).contains(&step.seconds) {
        // a custom cost model's NaN or infinite op time (predict printed `iteration NaN ms`)
        return Err(PlanError::Option {
            option: format!("cost model `{name}`"),
            value: format!(
                "an iteration of {} s",
                parallax_sim::error::compact(step.seconds)
            ),
            expected: format!(
                "op times summing to a finite iteration of at most {} s",
                parallax_sim::error::compact(parallax_sim::MAX_STEP_S)
            ),
        });
    }
    let timing = lowered.stages[0][0].timing(batch);
    let mut breakdown_ms = BTreeMap::new();
    for k in OpKind::ALL {
        breakdown_ms.insert(k.name().to_string(), step.breakdown[k as usize] * 1e3);
    }
    let stage = &lowered.memory.stages[0];
    let fits = stage.weights_bytes
        + stage.activation_bytes
        + stage.runtime_bytes
        + stage.batch_kv_bytes(batch)
        <= stage.available_bytes;
    Ok(IterationPrediction {
        plan: plan.to_string(),
        cost_model: name,
        cuda_graph: timing.cuda_graph,
        tokens,
        iteration_ms: step.seconds * 1e3,
        breakdown_ms,
        device_ms: timing.device_seconds * 1e3,
        host_ms: timing.host_seconds * 1e3,
        ops: timing.ops.round() as u64,
        flops_per_device: step.flops,
        bytes_per_device: step.bytes,
        fits_memory: fits,
        memory: lowered.memory,
    })
}

fn spec_err(flag: &str, spec: &str, expected: &str) -> PlanError {
    PlanError::BatchSpec {
        flag: flag.to_string(),
        spec: spec.to_string(),
        expected: expected.to_string(),
    }
}

fn positive(
    flag: &str,
    spec: &str,
    s: &str,
    what: &str,
    allow_zero: bool,
) -> Result<u32, PlanError> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(spec_err(flag, spec, &format!("{what} as a whole number")));
    }
    match s.parse::<u32>() {
        Ok(0) if !allow_zero => Err(spec_err(flag, spec, &format!("{what} of at least 1"))),
        Ok(v) => Ok(v),
        Err(_) => Err(spec_err(flag, spec, &format!("{what} below 2^32"))),
    }
}

/// `positive`, then at most `max`.
fn bounded(
    flag: &str,
    spec: &str,
    s: &str,
    what: &str,
    allow_zero: bool,
    max: u32,
) -> Result<u32, PlanError> {
    let v = positive(flag, spec, s, what, allow_zero)?;
    if v > max {
        return Err(spec_err(flag, spec, &format!("{what} of at most {max}")));
    }
    Ok(v)
}

/// Most prefill sequences one `--prefill` spec may ask for (each is a separate chunk).
pub const MAX_PREFILL_SEQUENCES: u32 = 1 << 16;

/// Parse a `--prefill` spec `BxS` or `BxS+P`: `B` sequences of `S` new tokens, each after `P`
/// cached tokens (0 when omitted).
///
/// # Errors
/// [`PlanError::BatchSpec`] naming the spec and what was expected.
///
/// # Examples
/// ```
/// let chunks = parallax_plan::parse_prefill_spec("2x512+2048").unwrap();
/// assert_eq!(chunks.len(), 2);
/// assert_eq!((chunks[0].new_tokens, chunks[0].prefix), (512, 2048));
/// ```
pub fn parse_prefill_spec(spec: &str) -> Result<Vec<PrefillChunk>, PlanError> {
    const FLAG: &str = "--prefill";
    const EXP: &str = "`BxS` or `BxS+P` (B sequences of S new tokens after P cached tokens)";
    let (b, rest) = spec
        .trim()
        .split_once(['x', 'X'])
        .ok_or_else(|| spec_err(FLAG, spec, EXP))?;
    let (s, p) = match rest.split_once('+') {
        Some((s, p)) => (s, Some(p)),
        None => (rest, None),
    };
    let b = positive(FLAG, spec, b, "a sequence count B", false)?;
    if b > MAX_PREFILL_SEQUENCES {
        return Err(spec_err(
            FLAG,
            spec,
            &format!("at most {MAX_PREFILL_SEQUENCES} sequences B in one spec"),
        ));
    }
    let s = bounded(FLAG, spec, s, "new tokens S", false, MAX_SEQUENCE_TOKENS)?;
    let p = match p {
        Some(p) => bounded(FLAG, spec, p, "cached tokens P", true, MAX_SEQUENCE_TOKENS)?,
        None => 0,
    };
    if s + p > MAX_SEQUENCE_TOKENS {
        return Err(spec_err(
            FLAG,
            spec,
            &format!("S + P of at most {MAX_SEQUENCE_TOKENS} tokens per sequence"),
        ));
    }
    Ok(vec![
        PrefillChunk {
            new_tokens: s,
            prefix: p,
        };
        b as usize
    ])
}

/// Parse a `--decode` spec `BxC`: `B` requests, each with `C` tokens of context.
///
/// # Errors
/// [`PlanError::BatchSpec`] naming the spec and what was expected.
pub fn parse_decode_spec(spec: &str) -> Result<DecodeGroup, PlanError> {
    const FLAG: &str = "--decode";
    const EXP: &str = "`BxC` (B requests with C tokens of context each)";
    let (b, c) = spec
        .trim()
        .split_once(['x', 'X'])
        .ok_or_else(|| spec_err(FLAG, spec, EXP))?;
    let b = bounded(
        FLAG,
        spec,
        b,
        "a request count B",
        false,
        MAX_BATCH_SEQUENCES,
    )?;
    let c = bounded(
        FLAG,
        spec,
        c,
        "a context length C",
        false,
        MAX_SEQUENCE_TOKENS,
    )?;
    Ok(DecodeGroup::uniform(b, c))
}

/// Build one iteration's [`Batch`] from repeated `--prefill` and `--decode` specs (they mix).
///
/// # Errors
/// [`PlanError::BatchSpec`] for a malformed spec, for more than 2^32 decode requests, or when
/// no spec is given.
///
/// # Examples
/// ```
/// let b = parallax_plan::batch_from_specs(&["1x512+2048"], &["32x1024", "8x4096"]).unwrap();
/// assert_eq!(b.tokens(), 512 + 40);
/// assert_eq!(b.decode.context_max, 4096);
/// ```
pub fn batch_from_specs<P: AsRef<str>, D: AsRef<str>>(
    prefill: &[P],
    decode: &[D],
) -> Result<Batch, PlanError> {
    let mut batch = Batch::default();
    for p in prefill {
        let chunks = parse_prefill_spec(p.as_ref())?;
        if batch.prefill.len() + chunks.len() > MAX_BATCH_SEQUENCES as usize {
            return Err(spec_err(
                "--prefill",
                p.as_ref(),
                &format!("at most {MAX_BATCH_SEQUENCES} sequences (prefill and decode) in total"),
            ));
        }
        batch.prefill.extend(chunks);
    }
    for d in decode {
        let g = parse_decode_spec(d.as_ref())?;
        let requests = batch
            .decode
            .requests
            .checked_add(g.requests)
            .filter(|n| *n as usize + batch.prefill.len() <= MAX_BATCH_SEQUENCES as usize)
            .ok_or_else(|| {
                spec_err(
                    "--decode",
                    d.as_ref(),
                    &format!(
                        "at most {MAX_BATCH_SEQUENCES} sequences (prefill and decode) in total"
                    ),
                )
            })?;
        batch.decode = DecodeGroup {
            requests,
            context_sum: batch.decode.context_sum + g.context_sum,
            context_max: batch.decode.context_max.max(g.context_max),
        };
    }
    if batch.is_empty() {
        return Err(PlanError::EmptyBatch);
    }
    Ok(batch)
}
