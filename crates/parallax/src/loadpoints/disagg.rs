//! Disaggregated load points (`mode = disagg`): a prefill pool of `prefill_num_workers`
//! workers of `prefill_tp_size × prefill_pp_size × prefill_attention_dp_size` GPUs and a decode
//! pool of `decode_num_workers` workers, each worker laid out from its pool's degrees
//! (attention data parallelism, MoE `moe_tp_size × moe_ep_size` expert groups) as an
//! aggregated worker is, predicted through the disaggregated simulator
//! ([`parallax_plan::lower_disaggregated`], [`parallax_sim::Disaggregation`]) with the same
//! closed-loop benchmark as the aggregated rows (module docs of [`super`]).
//!
//! Mapping of the columns: the engine model is the row's backend's preset for the decode
//! workers' TP degree; `decode_batch_size` becomes `max_num_seqs` (the simulator has one
//! scheduler setting for both pools, so a prefill worker may batch several prompts within
//! the token budget even where `prefill_batch_size` is 1); the client concurrency is the
//! recorded one, else `decode_batch_size × decode_num_workers` (every decode slot busy). The
//! GPUs are `⌈total / 8⌉` nodes of 8, the prefill pool first; KV moves over the network when
//! the pools span more than one node.

use super::{LoadPoint, LoadPointOptions};
use crate::error::Result;
use crate::validate::bad;
use parallax_hw::Cluster;
use parallax_plan::{lower_disaggregated, DisaggPlan, LowerOptions, Plan};
use parallax_sim::{SimConfig, Simulator};
use serde::Serialize;

/// The pools of a disaggregated row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DisaggShape {
    /// Prefill workers.
    pub prefill_workers: u32,
    /// TP degree of a prefill worker.
    pub prefill_tp: u32,
    /// PP degree of a prefill worker.
    pub prefill_pp: u32,
    /// Requests per prefill batch, when recorded.
    pub prefill_batch_size: Option<u32>,
    /// Decode workers.
    pub decode_workers: u32,
    /// TP degree of a decode worker.
    pub decode_tp: u32,
    /// PP degree of a decode worker.
    pub decode_pp: u32,
    /// Maximum running requests per decode worker, when recorded.
    pub decode_batch_size: Option<u32>,
    /// Attention data-parallel degree of a prefill worker (1: none).
    pub prefill_attention_dp: u32,
    /// MoE tensor-parallel degree of a prefill worker, when recorded (0 or empty: none).
    pub prefill_moe_tp: Option<u32>,
    /// MoE expert-parallel degree of a prefill worker, when recorded.
    pub prefill_moe_ep: Option<u32>,
    /// Attention data-parallel degree of a decode worker (1: none).
    pub decode_attention_dp: u32,
    /// MoE tensor-parallel degree of a decode worker, when recorded.
    pub decode_moe_tp: Option<u32>,
    /// MoE expert-parallel degree of a decode worker, when recorded.
    pub decode_moe_ep: Option<u32>,
}

const NAMES: [&str; 14] = [
    "prefill_num_workers",
    "prefill_tp_size",
    "prefill_pp_size",
    "prefill_batch_size",
    "decode_num_workers",
    "decode_tp_size",
    "decode_pp_size",
    "decode_batch_size",
    // degrees where 0, as aiconfigurator writes for "not used", is none
    "prefill_attention_dp_size",
    "prefill_moe_tp_size",
    "prefill_moe_ep_size",
    "decode_attention_dp_size",
    "decode_moe_tp_size",
    "decode_moe_ep_size",
];

/// The first of [`NAMES`] that may be 0 (none).
const FIRST_DEGREE: usize = 8;

/// Where the pool columns are (each optional: files without them have no disaggregated
/// shapes).
#[derive(Debug, Clone, Copy)]
pub(super) struct Columns([Option<usize>; 14]);

