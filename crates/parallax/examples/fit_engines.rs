//! Fit each engine's host terms on the development load points and print the errors.
//!
//! ```sh
//! cargo run --release -p parallax --example fit_engines            # errors with the presets
//! cargo run --release -p parallax --example fit_engines -- --grid  # grid search per engine
//! cargo run --release -p parallax --example fit_engines -- --stagger-rows  # per row, by stagger
//! cargo run --release -p parallax --example fit_engines -- --prompt-pool 100  # aiperf's pool
//! ```
//!
//! Data: `crates/parallax/data/serving/aiconfigurator/silicon_train.csv` (the development
//! split of aiconfigurator's silicon measurements; nothing held back is read). The grid search
//! minimises, per engine, the mean of the median |error| of mean TTFT and of mean TPOT over
//! that engine's bf16 and fp8 rows on H100/H200.

use parallax::loadpoints::{parse_load_points, validate_load_points, LoadPointOptions};
use parallax::sim::HostOverhead;
use parallax::EngineKind;

const DATA: &str = include_str!("../data/serving/aiconfigurator/silicon_train.csv");

fn main() {
    let grid = std::env::args().any(|a| a == "--grid" || a == "--grid-all");
    let points = parse_load_points("silicon_train.csv", DATA).expect("development data parses");
    // `--bare`: every row on the bare simulator (no engine model), the state before engines.
    // `--prompt-pool N`: the benchmark's prompts from a pool of N (see `LoadPointOptions`).
    let args: Vec<String> = std::env::args().collect();
    let prompt_pool = args.iter().position(|a| a == "--prompt-pool").map(|i| {
        match args.get(i + 1).and_then(|v| v.parse::<u32>().ok()) {
            Some(n) if n > 0 => n,
            _ => {
                eprintln!("fit_engines: --prompt-pool expects a number of prompts ≥ 1");
                std::process::exit(2);
            }
        }
    });
    let opts = LoadPointOptions {
        engine: std::env::args()
            .any(|a| a == "--bare")
            .then(parallax::EngineModel::none),
        prompt_pool,
        ..Default::default()
    };
    let base = validate_load_points("silicon_train.csv", &points, &opts);
    println!("presets:");
    for s in &base.by_engine {
        println!(
            "  {:8} {:10} ttft {:>7.1}% (n={:3})  tpot {:>7.1}%",
            s.engine,
            s.system,
            s.ttft.as_ref().map_or(f64::NAN, |e| e.median),
            s.ttft.as_ref().map_or(0, |e| e.count),
            s.tpot.as_ref().map_or(f64::NAN, |e| e.median),
        );
    }
    println!(
        "  all: ttft {:.1}%, tpot {:.1}% ({} rows predicted)",
        base.ttft.as_ref().map_or(f64::NAN, |e| e.median),
        base.tpot.as_ref().map_or(f64::NAN, |e| e.median),
        base.ttft.as_ref().map_or(0, |e| e.count)
    );
    let signed = |engine: &str, ttft: bool| {
        let mut v: Vec<f64> = base
            .rows
            .iter()
            .filter(|r| r.skipped.is_none() && r.point.engine.name() == engine)
            .map(|r| {
                if ttft {
                    r.ttft_error_pct
                } else {
                    r.tpot_error_pct
                }
            })
            .filter(|x| x.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    for e in ["vllm", "sglang", "trtllm"] {
        println!(
            "  {e}: median signed ttft {:+.1}%, tpot {:+.1}%",
            signed(e, true),
            signed(e, false)
        );
    }
    for r in base.rows.iter().filter(|r| r.skipped.is_some()).take(5) {
        println!(
            "  skipped line {}: {}",
            r.point.line,
            r.skipped.as_deref().unwrap_or("")
        );
    }
    if let Some(i) = args.iter().position(|a| a == "--rows") {
        let (e, sys) = (&args[i + 1], &args[i + 2]);
        for r in base
            .rows
            .iter()
            .filter(|r| r.point.engine.name() == e && &r.point.system == sys)
        {
            let p = &r.point;
            println!(
                "  {:5} tp{} isl {:5} osl {:4} c {:4?} bs {:4?} q {:9} ttft {:9.1} vs {:9.1} ({:+6.1}%)  tpot {:6.2} vs {:6.2} ({:+6.1}%) {}",
                p.line, p.tp, p.isl, p.osl, p.concurrency, p.batch_size, p.quantization,
                r.predicted_ttft_ms, p.ttft_ms, r.ttft_error_pct, r.predicted_tpot_ms, p.tpot_ms, r.tpot_error_pct,
                r.skipped.as_deref().unwrap_or("")
            );
        }
    }
    if args.iter().any(|a| a == "--stagger-rows") {
        let sts = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0];
        let reps: Vec<_> = sts
            .iter()
            .map(|&st| {
                validate_load_points(
                    "dev",
                    &points,
                    &LoadPointOptions {
                        stagger: st,
                        ..Default::default()
                    },
                )
            })
            .collect();
        for (i, r) in reps[0].rows.iter().enumerate() {
            let p = &r.point;
            print!(
                "ROW {} {} {} tp{} isl {} osl {} c {:?} q {} meas {:.2} {:.3} pred",
                p.line,
                p.engine.name(),
                p.system,
                p.tp,
                p.isl,
                p.osl,
                p.concurrency,
                if p.quantization.is_empty() {
                    "bf16"
                } else {
                    &p.quantization
                },
                p.ttft_ms,
                p.tpot_ms
            );
            for rep in &reps {
                print!(
                    " {:.2}/{:.3}",
                    rep.rows[i].predicted_ttft_ms, rep.rows[i].predicted_tpot_ms
                );
            }
            println!();
        }
    }
    if args.iter().any(|a| a == "--stagger") {
        for st in [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0] {
            let rep = validate_load_points(
                "dev",
                &points,
                &LoadPointOptions {
                    stagger: st,
                    ..Default::default()
                },
            );
            print!("stagger {st}:");
            for s in &rep.by_engine {
                print!(
                    " {}/{} {:.0}%/{:.0}%",
                    s.engine,
                    s.system,
                    s.ttft.as_ref().map_or(f64::NAN, |e| e.median),
                    s.tpot.as_ref().map_or(f64::NAN, |e| e.median)
                );
            }
            println!();
        }
    }
    if args.iter().any(|a| a == "--frontend") {
        for kind in [EngineKind::Vllm, EngineKind::Sglang, EngineKind::Trtllm] {
            let pts: Vec<_> = points
                .iter()
                .filter(|p| p.engine == kind && p.mode == "agg")
                .cloned()
                .collect();
            for stagger in [0.0, 0.1] {
                for ahead in [false, true] {
                    for f_ms in [0.0, 1.0, 3.0, 10.0, 30.0] {
                        let rep = validate_load_points(
                            "dev",
                            &pts,
                            &LoadPointOptions {
                                stagger,
                                frontend_latency_s: Some(f_ms * 1e-3),
                                schedule_ahead: Some(ahead),
                                ..Default::default()
                            },
                        );
                        print!(
                            "{} stagger {stagger} ahead {ahead} f {f_ms} ms:",
                            kind.name()
                        );
                        for s in &rep.by_engine {
                            print!(
                                " {} {:.1}%/{:.1}%",
                                s.system,
                                s.ttft.as_ref().map_or(f64::NAN, |e| e.median),
                                s.tpot.as_ref().map_or(f64::NAN, |e| e.median)
                            );
                        }
                        println!();
                    }
                }
            }
        }
    }
    if !grid {
        return;
    }
    // `--grid-all`: every aggregated row of the engine, quantised ones included (the fit uses
    // the bf16 rows); `--only ENGINE`: one engine.
    let all_rows = args.iter().any(|a| a == "--grid-all");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| match s.parse::<EngineKind>() {
            Ok(k) => k,
            Err(_) => {
                eprintln!("fit_engines: --only expects vllm, sglang or trtllm, not `{s}`");
                std::process::exit(2)
            }
        });
    for kind in [EngineKind::Vllm, EngineKind::Sglang, EngineKind::Trtllm] {
        if only.is_some_and(|o| o != kind) {
            continue;
        }
        let pts: Vec<_> = points
            .iter()
            .filter(|p| {
                p.engine == kind && p.mode == "agg" && (all_rows || p.quantization.is_empty())
            })
            .cloned()
            .collect();
        let mut best = (f64::INFINITY, 0.0, 0.0, false);
        for overlapped in [true, false] {
            for it in [0.0, 1e-3, 2.5e-3, 5e-3] {
                for rq in [0.0, 10e-6, 30e-6, 60e-6] {
                    let opts = LoadPointOptions {
                        host: Some(HostOverhead {
                            per_iteration_s: it,
                            per_request_s: rq,
                            overlapped,
                        }),
                        ..Default::default()
                    };
                    let rep = validate_load_points("dev", &pts, &opts);
                    let (t, p) = (
                        rep.ttft.map_or(f64::INFINITY, |e| e.median),
                        rep.tpot.map_or(f64::INFINITY, |e| e.median),
                    );
                    let score = 0.5 * (t + p);
                    if score < best.0 {
                        best = (score, it, rq, overlapped);
                        println!(
                            "  {kind}: it {:.1} ms, per-request {:.0} us, overlapped {overlapped}: ttft {t:.1}%, tpot {p:.1}%",
                            it * 1e3,
                            rq * 1e6
                        );
                    }
                }
            }
        }
        println!("best {kind}: {best:?}");
    }
}
