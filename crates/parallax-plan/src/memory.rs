//! Device memory of a plan: weights, activation reserve and KV-cache capacity per stage.
//!
//! For one device of each pipeline stage:
//!
//! - **Weights**: every cell of the stage's blocks under its shard
//!   ([`parallax_ir::Cell::weight_bytes_per_device`], times the blocks held), plus the
//!   vocabulary-parallel input embedding (`vocab × hidden / tp`) on the first stage and the
//!   final norm and LM head (`vocab × hidden / tp`) on the last, these three in the activation
//!   type under any quantisation (as checkpoints store them). A tied LM head costs nothing
//!   extra when the first and last stage coincide (`pp = 1`); with `pp > 1` the last stage
//!   holds its own copy, as vLLM does.
//! - **Activation reserve** (the peak that vLLM's profiling run measures, estimated): the
//!   residual stream and hidden state of `max_num_batched_tokens` tokens
//!   (`2 · T · hidden · act_bytes`) plus the largest input+output pair of any GEMM of the
//!   stage's cells lowered at that token count (per device, so it shrinks with TP and EP), plus
//!   on the last stage fp32 logits and probabilities for `max_num_seqs` sequences
//!   (`2 · 4 · S · vocab / tp`).
//! - **Runtime reserve**: a fixed allowance per device for CUDA context, NCCL and cuBLAS
//!   workspaces ([`MemoryOptions::runtime_reserve_bytes`], default 512 MiB).
//! - **KV cache**: what the engine's memory rule ([`MemoryRule`]) leaves: vLLM's
//!   `gpu_memory_utilization × capacity` less the weights and reserves; SGLang's
//!   `mem_fraction_static × (capacity − runtime reserve)` less the weights (activations and
//!   CUDA graphs live outside its fraction); TensorRT-LLM's `free_gpu_memory_fraction` of
//!   what the weights and reserves leave. The KV bytes per
//!   token per device sum the stage's attention layers under the attention shard (replicated
//!   KV heads when TP exceeds the KV heads cost more). With attention replicas (`attn=RxtpT`)
//!   each replica group holds the KV of its own sequences only, so the stage holds `R` times
//!   the tokens of one group. The replica's KV capacity is the minimum over its stages,
//!   in blocks of `block_size` tokens.
//!
//! - **Draft module** ([`MemoryOptions::draft_module`], speculative decoding by multi-token
//!   prediction): under vLLM's and TensorRT-LLM's rules the model's MTP layers add their
//!   weights and KV per token to the last stage; SGLang loads its draft outside
//!   `mem_fraction_static` and reserves for it in the fraction instead.
//!
//! **Sliding-window layers** (gpt-oss, Mistral): the paged capacity ([`MemoryReport::kv_blocks`])
//! counts every layer at full per-token size, as vLLM's uniform block tables do, which is
//! conservative. The per-request check ([`StageMemory::request_kv_bytes`], used to prune
//! plans against the workload's largest request) caps sliding-window layers at their window.

use crate::error::{MemoryShortfall, PlanError};
use crate::plan::{Plan, StageSpec};
use parallax_hw::Cluster;
use parallax_ir::{lower_cell, Batch, Cell, DecodeGroup, Model, OpBody};

