//! Uneven pipeline splits by parallax-place's exact contiguous DP: equal to brute force over
//! every split, better than the even split when the LM head makes the last stage heavy, and
//! offered to the search beside the even split.

use parallax::hw::Cluster;
use parallax::plan::{enumerate, layer_chain, lower_plan, ChainBlock, Constraints, LayerChain};
use parallax::plan::{LowerOptions, MemoryOptions};
use parallax::search::split::{
    batch_mix, brute_force_split, dp_split, place_split, runlength_split, uneven_plans,
};
use parallax::sim::StageCost;
use parallax::Plan;
use proptest::prelude::*;

fn arb_chain() -> impl Strategy<Value = (LayerChain, u32)> {
    (
        prop::collection::vec((1u32..=2, 1u32..=100, 1u32..=50, 1usize..=3), 1..6),
        1u32..=4,
        60u32..=400,
    )
        .prop_map(|(blocks, k, cap)| {
            let chain = LayerChain {
                // Runs of up to 3 identical blocks, as in a model.
                blocks: blocks
                    .into_iter()
                    .flat_map(|(layers, t, b, n)| {
                        std::iter::repeat(ChainBlock {
                            layers,
                            seconds: t as f64 * 0.01,
                            bytes: b as f64,
                        })
                        .take(n)
                    })
                    .collect(),
                capacity_bytes: cap as f64,
            };
            (chain, k)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn dp_equals_brute_force((chain, k) in arb_chain()) {
        let brute = brute_force_split(&chain, k);
        for dp in [place_split(&chain, k), runlength_split(&chain, k)] {
        match (&brute, &dp) {
            (None, None) => {}
            (Some((_, best)), Some(sizes)) => {
                prop_assert_eq!(sizes.len(), k as usize);
                prop_assert!(sizes.iter().all(|&s| s >= 1));
                let (load, fits) = chain.evaluate(sizes);
                prop_assert!(fits);
                prop_assert!((load - best).abs() <= 1e-9 * best.max(1.0), "{} vs {}", load, best);
            }
            _ => prop_assert!(false, "brute {:?} vs dp {:?}", brute, dp),
        }
        }
    }
}

fn setup(
    model: &str,
) -> (
    parallax::Model,
    Cluster,
    LowerOptions,
    Vec<(parallax::ir::Batch, f64)>,
) {
    let model = parallax::ir::resolve(model).unwrap();
    let cluster = Cluster::parse("1x8xH100").unwrap();
    let workload = parallax::load_workload("chat", None, None).unwrap();
    let opts = LowerOptions {
        memory: MemoryOptions::default(),
        required_kv_tokens: parallax::largest_request_tokens(&workload),
        ..LowerOptions::default()
    };
    let mix = batch_mix(&workload, 8192, 64);
    (model, cluster, opts, mix)
}

#[test]
fn real_chain_dp_equals_brute_force_and_beats_the_even_split() {
    // Llama-3.1-8B: the LM head (128k × 4096) weighs about 2.4 layers, so the last of four
    // stages of 8 layers each is the slowest.
    let (model, cluster, opts, mix) = setup("llama-3.1-8b");
    let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Roofline).unwrap();
    let even: Plan = "dp=2,pp=4,tp=1".parse().unwrap();
    let chain = layer_chain(&model, &even, &cluster, cost.clone(), &opts, &mix).unwrap();
    assert_eq!(chain.blocks.len(), 32);
    let last = chain.blocks[31].seconds;
    let mid = chain.blocks[15].seconds;
    assert!(
        last > 1.5 * mid,
        "LM head folded into the last block: {last} vs {mid}"
    );
    let sizes = dp_split(&chain, 4).unwrap();
    let (best, fits) = chain.evaluate(&sizes);
    assert!(fits);
    let (brute_sizes, brute) = brute_force_split(&chain, 4).unwrap();
    assert!(
        (best - brute).abs() <= 1e-9 * brute,
        "{sizes:?} {best} vs {brute_sizes:?} {brute}"
    );
    let (even_load, _) = chain.evaluate(&[8, 8, 8, 8]);
    assert!(best < even_load, "{best} vs {even_load}");
    let layers = chain.layers_of(&sizes);
    assert!(layers[3] < 8, "{layers:?}");
    assert_eq!(chain.blocks_of(&layers), Some(sizes.clone()));
    assert_eq!(chain.blocks_of(&[8, 8, 8, 7]), None);

    // Lowered for real (the simulator's stage costs): the DP plan's slowest stage on the mix
    // is faster than the even plan's.
    let slowest = |p: &Plan| {
        let l = lower_plan(&model, p, &cluster, cost.clone(), &opts).unwrap();
        l.stages[0]
            .iter()
            .map(|s| mix.iter().map(|(b, w)| w * s.step(b).seconds).sum::<f64>())
            .fold(0.0, f64::max)
    };
    let uneven = even.clone().with_layers(layers);
    let (a, b) = (slowest(&uneven), slowest(&even));
    assert!(a < b, "uneven {a} vs even {b}");
}

#[test]
fn the_search_gets_dp_splits_of_pipelined_plans() {
    let (model, cluster, opts, mix) = setup("llama-3.1-8b");
    let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Roofline).unwrap();
    let e = enumerate(
        &model,
        &cluster,
        &Constraints {
            required_kv_tokens: opts.required_kv_tokens,
            ..Constraints::default()
        },
    )
    .unwrap();
    let uneven = uneven_plans(&model, &cluster, &cost, &opts, &mix, &e.plans);
    assert!(!uneven.is_empty());
    for p in &uneven {
        assert!(p.pp > 1);
        let layers = p.layers.as_ref().unwrap();
        assert_eq!(layers.iter().sum::<u32>(), 32);
        let mut even = p.clone();
        even.layers = None;
        assert!(e.plans.contains(&even), "{p}");
        lower_plan(&model, p, &cluster, cost.clone(), &opts).unwrap();
    }
    // Deterministic.
    assert_eq!(
        uneven,
        uneven_plans(&model, &cluster, &cost, &opts, &mix, &e.plans)
    );
}

