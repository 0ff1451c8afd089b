//! Engine models: presets mirror the engines' documented defaults, the engine cost wrapper
//! changes only what it claims to, and the development load points are predicted within the
//! errors stated in the README (pinned here so a regression fails).

use parallax::hw::{catalog, Cluster, CostModel, RooflineModel};
use parallax::loadpoints::{parse_load_points, validate_load_points, LoadPointOptions};
use parallax::plan::{EngineKernels, EngineModel, MemoryRule};
use parallax::sim::SchedulerKind;
use parallax::EngineKind;
use std::sync::Arc;

const DEV: &str = include_str!("../data/serving/aiconfigurator/silicon_train.csv");

fn engine(kind: &str, gpu: &str, tp: u32) -> EngineModel {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse(&format!("1x8x{gpu}")).unwrap();
    parallax::engine_named(kind, &model, &cluster, tp).unwrap()
}

#[test]
fn presets_follow_each_engines_defaults() {
    let v = engine("vllm", "H100", 1);
    assert_eq!(v.scheduler.kind, SchedulerKind::Chunked);
    assert_eq!(
        (v.scheduler.max_num_batched_tokens, v.scheduler.max_num_seqs),
        (8192, 1024)
    );
    assert_eq!(
        (v.cuda_graph_max_batch, v.cuda_graph_max_tokens),
        (512, 512)
    );
    let a = engine("vllm", "A100-80GB", 1);
    assert_eq!(
        (a.scheduler.max_num_batched_tokens, a.scheduler.max_num_seqs),
        (2048, 256)
    );
    // vLLM 0.6 turns chunked prefill on by itself above a 32K context (Llama-3.1: 131,072),
    // with a 512-token budget; below it, prefill-first with max(max_model_len, 2048).
    let v0 = engine("vllm-v0", "H100", 1);
    assert_eq!(v0.scheduler.kind, SchedulerKind::Chunked);
    assert_eq!(v0.scheduler.max_num_batched_tokens, 512);
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let mut short = parallax::ir::resolve("llama-3.1-8b").unwrap();
    short.max_position_embeddings = 8192; // `--max-model-len 8192`
    let v0 = parallax::engine_named("vllm-v0", &short, &cluster, 1).unwrap();
    assert_eq!(v0.scheduler.kind, SchedulerKind::VllmV0);
    assert_eq!(v0.scheduler.max_num_batched_tokens, 8192);
    short.max_position_embeddings = 32_768;
    let v0 = parallax::engine_named("vllm-v0", &short, &cluster, 1).unwrap();
    assert_eq!(v0.scheduler.kind, SchedulerKind::VllmV0);
    // MLA models never get it by default.
    let mla = parallax::ir::resolve("deepseek-v3").unwrap();
    assert!(mla.max_position_embeddings > 32_768);
    let v0 =
        parallax::engine_named("vllm-v0", &mla, &Cluster::parse("1x8xH200").unwrap(), 8).unwrap();
    assert_eq!(v0.scheduler.kind, SchedulerKind::VllmV0);
    let s = engine("sglang", "H100", 1);
    assert_eq!(s.scheduler.kind, SchedulerKind::PrefillFirst);
    assert_eq!(s.scheduler.max_num_batched_tokens, 8192);
    assert_eq!(s.cuda_graph_max_batch, 256);
    assert_eq!(engine("sglang", "H100", 4).cuda_graph_max_batch, 512);
    assert_eq!(
        engine("sglang", "B200", 1).scheduler.max_num_batched_tokens,
        16384
    );
    assert_eq!(
        engine("sglang", "L40S", 1).scheduler.max_num_batched_tokens,
        4096
    );
    assert_eq!(s.block_size, 1);
    // SGLang sizes `mem_fraction_static` from the GPU, TP, chunk and graph sizes (MiB reserved:
    // 512 + 1.5 × 8192 + 2 × 256 + 1024 / 8 = 13,440 of 81,920 on an H100 at TP 1).
    assert_eq!(
        (s.gpu_memory_utilization, s.memory_rule),
        (0.836, MemoryRule::StaticDefault)
    );
    assert_eq!(engine("sglang", "H100", 8).gpu_memory_utilization, 0.819);
    assert_eq!(engine("sglang", "H200", 1).gpu_memory_utilization, 0.907);
    let t = engine("trtllm", "H100", 1);
    assert_eq!(t.scheduler.kind, SchedulerKind::Orca);
    assert_eq!(t.block_size, 32);
    assert_eq!(
        (t.gpu_memory_utilization, t.memory_rule),
        (0.9, MemoryRule::FreeFraction)
    );
    assert_eq!(v.memory_rule, MemoryRule::Utilization);
    for k in EngineKind::ALL {
        let e = engine(k.name(), "H100", 2);
        e.validate().unwrap();
        assert_eq!(e.name, k.name());
        assert_eq!(k.name().parse::<EngineKind>().unwrap(), k);
    }
    for alias in ["TensorRT-LLM", "tensorrt_llm", "trt-llm"] {
        assert_eq!(alias.parse::<EngineKind>().unwrap(), EngineKind::Trtllm);
    }
    let err = "vllm-v2".parse::<EngineKind>().unwrap_err().to_string();
    assert!(
        err.contains("--engine") && err.contains("vllm-v2") && err.contains("sglang"),
        "{err}"
    );
}