/// How a serving engine turns its memory fraction into a KV-cache size (the fraction is
/// [`MemoryOptions::gpu_memory_utilization`], or SGLang's own default). With capacity `C`,
/// weights `W`, activation reserve `A` and runtime reserve `R` per device, the KV cache gets:
///
/// | rule | engine setting | KV bytes |
/// |---|---|---|
/// | [`Utilization`](MemoryRule::Utilization) | vLLM `--gpu-memory-utilization` | `f·C − W − A − R` |
/// | [`Static`](MemoryRule::Static), [`StaticDefault`](MemoryRule::StaticDefault) | SGLang `--mem-fraction-static` | `f·(C − R) − W` |
/// | [`FreeFraction`](MemoryRule::FreeFraction) | TensorRT-LLM `free_gpu_memory_fraction` | `f·(C − W − A − R)` |
///
/// and never more than `C − W − A − R` (the device itself). SGLang measures its fraction
/// against the memory free before the weights load (`C − R`; `model_runner.py`
/// `profile_max_num_token`) and keeps activations and CUDA graphs outside it (`server_args.py`
/// sizes the fraction from them); TensorRT-LLM sizes the KV cache from the memory free after
/// loading the weights and a profiling forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryRule {
    /// The fraction of device memory for everything (vLLM).
    #[default]
    Utilization,
    /// The fraction of device memory for weights and KV cache (SGLang, fraction given).
    Static,
    /// SGLang's static fraction at SGLang's own default, computed per stage from its GPU's
    /// memory, TP × PP, the token budget (`chunked_prefill_size`) and SGLang's default CUDA-graph
    /// size ([`crate::engine::sglang_default_fraction`]); the fraction in the options is not read.
    StaticDefault,
    /// The fraction of the memory left after weights and reserves, for the KV cache
    /// (TensorRT-LLM).
    FreeFraction,
}

impl MemoryRule {
    /// Whether this is SGLang's `mem_fraction_static` ([`MemoryRule::Static`] or
    /// [`MemoryRule::StaticDefault`]).
    pub fn is_static(self) -> bool {
        matches!(self, MemoryRule::Static | MemoryRule::StaticDefault)
    }

    /// The rule's name as the engine's flag or setting writes it.
    pub fn setting(self) -> &'static str {
        match self {
            MemoryRule::Utilization => "gpu_memory_utilization",
            MemoryRule::Static | MemoryRule::StaticDefault => "mem_fraction_static",
            MemoryRule::FreeFraction => "free_gpu_memory_fraction",
        }
    }

    /// Bytes one device of `capacity` bytes may use for weights, reserves and KV cache at
    /// `fraction` under this rule, holding `weights` bytes of weights and `reserves` bytes of
    /// activation and runtime reserve, `runtime` of them the runtime reserve (the KV cache gets
    /// what is left after `weights + reserves`; never more than the device).
    pub fn usable_bytes(
        self,
        fraction: f64,
        capacity: f64,
        weights: f64,
        reserves: f64,
        runtime: f64,
    ) -> f64 {
        let f = fraction;
        let usable = match self {
            MemoryRule::Utilization => f * capacity,
            MemoryRule::Static | MemoryRule::StaticDefault => f * (capacity - runtime) + reserves,
            MemoryRule::FreeFraction => weights + reserves + f * (capacity - weights - reserves),
        };
        usable.min(capacity)
    }

    /// The memory limit of one device as `(limit, kv_weight)`: a device of `capacity` bytes
    /// with `reserves` bytes of activation and runtime reserve (`runtime` of them the runtime
    /// reserve) fits at `fraction` when `weights + kv_weight × kv ≤ limit` (linear in weights
    /// and KV under every rule, for the placement solver's capacity constraint; the device's
    /// own bound, [`MemoryRule::usable_bytes`], is looser whenever the rule's is met).
    pub fn weights_kv_limit(
        self,
        fraction: f64,
        capacity: f64,
        reserves: f64,
        runtime: f64,
    ) -> (f64, f64) {
        let f = fraction;
        match self {
            MemoryRule::Utilization => (f * capacity - reserves, 1.0),
            MemoryRule::Static | MemoryRule::StaticDefault => (f * (capacity - runtime), 1.0),
            MemoryRule::FreeFraction => (capacity - reserves, 1.0 / f),
        }
    }
}

