//! Importers of published tables: APEX+ collectives, Vidur mlp.csv and network CSVs.

use parallax_hw::profile::import::{apex_collectives, vidur_mlp, vidur_network};
use parallax_hw::profile::{ProfileError, Row, Scope};
use parallax_ir::{CollectiveKind, DType, ElementwiseKind};

const APEX: &str = "gpu,num_nodes,num_gpus_per_node,dtype,size(kb),time(us)\n\
H100-SXM-80GB,1,8,half,0,14.0\nH100-SXM-80GB,1,8,half,1,15.0\nH100-SXM-80GB,1,8,half,131072,597.0\n\
H100-SXM-80GB,1,8,float,1,15.0\nH100-SXM-80GB,1,8,float,2,16.0\n";

#[test]
fn apex_units_and_rows() {
    let t = apex_collectives("ar.csv", APEX, CollectiveKind::AllReduce, "half").unwrap();
    assert_eq!(t.rows.len(), 3);
    assert_eq!(t.rows[0].bytes, 512.0); // 0 KiB row: 2^8 half elements
    assert_eq!(t.rows[2].bytes, 131072.0 * 1024.0);
    assert!((t.rows[2].seconds - 597e-6).abs() < 1e-18);
    assert_eq!((t.rows[0].group_size, t.rows[0].scope), (8, Scope::Intra));
    let f = apex_collectives("ar.csv", APEX, CollectiveKind::AllReduce, "float").unwrap();
    assert_eq!(f.rows.len(), 2);
    // A negative time names the line and column.
    let bad = APEX.replace("597.0", "-597.0");
    let e = apex_collectives("ar.csv", &bad, CollectiveKind::AllReduce, "half").unwrap_err();
    assert_eq!(
        e,
        ProfileError::NonPositiveTime {
            file: "ar.csv".into(),
            table: "collective".into(),
            row: Row::Line(4),
            column: "time(us)".into(),
            value: "-597.0".into()
        }
    );
    // A single size for a group: too few points.
    let one = "gpu,num_nodes,num_gpus_per_node,dtype,size(kb),time(us)\nH100,1,4,half,1,10\n";
    assert!(matches!(
        apex_collectives("x.csv", one, CollectiveKind::AllGather, "half"),
        Err(ProfileError::TooFewPoints {
            row: Row::Line(2),
            ..
        })
    ));
    // Missing column.
    let e = apex_collectives(
        "x.csv",
        "gpu,num_nodes,dtype,size(kb),time(us)\nH,1,half,1,2\n",
        CollectiveKind::AllGather,
        "half",
    )
    .unwrap_err();
    assert!(
        matches!(e, ProfileError::MissingColumn { column, .. } if column == "num_gpus_per_node")
    );
}

fn vidur_header() -> String {
    let mut h = Vec::new();
    for op in [
        "emb",
        "input_layernorm",
        "attn_pre_proj",
        "attn_rope",
        "attn_post_proj",
        "post_attention_layernorm",
        "mlp_up_proj",
        "mlp_act",
        "mlp_down_proj",
        "add",
    ] {
        for s in ["min", "max", "mean", "median", "std"] {
            h.push(format!("time_stats.{op}.{s}"));
        }
    }
    for c in [
        "n_head",
        "n_kv_head",
        "n_embd",
        "n_expanded_embd",
        "vocab_size",
        "use_gated_mlp",
        "num_tokens",
        "num_tensor_parallel_workers",
    ] {
        h.push(c.to_string());
    }
    h.join(",")
}

fn vidur_row(tokens: u32, tp: u32, ms: f64) -> String {
    let mut v = Vec::new();
    for _ in 0..10 {
        for _ in 0..5 {
            v.push(format!("{ms}"));
        }
    }
    v.extend(["32", "32", "4096", "11008", "32768", "True"].map(String::from));
    v.push(tokens.to_string());
    v.push(tp.to_string());
    v.join(",")
}

#[test]
fn vidur_mlp_shapes_and_bytes() {
    let text = format!(
        "{}\n{}\n{}\n",
        vidur_header(),
        vidur_row(1, 2, 0.01),
        vidur_row(64, 2, 0.02)
    );
    let t = vidur_mlp("mlp.csv", &text).unwrap();
    assert_eq!(t.gemm.rows.len(), 8);
    let g = t.gemm.rows[0]; // attn_pre_proj at TP 2: (32 + 2·32)·128 / 2 = 6144
    assert_eq!((g.m, g.n, g.k, g.dtype), (1, 6144, 4096, DType::F16));
    assert!((g.seconds - 1e-5).abs() < 1e-18);
    let up = t.gemm.rows[2];
    assert_eq!((up.n, up.k), (11008, 4096)); // 2·11008/2
    assert_eq!(t.elementwise.rows.len(), 12);
    let norm = t.elementwise.rows[0];
    assert_eq!(norm.kind, ElementwiseKind::Norm);
    assert_eq!(norm.bytes, 2.0 * (2.0 * 4096.0 + 4096.0));
    // Zero time: named.
    let bad = format!(
        "{}\n{}\n{}\n",
        vidur_header(),
        vidur_row(1, 2, 0.0),
        vidur_row(64, 2, 0.02)
    );
    assert!(matches!(
        vidur_mlp("mlp.csv", &bad),
        Err(ProfileError::NonPositiveTime {
            row: Row::Line(2),
            ..
        })
    ));
}

