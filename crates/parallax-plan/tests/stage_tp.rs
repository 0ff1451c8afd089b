//! Per-stage TP widths (`tp=a+b+…`): plan string, mapping, memory, lowering, the per-stage
//! chain split and the enumeration of mixed pipelines whose kinds run at their own widths.

use parallax_hw::{Cluster, CostModel, RooflineModel};
use parallax_ir::CollectiveKind;
use parallax_plan::split::{ChainBlock, LayerChain};
use parallax_plan::{
    hetero, lower_plan, plan_memory, Constraints, LowerOptions, Mapping, Plan, PlanError,
};
use parallax_sim::StageCost;
use proptest::prelude::*;
use std::sync::Arc;

/// 1×4 H100 + 1×8 A100-80GB: the same weights fit four H100s or eight A100s.
fn mixed() -> Cluster {
    Cluster::parse("1x4xH100+1x8xA100-80GB").unwrap()
}

fn costs(c: &Cluster) -> Vec<Arc<dyn CostModel>> {
    c.node_groups()
        .iter()
        .map(|g| Arc::new(RooflineModel::new(&g.gpu)) as Arc<dyn CostModel>)
        .collect()
}

/// Node group `g` of `c` as a homogeneous cluster of `nodes` nodes (room for a two-stage
/// pipeline of the group's width).
fn group_nodes(c: &Cluster, g: usize, nodes: u32) -> Cluster {
    Cluster {
        nodes,
        ..c.group_cluster(g).unwrap()
    }
}

#[test]
fn per_stage_widths_round_trip_and_normalise() {
    let p: Plan = "pp=2,tp=4+8,layers=40+40,on=h100+a100-80gb"
        .parse()
        .unwrap();
    assert_eq!(
        p.to_string(),
        "dp=1,pp=2,tp=4+8,layers=40+40,on=H100-SXM+A100-80GB-SXM"
    );
    assert_eq!(p.to_string().parse::<Plan>().unwrap(), p);
    assert_eq!((p.tp, p.stage_width(0), p.stage_width(1)), (8, 4, 8));
    assert_eq!(p.stage_tp, Some(vec![4, 8]));
    assert_eq!((p.replica_devices(), p.devices()), (12, 12));
    let q: Plan = "dp=2,pp=3,tp=2+4+2".parse().unwrap();
    assert_eq!(q.devices(), 16);
    // Equal widths collapse to the plain `tp`, from the string and from the builder.
    let r: Plan = "pp=2,tp=8+8".parse().unwrap();
    assert_eq!(r.to_string(), "dp=1,pp=2,tp=8");
    assert_eq!(r, Plan::new(1, 2, 8));
    assert_eq!(
        Plan::new(1, 2, 1).with_stage_tp(vec![8, 8]),
        Plan::new(1, 2, 8)
    );
    assert_eq!(
        Plan::new(1, 2, 1).with_stage_tp(vec![4, 8]).to_string(),
        "dp=1,pp=2,tp=4+8"
    );
}

#[test]
fn per_stage_widths_reject_bad_input_naming_the_part() {
    // One width per stage.
    let e = "pp=3,tp=4+8".parse::<Plan>().unwrap_err();
    assert!(
        matches!(&e, PlanError::Inconsistent { field, .. } if field == "tp"),
        "{e}"
    );
    assert!(e.to_string().contains("2 stage widths") && e.to_string().contains("pp=3"));
    // Equal widths still count: one per stage.
    let e = "pp=3,tp=8+8".parse::<Plan>().unwrap_err();
    assert!(e.to_string().contains("2 stage widths"), "{e}");
    assert_eq!("pp=2,tp=8+8".parse::<Plan>().unwrap(), Plan::new(1, 2, 8));
    // No cell layouts beside them.
    for s in [
        "pp=2,tp=4+8,ep=2",
        "pp=2,tp=4+8,attn=2xtp2",
        "pp=2,tp=4+8,moe=ep4",
    ] {
        let e = s.parse::<Plan>().unwrap_err();
        assert!(
            matches!(&e, PlanError::Inconsistent { field, .. } if field == "tp"),
            "{s}: {e}"
        );
    }
    for s in ["pp=2,tp=4+0", "pp=2,tp=4+", "pp=2,tp=4+x"] {
        let e = s.parse::<Plan>().unwrap_err();
        assert!(matches!(&e, PlanError::Parse { .. }), "{s}: {e}");
    }
    // A struct built by hand is checked too.
    let mut p = Plan::new(1, 2, 8);
    p.stage_tp = Some(vec![4, 2]);
    assert!(p.check_shape().unwrap_err().to_string().contains("widest"));
    // Heads must suit every stage's width.
    let model = parallax_ir::resolve("llama-3.1-8b").unwrap(); // 8 KV heads, 32 heads
    let c = Cluster::parse("2x8xH100").unwrap();
    let e = parallax_plan::validate(&model, &"pp=2,tp=8+3".parse().unwrap(), &c).unwrap_err();
    assert!(e.to_string().contains("stage 1 (tp=3)"), "{e}");
}

