//! Memory per stage: weights by shard, embeddings and LM head placement, replicated KV heads,
//! attention replicas, sliding windows, KV blocks as the minimum over stages.

use parallax_hw::Cluster;
use parallax_plan::{plan_memory, MemoryOptions, Plan, PlanError};

fn mem(model: &str, cluster: &str, plan: &str) -> parallax_plan::MemoryReport {
    let m = parallax_ir::resolve(model).unwrap();
    let c = Cluster::parse(cluster).unwrap();
    plan_memory(
        &m,
        &plan.parse::<Plan>().unwrap(),
        &c,
        &MemoryOptions::default(),
    )
    .unwrap()
}

#[test]
fn weights_split_by_tp_and_stages() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let total = model.weight_bytes();
    let tp8 = mem("llama-3.1-70b", "1x8xH100", "tp=8");
    let w = tp8.stages[0].weights_bytes;
    // Norms are replicated, everything else split 8 ways.
    assert!(
        w > total / 8.0 && w < total / 8.0 * 1.001,
        "{w} vs {}",
        total / 8.0
    );
    let pp = mem("llama-3.1-70b", "1x8xH100", "pp=2,tp=4");
    let sum: f64 = pp.stages.iter().map(|s| s.weights_bytes).sum();
    assert!((sum * 4.0 - total).abs() / total < 0.001);
    // Embedding on the first stage, LM head on the last: 40 layers each, similar weights.
    let (a, b) = (pp.stages[0].weights_bytes, pp.stages[1].weights_bytes);
    assert!((a - b).abs() / a < 0.01);
}

#[test]
fn kv_per_token_follows_stage_layers_and_sharding() {
    // Llama-3.1-70B: 80 layers x 2 x 8 KV heads x 128 x 2 B = 327,680 B per token.
    let tp1 = mem("llama-3.1-70b", "1x8xH100", "tp=1");
    assert_eq!(tp1.stages[0].kv_bytes_per_token, 327_680.0);
    let tp8 = mem("llama-3.1-70b", "1x8xH100", "tp=8");
    assert_eq!(tp8.stages[0].kv_bytes_per_token, 327_680.0 / 8.0);
    let pp2 = mem("llama-3.1-70b", "1x8xH100", "pp=2,tp=4");
    assert_eq!(pp2.stages[0].kv_bytes_per_token, 327_680.0 / 2.0 / 4.0);
    // TP 16 over 8 KV heads replicates them: the same bytes per device as TP 8.
    let tp16 = mem("llama-3.1-70b", "2x8xH100", "tp=16");
    assert_eq!(tp16.stages[0].kv_bytes_per_token, 327_680.0 / 8.0);
}

#[test]
fn kv_blocks_are_the_minimum_over_stages() {
    let r = mem("llama-3.1-70b", "1x8xH100", "pp=2,tp=4,layers=30+50");
    let blocks: Vec<u64> = r.stages.iter().map(|s| s.kv_tokens() / 16).collect();
    assert_eq!(r.kv_blocks(), *blocks.iter().min().unwrap());
    assert!(blocks[0] > blocks[1]);
}

#[test]
fn attention_replicas_pool_kv_of_their_own_sequences() {
    let a = mem("llama-3.1-70b", "1x8xH100", "tp=8");
    let b = mem("llama-3.1-70b", "1x8xH100", "tp=8,attn=2xtp4");
    // Twice the KV per token per device, two groups: about the same paged capacity, a little
    // less because attention weights are split 4 ways instead of 8.
    assert_eq!(
        b.stages[0].kv_bytes_per_token,
        2.0 * a.stages[0].kv_bytes_per_token
    );
    assert_eq!(b.stages[0].attn_replicas, 2);
    let ratio = b.kv_blocks() as f64 / a.kv_blocks() as f64;
    assert!(ratio > 0.9 && ratio < 1.0, "{ratio}");
}

#[test]
fn sliding_windows_cap_request_kv() {
    let r = mem("gpt-oss-120b", "1x8xH100", "tp=8");
    let s = &r.stages[0];
    assert_eq!(s.windowed_kv.len(), 1);
    let (w, wb) = s.windowed_kv[0];
    assert_eq!(w, 128);
    // Half the layers are windowed: a long request holds only the window of those.
    let n = 100_000u64;
    let full = s.kv_bytes_per_token * n as f64;
    let capped = s.request_kv_bytes(n);
    assert!((full - capped - wb * (n - w as u64) as f64).abs() < 1.0);
    assert!(capped < 0.51 * full);
}

#[test]
fn shortfall_names_stage_and_deficit() {
    let r = mem("llama-3.1-70b", "1x8xH100", "dp=8,tp=1");
    let miss = r.shortfall(16).unwrap();
    assert_eq!(miss.stage, 0);
    assert!(miss.deficit_bytes() > 0.0);
    assert!(matches!(r.check(16), Err(PlanError::Memory(_))));
    // A request larger than the free memory also misses on a plan that holds the weights.
    let ok = mem("llama-3.1-70b", "1x8xH100", "tp=8");
    assert!(ok.check(16).is_ok());
    let huge = ok.stages[0].kv_tokens() * 2;
    let m = ok.shortfall(huge).unwrap();
    assert!(m.needed_bytes > m.available_bytes);
}

