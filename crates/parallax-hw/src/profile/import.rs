//! Importers for published operator tables, turning them into [`Profile`] tables.
//!
//! | source | function | units in the source |
//! |---|---|---|
//! | this project's `h100-pytorch` CSVs | [`h100_pytorch`] | ms; sizes in elements |
//! | APEX+ `profile/comm/<GPU>/*.csv` | [`apex_collectives`] | µs vs KiB |
//! | Vidur `compute/<org>/<model>/mlp.csv` | [`vidur_mlp`] | ms per op per layer |
//! | Vidur `network/<node>/{all_reduce,send_recv}.csv` | [`vidur_network`] | ms vs bytes |
//!
//! Every importer names the file, CSV line and column in its errors, checks that times are
//! positive, and that each curve it produces has at least two distinct sizes.
//! The `*_dir` functions are the only ones here that read files.

use super::csv::Csv;
use super::error::{ProfileError, Row};
use super::format::{
    CollectivePoint, DecodePoint, ElementwisePoint, FusedMoePoint, GemmPoint, PrefillPoint,
    Profile, ProfileGpu, Provenance, Scope, Software, Table,
};
use super::interp::median;
use super::model::{group_check, FamilyRow};
use parallax_ir::{
    CollectiveKind, DType, ElementwiseKind, MAX_BATCH_SEQUENCES, MAX_SEQUENCE_TOKENS,
};
use std::path::Path;

const MS: i32 = -3;
const US: i32 = -6;

fn read(path: &Path) -> Result<String, ProfileError> {
    parallax_ir::read_text(path).map_err(|e| ProfileError::io(path, &e))
}

/// The inputs of [`h100_pytorch`]: the texts of the four files of an `h100-pytorch`-style
/// folder and a name for error messages.
#[derive(Debug, Clone, Copy)]
pub struct PytorchTexts<'a> {
    /// Folder name used in messages (file names are appended).
    pub source: &'a str,
    /// `gemm.csv`: run, op, m, n, k, ms, tflops.
    pub gemm: &'a str,
    /// `attention_prefill.csv`: run, cfg, batch, seq, heads, kv_heads, head_dim, ms.
    pub prefill: &'a str,
    /// `attention_decode.csv`: run, cfg, batch, ctx, heads, kv_heads, head_dim, ms.
    pub decode: &'a str,
    /// `device.json`: per run, `ceilings.{matmul_tflops, copy_gbs_rw}` and `meta`.
    pub device: &'a str,
}