fn arb_stage_plan() -> impl Strategy<Value = Plan> {
    (
        1u32..=4,
        prop::collection::vec(prop::sample::select(vec![1u32, 2, 4, 8]), 2..6),
    )
        .prop_map(|(dp, widths)| Plan::new(dp, widths.len() as u32, 1).with_stage_tp(widths))
}

proptest! {
    #[test]
    fn per_stage_strings_round_trip(plan in arb_stage_plan()) {
        let s = plan.to_string();
        let back: Plan = s.parse().unwrap();
        prop_assert_eq!(&back, &plan);
        prop_assert_eq!(back.to_string(), s);
        prop_assert!(plan.check_shape().is_ok());
    }
}

#[test]
fn mapping_gives_each_stage_its_width() {
    let c = mixed();
    let p: Plan = "pp=2,tp=4+8,on=H100+A100-80GB".parse().unwrap();
    let m = Mapping::new(&p, &c).unwrap();
    assert_eq!(m.slots[0][0].first_rank, 0);
    assert_eq!(m.slots[0][0].width, 4);
    assert_eq!(m.slots[0][1].first_rank, 4);
    assert_eq!(m.slots[0][1].width, 8);
    assert_eq!(m.stage_group(0, 0).size, 4);
    assert_eq!(m.stage_group(0, 1).size, 8);
    assert!(m.stage_group(0, 1).is_intra_node());
    assert!(!m.send_group(0, 0).unwrap().is_intra_node());
    // On a homogeneous node: slots of different widths, a TP group never straddling a node.
    let node = Cluster::parse("1x8xH100").unwrap();
    let m = Mapping::new(&"pp=2,tp=2+4".parse().unwrap(), &node).unwrap();
    assert_eq!(
        m.slots[0]
            .iter()
            .map(|s| (s.first_rank, s.width))
            .collect::<Vec<_>>(),
        vec![(0, 2), (2, 4)]
    );
    let e = Mapping::new(&"pp=2,tp=4+8".parse().unwrap(), &node)
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs 12 devices of H100-SXM"), "{e}");
    let e = Mapping::new(&"pp=3,tp=4+2+4".parse().unwrap(), &node)
        .unwrap_err()
        .to_string();
    assert!(e.contains("tp") && e.contains("1x8xH100-SXM"), "{e}");
    // Every stage of every replica gets its own disjoint ranks.
    let two = Cluster::parse("2x8xH100").unwrap();
    let m = Mapping::new(&"dp=2,pp=3,tp=4+2+2".parse().unwrap(), &two).unwrap();
    let mut used = std::collections::BTreeSet::new();
    for row in &m.slots {
        for (s, slot) in row.iter().enumerate() {
            assert_eq!(slot.width, [4, 2, 2][s]);
            for k in 0..slot.width {
                assert!(used.insert(slot.first_rank + k));
            }
        }
    }
}