impl Columns {
    pub(super) fn find(headers: &csv::StringRecord) -> Self {
        Columns(NAMES.map(|n| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(n))
        }))
    }

    /// The pools of a disaggregated row; `None` when its worker counts are not recorded.
    pub(super) fn shape(
        &self,
        rec: &csv::StringRecord,
        file: &str,
        line: usize,
    ) -> Result<Option<DisaggShape>> {
        let mut v = [None; 14];
        for (i, (c, name)) in self.0.iter().zip(NAMES).enumerate() {
            let text = c.and_then(|c| rec.get(c)).unwrap_or("").trim();
            if text.is_empty() || (i >= FIRST_DEGREE && text == "0") {
                continue;
            }
            v[i] = Some(
                text.parse::<u32>()
                    .ok()
                    .filter(|&n| (1..=65_536).contains(&n))
                    .ok_or_else(|| bad(file, line, name, text, "an integer in 1..=65536"))?,
            );
        }
        let (Some(pw), Some(dw)) = (v[0], v[4]) else {
            return Ok(None);
        };
        Ok(Some(DisaggShape {
            prefill_workers: pw,
            prefill_tp: v[1].unwrap_or(1),
            prefill_pp: v[2].unwrap_or(1),
            prefill_batch_size: v[3],
            decode_workers: dw,
            decode_tp: v[5].unwrap_or(1),
            decode_pp: v[6].unwrap_or(1),
            decode_batch_size: v[7],
            prefill_attention_dp: v[8].unwrap_or(1),
            prefill_moe_tp: v[9],
            prefill_moe_ep: v[10],
            decode_attention_dp: v[11].unwrap_or(1),
            decode_moe_tp: v[12],
            decode_moe_ep: v[13],
        }))
    }
}

/// One pool of a [`DisaggShape`]: its workers and the degrees of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// Workers.
    pub workers: u32,
    /// TP degree of a worker.
    pub tp: u32,
    /// PP degree of a worker.
    pub pp: u32,
    /// Attention data-parallel degree of a worker (1: none).
    pub attention_dp: u32,
    /// MoE tensor-parallel degree, when recorded.
    pub moe_tp: Option<u32>,
    /// MoE expert-parallel degree, when recorded.
    pub moe_ep: Option<u32>,
    /// Running requests per attention-DP rank, when recorded.
    pub batch_size: Option<u32>,
}

impl Pool {
    /// GPUs of one worker (`tp × pp × attention_dp`).
    pub fn worker_gpus(&self) -> u64 {
        self.tp.max(1) as u64 * self.pp.max(1) as u64 * self.attention_dp.max(1) as u64
    }

    /// GPUs of a worker's stage, `tp × attention_dp` (saturating).
    pub fn width(&self) -> u32 {
        self.tp.saturating_mul(self.attention_dp.max(1))
    }

    /// Row `p` as one worker of this pool (its degrees in the aggregated fields).
    fn point(&self, p: &LoadPoint) -> LoadPoint {
        LoadPoint {
            tp: self.tp,
            pp: self.pp,
            attention_dp: self.attention_dp,
            moe_tp: self.moe_tp,
            moe_ep: self.moe_ep,
            batch_size: self.batch_size,
            ..p.clone()
        }
    }

    /// One worker laid out for `model` as an aggregated row's worker is
    /// ([`super::row_plan`]: attention data parallelism, MoE expert groups).
    fn plan(&self, p: &LoadPoint, model: &parallax_ir::Model) -> std::result::Result<Plan, String> {
        super::row_plan(&self.point(p), model, 1)
    }
}

impl DisaggShape {
    /// The prefill pool.
    pub fn prefill(&self) -> Pool {
        Pool {
            workers: self.prefill_workers,
            tp: self.prefill_tp,
            pp: self.prefill_pp,
            attention_dp: self.prefill_attention_dp,
            moe_tp: self.prefill_moe_tp,
            moe_ep: self.prefill_moe_ep,
            batch_size: self.prefill_batch_size,
        }
    }

    /// The decode pool.
    pub fn decode(&self) -> Pool {
        Pool {
            workers: self.decode_workers,
            tp: self.decode_tp,
            pp: self.decode_pp,
            attention_dp: self.decode_attention_dp,
            moe_tp: self.decode_moe_tp,
            moe_ep: self.decode_moe_ep,
            batch_size: self.decode_batch_size,
        }
    }
}

