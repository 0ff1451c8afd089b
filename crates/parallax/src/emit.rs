//! Launch commands for a chosen plan, as vLLM, SGLang and TensorRT-LLM spell them.
//!
//! [`emit`] turns a [`Plan`], its scheduler settings and memory options into the command lines
//! (and, for TensorRT-LLM, the extra LLM-API YAML file) that deploy it. Flag names were checked
//! against the engines' sources: vLLM `vllm/engine/arg_utils.py` (`vllm serve`), SGLang
//! `python/sglang/srt/server_args.py` (`python3 -m sglang.launch_server`), TensorRT-LLM
//! `tensorrt_llm/commands/serve.py` and `llmapi/llm_args.py` (`trtllm-serve`).
//!
//! # Mapping
//! | plan / setting | vLLM | SGLang | TensorRT-LLM |
//! |---|---|---|---|
//! | stage width `tp` | `--tensor-parallel-size` | `--tp-size` | `--tp_size` |
//! | `pp` | `--pipeline-parallel-size` | `--pp-size` | `--pp_size` |
//! | uneven `layers=` | env `VLLM_PP_LAYER_PARTITION` | env `SGLANG_PP_LAYER_PARTITION` | YAML `pp_partition` |
//! | `attn=RxtpT` | `--data-parallel-size R`, TP `T` (MoE + EP only) | `--enable-dp-attention --dp-size R` | YAML `enable_attention_dp` (`T` = 1 only) |
//! | `moe=epE` | `--enable-expert-parallel` (`E` = stage width only) | `--ep-size E` | `--ep_size E` |
//! | `dp` replicas | `--data-parallel-size` (dense, `pp` = 1, no attention DP), else one command per replica | `--dp-size` (`pp` = 1, no attention DP), else one command per replica | one command per replica |
//! | `max_num_seqs` | `--max-num-seqs` (per attention-DP rank) | `--max-running-requests` | `--max_batch_size` (per attention-DP rank) |
//! | token budget | `--max-num-batched-tokens` | `--max-prefill-tokens` (+ `--chunked-prefill-size`) | `--max_num_tokens` |
//! | chunked prefill | `--enable-chunked-prefill` / `--no-enable-chunked-prefill` | `--chunked-prefill-size N` (with `--enable-mixed-chunk` for `sarathi`) / `-1` | `--enable_chunked_prefill` |
//! | memory | `--gpu-memory-utilization` | `--mem-fraction-static` (weights + KV share) | `--kv_cache_free_gpu_memory_fraction` (KV share of memory left after weights and activations) |
//! | KV block | `--block-size` | `--page-size` | YAML `kv_cache_config.tokens_per_block` |
//! | FP8 weights | `--quantization fp8` | `--quantization fp8` | from the checkpoint (note) |
//! | FP8 KV cache | `--kv-cache-dtype fp8` | `--kv-cache-dtype fp8_e4m3` | YAML `kv_cache_config.dtype: fp8` |
//! | EPLB, `N` redundant experts | `--enable-eplb --eplb-config '{"num_redundant_experts":N}'` | `--enable-eplb --ep-num-redundant-experts N` | not mapped yet (error) |
//! | no CUDA graphs | `--enforce-eager` | `--disable-cuda-graph` | YAML `cuda_graph_config: null` |
//! | NCCL all-reduce only | `--disable-custom-all-reduce` | `--disable-custom-all-reduce` | YAML `allreduce_strategy: NCCL` |
//! | admission on the prompt's KV (`reserve_to_completion` off) | default | default | YAML `scheduler_config.capacity_scheduler_policy: MAX_UTILIZATION` (the default, `GUARANTEED_NO_EVICT`, reserves to completion; simulated with it, vLLM and SGLang get a note) |
//!
//! Multi-node instances: SGLang gets one process per node (`--nnodes`, `--node-rank`,
//! `--dist-init-addr NODEh_ADDR:5000` with `NODEh_ADDR` named in a note); vLLM (Ray) and
//! TensorRT-LLM (mpirun/srun) get a note.
//!
//! The engines' memory fractions mean different things ([`parallax_plan::MemoryRule`]: vLLM's
//! is the share of device memory for everything, SGLang's the share for weights and KV cache
//! of the memory free before the weights load, TensorRT-LLM's the KV cache's share of the
//! memory left after weights and reserves), so each is computed from the plan's memory report
//! to give the simulated KV-cache size (rounded down to 2 decimals, SGLang's to 3), except that
//! the engine whose rule the plan was simulated under gets the simulated fraction itself.
//!
//! A plan an engine cannot express (dense-MLP replicas, a hybrid `ep × tp` MoE layout under
//! vLLM, the `orca` or `static` scheduler policies, …) is an [`EmitError::Unsupported`] naming
//! the engine, the plan and the reason; nothing is silently dropped. Where the engine's
//! behaviour differs from the simulated one without a flag to change it, the launch config
//! carries a note.

