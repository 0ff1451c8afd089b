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

pub use calibrate::{calibrate, calibrated_hold_out, Calibration, TableFit};
pub use error::{ProfileError, Row};
pub use format::{
    CollectivePoint, DecodePoint, ElementwisePoint, GemmPoint, Overheads, PrefillPoint, Profile,
    ProfileGpu, Provenance, Scope, Software, Table, FORMAT_VERSION,
};
pub use holdout::{profiled_hold_out, HoldOut, HoldOutReport};
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
    let mut rows = Vec::new();
    let mut origin = Vec::new();
    for (file, text) in APEX_H100 {
        let op = import::apex_file_op(file).unwrap_or(parallax_ir::CollectiveKind::AllReduce);
        let name = format!("<embedded apex-comm/H100-SXM-80GB/{file}>");
        let t = import::apex_collectives(&name, text, op, "half")?;
        rows.extend(t.rows);
        origin.extend(t.origin);
    }
    p.collective = Some(
        Table::with_origin(rows, origin)
            .with_provenance(import::apex_provenance("apex-comm/H100-SXM-80GB"))
            .with_software(import::unknown_software()),
    );
    p.validate()?;
    Ok(p)
}

/// The embedded H100 SXM profile: GEMM, prefill and decode attention from this project's
/// PyTorch measurements (`data/profiles/h100-pytorch`, bf16, two runs merged by median), and
/// NCCL collectives (half precision, 2/4/8 GPUs in one node) from APEX+
/// (`data/profiles/apex-comm/H100-SXM-80GB`, MIT). It has no elementwise table: those ops
/// fall back to the wrapped model.
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

/// Which cost model [`default_cost_model`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CostModelChoice {
    /// The profiled model where an embedded profile exists for the GPU (H100-SXM), else the
    /// roofline.
    #[default]
    Auto,
    /// The roofline alone (`--cost-model roofline`).
    Roofline,
}

/// Whether an embedded profile exists for `gpu` (by catalog name: `H100-SXM`).
pub fn has_embedded_profile(gpu: &crate::Gpu) -> bool {
    gpu.name == "H100-SXM"
}

/// The cost model Parallax uses by default for `cluster`'s GPU: for an H100 SXM, the embedded
/// H100 profile interpolated by [`ProfiledCostModel`] over a roofline fallback (the roofline
/// still times ops and collectives the profile lacks); for every other GPU, or when
/// `choice` is [`CostModelChoice::Roofline`], the roofline with default parameters.
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
    let roofline: Arc<dyn crate::CostModel> = Arc::new(crate::RooflineModel::new(&cluster.gpu));
    if choice == CostModelChoice::Roofline || !has_embedded_profile(&cluster.gpu) {
        return roofline;
    }
    match ProfiledCostModel::new(&embedded_h100(), roofline.clone()) {
        Ok(m) => Arc::new(m),
        // Unreachable with valid embedded data (tested); the roofline is a safe answer.
        Err(_) => roofline,
    }
}
