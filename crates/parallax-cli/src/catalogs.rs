//! `parallax models` and `parallax gpus`: the embedded catalogs.

use crate::common;
use crate::output::{print_json, table, CliError};
use clap::Args;
use serde::Serialize;

/// Arguments of `parallax models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct ModelRow {
    name: String,
    hf_id: String,
    architecture: String,
    layers: u32,
    params_total: u64,
    params_active: u64,
    weight_bytes: f64,
    kv_bytes_per_token: f64,
}

/// List the embedded models.
pub fn models(args: ModelsArgs) -> Result<(), CliError> {
    let mut rows = Vec::new();
    for e in parallax::ir::embedded() {
        let m = e.model().map_err(CliError::failure)?;
        rows.push(ModelRow {
            name: e.short_name.to_string(),
            hf_id: e.hf_id.to_string(),
            architecture: m.architecture.clone(),
            layers: m.layers(),
            params_total: m.params_total(),
            params_active: m.params_active(),
            weight_bytes: m.weight_bytes(),
            kv_bytes_per_token: m.kv_bytes_per_token(),
        });
    }
    if args.json {
        return print_json(&rows);
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.hf_id.clone(),
                r.layers.to_string(),
                common::count(r.params_total as f64),
                common::count(r.params_active as f64),
                common::bytes(r.weight_bytes),
                common::bytes(r.kv_bytes_per_token),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &["model", "hf id", "layers", "params", "active", "weights", "kv/token"],
            &body
        )
    );
    Ok(())
}

/// Arguments of `parallax gpus`.
#[derive(Debug, Args)]
pub struct GpusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// List the GPU catalog.
pub fn gpus(args: GpusArgs) -> Result<(), CliError> {
    let gpus = parallax::hw::catalog::gpus();
    if args.json {
        return print_json(&gpus);
    }
    let body: Vec<Vec<String>> = gpus
        .iter()
        .map(|g| {
            vec![
                g.name.clone(),
                format!("{:.0}", g.peak.bf16 / 1e12),
                g.peak
                    .fp8
                    .map(|f| format!("{:.0}", f / 1e12))
                    .unwrap_or_else(|| "-".into()),
                common::bytes(g.memory_bytes as f64),
                format!("{:.2}", g.memory_bandwidth / 1e12),
                format!("{:.0}", g.scale_up_bandwidth / 1e9),
                format!("{:.0}", g.tdp_watts),
                format!("{:.2}", g.price_per_hour),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &[
                "gpu",
                "bf16 TFLOP/s",
                "fp8 TFLOP/s",
                "memory",
                "HBM TB/s",
                "link GB/s",
                "TDP W",
                "$/GPU-h"
            ],
            &body
        )
    );
    Ok(())
}