#[test]
fn memory_checks_each_stage_at_its_width_on_its_gpu() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = mixed();
    let opts = Default::default();
    let p: Plan = "pp=2,tp=4+8,layers=40+40,on=H100+A100-80GB"
        .parse()
        .unwrap();
    let reps = hetero::replica_memory(&model, &p, &c, &opts).unwrap();
    // Each stage equals that stage of the plan with its width everywhere, on its own GPU.
    let h100 = plan_memory(
        &model,
        &"pp=2,tp=4,layers=40+40".parse().unwrap(),
        &group_nodes(&c, 0, 2),
        &opts,
    )
    .unwrap();
    let a100 = plan_memory(
        &model,
        &"pp=2,tp=8,layers=40+40".parse().unwrap(),
        &group_nodes(&c, 1, 2),
        &opts,
    )
    .unwrap();
    assert_eq!(reps[0].stages[0], h100.stages[0]);
    assert_eq!(reps[0].stages[1], a100.stages[1]);
    // Four devices hold twice the weights per device of eight.
    let s = &reps[0].stages;
    assert!(s[0].weights_bytes > 1.8 * s[1].weights_bytes);
    // plan_memory gives the same report; the KV capacity is the smaller stage's.
    let m = plan_memory(&model, &p, &c, &opts).unwrap();
    assert_eq!(m.stages, reps[0].stages);
    assert_eq!(
        m.kv_blocks(),
        h100.stages[0].kv_tokens().min(a100.stages[1].kv_tokens()) / 16
    );
}

#[test]
fn lowering_prices_each_stage_at_its_width_and_the_hand_off_honestly() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = mixed();
    let cs = costs(&c);
    let opts = LowerOptions::default();
    let batch = hetero::reference_batch(); // has a prefill chunk: an eager iteration
    let tokens = batch.tokens() as f64;
    let p: Plan = "pp=2,tp=4+8,layers=40+40,on=H100+A100-80GB"
        .parse()
        .unwrap();
    let l = hetero::lower_plan(&model, &p, &c, &cs, &opts).unwrap();
    assert_eq!(l.replicas[0].gpus, 12);
    let mixed_step = |s: usize| l.replicas[0].stages[s].step(&batch);
    // The last stage equals the last stage of `tp=8` on the A100s.
    let a100 = lower_plan(
        &model,
        &"pp=2,tp=8,layers=40+40".parse().unwrap(),
        &group_nodes(&c, 1, 2),
        cs[1].clone(),
        &opts,
    )
    .unwrap();
    assert_eq!(a100.stages[0][1].step(&batch), mixed_step(1));
    // The first stage is `tp=4` on the H100s, except for the hand-off: four senders feed
    // eight receivers, two rounds of whole activations over the network instead of one.
    let h100 = lower_plan(
        &model,
        &"pp=2,tp=4,layers=40+40".parse().unwrap(),
        &group_nodes(&c, 0, 2),
        cs[0].clone(),
        &opts,
    )
    .unwrap();
    let send = l.mapping.send_group(0, 0).unwrap();
    let one = cs[0].collective(
        CollectiveKind::SendRecv,
        tokens * model.hidden_size as f64 * model.precision.activations.bytes(),
        &send,
    );
    assert!(one > 0.0);
    let comm = |s: &parallax_sim::StepCost| s.breakdown[3];
    let extra = comm(&mixed_step(0)) - comm(&h100.stages[0][0].step(&batch));
    assert!(
        (extra - one).abs() <= 1e-9 * one.max(1e-12),
        "{extra} vs {one}"
    );
    // Narrowing (8 → 4) is one round: the same communication as the equal-width hand-off.
    let q: Plan = "pp=2,tp=8+4,layers=40+40,on=A100-80GB+H100"
        .parse()
        .unwrap();
    let lq = hetero::lower_plan(&model, &q, &c, &cs, &opts).unwrap();
    let a100_first = &a100.stages[0][0];
    assert_eq!(
        comm(&lq.replicas[0].stages[0].step(&batch)),
        comm(&a100_first.step(&batch))
    );
    // Per-GPU figures are weighted by the stages' widths (4 H100 and 8 A100).
    let (h, a) = (&c.node_groups()[0].gpu, &c.node_groups()[1].gpu);
    let tdp = (4.0 * h.tdp_watts + 8.0 * a.tdp_watts) / 12.0;
    assert!((l.replicas[0].power.busy_watts - tdp).abs() < 1e-9);
}

