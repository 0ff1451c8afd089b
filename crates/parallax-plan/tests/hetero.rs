//! Plans on heterogeneous clusters: plan string, mapping, memory, lowering, enumeration.

use parallax_hw::{Cluster, CostModel, RooflineModel};
use parallax_ir::Batch;
use parallax_plan::{
    hetero, lower_plan, plan_memory, Constraints, LowerOptions, Mapping, Plan, PlanError,
};
use std::sync::Arc;

fn mixed() -> Cluster {
    Cluster::parse("1x8xH100+1x8xA100-80GB").unwrap()
}

fn costs(c: &Cluster) -> Vec<Arc<dyn CostModel>> {
    c.node_groups()
        .iter()
        .map(|g| Arc::new(RooflineModel::new(&g.gpu)) as Arc<dyn CostModel>)
        .collect()
}

#[test]
fn on_round_trips_and_normalises() {
    let p: Plan = "pp=2,tp=8,layers=46+34,on=h100+a100-80gb".parse().unwrap();
    assert_eq!(
        p.to_string(),
        "dp=1,pp=2,tp=8,layers=46+34,on=H100-SXM+A100-80GB-SXM"
    );
    assert_eq!(p.to_string().parse::<Plan>().unwrap(), p);
    assert_eq!(p.stage_gpu(0, 1), Some("A100-80GB-SXM"));
    let q: Plan = "dp=2,tp=8,on=H100/H100".parse().unwrap();
    assert_eq!(q.to_string(), "dp=2,pp=1,tp=8,on=H100-SXM");
    let r: Plan = "dp=2,tp=8,on=H100+H100/A100-80GB".parse().unwrap();
    assert_eq!(r.to_string(), "dp=2,pp=1,tp=8,on=H100-SXM/A100-80GB-SXM");
    // Errors name the part.
    let e = "tp=8,on=Z900".parse::<Plan>().unwrap_err();
    assert!(
        matches!(&e, PlanError::Parse { token, .. } if token.contains("z900")),
        "{e}"
    );
    let e = "pp=2,tp=8,on=H100+H100+A100-80GB"
        .parse::<Plan>()
        .unwrap_err();
    assert!(
        e.to_string().contains("on") && e.to_string().contains("pp=2"),
        "{e}"
    );
    let e = "dp=3,tp=8,on=H100/A100-80GB".parse::<Plan>().unwrap_err();
    assert!(e.to_string().contains("dp=3"), "{e}");
}

#[test]
fn mapping_packs_each_kind_into_its_group() {
    let c = mixed();
    let p: Plan = "dp=2,pp=1,tp=8,on=A100-80GB/H100".parse().unwrap();
    let m = Mapping::new(&p, &c).unwrap();
    // Replica 0 on the A100 group (ranks 8..16), replica 1 on the H100 group (0..8).
    assert_eq!(m.slots[0][0].first_rank, 8);
    assert_eq!(m.slots[1][0].first_rank, 0);
    // The A100 group's TP group uses the A100's NVLink 3.
    assert_eq!(m.stage_group(0, 0).intra.bandwidth, 300e9);
    assert_eq!(m.stage_group(1, 0).intra.bandwidth, 450e9);
    assert!(m.stage_group(0, 0).is_intra_node());
    // A pipeline across kinds sends over the network.
    let pl: Plan = "pp=2,tp=8,on=H100+A100-80GB".parse().unwrap();
    let m = Mapping::new(&pl, &c).unwrap();
    let send = m.send_group(0, 0).unwrap();
    assert!(!send.is_intra_node());
    assert_eq!(send.inter, c.inter_node);
    // Too many stages for one kind: the error names the kind's group.
    let bad: Plan = "dp=2,tp=8,on=H100".parse().unwrap();
    let e = Mapping::new(&bad, &c).unwrap_err().to_string();
    assert!(e.contains("1x8xH100-SXM"), "{e}");
    let bad: Plan = "tp=8,on=B200".parse().unwrap();
    let e = Mapping::new(&bad, &c).unwrap_err().to_string();
    assert!(e.contains("B200") && e.contains("A100-80GB-SXM"), "{e}");
}