#[test]
fn engine_cost_changes_only_fused_elementwise_and_small_all_reduces() {
    let gpu = catalog::gpu("H100").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let base: Arc<dyn CostModel> = Arc::new(RooflineModel::new(&gpu));
    let e = engine("vllm", "H100", 8);
    // No kernel changes: the model itself comes back.
    let plain = EngineModel {
        kernels: EngineKernels::default(),
        ..e.clone()
    };
    assert!(Arc::ptr_eq(
        &plain.cost_model(base.clone(), gpu.memory_bandwidth),
        &base
    ));
    let wrapped = e.cost_model(base.clone(), gpu.memory_bandwidth);
    let g = parallax::ir::Gemm {
        m: 64,
        n: 4096,
        k: 4096,
        count: 1,
        weight_dtype: parallax::ir::DType::Bf16,
        act_dtype: parallax::ir::DType::Bf16,
    };
    assert_eq!(wrapped.gemm(&g), base.gemm(&g));
    // Every method the wrapper does not change is forwarded, including those with defaults.
    let moe = parallax::ir::resolve("qwen3-30b-a3b").unwrap();
    let ops = moe
        .runs
        .iter()
        .flat_map(|r| r.block.cells.iter())
        .find(|c| matches!(c, parallax::ir::Cell::Moe(_)))
        .map(|c| {
            let mut out = Vec::new();
            parallax::ir::lower_cell(
                c,
                parallax::ir::CellShard { tp: 1, ep: 1 },
                &parallax::ir::Batch {
                    prefill: vec![],
                    decode: parallax::ir::DecodeGroup::uniform(32, 1024),
                },
                &moe.precision,
                &mut out,
            );
            out
        })
        .unwrap();
    let mut fused = 0;
    for op in &ops {
        if let parallax::ir::OpBody::FusedMoe(m) = &op.body {
            fused += 1;
            assert_eq!(wrapped.fused_moe(m), base.fused_moe(m));
        }
    }
    assert_eq!(fused, 1);
    assert_eq!(wrapped.graph_kernel_overlap(), base.graph_kernel_overlap());
    assert_eq!(
        wrapped.kernel_launch_overhead(),
        base.kernel_launch_overhead()
    );
    let group = cluster.group(8);
    let small = wrapped.collective(parallax::ir::CollectiveKind::AllReduce, 80e3, &group);
    assert!(small <= base.collective(parallax::ir::CollectiveKind::AllReduce, 80e3, &group));
    assert!(small < 20e-6, "custom all-reduce of 80 kB: {small}");
    // Above the custom all-reduce's size the collective is the model's.
    let big = 64e6;
    assert_eq!(
        wrapped.collective(parallax::ir::CollectiveKind::AllReduce, big, &group),
        base.collective(parallax::ir::CollectiveKind::AllReduce, big, &group)
    );
}

#[test]
fn load_points_parse_and_name_bad_cells() {
    let pts = parse_load_points("dev.csv", DEV).unwrap();
    assert_eq!(pts.len(), 630);
    assert!(pts
        .iter()
        .all(|p| p.concurrency.is_some() || p.mode == "disagg"));
    let header = DEV.lines().next().unwrap();
    let isl = header.split(',').position(|c| c == "isl").unwrap();
    let mut row: Vec<&str> = DEV.lines().nth(5).unwrap().split(',').collect();
    row[isl] = "zero";
    let bad = format!("{header}\n{}", row.join(","));
    let e = parse_load_points("x.csv", &bad).unwrap_err().to_string();
    assert!(
        e.contains("x.csv:2") && e.contains("isl") && e.contains("zero"),
        "{e}"
    );
    let e = parse_load_points("y.csv", "id,backend\n1,vllm\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("y.csv") && e.contains("silicon_data_source"),
        "{e}"
    );
}

