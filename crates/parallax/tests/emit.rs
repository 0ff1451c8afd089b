//! Launch commands pinned against the flags each engine documents (vLLM
//! `vllm/engine/arg_utils.py`, SGLang `python/sglang/srt/server_args.py`, TensorRT-LLM
//! `tensorrt_llm/commands/serve.py` and `llmapi/llm_args.py`).

use parallax::emit::{emit, EmitError, EmitRequest, Engine, LaunchConfig};
use parallax::hw::Cluster;
use parallax::ir::Model;
use parallax::plan::Plan;
use parallax::sim::{SchedulerConfig, SchedulerKind};

fn launch(
    engine: Engine,
    model: &str,
    cluster: &str,
    plan: &str,
    kind: SchedulerKind,
) -> LaunchConfig {
    try_launch(engine, model, cluster, plan, kind).unwrap()
}

fn try_launch(
    engine: Engine,
    model: &str,
    cluster: &str,
    plan: &str,
    kind: SchedulerKind,
) -> Result<LaunchConfig, EmitError> {
    let m: Model = parallax::ir::resolve(model).unwrap();
    let c = Cluster::parse(cluster).unwrap();
    let p: Plan = plan.parse().unwrap();
    let hf = parallax::ir::embedded()
        .iter()
        .find(|e| e.matches(model))
        .unwrap()
        .hf_id;
    let mut s = SchedulerConfig::new(kind);
    s.max_num_seqs = 128;
    s.max_num_batched_tokens = 4096;
    emit(engine, &EmitRequest::new(&m, hf, &c, &p, s))
}

fn lines(cfg: &LaunchConfig) -> Vec<String> {
    cfg.instances.iter().map(|i| i.command_line()).collect()
}

#[test]
fn tp8_on_every_engine() {
    let v = launch(
        Engine::Vllm,
        "llama-3.1-70b",
        "1x8xH100",
        "tp=8",
        SchedulerKind::Chunked,
    );
    assert_eq!(
        lines(&v),
        [
            "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 8 --max-num-seqs 128 \
          --max-num-batched-tokens 4096 --enable-chunked-prefill --block-size 16 \
          --gpu-memory-utilization 0.9 --dtype bfloat16"
        ]
    );
    assert!(v.notes.is_empty(), "{:?}", v.notes);
    assert!(v.files.is_empty());

    let s = launch(
        Engine::Sglang,
        "llama-3.1-70b",
        "1x8xH100",
        "tp=8",
        SchedulerKind::Chunked,
    );
    let line = &lines(&s)[0];
    assert!(
        line.starts_with(
            "python3 -m sglang.launch_server --model-path meta-llama/Llama-3.1-70B --tp-size 8 \
             --max-running-requests 128 --max-prefill-tokens 4096 --chunked-prefill-size 4096 \
             --enable-mixed-chunk --mem-fraction-static 0."
        ),
        "{line}"
    );
    assert!(line.ends_with("--page-size 16 --dtype bfloat16"), "{line}");

    let t = launch(
        Engine::Trtllm,
        "llama-3.1-70b",
        "1x8xH100",
        "tp=8",
        SchedulerKind::Chunked,
    );
    let line = &lines(&t)[0];
    assert!(
        line.starts_with(
            "trtllm-serve meta-llama/Llama-3.1-70B --backend pytorch --tp_size 8 --pp_size 1 \
             --max_batch_size 128 --max_num_tokens 4096 --kv_cache_free_gpu_memory_fraction 0."
        ),
        "{line}"
    );
    assert!(
        line.ends_with("--enable_chunked_prefill --extra_llm_api_options parallax-trtllm.yaml"),
        "{line}"
    );
    assert_eq!(t.files.len(), 1);
    assert_eq!(
        t.files[0].contents,
        "dtype: bfloat16\nscheduler_config:\n  capacity_scheduler_policy: MAX_UTILIZATION\nkv_cache_config:\n  tokens_per_block: 16\n"
    );
}

