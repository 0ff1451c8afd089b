//! `parallax calibrate`: fit the roofline's efficiency curves to a measured profile.

use crate::common;
use crate::output::{print_json, table, CliError};
use clap::Args;
use parallax::hw::profile::import::h100_pytorch_dir;
use parallax::hw::profile::{calibrate, Profile, TableFit};
use parallax::hw::{catalog, Cluster, RooflineParams};
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `parallax calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// A profile file (docs/profile-format.md) or a directory of h100-pytorch-style CSVs
    /// (`gemm.csv`, `attention_prefill.csv`, `attention_decode.csv`, `device.json`).
    profile: PathBuf,
    /// GPU whose datasheet ceilings the roofline scales (default: the profile's GPU).
    #[arg(long)]
    gpu: Option<String>,
    /// Cluster whose links collective rows are timed over (default: one node of 8 of the GPU).
    #[arg(long)]
    cluster: Option<String>,
    /// Write the fitted parameters to FILE, for `--cost-model FILE` of predict, simulate,
    /// search and validate.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Wall-clock budget (`30s`, `10m`; default 1h): past it the fit stops with exit code 3
    /// and no result.
    #[arg(long, allow_hyphen_values = true)]
    time_limit: Option<String>,
    /// Print JSON (the report and the fitted parameters) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct CalibrationOutput<'a> {
    profile: String,
    gpu: String,
    tables: &'a [TableFit],
    params: &'a RooflineParams,
    /// Efficiencies fitted at their bound of 1 (the profile reaches the GPU's peak).
    at_peak: Vec<AtPeak>,
}

#[derive(Debug, Serialize)]
struct AtPeak {
    parameter: &'static str,
    value: f64,
}

/// Run `parallax calibrate`.
pub fn run(args: CalibrateArgs) -> Result<(), CliError> {
    crate::budget::start("calibrate", args.time_limit.as_deref())?;
    if let Some(out) = &args.out {
        crate::output::check_output("--out", out)?;
        crate::output::check_distinct_outputs(
            &[("--out", out)],
            &[("the profile", &args.profile)],
        )?;
    }
    let profile = if args.profile.is_dir() {
        let name = args
            .profile
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "profile".into());
        h100_pytorch_dir(&args.profile, &name).map_err(CliError::input)?
    } else {
        Profile::load(&args.profile).map_err(CliError::input)?
    };
    let cluster: Cluster = match (&args.cluster, &args.gpu) {
        (Some(c), gpu) => {
            let cluster = common::cluster(c)?;
            if cluster.is_heterogeneous() {
                // A profile calibrates one GPU kind: its collective rows are timed over that
                // kind's node group.
                let (name, from) = match gpu {
                    Some(g) => (g.clone(), "--gpu"),
                    None => (profile.gpu.name.clone(), "the profile's GPU"),
                };
                let i = cluster.group_index(&name).ok_or_else(|| {
                    let kinds: Vec<String> = cluster
                        .node_groups()
                        .iter()
                        .map(|g| g.gpu.name.clone())
                        .collect();
                    CliError::input(format!(
                        "invalid --cluster `{c}`: a profile calibrates one GPU kind, and \
                         `{name}` ({from}) is none of the cluster's kinds ({}); pass --gpu \
                         with one of them to choose the node group whose links the \
                         collective rows are timed over",
                        kinds.join(", ")
                    ))
                })?;
                cluster.group_cluster(i).unwrap_or(cluster)
            } else {
                // one kind: a --gpu naming another would be silently overridden
                if let Some(g) = gpu {
                    let want = catalog::gpu(g).map_err(CliError::input)?;
                    if want.name != cluster.gpu.name {
                        return Err(CliError::input(format!(
                            "invalid --gpu `{g}`: --cluster `{c}` has only {} GPUs, and a \
                             profile calibrates the GPU whose links it times (leave --gpu out, \
                             or pass a cluster of {})",
                            cluster.gpu.name, want.name
                        )));
                    }
                } else if let Ok(own) = catalog::gpu(&profile.gpu.name) {
                    // the profile's own GPU is the default: a cluster of another kind would
                    // silently calibrate that kind from it
                    if own.name != cluster.gpu.name {
                        return Err(CliError::input(format!(
                            "invalid --cluster `{c}`: it has only {} GPUs, and the profile was \
                             measured on {} (`{}`); pass a cluster of {}, or --gpu {} to \
                             calibrate {} from this profile anyway",
                            cluster.gpu.name,
                            own.name,
                            profile.gpu.name,
                            own.name,
                            cluster.gpu.name,
                            cluster.gpu.name
                        )));
                    }
                }
                cluster
            }
        }
        (None, gpu) => {
            let name = gpu.clone().unwrap_or_else(|| profile.gpu.name.clone());
            let g = catalog::gpu(&name).map_err(|e| {
                CliError::input(format!(
                    "{e} (the profile's GPU is `{}`; pass --gpu to choose a catalog GPU)",
                    profile.gpu.name
                ))
            })?;
            Cluster::new(1, 8, g).map_err(CliError::input)?
        }
    };
    let fit = calibrate(&profile, &cluster, &RooflineParams::default()).map_err(CliError::input)?;
    if profile.fused_moe.is_some() {
        eprintln!(
            "note: the profile's fused_moe table is not fitted (the roofline has no fused-MoE \
             parameters; --cost-model with the profile prices fused MoE from it directly)"
        );
    }
    if let Some(out) = &args.out {
        let file = parallax::cost_file::RooflineParamsFile {
            parallax_roofline_params: 1,
            profile: profile.name.clone(),
            gpu: cluster.gpu.name.clone(),
            params: fit.params.clone(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(CliError::failure)?;
        crate::output::write_file(out, &format!("{text}\n"))?;
    }
    // A fit held at an efficiency of 1 is clamped: said on stderr (and in the JSON), not
    // silently written as if it fitted.
    for (name, v) in &fit.at_peak {
        eprintln!(
            "warning: {name} fitted at its bound ({v:.6}): the profile's kernels reach {}'s \
             datasheet peak or beyond, so the fit is clamped; is the profile (GPU `{}`) from \
             another GPU? (choose the GPU it was measured on with --gpu)",
            cluster.gpu.name, profile.gpu.name
        );
    }
    if args.json {
        return print_json(&CalibrationOutput {
            at_peak: fit
                .at_peak
                .iter()
                .map(|&(parameter, value)| AtPeak { parameter, value })
                .collect(),
            profile: args.profile.display().to_string(),
            gpu: cluster.gpu.name.clone(),
            tables: &fit.report,
            params: &fit.params,
        });
    }
    outln!(
        "calibrating the roofline for {} to {} ({})",
        cluster.gpu.name,
        args.profile.display(),
        profile.name
    );
    let rows: Vec<Vec<String>> = fit
        .report
        .iter()
        .map(|t| {
            vec![
                t.table.to_string(),
                t.points.to_string(),
                format!("{:.1}%", t.before.median),
                format!("{:.1}%", t.before.mean),
                format!("{:.1}%", t.before.max),
                format!("{:.1}%", t.after.median),
                format!("{:.1}%", t.after.mean),
                format!("{:.1}%", t.after.max),
                format!("{:.3} → {:.3}", t.loss_before, t.loss_after),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &[
                "table",
                "points",
                "median before",
                "mean before",
                "max before",
                "median after",
                "mean after",
                "max after",
                "fit loss",
            ],
            &rows
        )
    );
    outln!(
        "fit loss: mean |ln(predicted / measured)|, what the fit minimises; the percent \
         errors may move either way where the roofline's shape cannot follow a table"
    );
    match &args.out {
        Some(out) => outln!(
            "fitted parameters written to {} (use it with --cost-model {})",
            out.display(),
            out.display()
        ),
        None => outln!("fitted parameters: use --json to print them, or --out FILE to save them"),
    }
    Ok(())
}