/// Median |error| per (engine, GPU) on the development rows, within the figures the README
/// states (TTFT / TPOT, percent): the bf16 H100 rows the host terms were fitted on, and every
/// engine and GPU group.
#[test]
fn development_load_points_within_stated_errors() {
    let pts = parse_load_points("dev.csv", DEV).unwrap();
    let rep = validate_load_points("dev.csv", &pts, &LoadPointOptions::default());
    let median = |v: Vec<f64>| {
        parallax::hw::profile::ErrorSummary::from_abs_pct(&v).map_or(f64::NAN, |e| e.median)
    };
    // bf16 H100 rows, per engine
    for (engine, ttft, tpot) in [
        ("vllm", 13.0, 6.0),
        ("sglang", 15.0, 6.0),
        ("trtllm", 34.0, 6.0),
    ] {
        let rows: Vec<_> = rep
            .rows
            .iter()
            .filter(|r| {
                r.skipped.is_none()
                    && r.point.engine.name() == engine
                    && r.point.system == "h100_sxm"
                    && r.point.quantization.is_empty()
                    && r.point.mode == "agg"
            })
            .collect();
        let t = median(rows.iter().map(|r| r.ttft_error_pct.abs()).collect());
        let p = median(rows.iter().map(|r| r.tpot_error_pct.abs()).collect());
        println!(
            "{engine} bf16: TTFT {t:.1}% TPOT {p:.1}% over {} rows",
            rows.len()
        );
        assert!(t <= ttft, "{engine} bf16 TTFT median {t:.1}%");
        assert!(p <= tpot, "{engine} bf16 TPOT median {p:.1}%");
    }
    // every group, as the README's table states it (a little headroom for rounding)
    for (engine, system, ttft, tpot) in [
        ("vllm", "h100_sxm", 12.0, 5.0),
        ("sglang", "h100_sxm", 14.0, 5.0),
        ("sglang", "h200_sxm", 20.0, 8.0),
        ("trtllm", "h100_sxm", 23.0, 6.0),
    ] {
        let s = rep
            .by_engine
            .iter()
            .find(|s| s.engine == engine && s.system == system)
            .unwrap();
        let (t, p) = (s.ttft.as_ref().unwrap(), s.tpot.as_ref().unwrap());
        println!(
            "{engine} {system}: TTFT {:.1}% TPOT {:.1}% over {} rows",
            t.median, p.median, t.count
        );
        assert!(
            t.median <= ttft,
            "{engine} {system} TTFT median {:.1}%",
            t.median
        );
        assert!(
            p.median <= tpot,
            "{engine} {system} TPOT median {:.1}%",
            p.median
        );
    }
    let (t, p) = (rep.ttft.unwrap(), rep.tpot.unwrap());
    println!(
        "all: TTFT {:.1}% TPOT {:.1}% over {} rows",
        t.median, p.median, t.count
    );
    assert_eq!(t.count, 622);
    // aiconfigurator's fp8 profile stores the KV cache in fp8 (`aiconfigurator_kv_cache`):
    // with a bf16 cache this KV-bound row (TP 1, isl 4096, osl 128, 64 clients) was predicted
    // at +525 % TTFT, queueing for KV room
    let kv_bound = rep
        .rows
        .iter()
        .find(|r| {
            r.point.engine.name() == "trtllm"
                && r.point.quantization == "fp8"
                && r.point.tp == 1
                && (r.point.isl, r.point.osl) == (4096, 128)
                && r.point.concurrency == Some(64)
        })
        .expect("the TP 1 fp8 row at 64 clients");
    assert!(
        kv_bound.ttft_error_pct.abs() <= 30.0,
        "KV-bound fp8 row TTFT error {:.1}%",
        kv_bound.ttft_error_pct
    );
    assert!(
        t.median <= 20.0 && p.median <= 6.5,
        "{} / {}",
        t.median,
        p.median
    );
}

