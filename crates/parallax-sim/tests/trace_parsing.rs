//! Trace loaders: formats, detection, malformed lines with file + line, zero/negative lengths,
//! unsorted arrivals (sorted and reported), embedded defaults.

use parallax_sim::workload::{self, TraceFormat};
use parallax_sim::SimError;

#[test]
fn apex_jsonl_parses_nanoseconds_on_the_trace_clock() {
    let text = "{\"ContextTokens\": 156, \"GeneratedTokens\": 67, \"StartTimeOffset\": 244544756}\n\
                {\"ContextTokens\": 115, \"GeneratedTokens\": 390, \"StartTimeOffset\": 5412530993}\n";
    let w = workload::parse("t.jsonl", text).unwrap();
    assert_eq!(w.len(), 2);
    assert_eq!(w.requests[0].prompt_tokens, 156);
    assert_eq!(w.requests[1].output_tokens, 390);
    assert_eq!(w.requests[0].arrival_s, 0.244544756);
    assert_eq!(w.requests[1].arrival_s, 5.412530993);
    assert!(w.notes.is_empty());
}

#[test]
fn malformed_jsonl_line_names_file_and_line() {
    let text = "{\"ContextTokens\": 1, \"GeneratedTokens\": 2, \"StartTimeOffset\": 0}\n\n\
                {\"ContextTokens\": 1, \"GeneratedTokens\": 2, \"StartTimeOffset\": 5\n";
    let e = workload::parse("trace.jsonl", text).unwrap_err();
    match &e {
        SimError::TraceSyntax { file, line, .. } => {
            assert_eq!(file, "trace.jsonl");
            assert_eq!(*line, 3);
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().starts_with("trace.jsonl:3:"), "{e}");
}

#[test]
fn missing_and_bad_fields_name_line_field_and_value() {
    let e = workload::parse(
        "a.jsonl",
        "{\"ContextTokens\": 3, \"StartTimeOffset\": 1}\n",
    )
    .unwrap_err();
    assert_eq!(
        e,
        SimError::TraceMissingField {
            file: "a.jsonl".into(),
            line: 1,
            field: "GeneratedTokens".into()
        }
    );
    let e = workload::parse(
        "a.jsonl",
        "{\"ContextTokens\": 3, \"GeneratedTokens\": 1, \"StartTimeOffset\": 1}\n{\"ContextTokens\": 0, \"GeneratedTokens\": 1, \"StartTimeOffset\": 2}\n",
    )
    .unwrap_err();
    match e {
        SimError::TraceValue {
            line, field, value, ..
        } => {
            assert_eq!(
                (line, field.as_str(), value.as_str()),
                (2, "ContextTokens", "0")
            );
        }
        other => panic!("{other:?}"),
    }
    let e = workload::parse(
        "b.csv",
        "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,5\n1.0,12,-3\n",
    )
    .unwrap_err();
    match e {
        SimError::TraceValue {
            file,
            line,
            field,
            value,
            ..
        } => {
            assert_eq!(
                (file.as_str(), line, field.as_str(), value.as_str()),
                ("b.csv", 3, "num_decode_tokens", "-3")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_with_wrong_column_count_or_bad_number_fails_with_line() {
    let e = workload::parse(
        "c.csv",
        "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,5\n0.5,7\n",
    )
    .unwrap_err();
    assert!(matches!(e, SimError::TraceSyntax { line: 3, .. }), "{e:?}");
    let e = workload::parse(
        "c.csv",
        "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,ten,5\n",
    )
    .unwrap_err();
    assert!(matches!(e, SimError::TraceValue { line: 2, .. }), "{e:?}");
    let e = workload::parse("c.csv", "arrived_at,num_decode_tokens\n0.0,5\n").unwrap_err();
    assert!(matches!(e, SimError::UnknownFormat { .. }), "{e:?}");
    let e = workload::parse_as(
        "c.csv",
        "arrived_at,num_decode_tokens\n0.0,5\n",
        TraceFormat::VidurCsv,
    )
    .unwrap_err();
    assert!(
        matches!(e, SimError::TraceMissingField { line: 1, .. }),
        "{e:?}"
    );
}

/// A field given as `null` is a bad value, not a missing field; a field given twice is
/// refused rather than read as its last value; a null optional field is absent.
#[test]
fn null_and_repeated_fields_in_apex_traces() {
    let e = workload::parse(
        "n.jsonl",
        "{\"ContextTokens\": null, \"GeneratedTokens\": 1, \"StartTimeOffset\": 0}\n",
    )
    .unwrap_err();
    assert!(
        matches!(e, SimError::TraceValue { line: 1, .. }) && e.to_string().contains("= null"),
        "{e:?}"
    );
    let e = workload::parse(
        "d.jsonl",
        "{\"ContextTokens\": 3, \"GeneratedTokens\": 1, \"StartTimeOffset\": 0}\n\
         {\"ContextTokens\": 3, \"GeneratedTokens\": 1, \"StartTimeOffset\": 1, \"ContextTokens\": 9}\n",
    )
    .unwrap_err();
    assert!(
        matches!(e, SimError::TraceSyntax { line: 2, .. })
            && e.to_string().contains("`ContextTokens` appears twice"),
        "{e:?}"
    );
    let w = workload::parse(
        "o.jsonl",
        "{\"ContextTokens\": 3, \"GeneratedTokens\": 1, \"StartTimeOffset\": 0, \"prefix_id\": null}\n",
    )
    .unwrap();
    assert_eq!(w.requests.len(), 1);
}

#[test]
fn unsorted_arrivals_are_sorted_and_reported() {
    let w = workload::parse(
        "u.csv",
        "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,1,1\n2.0,2,2\n1.0,3,3\n3.0,4,4\n",
    )
    .unwrap();
    let ids: Vec<u64> = w.requests.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![0, 2, 1, 3]);
    assert_eq!(w.notes.len(), 1);
    assert!(
        w.notes[0].contains("not sorted") && w.notes[0].contains("first id 2"),
        "{:?}",
        w.notes
    );
}

#[test]
fn lengths_only_csv_gets_reported_poisson_arrivals() {
    let w = workload::parse(
        "s.csv",
        "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n100,10,110,10\n50,5,55,10\n",
    )
    .unwrap();
    assert_eq!(w.requests[0].arrival_s, 0.0);
    assert!(w.requests[1].arrival_s > 0.0);
    assert!(w.notes[0].contains("Poisson"), "{:?}", w.notes);
}

#[test]
fn azure_csv_timestamps_become_seconds_after_the_earliest() {
    let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                2023-11-16 18:15:46.6805900,374,44\n\
                2023-11-16 18:15:50.9651690,396,109\n\
                2023-11-17 00:00:00,10,1\n";
    let w = workload::parse("azure.csv", text).unwrap();
    assert!((w.requests[1].arrival_s - 4.284579).abs() < 1e-9);
    let midnight = 24.0 * 3600.0 - (18.0 * 3600.0 + 15.0 * 60.0 + 46.68059);
    assert!((w.requests[2].arrival_s - midnight).abs() < 1e-6);
    let e = workload::parse(
        "azure.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-13-01 00:00:00,1,1\n",
    )
    .unwrap_err();
    assert!(
        matches!(e, SimError::TraceValue { line: 2, ref field, .. } if field == "TIMESTAMP"),
        "{e:?}"
    );
}

#[test]
fn embedded_defaults_load_with_expected_sizes() {
    let expect = [
        ("chat", 1024),
        ("creation", 512),
        ("summarization", 4096),
        ("code", 8819),
        ("conversation", 19366),
    ];
    assert_eq!(workload::names(), expect.map(|e| e.0).as_slice());
    for (name, n) in expect {
        let w = workload::embedded(name).unwrap();
        assert_eq!(w.len(), n, "{name}");
        assert!(w
            .requests
            .windows(2)
            .all(|p| p[0].arrival_s <= p[1].arrival_s));
    }
    let chat = workload::embedded("chat").unwrap();
    assert_eq!(chat.total_tokens(), (63_148, 165_996));
    assert!(matches!(
        workload::embedded("nope"),
        Err(SimError::UnknownWorkload { .. })
    ));
}

#[test]
fn load_path_reads_and_reports_missing_files() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/traces/apex-llama-creation_025.jsonl");
    assert_eq!(workload::load_path(&p).unwrap().len(), 512);
    assert!(matches!(
        workload::load_path("/nonexistent/x.jsonl"),
        Err(SimError::Io { .. })
    ));
}

#[test]
fn resolve_prefers_embedded_names_then_paths() {
    assert_eq!(workload::resolve("creation").unwrap().len(), 512);
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/traces/vidur-splitwise_code.csv");
    assert_eq!(workload::resolve(p.to_str().unwrap()).unwrap().len(), 8819);
    assert!(matches!(
        workload::resolve("no-such-workload"),
        Err(SimError::Io { .. })
    ));
}

#[test]
fn out_of_range_arrivals_and_lengths_name_line_field_and_range() {
    // beyond the simulator's clock (1e9 s): refused at the line, with the value as written
    let e = workload::parse(
        "t.csv",
        "arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,5\n1e300,10,5\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("t.csv:3")
            && e.contains("arrived_at")
            && e.contains("1e300")
            && e.contains("1e9"),
        "{e}"
    );
    let e = workload::parse(
        "t.jsonl",
        "{\"ContextTokens\": 10, \"GeneratedTokens\": 5, \"StartTimeOffset\": 1e300}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("t.jsonl:1") && e.contains("StartTimeOffset"),
        "{e}"
    );
    // a length beyond 32 bits names the range, not just "≥ 1"
    let e = workload::parse(
        "t.csv",
        "arrived_at,num_prefill_tokens,num_decode_tokens\n0,99999999999,5\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("99999999999") && e.contains("4294967295"), "{e}");
}
