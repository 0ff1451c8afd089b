//! Disaggregated plans: a prefill pool and a decode pool, each of identical instances with
//! their own plan (`prefill=2x(tp=4);decode=1x(tp=8)`, see `PLAN-STRING.md`), lowered for the
//! simulator's [`parallax_sim::Disaggregation`].

use crate::error::PlanError;
use crate::lower::LowerOptions;
use crate::plan::Plan;
use parallax_hw::{Cluster, CostModel, MAX_CLUSTER_GPUS};
use parallax_ir::Model;
use parallax_sim::{Disaggregation, KvLink, ReplicaSpec};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A prefill pool of `prefill` instances of `prefill_plan` and a decode pool of `decode`
/// instances of `decode_plan` (each plan with `dp=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisaggPlan {
    /// Prefill instances.
    pub prefill: u32,
    /// Plan of one prefill instance.
    pub prefill_plan: Plan,
    /// Decode instances.
    pub decode: u32,
    /// Plan of one decode instance.
    pub decode_plan: Plan,
}

impl DisaggPlan {
    /// True when `s` is written as a disaggregated plan (it names a `prefill=` pool).
    pub fn is_disaggregated(s: &str) -> bool {
        s.to_ascii_lowercase().contains("prefill=")
    }

    /// Devices of both pools.
    pub fn devices(&self) -> u32 {
        self.prefill
            .saturating_mul(self.prefill_plan.devices())
            .saturating_add(self.decode.saturating_mul(self.decode_plan.devices()))
    }
}

impl fmt::Display for DisaggPlan {
    /// Canonical form: `prefill=Nx(PLAN);decode=Mx(PLAN)` with canonical inner plans.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "prefill={}x({});decode={}x({})",
            self.prefill, self.prefill_plan, self.decode, self.decode_plan
        )
    }
}

impl FromStr for DisaggPlan {
    type Err = PlanError;

    fn from_str(input: &str) -> Result<Self, PlanError> {
        let bad = |token: &str, expected: &str| PlanError::Parse {
            input: input.to_string(),
            token: token.to_string(),
            expected: expected.to_string(),
        };
        let mut prefill = None;
        let mut decode = None;
        for part in input.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad(part, "`prefill=Nx(PLAN)` or `decode=Nx(PLAN)`"))?;
            let (n, plan) = value
                .trim()
                .split_once('x')
                .and_then(|(n, rest)| {
                    let rest = rest.trim();
                    Some((n.trim(), rest.strip_prefix('(')?.strip_suffix(')')?))
                })
                .ok_or_else(|| bad(part, "`Nx(PLAN)`, e.g. `2x(tp=4)`"))?;
            let n: u32 = n
                .parse()
                .ok()
                .filter(|&n| (1..=MAX_CLUSTER_GPUS).contains(&n))
                .ok_or_else(|| {
                    bad(
                        part,
                        "an instance count N ≥ 1 before `x(`, at most 65536 (the largest cluster)",
                    )
                })?;
            let plan: Plan = plan.parse()?;
            if u64::from(n) * u64::from(plan.devices()) > u64::from(MAX_CLUSTER_GPUS) {
                return Err(bad(
                    part,
                    "a pool of at most 65536 GPUs (the largest cluster): instances × GPUs per \
                     instance",
                ));
            }
            if plan.dp != 1 {
                return Err(bad(
                    part,
                    "an instance plan without dp (the count before `x` replicates it)",
                ));
            }
            let slot = match key.trim().to_ascii_lowercase().as_str() {
                "prefill" => &mut prefill,
                "decode" => &mut decode,
                _ => return Err(bad(key, "`prefill` or `decode`")),
            };
            if slot.replace((n, plan)).is_some() {
                return Err(bad(part, "each pool once"));
            }
        }
        match (prefill, decode) {
            (Some((prefill, prefill_plan)), Some((decode, decode_plan))) => Ok(DisaggPlan {
                prefill,
                prefill_plan,
                decode,
                decode_plan,
            }),
            _ => Err(bad(input, "both `prefill=Nx(PLAN)` and `decode=Nx(PLAN)`")),
        }
    }
}