/// The deployment of `s` as a plan string's pools, each worker `tp × attention_dp` GPUs
/// wide (the layouts of a model's attention and MoE layers aside, which prediction adds
/// from the model).
pub fn plan_of(s: &DisaggShape) -> DisaggPlan {
    let (pre, dec) = (s.prefill(), s.decode());
    DisaggPlan {
        prefill: pre.workers,
        prefill_plan: Plan::new(1, pre.pp, pre.width()),
        decode: dec.workers,
        decode_plan: Plan::new(1, dec.pp, dec.width()),
    }
}

/// The pools of row `p` (shape `s`) for `model`, each worker laid out by [`Pool`]'s plan.
///
/// # Errors
/// A message naming the pool's degrees when they do not fit together.
fn pool_plans(
    p: &LoadPoint,
    s: &DisaggShape,
    model: &parallax_ir::Model,
) -> std::result::Result<DisaggPlan, String> {
    let (pre, dec) = (s.prefill(), s.decode());
    Ok(DisaggPlan {
        prefill: pre.workers,
        prefill_plan: pre
            .plan(p, model)
            .map_err(|e| format!("prefill pool: {e}"))?,
        decode: dec.workers,
        decode_plan: dec
            .plan(p, model)
            .map_err(|e| format!("decode pool: {e}"))?,
    })
}

/// Predict a disaggregated load point: mean TTFT and TPOT in ms, or why not.
pub(super) fn predict(
    p: &LoadPoint,
    opts: &LoadPointOptions,
) -> std::result::Result<(f64, f64), String> {
    let s = p
        .disagg
        .ok_or("disaggregated row without prefill_num_workers / decode_num_workers")?;
    let decode = s.decode();
    // `decode_batch_size` is per attention-DP rank, as an aggregated `batch_size`
    let per_worker = decode
        .batch_size
        .map(|b| b.saturating_mul(decode.attention_dp.max(1)));
    let concurrency = match p.concurrency {
        Some(c) => c,
        None => {
            let implied = per_worker
                .map(|b| b.saturating_mul(decode.workers))
                .ok_or("no client concurrency recorded (provenance, id or decode batch size)")?;
            if implied > super::MAX_CONCURRENCY {
                return Err(format!(
                    "the concurrency the decode pool implies, decode_batch_size × \
                     decode_attention_dp_size × decode_num_workers = {implied}, exceeds {}",
                    super::MAX_CONCURRENCY
                ));
            }
            implied
        }
    };
    let (gpu, model) = super::row_model(p)?;
    let plan = pool_plans(p, &s, &model)?;
    // counted wide: the saturating `devices()` would print 4294967295 for a huge row
    let (pre, dec) = (
        s.prefill_workers as u64 * s.prefill().worker_gpus(),
        decode.workers as u64 * decode.worker_gpus(),
    );
    if pre + dec > 1024 {
        return Err(format!(
            "{} GPUs in the two pools (prefill {pre}, decode {dec}); at most 1024 are simulated",
            pre + dec
        ));
    }
    let total = (pre + dec) as u32; // at most 1024
    let node = super::nvlink_domain(gpu);
    let spec = if total <= node {
        format!("1x{total}x{gpu}")
    } else {
        format!("{}x8x{gpu}", total.div_ceil(8))
    };
    let cluster = Cluster::parse(&spec).map_err(|e| e.to_string())?;
    // the engine as a decode worker of the pool runs it: its width and running cap (per
    // attention-DP rank, as for an aggregated worker)
    let worker = decode.point(p);
    let cap = super::running_cap(&worker, per_worker);
    let engine = super::row_engine(&worker, opts, &model, &cluster, decode.width(), cap);
    let cost = engine.cost_model(
        opts.cost_model.build(&cluster).map_err(|e| e.to_string())?,
        cluster.gpu.memory_bandwidth,
    );
    let lower = LowerOptions {
        required_kv_tokens: p.isl as u64 + p.osl as u64,
        ..engine.lower_options(&LowerOptions::default())
    };
    let (replicas, d) =
        lower_disaggregated(&model, &plan, &cluster, cost, &lower).map_err(|e| e.to_string())?;
    let config = SimConfig {
        max_concurrency: Some(concurrency),
        disaggregation: Some(d),
        ..engine.sim_config(&SimConfig::default())
    };
    let sim = Simulator::new(replicas, config).map_err(|e| e.to_string())?;
    super::closed_loop(&sim, p, concurrency, opts.stagger, None)
}
