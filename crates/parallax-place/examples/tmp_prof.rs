use parallax_place::*;
use std::time::Instant;
fn main() {
    let p = std::env::args().nth(1).unwrap();
    let g = load_graph(std::path::Path::new(&p)).unwrap();
    let inst = Instance::new(&g).unwrap();
    let con = contract::Contraction::new(&inst, false);
    let t = Instant::now();
    let gr = baselines::greedy_fill(&inst, &con);
    eprintln!("greedy {:?}", t.elapsed());
    let t = Instant::now();
    let _ = baselines::local_search(&inst, &con, gr.clone());
    eprintln!("local_search(1 start) {:?}", t.elapsed());
    let t = Instant::now();
    let _ = baselines::chain_dp_assignment(&inst, &con);
    eprintln!("chain_dp {:?}", t.elapsed());
    let t = Instant::now();
    let _ = baselines::pipedream(&inst, &con);
    eprintln!("pipedream {:?}", t.elapsed());
    let t = Instant::now();
    let _ = baselines::scotch_like(&inst);
    eprintln!("scotch {:?}", t.elapsed());
    let t = Instant::now();
    let _ = baselines::local_search_with_restarts(&inst, &con, 10);
    eprintln!("ls restarts {:?}", t.elapsed());
    let t = Instant::now();
    let r = solve_contiguous(&inst, &Limits::default());
    eprintln!("dp {:?} {:?}", t.elapsed(), r.map(|s| s.status));
}
#[allow(dead_code)]
fn unused() {}
