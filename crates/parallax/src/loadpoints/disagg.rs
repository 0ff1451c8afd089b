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

impl DisaggShape {
    /// GPUs of one prefill worker (`tp × pp × attention_dp`).
    pub fn prefill_worker_gpus(&self) -> u64 {
        self.prefill_tp.max(1) as u64
            * self.prefill_pp.max(1) as u64
            * self.prefill_attention_dp.max(1) as u64
    }

    /// GPUs of one decode worker.
    pub fn decode_worker_gpus(&self) -> u64 {
        self.decode_tp.max(1) as u64
            * self.decode_pp.max(1) as u64
            * self.decode_attention_dp.max(1) as u64
    }
}

/// The deployment of `s` as a plan string's pools, each worker `tp × attention_dp` GPUs
/// wide (the layouts of a model's attention and MoE layers aside, which prediction adds
/// from the model).
pub fn plan_of(s: &DisaggShape) -> DisaggPlan {
    let wide = |tp: u32, adp: u32| tp.saturating_mul(adp.max(1));
    DisaggPlan {
        prefill: s.prefill_workers,
        prefill_plan: Plan::new(1, s.prefill_pp, wide(s.prefill_tp, s.prefill_attention_dp)),
        decode: s.decode_workers,
        decode_plan: Plan::new(1, s.decode_pp, wide(s.decode_tp, s.decode_attention_dp)),
    }
}

/// The pools of row `p` (shape `s`) for `model`: each pool's worker laid out from its own
/// degrees as an aggregated row's worker is ([`super::row_plan`]: attention data
/// parallelism, MoE expert groups).
///
/// # Errors
/// A message naming the pool's degrees when they do not fit together.
pub(super) fn pool_plans(
    p: &LoadPoint,
    s: &DisaggShape,
    model: &parallax_ir::Model,
) -> std::result::Result<DisaggPlan, String> {
    let prefill = super::row_plan(&prefill_point(p, s), model, 1)
        .map_err(|e| format!("prefill pool: {e}"))?;
    let decode =
        super::row_plan(&decode_point(p, s), model, 1).map_err(|e| format!("decode pool: {e}"))?;
    Ok(DisaggPlan {
        prefill: s.prefill_workers,
        prefill_plan: prefill,
        decode: s.decode_workers,
        decode_plan: decode,
    })
}

/// Row `p` as one prefill worker of shape `s` (its degrees in the aggregated fields).
fn prefill_point(p: &LoadPoint, s: &DisaggShape) -> LoadPoint {
    LoadPoint {
        tp: s.prefill_tp,
        pp: s.prefill_pp,
        attention_dp: s.prefill_attention_dp,
        moe_tp: s.prefill_moe_tp,
        moe_ep: s.prefill_moe_ep,
        batch_size: s.prefill_batch_size,
        ..p.clone()
    }
}

/// Row `p` as one decode worker of shape `s`.
fn decode_point(p: &LoadPoint, s: &DisaggShape) -> LoadPoint {
    LoadPoint {
        tp: s.decode_tp,
        pp: s.decode_pp,
        attention_dp: s.decode_attention_dp,
        moe_tp: s.decode_moe_tp,
        moe_ep: s.decode_moe_ep,
        batch_size: s.decode_batch_size,
        ..p.clone()
    }
}

/// Predict a disaggregated load point: mean TTFT and TPOT in ms, or why not.
pub(super) fn predict(
    p: &LoadPoint,
    opts: &LoadPointOptions,
) -> std::result::Result<(f64, f64), String> {
    let s = p
        .disagg
        .ok_or("disaggregated row without prefill_num_workers / decode_num_workers")?;
    let concurrency = match p.concurrency {
        Some(c) => c,
        None => {
            // `decode_batch_size` is per attention-DP rank, as an aggregated `batch_size`
            let implied = s
                .decode_batch_size
                .map(|b| {
                    b.saturating_mul(s.decode_attention_dp.max(1))
                        .saturating_mul(s.decode_workers)
                })
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
        s.prefill_workers as u64 * s.prefill_worker_gpus(),
        s.decode_workers as u64 * s.decode_worker_gpus(),
    );
    if pre + dec > 1024 {
        return Err(format!(
            "{} GPUs in the two pools (prefill {pre}, decode {dec}); at most 1024 are simulated",
            pre + dec
        ));
    }
    let total = (pre + dec) as u32; // at most 1024
                                    // a GB200 or GB300 rack joins up to 72 GPUs over NVLink (as for aggregated rows)
    let spec = if total <= 8 || (matches!(gpu, "GB200" | "GB300") && total <= 72) {
        format!("1x{total}x{gpu}")
    } else {
        format!("{}x8x{gpu}", total.div_ceil(8))
    };
    let cluster = Cluster::parse(&spec).map_err(|e| e.to_string())?;
    // the engine as a decode worker of the pool runs it: its width and running cap (per
    // attention-DP rank, as for an aggregated worker)
    let decode = decode_point(p, &s);
    let width = s.decode_tp.saturating_mul(s.decode_attention_dp.max(1));
    let per_worker = s
        .decode_batch_size
        .map(|b| b.saturating_mul(s.decode_attention_dp.max(1)));
    let cap = super::running_cap(&decode, per_worker);
    let engine = super::row_engine(&decode, opts, &model, &cluster, width, cap);
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
