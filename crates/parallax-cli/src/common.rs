//! Resolving the inputs every subcommand shares: models, clusters, cost models.

use crate::output::CliError;
use parallax::cost_file::CostSource;
use parallax::hw::{catalog, Cluster, CostModel};
use parallax::ir::Model;
use parallax::CostModelChoice;
use std::path::Path;
use std::sync::Arc;

/// A model from an embedded short name, an HF id (embedded, or in the local Hugging Face
/// cache), or a path to a `config.json`.
pub fn model(spec: &str) -> Result<Model, CliError> {
    match parallax::ir::resolve(spec) {
        Err(e @ parallax::ir::IrError::UnknownModel { .. })
            if parallax::ir::hf_cache::looks_like_hub_id(spec.trim()) =>
        {
            let cache = parallax::ir::hf_cache::CacheDir::from_env();
            parallax::ir::hf_cache::load(spec.trim(), cache.as_ref())
                .map_err(|c| CliError::input(format!("{c}; not an embedded model either ({e})")))
        }
        r => r.map_err(CliError::input),
    }
}

/// A cluster from `NxGxGPU`, `GxGPU`, or a path to a TOML file.
pub fn cluster(spec: &str) -> Result<Cluster, CliError> {
    let looks_like_file = spec.ends_with(".toml") || Path::new(spec).is_file();
    if looks_like_file {
        Cluster::load(spec).map_err(CliError::input)
    } else {
        Cluster::parse(spec).map_err(CliError::input)
    }
}

/// `gpus` GPUs of the named kind for one parallel group (for commands that take `--gpu`):
/// one node, or nodes of the GPU's scale-up domain when wider ([`Cluster::for_group`]).
pub fn group_cluster(gpu: &str, gpus: u32) -> Result<Cluster, CliError> {
    let g = catalog::gpu(gpu).map_err(CliError::input)?;
    Cluster::for_group(g, gpus.max(1)).map_err(CliError::input)
}

/// Where the cost model comes from, from a `--cost-model` value: `auto`, `roofline`,
/// `profiled`, or a file (a profile, or the roofline parameters `calibrate --out` writes).
pub fn cost_source(choice: &str) -> Result<CostSource, CliError> {
    if let Ok(c) = choice.parse::<CostModelChoice>() {
        return Ok(CostSource::Choice(c));
    }
    let path = Path::new(choice);
    if path.is_file() {
        // a bad file is reported once, up front, not by everything predicted with it
        let source = CostSource::File(path.to_path_buf());
        source.check().map_err(CliError::input)?;
        return Ok(source);
    }
    let what = if path.is_dir() {
        "a directory, not a file"
    } else if path.exists() {
        "not a regular file"
    } else if choice.to_ascii_lowercase().ends_with(".json") || choice.contains('/') {
        "no such file"
    } else {
        "not a cost model name nor an existing file"
    };
    Err(CliError::input(format!(
        "invalid --cost-model `{choice}`: {what}; expected auto, roofline, profiled, or a \
         profile / `calibrate --out` parameters file"
    )))
}

/// The cost model for `cluster` from a `--cost-model` value (see [`cost_source`]).
pub fn cost_model(cluster: &Cluster, choice: &str) -> Result<Arc<dyn CostModel>, CliError> {
    cost_source(choice)?.build(cluster).map_err(CliError::input)
}

/// On a heterogeneous cluster only `--cost-model auto` is accepted: each GPU kind gets its own
/// automatic model (a profile or a file describes one GPU kind).
pub fn check_hetero_cost_model(cluster: &Cluster, choice: &str) -> Result<(), CliError> {
    if cluster.is_heterogeneous() && !choice.trim().eq_ignore_ascii_case("auto") {
        return Err(CliError::input(format!(
            "invalid --cost-model `{choice}` for the heterogeneous cluster {}: expected `auto` \
             (each GPU kind gets its own automatic cost model)",
            cluster.spec()
        )));
    }
    Ok(())
}

/// Bytes as a human-readable binary size.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b;
    let mut i = 0;
    while v.abs() >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.2} {}", UNITS[i])
    }
}