#[test]
fn memory_is_checked_against_each_stages_gpu() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = Cluster::parse("1x4xH100+1x4xL40S").unwrap();
    let opts = Default::default();
    // 70B in bf16 (141 GB) on 4 GPUs fits both; on 2 a 48 GB L40S misses by ~29 GB more per device than an 80 GB H100.
    let miss = |p: &str| {
        plan_memory(&model, &p.parse().unwrap(), &c, &opts)
            .unwrap()
            .shortfall(16)
            .map_or(0.0, |m| m.deficit_bytes())
    };
    assert_eq!(miss("tp=4,on=H100"), 0.0);
    assert_eq!(miss("tp=4,on=L40S"), 0.0);
    assert!(miss("tp=2,on=L40S") > miss("tp=2,on=H100") + 20e9);
    // Mixed pipeline: each stage's available bytes are its own GPU's.
    let p: Plan = "pp=2,tp=4,on=H100+L40S".parse().unwrap();
    let reps = hetero::replica_memory(&model, &p, &c, &opts).unwrap();
    assert_eq!(reps.len(), 1);
    let s = &reps[0].stages;
    assert!(s[0].available_bytes > s[1].available_bytes * 1.5);
    // Homogeneous clusters: `on` naming the cluster's own GPU changes nothing.
    let homo = Cluster::parse("1x8xH100").unwrap();
    let a = plan_memory(&model, &"pp=2,tp=4".parse().unwrap(), &homo, &opts).unwrap();
    let mut b = plan_memory(&model, &"pp=2,tp=4,on=H100".parse().unwrap(), &homo, &opts).unwrap();
    b.plan = a.plan.clone();
    assert_eq!(a, b);
}

#[test]
fn lowering_prices_each_stage_on_its_own_gpu() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = mixed();
    let cs = costs(&c);
    let opts = LowerOptions::default();
    let batch = hetero::reference_batch();
    let p: Plan = "dp=2,tp=8,on=H100/A100-80GB".parse().unwrap();
    let l = hetero::lower_plan(&model, &p, &c, &cs, &opts).unwrap();
    assert_eq!(l.replicas.len(), 2);
    let t = |r: usize| l.replicas[r].stages[0].step(&batch).seconds;
    assert!(t(1) > 1.3 * t(0), "A100 {} vs H100 {}", t(1), t(0));
    // Each replica equals the homogeneous lowering on its own group.
    for (r, g) in [(0usize, 0usize), (1, 1)] {
        let gc = c.group_cluster(g).unwrap();
        let h = lower_plan(&model, &"tp=8".parse().unwrap(), &gc, cs[g].clone(), &opts).unwrap();
        assert_eq!(h.replicas[0].stages[0].step(&batch).seconds, t(r));
        assert_eq!(h.replicas[0].kv_blocks, l.replicas[r].kv_blocks);
    }
    // A single cost model for a mixed cluster is refused with a pointer to the right API.
    let e = lower_plan(&model, &p, &c, cs[0].clone(), &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("hetero::lower_plan"), "{e}");
    // Mixed pipeline: the cross-kind send is on the network.
    let pl: Plan = "pp=2,tp=8,layers=44+36,on=H100+A100-80GB".parse().unwrap();
    let l = hetero::lower_plan(&model, &pl, &c, &cs, &opts).unwrap();
    assert_eq!(l.replicas[0].stages.len(), 2);
    assert!(l.replicas[0].kv_blocks > 0);
    let _ = Batch::default();
}

