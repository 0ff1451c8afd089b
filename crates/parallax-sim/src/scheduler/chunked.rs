//! vLLM v1 / Sarathi-Serve chunked prefill.

use super::{Engine, Scheduler, SchedulerConfig, SchedulerKind};
use crate::metrics::RequestRecord;

/// Chunked prefill (see [`SchedulerKind::Chunked`]).
///
/// Per iteration, with a token budget `B` ([`SchedulerConfig::token_budget`]): every running
/// decode first (one token each, preempting by recompute when KV runs out), then running
/// requests that are mid-prefill continue with chunks, then — unless a preemption happened in
/// this iteration, as in vLLM v1 — waiting requests are admitted FCFS with a first chunk, until
/// `B` tokens are scheduled, `max_num_seqs` is reached or the KV watermark stops admission.
#[derive(Debug, Clone, Copy)]
pub struct Chunked {
    /// Settings.
    pub cfg: SchedulerConfig,
}

impl Scheduler for Chunked {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Chunked
    }

    fn schedule(&self, engine: &mut Engine, records: &mut [RequestRecord]) {
        let budget = self.cfg.token_budget();
        let mut used = engine.schedule_decodes(records);
        used += engine.schedule_partial_prefills(budget.saturating_sub(used), records);
        if engine.preempted_now {
            return;
        }
        while used < budget {
            match engine.admit_head(
                self.cfg.max_num_seqs,
                budget - used,
                false,
                false,
                self.cfg.reserve_to_completion,
            ) {
                Some(t) => used += t,
                None => break,
            }
        }
    }

    fn arrival_may_change_plan(&self, engine: &Engine) -> bool {
        engine.waiting.is_empty()
    }
}