/// Memory settings of the serving engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryOptions {
    /// The engine's memory fraction, read as [`MemoryOptions::rule`] says (vLLM's
    /// `gpu_memory_utilization` by default); default 0.9.
    pub gpu_memory_utilization: f64,
    /// How the fraction sizes the KV cache; default [`MemoryRule::Utilization`].
    pub rule: MemoryRule,
    /// Tokens per KV-cache block; default 16.
    pub block_size: u32,
    /// Largest number of tokens in one iteration, the scheduler's token budget (sizes the
    /// activation reserve, and SGLang's default fraction as its `chunked_prefill_size`); default
    /// 8192.
    pub max_num_batched_tokens: u32,
    /// Largest number of sequences in one iteration (sizes the logits reserve); default 256.
    pub max_num_seqs: u32,
    /// Fixed per-device reserve for CUDA context and library workspaces; default 512 MiB.
    pub runtime_reserve_bytes: f64,
    /// The model's multi-token-prediction module is loaded as the draft of speculative
    /// decoding (set with [`crate::LowerOptions::speculative_tokens`] by
    /// [`crate::EngineModel::lower_options`]); default `false`. Under vLLM's and
    /// TensorRT-LLM's rules its [`Model::mtp_layers`] join the last stage before the KV cache
    /// is sized: each layer's weights (one block of the model's last run at the stage's
    /// shard) and its `eh_proj` (`2·hidden × hidden`, an unsharded `nn.Linear` in the
    /// activation dtype), and each layer's KV per token (vLLM allocates the draft's attention
    /// layers in the same KV pool; TensorRT-LLM's KV manager appends the MTP layers on the last
    /// pipeline rank). The embedding and LM head are the target's. Under SGLang's rules the
    /// draft worker loads after the target's KV pool is sized, from the memory outside
    /// `mem_fraction_static`: nothing is added, and its default fraction reserves 2 GiB for
    /// it ([`crate::engine::sglang_mem_fraction_static_with`]).
    pub draft_module: bool,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            gpu_memory_utilization: 0.9,
            rule: MemoryRule::Utilization,
            block_size: 16,
            max_num_batched_tokens: 8192,
            max_num_seqs: 256,
            runtime_reserve_bytes: 512.0 * 1024.0 * 1024.0,
            draft_module: false,
        }
    }
}

impl MemoryOptions {
    /// Use vLLM's rule at `fraction` (what `--gpu-memory-utilization` means for every engine):
    /// the share of device memory for weights, activations and KV cache.
    pub fn use_utilization(&mut self, fraction: f64) {
        self.gpu_memory_utilization = fraction;
        self.rule = MemoryRule::Utilization;
    }

    /// The fraction the engine's rule uses on a GPU of `gpu_memory_bytes` for an instance of
    /// `plan`: [`MemoryOptions::gpu_memory_utilization`], or under
    /// [`MemoryRule::StaticDefault`] SGLang's own default for that GPU, the plan's TP, PP and
    /// DP attention (its attention replicas, SGLang's `dp_size` under
    /// `--enable-dp-attention`), the token budget and, with [`MemoryOptions::draft_module`],
    /// its reserve for the draft ([`crate::engine::sglang_default_fraction_with`]).
    pub fn fraction_for(&self, gpu_memory_bytes: u64, plan: &Plan) -> f64 {
        match self.rule {
            MemoryRule::StaticDefault => crate::engine::sglang_default_fraction_with(
                gpu_memory_bytes,
                plan.tp,
                plan.pp,
                self.max_num_batched_tokens,
                plan.attn.replicas,
                self.draft_module,
            ),
            _ => self.gpu_memory_utilization,
        }
    }

