//! vLLM v0's default scheduler: prefill-first, no mixing.

use super::{Engine, Scheduler, SchedulerConfig, SchedulerKind};
use crate::metrics::RequestRecord;

/// vLLM v0 (see [`SchedulerKind::VllmV0`]).
///
/// Each iteration first admits waiting requests FCFS as whole prefills while `max_num_seqs`,
/// the `max_num_batched_tokens` budget and the KV watermark allow (stopping at the first that
/// does not fit, as vLLM does); if at least one was admitted the iteration is prefill-only.
/// Otherwise every running request decodes one token, preempting by recompute when KV runs out.
#[derive(Debug, Clone, Copy)]
pub struct VllmV0 {
    /// Settings.
    pub cfg: SchedulerConfig,
}

impl Scheduler for VllmV0 {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::VllmV0
    }

    fn schedule(&self, engine: &mut Engine, records: &mut [RequestRecord]) {
        let budget = self.cfg.max_num_batched_tokens;
        let mut used = 0u32;
        while let Some(t) = engine.admit_head(
            self.cfg.max_num_seqs,
            budget - used,
            true,
            used == 0,
            self.cfg.reserve_to_completion,
        ) {
            used = used.saturating_add(t);
            if used >= budget {
                break;
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
