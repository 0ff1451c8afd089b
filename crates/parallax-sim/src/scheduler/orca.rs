//! Orca: iteration-level mixing of whole prefills and decodes.

use super::{Engine, Scheduler, SchedulerConfig, SchedulerKind};
use crate::metrics::RequestRecord;

/// Orca (see [`SchedulerKind::Orca`]).
///
/// Every running request decodes one token (preempting by recompute when KV runs out); then,
/// unless a preemption happened in this iteration, waiting requests join FCFS as whole prefills
/// while `max_num_seqs`, the token budget (decodes count one token each) and the KV watermark
/// allow. A recompute prefill longer than the whole budget may join as the only prefill.
#[derive(Debug, Clone, Copy)]
pub struct Orca {
    /// Settings.
    pub cfg: SchedulerConfig,
}

impl Scheduler for Orca {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Orca
    }

    fn schedule(&self, engine: &mut Engine, records: &mut [RequestRecord]) {
        let budget = self.cfg.max_num_batched_tokens;
        let mut used = engine.schedule_decodes(records);
        if engine.preempted_now {
            return;
        }
        let mut prefills = 0;
        while used < budget {
            // Only a (recompute) prefill longer than the whole budget may overrun it, and only
            // as the iteration's sole prefill; any other prompt waits for room.
            let alone = prefills == 0
                && engine.waiting.front().is_some_and(|&slot| {
                    let s = &engine.seqs[slot as usize];
                    s.target - s.prefilled > budget
                });
            match engine.admit_head(
                self.cfg.max_num_seqs,
                budget - used,
                true,
                alone,
                self.cfg.reserve_to_completion,
            ) {
                Some(t) => {
                    used = used.saturating_add(t);
                    prefills += 1;
                }
                None => break,
            }
        }
    }

    fn arrival_may_change_plan(&self, engine: &Engine) -> bool {
        engine.waiting.is_empty()
    }
}
