//! Synthetic workloads (seeded, distributions), rescaling and truncation.

use parallax_sim::workload::synthetic::*;
use parallax_sim::workload::{self, Request, Workload};
use parallax_sim::SimError;

fn spec(arrivals: Arrivals, prompt: LengthDist, output: LengthDist, n: usize) -> SyntheticSpec {
    SyntheticSpec {
        requests: n,
        arrivals,
        lengths: Lengths::Independent { prompt, output },
        seed: 42,
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn poisson_and_gamma_hit_rate_and_cv() {
    for (arr, cv) in [
        (Arrivals::Poisson { rate: 4.0 }, 1.0),
        (Arrivals::Gamma { rate: 4.0, cv: 3.0 }, 3.0),
    ] {
        let w = spec(arr, LengthDist::Fixed(5), LengthDist::Fixed(5), 50_000)
            .generate()
            .unwrap();
        let gaps: Vec<f64> = w
            .requests
            .windows(2)
            .map(|p| p[1].arrival_s - p[0].arrival_s)
            .collect();
        let m = mean(gaps.iter().copied());
        let sd = (mean(gaps.iter().map(|g| (g - m) * (g - m)))).sqrt();
        assert!((m - 0.25).abs() < 0.01, "{arr:?} mean gap {m}");
        assert!((sd / m - cv).abs() < 0.1 * cv, "{arr:?} cv {}", sd / m);
    }
}

#[test]
fn length_distributions_have_expected_means_and_bounds() {
    let p = Arrivals::Poisson { rate: 1.0 };
    let w = spec(
        p,
        LengthDist::Uniform { min: 10, max: 20 },
        LengthDist::Normal {
            mean: 100.0,
            std: 10.0,
        },
        20_000,
    )
    .generate()
    .unwrap();
    assert!(w
        .requests
        .iter()
        .all(|r| (10..=20).contains(&r.prompt_tokens)));
    assert!((mean(w.requests.iter().map(|r| r.prompt_tokens as f64)) - 15.0).abs() < 0.2);
    assert!((mean(w.requests.iter().map(|r| r.output_tokens as f64)) - 100.0).abs() < 0.5);
    let w = spec(
        p,
        LengthDist::LogNormal {
            mean: 200.0,
            std: 150.0,
        },
        LengthDist::Zipf { s: 1.2, max: 50 },
        40_000,
    )
    .generate()
    .unwrap();
    assert!((mean(w.requests.iter().map(|r| r.prompt_tokens as f64)) / 200.0 - 1.0).abs() < 0.03);
    assert!(w
        .requests
        .iter()
        .all(|r| (1..=50).contains(&r.output_tokens)));
    let ones = w.requests.iter().filter(|r| r.output_tokens == 1).count() as f64 / 40_000.0;
    let h: f64 = (1..=50).map(|k| (k as f64).powf(-1.2)).sum();
    assert!((ones - 1.0 / h).abs() < 0.01, "P(1) = {ones}");
    // Normal with a mean near 1 must still never produce 0 (redrawn, not clamped).
    let w = spec(
        p,
        LengthDist::Normal {
            mean: 1.0,
            std: 5.0,
        },
        LengthDist::Fixed(1),
        5_000,
    )
    .generate()
    .unwrap();
    assert!(w.requests.iter().all(|r| r.prompt_tokens >= 1));
}

#[test]
fn resampling_draws_only_trace_pairs_and_is_seeded() {
    let chat = workload::embedded("chat").unwrap();
    let pairs = chat.lengths();
    let s = SyntheticSpec {
        requests: 2000,
        arrivals: Arrivals::Poisson { rate: 2.0 },
        lengths: Lengths::Resample(pairs.clone()),
        seed: 1,
    };
    let a = s.generate().unwrap();
    assert!(a
        .requests
        .iter()
        .all(|r| pairs.contains(&(r.prompt_tokens, r.output_tokens))));
    assert_eq!(a, s.generate().unwrap());
    let b = SyntheticSpec { seed: 2, ..s }.generate().unwrap();
    assert_ne!(a, b);
}

#[test]
fn invalid_specs_are_errors() {
    let p = Arrivals::Poisson { rate: 1.0 };
    assert!(spec(p, LengthDist::Fixed(0), LengthDist::Fixed(1), 5)
        .generate()
        .is_err());
    assert!(spec(
        p,
        LengthDist::Uniform { min: 5, max: 4 },
        LengthDist::Fixed(1),
        5
    )
    .generate()
    .is_err());
    assert!(spec(
        Arrivals::Poisson { rate: 0.0 },
        LengthDist::Fixed(1),
        LengthDist::Fixed(1),
        5
    )
    .generate()
    .is_err());
    assert!(spec(
        Arrivals::Gamma {
            rate: 1.0,
            cv: -1.0
        },
        LengthDist::Fixed(1),
        LengthDist::Fixed(1),
        5
    )
    .generate()
    .is_err());
    assert!(spec(p, LengthDist::Fixed(1), LengthDist::Fixed(1), 0)
        .generate()
        .is_err());
}

#[test]
fn rescale_and_take() {
    let chat = workload::embedded("chat").unwrap();
    let r = chat.clone().with_rate(1.0).unwrap();
    assert!((r.mean_rate().unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(r.requests[0].arrival_s, chat.requests[0].arrival_s);
    assert!(r.notes.iter().any(|n| n.contains("rescaled")));
    // a tiny factor is shown in significant digits, not as 0.000000
    let fast = chat.clone().with_rate(1e6).unwrap();
    let note = fast.notes.iter().find(|n| n.contains("rescaled")).unwrap();
    assert!(
        note.contains("e-") && !note.contains("× 0.000000"),
        "{note}"
    );
    let t = chat.clone().take(10).unwrap();
    assert_eq!(t.len(), 10);
    assert_eq!(t.requests[..], chat.requests[..10]);
    assert!(chat.clone().take(2000).is_err());
    assert!(chat.with_rate(-1.0).is_err());
}

#[test]
fn workload_new_rejects_zero_lengths() {
    let e = Workload::new(
        "w",
        vec![Request {
            id: 7,
            arrival_s: 0.0,
            prompt_tokens: 3,
            output_tokens: 0,
            prefix: None,
        }],
    )
    .unwrap_err();
    assert!(
        matches!(e, SimError::InvalidWorkload { ref field, .. } if field.contains("id=7")),
        "{e:?}"
    );
}
