//! One-iteration prediction: sanity of the numbers and the batch-spec parser.

use parallax_hw::{Cluster, RooflineModel};
use parallax_ir::{Batch, DecodeGroup, PrefillChunk};
use parallax_plan::{batch_from_specs, predict, PlanError};
use std::sync::Arc;

fn setup() -> (parallax_ir::Model, Cluster, Arc<RooflineModel>) {
    let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    (model, cluster, cost)
}

fn decode(b: u32, c: u32) -> Batch {
    Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(b, c),
    }
}

#[test]
fn decode_32x1024_llama8b_h100_plausible() {
    let (model, cluster, cost) = setup();
    let p = predict(&model, &cluster, 1, &decode(32, 1024), true, cost).unwrap();
    eprintln!("{p:#?}");
    // 16 GB of weights at ~3.35 TB/s is ~4.8 ms; measured vLLM decode steps are 6-12 ms.
    assert!(
        p.iteration_ms > 4.0 && p.iteration_ms < 20.0,
        "{}",
        p.iteration_ms
    );
    let sum: f64 = p.breakdown_ms.values().sum();
    assert!((sum - p.iteration_ms).abs() < 1e-9 * p.iteration_ms.max(1.0));
    for k in [
        "gemm",
        "attention",
        "elementwise",
        "communication",
        "overhead",
    ] {
        assert!(p.breakdown_ms.contains_key(k));
    }
    assert_eq!(p.breakdown_ms["communication"], 0.0);
    assert!(p.breakdown_ms["attention"] > 0.0);
    assert!(p.fits_memory);
}

#[test]
fn prefill_2048_costs_more_than_decode() {
    let (model, cluster, cost) = setup();
    let pre = Batch {
        prefill: vec![PrefillChunk {
            new_tokens: 2048,
            prefix: 0,
        }],
        decode: DecodeGroup::default(),
    };
    let p = predict(&model, &cluster, 1, &pre, true, cost.clone()).unwrap();
    let d = predict(&model, &cluster, 1, &decode(32, 1024), true, cost).unwrap();
    eprintln!("prefill {} decode {}", p.iteration_ms, d.iteration_ms);
    assert!(p.iteration_ms > d.iteration_ms);
    assert!(!p.cuda_graph && d.cuda_graph);
}

#[test]
fn tp2_communicates() {
    let (model, cluster, cost) = setup();
    let p = predict(&model, &cluster, 2, &decode(32, 1024), true, cost.clone()).unwrap();
    assert!(p.breakdown_ms["communication"] > 0.0);
    let p1 = predict(&model, &cluster, 1, &decode(32, 1024), true, cost).unwrap();
    assert!(p.breakdown_ms["gemm"] < p1.breakdown_ms["gemm"]);
}

#[test]
fn cuda_graphs_reduce_overhead() {
    let (model, cluster, cost) = setup();
    let on = predict(&model, &cluster, 2, &decode(32, 1024), true, cost.clone()).unwrap();
    let off = predict(&model, &cluster, 2, &decode(32, 1024), false, cost).unwrap();
    assert!(on.breakdown_ms["overhead"] < off.breakdown_ms["overhead"]);
    assert!(on.iteration_ms < off.iteration_ms);
    // A replay overlaps consecutive kernels: the kernels' share shrinks, never grows, and no
    // breakdown entry is negative.
    assert!(on.breakdown_ms["gemm"] <= off.breakdown_ms["gemm"]);
    assert!(on.breakdown_ms["gemm"] > 0.5 * off.breakdown_ms["gemm"]);
    for p in [&on, &off] {
        assert!(
            p.breakdown_ms.values().all(|v| *v >= 0.0),
            "{:?}",
            p.breakdown_ms
        );
        let sum: f64 = p.breakdown_ms.values().sum();
        assert!((sum - p.iteration_ms).abs() < 1e-9 * p.iteration_ms);
    }
}

#[test]
fn bad_tp_is_a_typed_error() {
    let (model, cluster, cost) = setup();
    // 32 heads are not divisible by 3.
    let e = predict(&model, &cluster, 3, &decode(1, 10), true, cost.clone()).unwrap_err();
    assert!(matches!(e, PlanError::Inconsistent { .. }), "{e}");
    // More GPUs than the cluster has.
    let e = predict(&model, &cluster, 16, &decode(1, 10), true, cost.clone()).unwrap_err();
    assert!(matches!(e, PlanError::Inconsistent { .. }), "{e}");
    let e = predict(&model, &cluster, 1, &Batch::default(), true, cost).unwrap_err();
    assert!(matches!(e, PlanError::EmptyBatch), "{e}");
}

