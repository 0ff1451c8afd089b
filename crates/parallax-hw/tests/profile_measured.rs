//! Measured-iteration file format: parsing, batch composition, errors, summaries.

use parallax_hw::profile::measured::{parse_measured, DecodeSpec, PrefillSpec};
use parallax_hw::profile::{ErrorSummary, ProfileError, Row};

const OK: &str = "# whole iterations\nmodel,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
llama-3.1-8b,H100-SXM,1,1x2048,,off,95.1\n\
llama-3.1-8b,H100-SXM,1,,32x2048,on,9.8\n\
llama-3.1-8b,H100-SXM,2,1x512+1024 2x128,16x1024;8x512,off,31.0\n";

#[test]
fn parses_rows_and_batches() {
    let rows = parse_measured("m.csv", OK).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0].prefill,
        vec![PrefillSpec {
            batch: 1,
            new_tokens: 2048,
            prefix: 0
        }]
    );
    assert!(rows[0].decode.is_empty() && !rows[0].cuda_graphs);
    assert!(rows[1].cuda_graphs);
    assert_eq!(
        rows[1].decode,
        vec![DecodeSpec {
            batch: 32,
            context: 2048
        }]
    );
    let r = &rows[2];
    assert_eq!(r.tp, 2);
    assert_eq!(r.line, 5);
    let b = r.batch();
    assert_eq!(b.prefill.len(), 3);
    assert_eq!(b.prefill[0].prefix, 1024);
    assert_eq!(b.decode.requests, 24);
    assert_eq!(b.decode.context_sum, 16 * 1024 + 8 * 512);
    assert_eq!(b.decode.context_max, 1024);
    assert_eq!(r.prefill_spec(), "1x512+1024 2x128");
    assert_eq!(r.decode_spec(), "16x1024 8x512");
    assert!((r.measured_ms - 31.0).abs() < 1e-12);
}

#[test]
fn bad_rows_name_file_line_and_column() {
    let e = parse_measured(
        "m.csv",
        "model,gpu,tp,prefill,decode,measured_ms\nx,H100,1,1x2,,1\n",
    )
    .unwrap_err();
    assert!(
        matches!(&e, ProfileError::MissingColumn { column, file, .. } if column == "cuda_graphs" && file == "m.csv"),
        "{e:?}"
    );
    let head = "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n";
    let cases = [
        ("x,H100,1,1x2,,off,0\n", "measured_ms"),
        ("x,H100,1,1x2,,off,-3\n", "measured_ms"),
        ("x,H100,0,1x2,,off,1\n", "tp"),
        ("x,H100,1,1y2,,off,1\n", "prefill"),
        ("x,H100,1,,32x,off,1\n", "decode"),
        ("x,H100,1,1x2,,maybe,1\n", "cuda_graphs"),
        ("x,H100,1,,,off,1\n", "prefill"),
    ];
    for (row, col) in cases {
        let e = parse_measured("m.csv", &format!("{head}{row}")).unwrap_err();
        let (r, c) = match &e {
            ProfileError::BadValue { row, column, .. } => (*row, column.clone()),
            ProfileError::NonPositiveTime { row, column, .. } => (*row, column.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(r, Row::Line(2), "{row}");
        assert_eq!(c, col, "{row}");
        assert!(
            e.to_string().contains("m.csv") && e.to_string().contains("line 2"),
            "{e}"
        );
    }
}

#[test]
fn error_summary() {
    let s = ErrorSummary::from_pairs([
        (110.0, 100.0),
        (95.0, 100.0),
        (100.0, 100.0),
        (130.0, 100.0),
    ])
    .unwrap();
    assert_eq!(s.count, 4);
    assert!((s.median - 7.5).abs() < 1e-12);
    assert!((s.mean - 11.25).abs() < 1e-12);
    assert!((s.max - 30.0).abs() < 1e-12);
    assert!(ErrorSummary::from_pairs(std::iter::empty()).is_none());
}

/// A column named twice is refused by name (the first copy was read, the second ignored).
#[test]
fn measured_columns_named_twice_are_refused() {
    let e = parallax_hw::profile::parse_measured(
        "m.csv",
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms,measured_ms\n\
         llama-3.1-8b,H100-SXM,1,1x512,,off,16.3,99\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("m.csv") && e.contains("measured_ms") && e.contains("each column once"),
        "{e}"
    );
}
