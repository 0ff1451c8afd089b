//! Replicated MoE cells (`moe=RxepExtpT`, APEX+'s `SwiMoE=2xtp4`): enumeration, memory
//! (every replica holds all experts), mapping and lowering (tokens split across replicas).

use parallax_hw::{Cluster, RooflineModel};
use parallax_ir::{Batch, Cell, CellShard, DecodeGroup, PrefillChunk};
use parallax_plan::{
    enumerate, lower_plan, plan_memory, validate, Constraints, LowerOptions, Mapping,
    MemoryOptions, MoeLayout, Plan, PlanError,
};
use parallax_sim::StageCost;
use std::sync::Arc;

fn plan(s: &str) -> Plan {
    s.parse().unwrap()
}

#[test]
fn mixtral_8x22b_search_space_has_replicated_moe_cells() {
    let model = parallax_ir::resolve("mixtral-8x22b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let e = enumerate(&model, &cluster, &Constraints::default()).unwrap();
    let names: Vec<String> = e.plans.iter().map(|p| p.to_string()).collect();
    assert!(
        names.iter().any(|p| p == "dp=1,pp=1,tp=8,moe=2xep1xtp4"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|p| p == "dp=1,pp=1,tp=8,moe=2xep2xtp2"),
        "{names:?}"
    );
    let replicated = e.plans.iter().filter(|p| p.moe.replicas > 1).count();
    assert!(replicated >= 4, "{replicated}: {names:?}");
    // Every kept plan is distinct and valid.
    let mut d = names.clone();
    d.sort();
    d.dedup();
    assert_eq!(d.len(), names.len());
    for p in &e.plans {
        validate(&model, p, &cluster).unwrap();
    }
    // Without FFN replicas none is generated.
    let mut c = Constraints::default();
    c.allowed.mlp_replicas = false;
    let e = enumerate(&model, &cluster, &c).unwrap();
    assert!(e.plans.iter().all(|p| p.moe.replicas == 1));
}

#[test]
fn dense_models_get_no_moe_variants() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let e = enumerate(&model, &cluster, &Constraints::default()).unwrap();
    assert!(e.plans.iter().all(|p| p.moe == MoeLayout::new(1, p.tp)));
    // The replicas variant of a dense model is rejected by name.
    let err = validate(&model, &plan("tp=8,moe=2xtp4"), &cluster).unwrap_err();
    assert!(
        matches!(&err, PlanError::Inconsistent { field, .. } if field == "moe"),
        "{err}"
    );
}

#[test]
fn every_replica_holds_all_experts() {
    let model = parallax_ir::resolve("mixtral-8x7b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let o = MemoryOptions::default();
    let w = |p: &str| plan_memory(&model, &plan(p), &cluster, &o).unwrap().stages[0].clone();
    // Bytes per device of the MoE cells under `a` minus under `b`.
    let moe_delta = |a: CellShard, b: CellShard| {
        let p = &model.precision;
        let mut d = 0.0;
        for run in &model.runs {
            for cell in &run.block.cells {
                if let Cell::Moe(_) = cell {
                    d += run.repeat as f64
                        * (cell.weight_bytes_per_device(a, p) - cell.weight_bytes_per_device(b, p));
                }
            }
        }
        d
    };
    // Exactly the MoE cells change: each device holds 1/4 of every expert instead of 1/8.
    let tp8 = w("tp=8");
    let rep = w("tp=8,moe=2xtp4");
    let extra = moe_delta(CellShard::tp(4), CellShard::tp(8));
    assert!(extra > 0.0);
    let got = rep.weights_bytes - tp8.weights_bytes;
    assert!((got - extra).abs() <= 1e-6 * extra, "{got} vs {extra}");
    // Same KV per token (attention untouched).
    assert_eq!(rep.kv_bytes_per_token, tp8.kv_bytes_per_token);
    // `2xep4xtp1`: each replica spreads all 8 experts over its 4 devices, 2 whole experts a
    // device, twice what `ep8xtp1` (one whole expert a device) holds.
    let a = w("tp=8,moe=2xep4xtp1");
    let b = w("tp=8,moe=ep8xtp1");
    let extra = moe_delta(CellShard { tp: 1, ep: 4 }, CellShard { tp: 1, ep: 8 });
    assert!(extra > 0.0);
    let got = a.weights_bytes - b.weights_bytes;
    assert!((got - extra).abs() <= 1e-6 * extra, "{got} vs {extra}");
}

#[test]
fn replicas_take_consecutive_ranks() {
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let m = Mapping::new(&plan("tp=8,moe=2xep2xtp2"), &cluster).unwrap();
    // The EP group of replica 0: ranks 0 and 2 (stride tp), inside the node.
    let g = m.strided_group(0, 0, 2, 2);
    assert_eq!((g.size, g.per_node), (2, 2));
}

fn batches() -> Vec<Batch> {
    vec![
        Batch {
            prefill: vec![],
            decode: DecodeGroup::uniform(64, 1000),
        },
        Batch {
            prefill: vec![PrefillChunk {
                new_tokens: 2048,
                prefix: 0,
            }],
            decode: DecodeGroup::uniform(16, 500),
        },
    ]
}

#[test]
fn lowering_splits_tokens_across_moe_replicas() {
    let model = parallax_ir::resolve("mixtral-8x7b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let o = LowerOptions::default();
    let step = |p: &str, b: &Batch| {
        let l = lower_plan(&model, &plan(p), &cluster, cost.clone(), &o).unwrap();
        l.stages[0][0].step(b)
    };
    for b in batches() {
        // Per-device expert work is the same whether 8 devices hold one MoE of 8 expert
        // groups or two replicas of 4 groups each take half the tokens: a replica that saw
        // every token would double the routed FLOPs.
        let ep8 = step("tp=8,moe=ep8xtp1", &b);
        let rep = step("tp=8,moe=2xep4xtp1", &b);
        let rel = (rep.flops - ep8.flops).abs() / ep8.flops;
        assert!(rel < 0.02, "{} vs {} ({rel})", rep.flops, ep8.flops);
        // Two TP-4 replicas on half the tokens each: per-device FLOPs no more than TP-8 on
        // all tokens (the replicated router runs on half the tokens), and close to it.
        let tp8 = step("tp=8", &b);
        let tp = step("tp=8,moe=2xtp4", &b);
        assert!(
            tp.flops <= tp8.flops * 1.0001,
            "{} vs {}",
            tp.flops,
            tp8.flops
        );
        assert!(tp.flops > 0.9 * tp8.flops, "{} vs {}", tp.flops, tp8.flops);
        // Leaving the MoE, the two replicas' halves are gathered back: communication.
        assert!(tp.breakdown[3] > 0.0);
        assert!(tp.seconds > 0.0 && tp.seconds.is_finite());
    }
}
