//! Per-stage TP on a mixed cluster (1×4 H100 + 1×8 A100-80GB): the search enumerates
//! pipelines whose kinds run at their own TP widths, simulates them and picks one when it is
//! better; the printed plan simulates back; no engine launches it as one command.

use parallax::hw::Cluster;
use parallax::plan::hetero::stage_groups;
use parallax::{Plan, Search, Simulation};

#[test]
fn a_per_stage_tp_pipeline_is_searched_and_chosen_when_better() {
    let model = parallax::ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x4xH100+1x8xA100-80GB").unwrap();
    let workload = parallax::load_workload("chat", Some(10.0), Some(300)).unwrap();
    // Under vLLM, as `parallax search` runs by default.
    let engine = parallax::engine_model(
        "vllm".parse().unwrap(),
        &model,
        &cluster,
        cluster.gpus_per_node,
    );
    let report = Search::new(model.clone(), cluster.clone(), workload.clone())
        .engine(engine.clone())
        .run()
        .unwrap();
    let best = report.best.as_ref().expect("a feasible plan");
    // Four H100s at TP 4 and eight A100s at TP 8 in one pipeline (in either order) beat
    // every plan with one width: each kind alone, mixed replicas, same-width pipelines.
    let widths = best.plan.stage_tp.clone().expect("a per-stage-TP plan");
    let mut sorted = widths.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![4, 8], "best: {}", best.plan);
    let kinds: std::collections::BTreeSet<usize> = stage_groups(&best.plan, &cluster)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(kinds.len(), 2, "best: {}", best.plan);
    let one_width = report
        .ranked
        .iter()
        .filter(|r| r.plan.stage_tp.is_none() && r.meets_constraints)
        .map(|r| r.objective)
        .fold(f64::INFINITY, f64::min);
    assert!(one_width.is_finite());
    assert!(
        best.objective < one_width,
        "{} vs {one_width}",
        best.objective
    );
    // Same-width two-kind pipelines were simulated too.
    assert!(report.ranked.iter().any(|r| r.plan.stage_tp.is_none()
        && stage_groups(&r.plan, &cluster)
            .unwrap()
            .iter()
            .any(|row| row.windows(2).any(|w| w[0] != w[1]))));
    // The printed plan simulates back to the same metrics.
    let again: Plan = best.plan.to_string().parse().unwrap();
    assert_eq!(again, best.plan);
    let sim = Simulation::new(&model, &cluster, &again, &workload)
        .engine(&engine)
        .run()
        .unwrap();
    assert_eq!(sim.metrics.e2e_s.mean, best.metrics.e2e_s.mean);
}

#[test]
fn per_stage_widths_have_no_launch_command() {
    use parallax::emit::{emit, EmitError, EmitRequest, Engine};
    let model = parallax::ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("2x8xH100").unwrap();
    let plan: Plan = "pp=2,tp=8+4".parse().unwrap();
    let req = EmitRequest::new(&model, "x", &cluster, &plan, Default::default());
    for engine in [Engine::Vllm, Engine::Sglang, Engine::Trtllm] {
        match emit(engine, &req) {
            Err(EmitError::Unsupported { reason, .. }) => {
                assert!(reason.contains("8+4"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A search with per-stage-TP candidates is byte-identical (as JSON) with one and two threads.
#[test]
fn per_stage_tp_search_is_deterministic_across_thread_counts() {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x2xH100+1x4xA100-80GB").unwrap();
    let workload = parallax::load_workload("chat", Some(8.0), Some(60)).unwrap();
    let s = Search::new(model, cluster, workload);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let report = pool.install(|| s.run()).unwrap();
        assert!(report.ranked.iter().any(|r| r.plan.stage_tp.is_some()));
        serde_json::to_string(&report).unwrap()
    };
    assert_eq!(run(1), run(2));
}