/// A count with a B/M/K suffix (parameters).
pub fn count(n: f64) -> String {
    if n >= 1e12 {
        format!("{:.2}T", n / 1e12)
    } else if n >= 1e9 {
        format!("{:.2}B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}K", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// Largest duration any flag accepts, in seconds (1,000,000 s, about 11.6 days).
pub const MAX_DURATION_S: f64 = 1_000_000.0;

/// A duration with a unit: `800us` (or `800µs`), `500ms`, `0.5s`, `2m` (minutes) or `1h`, from
/// 1 µs to 1,000,000 s.
///
/// Every duration flag of every subcommand goes through here, so they all read the same way.
/// A bare number is an error: `30` could mean 30 ms or 30 s, so the user must say which.
pub fn duration(flag: &str, text: &str) -> Result<std::time::Duration, CliError> {
    duration_in(flag, text, MAX_DURATION_S)
}

/// Smallest duration any flag accepts, in seconds (1 µs: shorter ones round to nothing).
pub const MIN_DURATION_S: f64 = 1e-6;

/// [`duration`] with its own maximum `max_s` (seconds), which the error states.
pub fn duration_in(flag: &str, text: &str, max_s: f64) -> Result<std::time::Duration, CliError> {
    let t = text.trim();
    let units: [(&str, f64); 7] = [
        ("µs", 1e-6),
        ("μs", 1e-6),
        ("us", 1e-6),
        ("ms", 1e-3),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ];
    let unit = units.iter().find_map(|(u, scale)| {
        let num = t.strip_suffix(u)?;
        // `ms`/`us`/`µs` end in `s` and `m`: only take a unit whose number is a number.
        let n = num.trim();
        (!n.is_empty() && !n.ends_with(|c: char| c.is_alphabetic())).then_some((n, *scale))
    });
    let Some((num, scale)) = unit else {
        let hint = if t.parse::<f64>().is_ok() {
            format!(": a bare number has no unit; write e.g. `{t}s` or `{t}ms`")
        } else {
            String::new()
        };
        return Err(CliError::input(format!(
            "invalid {flag} `{text}`{hint} (expected a duration with a unit: us (µs), ms, s, m \
             or h, e.g. 500ms, 0.5s, 2m)"
        )));
    };
    let secs = num.parse::<f64>().ok().map(|v| v * scale);
    match secs {
        Some(v) if v.is_finite() && (MIN_DURATION_S..=max_s).contains(&v) => {
            Ok(std::time::Duration::from_secs_f64(v))
        }
        _ => {
            let days = if max_s >= 86_400.0 {
                format!(" (about {:.1} days)", max_s / 86_400.0)
            } else {
                String::new()
            };
            Err(CliError::input(format!(
                "invalid {flag} `{text}`: expected a duration from 1us to {max_s} s{days}, e.g. \
                 500ms, 0.5s, 2m"
            )))
        }
    }
}

/// A duration flag in milliseconds (see [`duration`]).
pub fn duration_ms(flag: &str, text: &str) -> Result<f64, CliError> {
    duration(flag, text).map(|d| d.as_secs_f64() * 1e3)
}

/// Largest `--requests` (the largest workload).
pub const MAX_REQUESTS: usize = parallax::sim::workload::MAX_REQUESTS;
/// Largest `--max-num-seqs` value.
pub const MAX_NUM_SEQS: u32 = parallax::ir::MAX_BATCH_SEQUENCES;
/// Largest `--max-batched-tokens` and `--chunk` value.
pub const MAX_BATCHED_TOKENS: u32 = parallax::ir::MAX_SEQUENCE_TOKENS;
/// Largest `--max-gpus`, `--max-pp` and `--tp` (the largest cluster).
pub const MAX_GPUS: u32 = parallax::hw::MAX_CLUSTER_GPUS;
/// Largest `--max-plans`.
pub const MAX_PLANS: usize = 10_000_000;
/// Largest `--top`.
pub const MAX_TOP: usize = 100_000;
/// Most values in a comma-separated `--max-num-seqs` or `--chunk` list.
pub const MAX_LIST_VALUES: usize = 64;
/// Largest `--price`, USD per GPU-hour.
pub const MAX_PRICE: f64 = parallax::hw::gpu::MAX_PRICE_PER_HOUR;

/// Largest `--block-size` (tokens per KV block): the longest sequence.
pub const MAX_BLOCK_SIZE: u32 = parallax::ir::MAX_SEQUENCE_TOKENS;
/// Largest `--max-concurrency` (the largest workload's requests).
pub const MAX_CONCURRENCY: u32 = parallax::sim::workload::MAX_REQUESTS as u32;
/// Fewest and most requests of `search --steady-requests`.
pub const STEADY_REQUESTS: (usize, usize) = (
    parallax::search::MIN_STEADY_REQUESTS,
    parallax::search::MAX_STEADY_REQUESTS,
);

/// A float as the user would write it: plain digits for ordinary magnitudes, scientific
/// notation (`5e-324`, `1e300`) for tiny and huge ones, never a 300-digit decimal.
pub use parallax::sim::error::compact as num;

/// A real-valued flag: its value and its text as the user wrote it, so that an error quotes
/// the text (`--rate 0.0e0`, not `0`). Parses as Rust's `f64` does (`1e-3`, `inf`, `NaN`);
/// the range checks are the flags' own.
#[derive(Clone, Debug, PartialEq)]
pub struct Real {
    /// The parsed value.
    pub value: f64,
    /// The text as given.
    pub text: String,
}

impl std::str::FromStr for Real {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.parse::<f64>()
            .map(|value| Real {
                value,
                text: text.to_string(),
            })
            .map_err(|_| format!("expected a number, got `{text}`"))
    }
}

impl std::fmt::Display for Real {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A float flag checked against its documented range `min..=max` (finite).
pub fn float_in(flag: &str, v: &Real, min: f64, max: f64) -> Result<f64, CliError> {
    if v.value.is_finite() && v.value >= min && v.value <= max {
        Ok(v.value)
    } else {
        Err(CliError::input(format!(
            "invalid {flag} {v}: expected a number from {} to {}",
            num(min),
            num(max)
        )))
    }
}

/// `--rate`, checked against the simulator's documented range.
pub fn rate(value: Option<&Real>) -> Result<Option<f64>, CliError> {
    use parallax::sim::workload::{MAX_RATE, MIN_RATE};
    match value {
        Some(r) if !(r.value.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r.value)) => {
            Err(CliError::input(format!(
                "invalid --rate {r}: expected a rate in [{MIN_RATE:e}, {MAX_RATE:e}] requests/s"
            )))
        }
        other => Ok(other.map(|r| r.value)),
    }
}

/// A workload error about the rate `--rate` rescaled it to (its field `rate`, its value that
/// rate; a `synthetic:` spec's own `rate=` has its own text) with the value as the user
/// wrote it.
pub fn rate_as_written(e: parallax::Error, rate: Option<&Real>) -> parallax::Error {
    use parallax::sim::SimError;
    match (e, rate) {
        (
            parallax::Error::Simulation(SimError::InvalidWorkload {
                workload,
                field,
                value,
                expected,
            }),
            Some(r),
        ) if field == "rate" && value == num(r.value) => {
            parallax::Error::Simulation(SimError::InvalidWorkload {
                workload,
                field: "--rate".into(),
                value: r.text.clone(),
                expected,
            })
        }
        (e, _) => e,
    }
}

/// `e` with the value of a library option that a flag set (`Error::Option` naming `option`)
/// replaced by the flag's text as the user wrote it.
pub fn as_written(e: parallax::Error, option: &str, flag: Option<&Real>) -> parallax::Error {
    match (e, flag) {
        (
            parallax::Error::Option {
                option: o,
                expected,
                ..
            },
            Some(r),
        ) if o == option => parallax::Error::Option {
            option: o,
            value: r.text.clone(),
            expected,
        },
        (e, _) => e,
    }
}

/// A count flag's value as clap parses it: any whole number as written (a negative or a
/// huge one included) is checked against the documented range `min..=max`, so the error
/// names that range rather than the integer type's.
pub fn count_arg(s: &str, min: u64, max: u64) -> Result<u64, String> {
    match s.trim().parse::<i128>() {
        Ok(v) if (min as i128..=max as i128).contains(&v) => Ok(v as u64),
        Ok(_) => Err(format!("expected {min}..={max}")),
        Err(_) => Err(format!("expected a whole number in {min}..={max}")),
    }
}

/// clap parsers of the count flags, each a [`count_arg`] over the flag's documented range.
macro_rules! count_parsers {
    ($($(#[$doc:meta])* $name:ident: $t:ty = $lo:expr, $hi:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(s: &str) -> Result<$t, String> {
            count_arg(s, $lo as u64, $hi as u64).map(|v| v as $t)
        }
    )*};
}

count_parsers! {
    /// A GPU count (`--tp`, `--max-gpus`, `--max-pp`, vLLM's size flags).
    gpus_arg: u32 = 1, MAX_GPUS;
    /// `--requests`.
    requests_arg: usize = 1, MAX_REQUESTS;
    /// `--block-size`.
    block_size_arg: u32 = 1, MAX_BLOCK_SIZE;
    /// `--max-concurrency`.
    concurrency_arg: u32 = 1, MAX_CONCURRENCY;
    /// `--max-num-seqs`.
    num_seqs_arg: u32 = 1, MAX_NUM_SEQS;
    /// A token count (`--max-num-batched-tokens`, `--chunk`, `--max-model-len`).
    batched_tokens_arg: u32 = 1, MAX_BATCHED_TOKENS;
    /// `--top`.
    top_arg: usize = 1, MAX_TOP;
    /// `--max-plans`.
    plans_arg: usize = 1, MAX_PLANS;
    /// `--steady-requests`.
    steady_requests_arg: usize = STEADY_REQUESTS.0, STEADY_REQUESTS.1;
    /// `--num-speculative-tokens`.
    draft_tokens_arg: u32 = 1, parallax::sim::MAX_DRAFT_TOKENS;
}

/// `flag` applies to mixture-of-experts models only: an error naming it and `model` for a
/// dense one (the flag would change nothing).
pub fn require_moe(model: &Model, flag: &str) -> Result<(), CliError> {
    if model.has_moe() {
        return Ok(());
    }
    Err(CliError::input(format!(
        "{flag}: model {} has no MoE layers; expected a mixture-of-experts model",
        model.name
    )))
}

/// The SLOs from `--slo-ttft` / `--slo-tpot` values.
pub fn slo(ttft: Option<&str>, tpot: Option<&str>) -> Result<parallax::sim::Slo, CliError> {
    Ok(parallax::sim::Slo {
        ttft_ms: ttft.map(|s| duration_ms("--slo-ttft", s)).transpose()?,
        tpot_ms: tpot.map(|s| duration_ms("--slo-tpot", s)).transpose()?,
    })
}

/// The serving-engine model named by `--engine` (`vllm`, `vllm-v0`, `sglang`, `trtllm`) for
/// `model` on `cluster` with instances of `tp` GPUs.
pub fn engine(
    name: &str,
    model: &Model,
    cluster: &Cluster,
    tp: u32,
) -> Result<parallax::EngineModel, CliError> {
    parallax::engine_named(name, model, cluster, tp).map_err(CliError::input)
}

/// `model` with its context window cut to `--max-model-len` (vLLM's flag), which must be
/// between 1 and the model's own `max_position_embeddings`.
pub fn max_model_len(model: Model, len: Option<u32>) -> Result<Model, CliError> {
    let Some(n) = len else {
        return Ok(model);
    };
    let (own, name) = (model.max_position_embeddings, model.name.clone());
    model.with_max_model_len(n).ok_or_else(|| {
        CliError::input(format!(
            "invalid --max-model-len {n}: expected 1 to {own} tokens (model `{name}`'s \
             max_position_embeddings)"
        ))
    })
}

/// The precision line of `predict`, `simulate` and `search`: the model's types and, where `gpu`
/// lacks the GEMMs' tensor-core type (fp4 on Hopper, fp8 on Ampere), the type they are priced
/// on instead.
pub fn precision_text(p: &parallax::ir::Precision, gpu: &parallax::hw::Gpu) -> String {
    let mut text = p.to_string();
    let experts = Some(p.expert_compute()).filter(|&d| d != p.compute);
    for d in std::iter::once(p.compute).chain(experts) {
        let path = gpu.tensor_path(d);
        if path != d {
            // a 16-bit path means the engines' weight-only kernels (dequantise, then multiply)
            let how = if path.bytes() >= 2.0 {
                format!("run weight-only on its {path} path")
            } else {
                format!("are priced on its {path} path")
            };
            text.push_str(&format!(
                " ({} has no {d} tensor cores: those GEMMs {how})",
                gpu.name
            ));
        }
    }
    text
}

/// `--capacity-scheduler-policy`: whether admission reserves each request's whole KV
/// (`guaranteed-no-evict`, TensorRT-LLM's `GUARANTEED_NO_EVICT`) or admits on the prompt and
/// preempts (`max-utilization`); TensorRT-LLM's spellings are accepted too.
pub fn capacity_policy(v: &str) -> Result<bool, CliError> {
    parallax::sim::SchedulerConfig::reserves_under_policy(v).ok_or_else(|| {
        CliError::input(format!(
            "invalid --capacity-scheduler-policy `{v}`: expected guaranteed-no-evict or \
             max-utilization"
        ))
    })
}

/// The memory fraction and rule a run uses: `--gpu-memory-utilization` with vLLM's meaning
/// (the share of each GPU for weights, activations and KV cache) when given, a fraction in
/// (0, 1] (checked here so that the error shows the value as the user wrote it); otherwise
/// `engine`'s own (SGLang's static fraction, TensorRT-LLM's free-memory fraction, vLLM's
/// utilization).
pub fn memory_setting(
    v: Option<&Real>,
    engine: &parallax::EngineModel,
) -> Result<(f64, parallax::plan::MemoryRule), CliError> {
    match v {
        Some(u) if !(u.value > 0.0 && u.value <= 1.0) => Err(CliError::input(format!(
            "invalid --gpu-memory-utilization {u}: expected a fraction in (0, 1]"
        ))),
        Some(u) => Ok((u.value, parallax::plan::MemoryRule::Utilization)),
        None => Ok((engine.gpu_memory_utilization, engine.memory_rule)),
    }
}
