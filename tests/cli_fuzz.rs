//! CLI fuzzing: mutated invocations of the built `parallax` binary, each under a wall-clock and
//! an address-space cap. A run fails the test when it exits 101 (a panic), dies of a signal
//! (an abort, e.g. an allocation failure under the cap) or overruns its time cap (a hang).
//! Any other exit code, 2 for bad input included, is a pass: the point is that every input
//! gets an answer.
//!
//! Mutations start from valid invocations of every subcommand (`place` on request) and of
//! every flag family: engines (`--engine`, `# engine:` directives), prefix caching and prefix
//! specs, KV swapping, disaggregated plans, vLLM's flag names, precision flags, closed-loop
//! clients, context limits, launch commands (`--emit`), HTML reports (`--report`),
//! steady-state throughput (`--steady-requests`, `--arrivals`), load points (`validate
//! --serving`, aiconfigurator CSV), serving runs, ShareGPT and `vllm bench` workloads. A
//! mutation replaces a flag value by a hostile one (zero, huge, negative, NaN, denormal,
//! overflowing, empty, unit-less, non-ASCII, a hostile plan or spec), replaces a number
//! inside a value (`prefill=1x(tp=2)` → `prefill=4294967296x(tp=2)`), mutates a value byte
//! by byte, drops or repeats an argument, or mutates an input file (cluster TOML, traces in
//! five formats, a model config, a profile, measured and serving files, load points, a
//! placement graph and expert split) byte by byte or number by number.
//!
//! The default campaign is 500 runs (about 10 s on 2 cores with the debug binary). For a
//! longer developer campaign (release binary; it prints the count of each exit code):
//!
//! ```text
//! PARALLAX_FUZZ_RUNS=20000 PARALLAX_FUZZ_SEED=7 PARALLAX_FUZZ_PLACE=1 \
//!     cargo test --release -p parallax-cli --test cli_fuzz -- --nocapture
//! ```
//!
//! `PARALLAX_FUZZ_PLACE=1` adds `place` invocations on a mutated placement graph and expert
//! split (each with `--time-limit 10s`, the budget under test; `PARALLAX_FUZZ_PLACE_LIMIT=2s`
//! changes it); `PARALLAX_FUZZ_PLACE=only` runs nothing else.
//!
//! Every failure is printed with the arguments that reproduce it (files it used are kept in
//! the temp folder named in the message). With `--nocapture` the runs that exited 1 (a failure
//! that is not the input's fault) are listed too, for review.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall-clock cap of one run. Seeds are cheap (well under a second); searches run with
/// `--time-limit 5s`, `simulate` and `validate` with `--time-limit 20s`, `place` with 10 s.
const RUN_CAP: Duration = Duration::from_secs(40);
/// Address-space cap of one run, KiB (4 GiB).
const MEMORY_CAP_KIB: u64 = 4 << 20;

