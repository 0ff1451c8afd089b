//! α-β collective costs of the roofline model: monotone in bytes, ring vs tree, intra vs
//! inter node.

use parallax_hw::{catalog, Cluster, CostModel, DeviceGroup, RooflineModel};
use parallax_ir::CollectiveKind;

fn model() -> RooflineModel {
    RooflineModel::new(&catalog::gpu("H100").unwrap())
}

fn sizes() -> Vec<f64> {
    (0..34).map(|i| 2f64.powi(i)).collect()
}

#[test]
fn monotone_in_bytes_for_every_kind_and_group() {
    let m = model();
    let c = Cluster::parse("4x8xH100").unwrap();
    for size in [2, 4, 8, 16, 32] {
        let g = c.group(size);
        for kind in CollectiveKind::ALL {
            let mut last = 0.0;
            for b in sizes() {
                let t = m.collective(kind, b, &g);
                assert!(t.is_finite() && t > 0.0);
                assert!(t >= last, "{kind:?} size {size} bytes {b}");
                last = t;
            }
        }
    }
}

#[test]
fn trivial_cases_cost_nothing() {
    let m = model();
    let c = Cluster::parse("1x8xH100").unwrap();
    for kind in CollectiveKind::ALL {
        assert_eq!(m.collective(kind, 1e6, &c.group(1)), 0.0);
        assert_eq!(m.collective(kind, 0.0, &c.group(8)), 0.0);
    }
}

#[test]
fn crossing_nodes_costs_more() {
    let m = model();
    let c = Cluster::parse("2x8xH100").unwrap();
    // The same 8 ranks, packed in one node vs spread 4 + 4 over two nodes.
    let packed = c.group(8);
    let spread = DeviceGroup {
        per_node: 4,
        ..packed
    };
    assert!(!spread.is_intra_node());
    for kind in CollectiveKind::ALL {
        for b in [1e3, 1e6, 64e6] {
            assert!(
                m.collective(kind, b, &spread) > m.collective(kind, b, &packed),
                "{kind:?} {b}"
            );
        }
    }
    // 16 ranks over two nodes vs 8 in one: the inter-node link is the bottleneck.
    let ar8 = m.collective(CollectiveKind::AllReduce, 64e6, &c.group(8));
    let ar16 = m.collective(CollectiveKind::AllReduce, 64e6, &c.group(16));
    assert!(ar16 > 2.0 * ar8);
    // Point-to-point across nodes uses the inter-node link.
    let p2p_intra = m.collective(CollectiveKind::SendRecv, 64e6, &c.group(2));
    let cross = DeviceGroup {
        per_node: 1,
        ..c.group(2)
    };
    let p2p_inter = m.collective(CollectiveKind::SendRecv, 64e6, &cross);
    assert!(p2p_inter > 5.0 * p2p_intra);
}

#[test]
fn alpha_beta_limits() {
    let m = model();
    let c = Cluster::parse("1x8xH100").unwrap();
    let g = c.group(8);
    let bw = c.intra_node.bandwidth * m.params().link_efficiency;
    let alpha = c.intra_node.latency;
    // Large all-reduce: ring bandwidth term 2(n-1)/n · B / bw.
    let b = 1e9;
    let t = m.collective(CollectiveKind::AllReduce, b, &g);
    let ring = 2.0 * 7.0 * alpha + 2.0 * 7.0 / 8.0 * b / bw;
    assert!((t - ring).abs() / ring < 1e-9, "{t} vs {ring}");
    // Small all-reduce: tree latency 2·log2(8)·α beats the ring's 14·α.
    let t = m.collective(CollectiveKind::AllReduce, 1024.0, &g);
    assert!(t < 2.0 * 7.0 * alpha);
    assert!(t >= 6.0 * alpha);
    // All-gather is half an all-reduce for large buffers.
    let ag = m.collective(CollectiveKind::AllGather, b, &g);
    let rs = m.collective(CollectiveKind::ReduceScatter, b, &g);
    assert_eq!(ag, rs);
    let ar = m.collective(CollectiveKind::AllReduce, b, &g);
    assert!((ar / ag - 2.0).abs() < 0.01);
    // A TP=8 all-reduce of one decode step's activations (64 tokens x 8192 x bf16) is
    // microseconds, not milliseconds.
    let t = m.collective(CollectiveKind::AllReduce, 64.0 * 8192.0 * 2.0, &g);
    assert!(t > 5e-6 && t < 50e-6, "{t}");
}

#[test]
fn slower_fabrics_are_slower() {
    let m = model();
    let nv = Cluster::parse("1x8xH100").unwrap().group(8);
    let pcie = Cluster::parse("1x8xH100-PCIe").unwrap().group(8);
    for kind in CollectiveKind::ALL {
        assert!(m.collective(kind, 64e6, &pcie) > 3.0 * m.collective(kind, 64e6, &nv));
    }
}
