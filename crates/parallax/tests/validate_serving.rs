//! `validate_file` on serving-run files: each row is simulated and its mean TTFT/TPOT compared
//! with the measured ones; bad rows name the file, line and column.

use parallax::validate::{parse_serving, validate_file};
use parallax::CostModelChoice;

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("parallax-serving-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_serving_run_is_simulated_and_compared() {
    let path = write(
        "runs.csv",
        "# a comment\nmodel,cluster,plan,workload,rate,requests,scheduler,ttft_ms,tpot_ms\n\
         llama-3.1-8b,1x2xH100,dp=2,chat,2,64,sarathi,40,9\n\
         llama-3.1-8b,1x1xH100,tp=1,chat,,32,,40,9\n",
    );
    let r = validate_file(&path, CostModelChoice::Roofline).unwrap();
    assert_eq!(r.kind, "serving");
    assert_eq!(r.serving.len(), 2);
    for row in &r.serving {
        assert!(row.predicted_ttft_ms > 0.0 && row.predicted_tpot_ms > 0.0);
        let e = 100.0 * (row.predicted_tpot_ms - 9.0) / 9.0;
        assert!((row.tpot_error_pct - e).abs() < 1e-9);
    }
    assert_eq!(r.serving[0].plan, "dp=2,pp=1,tp=1");
    assert_eq!(r.serving[1].line, 4);
    let s = r.summary.unwrap();
    assert_eq!(s.count, 4, "TTFT and TPOT of two runs");
    // The same run simulated directly gives the same means.
    let model = parallax::ir::resolve("llama-3.1-8b").unwrap();
    let cluster = parallax::hw::Cluster::parse("1x1xH100").unwrap();
    let w = parallax::load_workload("chat", None, Some(32)).unwrap();
    let cost = parallax::cost_model(&cluster, CostModelChoice::Roofline).unwrap();
    let direct = parallax::simulate_plan(
        &model,
        &cluster,
        &"tp=1".parse().unwrap(),
        cost,
        &w,
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(r.serving[1].predicted_ttft_ms, direct.metrics.ttft_ms.mean);
}

#[test]
fn bad_serving_rows_name_file_line_and_column() {
    let header = "model,cluster,plan,workload,ttft_ms,tpot_ms\n";
    for (body, needle) in [
        ("llama-3.1-8b,1x1xH100,tp=1,chat,-3,9\n", "ttft_ms"),
        ("llama-3.1-8b,1x1xH100,tp=1,chat,40\n", "fields"),
        (",1x1xH100,tp=1,chat,40,9\n", "model"),
    ] {
        let e = parse_serving("runs.csv", &format!("{header}{body}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("runs.csv:2") && e.contains(needle), "{e}");
    }
    let e = parse_serving("runs.csv", "model,cluster,plan,ttft_ms,tpot_ms\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("workload"), "{e}");
    let path = write("neither.csv", "a,b,c\n1,2,3\n");
    let e = validate_file(&path, CostModelChoice::Auto)
        .unwrap_err()
        .to_string();
    assert!(e.contains("measured_ms") && e.contains("ttft_ms"), "{e}");
}

/// A run's engine and its vLLM flags as optional columns.
#[test]
fn serving_runs_carry_their_engine_and_flags() {
    use parallax::validate::validate_file_with;
    use parallax::EngineKind;
    let run = |name: &str, cols: &str, vals: &str| {
        let path = write(
            name,
            &format!(
                "model,cluster,plan,workload,rate,requests,ttft_ms,tpot_ms{cols}\n\
                 llama-3.1-8b,1x1xH100,tp=1,chat,8,64,40,9{vals}\n"
            ),
        );
        validate_file(&path, CostModelChoice::Roofline)
            .unwrap()
            .serving[0]
            .clone()
    };
    let base = run("f0.csv", "", "");
    // `engine` per row equals the caller's engine for the whole file.
    let v0 = run("f1.csv", ",engine", ",vllm-v0");
    let path = write(
        "f2.csv",
        "model,cluster,plan,workload,rate,requests,ttft_ms,tpot_ms\n\
         llama-3.1-8b,1x1xH100,tp=1,chat,8,64,40,9\n",
    );
    let whole = validate_file_with(&path, CostModelChoice::Roofline, Some(EngineKind::VllmV0))
        .unwrap()
        .serving[0]
        .clone();
    assert_eq!(v0, whole);
    assert_ne!(v0.predicted_tpot_ms, base.predicted_tpot_ms);
    // Fewer running requests: longer queues; eager iterations: slower tokens.
    let few = run("f3.csv", ",engine,max_num_seqs", ",vllm-v0,2");
    assert!(few.predicted_ttft_ms > v0.predicted_ttft_ms);
    let eager = run("f4.csv", ",engine,enforce_eager", ",vllm-v0,true");
    assert!(eager.predicted_tpot_ms > v0.predicted_tpot_ms);
    // (vLLM V0 already chunks Llama-3.1-8B's 131k context at 512 tokens; a larger budget
    // changes the schedule.)
    let chunked = run(
        "f5.csv",
        ",engine,enable_chunked_prefill,max_num_batched_tokens",
        ",vllm-v0,true,8192",
    );
    assert_ne!(chunked.predicted_ttft_ms, v0.predicted_ttft_ms);
    let no_chunk = run("f8.csv", ",engine,max_model_len", ",vllm-v0,8192");
    assert_ne!(no_chunk.predicted_ttft_ms, v0.predicted_ttft_ms);
    let closed = run("f6.csv", ",engine,max_concurrency", ",vllm-v0,1");
    assert!(closed.predicted_ttft_ms <= v0.predicted_ttft_ms);
    // Chunked prefill off: V0 prefills whole prompts under a budget of the whole context.
    let off = run("f9.csv", ",engine,enable_chunked_prefill", ",vllm-v0,false");
    assert_ne!(off.predicted_ttft_ms, v0.predicted_ttft_ms);
    // A scheduler that agrees with the switch is accepted.
    let agree = run(
        "f10.csv",
        ",engine,scheduler,enable_chunked_prefill",
        ",vllm-v0,sarathi,true",
    );
    assert_eq!(agree.predicted_ttft_ms, v0.predicted_ttft_ms);
    // Empty cells keep the defaults.
    assert_eq!(
        run("f7.csv", ",engine,max_num_seqs,enforce_eager", ",,,"),
        base
    );
    // Bad values name the file's line and the column.
    for (cols, vals, needle) in [
        (",engine", ",vllm-v9", "engine"),
        (",max_num_seqs", ",0", "max_num_seqs"),
        (
            ",enable_chunked_prefill",
            ",maybe",
            "enable_chunked_prefill",
        ),
        (",gpu_memory_utilization", ",1.5", "gpu_memory_utilization"),
        (",max_model_len", ",999999999", "max_model_len"),
        (",max_num_seqs", ",4294967295", "an integer from 1 to"),
        // vLLM refuses a budget below the context without chunked prefill.
        (
            ",engine,enable_chunked_prefill,max_num_batched_tokens",
            ",vllm-v0,false,4096",
            "max_num_batched_tokens",
        ),
        (
            ",scheduler,enable_chunked_prefill",
            ",orca,true",
            "enable_chunked_prefill",
        ),
    ] {
        let path = write(
            "bad-flags.csv",
            &format!(
                "model,cluster,plan,workload,requests,ttft_ms,tpot_ms{cols}\n\
                 llama-3.1-8b,1x1xH100,tp=1,chat,8,40,9{vals}\n"
            ),
        );
        let e = validate_file(&path, CostModelChoice::Roofline)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad-flags.csv:2") && e.contains(needle),
            "{cols}: {e}"
        );
    }
}

/// RFC 4180 quoting: a plan with commas, as the format's own docs write plans, and a
/// `synthetic:` workload spec (not a file beside the CSV); unknown and repeated columns are
/// refused by name instead of being ignored.
#[test]
fn serving_rows_quote_plans_with_commas_and_name_unknown_columns() {
    let runs = parse_serving(
        "runs.csv",
        "model,cluster,plan,workload,ttft_ms,tpot_ms\n\
         llama-3.1-8b,1x4xH100,\"dp=2,tp=2\",chat,40,9\n\n\
         # a comment between rows\n\
         llama-3.1-8b,1x4xH100,\"dp=4,tp=1\",chat,\"41\",9\n",
    )
    .unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[0].plan.as_str(), runs[0].line), ("dp=2,tp=2", 2));
    assert_eq!((runs[1].plan.as_str(), runs[1].line), ("dp=4,tp=1", 5));
    assert_eq!(runs[1].ttft_ms, 41.0);

    let path = write(
        "synthetic.csv",
        "model,cluster,plan,workload,ttft_ms,tpot_ms\n\
         llama-3.1-8b,1x2xH100,\"dp=2,tp=1\",\"synthetic:requests=16,rate=2,prompt=fixed(128),output=fixed(16)\",40,9\n",
    );
    let r = validate_file(&path, CostModelChoice::Roofline).unwrap();
    assert_eq!(r.serving[0].plan, "dp=2,pp=1,tp=1");

    for (header, needle) in [
        (
            "model,cluster,plan,workload,ttft_ms,tpot_ms,max_num_seq",
            "column `max_num_seq`",
        ),
        (
            "model,cluster,plan,workload,ttft_ms,tpot_ms,TTFT_ms",
            "each column once",
        ),
    ] {
        let e = parse_serving(
            "runs.csv",
            &format!("{header}\nllama-3.1-8b,1x1xH100,tp=1,chat,40,9,1\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("runs.csv:1") && e.contains(needle), "{e}");
    }
}

/// A measured iteration longer than the model's context window is refused by line and column
/// (it was priced, 134,236 % off).
#[test]
fn measured_iterations_beyond_the_context_window_are_refused() {
    let path = write(
        "long.csv",
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         llama-3.1-8b,H100-SXM,1,1x512,,off,16.3\n\
         llama-3.1-8b,H100-SXM,1,1x200000,,off,16.3\n",
    );
    let e = validate_file(&path, CostModelChoice::Roofline)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("long.csv:3")
            && e.contains("context window of 131072 tokens")
            && e.contains("200000"),
        "{e}"
    );
}

/// A row that cannot be predicted names the file, line and row, then the cause as the lower
/// layer words it (it read `expected unknown GPU …` before).
#[test]
fn unpredictable_rows_name_file_line_and_cause() {
    let path = write(
        "gpubad.csv",
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\nllama-3.1-8b,FOO,1,1x512,,off,16.3\n",
    );
    let e = validate_file(&path, CostModelChoice::Roofline)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("gpubad.csv:2 (`llama-3.1-8b on FOO tp=1`): unknown GPU `FOO`"),
        "{e}"
    );
    assert!(!e.contains("expected unknown"), "{e}");
}

/// Trailing commas (spreadsheet exports) are unnamed, empty columns and ignored; a value under
/// one is refused.
#[test]
fn serving_rows_with_trailing_commas_parse() {
    let runs = parse_serving(
        "runs.csv",
        "model,cluster,plan,workload,ttft_ms,tpot_ms,,\nllama-3.1-8b,1x1xH100,tp=1,chat,40,9,,\n",
    )
    .unwrap();
    assert_eq!(runs.len(), 1);
    let e = parse_serving(
        "runs.csv",
        "model,cluster,plan,workload,ttft_ms,tpot_ms,\nllama-3.1-8b,1x1xH100,tp=1,chat,40,9,7\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("runs.csv:2") && e.contains("unnamed, field 7"),
        "{e}"
    );
}

/// Every CSV example of `docs/measured-format.md` validates as written (the serving-run
/// example failed: its `vllm` scheduler cells ask for vLLM V0's whole-prompt policy under the
/// V1 engine's 8,192-token budget).
#[test]
fn the_format_docs_examples_validate() {
    let doc = include_str!("../../../docs/measured-format.md");
    let blocks: Vec<&str> = doc
        .split("```csv\n")
        .skip(1)
        .map(|b| &b[..b.find("```").unwrap()])
        .collect();
    assert!(blocks.len() >= 2, "{} csv examples", blocks.len());
    for (i, b) in blocks.iter().enumerate() {
        let path = write(&format!("doc-example-{i}.csv"), b);
        let r = validate_file(&path, CostModelChoice::Roofline)
            .unwrap_or_else(|e| panic!("example {i}: {e}"));
        assert!(r.summary.is_some(), "example {i}");
    }
}

/// Spaces around a quoted field are allowed; an unterminated quote and text after a closing
/// quote are named as such (not as a field-count mismatch).
#[test]
fn serving_row_quoting_errors_say_what_is_wrong() {
    let header = "model,cluster,plan,workload,ttft_ms,tpot_ms\n";
    let runs = parse_serving(
        "runs.csv",
        &format!("{header}llama-3.1-8b, 1x2xH100 , \"dp=2,tp=1\" ,chat,\"4\"\"0\",9\n"),
    );
    // `""` inside quotes is a quote: `4"0` is not a number
    let e = runs.unwrap_err().to_string();
    assert!(e.contains("ttft_ms") && e.contains("4\"0"), "{e}");
    let runs = parse_serving(
        "runs.csv",
        &format!("{header}llama-3.1-8b, 1x2xH100 , \"dp=2,tp=1\" ,chat,40,9\n"),
    )
    .unwrap();
    assert_eq!(
        (runs[0].cluster.as_str(), runs[0].plan.as_str()),
        ("1x2xH100", "dp=2,tp=1")
    );
    for (row, needle) in [
        (
            "llama-3.1-8b,1x2xH100,\"dp=2,tp=1,chat,40,9",
            "unterminated",
        ),
        (
            "llama-3.1-8b,1x2xH100,\"dp=2\"x,chat,40,9",
            "after the closing quote",
        ),
    ] {
        let e = parse_serving("runs.csv", &format!("{header}{row}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("runs.csv:2") && e.contains(needle), "{e}");
    }
}

/// Quoted CSV as spreadsheets and R's `write.csv` write it reads like the plain file; a file
/// with a header and no rows, and a header of neither format, are errors naming the header's
/// line and quoting it as written.
#[test]
fn quoted_files_read_and_empty_or_unknown_ones_are_refused() {
    let plain = write(
        "it-plain.csv",
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         llama-3.1-8b,H100-SXM,1,1x512,,off,28.0\n",
    );
    let quoted = write(
        "it-quoted.csv",
        "\"model\",\"gpu\",\"tp\",\"prefill\",\"decode\",\"cuda_graphs\",\"measured_ms\"\n\
         \"llama-3.1-8b\",\"H100-SXM\",\"1\",\"1x512\",\"\",\"off\",\"28.0\"\n",
    );
    let a = validate_file(&plain, CostModelChoice::Roofline).unwrap();
    let b = validate_file(&quoted, CostModelChoice::Roofline).unwrap();
    assert_eq!(a.iterations[0].predicted_ms, b.iterations[0].predicted_ms);
    let runs = write(
        "sv-quoted.csv",
        "\"model\",\"cluster\",\"plan\",\"workload\",\"requests\",\"ttft_ms\",\"tpot_ms\"\n\
         \"llama-3.1-8b\",\"1x1xH100\",\"tp=1\",\"chat\",\"8\",\"40\",\"9\"\n",
    );
    assert_eq!(
        validate_file(&runs, CostModelChoice::Roofline)
            .unwrap()
            .serving
            .len(),
        1
    );
    let empty = write(
        "sv-empty.csv",
        "# no runs yet\n\nmodel,cluster,plan,workload,ttft_ms,tpot_ms\n",
    );
    let e = validate_file(&empty, CostModelChoice::Roofline)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sv-empty.csv:3:") && e.contains("at least one run"),
        "{e}"
    );
    let unknown = write(
        "unknown.csv",
        "# x\n# y\n\nModel,GPU,Time_ms\nllama,H100,3\n",
    );
    let e = validate_file(&unknown, CostModelChoice::Roofline)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown.csv:4:")
            && e.contains("Model,GPU,Time_ms")
            && e.contains("measured_ms"),
        "{e}"
    );
    // a quoted value holding a comma cannot be a table cell: named, not misread
    let comma = write(
        "it-comma.csv",
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         llama-3.1-8b,H100-SXM,1,\"1x512,1x256\",,off,28.0\n",
    );
    let e = validate_file(&comma, CostModelChoice::Roofline)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("\"1x512"), "{e}");
}

