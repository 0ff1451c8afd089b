//! Iteration-level schedulers and the per-engine state they act on (queues and paged KV cache).
//!
//! # Engine model
//! A replica with `pp` pipeline stages runs `pp` *engines* (vLLM v0's "virtual engines"): each
//! has its own waiting and running queues, its own share `kv_blocks / pp` of the KV cache, and at
//! most one micro-batch in flight. A new request goes to the engine with the fewest unfinished
//! requests (ties: lowest index), as vLLM does. An engine schedules its next batch when its
//! previous batch leaves the last stage (or when a request arrives at an idle engine); the batch
//! enters stage 0 as soon as stage 0 is free, and every later stage as soon as both the batch has
//! left the previous stage and the stage is free. With `pp = 1` this is plain continuous batching.
//!
//! # Paged KV cache
//! Blocks of [`crate::ReplicaSpec::block_size`] tokens. A request with prompt `p` that has
//! generated `g` tokens needs `ceil((p + g) / block)` blocks to run its next decode step (the KV
//! of the token it feeds back); a prefill of `n` tokens after `k` cached ones needs
//! `ceil((k + n) / block)`. New admissions must leave at least `watermark × blocks` blocks free
//! (vLLM's 1 % watermark); growth of running requests needs only free blocks. When a running
//! request cannot grow, the latest-arrived running request not yet scheduled in this iteration is
//! preempted by *recompute* (vLLM's default): it loses its KV, goes to the front of the waiting
//! queue and later re-prefills its prompt plus the tokens generated so far. With
//! [`crate::PreemptionMode::Swap`] a decoding request's KV goes to host memory instead (see
//! [`crate::swap`]); with prefix caching its blocks stay cached while free (see
//! `prefix_cache`). With [`SchedulerConfig::reserve_to_completion`] (TensorRT-LLM's
//! `GUARANTEED_NO_EVICT`) a request is admitted only with its peak need free (above the
//! watermark), reserved at once, and nothing is ever preempted. A request whose peak need
//! `ceil((p + o - 1) / block)` exceeds `blocks - watermark` can never run and is rejected at
//! arrival.

mod chunked;
mod orca;
mod prefill_first;
mod static_batch;
mod vllm_v0;

pub use chunked::Chunked;
pub use orca::Orca;
pub use prefill_first::PrefillFirst;
pub use static_batch::StaticBatching;
pub use vllm_v0::VllmV0;

use crate::error::SimError;
use crate::itl::Gaps;
use crate::metrics::RequestRecord;
use crate::prefix_cache::{BlockKey, PrefixCache, Registered, UNIQUE};
use crate::swap::Swap;
use crate::workload::Prefix;
use parallax_ir::{Batch, DecodeGroup, PrefillChunk};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt::Debug;
use std::str::FromStr;

/// Which scheduling policy an engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    /// vLLM v0 default: an iteration is either all prefills (admitted FCFS while
    /// `max_num_seqs`, the `max_num_batched_tokens` budget and the KV watermark allow) or, if no
    /// prefill could be admitted, a decode step of every running request. No mixing.
    VllmV0,
    /// vLLM v1 / Sarathi-Serve chunked prefill: a per-iteration token budget (`chunk_size`, or
    /// `max_num_batched_tokens` when unset); every running decode first (1 token each), then
    /// continuing prefill chunks, then new requests' chunks, until the budget is spent.
    Chunked,
    /// Orca: iteration-level mixing of every running decode with whole prefills admitted FCFS
    /// while the token budget (decodes count one token each) allows.
    Orca,
    /// Static batching baseline: when the engine is empty, admit up to `max_num_seqs` waiting
    /// requests (reserving their full KV up front), prefill them together, then decode until the
    /// whole batch has finished; no request joins a running batch. Finished requests stop
    /// consuming compute (no padding).
    Static,
    /// SGLang: prefill priority with chunked prefill and no mixing. A per-iteration token
    /// budget (`chunk_size`, or `max_num_batched_tokens`); the cut request's next chunk
    /// first, then new requests' chunks; if any prefill token was scheduled the iteration is
    /// prefill-only, otherwise every running request decodes.
    PrefillFirst,
}

impl SchedulerKind {
    /// Every kind.
    pub const ALL: [SchedulerKind; 5] = [
        SchedulerKind::VllmV0,
        SchedulerKind::Chunked,
        SchedulerKind::Orca,
        SchedulerKind::Static,
        SchedulerKind::PrefillFirst,
    ];

    /// Canonical lowercase name (`vllm`, `sarathi`, `orca`, `static`, `prefill-first`).
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::VllmV0 => "vllm",
            SchedulerKind::Chunked => "sarathi",
            SchedulerKind::Orca => "orca",
            SchedulerKind::Static => "static",
            SchedulerKind::PrefillFirst => "prefill-first",
        }
    }

    /// True when prefills may be split into chunks.
    pub fn chunked(self) -> bool {
        matches!(self, SchedulerKind::Chunked | SchedulerKind::PrefillFirst)
    }
}