/// The memory fractions of SGLang and TensorRT-LLM mean other things than vLLM's; both are
/// derived from the memory report so that every engine gets the KV cache that was simulated.
#[test]
fn memory_fractions_follow_the_memory_report() {
    let m = parallax::ir::resolve("llama-3.1-70b").unwrap();
    let c = Cluster::parse("1x8xH100").unwrap();
    let p: Plan = "tp=8".parse().unwrap();
    let req = EmitRequest::new(&m, "x", &c, &p, SchedulerConfig::default());
    let mem = parallax::plan::plan_memory(&m, &p, &c, &req.memory).unwrap();
    let st = &mem.stages[0];
    let cap = c.gpu.memory_bytes as f64;
    let flag = |cfg: &LaunchConfig, name: &str| -> f64 {
        let a = &cfg.instances[0].argv;
        let i = a.iter().position(|x| x == name).unwrap();
        a[i + 1].parse().unwrap()
    };
    let sg = flag(
        &emit(Engine::Sglang, &req).unwrap(),
        "--mem-fraction-static",
    );
    let want = (st.weights_bytes + st.kv_free_bytes()) / (cap - st.runtime_bytes);
    assert!(sg <= want && want - sg < 0.01, "{sg} vs {want}");
    let tr = flag(
        &emit(Engine::Trtllm, &req).unwrap(),
        "--kv_cache_free_gpu_memory_fraction",
    );
    let want =
        st.kv_free_bytes() / (cap - st.weights_bytes - st.activation_bytes - st.runtime_bytes);
    assert!(tr <= want && want - tr < 0.01, "{tr} vs {want}");
    assert!(tr > 0.5 && tr < 1.0, "{tr}");
}

#[test]
fn dp2_tp4_replicas() {
    // A dense model: vLLM and SGLang run both replicas from one command.
    let v = launch(
        Engine::Vllm,
        "llama-3.1-70b",
        "1x8xH100",
        "dp=2,tp=4",
        SchedulerKind::Chunked,
    );
    assert_eq!(v.instances.len(), 1);
    assert_eq!(v.instances[0].gpus, (0..8).collect::<Vec<_>>());
    assert!(lines(&v)[0].starts_with(
        "vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 4 --data-parallel-size 2 \
         --max-num-seqs 128"
    ));
    let s = launch(
        Engine::Sglang,
        "llama-3.1-70b",
        "1x8xH100",
        "dp=2,tp=4",
        SchedulerKind::Chunked,
    );
    assert_eq!(s.instances.len(), 1);
    assert!(lines(&s)[0].contains(" --tp-size 4 --dp-size 2 --max-running-requests 128 "));
    // trtllm-serve has no data parallelism for independent replicas: one command each.
    let t = launch(
        Engine::Trtllm,
        "llama-3.1-70b",
        "1x8xH100",
        "dp=2,tp=4",
        SchedulerKind::Chunked,
    );
    let l = lines(&t);
    assert_eq!(l.len(), 2);
    assert!(l[0].starts_with("CUDA_VISIBLE_DEVICES=0,1,2,3 trtllm-serve meta-llama/Llama-3.1-70B"));
    assert!(l[1].starts_with("CUDA_VISIBLE_DEVICES=4,5,6,7 trtllm-serve"));
    assert!(
        l[0].ends_with("--port 8000") && l[1].ends_with("--port 8001"),
        "{l:?}"
    );
    assert!(t.notes.iter().any(|n| n.contains("load balancer")));
    let script = t.script();
    assert!(script.contains("cat > parallax-trtllm.yaml <<'EOF'\n"));
    assert!(script.contains("# replica-1: node 0, GPUs 4,5,6,7\n"));
    assert!(script.ends_with(
        "wait\n# note: 2 independent replicas: put a load balancer in front of ports 8000-8001\n"
    ));
}

#[test]
fn moe_replicas_get_one_command_each_on_vllm() {
    // vLLM's data parallelism couples MoE replicas (lock-step expert layers): one per replica.
    let v = launch(
        Engine::Vllm,
        "mixtral-8x7b",
        "1x8xH100",
        "dp=2,tp=4",
        SchedulerKind::Chunked,
    );
    let l = lines(&v);
    assert_eq!(l.len(), 2);
    assert!(l[1].starts_with(
        "CUDA_VISIBLE_DEVICES=4,5,6,7 vllm serve mistralai/Mixtral-8x7B-v0.1 \
         --tensor-parallel-size 4 --max-num-seqs"
    ));
    assert!(!l[1].contains("--data-parallel-size"));
}

