//! How a MoE layer under expert parallelism moves its tokens, as the serving engines' default
//! paths run it: with tensor-parallel attention the tokens stay replicated and one all-reduce
//! sums the experts' partial outputs (vLLM `--enable-expert-parallel`, SGLang `--ep`,
//! TensorRT-LLM without attention DP); under data-parallel attention each expert group holds
//! the tokens it dispatches (all-to-all dispatch and combine).

use parallax_hw::{Cluster, RooflineModel};
use parallax_ir::{Batch, DecodeGroup, PrefillChunk};
use parallax_plan::{lower_plan, plan_memory, LowerOptions, MemoryOptions, Plan};
use parallax_sim::StageCost;
use std::sync::Arc;

fn plan(s: &str) -> Plan {
    s.parse().unwrap()
}

fn batches() -> Vec<Batch> {
    vec![
        Batch {
            prefill: vec![],
            decode: DecodeGroup::uniform(64, 1000),
        },
        Batch {
            prefill: vec![PrefillChunk {
                new_tokens: 8192,
                prefix: 0,
            }],
            decode: DecodeGroup::default(),
        },
    ]
}

#[test]
fn which_plans_keep_moe_tokens_replicated() {
    assert!(plan("tp=8,moe=ep8xtp1").moe_tokens_replicated());
    assert!(plan("tp=8,ep=4").moe_tokens_replicated());
    assert!(plan("tp=8,attn=2xtp4,moe=2xep4xtp1").moe_tokens_replicated());
    // attention data parallel finer than the MoE: tokens are dispatched
    assert!(!plan("tp=8,attn=8xtp1,moe=ep8xtp1").moe_tokens_replicated());
    // no expert parallelism: plain tensor parallelism
    assert!(!plan("tp=8").moe_tokens_replicated());
}

#[test]
fn ep_under_tp_attention_communicates_as_tensor_parallelism() {
    let model = parallax_ir::resolve("qwen3-30b-a3b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let o = LowerOptions::default();
    let step = |p: &str, b: &Batch| {
        let l = lower_plan(&model, &plan(p), &cluster, cost.clone(), &o).unwrap();
        l.stages[0][0].step(b)
    };
    for b in batches() {
        let ep = step("tp=8,moe=ep8xtp1", &b);
        let tp = step("tp=8", &b);
        let dispatched = step("tp=8,attn=8xtp1,moe=ep8xtp1", &b);
        // one all-reduce of every token's hidden state per MoE layer, as under TP: no
        // dispatch, no combine, no gather back to the attention's layout (a CUDA-graph replay
        // scales every kind by its overlap, which depends on the other kinds' times: within
        // 1 %)
        let (c_ep, c_tp) = (ep.breakdown[3], tp.breakdown[3]);
        assert!(c_ep > 0.0);
        assert!((c_ep - c_tp).abs() <= 0.01 * c_tp, "ep {c_ep} vs tp {c_tp}");
        // the router runs on every token of every device, the experts on their share:
        // per-device FLOPs as under TP (the same expert work, split differently)
        let rel = (ep.flops - tp.flops).abs() / tp.flops;
        assert!(rel < 0.02, "{} vs {} ({rel})", ep.flops, tp.flops);
        // attention DP dispatches its tokens all-to-all: other communication
        assert!(dispatched.breakdown[3] > 0.0);
        assert!((dispatched.breakdown[3] - c_ep).abs() > 1e-3 * c_ep);
    }
}

#[test]
fn ep_under_tp_attention_shards_the_shared_experts_over_the_replica() {
    // DeepSeek-V3 has a shared expert: with replicated tokens the engines shard it over all
    // eight devices, so EP 8 holds the same weights per device as MoE TP 8 (the routed
    // experts are split differently, by whole experts, but amount to the same bytes).
    let model = parallax_ir::resolve("deepseek-v3").unwrap();
    let cluster = Cluster::parse("1x8xH200").unwrap();
    let opts = MemoryOptions::default();
    let w = |p: &str| {
        plan_memory(&model, &plan(p), &cluster, &opts)
            .unwrap()
            .stages[0]
            .weights_bytes
    };
    let (ep, tp) = (w("tp=8,moe=ep8xtp1"), w("tp=8"));
    let rel = (ep - tp).abs() / tp;
    assert!(rel < 0.002, "ep {ep} vs tp {tp} ({rel})");
}

#[test]
fn ep_under_attention_dp_gathers_and_scatters_unless_all_to_all_is_asked_for() {
    // Mixtral routes each token to 2 of its 8 experts: an all-to-all moves a quarter of what
    // the engines' default all-gather + reduce-scatter moves, whose volume ignores top_k
    let model = parallax_ir::resolve("mixtral-8x7b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let p = plan("tp=8,attn=8xtp1,moe=ep8xtp1");
    let comm = |a2a: bool, b: &Batch| {
        let o = LowerOptions {
            moe_all_to_all: a2a,
            ..LowerOptions::default()
        };
        let l = lower_plan(&model, &p, &cluster, cost.clone(), &o).unwrap();
        l.stages[0][0].step(b).breakdown[3]
    };
    let prefill = &batches()[1];
    let (gather, a2a) = (comm(false, prefill), comm(true, prefill));
    assert!(gather > 1.5 * a2a, "gather {gather} vs all-to-all {a2a}");
    // tensor-parallel attention never dispatches: the option changes nothing there
    let tp_attn = plan("tp=8,moe=ep8xtp1");
    let o = |a2a: bool| LowerOptions {
        moe_all_to_all: a2a,
        ..LowerOptions::default()
    };
    let s = |a2a: bool| {
        lower_plan(&model, &tp_attn, &cluster, cost.clone(), &o(a2a))
            .unwrap()
            .stages[0][0]
            .step(prefill)
            .seconds
    };
    assert_eq!(s(false), s(true));
}

#[test]
fn predict_plan_prices_one_stage_of_one_replica() {
    let model = parallax_ir::resolve("qwen3-30b-a3b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let b = &batches()[0];
    let o = LowerOptions::default();
    let ep = parallax_plan::predict_plan(&model, &cluster, &plan("tp=8,ep=8"), b, cost.clone(), &o)
        .unwrap();
    assert_eq!(ep.plan, "dp=1,pp=1,tp=8,moe=ep8xtp1");
    // the TP-only plan is `predict_with`'s
    let tp = parallax_plan::predict_with(&model, &cluster, 8, b, cost.clone(), &o).unwrap();
    let via =
        parallax_plan::predict_plan(&model, &cluster, &plan("tp=8"), b, cost.clone(), &o).unwrap();
    assert_eq!(tp.iteration_ms, via.iteration_ms);
    let e = parallax_plan::predict_plan(&model, &cluster, &plan("dp=2,tp=4"), b, cost, &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dp=1 and pp=1"), "{e}");
}