impl FromStr for SchedulerKind {
    type Err = SimError;

    /// Accepts `vllm`, `vllm-v0`, `v0`; `sarathi`, `vllm-v1`, `v1`, `chunked`; `orca`; `static`;
    /// `prefill-first`, `sglang`.
    fn from_str(s: &str) -> Result<Self, SimError> {
        match s.to_ascii_lowercase().as_str() {
            "vllm" | "vllm-v0" | "v0" => Ok(SchedulerKind::VllmV0),
            "sarathi" | "vllm-v1" | "v1" | "chunked" => Ok(SchedulerKind::Chunked),
            "orca" => Ok(SchedulerKind::Orca),
            "static" => Ok(SchedulerKind::Static),
            "prefill-first" | "sglang" => Ok(SchedulerKind::PrefillFirst),
            _ => Err(SimError::config(
                "scheduler.kind",
                s,
                "one of vllm (vllm-v0), sarathi (vllm-v1, chunked), orca, static, prefill-first (sglang)",
            )),
        }
    }
}

/// Scheduler settings (shared by every engine of every replica).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SchedulerConfig {
    /// Policy. Default [`SchedulerKind::VllmV0`].
    pub kind: SchedulerKind,
    /// Most requests running at once per engine. Default 256 (vLLM).
    pub max_num_seqs: u32,
    /// Token budget of one iteration. Default 8192 (vLLM v1's default for online serving; vLLM
    /// v0 uses `max(max_model_len, 2048)` — pass that explicitly to mimic it). Under the
    /// non-chunked policies a prompt longer than this is rejected at arrival; a recompute
    /// prefill longer than it may run as the only prefill of its iteration.
    pub max_num_batched_tokens: u32,
    /// Per-iteration token budget of [`SchedulerKind::Chunked`]; `None` uses
    /// `max_num_batched_tokens`. Ignored by the other policies.
    pub chunk_size: Option<u32>,
    /// Fraction of KV blocks new admissions must leave free. Default 0.01 (vLLM).
    pub watermark: f64,
    /// Admit a request only when the KV cache holds its whole prompt and output, reserved at
    /// admission (TensorRT-LLM's default capacity policy, `GUARANTEED_NO_EVICT`): running
    /// requests then never run out of blocks and are never preempted. Default false: admission
    /// on the prompt's blocks, preemption when decodes run out (vLLM; SGLang, which reserves an
    /// estimate of each output and retracts decodes, is modelled this way too); the `static`
    /// policy always reserves. The simulator knows each request's output length, so it
    /// reserves that (an engine reserves `max_tokens`, which a benchmark with `ignore_eos`
    /// sets to the output length).
    #[serde(default)]
    pub reserve_to_completion: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            kind: SchedulerKind::VllmV0,
            max_num_seqs: 256,
            max_num_batched_tokens: 8192,
            chunk_size: None,
            watermark: 0.01,
            reserve_to_completion: false,
        }
    }
}

impl SchedulerConfig {
    /// [`SchedulerConfig::reserve_to_completion`] for a TensorRT-LLM capacity-scheduler policy
    /// name: `guaranteed-no-evict` (true) or `max-utilization` (false), in any case, with `_`
    /// or `-` (`GUARANTEED_NO_EVICT` as TensorRT-LLM writes it); `None` for another name.
    pub fn reserves_under_policy(name: &str) -> Option<bool> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "guaranteed-no-evict" => Some(true),
            "max-utilization" => Some(false),
            _ => None,
        }
    }

    /// Defaults with the given policy.
    pub fn new(kind: SchedulerKind) -> Self {
        SchedulerConfig {
            kind,
            ..Default::default()
        }
    }

    /// The per-iteration token budget the policy uses.
    pub fn token_budget(&self) -> u32 {
        match self.kind {
            SchedulerKind::Chunked | SchedulerKind::PrefillFirst => {
                self.chunk_size.unwrap_or(self.max_num_batched_tokens)
            }
            _ => self.max_num_batched_tokens,
        }
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.max_num_seqs == 0 {
            return Err(SimError::config("scheduler.max_num_seqs", 0, "≥ 1"));
        }
        if self.max_num_batched_tokens == 0 {
            return Err(SimError::config(
                "scheduler.max_num_batched_tokens",
                0,
                "≥ 1",
            ));
        }
        if self.chunk_size == Some(0) {
            return Err(SimError::config("scheduler.chunk_size", 0, "≥ 1"));
        }
        if !(self.watermark.is_finite() && (0.0..1.0).contains(&self.watermark)) {
            return Err(SimError::config(
                "scheduler.watermark",
                self.watermark,
                "0 ≤ watermark < 1",
            ));
        }
        let budget = self.token_budget();
        if matches!(self.kind, SchedulerKind::Chunked | SchedulerKind::Orca)
            && budget < self.max_num_seqs
        {
            let field = if self.kind == SchedulerKind::Chunked && self.chunk_size.is_some() {
                "scheduler.chunk_size"
            } else {
                "scheduler.max_num_batched_tokens"
            };
            return Err(SimError::config(
                field,
                budget,
                &format!(
                    "≥ max_num_seqs ({}) so every running decode fits one iteration",
                    self.max_num_seqs
                ),
            ));
        }
        Ok(())
    }

    /// The scheduler object for this policy.
    pub fn build(&self) -> Box<dyn Scheduler> {
        match self.kind {
            SchedulerKind::VllmV0 => Box::new(VllmV0 { cfg: *self }),
            SchedulerKind::Chunked => Box::new(Chunked { cfg: *self }),
            SchedulerKind::Orca => Box::new(Orca { cfg: *self }),
            SchedulerKind::Static => Box::new(StaticBatching { cfg: *self }),
            SchedulerKind::PrefillFirst => Box::new(PrefillFirst { cfg: *self }),
        }
    }
}

