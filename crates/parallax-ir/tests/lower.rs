//! Lowering cells to per-device ops: FLOP consistency, sharding and collectives.

use parallax_ir::lower::{attention_shape, routed_load};
use parallax_ir::{
    check_shard, embedded, lower_cell, lower_embedding, lower_lm_head, resolve, AttentionShape,
    Batch, Cell, CellShard, CollectiveKind, DType, DecodeGroup, GroupRole, IrError, Model, Op,
    OpBody, Precision, PrefillChunk,
};

fn mixed_batch() -> Batch {
    Batch {
        prefill: vec![
            PrefillChunk {
                new_tokens: 512,
                prefix: 0,
            },
            PrefillChunk {
                new_tokens: 100,
                prefix: 2048,
            },
        ],
        decode: DecodeGroup::from_contexts(&[10, 1000, 5000, 130]),
    }
}

fn cell_of(m: &Model, pred: impl Fn(&Cell) -> bool) -> Cell {
    m.cells()
        .map(|(c, _)| c)
        .find(|c| pred(c))
        .cloned()
        .expect("cell")
}

fn lower(cell: &Cell, shard: CellShard, batch: &Batch, p: &Precision) -> Vec<Op> {
    let mut ops = Vec::new();
    lower_cell(cell, shard, batch, p, &mut ops);
    ops
}

fn flops(ops: &[Op]) -> f64 {
    ops.iter().map(Op::flops).sum()
}

#[test]
fn op_flops_sum_to_cell_flops_at_tp1() {
    let batches = [
        mixed_batch(),
        Batch {
            prefill: vec![],
            decode: DecodeGroup::uniform(1, 77),
        },
        Batch {
            prefill: vec![PrefillChunk {
                new_tokens: 8192,
                prefix: 0,
            }],
            decode: DecodeGroup::default(),
        },
        Batch::default(),
    ];
    for e in embedded() {
        let m = e.model().unwrap();
        for (cell, _) in m.cells() {
            for b in &batches {
                let ops = lower(cell, CellShard::SINGLE, b, &m.precision);
                let (a, c) = (flops(&ops), cell.flops(b));
                assert!(
                    (a - c).abs() <= 1e-9 * c.max(1.0),
                    "{}: {a} vs {c} for {cell:?}",
                    e.short_name
                );
                if b.is_empty() {
                    assert_eq!(c, 0.0);
                } else {
                    assert!(c > 0.0);
                }
            }
        }
    }
}

#[test]
fn gemm_flops_are_twice_tokens_times_matmul_weights() {
    // Dense Llama layer: GEMM FLOPs = 2 · T · (matrix parameters).
    let m = resolve("llama-3.1-8b").unwrap();
    let b = mixed_batch();
    let t = b.tokens() as f64;
    for (cell, _) in m.cells() {
        if let Cell::Mlp(_) = cell {
            let ops = lower(cell, CellShard::SINGLE, &b, &m.precision);
            let g: f64 = ops
                .iter()
                .filter_map(|o| match &o.body {
                    OpBody::Gemm(g) => Some(g.flops()),
                    _ => None,
                })
                .sum();
            assert_eq!(g, 2.0 * t * cell.params() as f64);
        }
    }
}