#[test]
fn batch_specs_parse_and_mix() {
    let b = batch_from_specs(&["1x2048", "2x512+1024"], &["32x1024", "8x4096"]).unwrap();
    assert_eq!(b.prefill.len(), 3);
    assert_eq!(
        b.prefill[1],
        PrefillChunk {
            new_tokens: 512,
            prefix: 1024
        }
    );
    assert_eq!(b.decode.requests, 40);
    assert_eq!(b.decode.context_sum, 32 * 1024 + 8 * 4096);
    assert_eq!(b.decode.context_max, 4096);
    assert_eq!(b.tokens(), 2048 + 1024 + 40);
}

#[test]
fn malformed_batch_specs_are_typed_errors() {
    for bad in [
        "",
        "x",
        "32",
        "0x5",
        "4x0",
        "ax5",
        "4x-1",
        "4x5+",
        "4x5+x",
        "4x99999999999",
        "1x2x3",
    ] {
        let e = batch_from_specs(&[bad], &[] as &[&str]).unwrap_err();
        match e {
            PlanError::BatchSpec { flag, spec, .. } => {
                assert_eq!(flag, "--prefill");
                assert_eq!(spec, bad);
            }
            other => panic!("{bad}: {other}"),
        }
    }
    for bad in ["32", "32x", "x1024", "0x10", "3x0", "3x1+2"] {
        let e = batch_from_specs(&[] as &[&str], &[bad]).unwrap_err();
        assert!(
            matches!(e, PlanError::BatchSpec { ref flag, .. } if flag == "--decode"),
            "{bad}: {e}"
        );
    }
    assert!(batch_from_specs(&[] as &[&str], &[] as &[&str]).is_err());
}

/// A roofline that reports a kernel launch measured on "this machine".
#[derive(Debug)]
struct Measured(RooflineModel, f64);

impl parallax_hw::CostModel for Measured {
    fn name(&self) -> &str {
        "measured-launch"
    }
    fn gemm(&self, g: &parallax_ir::Gemm) -> f64 {
        self.0.gemm(g)
    }
    fn prefill_attention(
        &self,
        s: &parallax_ir::AttentionShape,
        c: &[parallax_ir::PrefillChunk],
    ) -> f64 {
        self.0.prefill_attention(s, c)
    }
    fn decode_attention(
        &self,
        s: &parallax_ir::AttentionShape,
        d: &parallax_ir::DecodeGroup,
    ) -> f64 {
        self.0.decode_attention(s, d)
    }
    fn elementwise(&self, op: &parallax_ir::Elementwise) -> f64 {
        self.0.elementwise(op)
    }
    fn collective(
        &self,
        k: parallax_ir::CollectiveKind,
        bytes: f64,
        g: &parallax_hw::DeviceGroup,
    ) -> f64 {
        self.0.collective(k, bytes, g)
    }
    fn kernel_launch_overhead(&self) -> f64 {
        self.0.kernel_launch_overhead()
    }
    fn measured_kernel_launch(&self) -> Option<f64> {
        Some(self.1)
    }
    fn iteration_overhead(&self) -> f64 {
        self.0.iteration_overhead()
    }
}

#[test]
fn compiled_engines_issue_ops_at_the_measured_launch_cost() {
    use parallax_plan::{predict_with, EngineContext, EngineKind, EngineModel, LowerOptions};
    let (model, cluster, _) = setup();
    let batch = Batch {
        prefill: vec![PrefillChunk {
            new_tokens: 64,
            prefix: 0,
        }],
        decode: DecodeGroup::uniform(0, 0),
    };
    let ctx = EngineContext {
        max_model_len: model.max_position_embeddings,
        ..crate::common::context(&cluster.gpu, 1)
    };
    let run = |kind: EngineKind, launch: f64| {
        let engine = EngineModel::preset(kind, &ctx);
        let cost = Arc::new(Measured(RooflineModel::new(&cluster.gpu), launch));
        let opts = engine.lower_options(&LowerOptions::default());
        predict_with(&model, &cluster, 1, &batch, cost, &opts).unwrap()
    };
    // A tiny eager prefill is host-bound: its host time is ops × the measured launch.
    let fast = run(EngineKind::Sglang, 2e-6);
    let slow = run(EngineKind::Sglang, 40e-6);
    assert!(!fast.cuda_graph && fast.ops > 100);
    assert!(
        (fast.host_ms - fast.ops as f64 * 2e-3).abs() < 1e-9,
        "{fast:?}"
    );
    assert!(
        (slow.host_ms - slow.ops as f64 * 40e-3).abs() < 1e-9,
        "{slow:?}"
    );
    assert!(slow.iteration_ms > fast.iteration_ms);
    // vLLM V0 runs an uncompiled eager forward: the cost model's per-op dispatch, not the launch.
    let v0 = run(EngineKind::VllmV0, 2e-6);
    let per_op = parallax_hw::CostModel::kernel_launch_overhead(&RooflineModel::new(&cluster.gpu));
    assert!((v0.host_ms - v0.ops as f64 * per_op * 1e3).abs() < 1e-9 * v0.host_ms.max(1.0));
}

