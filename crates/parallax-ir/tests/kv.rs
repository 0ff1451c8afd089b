//! KV-cache bytes per token against hand computation.

use parallax_ir::{resolve, CellShard, DType, Precision};

#[test]
fn llama_3_1_70b_bf16() {
    let m = resolve("llama-3.1-70b").unwrap();
    assert_eq!(m.kv_bytes_per_token(), (80 * 2 * 8 * 128 * 2) as f64);
    assert_eq!(m.kv_bytes_per_token(), 327_680.0);
}

#[test]
fn deepseek_v3_mla_latent() {
    let m = resolve("deepseek-v3").unwrap();
    assert_eq!(m.kv_bytes_per_token(), ((512 + 64) * 61 * 2) as f64);
}

#[test]
fn gpt_oss_counts_sliding_layers_in_full() {
    let m = resolve("gpt-oss-120b").unwrap();
    assert_eq!(m.kv_bytes_per_token(), (36 * 2 * 8 * 64 * 2) as f64);
    let windows: Vec<Option<u32>> = m
        .cells()
        .filter_map(|(c, _)| match c {
            parallax_ir::Cell::Attention(a) => Some(a.sliding_window),
            _ => None,
        })
        .collect();
    assert_eq!(windows, vec![Some(128), None]);
}

#[test]
fn llama_2_7b_mha_fp16() {
    let m = resolve("llama-2-7b").unwrap();
    assert_eq!(m.precision.kv_cache, DType::F16);
    assert_eq!(m.kv_bytes_per_token(), (32 * 2 * 32 * 128 * 2) as f64);
}

fn attention(name: &str) -> parallax_ir::Cell {
    let m = resolve(name).unwrap();
    let cell = m
        .cells()
        .find(|(c, _)| matches!(c, parallax_ir::Cell::Attention(_)))
        .map(|(c, _)| c.clone())
        .unwrap();
    cell
}

#[test]
fn per_device_kv_splits_then_replicates() {
    let cell = attention("llama-3.1-70b");
    let p = Precision::default();
    let per = |tp| cell.kv_bytes_per_token_per_device(CellShard::tp(tp), &p);
    assert_eq!(per(1), 2.0 * 8.0 * 128.0 * 2.0);
    assert_eq!(per(2), 2.0 * 4.0 * 128.0 * 2.0);
    assert_eq!(per(8), 2.0 * 128.0 * 2.0);
    // Beyond the 8 KV heads each device keeps one (replicated) head.
    assert_eq!(per(16), 2.0 * 128.0 * 2.0);
    let fp8 = Precision {
        kv_cache: DType::Fp8,
        ..p
    };
    assert_eq!(
        cell.kv_bytes_per_token_per_device(CellShard::tp(2), &fp8),
        per(2) / 2.0
    );
}

#[test]
fn mla_latent_is_replicated_across_tp() {
    let cell = attention("deepseek-v3");
    let p = Precision::default();
    for tp in [1, 2, 8, 16] {
        assert_eq!(
            cell.kv_bytes_per_token_per_device(CellShard::tp(tp), &p),
            576.0 * 2.0
        );
    }
}

#[test]
fn non_attention_cells_hold_no_kv() {
    let m = resolve("mixtral-8x7b").unwrap();
    for (c, _) in m.cells() {
        if !matches!(c, parallax_ir::Cell::Attention(_)) {
            assert_eq!(c.kv_bytes_per_token(&m.precision), 0.0);
        }
    }
}