#[test]
fn weight_bytes_per_device_times_devices_is_total() {
    let p = Precision::default();
    let m = resolve("llama-3.1-70b").unwrap();
    for (cell, _) in m.cells() {
        if matches!(cell, Cell::Norm(_)) {
            continue;
        }
        let whole = cell.weight_bytes_per_device(CellShard::SINGLE, &p);
        assert_eq!(whole, cell.params() as f64 * 2.0);
        for tp in [2, 4, 8] {
            let per = cell.weight_bytes_per_device(CellShard::tp(tp), &p);
            assert_eq!(per * tp as f64, whole, "tp={tp} {cell:?}");
        }
    }
    // MoE: experts split by ep, each expert by tp; the router is replicated.
    for (name, shards) in [
        ("mixtral-8x7b", vec![(1, 8), (2, 4), (4, 2)]),
        ("qwen3-30b-a3b", vec![(1, 8), (2, 16), (4, 32)]),
        ("deepseek-v3", vec![(1, 8), (1, 32), (2, 64)]),
    ] {
        let m = resolve(name).unwrap();
        let moe = cell_of(&m, |c| matches!(c, Cell::Moe(_)));
        let whole = moe.weight_bytes_per_device(CellShard::SINGLE, &p);
        for (tp, ep) in shards {
            let shard = CellShard { tp, ep };
            check_shard(&moe, shard).unwrap();
            let total = moe.weight_bytes_per_device(shard, &p) * shard.devices() as f64;
            let Cell::Moe(x) = &moe else { unreachable!() };
            // The router is replicated on every device, shared experts on every EP group.
            let router = x.hidden as f64 * x.experts as f64 * 2.0;
            let shared = x.shared_experts as f64
                * 3.0
                * x.hidden as f64
                * x.shared_intermediate as f64
                * 2.0;
            let expected = whole + (shard.devices() - 1) as f64 * router + (ep - 1) as f64 * shared;
            assert_eq!(total, expected, "{name} tp={tp} ep={ep}");
        }
    }
}

#[test]
fn shard_checks() {
    let m = resolve("llama-3.1-70b").unwrap(); // 64 heads, 8 KV heads, 28672 inner
    let attn = cell_of(&m, |c| matches!(c, Cell::Attention(_)));
    let mlp = cell_of(&m, |c| matches!(c, Cell::Mlp(_)));
    let norm = cell_of(&m, |c| matches!(c, Cell::Norm(_)));
    for tp in [1, 2, 4, 8, 16, 32, 64] {
        check_shard(&attn, CellShard::tp(tp)).unwrap();
    }
    for tp in [3, 5, 12, 128] {
        let e = check_shard(&attn, CellShard::tp(tp)).unwrap_err();
        assert!(matches!(e, IrError::InvalidShard { tp: t, .. } if t == tp));
    }
    assert!(check_shard(&attn, CellShard { tp: 0, ep: 1 }).is_err());
    check_shard(&mlp, CellShard::tp(8)).unwrap();
    assert!(check_shard(&mlp, CellShard::tp(3)).is_err());
    for c in [&attn, &mlp, &norm] {
        let e = check_shard(c, CellShard { tp: 1, ep: 2 }).unwrap_err();
        assert!(e.to_string().contains("ep=2"), "{e}");
    }
    // Qwen2.5-7B: 28 heads, 4 KV heads.
    let q = resolve("qwen2.5-7b").unwrap();
    let qa = cell_of(&q, |c| matches!(c, Cell::Attention(_)));
    check_shard(&qa, CellShard::tp(4)).unwrap();
    let e = check_shard(&qa, CellShard::tp(8)).unwrap_err();
    assert!(e.to_string().contains("28 query heads"), "{e}");
    // KV heads neither divisible by tp nor dividing it.
    let json = r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 768, "num_hidden_layers": 1,
        "num_attention_heads": 12, "num_key_value_heads": 6, "intermediate_size": 1536,
        "vocab_size": 100, "max_position_embeddings": 64}"#;
    let small = parallax_ir::hf::from_json_str(json, "s.json").unwrap();
    let sa = cell_of(&small, |c| matches!(c, Cell::Attention(_)));
    assert!(check_shard(&sa, CellShard::tp(4)).is_err()); // 6 % 4 != 0
    assert!(check_shard(&sa, CellShard::tp(12)).is_ok()); // 12 % 6 == 0
                                                          // MoE.
    let mx = resolve("mixtral-8x7b").unwrap();
    let moe = cell_of(&mx, |c| matches!(c, Cell::Moe(_)));
    check_shard(&moe, CellShard { tp: 2, ep: 8 }).unwrap();
    let e = check_shard(&moe, CellShard { tp: 1, ep: 3 }).unwrap_err();
    assert!(e.to_string().contains("8 experts"), "{e}");
    assert!(check_shard(&moe, CellShard { tp: 5, ep: 1 }).is_err());
}

fn collectives(ops: &[Op]) -> Vec<(CollectiveKind, GroupRole, u32, f64)> {
    ops.iter()
        .filter_map(|o| match &o.body {
            OpBody::Collective(c) => Some((c.kind, c.group, c.ranks, c.bytes)),
            _ => None,
        })
        .collect()
}

