//! Hardening: documented bounds on workloads, bounded synthetic sampling, strict trace dates,
//! and metrics that stay physical at extreme arrival times. Plus fuzzing of every workload
//! parser (arbitrary and mutated text must give a value or a typed error, never a panic).

use crate::common;
use common::*;
use parallax_sim::workload::{self, spec::parse_synthetic, MAX_ARRIVAL_S, MAX_REQUEST_TOKENS};
use parallax_sim::*;
use proptest::prelude::*;

#[test]
fn azure_dates_must_exist_and_years_must_be_plausible() {
    for bad in [
        "2023-02-31 00:00:00",
        "2023-02-29 00:00:00",
        "2023-04-31 00:00:00",
        "99999999999999999-01-01 00:00:00",
        "0001-01-01 00:00:00",
        "10000-01-01 00:00:00",
        "-2023-01-01 00:00:00",
    ] {
        let text = format!("TIMESTAMP,ContextTokens,GeneratedTokens\n{bad},1,1\n");
        let e =
            workload::parse_as("azure.csv", &text, workload::TraceFormat::AzureCsv).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, SimError::TraceValue { line: 2, ref field, .. } if field == "TIMESTAMP"),
            "{bad}: {msg}"
        );
        assert!(msg.contains("azure.csv") && msg.contains(bad), "{msg}");
    }
    // Leap days exist in leap years.
    let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n2024-02-29 00:00:00,1,1\n\
                2000-02-29 00:00:00,1,1\n";
    let w = workload::parse_as("azure.csv", text, workload::TraceFormat::AzureCsv).unwrap();
    assert_eq!(w.len(), 2);
}

#[test]
fn workload_sizes_and_times_are_bounded() {
    let r = |arrival_s: f64, prompt_tokens: u32| Request {
        id: 0,
        arrival_s,
        prompt_tokens,
        output_tokens: 1,
        prefix: None,
    };
    assert!(Workload::new("w", vec![r(MAX_ARRIVAL_S, 1)]).is_ok());
    let e = Workload::new("w", vec![r(MAX_ARRIVAL_S * 2.0, 1)]).unwrap_err();
    assert!(e.to_string().contains("2000000000"), "{e}");
    let e = Workload::new("w", vec![r(0.0, MAX_REQUEST_TOKENS + 1)]).unwrap_err();
    assert!(e.to_string().contains("prompt_tokens"), "{e}");
    // A rescale that would push the last arrival past the clock's range is refused.
    let w = workload(&[(0.0, 1, 1), (1.0, 1, 1)]);
    let e = w.clone().with_rate(1e-12).unwrap_err().to_string();
    assert!(e.contains("1e-12"), "{e}");
    assert!(w.with_rate(1e-6).is_ok());
}

#[test]
fn synthetic_specs_that_used_to_hang_fail_fast() {
    let start = std::time::Instant::now();
    for spec in [
        "synthetic:requests=10,rate=1,prompt=normal(1,1e19),output=fixed(1)",
        "synthetic:requests=10,rate=1,prompt=lognormal(1,1e300),output=fixed(1)",
        "synthetic:requests=10,rate=1,prompt=normal(1e300,1e300),output=fixed(1)",
        "synthetic:requests=10,rate=1,arrivals=gamma,cv=1e-300,prompt=fixed(1),output=fixed(1)",
        "synthetic:requests=10,rate=1,arrivals=gamma,cv=0,prompt=fixed(1),output=fixed(1)",
        "synthetic:requests=4294967296,rate=1,prompt=fixed(1),output=fixed(1)",
    ] {
        let e = workload::resolve(spec).unwrap_err();
        assert!(matches!(e, SimError::InvalidWorkload { .. }), "{spec}: {e}");
        assert!(e.to_string().contains(spec), "{spec}: {e}");
    }
    // Heavy but legitimate distributions still work.
    let w = workload::resolve(
        "synthetic:requests=200,rate=5,prompt=normal(1,1000),output=lognormal(100,3000)",
    )
    .unwrap();
    assert_eq!(w.len(), 200);
    assert!(w
        .requests
        .iter()
        .all(|r| (1..=MAX_REQUEST_TOKENS).contains(&r.prompt_tokens)));
    assert!(start.elapsed().as_secs() < 60);
}

/// Late arrivals on the f64 clock: busy time never exceeds the makespan, so utilisation stays
/// ≤ 1 and mean power ≤ the busy power.
#[test]
fn utilisation_and_power_stay_physical_at_late_arrivals() {
    for t0 in [0.0, 1e6, 1e8, MAX_ARRIVAL_S - 10.0] {
        let reqs: Vec<(f64, u32, u32)> = (0..50).map(|i| (t0 + i as f64 * 1e-4, 64, 8)).collect();
        let w = workload(&reqs);
        let rep = run(
            vec![const_replica(1.3e-3, 100_000, 16)],
            config(SchedulerKind::Static),
            &w,
        );
        let g = &rep.metrics.gpu;
        assert!(
            g.utilisation <= 1.0,
            "t0 {t0}: utilisation {}",
            g.utilisation
        );
        assert!(
            g.utilisation > 0.9,
            "t0 {t0}: utilisation {}",
            g.utilisation
        );
    }
}

fn parses_or_errs(text: &str) {
    let _ = workload::parse("fuzz", text);
    for f in [
        workload::TraceFormat::ApexJsonl,
        workload::TraceFormat::VidurCsv,
        workload::TraceFormat::AzureCsv,
    ] {
        let _ = workload::parse_as("fuzz", text, f);
    }
    let _ = workload::parse_lengths("fuzz", text);
}

