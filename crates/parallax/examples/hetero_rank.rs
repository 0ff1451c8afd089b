//! Rank plans on a mixed cluster (development aid): `hetero_rank MODEL CLUSTER WORKLOAD N [RATE]`.
fn main() -> parallax::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let model = parallax::ir::resolve(&a[1])?;
    let cluster = parallax::hw::Cluster::parse(&a[2])?;
    let rate = a.get(5).map(|r| r.parse::<f64>().unwrap());
    let w = parallax::load_workload(&a[3], rate, Some(a[4].parse().unwrap()))?;
    let r = parallax::Search::new(model, cluster, w).run()?;
    for p in r.ranked.iter().take(12) {
        println!(
            "{:>3} {:<55} obj {:.3} meets {} tput {:.2}",
            p.rank,
            p.plan.to_string(),
            p.objective,
            p.meets_constraints,
            p.metrics.throughput.requests_per_s
        );
    }
    Ok(())
}
