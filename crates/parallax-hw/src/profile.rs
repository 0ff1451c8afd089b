//! Measured operator profiles and the profiled cost model that interpolates them.
//!
//! - [`Profile`]: the versioned profile format (`docs/profile-format.md`), with a JSON reader
//!   whose errors name the file, table, row and column.
//! - [`ProfiledCostModel`]: a [`CostModel`](crate::CostModel) interpolating a profile in log
//!   space, falling back op by op to a wrapped model (the roofline).

// Errors carry file, table, row, column and value for the user; they are off hot paths.
#![allow(clippy::result_large_err)]

pub mod calibrate;
mod csv;
pub mod error;
pub mod format;
pub mod holdout;
mod interp;
pub mod measured;
pub mod model;

pub use calibrate::{
    calibrate, calibrated_hold_out, fit_overheads, Calibration, IterationSample, OverheadFit,
    TableFit,
};
pub use csv::{MAX_TIME_S, MIN_TIME_S};
pub use error::{ProfileError, Row};
pub use format::{
    CollectivePoint, DecodePoint, ElementwisePoint, FusedMoePoint, GemmPoint, Overheads,
    PrefillPoint, Profile, ProfileGpu, Provenance, Scope, Software, Table, TableRouting,
    FORMAT_VERSION, FUSED_MOE_COLUMNS,
};
pub use holdout::{profiled_hold_out, HoldOut, HoldOutReport};
pub use interp::nondecreasing;
pub use measured::{parse_measured, ErrorSummary, MeasuredIteration};
pub use model::ProfiledCostModel;
pub mod import;

use std::sync::{Arc, OnceLock};

const H100_GEMM: &str = include_str!("../data/profiles/h100-pytorch/gemm.csv");
const H100_PREFILL: &str = include_str!("../data/profiles/h100-pytorch/attention_prefill.csv");
const H100_DECODE: &str = include_str!("../data/profiles/h100-pytorch/attention_decode.csv");
const H100_DEVICE: &str = include_str!("../data/profiles/h100-pytorch/device.json");
const APEX_H100: [(&str, &str); 5] = [
    (
        "all_gather.csv",
        include_str!("../data/profiles/apex-comm/H100-SXM-80GB/all_gather.csv"),
    ),
    (
        "all_reduce.csv",
        include_str!("../data/profiles/apex-comm/H100-SXM-80GB/all_reduce.csv"),
    ),
    (
        "alltoall.csv",
        include_str!("../data/profiles/apex-comm/H100-SXM-80GB/alltoall.csv"),
    ),
    (
        "reduce_scatter.csv",
        include_str!("../data/profiles/apex-comm/H100-SXM-80GB/reduce_scatter.csv"),
    ),
    (
        "sendrecv.csv",
        include_str!("../data/profiles/apex-comm/H100-SXM-80GB/sendrecv.csv"),
    ),
];

const APEX_H200: [(&str, &str); 5] = [
    (
        "all_gather.csv",
        include_str!("../data/profiles/apex-comm/H200-SXM-141GB/all_gather.csv"),
    ),
    (
        "all_reduce.csv",
        include_str!("../data/profiles/apex-comm/H200-SXM-141GB/all_reduce.csv"),
    ),
    (
        "alltoall.csv",
        include_str!("../data/profiles/apex-comm/H200-SXM-141GB/alltoall.csv"),
    ),
    (
        "reduce_scatter.csv",
        include_str!("../data/profiles/apex-comm/H200-SXM-141GB/reduce_scatter.csv"),
    ),
    (
        "sendrecv.csv",
        include_str!("../data/profiles/apex-comm/H200-SXM-141GB/sendrecv.csv"),
    ),
];