/// Lower both pools for the simulator: the replicas (prefill pool first) and the
/// [`Disaggregation`] to put in `SimConfig::disaggregation`.
///
/// The prefill pool takes the cluster's first devices and the decode pool the next ones. The
/// KV link is the cluster's intra-node link when both pools fit one node, else its network;
/// its bandwidth is that of `min(prefill instance devices, decode instance devices)` GPU links
/// in parallel (each device sends its KV shard), its latency the link's. KV bytes per token
/// are the model's (summed over the prefill instance's stages).
///
/// On a heterogeneous cluster use [`crate::hetero::lower_disaggregated`] (one cost model per
/// node group; pools may run on different GPU kinds with `on=`).
///
/// # Errors
/// A pool's plan that does not fit the model, cluster or memory ([`crate::lower_plan`]), pools that
/// together need more devices than the cluster has ([`PlanError::Inconsistent`]), or a
/// heterogeneous cluster ([`PlanError::Option`] naming `cluster`).
pub fn lower_disaggregated(
    model: &Model,
    plan: &DisaggPlan,
    cluster: &Cluster,
    cost: Arc<dyn CostModel>,
    opts: &LowerOptions,
) -> Result<(Vec<ReplicaSpec>, Disaggregation), PlanError> {
    if cluster.is_heterogeneous() {
        return Err(PlanError::Option {
            option: "cluster".into(),
            value: cluster.spec(),
            expected: format!(
                "a cluster of one GPU kind for one cost model and the disaggregated plan \
                 `{plan}` (a mixed cluster takes one cost model per node group: \
                 `hetero::lower_disaggregated`)"
            ),
        });
    }
    lower_pools(model, plan, cluster, std::slice::from_ref(&cost), opts)
}

/// [`lower_disaggregated`] with one cost model per node group of `cluster` (see
/// [`crate::hetero::lower_disaggregated`]).
pub(crate) fn lower_pools(
    model: &Model,
    plan: &DisaggPlan,
    cluster: &Cluster,
    costs: &[Arc<dyn CostModel>],
    opts: &LowerOptions,
) -> Result<(Vec<ReplicaSpec>, Disaggregation), PlanError> {
    let pool = |n: u32, p: &Plan| Plan { dp: n, ..p.clone() };
    let (pre_plan, dec_plan) = (
        pool(plan.prefill, &plan.prefill_plan),
        pool(plan.decode, &plan.decode_plan),
    );
    let groups = cluster.node_groups();
    // GPUs of each node group the pools use, and the groups each pool runs on.
    let mut used = vec![0u64; groups.len()];
    let mut kinds: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for (k, p) in [&pre_plan, &dec_plan].into_iter().enumerate() {
        for row in crate::hetero::stage_groups(p, cluster)? {
            for (s, g) in row.into_iter().enumerate() {
                used[g] += u64::from(p.stage_width(s));
                if !kinds[k].contains(&g) {
                    kinds[k].push(g);
                }
            }
        }
    }
    if !cluster.is_heterogeneous() && plan.devices() > cluster.total_gpus() {
        return Err(PlanError::Inconsistent {
            plan: plan.to_string(),
            field: "devices".into(),
            reason: format!(
                "both pools need {} GPUs, the cluster {} has {}",
                plan.devices(),
                cluster.spec(),
                cluster.total_gpus()
            ),
        });
    }
    if let Some(g) = (0..groups.len()).find(|&g| used[g] > u64::from(groups[g].gpus())) {
        return Err(PlanError::Inconsistent {
            plan: plan.to_string(),
            field: "devices".into(),
            reason: format!(
                "both pools need {} GPUs of {}, its node group {} of cluster {} has {}",
                used[g],
                groups[g].gpu.name,
                groups[g].spec(),
                cluster.spec(),
                groups[g].gpus()
            ),
        });
    }
    let pre = crate::hetero::lower_plan(model, &pre_plan, cluster, costs, opts)?;
    let dec = crate::hetero::lower_plan(model, &dec_plan, cluster, costs, opts)?;
    let kv_bytes_per_token: f64 = pre.replicas[0]
        .stages
        .iter()
        .filter_map(|s| s.host_link())
        .map(|l| l.kv_bytes_per_token)
        .sum();
    // Both pools on one group and inside one of its nodes: its intra-node link.
    let link = match (kinds[0].as_slice(), kinds[1].as_slice()) {
        ([a], [b]) if a == b && plan.devices() <= groups[*a].gpus_per_node => groups[*a].intra_node,
        _ => cluster.inter_node,
    };
    let lanes = plan
        .prefill_plan
        .devices()
        .min(plan.decode_plan.devices())
        .max(1) as f64;
    let prefill_replicas = pre.replicas.len();
    let mut replicas = pre.replicas;
    replicas.extend(dec.replicas);
    Ok((
        replicas,
        Disaggregation {
            prefill_replicas,
            kv_link: KvLink {
                kv_bytes_per_token,
                bandwidth: link.bandwidth * lanes,
                latency_s: link.latency,
            },
        },
    ))
}