/// A small deterministic generator (SplitMix64).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const HOSTILE: &[&str] = &[
    "0",
    "-1",
    "1",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e300",
    "-1e300",
    "1e-300",
    "5e-324",
    "NaN",
    "inf",
    "-inf",
    "",
    " ",
    "x",
    "1e19s",
    "1e300ms",
    "0s",
    "30",
    "-5ms",
    "0.000001us",
    "ß∂ƒ",
    "1x1x1",
    "65537xH100",
    "1000000000x8xH100",
    "tp=0",
    "pp=4294967295",
    "dp=65536,tp=65536",
    "tp=8,attn=4294967295xtp1",
    "4294967295x4294967295",
    "1x4294967295+4294967295",
    "1048577x1",
    "synthetic:requests=10,rate=1,prompt=normal(1,1e19),output=fixed(1)",
    "synthetic:requests=10,rate=1,arrivals=gamma,cv=1e-300,prompt=fixed(1),output=fixed(1)",
    "synthetic:requests=4294967296,rate=1,prompt=fixed(1),output=fixed(1)",
    "synthetic:requests=10,rate=1e-300,prompt=fixed(1),output=fixed(1)",
    "synthetic:requests=10,rate=1e300,prompt=fixed(1),output=fixed(1)",
    "synthetic:requests=5,rate=1,prompt=fixed(200000),output=fixed(1)",
    "synthetic:requests=5,rate=1,prompt=zipf(1e-320,10000000),output=fixed(1)",
    "/no/such/file.csv",
    "./missing/config.json",
    "e2e-mean,energy",
    "throughput",
    "min-gpus",
    "vllm",
    "sarathi",
    "orca",
    "static",
    "1,2,3,0",
    // Limits of the newer flags, at and just past them.
    "10",
    "9",
    "65536",
    "1048576",
    "1048577",
    "16777216",
    "16777217",
    "1000000",
    "1000001",
    "10000000",
    "10000001",
    "0.001",
    "1e-3",
    // Engines, policies, precisions, arrivals and emit targets.
    "none",
    "NONE",
    "vllm-v0",
    "trtllm",
    "tensorrt-llm",
    "prefill-first",
    "swap",
    "recompute",
    "prefix-affinity",
    "cache",
    "fp8",
    "nvfp4",
    "mxfp4",
    "int4",
    "bf16",
    "auto",
    "poisson",
    "trace",
    "goodput",
    "ttft-p99,cost",
    // Disaggregated plans.
    "prefill=1x(tp=1);decode=1x(tp=1)",
    "prefill=2x(tp=4);decode=1x(tp=8)",
    "prefill=65535x(tp=1);decode=1x(tp=1)",
    "prefill=65536x(tp=2);decode=1x(tp=1)",
    "prefill=4294967295x(tp=1);decode=1x(tp=1)",
    "prefill=1x(tp=4294967295);decode=1x(tp=1)",
    "prefill=1x(dp=2,tp=1);decode=1x(tp=1)",
    "prefill=1x(tp=1);prefill=1x(tp=1)",
    "prefill=1x(tp=1;decode=1x(tp=1)",
    "decode=1x(tp=1)",
    // Prefix specs.
    "synthetic:requests=8,rate=1,prompt=fixed(10),output=fixed(2),prefix=shared(16777216)",
    "synthetic:requests=8,rate=1,prompt=fixed(10),output=fixed(2),prefix=shared(100),share=5e-324,prompts=4294967295",
    "synthetic:requests=8,rate=1,prompt=fixed(10),output=fixed(2),prefix=shared(100),prompts=10000001",
    "synthetic:requests=8,rate=1,prompt=fixed(10),output=fixed(2),turns=4294967295,think=1e300",
    "synthetic:requests=8,rate=1,prompt=fixed(10),output=fixed(2),turns=8,think=1e8",
    "synthetic:requests=8,rate=1,prompt=fixed(10),output=fixed(2),turns=2,prefix=shared(5)",
    "synthetic:requests=8,rate=1,resample=chat,turns=3,think=0",
    "/dev/null",
    "/",
];

/// Numbers a number inside a value (a plan degree, a spec parameter, a CSV cell) is replaced by.
const HOSTILE_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "65536",
    "65537",
    "1048577",
    "16777217",
    "10000001",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "1e300",
    "1e-300",
    "5e-324",
    "NaN",
    "inf",
    "0.0",
    "",
];

