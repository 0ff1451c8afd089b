//! The embedded GPU catalog (`data/gpus.toml`).
//!
//! Every figure in the data file cites its vendor datasheet; idle power and price per hour are
//! stated assumptions (see the file's header).

use crate::error::HwError;
use crate::gpu::{Gpu, GpuArchitecture, PeakFlops};
use crate::topology::LinkKind;
use serde::Deserialize;
use std::sync::OnceLock;

/// The catalog's TOML text, as shipped.
pub const GPUS_TOML: &str = include_str!("../data/gpus.toml");

const TERA: f64 = 1e12;
const GIGA: f64 = 1e9;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    gpu: Vec<GpuEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeakEntry {
    fp32: f64,
    bf16: f64,
    fp16: f64,
    fp8: Option<f64>,
    int8: Option<f64>,
    int4: Option<f64>,
    #[serde(default)]
    fp4: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GpuEntry {
    name: String,
    aliases: Vec<String>,
    vendor: String,
    architecture: GpuArchitecture,
    compute_units: u32,
    peak_tflops: PeakEntry,
    memory_gib: f64,
    memory_bandwidth_gbs: f64,
    tdp_watts: f64,
    idle_watts: f64,
    scale_up_gbs: f64,
    scale_up_kind: LinkKind,
    price_per_hour: f64,
    sources: Vec<String>,
}

fn positive(source: &str, field: String, v: f64) -> Result<f64, HwError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(HwError::TomlField {
            source_name: source.to_string(),
            field,
            value: parallax_ir::error::compact(v),
            expected: "a positive finite number".into(),
        })
    }
}

impl GpuEntry {
    fn into_gpu(self, source: &str) -> Result<Gpu, HwError> {
        let n = &self.name;
        let f = |field: &str| format!("gpu[{n}].{field}");
        let p = &self.peak_tflops;
        let opt = |field: &str, v: Option<f64>| -> Result<Option<f64>, HwError> {
            v.map(|x| positive(source, f(field), x).map(|x| x * TERA))
                .transpose()
        };
        let peak = PeakFlops {
            fp32: positive(source, f("peak_tflops.fp32"), p.fp32)? * TERA,
            bf16: positive(source, f("peak_tflops.bf16"), p.bf16)? * TERA,
            fp16: positive(source, f("peak_tflops.fp16"), p.fp16)? * TERA,
            fp8: opt("peak_tflops.fp8", p.fp8)?,
            int8: opt("peak_tflops.int8", p.int8)?,
            int4: opt("peak_tflops.int4", p.int4)?,
            fp4: opt("peak_tflops.fp4", p.fp4)?,
        };
        if self.compute_units == 0 {
            return Err(HwError::TomlField {
                source_name: source.to_string(),
                field: f("compute_units"),
                value: "0".into(),
                expected: "a positive number of SMs / CUs".into(),
            });
        }
        let memory_bytes = (positive(source, f("memory_gib"), self.memory_gib)? * GIB) as u64;
        let gpu = Gpu {
            peak,
            memory_bytes,
            memory_bandwidth: positive(
                source,
                f("memory_bandwidth_gbs"),
                self.memory_bandwidth_gbs,
            )? * GIGA,
            tdp_watts: positive(source, f("tdp_watts"), self.tdp_watts)?,
            idle_watts: positive(source, f("idle_watts"), self.idle_watts)?,
            scale_up_bandwidth: positive(source, f("scale_up_gbs"), self.scale_up_gbs)? * GIGA,
            price_per_hour: self.price_per_hour,
            compute_units: self.compute_units,
            scale_up_kind: self.scale_up_kind,
            aliases: self.aliases,
            vendor: self.vendor,
            architecture: self.architecture,
            sources: self.sources,
            name: self.name,
        };
        gpu.clone().with_price(gpu.price_per_hour)
    }
}

/// Parse a GPU catalog in the format of `data/gpus.toml`.
///
/// # Arguments
/// * `text` - the TOML text.
/// * `source` - where it came from (a file name), used in error messages.
///
/// # Errors
/// [`HwError::Toml`] for syntax errors or missing/unknown fields, [`HwError::TomlField`] for
/// non-positive figures.
pub fn parse_catalog(text: &str, source: &str) -> Result<Vec<Gpu>, HwError> {
    let file: CatalogFile = toml::from_str(text).map_err(|e| HwError::Toml {
        source_name: source.to_string(),
        message: e.to_string(),
    })?;
    file.gpu.into_iter().map(|g| g.into_gpu(source)).collect()
}

/// Every catalogued GPU, in the order of the data file.
///
/// # Examples
/// ```
/// let names: Vec<&str> = parallax_hw::catalog::gpus().iter().map(|g| g.name.as_str()).collect();
/// assert!(names.contains(&"H100-SXM"));
/// ```
pub fn gpus() -> &'static [Gpu] {
    static CATALOG: OnceLock<Vec<Gpu>> = OnceLock::new();
    CATALOG.get_or_init(|| match parse_catalog(GPUS_TOML, "data/gpus.toml") {
        Ok(g) => g,
        // The embedded file is checked by this crate's tests; a failure here is a build defect.
        Err(e) => panic!("embedded GPU catalog is invalid: {e}"),
    })
}

/// Canonical names of the catalogued GPUs.
pub fn names() -> Vec<String> {
    gpus().iter().map(|g| g.name.clone()).collect()
}

/// Look a GPU up by canonical name or alias, ignoring ASCII case (`h100` → `H100-SXM`).
///
/// # Errors
/// [`HwError::UnknownGpu`] naming `name` and listing the known GPUs.
///
/// # Examples
/// ```
/// let g = parallax_hw::catalog::gpu("h100")?;
/// assert_eq!(g.name, "H100-SXM");
/// assert!(parallax_hw::catalog::gpu("H999").is_err());
/// # Ok::<(), parallax_hw::HwError>(())
/// ```
pub fn gpu(name: &str) -> Result<Gpu, HwError> {
    gpus()
        .iter()
        .find(|g| g.matches(name))
        .cloned()
        .ok_or_else(|| HwError::UnknownGpu {
            name: name.to_string(),
            known: names(),
        })
}