/// Speculative decoding: a decode step verifies `1 + k` tokens per request and runs the draft
/// module `k` times, so it costs more than a plain step and less than `1 + k` of them
/// (decode is weight-bound); a prefill runs the draft module once over its prompt.
#[test]
fn speculative_steps_price_verification_and_drafts() {
    use parallax_plan::{predict_plan, LowerOptions, Plan};
    let model = parallax_ir::resolve("deepseek-v3").unwrap();
    let cluster = Cluster::parse("1x8xH200").unwrap();
    let cost: Arc<dyn parallax_hw::CostModel> = Arc::new(RooflineModel::new(&cluster.gpu));
    let plan = Plan::new(1, 1, 8);
    let step = |k: u32, batch: &Batch| {
        let opts = LowerOptions {
            speculative_tokens: k,
            ..LowerOptions::default()
        };
        predict_plan(&model, &cluster, &plan, batch, cost.clone(), &opts)
            .unwrap()
            .iteration_ms
    };
    let d = decode(32, 2048);
    let (plain, one, three) = (step(0, &d), step(1, &d), step(3, &d));
    assert!(one > plain && one < 2.0 * plain, "{plain} {one}");
    assert!(three > one && three < 4.0 * plain, "{one} {three}");
    let pre = Batch {
        prefill: vec![PrefillChunk {
            new_tokens: 1024,
            prefix: 0,
        }],
        decode: DecodeGroup::default(),
    };
    // a prefill runs the draft module once over its prompt: one more layer of 61
    let (p0, p2) = (step(0, &pre), step(2, &pre));
    assert!(p2 > p0 && p2 < 1.05 * p0, "{p0} {p2}");
    // the tokens reported are those through the GEMMs: each decode verifies its drafts too
    let tokens = |k: u32, batch: &Batch| {
        let opts = LowerOptions {
            speculative_tokens: k,
            ..LowerOptions::default()
        };
        predict_plan(&model, &cluster, &plan, batch, cost.clone(), &opts)
            .unwrap()
            .tokens
    };
    assert_eq!((tokens(0, &d), tokens(3, &d)), (32, 128));
    assert_eq!(tokens(2, &pre), 1024);
}

/// vLLM captures decode CUDA graphs by tokens: under speculation with `k` drafts a graph of
/// `N` tokens holds `N / (1 + k)` requests. SGLang and TensorRT-LLM capture by batch size.
#[test]
fn vllm_graphs_hold_fewer_speculative_decodes() {
    use parallax_plan::{EngineContext, EngineKind, EngineModel, LowerOptions};
    let (model, cluster, _) = setup();
    let ctx = EngineContext {
        max_model_len: model.max_position_embeddings,
        ..crate::common::context(&cluster.gpu, 1)
    };
    let spec = parallax_sim::Speculation {
        draft_tokens: 1,
        mean_accepted: 0.85,
    };
    for kind in [EngineKind::Vllm, EngineKind::Sglang, EngineKind::Trtllm] {
        let plain = EngineModel::preset(kind, &ctx);
        let graphs = |e: &EngineModel| {
            e.lower_options(&LowerOptions::default())
                .cuda_graph_max_batch
        };
        let with = plain.clone().with_speculation(spec);
        let expected = if kind == EngineKind::Vllm {
            graphs(&plain) / 2
        } else {
            graphs(&plain)
        };
        assert_eq!(graphs(&with), expected, "{kind:?}");
    }
}

/// A sliding-window model's decode KV holds at most its window per sequence: 16 requests of
/// 32,768 tokens of Mistral-7B (4,096-token window) need 8.6 GB of KV, not 69 GB, and fit an
/// H100; Llama-3.1-8B's full-attention KV for the same batch does not. (The simulator's paged
/// capacity counts every layer at full size: vLLM's hybrid allocator frees a window's old
/// blocks, which one iteration's `fits_memory` does model and the capacity does not.)
#[test]
fn fits_memory_counts_a_sliding_window_once_per_sequence() {
    let cluster = Cluster::parse("1x1xH100").unwrap();
    let fits = |name: &str, b: u32, c: u32| {
        let model = parallax_ir::resolve(name).unwrap();
        let cost = Arc::new(RooflineModel::new(&cluster.gpu));
        predict(&model, &cluster, 1, &decode(b, c), true, cost)
            .unwrap()
            .fits_memory
    };
    assert!(fits("mistral-7b", 16, 32768));
    assert!(!fits("llama-3.1-8b", 16, 32768));
    assert!(fits("llama-3.1-8b", 16, 4096));
    // a prefill writes every new token's KV, window or not: 16 prompts of 32,768 tokens
    // hold 64 GiB in the iteration
    let model = parallax_ir::resolve("mistral-7b").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let prefill = Batch {
        prefill: vec![
            PrefillChunk {
                new_tokens: 32768,
                prefix: 0
            };
            16
        ],
        decode: DecodeGroup::default(),
    };
    assert!(
        !predict(&model, &cluster, 1, &prefill, true, cost)
            .unwrap()
            .fits_memory
    );
}