/// `text` with up to three of its digit runs replaced by hostile numbers.
fn swap_numbers(text: &str, g: &mut Gen) -> String {
    let b = text.as_bytes();
    let runs: Vec<(usize, usize)> = {
        let mut v = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                v.push((start, i));
            } else {
                i += 1;
            }
        }
        v
    };
    if runs.is_empty() {
        return text.to_string();
    }
    let mut picked: Vec<(usize, usize)> = (0..1 + g.below(3)).map(|_| *g.pick(&runs)).collect();
    picked.sort_unstable();
    picked.dedup();
    let mut out = String::new();
    let mut at = 0;
    for (s, e) in picked {
        out.push_str(&text[at..s]);
        let n: &&str = g.pick(HOSTILE_NUMBERS);
        out.push_str(n);
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

/// The seed files, written once into `dir`.
struct Files {
    dir: PathBuf,
    seeds: Vec<(&'static str, String)>,
}

fn repo(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

impl Files {
    fn new(dir: PathBuf) -> Files {
        std::fs::create_dir_all(&dir).unwrap();
        let measured: String = repo("crates/parallax/data/measured/h100-sxm-iterations.csv")
            .lines()
            .take(6)
            .map(|l| format!("{l}\n"))
            .collect();
        let seeds = vec![
            (
                "cluster.toml",
                "nodes = 1\ngpus_per_node = 8\ngpu = \"H100\"\nprice_per_hour = 2.5\n\
                 [intra_node]\nkind = \"nvswitch\"\nbandwidth_gbytes_per_s = 450\n\
                 latency_us = 2\n[inter_node]\nkind = \"infiniband\"\nbandwidth_gbps = 400\n"
                    .to_string(),
            ),
            (
                "apex.jsonl",
                (0..12)
                    .map(|i| {
                        format!(
                            "{{\"ContextTokens\": {}, \"GeneratedTokens\": {}, \
                             \"StartTimeOffset\": {}}}\n",
                            100 + 37 * i,
                            5 + i,
                            i * 250_000_000u64
                        )
                    })
                    .collect(),
            ),
            (
                "vidur.csv",
                std::iter::once("arrived_at,num_prefill_tokens,num_decode_tokens\n".to_string())
                    .chain((0..12).map(|i| format!("{}.5,{},{}\n", i, 200 + 11 * i, 8 + i)))
                    .collect(),
            ),
            (
                "azure.csv",
                std::iter::once("TIMESTAMP,ContextTokens,GeneratedTokens\n".to_string())
                    .chain((0..12).map(|i| {
                        format!("2023-11-16 18:15:{:02}.680590,{},{}\n", 10 + i, 300 + i, 20)
                    }))
                    .collect(),
            ),
            (
                "config.json",
                repo("crates/parallax-ir/data/models/meta-llama--Llama-3.1-8B.json"),
            ),
            (
                "profile.json",
                repo("crates/parallax-hw/data/profiles/parallax-profiler/h100-sxm.json"),
            ),
            ("measured.csv", measured),
            (
                "graph.json",
                repo("crates/parallax-place/tests/data/throughput/layer_bert24_inference.json"),
            ),
            (
                "expert.json",
                repo("crates/parallax-place/tests/data/experts/bert24_inference_expert.json"),
            ),
            (
                "measured-sglang.csv",
                format!(
                    "# engine: sglang\n{}",
                    repo("crates/parallax/data/measured/h100-sxm-iterations.csv")
                        .lines()
                        .filter(|l| !l.starts_with('#'))
                        .take(5)
                        .map(|l| format!("{l}\n"))
                        .collect::<String>()
                ),
            ),
            (
                "runs.csv",
                "model,cluster,plan,workload,rate,requests,scheduler,ttft_ms,tpot_ms\n\
                 llama-3.1-8b,1x2xH100,dp=2,chat,2,16,sarathi,40,9\n\
                 llama-3.1-8b,1x1xH100,tp=1,chat,,12,,40,9\n"
                    .to_string(),
            ),
            (
                "loadpoints.csv",
                "id,silicon_data_source,backend,backend_version,model_path,system,precision,\
                 mode,isl,osl,gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,\
                 silicon_ttft_ms,silicon_tpot_ms\n\
                 p_c2_1,silicon_concurrency=2,vllm,0.12,Qwen/Qwen3-32B,h100_sxm,fp8,agg,256,16,\
                 fp8,,4,1,1,60.0,20.0\n\
                 p_c3_2,measured=2026-03-07,sglang,0.5,Qwen/Qwen3-32B,h200_sxm,fp8,agg,128,8,\
                 fp8,,4,2,1,40.0,15.0\n\
                 p_c4_3,silicon_concurrency=4,trtllm,1.0,Qwen/Qwen3-32B,b200_sxm,fp8,disagg,\
                 128,8,fp8,,,,,40.0,15.0\n"
                    .to_string(),
            ),
            (
                "sharegpt.json",
                "[{\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \
                 \"Write a haiku about GPUs and their memory bandwidth.\"}, {\"from\": \"gpt\", \
                 \"value\": \"Tensor cores hum / HBM feeds them bytes / latency bound\"}]}, \
                 {\"id\": \"b\", \"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}, \
                 {\"from\": \"gpt\", \"value\": \"hello\"}], \"prompt_tokens\": 12, \
                 \"output_tokens\": 30}]\n"
                    .to_string(),
            ),
            (
                "bench.json",
                "{\"request_rate\": 4, \"burstiness\": 1.0, \"max_concurrency\": null, \
                 \"input_lens\": [100, 200, 300, 400], \"output_lens\": [10, 20, 30, 40], \
                 \"errors\": [\"\", \"\", \"\", \"\"], \"start_times\": [0.0, 0.2, 0.5, 0.9], \
                 \"mean_ttft_ms\": 30.0, \"median_ttft_ms\": 29.0, \"mean_tpot_ms\": 8.0, \
                 \"request_throughput\": 3.9, \"output_throughput\": 90.0}\n"
                    .to_string(),
            ),
        ];
        for (name, text) in &seeds {
            std::fs::write(dir.join(name), text).unwrap();
        }
        Files { dir, seeds }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A fresh output path for run `run` (`--report`, `--out`, `--requests-csv`, …).
    fn output(&self, name: &str, run: usize) -> String {
        self.dir
            .join(format!("run{run}-out-{name}"))
            .display()
            .to_string()
    }

    /// A byte-mutated copy of seed file `name` for run `run`.
    fn mutated(&self, name: &str, run: usize, g: &mut Gen) -> String {
        let text = &self.seeds.iter().find(|(n, _)| *n == name).unwrap().1;
        let out = self.dir.join(format!("run{run}-{name}"));
        if g.below(2) == 0 {
            // Structured: numbers (CSV cells, JSON and TOML values) become hostile ones.
            std::fs::write(&out, swap_numbers(text, g)).unwrap();
            return out.display().to_string();
        }
        let mut b = text.as_bytes().to_vec();
        for _ in 0..1 + g.below(6) {
            let i = g.below(b.len().max(1));
            let byte = *g.pick(b"0123456789-.e,:x\n\"=[] {}aZ\xff\x00");
            match g.below(4) {
                0 if !b.is_empty() => b[i] = byte,
                1 if !b.is_empty() => {
                    b.remove(i);
                }
                2 => {
                    // A digit run that makes numbers huge.
                    for _ in 0..1 + g.below(20) {
                        b.insert(i.min(b.len()), b'9');
                    }
                }
                _ => b.insert(i.min(b.len()), byte),
            }
        }
        std::fs::write(&out, &b).unwrap();
        out.display().to_string()
    }
}

/// Valid invocations; `@name` stands for seed file `name`.
fn seeds() -> Vec<Vec<&'static str>> {
    let s = |x: &[&'static str]| x.to_vec();
    vec![
        s(&["models"]),
        s(&["gpus", "--json"]),
        s(&["inspect", "--model", "llama-3.1-8b"]),
        s(&["inspect", "--model", "@config.json", "--json"]),
        s(&[
            "predict",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "H100",
            "--tp",
            "2",
            "--prefill",
            "2x512+128",
            "--decode",
            "32x1024",
        ]),
        s(&[
            "predict",
            "--model",
            "@config.json",
            "--gpu",
            "A100",
            "--decode",
            "8x4096",
            "--cuda-graphs",
            "off",
            "--cost-model",
            "roofline",
            "--json",
        ]),
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x2xH100",
            "--plan",
            "tp=2",
            "--workload",
            "chat",
            "--requests",
            "20",
            "--rate",
            "2",
        ]),
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "@cluster.toml",
            "--plan",
            "dp=2,tp=4",
            "--workload",
            "@apex.jsonl",
            "--scheduler",
            "sarathi",
            "--chunk",
            "512",
            "--max-num-seqs",
            "64",
            "--slo-ttft",
            "500ms",
            "--slo-tpot",
            "50ms",
            "--json",
        ]),
        s(&[
            "simulate",
            "--model",
            "@config.json",
            "--cluster",
            "1x4xH100",
            "--plan",
            "pp=2,tp=2",
            "--workload",
            "@vidur.csv",
            "--router",
            "least-outstanding",
            "--max-batched-tokens",
            "4096",
            "--gpu-memory-utilization",
            "0.8",
        ]),
        s(&[
            "simulate",
            "--model",
            "mixtral-8x7b",
            "--cluster",
            "1x8xH100",
            "--plan",
            "tp=8,moe=ep8xtp1",
            "--workload",
            "@azure.csv",
            "--scheduler",
            "orca",
            "--seed",
            "7",
        ]),
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1xH100",
            "--plan",
            "tp=1",
            "--workload",
            "synthetic:requests=30,rate=5,arrivals=gamma,cv=2,prompt=lognormal(500,200),output=zipf(1.1,400),seed=3",
        ]),
        s(&[
            "search",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x4xH100",
            "--workload",
            "chat",
            "--requests",
            "16",
            "--max-plans",
            "3",
            "--top",
            "3",
            "--objective",
            "e2e-p99",
        ]),
        s(&[
            "search",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "@cluster.toml",
            "--workload",
            "@vidur.csv",
            "--max-plans",
            "2",
            "--max-gpus",
            "4",
            "--fewer-gpus",
            "--max-pp",
            "2",
            "--objective",
            "goodput",
            "--slo-ttft",
            "1s",
            "--slo-target",
            "0.5",
            "--max-num-seqs",
            "32,64",
            "--parallelisms",
            "dp,tp",
            "--price",
            "3",
            "--pareto",
            "e2e-mean,energy",
            "--json",
        ]),
        s(&[
            "calibrate",
            "@profile.json",
            "--gpu",
            "H100",
        ]),
        s(&["validate", "--measured", "@measured.csv", "--json"]),
        // Engines, prefix caching and prefix specs.
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x2xH100",
            "--plan",
            "dp=2",
            "--prefix-caching",
            "--router",
            "prefix-affinity",
            "--cpu-prefix-cache",
            "1",
            "--engine",
            "sglang",
            "--workload",
            "synthetic:requests=24,rate=4,prompt=uniform(50,300),output=fixed(8),prefix=shared(200),share=0.8,prompts=3,seed=2",
            "--json",
        ]),
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1xH100",
            "--plan",
            "tp=1",
            "--prefix-caching",
            "--engine",
            "vllm-v0",
            "--workload",
            "synthetic:requests=18,rate=3,prompt=fixed(120),output=fixed(6),turns=3,think=2",
            "--requests-csv",
            "%requests.csv",
        ]),
        // KV swapping, context limits, closed-loop clients.
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1xH100",
            "--plan",
            "tp=1",
            "--preemption",
            "swap",
            "--swap-space",
            "1",
            "--host-link-gbps",
            "25",
            "--gpu-memory-utilization",
            "0.3",
            "--max-model-len",
            "8192",
            "--max-concurrency",
            "8",
            "--engine",
            "none",
            "--workload",
            "synthetic:requests=20,rate=50,prompt=fixed(2000),output=fixed(200)",
            "--timeline",
            "%timeline.json",
        ]),
        // Disaggregated serving.
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x4xH100",
            "--plan",
            "prefill=1x(tp=2);decode=2x(tp=1)",
            "--router",
            "least-outstanding",
            "--workload",
            "chat",
            "--requests",
            "16",
            "--json",
        ]),
        // vLLM flag names, precision, launch commands, external workload formats.
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x2xH100",
            "--tensor-parallel-size",
            "2",
            "--data-parallel-size",
            "1",
            "--enable-chunked-prefill",
            "--block-size",
            "32",
            "--max-num-batched-tokens",
            "2048",
            "--quantization",
            "fp8",
            "--kv-cache-dtype",
            "fp8",
            "--engine",
            "trtllm",
            "--emit",
            "vllm",
            "--workload",
            "@sharegpt.json",
        ]),
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1xH100",
            "--plan",
            "tp=1",
            "--workload",
            "@bench.json",
            "--emit",
            "sglang",
            "--json",
        ]),
        // Steady-state throughput, reports and launch commands from search.
        s(&[
            "search",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x2xH100",
            "--workload",
            "chat",
            "--requests",
            "16",
            "--objective",
            "throughput",
            "--slo-ttft",
            "2s",
            "--steady-requests",
            "120",
            "--arrivals",
            "trace",
            "--max-plans",
            "2",
            "--emit",
            "trtllm",
            "--report",
            "%report.html",
        ]),
        s(&[
            "search",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x2xH100",
            "--workload",
            "synthetic:requests=20,rate=2,prompt=fixed(300),output=fixed(20)",
            "--objective",
            "goodput",
            "--slo-tpot",
            "80ms",
            "--steady-requests",
            "120",
            "--engine",
            "none",
            "--quantization",
            "int4",
            "--block-size",
            "16",
            "--max-model-len",
            "4096",
            "--max-plans",
            "2",
            "--pareto",
            "ttft-p99,cost",
            "--json",
        ]),
        s(&[
            "predict",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "B200",
            "--tensor-parallel-size",
            "2",
            "--engine",
            "sglang",
            "--quantization",
            "nvfp4",
            "--kv-cache-dtype",
            "bf16",
            "--prefill",
            "4x1000+3000",
            "--decode",
            "16x2048",
        ]),
        // Load points, serving runs, engine directives, calibration output.
        s(&["validate", "--serving", "@loadpoints.csv", "--rows", "--json"]),
        s(&["validate", "--measured", "@runs.csv", "--engine", "none"]),
        s(&["validate", "--measured", "@measured-sglang.csv", "--cost-model", "roofline"]),
        s(&["calibrate", "@profile.json", "--out", "%params.json", "--json"]),
        // Mixed GPU kinds, capacity routing, disaggregated candidates in the search.
        s(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x2xH100+1x2xA100-80GB",
            "--plan",
            "dp=2,tp=2,on=H100/A100-80GB",
            "--workload",
            "chat",
            "--requests",
            "20",
            "--router",
            "capacity",
        ]),
        s(&[
            "search",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x2xH100+1x2xA100-80GB",
            "--workload",
            "chat",
            "--requests",
            "16",
            "--max-plans",
            "4",
            "--json",
        ]),
        s(&[
            "search",
            "--model",
            "llama-3.1-8b",
            "--cluster",
            "1x4xH100",
            "--workload",
            "summarization",
            "--requests",
            "12",
            "--disaggregation",
            "on",
            "--max-plans",
            "2",
            "--top",
            "2",
        ]),
    ]
}

