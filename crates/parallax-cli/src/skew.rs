//! `--moe-skew`, `--expert-load` and `--eplb` of `simulate` and `search`: MoE routing skew and
//! expert-parallel load balancing (see `parallax_plan::skew`).

use crate::output::CliError;
use clap::Args;
use parallax::ir::routing::ExpertLoad;
use parallax::ir::{Cell, Model};
use parallax::plan::{MoeLoad, MoeRouting};
use parallax::search::EplbMode;
use std::path::PathBuf;

/// Largest Zipf exponent accepted by `--moe-skew`.
pub const MAX_ZIPF: f64 = 10.0;
/// Most EPLB replicas per MoE layer accepted by `--eplb`.
pub const MAX_EPLB: u32 = 4096;
/// Most redundant experts per EP rank `search --eplb auto:K` tries.
pub const MAX_EPLB_PER_RANK: u32 = 16;

/// MoE routing skew flags.
#[derive(Debug, Args)]
pub struct MoeSkewArgs {
    /// MoE routing skew `zipf:S` (S in (0, 10], e.g. 1.2) or `zipf:S:SEED`: expert popularity
    /// ∝ 1/rank^S, ranks placed on expert ids by a shuffle seeded with SEED (default 0), no
    /// expert above 1/top_k of the pairs. Each MoE layer waits for its busiest EP rank.
    #[arg(long, value_name = "zipf:S")]
    moe_skew: Option<String>,
    /// Measured per-expert loads (counts or fractions, one per routed expert, none above
    /// 1/top_k of the total; separated by commas, spaces or newlines; `#` comments).
    #[arg(long, value_name = "FILE", conflicts_with = "moe_skew")]
    expert_load: Option<PathBuf>,
    /// EPLB: redundant expert replicas per MoE layer, placed on the busiest EP ranks (vLLM's
    /// `num_redundant_experts`); the experts plus N must divide over the EP ranks. `search`
    /// also takes `auto` (its default with a skew: try 0 and one replica per EP rank, keep
    /// the better) or `auto:K` (0 to K per rank).
    #[arg(long, value_name = "N|auto[:K]")]
    eplb: Option<String>,
}

/// A parsed `--eplb` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eplb {
    Count(u32),
    Auto(u32),
}

fn parse_eplb(v: &str) -> Result<Eplb, CliError> {
    let bad = |why: &str| {
        CliError::input(format!(
            "invalid --eplb {v}: {why}; expected 0 to {MAX_EPLB} redundant experts per MoE layer, \
             or (search) `auto` or `auto:K` with K in 1 to {MAX_EPLB_PER_RANK} per EP rank"
        ))
    };
    if let Some(rest) = v.strip_prefix("auto") {
        let k = match rest.strip_prefix(':') {
            None if rest.is_empty() => 1,
            None => return Err(bad("not a number")),
            Some(k) => k.parse().map_err(|_| bad("K is not a number"))?,
        };
        if !(1..=MAX_EPLB_PER_RANK).contains(&k) {
            return Err(bad("K out of range"));
        }
        return Ok(Eplb::Auto(k));
    }
    let n: u32 = v.parse().map_err(|_| bad("not a number"))?;
    if n > MAX_EPLB {
        return Err(bad("out of range"));
    }
    Ok(Eplb::Count(n))
}

fn parse_zipf(v: &str) -> Result<MoeRouting, CliError> {
    let bad = |why: &str| {
        CliError::input(format!(
            "invalid --moe-skew `{v}`: {why}; expected `zipf:S` with S a number in (0, {MAX_ZIPF}], \
             optionally `zipf:S:SEED`"
        ))
    };
    let mut parts = v.split(':');
    if parts.next() != Some("zipf") {
        return Err(bad("unknown skew model"));
    }
    let s: f64 = parts
        .next()
        .ok_or_else(|| bad("missing exponent"))?
        .parse()
        .map_err(|_| bad("the exponent is not a number"))?;
    if !(s.is_finite() && s > 0.0 && s <= MAX_ZIPF) {
        return Err(bad("exponent out of range"));
    }
    let seed = match parts.next() {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| bad("the seed is not a non-negative integer"))?,
    };
    if parts.next().is_some() {
        return Err(bad("too many `:` fields"));
    }
    Ok(MoeRouting::Zipf { exponent: s, seed })
}

impl MoeSkewArgs {
    /// The load model the flags ask for, `None` when none is given. Reads `--expert-load`.
    ///
    /// # Errors
    /// A malformed flag value, an unreadable or malformed load file, or any flag on a model
    /// without MoE layers (it would be silently ignored).
    pub fn moe_load(&self, model: &Model) -> Result<Option<MoeLoad>, CliError> {
        self.load(model)
    }

    /// `simulate`'s load: as [`Self::moe_load`], and `--eplb auto` is an error (only the
    /// search chooses).
    ///
    /// # Errors
    /// As [`Self::moe_load`].
    pub fn simulate_load(&self, model: &Model) -> Result<Option<MoeLoad>, CliError> {
        if let Some(Eplb::Auto(_)) = self.eplb.as_deref().map(parse_eplb).transpose()? {
            return Err(CliError::input(format!(
                "--eplb {}: simulate runs one setting; expected a count N (search chooses \
                 with `auto`)",
                self.eplb.as_deref().unwrap_or_default()
            )));
        }
        self.load(model)
    }

