//! Roofline GEMM and attention predictions against the H100 PyTorch profiles in `tests/data/`
//! (measured by this project; see `tests/data/README.md`).

use parallax_hw::{catalog, CostModel, RooflineModel, RooflineParams};
use parallax_ir::{AttentionShape, DType, DecodeGroup, Gemm, PrefillChunk};

use crate::common;
use common::{gemm, median};

fn h100() -> RooflineModel {
    RooflineModel::new(&catalog::gpu("H100-SXM").unwrap())
}

/// Rows of a CSV file as maps from column to value.
fn rows(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .map(String::from)
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &std::collections::BTreeMap<String, String>, col: &str) -> f64 {
    row[col].parse().unwrap()
}

fn l3_shape(heads: u32, kv_heads: u32, head_dim: u32) -> AttentionShape {
    AttentionShape {
        heads,
        kv_heads,
        qk_head_dim: head_dim,
        v_head_dim: head_dim,
        kv_bytes_per_token: 2.0 * kv_heads as f64 * head_dim as f64 * 2.0,
        window: None,
        act_dtype: DType::Bf16,
        kv_dtype: DType::Bf16,
    }
}

#[test]
fn gemm_table_within_25_percent_for_m_at_least_256() {
    let model = h100();
    let table = rows(include_str!("data/gemm.csv"));
    assert_eq!(table.len(), 336);
    let mut all = Vec::new();
    let mut big = Vec::new();
    let mut worst = (0.0, String::new());
    for r in &table {
        let (m, n, k) = (num(r, "m") as u64, num(r, "n") as u64, num(r, "k") as u64);
        let measured = num(r, "ms") * 1e-3;
        let predicted = model.gemm(&gemm(m, n, k, DType::Bf16));
        let err = (predicted - measured).abs() / measured;
        all.push(err);
        if m >= 256 {
            big.push(err);
            if err > worst.0 {
                worst = (err, format!("{} {} m={m}", r["run"], r["op"]));
            }
            assert!(
                err <= 0.25,
                "{} {} m={m}: predicted {:.1} µs, measured {:.1} µs ({:+.0}%)",
                r["run"],
                r["op"],
                predicted * 1e6,
                measured * 1e6,
                (predicted / measured - 1.0) * 100.0
            );
        }
    }
    let med_all = median(all);
    let med_big = median(big);
    println!(
        "GEMM roofline vs h100-pytorch: median |err| all m = {:.1}%, median m>=256 = {:.1}%, max m>=256 = {:.1}% ({})",
        med_all * 100.0,
        med_big * 100.0,
        worst.0 * 100.0,
        worst.1
    );
    assert!(
        med_all < 0.12,
        "median error over the whole table {:.1}%",
        med_all * 100.0
    );
}

#[test]
fn attention_tables() {
    let model = h100();
    let mut errs = Vec::new();
    for r in rows(include_str!("data/attention_prefill.csv")) {
        let shape = l3_shape(
            num(&r, "heads") as u32,
            num(&r, "kv_heads") as u32,
            num(&r, "head_dim") as u32,
        );
        let chunk = PrefillChunk {
            new_tokens: num(&r, "seq") as u32,
            prefix: 0,
        };
        let chunks = vec![chunk; num(&r, "batch") as usize];
        let measured = num(&r, "ms") * 1e-3;
        errs.push((model.prefill_attention(&shape, &chunks) - measured).abs() / measured);
    }
    let (pre_med, pre_max) = (
        median(errs.clone()),
        errs.iter().cloned().fold(0.0, f64::max),
    );
    let mut errs = Vec::new();
    for r in rows(include_str!("data/attention_decode.csv")) {
        let shape = l3_shape(
            num(&r, "heads") as u32,
            num(&r, "kv_heads") as u32,
            num(&r, "head_dim") as u32,
        );
        let d = DecodeGroup::uniform(num(&r, "batch") as u32, num(&r, "ctx") as u32);
        let measured = num(&r, "ms") * 1e-3;
        errs.push((model.decode_attention(&shape, &d) - measured).abs() / measured);
    }
    let (dec_med, dec_max) = (
        median(errs.clone()),
        errs.iter().cloned().fold(0.0, f64::max),
    );
    println!(
        "attention roofline vs h100-pytorch: prefill median {:.1}% max {:.1}%; decode median {:.1}% max {:.1}%",
        pre_med * 100.0, pre_max * 100.0, dec_med * 100.0, dec_max * 100.0
    );
    assert!(pre_med < 0.08 && pre_max < 0.25);
    assert!(dec_med < 0.08 && dec_max < 0.25);
}

#[test]
fn small_gemms_are_weight_read_bound_and_large_ones_compute_bound() {
    let model = h100();
    let gpu = model.gpu().clone();
    // m = 1: time tracks the weight bytes, far below peak FLOP/s.
    let g1 = gemm(1, 28672, 4096, DType::Bf16);
    let t1 = model.gemm(&g1);
    assert!(t1 >= g1.bytes() / gpu.memory_bandwidth);
    assert!(g1.flops() / t1 < 0.01 * gpu.peak.bf16);
    // m = 1 .. 64 barely changes the time (the weights dominate).
    let t64 = model.gemm(&gemm(64, 28672, 4096, DType::Bf16));
    assert!(t64 / t1 < 1.3);
    // Large GEMMs: 60-90% of peak.
    let g = gemm(8192, 8192, 8192, DType::Bf16);
    let frac = g.flops() / model.gemm(&g) / gpu.peak.bf16;
    assert!((0.6..0.9).contains(&frac), "{frac}");
    // Minimum kernel time.
    assert!(model.gemm(&gemm(1, 16, 16, DType::Bf16)) >= model.params().gemm_floor);
    // Empty GEMMs cost nothing.
    assert_eq!(model.gemm(&gemm(0, 16, 16, DType::Bf16)), 0.0);
}

