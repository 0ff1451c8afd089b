//! Profile format: round trip, embedded profile, and bad files failing with file/row/column.

use parallax_hw::profile::{
    build_embedded_h100, embedded_h100, GemmPoint, Profile, ProfileError, Row, FORMAT_VERSION,
};
use parallax_ir::DType;

fn minimal(tables: &str) -> String {
    format!(
        r#"{{"format_version": {FORMAT_VERSION}, "name": "t",
  "gpu": {{"name": "H100-SXM", "device": "dev", "matmul_flops": 7.6e14, "memory_bandwidth": 3e12}},
  "software": {{"torch": "2.11", "cuda": "13.0", "driver": "580"}},
  "provenance": {{"source": "test", "date": "2025-01-01", "method": "hand"}},
  "tables": {{{tables}}}}}"#
    )
}

const GEMM_OK: &str = r#""gemm": {"columns": ["m","n","k","dtype","seconds"],
  "rows": [[1, 64, 64, "bf16", 1e-5], [64, 64, 64, "bf16", 2e-5]]}"#;

#[test]
fn embedded_h100_parses_and_round_trips() {
    let p = embedded_h100();
    assert_eq!(p.name, "h100-pytorch");
    assert_eq!(p.gemm.as_ref().unwrap().rows.len(), 336);
    assert_eq!(p.prefill_attention.as_ref().unwrap().rows.len(), 40);
    assert_eq!(p.decode_attention.as_ref().unwrap().rows.len(), 14);
    // 4 collectives × 3 group sizes × 19 half rows + 19 send/recv rows.
    assert_eq!(p.collective.as_ref().unwrap().rows.len(), 4 * 3 * 19 + 19);
    // The elementwise table of the parallax-profiler H100 run, with its own provenance.
    let ew = p.elementwise.as_ref().unwrap();
    assert_eq!(ew.rows.len(), 30);
    assert!(ew
        .provenance
        .as_ref()
        .unwrap()
        .source
        .starts_with("parallax_profiler"));
    assert_eq!(p.software.torch, "2.11.0+cu130");
    assert_eq!(p.software.cuda, "13.0");
    assert_eq!(p.software.driver, "580.159.04");
    // device.json: median of 735.8 and 787.3 TFLOP/s.
    assert!((p.gpu.matmul_flops / 1e12 - 761.546).abs() < 0.01);
    // First gemm row: run1,l3_8b.qkv,1,6144,4096,0.029536 ms.
    assert_eq!(
        p.gemm.as_ref().unwrap().rows[0],
        GemmPoint {
            m: 1,
            n: 6144,
            k: 4096,
            dtype: DType::Bf16,
            seconds: 0.029536e-3
        }
    );
    let json = p.to_json();
    let mut back = Profile::from_json("<round trip>", &json).unwrap();
    back.source_name = p.source_name.clone();
    assert!(back.gpu == p.gpu, "gpu");
    assert!(
        back.software == p.software && back.provenance == p.provenance,
        "meta"
    );
    for (a, b) in back
        .gemm
        .as_ref()
        .unwrap()
        .rows
        .iter()
        .zip(&p.gemm.as_ref().unwrap().rows)
    {
        assert!(a == b, "{a:?} {b:?}");
    }
    assert!(
        back.gemm.as_ref().unwrap().provenance == p.gemm.as_ref().unwrap().provenance,
        "prov"
    );
    assert!(back.gemm == p.gemm, "gemm");
    assert!(back.prefill_attention == p.prefill_attention, "prefill");
    assert!(back.decode_attention == p.decode_attention, "decode");
    assert!(back.collective == p.collective, "collective");
    assert!(back == *p);
    // Writing again gives the same bytes.
    assert_eq!(back.to_json(), json);
    assert_eq!(*p, build_embedded_h100().unwrap());
}

#[test]
fn minimal_profile_round_trips_with_table_provenance() {
    let text = minimal(&format!(
        r#"{GEMM_OK}, "collective": {{"provenance": {{"source": "s", "date": "d", "method": "m"}},
        "software": {{"torch": "unknown", "cuda": "unknown", "driver": "unknown"}},
        "columns": ["op","group_size","scope","bytes","seconds"],
        "rows": [["all_reduce", 8, "intra", 1024, 1e-5], ["all_reduce", 8, "intra", 1048576, 4e-5]]}}"#
    ));
    let p = Profile::from_json("mem.json", &text).unwrap();
    assert_eq!(
        p.collective
            .as_ref()
            .unwrap()
            .provenance
            .as_ref()
            .unwrap()
            .source,
        "s"
    );
    let back = Profile::from_json("mem.json", &p.to_json()).unwrap();
    assert_eq!(back, p);
}

