//! Solves one placement file and prints the optimum, for timing and peak-memory checks:
//! `cargo run --release --example place_file -- GRAPH.json [latency [Q [MAX_LABELS]] | milp]`
//! (`MAX_LABELS`: the latency search's label budget, with no time limit — a deterministic
//! amount of work for CPU-time comparisons on a loaded machine)
//! (`milp`: the non-contiguous model with the default backend, the branch and bound).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use parallax_place::{
    load_graph, solve_contiguous, solve_latency, solve_milp, Instance, Limits, MilpOptions,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: place_file GRAPH.json [latency [Q [MAX_LABELS]] | milp]");
        return ExitCode::from(2);
    };
    let latency = args.get(2).is_some_and(|a| a == "latency");
    let milp = args.get(2).is_some_and(|a| a == "milp");
    let q: usize = match args.get(3).map(|a| a.parse()) {
        None => 1,
        Some(Ok(q)) => q,
        Some(Err(_)) => {
            eprintln!("Q must be an integer >= 1");
            return ExitCode::from(2);
        }
    };
    let labels: Option<u64> = match args.get(4).map(|a| a.parse()) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(_)) => {
            eprintln!("MAX_LABELS must be an integer >= 0");
            return ExitCode::from(2);
        }
    };
    let run = || -> Result<String, parallax_place::PlaceError> {
        let g = load_graph(Path::new(path))?;
        let inst = Instance::new(&g)?;
        let t = Instant::now();
        if milp {
            let opts = MilpOptions::default();
            let sol = solve_milp(&inst, &opts)?;
            return Ok(format!(
                "{path}: non-contiguous max_load {:.12} status {:?} backend {} nodes {} seed {:?} from_seed {} in {:.3} s",
                sol.placement.max_load,
                sol.status,
                sol.backend.name(),
                sol.nodes,
                sol.seed,
                sol.from_seed,
                t.elapsed().as_secs_f64()
            ));
        }
        if latency {
            let limits = match labels {
                Some(m) => Limits {
                    time_limit: None,
                    max_labels: Some(m),
                    ..Limits::default()
                },
                None => Limits::default(),
            };
            let sol = solve_latency(&inst, q, &limits)?;
            return Ok(format!(
                "{path}: latency {:.12} q {q} status {:?} ideals {} labels {} in {:.3} s",
                sol.schedule.latency,
                sol.status,
                sol.ideals,
                sol.labels,
                t.elapsed().as_secs_f64()
            ));
        }
        let sol = solve_contiguous(&inst, &Limits::default())?;
        Ok(format!(
            "{path}: max_load {:.12} optimal {} groups {} ideals {} pairs {} ub {:.6} in {:.3} s",
            sol.placement.max_load,
            sol.status.is_optimal(),
            sol.stats.groups,
            sol.stats.ideals,
            sol.stats.pairs,
            sol.stats.upper_bound,
            t.elapsed().as_secs_f64()
        ))
    };
    match run() {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