/// A model given as a relative `config.json` path is found next to the measured file, as its
/// cluster and workload files are, whatever the working directory.
#[test]
fn relative_model_paths_are_found_next_to_the_file() {
    let config = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../parallax-ir/data/models/meta-llama--Llama-3.1-8B.json"
    ))
    .unwrap();
    let it = write(
        "rel-it.csv",
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         rel-sub/config.json,H100-SXM,1,1x512,,off,28.0\n",
    );
    let sub = it.parent().unwrap().join("rel-sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("config.json"), config).unwrap();
    let by_path = validate_file(&it, CostModelChoice::Roofline).unwrap();
    // the folder holding the config too
    let folder = write(
        "rel-folder.csv",
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         rel-sub,H100-SXM,1,1x512,,off,28.0\n",
    );
    let by_folder = validate_file(&folder, CostModelChoice::Roofline).unwrap();
    assert_eq!(
        by_folder.iterations[0].predicted_ms,
        by_path.iterations[0].predicted_ms
    );
    let named = write(
        "rel-named.csv",
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         llama-3.1-8b,H100-SXM,1,1x512,,off,28.0\n",
    );
    let by_name = validate_file(&named, CostModelChoice::Roofline).unwrap();
    assert_eq!(
        by_path.iterations[0].predicted_ms,
        by_name.iterations[0].predicted_ms
    );
    let runs = write(
        "rel-sv.csv",
        "model,cluster,plan,workload,requests,ttft_ms,tpot_ms\n\
         rel-sub/config.json,1x1xH100,tp=1,chat,8,40,9\n",
    );
    assert_eq!(
        validate_file(&runs, CostModelChoice::Roofline)
            .unwrap()
            .serving
            .len(),
        1
    );
}

