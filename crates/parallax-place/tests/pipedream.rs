//! PipeDream's partitioning DP (issue 14): a hand-computed chain, brute force on tiny chains,
//! and the baseline on the paper's graphs scored by the crate's evaluator.

use std::path::{Path, PathBuf};

use parallax_place::baselines;
use parallax_place::contract::Contraction;
use parallax_place::eval::{evaluate, violations};
use parallax_place::pipedream::biconnected_units;
use parallax_place::pipedream::{partition, ChainLayer, ChainPartition, PipeDreamOptions};
use parallax_place::{load_graph, Devices, Edge, Graph, Instance, Node};
use proptest::prelude::*;

use crate::common;

fn layers(c: &[f64], a: &[f64], w: &[f64]) -> Vec<ChainLayer> {
    (0..c.len())
        .map(|i| ChainLayer {
            compute: c[i],
            output_comm: a[i],
            weight_sync: w[i],
        })
        .collect()
}

fn opts(workers: usize, replication: bool) -> PipeDreamOptions {
    PipeDreamOptions {
        workers,
        replication,
        comm_factor: 2.0,
    }
}

/// The objective of a partition, recomputed from its stages.
fn score(ls: &[ChainLayer], p: &ChainPartition, f: f64) -> f64 {
    let mut v: f64 = 0.0;
    for (s_i, s) in p.stages.iter().enumerate() {
        let c: f64 = ls[s.first..s.end].iter().map(|l| l.compute).sum();
        let w: f64 = ls[s.first..s.end].iter().map(|l| l.weight_sync).sum();
        let m = s.replicas as f64;
        v = v.max(c.max(4.0 * (m - 1.0) / m * w) / m);
        if s_i > 0 {
            v = v.max(f * ls[s.first - 1].output_comm);
        }
    }
    v
}

#[test]
fn hand_computed_chain() {
    // compute 4 2 2 4, outputs 1 5 1 0, two workers, factor 2.
    // No replication: cut after layer 1 -> max(4, 2·1, 8) = 8; after 2 -> max(6, 10, 6) = 10;
    // after 3 -> max(8, 2, 4) = 8; one stage -> 12. Best 8, first cut found after layer 1.
    let ls = layers(&[4.0, 2.0, 2.0, 4.0], &[1.0, 5.0, 1.0, 0.0], &[0.0; 4]);
    let p = partition(&ls, &opts(2, false)).unwrap();
    assert_eq!(p.time_per_sample, 8.0);
    assert_eq!(p.stages.len(), 2);
    assert_eq!((p.stages[0].first, p.stages[0].end), (0, 1));
    assert_eq!((p.stages[1].first, p.stages[1].end), (1, 4));
    // Replication without weights: one stage on 2 replicas, 12 / 2 = 6.
    let p = partition(&ls, &opts(2, true)).unwrap();
    assert_eq!(p.time_per_sample, 6.0);
    assert_eq!(p.stages.len(), 1);
    assert_eq!(p.stages[0].replicas, 2);
    // Heavy weights on the last layer: all-reduce 4·(1/2)·10 = 20, so 2 replicas cost
    // max(12, 20) / 2 = 10 and the pipeline split (8) wins.
    let ls = layers(
        &[4.0, 2.0, 2.0, 4.0],
        &[1.0, 5.0, 1.0, 0.0],
        &[0.0, 0.0, 0.0, 10.0],
    );
    let p = partition(&ls, &opts(2, true)).unwrap();
    assert_eq!(p.time_per_sample, 8.0);
    assert!(p.stages.iter().all(|s| s.replicas == 1));
    // Inference factor 1 makes the cut after layer 2 as good: max(6, 5, 6) = 6.
    let p = partition(
        &layers(&[4.0, 2.0, 2.0, 4.0], &[1.0, 5.0, 1.0, 0.0], &[0.0; 4]),
        &PipeDreamOptions {
            comm_factor: 1.0,
            ..opts(2, false)
        },
    )
    .unwrap();
    assert_eq!(p.time_per_sample, 6.0);
    assert_eq!(p.stages[0].end, 2);
}

