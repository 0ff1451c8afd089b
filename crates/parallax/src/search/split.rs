//! Uneven pipeline splits by `parallax-place`'s exact contiguous max-load DP.
//!
//! For every pipelined plan (`pp ≥ 2`, even split) the search also tries the split that
//! minimises the slowest stage's load: the plan's [`LayerChain`] (blocks with their time on
//! a representative batch mix of the workload and their memory, embedding folded into the
//! first block and the LM head into the last; see [`parallax_plan::split`]) becomes a chain
//! DAG for [`parallax_place::solve_contiguous`] with `pp` accelerators of the stage capacity.
//! On a chain the contiguous DP is exact; every stage of its optimum is non-empty because
//! block times are positive (splitting a stage never raises the maximum), so it equals the
//! best of all splits into `pp` non-empty stages ([`brute_force_split`] checks this in the
//! tests). Chains longer than [`PLACE_CHAIN_BLOCKS`] blocks (no catalogue model; synthetic
//! deep variants) are split by [`runlength_split`] instead, an exact bisection whose cost does
//! not grow with depth, so the search stays flat in depth. The split plan is then checked
//! against memory exactly and simulated like any other candidate; the even split stays in the
//! candidates beside it.
//!
//! Chains depend only on the stage shape (`tp`, layouts, `pp`), not on `dp`, and are
//! memoised per shape; each costs two probe lowerings per block run (independent of depth).

use parallax_hw::{Cluster, CostModel};
use parallax_ir::{Batch, DecodeGroup, Model, PrefillChunk};
use parallax_place::{Devices, Edge, Graph, Instance, Limits, Node};
use parallax_plan::{layer_chain, LayerChain, LowerOptions, Plan};
use parallax_sim::Workload;

use super::{Baseline, Objective, RankedPlan};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Chains of at most this many blocks are split by `parallax-place`'s DP (every model in the
/// catalogue: at most 128 blocks); longer ones by [`runlength_split`], whose cost does not
/// grow with depth.
pub const PLACE_CHAIN_BLOCKS: usize = 256;

/// Per-stage block counts of the split of `chain` into `stages` contiguous non-empty stages
/// that minimises the largest stage time with every stage within `chain.capacity_bytes`: by
/// [`parallax_place::solve_contiguous`] for chains of at most [`PLACE_CHAIN_BLOCKS`] blocks,
/// else by [`runlength_split`]. `None` when no split fits memory, when the chain has fewer
/// blocks than stages, or when the solver does not prove optimality.
pub fn dp_split(chain: &LayerChain, stages: u32) -> Option<Vec<usize>> {
    if chain.blocks.len() > PLACE_CHAIN_BLOCKS {
        return runlength_split(chain, stages);
    }
    place_split(chain, stages)
}

/// [`dp_split`] by [`parallax_place::solve_contiguous`] on the chain as a DAG.
pub fn place_split(chain: &LayerChain, stages: u32) -> Option<Vec<usize>> {
    let n = chain.blocks.len();
    let k = stages as usize;
    if k == 0 || n < k || chain.capacity_bytes.is_nan() || chain.capacity_bytes <= 0.0 {
        return None;
    }
    let nodes = chain
        .blocks
        .iter()
        .enumerate()
        .map(|(i, b)| Node {
            id: i as i64,
            name: None,
            acc_time: b.seconds,
            cpu_time: b.seconds,
            memory: b.bytes,
            acc_supported: true,
            backward: false,
            class: None,
            output_cost: 0.0,
        })
        .collect();
    let edges = (1..n)
        .map(|i| Edge {
            from: i as i64 - 1,
            to: i as i64,
        })
        .collect();
    let graph = Graph {
        devices: Devices {
            accelerators: k,
            accelerator_memory: chain.capacity_bytes,
            cpus: 0,
        },
        nodes,
        edges,
    };
    let inst = Instance::new(&graph).ok()?;
    let sol = parallax_place::solve_contiguous(&inst, &Limits::default()).ok()?;
    if !sol.status.is_optimal() || !sol.placement.max_load.is_finite() {
        return None;
    }
    // Each device holds an interval of the chain; order them along it.
    let mut parts: Vec<(i64, usize)> = sol
        .placement
        .devices
        .iter()
        .filter(|d| !d.nodes.is_empty())
        .map(|d| (d.nodes[0], d.nodes.len()))
        .collect();
    parts.sort_unstable();
    let mut sizes: Vec<usize> = parts.iter().map(|p| p.1).collect();
    if sizes.iter().sum::<usize>() != n {
        return None;
    }
    fill_stages(&mut sizes, k)?;
    Some(sizes)
}

/// With ties a solver may leave stages empty: split the largest stages further (never raises
/// the maximum; memory only shrinks) until there are `k`.
fn fill_stages(sizes: &mut Vec<usize>, k: usize) -> Option<()> {
    while sizes.len() < k {
        let (i, _) = sizes
            .iter()
            .enumerate()
            .filter(|(_, &s)| s > 1)
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
        let s = sizes[i];
        sizes[i] = s - s / 2;
        sizes.insert(i + 1, s / 2);
    }
    Some(())
}

