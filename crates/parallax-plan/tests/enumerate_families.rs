//! Plan families enumerated by default: FFN-replica layouts, every pipeline depth dividing
//! the GPUs, and TP groups spanning nodes (allowed, timed over the inter-node links).

use parallax_hw::{Cluster, RooflineModel};
use parallax_ir::{Batch, DecodeGroup, PrefillChunk};
use parallax_plan::{enumerate, lower_plan, Constraints, LowerOptions, Mapping, Plan};
use parallax_sim::StageCost;
use std::sync::Arc;

fn names(model: &str, cluster: &str) -> Vec<String> {
    let model = parallax_ir::resolve(model).unwrap();
    let cluster = Cluster::parse(cluster).unwrap();
    let e = enumerate(&model, &cluster, &Constraints::default()).unwrap();
    e.plans.iter().map(|p| p.to_string()).collect()
}

#[test]
fn llama70b_on_8_h100_has_at_least_apex_plus_26_families() {
    let n = names("llama-3.1-70b", "1x8xH100");
    assert!(n.len() >= 26, "{} plans: {n:?}", n.len());
    // FFN-replica layouts are on by default, alone and with attention replicas.
    assert!(n.iter().any(|p| p == "dp=1,pp=1,tp=8,mlp=2xtp4"), "{n:?}");
    assert!(
        n.iter().any(|p| p == "dp=1,pp=1,tp=8,attn=2xtp4,mlp=2xtp4"),
        "{n:?}"
    );
    // Distinct plans only (symmetry pruning keeps one of each).
    let mut d = n.clone();
    d.sort();
    d.dedup();
    assert_eq!(d.len(), n.len());
}

#[test]
fn six_gpus_get_a_three_stage_pipeline() {
    let n = names("llama-3.1-70b", "1x6xH100");
    assert!(n.iter().any(|p| p == "dp=1,pp=3,tp=2"), "{n:?}");
    assert!(n.iter().any(|p| p.starts_with("dp=1,pp=6,tp=1")), "{n:?}");
    // Depths that do not divide the GPUs are never plans using the whole cluster.
    for p in &n {
        let plan: Plan = p.parse().unwrap();
        assert_eq!(plan.devices(), 6, "{p}");
    }
    // Without use_all_gpus every depth fits: pp=5 on five of the six GPUs.
    let model = parallax_ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x6xH100").unwrap();
    let e = enumerate(
        &model,
        &cluster,
        &Constraints {
            use_all_gpus: false,
            ..Constraints::default()
        },
    )
    .unwrap();
    assert!(e.plans.iter().any(|p| p.pp == 5 && p.tp == 1 && p.dp == 1));
    assert!(e.plans.iter().any(|p| p.pp == 3 && p.dp == 2));
}

#[test]
fn tp_across_nodes_is_enumerated_and_crosses_the_inter_node_link() {
    let n = names("llama-3.1-70b", "2x8xH100");
    assert!(n.iter().any(|p| p == "dp=1,pp=1,tp=16"), "{n:?}");
    let model = parallax_ir::resolve("llama-3.1-70b").unwrap();
    let cluster = Cluster::parse("2x8xH100").unwrap();
    let wide: Plan = "tp=16".parse().unwrap();
    let m = Mapping::new(&wide, &cluster).unwrap();
    let g = m.tp_group(0, 0, 16);
    assert_eq!((g.size, g.per_node, g.nodes()), (16, 8, 2));
    // Costed as such: the same 16-way stage is slower across two nodes than inside one
    // 16-GPU node, because its all-reduces cross the inter-node link.
    let step = |cluster: &Cluster| {
        let cost = Arc::new(RooflineModel::new(&cluster.gpu));
        let l = lower_plan(&model, &wide, cluster, cost, &LowerOptions::default()).unwrap();
        let batch = Batch {
            prefill: vec![PrefillChunk {
                new_tokens: 2048,
                prefix: 0,
            }],
            decode: DecodeGroup::uniform(32, 1000),
        };
        l.stages[0][0].step(&batch).seconds
    };
    let across = step(&cluster);
    let inside = step(&Cluster::parse("1x16xH100").unwrap());
    assert!(across > inside, "{across} vs {inside}");
}
