//! Lowering a plan: the cache equals the uncached computation, stages and replicas are built
//! as the plan says, and lowering does not depend on depth.

use parallax_hw::{Cluster, RooflineModel};
use parallax_ir::{Batch, DecodeGroup, OpKind, PrefillChunk};
use parallax_plan::{lower, lower_plan, LowerOptions, Plan, PlanError};
use parallax_sim::StageCost;
use std::sync::Arc;

fn batches() -> Vec<Batch> {
    vec![
        Batch {
            prefill: vec![],
            decode: DecodeGroup::uniform(1, 100),
        },
        Batch {
            prefill: vec![],
            decode: DecodeGroup::uniform(64, 2000),
        },
        Batch {
            prefill: vec![PrefillChunk {
                new_tokens: 512,
                prefix: 1024,
            }],
            decode: DecodeGroup::uniform(30, 700),
        },
        Batch {
            prefill: vec![
                PrefillChunk {
                    new_tokens: 3000,
                    prefix: 0,
                },
                PrefillChunk {
                    new_tokens: 100,
                    prefix: 50,
                },
            ],
            decode: DecodeGroup::default(),
        },
        // Beyond the cache size: computed every time.
        Batch {
            prefill: vec![PrefillChunk {
                new_tokens: 20_000,
                prefix: 0,
            }],
            decode: DecodeGroup::default(),
        },
    ]
}

fn check_cache(model: &str, cluster: &str, plan: &str) {
    check_cache_with(model, cluster, plan, &LowerOptions::default());
}

fn check_cache_with(model: &str, cluster: &str, plan: &str, opts: &LowerOptions) {
    let model = parallax_ir::resolve(model).unwrap();
    let cluster = Cluster::parse(cluster).unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let plan: Plan = plan.parse().unwrap();
    let lowered = lower_plan(&model, &plan, &cluster, cost, opts).unwrap();
    for stage in &lowered.stages[0] {
        for b in batches() {
            let uncached = stage.step_uncached(&b);
            let first = stage.step(&b);
            let second = stage.step(&b);
            assert_eq!(first, uncached, "{plan} stage {}", stage.stage());
            assert_eq!(second, uncached);
            let sum: f64 = second.breakdown.iter().sum();
            assert!((sum - second.seconds).abs() <= 1e-12 * second.seconds);
            assert!(second.flops > 0.0 && second.bytes > 0.0);
        }
    }
}

#[test]
fn cache_equals_uncached() {
    check_cache("llama-3.1-70b", "1x8xH100", "pp=2,tp=4");
    check_cache("llama-3.1-70b", "1x8xH100", "tp=8,attn=2xtp4");
    check_cache("mixtral-8x7b", "1x8xH100", "dp=2,ep=4");
    // speculative steps (verification and drafts) as well, on the last stage
    let spec = LowerOptions {
        speculative_tokens: 2,
        ..LowerOptions::default()
    };
    check_cache_with("deepseek-v3", "1x8xH200", "tp=8", &spec);
    check_cache_with("llama-3.1-70b", "1x8xH100", "pp=2,tp=4", &spec);
    check_cache("gpt-oss-120b", "1x8xH100", "tp=8,attn=8xtp1,moe=ep8xtp1");
    check_cache("deepseek-v3", "2x8xH100", "pp=2,tp=8,moe=ep8xtp1");
}

#[test]
fn plan_shape_reaches_the_simulator() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("2x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let plan: Plan = "dp=2,pp=2,tp=4".parse().unwrap();
    let reps = lower(
        &model,
        &plan,
        &cluster,
        cost.clone(),
        &LowerOptions::default(),
    )
    .unwrap();
    assert_eq!(reps.len(), 2);
    for r in &reps {
        assert_eq!(r.stages.len(), 2);
        assert_eq!(r.gpus, 8);
        assert_eq!(r.block_size, 16);
        assert!(r.kv_blocks > 0);
    }
    // Stage 0 sends activations; the last stage does not but pays the LM head.
    let b = Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(8, 512),
    };
    let s0 = reps[0].stages[0].step(&b);
    let s1 = reps[0].stages[1].step(&b);
    assert!(s0.breakdown[OpKind::Communication as usize] > 0.0);
    assert!(s1.seconds > 0.0);
    // More KV per replica with TP8 than TP4 x PP2? Both hold the whole model once per replica;
    // a tp=8 replica holds as many blocks as pp=2,tp=4 up to the embedding placement.
    let tp8 = lower(
        &model,
        &"dp=2,tp=8".parse().unwrap(),
        &cluster,
        cost,
        &LowerOptions::default(),
    )
    .unwrap();
    assert!(tp8[0].kv_blocks > 0);
}