fn mutate(seed: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut b = seed.as_bytes().to_vec();
    for &(pos, op, byte) in edits {
        if b.is_empty() {
            b.push(byte);
            continue;
        }
        let i = pos % b.len();
        match op % 4 {
            0 => b[i] = byte,
            1 => {
                b.remove(i);
            }
            2 => b.insert(i, byte),
            _ => {
                let chunk: Vec<u8> = b[i..].iter().take(8).copied().collect();
                b.splice(i..i, chunk);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

const TRACE_SEEDS: [&str; 3] = [
    "{\"ContextTokens\": 156, \"GeneratedTokens\": 67, \"StartTimeOffset\": 244544756}\n\
     {\"ContextTokens\": 15, \"GeneratedTokens\": 7, \"StartTimeOffset\": 344544756}\n",
    "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,374,44\n3.5,197,183\n",
    "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n\
     2023-11-17 00:00:00,10,1\n",
];

const SPEC_SEED: &str = "synthetic:requests=20,rate=2,arrivals=gamma,cv=2,\
                         prompt=lognormal(500,200),output=zipf(1.1,400),seed=7";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn traces_never_panic_on_arbitrary_text(text in "\\PC{0,300}") {
        parses_or_errs(&text);
    }

    #[test]
    fn traces_never_panic_on_mutations(
        which in 0usize..3,
        edits in prop::collection::vec((0usize..400, 0u8..4, any::<u8>()), 1..8),
    ) {
        parses_or_errs(&mutate(TRACE_SEEDS[which], &edits));
    }

    #[test]
    fn synthetic_specs_never_panic_or_hang(
        edits in prop::collection::vec((0usize..200, 0u8..4, b' '..b'~'), 1..6),
    ) {
        let spec = mutate(SPEC_SEED, &edits);
        if let Ok(s) = parse_synthetic(&spec) {
            // Keep generation small: the mutation may have grown `requests`.
            if s.requests <= 10_000 {
                let _ = s.generate();
            }
        }
    }

    #[test]
    fn synthetic_numbers_at_extremes_are_values_or_errors(
        mean in prop::num::f64::ANY,
        std in prop::num::f64::ANY,
        rate in prop::num::f64::ANY,
        cv in prop::num::f64::ANY,
    ) {
        let spec = format!(
            "synthetic:requests=5,rate={rate:e},arrivals=gamma,cv={cv:e},\
             prompt=normal({mean:e},{std:e}),output=lognormal({mean:e},{std:e})"
        );
        if let Ok(s) = parse_synthetic(&spec) {
            let w = s.generate();
            prop_assert!(w.is_ok(), "{spec}: {w:?}");
        }
    }
}

/// A byte-order mark (written by Windows editors) is not part of the first column's name: a
/// Vidur trace with one keeps its arrival times (it fell back to Poisson arrivals before).
#[test]
fn trace_files_with_a_byte_order_mark_read_as_without() {
    let dir = std::env::temp_dir().join(format!("parallax-bom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = "arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,5\n100,20,5\n200,30,5\n";
    let plain = dir.join("plain.csv");
    let bom = dir.join("bom.csv");
    std::fs::write(&plain, body).unwrap();
    std::fs::write(&bom, format!("\u{feff}{body}")).unwrap();
    let a = parallax_sim::workload::load_path(&plain).unwrap();
    let b = parallax_sim::workload::load_path(&bom).unwrap();
    let arrivals =
        |w: &parallax_sim::Workload| w.requests.iter().map(|r| r.arrival_s).collect::<Vec<_>>();
    assert_eq!(arrivals(&a), vec![0.0, 100.0, 200.0]);
    assert_eq!(arrivals(&a), arrivals(&b));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A column named twice is refused by name (the first copy was read, the second ignored).
#[test]
fn trace_columns_named_twice_are_refused() {
    let e = parallax_sim::workload::parse(
        "t.csv",
        "arrived_at,num_prefill_tokens,num_decode_tokens,num_prefill_tokens\n0,10,5,20\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("t.csv:1") && e.contains("num_prefill_tokens") && e.contains("each column once"),
        "{e}"
    );
}

/// Trailing commas (spreadsheet exports) are empty column names, not repeated ones.
#[test]
fn traces_with_trailing_commas_parse() {
    let w = parallax_sim::workload::parse(
        "t.csv",
        "arrived_at,num_prefill_tokens,num_decode_tokens,,\n0,10,5,,\n1,20,5,,\n",
    )
    .unwrap();
    assert_eq!(w.requests.len(), 2);
}

/// Trace rows split by the same RFC 4180 tokenizer as serving-run files: a quoted field with
/// a comma is one field, an unterminated quote is a syntax error naming the line (it used to
/// swallow the rest of the line into one field).
#[test]
fn trace_rows_quote_like_serving_runs() {
    let header = "arrived_at,num_prefill_tokens,num_decode_tokens,note\n";
    let w = parallax_sim::workload::parse("t.csv", &format!("{header}0,10,5,\"a, b\"\n")).unwrap();
    assert_eq!(w.requests.len(), 1);
    let e = parallax_sim::workload::parse("t.csv", &format!("{header}0,10,5,\"a, b\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("t.csv:2") && e.contains("unterminated"), "{e}");
}