#[test]
fn bad_options_are_typed_errors() {
    let m = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let c = Cluster::parse("1x8xH100").unwrap();
    let p: Plan = "tp=1".parse().unwrap();
    for o in [
        MemoryOptions {
            gpu_memory_utilization: 0.0,
            ..Default::default()
        },
        MemoryOptions {
            gpu_memory_utilization: 1.5,
            ..Default::default()
        },
        MemoryOptions {
            block_size: 0,
            ..Default::default()
        },
        MemoryOptions {
            max_num_batched_tokens: 0,
            ..Default::default()
        },
        MemoryOptions {
            runtime_reserve_bytes: f64::NAN,
            ..Default::default()
        },
    ] {
        assert!(
            matches!(plan_memory(&m, &p, &c, &o), Err(PlanError::Option { .. })),
            "{o:?}"
        );
    }
}

/// Each engine's memory rule gives the KV cache its own formula (capacity `C`, weights `W`,
/// activation reserve `A`, runtime reserve `R`), and the placement solver's linear limit
/// agrees with it.
#[test]
fn memory_rules_size_the_kv_cache_as_each_engine_does() {
    use parallax_plan::MemoryRule;
    let m = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = Cluster::parse("1x8xH100").unwrap();
    let p: Plan = "pp=2,tp=2".parse().unwrap();
    let cap = c.gpu.memory_bytes as f64;
    for (rule, f) in [
        (MemoryRule::Utilization, 0.9),
        (MemoryRule::Static, 0.85),
        (MemoryRule::FreeFraction, 0.8),
    ] {
        let o = MemoryOptions {
            gpu_memory_utilization: f,
            rule,
            ..Default::default()
        };
        let r = plan_memory(&m, &p, &c, &o).unwrap();
        for st in &r.stages {
            let (w, a, rt) = (st.weights_bytes, st.activation_bytes, st.runtime_bytes);
            let kv = st.kv_free_bytes();
            let want = match rule {
                MemoryRule::Utilization => f * cap - w - a - rt,
                MemoryRule::Static | MemoryRule::StaticDefault => f * (cap - rt) - w,
                MemoryRule::FreeFraction => f * (cap - w - a - rt),
            };
            assert!((kv - want).abs() < 1.0, "{rule:?}: {kv} vs {want}");
            assert!(kv > 0.0, "{rule:?}");
            let (limit, kv_weight) = st.weights_kv_limit();
            assert!(
                (w + kv_weight * kv - limit).abs() < 16.0,
                "{rule:?}: {} vs {limit}",
                w + kv_weight * kv
            );
        }
        let setting = match rule {
            MemoryRule::Utilization => "gpu_memory_utilization",
            MemoryRule::FreeFraction => "free_gpu_memory_fraction",
            _ => "mem_fraction_static",
        };
        assert_eq!(rule.setting(), setting);
        assert_eq!(st_fraction(&r), f);
    }
    // SGLang's own default: per plan, from the GPU, TP × PP and the token budget (8,192 tokens
    // at TP 2 × PP 2 on an H100: 512 + 12,288 + 2 × 256 + 512 MiB reserved of 81,920).
    let o = MemoryOptions {
        rule: MemoryRule::StaticDefault,
        max_num_batched_tokens: 8192,
        ..Default::default()
    };
    let r = plan_memory(&m, &p, &c, &o).unwrap();
    assert_eq!(st_fraction(&r), 0.831);
    let st = &r.stages[0];
    let kv = 0.831 * (cap - st.runtime_bytes) - st.weights_bytes;
    assert!((st.kv_free_bytes() - kv).abs() < 1.0);
    // A larger budget reserves more activation memory (SGLang: 1.5 MiB per token).
    let big = MemoryOptions {
        max_num_batched_tokens: 32_768,
        ..o
    };
    assert_eq!(st_fraction(&plan_memory(&m, &p, &c, &big).unwrap()), 0.381);
    // Weights beyond what the rule allows leave no KV cache: a shortfall under every rule.
    let one = "tp=1".parse::<Plan>().unwrap();
    for rule in [MemoryRule::Static, MemoryRule::FreeFraction] {
        let o = MemoryOptions {
            gpu_memory_utilization: 0.5,
            rule,
            ..Default::default()
        };
        let r = plan_memory(&m, &one, &c, &o).unwrap();
        assert_eq!(r.kv_blocks(), 0, "{rule:?}");
        assert!(r.check(16).is_err(), "{rule:?}");
    }
}

fn st_fraction(r: &parallax_plan::MemoryReport) -> f64 {
    r.stages[0].fraction
}