#[test]
fn collectives_follow_the_shard() {
    let p = Precision::default();
    let b = mixed_batch();
    let t = b.tokens() as f64;
    let m = resolve("llama-3.1-70b").unwrap();
    let attn = cell_of(&m, |c| matches!(c, Cell::Attention(_)));
    assert!(collectives(&lower(&attn, CellShard::SINGLE, &b, &p)).is_empty());
    assert_eq!(
        collectives(&lower(&attn, CellShard::tp(8), &b, &p)),
        vec![(
            CollectiveKind::AllReduce,
            GroupRole::TensorParallel,
            8,
            t * 8192.0 * 2.0
        )]
    );
    let mx = resolve("mixtral-8x7b").unwrap();
    let moe = cell_of(&mx, |c| matches!(c, Cell::Moe(_)));
    let c = collectives(&lower(&moe, CellShard { tp: 2, ep: 4 }, &b, &p));
    let kinds: Vec<_> = c.iter().map(|x| (x.0, x.1, x.2)).collect();
    assert_eq!(
        kinds,
        vec![
            (CollectiveKind::AllToAll, GroupRole::ExpertParallel, 4),
            (CollectiveKind::AllToAll, GroupRole::ExpertParallel, 4),
            (CollectiveKind::AllReduce, GroupRole::TensorParallel, 2),
        ]
    );
    assert!(collectives(&lower(&moe, CellShard::SINGLE, &b, &p)).is_empty());
}

#[test]
fn per_device_attention_shapes() {
    let p = Precision::default();
    let m = resolve("llama-3.1-70b").unwrap();
    let Cell::Attention(a) = cell_of(&m, |c| matches!(c, Cell::Attention(_))) else {
        unreachable!()
    };
    let s = attention_shape(&a, 8, &p);
    assert_eq!(
        (s.heads, s.kv_heads, s.qk_head_dim, s.v_head_dim),
        (8, 1, 128, 128)
    );
    assert_eq!(s.kv_bytes_per_token, 2.0 * 128.0 * 2.0);
    let s = attention_shape(&a, 16, &p);
    assert_eq!((s.heads, s.kv_heads), (4, 1));
    let d = resolve("deepseek-v3").unwrap();
    let Cell::Attention(a) = cell_of(&d, |c| matches!(c, Cell::Attention(_))) else {
        unreachable!()
    };
    let s = attention_shape(&a, 8, &p);
    assert_eq!(
        (s.heads, s.kv_heads, s.qk_head_dim, s.v_head_dim),
        (16, 1, 576, 512)
    );
    assert_eq!(s.kv_bytes_per_token, 576.0 * 2.0);
    let g = resolve("gpt-oss-120b").unwrap();
    let windows: Vec<_> = g
        .cells()
        .filter_map(|(c, _)| match c {
            Cell::Attention(a) => Some(attention_shape(a, 2, &p).window),
            _ => None,
        })
        .collect();
    assert_eq!(windows, vec![Some(128), None]);
}

#[test]
fn attended_keys_by_hand() {
    let shape = |window| AttentionShape {
        heads: 1,
        kv_heads: 1,
        qk_head_dim: 1,
        v_head_dim: 1,
        kv_bytes_per_token: 1.0,
        window,
        act_dtype: DType::Bf16,
        kv_dtype: DType::Bf16,
    };
    let chunk = |n, p| {
        vec![PrefillChunk {
            new_tokens: n,
            prefix: p,
        }]
    };
    let none = DecodeGroup::default();
    assert_eq!(shape(None).attended_keys(&chunk(4, 0), &none), 10.0);
    assert_eq!(shape(Some(2)).attended_keys(&chunk(4, 0), &none), 7.0);
    assert_eq!(shape(Some(3)).attended_keys(&chunk(2, 5), &none), 6.0);
    assert_eq!(shape(None).attended_keys(&chunk(2, 5), &none), 13.0);
    let dec = DecodeGroup::from_contexts(&[10, 20]);
    assert_eq!(shape(None).attended_keys(&[], &dec), 30.0);
    assert_eq!(shape(Some(50)).attended_keys(&[], &dec), 30.0);
    assert_eq!(shape(Some(15)).attended_keys(&[], &dec), 30.0); // bound min(30, 2·15)
    assert_eq!(shape(Some(5)).attended_keys(&[], &dec), 10.0);
    // flops = 2 · heads · (qk + v) · keys
    assert_eq!(shape(None).flops(&chunk(4, 0), &none), 2.0 * 2.0 * 10.0);
}

