//! Static batching baseline.

use super::{Engine, Scheduler, SchedulerConfig, SchedulerKind};
use crate::metrics::RequestRecord;

/// Static batching (see [`SchedulerKind::Static`]).
///
/// When nothing is running, up to `max_num_seqs` waiting requests are admitted FCFS (while the
/// token budget and the KV watermark allow), each reserving the KV of its whole output, and
/// prefilled in one iteration; the batch then decodes until its last request finishes, and only
/// then is the next batch formed. Reservation means there is never a preemption.
#[derive(Debug, Clone, Copy)]
pub struct StaticBatching {
    /// Settings.
    pub cfg: SchedulerConfig,
}

impl Scheduler for StaticBatching {
    fn kind(&self) -> SchedulerKind {
        SchedulerKind::Static
    }

    fn schedule(&self, engine: &mut Engine, records: &mut [RequestRecord]) {
        if engine.running.is_empty() {
            let budget = self.cfg.max_num_batched_tokens;
            let mut used = 0u32;
            while let Some(t) =
                engine.admit_head(self.cfg.max_num_seqs, budget - used, true, used == 0, true)
            {
                used = used.saturating_add(t);
                if used >= budget {
                    break;
                }
            }
        } else {
            engine.schedule_decodes(records);
        }
    }

    fn arrival_may_change_plan(&self, engine: &Engine) -> bool {
        engine.running.is_empty()
    }
}
