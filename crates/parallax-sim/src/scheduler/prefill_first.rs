//! SGLang's default scheduler: prefill priority with chunked prefill, no mixing.

use super::{Engine, Scheduler, SchedulerConfig, SchedulerKind};
use crate::metrics::RequestRecord;

/// Prefill-first chunked scheduling (see [`SchedulerKind::PrefillFirst`]).
///
/// Per iteration, with a token budget `B` ([`SchedulerConfig::token_budget`], SGLang's
/// `chunked_prefill_size`): the request whose prefill was cut by the previous prefill batch
/// continues first, then waiting requests are admitted FCFS with a first chunk, until `B`
/// tokens are scheduled, `max_num_seqs` (SGLang's `max_running_requests`) is reached or the
/// KV watermark stops admission. If any prefill token was scheduled, the iteration is
/// prefill-only (SGLang runs an "extend" batch; `enable_mixed_chunk` is off by default);
/// otherwise every running request decodes one token, preempting by recompute when KV runs
/// out.
///
/// Source: SGLang `python/sglang/srt/managers/scheduler.py`, `get_next_batch_to_run` (a new
/// prefill batch, when one can be formed, runs before the running decode batch) and
/// `schedule_policy.py` `PrefillAdder` (chunking of the last admitted request at
/// `chunked_prefill_size`).
#[derive(Debug, Clone, Copy)]
pub struct PrefillFirst {
    /// Settings.
    pub cfg: SchedulerConfig,
}

impl Scheduler for PrefillFirst {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::PrefillFirst
    }

    fn schedule(&self, engine: &mut Engine, records: &mut [RequestRecord]) {
        let budget = self.cfg.token_budget();
        let mut used = engine.schedule_partial_prefills(budget, records);
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
        if used == 0 {
            engine.schedule_decodes(records);
        }
    }

    fn arrival_may_change_plan(&self, engine: &Engine) -> bool {
        engine.waiting.is_empty()
    }
}