use parallax_hw::Cluster;
use parallax_ir::{Cell, DType, Model};
use parallax_plan::{CellLayout, EngineKind, MemoryOptions, MemoryRule, Plan};
use parallax_sim::{SchedulerConfig, SchedulerKind};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The serving engine a launch command is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Engine {
    /// vLLM (`vllm serve`, V1 engine).
    Vllm,
    /// SGLang (`python3 -m sglang.launch_server`).
    Sglang,
    /// TensorRT-LLM (`trtllm-serve`, PyTorch backend).
    Trtllm,
}

impl Engine {
    /// Every engine.
    pub const ALL: [Engine; 3] = [Engine::Vllm, Engine::Sglang, Engine::Trtllm];

    /// Lowercase name (`vllm`, `sglang`, `trtllm`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Vllm => "vllm",
            Engine::Sglang => "sglang",
            Engine::Trtllm => "trtllm",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Engine {
    type Err = EmitError;

    /// Accepts the engine names of [`EngineKind`] (`vllm`, `sglang`, `trtllm` and their
    /// aliases, case-insensitive) but vLLM V0, whose launch command is not written.
    fn from_str(s: &str) -> Result<Self, EmitError> {
        match s.trim().parse::<EngineKind>() {
            Ok(EngineKind::Vllm) => Ok(Engine::Vllm),
            Ok(EngineKind::Sglang) => Ok(Engine::Sglang),
            Ok(EngineKind::Trtllm) => Ok(Engine::Trtllm),
            Ok(EngineKind::VllmV0) | Err(_) => Err(EmitError::UnknownEngine {
                value: s.to_string(),
            }),
        }
    }
}

/// Why no launch command could be written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The engine name is not known.
    #[error("unknown engine `{value}`: expected one of vllm, sglang, trtllm")]
    UnknownEngine {
        /// The name as given.
        value: String,
    },
    /// The engine cannot run the plan or the settings as simulated.
    #[error("{engine} cannot express plan `{plan}`: {reason}")]
    Unsupported {
        /// The engine.
        engine: Engine,
        /// The plan's canonical string.
        plan: String,
        /// What the engine lacks, and what to search for instead.
        reason: String,
    },
    /// The plan's memory could not be computed (plan inconsistent with model or cluster).
    #[error("plan `{plan}`: {message}")]
    Memory {
        /// The plan's canonical string.
        plan: String,
        /// The memory model's error.
        message: String,
    },
}

/// What to emit a launch config for. Build with [`EmitRequest::new`] and set the public
/// fields that differ from the defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EmitRequest<'a> {
    /// The model (its layers decide MoE flags; its precision the dtype flags).
    pub model: &'a Model,
    /// How the engine should name the model: an HF id or a local path.
    pub model_ref: String,
    /// The cluster (GPU memory for the memory fractions, GPUs per node for placement).
    pub cluster: &'a Cluster,
    /// The plan.
    pub plan: &'a Plan,
    /// The scheduler settings simulated with the plan.
    pub scheduler: SchedulerConfig,
    /// Memory options simulated with the plan.
    pub memory: MemoryOptions,
    /// First HTTP port; instance `i` of a multi-instance deployment listens on `base_port + i`.
    /// Default 8000.
    pub base_port: u16,
    /// EPLB redundant experts per MoE layer simulated with the plan (0, the default: EPLB
    /// off); their weights count in the memory fractions.
    pub eplb_redundant_experts: u32,
    /// The plan was simulated without CUDA graphs (vLLM's `--enforce-eager`; default false).
    pub enforce_eager: bool,
    /// The plan was simulated with NCCL for every all-reduce (vLLM's
    /// `--disable-custom-all-reduce`; default false).
    pub disable_custom_all_reduce: bool,
    /// Draft tokens per step of speculative decoding by the model's multi-token-prediction
    /// module, as simulated (0, the default: off): vLLM's `--speculative-config` with method
    /// `mtp`, SGLang's `--speculative-algorithm NEXTN`, TensorRT-LLM's MTP
    /// `speculative_config`.
    pub speculative_tokens: u32,
}

impl<'a> EmitRequest<'a> {
    /// A request with default memory options and port 8000.
    pub fn new(
        model: &'a Model,
        model_ref: impl Into<String>,
        cluster: &'a Cluster,
        plan: &'a Plan,
        scheduler: SchedulerConfig,
    ) -> Self {
        EmitRequest {
            model,
            model_ref: model_ref.into(),
            cluster,
            plan,
            scheduler,
            memory: MemoryOptions::default(),
            base_port: 8000,
            eplb_redundant_experts: 0,
            enforce_eager: false,
            disable_custom_all_reduce: false,
            speculative_tokens: 0,
        }
    }
}