    /// Check every option's range.
    ///
    /// # Errors
    /// [`PlanError::Option`] naming the option and its value.
    pub fn validate(&self) -> Result<(), PlanError> {
        let bad = |option: &str, value: String, expected: &str| {
            Err(PlanError::Option {
                option: option.into(),
                value,
                expected: expected.into(),
            })
        };
        let u = self.gpu_memory_utilization;
        if !(u > 0.0 && u <= 1.0) {
            return bad(
                "gpu_memory_utilization",
                u.to_string(),
                "a fraction in (0, 1]",
            );
        }
        if self.block_size == 0 {
            return bad("block_size", "0".into(), "at least 1 token");
        }
        if self.max_num_batched_tokens == 0 {
            return bad("max_num_batched_tokens", "0".into(), "at least 1 token");
        }
        if self.max_num_seqs == 0 {
            return bad("max_num_seqs", "0".into(), "at least 1 sequence");
        }
        let r = self.runtime_reserve_bytes;
        if !(r >= 0.0 && r.is_finite()) {
            return bad("runtime_reserve_bytes", r.to_string(), "a finite size ≥ 0");
        }
        Ok(())
    }
}

/// Memory of one device of one pipeline stage.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StageMemory {
    /// Stage index.
    pub stage: usize,
    /// Bytes one device may use for weights, reserves and KV cache under the engine's memory
    /// rule ([`MemoryRule::usable_bytes`]; vLLM's: `gpu_memory_utilization × capacity`).
    pub available_bytes: f64,
    /// The device's memory, bytes.
    pub capacity_bytes: f64,
    /// The engine's memory rule.
    pub rule: MemoryRule,
    /// The fraction the rule used ([`MemoryOptions::fraction_for`]).
    pub fraction: f64,
    /// Weight bytes per device.
    pub weights_bytes: f64,
    /// Activation reserve per device.
    pub activation_bytes: f64,
    /// Runtime reserve per device.
    pub runtime_bytes: f64,
    /// KV-cache bytes per token of context per device, every layer at full size.
    pub kv_bytes_per_token: f64,
    /// Part of `kv_bytes_per_token` from sliding-window layers, by window length.
    pub windowed_kv: Vec<(u32, f64)>,
    /// Attention replica groups in the stage (each holds its own sequences' KV).
    pub attn_replicas: u32,
}

impl StageMemory {
    /// Recompute [`StageMemory::available_bytes`] after the weights or reserves changed (as
    /// EPLB's redundant experts change the weights): under TensorRT-LLM's rule the usable
    /// memory depends on them.
    pub fn refresh_available(&mut self) {
        let reserves = self.activation_bytes + self.runtime_bytes;
        self.available_bytes = self.rule.usable_bytes(
            self.fraction,
            self.capacity_bytes,
            self.weights_bytes,
            reserves,
            self.runtime_bytes,
        );
    }

    /// This device's weights-and-KV limit as `(limit, kv_weight)`
    /// ([`MemoryRule::weights_kv_limit`]).
    pub fn weights_kv_limit(&self) -> (f64, f64) {
        self.rule.weights_kv_limit(
            self.fraction,
            self.capacity_bytes,
            self.activation_bytes + self.runtime_bytes,
            self.runtime_bytes,
        )
    }

    /// The fraction `rule` would need to give this device the KV cache it has (at least 0):
    /// under vLLM's rule `(W + A + R + KV) / C`, SGLang's `(W + KV) / (C − R)`, TensorRT-LLM's
    /// `KV / (C − W − A − R)` (0 when weights and reserves fill the device). What an engine's
    /// launch flag must say to serve the KV simulated under another rule.
    pub fn fraction_under(&self, rule: MemoryRule) -> f64 {
        let kv = self.kv_free_bytes().max(0.0);
        let (c, w, r) = (self.capacity_bytes, self.weights_bytes, self.runtime_bytes);
        let reserves = self.activation_bytes + r;
        match rule {
            MemoryRule::Utilization => (w + reserves + kv) / c,
            MemoryRule::Static | MemoryRule::StaticDefault => (w + kv) / (c - r),
            MemoryRule::FreeFraction => {
                let free = c - w - reserves;
                if free > 0.0 {
                    kv / free
                } else {
                    0.0
                }
            }
        }
    }

    /// Bytes left for the KV cache on one device (negative when weights and reserves alone
    /// do not fit).
    pub fn kv_free_bytes(&self) -> f64 {
        self.available_bytes - self.weights_bytes - self.activation_bytes - self.runtime_bytes
    }