#[test]
fn vidur_network_scopes() {
    let text = ",time_stats.send_recv.min,time_stats.send_recv.max,time_stats.send_recv.mean,time_stats.send_recv.median,time_stats.send_recv.std,rank,num_workers,size,collective,devices_per_node,max_devices_per_node\n\
0,0.01,0.02,0.015,0.017,0.004,0,2,2048,send_recv,1,8\n\
1,0.01,0.02,0.015,0.019,0.004,0,2,10240,send_recv,1,8\n\
2,0.01,0.02,0.015,0.012,0.004,0,2,2048,send_recv,2,8\n\
3,0.01,0.02,0.015,0.013,0.004,0,2,10240,send_recv,2,8\n";
    let t = vidur_network("sr.csv", text).unwrap();
    assert_eq!(t.rows.len(), 4);
    assert_eq!(t.rows[0].scope, Scope::Inter);
    assert_eq!(t.rows[2].scope, Scope::Intra);
    assert_eq!(t.rows[1].op, CollectiveKind::SendRecv);
    assert!((t.rows[1].seconds - 19e-6).abs() < 1e-18);
}

/// The real published files, when the shared data folder is beside the repository.
#[test]
fn shared_published_tables_import_when_present() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/profiles");
    let mlp = root.join("vidur-h100/compute/meta-llama/Llama-2-7b-hf/mlp.csv");
    if let Ok(text) = std::fs::read_to_string(&mlp) {
        let t = vidur_mlp(&mlp.display().to_string(), &text).unwrap();
        assert_eq!(t.gemm.rows.len(), 1044 * 4);
    }
    let net = root.join("vidur-h100/network/h100_dgx/all_reduce.csv");
    if let Ok(text) = std::fs::read_to_string(&net) {
        let t = vidur_network(&net.display().to_string(), &text).unwrap();
        assert_eq!(t.rows.len(), 2982);
    }
    let h200 = root.join("apex-comm/H200-SXM-141GB");
    if h200.exists() {
        let t = parallax_hw::profile::import::apex_collectives_dir(&h200, "half").unwrap();
        assert_eq!(t.rows.len(), 4 * 3 * 19 + 19);
    }
}

/// The measured H100 tables as `calibrate DIR` reads them, with `edit` applied to one file.
fn pytorch_texts_edited(
    edit: impl Fn(&str, &str) -> String,
) -> Result<parallax_hw::profile::Profile, String> {
    use parallax_hw::profile::import::{h100_pytorch, PytorchTexts};
    let gemm = edit("gemm", include_str!("data/gemm.csv"));
    let prefill = edit("prefill", include_str!("data/attention_prefill.csv"));
    let decode = edit("decode", include_str!("data/attention_decode.csv"));
    let device = edit("device", include_str!("data/device.json"));
    h100_pytorch(
        PytorchTexts {
            source: "dir",
            gemm: &gemm,
            prefill: &prefill,
            decode: &decode,
            device: &device,
        },
        "p",
    )
    .map_err(|e| e.to_string())
}

#[test]
fn measured_tables_refuse_what_would_not_fit_and_keep_odd_versions() {
    // A torch version with a non-ASCII CUDA suffix is kept as written (it panicked slicing
    // inside a character).
    let p = pytorch_texts_edited(|f, t| {
        if f == "device" {
            t.replace("2.11.0+cu130", "2.11.0+cu13é")
        } else {
            t.to_string()
        }
    })
    .unwrap();
    assert_eq!(p.software.cuda, "13é");
    // A batch past the format's limit is an error naming it (it aborted allocating 2^32
    // sequences when calibrating).
    let e = pytorch_texts_edited(|f, t| {
        if f == "prefill" {
            let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
            let mut cells: Vec<String> = lines[1].split(',').map(str::to_string).collect();
            cells[2] = "4294967295".into();
            lines[1] = cells.join(",");
            lines.join("\n") + "\n"
        } else {
            t.to_string()
        }
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("4294967295") && e.contains("batch") && e.contains("at most"),
        "{e}"
    );
}

/// device.json's matmul rate feeds every extrapolation: an absurd one is refused naming the
/// file and field (1e300 TFLOP/s became an infinite rate and calibrated silently).
#[test]
fn measured_device_rates_out_of_range_are_refused() {
    let e = pytorch_texts_edited(|f, t| {
        if f == "device" {
            let mut v: serde_json::Value = serde_json::from_str(t).unwrap();
            for run in v.as_object_mut().unwrap().values_mut() {
                run["ceilings"]["matmul_tflops"] = serde_json::json!(1e300);
            }
            v.to_string()
        } else {
            t.to_string()
        }
    })
    .unwrap_err();
    assert!(
        e.contains("dir/device.json")
            && e.contains("ceilings.matmul_tflops")
            && e.contains("e+300"),
        "{e}"
    );
    // present but zero, negative, null or a string: named as such, not as missing
    for bad in [
        serde_json::json!(0),
        serde_json::json!(-5),
        serde_json::Value::Null,
        serde_json::json!("735"),
    ] {
        let e = pytorch_texts_edited(|f, t| {
            if f == "device" {
                let mut v: serde_json::Value = serde_json::from_str(t).unwrap();
                for run in v.as_object_mut().unwrap().values_mut() {
                    run["ceilings"]["matmul_tflops"] = bad.clone();
                }
                v.to_string()
            } else {
                t.to_string()
            }
        })
        .unwrap_err();
        assert!(
            e.contains("ceilings.matmul_tflops")
                && e.contains(&bad.to_string())
                && !e.contains("missing"),
            "{e}"
        );
    }
}
