//! `parallax inspect`: a model's structure, parameters and memory needs.

use crate::common;
use crate::output::{print_json, table, CliError};
use clap::Args;
use parallax::ir::{lower::describe, Model};
use serde::Serialize;

/// Arguments of `parallax inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Embedded short name (`llama-3.1-70b`), HF id (`meta-llama/Llama-3.1-70B`) or a path to
    /// a `config.json`.
    #[arg(long, short)]
    model: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct RunInfo {
    repeat: u32,
    layers_per_block: u32,
    cells: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Inspection {
    name: String,
    architecture: String,
    hidden_size: u32,
    vocab_size: u32,
    layers: u32,
    /// Multi-token-prediction modules shipped beside the layers (`num_nextn_predict_layers`).
    mtp_layers: u32,
    max_position_embeddings: u32,
    precision: parallax::ir::Precision,
    params_total: u64,
    params_active: u64,
    weight_bytes: f64,
    kv_bytes_per_token: f64,
    kv_bytes_at_max_context: f64,
    runs: Vec<RunInfo>,
}

fn inspection(m: &Model) -> Inspection {
    Inspection {
        name: m.name.clone(),
        architecture: m.architecture.clone(),
        hidden_size: m.hidden_size,
        vocab_size: m.vocab_size,
        layers: m.layers(),
        mtp_layers: m.mtp_layers,
        max_position_embeddings: m.max_position_embeddings,
        precision: m.precision,
        params_total: m.params_total(),
        params_active: m.params_active(),
        weight_bytes: m.weight_bytes(),
        kv_bytes_per_token: m.kv_bytes_per_token(),
        kv_bytes_at_max_context: m.kv_bytes_per_token() * m.max_position_embeddings as f64,
        runs: m
            .runs
            .iter()
            .map(|r| RunInfo {
                repeat: r.repeat,
                layers_per_block: r.block.layers(),
                cells: r.block.cells.iter().map(describe).collect(),
            })
            .collect(),
    }
}

/// Run `parallax inspect`.
pub fn run(args: InspectArgs) -> Result<(), CliError> {
    let m = common::model(&args.model)?;
    let info = inspection(&m);
    if args.json {
        return print_json(&info);
    }
    outln!("model         {} ({})", info.name, info.architecture);
    outln!(
        "shape         {} layer{}, hidden {}, vocab {}, max context {}",
        info.layers,
        if info.layers == 1 { "" } else { "s" },
        info.hidden_size,
        info.vocab_size,
        info.max_position_embeddings
    );
    if info.mtp_layers > 0 {
        outln!(
            "mtp           {} multi-token-prediction layer{} (speculative decoding: \
             --num-speculative-tokens)",
            info.mtp_layers,
            if info.mtp_layers == 1 { "" } else { "s" }
        );
    }
    outln!("precision     {}", info.precision);
    outln!(
        "parameters    {} total, {} active per token",
        common::count(info.params_total as f64),
        common::count(info.params_active as f64)
    );
    outln!("weights       {}", common::bytes(info.weight_bytes));
    outln!(
        "kv cache      {} per token, {} at max context",
        common::bytes(info.kv_bytes_per_token),
        common::bytes(info.kv_bytes_at_max_context)
    );
    outln!();
    let rows: Vec<Vec<String>> = info
        .runs
        .iter()
        .map(|r| {
            vec![
                format!("{}", r.repeat),
                format!("{}", r.layers_per_block),
                r.cells.join(" → "),
            ]
        })
        .collect();
    out!(
        "{}",
        table(&["repeat", "layers/block", "block cells"], &rows)
    );
    Ok(())
}
