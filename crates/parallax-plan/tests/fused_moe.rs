//! Fused MoE: one op per layer for the routed experts, priced as one grouped kernel, and
//! quantised precisions reaching the iteration time.

use parallax_hw::profile::{cost_model_for, CostModelChoice};
use parallax_hw::{Cluster, CostModel, RooflineModel};
use parallax_ir::lower::fused_moe_op;
use parallax_ir::{resolve, Gemm, Moe, Precision, Quantization};
use parallax_plan::{batch_from_specs, predict};
use std::sync::Arc;

fn iteration_ms(model: &str, q: Option<Quantization>, choice: CostModelChoice, spec: &str) -> f64 {
    let mut m = resolve(model).unwrap();
    if let Some(q) = q {
        m.precision = m.precision.quantized(q);
    }
    let cluster = Cluster::parse("1xH100").unwrap();
    let cost = cost_model_for(&cluster, choice).unwrap();
    let batch = batch_from_specs::<&str, &str>(&[], &[spec]).unwrap();
    predict(&m, &cluster, 1, &batch, true, cost)
        .unwrap()
        .iteration_ms
}

/// Profiled and roofline iteration times (ms) of a decode `spec`, asserting that their
/// ratio lies in `agree`.
fn profiled_and_roofline_ms(
    model: &str,
    q: Option<Quantization>,
    spec: &str,
    agree: std::ops::RangeInclusive<f64>,
) -> (f64, f64) {
    let prof = iteration_ms(model, q, CostModelChoice::Profiled, spec);
    let roof = iteration_ms(model, q, CostModelChoice::Roofline, spec);
    assert!(
        agree.contains(&(prof / roof)),
        "{model} {spec}: profiled {prof} ms, roofline {roof} ms"
    );
    (prof, roof)
}

fn qwen_moe() -> Moe {
    *resolve("qwen3-30b-a3b").unwrap().first_moe().unwrap()
}

/// Issue 9's acceptance check: `predict --model qwen3-30b-a3b --gpu H100 --decode 32x1024`,
/// profiled and roofline within 25% of each other (130 ms vs 25 ms before the fused op).
#[test]
fn qwen3_moe_decode_profiled_and_roofline_agree() {
    let (_, roof) = profiled_and_roofline_ms("qwen3-30b-a3b", None, "32x1024", 0.8..=1.25);
    // Physically: the 32 tokens touch ~112 of 128 experts per layer, ~1.06 GB of bf16 expert
    // weights per layer over 48 layers: at least ~15 ms at 3.35 TB/s.
    assert!(roof > 15.0 && roof < 40.0, "{roof} ms");
}

/// MLA's absorbed decode (DeepSeek-V3): `q_absorb` and `v_up` are one batched kernel over
/// the heads each, not one kernel per head. Pricing them per head made the profiled decode
/// step of 4 requests 3.4x the roofline (156 vs 46 ms), and attention data parallelism
/// (every rank holding all 128 heads) 5x slower than TP 8.
#[test]
fn mla_absorbed_decode_is_one_batched_kernel_per_projection() {
    let q = Some(Quantization::Fp8);
    let (prof, _) = profiled_and_roofline_ms("deepseek-v3", q, "4x2048", 0.7..=1.5);
    // Physically: 4 tokens touch ~31 of 256 experts per layer, ~1.4 GB of fp8 expert
    // weights per layer over 58 MoE layers, plus ~11 GB of attention and dense weights: at
    // least ~27 ms at 3.35 TB/s, and not the 100+ ms of per-head kernels.
    assert!(prof > 20.0 && prof < 80.0, "{prof} ms");
}