fn json_err(file: &str, e: serde_json::Error) -> ProfileError {
    ProfileError::Json {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// Builds a profile from this project's PyTorch measurements (`h100-pytorch` layout: bf16,
/// times in ms, several runs in a `run` column).
///
/// Every run's row is kept as its own table row; rows of equal size in one family are merged
/// by their median when the cost model is built (for two runs: their mean). The GPU ceilings
/// are the medians over runs of `matmul_tflops` and `copy_gbs_rw`; software versions come from
/// the first run's `meta` (`torch`, and the driver from `nvidia_smi`; CUDA from the torch
/// version's `+cuXYZ` suffix).
///
/// # Errors
/// A [`ProfileError`] naming the file (`<source>/gemm.csv`, ...), line and column.
pub fn h100_pytorch(t: PytorchTexts<'_>, name: &str) -> Result<Profile, ProfileError> {
    let src = t.source;
    // device.json
    let dev_file = format!("{src}/device.json");
    let dev: serde_json::Value =
        parallax_ir::json::parse_unique(t.device).map_err(|e| json_err(&dev_file, e))?;
    let runs = dev
        .as_object()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ProfileError::BadValue {
            file: dev_file.clone(),
            table: "device".into(),
            row: Row::Header,
            column: "(document)".into(),
            value: dev.to_string().chars().take(60).collect(),
            expected: "an object of runs, each with `ceilings` and `meta`".into(),
        })?;
    let mut flops = Vec::new();
    let mut bw = Vec::new();
    let mut first_meta = None;
    for (run, v) in runs {
        // in the file's units (TFLOP/s, GB/s), the ranges every profile's rates must lie in
        let get = |field: &str, scale: f64, (lo, hi): (f64, f64)| -> Result<f64, ProfileError> {
            let Some(x) = v.get("ceilings").and_then(|c| c.get(field)) else {
                return Err(ProfileError::MissingField {
                    file: dev_file.clone(),
                    location: format!("{run}.ceilings"),
                    field: field.to_string(),
                });
            };
            // present but not a rate in range: named with the value as written
            let (lo, hi) = (lo / scale, hi / scale);
            x.as_f64()
                .filter(|x| (lo..=hi).contains(x))
                .map(|x| x * scale)
                .ok_or_else(|| ProfileError::BadValue {
                    file: dev_file.clone(),
                    table: "device".into(),
                    row: Row::Header,
                    column: format!("{run}.ceilings.{field}"),
                    value: x.to_string().chars().take(60).collect(),
                    expected: format!("a number from {lo:e} to {hi:e}"),
                })
        };
        flops.push(get(
            "matmul_tflops",
            1e12,
            super::format::MATMUL_FLOPS_RANGE,
        )?);
        bw.push(get(
            "copy_gbs_rw",
            1e9,
            super::format::MEMORY_BANDWIDTH_RANGE,
        )?);
        if first_meta.is_none() {
            first_meta = v.get("meta").cloned();
        }
    }
    let meta = first_meta.unwrap_or(serde_json::Value::Null);
    let mstr = |k: &str| {
        meta.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or("unknown")
            .to_string()
    };
    let torch = mstr("torch");
    let cuda = torch
        .split_once("+cu")
        .map(|(_, c)| {
            // `130` → `13.0`; anything but ASCII digits is kept as written
            let c = c.trim();
            if c.len() >= 3 && c.bytes().all(|b| b.is_ascii_digit()) {
                format!("{}.{}", &c[..c.len() - 1], &c[c.len() - 1..])
            } else {
                c.to_string()
            }
        })
        .unwrap_or_else(|| "unknown".to_string());
    let smi = mstr("nvidia_smi");
    let driver = smi
        .split(',')
        .nth(1)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let device = mstr("gpu");

    // gemm.csv
    let gf = format!("{src}/gemm.csv");
    let c = Csv::parse(&gf, "gemm", t.gemm)?;
    let (cm, cn, ck, cms) = (c.col("m")?, c.col("n")?, c.col("k")?, c.col("ms")?);
    c.col("run")?;
    let mut rows = Vec::new();
    let mut origin = Vec::new();
    for (line, f) in &c.rows {
        rows.push(GemmPoint {
            m: c.pos_int(*line, f, cm)?,
            n: c.pos_int(*line, f, cn)?,
            k: c.pos_int(*line, f, ck)?,
            dtype: DType::Bf16,
            seconds: c.time(*line, f, cms, MS)?,
        });
        origin.push(Row::Line(*line));
    }
    group_check(
        &gf,
        "gemm",
        "m",
        rows.iter()
            .zip(&origin)
            .map(|(r, o)| ((r.n, r.k), r.m as f64, *o)),
    )?;
    let gemm = Table::with_origin(rows, origin);

    let prefill = pytorch_attention(
        &format!("{src}/attention_prefill.csv"),
        "prefill_attention",
        t.prefill,
        "seq",
        |[batch, new_tokens, heads, kv_heads, head_dim], seconds| PrefillPoint {
            batch,
            new_tokens,
            prefix: 0,
            heads,
            kv_heads,
            head_dim,
            dtype: DType::Bf16,
            seconds,
        },
    )?;
    let decode = pytorch_attention(
        &format!("{src}/attention_decode.csv"),
        "decode_attention",
        t.decode,
        "ctx",
        |[batch, context, heads, kv_heads, head_dim], seconds| DecodePoint {
            batch,
            context,
            heads,
            kv_heads,
            head_dim,
            dtype: DType::Bf16,
            seconds,
        },
    )?;

    let software = Software {
        torch,
        cuda,
        driver,
    };
    let gpu = ProfileGpu {
        name: "H100-SXM".to_string(),
        device,
        matmul_flops: median(&mut flops),
        memory_bandwidth: median(&mut bw),
    };
    // device.json's rates feed every extrapolation: refuse an absurd one here, by file.
    gpu.check_rates(&dev_file)?;
    Ok(Profile {
        name: name.to_string(),
        source_name: src.to_string(),
        gpu,
        software,
        provenance: Provenance {
            source: format!("{src} (measured for the Parallax project)"),
            date: "2025".to_string(),
            method: "triton.testing.do_bench median kernel time, L2 flushed, random bf16 inputs; two runs on separate machines kept as rows, merged by median per size".to_string(),
        },
        overheads: Default::default(),
        gemm: Some(gemm),
        prefill_attention: Some(prefill),
        decode_attention: Some(decode),
        elementwise: None,
        collective: None,
        fused_moe: None,
    })
}

/// Reads one attention CSV of the `h100-pytorch` layout (columns `batch`, `size`, `heads`,
/// `kv_heads`, `head_dim` and `ms`): `point` makes each row's table row from those five
/// dimensions, in that order, and its time in seconds. Every family (heads, kv_heads,
/// head_dim) must have two distinct `batch · size`.
///
/// # Errors
/// A [`ProfileError`] naming `file`, the line and the column.
fn pytorch_attention<T>(
    file: &str,
    table: &str,
    text: &str,
    size: &str,
    point: impl Fn([u32; 5], f64) -> T,
) -> Result<Table<T>, ProfileError> {
    let c = Csv::parse(file, table, text)?;
    let cols = [
        c.col("batch")?,
        c.col(size)?,
        c.col("heads")?,
        c.col("kv_heads")?,
        c.col("head_dim")?,
    ];
    let cms = c.col("ms")?;
    let mut rows = Vec::new();
    let mut origin = Vec::new();
    let mut families = Vec::new();
    for (line, f) in &c.rows {
        let mut dims = [0u32; 5];
        for (i, (d, &col)) in dims.iter_mut().zip(&cols).enumerate() {
            let x = c.pos_int(*line, f, col)?;
            *d = u32::try_from(x).map_err(|_| c.bad_value(*line, col, "an integer < 2^32"))?;
            // batch and sequence length within the profile format's limits (as its JSON rows)
            let max = match i {
                0 => MAX_BATCH_SEQUENCES,
                1 => MAX_SEQUENCE_TOKENS,
                _ => u32::MAX,
            };
            if *d > max {
                return Err(c.bad_value(*line, col, &format!("at most {max}")));
            }
        }
        let [batch, size, heads, kv_heads, head_dim] = dims;
        rows.push(point(dims, c.time(*line, f, cms, MS)?));
        origin.push(Row::Line(*line));
        families.push((
            (heads, kv_heads, head_dim),
            batch as f64 * size as f64,
            Row::Line(*line),
        ));
    }
    group_check(file, table, size, families.into_iter())?;
    Ok(Table::with_origin(rows, origin))
}

/// Reads an `h100-pytorch`-style folder and imports it with [`h100_pytorch`].
///
/// # Errors
/// [`ProfileError::Io`] for an unreadable file, else as [`h100_pytorch`].
pub fn h100_pytorch_dir(dir: &Path, name: &str) -> Result<Profile, ProfileError> {
    let gemm = read(&dir.join("gemm.csv"))?;
    let prefill = read(&dir.join("attention_prefill.csv"))?;
    let decode = read(&dir.join("attention_decode.csv"))?;
    let device = read(&dir.join("device.json"))?;
    let source = dir.display().to_string();
    h100_pytorch(
        PytorchTexts {
            source: &source,
            gemm: &gemm,
            prefill: &prefill,
            decode: &decode,
            device: &device,
        },
        name,
    )
}

/// The collective of an APEX+ file name (`all_gather.csv`, `all_reduce.csv`, `alltoall.csv`,
/// `reduce_scatter.csv`, `sendrecv.csv`).
pub fn apex_file_op(file_name: &str) -> Option<CollectiveKind> {
    match file_name.trim_end_matches(".csv") {
        "all_gather" => Some(CollectiveKind::AllGather),
        "all_reduce" => Some(CollectiveKind::AllReduce),
        "alltoall" => Some(CollectiveKind::AllToAll),
        "reduce_scatter" => Some(CollectiveKind::ReduceScatter),
        "sendrecv" => Some(CollectiveKind::SendRecv),
        _ => None,
    }
}

/// Imports one APEX+ collective CSV (`gpu, num_nodes, num_gpus_per_node, dtype, size(kb),
/// time(us)`), keeping the rows of `dtype` (`half` or `float`).
///
/// Units: `size(kb)` is KiB, converted to bytes × 1024; a `0` (a buffer under 1 KiB: APEX's
/// smallest buffer is 2^8 elements) becomes 256 × element bytes (512 B for `half`). Times are
/// µs. Group size = `num_nodes × num_gpus_per_node`; scope `intra` when `num_nodes` is 1.
///
/// # Errors
/// A [`ProfileError`] naming `file`, the line and the column; a family (group size, scope)
/// with fewer than two sizes.
pub fn apex_collectives(
    file: &str,
    text: &str,
    op: CollectiveKind,
    dtype: &str,
) -> Result<Table<CollectivePoint>, ProfileError> {
    let c = Csv::parse(file, "collective", text)?;
    let (cn, cg, cd, cs, ct) = (
        c.col("num_nodes")?,
        c.col("num_gpus_per_node")?,
        c.col("dtype")?,
        c.col("size(kb)")?,
        c.col("time(us)")?,
    );
    let elem = match dtype {
        "half" => 2.0,
        "float" => 4.0,
        _ => {
            return Err(ProfileError::BadValue {
                file: file.to_string(),
                table: "collective".into(),
                row: Row::Header,
                column: "dtype".into(),
                value: dtype.to_string(),
                expected: "`half` or `float`".into(),
            })
        }
    };
    let mut rows = Vec::new();
    let mut origin = Vec::new();
    for (line, f) in &c.rows {
        let d = f[cd];
        if d != "half" && d != "float" {
            return Err(c.bad_value(*line, cd, "`half` or `float`"));
        }
        if d != dtype {
            continue;
        }
        let nodes = c.pos_int(*line, f, cn)?;
        let per = c.pos_int(*line, f, cg)?;
        let kb = c.size(*line, f, cs)?;
        let bytes = if kb > 0.0 { kb * 1024.0 } else { 256.0 * elem };
        if bytes >= 1024.0 && kb == 0.0 {
            return Err(c.bad_value(*line, cs, "a size > 0 KiB for this dtype"));
        }
        let group_size = u32::try_from(nodes * per)
            .map_err(|_| c.bad_value(*line, cg, "a group size < 2^32"))?;
        rows.push(CollectivePoint {
            op,
            group_size,
            scope: if nodes == 1 {
                Scope::Intra
            } else {
                Scope::Inter
            },
            bytes,
            seconds: c.time(*line, f, ct, US)?,
        });
        origin.push(Row::Line(*line));
    }
    if rows.is_empty() {
        return Err(ProfileError::Empty {
            file: file.to_string(),
            table: format!("collective ({dtype} rows)"),
        });
    }
    group_check(
        file,
        "collective",
        "size(kb)",
        rows.iter()
            .zip(&origin)
            .map(|(r, o)| ((r.group_size, r.scope), r.bytes, *o)),
    )?;
    Ok(Table::with_origin(rows, origin))
}

/// Imports the five APEX+ files of one GPU folder (e.g. `apex-comm/H100-SXM-80GB`) into one
/// collective table, keeping the rows of `dtype`.
///
/// # Errors
/// [`ProfileError::Io`] for an unreadable file, else as [`apex_collectives`].
pub fn apex_collectives_dir(
    dir: &Path,
    dtype: &str,
) -> Result<Table<CollectivePoint>, ProfileError> {
    let mut all = Vec::new();
    let mut origin = Vec::new();
    for name in [
        "all_gather.csv",
        "all_reduce.csv",
        "alltoall.csv",
        "reduce_scatter.csv",
        "sendrecv.csv",
    ] {
        let path = dir.join(name);
        let text = read(&path)?;
        let op = apex_file_op(name).unwrap_or(CollectiveKind::AllReduce);
        let t = apex_collectives(&path.display().to_string(), &text, op, dtype)?;
        all.extend(t.rows);
        origin.extend(t.origin);
    }
    Ok(
        Table::with_origin(all, origin)
            .with_provenance(apex_provenance(&dir.display().to_string())),
    )
}

/// Imports an extract of aiconfigurator's fused-MoE kernel sweeps (`moe_perf.parquet` of
/// `aic-core/src/aiconfigurator_core/systems/data/<gpu>/moe/<framework>/<version>/`, written as
/// CSV with the columns `moe_dtype, num_tokens, hidden_size, inter_size, topk, num_experts,
/// moe_tp_size, moe_ep_size, distribution, latency`) into a `fused_moe` table.
///
/// Each row is one layer's routed experts on one GPU: `num_tokens` tokens routed to `topk` of
/// `num_experts` experts, each `hidden_size → inter_size / moe_tp_size` wide, the experts split
/// over `moe_ep_size` GPUs (the measured one holds `num_experts / moe_ep_size` of them and
/// receives `num_tokens · topk / moe_ep_size` token-expert pairs: a point of `num_tokens /
/// moe_ep_size` tokens on its local experts, the unit [`FusedMoe`](parallax_ir::FusedMoe)'s
/// `assignments / top_k` measures). Only the rows this format can express exactly are
/// accepted: `num_experts`, `num_tokens` and `inter_size` divisible by `moe_ep_size`,
/// `moe_ep_size` and `moe_tp_size`, `distribution` `balanced` and `moe_dtype` `bfloat16`, `fp8`
/// (per-tensor scaled W8A8), `fp8_block` (block-scaled), `w4a16_mxfp4` (MXFP4 weights on
/// bf16 GEMMs) or `int4_wo` (int4 weights on bf16 GEMMs). `latency` is in milliseconds. aiconfigurator's
/// `balanced` routing spreads the tokens over as many experts as it can (`T` tokens hit
/// `min(E, T·top_k)` experts, `collector/helper.py::balanced_logits`), so the table is
/// marked [`TableRouting::Spread`](super::TableRouting) and the cost model rescales it to random
/// routing.
///
/// # Errors
/// A [`ProfileError`] naming `file`, the line and the column of the first row outside that
/// set or with a bad number; a family with fewer than two token counts.
pub fn aiconfigurator_fused_moe(
    file: &str,
    text: &str,
) -> Result<Table<FusedMoePoint>, ProfileError> {
    let c = Csv::parse(file, "fused_moe", text)?;
    let (cd, ct, ch, ci, ck, ce, ctp, cep, cdist, cl) = (
        c.col("moe_dtype")?,
        c.col("num_tokens")?,
        c.col("hidden_size")?,
        c.col("inter_size")?,
        c.col("topk")?,
        c.col("num_experts")?,
        c.col("moe_tp_size")?,
        c.col("moe_ep_size")?,
        c.col("distribution")?,
        c.col("latency")?,
    );
    let u32_of = |line: usize, f: &[&str], col: usize| -> Result<u32, ProfileError> {
        u32::try_from(c.pos_int(line, f, col)?)
            .map_err(|_| c.bad_value(line, col, "a positive integer < 2^32"))
    };
    let mut rows = Vec::with_capacity(c.rows.len());
    let mut origin = Vec::with_capacity(c.rows.len());
    for (line, f) in &c.rows {
        let line = *line;
        let (dtype, act_dtype, block_scales) = match f[cd] {
            "bfloat16" => (DType::Bf16, DType::Bf16, false),
            "fp8" => (DType::Fp8, DType::Fp8, false),
            "fp8_block" => (DType::Fp8, DType::Fp8, true),
            // MXFP4 weights dequantised to bf16 GEMMs (gpt-oss's experts)
            "w4a16_mxfp4" => (DType::Fp4, DType::Bf16, false),
            // int4 weights dequantised to bf16 GEMMs (Marlin; Kimi K2's experts)
            "int4_wo" => (DType::Int4, DType::Bf16, false),
            _ => {
                return Err(c.bad_value(
                    line,
                    cd,
                    "`bfloat16`, `fp8`, `fp8_block`, `w4a16_mxfp4` or `int4_wo`",
                ))
            }
        };
        let ep = c.pos_int(line, f, cep)?;
        let (tokens, experts) = (c.pos_int(line, f, ct)?, u32_of(line, f, ce)?);
        if experts as u64 % ep != 0 {
            return Err(c.bad_value(line, cep, "a divisor of num_experts"));
        }
        if tokens % ep != 0 {
            return Err(c.bad_value(
                line,
                ct,
                "a multiple of moe_ep_size (a whole number of tokens on the measured GPU)",
            ));
        }
        if f[cdist] != "balanced" {
            return Err(c.bad_value(line, cdist, "`balanced` (tokens spread over the experts)"));
        }
        let (inter, tp) = (u32_of(line, f, ci)?, u32_of(line, f, ctp)?);
        if inter % tp != 0 {
            return Err(c.bad_value(line, ctp, "a divisor of inter_size"));
        }
        rows.push(FusedMoePoint {
            tokens: tokens / ep,
            experts: (experts as u64 / ep) as u32,
            layer_experts: experts,
            top_k: u32_of(line, f, ck)?,
            hidden: u32_of(line, f, ch)?,
            intermediate: inter / tp,
            dtype,
            act_dtype,
            block_scales,
            seconds: c.time(line, f, cl, MS)?,
        });
        origin.push(Row::Line(line));
    }
    if rows.is_empty() {
        return Err(ProfileError::Empty {
            file: file.to_string(),
            table: "fused_moe".into(),
        });
    }
    group_check(
        file,
        "fused_moe",
        "num_tokens",
        rows.iter()
            .zip(&origin)
            .map(|(r, o)| (FamilyRow::key(r), FamilyRow::x(r), *o)),
    )?;
    let mut table = Table::with_origin(rows, origin);
    table.routing = Some(super::TableRouting::Spread);
    Ok(table)
}

/// Provenance of aiconfigurator fused-MoE tables (`src`: the extract's path).
pub fn aiconfigurator_provenance(src: &str, gpu: &str) -> Provenance {
    Provenance {
        source: format!(
            "ai-dynamo/aiconfigurator @095f58a51c4ca8e61b66ec108d86f223f8d559ce \
             aic-core/src/aiconfigurator_core/systems/data/{gpu}/moe/vllm/{{0.14.0,0.24.0}}/\
             moe_perf.parquet ({src}; Apache-2.0, Copyright NVIDIA CORPORATION & AFFILIATES)"
        ),
        date: "2026".to_string(),
        method: "NVIDIA's kernel sweeps on one GPU of vLLM 0.14.0's Triton fused_moe (bf16, \
                 per-tensor and block-scaled fp8) and Marlin MoE (int4 weight-only), and of \
                 vLLM 0.24.0's MXFP4 kernel (gpt-oss): balanced routing, expert parallelism \
                 1-64; repeated measurements merged by median"
            .to_string(),
    }
}

/// Provenance of APEX+ collective tables.
pub fn apex_provenance(src: &str) -> Provenance {
    Provenance {
        source: format!("microsoft/apex_plus profile/comm @8769096536a34e8b3010fd444021f13858663a93 ({src}; MIT, Copyright (c) Microsoft Corporation)"),
        date: "2024".to_string(),
        method: "APEX+ comm profiler: mean over back-to-back NCCL calls, integer µs vs KiB; half-precision rows".to_string(),
    }
}

/// Software of tables whose versions the source does not record.
pub fn unknown_software() -> Software {
    Software {
        torch: "unknown".into(),
        cuda: "unknown".into(),
        driver: "unknown".into(),
    }
}

/// GEMM and elementwise tables from one Vidur `mlp.csv`.
#[derive(Debug, Clone)]
pub struct VidurMlp {
    /// The projections as GEMMs (fp16): `attn_pre_proj`, `attn_post_proj`, `mlp_up_proj`,
    /// `mlp_down_proj`, for every TP degree in the file.
    pub gemm: Table<GemmPoint>,
    /// `input_layernorm` / `post_attention_layernorm` (norm), `attn_rope` (rotary), `mlp_act`
    /// (activation), `add` (residual), `emb` (embedding), with bytes computed from the dims.
    pub elementwise: Table<ElementwisePoint>,
}

/// Imports a Vidur per-layer `mlp.csv` (one row per num_tokens × TP; `time_stats.<op>.median`
/// in ms, fp16).
///
/// With T = num_tokens, H = n_embd, d = H / n_head, I = n_expanded_embd, t = TP, 2-byte values:
///
/// | op | becomes | shape / bytes |
/// |---|---|---|
/// | attn_pre_proj | gemm | m=T, n=(n_head+2·n_kv_head)·d/t, k=H |
/// | attn_post_proj | gemm | m=T, n=H, k=n_head·d/t |
/// | mlp_up_proj | gemm | m=T, n=(2 if gated else 1)·I/t, k=H |
/// | mlp_down_proj | gemm | m=T, n=H, k=I/t |
/// | input_layernorm, post_attention_layernorm | norm | 2·(2·T·H + H) |
/// | attn_rope | rotary | 2·2·T·(n_head+n_kv_head)·d/t |
/// | mlp_act | activation | gated: 2·3·T·I/t; else 2·2·T·I/t |
/// | add | residual | 2·3·T·H |
/// | emb | embedding | 2·2·T·H |
///
/// An op whose columns are absent (phi-2 has no `post_attention_layernorm`) is skipped; a
/// row with any other missing value is an error.
///
/// # Errors
/// A [`ProfileError`] naming `file`, the line and the column.
pub fn vidur_mlp(file: &str, text: &str) -> Result<VidurMlp, ProfileError> {
    let c = Csv::parse(file, "mlp", text)?;
    let ch = c.col("n_head")?;
    let ckv = c.col("n_kv_head")?;
    let ce = c.col("n_embd")?;
    let ci = c.col("n_expanded_embd")?;
    let cg = c.col("use_gated_mlp")?;
    let ct = c.col("num_tokens")?;
    let ctp = c.col("num_tensor_parallel_workers")?;
    let opt = |op: &str| {
        c.header
            .iter()
            .position(|h| *h == format!("time_stats.{op}.median"))
    };
    let gemm_ops = [
        "attn_pre_proj",
        "attn_post_proj",
        "mlp_up_proj",
        "mlp_down_proj",
    ];
    let mut gemm_cols = Vec::new();
    for op in gemm_ops {
        gemm_cols.push(c.col(&format!("time_stats.{op}.median"))?);
    }
    let ew_ops: [(&str, ElementwiseKind); 6] = [
        ("input_layernorm", ElementwiseKind::Norm),
        ("post_attention_layernorm", ElementwiseKind::Norm),
        ("attn_rope", ElementwiseKind::Rotary),
        ("mlp_act", ElementwiseKind::Activation),
        ("add", ElementwiseKind::Residual),
        ("emb", ElementwiseKind::Embedding),
    ];
    let ew_cols: Vec<(usize, &str, ElementwiseKind)> = ew_ops
        .iter()
        .filter_map(|(op, k)| opt(op).map(|i| (i, *op, *k)))
        .collect();
    let mut gemm = Vec::new();
    let mut gorigin = Vec::new();
    let mut ew = Vec::new();
    let mut eorigin = Vec::new();
    for (line, f) in &c.rows {
        let l = *line;
        let nh = c.pos_int(l, f, ch)?;
        let nkv = c.pos_int(l, f, ckv)?;
        let h = c.pos_int(l, f, ce)?;
        let inter = c.pos_int(l, f, ci)?;
        let tp = c.pos_int(l, f, ctp)?;
        let tok = c.pos_int(l, f, ct)?;
        let gated = match f[cg] {
            "True" | "true" | "1" => true,
            "False" | "false" | "0" => false,
            _ => return Err(c.bad_value(l, cg, "True or False")),
        };
        if h % nh != 0 {
            return Err(c.bad_value(l, ce, "a multiple of n_head"));
        }
        let d = h / nh;
        let shard = |x: u64, col: usize| -> Result<u64, ProfileError> {
            if x % tp != 0 || x / tp == 0 {
                Err(c.bad_value(l, col, "a width divisible by num_tensor_parallel_workers"))
            } else {
                Ok(x / tp)
            }
        };
        let shapes = [
            (shard((nh + 2 * nkv) * d, ch)?, h),
            (h, shard(nh * d, ch)?),
            (shard(if gated { 2 * inter } else { inter }, ci)?, h),
            (h, shard(inter, ci)?),
        ];
        for (i, (n, k)) in shapes.into_iter().enumerate() {
            gemm.push(GemmPoint {
                m: tok,
                n,
                k,
                dtype: DType::F16,
                seconds: c.time(l, f, gemm_cols[i], MS)?,
            });
            gorigin.push(Row::Line(l));
        }
        let (t, hf) = (tok as f64, h as f64);
        for (col, op, kind) in &ew_cols {
            let bytes = match *op {
                "input_layernorm" | "post_attention_layernorm" => 2.0 * (2.0 * t * hf + hf),
                "attn_rope" => 4.0 * t * ((nh + nkv) * d) as f64 / tp as f64,
                "mlp_act" => (if gated { 6.0 } else { 4.0 }) * t * inter as f64 / tp as f64,
                "add" => 6.0 * t * hf,
                _ => 4.0 * t * hf,
            };
            ew.push(ElementwisePoint {
                kind: *kind,
                bytes,
                seconds: c.time(l, f, *col, MS)?,
            });
            eorigin.push(Row::Line(l));
        }
    }
    group_check(
        file,
        "mlp",
        "num_tokens",
        gemm.iter()
            .zip(&gorigin)
            .map(|(r, o)| ((r.n, r.k), r.m as f64, *o)),
    )?;
    let prov = Provenance {
        source: format!("microsoft/vidur @7d47513363ec447a741ac5e47241580b47724fbf data/profiling/compute/h100 ({file}; MIT, Copyright (c) Microsoft Corporation)"),
        date: "2024".to_string(),
        method: "Vidur mlp profiler: median CUDA time of one layer's op over 20 stacked layers, fp16".to_string(),
    };
    Ok(VidurMlp {
        gemm: Table::with_origin(gemm, gorigin)
            .with_provenance(prov.clone())
            .with_software(unknown_software()),
        elementwise: Table::with_origin(ew, eorigin)
            .with_provenance(prov)
            .with_software(unknown_software()),
    })
}

/// Imports a Vidur network CSV (`all_reduce.csv` or `send_recv.csv`): the
/// `time_stats.<collective>.median` column in ms against `size` in bytes.
///
/// Scope: all_reduce rows are `intra` when `devices_per_node == num_workers`, else `inter`;
/// send_recv rows are `inter` when `devices_per_node` is 1 (two nodes), else `intra`.
///
/// # Errors
/// A [`ProfileError`] naming `file`, the line and the column.
pub fn vidur_network(file: &str, text: &str) -> Result<Table<CollectivePoint>, ProfileError> {
    let c = Csv::parse(file, "network", text)?;
    let medians: Vec<usize> = c
        .header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("time_stats.") && h.ends_with(".median"))
        .map(|(i, _)| i)
        .collect();
    if medians.len() != 1 {
        return Err(ProfileError::MissingColumn {
            file: file.to_string(),
            table: "network".into(),
            column: "time_stats.<collective>.median (exactly one)".into(),
            present: c.header.join(", "),
        });
    }
    let cm = medians[0];
    let (cw, cs, cc, cd) = (
        c.col("num_workers")?,
        c.col("size")?,
        c.col("collective")?,
        c.col("devices_per_node")?,
    );
    let mut rows = Vec::new();
    let mut origin = Vec::new();
    for (line, f) in &c.rows {
        let l = *line;
        let workers = c.pos_int(l, f, cw)?;
        let dpn = c.pos_int(l, f, cd)?;
        let op = match f[cc] {
            "all_reduce" => CollectiveKind::AllReduce,
            "send_recv" => CollectiveKind::SendRecv,
            "all_gather" => CollectiveKind::AllGather,
            "reduce_scatter" => CollectiveKind::ReduceScatter,
            "all_to_all" => CollectiveKind::AllToAll,
            _ => {
                return Err(c.bad_value(
                    l,
                    cc,
                    "all_reduce, send_recv, all_gather, reduce_scatter or all_to_all",
                ))
            }
        };
        let scope = match op {
            CollectiveKind::SendRecv => {
                if dpn == 1 {
                    Scope::Inter
                } else {
                    Scope::Intra
                }
            }
            _ => {
                if dpn >= workers {
                    Scope::Intra
                } else {
                    Scope::Inter
                }
            }
        };
        let bytes = c.size(l, f, cs)?;
        if bytes <= 0.0 {
            return Err(c.bad_value(l, cs, "a size > 0 bytes"));
        }
        rows.push(CollectivePoint {
            op,
            group_size: u32::try_from(workers)
                .map_err(|_| c.bad_value(l, cw, "a group size < 2^32"))?,
            scope,
            bytes,
            seconds: c.time(l, f, cm, MS)?,
        });
        origin.push(Row::Line(l));
    }
    group_check(
        file,
        "network",
        "size",
        rows.iter()
            .zip(&origin)
            .map(|(r, o)| ((r.op, r.group_size, r.scope), r.bytes, *o)),
    )?;
    Ok(Table::with_origin(rows, origin)
        .with_provenance(Provenance {
            source: format!("microsoft/vidur @7d47513363ec447a741ac5e47241580b47724fbf data/profiling/network ({file}; MIT, Copyright (c) Microsoft Corporation)"),
            date: "2024".to_string(),
            method: "Vidur collectives profiler: median over 3 steps of the median NCCL kernel CUDA time of 11 launches".to_string(),
        })
        .with_software(unknown_software()))
}