/// One process to start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instance {
    /// `replica-0`, … or `all` when one command runs every replica.
    pub name: String,
    /// Node index (in the cluster's order) of the instance's first GPU.
    pub node: u32,
    /// Nodes the instance spans.
    pub nodes: u32,
    /// Global GPU indices the instance uses (node × GPUs per node + local index).
    pub gpus: Vec<u32>,
    /// Environment variables to set, sorted by name.
    pub env: BTreeMap<String, String>,
    /// The command, one argument per element.
    pub argv: Vec<String>,
}

impl Instance {
    /// The command as one shell line: `NAME=value … argv…`, arguments quoted where needed.
    pub fn command_line(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        parts.extend(self.argv.iter().map(|a| shell_quote(a)));
        parts.join(" ")
    }
}

/// A file the commands read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigFile {
    /// Relative path the commands name.
    pub path: String,
    /// Its contents.
    pub contents: String,
}

/// The launch commands and configuration of one plan on one engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaunchConfig {
    /// The engine.
    pub engine: Engine,
    /// The plan's canonical string.
    pub plan: String,
    /// Files to write before starting the instances.
    pub files: Vec<ConfigFile>,
    /// Processes to start, in order.
    pub instances: Vec<Instance>,
    /// Where the deployment differs from what was simulated, or needs a manual step.
    pub notes: Vec<String>,
}

impl LaunchConfig {
    /// A shell script: a comment naming engine and plan, each file as a here-document, then
    /// one command per instance (backgrounded with `&` when there are several), then the notes
    /// as comments.
    pub fn script(&self) -> String {
        let mut s = format!("# {} launch for plan {}\n", self.engine, self.plan);
        for f in &self.files {
            s.push_str(&format!(
                "cat > {} <<'EOF'\n{}EOF\n",
                shell_quote(&f.path),
                f.contents
            ));
        }
        let many = self.instances.len() > 1;
        if self
            .instances
            .iter()
            .any(|i| i.node != self.instances[0].node)
        {
            s.push_str("# the instances run on different nodes: run each command on its node\n");
        }
        for i in &self.instances {
            if many {
                s.push_str(&format!(
                    "# {}: node {}, GPUs {}\n",
                    i.name,
                    i.node,
                    join(&i.gpus, ",")
                ));
                s.push_str(&format!("{} &\n", i.command_line()));
            } else {
                s.push_str(&i.command_line());
                s.push('\n');
            }
        }
        if many {
            s.push_str("wait\n");
        }
        for n in &self.notes {
            s.push_str(&format!("# note: {n}\n"));
        }
        s
    }
}

fn join<T: fmt::Display>(v: &[T], sep: &str) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

/// Quote `s` for a POSIX shell when it holds anything but safe characters.
fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What the model's blocks contain.
struct Contents {
    moe: bool,
    dense_mlp: bool,
}

fn contents(model: &Model) -> Contents {
    Contents {
        moe: model.has_cell(|c| matches!(c, Cell::Moe(_))),
        dense_mlp: model.has_cell(|c| matches!(c, Cell::Mlp(_))),
    }
}

fn dtype_name(d: DType) -> Option<&'static str> {
    match d {
        DType::Bf16 => Some("bfloat16"),
        DType::F16 => Some("float16"),
        DType::F32 => Some("float32"),
        _ => None,
    }
}

/// Memory fractions the engines take: the simulated fraction itself for the engine whose rule
/// it was simulated under, else derived from the plan's memory report (minimum over stages,
/// rounded down, to 2 decimals or SGLang's 3, so the engine never gets more than simulated).
struct Fractions {
    /// vLLM `--gpu-memory-utilization`: (weights + reserves + KV) / capacity.
    vllm_utilization: f64,
    /// SGLang `--mem-fraction-static`: (weights + KV) / (capacity − runtime reserve).
    sglang_static: f64,
    /// TensorRT-LLM `free_gpu_memory_fraction`: KV / (capacity − weights − activations − runtime).
    trtllm_free: f64,
}

fn fractions(req: &EmitRequest<'_>, plan_s: &str) -> Result<Fractions, EmitError> {
    // The memory as simulated, EPLB's replicas in the weights (only their count matters here).
    let lower = parallax_plan::LowerOptions {
        memory: req.memory,
        moe_load: (req.eplb_redundant_experts > 0).then_some(parallax_plan::MoeLoad {
            routing: parallax_plan::MoeRouting::Zipf {
                exponent: 0.0,
                seed: 0,
            },
            redundant: req.eplb_redundant_experts,
        }),
        ..Default::default()
    };
    let reports =
        parallax_plan::lowered_memory(req.model, req.plan, req.cluster, &lower).map_err(|e| {
            EmitError::Memory {
                plan: plan_s.to_string(),
                message: e.to_string(),
            }
        })?;
    let stages = || reports.iter().flat_map(|r| r.stages.iter());
    let simulated = stages().map(|s| s.fraction).fold(f64::INFINITY, f64::min);
    // The engine the plan was simulated as gets the simulated fraction itself; another engine
    // the fraction its own rule needs for the simulated KV, rounded down.
    let flag = |rule: MemoryRule, scale: f64| {
        let simulated_as = match req.memory.rule {
            MemoryRule::StaticDefault => MemoryRule::Static,
            r => r,
        };
        if simulated_as == rule {
            simulated
        } else {
            let need = stages()
                .map(|s| s.fraction_under(rule))
                .fold(f64::INFINITY, f64::min);
            floor_fraction(need, scale)
        }
    };
    Ok(Fractions {
        vllm_utilization: flag(MemoryRule::Utilization, 100.0),
        sglang_static: flag(MemoryRule::Static, 1000.0),
        trtllm_free: flag(MemoryRule::FreeFraction, 100.0),
    })
}