/// Every split of `b` blocks into `chains.len()` non-empty contiguous stages: the best
/// slowest-stage time within every stage's capacity, or `None`.
fn brute_force(chains: &[LayerChain]) -> Option<f64> {
    let pp = chains.len();
    let b = chains[0].blocks.len();
    let mut best: Option<f64> = None;
    let mut stack = vec![(Vec::<usize>::new(), 0usize)];
    while let Some((sizes, used)) = stack.pop() {
        let s = sizes.len();
        if s + 1 == pp {
            let mut all = sizes.clone();
            all.push(b - used);
            if b - used == 0 {
                continue;
            }
            let mut start = 0;
            let mut worst: f64 = 0.0;
            let mut fits = true;
            for (k, &n) in all.iter().enumerate() {
                let blocks = &chains[k].blocks[start..start + n];
                worst = worst.max(blocks.iter().map(|x| x.seconds).sum());
                fits &= blocks.iter().map(|x| x.bytes).sum::<f64>() <= chains[k].capacity_bytes;
                start += n;
            }
            if fits && best.map_or(true, |v| worst < v) {
                best = Some(worst);
            }
            continue;
        }
        for n in 1..=(b - used).saturating_sub(pp - s - 1) {
            let mut next = sizes.clone();
            next.push(n);
            stack.push((next, used + n));
        }
    }
    best
}

fn arb_chains() -> impl Strategy<Value = Vec<LayerChain>> {
    (2usize..=4, 4usize..=9).prop_flat_map(|(pp, b)| {
        prop::collection::vec(
            (
                prop::collection::vec((0.1f64..5.0, 0.0f64..3.0), b),
                2.0f64..12.0,
            ),
            pp,
        )
        .prop_map(|stages| {
            stages
                .into_iter()
                .map(|(blocks, capacity_bytes)| LayerChain {
                    blocks: blocks
                        .into_iter()
                        .map(|(seconds, bytes)| ChainBlock {
                            layers: 1,
                            seconds,
                            bytes,
                        })
                        .collect(),
                    capacity_bytes,
                })
                .collect()
        })
    })
}

proptest! {
    /// The per-stage chain split equals brute force over every split (value and
    /// feasibility), each stage priced and bounded by its own chain.
    #[test]
    fn chain_split_equals_brute_force(chains in arb_chains()) {
        let refs: Vec<&LayerChain> = chains.iter().collect();
        let got = hetero::chain_split(&refs);
        let want = brute_force(&chains);
        prop_assert_eq!(got.is_some(), want.is_some(), "{:?} vs {:?}", got, want);
        if let (Some(sizes), Some(best)) = (got, want) {
            prop_assert_eq!(sizes.len(), chains.len());
            prop_assert!(sizes.iter().all(|&n| n > 0));
            prop_assert_eq!(sizes.iter().sum::<usize>(), chains[0].blocks.len());
            let mut start = 0;
            let mut worst: f64 = 0.0;
            for (k, &n) in sizes.iter().enumerate() {
                let blocks = &chains[k].blocks[start..start + n];
                worst = worst.max(blocks.iter().map(|x| x.seconds).sum());
                prop_assert!(
                    blocks.iter().map(|x| x.bytes).sum::<f64>()
                        <= chains[k].capacity_bytes * (1.0 + 1e-12)
                );
                start += n;
            }
            prop_assert!((worst - best).abs() <= 1e-9 * best, "{} vs {}", worst, best);
        }
    }
}

#[test]
fn chain_split_gives_the_slower_stage_fewer_blocks() {
    let chain = |secs: f64| LayerChain {
        blocks: (0..10)
            .map(|_| ChainBlock {
                layers: 1,
                seconds: secs,
                bytes: 1.0,
            })
            .collect(),
        capacity_bytes: 100.0,
    };
    let (fast, slow) = (chain(1.0), chain(2.0));
    // max(n, 2·(10 − n)) is smallest at n = 7 (7 vs 6).
    assert_eq!(hetero::chain_split(&[&fast, &slow]), Some(vec![7, 3]));
    assert_eq!(hetero::chain_split(&[&slow, &fast]), Some(vec![3, 7]));
    // Memory binds: the fast stage may hold at most 5 blocks.
    let small = LayerChain {
        capacity_bytes: 5.0,
        ..fast.clone()
    };
    assert_eq!(hetero::chain_split(&[&small, &slow]), Some(vec![5, 5]));
    let tiny = LayerChain {
        capacity_bytes: 0.5,
        ..fast.clone()
    };
    assert_eq!(hetero::chain_split(&[&tiny, &slow]), None);
    // Chains of different blocks, or fewer blocks than stages, have no split.
    let short = LayerChain {
        blocks: fast.blocks[..3].to_vec(),
        ..fast.clone()
    };
    assert_eq!(hetero::chain_split(&[&fast, &short]), None);
    assert_eq!(hetero::chain_split(&[&short, &short, &short, &short]), None);
    assert_eq!(hetero::chain_split(&[]), None);
}