#[test]
fn bad_inputs_give_none() {
    let ls = layers(&[1.0, f64::NAN], &[0.0, 0.0], &[0.0, 0.0]);
    assert!(partition(&ls, &opts(2, true)).is_none());
    let ls = layers(&[1.0, -1.0], &[0.0, 0.0], &[0.0, 0.0]);
    assert!(partition(&ls, &opts(2, true)).is_none());
    let ls = layers(&[1.0], &[0.0], &[0.0]);
    assert!(partition(&ls, &opts(0, true)).is_none());
    assert_eq!(partition(&[], &opts(0, true)).unwrap().time_per_sample, 0.0);
}

/// Every split of `ls[from..]` into stages with replicas summing to at most `m`.
fn brute(ls: &[ChainLayer], from: usize, m: usize, rep: bool, f: f64) -> f64 {
    let n = ls.len();
    let mut best = f64::INFINITY;
    for end in from + 1..=n {
        let c: f64 = ls[from..end].iter().map(|l| l.compute).sum();
        let w: f64 = ls[from..end].iter().map(|l| l.weight_sync).sum();
        let top = if rep { m } else { m.min(1) };
        for r in 1..=top {
            let rf = r as f64;
            let t = c.max(4.0 * (rf - 1.0) / rf * w) / rf;
            let v = if end == n {
                t
            } else if m > r {
                t.max(f * ls[end - 1].output_comm)
                    .max(brute(ls, end, m - r, rep, f))
            } else {
                f64::INFINITY
            };
            best = best.min(v);
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn matches_brute_force(
        raw in proptest::collection::vec((0u32..20, 0u32..10, 0u32..8), 1..7),
        workers in 1usize..5,
        rep in any::<bool>(),
        training in any::<bool>(),
    ) {
        let ls: Vec<ChainLayer> = raw
            .iter()
            .map(|&(c, a, w)| ChainLayer {
                compute: c as f64,
                output_comm: a as f64 / 2.0,
                weight_sync: w as f64 / 4.0,
            })
            .collect();
        let f = if training { 2.0 } else { 1.0 };
        let o = PipeDreamOptions { workers, replication: rep, comm_factor: f };
        let p = partition(&ls, &o).unwrap();
        let want = brute(&ls, 0, workers, rep, f);
        prop_assert!((p.time_per_sample - want).abs() <= 1e-9 * want.max(1.0),
            "dp {} brute {}", p.time_per_sample, want);
        // the stages cover the chain in order and reproduce the value
        prop_assert_eq!(p.stages.first().unwrap().first, 0);
        prop_assert_eq!(p.stages.last().unwrap().end, ls.len());
        for s in p.stages.windows(2) {
            prop_assert_eq!(s[0].end, s[1].first);
        }
        let used: usize = p.stages.iter().map(|s| s.replicas).sum();
        prop_assert!(used <= workers);
        prop_assert!(rep || p.stages.iter().all(|s| s.replicas == 1));
        prop_assert!((score(&ls, &p, f) - p.time_per_sample).abs() <= 1e-9 * want.max(1.0));
        // more workers never hurt (the at-most-M variant)
        let more = partition(&ls, &PipeDreamOptions { workers: workers + 1, ..o }).unwrap();
        prop_assert!(more.time_per_sample <= p.time_per_sample + 1e-12);
    }
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// PipeDream's split of each paper graph, scored by the crate's evaluator: a valid
/// contiguous placement, never better than the proven optimum, and in the run_all list.
#[test]
fn paper_graphs_scored_by_evaluator() {
    let text = std::fs::read_to_string(data().join("expected.json")).expect("expected.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    for (file, want) in v["optima"].as_object().unwrap() {
        let want = want.as_f64().unwrap();
        let inst = Instance::new(&load_graph(&data().join(file)).unwrap()).unwrap();
        let inst = inst.usable().into_owned();
        let con = Contraction::new(&inst, false);
        let slot = baselines::pipedream(&inst, &con).expect(file);
        let p = evaluate(&inst, &slot);
        assert!(p.contiguous, "{file}");
        assert!(violations(&inst, &slot).is_empty(), "{file}");
        assert!(
            p.max_load >= want * (1.0 - 1e-9),
            "{file}: {} < {want}",
            p.max_load
        );
        eprintln!("{file}: pipedream {:.4} optimum {want:.4}", p.max_load);
        let all = baselines::run_all(&inst);
        let b = all.iter().find(|b| b.name == "pipedream").expect("listed");
        assert_eq!(b.placement.as_ref().unwrap().max_load, p.max_load, "{file}");
    }
}

fn node(id: i64, t: f64) -> Node {
    Node {
        id,
        name: None,
        acc_time: t,
        cpu_time: 10.0 * t,
        memory: 0.0,
        acc_supported: true,
        backward: false,
        class: None,
        output_cost: 1.0,
    }
}

#[test]
fn biconnected_components_fuse_branches() {
    // diamond 0 -> {1, 2} -> 3, then 3 -> 4: the diamond's edges form one biconnected
    // component whose tails 0, 1, 2 become one unit; 3 and 4 stay alone.
    let g = Graph {
        devices: Devices {
            accelerators: 3,
            accelerator_memory: 1e9,
            cpus: 0,
        },
        nodes: (0..5).map(|i| node(i, 1.0 + i as f64)).collect(),
        edges: [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)]
            .iter()
            .map(|&(from, to)| Edge { from, to })
            .collect(),
    };
    let inst = Instance::new(&g).unwrap();
    let con = Contraction::new(&inst, false);
    assert_eq!(con.len(), 5);
    let (unit, units) = biconnected_units(&con).unwrap();
    assert_eq!(units, 3);
    let grp = |id: usize| unit[con.group_of[id]];
    assert_eq!(grp(0), grp(1));
    assert_eq!(grp(1), grp(2));
    assert_ne!(grp(2), grp(3));
    assert_ne!(grp(3), grp(4));
    // chain: {0,1,2} (time 6), {3} (4), {4} (5); boundaries cost 1 (inference factor 1)
    let slot = baselines::pipedream(&inst, &con).unwrap();
    assert_eq!(slot[0], slot[1]);
    assert_eq!(slot[0], slot[2]);
    assert_eq!(evaluate(&inst, &slot).max_load, 6.0 + 2.0); // 0,1,2 + transfers of 1 and 2
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// On random DAGs the split places every node; contiguously when all run on accelerators.
    #[test]
    fn random_graphs_give_contiguous_splits(seed in any::<u64>(), n in 1usize..9, k in 1usize..4, l in 0usize..2) {
        let mut rng = common::Rng(seed);
        let g = common::random_graph(&mut rng, n, k, l);
        // the generator may make a node that no device can take; those are rejected
        let Ok(inst) = Instance::new(&g) else { return Ok(()) };
        let con = Contraction::new(&inst, false);
        if let Some(slot) = baselines::pipedream(&inst, &con) {
            prop_assert_eq!(slot.len(), inst.len());
            prop_assert!(slot.iter().all(|&d| d < k + l));
            // unsupported groups go to CPU 0 wherever they sit in the chain, so contiguity
            // holds only without them
            if inst.supported.iter().all(|&s| s) {
                prop_assert!(evaluate(&inst, &slot).contiguous);
            }
        } else {
            prop_assert!(l == 0 && inst.supported.iter().any(|&s| !s));
        }
    }
}

/// The PipeDream figure published for BERT-24 training (187.91, as quoted in issue 14),
/// reproduced by the biconnected-component fusion: one fused unit alone takes 187.906.
#[test]
fn bert24_training_matches_published_pipedream() {
    let g = load_graph(&data().join("throughput/layer_bert24_training.json")).unwrap();
    let inst = Instance::new(&g).unwrap();
    let con = Contraction::new(&inst, false);
    let slot = baselines::pipedream(&inst, &con).unwrap();
    let got = evaluate(&inst, &slot).max_load;
    assert!((got - 187.91).abs() < 0.005, "{got}");
}