#[test]
fn expert_parallel_plans() {
    // Mixtral with experts over all 8 GPUs, attention TP 8.
    let plan = "tp=8,ep=8";
    let v = launch(
        Engine::Vllm,
        "mixtral-8x7b",
        "1x8xH100",
        plan,
        SchedulerKind::Chunked,
    );
    assert!(lines(&v)[0].starts_with(
        "vllm serve mistralai/Mixtral-8x7B-v0.1 --tensor-parallel-size 8 \
         --enable-expert-parallel --max-num-seqs 128"
    ));
    let s = launch(
        Engine::Sglang,
        "mixtral-8x7b",
        "1x8xH100",
        plan,
        SchedulerKind::Chunked,
    );
    assert!(lines(&s)[0].contains(" --tp-size 8 --ep-size 8 --max-running-requests 128 "));
    let t = launch(
        Engine::Trtllm,
        "mixtral-8x7b",
        "1x8xH100",
        plan,
        SchedulerKind::Chunked,
    );
    assert!(lines(&t)[0].contains(" --tp_size 8 --pp_size 1 --ep_size 8 --max_batch_size 128 "));

    // Qwen3-MoE with data-parallel attention and EP 8 (DeepSeek-style).
    let plan = "tp=8,attn=8xtp1,moe=ep8xtp1";
    let v = launch(
        Engine::Vllm,
        "qwen3-30b-a3b",
        "1x8xH100",
        plan,
        SchedulerKind::Chunked,
    );
    assert!(lines(&v)[0].starts_with(
        "vllm serve Qwen/Qwen3-30B-A3B --tensor-parallel-size 1 --data-parallel-size 8 \
         --enable-expert-parallel --max-num-seqs 16 --max-num-batched-tokens 512 "
    ));
    assert!(
        v.notes
            .iter()
            .any(|n| n.contains("16 = ⌈128 / 8⌉ sequences")),
        "{:?}",
        v.notes
    );
    let s = launch(
        Engine::Sglang,
        "qwen3-30b-a3b",
        "1x8xH100",
        plan,
        SchedulerKind::Chunked,
    );
    assert!(lines(&s)[0].contains(
        " --tp-size 8 --enable-dp-attention --dp-size 8 --ep-size 8 --max-running-requests 128 "
    ));
    let t = launch(
        Engine::Trtllm,
        "qwen3-30b-a3b",
        "1x8xH100",
        plan,
        SchedulerKind::Chunked,
    );
    assert!(lines(&t)[0].contains(
        " --tp_size 8 --pp_size 1 --ep_size 8 --max_batch_size 16 --max_num_tokens 512 "
    ));
    assert_eq!(
        t.files[0].contents,
        "dtype: bfloat16\nenable_attention_dp: true\nscheduler_config:\n  capacity_scheduler_policy: MAX_UTILIZATION\nkv_cache_config:\n  tokens_per_block: 16\n"
    );

    // A hybrid expert layout vLLM cannot express (EP spans the whole stage there).
    let e = try_launch(
        Engine::Vllm,
        "mixtral-8x7b",
        "1x8xH100",
        "tp=8,ep=4",
        SchedulerKind::Chunked,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("vllm cannot express plan `dp=1,pp=1,tp=8,moe=ep4xtp2`"),
        "{msg}"
    );
    assert!(msg.contains("moe=ep4xtp2"), "{msg}");
    // SGLang and TensorRT-LLM shard each expert over tp / ep.
    let s = launch(
        Engine::Sglang,
        "mixtral-8x7b",
        "1x8xH100",
        "tp=8,ep=4",
        SchedulerKind::Chunked,
    );
    assert!(lines(&s)[0].contains(" --tp-size 8 --ep-size 4 "));
}

