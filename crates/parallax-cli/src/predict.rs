//! `parallax predict`: the latency of one serving iteration, with a breakdown.

use crate::common;
use crate::output::{print_json, table, CliError};
use clap::{Args, ValueEnum};
use parallax::plan::{batch_from_specs, predict};

/// CUDA graphs on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Decode-only iterations replay a captured CUDA graph (vLLM's default).
    On,
    /// Every kernel is launched eagerly.
    Off,
}

/// Arguments of `parallax predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Embedded short name, HF id or path to a `config.json`.
    #[arg(long, short)]
    model: String,
    /// GPU name from `parallax gpus` (e.g. `H100`).
    #[arg(long)]
    gpu: String,
    /// Tensor-parallel degree.
    #[arg(long, default_value_t = 1)]
    tp: u32,
    /// `BxS` or `BxS+P`: B sequences of S new tokens, each after P cached tokens. Repeatable.
    #[arg(long)]
    prefill: Vec<String>,
    /// `BxC`: B decode requests, each with C tokens of context. Repeatable.
    #[arg(long)]
    decode: Vec<String>,
    /// Whether decode-only iterations run as CUDA graphs.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    cuda_graphs: OnOff,
    /// `auto` (measured profile where one ships, else roofline), `roofline` or `profiled`.
    #[arg(long, default_value = "auto")]
    cost_model: String,
    /// Weight quantisation and KV-cache type.
    #[command(flatten)]
    precision: crate::precision::PrecisionArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Run `parallax predict`.
pub fn run(args: PredictArgs) -> Result<(), CliError> {
    let model = args.precision.apply(common::model(&args.model)?)?;
    if args.tp == 0 {
        return Err(CliError::input(
            "invalid --tp 0: expected a tensor-parallel degree of at least 1",
        ));
    }
    let cluster = common::single_node(&args.gpu, args.tp)?;
    let cost = common::cost_model(&cluster, &args.cost_model)?;
    let batch = batch_from_specs(&args.prefill, &args.decode).map_err(CliError::input)?;
    let p = predict(
        &model,
        &cluster,
        args.tp,
        &batch,
        args.cuda_graphs == OnOff::On,
        cost,
    )
    .map_err(CliError::input)?;
    if args.json {
        return print_json(&p);
    }
    outln!(
        "{} on {}x {} ({}), {} tokens, cuda graph: {}",
        model.name,
        args.tp,
        cluster.gpu.name,
        p.cost_model,
        p.tokens,
        if p.cuda_graph { "yes" } else { "no" }
    );
    let rows: Vec<Vec<String>> = p
        .breakdown_ms
        .iter()
        .map(|(k, v)| {
            let share = if p.iteration_ms > 0.0 {
                100.0 * v / p.iteration_ms
            } else {
                0.0
            };
            vec![k.clone(), format!("{v:.4}"), format!("{share:.1}%")]
        })
        .collect();
    out!("{}", table(&["op kind", "ms", "share"], &rows));
    outln!("iteration     {:.4} ms", p.iteration_ms);
    if !p.fits_memory {
        outln!("warning: weights, reserves and this batch's KV cache do not fit one device");
    }
    Ok(())
}