/// Runs of identical consecutive blocks: `(count, seconds, bytes)`.
fn runs_of(chain: &LayerChain) -> Vec<(usize, f64, f64)> {
    let mut runs: Vec<(usize, f64, f64)> = Vec::new();
    for b in &chain.blocks {
        match runs.last_mut() {
            Some(r) if r.1 == b.seconds && r.2 == b.bytes => r.0 += 1,
            _ => runs.push((1, b.seconds, b.bytes)),
        }
    }
    runs
}

/// Greedy fill under bottleneck `limit`: each stage takes as many blocks as fit its time and
/// memory; the per-stage block counts when at most `k` stages cover the chain. Exact for the
/// decision "is there a split with every stage ≤ limit" (stage sums only grow with the stage),
/// and O(k × runs): whole runs of identical blocks are taken by division.
fn greedy(runs: &[(usize, f64, f64)], cap: f64, limit: f64, k: usize) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    let (mut r, mut used) = (0usize, 0usize); // run, blocks of it already placed
    while r < runs.len() {
        if out.len() == k {
            return None;
        }
        let (mut t, mut b, mut n) = (0.0f64, 0.0f64, 0usize);
        while r < runs.len() {
            let (count, rt, rb) = runs[r];
            let left = count - used;
            let by = |room: f64, per: f64| {
                if per <= 0.0 {
                    left
                } else if room < 0.0 {
                    0
                } else {
                    ((room / per).floor() as usize).min(left)
                }
            };
            let mut take = by(limit - t, rt).min(by(cap - b, rb));
            // Never exceed a bound through rounding.
            while take > 0 && (t + take as f64 * rt > limit || b + take as f64 * rb > cap) {
                take -= 1;
            }
            t += take as f64 * rt;
            b += take as f64 * rb;
            n += take;
            used += take;
            if used == count {
                r += 1;
                used = 0;
            }
            if take < left {
                break;
            }
        }
        if n == 0 {
            return None; // a single block exceeds the limit or the capacity
        }
        out.push(n);
    }
    Some(out)
}

/// [`dp_split`] for long chains, independent of depth: bisection on the bottleneck with the
/// exact greedy decision over runs of identical blocks (O(k × runs) per step), 200 steps or
/// until the bracket is below 1e-12 relative, then the greedy split at the upper end. Its
/// largest stage time is the optimum up to that tolerance (tested against brute force).
pub fn runlength_split(chain: &LayerChain, stages: u32) -> Option<Vec<usize>> {
    let n = chain.blocks.len();
    let k = stages as usize;
    if k == 0 || n < k || chain.capacity_bytes.is_nan() || chain.capacity_bytes <= 0.0 {
        return None;
    }
    let runs = runs_of(chain);
    let cap = chain.capacity_bytes;
    let total: f64 = chain.blocks.iter().map(|b| b.seconds).sum();
    // Just above the whole chain's time, so rounding in the greedy's sums cannot reject it.
    let (mut lo, mut hi) = (0.0f64, total * (1.0 + 1e-9) + f64::MIN_POSITIVE);
    let mut best = greedy(&runs, cap, hi, k)?;
    for _ in 0..200 {
        if hi - lo <= 1e-12 * hi {
            break;
        }
        let mid = 0.5 * (lo + hi);
        match greedy(&runs, cap, mid, k) {
            Some(s) => {
                hi = mid;
                best = s;
            }
            None => lo = mid,
        }
    }
    fill_stages(&mut best, k)?;
    Some(best)
}

/// The best split of `chain` into `stages` non-empty contiguous stages by trying every one
/// (exponential; for tests): per-stage block counts and the largest stage time, or `None`
/// when none fits memory.
pub fn brute_force_split(chain: &LayerChain, stages: u32) -> Option<(Vec<usize>, f64)> {
    fn go(
        chain: &LayerChain,
        start: usize,
        left: usize,
        cur: &mut Vec<usize>,
        best: &mut Option<(Vec<usize>, f64)>,
    ) {
        let n = chain.blocks.len();
        if left == 1 {
            cur.push(n - start);
            let (load, fits) = chain.evaluate(cur);
            if fits && best.as_ref().map_or(true, |b| load < b.1) {
                *best = Some((cur.clone(), load));
            }
            cur.pop();
            return;
        }
        for len in 1..=(n - start).saturating_sub(left - 1) {
            cur.push(len);
            go(chain, start + len, left - 1, cur, best);
            cur.pop();
        }
    }
    let k = stages as usize;
    if k == 0 || chain.blocks.len() < k {
        return None;
    }
    let mut best = None;
    go(chain, 0, k, &mut Vec::new(), &mut best);
    best
}

