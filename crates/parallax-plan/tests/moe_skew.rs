//! MoE routing skew in lowering: a balanced load equals no skew exactly, Zipf skew slows an
//! EP plan's MoE layers (the busiest rank), EPLB recovers part of it, bad loads are errors.

use parallax_hw::{Cluster, RooflineModel};
use parallax_ir::routing::ExpertLoad;
use parallax_ir::{Batch, DecodeGroup, PrefillChunk};
use parallax_plan::{lower_plan, LowerOptions, MoeLoad, MoeRouting, Plan, PlanError};
use parallax_sim::StageCost;
use std::sync::Arc;

fn batches() -> Vec<Batch> {
    vec![
        Batch {
            prefill: vec![],
            decode: DecodeGroup::uniform(64, 2000),
        },
        Batch {
            prefill: vec![PrefillChunk {
                new_tokens: 4096,
                prefix: 0,
            }],
            decode: DecodeGroup::default(),
        },
        Batch {
            prefill: vec![PrefillChunk {
                new_tokens: 20_000,
                prefix: 0,
            }],
            decode: DecodeGroup::default(),
        },
    ]
}

/// Step times of every batch on stage 0 of `plan` for qwen3-30b-a3b on 1×8 H100.
fn step_times(plan: &str, moe_load: Option<MoeLoad>) -> Result<Vec<f64>, PlanError> {
    let model = parallax_ir::resolve("qwen3-30b-a3b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let plan: Plan = plan.parse().unwrap();
    let opts = LowerOptions {
        moe_load,
        ..LowerOptions::default()
    };
    let l = lower_plan(&model, &plan, &cluster, cost, &opts)?;
    Ok(batches()
        .iter()
        .map(|b| {
            let s = l.stages[0][0].step(b);
            s.seconds
        })
        .collect())
}

fn zipf(exponent: f64, redundant: u32) -> Option<MoeLoad> {
    Some(MoeLoad {
        routing: MoeRouting::Zipf { exponent, seed: 7 },
        redundant,
    })
}

#[test]
fn balanced_equals_unset_exactly() {
    let none = step_times("ep=8", None).unwrap();
    assert_eq!(step_times("ep=8", zipf(0.0, 0)).unwrap(), none);
    let flat: &'static ExpertLoad = Box::leak(Box::new(ExpertLoad::balanced(128)));
    let measured = Some(MoeLoad {
        routing: MoeRouting::Measured(flat),
        redundant: 0,
    });
    assert_eq!(step_times("ep=8", measured).unwrap(), none);
    // A dense plan (ep=1) too.
    assert_eq!(
        step_times("tp=8", zipf(0.0, 0)).unwrap(),
        step_times("tp=8", None).unwrap()
    );
}

#[test]
fn zipf_slows_ep_and_eplb_recovers_part() {
    let none = step_times("ep=8", None).unwrap();
    let skew = step_times("ep=8", zipf(1.2, 0)).unwrap();
    let eplb = step_times("ep=8", zipf(1.2, 32)).unwrap();
    // Prefill batches are compute-bound on the routed experts: the busiest rank is slower.
    for i in 1..none.len() {
        assert!(skew[i] > none[i] * 1.05, "{i}: {skew:?} vs {none:?}");
        assert!(eplb[i] < skew[i], "{i}: {eplb:?} vs {skew:?}");
        assert!(eplb[i] >= none[i], "{i}: {eplb:?} vs {none:?}");
    }
}

#[test]
fn bad_loads_are_errors() {
    let short: &'static ExpertLoad = Box::leak(Box::new(ExpertLoad::balanced(10)));
    let e = step_times(
        "ep=8",
        Some(MoeLoad {
            routing: MoeRouting::Measured(short),
            redundant: 0,
        }),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("10 entries") && e.contains("128"), "{e}");
    // 128 + 3 replicas do not divide over 8 ranks.
    let e = step_times("ep=8", zipf(1.0, 3)).unwrap_err().to_string();
    assert!(e.contains("eplb") && e.contains('3'), "{e}");
}

#[test]
fn eplb_redundant_experts_occupy_weight_memory() {
    let model = parallax_ir::resolve("qwen3-30b-a3b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let plan: Plan = "ep=8".parse().unwrap();
    let lower = |moe_load| {
        let opts = LowerOptions {
            moe_load,
            ..LowerOptions::default()
        };
        lower_plan(&model, &plan, &cluster, cost.clone(), &opts).unwrap()
    };
    let base = lower(zipf(1.2, 0));
    let eplb = lower(zipf(1.2, 16));
    // 16 redundant experts over 8 EP ranks: 2 more experts per rank in each of the 48 MoE
    // layers, each gate/up + down (3 × hidden × expert_intermediate) in bf16, tp 1.
    let (layers, hidden, inter) = (48.0, 2048.0, 768.0);
    let expected = layers * 2.0 * 3.0 * hidden * inter * 2.0;
    let delta = eplb.memory.stages[0].weights_bytes - base.memory.stages[0].weights_bytes;
    assert!(
        (delta - expected).abs() < 1e-6 * expected,
        "{delta} vs {expected}"
    );
    assert!(eplb.memory.kv_blocks() < base.memory.kv_blocks());
    // No EPLB: the weights are the balanced plan's.
    let none = lower(None);
    assert_eq!(
        base.memory.stages[0].weights_bytes,
        none.memory.stages[0].weights_bytes
    );
}

/// A plan without expert parallelism holds no EPLB replica (one rank holds every expert:
/// nothing to balance): its memory and step times are those without redundant experts.
#[test]
fn eplb_leaves_a_plan_without_expert_parallelism_alone() {
    let load = zipf(1.2, 16).unwrap();
    assert_eq!((load.redundant_on(1), load.redundant_on(8)), (0, 16));
    assert_eq!(
        step_times("tp=8", Some(load)).unwrap(),
        step_times("tp=8", zipf(1.2, 0)).unwrap()
    );
    let model = parallax_ir::resolve("qwen3-30b-a3b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let plan: Plan = "tp=8".parse().unwrap();
    let weights = |moe_load| {
        let opts = LowerOptions {
            moe_load,
            ..LowerOptions::default()
        };
        let cost = Arc::new(RooflineModel::new(&cluster.gpu));
        let l = lower_plan(&model, &plan, &cluster, cost, &opts).unwrap();
        l.memory.stages[0].weights_bytes
    };
    assert_eq!(weights(Some(load)), weights(None));
    assert_eq!(
        load.busiest_rank_share(&model, &plan).unwrap(),
        zipf(1.2, 0)
            .unwrap()
            .busiest_rank_share(&model, &plan)
            .unwrap()
    );
}