#[test]
fn only_attention_depends_on_batch_composition() {
    // Same token count (64), different composition.
    let a = Batch {
        prefill: vec![PrefillChunk {
            new_tokens: 60,
            prefix: 0,
        }],
        decode: DecodeGroup::uniform(4, 100),
    };
    let b = Batch {
        prefill: vec![
            PrefillChunk {
                new_tokens: 32,
                prefix: 900,
            },
            PrefillChunk {
                new_tokens: 32,
                prefix: 7,
            },
        ],
        decode: DecodeGroup::default(),
    };
    assert_eq!(a.tokens(), b.tokens());
    for name in [
        "llama-3.1-70b",
        "deepseek-v3",
        "gpt-oss-120b",
        "mixtral-8x7b",
    ] {
        let m = resolve(name).unwrap();
        for (cell, _) in m.cells() {
            for shard in [CellShard::SINGLE, CellShard::tp(2)] {
                let x = lower(cell, shard, &a, &m.precision);
                let y = lower(cell, shard, &b, &m.precision);
                assert_eq!(x.len(), y.len());
                for (p, q) in x.iter().zip(&y) {
                    if !matches!(p.body, OpBody::Attention { .. }) {
                        assert_eq!(p, q, "{name}");
                    }
                }
            }
        }
        let (mut x, mut y) = (Vec::new(), Vec::new());
        lower_embedding(&m, 4, &a, &mut x);
        lower_embedding(&m, 4, &b, &mut y);
        assert_eq!(x, y);
    }
}

#[test]
fn moe_routing_load() {
    assert_eq!(routed_load(0, 8, 8, 2), (0, 0));
    assert_eq!(routed_load(1, 8, 8, 2), (2, 1));
    assert_eq!(routed_load(1, 32, 256, 8), (1, 1));
    assert_eq!(routed_load(100_000, 32, 256, 8), (32, 3125));
    // A decode batch of 16 tokens on DeepSeek-V3: 256·(1-(1-8/256)^16) ≈ 101.9 experts hit.
    assert_eq!(routed_load(16, 256, 256, 8).0, 102);
    let p = Precision::default();
    let mx = resolve("mixtral-8x7b").unwrap();
    let moe = cell_of(&mx, |c| matches!(c, Cell::Moe(_)));
    let b = Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(1, 10),
    };
    let ops = lower(&moe, CellShard::SINGLE, &b, &p);
    let experts: Vec<&Op> = ops.iter().filter(|o| o.name.contains("expert")).collect();
    assert_eq!(experts.len(), 1, "one fused op for the routed experts");
    match &experts[0].body {
        OpBody::FusedMoe(f) => {
            assert_eq!(
                (
                    f.active_experts,
                    f.max_rows,
                    f.assignments,
                    f.intermediate,
                    f.hidden
                ),
                (2, 1, 2, 14336, 4096)
            );
            // Two active experts' weights are read, gate+up+down.
            assert_eq!(f.weight_bytes(), 2.0 * 3.0 * 14336.0 * 4096.0 * 2.0);
            let [gu, d] = f.as_gemms();
            assert_eq!((gu.count, gu.m, gu.n, gu.k), (2, 1, 2 * 14336, 4096));
            assert_eq!((d.count, d.m, d.n, d.k), (2, 1, 4096, 14336));
        }
        other => panic!("{other:?}"),
    }
    // Under ep = 4 and tp = 2 a device holds 2 experts of half width and a quarter of the
    // 4096 · 2 token-expert pairs.
    let b = Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(4096, 10),
    };
    let ops = lower(&moe, CellShard { tp: 2, ep: 4 }, &b, &p);
    let f = ops
        .iter()
        .find_map(|o| match &o.body {
            OpBody::FusedMoe(f) => Some(*f),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (
            f.local_experts,
            f.active_experts,
            f.assignments,
            f.max_rows,
            f.intermediate
        ),
        (2, 2, 2048, 1024, 7168)
    );
}

