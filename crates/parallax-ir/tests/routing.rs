//! MoE routing skew and EPLB: the busiest EP rank's fused MoE op.

use parallax_ir::lower::fused_moe_op;
use parallax_ir::routing::{fused_moe_op_with_load, ExpertLoad};
use parallax_ir::{Moe, Precision};

fn qwen() -> Moe {
    Moe {
        hidden: 2048,
        experts: 128,
        top_k: 8,
        expert_intermediate: 768,
        shared_experts: 0,
        shared_intermediate: 0,
        gated: true,
        bias: false,
    }
}

#[test]
fn zero_skew_equals_balanced_exactly() {
    let p = Precision::default();
    let m = qwen();
    for load in [
        ExpertLoad::balanced(128),
        ExpertLoad::zipf(128, 0.0, 7).unwrap(),
    ] {
        for ep in [1, 2, 4, 8] {
            for t in [0, 1, 3, 32, 1000, 65536] {
                let a = fused_moe_op_with_load(&m, t, 1, ep, &p, &load, 0).unwrap();
                assert_eq!(a, fused_moe_op(&m, t, 1, ep, &p), "ep={ep}, t={t}");
            }
        }
    }
}

#[test]
fn skew_loads_the_busiest_rank_and_eplb_relieves_it() {
    let p = Precision::default();
    let m = qwen();
    let t = 8192;
    let even = fused_moe_op(&m, t, 1, 8, &p);
    let z = ExpertLoad::zipf(128, 1.0, 1).unwrap();
    let skew = fused_moe_op_with_load(&m, t, 1, 8, &p, &z, 0).unwrap();
    assert!(skew.assignments > even.assignments, "{skew:?} vs {even:?}");
    // The rank's share equals the sum of its experts' shares.
    let ranks = z.placement(8, 0).unwrap();
    let max = ranks
        .iter()
        .map(|r| r.iter().sum::<f64>())
        .fold(0.0, f64::max);
    assert_eq!(skew.assignments, (t as f64 * 8.0 * max).ceil() as u64);
    // EPLB with 16 redundant slots (18 replicas per rank): the busiest rank gets fewer pairs,
    // but holds more experts' weights.
    let eplb = fused_moe_op_with_load(&m, t, 1, 8, &p, &z, 16).unwrap();
    assert!(eplb.assignments < skew.assignments, "{eplb:?} vs {skew:?}");
    assert_eq!(eplb.local_experts, 18);
    // Every placement keeps all the load.
    for red in [0, 8, 16, 64] {
        let total: f64 = z.placement(8, red).unwrap().iter().flatten().sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
    // Bad inputs are errors, not panics.
    assert!(z.placement(8, 3).is_err());
    assert!(fused_moe_op_with_load(&m, t, 1, 8, &p, &ExpertLoad::balanced(64), 0).is_err());
    assert!(ExpertLoad::zipf(128, -1.0, 0).is_err());
    assert!(ExpertLoad::from_counts(&[0.0, 0.0], "v").is_err());
    let e = ExpertLoad::parse("1\n2\nthree\n", "load.txt")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("load.txt") && e.contains("line 3") && e.contains("three"),
        "{e}"
    );
}

#[test]
fn a_measured_vector_places_contiguously() {
    // 4 experts on 2 ranks: rank 0 holds experts 0-1 (70% of pairs).
    let l = ExpertLoad::from_counts(&[6.0, 1.0, 2.0, 1.0], "v").unwrap();
    let r = l.busiest_rank(2, 0).unwrap();
    assert_eq!(r, vec![0.6, 0.1]);
    // One redundant... needs (4 + 2) % 2 == 0: two replicas of expert 0 go to different ranks.
    let ranks = l.placement(2, 2).unwrap();
    let loads: Vec<f64> = ranks.iter().map(|r| r.iter().sum()).collect();
    assert!(loads.iter().all(|&x| x <= 0.6), "{loads:?}");
}

/// Measured counts too large to sum in f64 still normalise (their sum overflowed to ∞ and
/// every share came out 0).
#[test]
fn huge_measured_counts_normalise() {
    let mut counts = vec![1e308; 128];
    counts[0] = 0.0;
    let l = ExpertLoad::from_counts(&counts, "load.txt").unwrap();
    let s = l.shares();
    assert_eq!(s[0], 0.0);
    assert!((s[1] - 1.0 / 127.0).abs() < 1e-15, "{}", s[1]);
    assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn top_k_routing_caps_each_expert_at_one_kth_of_the_pairs() {
    // Zipf 2.0 over 8 experts puts 65 % on the most popular one; top-2 routing cannot
    // give any expert more than half of the pairs
    let z = ExpertLoad::zipf(8, 2.0, 3).unwrap();
    assert!(z.max_share().1 > 0.6);
    let c = z.capped_at_top_k(2);
    let sum: f64 = c.shares().iter().sum();
    assert!((sum - 1.0).abs() < 1e-12, "{sum}");
    assert!(c.max_share().1 <= 0.5 + 1e-12);
    assert_eq!(c.max_share().0, z.max_share().0);
    // the others keep their order
    let mut order: Vec<usize> = (0..8).collect();
    order.sort_by(|&a, &b| z.shares()[b].total_cmp(&z.shares()[a]));
    for w in order.windows(2) {
        assert!(c.shares()[w[0]] >= c.shares()[w[1]] - 1e-12);
    }
    // k = E: every expert takes every token
    assert_eq!(z.capped_at_top_k(8), ExpertLoad::balanced(8));
}
