//! Library ergonomics: text parsing, the re-exports a search needs, the options-struct
//! simulation, and cost-model wrappers that change nothing unless asked.

use parallax::hw::{DeviceGroup, RooflineModel};
use parallax::ir::{AttentionShape, CollectiveKind, DecodeGroup, Elementwise, Gemm, PrefillChunk};
use parallax::{
    Cluster, CostModel, CostModelChoice, Limits, Objective, Overridden, PassThrough, Plan, Search,
    Simulation, Slo,
};
use std::sync::Arc;

fn small_search(cost: Arc<dyn CostModel>) -> parallax::SearchReport {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster: Cluster = "1x4xH100".parse().unwrap();
    let workload = parallax::load_workload("chat", Some(4.0), Some(48)).unwrap();
    Search::new(model, cluster, workload)
        .objective(Objective::E2eMean)
        .slo("ttft=1s,tpot=100ms".parse().unwrap())
        .cost_model(cost)
        .run()
        .unwrap()
}

/// A hand-written pass-through that forgets the two defaulted methods — the mistake
/// `Overridden` exists to prevent.
#[derive(Debug)]
struct Forgetful(Arc<dyn CostModel>);

impl CostModel for Forgetful {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn gemm(&self, g: &Gemm) -> f64 {
        self.0.gemm(g)
    }
    fn prefill_attention(&self, s: &AttentionShape, c: &[PrefillChunk]) -> f64 {
        self.0.prefill_attention(s, c)
    }
    fn decode_attention(&self, s: &AttentionShape, d: &DecodeGroup) -> f64 {
        self.0.decode_attention(s, d)
    }
    fn elementwise(&self, op: &Elementwise) -> f64 {
        self.0.elementwise(op)
    }
    fn collective(&self, k: CollectiveKind, b: f64, g: &DeviceGroup) -> f64 {
        self.0.collective(k, b, g)
    }
    fn kernel_launch_overhead(&self) -> f64 {
        self.0.kernel_launch_overhead()
    }
    fn iteration_overhead(&self) -> f64 {
        self.0.iteration_overhead()
    }
}

#[test]
fn pass_through_wrapper_gives_identical_search_results() {
    let cluster: Cluster = "1x4xH100".parse().unwrap();
    let inner = parallax::cost_model(&cluster, CostModelChoice::Auto).unwrap();
    let plain = small_search(inner.clone());
    let wrapped = small_search(Arc::new(Overridden::new(inner.clone(), PassThrough)));
    assert!(plain.ranked.len() > 1);
    let json = |r: &parallax::SearchReport| serde_json::to_string(r).unwrap();
    assert_eq!(json(&plain), json(&wrapped));
    // Without the wrapper, forgetting a defaulted method silently changes the results.
    let forgetful = small_search(Arc::new(Forgetful(inner)));
    assert_ne!(
        plain.best.as_ref().unwrap().metrics.e2e_s.mean,
        forgetful.best.as_ref().unwrap().metrics.e2e_s.mean
    );
}

#[test]
fn simulation_builder_equals_simulate_plan() {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster: Cluster = "1x2xH100".parse().unwrap();
    let plan: Plan = "dp=2,tp=1".parse().unwrap();
    let workload = parallax::load_workload("chat", Some(2.0), Some(40)).unwrap();
    let cost: Arc<dyn CostModel> = Arc::new(RooflineModel::new(&cluster.gpu));
    let slo: Slo = "ttft=300ms".parse().unwrap();
    let config = parallax::SimConfig {
        slo,
        seed: 7,
        ..Default::default()
    };
    let lower = parallax::LowerOptions::default();
    let direct = parallax::simulate_plan(
        &model,
        &cluster,
        &plan,
        cost.clone(),
        &workload,
        &config,
        &lower,
    )
    .unwrap();
    let built = Simulation::new(&model, &cluster, &plan, &workload)
        .cost_model(cost)
        .config(config)
        .run()
        .unwrap();
    assert_eq!(direct.metrics, built.metrics);
    assert_eq!(built.metrics.requests.completed, 40);
    assert!(built.metrics.slo.attainment.is_some());
    // Bad input is an error, not a panic.
    let err = Simulation::new(&model, &cluster, &"tp=3".parse().unwrap(), &workload)
        .run()
        .unwrap_err()
        .to_string();
    assert!(err.contains("tp=3") || err.contains('3'), "{err}");
}

#[test]
fn every_text_type_parses() {
    let c: Cluster = "2x8xH200".parse().unwrap();
    assert_eq!(c.total_gpus(), 16);
    let g: parallax::Gpu = "MI300X".parse().unwrap();
    assert_eq!(g.name, "MI300X");
    assert_eq!(
        "throughput".parse::<Objective>().unwrap(),
        Objective::Throughput
    );
    assert!("tp=8".parse::<Plan>().is_ok());
    assert!("sarathi".parse::<parallax::SchedulerKind>().is_ok());
    assert!("round-robin".parse::<parallax::RouterPolicy>().is_ok());
    assert_eq!(
        "auto".parse::<CostModelChoice>().unwrap(),
        CostModelChoice::Auto
    );
    assert!("bf16".parse::<parallax::ir::DType>().is_ok());
    let slo: Slo = "ttft=500ms,tpot=50ms".parse().unwrap();
    assert_eq!(slo.tpot_ms, Some(50.0));
    assert!(
        "synthetic:requests=4,rate=1,prompt=fixed(8),output=fixed(8)"
            .parse::<parallax::sim::workload::synthetic::SyntheticSpec>()
            .is_ok()
    );
    let _ = Limits::default();
}

/// Speculative decoding set for the simulator but not the lowering (or the other way) would
/// emit drafts for free or price drafts never accepted: an error names both settings.
#[test]
fn speculation_must_agree_between_simulator_and_lowering() {
    let model = parallax::ir::resolve("deepseek-v3").unwrap();
    let cluster: Cluster = "1x8xH200".parse().unwrap();
    let plan: Plan = "tp=8".parse().unwrap();
    let workload = parallax::load_workload("chat", None, Some(8)).unwrap();
    let cost: Arc<dyn CostModel> = Arc::new(RooflineModel::new(&cluster.gpu));
    let spec = parallax::plan::mtp_speculation(&model, 1, None).unwrap();
    let config = parallax::SimConfig {
        speculation: Some(spec),
        ..Default::default()
    };
    let lower = parallax::LowerOptions::default();
    let run = |config: &parallax::SimConfig, lower: &parallax::LowerOptions| {
        parallax::simulate_plan(
            &model,
            &cluster,
            &plan,
            cost.clone(),
            &workload,
            config,
            lower,
        )
    };
    let err = run(&config, &lower).unwrap_err().to_string();
    assert!(err.contains("speculative_tokens 0"), "{err}");
    let priced = parallax::LowerOptions {
        speculative_tokens: 1,
        ..Default::default()
    };
    assert!(run(&parallax::SimConfig::default(), &priced).is_err());
    assert!(run(&config, &priced).is_ok());
}