/// The half-precision NCCL collectives of one APEX+ GPU folder as one table with the folder's
/// provenance.
fn apex_table(
    folder: &str,
    files: &[(&str, &str)],
) -> Result<Table<CollectivePoint>, ProfileError> {
    let mut rows = Vec::new();
    let mut origin = Vec::new();
    for (file, text) in files {
        let op = import::apex_file_op(file).unwrap_or(parallax_ir::CollectiveKind::AllReduce);
        let name = format!("<embedded apex-comm/{folder}/{file}>");
        let t = import::apex_collectives(&name, text, op, "half")?;
        rows.extend(t.rows);
        origin.extend(t.origin);
    }
    Ok(Table::with_origin(rows, origin)
        .with_provenance(import::apex_provenance(&format!("apex-comm/{folder}")))
        .with_software(import::unknown_software()))
}

const H100_FUSED_MOE: &str =
    include_str!("../data/profiles/aiconfigurator-moe/h100-vllm-fused-moe.csv");
const H200_FUSED_MOE: &str =
    include_str!("../data/profiles/aiconfigurator-moe/h200-vllm-fused-moe.csv");

/// The measured fused-MoE table of an embedded profile (see [`import::aiconfigurator_fused_moe`]).
fn embedded_fused_moe(
    name: &str,
    gpu: &str,
    text: &str,
) -> Result<Table<FusedMoePoint>, ProfileError> {
    let file = format!("<embedded aiconfigurator-moe/{name}>");
    Ok(import::aiconfigurator_fused_moe(&file, text)?
        .with_provenance(import::aiconfigurator_provenance(&file, gpu))
        .with_software(import::unknown_software()))
}

const H100_SXM_PROFILER: &str = include_str!("../data/profiles/parallax-profiler/h100-sxm.json");
const H200_QUICK: &str = include_str!("../data/profiles/parallax-profiler/h200-quick.json");

/// Builds the embedded H100 profile (see [`embedded_h100`]); an error here means the embedded
/// data are corrupt.
///
/// # Errors
/// A [`ProfileError`] naming the embedded file, line and column.
pub fn build_embedded_h100() -> Result<Profile, ProfileError> {
    let mut p = import::h100_pytorch(
        import::PytorchTexts {
            source: "<embedded h100-pytorch>",
            gemm: H100_GEMM,
            prefill: H100_PREFILL,
            decode: H100_DECODE,
            device: H100_DEVICE,
        },
        "h100-pytorch",
    )?;
    p.collective = Some(apex_table("H100-SXM-80GB", &APEX_H100)?);
    // The elementwise table of this project's profiler run on an H100 SXM, with that file's
    // provenance and software versions (the h100-pytorch measurements have no such table).
    let sxm = Profile::from_json(
        "<embedded parallax-profiler/h100-sxm.json>",
        H100_SXM_PROFILER,
    )?;
    if let Some(mut t) = sxm.elementwise {
        t.provenance = Some(t.provenance.unwrap_or(sxm.provenance));
        t.software = Some(t.software.unwrap_or(sxm.software));
        p.elementwise = Some(t);
    }
    p.fused_moe = Some(embedded_fused_moe(
        "h100-vllm-fused-moe.csv",
        "h100_sxm",
        H100_FUSED_MOE,
    )?);
    p.validate()?;
    Ok(p)
}

/// Where the embedded H200 profile's elementwise rows start to time the GPU (16 MiB; see
/// [`build_embedded_h200`]).
pub const H200_ELEMENTWISE_MIN_BYTES: f64 = 16.0 * 1024.0 * 1024.0;