/// The representative batch mix of `workload` for stage loads: per request, one prefill of
/// its mean prompt (at most `max_tokens` tokens a chunk) plus its mean output tokens decoded in
/// batches of `decode_batch` at the mean mid-generation context, each decode step's cost
/// shared by the batch.
pub fn batch_mix(workload: &Workload, max_tokens: u32, decode_batch: u32) -> Vec<(Batch, f64)> {
    let n = workload.requests.len().max(1) as f64;
    let prompt = workload
        .requests
        .iter()
        .map(|r| r.prompt_tokens as f64)
        .sum::<f64>()
        / n;
    let output = workload
        .requests
        .iter()
        .map(|r| r.output_tokens as f64)
        .sum::<f64>()
        / n;
    let prompt = (prompt.round() as u64).max(1);
    let chunk = prompt.min(max_tokens.max(1) as u64);
    let chunks = prompt.div_ceil(chunk) as f64;
    let b = decode_batch.max(1);
    let ctx = (prompt as f64 + output / 2.0).round().max(1.0) as u64;
    vec![
        (
            Batch {
                prefill: vec![PrefillChunk {
                    new_tokens: chunk as u32,
                    prefix: 0,
                }],
                decode: DecodeGroup::default(),
            },
            chunks,
        ),
        (
            Batch {
                prefill: vec![],
                decode: DecodeGroup::uniform(b, ctx.min(u32::MAX as u64) as u32),
            },
            output / b as f64,
        ),
    ]
}

/// For each pipelined plan of `plans` with the even split, the plan with the DP split when its
/// slowest stage is strictly faster on the chain than the even split's (or the even split
/// does not fit the chain's capacity) and it passes the exact memory check; in the order of
/// `plans`.
///
/// `opts` are the lowering options the plans are simulated with (memory settings and the
/// workload's largest request); `mix` is the representative batch mix ([`batch_mix`]).
pub fn uneven_plans(
    model: &Model,
    cluster: &Cluster,
    cost: &Arc<dyn CostModel>,
    opts: &LowerOptions,
    mix: &[(Batch, f64)],
    plans: &[Plan],
) -> Vec<Plan> {
    uneven_plans_until(
        model,
        cluster,
        cost,
        opts,
        mix,
        plans,
        &parallax_sim::Deadline::default(),
    )
    .0
}

/// [`uneven_plans`], stopping before the next plan once `deadline` has passed: the split
/// plans found so far, and whether the deadline cut the list short.
pub(crate) fn uneven_plans_until(
    model: &Model,
    cluster: &Cluster,
    cost: &Arc<dyn CostModel>,
    opts: &LowerOptions,
    mix: &[(Batch, f64)],
    plans: &[Plan],
    deadline: &parallax_sim::Deadline,
) -> (Vec<Plan>, bool) {
    let mut memo: BTreeMap<Plan, Option<Vec<u32>>> = BTreeMap::new();
    let mut out = Vec::new();
    for plan in plans {
        // Plans on named GPU kinds (mixed clusters) get their layers from the heterogeneous
        // enumerator's own split.
        if plan.pp < 2 || plan.layers.is_some() || plan.on.is_some() {
            continue;
        }
        if deadline.passed() {
            return (out, true);
        }
        let mut shape = plan.clone();
        shape.dp = 1;
        let layers = memo
            .entry(shape)
            .or_insert_with(|| {
                let chain = layer_chain(model, plan, cluster, cost.clone(), opts, mix).ok()?;
                let sizes = dp_split(&chain, plan.pp)?;
                let even: Vec<u32> = plan
                    .stages(model)
                    .ok()?
                    .iter()
                    .map(|s| s.layers())
                    .collect();
                let (load, _) = chain.evaluate(&sizes);
                let better = match chain.blocks_of(&even) {
                    Some(e) => {
                        let (even_load, even_fits) = chain.evaluate(&e);
                        !even_fits || load < even_load * (1.0 - 1e-9)
                    }
                    None => true,
                };
                better.then(|| chain.layers_of(&sizes))
            })
            .clone();
        let Some(layers) = layers else { continue };
        let candidate = plan.clone().with_layers(layers);
        // The exact checks the simulation's lowering makes (memory, paged KV blocks).
        if parallax_plan::lower_plan(model, &candidate, cluster, cost.clone(), opts).is_ok() {
            out.push(candidate);
        }
    }
    (out, false)
}

/// The `best-even-split` baseline: the best simulated plan whose pipeline (if any) is split
/// evenly, i.e. the best plan of the search without the DP's uneven splits, and the best
/// plan's gain over it (1 when the best plan is itself evenly split). `ranked` must be in
/// rank order.
pub(crate) fn best_even_baseline(
    ranked: &[RankedPlan],
    best: Option<&RankedPlan>,
    objective: Objective,
) -> Baseline {
    let mut b = Baseline::unset(
        "best-even-split",
        "the best simulated plan with every pipeline split evenly (no DP split)",
    );
    match ranked.iter().find(|r| r.plan.layers.is_none()) {
        Some(r) => {
            b.plan = Some(r.plan.clone());
            b.objective = Some(r.objective);
            b.meets_constraints = r.meets_constraints;
            b.metrics = Some(r.metrics.clone());
            b.speedup = best.and_then(|best| objective.gain(best.objective, r.objective));
        }
        None => {
            b.error = Some(
                "no evenly split plan was simulated (none fits memory and the workload's \
                 largest request, or the search stopped first)"
                    .into(),
            )
        }
    }
    b
}
