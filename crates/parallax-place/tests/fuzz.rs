//! In-tree fuzzing of the placement entry points (issue 13): mutated graph files of both
//! formats go through the parsers, validation, every solver and the baselines under small
//! budgets; whatever comes back must be a typed result or error — never a panic, hang or
//! abort. The CLI side is fuzzed in `tests/cli.rs`.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{random_graph, Rng};
use parallax_place::latency::latency_greedy;
use parallax_place::{
    baselines, solve_contiguous, solve_latency, solve_milp, Graph, Instance, Limits, MilpBackend,
    MilpOptions,
};
use proptest::prelude::*;

/// Values that break naive arithmetic, as JSON text.
const WEIRD: &[&str] = &[
    "0",
    "-1",
    "1e300",
    "-1e300",
    "1e15",
    "1e-300",
    "4294967295",
    "4294967296",
    "1000000000000",
    "9223372036854775807",
    "18446744073709551616",
    "0.5",
    "\"x\"",
    "null",
    "true",
    "[]",
    "{}",
];

/// Replaces the `which`-th number of the text by a weird value.
fn mutate_number(text: &str, which: usize, value: &str) -> String {
    let bytes = text.as_bytes();
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let starts = (c.is_ascii_digit() || c == b'-')
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.'));
        if starts {
            let mut j = i + 1;
            while j < bytes.len()
                && (bytes[j].is_ascii_digit()
                    || matches!(bytes[j], b'.' | b'e' | b'E' | b'-' | b'+'))
            {
                j += 1;
            }
            if count == which {
                return format!("{}{}{}", &text[..i], value, &text[j..]);
            }
            count += 1;
            i = j;
        } else {
            i += 1;
        }
    }
    text.to_string()
}

/// Runs everything; returns whether the text got as far as the solvers.
fn run_all(text: &str) -> bool {
    let Ok(g) = Graph::from_any_json(text, Path::new("fuzz.json")) else {
        return false;
    };
    let Ok(inst) = Instance::new(&g) else {
        return false;
    };
    let limits = Limits {
        time_limit: Some(Duration::from_millis(50)),
        max_ideals: 20_000,
        max_labels: Some(20_000),
        ..Limits::default()
    };
    let _ = solve_contiguous(&inst, &limits);
    let _ = solve_contiguous(&inst.clone().with_overlap(true), &limits);
    let _ = solve_latency(&inst, 1, &limits);
    let _ = solve_latency(&inst, 2, &limits);
    let _ = latency_greedy(&inst);
    let _ = baselines::run_all_with(&inst, &limits);
    if inst.len() <= 8 {
        let _ = solve_milp(
            &inst,
            &MilpOptions {
                time_limit: Some(0.2),
                backend: MilpBackend::Microlp,
                ..MilpOptions::default()
            },
        );
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn mutated_graphs_never_panic(
        seed in any::<u64>(),
        n in 1usize..=8,
        k in 0usize..=3,
        l in 0usize..=2,
        which in 0usize..60,
        value in 0usize..WEIRD.len(),
        which2 in 0usize..60,
        value2 in 0usize..WEIRD.len(),
    ) {
        let (k, l) = if k + l == 0 { (1, 1) } else { (k, l) };
        let mut rng = Rng(seed);
        let text = random_graph(&mut rng, n, k, l).to_json();
        let once = mutate_number(&text, which, WEIRD[value]);
        run_all(&once);
        run_all(&mutate_number(&once, which2, WEIRD[value2]));
    }
}

#[test]
fn the_fuzzer_reaches_the_solvers() {
    let mut rng = Rng(77);
    let mut solved = 0;
    for case in 0..300u64 {
        let text = random_graph(&mut rng, 1 + (case % 8) as usize, 2, 1).to_json();
        let which = (rng.next() % 60) as usize;
        let value = (rng.next() % WEIRD.len() as u64) as usize;
        solved += usize::from(run_all(&mutate_number(&text, which, WEIRD[value])));
    }
    // most mutations keep a valid graph (a number for a number), some do not
    assert!(
        solved >= 100,
        "only {solved} of 300 mutated graphs reached the solvers"
    );
}

#[test]
fn paper_format_device_counts_at_the_extremes() {
    for (fpgas, cpus) in [
        ("1048576", "1048576"),
        ("1048577", "0"),
        ("1000000000000", "1"),
        ("-1", "1"),
        ("0", "0"),
    ] {
        let text = format!(
            r#"{{"maxSizePerFPGA": 10, "maxFPGAs": {fpgas}, "maxCPUs": {cpus},
                "nodes": [{{"id": 1, "cpuLatency": 1, "fpgaLatency": 1, "size": 1,
                           "supportedOnFpga": 1, "isBackwardNode": 0}},
                          {{"id": 2, "cpuLatency": 2, "fpgaLatency": 1, "size": 1,
                           "supportedOnFpga": 1, "isBackwardNode": 0}}],
                "edges": [{{"sourceId": 1, "destId": 2, "cost": 1e15}}]}}"#
        );
        run_all(&text);
    }
}
