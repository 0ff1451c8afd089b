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

/// One node of `gpus` GPUs of the named kind (for commands that take `--gpu`).
pub fn single_node(gpu: &str, gpus: u32) -> Result<Cluster, CliError> {
    let g = catalog::gpu(gpu).map_err(CliError::input)?;
    Cluster::new(1, gpus.max(1), g).map_err(CliError::input)
}

/// Where the cost model comes from, from a `--cost-model` value: `auto`, `roofline`,
/// `profiled`, or a file (a profile, or the roofline parameters `calibrate --out` writes).
pub fn cost_source(choice: &str) -> Result<CostSource, CliError> {
    if let Ok(c) = choice.parse::<CostModelChoice>() {
        return Ok(CostSource::Choice(c));
    }
    let path = Path::new(choice);
    if path.is_file() {
        return Ok(CostSource::File(path.to_path_buf()));
    }
    let what = if choice.to_ascii_lowercase().ends_with(".json") || choice.contains('/') {
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

/// A duration in milliseconds from `500ms`, `0.5s`, `50ms` or a bare number of milliseconds.
pub fn duration_ms(flag: &str, text: &str) -> Result<f64, CliError> {
    let t = text.trim();
    let (num, scale) = if let Some(v) = t.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = t.strip_suffix("us") {
        (v, 1e-3)
    } else if let Some(v) = t.strip_suffix('s') {
        (v, 1e3)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v * scale),
        _ => Err(CliError::input(format!(
            "invalid {flag} `{text}`: expected a positive duration such as 500ms, 0.5s or 50 \
             (milliseconds)"
        ))),
    }
}

/// The SLOs from `--slo-ttft` / `--slo-tpot` values.
pub fn slo(ttft: Option<&str>, tpot: Option<&str>) -> Result<parallax::sim::Slo, CliError> {
    Ok(parallax::sim::Slo {
        ttft_ms: ttft.map(|s| duration_ms("--slo-ttft", s)).transpose()?,
        tpot_ms: tpot.map(|s| duration_ms("--slo-tpot", s)).transpose()?,
    })
}