#[test]
fn chain_cost_is_independent_of_depth() {
    // Same blocks, 8x the depth: block times equal, one probe pair per run either way.
    let (mut model, cluster, opts, mix) = setup("llama-3.1-8b");
    let cost = parallax::cost_model(&cluster, parallax::CostModelChoice::Roofline).unwrap();
    let plan: Plan = "dp=1,pp=2,tp=4".parse().unwrap();
    let a = layer_chain(&model, &plan, &cluster, cost.clone(), &opts, &mix).unwrap();
    model.runs[0].repeat *= 8;
    let b = layer_chain(&model, &plan, &cluster, cost, &opts, &mix).unwrap();
    assert_eq!(b.blocks.len(), 8 * a.blocks.len());
    let rel = (a.blocks[10].seconds - b.blocks[100].seconds).abs() / a.blocks[10].seconds;
    assert!(rel < 1e-6, "{rel}");
}

#[test]
fn long_chains_split_by_runs_match_the_place_dp() {
    // 300 identical blocks with a heavy head: the run-length split (used past
    // PLACE_CHAIN_BLOCKS) and parallax-place's DP agree on the bottleneck.
    let mut blocks = vec![
        ChainBlock {
            layers: 1,
            seconds: 1.0,
            bytes: 1.0,
        };
        300
    ];
    blocks[0].seconds = 1.5;
    blocks[299].seconds = 9.0;
    let chain = LayerChain {
        blocks,
        capacity_bytes: 200.0,
    };
    for k in [2u32, 3, 7, 16] {
        let a = place_split(&chain, k).unwrap();
        let b = runlength_split(&chain, k).unwrap();
        let (la, fa) = chain.evaluate(&a);
        let (lb, fb) = chain.evaluate(&b);
        assert!(fa && fb);
        assert!((la - lb).abs() <= 1e-9 * la, "{k}: {la} vs {lb}");
        assert_eq!(dp_split(&chain, k), Some(b));
    }
}