    /// Paged KV capacity of the stage in tokens (every attention replica group together).
    pub fn kv_tokens(&self) -> u64 {
        let free = self.kv_free_bytes();
        if free <= 0.0 || self.kv_bytes_per_token <= 0.0 {
            return if free > 0.0 { u64::MAX } else { 0 };
        }
        let per_group = (free / self.kv_bytes_per_token).floor();
        (per_group * self.attn_replicas as f64).min(u64::MAX as f64) as u64
    }

    /// KV bytes on one device of this stage for one request of `tokens` tokens of context,
    /// with sliding-window layers capped at their window.
    pub fn request_kv_bytes(&self, tokens: u64) -> f64 {
        let n = tokens as f64;
        let windowed: f64 = self.windowed_kv.iter().map(|&(_, b)| b).sum();
        let full = self.kv_bytes_per_token - windowed;
        full * n
            + self
                .windowed_kv
                .iter()
                .map(|&(w, b)| b * n.min(w as f64))
                .sum::<f64>()
    }

    /// KV bytes `batch` holds during its iteration: each sequence's, sliding-window layers
    /// keeping at most their window of what was cached before it (a prefill writes every new
    /// token's KV whatever the window); a decode group's window caps each request's tokens as
    /// `min(sum, requests × window)` (exact for equal contexts, an upper bound otherwise).
    pub fn batch_kv_bytes(&self, batch: &parallax_ir::Batch) -> f64 {
        let windowed: f64 = self.windowed_kv.iter().map(|&(_, b)| b).sum();
        // tokens a layer of window `w` holds for the whole batch
        let held = |w: f64| -> f64 {
            let prefill: f64 = batch
                .prefill
                .iter()
                .map(|c| c.new_tokens as f64 + (c.prefix as f64).min(w))
                .sum();
            let d = &batch.decode;
            prefill + (d.context_sum as f64).min(d.requests as f64 * w)
        };
        (self.kv_bytes_per_token - windowed) * held(f64::INFINITY)
            + self
                .windowed_kv
                .iter()
                .map(|&(w, b)| b * held(w as f64))
                .sum::<f64>()
    }

    /// Bytes one device needs to hold the weights, reserves and one request of `tokens` (in a
    /// replica of one stage; [`MemoryReport::shortfall`] accounts for pipeline engines).
    pub fn needed_bytes(&self, tokens: u64) -> f64 {
        self.weights_bytes
            + self.activation_bytes
            + self.runtime_bytes
            + self.request_kv_bytes(tokens)
    }
}

/// Memory of every stage of one replica of a plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MemoryReport {
    /// The plan, canonical.
    pub plan: String,
    /// Per stage.
    pub stages: Vec<StageMemory>,
    /// Tokens per KV block.
    pub block_size: u32,
}

impl MemoryReport {
    /// KV-cache blocks of one replica: the minimum over stages of the stage's paged capacity.
    pub fn kv_blocks(&self) -> u64 {
        self.stages
            .iter()
            .map(|s| s.kv_tokens() / self.block_size.max(1) as u64)
            .min()
            .unwrap_or(0)
    }

    /// The worst stage's shortfall for holding weights, reserves and one request of `tokens`
    /// tokens, or `None` when every stage fits.
    ///
    /// With `pp` stages the KV cache is split evenly between the `pp` pipeline engines (vLLM's
    /// virtual engines, one per micro-batch in flight; see [`parallax_sim::scheduler`]), and a
    /// request lives in one of them: each stage must hold `pp` times the request's KV, or the
    /// simulator rejects the request at arrival.
    pub fn shortfall(&self, tokens: u64) -> Option<MemoryShortfall> {
        let mut worst: Option<MemoryShortfall> = None;
        let engines = self.stages.len().max(1) as f64;
        for s in &self.stages {
            let needed = s.weights_bytes
                + s.activation_bytes
                + s.runtime_bytes
                + engines * s.request_kv_bytes(tokens);
            if needed > s.available_bytes {
                let miss = MemoryShortfall {
                    plan: self.plan.clone(),
                    stage: s.stage,
                    needed_bytes: needed,
                    available_bytes: s.available_bytes,
                };
                if worst
                    .as_ref()
                    .map_or(true, |w| miss.deficit_bytes() > w.deficit_bytes())
                {
                    worst = Some(miss);
                }
            }
        }
        worst
    }