fn err(tables: &str) -> ProfileError {
    Profile::from_json("bad.json", &minimal(tables)).unwrap_err()
}

#[test]
fn missing_column_names_file_table_and_column() {
    let e = err(r#""gemm": {"columns": ["m","n","dtype","seconds"], "rows": [[1,2,"bf16",1e-5]]}"#);
    match &e {
        ProfileError::MissingColumn {
            file,
            table,
            column,
            ..
        } => {
            assert_eq!(
                (file.as_str(), table.as_str(), column.as_str()),
                ("bad.json", "gemm", "k")
            );
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("bad.json") && msg.contains("`gemm`") && msg.contains("`k`"),
        "{msg}"
    );
}

#[test]
fn non_positive_time_names_row_and_column() {
    for bad in ["0", "-1e-5"] {
        let e = err(&format!(
            r#""decode_attention": {{"columns": ["batch","context","heads","kv_heads","head_dim","dtype","seconds"],
            "rows": [[1, 512, 32, 8, 128, "bf16", 1e-5], [1, 1024, 32, 8, 128, "bf16", {bad}]]}}"#
        ));
        match &e {
            ProfileError::NonPositiveTime {
                file,
                table,
                row,
                column,
                value,
            } => {
                assert_eq!(file, "bad.json");
                assert_eq!(table, "decode_attention");
                assert_eq!(*row, Row::Entry(1));
                assert_eq!(column, "seconds");
                assert_eq!(value.parse::<f64>().unwrap(), bad.parse::<f64>().unwrap());
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("entry 1"), "{e}");
    }
}

#[test]
fn too_few_points_names_family_row_and_column() {
    let e = err(r#""gemm": {"columns": ["m","n","k","dtype","seconds"],
        "rows": [[1, 64, 64, "bf16", 1e-5], [64, 64, 64, "bf16", 2e-5], [8, 128, 64, "bf16", 1e-5], [8, 128, 64, "bf16", 1.1e-5]]}"#);
    match &e {
        ProfileError::TooFewPoints {
            file,
            table,
            row,
            column,
            points,
            family,
        } => {
            assert_eq!(file, "bad.json");
            assert_eq!(table, "gemm");
            assert_eq!(*row, Row::Entry(2));
            assert_eq!(column, "m");
            assert_eq!(*points, 1);
            assert!(family.contains("n=128"), "{family}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_repeated_key_is_refused() {
    let text = minimal(GEMM_OK).replacen("{", "{\"name\": \"first\",", 1);
    let e = Profile::from_json("dup.json", &text).unwrap_err();
    assert!(e.to_string().contains("`name` appears twice"), "{e}");
}

#[test]
fn other_bad_values_are_reported() {
    // A collective of one rank moves nothing (it would price every collective at 0).
    let e = err(&format!(
        r#"{GEMM_OK}, "collective": {{"columns": ["op","group_size","scope","bytes","seconds"],
        "rows": [["all_reduce", 2, "intra", 1024, 1e-5], ["all_reduce", 1, "intra", 1024, 1e-5]]}}"#
    ));
    assert!(
        matches!(&e, ProfileError::BadValue { row: Row::Entry(1), column, .. } if column == "group_size"),
        "{e:?}"
    );
    assert!(e.to_string().contains("at least 2 ranks"), "{e}");
    // Wrong dtype.
    let e = err(
        r#""gemm": {"columns": ["m","n","k","dtype","seconds"], "rows": [[1,2,3,"bf17",1e-5],[2,2,3,"bf16",1e-5]]}"#,
    );
    assert!(
        matches!(&e, ProfileError::BadValue { row: Row::Entry(0), column, .. } if column == "dtype"),
        "{e:?}"
    );
    // A number written as a string is shown as written, quotes and all.
    let e = err(
        r#""gemm": {"columns": ["m","n","k","dtype","seconds"], "rows": [[1,"2",3,"bf16",1e-5],[2,2,3,"bf16",1e-5]]}"#,
    );
    assert!(
        matches!(&e, ProfileError::BadValue { column, value, .. } if column == "n" && value == "\"2\""),
        "{e:?}"
    );
    assert!(e.to_string().contains("value `\"2\"`"), "{e}");
    // Zero size.
    let e = err(
        r#""gemm": {"columns": ["m","n","k","dtype","seconds"], "rows": [[0,2,3,"bf16",1e-5],[2,2,3,"bf16",1e-5]]}"#,
    );
    assert!(
        matches!(&e, ProfileError::BadValue { row: Row::Entry(0), column, .. } if column == "m"),
        "{e:?}"
    );
    // Unknown column.
    let e = err(
        r#""gemm": {"columns": ["m","n","k","dtype","seconds","x"], "rows": [[1,2,3,"bf16",1e-5,0]]}"#,
    );
    assert!(
        matches!(&e, ProfileError::UnknownColumn { column, .. } if column == "x"),
        "{e:?}"
    );
    // Short row.
    let e =
        err(r#""gemm": {"columns": ["m","n","k","dtype","seconds"], "rows": [[1,2,3,"bf16"]]}"#);
    assert!(
        matches!(
            &e,
            ProfileError::BadValue {
                row: Row::Entry(0),
                ..
            }
        ),
        "{e:?}"
    );
    // Wrong version.
    let text = minimal(GEMM_OK).replace("\"format_version\": 1", "\"format_version\": 99");
    assert!(matches!(
        Profile::from_json("v.json", &text),
        Err(ProfileError::UnsupportedVersion { .. })
    ));
    // Missing gpu field.
    let text = minimal(GEMM_OK).replace("\"matmul_flops\": 7.6e14, ", "");
    assert!(
        matches!(Profile::from_json("g.json", &text), Err(ProfileError::MissingField { field, .. }) if field == "matmul_flops")
    );
    // A rate far outside any GPU's (the cost model divides by it: 1e-300 made every
    // extrapolated time infinite and `predict` print NaN).
    for (field, written) in [
        ("matmul_flops", "\"matmul_flops\": 1e-300"),
        ("memory_bandwidth", "\"memory_bandwidth\": 1e30"),
    ] {
        let text = minimal(GEMM_OK)
            .replace(
                "\"matmul_flops\": 7.6e14",
                if field == "matmul_flops" {
                    written
                } else {
                    "\"matmul_flops\": 7.6e14"
                },
            )
            .replace(
                "\"memory_bandwidth\": 3e12",
                if field == "memory_bandwidth" {
                    written
                } else {
                    "\"memory_bandwidth\": 3e12"
                },
            );
        let e = Profile::from_json("r.json", &text).unwrap_err();
        assert!(
            matches!(&e, ProfileError::BadValue { column, .. } if column == field),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("r.json") && msg.contains(field) && msg.contains("between"),
            "{msg}"
        );
    }
    // JSON syntax error: line and column.
    assert!(matches!(
        Profile::from_json("s.json", "{\n  \"a\": }"),
        Err(ProfileError::Json { line: 2, .. })
    ));
    // Unreadable file.
    assert!(matches!(
        Profile::load(std::path::Path::new("/nonexistent/p.json")),
        Err(ProfileError::Io { .. })
    ));
}

/// `overheads.iteration_seconds` may be 0 (the fitted default: graph rows add nothing
/// per iteration) and round-trips; a negative one, or a host cost per op of 0, is refused.
#[test]
fn an_iteration_overhead_of_zero_is_accepted() {
    let with = |overheads: &str| {
        minimal(GEMM_OK).replacen(
            r#""tables""#,
            &format!(r#""overheads": {{{overheads}}}, "tables""#),
            1,
        )
    };
    let p = Profile::from_json("o.json", &with(r#""iteration_seconds": 0"#)).unwrap();
    assert_eq!(p.overheads.iteration_seconds, Some(0.0));
    assert_eq!(Profile::from_json("o.json", &p.to_json()).unwrap(), p);
    let e = Profile::from_json("o.json", &with(r#""iteration_seconds": -1e-6"#)).unwrap_err();
    assert!(e.to_string().contains("iteration_seconds"), "{e}");
    let e = Profile::from_json("o.json", &with(r#""host_op_seconds": 0"#)).unwrap_err();
    assert!(e.to_string().contains("host_op_seconds"), "{e}");
}

/// A fused-MoE row routing each token to more experts than the layer has is refused, naming
/// the row and column; under expert parallelism `top_k` may exceed the local experts.
#[test]
fn a_fused_moe_top_k_beyond_the_layer_is_refused() {
    let moe = |experts: &str, top_k: u32| {
        format!(
            r#"{GEMM_OK}, "fused_moe": {{"columns": ["tokens","experts","top_k","hidden","intermediate","dtype","seconds"],
            "rows": [[1, {experts}, {top_k}, 7168, 2048, "bf16", 1e-4], [2, {experts}, {top_k}, 7168, 2048, "bf16", 2e-4]]}}"#
        )
    };
    let e = err(&moe("8", 9));
    let text = e.to_string();
    assert!(
        text.contains("top_k") && text.contains("at most the layer's 8 experts"),
        "{text}"
    );
    Profile::from_json("ok.json", &minimal(&moe("8", 8))).unwrap();
    Profile::from_json("ok.json", &minimal(&moe(r#""4/256""#, 8))).unwrap();
}