#[test]
fn monotone_in_m_and_count_and_faster_in_fp8() {
    let model = h100();
    let mut last = 0.0;
    for m in [1, 2, 8, 32, 128, 256, 512, 1000, 2048, 5000, 16384] {
        let t = model.gemm(&gemm(m, 4096, 4096, DType::Bf16));
        assert!(t >= last, "m={m}");
        last = t;
    }
    let one = gemm(2048, 4096, 4096, DType::Bf16);
    let eight = Gemm { count: 8, ..one };
    assert!(model.gemm(&eight) > 4.0 * model.gemm(&one));
    let fp8 = Gemm {
        weight_dtype: DType::Fp8,
        act_dtype: DType::Fp8,
        ..one
    };
    assert!(model.gemm(&fp8) < 0.7 * model.gemm(&one));
}

#[test]
fn other_gpus_scale_with_their_ceilings() {
    let g = gemm(8192, 8192, 8192, DType::Bf16);
    let h100 = h100().gemm(&g);
    let b200 = RooflineModel::new(&catalog::gpu("B200").unwrap()).gemm(&g);
    let a100 = RooflineModel::new(&catalog::gpu("A100").unwrap()).gemm(&g);
    assert!(b200 < 0.6 * h100 && a100 > 2.5 * h100);
    let gemv = gemm(1, 8192, 8192, DType::Bf16);
    let h200 = RooflineModel::new(&catalog::gpu("H200").unwrap()).gemm(&gemv);
    assert!(h200 < h100_gemv(&gemv));
}

fn h100_gemv(g: &Gemm) -> f64 {
    h100().gemm(g)
}

#[test]
fn prefill_with_prefix_and_decode_properties() {
    let model = h100();
    let shape = l3_shape(32, 8, 128);
    let no_prefix = model.prefill_attention(
        &shape,
        &[PrefillChunk {
            new_tokens: 512,
            prefix: 0,
        }],
    );
    let prefix = model.prefill_attention(
        &shape,
        &[PrefillChunk {
            new_tokens: 512,
            prefix: 4096,
        }],
    );
    assert!(prefix > 2.0 * no_prefix);
    assert_eq!(model.prefill_attention(&shape, &[]), 0.0);
    let windowed = AttentionShape {
        window: Some(1024),
        ..shape
    };
    assert!(
        model.prefill_attention(
            &windowed,
            &[PrefillChunk {
                new_tokens: 512,
                prefix: 8192
            }]
        ) < model.prefill_attention(
            &shape,
            &[PrefillChunk {
                new_tokens: 512,
                prefix: 8192
            }]
        )
    );
    // Decode: linear in total context, with a floor.
    let a = model.decode_attention(&shape, &DecodeGroup::uniform(64, 2048));
    let b = model.decode_attention(&shape, &DecodeGroup::uniform(128, 2048));
    assert!(b > 1.5 * a && b < 2.1 * a);
    assert!(
        model.decode_attention(&shape, &DecodeGroup::uniform(1, 1)) >= model.params().decode_floor
    );
    assert_eq!(model.decode_attention(&shape, &DecodeGroup::default()), 0.0);
    // An fp8 cache halves the bytes.
    let fp8 = AttentionShape {
        kv_bytes_per_token: shape.kv_bytes_per_token / 2.0,
        kv_dtype: DType::Fp8,
        ..shape
    };
    assert!(
        model.decode_attention(&fp8, &DecodeGroup::uniform(128, 4096))
            < 0.6 * model.decode_attention(&shape, &DecodeGroup::uniform(128, 4096))
    );
}

#[test]
fn params_round_trip_and_are_used() {
    let params = RooflineParams::default();
    let json = serde_json::to_string(&params).unwrap();
    let back: RooflineParams = serde_json::from_str(&json).unwrap();
    assert_eq!(back, params);
    let gpu = catalog::gpu("H100").unwrap();
    let slow = RooflineParams {
        gemm_compute_efficiency: 0.4,
        kernel_launch: 9e-6,
        ..params
    };
    let m = RooflineModel::with_params(&gpu, slow.clone());
    assert_eq!(m.params(), &slow);
    assert_eq!(m.kernel_launch_overhead(), 9e-6);
    let g = gemm(8192, 8192, 8192, DType::Bf16);
    assert!(m.gemm(&g) > 1.8 * h100().gemm(&g));
    assert!(m.name().starts_with("roofline"));
    // Graph replays add nothing measurable to their kernels (fitted: 0); eager iterations
    // pay a host time per op and blend it with device time.
    assert!(h100().iteration_overhead() >= 0.0);
    assert!(h100().kernel_launch_overhead() > 1e-5);
    assert!(h100().host_overlap_exponent() >= 1.0);
}

/// The shipped parameters pass their own range check, and the check names what it refuses.
#[test]
fn shipped_roofline_parameters_are_in_range() {
    use parallax_hw::RooflineParams;
    RooflineParams::default().validate().unwrap();
    parallax_hw::roofline::calibrated_params()
        .validate()
        .unwrap();
    let p = RooflineParams {
        decode_memory_efficiency: 1.5,
        ..RooflineParams::default()
    };
    let (field, value, _) = p.validate().unwrap_err();
    assert_eq!((field, value.as_str()), ("decode_memory_efficiency", "1.5"));
    let p = RooflineParams {
        gemm_tiles: vec![],
        ..RooflineParams::default()
    };
    assert_eq!(p.validate().unwrap_err().0, "gemm_tiles");
}