/// `x` (clamped to [0, 1]) rounded down to `1 / scale`, with a tolerance for the arithmetic
/// (an exact 0.9 stays 0.9): a memory fraction an engine never exceeds.
pub(crate) fn floor_fraction(x: f64, scale: f64) -> f64 {
    ((x.clamp(0.0, 1.0) * scale) + 1e-6).floor() / scale
}

/// Per-rank scheduler limits under attention data parallelism: vLLM and TensorRT-LLM run one
/// scheduler per data-parallel rank, while the simulated engine's limits cover the whole stage.
fn per_rank(
    seqs: u32,
    tokens: u32,
    ranks: u32,
    engine: &str,
    notes: &mut Vec<String>,
) -> (u32, u32) {
    if ranks <= 1 {
        return (seqs, tokens);
    }
    let (s, t) = (seqs.div_ceil(ranks), tokens.div_ceil(ranks));
    notes.push(format!(
        "{engine} applies max-num-seqs and the token budget per attention data-parallel rank: \
         {s} = ⌈{seqs} / {ranks}⌉ sequences and {t} = ⌈{tokens} / {ranks}⌉ tokens per rank"
    ));
    (s, t)
}

/// Write the launch config of `req.plan` for `engine`.
///
/// # Errors
/// [`EmitError::Unsupported`] when the engine cannot run the plan or the scheduler policy as
/// simulated (the reason names what to search for instead); [`EmitError::Memory`] when the
/// plan does not fit the model or cluster.
///
/// # Examples
/// ```
/// use parallax::emit::{emit, EmitRequest, Engine};
/// let model = parallax::ir::resolve("llama-3.1-70b")?;
/// let cluster = parallax::hw::Cluster::parse("1x8xH100")?;
/// let plan: parallax::plan::Plan = "tp=8".parse()?;
/// let sched = parallax::sim::SchedulerConfig::new(parallax::sim::SchedulerKind::Chunked);
/// let req = EmitRequest::new(&model, "meta-llama/Llama-3.1-70B", &cluster, &plan, sched);
/// let cfg = emit(Engine::Vllm, &req).unwrap();
/// assert!(cfg.instances[0].command_line().contains("--tensor-parallel-size 8"));
/// # Ok::<(), parallax::Error>(())
/// ```
pub fn emit(engine: Engine, req: &EmitRequest<'_>) -> Result<LaunchConfig, EmitError> {
    let plan = req.plan;
    let plan_s = plan.to_string();
    let unsupported = |reason: String| EmitError::Unsupported {
        engine,
        plan: plan_s.clone(),
        reason,
    };
    let c = contents(req.model);
    let width = plan.tp;
    let attn = plan.attn;
    let mut notes = Vec::new();
    // Engines run one TP size per deployment.
    if let Some(w) = &plan.stage_tp {
        return Err(unsupported(format!(
            "its stages have different TP widths ({}); {engine} runs one TP size for every \
             pipeline stage",
            w.iter().map(u32::to_string).collect::<Vec<_>>().join("+")
        )));
    }
    // Stages or replicas on different GPU kinds are several deployments, not one command.
    if let Some(on) = &plan.on {
        let kinds: std::collections::BTreeSet<&String> = on.iter().flatten().collect();
        if kinds.len() > 1 {
            return Err(unsupported(format!(
                "it runs on several GPU kinds ({}); one launch command runs one kind",
                kinds.into_iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }

    // Layouts every engine shares: dense MLP must follow the engine's own rule (checked per
    // engine below); MoE layout only matters when the model has MoE cells.
    let attn_dp = attn.replicas;
    let moe_ep = if c.moe { plan.moe.ep } else { 1 };
    if c.moe && plan.moe.replicas > 1 {
        return Err(unsupported(format!(
            "its whole-MoE replicas inside a stage (moe={}) have no {engine} flag; search \
             without mlp-replicas to get a launchable plan",
            plan.moe
        )));
    }
    let dense_mlp_layout = |expected: CellLayout, rule: &str| -> Result<(), EmitError> {
        if c.dense_mlp && plan.mlp != expected {
            return Err(unsupported(format!(
                "its dense MLP layout mlp={}xtp{} differs from the engine's ({rule}: {}xtp{})",
                plan.mlp.replicas, plan.mlp.tp, expected.replicas, expected.tp
            )));
        }
        Ok(())
    };

    // Scheduler policy.
    let kind = req.scheduler.kind;
    if matches!(kind, SchedulerKind::Static)
        || (kind == SchedulerKind::Orca && engine != Engine::Trtllm)
    {
        return Err(unsupported(format!(
            "the `{}` scheduler policy has no {engine} equivalent; search with --scheduler {}",
            kind.name(),
            if engine == Engine::Trtllm {
                "orca or sarathi"
            } else {
                "vllm or sarathi"
            }
        )));
    }
    let budget = req.scheduler.token_budget();
    let max_seqs = req.scheduler.max_num_seqs;
    // Admission: TensorRT-LLM reserves each request's whole KV by default
    // (GUARANTEED_NO_EVICT) and can be told otherwise; vLLM and SGLang cannot.
    if req.scheduler.reserve_to_completion && engine != Engine::Trtllm {
        notes.push(format!(
            "the simulation admitted a request only with room for its whole output \
             (TensorRT-LLM's GUARANTEED_NO_EVICT); {}",
            if engine == Engine::Sglang {
                "SGLang reserves only an estimate of each output (its new-token ratio) and \
                 retracts decodes when the KV cache runs out"
            } else {
                "vLLM admits on the prompt's KV and preempts when decodes run out of blocks"
            }
        ));
    }
    let eplb = req.eplb_redundant_experts;
    if eplb > 0 {
        let experts = req.model.first_moe().map(|m| m.experts);
        match experts {
            Some(e) if moe_ep > 1 && (e + eplb) % moe_ep == 0 => notes.push(format!(
                "EPLB: the engine places its {eplb} redundant experts from the expert loads it \
                 measures and rearranges them periodically; the simulation used the given \
                 skew's static placement"
            )),
            _ => {
                return Err(unsupported(format!(
                    "EPLB's {eplb} redundant experts need expert-parallel MoE layers whose \
                     experts plus {eplb} divide over the EP ranks (moe={})",
                    plan.moe
                )))
            }
        }
    }

    // Precision.
    let prec = req.model.precision;
    let quant_note = |what: &str| format!("weights are {} in the simulation: {what}", prec.weights);

    // Instances: one command for everything, or one per replica.
    let one_command_dp: bool;
    let mut argv: Vec<String> = Vec::new();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut files = Vec::new();
    let a = |argv: &mut Vec<String>, flag: &str, v: &dyn fmt::Display| {
        argv.push(flag.to_string());
        argv.push(v.to_string());
    };
    let layers_csv = plan.layers.as_ref().map(|l| join(l, ","));

    match engine {
        Engine::Vllm => {
            argv.extend(["vllm".into(), "serve".into(), req.model_ref.clone()]);
            let tp = if attn_dp > 1 {
                if !c.moe {
                    return Err(unsupported(format!(
                        "vLLM runs attention data parallelism (attn={attn_dp}xtp{}) only for \
                         MoE models with --enable-expert-parallel; search without \
                         attn-replicas for a dense model",
                        attn.tp
                    )));
                }
                attn.tp
            } else {
                width
            };
            if c.moe && moe_ep > 1 && moe_ep != width {
                return Err(unsupported(format!(
                    "vLLM's expert parallelism spans every GPU of the stage (ep = tp × dp = \
                     {width}), so moe=ep{moe_ep}xtp{} cannot be expressed",
                    plan.moe.tp
                )));
            }
            if c.moe && attn_dp > 1 && moe_ep != width {
                return Err(unsupported(format!(
                    "vLLM with attention data parallelism needs expert parallelism over the \
                     whole stage (moe=ep{width}xtp1)"
                )));
            }
            dense_mlp_layout(attn, "vLLM runs dense MLPs in the attention layout")?;
            one_command_dp = plan.dp > 1 && !c.moe && attn_dp == 1 && plan.pp == 1;
            a(&mut argv, "--tensor-parallel-size", &tp);
            if plan.pp > 1 {
                a(&mut argv, "--pipeline-parallel-size", &plan.pp);
            }
            if attn_dp > 1 {
                a(&mut argv, "--data-parallel-size", &attn_dp);
            } else if one_command_dp {
                a(&mut argv, "--data-parallel-size", &plan.dp);
            }
            if c.moe && moe_ep > 1 {
                argv.push("--enable-expert-parallel".into());
            }
            if eplb > 0 {
                argv.push("--enable-eplb".into());
                a(
                    &mut argv,
                    "--eplb-config",
                    &format!("{{\"num_redundant_experts\":{eplb}}}"),
                );
            }
            if let Some(l) = &layers_csv {
                env.insert("VLLM_PP_LAYER_PARTITION".into(), l.clone());
            }
            let (seqs, tokens) = per_rank(max_seqs, budget, attn_dp, "vLLM", &mut notes);
            a(&mut argv, "--max-num-seqs", &seqs);
            a(&mut argv, "--max-num-batched-tokens", &tokens);
            argv.push(if kind.chunked() {
                "--enable-chunked-prefill".into()
            } else {
                "--no-enable-chunked-prefill".into()
            });
            if kind == SchedulerKind::VllmV0 {
                notes.push(
                    "the simulated `vllm` policy never mixes prefills and decodes in one \
                     iteration (vLLM V0); vLLM's V1 engine always mixes them, even with chunked \
                     prefill off"
                        .into(),
                );
            }
            a(&mut argv, "--block-size", &req.memory.block_size);
            let f = fractions(req, &plan_s)?;
            a(&mut argv, "--gpu-memory-utilization", &f.vllm_utilization);
            if req.enforce_eager {
                argv.push("--enforce-eager".into());
            }
            if req.disable_custom_all_reduce {
                argv.push("--disable-custom-all-reduce".into());
            }
            if req.speculative_tokens > 0 {
                a(
                    &mut argv,
                    "--speculative-config",
                    &format!(
                        "{{\"method\":\"mtp\",\"num_speculative_tokens\":{}}}",
                        req.speculative_tokens
                    ),
                );
            }
            if let Some(d) = dtype_name(prec.activations) {
                a(&mut argv, "--dtype", &d);
            }
            match prec.weights {
                DType::Fp8 => a(&mut argv, "--quantization", &"fp8"),
                DType::Int8 | DType::Int4 => notes.push(quant_note(
                    "vLLM takes the method (GPTQ, AWQ, compressed-tensors) from the \
                     checkpoint's quantization_config; serve a checkpoint quantized that way",
                )),
                _ => {}
            }
            match prec.kv_cache {
                DType::Fp8 => a(&mut argv, "--kv-cache-dtype", &"fp8"),
                DType::Int8 | DType::Int4 => {
                    return Err(unsupported(format!(
                        "vLLM has no {} KV cache (auto, bfloat16, fp8)",
                        prec.kv_cache
                    )))
                }
                _ => {}
            }
        }
        Engine::Sglang => {
            argv.extend([
                "python3".into(),
                "-m".into(),
                "sglang.launch_server".into(),
                "--model-path".into(),
                req.model_ref.clone(),
            ]);
            dense_mlp_layout(
                CellLayout::tp(width),
                "SGLang shards dense MLPs over the whole --tp-size",
            )?;
            one_command_dp = plan.dp > 1 && attn_dp == 1 && plan.pp == 1;
            a(&mut argv, "--tp-size", &width);
            if plan.pp > 1 {
                a(&mut argv, "--pp-size", &plan.pp);
            }
            if attn_dp > 1 {
                argv.push("--enable-dp-attention".into());
                a(&mut argv, "--dp-size", &attn_dp);
            } else if one_command_dp {
                a(&mut argv, "--dp-size", &plan.dp);
            }
            if c.moe && moe_ep > 1 {
                a(&mut argv, "--ep-size", &moe_ep);
            }
            if eplb > 0 {
                argv.push("--enable-eplb".into());
                a(&mut argv, "--ep-num-redundant-experts", &eplb);
            }
            if let Some(l) = &layers_csv {
                env.insert("SGLANG_PP_LAYER_PARTITION".into(), l.clone());
            }
            a(&mut argv, "--max-running-requests", &max_seqs);
            a(
                &mut argv,
                "--max-prefill-tokens",
                &req.scheduler.max_num_batched_tokens,
            );
            if kind.chunked() {
                a(&mut argv, "--chunked-prefill-size", &budget);
                // prefill chunks ride with the running decodes only in `sarathi`;
                // `prefill-first` is SGLang's default, which runs them apart
                if kind == SchedulerKind::Chunked {
                    argv.push("--enable-mixed-chunk".into());
                }
            } else {
                a(&mut argv, "--chunked-prefill-size", &-1);
            }
            let f = fractions(req, &plan_s)?;
            a(&mut argv, "--mem-fraction-static", &f.sglang_static);
            a(&mut argv, "--page-size", &req.memory.block_size);
            if req.enforce_eager {
                argv.push("--disable-cuda-graph".into());
            }
            if req.disable_custom_all_reduce {
                argv.push("--disable-custom-all-reduce".into());
            }
            if req.speculative_tokens > 0 {
                // a chain of drafts: one candidate per step, verified with the next token
                a(&mut argv, "--speculative-algorithm", &"NEXTN");
                a(
                    &mut argv,
                    "--speculative-num-steps",
                    &req.speculative_tokens,
                );
                a(&mut argv, "--speculative-eagle-topk", &1);
                a(
                    &mut argv,
                    "--speculative-num-draft-tokens",
                    &(req.speculative_tokens + 1),
                );
            }
            if let Some(d) = dtype_name(prec.activations) {
                a(&mut argv, "--dtype", &d);
            }
            match prec.weights {
                DType::Fp8 => a(&mut argv, "--quantization", &"fp8"),
                DType::Int8 | DType::Int4 => notes.push(quant_note(
                    "SGLang takes the method from the checkpoint's quantization_config; serve \
                     a checkpoint quantized that way",
                )),
                _ => {}
            }
            match prec.kv_cache {
                DType::Fp8 => a(&mut argv, "--kv-cache-dtype", &"fp8_e4m3"),
                DType::Int8 | DType::Int4 => {
                    return Err(unsupported(format!(
                        "SGLang has no {} KV cache (auto, fp8_e4m3, fp8_e5m2)",
                        prec.kv_cache
                    )))
                }
                _ => {}
            }
        }
        Engine::Trtllm => {
            if attn_dp > 1 && attn.tp != 1 {
                return Err(unsupported(format!(
                    "TensorRT-LLM's attention data parallelism runs attention unsharded on \
                     every GPU (attn={width}xtp1), not attn={attn_dp}xtp{}",
                    attn.tp
                )));
            }
            dense_mlp_layout(
                if attn_dp > 1 {
                    attn
                } else {
                    CellLayout::tp(width)
                },
                "TensorRT-LLM runs dense MLPs in the attention layout",
            )?;
            one_command_dp = false;
            argv.extend([
                "trtllm-serve".into(),
                req.model_ref.clone(),
                "--backend".into(),
                "pytorch".into(),
            ]);
            a(&mut argv, "--tp_size", &width);
            a(&mut argv, "--pp_size", &plan.pp);
            if c.moe {
                a(&mut argv, "--ep_size", &moe_ep);
            }
            if eplb > 0 {
                return Err(unsupported(format!(
                    "EPLB ({eplb} redundant experts) is not mapped to TensorRT-LLM's MoE load \
                     balancer yet; emit for vllm or sglang, or search with --eplb 0"
                )));
            }
            let (seqs, tokens) = per_rank(max_seqs, budget, attn_dp, "TensorRT-LLM", &mut notes);
            a(&mut argv, "--max_batch_size", &seqs);
            a(&mut argv, "--max_num_tokens", &tokens);
            let f = fractions(req, &plan_s)?;
            a(
                &mut argv,
                "--kv_cache_free_gpu_memory_fraction",
                &f.trtllm_free,
            );
            if kind.chunked() {
                argv.push("--enable_chunked_prefill".into());
            }
            if kind == SchedulerKind::VllmV0 {
                notes.push(
                    "the simulated `vllm` policy never mixes prefills and decodes; \
                     TensorRT-LLM's in-flight batching always does"
                        .into(),
                );
            }
            let mut yaml = String::new();
            if let Some(d) = dtype_name(prec.activations) {
                yaml.push_str(&format!("dtype: {d}\n"));
            }
            if attn_dp > 1 {
                yaml.push_str("enable_attention_dp: true\n");
            }
            if let Some(l) = &plan.layers {
                yaml.push_str(&format!("pp_partition: [{}]\n", join(l, ", ")));
            }
            if req.enforce_eager {
                yaml.push_str("cuda_graph_config: null\n");
            }
            if req.disable_custom_all_reduce {
                yaml.push_str("allreduce_strategy: NCCL\n");
            }
            if req.speculative_tokens > 0 {
                yaml.push_str(&format!(
                    "speculative_config:\n  decoding_type: MTP\n  num_nextn_predict_layers: {}\n",
                    req.speculative_tokens
                ));
            }
            if !req.scheduler.reserve_to_completion {
                // admit on the prompt and preempt, as simulated (the default reserves to
                // completion)
                yaml.push_str("scheduler_config:\n  capacity_scheduler_policy: MAX_UTILIZATION\n");
            }
            yaml.push_str("kv_cache_config:\n");
            yaml.push_str(&format!("  tokens_per_block: {}\n", req.memory.block_size));
            match prec.kv_cache {
                DType::Fp8 => yaml.push_str("  dtype: fp8\n"),
                DType::Int8 | DType::Int4 => {
                    return Err(unsupported(format!(
                        "TensorRT-LLM's PyTorch backend has no {} KV cache (auto, fp8)",
                        prec.kv_cache
                    )))
                }
                _ => {}
            }
            if matches!(prec.weights, DType::Fp8 | DType::Int8 | DType::Int4) {
                notes.push(quant_note(
                    "TensorRT-LLM's PyTorch backend takes quantization from the checkpoint \
                     (hf_quant_config.json or quantization_config); serve a checkpoint \
                     quantized that way, e.g. with NVIDIA ModelOpt",
                ));
            }
            let path = "parallax-trtllm.yaml".to_string();
            a(&mut argv, "--extra_llm_api_options", &path);
            files.push(ConfigFile {
                path,
                contents: yaml,
            });
        }
    }

    // Placement of instances on GPUs.
    let gpn = req.cluster.gpus_per_node.max(1);
    let replica = plan.replica_devices();
    let (count, per) = if one_command_dp || plan.dp == 1 {
        (1, plan.devices())
    } else {
        (plan.dp, replica)
    };
    let mut instances = Vec::new();
    for r in 0..count {
        let first = r * per;
        let gpus: Vec<u32> = (first..first + per).collect();
        let node = first / gpn;
        let nodes = (first + per - 1) / gpn - node + 1;
        let mut env = env.clone();
        let mut argv = argv.clone();
        if count > 1 {
            if nodes == 1 {
                let local: Vec<u32> = gpus.iter().map(|g| g % gpn).collect();
                env.insert("CUDA_VISIBLE_DEVICES".into(), join(&local, ","));
            }
            let port = u32::from(req.base_port) + r;
            argv.push("--port".into());
            argv.push(port.to_string());
        }
        let name = if count > 1 {
            format!("replica-{r}")
        } else {
            "all".into()
        };
        if nodes > 1 && engine == Engine::Sglang {
            // SGLang runs one process per node: same arguments, its own --node-rank. `NODEk_ADDR`
            // stands for node k's address (the note says to replace it).
            let head = format!("NODE{node}_ADDR");
            notes.push(format!(
                "{name} spans {nodes} nodes of {gpn} GPUs: run each of its commands on its node \
                 and replace {head} with the address of node {node}"
            ));
            for k in 0..nodes {
                let mut argv = argv.clone();
                for (f, v) in [
                    ("--nnodes", nodes.to_string()),
                    ("--node-rank", k.to_string()),
                    ("--dist-init-addr", format!("{head}:5000")),
                ] {
                    argv.push(f.into());
                    argv.push(v);
                }
                let on_node: Vec<u32> = gpus
                    .iter()
                    .copied()
                    .filter(|g| g / gpn == node + k)
                    .collect();
                instances.push(Instance {
                    name: format!("{name}-node{k}"),
                    node: node + k,
                    nodes,
                    gpus: on_node,
                    env: env.clone(),
                    argv,
                });
            }
            continue;
        }
        if nodes > 1 {
            notes.push(format!(
                "{name} spans {nodes} nodes of {gpn} GPUs: start it with {}",
                match engine {
                    Engine::Vllm =>
                        "a Ray cluster (`ray start` on every node, then the command \
                                     on the head node)",
                    _ => "mpirun or srun, one rank per GPU (trtllm-llmapi-launch trtllm-serve …)",
                }
            ));
        }
        instances.push(Instance {
            name,
            node,
            nodes,
            gpus,
            env,
            argv,
        });
    }
    if count > 1 {
        notes.push(format!(
            "{count} independent replicas: put a load balancer in front of ports {}-{}",
            req.base_port,
            u32::from(req.base_port) + count - 1
        ));
    }
    Ok(LaunchConfig {
        engine,
        plan: plan_s,
        files,
        instances,
        notes,
    })
}

/// The plan vLLM's size flags run: `--data-parallel-size dp`, `--pipeline-parallel-size pp`,
/// `--tensor-parallel-size tp`, and with `--enable-expert-parallel` (`expert_parallel`) a MoE
/// model's experts split over the TP GPUs (`tp=T,ep=T`), or for `dp > 1`, as vLLM runs DP + EP,
/// over all `dp·tp` GPUs with data-parallel attention (`tp=D·T,attn=DxtpT,moe=ep(D·T)xtp1`):
/// the inverse of what [`emit`] writes for vLLM.
///
/// # Errors
/// The plan's [`parallax_plan::PlanError`] for sizes a plan string refuses (0, overflow).
///
/// # Examples
/// ```
/// let p = parallax::emit::vllm_plan(4, 1, 2, true).unwrap();
/// assert_eq!(p.to_string(), "dp=1,pp=1,tp=8,attn=4xtp2,moe=ep8xtp1");
/// assert_eq!(parallax::emit::vllm_plan(2, 1, 4, false).unwrap().to_string(), "dp=2,pp=1,tp=4");
/// ```
pub fn vllm_plan(
    dp: u32,
    pp: u32,
    tp: u32,
    expert_parallel: bool,
) -> Result<Plan, parallax_plan::PlanError> {
    let text = if !expert_parallel {
        format!("dp={dp},pp={pp},tp={tp}")
    } else if dp == 1 {
        format!("pp={pp},tp={tp},ep={tp}")
    } else {
        let w = dp.saturating_mul(tp);
        format!("pp={pp},tp={w},attn={dp}xtp{tp},moe=ep{w}xtp1")
    };
    text.parse()
}
