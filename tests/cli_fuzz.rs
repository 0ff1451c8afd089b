//! CLI fuzzing: mutated invocations of the built `parallax` binary, each under a wall-clock and
//! an address-space cap. A run fails the test when it exits 101 (a panic), dies of a signal
//! (an abort, e.g. an allocation failure under the cap) or overruns its time cap (a hang).
//! Any other exit code, 2 for bad input included, is a pass: the point is that every input
//! gets an answer.
//!
//! Mutations start from valid invocations of every subcommand except `place` (its inputs are
//! fuzzed with the placement solver): a flag value replaced by a hostile one (zero, huge,
//! negative, NaN, denormal, overflowing, empty, unit-less, non-ASCII), a value mutated byte by
//! byte, an argument dropped or repeated, and input files (cluster TOML, traces in the three
//! formats, a model config, a profile, a measured file) mutated byte by byte.
//!
//! The default campaign is 500 runs (about 10 s on 2 cores with the debug binary). For a
//! longer developer campaign:
//!
//! ```text
//! PARALLAX_FUZZ_RUNS=20000 PARALLAX_FUZZ_SEED=7 cargo test --release -p parallax-cli --test cli_fuzz -- --nocapture
//! ```
//!
//! `PARALLAX_FUZZ_PLACE=1` adds `place` invocations on a mutated placement graph.
//!
//! Every failure is printed with the arguments that reproduce it (files it used are kept in
//! the temp folder named in the message).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall-clock cap of one run. Seeds are cheap (well under a second); searches run with
/// `--time-limit 5s`.
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
];

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
        ];
        for (name, text) in &seeds {
            std::fs::write(dir.join(name), text).unwrap();
        }
        Files { dir, seeds }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A byte-mutated copy of seed file `name` for run `run`.
    fn mutated(&self, name: &str, run: usize, g: &mut Gen) -> String {
        let text = &self.seeds.iter().find(|(n, _)| *n == name).unwrap().1;
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
        let out = self.dir.join(format!("run{run}-{name}"));
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
    ]
}

enum Verdict {
    Ok,
    Bad(String),
}

fn run_capped(args: &[String]) -> Verdict {
    // `ulimit -v` caps the address space; `exec` keeps the pid so a kill reaches the binary.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_parallax"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
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
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    let tail: String = err.lines().take(4).collect::<Vec<_>>().join(" | ");
    match status.code() {
        Some(101) => Verdict::Bad(format!("panicked (exit 101): {tail}")),
        None => Verdict::Bad(format!("killed by a signal ({status:?}): {tail}")),
        Some(_) if err.contains("panicked") => Verdict::Bad(format!("printed a panic: {tail}")),
        Some(_) => Verdict::Ok,
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
    if std::env::var_os("PARALLAX_FUZZ_PLACE").is_some() {
        seeds.push(vec!["place", "@graph.json", "--json"]);
        seeds.push(vec!["place", "@graph.json", "--objective", "latency"]);
    }
    let mut g = Gen(seed);
    let mut failures = Vec::new();
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
            }
        }
        // Mutate arguments (never the subcommand).
        for _ in 0..g.below(3) {
            if args.len() < 2 {
                break;
            }
            let i = 1 + g.below(args.len() - 1);
            match g.below(5) {
                0 | 1 => args[i] = g.pick(HOSTILE).to_string(),
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
        if let Verdict::Bad(why) = run_capped(&args) {
            failures.push(format!("run {run}: parallax {args:?}: {why}"));
        }
    }
    eprintln!(
        "cli fuzz: {runs} runs (seed {seed}) in {:.1} s, {} failures",
        start.elapsed().as_secs_f64(),
        failures.len()
    );
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
