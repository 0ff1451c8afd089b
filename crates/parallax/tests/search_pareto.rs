//! The Pareto front of two objectives holds exactly the non-dominated candidates.

use parallax::hw::Cluster;
use parallax::search::RankedPlan;
use parallax::{Objective, Search};

fn dominates(o: [Objective; 2], q: [f64; 2], p: [f64; 2]) -> bool {
    let le = |i: usize| o[i].compare(q[i], p[i]).is_le();
    let lt = |i: usize| o[i].compare(q[i], p[i]).is_lt();
    le(0) && le(1) && (lt(0) || lt(1))
}

#[test]
fn front_is_non_dominated_and_covers_the_rest() {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x4xH100").unwrap();
    let workload = parallax::load_workload("chat", Some(6.0), Some(96)).unwrap();
    let pairs = [
        [Objective::E2eMean, Objective::Energy],
        [Objective::TtftP99, Objective::TpotMean],
        [Objective::Cost, Objective::E2eP99],
    ];
    let report = Search::new(model, cluster, workload)
        .pareto(pairs[0][0], pairs[0][1])
        .run()
        .unwrap();
    assert_eq!(
        report.pareto.as_ref(),
        Some(&report.pareto(pairs[0][0], pairs[0][1]).unwrap())
    );
    for o in pairs {
        let front = report.pareto(o[0], o[1]).unwrap();
        assert_eq!(front.objectives, o);
        assert!(!front.points.is_empty());
        let val = |r: &RankedPlan| {
            [
                r.value_of(o[0], report.objective, report.price_per_gpu_hour)
                    .unwrap(),
                r.value_of(o[1], report.objective, report.price_per_gpu_hour)
                    .unwrap(),
            ]
        };
        let on_front = |r: &RankedPlan| {
            front
                .points
                .iter()
                .any(|p| p.plan == r.plan && p.scheduler == r.scheduler)
        };
        let cands: Vec<&RankedPlan> = report
            .ranked
            .iter()
            .filter(|r| r.meets_constraints)
            .collect();
        for p in &front.points {
            for q in &cands {
                assert!(
                    !dominates(o, val(q), [p.a, p.b]),
                    "{} dominated by {}",
                    p.plan,
                    q.plan
                );
            }
        }
        for r in &cands {
            if !on_front(r) {
                assert!(
                    front
                        .points
                        .iter()
                        .any(|p| dominates(o, [p.a, p.b], val(r))),
                    "{} is off the front but not dominated",
                    r.plan
                );
            }
        }
        // Sorted by the first objective.
        for w in front.points.windows(2) {
            assert!(o[0].compare(w[0].a, w[1].a).is_le());
        }
    }
}

#[test]
fn throughput_on_a_front_needs_a_throughput_search() {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x2xH100").unwrap();
    let workload = parallax::load_workload("chat", Some(2.0), Some(32)).unwrap();
    let r = Search::new(model, cluster, workload).run().unwrap();
    let e = r
        .pareto(Objective::Throughput, Objective::Energy)
        .unwrap_err();
    assert!(e.to_string().contains("throughput"), "{e}");
}