    /// `Ok` when every stage holds its weights, reserves and one request of `tokens` tokens
    /// in one pipeline engine's share of the KV cache ([`MemoryReport::shortfall`]).
    ///
    /// # Errors
    /// [`PlanError::Memory`] with the worst stage's shortfall.
    pub fn check(&self, tokens: u64) -> Result<(), PlanError> {
        match self.shortfall(tokens) {
            Some(s) => Err(PlanError::Memory(s)),
            None => Ok(()),
        }
    }
}

/// A decode-only batch of `t` requests of context 1: `t` tokens through the token-dependent
/// ops (the IR lowers GEMMs and elementwise ops from `Batch::tokens` alone).
pub(crate) fn tokens_batch(t: u64) -> Batch {
    Batch {
        prefill: Vec::new(),
        decode: DecodeGroup {
            requests: u32::try_from(t).unwrap_or(u32::MAX),
            context_sum: t,
            context_max: 1,
        },
    }
}

/// Memory of one stage (see the module docs).
pub(crate) fn stage_memory(
    model: &Model,
    plan: &Plan,
    stage: &StageSpec,
    cluster: &Cluster,
    opts: &MemoryOptions,
) -> StageMemory {
    // With per-stage widths every stage sees the plan at its own width.
    let plan = &*plan.stage_plan(stage.index);
    let p = &model.precision;
    let w = plan.tp.max(1) as f64;
    let a = p.activations.bytes();
    let hidden = model.hidden_size as f64;
    let t_max = opts.max_num_batched_tokens as u64;
    let mut weights = 0.0;
    let mut kv = 0.0;
    let mut windowed: Vec<(u32, f64)> = Vec::new();
    let mut peak_gemm: f64 = 0.0;
    let mut ops = Vec::new();
    // One block of the stage's last segment (weights, KV per token): an MTP layer's.
    let mut last_block = (0.0, 0.0);
    for seg in &stage.segments {
        let block = &model.runs[seg.run].block;
        let n = seg.blocks as f64;
        last_block = (0.0, 0.0);
        for (i, cell) in block.cells.iter().enumerate() {
            let pl = plan.placement(block, i);
            let mut w_cell = cell.weight_bytes_per_device(pl.shard, p);
            if pl.shard.ep > 1 && plan.moe_tokens_replicated() {
                // shared experts sharded over the whole replica, as the lowering runs them
                w_cell += cell.shared_expert_bytes_per_device(pl.shard.devices(), p)
                    - cell.shared_expert_bytes_per_device(pl.shard.tp, p);
            }
            weights += n * w_cell;
            let k = cell.kv_bytes_per_token_per_device(pl.shard, p);
            last_block.0 += w_cell;
            last_block.1 += k;
            if k > 0.0 {
                kv += n * k;
                if let Cell::Attention(att) = cell {
                    if let Some(win) = att.sliding_window {
                        match windowed.iter_mut().find(|e| e.0 == win) {
                            Some(e) => e.1 += n * k,
                            None => windowed.push((win, n * k)),
                        }
                    }
                }
            }
            // Peak GEMM activations at the largest iteration.
            let rows = if matches!(cell, Cell::Moe(_)) {
                // One whole-MoE replica's tokens (the IR divides routed work by `ep`).
                t_max.div_ceil(plan.moe.replicas.max(1) as u64)
            } else {
                t_max.div_ceil(pl.replicas.max(1) as u64)
            };
            ops.clear();
            if matches!(cell, Cell::Moe(_)) && pl.shard.ep > 1 && plan.moe_tokens_replicated() {
                // as the lowering runs it (the shared experts over the whole replica)
                crate::lower::lower_replicated_moe(cell, pl.shard, rows, p, &mut ops, |_| {});
            } else {
                lower_cell(cell, pl.shard, &tokens_batch(rows), p, &mut ops);
            }
            for op in &ops {
                let live = match &op.body {
                    OpBody::Gemm(g) => g.count as f64 * g.m as f64 * (g.k + g.n) as f64 * a,
                    // The grouped gate/up GEMM's input rows and outputs.
                    OpBody::FusedMoe(f) => {
                        f.assignments as f64
                            * (f.hidden as f64 + f.up() * f.intermediate as f64)
                            * a
                    }
                    _ => 0.0,
                };
                peak_gemm = peak_gemm.max(live);
            }
        }
    }
    // embedding, final norm and LM head stay in the activation type under any quantisation
    // (`Model::unquantised_head_params`)
    let table = model.vocab_size as f64 * hidden * a / w;
    let first = stage.index == 0;
    let last = stage.index + 1 == plan.pp as usize;
    if first {
        weights += table;
    }
    let mut activation = 2.0 * t_max as f64 * hidden * a + peak_gemm;
    if last && opts.draft_module && !opts.rule.is_static() {
        // the MTP layers, each a block of the last run and its unsharded `eh_proj`
        let mtp = model.mtp_layers as f64;
        weights += mtp * (last_block.0 + 2.0 * hidden * hidden * a);
        kv += mtp * last_block.1;
    }
    if last {
        weights += hidden * a;
        if !model.tie_word_embeddings || !first {
            weights += table;
        }
        activation += 2.0 * 4.0 * opts.max_num_seqs as f64 * model.vocab_size as f64 / w;
    }
    windowed.sort_by_key(|e| e.0);
    let mut memory = StageMemory {
        stage: stage.index,
        available_bytes: 0.0,
        capacity_bytes: cluster.gpu.memory_bytes as f64,
        rule: opts.rule,
        fraction: opts.fraction_for(cluster.gpu.memory_bytes, plan),
        weights_bytes: weights,
        activation_bytes: activation,
        runtime_bytes: opts.runtime_reserve_bytes,
        kv_bytes_per_token: kv,
        windowed_kv: windowed,
        attn_replicas: plan.attn.replicas,
    };
    memory.refresh_available();
    memory
}