/// Switch columns take one set of spellings, and an error lists them.
#[test]
fn switch_columns_take_the_same_spellings() {
    let row = |v: &str| {
        write(
            &format!("sw-{v}.csv"),
            &format!(
                "model,cluster,plan,workload,requests,enforce_eager,ttft_ms,tpot_ms\n\
                 llama-3.1-8b,1x1xH100,tp=1,chat,8,{v},40,9\n"
            ),
        )
    };
    let eager = |v: &str| {
        validate_file(&row(v), CostModelChoice::Roofline)
            .unwrap()
            .serving[0]
            .predicted_tpot_ms
    };
    let on = eager("true");
    for v in ["on", "yes", "1", "TRUE"] {
        assert_eq!(eager(v), on, "{v}");
    }
    let off = eager("false");
    assert_ne!(on, off);
    for v in ["off", "no", "0"] {
        assert_eq!(eager(v), off, "{v}");
    }
    let e = validate_file(&row("maybe"), CostModelChoice::Roofline)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`maybe`") && e.contains("on/off"), "{e}");
}

/// TensorRT-LLM runs on NVIDIA GPUs only: measured iterations and serving runs on an MI300X
/// under it are refused, as `predict` and `simulate` refuse them.
#[test]
fn trtllm_rows_on_an_amd_gpu_are_refused() {
    let it = write(
        "mi-it.csv",
        "model,gpu,tp,prefill,decode,cuda_graphs,measured_ms\n\
         llama-3.1-8b,MI300X,1,,8x1000,on,5.0\n",
    );
    let e = parallax::validate::validate_file_with(
        &it,
        CostModelChoice::Roofline,
        Some(parallax::EngineKind::Trtllm),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("MI300X") && e.contains("NVIDIA GPUs only"),
        "{e}"
    );
    let runs = write(
        "mi-sv.csv",
        "model,cluster,plan,workload,requests,engine,ttft_ms,tpot_ms\n\
         llama-3.1-8b,1x1xMI300X,tp=1,chat,8,trtllm,40,9\n",
    );
    let e = validate_file(&runs, CostModelChoice::Roofline)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`engine`") && e.contains("NVIDIA GPUs only"),
        "{e}"
    );
    // vLLM runs there
    let ok = write(
        "mi-ok.csv",
        "model,cluster,plan,workload,requests,engine,ttft_ms,tpot_ms\n\
         llama-3.1-8b,1x1xMI300X,tp=1,chat,8,vllm,40,9\n",
    );
    validate_file(&ok, CostModelChoice::Roofline).unwrap();
}
