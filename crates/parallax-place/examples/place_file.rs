//! Solves one placement file and prints the optimum, for timing and peak-memory checks:
//! `cargo run --release --example place_file -- GRAPH.json [latency]`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use parallax_place::{load_graph, solve_contiguous, Instance, Limits};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: place_file GRAPH.json");
        return ExitCode::from(2);
    };
    let run = || -> Result<String, parallax_place::PlaceError> {
        let g = load_graph(Path::new(path))?;
        let inst = Instance::new(&g)?;
        let t = Instant::now();
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