#[test]
fn embedding_and_lm_head() {
    let m = resolve("llama-3.1-8b").unwrap();
    let b = mixed_batch();
    let mut ops = Vec::new();
    lower_embedding(&m, 1, &b, &mut ops);
    assert_eq!(ops.len(), 1);
    ops.clear();
    lower_embedding(&m, 4, &b, &mut ops);
    assert!(
        matches!(ops[1].body, OpBody::Collective(ref c) if c.kind == CollectiveKind::AllReduce && c.ranks == 4)
    );
    ops.clear();
    lower_lm_head(&m, 2, &b, &mut ops);
    let names: Vec<_> = ops.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        vec!["final_norm", "lm_head", "logits_all_gather", "sampling"]
    );
    match &ops[1].body {
        OpBody::Gemm(g) => assert_eq!((g.m, g.n, g.k), (b.sequences() as u64, 128256 / 2, 4096)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cell_bytes_include_weights_and_kv() {
    let m = resolve("llama-3.1-70b").unwrap();
    let p = m.precision;
    let attn = cell_of(&m, |c| matches!(c, Cell::Attention(_)));
    let decode = Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(8, 4096),
    };
    let bytes = attn.bytes(&decode, &p);
    let weights = attn.weight_bytes_per_device(CellShard::SINGLE, &p);
    let kv = 8.0 * 4096.0 * 2.0 * 8.0 * 128.0 * 2.0;
    assert!(bytes > weights + kv);
    assert!(bytes < (weights + kv) * 1.05, "{bytes} vs {}", weights + kv);
}

#[test]
fn mla_prefill_runs_multi_head_attention_over_up_projected_keys() {
    let m = resolve("deepseek-v3").unwrap();
    let attn = cell_of(&m, |c| matches!(c, Cell::Attention(_)));
    let p = m.precision;
    let ops = lower(&attn, CellShard::tp(8), &mixed_batch(), &p);
    let find = |name: &str| ops.iter().find(|o| o.name == name).cloned();
    // Decode: the absorbed form over the latent cache (one KV head, 512 + 64 wide).
    let Some(Op {
        body:
            OpBody::Attention {
                shape,
                prefill,
                decode,
            },
        ..
    }) = find("attn")
    else {
        panic!("no decode attention in {ops:?}")
    };
    assert!(prefill.is_empty() && decode.requests == 4);
    assert_eq!(
        (shape.heads, shape.kv_heads, shape.qk_head_dim),
        (16, 1, 576)
    );
    // Prefill: 16 local heads of 128 + 64 (keys) and 128 (values), one KV head per head.
    let Some(Op {
        body:
            OpBody::Attention {
                shape,
                prefill,
                decode,
            },
        ..
    }) = find("attn_prefill")
    else {
        panic!("no prefill attention in {ops:?}")
    };
    assert_eq!(prefill.len(), 2);
    assert_eq!(decode.requests, 0);
    assert_eq!(
        (
            shape.heads,
            shape.kv_heads,
            shape.qk_head_dim,
            shape.v_head_dim
        ),
        (16, 16, 192, 128)
    );
    // The naive form's attention FLOPs are (192 + 128) / (576 + 512) of the absorbed form's.
    let absorbed = parallax_ir::lower::attention_shape(
        match &attn {
            Cell::Attention(a) => a,
            _ => unreachable!(),
        },
        8,
        &p,
    );
    let none = DecodeGroup::default();
    let ratio = shape.flops(&prefill, &none) / absorbed.flops(&prefill, &none);
    assert!((ratio - 320.0 / 1088.0).abs() < 1e-12, "{ratio}");
    // The chunk with a 2,048-token prefix up-projects those latents: 512 → 16 × (128 + 128).
    let Some(Op {
        body: OpBody::Gemm(g),
        ..
    }) = find("kv_b_proj_context")
    else {
        panic!("no context up-projection in {ops:?}")
    };
    assert_eq!((g.m, g.n, g.k), (2048, 16 * 256, 512));
    // Decode-only batches have neither.
    let decode_only = Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(8, 100),
    };
    let ops = lower(&attn, CellShard::tp(8), &decode_only, &p);
    assert!(ops
        .iter()
        .all(|o| o.name != "attn_prefill" && o.name != "kv_b_proj_context"));
}