/// A batching policy: forms an engine's next iteration from its queues.
///
/// Implementations fill [`Engine`]'s plan through its helper methods; they must be
/// deterministic. A plan of decodes only that covers every running request, with no preemption
/// in the iteration, must be repeatable until a request finishes, a KV block runs out or (if
/// [`Scheduler::arrival_may_change_plan`] says so) a request arrives: the simulator then skips
/// ahead without calling the scheduler.
pub trait Scheduler: Debug + Send + Sync {
    /// The policy.
    fn kind(&self) -> SchedulerKind;

    /// Form the next iteration's plan (the engine's plan is empty on entry).
    fn schedule(&self, engine: &mut Engine, records: &mut [RequestRecord]);

    /// Whether a request arriving now could change the plan of an engine that is repeating a
    /// decode-only plan (called before the request joins the waiting queue).
    fn arrival_may_change_plan(&self, engine: &Engine) -> bool;
}

/// State of one request inside an engine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seq {
    pub idx: u32,
    pub prompt: u32,
    pub output: u32,
    /// Tokens generated so far (excluding lazily skipped steps, see `Engine::lazy_steps`).
    pub generated: u32,
    /// Prefill length of the current attempt (prompt, or prompt + generated after preemption).
    pub target: u32,
    /// Tokens of `target` already prefilled.
    pub prefilled: u32,
    /// KV blocks held.
    pub blocks: u32,
    /// In the running queue with its prefill complete.
    pub decoding: bool,
    /// Prefix stream and the leading tokens in it (0: none).
    pub stream: u64,
    pub shared: u32,
    /// Leading blocks registered in the prefix cache (this request holds a reference each).
    pub keyed: u32,
    /// Counted in the prefix-cache hit statistics (first admission only).
    pub queried: bool,
    /// When its latest output token was produced (for inter-token latency).
    pub last_token_s: f64,
    /// Accepted-draft credit under speculative decoding ([`crate::Speculation`]).
    pub spec_credit: f64,
}

/// What an engine has in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inflight {
    None,
    /// The plan in `Engine::plan`.
    Full,
    /// A repeated decode-only step (applied lazily).
    Steady,
}

/// One engine's queues and KV cache. Schedulers act on it through its methods.
#[derive(Debug)]
pub struct Engine {
    pub(crate) seqs: Vec<Seq>,
    pub(crate) free_slots: Vec<u32>,
    pub(crate) waiting: VecDeque<u32>,
    pub(crate) running: Vec<u32>,
    pub(crate) total_blocks: u64,
    pub(crate) free_blocks: u64,
    pub(crate) watermark_blocks: u64,
    pub(crate) block_size: u32,
    /// `(slot, prefill tokens)`; 0 tokens = a decode step.
    pub(crate) plan: Vec<(u32, u32)>,
    pub(crate) preempted_now: bool,
    pub(crate) inflight: Inflight,
    pub(crate) wake_pending: bool,
    pub(crate) steady_left: u64,
    pub(crate) lazy_steps: u32,
    pub(crate) steady_group: DecodeGroup,
    /// Sum of prompt + output over unfinished requests.
    pub(crate) sum_po: u64,
    /// Sum of materialised generated tokens over unfinished requests.
    pub(crate) sum_generated: u64,
    /// Prefill tokens processed (first attempts and recomputes).
    pub(crate) prefill_tokens: u64,
    /// Automatic prefix caching (`None` when off).
    pub(crate) cache: Option<Box<PrefixCache>>,
    /// Preemption by swapping to host memory (`None`: recompute only).
    pub(crate) swap: Option<Box<Swap>>,
    /// Prompt tokens found cached by the admissions of the iteration being formed.
    pub(crate) batch_cached: u64,
    /// Tokens loaded from the host prefix tier by the iteration being formed.
    pub(crate) host_load_tokens: u64,
    /// Prefill-pool engine of a disaggregated deployment: requests that want more than one
    /// token leave after their prefill (into `handed`) instead of completing.
    pub(crate) handoff: bool,
    pub(crate) handed: Vec<u32>,
    /// Decode-pool engine: requests whose KV arrived, waiting for room (workload indices in
    /// arrival order of their KV).
    pub(crate) remote: VecDeque<u32>,
    /// Scheduling one iteration ahead ([`crate::SimConfig::schedule_ahead`]): requests that
    /// arrived while the engine was busy, with their arrival times, not yet visible to the
    /// scheduler (slots; in arrival order).
    pub(crate) incoming: VecDeque<(u32, f64)>,
    /// When the iteration in flight was formed.
    pub(crate) iter_start: f64,
    /// Speculative decoding ([`crate::SimConfig::speculation`]): decode steps verify drafts
    /// and emit more than one token.
    pub(crate) speculation: Option<crate::Speculation>,
    /// Most prompt tokens one request prefills per iteration under the chunked policies
    /// ([`crate::SimConfig::prefill_chunk_per_request`]; `u32::MAX`: no limit).
    pub(crate) chunk_cap: u32,
}

