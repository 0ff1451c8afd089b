//! The enumerator: plan families, counts, pruning soundness, depth independence, baselines,
//! and the "no feasible plan" explanation.

use parallax_hw::{Cluster, RooflineModel};
use parallax_plan::{
    enumerate, heuristic_plan, lower, max_tp_plan, Constraints, LowerOptions, MemoryOptions, Plan,
    PlanError, PruneReason,
};
use std::sync::Arc;

#[test]
fn llama70b_on_8_h100_covers_apex_families() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let e = enumerate(&model, &cluster, &Constraints::default()).unwrap();
    let names: Vec<String> = e.plans.iter().map(|p| p.to_string()).collect();
    for want in [
        "dp=1,pp=1,tp=8",
        "dp=2,pp=1,tp=4",
        "dp=1,pp=2,tp=4",
        "dp=1,pp=4,tp=2",
        "dp=1,pp=8,tp=1",
        "dp=1,pp=1,tp=8,attn=2xtp4",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    // dp=8,tp=1 and dp=4,tp=2 cannot hold 141 GB of weights.
    assert!(!names.iter().any(|n| n.starts_with("dp=8,pp=1,tp=1")));
    assert!(e.pruned_for(PruneReason::Memory) > 0);
    assert!(e.pruned_for(PruneReason::Symmetry) > 0); // EP variants of a dense model
    let pruned: u64 = e.pruned.values().sum();
    assert_eq!(e.enumerated, pruned + e.kept);
    assert_eq!(e.kept, e.plans.len() as u64);
}