/// `place` invocations (added with `PARALLAX_FUZZ_PLACE=1`).
fn place_seeds() -> Vec<Vec<&'static str>> {
    vec![
        vec!["place", "@graph.json", "--json"],
        vec!["place", "@graph.json", "--objective", "latency"],
        vec![
            "place",
            "@graph.json",
            "--objective",
            "latency",
            "--subgraphs",
            "2",
            "--max-labels",
            "100000",
        ],
        vec!["place", "@graph.json", "--milp"],
        vec![
            "place",
            "@graph.json",
            "--overlap",
            "--expert",
            "@expert.json",
            "--json",
        ],
        vec!["place", "@graph.json", "--non-contiguous"],
        vec!["place", "@graph.json", "--cpus-noncontiguous", "--json"],
    ]
}

enum Verdict {
    /// An answer: the exit code and the first lines of stderr.
    Ok(i32, String),
    Bad(String),
}

fn run_capped(args: &[String], cwd: &Path) -> Verdict {
    // `ulimit -v` caps the address space; `exec` keeps the pid so a kill reaches the binary.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_parallax"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        // A mutated argument may turn into an output path: it lands in the temp folder.
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    // Stderr is drained while the run goes on, so a chatty run never blocks on a full pipe.
    let reader = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            use std::io::Read;
            let mut s = String::new();
            let _ = e.read_to_string(&mut s);
            s
        })
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > RUN_CAP {
            let _ = child.kill();
            let _ = child.wait();
            return Verdict::Bad(format!("timed out after {RUN_CAP:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let err = reader.and_then(|r| r.join().ok()).unwrap_or_default();
    let tail: String = err.lines().take(4).collect::<Vec<_>>().join(" | ");
    match status.code() {
        Some(101) => Verdict::Bad(format!("panicked (exit 101): {tail}")),
        None => Verdict::Bad(format!("killed by a signal ({status:?}): {tail}")),
        Some(_) if err.contains("panicked") => Verdict::Bad(format!("printed a panic: {tail}")),
        Some(code) => Verdict::Ok(code, tail),
    }
}

#[test]
fn mutated_invocations_never_panic_abort_or_hang() {
    let runs: usize = std::env::var("PARALLAX_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let seed: u64 = std::env::var("PARALLAX_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let files =
        Files::new(std::env::temp_dir().join(format!("parallax-cli-fuzz-{}", std::process::id())));
    let mut seeds = seeds();
    // `place` is fuzzed on request (its solver budgets are the placement crate's; set
    // PARALLAX_FUZZ_PLACE=1 to include it).
    let place = std::env::var("PARALLAX_FUZZ_PLACE").ok();
    match place.as_deref() {
        Some("only") => seeds = place_seeds(),
        Some(_) => seeds.extend(place_seeds()),
        None => {}
    }
    let place_limit = std::env::var("PARALLAX_FUZZ_PLACE_LIMIT").unwrap_or_else(|_| "10s".into());
    let mut g = Gen(seed);
    let mut failures = Vec::new();
    let mut exit1 = Vec::new();
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    let mut slowest = 0.0f64;
    let start = Instant::now();
    for run in 0..runs {
        let mut args: Vec<String> = g.pick(&seeds).iter().map(|s| s.to_string()).collect();
        // Resolve file placeholders, mutating some files.
        for a in args.iter_mut() {
            if let Some(name) = a.strip_prefix('@').map(str::to_string) {
                *a = if g.below(2) == 0 {
                    files.mutated(&name, run, &mut g)
                } else {
                    files.path(&name)
                };
            } else if let Some(name) = a.strip_prefix('%').map(str::to_string) {
                *a = files.output(&name, run);
            }
        }
        // Mutate arguments (never the subcommand).
        for _ in 0..g.below(3) {
            if args.len() < 2 {
                break;
            }
            let i = 1 + g.below(args.len() - 1);
            match g.below(6) {
                0 | 1 => args[i] = g.pick(HOSTILE).to_string(),
                5 => args[i] = swap_numbers(&args[i], &mut g),
                2 => {
                    let mut b = args[i].clone().into_bytes();
                    for _ in 0..1 + g.below(3) {
                        let at = g.below(b.len() + 1);
                        let byte = *g.pick(b"0123456789-.e,x=+()s");
                        if g.below(2) == 0 && at < b.len() {
                            b[at] = byte;
                        } else {
                            b.insert(at, byte);
                        }
                    }
                    args[i] = String::from_utf8_lossy(&b).into_owned();
                }
                3 => {
                    args.remove(i);
                }
                _ => {
                    let a = args[i].clone();
                    args.insert(i, a);
                }
            }
        }
        // Every search gets a wall-clock budget (its own budget is what is under test).
        if args[0] == "search" {
            args.push("--time-limit".into());
            args.push("5s".into());
        }
        // `simulate` and `validate` stop at their own wall budget (exit 3), `place` returns
        // its best result at it.
        if matches!(args[0].as_str(), "simulate" | "validate") {
            args.push("--time-limit".into());
            args.push("20s".into());
        }
        if args[0] == "place" {
            args.push("--time-limit".into());
            args.push(place_limit.clone());
        }
        let t0 = Instant::now();
        let verdict = run_capped(&args, &files.dir);
        slowest = slowest.max(t0.elapsed().as_secs_f64());
        match verdict {
            Verdict::Bad(why) => {
                *outcomes.entry("failure".into()).or_insert(0) += 1;
                failures.push(format!("run {run}: parallax {args:?}: {why}"));
            }
            Verdict::Ok(code, tail) => {
                *outcomes.entry(format!("exit {code}")).or_insert(0) += 1;
                if code == 1 {
                    exit1.push(format!("run {run}: parallax {args:?}: {tail}"));
                }
            }
        }
    }
    eprintln!(
        "cli fuzz: {runs} runs (seed {seed}) in {:.1} s, slowest run {slowest:.1} s, {} \
         failures; outcomes: {outcomes:?}",
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    for e in &exit1 {
        eprintln!("exit 1: {e}");
    }
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&files.dir);
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed (files in {}):\n{}",
        failures.len(),
        files.dir.display(),
        failures.join("\n")
    );
}
