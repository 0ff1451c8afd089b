//! The latency search equals brute force on small graphs, and solves shipped instances.
#![allow(clippy::needless_range_loop)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{close, random_graph, Rng};
use parallax_place::latency::{evaluate_plan, LatencyPlan};
use parallax_place::{load_graph, solve_latency, Instance, Limits, PlaceError};

/// Whether a node set is convex in the graph of all edges with classes contracted.
fn convex(inst: &Instance, set: &BTreeSet<usize>) -> bool {
    let in_set: BTreeSet<usize> = set.iter().map(|&u| inst.class[u]).collect();
    let n = inst.len();
    let mut seen = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    for u in 0..n {
        if in_set.contains(&inst.class[u]) {
            for &v in &inst.succ[u] {
                if !in_set.contains(&inst.class[v]) && !seen[v] {
                    seen[v] = true;
                    stack.push(v);
                }
            }
        }
    }
    while let Some(u) = stack.pop() {
        // all nodes of u's class are reached too
        for w in 0..n {
            if inst.class[w] == inst.class[u] && !seen[w] {
                seen[w] = true;
                stack.push(w);
            }
        }
        for &v in &inst.succ[u] {
            if in_set.contains(&inst.class[v]) {
                return false;
            }
            if !seen[v] {
                seen[v] = true;
                stack.push(v);
            }
        }
    }
    true
}

fn brute(inst: &Instance, q: usize) -> Option<f64> {
    let (k, l) = (inst.devices.accelerators, inst.devices.cpus);
    let choices: Vec<Option<(usize, usize)>> = (l > 0)
        .then_some(None)
        .into_iter()
        .chain((0..k).flat_map(|a| (0..q).map(move |p| Some((a, p)))))
        .collect();
    let nc = inst.classes;
    let mut cs = vec![0usize; nc];
    let mut best: Option<f64> = None;
    loop {
        let plan: LatencyPlan = (0..inst.len())
            .map(|u| choices[cs[inst.class[u]]])
            .collect();
        let mut blocks: std::collections::BTreeMap<(usize, usize), BTreeSet<usize>> =
            Default::default();
        for (u, p) in plan.iter().enumerate() {
            if let Some(p) = p {
                blocks.entry(*p).or_default().insert(u);
            }
        }
        if blocks.values().all(|b| convex(inst, b)) {
            if let Some(s) = evaluate_plan(inst, &plan, q) {
                if best.map_or(true, |b| s.latency < b) {
                    best = Some(s.latency);
                }
            }
        }
        let mut i = 0;
        loop {
            if i == nc {
                return best;
            }
            cs[i] += 1;
            if cs[i] < choices.len() {
                break;
            }
            cs[i] = 0;
            i += 1;
        }
    }
}

#[test]
fn latency_matches_brute_force_on_small_graphs() {
    let mut rng = Rng(11);
    let mut compared = 0;
    for case in 0..60 {
        let n = 2 + case % 5;
        let k = 1 + case % 2;
        let l = (case / 2) % 2;
        let q = 1 + (case / 3) % 2;
        let mut g = random_graph(&mut rng, n, k, l);
        for node in &mut g.nodes {
            node.backward = false;
        }
        let Ok(inst) = Instance::new(&g) else {
            continue;
        };
        let got = solve_latency(&inst, q, &Limits::default());
        match (brute(&inst, q), got) {
            (Some(b), Ok(s)) => {
                assert!(s.status.is_optimal());
                assert!(
                    close(b, s.schedule.latency, 1e-9),
                    "case {case} q {q}: brute {b} search {} on {}",
                    s.schedule.latency,
                    g.to_json()
                );
                compared += 1;
            }
            (None, Err(PlaceError::InfeasibleMemory { .. })) => {}
            (b, s) => panic!(
                "case {case}: brute {b:?} search {:?} on {}",
                s.map(|s| s.schedule.latency),
                g.to_json()
            ),
        }
    }
    assert!(compared >= 30, "only {compared} feasible cases");
}

#[test]
fn shipped_layer_graphs_are_solved() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/latency");
    for file in [
        "layer_bert24_inference.json",
        "layer_resnet50_inference.json",
    ] {
        let g = load_graph(&data.join(file)).expect("load");
        let inst = Instance::new(&g).expect("valid");
        let s = solve_latency(&inst, 1, &Limits::default()).expect("solved");
        assert!(s.status.is_optimal(), "{file}");
        let placed: usize = s
            .schedule
            .subgraphs
            .iter()
            .map(|b| b.nodes.len())
            .sum::<usize>()
            + s.schedule.cpu.len();
        assert_eq!(placed, g.nodes.len());
        assert!(s.schedule.subgraphs.len() <= g.devices.accelerators);
        // a single accelerator-only chain is never better than the optimum
        assert!(s.schedule.latency > 0.0);
    }
}