#[test]
fn enumeration_gives_each_kind_its_own_width() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = mixed();
    let cs = costs(&c);
    let e = hetero::enumerate(&model, &c, &Constraints::default(), &cs).unwrap();
    let names: Vec<String> = e.plans.iter().map(|p| p.to_string()).collect();
    let per_stage: Vec<&Plan> = e.plans.iter().filter(|p| p.stage_tp.is_some()).collect();
    assert!(!per_stage.is_empty(), "{names:?}");
    // Four H100s at tp=4 then eight A100s at tp=8, and the reverse order.
    for prefix in ["dp=1,pp=2,tp=4+8,layers=", "dp=1,pp=2,tp=8+4,layers="] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "{prefix}: {names:?}"
        );
    }
    // Same-width pipelines are still there (tp=4: one H100 stage, two A100 stages).
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("dp=1,pp=3,tp=4,layers=")),
        "{names:?}"
    );
    for p in &e.plans {
        let l = hetero::lower_plan(&model, p, &c, &cs, &LowerOptions::default())
            .unwrap_or_else(|err| panic!("{p}: {err}"));
        // Every GPU of each kind a pipeline names is used.
        if p.stage_tp.is_some() {
            assert_eq!(p.devices(), 12, "{p}");
            assert_eq!(l.replicas.iter().map(|r| r.gpus).sum::<u32>(), 12);
        }
    }
}

#[test]
fn pipelines_span_up_to_three_kinds() {
    let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let c = Cluster::parse("1x4xH100+1x4xA100-80GB+1x2xL40S").unwrap();
    let cs = costs(&c);
    let e = hetero::enumerate(&model, &c, &Constraints::default(), &cs).unwrap();
    let kinds_of = |p: &Plan| {
        let mut k: Vec<usize> = hetero::stage_groups(p, &c).unwrap()[0].clone();
        k.dedup();
        k
    };
    let three: Vec<&Plan> = e.plans.iter().filter(|p| kinds_of(p).len() == 3).collect();
    assert!(!three.is_empty());
    // Every order of the three kinds, each kind's stages in one run at one width, every GPU
    // of the three groups used; some with a width per kind.
    let mut orders: Vec<Vec<usize>> = three.iter().map(|p| kinds_of(p)).collect();
    orders.sort();
    orders.dedup();
    assert_eq!(orders.len(), 6, "{orders:?}");
    assert!(three.iter().any(|p| p.stage_tp.is_some()));
    for p in &three {
        assert_eq!(p.devices(), 10, "{p}");
        let row = &hetero::stage_groups(p, &c).unwrap()[0];
        for s in 1..p.pp as usize {
            if row[s] == row[s - 1] {
                assert_eq!(p.stage_width(s), p.stage_width(s - 1), "{p}");
            }
        }
        let l = hetero::lower_plan(&model, p, &c, &cs, &LowerOptions::default())
            .unwrap_or_else(|err| panic!("{p}: {err}"));
        assert_eq!(l.replicas.iter().map(|r| r.gpus).sum::<u32>(), 10);
    }
    // No pipeline spans more than `MAX_PIPELINE_KINDS` kinds.
    assert_eq!(hetero::MAX_PIPELINE_KINDS, 3);
    let four = Cluster::parse("1x2xH100+1x2xA100-80GB+1x2xL40S+1x2xB200").unwrap();
    let e = hetero::enumerate(&model, &four, &Constraints::default(), &costs(&four)).unwrap();
    assert!(e.plans.iter().all(|p| {
        let mut k = hetero::stage_groups(p, &four).unwrap()[0].clone();
        k.sort();
        k.dedup();
        k.len() <= 3
    }));
}