#[test]
fn moe_model_gets_ep_plans() {
    let model = parallax_ir::resolve("mixtral-8x22b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let e = enumerate(&model, &cluster, &Constraints::default()).unwrap();
    assert!(e.plans.iter().any(|p| p.moe.ep == 8), "{:?}", e.plans);
    assert!(e.plans.iter().any(|p| p.moe.ep == 2 && p.moe.tp == 4));
}

/// Every pruned plan is really infeasible: lowering it fails for the same reason, and every
/// kept plan lowers.
#[test]
fn pruning_is_sound() {
    for (m, c, req) in [
        ("llama-3.1-70b", "1x8xH100", 8192u64),
        ("mixtral-8x7b", "1x8xH100", 32_768),
        ("gpt-oss-120b", "1x8xH100", 100_000),
        ("qwen3-30b-a3b", "1x4xH100", 4096),
    ] {
        let model = parallax_ir::resolve(m).unwrap();
        let cluster = Cluster::parse(c).unwrap();
        let cost = Arc::new(RooflineModel::new(&cluster.gpu));
        let cons = Constraints {
            required_kv_tokens: req,
            record_pruned: true,
            allowed: parallax_plan::Allowed {
                mlp_replicas: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let e = enumerate(&model, &cluster, &cons).unwrap();
        let opts = LowerOptions {
            required_kv_tokens: req,
            ..Default::default()
        };
        for (plan, reason) in &e.pruned_plans {
            let r = lower(&model, plan, &cluster, cost.clone(), &opts);
            match (reason, r) {
                (PruneReason::Memory, Err(PlanError::Memory(miss))) => {
                    assert!(miss.deficit_bytes() > 0.0)
                }
                (
                    PruneReason::Divisibility | PruneReason::Topology,
                    Err(PlanError::Inconsistent { .. }),
                ) => {}
                (reason, other) => {
                    panic!("{m} {plan}: pruned for {reason:?} but lowering gave {other:?}")
                }
            }
        }
        for plan in &e.plans {
            lower(&model, plan, &cluster, cost.clone(), &opts)
                .unwrap_or_else(|err| panic!("{m} {plan}: kept but {err}"));
        }
        assert!(!e.plans.is_empty(), "{m}");
    }
}

#[test]
fn enumeration_does_not_depend_on_depth() {
    let shallow = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let mut deep = shallow.clone();
    deep.runs[0].repeat *= 16; // 512 layers
    let cluster = Cluster::parse("2x8xH200").unwrap();
    let cons = Constraints {
        memory: MemoryOptions::default(),
        ..Default::default()
    };
    let a = enumerate(&shallow, &cluster, &cons).unwrap();
    let b = enumerate(&deep, &cluster, &cons).unwrap();
    // Same candidates; the deeper model only has more memory misses.
    assert_eq!(a.enumerated, b.enumerated);
    assert!(b.pruned_for(PruneReason::Memory) >= a.pruned_for(PruneReason::Memory));
}

#[test]
fn no_feasible_plan_says_by_how_much() {
    let model = parallax_ir::resolve("llama-3.1-405b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let e = enumerate(&model, &cluster, &Constraints::default()).unwrap();
    assert!(e.plans.is_empty());
    let miss = e.closest_miss.clone().unwrap();
    // 405B in bf16 is ~810 GB; 4 GPUs hold ~310 GB: each device misses by > 100 GB.
    assert!(miss.deficit_bytes() > 1e11, "{miss}");
    let why = e.infeasibility().unwrap();
    assert!(why.contains("misses by"), "{why}");
    let h = heuristic_plan(&model, &cluster, &MemoryOptions::default(), 0).unwrap_err();
    assert!(matches!(h, PlanError::Memory(_)), "{h}");
}

#[test]
fn baselines() {
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let m8 = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let m70 = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let mem = MemoryOptions::default();
    assert_eq!(
        heuristic_plan(&m8, &cluster, &mem, 0).unwrap(),
        Plan::new(8, 1, 1)
    );
    // 70.6 GB of weights per device at TP2 leaves ~5 GB of KV (~30k tokens): the smallest
    // footprint that fits; a 64k-token request needs TP4.
    assert_eq!(
        heuristic_plan(&m70, &cluster, &mem, 0).unwrap(),
        Plan::new(4, 1, 2)
    );
    assert_eq!(
        heuristic_plan(&m70, &cluster, &mem, 65_536).unwrap(),
        Plan::new(2, 1, 4)
    );
    assert_eq!(
        max_tp_plan(&m70, &cluster, &mem, 0).unwrap(),
        Plan::new(1, 1, 8)
    );
    assert_eq!(
        max_tp_plan(&m8, &cluster, &mem, 0).unwrap(),
        Plan::new(1, 1, 8)
    );
    let two = Cluster::parse("2x8xH100").unwrap();
    let m405 = parallax_ir::resolve("llama-3.1-405b").unwrap();
    assert_eq!(
        heuristic_plan(&m405, &two, &mem, 0).unwrap(),
        Plan::new(1, 2, 8)
    );
}

/// Memory feasibility agrees with what the simulator admits, pipeline engines included: with
/// `pp` stages each virtual engine gets `1/pp` of the KV cache, so a kept plan must let the
/// simulator admit the largest request, and a plan pruned for memory must make it reject it.
#[test]
fn memory_feasibility_matches_simulator_admission() {
    use parallax_sim::workload::{Request, Workload};
    use parallax_sim::{SchedulerConfig, SimConfig, Simulator};
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let req = 60_000u64;
    let mut kept_pp = 0;
    let mut pruned_pp = 0;
    for util in [0.3, 0.35, 0.45, 0.6, 0.9] {
        let memory = parallax_plan::MemoryOptions {
            gpu_memory_utilization: util,
            ..Default::default()
        };
        let cons = Constraints {
            required_kv_tokens: req,
            record_pruned: true,
            memory,
            allowed: parallax_plan::Allowed {
                attn_replicas: false,
                ..Default::default()
            },
            ..Default::default()
        };
        let e = enumerate(&model, &cluster, &cons).unwrap();
        // One request of `req` tokens (its KV peaks at req − 1), no admission watermark.
        let w = Workload::new(
            "one",
            vec![Request {
                id: 0,
                arrival_s: 0.0,
                prompt_tokens: 1000,
                output_tokens: (req - 1000) as u32,
                prefix: None,
            }],
        )
        .unwrap();
        let cfg = SimConfig {
            scheduler: SchedulerConfig {
                watermark: 0.0,
                ..Default::default()
            },
            ..Default::default()
        };
        let admitted = |plan: &Plan| -> Option<bool> {
            // Lower with the one-block minimum only, to see what the simulator does.
            let opts = LowerOptions {
                memory,
                ..Default::default()
            };
            let reps = lower(&model, plan, &cluster, cost.clone(), &opts).ok()?;
            let sim = Simulator::new(reps, cfg).ok()?;
            let rec = sim.run(&w).unwrap().requests[0];
            Some(rec.rejected.is_none())
        };
        for plan in &e.plans {
            assert_eq!(admitted(plan), Some(true), "kept {plan} at {util}");
            kept_pp += (plan.pp > 1) as u32;
        }
        for (plan, reason) in &e.pruned_plans {
            if *reason == PruneReason::Memory {
                // Either it does not even lower with one block per engine, or it rejects.
                assert_ne!(admitted(plan), Some(true), "pruned {plan} at {util}");
                pruned_pp += (plan.pp > 1) as u32;
            }
        }
    }
    assert!(kept_pp > 0 && pruned_pp > 0, "{kept_pp} {pruned_pp}");
}