    /// `--eplb` as written, when given.
    pub fn eplb_text(&self) -> Option<&str> {
        self.eplb.as_deref()
    }

    /// How `search` sets EPLB: `auto` (also the default when a skew is given without
    /// `--eplb`) or the fixed count.
    ///
    /// # Errors
    /// A malformed `--eplb`.
    pub fn eplb_mode(&self) -> Result<EplbMode, CliError> {
        let skew = self.moe_skew.is_some() || self.expert_load.is_some();
        Ok(match self.eplb.as_deref().map(parse_eplb).transpose()? {
            Some(Eplb::Auto(k)) => EplbMode::Auto { max_per_rank: k },
            None if skew => EplbMode::AUTO,
            _ => EplbMode::Fixed,
        })
    }

    fn load(&self, model: &Model) -> Result<Option<MoeLoad>, CliError> {
        let routing = match (&self.moe_skew, &self.expert_load) {
            (Some(v), _) => Some(parse_zipf(v)?),
            (None, Some(path)) => {
                let text = parallax::ir::read_text(path).map_err(|e| {
                    CliError::input(format!("--expert-load {}: {e}", path.display()))
                })?;
                let load = ExpertLoad::parse(&text, &format!("--expert-load {}", path.display()))
                    .map_err(CliError::input)?;
                // Leaked once per process: `LowerOptions` stays `Copy` (see `MoeRouting`).
                Some(MoeRouting::Measured(Box::leak(Box::new(load))))
            }
            (None, None) => None,
        };
        let eplb = self.eplb.as_deref().map(parse_eplb).transpose()?;
        let redundant = match eplb {
            Some(Eplb::Count(n)) => n,
            Some(Eplb::Auto(_)) | None => 0,
        };
        let routing = match (routing, eplb) {
            (Some(r), _) => r,
            (None, Some(_)) => MoeRouting::Zipf {
                exponent: 0.0,
                seed: 0,
            },
            (None, None) => return Ok(None),
        };
        let flag = if self.moe_skew.is_some() {
            "--moe-skew"
        } else if self.expert_load.is_some() {
            "--expert-load"
        } else {
            "--eplb"
        };
        crate::common::require_moe(model, flag)?;
        let load = MoeLoad { routing, redundant };
        if let (MoeRouting::Measured(l), Some(path)) = (routing, &self.expert_load) {
            let file = path.display();
            for (c, _) in model.cells() {
                let Cell::Moe(m) = c else { continue };
                if l.experts() != m.experts {
                    return Err(CliError::input(format!(
                        "--expert-load {file}: {} loads given, expected one per routed expert of {} ({})",
                        l.experts(),
                        model.name,
                        m.experts
                    )));
                }
                // what top-k routing can produce: no expert above 1/top_k of the pairs
                load.expert_load(m.experts, m.top_k)
                    .map_err(|e| CliError::input(format!("--expert-load {file}: {e}")))?;
            }
        }
        Ok(Some(load))
    }
}

/// The `EPLB` column of `search`'s table: the redundant experts chosen per plan (`off`, a
/// count, or `-` where the search made no choice); `None` when no plan has a choice.
pub fn eplb_column(ranked: &[parallax::RankedPlan]) -> Option<Vec<String>> {
    if ranked.iter().all(|p| p.eplb.is_none()) {
        return None;
    }
    Some(
        ranked
            .iter()
            .map(|p| match &p.eplb {
                None => "-".into(),
                Some(c) if c.enabled() => c.redundant_experts.to_string(),
                Some(_) => "off".into(),
            })
            .collect(),
    )
}

/// One line on the EPLB choice of `best` (objective `obj` in `unit`), `None` without one.
pub fn eplb_line(best: &parallax::RankedPlan, obj: &str, unit: &str) -> Option<String> {
    let c = best.eplb.as_ref()?;
    let chosen = c.chosen()?;
    let pct = |s: Option<f64>| s.map_or("-".into(), |s| format!("{:.1}%", 100.0 * s));
    let others: Vec<String> = c
        .options
        .iter()
        .filter(|o| o.redundant_experts != c.redundant_experts)
        .map(|o| {
            let what = match o.objective {
                Some(v) => format!("{obj} {v:.4} {unit}"),
                None => o.error.clone().unwrap_or_default(),
            };
            format!(
                "{} redundant: busiest rank {}, +{:.2} GB weights per GPU, {what}",
                o.redundant_experts,
                pct(o.busiest_rank_share),
                o.extra_weight_bytes_per_gpu / 1e9
            )
        })
        .collect();
    Some(format!(
        "EPLB: {} (busiest EP rank {} of the routed pairs, +{:.2} GB weights per GPU, {obj} \
         {:.4} {unit}); also tried: {}",
        if c.enabled() {
            format!(
                "on, {} redundant experts per MoE layer",
                c.redundant_experts
            )
        } else {
            "off".into()
        },
        pct(chosen.busiest_rank_share),
        chosen.extra_weight_bytes_per_gpu / 1e9,
        chosen.objective.unwrap_or(f64::NAN),
        others.join("; ")
    ))
}