#[test]
fn pipelines_with_uneven_layers() {
    let plan = "pp=2,tp=4,layers=38+42";
    let v = launch(
        Engine::Vllm,
        "llama-3.1-70b",
        "1x8xH100",
        plan,
        SchedulerKind::Chunked,
    );
    assert!(lines(&v)[0].starts_with(
        "VLLM_PP_LAYER_PARTITION=38,42 vllm serve meta-llama/Llama-3.1-70B \
         --tensor-parallel-size 4 --pipeline-parallel-size 2 --max-num-seqs"
    ));
    let s = launch(
        Engine::Sglang,
        "llama-3.1-70b",
        "1x8xH100",
        plan,
        SchedulerKind::Chunked,
    );
    assert!(
        lines(&s)[0].starts_with("SGLANG_PP_LAYER_PARTITION=38,42 python3 -m sglang.launch_server")
    );
    let t = launch(
        Engine::Trtllm,
        "llama-3.1-70b",
        "1x8xH100",
        plan,
        SchedulerKind::Chunked,
    );
    assert!(t.files[0].contents.contains("pp_partition: [38, 42]\n"));
}

#[test]
fn scheduler_policies_and_precision() {
    // The vllm (V0) policy: chunked prefill off, with a note that V1 mixes anyway.
    let v = launch(
        Engine::Vllm,
        "llama-3.1-8b",
        "1x1xH100",
        "tp=1",
        SchedulerKind::VllmV0,
    );
    assert!(lines(&v)[0].contains(" --no-enable-chunked-prefill "));
    assert_eq!(v.notes.len(), 1);
    let s = launch(
        Engine::Sglang,
        "llama-3.1-8b",
        "1x1xH100",
        "tp=1",
        SchedulerKind::VllmV0,
    );
    assert!(lines(&s)[0].contains(" --chunked-prefill-size -1 "));
    // Orca mixes whole prefills with decodes: TensorRT-LLM's in-flight batching, nothing else.
    let t = launch(
        Engine::Trtllm,
        "llama-3.1-8b",
        "1x1xH100",
        "tp=1",
        SchedulerKind::Orca,
    );
    assert!(!lines(&t)[0].contains("--enable_chunked_prefill"));
    let e = try_launch(
        Engine::Vllm,
        "llama-3.1-8b",
        "1x1xH100",
        "tp=1",
        SchedulerKind::Orca,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("`orca` scheduler policy has no vllm equivalent"),
        "{e}"
    );
    assert!(try_launch(
        Engine::Trtllm,
        "llama-3.1-8b",
        "1x1xH100",
        "tp=1",
        SchedulerKind::Static
    )
    .is_err());

    // FP8 weights and KV cache.
    let mut m = parallax::ir::resolve("llama-3.1-8b").unwrap();
    m.precision.weights = parallax::ir::DType::Fp8;
    m.precision.kv_cache = parallax::ir::DType::Fp8;
    let c = Cluster::parse("1x1xH100").unwrap();
    let p: Plan = "tp=1".parse().unwrap();
    let req = EmitRequest::new(
        &m,
        "m",
        &c,
        &p,
        SchedulerConfig::new(SchedulerKind::Chunked),
    );
    let v = lines(&emit(Engine::Vllm, &req).unwrap())[0].clone();
    assert!(
        v.ends_with("--dtype bfloat16 --quantization fp8 --kv-cache-dtype fp8"),
        "{v}"
    );
    let s = lines(&emit(Engine::Sglang, &req).unwrap())[0].clone();
    assert!(
        s.ends_with("--dtype bfloat16 --quantization fp8 --kv-cache-dtype fp8_e4m3"),
        "{s}"
    );
    let t = emit(Engine::Trtllm, &req).unwrap();
    assert!(t.files[0].contents.ends_with("  dtype: fp8\n"));
    assert!(
        t.notes.iter().any(|n| n.contains("weights are fp8")),
        "{:?}",
        t.notes
    );
}