#[test]
fn routed_experts_run_in_their_own_precision() {
    // gpt-oss: mxfp4 experts (weight-only), bf16 attention and router
    let g = resolve("gpt-oss-120b").unwrap();
    let mut ops = Vec::new();
    for (cell, _) in g.cells() {
        lower_cell(
            cell,
            CellShard::SINGLE,
            &mixed_batch(),
            &g.precision,
            &mut ops,
        );
    }
    let mut seen = (0, 0);
    for op in &ops {
        match &op.body {
            OpBody::FusedMoe(f) => {
                assert_eq!((f.weight_dtype, f.act_dtype), (DType::Fp4, DType::Bf16));
                seen.0 += 1;
            }
            OpBody::Gemm(x) => {
                assert_eq!(
                    (x.weight_dtype, x.act_dtype),
                    (DType::Bf16, DType::Bf16),
                    "{}",
                    op.name
                );
                seen.1 += 1;
            }
            _ => {}
        }
    }
    assert!(seen.0 > 0 && seen.1 > 0, "{seen:?}");
    // a MoE-only quantisation leaves the other GEMMs as they were
    let q = resolve("qwen3-30b-a3b").unwrap();
    let p = q
        .precision
        .with_experts_quantized(parallax_ir::Quantization::Fp8);
    let mut ops = Vec::new();
    for (cell, _) in q.cells() {
        lower_cell(cell, CellShard::SINGLE, &mixed_batch(), &p, &mut ops);
    }
    for op in &ops {
        match &op.body {
            OpBody::FusedMoe(f) => assert_eq!(f.weight_dtype, DType::Fp8),
            OpBody::Gemm(x) => assert_eq!(x.weight_dtype, DType::Bf16, "{}", op.name),
            _ => {}
        }
    }
    // and its weights shrink by the routed experts' share only
    let mut q8 = q.clone();
    q8.precision = p;
    let all8 = q.weight_bytes() / 2.0;
    assert!(q8.weight_bytes() > all8 && q8.weight_bytes() < q.weight_bytes() * 0.6);
}