#[test]
fn attention_replicas_split_the_batch_and_pay_a_reshard() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let o = LowerOptions::default();
    let base = lower_plan(&model, &"tp=8".parse().unwrap(), &cluster, cost.clone(), &o).unwrap();
    let rep = lower_plan(
        &model,
        &"tp=8,attn=2xtp4".parse().unwrap(),
        &cluster,
        cost,
        &o,
    )
    .unwrap();
    // Each attention group keeps only its own sequences' KV: KV heads are 8, so tp4 holds 2
    // heads per device instead of 1, but two groups share the load: same capacity up to weights.
    let kb = base.replicas[0].kv_blocks as f64;
    let kr = rep.replicas[0].kv_blocks as f64;
    assert!((kr / kb - 1.0).abs() < 0.1, "{kb} vs {kr}");
    let b = Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(64, 4096),
    };
    let sb = base.stages[0][0].step(&b);
    let sr = rep.stages[0][0].step(&b);
    // Half the sequences per group with twice the heads per device: attention time similar.
    let (ab, ar) = (sb.breakdown[1], sr.breakdown[1]);
    assert!(ar > 0.5 * ab && ar < 2.0 * ab, "{ab} vs {ar}");
    // The MLP layout differs from the attention layout: an all-gather per layer.
    assert!(sr.breakdown[3] > 0.0);
}