#[test]
fn multi_node_replicas_and_engine_names() {
    let v = launch(
        Engine::Vllm,
        "llama-3.1-405b",
        "2x8xH100",
        "pp=2,tp=8",
        SchedulerKind::Chunked,
    );
    assert_eq!(v.instances[0].nodes, 2);
    assert!(
        v.notes.iter().any(|n| n.contains("spans 2 nodes")),
        "{:?}",
        v.notes
    );
    assert!(v.notes.iter().any(|n| n.contains("Ray cluster")));
    // SGLang: one process per node, each with its rank.
    let s = launch(
        Engine::Sglang,
        "llama-3.1-405b",
        "2x8xH100",
        "pp=2,tp=8",
        SchedulerKind::Chunked,
    );
    let l = lines(&s);
    assert_eq!(l.len(), 2);
    assert!(
        l[0].ends_with("--nnodes 2 --node-rank 0 --dist-init-addr NODE0_ADDR:5000"),
        "{}",
        l[0]
    );
    assert!(
        l[1].ends_with("--nnodes 2 --node-rank 1 --dist-init-addr NODE0_ADDR:5000"),
        "{}",
        l[1]
    );
    assert_eq!((s.instances[1].node, s.instances[1].gpus[0]), (1, 8));
    assert_eq!(s.instances[0].name, "all-node0");
    assert!(s.script().contains("run each command on its node"));
    assert!(s
        .notes
        .iter()
        .any(|n| n.contains("replace NODE0_ADDR with the address of node 0")));
    for e in Engine::ALL {
        assert_eq!(e.name().parse::<Engine>().unwrap(), e);
    }
    // the simulator's engine names and aliases, but vLLM V0 (no launch command)
    assert_eq!("TensorRT_LLM".parse::<Engine>().unwrap(), Engine::Trtllm);
    assert!("vllm-v0".parse::<Engine>().is_err());
    let err = "tgi".parse::<Engine>().unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown engine `tgi`: expected one of vllm, sglang, trtllm"
    );
}

#[test]
fn replicated_moe_cells_have_no_engine_flag() {
    for engine in [Engine::Vllm, Engine::Sglang, Engine::Trtllm] {
        let e = try_launch(
            engine,
            "mixtral-8x7b",
            "1x8xH100",
            "tp=8,moe=2xtp4",
            SchedulerKind::Chunked,
        )
        .unwrap_err();
        match e {
            EmitError::Unsupported { reason, .. } => {
                assert!(reason.contains("moe=2xep1xtp4"), "{reason}")
            }
            other => panic!("{other}"),
        }
    }
}

/// Plans simulated eagerly or with NCCL all-reduces launch that way in every engine.
#[test]
fn eager_and_nccl_all_reduce_are_emitted() {
    let m: Model = parallax::ir::resolve("llama-3.1-70b").unwrap();
    let c = Cluster::parse("1x8xH100").unwrap();
    let p: Plan = "tp=8".parse().unwrap();
    let s = SchedulerConfig::new(SchedulerKind::Chunked);
    let text = |engine: Engine, eager: bool, nccl: bool| {
        let mut req = EmitRequest::new(&m, "meta-llama/Llama-3.1-70B", &c, &p, s);
        req.enforce_eager = eager;
        req.disable_custom_all_reduce = nccl;
        let cfg = emit(engine, &req).unwrap();
        let mut t = lines(&cfg).join("\n");
        for f in &cfg.files {
            t.push('\n');
            t.push_str(&f.contents);
        }
        t
    };
    for (engine, eager, nccl) in [
        (
            Engine::Vllm,
            "--enforce-eager",
            "--disable-custom-all-reduce",
        ),
        (
            Engine::Sglang,
            "--disable-cuda-graph",
            "--disable-custom-all-reduce",
        ),
        (
            Engine::Trtllm,
            "cuda_graph_config: null",
            "allreduce_strategy: NCCL",
        ),
    ] {
        let plain = text(engine, false, false);
        assert!(!plain.contains(eager) && !plain.contains(nccl), "{plain}");
        let both = text(engine, true, true);
        assert!(both.contains(eager) && both.contains(nccl), "{both}");
        assert!(!text(engine, false, true).contains(eager));
    }
}