#[test]
fn sparse_attention_reads_top_k_and_runs_its_indexer_on_every_rank() {
    let m = resolve("deepseek-v3.2").unwrap();
    let p = m.precision;
    let attn = cell_of(&m, |c| matches!(c, Cell::Attention(_)));
    let Cell::Attention(a) = &attn else {
        unreachable!()
    };
    let sparse = a.sparse.expect("DeepSeek-V3.2 attends sparsely");
    let ix = sparse.indexer.expect("every layer has its own indexer");
    assert_eq!((sparse.top_k, ix.heads, ix.head_dim), (2048, 64, 128));
    assert_eq!(
        parallax_ir::lower::describe(&attn),
        "MLA attention (heads=128, sparse top-2048 by a 64x128 indexer)"
    );
    let by_name =
        |ops: &[Op], name: &str| -> Vec<(AttentionShape, Vec<PrefillChunk>, DecodeGroup)> {
            ops.iter()
                .filter(|o| o.name == name)
                .filter_map(|o| match &o.body {
                    OpBody::Attention {
                        shape,
                        prefill,
                        decode,
                    } => Some((*shape, prefill.clone(), *decode)),
                    _ => None,
                })
                .collect()
        };
    // Decode at 32k context under TP 8: the latent attention reads 2048 tokens per request,
    // the indexer (all 64 heads on every rank) scores all 32k.
    let decode = Batch {
        prefill: vec![],
        decode: DecodeGroup::uniform(4, 32768),
    };
    let ops = lower(&attn, CellShard::tp(8), &decode, &p);
    let main = by_name(&ops, "attn");
    assert_eq!(main.len(), 1);
    let (shape, _, d) = &main[0];
    assert_eq!(shape.window, Some(2048));
    assert_eq!(shape.heads, 16);
    assert_eq!(shape.attended_keys(&[], d), 4.0 * 2048.0);
    let index = by_name(&ops, "indexer");
    assert_eq!(index.len(), 1);
    let (ishape, _, d) = &index[0];
    assert_eq!(
        (ishape.heads, ishape.qk_head_dim, ishape.v_head_dim),
        (64, 128, 0)
    );
    assert_eq!(ishape.attended_keys(&[], d), 4.0 * 32768.0);
    assert_eq!(ishape.kv_bytes_per_token, 132.0);
    // The dense model reads the whole context.
    let v3 = resolve("deepseek-v3").unwrap();
    let dense = cell_of(&v3, |c| matches!(c, Cell::Attention(_)));
    let dense_ops = lower(&dense, CellShard::tp(8), &decode, &v3.precision);
    let (dshape, _, dd) = &by_name(&dense_ops, "attn")[0];
    assert_eq!(dshape.attended_keys(&[], dd), 4.0 * 32768.0);
    // Prefill: a chunk within top_k runs dense MHA; a longer one the absorbed sparse form.
    let short = PrefillChunk {
        new_tokens: 1024,
        prefix: 0,
    };
    let long = PrefillChunk {
        new_tokens: 512,
        prefix: 4096,
    };
    let batch = Batch {
        prefill: vec![short, long],
        decode: DecodeGroup::default(),
    };
    let ops = lower(&attn, CellShard::tp(8), &batch, &p);
    assert_eq!(by_name(&ops, "attn_prefill")[0].1, vec![short]);
    let absorbed = by_name(&ops, "attn");
    assert_eq!(absorbed[0].1, vec![long]);
    assert_eq!(
        absorbed[0]
            .0
            .attended_keys(&absorbed[0].1, &DecodeGroup::default()),
        512.0 * 2048.0
    );
    assert_eq!(by_name(&ops, "indexer")[0].1, vec![short, long]);
    // The KV cache keeps every token: the latent plus the indexer's 132 bytes.
    let kv = attn.kv_bytes_per_token_per_device(CellShard::tp(8), &p);
    assert_eq!(kv, 576.0 * p.kv_cache.bytes() + 132.0);
    // An fp8 cache is FlashMLA's sparse format: 512 fp8 + 4 scales + 64 rotary in bf16.
    let fp8 = Precision {
        kv_cache: DType::Fp8,
        ..p
    };
    assert_eq!(
        attn.kv_bytes_per_token_per_device(CellShard::tp(8), &fp8),
        656.0 + 132.0
    );
    assert_eq!(attn.kv_bytes_per_token(&fp8), 656.0 + 132.0);
    let ops = lower(&attn, CellShard::tp(8), &decode, &fp8);
    assert_eq!(by_name(&ops, "attn")[0].0.kv_bytes_per_token, 656.0);
    // The dense model's fp8 latent stays 576 bytes.
    let dense_fp8 = Precision {
        kv_cache: DType::Fp8,
        ..v3.precision
    };
    assert_eq!(dense.kv_bytes_per_token(&dense_fp8), 576.0);
}

#[test]
fn router_and_lm_head_stay_in_the_activation_type_under_quantisation() {
    let mut m = resolve("qwen3-30b-a3b").unwrap();
    m.precision = Precision {
        weights: DType::Fp8,
        compute: DType::Fp8,
        ..m.precision
    };
    let p = m.precision;
    let gemm_types = |ops: &[Op]| -> Vec<(&'static str, DType, DType)> {
        ops.iter()
            .filter_map(|o| match &o.body {
                OpBody::Gemm(g) => Some((o.name, g.weight_dtype, g.act_dtype)),
                _ => None,
            })
            .collect()
    };
    let b = mixed_batch();
    let lowered = |pick: fn(&Cell) -> bool| lower(&cell_of(&m, pick), CellShard::SINGLE, &b, &p);
    let moe = lowered(|c| matches!(c, Cell::Moe(_)));
    assert!(gemm_types(&moe).contains(&("router", DType::Bf16, DType::Bf16)));
    let attn = lowered(|c| matches!(c, Cell::Attention(_)));
    assert!(gemm_types(&attn).contains(&("qkv_proj", DType::Fp8, DType::Fp8)));
    let mut head = Vec::new();
    lower_lm_head(&m, 1, &b, &mut head);
    assert_eq!(
        gemm_types(&head),
        vec![("lm_head", DType::Bf16, DType::Bf16)]
    );
}
