//! The search turns EPLB on or off per plan (`EplbMode::Auto`): under strong routing skew it
//! picks redundant experts and their predicted TPOT beats EPLB off; under zero skew it keeps
//! EPLB off (the replicas only cost memory) and the results are exactly those without a skew.

use parallax::hw::Cluster;
use parallax::plan::{LowerOptions, MoeLoad, MoeRouting};
use parallax::search::{DisaggMode, EplbMode, RankedPlan, SearchReport};
use parallax::sim::SimConfig;
use parallax::{Allowed, Objective, Search, SearchConstraints, Simulation};

const MODEL: &str = "qwen3-30b-a3b";

fn search() -> Search {
    let model = parallax::ir::resolve(MODEL).unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let workload = parallax::load_workload("summarization", Some(20.0), Some(48)).unwrap();
    Search::new(model, cluster, workload)
        .objective(Objective::TpotMean)
        .disaggregation(DisaggMode::Off)
        .constraints(SearchConstraints {
            allowed: Allowed {
                dp: false,
                pp: false,
                attn_replicas: false,
                mlp_replicas: false,
                ..Allowed::default()
            },
            ..SearchConstraints::default()
        })
}

fn zipf(exponent: f64) -> MoeLoad {
    MoeLoad {
        routing: MoeRouting::Zipf { exponent, seed: 0 },
        redundant: 0,
    }
}

fn ep_plans(r: &SearchReport) -> Vec<&RankedPlan> {
    r.ranked.iter().filter(|p| p.plan.moe.ep > 1).collect()
}

#[test]
fn strong_skew_turns_eplb_on_and_it_beats_eplb_off() {
    let r = search()
        .moe_load(zipf(1.2))
        .eplb(EplbMode::AUTO)
        .run()
        .unwrap();
    let eps = ep_plans(&r);
    assert!(eps.len() >= 2, "{:?}", r.ranked);
    for p in &eps {
        let c = p.eplb.as_ref().expect("an EP plan under skew has a choice");
        // 0 and one replica per EP rank, in that order.
        let counts: Vec<u32> = c.options.iter().map(|o| o.redundant_experts).collect();
        assert_eq!(counts, vec![0, p.plan.moe.ep], "{}", p.plan);
        let (off, on) = (&c.options[0], &c.options[1]);
        assert_eq!(off.extra_weight_bytes_per_gpu, 0.0);
        assert!(on.extra_weight_bytes_per_gpu > 0.0);
        assert!(on.busiest_rank_share < off.busiest_rank_share, "{}", p.plan);
        // The ranked metrics are the chosen count's.
        let chosen = c.chosen().unwrap();
        assert_eq!(chosen.objective, Some(p.objective));
        assert_eq!(chosen.tpot_ms_mean, Some(p.metrics.tpot_ms.mean));
    }
    // The widest EP plan, most skewed per rank, picks EPLB on, and it pays in TPOT.
    let ep8 = eps
        .iter()
        .find(|p| p.plan.moe.ep == 8)
        .expect("ep=8 simulated");
    let c = ep8.eplb.as_ref().unwrap();
    assert!(c.enabled(), "{c:?}");
    assert_eq!(c.redundant_experts, 8);
    let (off, on) = (c.off().unwrap(), c.chosen().unwrap());
    assert!(
        on.tpot_ms_mean.unwrap() < off.tpot_ms_mean.unwrap(),
        "{on:?} vs {off:?}"
    );
    assert!(on.objective.unwrap() < off.objective.unwrap());

    // The chosen setting is what `simulate --eplb 8` runs: the same numbers.
    let model = parallax::ir::resolve(MODEL).unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let workload = parallax::load_workload("summarization", Some(20.0), Some(48)).unwrap();
    let again = Simulation::new(&model, &cluster, &ep8.plan, &workload)
        .config(SimConfig {
            scheduler: ep8.scheduler,
            ..SimConfig::default()
        })
        .lower(LowerOptions {
            moe_load: Some(MoeLoad {
                redundant: 8,
                ..zipf(1.2)
            }),
            ..LowerOptions::default()
        })
        .run()
        .unwrap();
    assert_eq!(again.metrics, ep8.metrics);

    // Without the choice (EPLB fixed off) the same plan is the `off` option.
    let fixed = search().moe_load(zipf(1.2)).run().unwrap();
    let same = fixed.ranked.iter().find(|p| p.plan == ep8.plan).unwrap();
    assert!(same.eplb.is_none());
    assert_eq!(Some(same.objective), off.objective);
    // JSON: the choice is serialised only where there is one.
    let v = serde_json::to_value(ep8).unwrap();
    assert_eq!(v["eplb"]["redundant_experts"], 8);
    assert_eq!(v["eplb"]["options"][0]["redundant_experts"], 0);
    let v = serde_json::to_value(same).unwrap();
    assert!(v.get("eplb").is_none());
}