/// The vLLM H200 FP8 development rows finish far more prefill work than fresh prompts need
/// (their measured TPOT is about half the prediction with every prompt its own). Benchmarked
/// with aiperf's default pool of 100 prompts, which vLLM V1's default prefix caching reuses,
/// their TPOT is predicted within 20 % (16.6 % measured), TTFT much closer too; the pool
/// leaves TensorRT-LLM rows (block reuse off as deployed) exactly as they were.
#[test]
fn prompt_pool_explains_the_vllm_h200_rows() {
    let pts = parse_load_points("dev.csv", DEV).unwrap();
    let rows: Vec<_> = pts
        .into_iter()
        .filter(|p| {
            (p.engine.name() == "vllm" && p.system == "h200_sxm")
                || (p.engine.name() == "trtllm" && p.line % 40 == 0)
        })
        .collect();
    let pooled = LoadPointOptions {
        prompt_pool: Some(parallax::loadpoints::AIPERF_DATASET_ENTRIES),
        ..LoadPointOptions::default()
    };
    let fresh = validate_load_points("dev.csv", &rows, &LoadPointOptions::default());
    let pool = validate_load_points("dev.csv", &rows, &pooled);
    assert_eq!(pool.prompt_pool, Some(100));
    let group = |r: &parallax::loadpoints::LoadPointReport| {
        let s = r.by_engine.iter().find(|s| s.system == "h200_sxm").unwrap();
        (
            s.ttft.as_ref().unwrap().median,
            s.tpot.as_ref().unwrap().median,
        )
    };
    let ((ft, fp), (pt, pp)) = (group(&fresh), group(&pool));
    println!("vLLM H200: fresh TTFT {ft:.1}% TPOT {fp:.1}%; pool TTFT {pt:.1}% TPOT {pp:.1}%");
    assert!(fp > 80.0 && pp <= 20.0, "TPOT {fp:.1}% -> {pp:.1}%");
    assert!(pt < ft - 20.0, "TTFT {ft:.1}% -> {pt:.1}%");
    let trt: Vec<_> = fresh
        .rows
        .iter()
        .zip(&pool.rows)
        .filter(|(f, _)| f.point.engine.name() == "trtllm")
        .collect();
    assert!(!trt.is_empty());
    for (f, p) in trt {
        assert_eq!(
            (f.predicted_ttft_ms, f.predicted_tpot_ms),
            (p.predicted_ttft_ms, p.predicted_tpot_ms),
            "line {}",
            f.point.line
        );
    }
}

#[test]
fn engine_none_is_the_bare_simulator() {
    use parallax::plan::LowerOptions;
    use parallax::sim::SimConfig;
    let none = engine("none", "H100", 8);
    assert_eq!(
        none.lower_options(&LowerOptions::default()),
        LowerOptions::default()
    );
    assert_eq!(none.sim_config(&SimConfig::default()), SimConfig::default());
    none.validate().unwrap();
    let gpu = catalog::gpu("H100").unwrap();
    let base: Arc<dyn CostModel> = Arc::new(RooflineModel::new(&gpu));
    assert!(Arc::ptr_eq(
        &none.cost_model(base.clone(), gpu.memory_bandwidth),
        &base
    ));
}

#[test]
fn an_engine_prices_input_quantisation_as_the_models_weights_are_scaled() {
    use parallax::plan::engine::{gemm_input_quant, InputQuant};
    let cluster = Cluster::parse("1x8xH200").unwrap();
    // DeepSeek-V3 ships block-scaled fp8
    let ds = parallax::ir::resolve("deepseek-v3").unwrap();
    assert!(ds.precision.fp8_block_scales);
    let e = parallax::engine_model(EngineKind::Vllm, &ds, &cluster, 8);
    assert_eq!(
        e.kernels.fp8_gemm_input_quant,
        gemm_input_quant(EngineKind::Vllm, "H200", InputQuant::Fp8Block)
    );
    // a bf16 checkpoint quantised online to fp8 is per tensor
    let mut q = parallax::ir::resolve("qwen3-32b").unwrap();
    q.precision = q.precision.quantized(parallax::ir::Quantization::Fp8);
    let e = parallax::engine_model(EngineKind::Vllm, &q, &cluster, 8);
    assert_eq!(
        e.kernels.fp8_gemm_input_quant,
        gemm_input_quant(EngineKind::Vllm, "H200", InputQuant::Fp8Tensor)
    );
}
