//! Parameter counts of the embedded models against published figures and hand counts.

use parallax_ir::{embedded, resolve};

fn within(actual: u64, expected: f64, tol: f64) -> bool {
    ((actual as f64 - expected) / expected).abs() <= tol
}

#[test]
fn print_all() {
    for e in embedded() {
        let m = e.model().unwrap();
        println!(
            "{:28} total {:>16} active {:>16} kv/tok {:>10} runs {:?}",
            e.short_name,
            m.params_total(),
            m.params_active(),
            m.kv_bytes_per_token(),
            m.runs
                .iter()
                .map(|r| (r.block.layers(), r.repeat))
                .collect::<Vec<_>>()
        );
    }
    assert!(within(
        resolve("llama-3.1-8b").unwrap().params_total(),
        8.03e9,
        0.005
    ));
}
