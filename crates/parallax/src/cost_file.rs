//! Cost models from files: a measured profile (`docs/profile-format.md`) or the roofline
//! parameters `parallax calibrate --out` writes.

use crate::error::{Error, Result};
use parallax_hw::profile::{default_roofline, Profile, ProfiledCostModel};
use parallax_hw::{Cluster, CostModel, RooflineModel, RooflineParams};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The file `parallax calibrate --out` writes: fitted roofline parameters and where they came
/// from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RooflineParamsFile {
    /// Format marker and version: always 1.
    pub parallax_roofline_params: u32,
    /// The profile the parameters were fitted to.
    pub profile: String,
    /// The GPU whose datasheet ceilings the parameters scale.
    pub gpu: String,
    /// The parameters.
    pub params: RooflineParams,
}

fn bad(file: &str, expected: &str) -> Error {
    Error::Option {
        option: "cost-model".into(),
        value: file.into(),
        expected: expected.into(),
    }
}

/// The cost model in `text` (the contents of `file`) for `cluster`:
///
/// - a profile (a JSON object with `format_version`): the profiled model over the calibrated
///   roofline, as `--cost-model profiled` builds from an embedded profile; the profile's GPU
///   must be the cluster's;
/// - roofline parameters (an object with `parallax_roofline_params`, as `calibrate --out`
///   writes): the roofline of the cluster's GPU with those parameters.
///
/// # Errors
/// [`Error::Profile`] naming file, table, row and column for a bad profile; [`Error::Option`]
/// for a file of neither kind, bad parameters, or a profile of another GPU.
pub fn cost_model_from_text(
    cluster: &Cluster,
    file: &str,
    text: &str,
) -> Result<Arc<dyn CostModel>> {
    match parse_cost_file(file, text)? {
        CostFile::Profile(profile) => {
            // the catalogue's name or one of its aliases ("H100" for H100-SXM)
            if !cluster.gpu.matches(&profile.gpu.name) {
                return Err(bad(
                    file,
                    &format!(
                        "a profile of the cluster's GPU {}, not of {} (choose a cluster of {} \
                         or measure a profile on {})",
                        cluster.gpu.name, profile.gpu.name, profile.gpu.name, cluster.gpu.name
                    ),
                ));
            }
            let roofline: Arc<dyn CostModel> = Arc::new(default_roofline(&cluster.gpu));
            Ok(Arc::new(ProfiledCostModel::new(&profile, roofline)?))
        }
        CostFile::Params(f) => {
            if !cluster.gpu.matches(&f.gpu) {
                return Err(bad(
                    file,
                    &format!(
                        "parameters fitted on the cluster's GPU {}, not on {} (choose a \
                         cluster of {} or calibrate on {})",
                        cluster.gpu.name, f.gpu, f.gpu, cluster.gpu.name
                    ),
                ));
            }
            Ok(Arc::new(RooflineModel::with_params(&cluster.gpu, f.params)))
        }
    }
}

/// A cost-model file's contents, checked as far as they can be without a cluster.
enum CostFile {
    Profile(Box<Profile>),
    Params(Box<RooflineParamsFile>),
}