#[test]
fn enumeration_on_a_mixed_cluster_has_every_family() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = mixed();
    let e = hetero::enumerate(&model, &c, &Constraints::default(), &costs(&c)).unwrap();
    let names: Vec<String> = e.plans.iter().map(|p| p.to_string()).collect();
    assert!(
        names.contains(&"dp=1,pp=1,tp=8,on=H100-SXM".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"dp=1,pp=1,tp=8,on=A100-80GB-SXM".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"dp=2,pp=1,tp=8,on=H100-SXM/A100-80GB-SXM".to_string()),
        "{names:?}"
    );
    let pipe = names
        .iter()
        .find(|n| {
            n.starts_with("dp=1,pp=2,tp=8,layers=") && n.ends_with("on=H100-SXM+A100-80GB-SXM")
        })
        .expect("a two-kind pipeline");
    // The H100 stage gets more layers than the A100 stage.
    let p: Plan = pipe.parse().unwrap();
    let l = p.layers.unwrap();
    assert!(l[0] > l[1], "{pipe}");
    // Every enumerated plan lowers.
    for p in &e.plans {
        hetero::lower_plan(&model, p, &c, &costs(&c), &LowerOptions::default())
            .unwrap_or_else(|err| panic!("{p}: {err}"));
    }
}

/// Every mapping that succeeds on a mixed cluster puts each slot's ranks in its own kind's
/// group, inside one node when the slot fits a node, and never reuses a rank.
#[test]
fn mixed_mappings_are_disjoint_and_respect_groups_and_nodes() {
    for spec in ["1x8xH100+1x8xA100-80GB", "2x4xH100+1x8xL40S+1x2xB200"] {
        let c = Cluster::parse(spec).unwrap();
        let groups = c.node_groups();
        let mut first = Vec::new();
        let mut acc = 0;
        for g in &groups {
            first.push(acc);
            acc += g.gpus();
        }
        let names: Vec<String> = groups.iter().map(|g| g.gpu.name.clone()).collect();
        let mut checked = 0;
        for dp in [1u32, 2, 3, 4] {
            for pp in [1u32, 2, 3] {
                for tp in [1u32, 2, 4, 8] {
                    // Kinds: stage s of replica r on group (r + s) % groups, and all on one group.
                    let mut variants: Vec<Vec<Vec<String>>> = (0..groups.len())
                        .map(|g| vec![vec![names[g].clone()]])
                        .collect();
                    variants.push(
                        (0..dp as usize)
                            .map(|r| {
                                (0..pp as usize)
                                    .map(|s| names[(r + s) % names.len()].clone())
                                    .collect()
                            })
                            .collect(),
                    );
                    for on in variants {
                        let p = Plan::new(dp, pp, tp).with_on(on);
                        let Ok(m) = Mapping::new(&p, &c) else {
                            continue;
                        };
                        checked += 1;
                        let kinds = hetero::stage_groups(&p, &c).unwrap();
                        let mut used = std::collections::BTreeSet::new();
                        for (r, row) in m.slots.iter().enumerate() {
                            for (s, slot) in row.iter().enumerate() {
                                let g = kinds[r][s];
                                let lo = first[g];
                                let hi = lo + groups[g].gpus();
                                assert!(
                                    slot.first_rank >= lo && slot.first_rank + slot.width <= hi,
                                    "{p} on {spec}"
                                );
                                for k in 0..slot.width {
                                    assert!(
                                        used.insert(slot.first_rank + k),
                                        "{p} on {spec}: rank reused"
                                    );
                                }
                                let gpn = groups[g].gpus_per_node;
                                if tp <= gpn {
                                    let node = |x: u32| (x - lo) / gpn;
                                    assert_eq!(
                                        node(slot.first_rank),
                                        node(slot.first_rank + tp - 1),
                                        "{p} on {spec}"
                                    );
                                    assert!(m.stage_group(r, s).is_intra_node());
                                    assert_eq!(m.stage_group(r, s).intra, groups[g].intra_node);
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 20, "{spec}: only {checked} mappings");
    }
}

/// Disaggregated pools on different GPU kinds: each pool priced on its own kind, the KV over
/// the network (or one group's NVLink when both pools share one of its nodes), each group's
/// GPUs counted apart.
#[test]
fn disaggregated_pools_run_on_their_own_kinds() {
    use parallax_plan::DisaggPlan;
    use parallax_sim::StageCost;
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = Cluster::parse("1x4xH100+1x8xA100-80GB").unwrap();
    let cs = costs(&c);
    let opts = LowerOptions::default();
    let batch = hetero::reference_batch();
    let p: DisaggPlan = "prefill=1x(tp=4,on=H100);decode=1x(tp=8,on=A100-80GB)"
        .parse()
        .unwrap();
    assert_eq!(
        p.to_string(),
        "prefill=1x(dp=1,pp=1,tp=4,on=H100-SXM);decode=1x(dp=1,pp=1,tp=8,on=A100-80GB-SXM)"
    );
    let (replicas, d) = hetero::lower_disaggregated(&model, &p, &c, &cs, &opts).unwrap();
    assert_eq!((replicas.len(), d.prefill_replicas), (2, 1));
    for (r, (g, plan)) in [(0usize, "tp=4"), (1, "tp=8")].into_iter().enumerate() {
        let alone = lower_plan(
            &model,
            &plan.parse().unwrap(),
            &c.group_cluster(g).unwrap(),
            cs[g].clone(),
            &opts,
        )
        .unwrap();
        assert_eq!(
            replicas[r].stages[0].step(&batch),
            alone.stages[0][0].step(&batch)
        );
        assert_eq!(replicas[r].kv_blocks, alone.replicas[0].kv_blocks);
    }
    // Four lanes (the narrower pool's GPUs) of the network.
    assert_eq!(d.kv_link.bandwidth, 4.0 * c.inter_node.bandwidth);
    // Both pools inside one A100 node: the A100's NVLink.
    let same: DisaggPlan = "prefill=1x(tp=4,on=A100-80GB);decode=1x(tp=4,on=A100-80GB)"
        .parse()
        .unwrap();
    let (_, d) = hetero::lower_disaggregated(&model, &same, &c, &cs, &opts).unwrap();
    assert_eq!(
        d.kv_link.bandwidth,
        4.0 * c.node_groups()[1].intra_node.bandwidth
    );
    // A kind short of GPUs is named, though the cluster has 12.
    let over: DisaggPlan = "prefill=2x(tp=4,on=H100);decode=1x(tp=4,on=A100-80GB)"
        .parse()
        .unwrap();
    let e = hetero::lower_disaggregated(&model, &over, &c, &cs, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("8 GPUs of H100-SXM") && e.contains("1x4xH100-SXM"),
        "{e}"
    );
    // One cost model for a mixed cluster is refused, naming the cluster.
    let e = parallax_plan::lower_disaggregated(&model, &p, &c, cs[0].clone(), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cluster") && e.contains("hetero::lower_disaggregated"),
        "{e}"
    );
}

/// Mixed replicas on every set of two or more groups: a kind too small for the model does not
/// keep the others from sharing a shape.
#[test]
fn mixed_replicas_on_subsets_of_the_groups() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = Cluster::parse("1x8xH100+1x8xA100-80GB+1x2xL40S").unwrap();
    let e = hetero::enumerate(&model, &c, &Constraints::default(), &costs(&c)).unwrap();
    let names: Vec<String> = e.plans.iter().map(|p| p.to_string()).collect();
    assert!(
        names.contains(&"dp=2,pp=1,tp=8,on=H100-SXM/A100-80GB-SXM".to_string()),
        "{names:?}"
    );
    // Two L40S cannot hold 70B: no plan runs a replica on them alone.
    assert!(!names.iter().any(|n| n.ends_with("on=L40S")), "{names:?}");
    // The whole cluster's sets stay: on two groups of one kind each, the full set.
    let two = mixed();
    let e = hetero::enumerate(&model, &two, &Constraints::default(), &costs(&two)).unwrap();
    assert!(e
        .plans
        .iter()
        .any(|p| p.to_string() == "dp=2,pp=1,tp=8,on=H100-SXM/A100-80GB-SXM"));
}