impl Seq {
    /// Output tokens still to come after the next one.
    fn after_next(&self) -> u32 {
        self.output.saturating_sub(self.generated + 1)
    }
}

impl Engine {
    pub(crate) fn new(
        total_blocks: u64,
        block_size: u32,
        watermark: f64,
        prefix_caching: bool,
    ) -> Self {
        Engine {
            seqs: Vec::new(),
            free_slots: Vec::new(),
            waiting: VecDeque::new(),
            running: Vec::new(),
            total_blocks,
            free_blocks: total_blocks,
            watermark_blocks: (watermark * total_blocks as f64) as u64,
            block_size,
            plan: Vec::new(),
            preempted_now: false,
            inflight: Inflight::None,
            wake_pending: false,
            steady_left: 0,
            lazy_steps: 0,
            steady_group: DecodeGroup::default(),
            sum_po: 0,
            sum_generated: 0,
            prefill_tokens: 0,
            cache: prefix_caching.then(Box::default),
            swap: None,
            batch_cached: 0,
            host_load_tokens: 0,
            handoff: false,
            handed: Vec::new(),
            remote: VecDeque::new(),
            incoming: VecDeque::new(),
            iter_start: f64::NEG_INFINITY,
            speculation: None,
            chunk_cap: u32::MAX,
        }
    }

    /// Tokens beyond its next one that a decode step of `s` writes KV for: the drafts it
    /// verifies under speculative decoding, as many as its remaining output can use.
    fn lookahead(&self, s: &Seq) -> u64 {
        match &self.speculation {
            Some(spec) => spec.draft_tokens.min(s.after_next()) as u64,
            None => 0,
        }
    }

    /// Blocks needed to hold `tokens` tokens.
    pub fn blocks_for(&self, tokens: u64) -> u64 {
        tokens.div_ceil(self.block_size as u64)
    }

    /// Requests waiting (including preempted ones and those not yet visible to a scheduler
    /// that works one iteration ahead).
    pub fn num_waiting(&self) -> usize {
        self.waiting.len() + self.incoming.len()
    }

    /// Requests running (holding KV).
    pub fn num_running(&self) -> usize {
        self.running.len()
    }

    /// Unfinished requests (waiting + running + swapped out).
    pub fn num_unfinished(&self) -> usize {
        self.waiting.len()
            + self.incoming.len()
            + self.running.len()
            + self.remote.len()
            + self.swap.as_ref().map_or(0, |w| w.queue.len())
    }

    /// Requests swapped out to host memory.
    pub fn num_swapped(&self) -> usize {
        self.swap.as_ref().map_or(0, |w| w.queue.len())
    }

    /// KV blocks of this engine.
    pub fn total_blocks(&self) -> u64 {
        self.total_blocks
    }

    /// Free KV blocks.
    pub fn free_blocks(&self) -> u64 {
        self.free_blocks
    }

    /// Outstanding tokens: Σ (prompt + output − generated) over unfinished requests.
    pub fn outstanding_tokens(&self) -> u64 {
        let lazy = self.lazy_steps as u64 * self.steady_group.requests as u64;
        self.sum_po - self.sum_generated - lazy
    }

