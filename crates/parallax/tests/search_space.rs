//! Llama-3.1-70B on 1x8xH100 with the chat workload: the plan families APEX enumerates, cell-level
//! variants, and every feasible plan simulated; pruned plans are really infeasible.

use parallax::hw::Cluster;
use parallax::plan::{enumerate, lower_plan, Constraints, LowerOptions, MemoryOptions};
use parallax::Search;
use std::collections::BTreeSet;

#[test]
fn llama_70b_enumerates_apex_families_and_cell_variants() {
    let model = parallax::ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let workload = parallax::load_workload("chat", None, None).unwrap();
    let required = parallax::largest_request_tokens(&workload);
    let e = enumerate(
        &model,
        &cluster,
        &Constraints {
            required_kv_tokens: required,
            record_pruned: true,
            ..Constraints::default()
        },
    )
    .unwrap();
    let enumerated: BTreeSet<String> = e
        .plans
        .iter()
        .map(|p| p.to_string())
        .chain(e.pruned_plans.iter().map(|(p, _)| p.to_string()))
        .collect();
    // DP ∈ {1,2,4} × PP ∈ {1,2,4,8} × TP, every combination that fills the 8 GPUs.
    let mut families = 0;
    for dp in [1u32, 2, 4] {
        for pp in [1u32, 2, 4, 8] {
            if 8 % (dp * pp) != 0 {
                continue;
            }
            let tp = 8 / (dp * pp);
            let s = format!("dp={dp},pp={pp},tp={tp}");
            assert!(enumerated.contains(&s), "missing {s}");
            families += 1;
        }
    }
    assert_eq!(families, 9);
    // Cell-level variants: attention as replicas of a smaller TP under the stage's TP.
    for s in [
        "dp=1,pp=1,tp=8,attn=2xtp4",
        "dp=1,pp=1,tp=8,attn=4xtp2",
        "dp=2,pp=1,tp=4,attn=2xtp2",
    ] {
        assert!(enumerated.contains(s), "missing {s}");
    }

    // Without bound pruning, so that every feasible plan is simulated.
    let report = Search::new(model.clone(), cluster.clone(), workload)
        .exact_top(None)
        .run()
        .unwrap();
    assert_eq!(report.plans_enumerated, e.enumerated);
    assert_eq!(report.plans_feasible, e.kept);
    assert_eq!(report.plans_simulated, e.kept + report.plans_uneven);
    assert_eq!(
        report.plans_enumerated,
        report.plans_feasible + report.plans_pruned_total
    );
    let simulated: BTreeSet<String> = report.ranked.iter().map(|r| r.plan.to_string()).collect();
    let kept: BTreeSet<String> = e.plans.iter().map(|p| p.to_string()).collect();
    // Every kept plan is simulated, and beside them only DP-split variants of pipelined ones.
    assert!(simulated.is_superset(&kept));
    for s in simulated.difference(&kept) {
        let p: parallax::Plan = s.parse().unwrap();
        assert!(p.pp > 1 && p.layers.is_some(), "{s}");
        let mut even = p.clone();
        even.layers = None;
        assert!(kept.contains(&even.to_string()), "{s}");
    }
    assert_eq!(
        simulated.len() as u64,
        kept.len() as u64 + report.plans_uneven
    );
    assert!(simulated.iter().any(|s| s.contains("attn=")));
    let best = report.best.as_ref().expect("70B fits 8 H100s");
    assert!(best.meets_constraints);
    assert_eq!(best.metrics.requests.completed, 1024);
    for name in ["heuristic", "max-tp"] {
        let b = report.baseline(name).unwrap();
        assert!(b.speedup.unwrap() >= 1.0, "{name}: {:?}", b.speedup);
    }

    // Every pruned plan (other than symmetric duplicates) is really infeasible: lowering it
    // with the workload's largest request fails.
    let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Roofline).unwrap();
    assert!(!e.pruned_plans.is_empty());
    for (p, reason) in &e.pruned_plans {
        let r = lower_plan(
            &model,
            p,
            &cluster,
            cost.clone(),
            &LowerOptions {
                memory: MemoryOptions::default(),
                required_kv_tokens: required,
                ..LowerOptions::default()
            },
        );
        assert!(r.is_err(), "pruned ({reason:?}) plan {p} lowers");
    }
}