#[test]
fn fused_kernel_is_weight_bound_in_decode_and_compute_bound_in_prefill() {
    let gpu = parallax_hw::catalog::gpu("H100").unwrap();
    let roof = RooflineModel::calibrated(&gpu);
    let moe = qwen_moe();
    let p = Precision::default();
    // Decode: at least the active experts' weights at peak bandwidth, close to the roofline
    // of the batched per-expert GEMMs, and far below the measured GEMM table's price of one
    // skinny GEMM per expert (the 5x overestimate the fused op removes).
    let f = fused_moe_op(&moe, 32, 1, 1, &p);
    let t = roof.fused_moe(&f);
    assert!(t >= f.weight_bytes() / gpu.memory_bandwidth, "{t}");
    let batched: f64 = f.as_gemms().iter().map(|g| roof.gemm(g)).sum();
    assert!(
        (t / batched - 1.0).abs() < 0.1,
        "fused {t} vs batched GEMMs {batched}"
    );
    let prof = cost_model_for(
        &Cluster::parse("1xH100").unwrap(),
        CostModelChoice::Profiled,
    )
    .unwrap();
    // One kernel per expert: the table's time of one skinny GEMM, times the experts.
    let skinny: f64 = f
        .as_gemms()
        .iter()
        .map(|g| g.count as f64 * prof.gemm(&Gemm { count: 1, ..*g }))
        .sum();
    assert!(
        t < skinny / 2.0,
        "fused {t} vs profiled skinny GEMMs {skinny}"
    );
    // One token: top-8 experts only.
    let one = fused_moe_op(&moe, 1, 1, 1, &p);
    assert_eq!(one.active_experts, 8);
    assert!(roof.fused_moe(&one) < t / 5.0);
    // Prefill of 8192 tokens: within 2x of the GEMM FLOPs at dense bf16 peak.
    let big = fused_moe_op(&moe, 8192, 1, 1, &p);
    let ideal = big.gemm_flops() / gpu.peak_flops(parallax_ir::DType::Bf16);
    let t = roof.fused_moe(&big);
    assert!(t > ideal && t < 2.0 * ideal, "{t} vs ideal {ideal}");
    // Monotone in tokens.
    let mut last = 0.0;
    for tokens in [1, 2, 8, 32, 128, 512, 2048, 8192] {
        let t = roof.fused_moe(&fused_moe_op(&moe, tokens, 1, 1, &p));
        assert!(t >= last, "{tokens}: {t} < {last}");
        last = t;
    }
    // The profiled model prices this shape from the embedded fused-MoE table (vLLM's Triton
    // kernel measured on an H100: 0.4247 ms at 32 tokens spread over all 128 experts),
    // rescaled to the ~112 experts random routing hits, within 10 % of the roofline here.
    let roof_default: Arc<dyn CostModel> = cost_model_for(
        &Cluster::parse("1xH100").unwrap(),
        CostModelChoice::Roofline,
    )
    .unwrap();
    let spread = parallax_ir::FusedMoe {
        active_experts: 128,
        max_rows: f.assignments.div_ceil(128),
        ..f
    };
    let want = 0.424677e-3 * roof_default.fused_moe(&f) / roof_default.fused_moe(&spread);
    assert!(
        (prof.fused_moe(&f) / want - 1.0).abs() < 1e-3,
        "{}",
        prof.fused_moe(&f)
    );
    assert!((prof.fused_moe(&f) / roof_default.fused_moe(&f) - 1.0).abs() < 0.1);
}

#[test]
fn quantised_weights_speed_up_decode() {
    let base = iteration_ms("llama-3.1-8b", None, CostModelChoice::Profiled, "16x1024");
    let fp8 = iteration_ms(
        "llama-3.1-8b",
        Some(Quantization::Fp8),
        CostModelChoice::Profiled,
        "16x1024",
    );
    let int4 = iteration_ms(
        "llama-3.1-8b",
        Some(Quantization::Int4),
        CostModelChoice::Profiled,
        "16x1024",
    );
    assert!(
        fp8 < 0.85 * base && int4 < fp8,
        "bf16 {base}, fp8 {fp8}, int4 {int4}"
    );
}