/// Whatever rule the plan was simulated under (vLLM's utilization, SGLang's static fraction or
/// its own default, TensorRT-LLM's free-memory fraction), each engine's emitted fraction, read
/// under that engine's own rule, gives at most the simulated KV cache and less than 1 % of the
/// GPU below it; the engine whose rule it was simulated under gets the simulated fraction.
#[test]
fn emitted_memory_fractions_reproduce_the_simulated_kv_cache() {
    use parallax::plan::MemoryRule;
    let m = parallax::ir::resolve("llama-3.1-70b").unwrap();
    let c = Cluster::parse("1x8xH100").unwrap();
    let p: Plan = "tp=4".parse().unwrap();
    let cap = c.gpu.memory_bytes as f64;
    let flag = |cfg: &LaunchConfig, name: &str| -> f64 {
        let a = &cfg.instances[0].argv;
        let i = a.iter().position(|x| x == name).unwrap();
        a[i + 1].parse().unwrap()
    };
    for (rule, f) in [
        (MemoryRule::Utilization, 0.925),
        (MemoryRule::Static, 0.836),
        (MemoryRule::StaticDefault, 0.825), // TP 4 on an H100: 512 + 12,288 + 1,024 + 512 MiB
        (MemoryRule::FreeFraction, 0.9),
    ] {
        let mut req = EmitRequest::new(&m, "x", &c, &p, SchedulerConfig::default());
        req.memory.gpu_memory_utilization = f;
        req.memory.rule = rule;
        let kv = |rule, f| {
            let o = parallax::MemoryOptions {
                gpu_memory_utilization: f,
                rule,
                ..req.memory
            };
            parallax::plan::plan_memory(&m, &p, &c, &o).unwrap().stages[0].kv_free_bytes()
        };
        let simulated = kv(rule, f);
        for (engine, name, engine_rule) in [
            (
                Engine::Vllm,
                "--gpu-memory-utilization",
                MemoryRule::Utilization,
            ),
            (Engine::Sglang, "--mem-fraction-static", MemoryRule::Static),
            (
                Engine::Trtllm,
                "--kv_cache_free_gpu_memory_fraction",
                MemoryRule::FreeFraction,
            ),
        ] {
            let got = flag(&emit(engine, &req).unwrap(), name);
            let served = kv(engine_rule, got);
            assert!(
                served <= simulated + 1e-6 * cap && simulated - served < 0.01 * cap,
                "{rule:?} → {engine:?} {got}: {served} vs {simulated}"
            );
            let own = match engine {
                Engine::Vllm => rule == MemoryRule::Utilization,
                Engine::Sglang => matches!(rule, MemoryRule::Static | MemoryRule::StaticDefault),
                _ => rule == MemoryRule::FreeFraction,
            };
            if own {
                assert_eq!(got, f, "{rule:?} → {engine:?}");
            }
        }
    }
}

/// Admission: a plan simulated as TensorRT-LLM admits (each request's whole KV reserved,
/// GUARANTEED_NO_EVICT, its default) emits no policy for it and a note for vLLM and SGLang,
/// which admit on the prompt; one simulated admitting on the prompt tells TensorRT-LLM so.
#[test]
fn admission_policy_follows_the_simulation() {
    let m = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let c = Cluster::parse("1x8xH100").unwrap();
    let p: Plan = "tp=8".parse().unwrap();
    let trt = parallax::engine_named("trtllm", &m, &c, 8)
        .unwrap()
        .scheduler;
    assert!(trt.reserve_to_completion);
    let req = EmitRequest::new(&m, "x", &c, &p, trt);
    let t = emit(Engine::Trtllm, &req).unwrap();
    assert!(!t.files[0].contents.contains("capacity_scheduler_policy"));
    // (vLLM has no `orca` policy: the same admission under chunked prefill)
    let chunked = SchedulerConfig {
        kind: parallax::sim::SchedulerKind::Chunked,
        ..trt
    };
    let v = emit(Engine::Vllm, &EmitRequest::new(&m, "x", &c, &p, chunked)).unwrap();
    assert!(
        v.notes.iter().any(|n| n.contains("GUARANTEED_NO_EVICT")),
        "{:?}",
        v.notes
    );
    let prompt_only = EmitRequest::new(
        &m,
        "x",
        &c,
        &p,
        SchedulerConfig {
            reserve_to_completion: false,
            ..trt
        },
    );
    let t = emit(Engine::Trtllm, &prompt_only).unwrap();
    assert!(t.files[0]
        .contents
        .contains("scheduler_config:\n  capacity_scheduler_policy: MAX_UTILIZATION\n"));
    let chunked = EmitRequest::new(
        &m,
        "x",
        &c,
        &p,
        SchedulerConfig {
            reserve_to_completion: false,
            ..chunked
        },
    );
    assert!(!emit(Engine::Vllm, &chunked)
        .unwrap()
        .notes
        .iter()
        .any(|n| n.contains("GUARANTEED_NO_EVICT")));
}