/// Parses and checks `text` (the contents of `file`) as a profile or roofline parameters: all
/// of [`cost_model_from_text`]'s checks but the cluster's GPU.
fn parse_cost_file(file: &str, text: &str) -> Result<CostFile> {
    let value: serde_json::Value = parallax_ir::json::parse_unique(text).map_err(|e| {
        bad(
            file,
            &format!(
                "a JSON profile or roofline-parameters file (line {}, column {}: {e})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let obj = value.as_object().ok_or_else(|| {
        bad(
            file,
            "a JSON object: a profile or the roofline parameters of `calibrate --out`",
        )
    })?;
    if obj.contains_key("format_version") {
        return Ok(CostFile::Profile(Box::new(Profile::from_json(file, text)?)));
    }
    if obj.contains_key("parallax_roofline_params") {
        let f: RooflineParamsFile = serde_json::from_value(value).map_err(|e| {
            bad(
                file,
                &format!("roofline parameters as `parallax calibrate --out` writes them ({e})"),
            )
        })?;
        if f.parallax_roofline_params != 1 {
            return Err(bad(
                file,
                &format!(
                    "parallax_roofline_params 1 (this file has {})",
                    f.parallax_roofline_params
                ),
            ));
        }
        // fitted against one GPU's datasheet ceilings: only for that GPU, as a profile
        if parallax_hw::catalog::gpu(&f.gpu).is_err() {
            return Err(bad(
                file,
                &format!(
                    "`gpu` naming a GPU of the catalogue (`parallax gpus`), not `{}`",
                    f.gpu
                ),
            ));
        }
        if let Err((field, v, expected)) = f.params.validate() {
            return Err(bad(
                file,
                &format!("params.{field} {expected} (this file has {v})"),
            ));
        }
        return Ok(CostFile::Params(Box::new(f)));
    }
    Err(bad(
        file,
        "a profile (with `format_version`, docs/profile-format.md) or the roofline parameters \
         of `parallax calibrate --out` (with `parallax_roofline_params`)",
    ))
}

/// [`cost_model_from_text`] of the file at `path` (reads it).
///
/// # Errors
/// As [`cost_model_from_text`], and [`Error::Option`] when the file cannot be read.
pub fn cost_model_from_file(
    cluster: &Cluster,
    path: &std::path::Path,
) -> Result<Arc<dyn CostModel>> {
    let file = path.display().to_string();
    let text =
        parallax_ir::read_text(path).map_err(|e| bad(&file, &format!("a readable file ({e})")))?;
    cost_model_from_text(cluster, &file, &text)
}

/// Where a cost model comes from: a named choice, or a file read per cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CostSource {
    /// `auto`, `roofline` or `profiled`.
    Choice(crate::CostModelChoice),
    /// A profile or roofline-parameters file ([`cost_model_from_file`]).
    File(std::path::PathBuf),
}

impl CostSource {
    /// The cost model for `cluster`.
    ///
    /// # Errors
    /// As [`crate::cost_model`] or [`cost_model_from_file`].
    pub fn build(&self, cluster: &Cluster) -> Result<Arc<dyn CostModel>> {
        match self {
            CostSource::Choice(c) => crate::cost_model(cluster, *c),
            CostSource::File(p) => cost_model_from_file(cluster, p),
        }
    }

    /// Checks a file source as far as it can be without a cluster (readable, a profile or
    /// roofline parameters, every row and value the file's format checks), so that a bad
    /// file is reported once, before anything is predicted with it. A named choice always
    /// passes.
    ///
    /// # Errors
    /// As [`cost_model_from_file`], but for a GPU the file does not describe.
    pub fn check(&self) -> Result<()> {
        match self {
            CostSource::Choice(_) => Ok(()),
            CostSource::File(path) => {
                let file = path.display().to_string();
                let text = parallax_ir::read_text(path)
                    .map_err(|e| bad(&file, &format!("a readable file ({e})")))?;
                parse_cost_file(&file, &text).map(|_| ())
            }
        }
    }
}

impl std::fmt::Display for CostSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CostSource::Choice(c) => c.fmt(f),
            CostSource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

impl From<crate::CostModelChoice> for CostSource {
    fn from(c: crate::CostModelChoice) -> Self {
        CostSource::Choice(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_ir::{DType, Gemm};

    fn gemm() -> Gemm {
        Gemm {
            m: 2048,
            n: 4096,
            k: 4096,
            count: 1,
            weight_dtype: DType::Bf16,
            act_dtype: DType::Bf16,
        }
    }

    #[test]
    fn a_profile_names_its_gpu_by_catalogue_name_or_alias() {
        let text = include_str!("../../parallax-hw/data/profiles/parallax-profiler/h100-sxm.json");
        let h100 = Cluster::parse("1x8xH100").unwrap();
        assert!(cost_model_from_text(&h100, "p.json", text).is_ok());
        let alias = text.replacen("\"name\": \"H100-SXM\"", "\"name\": \"h100\"", 1);
        assert_ne!(alias, text);
        assert!(cost_model_from_text(&h100, "p.json", &alias).is_ok());
        let e = cost_model_from_text(&Cluster::parse("1x8xA100").unwrap(), "p.json", &alias)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("p.json") && e.contains("not of h100"), "{e}");
    }

    #[test]
    fn roofline_parameters_round_trip() {
        let cluster = Cluster::parse("1x8xH100").unwrap();
        let params = RooflineParams {
            gemm_compute_efficiency: 0.5,
            ..RooflineParams::default()
        };
        let file = RooflineParamsFile {
            parallax_roofline_params: 1,
            profile: "test".into(),
            gpu: cluster.gpu.name.clone(),
            params: params.clone(),
        };
        let text = serde_json::to_string(&file).unwrap();
        let m = cost_model_from_text(&cluster, "p.json", &text).unwrap();
        let want = RooflineModel::with_params(&cluster.gpu, params).gemm(&gemm());
        assert_eq!(m.gemm(&gemm()), want);
        assert!(m.gemm(&gemm()) > RooflineModel::new(&cluster.gpu).gemm(&gemm()));

        let v2 = text.replace(
            "\"parallax_roofline_params\":1",
            "\"parallax_roofline_params\":2",
        );
        let e = cost_model_from_text(&cluster, "p.json", &v2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.json") && e.contains("this file has 2"), "{e}");
        let extra = text.replacen('{', "{\"extra\": 1, ", 1);
        let e = cost_model_from_text(&cluster, "p.json", &extra)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
        // Files written before the 8-bit efficiency existed get the measured value; a bad
        // value names the field.
        let old = text.replace(
            &format!(
                "\"gemm_8bit_efficiency\":{}",
                parallax_hw::GEMM_8BIT_EFFICIENCY
            ),
            "",
        );
        assert_ne!(old, text);
        let old = old.replace(",,", ",").replace("{,", "{");
        let m = cost_model_from_text(&cluster, "p.json", &old).unwrap();
        assert_eq!(m.gemm(&gemm()), want);
        let zero = text.replace(
            &format!(
                "\"gemm_8bit_efficiency\":{}",
                parallax_hw::GEMM_8BIT_EFFICIENCY
            ),
            "\"gemm_8bit_efficiency\":0.0",
        );
        let e = cost_model_from_text(&cluster, "p.json", &zero)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p.json") && e.contains("gemm_8bit_efficiency") && e.contains("has 0"),
            "{e}"
        );
        let e = cost_model_from_text(&cluster, "p.json", "[1, 2]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a JSON object"), "{e}");
        assert_eq!(
            CostSource::from(crate::CostModelChoice::Roofline).to_string(),
            "roofline"
        );
    }
}
