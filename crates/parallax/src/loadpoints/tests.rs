//! Unit tests of the load-point parser, deployment and closed-loop simulation.

use super::deploy::{aiconfigurator_token_budget, sglang_mixed_chunk, version_at_least};
use super::{
    model_of_checkpoint, parse_load_points, predict_load_point, shuffled_prompts, LoadPoint,
    LoadPointOptions,
};
use parallax_plan::EngineKind;

/// Every system the benchmark's rows name and the catalogue covers resolves to a
/// catalogued GPU; Blackwell Ultra's among them.
#[test]
fn systems_resolve_to_catalogued_gpus() {
    for (system, name) in [
        ("h100_sxm", "H100-SXM"),
        ("h200_sxm", "H200"),
        ("b200_sxm", "B200"),
        ("gb200", "GB200"),
        ("b300_sxm", "B300"),
        ("GB300", "GB300"),
        ("h100_pcie", "H100-PCIe"),
    ] {
        let gpu = super::gpu_of_system(system).unwrap();
        assert_eq!(parallax_hw::catalog::gpu(gpu).unwrap().name, name);
    }
    assert_eq!(super::gpu_of_system("l4"), None);
}

/// Values that used to select a behaviour silently are refused by line and column: a mode
/// other than agg/disagg (ran as aggregated), a release that does not parse (the oldest
/// defaults), an aggregated row without `tp_size` (TP 1), a column named twice.
#[test]
fn ambiguous_rows_are_refused_by_line_and_column() {
    let header = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,\
osl,gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms";
    let row = |version: &str, mode: &str, tp: &str| {
        format!("r,silicon_concurrency=8,vllm,{version},Qwen/Qwen3-32B,h100_sxm,{mode},1024,128,,8,{tp},1,100,10")
    };
    let ok = parse_load_points(
        "lp.csv",
        &format!("{header}\n{}\n", row("0.12.0", "AGG", "2")),
    )
    .unwrap();
    assert_eq!((ok[0].tp, ok[0].mode.as_str()), (2, "agg"));
    // an empty release keeps the engine's current defaults
    parse_load_points("lp.csv", &format!("{header}\n{}\n", row("", "agg", "2"))).unwrap();
    let v = parse_load_points(
        "lp.csv",
        &format!("{header}\n{}\n", row("v0.12.0", "agg", "2")),
    )
    .unwrap();
    assert!(super::deploy::version_at_least(
        &v[0].engine_version,
        (0, 12, 0)
    ));
    for (body, needle) in [
        (row("0.12.0", "weird", "2"), "lp.csv:2: column `mode`"),
        (row("0.12.0", "", "2"), "lp.csv:2: column `mode`"),
        (
            row("banana", "agg", "2"),
            "lp.csv:2: column `backend_version`",
        ),
        (row("0.12.0", "agg", ""), "lp.csv:2: column `tp_size`"),
    ] {
        let e = parse_load_points("lp.csv", &format!("{header}\n{body}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{e}");
    }
    let e = parse_load_points(
        "lp.csv",
        &format!("{header},isl\n{},1\n", row("0.12.0", "agg", "2")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("lp.csv:1: column `isl`") && e.contains("each column once"),
        "{e}"
    );
    let e = parse_load_points("lp.csv", &format!("{header}\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least one load point"), "{e}");
    // one output token has no TPOT (the row predicted NaN)
    let one = row("0.12.0", "agg", "2").replace(",1024,128,", ",1024,1,");
    let e = parse_load_points("lp.csv", &format!("{header}\n{one}\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("lp.csv:2: column `osl`") && e.contains("at least 2 output tokens"),
        "{e}"
    );
    // a bad concurrency is quoted as the cell gives it
    let zero = row("0.12.0", "agg", "2").replace("silicon_concurrency=8", "silicon_concurrency=0");
    let e = parse_load_points("lp.csv", &format!("{header}\n{zero}\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`silicon_concurrency=0`"), "{e}");
    // trailing commas (spreadsheet exports) are unnamed columns, not repeated ones
    let pts = parse_load_points(
        "lp.csv",
        &format!("{header},,\n{},,\n", row("0.12.0", "agg", "2")),
    )
    .unwrap();
    assert_eq!(pts.len(), 1);
}

/// A worker's attention-DP ranks and MoE degrees, as aiconfigurator's columns give them.
#[test]
fn attention_dp_and_expert_parallel_rows() {
    use super::{parse_load_points, predict_load_point, row_plan, LoadPointOptions};
    let csv = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
gemm_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,\
silicon_ttft_ms,silicon_tpot_ms
a,silicon_concurrency=64,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,,16,1,1,4,1,4,100,10
b,silicon_concurrency=64,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,,16,1,1,4,,,100,10
c,silicon_concurrency=64,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,,16,1,1,4,2,4,100,10
d,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,,8,2,1,0,0,0,100,10
";
    let pts = parse_load_points("moe.csv", csv).unwrap();
    assert_eq!(
        (pts[0].attention_dp, pts[0].moe_tp, pts[0].moe_ep),
        (4, Some(1), Some(4))
    );
    // 0 means "not used"
    assert_eq!(
        (pts[3].attention_dp, pts[3].moe_tp, pts[3].moe_ep),
        (1, None, None)
    );
    let (_, moe) = super::row_model(&pts[0]).unwrap();
    let plan = row_plan(&pts[0], &moe, 1).unwrap();
    assert_eq!((plan.tp, plan.attn.replicas, plan.attn.tp), (4, 4, 1));
    assert_eq!((plan.moe.ep, plan.moe.tp), (4, 1));
    // neither MoE degree: tensor parallelism over the worker's 4 GPUs
    let plan = row_plan(&pts[1], &moe, 1).unwrap();
    assert_eq!((plan.moe.ep, plan.moe.tp), (1, 4));
    // 2 × 4 ≠ 1 × 4: named, and the row is skipped rather than guessed
    let e = row_plan(&pts[2], &moe, 1).unwrap_err();
    assert!(
        e.contains("moe_tp_size 2") && e.contains("moe_ep_size 4"),
        "{e}"
    );
    let opts = LoadPointOptions::default();
    assert!(predict_load_point(&pts[2], &opts).is_err());
    // the EP row predicts; 64 clients fit one worker's 4 × 16 slots
    let (ttft, tpot) = predict_load_point(&pts[0], &opts).unwrap();
    assert!(ttft > 0.0 && tpot > 0.0, "{ttft} {tpot}");
    // the dense row ignores its MoE columns
    let (_, dense) = super::row_model(&pts[3]).unwrap();
    assert_eq!(
        row_plan(&pts[3], &dense, 1).unwrap(),
        parallax_plan::Plan::new(1, 1, 2)
    );
}

/// SGLang's `--max-running-requests` is the whole worker's under DP attention (each rank
/// runs `batch_size / dp` of it); vLLM's and TensorRT-LLM's caps are per rank.
#[test]
fn sglang_dp_attention_splits_the_running_cap() {
    use super::{parse_load_points, predict_load_point, running_cap, LoadPointOptions};
    let csv = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
gemm_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,\
silicon_ttft_ms,silicon_tpot_ms
a,silicon_concurrency=64,sglang,0.5.6.post2,Qwen/Qwen3-30B-A3B,h200_sxm,agg,2048,256,,16,1,1,4,1,4,100,10
b,silicon_concurrency=64,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h200_sxm,agg,2048,256,,16,1,1,4,1,4,100,10
c,silicon_concurrency=64,sglang,0.5.6.post2,Qwen/Qwen3-30B-A3B,h200_sxm,agg,2048,256,,64,1,1,4,1,4,100,10
d,silicon_concurrency=16,sglang,0.5.6.post2,Qwen/Qwen3-30B-A3B,h200_sxm,agg,2048,256,,16,4,1,1,1,4,100,10
";
    let pts = parse_load_points("dp.csv", csv).unwrap();
    assert_eq!(running_cap(&pts[0], Some(64)), Some(16));
    assert_eq!(running_cap(&pts[1], Some(64)), Some(64));
    // without DP attention SGLang's cap is the worker's batch size as for the others
    assert_eq!(running_cap(&pts[3], Some(16)), Some(16));
    // 64 clients on a worker that runs 16 of them queue; with room for all 64 they do not
    let opts = LoadPointOptions::default();
    let (queued, _) = predict_load_point(&pts[0], &opts).unwrap();
    let (roomy, _) = predict_load_point(&pts[2], &opts).unwrap();
    assert!(queued > 2.0 * roomy, "{queued} vs {roomy}");
}

/// A checkpoint stored in fp8 or NVFP4 runs with an fp8 KV cache as aiconfigurator's SDK
/// deploys it, whatever the row's GEMM label; bf16 and weight-only checkpoints keep theirs.
#[test]
fn native_fp8_checkpoints_get_an_fp8_kv_cache() {
    use super::{parse_load_points, row_model};
    use parallax_ir::DType;
    let csv = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms
a,silicon_concurrency=8,vllm,0.12.0,Qwen/Qwen3-235B-A22B-FP8,h200_sxm,agg,1024,128,fp8_block,8,8,1,100,10
b,silicon_concurrency=8,vllm,0.12.0,Qwen/Qwen3-32B,h200_sxm,agg,1024,128,fp8_block,8,1,1,100,10
c,silicon_concurrency=8,trtllm,1.2.0,deepseek-ai/DeepSeek-V3,h200_sxm,agg,1024,128,fp8_block,8,8,1,100,10
d,silicon_concurrency=8,trtllm,1.2.0,openai/gpt-oss-120b,h200_sxm,agg,1024,128,,8,1,1,100,10
e,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-32B,h200_sxm,agg,1024,128,fp8,8,1,1,100,10
";
    let pts = parse_load_points("kv.csv", csv).unwrap();
    let kv = |i: usize| row_model(&pts[i]).unwrap().1.precision.kv_cache;
    assert_eq!(kv(0), DType::Fp8);
    assert_eq!(kv(1), DType::Bf16);
    assert_eq!(kv(2), DType::Fp8);
    assert_eq!(kv(3), DType::Bf16);
    assert_eq!(kv(4), DType::Fp8);
}

/// Each predicted aggregated row reports the deployment it was simulated with.
#[test]
fn rows_report_their_deployment() {
    use super::{parse_load_points, validate_load_points, LoadPointOptions};
    let csv = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
gemm_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,\
silicon_ttft_ms,silicon_tpot_ms
a,silicon_concurrency=64,sglang,0.5.6.post2,Qwen/Qwen3-235B-A22B-FP8,h200_sxm,agg,2048,128,fp8_block,16,1,1,8,1,8,100,10
b,silicon_concurrency=8,trtllm,1.2.0,deepseek-ai/DeepSeek-V3,h200_sxm,agg,1024,128,fp8_block,8,8,1,,,,100,10
c,silicon_concurrency=8,trtllm,1.2.0,no/such-model,h200_sxm,agg,1024,128,,8,8,1,,,,100,10
d,silicon_concurrency=64,sglang,0.5.6.post2,deepseek-ai/DeepSeek-V3,h200_sxm,agg,1024,128,fp8_block,8,1,1,8,1,8,100,10
e,silicon_concurrency=64,trtllm,1.2.0,deepseek-ai/DeepSeek-V3,h200_sxm,agg,1024,128,fp8_block,8,1,1,8,1,8,100,10
";
    let pts = parse_load_points("dep.csv", csv).unwrap();
    let r = validate_load_points("dep.csv", &pts, &LoadPointOptions::default());
    let d = r.rows[0].deployment.as_ref().unwrap();
    assert_eq!(d.cluster, "1x8xH200");
    assert_eq!(d.plan, "dp=1,pp=1,tp=8,attn=8xtp1,moe=ep8xtp1");
    assert_eq!((d.engine.as_str(), d.max_num_seqs), ("sglang", 16));
    assert_eq!(d.prefill_chunk_per_request, Some(d.token_budget / 8));
    assert_eq!(d.kv_cache, "fp8");
    assert!(d.speculation.is_none() && d.schedule_ahead);
    let d = r.rows[1].deployment.as_ref().unwrap();
    assert_eq!(d.speculation.map(|s| s.draft_tokens), Some(1));
    assert!(r.rows[2].skipped.is_some() && r.rows[2].deployment.is_none());
    // DeepSeek's dense MLP layers under DP attention: full width on SGLang (gathered
    // tokens), data-parallel with the attention on TensorRT-LLM
    // SGLang's mem_fraction_static with DP attention's and MTP's reserves (H200, TP 8,
    // chunk 8192, graphs to the batch of 8)
    let frac = r.rows[3].deployment.as_ref().unwrap().memory_fraction;
    let h200 = parallax_hw::catalog::gpu("H200").unwrap().memory_bytes;
    assert_eq!(
        frac,
        parallax_plan::engine::sglang_mem_fraction_static_with(h200, 8, 8192, 8, 8, true)
    );
    assert!(frac < parallax_plan::engine::sglang_mem_fraction_static(h200, 8, 8192, 8));
    let plan = |i: usize| r.rows[i].deployment.as_ref().unwrap().plan.clone();
    assert_eq!(plan(3), "dp=1,pp=1,tp=8,attn=8xtp1,moe=ep8xtp1");
    assert_eq!(plan(4), "dp=1,pp=1,tp=8,attn=8xtp1,mlp=8xtp1,moe=ep8xtp1");
}

/// SGLang under DP attention chunks each rank's prefill at `chunked_prefill_size / dp`;
/// without DP attention, or on another engine, a request may take the whole budget.
#[test]
fn sglang_dp_attention_chunks_prompts_per_rank() {
    use parallax_plan::Plan;
    use parallax_sim::SimConfig;
    let model = parallax_ir::resolve("qwen3-30b-a3b").unwrap();
    let cluster = parallax_hw::Cluster::parse("1x8xH200").unwrap();
    let dp = Plan::new(1, 1, 8).with_attn(8, 1).with_moe(8, 1);
    let tp = Plan::new(1, 1, 8);
    let chunk = |kind: EngineKind, plan: &Plan| {
        let e = crate::engine_model(kind, &model, &cluster, 8);
        let mut c = e.sim_config(&SimConfig::default());
        e.adapt_to_plan(&mut c, plan);
        (c.prefill_chunk_per_request, c.scheduler.token_budget())
    };
    let (cap, budget) = chunk(EngineKind::Sglang, &dp);
    assert_eq!(cap, Some(budget / 8));
    assert_eq!(chunk(EngineKind::Sglang, &tp).0, None);
    assert_eq!(chunk(EngineKind::Vllm, &dp).0, None);
    assert_eq!(chunk(EngineKind::Trtllm, &dp).0, None);
}

/// DeepSeek-family rows ran with one MTP draft per step, as the generator deploys them;
/// other models and checkpoints without MTP layers without speculation.
#[test]
fn deepseek_rows_decode_with_one_mtp_draft() {
    use super::deploy::generator_speculation;
    use super::{parse_load_points, predict_load_point, LoadPointOptions};
    let v3 = parallax_ir::resolve("deepseek-v3").unwrap();
    let s = generator_speculation(&v3).unwrap();
    assert_eq!((s.draft_tokens, s.mean_accepted), (1, 0.85));
    assert_eq!(
        generator_speculation(&parallax_ir::resolve("qwen3-235b-a22b").unwrap()),
        None
    );
    let mut no_mtp = v3.clone();
    no_mtp.mtp_layers = 0;
    assert_eq!(generator_speculation(&no_mtp), None);
    // the row decodes faster than the same deployment without speculation
    let csv = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms
a,silicon_concurrency=8,trtllm,1.2.0,deepseek-ai/DeepSeek-V3,h200_sxm,agg,1024,256,fp8_block,8,8,1,100,10
";
    let p = &parse_load_points("ds.csv", csv).unwrap()[0];
    let (_, mtp) = predict_load_point(p, &LoadPointOptions::default()).unwrap();
    let (_, model) = super::row_model(p).unwrap();
    let cluster = parallax_hw::Cluster::parse("1x8xH200").unwrap();
    let plain = LoadPointOptions {
        engine: Some(crate::engine_model(EngineKind::Trtllm, &model, &cluster, 8)),
        ..LoadPointOptions::default()
    };
    let (_, without) = predict_load_point(p, &plain).unwrap();
    assert!(mtp < 0.8 * without, "{mtp} vs {without}");
}

/// `moe_quant_mode` sets the routed experts' types apart from the GEMMs'.
#[test]
fn moe_quant_mode_prices_the_experts_apart() {
    use super::{parse_load_points, predict_load_point, row_model, LoadPointOptions};
    use parallax_ir::DType;
    let csv = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms
a,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,fp8,fp8,8,1,1,100,10
b,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,fp8,w4afp8,8,1,1,100,10
c,silicon_concurrency=8,trtllm,1.2.0,openai/gpt-oss-120b,h100_sxm,agg,1024,128,,w4a16_mxfp4,8,1,1,100,10
d,silicon_concurrency=8,trtllm,1.2.0,openai/gpt-oss-120b,h100_sxm,agg,1024,128,,,8,1,1,100,10
e,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,fp8,int2_magic,8,1,1,100,10
f,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,fp8,w4afp8,8,1,1,100,10
g,silicon_concurrency=8,trtllm,1.2.0,openai/gpt-oss-120b,h100_sxm,agg,1024,128,bfloat16,w4a16_mxfp4,8,1,1,100,10
h,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,nvfp4_wo,,8,1,1,100,10
i,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,sq,,8,1,1,100,10
j,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,fp8_static,,8,1,1,100,10
k,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,fp8_block,w4afp8,8,1,1,100,10
l,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,fp8_block,fp8_block,8,1,1,100,10
m,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,fp8,fp8_block,8,1,1,100,10
n,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,fp8_block,fp8,8,1,1,100,10
o,silicon_concurrency=8,trtllm,1.2.0,Qwen/Qwen3-30B-A3B,h100_sxm,agg,1024,128,fp8_block,none,8,1,1,100,10
";
    let pts = parse_load_points("moeq.csv", csv).unwrap();
    let prec = |i: usize| row_model(&pts[i]).unwrap().1.precision;
    assert_eq!(prec(0).expert_weights(), DType::Fp8);
    assert_eq!(
        (
            prec(1).weights,
            prec(1).expert_weights(),
            prec(1).expert_compute()
        ),
        (DType::Fp8, DType::Int4, DType::Fp8)
    );
    // gpt-oss's own mxfp4 experts, whether the row names them or not
    assert_eq!(prec(2).experts, Some((DType::Fp4, DType::Bf16)));
    assert_eq!(prec(3), prec(2));
    let e = row_model(&pts[4]).unwrap_err();
    assert!(e.contains("int2_magic"), "{e}");
    // a dense model has no experts to quantise: its GEMMs are as the row says
    assert_eq!(prec(5).weights, DType::Fp8);
    // aiconfigurator's own names: `bfloat16` is unquantised, `nvfp4_wo` fp4 weight-only,
    // `fp8_static` W8A8 fp8; SmoothQuant int8 is not modelled and says so
    assert_eq!(prec(6), prec(2));
    assert_eq!(
        (prec(7).weights, prec(7).activations),
        (DType::Fp4, DType::Bf16)
    );
    assert_eq!(prec(9).weights, DType::Fp8);
    let e = row_model(&pts[8]).unwrap_err();
    assert!(e.contains("`sq`"), "{e}");
    // block scales: per tensor unless a mode says `fp8_block`; `fp8_block` GEMMs beside
    // int4 experts keep their block kernels
    assert!(!prec(0).fp8_block_scales && !prec(1).fp8_block_scales);
    assert!(prec(10).fp8_block_scales && prec(11).fp8_block_scales);
    assert_eq!(prec(10).expert_weights(), DType::Int4);
    assert!(prec(11).expert_block_scales() && !prec(0).expert_block_scales());
    // each mode sets its own layers' scales: per-tensor GEMMs beside block-scaled experts,
    // and the reverse
    assert!(!prec(12).fp8_block_scales && prec(12).expert_block_scales());
    assert!(prec(13).fp8_block_scales && !prec(13).expert_block_scales());
    let block_experts = |i: usize| {
        let (_, m) = row_model(&pts[i]).unwrap();
        let moe = m.cells().find_map(|(c, _)| match c {
            parallax_ir::Cell::Moe(moe) => Some(*moe),
            _ => None,
        });
        let batch = parallax_ir::Batch {
            prefill: Vec::new(),
            decode: parallax_ir::DecodeGroup::uniform(8, 1024),
        };
        let mut ops = Vec::new();
        parallax_ir::lower_cell(
            &parallax_ir::Cell::Moe(moe.unwrap()),
            parallax_ir::CellShard::SINGLE,
            &batch,
            &m.precision,
            &mut ops,
        );
        ops.iter().find_map(|o| match &o.body {
            parallax_ir::OpBody::FusedMoe(f) => Some(f.block_scales),
            _ => None,
        })
    };
    assert_eq!(block_experts(12), Some(true));
    assert_eq!(block_experts(13), Some(false));
    // `none` stores no experts apart: they keep the GEMMs' block scales
    assert_eq!(prec(14).experts, None);
    assert_eq!(block_experts(14), Some(true));
    // int4 experts read half the bytes: decode is faster
    let opts = LoadPointOptions::default();
    let (_, fp8) = predict_load_point(&pts[0], &opts).unwrap();
    let (_, w4) = predict_load_point(&pts[1], &opts).unwrap();
    assert!(w4 < fp8, "{w4} {fp8}");
}

/// The engine each `(backend, version)` row gets as deployed: Llama-3.1-8B on `tp` H100s,
/// batch size 8, isl 1024, osl 128.
fn row_engines(rows: &[(&str, &str)], tp: u32) -> Vec<parallax_plan::EngineModel> {
    use super::{parse_load_points, row_engine, row_model, LoadPointOptions};
    let mut csv = String::from(
        "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms\n",
    );
    for (i, (backend, version)) in rows.iter().enumerate() {
        csv.push_str(&format!(
            "r{i},silicon_concurrency=8,{backend},{version},meta-llama/Llama-3.1-8B-Instruct,\
h100_sxm,agg,1024,128,,8,{tp},1,100,10\n"
        ));
    }
    let pts = parse_load_points("s.csv", &csv).unwrap();
    let cluster = parallax_hw::Cluster::parse(&format!("1x{tp}xH100-SXM")).unwrap();
    pts.iter()
        .map(|p| {
            let (_, model) = row_model(p).unwrap();
            let opts = LoadPointOptions::default();
            row_engine(p, &opts, &model, &cluster, tp, p.batch_size)
        })
        .collect()
}

/// Each row's memory fraction as its engine and release set it: SGLang's formula before and
/// after 0.5.3 (0.5.1: 9.5 + TP / 2 GiB reserved; 0.5.8: 512 + 1.5 × 8192 + 2 × 8 + 256 MiB
/// with graphs to the batch size 8), aiconfigurator's 0.80 for TensorRT-LLM, vLLM's 0.9.
#[test]
fn memory_fraction_by_engine_and_release() {
    use parallax_plan::MemoryRule;
    let got: Vec<(f64, MemoryRule)> = row_engines(
        &[
            ("sglang", "0.5.1.post1"),
            ("sglang", "0.5.8.post1"),
            ("trtllm", "1.0.0rc3"),
            ("vllm", "0.12.0"),
        ],
        2,
    )
    .iter()
    .map(|e| (e.gpu_memory_utilization, e.memory_rule))
    .collect();
    // 0.5.1: (81,920 − 10.5 × 1024) / 81,920; 0.5.8: (81,920 − 13,072) / 81,920
    assert_eq!(
        got,
        [
            (0.869, MemoryRule::Static),
            (0.84, MemoryRule::Static),
            (0.8, MemoryRule::FreeFraction),
            (0.9, MemoryRule::Utilization)
        ]
    );
}

/// The serving path's token-rate ceiling: SGLang's preset, TensorRT-LLM 1.0 load points.
#[test]
fn stream_ceiling_by_engine_and_release() {
    let got: Vec<f64> = row_engines(
        &[
            ("trtllm", "1.0.0rc3"),
            ("trtllm", "1.3.0rc1"),
            ("sglang", "0.5.6.post2"),
            ("vllm", "0.12.0"),
        ],
        1,
    )
    .iter()
    .map(|e| e.frontend_token_s)
    .collect();
    assert_eq!(
        got,
        [
            parallax_plan::engine::TRTLLM_1_0_STREAM_TOKEN_S,
            0.0,
            parallax_plan::engine::SGLANG_STREAM_TOKEN_S,
            0.0
        ]
    );
}

#[test]
fn prompt_pools_are_back_to_back_permutations() {
    let order = shuffled_prompts(7, 30);
    assert_eq!(order.len(), 30);
    for chunk in order.chunks(7).filter(|c| c.len() == 7) {
        let mut c = chunk.to_vec();
        c.sort_unstable();
        assert_eq!(c, (0..7).collect::<Vec<u32>>());
    }
    assert_ne!(order[..7], order[7..14], "each pass re-shuffles");
    assert_eq!(order, shuffled_prompts(7, 30), "deterministic");
    assert_eq!(shuffled_prompts(1, 3), vec![0, 0, 0]);
    // a pool as large as the benchmark never repeats a prompt (and allocates no more)
    assert_eq!(shuffled_prompts(u32::MAX, 4), vec![0, 1, 2, 3]);
}

/// One prompt for every request: vLLM (prefix caching by default) prefills each prompt
/// once, in the warm-up, and the measured requests compute a token each, so their first
/// token comes far sooner; TensorRT-LLM as deployed (block reuse off) is unchanged.
#[test]
fn a_repeated_prompt_is_served_from_the_cache() {
    let text = "\
id,silicon_data_source,backend,backend_version,model_path,system,precision,mode,isl,osl,\
gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms
a,silicon_concurrency=16,vllm,0.12.0,meta-llama/Llama-3.1-8B-Instruct,h100_sxm,,agg,4000,100,,16,1,1,100,10
b,silicon_concurrency=16,trtllm,1.0.0rc3,meta-llama/Llama-3.1-8B-Instruct,h100_sxm,,agg,4000,100,,16,1,1,100,10
";
    let pts = parse_load_points("t.csv", text).unwrap();
    let one = LoadPointOptions {
        prompt_pool: Some(1),
        ..LoadPointOptions::default()
    };
    let fresh: Vec<_> = pts
        .iter()
        .map(|p| predict_load_point(p, &LoadPointOptions::default()).unwrap())
        .collect();
    let pooled: Vec<_> = pts
        .iter()
        .map(|p| predict_load_point(p, &one).unwrap())
        .collect();
    assert!(
        pooled[0].0 < 0.5 * fresh[0].0 && pooled[0].1 < fresh[0].1,
        "vllm {:?} -> {:?}",
        fresh[0],
        pooled[0]
    );
    assert_eq!(pooled[1], fresh[1], "trtllm");
    let stagger = LoadPointOptions {
        stagger: 0.5,
        ..one
    };
    let err = predict_load_point(&pts[0], &stagger).unwrap_err();
    assert!(err.contains("prompt pool"), "{err}");
}

#[test]
fn versions_compare_by_release() {
    assert!(version_at_least("1.3.0rc1", (1, 2, 0)));
    assert!(version_at_least("1.2.0rc6.post1", (1, 2, 0)));
    assert!(version_at_least("0.12.0", (0, 12, 0)));
    assert!(version_at_least("0.14", (0, 12, 0)));
    assert!(!version_at_least("1.0.0rc3", (1, 2, 0)));
    assert!(!version_at_least("0.9.2", (0, 12, 0)));
    assert!(
        version_at_least("v0.12.0", (0, 12, 0)),
        "a leading v as git tags write it"
    );
    assert!(!version_at_least("x0.12.0", (0, 12, 0)));
    assert!(!version_at_least("0", (0, 0, 0)));
    assert!(!version_at_least("", (0, 0, 0)));
}

#[test]
fn generator_token_budget_by_engine_and_release() {
    let point = |engine, version: &str, batch_size| LoadPoint {
        line: 2,
        id: "x".into(),
        engine,
        engine_version: version.into(),
        model: "Qwen/Qwen3-32B".into(),
        system: "h100_sxm".into(),
        mode: "agg".into(),
        isl: 4000,
        osl: 500,
        concurrency: Some(8),
        tp: 1,
        pp: 1,
        batch_size,
        attention_dp: 1,
        moe_tp: None,
        moe_ep: None,
        quantization: String::new(),
        moe_quantization: String::new(),
        ttft_ms: 1.0,
        tpot_ms: 1.0,
        disagg: None,
    };
    // vLLM: bs + isl + 1500 as --max-num-batched-tokens
    assert_eq!(
        aiconfigurator_token_budget(&point(EngineKind::Vllm, "0.12.0", Some(8))),
        Some(5508)
    );
    // TensorRT-LLM: the same, rounded up to 32-token blocks
    assert_eq!(
        aiconfigurator_token_budget(&point(EngineKind::Trtllm, "1.3.0rc1", Some(8))),
        Some(5536)
    );
    assert_eq!(
        aiconfigurator_token_budget(&point(EngineKind::Trtllm, "1.0.0rc3", Some(64))),
        Some(5568)
    );
    // releases the generator never deployed, and SGLang, keep the preset's budget
    for (engine, version) in [
        (EngineKind::Trtllm, "0.19.0"),
        (EngineKind::Trtllm, ""),
        (EngineKind::Vllm, "0.11.0"),
        (EngineKind::Vllm, ""),
        (EngineKind::Sglang, "0.5.6.post2"),
    ] {
        assert_eq!(
            aiconfigurator_token_budget(&point(engine, version, Some(8))),
            None
        );
    }
}

#[test]
fn checkpoints_resolve_to_an_embedded_model_of_their_architecture() {
    let name = |id: &str| model_of_checkpoint(id).map(|m| m.name);
    for (id, want) in [
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),
        ("nvidia/Llama-3.1-8B-Instruct-FP8", "llama-3.1-8b"),
        ("meta-llama/Meta-Llama-3.1-70B", "llama-3.1-70b"),
        ("meta-llama/Meta-Llama-3.1-405B-Instruct", "llama-3.1-405b"),
        (
            "meta-llama/Llama-3.3-70B-Instruct",
            "llama-3.1-70b-instruct",
        ),
        (
            "nvidia/Llama-3.3-70B-Instruct-FP8",
            "llama-3.1-70b-instruct",
        ),
        (
            "nvidia/Llama-4-Maverick-17B-128E-Instruct-FP8",
            "llama-4-maverick",
        ),
        ("nvidia/Llama-4-Scout-17B-16E-Instruct-FP4", "llama-4-scout"),
        ("deepseek-ai/DeepSeek-R1-0528", "deepseek-r1"),
        ("nvidia/DeepSeek-R1-0528-FP4", "deepseek-r1"),
        ("deepseek-ai/DeepSeek-V3-0324", "deepseek-v3"),
        ("nvidia/DeepSeek-V3.1-NVFP4", "deepseek-v3"),
        ("Qwen/Qwen3-235B-A22B-FP8", "qwen3-235b-a22b"),
        ("Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen3-30b-a3b"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"),
        ("mistralai/Mistral-Nemo-Instruct-2407", "mistral-nemo"),
        ("openai/gpt-oss-120b", "gpt-oss-120b"),
        ("Qwen/Qwen3-32B-FP8-Static-PerTensor", "qwen3-32b"),
        ("Qwen/Qwen3-30B-A3B-Thinking-2507-FP8", "qwen3-30b-a3b"),
        ("RedHatAI/Llama-3.1-8B-Instruct-FP8-dynamic", "llama-3.1-8b"),
        (
            "neuralmagic/Meta-Llama-3.1-70B-Instruct-quantized.w8a8",
            "llama-3.1-70b-instruct",
        ),
        ("meta-llama/Llama-2-7b-chat-hf", "llama-2-7b"),
        ("nvidia/DeepSeek-R1-0528-FP4-v2", "deepseek-r1"),
        ("moonshotai/Kimi-K2-Instruct", "kimi-k2"),
        ("moonshotai/Kimi-K2-Instruct-0905", "kimi-k2"),
        ("moonshotai/Kimi-K2.5", "kimi-k2.5"),
        ("nvidia/Kimi-K2.5-NVFP4", "kimi-k2.5"),
        ("MiniMaxAI/MiniMax-M2", "minimax-m2.5"),
        ("MiniMaxAI/MiniMax-M2.7", "minimax-m2.5"),
        ("nvidia/MiniMax-M2.5-NVFP4", "minimax-m2.5"),
        (
            "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8",
            "qwen3-coder-480b-a35b",
        ),
        ("deepseek-ai/DeepSeek-V3.2", "deepseek-v3.2"),
        ("deepseek-ai/DeepSeek-V3.2-Exp", "deepseek-v3.2"),
        ("nvidia/DeepSeek-V3.2-NVFP4", "deepseek-v3.2"),
        ("zai-org/GLM-5-FP8", "glm-5"),
        ("zai-org/GLM-5.1", "glm-5"),
    ] {
        assert_eq!(name(id).as_deref(), Some(want), "{id}");
    }
    // other architectures are not guessed
    for id in [
        "deepseek-ai/DeepSeek-V4-Flash",
        "zai-org/GLM-5.2",
        "MiniMaxAI/MiniMax-M3",
        "meta-llama/Llama-3.2-1B-Instruct",
        "Qwen/Qwen3-4B",
        "mistralai/Mistral-Small-3.1-24B-Instruct-2503",
    ] {
        assert_eq!(name(id), None, "{id}");
    }
}

#[test]
fn sglang_versions_deployed_with_mixed_chunks() {
    for v in [
        "0.5.6.post2",
        "0.5.6",
        "0.5.8",
        "0.5.10.post1",
        "0.6",
        "1.0.0",
    ] {
        assert!(sglang_mixed_chunk(v), "{v}");
    }
    for v in [
        "0.5.1.post1",
        "0.5.4.post3",
        "0.5.5",
        "0.5",
        "0.4.9",
        "",
        "latest",
    ] {
        assert!(!sglang_mixed_chunk(v), "{v}");
    }
}

#[test]
fn checkpoints_found_by_shedding_a_quantisation_suffix_carry_that_storage_format() {
    use parallax_ir::DType as D;
    // (id, weights, GEMM inputs, block-scaled fp8)
    for (id, weights, compute, block) in [
        ("nvidia/Llama-3.3-70B-Instruct-FP8", D::Fp8, D::Fp8, false),
        (
            "RedHatAI/Llama-3.1-8B-Instruct-FP8-dynamic",
            D::Fp8,
            D::Fp8,
            false,
        ),
        ("Qwen/Qwen3-235B-A22B-FP8", D::Fp8, D::Fp8, true),
        ("Qwen/Qwen3-32B-FP8-Static-PerTensor", D::Fp8, D::Fp8, false),
        ("nvidia/DeepSeek-R1-FP4", D::Fp4, D::Fp4, false),
        ("nvidia/DeepSeek-R1-0528-FP4-v2", D::Fp4, D::Fp4, false),
        ("Qwen/Qwen2.5-72B-Instruct-AWQ", D::Int4, D::Bf16, false),
        (
            "neuralmagic/Meta-Llama-3.1-70B-Instruct-quantized.w8a8",
            D::Int8,
            D::Bf16,
            false,
        ),
        // a repost of a block-scaled checkpoint keeps its blocks
        ("unsloth/DeepSeek-V3-0324-FP8", D::Fp8, D::Fp8, true),
        // the embedded configuration's own format, where no suffix was shed
        ("deepseek-ai/DeepSeek-R1-0528", D::Fp8, D::Fp8, true),
        ("meta-llama/Llama-3.3-70B-Instruct", D::Bf16, D::Bf16, false),
    ] {
        let p = model_of_checkpoint(id).expect(id).precision;
        assert_eq!(
            (p.weights, p.compute, p.fp8_block_scales, p.experts),
            (weights, compute, block, None),
            "{id}"
        );
        assert_eq!(p.activations, D::Bf16, "{id}");
    }
    // Meta's fp8 Llama 4: the routed experts only
    let p = model_of_checkpoint("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8")
        .unwrap()
        .precision;
    assert_eq!(
        (p.weights, p.compute, p.expert_weights(), p.expert_compute()),
        (D::Bf16, D::Bf16, D::Fp8, D::Fp8)
    );
    // a 16-bit release of a checkpoint whose experts are stored in MXFP4
    let native = model_of_checkpoint("openai/gpt-oss-20b").unwrap().precision;
    assert_eq!(native.expert_weights(), D::Fp4);
    let p = model_of_checkpoint("unsloth/gpt-oss-20b-BF16")
        .unwrap()
        .precision;
    assert_eq!(
        (p.weights, p.expert_weights(), p.compute),
        (D::Bf16, D::Bf16, D::Bf16)
    );
}

#[test]
fn a_quantised_checkpoint_without_a_gemm_mode_is_predicted_as_stored() {
    // the same deployment, its GEMM and MoE modes written out and left empty
    let rows = |gemm: &str| {
        format!(
            "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
             gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,\
             silicon_tpot_ms\n\
             a,silicon_concurrency=4,vllm,0.12.0,nvidia/Llama-3.3-70B-Instruct-FP8,h100_sxm,agg,\
             1024,64,{gemm},{gemm},4,2,1,100,20\n"
        )
    };
    let predict = |gemm: &str| {
        let p = parse_load_points("t.csv", &rows(gemm)).unwrap().remove(0);
        predict_load_point(&p, &LoadPointOptions::default()).unwrap()
    };
    let (labelled, empty) = (predict("fp8"), predict(""));
    assert!(labelled.0 > 0.0 && labelled.1 > 0.0, "{labelled:?}");
    assert_eq!(labelled, empty);
    // the 16-bit architecture it was found from decodes markedly slower (twice the bytes)
    let base = parse_load_points(
        "t.csv",
        &rows("").replace(
            "nvidia/Llama-3.3-70B-Instruct-FP8",
            "meta-llama/Llama-3.3-70B-Instruct",
        ),
    )
    .unwrap()
    .remove(0);
    let bf16 = predict_load_point(&base, &LoadPointOptions::default()).unwrap();
    assert!(bf16.1 > 1.3 * labelled.1, "{bf16:?} vs {labelled:?}");
}

/// The header as aiconfigurator writes it, with one row whose id and provenance give `c`.
fn one_row(id: &str, src: &str) -> String {
    format!(
        "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
         gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms\n\
         {id},{src},vllm,0.12.0,Qwen/Qwen3-32B,h100_sxm,agg,1024,64,,8,2,1,100,20\n"
    )
}

#[test]
fn quoted_names_comments_and_missing_columns_are_read_as_written() {
    let plain = one_row("a_c8_x", "silicon_concurrency=8");
    let want = parse_load_points("t.csv", &plain).unwrap();
    // quoted header names, and a comment line before the header
    let (header, row) = plain.split_once('\n').unwrap();
    let quoted: Vec<String> = header.split(',').map(|c| format!("\"{c}\"")).collect();
    let quoted = format!("{}\n{row}", quoted.join(","));
    assert!(super::is_load_point_header(quoted.lines().next().unwrap()));
    assert_eq!(parse_load_points("t.csv", &quoted).unwrap(), want);
    let commented = format!("# engine: vllm\n{plain}");
    let got = parse_load_points("t.csv", &commented).unwrap();
    assert_eq!(got[0].line, 3);
    assert_eq!(
        LoadPoint {
            line: 2,
            ..got[0].clone()
        },
        want[0]
    );
    // comment and blank lines between rows count in the line numbers errors give
    let row = row.trim_end();
    let bad_isl = row.replace(",1024,", ",0,");
    let twice = format!("# a\n{header}\n# b\n\n{row}\n# c\n{bad_isl}\n");
    let e = parse_load_points("t.csv", &twice).unwrap_err().to_string();
    assert!(e.starts_with("t.csv:7: column `isl`"), "{e}");
    let got = parse_load_points("t.csv", &format!("# a\n{header}\n# b\n\n{row}\n")).unwrap();
    assert_eq!(got[0].line, 5);
    // a missing column is named, not the file taken for another format
    let without = plain.replacen("backend,", "", 1).replacen("vllm,", "", 1);
    assert!(super::is_load_point_header(without.lines().next().unwrap()));
    let e = parse_load_points("t.csv", &without)
        .unwrap_err()
        .to_string();
    assert!(e.contains("t.csv:1: column `backend`"), "{e}");
}

#[test]
fn the_ids_concurrency_is_checked_not_dropped() {
    let conc = |id: &str, src: &str| {
        parse_load_points("t.csv", &one_row(id, src)).map(|p| p[0].concurrency)
    };
    assert_eq!(conc("a_c16_x", "").unwrap(), Some(16));
    assert_eq!(conc("a_c16_x", "silicon_concurrency=16").unwrap(), Some(16));
    // no concurrency anywhere: the batch size
    assert_eq!(conc("a_x", "").unwrap(), Some(8));
    for (id, src, column) in [
        ("a_c0_x", "", "id"),
        ("a_c99999_x", "", "id"),
        ("a_c16_c32_x", "", "id"),
        ("a_c16_x", "silicon_concurrency=8", "silicon_data_source"),
    ] {
        let e = conc(id, src).unwrap_err().to_string();
        assert!(
            e.contains(&format!("t.csv:2: column `{column}`")),
            "{id}: {e}"
        );
    }
}

#[test]
fn a_worker_wider_than_a_node_spans_nodes_of_eight_except_on_nvl72() {
    let row = |system: &str, tp: u32, pp: u32| {
        format!(
            "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
             gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms\n\
             a,silicon_concurrency=2,vllm,0.12.0,meta-llama/Llama-3.1-70B-Instruct,{system},agg,\
             512,8,,2,{tp},{pp},100,20\n"
        )
    };
    let cluster = |system: &str, tp: u32, pp: u32| {
        let pts = parse_load_points("t.csv", &row(system, tp, pp)).unwrap();
        let rep = super::validate_load_points("t.csv", &pts, &LoadPointOptions::default());
        let r = &rep.rows[0];
        assert!(r.skipped.is_none(), "{:?}", r.skipped);
        r.deployment.as_ref().unwrap().cluster.clone()
    };
    assert_eq!(cluster("h100_sxm", 8, 2), "2x8xH100-SXM");
    assert_eq!(cluster("h100_sxm", 8, 1), "1x8xH100-SXM");
    assert_eq!(cluster("gb200", 16, 1), "1x16xGB200");
}

/// A load point longer than its model's context window is refused with the window, not
/// predicted (it had been simulated as if the model served it).
#[test]
fn a_row_past_the_context_window_is_refused() {
    use super::{parse_load_points, row_model};
    let text = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,osl,\
                gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms\n\
                a,silicon_concurrency=8,trtllm,1.0.0rc3,meta-llama/Llama-3.1-8B-Instruct,h100_sxm,\
                agg,200000,128,,8,1,1,190.95,7.94\n\
                b,silicon_concurrency=8,trtllm,1.0.0rc3,meta-llama/Llama-3.1-8B-Instruct,h100_sxm,\
                agg,130944,128,,8,1,1,190.95,7.94\n";
    let pts = parse_load_points("w.csv", text).unwrap();
    let e = row_model(&pts[0]).unwrap_err();
    assert!(
        e.contains("200128 tokens") && e.contains("context window of 131072"),
        "{e}"
    );
    // exactly the window is served
    row_model(&pts[1]).unwrap();
}

#[test]
fn one_gpu_is_summarised_once_however_rows_spell_it() {
    for s in ["h100_sxm", "H100_SXM", "h100", "H100"] {
        assert_eq!(super::system_name(s), "h100_sxm", "{s}");
    }
    assert_eq!(super::system_name("GB200"), "gb200");
    assert_eq!(super::system_name("h200"), "h200_sxm");
    // unknown systems (whose rows are skipped) stay as written
    assert_eq!(super::system_name("TPU_v5"), "TPU_v5");
}

#[test]
fn a_batch_size_too_large_to_stand_in_for_the_concurrency_says_so() {
    let header = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,\
osl,gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms";
    let text = |batch: u32| {
        format!("{header}\nr,src,vllm,0.12.0,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,,{batch},2,1,100,10\n")
    };
    let big = parse_load_points("lp.csv", &text(5000)).unwrap();
    let why = predict_load_point(&big[0], &LoadPointOptions::default()).unwrap_err();
    assert!(
        why.contains("batch_size 5000") && why.contains("4096"),
        "{why}"
    );
    let none = parse_load_points("lp.csv", &text(8)).unwrap();
    assert_eq!(
        none[0].concurrency,
        Some(8),
        "a batch size in range stands in"
    );
}

#[test]
fn malformed_rows_say_what_is_wrong_and_blank_lines_are_skipped() {
    let header = "id,silicon_data_source,backend,backend_version,model_path,system,mode,isl,\
osl,gemm_quant_mode,batch_size,tp_size,pp_size,silicon_ttft_ms,silicon_tpot_ms";
    let row =
        "r,silicon_concurrency=8,vllm,0.12.0,Qwen/Qwen3-32B,h100_sxm,agg,1024,128,,8,2,1,100,10";
    let ok = parse_load_points("lp.csv", &format!("{header}\n   \n{row}\n\t\n{row}\n")).unwrap();
    assert_eq!(ok.iter().map(|p| p.line).collect::<Vec<_>>(), [3, 5]);
    let e = parse_load_points("lp.csv", &format!("{header}\n{row},extra\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("lp.csv:2") && e.contains("15 comma-separated fields") && e.contains("found 16"),
        "{e}"
    );
    let open = row.replace("Qwen/Qwen3-32B", "\"Qwen/Qwen3-32B");
    let e = parse_load_points("lp.csv", &format!("{header}\n{open}\n{row}\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("lp.csv:2") && e.contains("closing quote"), "{e}");
    // opened in the last column, of the last row or an earlier one
    let last = row.replace(",100,10", ",100,\"10");
    for text in [
        format!("{header}\n{row}\n{last}\n"),
        format!("{header}\n{last}\n{row}\n"),
    ] {
        let e = parse_load_points("lp.csv", &text).unwrap_err().to_string();
        assert!(e.contains("closing quote"), "{e}");
    }
}