    pub(crate) fn add(&mut self, idx: u32, prompt: u32, output: u32, prefix: Option<Prefix>) {
        let (stream, shared) = prefix.map_or((0, 0), |p| (p.stream, p.tokens));
        let seq = Seq {
            idx,
            prompt,
            output,
            generated: 0,
            target: prompt,
            prefilled: 0,
            blocks: 0,
            decoding: false,
            stream,
            shared,
            keyed: 0,
            queried: false,
            last_token_s: f64::NAN,
            spec_credit: crate::speculation::initial_credit(idx),
        };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.seqs[s as usize] = seq;
                s
            }
            None => {
                self.seqs.push(seq);
                (self.seqs.len() - 1) as u32
            }
        };
        self.sum_po += prompt as u64 + output as u64;
        self.waiting.push_back(slot);
    }

    /// Hold the request just added ([`Self::add`], arrived at `t`) back from the scheduler
    /// until the iteration formed after its arrival (scheduling one iteration ahead).
    pub(crate) fn defer_newest(&mut self, t: f64) {
        if let Some(slot) = self.waiting.pop_back() {
            self.incoming.push_back((slot, t));
        }
    }

    /// Make the deferred requests that arrived at or before `cutoff` visible to the
    /// scheduler (at the back of the waiting queue, in arrival order).
    pub(crate) fn promote_incoming(&mut self, cutoff: f64) {
        while let Some(&(slot, t)) = self.incoming.front() {
            if t > cutoff {
                break;
            }
            self.incoming.pop_front();
            self.waiting.push_back(slot);
        }
    }

    fn insert_running(&mut self, slot: u32) {
        let idx = self.seqs[slot as usize].idx;
        let pos = self
            .running
            .partition_point(|&s| self.seqs[s as usize].idx < idx);
        self.running.insert(pos, slot);
    }

    /// Content key of block `b` of the request with workload index `idx`.
    fn key(&self, idx: u32, stream: u64, shared: u32, b: u32) -> BlockKey {
        if (b as u64 + 1) * self.block_size as u64 <= shared as u64 {
            BlockKey { stream, block: b }
        } else {
            BlockKey {
                stream: UNIQUE | idx as u64,
                block: b,
            }
        }
    }

    /// Prefix-cache hit of a fresh request with `target` prompt tokens: (leading cached
    /// blocks, how many of them are free, blocks after those found in the host tier), at most
    /// `(target − 1) / block` blocks in all. Zeros when caching is off.
    pub(crate) fn cached_prefix(
        &mut self,
        idx: u32,
        stream: u64,
        shared: u32,
        target: u32,
    ) -> (u32, u32, u32) {
        let free = self.free_blocks;
        let Some(c) = self.cache.as_deref_mut() else {
            return (0, 0, 0);
        };
        c.trim(free);
        let max = target.saturating_sub(1) / self.block_size;
        let (mut h, mut ev) = (0, 0);
        while h < max {
            let k = self.key(idx, stream, shared, h);
            match self.cache.as_deref().and_then(|c| c.probe(&k)) {
                Some(free) => {
                    ev += free as u32;
                    h += 1;
                }
                None => break,
            }
        }
        let mut c = 0;
        if let Some(cpu) = self.cache.as_deref().and_then(|x| x.cpu.as_ref()) {
            while h + c < max && cpu.has(&self.key(idx, stream, shared, h + c)) {
                c += 1;
            }
        }
        (h, ev, c)
    }

    /// Register the full blocks of `slot` covering its first `tokens` computed tokens.
    fn register(&mut self, slot: u32, tokens: u64) {
        let s = self.seqs[slot as usize];
        let full = (tokens / self.block_size as u64) as u32;
        if full <= s.keyed {
            return;
        }
        let free = self.free_blocks;
        let Some(mut c) = self.cache.take() else {
            return;
        };
        c.trim(free);
        for b in s.keyed..full {
            if let Registered::Shared(false) = c.register(self.key(s.idx, s.stream, s.shared, b)) {
                self.free_blocks += 1;
            }
        }
        self.cache = Some(c);
        self.seqs[slot as usize].keyed = full;
    }

    /// Give back every KV block `slot` holds (cached blocks stay cached while free).
    fn release(&mut self, slot: u32) {
        let s = self.seqs[slot as usize];
        if self.cache.is_some() {
            let computed = if s.decoding {
                s.prompt as u64 + s.generated as u64 - 1
            } else {
                s.prefilled as u64
            };
            self.register(slot, computed);
            let s = self.seqs[slot as usize];
            if let Some(mut c) = self.cache.take() {
                c.trim(self.free_blocks);
                for b in (0..s.keyed).rev() {
                    self.free_blocks += c.release(&self.key(s.idx, s.stream, s.shared, b)) as u64;
                }
                self.cache = Some(c);
            }
            self.free_blocks += (s.blocks - s.keyed) as u64;
            self.seqs[slot as usize].keyed = 0;
        } else {
            self.free_blocks += s.blocks as u64;
        }
    }

    /// Preempt the running request at `pos` by recompute.
    fn preempt_at(&mut self, pos: usize, records: &mut [RequestRecord]) {
        let slot = self.running.remove(pos);
        let q = self.seqs[slot as usize];
        let kv = q.prompt as u64 + q.generated as u64 - 1;
        if q.decoding && self.swap.as_ref().is_some_and(|w| w.host_free_tokens >= kv) {
            // Swap out: the KV goes to host memory; the request keeps its progress.
            self.release(slot);
            self.seqs[slot as usize].blocks = 0;
            if let Some(w) = self.swap.as_deref_mut() {
                w.host_free_tokens -= kv;
                w.pending_tokens += kv;
                w.tokens_moved += kv;
                w.swap_outs += 1;
                let pos = w
                    .queue
                    .partition_point(|&x| self.seqs[x as usize].idx < q.idx);
                w.queue.insert(pos, slot);
            }
            records[q.idx as usize].preemptions += 1;
            self.preempted_now = true;
            return;
        }
        self.release(slot);
        let s = &mut self.seqs[slot as usize];
        s.blocks = 0;
        s.decoding = false;
        s.prefilled = 0;
        s.target = s.prompt + s.generated;
        records[s.idx as usize].preemptions += 1;
        self.waiting.push_front(slot);
        self.preempted_now = true;
    }

    /// Schedule one decode token for every running request whose prefill is complete, in
    /// arrival order, allocating KV blocks and preempting (latest-arrived not yet scheduled
    /// first, the request itself last) when blocks run out. Returns the tokens they take of
    /// the iteration's budget: one each, plus the drafts a speculative step verifies (vLLM
    /// and TensorRT-LLM count them against `max_num_batched_tokens` / `max_num_tokens`).
    pub fn schedule_decodes(&mut self, records: &mut [RequestRecord]) -> u32 {
        let mut i = 0;
        let mut n = 0;
        while i < self.running.len() {
            let slot = self.running[i];
            let s = self.seqs[slot as usize];
            if !s.decoding {
                i += 1;
                continue;
            }
            let ahead = self.lookahead(&s);
            let need = self
                .blocks_for(s.prompt as u64 + s.generated as u64 + ahead)
                .saturating_sub(s.blocks as u64);
            loop {
                if need <= self.free_blocks {
                    self.free_blocks -= need;
                    self.seqs[slot as usize].blocks += need as u32;
                    self.plan.push((slot, 0));
                    n += 1 + ahead as u32;
                    i += 1;
                    break;
                }
                let last = self.running.len() - 1;
                if last > i {
                    self.preempt_at(last, records);
                } else {
                    self.preempt_at(i, records);
                    break;
                }
            }
        }
        n
    }

    /// Continue the prefill of running requests that are mid-prefill (chunked policies), in
    /// arrival order, with at most `budget` tokens in all; preempts later mid-prefill requests if
    /// blocks run out (never decodes already scheduled). Returns the tokens scheduled.
    pub fn schedule_partial_prefills(&mut self, budget: u32, records: &mut [RequestRecord]) -> u32 {
        let mut used = 0;
        let mut i = 0;
        while i < self.running.len() && used < budget {
            let slot = self.running[i];
            let s = self.seqs[slot as usize];
            if s.decoding {
                i += 1;
                continue;
            }
            let chunk = (s.target - s.prefilled)
                .min(budget - used)
                .min(self.chunk_cap);
            let need = self
                .blocks_for(s.prefilled as u64 + chunk as u64)
                .saturating_sub(s.blocks as u64);
            while need > self.free_blocks {
                let victim = (i + 1..self.running.len())
                    .rev()
                    .find(|&j| !self.seqs[self.running[j] as usize].decoding);
                match victim {
                    Some(j) => self.preempt_at(j, records),
                    None => break,
                }
            }
            if need > self.free_blocks {
                break;
            }
            self.free_blocks -= need;
            self.seqs[slot as usize].blocks += need as u32;
            self.plan.push((slot, chunk));
            used += chunk;
            i += 1;
        }
        used
    }

    /// Try to admit the head of the waiting queue with a first chunk of up to `max_tokens`
    /// tokens (its whole remaining prefill when `whole`, which must then fit `max_tokens` unless
    /// `allow_oversize` and it alone exceeds the full budget). `reserve_full` reserves the peak
    /// KV of the request (static batching). Checks `max_num_seqs` and the watermark. Returns
    /// the tokens scheduled, or `None` (the head stays first in line).
    pub fn admit_head(
        &mut self,
        max_num_seqs: u32,
        max_tokens: u32,
        whole: bool,
        allow_oversize: bool,
        reserve_full: bool,
    ) -> Option<u32> {
        let &slot = self.waiting.front()?;
        if self.running.len() >= max_num_seqs as usize || self.num_swapped() > 0 {
            return None;
        }
        let s = self.seqs[slot as usize];
        let (h, ev, hc) = if self.cache.is_some() && s.blocks == 0 && s.prefilled == 0 {
            self.cached_prefix(s.idx, s.stream, s.shared, s.target)
        } else {
            (0, 0, 0)
        };
        let hit = (h + hc) * self.block_size;
        let left = s.target - s.prefilled - hit;
        let tokens = if whole {
            if left > max_tokens && !allow_oversize {
                return None;
            }
            left
        } else {
            // a chunk, at most the per-request limit
            left.min(max_tokens).min(self.chunk_cap)
        };
        if tokens == 0 {
            return None;
        }
        let total = if reserve_full {
            self.blocks_for(s.prompt as u64 + s.output as u64 - 1)
        } else {
            self.blocks_for(hit as u64 + tokens as u64)
        };
        let need = total - h as u64 + ev as u64;
        if self.free_blocks < need + self.watermark_blocks {
            return None;
        }
        self.waiting.pop_front();
        if let Some(mut c) = self.cache.take() {
            for b in 0..h {
                c.acquire(&self.key(s.idx, s.stream, s.shared, b));
            }
            if let Some(cpu) = &mut c.cpu {
                for b in h..h + hc {
                    cpu.put(self.key(s.idx, s.stream, s.shared, b));
                }
            }
            if !s.queried {
                let k = &mut c.counters;
                k.queries += 1;
                k.query_tokens += s.target as u64;
                k.hit_tokens += hit as u64;
                k.hit_blocks += (h + hc) as u64;
                k.cpu_hit_tokens += (hc * self.block_size) as u64;
            }
            self.cache = Some(c);
        }
        self.free_blocks -= need;
        let q = &mut self.seqs[slot as usize];
        q.blocks = total as u32;
        q.keyed = h;
        q.prefilled += hit;
        q.queried = true;
        self.batch_cached += hit as u64;
        if hc > 0 {
            // Blocks loaded from the host tier are now cached on the GPU too.
            self.host_load_tokens += (hc * self.block_size) as u64;
            self.register(slot, hit as u64);
        }
        self.insert_running(slot);
        self.plan.push((slot, tokens));
        Some(tokens)
    }

    /// Bring swapped-out requests back, in arrival order, while `max_num_seqs` and the KV
    /// cache (above the watermark) allow. Called before the scheduler forms an iteration.
    pub(crate) fn swap_in(&mut self, max_num_seqs: u32) {
        let Some(mut w) = self.swap.take() else {
            return;
        };
        while let Some(&slot) = w.queue.front() {
            if self.running.len() >= max_num_seqs as usize {
                break;
            }
            let q = self.seqs[slot as usize];
            let kv = q.prompt as u64 + q.generated as u64 - 1;
            let need = self.blocks_for(kv);
            if self.free_blocks < need + self.watermark_blocks {
                break;
            }
            w.queue.pop_front();
            self.free_blocks -= need;
            self.seqs[slot as usize].blocks = need as u32;
            self.insert_running(slot);
            w.host_free_tokens += kv;
            w.pending_tokens += kv;
            w.tokens_moved += kv;
            w.swap_ins += 1;
        }
        self.swap = Some(w);
    }

    /// A request whose prompt KV arrived from a prefill engine: it has its first token and
    /// waits in the remote queue until [`Engine::admit_remote`] gives it KV blocks.
    pub(crate) fn add_remote(&mut self, idx: u32, prompt: u32, output: u32, first_token_s: f64) {
        let seq = Seq {
            idx,
            prompt,
            output,
            generated: 1,
            target: prompt,
            prefilled: prompt,
            blocks: 0,
            decoding: true,
            stream: 0,
            shared: 0,
            keyed: 0,
            queried: true,
            last_token_s: first_token_s,
            spec_credit: crate::speculation::initial_credit(idx),
        };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.seqs[s as usize] = seq;
                s
            }
            None => {
                self.seqs.push(seq);
                (self.seqs.len() - 1) as u32
            }
        };
        self.sum_po += prompt as u64 + output as u64;
        self.sum_generated += 1;
        self.remote.push_back(slot);
    }

    /// Move arrived remote requests into the running queue, in order, while `max_num_seqs`
    /// and the KV cache (above the watermark) allow.
    pub(crate) fn admit_remote(&mut self, max_num_seqs: u32, reserve_to_completion: bool) {
        while let Some(&slot) = self.remote.front() {
            if self.running.len() >= max_num_seqs as usize {
                break;
            }
            let s = &self.seqs[slot as usize];
            let need = if reserve_to_completion {
                self.blocks_for(s.prompt as u64 + s.output as u64 - 1)
            } else {
                self.blocks_for(s.prompt as u64)
            };
            if self.free_blocks < need + self.watermark_blocks {
                break;
            }
            self.remote.pop_front();
            self.free_blocks -= need;
            self.seqs[slot as usize].blocks = need as u32;
            self.insert_running(slot);
        }
    }

    /// Build the cost-model batch of the current plan into `batch`.
    pub(crate) fn plan_batch(&self, batch: &mut Batch) {
        batch.prefill.clear();
        let mut d = DecodeGroup::default();
        for &(slot, tokens) in &self.plan {
            let s = &self.seqs[slot as usize];
            if tokens == 0 {
                let ctx = s.prompt + s.generated;
                d.requests += 1;
                d.context_sum += ctx as u64;
                d.context_max = d.context_max.max(ctx);
            } else {
                batch.prefill.push(PrefillChunk {
                    new_tokens: tokens,
                    prefix: s.prefilled,
                });
            }
        }
        batch.decode = d;
    }

    /// After a full plan is formed: if it is a decode-only plan of every running request with
    /// no preemption, compute how many identical decode steps may follow (until the first
    /// completion or the first KV block shortage) and arm the skip-ahead.
    pub(crate) fn arm_steady(&mut self, group: DecodeGroup) {
        self.steady_left = 0;
        // speculative steps emit unequal token counts: no two are alike
        if self.speculation.is_some()
            || self.preempted_now
            || self.plan.is_empty()
            || self.plan.len() != self.running.len()
            || self.plan.iter().any(|&(_, t)| t != 0)
        {
            return;
        }
        // Steps after this one before someone finishes.
        let k_done = self
            .running
            .iter()
            .map(|&s| {
                let s = &self.seqs[s as usize];
                s.output - s.generated - 1
            })
            .min()
            .unwrap_or(0) as u64;
        if k_done == 0 {
            return;
        }
        let extra = |k: u64| -> u64 {
            self.running
                .iter()
                .map(|&s| {
                    let s = &self.seqs[s as usize];
                    self.blocks_for(s.prompt as u64 + s.generated as u64 + k)
                        .saturating_sub(s.blocks as u64)
                })
                .sum()
        };
        let k = if extra(k_done) <= self.free_blocks {
            k_done
        } else {
            // Largest k with extra(k) ≤ free (extra is monotone, extra(0) = 0).
            let (mut lo, mut hi) = (0u64, k_done);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if extra(mid) <= self.free_blocks {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            lo
        };
        self.steady_left = k;
        self.steady_group = group;
    }

    /// Apply the lazily skipped decode steps to every running request and allocate the KV
    /// they wrote.
    pub(crate) fn materialise(&mut self, t: f64) {
        if self.lazy_steps == 0 {
            return;
        }
        let l = self.lazy_steps;
        for &slot in &self.running {
            let s = &mut self.seqs[slot as usize];
            s.generated += l;
            s.last_token_s = t;
            let held = (s.prompt as u64 + s.generated as u64 - 1).div_ceil(self.block_size as u64);
            if held > s.blocks as u64 {
                self.free_blocks -= held - s.blocks as u64;
                s.blocks = held as u32;
            }
        }
        self.sum_generated += l as u64 * self.running.len() as u64;
        self.lazy_steps = 0;
    }

    /// Apply the results of the full plan in flight, finishing at `t`.
    pub(crate) fn complete_full(&mut self, t: f64, records: &mut [RequestRecord], itl: &mut Gaps) {
        for i in 0..self.plan.len() {
            let (slot, tokens) = self.plan[i];
            let s = &mut self.seqs[slot as usize];
            if tokens == 0 {
                // a speculative step also emits the drafts it accepted (they arrive together:
                // one gap, then gaps of 0)
                let extra = match &self.speculation {
                    Some(spec) => spec.accept(&mut s.spec_credit).min(s.after_next()),
                    None => 0,
                };
                s.generated += 1 + extra;
                self.sum_generated += 1 + extra as u64;
                itl.add(t - s.last_token_s, 1);
                if extra > 0 {
                    itl.add(0.0, extra as u64);
                }
                s.last_token_s = t;
            } else {
                s.prefilled += tokens;
                let prefilled = s.prefilled;
                if s.prefilled == s.target {
                    s.decoding = true;
                    s.generated += 1;
                    self.sum_generated += 1;
                    let r = &mut records[s.idx as usize];
                    if r.first_token_s.is_nan() {
                        r.first_token_s = t;
                    } else {
                        // A recompute after preemption: the stall is an inter-token gap.
                        itl.add(t - s.last_token_s, 1);
                    }
                    s.last_token_s = t;
                }
                if self.cache.is_some() {
                    self.register(slot, prefilled as u64);
                }
            }
        }
        self.plan.clear();
    }

    /// Retire running requests that generated all their tokens, at time `t`. Returns how
    /// many completed (a request handed off to the decode pool has not: its client slot stays
    /// taken until it finishes there).
    pub(crate) fn retire(&mut self, t: f64, records: &mut [RequestRecord]) -> u32 {
        let mut finished = 0;
        let mut i = 0;
        while i < self.running.len() {
            let slot = self.running[i];
            let s = self.seqs[slot as usize];
            if s.decoding && s.generated >= s.output {
                let r = &mut records[s.idx as usize];
                if self.handoff && r.output_tokens > 1 {
                    self.handed.push(s.idx);
                } else {
                    r.finish_s = t;
                    r.completed = true;
                    finished += 1;
                }
                self.release(slot);
                self.sum_po -= s.prompt as u64 + s.output as u64;
                self.sum_generated -= s.generated as u64;
                self.free_slots.push(slot);
                self.running.remove(i);
            } else {
                i += 1;
            }
        }
        finished
    }
}