/// Builds the embedded H200 profile (see [`embedded_h200`]).
///
/// # Errors
/// A [`ProfileError`] naming the embedded file, entry and column.
pub fn build_embedded_h200() -> Result<Profile, ProfileError> {
    let mut p = Profile::from_json("<embedded parallax-profiler/h200-quick.json>", H200_QUICK)?;
    // Its elementwise rows below 16 MiB time the host, not the GPU: torch ops of two or more
    // kernels timed alone leave the GPU waiting for the (slow) host between their kernels
    // (a 1.4 MB SiLU·mul takes 32 µs there, 11 µs on the H100). Ops that small use the
    // calibrated roofline; the rows from 16 MiB up (three per kind, GPU-bound) price the
    // larger ones.
    if let Some(t) = p.elementwise.as_mut() {
        t.min_bytes = Some(H200_ELEMENTWISE_MIN_BYTES);
    }
    // NCCL collectives (half precision, 2/4/8 GPUs in one node) from APEX+, unless the file
    // has its own.
    if p.collective.is_none() {
        p.collective = Some(apex_table("H200-SXM-141GB", &APEX_H200)?);
    }
    if p.fused_moe.is_none() {
        p.fused_moe = Some(embedded_fused_moe(
            "h200-vllm-fused-moe.csv",
            "h200_sxm",
            H200_FUSED_MOE,
        )?);
    }
    p.validate()?;
    Ok(p)
}

/// The embedded H100 SXM profile: GEMM, prefill and decode attention from this project's
/// PyTorch measurements (`data/profiles/h100-pytorch`, bf16, two runs merged by median), NCCL
/// collectives (half precision, 2/4/8 GPUs in one node) from APEX+
/// (`data/profiles/apex-comm/H100-SXM-80GB`, MIT), and the elementwise table of this
/// project's profiler (`data/profiles/parallax-profiler/h100-sxm.json`, PyTorch 2.11 torch
/// ops). Each table keeps its own provenance.
///
/// Built once on first use and shared.
pub fn embedded_h100() -> Arc<Profile> {
    static CELL: OnceLock<Arc<Profile>> = OnceLock::new();
    CELL.get_or_init(|| {
        // The embedded files are fixed and covered by tests (`profile_format.rs`), so a
        // failure here is a build defect, not a user error.
        Arc::new(build_embedded_h100().expect("embedded H100 profile data are valid"))
    })
    .clone()
}

/// The embedded H200 profile: this project's profiler in `--quick` mode on one H200
/// (`data/profiles/parallax-profiler/h200-quick.json`: GEMM and attention; its elementwise
/// table is left out, see [`build_embedded_h200`]) and NCCL collectives (half precision,
/// 2/4/8 GPUs in one node) from APEX+ (`data/profiles/apex-comm/H200-SXM-141GB`, MIT).
///
/// Built once on first use and shared.
pub fn embedded_h200() -> Arc<Profile> {
    static CELL: OnceLock<Arc<Profile>> = OnceLock::new();
    CELL.get_or_init(|| {
        Arc::new(build_embedded_h200().expect("embedded H200 profile data are valid"))
    })
    .clone()
}

/// The embedded profile of `gpu` (by catalog name: `H100-SXM`, `H200`), if one ships.
pub fn embedded_profile(gpu: &crate::Gpu) -> Option<Arc<Profile>> {
    match gpu.name.as_str() {
        "H100-SXM" => Some(embedded_h100()),
        "H200" => Some(embedded_h200()),
        _ => None,
    }
}

/// Which cost model [`default_cost_model`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CostModelChoice {
    /// The profiled model where an embedded profile exists for the GPU (H100-SXM, H200),
    /// else the calibrated roofline.
    #[default]
    Auto,
    /// The roofline alone (`--cost-model roofline`), calibrated to the embedded H100 profile.
    Roofline,
    /// The profiled model; an error for a GPU without an embedded profile.
    Profiled,
}

impl CostModelChoice {
    /// The lower-case name (`auto`, `roofline`, `profiled`).
    pub fn name(self) -> &'static str {
        match self {
            CostModelChoice::Auto => "auto",
            CostModelChoice::Roofline => "roofline",
            CostModelChoice::Profiled => "profiled",
        }
    }
}

impl std::fmt::Display for CostModelChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for CostModelChoice {
    type Err = crate::HwError;

    /// Accepts `auto`, `roofline`, `profiled` (or `profile`), case-insensitive.
    fn from_str(s: &str) -> Result<Self, crate::HwError> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(CostModelChoice::Auto),
            "roofline" => Ok(CostModelChoice::Roofline),
            "profiled" | "profile" => Ok(CostModelChoice::Profiled),
            _ => Err(crate::HwError::InvalidValue {
                what: "cost-model".into(),
                value: s.into(),
                expected: "auto, roofline or profiled".into(),
            }),
        }
    }
}

