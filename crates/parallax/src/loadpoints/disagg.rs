//! Disaggregated load points (`mode = disagg`): a prefill pool of `prefill_num_workers`
//! workers of `prefill_tp_size × prefill_pp_size` GPUs and a decode pool of
//! `decode_num_workers` workers, predicted through the disaggregated simulator
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
}

const NAMES: [&str; 8] = [
    "prefill_num_workers",
    "prefill_tp_size",
    "prefill_pp_size",
    "prefill_batch_size",
    "decode_num_workers",
    "decode_tp_size",
    "decode_pp_size",
    "decode_batch_size",
];

/// Where the pool columns are (each optional: files without them have no disaggregated
/// shapes).
#[derive(Debug, Clone, Copy)]
pub(super) struct Columns([Option<usize>; 8]);

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
        let mut v = [None; 8];
        for (i, (c, name)) in self.0.iter().zip(NAMES).enumerate() {
            let text = c.and_then(|c| rec.get(c)).unwrap_or("").trim();
            if text.is_empty() {
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
        }))
    }
}

/// The deployment of `s` as a plan string's pools.
pub fn plan_of(s: &DisaggShape) -> DisaggPlan {
    DisaggPlan {
        prefill: s.prefill_workers,
        prefill_plan: Plan::new(1, s.prefill_pp, s.prefill_tp),
        decode: s.decode_workers,
        decode_plan: Plan::new(1, s.decode_pp, s.decode_tp),
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
            let implied = s
                .decode_batch_size
                .map(|b| b.saturating_mul(s.decode_workers))
                .ok_or("no client concurrency recorded (provenance, id or decode batch size)")?;
            if implied > super::MAX_CONCURRENCY {
                return Err(format!(
                    "the concurrency the decode pool implies, decode_batch_size × \
                     decode_num_workers = {implied}, exceeds {}",
                    super::MAX_CONCURRENCY
                ));
            }
            implied
        }
    };
    let (gpu, model) = super::row_model(p)?;
    let plan = plan_of(&s);
    // counted wide: the saturating `devices()` would print 4294967295 for a huge row
    let pool = |w: u32, tp: u32, pp: u32| w as u64 * tp.max(1) as u64 * pp.max(1) as u64;
    let (pre, dec) = (
        pool(s.prefill_workers, s.prefill_tp, s.prefill_pp),
        pool(s.decode_workers, s.decode_tp, s.decode_pp),
    );
    if pre + dec > 1024 {
        return Err(format!(
            "{} GPUs in the two pools (prefill {pre}, decode {dec}); at most 1024 are simulated",
            pre + dec
        ));
    }
    let total = (pre + dec) as u32; // at most 1024
    let spec = if total <= 8 {
        format!("1x{total}x{gpu}")
    } else {
        format!("{}x8x{gpu}", total.div_ceil(8))
    };
    let cluster = Cluster::parse(&spec).map_err(|e| e.to_string())?;
    let engine = super::row_engine(p, opts, &model, &cluster, s.decode_tp, s.decode_batch_size);
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