/// Memory of one replica of `plan` for `model` on `cluster`'s GPU.
///
/// Does not fail when memory misses: inspect [`MemoryReport::shortfall`] or call
/// [`MemoryReport::check`].
///
/// # Complexity
/// O(pp × (runs + cells per block)), independent of depth.
///
/// # Errors
/// [`PlanError`] when the options are out of range or the plan is inconsistent with the
/// model or the cluster (see [`crate::validate`]).
pub fn plan_memory(
    model: &Model,
    plan: &Plan,
    cluster: &Cluster,
    opts: &MemoryOptions,
) -> Result<MemoryReport, PlanError> {
    opts.validate()?;
    if cluster.is_heterogeneous() || plan.on.is_some() {
        return crate::hetero::binding_memory(model, plan, cluster, opts);
    }
    let stages = crate::validate(model, plan, cluster)?;
    Ok(report(model, plan, &stages, cluster, opts))
}

/// The memory report of `plan` over already resolved `stages` (no validation).
pub(crate) fn report(
    model: &Model,
    plan: &Plan,
    stages: &[StageSpec],
    cluster: &Cluster,
    opts: &MemoryOptions,
) -> MemoryReport {
    MemoryReport {
        plan: plan.to_string(),
        stages: stages
            .iter()
            .map(|s| stage_memory(model, plan, s, cluster, opts))
            .collect(),
        block_size: opts.block_size,
    }
}