#[test]
fn zero_skew_keeps_eplb_off_and_equals_no_skew_exactly() {
    let auto = search()
        .moe_load(zipf(0.0))
        .eplb(EplbMode::AUTO)
        .run()
        .unwrap();
    let none = search().run().unwrap();
    assert_eq!(auto.ranked.len(), none.ranked.len());
    let eps = ep_plans(&auto);
    assert!(!eps.is_empty());
    for p in &eps {
        let c = p.eplb.as_ref().unwrap();
        assert!(!c.enabled(), "{}: {c:?}", p.plan);
        let on = &c.options[1];
        // Balanced: replicas do not relieve the busiest rank, they only take memory; such a
        // count is reported but not simulated.
        assert_eq!(on.busiest_rank_share, c.options[0].busiest_rank_share);
        assert!(on.extra_weight_bytes_per_gpu > 0.0);
        assert!(on.objective.is_none());
        assert!(
            on.error.as_deref().unwrap().contains("not simulated"),
            "{on:?}"
        );
    }
    // Zero skew is today's search exactly: same plans, order and metrics.
    for (a, b) in auto.ranked.iter().zip(&none.ranked) {
        assert_eq!(a.plan, b.plan);
        assert_eq!(a.metrics, b.metrics);
        assert_eq!(a.objective, b.objective);
    }
}

#[test]
fn launch_commands_carry_the_eplb_setting() {
    use parallax::emit::{emit, EmitError, EmitRequest, Engine};
    let model = parallax::ir::resolve(MODEL).unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let plan: parallax::Plan = "tp=8,moe=ep8xtp1".parse().unwrap();
    let sched = parallax::SchedulerConfig::default();
    let mut req = EmitRequest::new(&model, "Qwen/Qwen3-30B-A3B", &cluster, &plan, sched);
    let off = emit(Engine::Vllm, &req).unwrap();
    assert!(!off.instances[0].command_line().contains("eplb"));
    req.eplb_redundant_experts = 8;
    let vllm = emit(Engine::Vllm, &req).unwrap();
    let line = vllm.instances[0].command_line();
    assert!(line.contains("--enable-eplb"), "{line}");
    assert!(
        line.contains(r#"--eplb-config '{"num_redundant_experts":8}'"#),
        "{line}"
    );
    assert!(vllm.notes.iter().any(|n| n.contains("EPLB")));
    let sglang = emit(Engine::Sglang, &req).unwrap();
    let line = sglang.instances[0].command_line();
    assert!(
        line.contains("--enable-eplb --ep-num-redundant-experts 8"),
        "{line}"
    );
    assert!(matches!(
        emit(Engine::Trtllm, &req),
        Err(EmitError::Unsupported { .. })
    ));
    // Replicas that cannot divide over the EP ranks, or no EP at all: an error, never a
    // command that silently differs from the simulation.
    req.eplb_redundant_experts = 3;
    let e = emit(Engine::Vllm, &req).unwrap_err().to_string();
    assert!(e.contains("EPLB") && e.contains('3'), "{e}");
    let tp: parallax::Plan = "tp=8".parse().unwrap();
    let mut req = EmitRequest::new(&model, "Qwen/Qwen3-30B-A3B", &cluster, &tp, sched);
    req.eplb_redundant_experts = 8;
    assert!(emit(Engine::Sglang, &req).is_err());
}