#[test]
fn lowering_is_independent_of_depth() {
    let mut model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let mut o = LowerOptions::default();
    o.memory.gpu_memory_utilization = 1.0;
    let plan: Plan = "pp=2,tp=4".parse().unwrap();
    let shallow = lower_plan(&model, &plan, &cluster, cost.clone(), &o).unwrap();
    // Twice as deep: the stage holds one entry per cell of the block, not per layer; the costs
    // scale with the repeat count.
    model.runs[0].repeat *= 2;
    let deep = lower_plan(&model, &plan, &cluster, cost, &o);
    match deep {
        Ok(d) => {
            let b = Batch {
                prefill: vec![],
                decode: DecodeGroup::uniform(4, 100),
            };
            let g1 = shallow.stages[0][0].step(&b).breakdown[0];
            let g2 = d.stages[0][0].step(&b).breakdown[0];
            assert!(g2 > 1.9 * g1 && g2 < 2.1 * g1, "{g1} {g2}");
        }
        Err(PlanError::Memory(m)) => assert!(m.deficit_bytes() > 0.0),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn infeasible_memory_is_reported_with_the_deficit() {
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let e = lower(
        &model,
        &"dp=8,tp=1".parse().unwrap(),
        &cluster,
        cost,
        &LowerOptions::default(),
    )
    .unwrap_err();
    match e {
        PlanError::Memory(m) => {
            assert_eq!(m.stage, 0);
            // 141 GB of weights against ~77 GB usable.
            assert!(m.needed_bytes > 1.3e11 && m.available_bytes < 8e10, "{m}");
            assert!(m.deficit_bytes() > 5e10);
        }
        other => panic!("{other}"),
    }
}

/// The lazily filled tables agree with the uncached computation for every token and sequence
/// count around the table's chunk boundaries and its capacity (`cache_tokens`), including
/// counts just past it (computed on every call).
#[test]
fn cache_equals_uncached_at_every_count_around_the_boundaries() {
    let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    for plan in ["pp=2,tp=2", "tp=4,attn=2xtp2"] {
        let plan: Plan = plan.parse().unwrap();
        let opts = LowerOptions {
            cache_tokens: 130,
            ..LowerOptions::default()
        };
        let lowered = lower_plan(&model, &plan, &cluster, cost.clone(), &opts).unwrap();
        for stage in &lowered.stages[0] {
            for n in (1u32..=200).chain([255, 256, 257, 16_383, 16_384, 16_385]) {
                let decode = Batch {
                    prefill: vec![],
                    decode: DecodeGroup::uniform(n, 300),
                };
                let prefill = Batch {
                    prefill: vec![
                        PrefillChunk {
                            new_tokens: n,
                            prefix: 7,
                        },
                        PrefillChunk {
                            new_tokens: 3,
                            prefix: 0,
                        },
                    ],
                    decode: DecodeGroup::uniform(n % 5, 40),
                };
                for b in [decode, prefill] {
                    let u = stage.step_uncached(&b);
                    assert_eq!(stage.step(&b), u, "{plan} stage {} n={n}", stage.stage());
                    assert_eq!(stage.step(&b), u, "{plan} stage {} n={n}", stage.stage());
                }
            }
        }
    }
}

/// With attention replicas the prefill chunks split evenly by count: two equal chunks on two
/// groups cost what one chunk costs on one group of the same shape.
#[test]
fn attention_replicas_split_prefill_chunks_evenly() {
    let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let o = LowerOptions::default();
    let rep = lower_plan(
        &model,
        &"tp=4,attn=2xtp2".parse().unwrap(),
        &cluster,
        cost,
        &o,
    )
    .unwrap();
    let chunk = PrefillChunk {
        new_tokens: 1000,
        prefix: 0,
    };
    let one = Batch {
        prefill: vec![chunk],
        decode: DecodeGroup::default(),
    };
    let two = Batch {
        prefill: vec![chunk, chunk],
        decode: DecodeGroup::default(),
    };
    let three = Batch {
        prefill: vec![chunk, chunk, chunk],
        decode: DecodeGroup::default(),
    };
    let s = &rep.stages[0][0];
    let attn = |b: &Batch| s.step(b).breakdown[OpKind::Attention as usize];
    assert_eq!(attn(&one), attn(&two));
    // Three chunks: the busier group runs two of them.
    assert!(attn(&three) > attn(&two));
}

/// A sparse-attention model (DeepSeek-V3.2): the stage's FLOPs equal the IR lowering's, its
/// indexer and its long prefill chunks' absorbed attention included, and the cache agrees.
#[test]
fn sparse_attention_stage_flops_equal_the_ir_lowering() {
    use parallax_ir::{lower_cell, lower_embedding, lower_lm_head, CellShard, Op};
    check_cache("deepseek-v3.2", "1x8xH200", "tp=8");
    let model = parallax_ir::resolve("deepseek-v3.2").unwrap();
    let cluster = Cluster::parse("1x8xH200").unwrap();
    let cost = Arc::new(RooflineModel::new(&cluster.gpu));
    let plan: Plan = "tp=8".parse().unwrap();
    let lowered = lower_plan(&model, &plan, &cluster, cost, &LowerOptions::default()).unwrap();
    let stage = &lowered.stages[0][0];
    let flops = |ops: &[Op]| -> f64 { ops.iter().map(Op::flops).sum() };
    let mut long = batches();
    long.push(Batch {
        prefill: vec![
            PrefillChunk {
                new_tokens: 2048,
                prefix: 30_000,
            },
            PrefillChunk {
                new_tokens: 1000,
                prefix: 0,
            },
        ],
        decode: DecodeGroup::uniform(8, 40_000),
    });
    for b in long {
        let mut ops = Vec::new();
        let mut want = 0.0;
        for (cell, n) in model.cells() {
            ops.clear();
            lower_cell(cell, CellShard::tp(8), &b, &model.precision, &mut ops);
            want += n as f64 * flops(&ops);
        }
        ops.clear();
        lower_embedding(&model, 8, &b, &mut ops);
        lower_lm_head(&model, 8, &b, &mut ops);
        want += flops(&ops);
        let got = stage.step(&b).flops;
        assert!(
            (got - want).abs() <= 1e-9 * want,
            "{got} vs {want} for {b:?}"
        );
    }
}