/// Whether an embedded profile exists for `gpu` (by catalog name: `H100-SXM`, `H200`).
pub fn has_embedded_profile(gpu: &crate::Gpu) -> bool {
    matches!(gpu.name.as_str(), "H100-SXM" | "H200")
}

/// The roofline model Parallax uses for `gpu`: [`crate::RooflineModel::calibrated`] (the
/// efficiency fractions fitted to the embedded H100 profile, which carry over to every GPU
/// but Blackwell's GEMM efficiency, measured on its own).
pub fn default_roofline(gpu: &crate::Gpu) -> crate::RooflineModel {
    crate::RooflineModel::calibrated(gpu)
}

/// The cost model Parallax uses for `cluster`'s GPU under `choice`: with an embedded profile
/// (H100 SXM, H200) and `Auto` or `Profiled`, that profile interpolated by
/// [`ProfiledCostModel`] over the calibrated roofline (which still times the ops and
/// collectives the profile lacks); otherwise the calibrated roofline
/// ([`default_roofline`]).
///
/// # Errors
/// [`ProfileError::NoProfile`] when `choice` is `Profiled` and no profile ships for the GPU.
///
/// # Examples
/// ```
/// use parallax_hw::{profile, Cluster, CostModel};
/// let c = Cluster::parse("1x8xH100")?;
/// let auto = profile::cost_model_for(&c, profile::CostModelChoice::Auto).unwrap();
/// assert_eq!(auto.name(), "profiled:h100-pytorch");
/// let roofline = profile::cost_model_for(&c, profile::CostModelChoice::Roofline).unwrap();
/// assert!(roofline.name().starts_with("roofline"));
/// # Ok::<(), parallax_hw::HwError>(())
/// ```
pub fn cost_model_for(
    cluster: &crate::Cluster,
    choice: CostModelChoice,
) -> Result<Arc<dyn crate::CostModel>, ProfileError> {
    let roofline: Arc<dyn crate::CostModel> = Arc::new(default_roofline(&cluster.gpu));
    if choice == CostModelChoice::Roofline {
        return Ok(roofline);
    }
    match embedded_profile(&cluster.gpu) {
        // The embedded profiles were measured on the GPU's default links.
        Some(p) => Ok(Arc::new(ProfiledCostModel::new(&p, roofline)?.measured_on(
            crate::Link::default_intra_node(&cluster.gpu),
            crate::Link::default_inter_node(),
        ))),
        None if choice == CostModelChoice::Profiled => Err(ProfileError::NoProfile {
            gpu: cluster.gpu.name.clone(),
            available: vec!["H100-SXM".into(), "H200".into()],
        }),
        None => Ok(roofline),
    }
}

/// [`cost_model_for`] without the error: `Profiled` for a GPU without a profile gives the
/// calibrated roofline.
///
/// # Examples
/// ```
/// use parallax_hw::{profile, Cluster, CostModel};
/// let c = Cluster::parse("1x8xH100")?;
/// assert_eq!(profile::default_cost_model(&c, profile::CostModelChoice::Auto).name(), "profiled:h100-pytorch");
/// assert!(profile::default_cost_model(&c, profile::CostModelChoice::Roofline).name().starts_with("roofline"));
/// # Ok::<(), parallax_hw::HwError>(())
/// ```
pub fn default_cost_model(
    cluster: &crate::Cluster,
    choice: CostModelChoice,
) -> Arc<dyn crate::CostModel> {
    match cost_model_for(cluster, choice) {
        Ok(m) => m,
        // Only `Profiled` without a profile, or corrupt embedded data (tested): the
        // calibrated roofline is a safe answer.
        Err(_) => Arc::new(default_roofline(&cluster.gpu)),
    }
}