/// Usable memory never exceeds the device: under TensorRT-LLM's rule a model whose weights
/// alone exceed the GPU reports the GPU's memory as available, not more.
#[test]
fn usable_memory_is_at_most_the_device() {
    use parallax_plan::MemoryRule;
    let m = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let c = Cluster::parse("1x8xH100").unwrap();
    let o = MemoryOptions {
        rule: MemoryRule::FreeFraction,
        ..Default::default()
    };
    let r = plan_memory(&m, &"tp=1".parse::<Plan>().unwrap(), &c, &o).unwrap();
    let s = r.shortfall(16).unwrap();
    assert_eq!(s.available_bytes, c.gpu.memory_bytes as f64);
    assert!(s.needed_bytes > 1.6 * s.available_bytes);
}

#[test]
fn the_mtp_draft_module_counts_as_each_engine_loads_it() {
    use parallax_plan::MemoryRule;
    let m = parallax_ir::resolve("deepseek-v3").unwrap();
    assert_eq!(m.mtp_layers, 1);
    let c = Cluster::parse("1x8xH200").unwrap();
    let p: Plan = "tp=8,moe=ep8".parse().unwrap();
    let two: Plan = "pp=2,tp=4,moe=ep4".parse().unwrap();
    let run = |plan: &Plan, rule, draft| {
        let o = MemoryOptions {
            rule,
            draft_module: draft,
            ..Default::default()
        };
        plan_memory(&m, plan, &c, &o).unwrap()
    };
    // vLLM and TensorRT-LLM: one more MoE block and its eh_proj on the last stage, and one
    // more layer of KV per token (61 → 62 layers)
    for rule in [MemoryRule::Utilization, MemoryRule::FreeFraction] {
        let (base, mtp) = (run(&p, rule, false), run(&p, rule, true));
        let (b, d) = (&base.stages[0], &mtp.stages[0]);
        let extra = d.weights_bytes - b.weights_bytes;
        // an fp8 MoE layer of 256 experts over 8 GPUs is about 1.4 GB per GPU
        assert!(extra > 1.2e9 && extra < 1.8e9, "{rule:?}: {extra}");
        let ratio = d.kv_bytes_per_token / b.kv_bytes_per_token;
        assert!((ratio - 62.0 / 61.0).abs() < 1e-9, "{rule:?}: {ratio}");
        assert!(mtp.kv_blocks() < base.kv_blocks(), "{rule:?}");
        // only the last pipeline stage holds the draft
        let (base, mtp) = (run(&two, rule, false), run(&two, rule, true));
        assert_eq!(mtp.stages[0], base.stages[0]);
        assert!(mtp.stages[1].weights_bytes > base.stages[1].weights_bytes);
    }
    // SGLang: the draft worker loads outside mem_fraction_static; a given fraction is
    // unchanged, its default one reserves 2 GiB for the draft
    let (base, mtp) = (
        run(&p, MemoryRule::Static, false),
        run(&p, MemoryRule::Static, true),
    );
    assert_eq!(base, mtp);
    let (base, mtp) = (
        run(&p, MemoryRule::StaticDefault, false),
        run(&p, MemoryRule::StaticDefault, true),
    );
    assert_eq!(base.stages[0].weights_bytes, mtp.stages[0].weights_bytes);
    assert!(mtp.stages[0].fraction < base.stages[0].fraction);
    // and DP attention over the 8 ranks pads 3 × 512 × 8 + 1.5 × 512 × 8 MiB more
    let dp: Plan = "tp=8,attn=8xtp1,moe=ep8".parse().unwrap();
    let with_dp = run(&dp, MemoryRule::StaticDefault, false);
    let gib = (1u64 << 30) as f64;
    let expected =
        parallax_plan::engine::sglang_mem_fraction_static_with(141 << 30, 8, 8192, 512, 8, false);
    assert_eq!(with_dp.stages[0].fraction, expected);
    assert!(base.stages[0].fraction - expected > 18.0 * gib / (141.0 * gib) - 0.001);
}

#[test]
fn embedding_and_lm_head_stay_16_bit_under_quantisation() {
    // Qwen3-32B in fp8 on one GPU: the blocks halve, the embedding and the untied LM head
    // (151,936 × 5,120 each) and the norms keep two bytes per weight, as checkpoints store them.
    let bf16 = parallax_ir::resolve("qwen3-32b").unwrap();
    let mut fp8 = bf16.clone();
    fp8.precision = fp8.precision.quantized(parallax_ir::Quantization::Fp8);
    let c = Cluster::parse("1x1xH100").unwrap();
    let plan = "tp=1".parse::<Plan>().unwrap();
    let w = |m: &parallax_ir::Model| {
        plan_memory(m, &plan, &c, &MemoryOptions::default())
            .unwrap()
            .stages[0]
            .weights_bytes
    };
    let head = 2.0 * 151936.0 * 5120.0 + 5120.0;
    let norms = 64.0 * 2.0 * 5120.0;
    let blocks_bf16 = w(&bf16) - 2.0 * (head + norms);
    let want = blocks_bf16 / 2.0 + 2.0 * (head + norms);
    assert!((w(&fp8) / want - 1.0).abs() < 1e-9, "{} vs {want}", w(&fp8));
    // the same as the model's own accounting
    assert_eq!(w(&fp8), fp8.weight_bytes());
}
