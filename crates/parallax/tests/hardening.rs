//! Hardening of the facade: budgets beyond `Instant`'s range, `max_pp = 0`, requests longer than
//! the model's context window, and missing trace files.

use parallax::hw::Cluster;
use parallax::{Error, Limits, Search, SearchConstraints};
use std::time::Duration;

fn small() -> Search {
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = Cluster::parse("1x1xH100").unwrap();
    let workload = parallax::load_workload("chat", None, Some(8)).unwrap();
    Search::new(model, cluster, workload)
}

#[test]
fn a_time_limit_past_instants_range_is_never_reached() {
    let r = small()
        .limits(Limits {
            max_plans: Some(1),
            time: Some(Duration::MAX),
        })
        .run()
        .unwrap();
    assert!(r.best.is_some());
}

#[test]
fn max_pp_zero_is_an_option_error() {
    let e = small()
        .constraints(SearchConstraints {
            max_pp: Some(0),
            ..SearchConstraints::default()
        })
        .run()
        .unwrap_err();
    assert!(
        matches!(e, Error::Option { ref option, .. } if option == "max_pp"),
        "{e}"
    );
}

#[test]
fn requests_longer_than_the_context_window_are_an_error() {
    let model = parallax::ir::resolve("llama-2-7b").unwrap();
    assert_eq!(model.max_position_embeddings, 4096);
    let w = parallax::load_workload("code", None, Some(2000)).unwrap();
    let e = parallax::check_context(&model, &w).unwrap_err().to_string();
    assert!(
        e.contains("(4096 tokens: its max_position_embeddings"),
        "{e}"
    );
    assert!(e.contains("llama-2-7b"), "{e}");
    let fits = parallax::load_workload("chat", None, None).unwrap();
    assert!(parallax::check_context(&model, &fits).is_ok());
    let e = Search::new(model, Cluster::parse("1x1xH100").unwrap(), w)
        .run()
        .unwrap_err();
    assert!(e.to_string().contains("context window"), "{e}");
}

#[test]
fn a_missing_trace_file_is_called_missing() {
    let e = parallax::load_workload("traces/nope.csv", None, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("traces/nope.csv") && e.contains("does not exist"),
        "{e}"
    );
    let e = parallax::load_workload("chat", None, Some(10_000_001))
        .unwrap_err()
        .to_string();
    assert!(e.contains("10000000"), "{e}");
}
