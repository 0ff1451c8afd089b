//! `parallax predict`: the latency of one serving iteration, with a breakdown.

use crate::common;
use crate::output::{print_json, table, CliError};
use clap::{Args, ValueEnum};
use parallax::plan::{batch_from_specs, longest_sequence, predict_plan, LowerOptions};

/// CUDA graphs on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Iterations replay captured CUDA graphs as the engine does (vLLM V1: decode batches,
    /// and prefill or mixed batches of up to 512 tokens piecewise; the others: decode batches
    /// up to their capture size).
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
    /// Tensor-parallel degree (`--tensor-parallel-size` also works).
    #[arg(long, alias = "tensor-parallel-size", default_value_t = 1, value_parser = common::gpus_arg)]
    tp: u32,
    /// vLLM's flag: a MoE model's experts split over the `--tp` GPUs (expert parallelism,
    /// plan `tp=T,ep=T`) instead of each expert sharded over them.
    #[arg(long)]
    enable_expert_parallel: bool,
    /// `BxS` or `BxS+P`: B sequences of S new tokens, each after P cached tokens. Repeatable.
    #[arg(long, allow_hyphen_values = true)]
    prefill: Vec<String>,
    /// `BxC`: B decode requests, each with C tokens of context. Repeatable.
    #[arg(long, allow_hyphen_values = true)]
    decode: Vec<String>,
    /// Whether iterations may replay CUDA graphs (`on`, the default: as the engine does it).
    #[arg(long, value_enum)]
    cuda_graphs: Option<OnOff>,
    /// `--enforce-eager` (the same as `--cuda-graphs off`), `--disable-custom-all-reduce`.
    #[command(flatten)]
    engine_flags: crate::engine_flags::EngineFlags,
    /// Serving engine whose kernels, CUDA-graph policy and issue costs to price: vllm (V1),
    /// vllm-v0, sglang, trtllm, or none (the cost model alone).
    #[arg(long, default_value = "vllm")]
    engine: String,
    /// `auto` (measured profile where one ships, else roofline), `roofline`, `profiled`, or a
    /// FILE: a profile or the roofline parameters of `calibrate --out`.
    #[arg(long, default_value = "auto")]
    cost_model: String,
    /// Weight quantisation and KV-cache type.
    #[command(flatten)]
    precision: crate::precision::PrecisionArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Every sequence of every `--prefill` / `--decode` spec fits the model's context window
/// (`max_position_embeddings`): a longer one cannot be served, so its latency is not
/// predicted. Specs are already known to parse.
fn check_context(
    model: &parallax::ir::Model,
    prefill: &[String],
    decode: &[String],
) -> Result<(), CliError> {
    let window = u64::from(model.max_position_embeddings);
    let none: &[&str] = &[];
    let too_long = |flag: &str, spec: &str, tokens: u64, what: &str| {
        CliError::input(format!(
            "invalid {flag} `{spec}`: {what} of {tokens} tokens exceeds model `{}`'s context \
             window of {window} tokens (max_position_embeddings)",
            model.name
        ))
    };
    for p in prefill {
        let b = batch_from_specs(std::slice::from_ref(p), none).map_err(CliError::input)?;
        let longest = longest_sequence(&b);
        if longest > window {
            return Err(too_long(
                "--prefill",
                p,
                longest,
                "a sequence (cached + new tokens)",
            ));
        }
    }
    for d in decode {
        let b = batch_from_specs(none, std::slice::from_ref(d)).map_err(CliError::input)?;
        let longest = longest_sequence(&b);
        if longest > window {
            return Err(too_long("--decode", d, longest, "a context"));
        }
    }
    Ok(())
}

/// Run `parallax predict`.
pub fn run(args: PredictArgs) -> Result<(), CliError> {
    let model = args.precision.apply(common::model(&args.model)?)?;
    if args.gpu.contains('+') {
        // A mixed cluster's kinds price their iterations apart.
        return Err(CliError::input(format!(
            "invalid --gpu `{}`: predict prices one iteration on one GPU kind, not a mix of \
             kinds; run it once per kind (e.g. --gpu {})",
            args.gpu,
            args.gpu.split('+').next().unwrap_or("").trim()
        )));
    }
    let cluster = common::group_cluster(&args.gpu, args.tp)?;
    let engine = args.engine_flags.apply(
        common::engine(&args.engine, &model, &cluster, args.tp)?,
        &model,
    )?;
    let cost = engine.cost_model(
        common::cost_model(&cluster, &args.cost_model)?,
        cluster.gpu.memory_bandwidth,
    );
    let batch = batch_from_specs(&args.prefill, &args.decode).map_err(CliError::input)?;
    check_context(&model, &args.prefill, &args.decode)?;
    let mut lower = engine.lower_options(&LowerOptions::default());
    match (args.cuda_graphs, args.engine_flags.enforce_eager) {
        (Some(OnOff::On), true) => {
            return Err(CliError::input(
                "--cuda-graphs on contradicts --enforce-eager (no CUDA graphs); give one",
            ))
        }
        (Some(OnOff::Off), _) => lower.cuda_graphs = false,
        _ => {}
    }
    if args.enable_expert_parallel {
        common::require_moe(&model, "--enable-expert-parallel")?;
    }
    let plan = parallax::emit::vllm_plan(1, 1, args.tp, args.enable_expert_parallel)
        .map_err(CliError::input)?;
    let p = predict_plan(&model, &cluster, &plan, &batch, cost, &lower).map_err(CliError::input)?;
    if args.json {
        let mut v = serde_json::to_value(&p).map_err(CliError::failure)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("engine".into(), engine.name.clone().into());
            o.insert("precision".into(), model.precision.to_string().into());
            o.insert("cluster".into(), cluster.spec().into());
            if let Some(s) = &engine.speculation {
                // a time per emitted token only where requests decode
                let step = (batch.decode.requests > 0).then_some(p.iteration_ms);
                o.insert(
                    "speculation".into(),
                    serde_json::to_value(s.summary(step)).map_err(CliError::failure)?,
                );
            }
        }
        return print_json(&v);
    }
    outln!(
        "{} on {}x {}{}{} (cost model {}, engine {}), {} tokens, cuda graph: {}",
        model.name,
        args.tp,
        cluster.gpu.name,
        if cluster.nodes > 1 {
            format!(" ({} nodes of {})", cluster.nodes, cluster.gpus_per_node)
        } else {
            String::new()
        },
        if args.enable_expert_parallel {
            format!(", plan {}", p.plan)
        } else {
            String::new()
        },
        p.cost_model,
        engine.name,
        p.tokens,
        if p.cuda_graph { "yes" } else { "no" }
    );
    outln!(
        "precision: {}",
        common::precision_text(&model.precision, &cluster.gpu)
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
    if let Some(s) = &engine.speculation {
        outln!("{}", crate::engine_flags::speculation_text(s));
        if batch.decode.requests > 0 {
            outln!(
                "per token     {:.4} ms (each decoding request)",
                p.iteration_ms / s.tokens_per_step()
            );
        } else {
            outln!("per token     - (no request decodes in this batch: speculation drafts none)");
        }
    }
    if !p.fits_memory {
        outln!("warning: weights, reserves and this batch's KV cache do not fit one device");
    }
    Ok(())
}
