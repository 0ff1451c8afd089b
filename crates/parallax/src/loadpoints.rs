//! Closed-loop load points of real serving engines (the aiconfigurator "silicon" CSV):
//! parsing, prediction with the matching engine model, and error summaries.
//!
//! Each row is one deployment (engine, GPU, model, TP/PP) at one load point of a closed-loop
//! benchmark: every request has `isl` input and `osl` output tokens and the client keeps
//! `concurrency` requests in flight. The measured mean TTFT and TPOT are compared with a
//! simulation of the same benchmark.
//!
//! # The simulated benchmark
//! The benchmark protocol is not recorded in the file; Parallax simulates the one of
//! aiconfigurator's own harness (its eval runner: `aiperf profile --concurrency c
//! --request-count 10c --warmup-request-count 2c --num-dataset-entries 12c --streaming`,
//! fixed lengths, `ignore_eos`: every request its own prompt).
//! AIPerf waits for every warm-up response before its profiling phase starts; that phase
//! sends `c` requests at once and then one whenever a response completes, until `10c` were
//! sent ([`parallax_sim::SimConfig::max_concurrency`]), and the means are over those `10c`:
//! the first wave and the final drain included. With distinct prompts the warm-up leaves
//! nothing behind that the engine would reuse, so only the profiling phase is simulated.
//! (The harness's later benchmark templates send `50c`, then `20c`, requests; the
//! development rows fit `10c` best: median TTFT error 23.1 % against 30.6 % at `20c` and
//! 38.1 % at `50c`.) A benchmark that drew its prompts from a smaller pool, as aiperf does
//! without `--num-dataset-entries` ([`AIPERF_DATASET_ENTRIES`]), is simulated with
//! [`LoadPointOptions::prompt_pool`]: then the warm-up runs too, since the prompts it leaves
//! cached are hit later by engines that cache prefixes (vLLM V1 and SGLang by default;
//! TensorRT-LLM as aiconfigurator deploys it does not).
//! A worker spans `tp × pp × attention_dp` GPUs, on nodes of 8 (a wider one crosses the
//! network between them; on GB200 and GB300 racks up to 72 share NVLink); its `batch_size` (the configured maximum of
//! running requests per attention-DP rank) times `attention_dp` becomes the engine's
//! `max_num_seqs`, and a concurrency above that means `⌈concurrency / (batch_size ×
//! attention_dp)⌉` workers (data-parallel replicas behind a round-robin router). Everything else
//! is the engine preset's default ([`crate::engine_model`]) as aiconfigurator's generator
//! changed it for the row's engine and release (token budget, CUDA graphs, SGLang's mixed
//! chunks).

use crate::cost::CostModelChoice;
use crate::cost_file::CostSource;
use crate::error::Result;
use crate::validate::bad;
use parallax_hw::profile::ErrorSummary;
use parallax_hw::Cluster;
use parallax_ir::Model;
use parallax_plan::{lower_plan, EngineKind, EngineModel, LowerOptions};
use parallax_sim::rng::SplitMix64;
use parallax_sim::workload::{Prefix, Request, Workload};
use parallax_sim::RequestRecord;
use parallax_sim::{SimConfig, Simulator};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

mod deploy;
pub mod disagg;

pub use deploy::AICONFIGURATOR_TRTLLM_FREE_FRACTION;
pub(crate) use deploy::{benchmark_prefix_caching, parse_version, row_engine, row_model, row_plan};
pub use disagg::DisaggShape;

/// Measured requests per unit of concurrency (the profiling phase; see the module docs).
pub const MEASURED_PER_CLIENT: usize = 10;
/// Largest client concurrency a load point may record (aiconfigurator's largest is 552): the
/// simulation of one point runs `10 × concurrency` requests (twice with a stagger).
pub const MAX_CONCURRENCY: u32 = 4096;

/// One row of a load-point file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadPoint {
    /// Line of the file (1-based, header = 1).
    pub line: usize,
    /// Row id as written.
    pub id: String,
    /// Engine (`backend` column).
    pub engine: EngineKind,
    /// Engine version as written (may be empty).
    pub engine_version: String,
    /// Hugging Face model id as written.
    pub model: String,
    /// GPU system as written (`h100_sxm`, …).
    pub system: String,
    /// `agg` or `disagg`.
    pub mode: String,
    /// Input tokens per request.
    pub isl: u32,
    /// Output tokens per request.
    pub osl: u32,
    /// Client concurrency (`silicon_concurrency=N` in the provenance, else a `_c<N>_` token of
    /// the id, else the configured batch size); `None` when none is recorded.
    pub concurrency: Option<u32>,
    /// Tensor-parallel degree (agg rows).
    pub tp: u32,
    /// Pipeline-parallel degree (agg rows).
    pub pp: u32,
    /// Configured maximum of running requests per worker (per attention-data-parallel rank
    /// with `attention_dp` > 1), when recorded.
    pub batch_size: Option<u32>,
    /// Attention data-parallel ranks of a worker (agg rows; 1 when the column is missing,
    /// empty or 0). A worker spans `tp × pp × attention_dp` GPUs.
    pub attention_dp: u32,
    /// MoE tensor-parallel degree (agg rows; `None` when missing, empty or 0).
    pub moe_tp: Option<u32>,
    /// MoE expert-parallel degree (agg rows; `None` when missing, empty or 0).
    pub moe_ep: Option<u32>,
    /// GEMM quantisation as written (`fp8`, `fp8_block`, `nvfp4`, …; empty = none).
    pub quantization: String,
    /// MoE quantisation as written (`moe_quant_mode`: `fp8`, `w4afp8`, `w4a16_mxfp4`, …;
    /// empty or missing = the checkpoint's).
    pub moe_quantization: String,
    /// Measured mean TTFT, ms.
    pub ttft_ms: f64,
    /// Measured mean TPOT, ms.
    pub tpot_ms: f64,
    /// Disaggregated rows: the prefill and decode pools (`None` for agg rows, or when the
    /// worker counts are not recorded).
    pub disagg: Option<DisaggShape>,
}

/// True when `header` (the first line of a CSV) is a load-point file's.
pub fn is_load_point_header(header: &str) -> bool {
    // read as CSV: names may be quoted
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(header.as_bytes());
    let Some(Ok(cols)) = rdr.records().next() else {
        return false;
    };
    // any of aiconfigurator's own columns marks the file, so that one missing column is
    // named as such rather than the file taken for another format
    cols.iter().any(|c| {
        let c = c.trim().to_ascii_lowercase();
        matches!(
            c.as_str(),
            "silicon_ttft_ms" | "silicon_tpot_ms" | "silicon_data_source"
        )
    })
}

/// Line numbers of a CSV text by byte offset, for offsets visited in increasing order (O(n)
/// over a file): the 1-based line of the first line at or after an offset that is neither
/// blank nor a `#` comment, where the record there starts.
struct LineCursor<'a> {
    text: &'a str,
    byte: usize,
    line: usize,
}

impl<'a> LineCursor<'a> {
    fn new(text: &'a str) -> Self {
        LineCursor {
            text,
            byte: 0,
            line: 1,
        }
    }

    fn content_line(&mut self, byte: usize) -> usize {
        let byte = byte.min(self.text.len());
        if byte >= self.byte {
            self.line += self.text.as_bytes()[self.byte..byte]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.byte = byte;
        }
        let (mut at, mut line) = (self.byte, self.line);
        // (an offset inside a character, which the reader never gives, stops the scan)
        while let Some(rest) = self.text.get(at..).filter(|r| !r.is_empty()) {
            let this = rest.split('\n').next().unwrap_or("");
            let skipped = this.trim_end_matches('\r').is_empty() || this.starts_with('#');
            if !skipped || this.len() == rest.len() {
                break;
            }
            at += this.len() + 1;
            line += 1;
        }
        line
    }
}

/// Parse a load-point CSV (aiconfigurator's silicon columns; see `docs/measured-format.md`).
///
/// # Errors
/// [`crate::Error::Cell`] naming the file, line and column for a missing column or a bad value,
/// or a file with no load point after its header.
pub fn parse_load_points(file: &str, text: &str) -> Result<Vec<LoadPoint>> {
    // lines starting with `#` are comments, as in the other CSV formats
    // (row lengths are checked below, so that a blank line of spaces is skipped as in the
    // other formats and a short row is quoted)
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    // the reader records where it was before skipping comment and blank lines: lines are
    // counted here instead, from each record's offset
    let mut lines = LineCursor::new(text);
    let header_line = lines.content_line(0);
    let headers = rdr
        .headers()
        .map_err(|e| {
            bad(
                file,
                header_line,
                "header",
                "",
                &format!("a CSV header ({e})"),
            )
        })?
        .clone();
    // A column named twice would be read from its first copy only.
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        // empty names are trailing commas, as spreadsheets export them
        if !h.is_empty()
            && headers
                .iter()
                .take(i)
                .any(|e| e.trim().eq_ignore_ascii_case(h))
        {
            return Err(bad(file, header_line, h, h, "each column once"));
        }
    }
    let col = |name: &str| -> Result<usize> {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| bad(file, header_line, name, "", &format!("a `{name}` column")))
    };
    let c_id = col("id")?;
    let c_src = col("silicon_data_source")?;
    let c_backend = col("backend")?;
    let c_version = col("backend_version")?;
    let c_model = col("model_path")?;
    let c_system = col("system")?;
    let c_mode = col("mode")?;
    let c_isl = col("isl")?;
    let c_osl = col("osl")?;
    let c_quant = col("gemm_quant_mode")?;
    let c_batch = col("batch_size")?;
    let c_tp = col("tp_size")?;
    let c_pp = col("pp_size")?;
    let c_ttft = col("silicon_ttft_ms")?;
    let c_tpot = col("silicon_tpot_ms")?;
    // optional columns (older files lack them)
    let opt_col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let c_adp = opt_col("attention_dp_size");
    let c_moe_tp = opt_col("moe_tp_size");
    let c_moe_ep = opt_col("moe_ep_size");
    let c_moe_quant = opt_col("moe_quant_mode");
    const MAX_TOKENS: u32 = parallax_ir::MAX_SEQUENCE_TOKENS;
    const MAX_BATCH: u32 = parallax_ir::MAX_BATCH_SEQUENCES;
    const MAX_GPUS: u32 = parallax_hw::MAX_CLUSTER_GPUS;
    let pools = disagg::Columns::find(&headers);
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                let line = e
                    .position()
                    .map_or(header_line + 1, |p| lines.content_line(p.byte() as usize));
                return Err(bad(
                    file,
                    line,
                    "*",
                    "",
                    &format!("a well-formed CSV row ({e})"),
                ));
            }
        };
        let line = rec
            .position()
            .map_or(header_line + 1, |p| lines.content_line(p.byte() as usize));
        if rec.len() == 1 && rec[0].trim().is_empty() {
            continue; // a line of blanks
        }
        // no field of this format spans lines: one that does opened a quote it never closed
        // (whatever the row's length: in the last column it swallows the lines after it)
        let runs_on = rec.iter().any(|f| f.contains('\n'));
        if runs_on || rec.len() != headers.len() {
            let row: Vec<&str> = rec.iter().collect();
            let expected = if runs_on {
                "a closing quote: a field opened with `\"` on this line runs on over the \
                 following lines"
                    .to_string()
            } else {
                format!(
                    "{} comma-separated fields like the header, found {} (quote a value that \
                     holds a comma)",
                    headers.len(),
                    rec.len()
                )
            };
            return Err(bad(file, line, "*", &row.join(","), &expected));
        }
        let f = |c: usize| rec.get(c).unwrap_or("").trim();
        // A count in 1..=max (documented in docs/cli.md, Limits), checked before anything is
        // sized from it.
        let count = |c: usize, name: &str, default: Option<u32>, max: u32| -> Result<u32> {
            let v = f(c);
            let expected = format!("a positive integer (at most {max})");
            if v.is_empty() {
                return default.ok_or_else(|| bad(file, line, name, v, &expected));
            }
            v.parse::<u32>()
                .ok()
                .filter(|&n| n > 0 && n <= max)
                .ok_or_else(|| bad(file, line, name, v, &expected))
        };
        let ms = |c: usize, name: &str| crate::validate::time_ms(file, line, name, f(c));
        let engine: EngineKind = f(c_backend).parse().map_err(|_| {
            bad(
                file,
                line,
                "backend",
                f(c_backend),
                "one of trtllm, vllm, sglang",
            )
        })?;
        let mode = f(c_mode).to_ascii_lowercase();
        if mode != "agg" && mode != "disagg" {
            return Err(bad(file, line, "mode", f(c_mode), "agg or disagg"));
        }
        let agg = mode != "disagg";
        // The release decides version-dependent defaults (token budgets, mixed chunks,
        // streaming): one that does not parse would silently select the oldest behaviour.
        if !f(c_version).is_empty() && parse_version(f(c_version)).is_none() {
            return Err(bad(
                file,
                line,
                "backend_version",
                f(c_version),
                "a release such as 0.12.0, 0.5.6.post2 or 1.0.0rc3 (empty: the engine's \
                 current defaults)",
            ));
        }
        // an optional degree: empty or 0 (aiconfigurator writes 0 for "not used") is None
        let degree = |c: Option<usize>, name: &str| -> Result<Option<u32>> {
            match c {
                Some(c) if !f(c).is_empty() && f(c) != "0" => {
                    count(c, name, None, MAX_GPUS).map(Some)
                }
                _ => Ok(None),
            }
        };
        let batch_size = if f(c_batch).is_empty() {
            None
        } else {
            Some(count(c_batch, "batch_size", None, MAX_BATCH)?)
        };
        // `silicon_concurrency=N` in the provenance string; else `_c<N>_` in the id; else the
        // configured batch size.
        let mut from_id: Option<u32> = None;
        let expected =
            format!("one client concurrency `_c<N>_` with N from 1 to {MAX_CONCURRENCY} in the id");
        for t in f(c_id).split('_') {
            let Some(d) = t
                .strip_prefix('c')
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let n = d
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0 && n <= MAX_CONCURRENCY)
                .ok_or_else(|| bad(file, line, "id", f(c_id), &expected))?;
            if from_id.is_some_and(|m| m != n) {
                return Err(bad(file, line, "id", f(c_id), &expected));
            }
            from_id = Some(n);
        }
        let given: Vec<&str> = f(c_src)
            .split(';')
            .map(str::trim)
            .filter_map(|kv| kv.strip_prefix("silicon_concurrency="))
            .map(str::trim)
            .collect();
        if given.iter().any(|v| *v != given[0]) {
            return Err(bad(
                file,
                line,
                "silicon_data_source",
                f(c_src),
                "one silicon_concurrency (the row gives several different ones)",
            ));
        }
        let concurrency = match given.first() {
            Some(v) => Some(
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0 && n <= MAX_CONCURRENCY)
                    .ok_or_else(|| {
                        bad(
                            file,
                            line,
                            "silicon_data_source",
                            f(c_src),
                            &format!(
                                "silicon_concurrency=<positive integer, at most \
                                     {MAX_CONCURRENCY}>"
                            ),
                        )
                    })?,
            ),
            // a disaggregated row's pools imply theirs (`decode_batch_size × decode_num_workers`,
            // see `disagg`); `batch_size` is an aggregated worker's
            None => from_id.or(batch_size.filter(|&b| agg && b <= MAX_CONCURRENCY)),
        };
        if let (Some(v), Some(n)) = (given.first(), from_id) {
            if v.parse::<u32>().ok() != Some(n) {
                return Err(bad(
                    file,
                    line,
                    "silicon_data_source",
                    f(c_src),
                    &format!(
                        "the concurrency the id names (`_c{n}_` in `{}`), or an id without one",
                        f(c_id)
                    ),
                ));
            }
        }
        out.push(LoadPoint {
            line,
            id: f(c_id).to_string(),
            engine,
            engine_version: f(c_version).to_string(),
            model: f(c_model).to_string(),
            system: f(c_system).to_string(),
            mode,
            isl: count(c_isl, "isl", None, MAX_TOKENS)?,
            osl: match count(c_osl, "osl", None, MAX_TOKENS)? {
                // TPOT is the time between output tokens: a row records one only with two
                // (a 1-token row predicted NaN)
                1 => {
                    return Err(bad(
                        file,
                        line,
                        "osl",
                        f(c_osl),
                        &format!("at least 2 output tokens, whose TPOT the row records (at most {MAX_TOKENS})"),
                    ))
                }
                n => n,
            },
            concurrency,
            tp: if agg {
                count(c_tp, "tp_size", None, MAX_GPUS)?
            } else {
                1
            },
            pp: if agg {
                count(c_pp, "pp_size", Some(1), MAX_GPUS)?
            } else {
                1
            },
            batch_size,
            attention_dp: if agg {
                degree(c_adp, "attention_dp_size")?.unwrap_or(1)
            } else {
                1
            },
            moe_tp: if agg {
                degree(c_moe_tp, "moe_tp_size")?
            } else {
                None
            },
            moe_ep: if agg {
                degree(c_moe_ep, "moe_ep_size")?
            } else {
                None
            },
            quantization: f(c_quant).to_ascii_lowercase(),
            moe_quantization: c_moe_quant
                .map(|c| f(c).to_ascii_lowercase())
                .unwrap_or_default(),
            ttft_ms: ms(c_ttft, "silicon_ttft_ms")?,
            tpot_ms: ms(c_tpot, "silicon_tpot_ms")?,
            disagg: if agg {
                None
            } else {
                pools.shape(&rec, file, line)?
            },
        });
    }
    if out.is_empty() {
        return Err(bad(
            file,
            header_line,
            "(rows)",
            "",
            "at least one load point after the header",
        ));
    }
    Ok(out)
}

/// The catalogue GPU of a `system` column value (`h100_sxm` → `H100-SXM`).
pub fn gpu_of_system(system: &str) -> Option<&'static str> {
    match system.to_ascii_lowercase().as_str() {
        "h100_sxm" | "h100" => Some("H100-SXM"),
        "h200_sxm" | "h200" => Some("H200"),
        "b200_sxm" | "b200" => Some("B200"),
        "gb200" => Some("GB200"),
        "b300_sxm" | "b300" => Some("B300"),
        "gb300" => Some("GB300"),
        "a100_sxm" | "a100" => Some("A100-80GB-SXM"),
        "h100_pcie" => Some("H100-PCIe"),
        "l40s" => Some("L40S"),
        _ => None,
    }
}

/// The aiconfigurator spelling of a GPU system as written (`H100_SXM` and `h100` are
/// `h100_sxm`), so that one GPU is summarised once however rows spell it; a system
/// [`gpu_of_system`] does not know is kept as written.
fn system_name(system: &str) -> String {
    match gpu_of_system(system) {
        Some("H100-SXM") => "h100_sxm".into(),
        Some("H200") => "h200_sxm".into(),
        Some("B200") => "b200_sxm".into(),
        Some("B300") => "b300_sxm".into(),
        Some("A100-80GB-SXM") => "a100_sxm".into(),
        Some(_) => system.to_ascii_lowercase(),
        None => system.to_string(),
    }
}

/// The model of a checkpoint id: the id itself when it resolves, else an embedded model of
/// the same architecture, found from its name without the organisation, trying after each
/// suffix it sheds:
/// * quantisation suffixes (`-FP8`, `-NVFP4`, `-FP4`, `-MXFP4`, `-BF16`, `-INT4`, `-INT8`,
///   `-W8A8`, `-W8A16`, `-W4A16`, `-AWQ`, `-GPTQ`, `-quantized.w8a8` and its kin, and the
///   scale kinds `-Static`,
///   `-Dynamic`, `-PerTensor`) and variant suffixes (`-Instruct`, `-Thinking`, `-chat`,
///   `-hf`): `nvidia/Llama-3.1-8B-Instruct-FP8` → `llama-3.1-8b`,
///   `nvidia/Llama-4-Maverick-17B-128E-Instruct-FP8` → `llama-4-maverick`,
///   `Qwen/Qwen3-32B-FP8-Static-PerTensor` → `qwen3-32b`;
/// * a release date (`-0528`, `-2507`): a re-release of the same architecture
///   (`deepseek-ai/DeepSeek-R1-0528` → `deepseek-r1`);
/// * and these renames of checkpoints whose `config.json` has the same architecture as an
///   embedded one: Meta's old repository names (`Meta-Llama-3.1-70B` → `llama-3.1-70b`),
///   Llama 3.3 70B (Llama 3.1 70B's architecture), DeepSeek-V3.1 (DeepSeek-V3's) and
///   Mixtral's instruct releases (`Mixtral-8x7B-Instruct-v0.1` → `mixtral-8x7b`).
///
/// A checkpoint found after shedding a quantisation suffix is stored as that suffix says, and
/// every engine runs it so (its weights cannot be loaded as anything else), so the model
/// returned carries it: `nvidia/Llama-3.3-70B-Instruct-FP8` is Llama 3.1
/// 70B's architecture with fp8 weights and GEMMs, `nvidia/DeepSeek-R1-FP4` DeepSeek-R1's with
/// NVFP4 ones, `unsloth/gpt-oss-20b-BF16` gpt-oss-20b's with its experts in bf16.
///
/// `None` when nothing embedded matches (e.g. a model whose architecture differs from every
/// embedded one).
pub fn model_of_checkpoint(id: &str) -> Option<Model> {
    if let Ok(m) = parallax_ir::resolve(id) {
        return Some(m);
    }
    let org = id
        .rsplit_once('/')
        .map_or("", |(org, _)| org)
        .to_ascii_lowercase();
    let mut name = id.rsplit('/').next().unwrap_or(id).to_ascii_lowercase();
    let mut shed_suffixes: Vec<&'static str> = Vec::new();
    loop {
        if let Some(mut m) = same_architecture(&name) {
            let is_moe = m.has_cell(|c| matches!(c, parallax_ir::Cell::Moe(_)));
            m.precision = stored_as(m.precision, is_moe, &org, &shed_suffixes);
            return Some(m);
        }
        let shed = [
            "-fp8",
            "-nvfp4",
            "-fp4",
            "-mxfp4",
            "-bf16",
            "-int4",
            "-int8",
            "-w8a8",
            "-w8a16",
            "-w4a16",
            "-awq",
            "-gptq",
            "-quantized.w8a8",
            "-quantized.w8a16",
            "-quantized.w4a16",
            "-static",
            "-dynamic",
            "-pertensor",
            "-instruct",
            "-thinking",
            "-chat",
            "-hf",
            // NVIDIA's re-releases of a quantised checkpoint (`DeepSeek-R1-0528-FP4-v2`)
            "-v2",
        ]
        .iter()
        .find_map(|suffix| {
            let base = name.strip_suffix(suffix)?;
            shed_suffixes.push(suffix);
            Some(base)
        })
        .or_else(|| {
            // a release date: `-MMDD` or `-YYMM`
            let (base, date) = name.rsplit_once('-')?;
            (date.len() == 4 && date.bytes().all(|b| b.is_ascii_digit())).then_some(base)
        });
        match shed {
            Some(base) => name = base.to_string(),
            None => return None,
        }
    }
}

/// The precision of a checkpoint of organisation `org` (lower case; `is_moe`: its architecture
/// has MoE layers) whose name carried the
/// quantisation suffixes in `shed` (as [`model_of_checkpoint`] shed them, outermost first)
/// and whose architecture's embedded configuration has precision `base`. The outermost
/// suffix naming a storage format decides:
/// * `-fp8`: W8A8 fp8 ([`Quantization::Fp8`](parallax_ir::Quantization::Fp8)), block-scaled
///   for Qwen's own releases (their `quantization_config` is `fp8` with `weight_block_size`
///   \[128, 128\], e.g. `Qwen/Qwen3-32B-FP8`) and for a repost of a block-scaled checkpoint
///   (DeepSeek-V3's) unless the name says `-Static` or `-PerTensor`, per tensor or channel
///   otherwise (ModelOpt's `nvidia/…-FP8`, compressed-tensors' `RedHatAI/…-FP8-dynamic`); Meta's
///   own fp8 releases of a MoE model (`meta-llama/Llama-4-…-FP8`) convert the routed experts
///   only;
/// * `-nvfp4`, `-fp4`: NVFP4 (ModelOpt's `nvidia/…-FP4`, `…-NVFP4`);
/// * `-mxfp4`: MXFP4 weights;
/// * `-int4`, `-w4a16`, `-awq`, `-gptq`, `-quantized.w4a16`: 4-bit weight-only;
/// * `-int8`, `-w8a16`, `-w8a8`, `-quantized.w8a8`, `-quantized.w8a16`: 8-bit weights, priced
///   as weight-only int8 (Parallax has no int8 tensor-core scheme; decode, bound by weight
///   bytes, is what the stored type decides);
/// * `-bf16`: every weight in the activation type (a dequantised release such as
///   `unsloth/gpt-oss-20b-BF16`).
///
/// No such suffix: `base` unchanged.
fn stored_as(
    base: parallax_ir::Precision,
    is_moe: bool,
    org: &str,
    shed: &[&str],
) -> parallax_ir::Precision {
    use parallax_ir::{DType, Quantization as Q};
    let format = shed.iter().find_map(|s| {
        Some(match *s {
            "-fp8" => Some(Q::Fp8),
            "-nvfp4" | "-fp4" => Some(Q::Nvfp4),
            "-mxfp4" => Some(Q::Mxfp4),
            "-int4" | "-w4a16" | "-awq" | "-gptq" | "-quantized.w4a16" => Some(Q::Int4),
            "-int8" | "-w8a16" | "-w8a8" | "-quantized.w8a8" | "-quantized.w8a16" => Some(Q::Int8),
            "-bf16" => None,
            _ => return None,
        })
    });
    match format {
        None => base,
        // a 16-bit release: every weight, the experts' too, in the activation type
        Some(None) => parallax_ir::Precision {
            weights: base.activations,
            compute: base.activations,
            experts: None,
            fp8_block_scales: false,
            expert_fp8_block_scales: None,
            ..base
        },
        // Meta's own fp8 Llama 4 releases convert the routed experts only (attention, the
        // shared expert and the router stay in bf16: `modules_to_not_convert`)
        Some(Some(Q::Fp8)) if org == "meta-llama" && base.experts.is_none() && is_moe => {
            base.with_experts_quantized(Q::Fp8)
        }
        Some(Some(q)) => {
            let per_tensor = shed.iter().any(|s| matches!(*s, "-static" | "-pertensor"));
            // Qwen's releases, and a repost of a block-scaled fp8 checkpoint, keep blocks
            let block = q == Q::Fp8
                && !per_tensor
                && (org == "qwen" || (base.weights == DType::Fp8 && base.fp8_block_scales));
            let stored = parallax_ir::Precision {
                // the release stores the experts as every other weight
                experts: None,
                expert_fp8_block_scales: None,
                ..base
            }
            .quantized(q);
            parallax_ir::Precision {
                fp8_block_scales: block,
                ..stored
            }
        }
    }
}

/// An embedded model named `name` (lower case, no organisation), or of the same
/// architecture under one of the renames [`model_of_checkpoint`] lists.
fn same_architecture(name: &str) -> Option<Model> {
    let resolve = |n: &str| parallax_ir::resolve(n).ok();
    if let Some(m) = resolve(name) {
        return Some(m);
    }
    let renamed = if let Some(rest) = name.strip_prefix("meta-") {
        rest.to_string()
    } else if let Some(rest) = name.strip_prefix("llama-3.3-70b") {
        format!("llama-3.1-70b{rest}")
    } else if let Some(rest) = name.strip_prefix("deepseek-v3.1") {
        format!("deepseek-v3{rest}")
    } else if let Some(rest) = ["deepseek-v3.2-exp", "deepseek-v3.2-speciale"]
        .iter()
        .find_map(|p| name.strip_prefix(p))
    {
        // the same sparse-attention architecture as DeepSeek-V3.2
        format!("deepseek-v3.2{rest}")
    } else if let Some(rest) = name.strip_prefix("glm-5.1") {
        // GLM-5.1's config differs from GLM-5's only in its transformers version
        format!("glm-5{rest}")
    } else if let Some(rest) = ["minimax-m2.7", "minimax-m2.1", "minimax-m2"]
        .iter()
        .find_map(|p| name.strip_prefix(p))
    {
        // MiniMax-M2, M2.1, M2.5 and M2.7 share one architecture (62 layers of 256 experts)
        format!("minimax-m2.5{rest}")
    } else if let Some((family, version)) = name
        .strip_prefix("mixtral-")
        .and_then(|r| r.split_once("-instruct-"))
    {
        format!("mixtral-{family}-{version}")
    } else {
        return None;
    };
    resolve(&renamed)
}

/// The GEMM quantisation of a `gemm_quant_mode` value, as aiconfigurator's `GEMMQuantMode`
/// defines them: `fp8`, `fp8_block` (block-scaled), `fp8_static` and `fp8_ootb` are W8A8
/// fp8, `nvfp4` is W4A4 fp4, `int4_wo` / `int8_wo` weight-only, `nvfp4_wo` / `w4a16_nvfp4`
/// fp4 weight-only (as `mxfp4`); `bfloat16` (or `float16`, or empty) is none. `sq` (W8A8
/// int8 SmoothQuant) has no scheme here.
///
/// # Errors
/// The value, for any other mode.
pub fn quantization_of(
    mode: &str,
) -> std::result::Result<Option<parallax_ir::Quantization>, String> {
    use parallax_ir::Quantization as Q;
    Ok(match mode.trim().to_ascii_lowercase().as_str() {
        "" | "none" | "bfloat16" | "bf16" | "float16" | "fp16" => None,
        "fp8" | "fp8_block" | "fp8_pc_pt" | "fp8_static" | "fp8_ootb" => Some(Q::Fp8),
        "nvfp4" | "fp4" => Some(Q::Nvfp4),
        "int4_wo" | "w4a16" => Some(Q::Int4),
        "int8_wo" | "w8a16" => Some(Q::Int8),
        // fp4 weights dequantised to the activation type (the block scales are not
        // counted, see `DType::Fp4`)
        "mxfp4" | "nvfp4_wo" | "w4a16_nvfp4" => Some(Q::Mxfp4),
        other => return Err(format!("GEMM quantisation `{other}` is not modelled")),
    })
}

/// The routed experts' (weight, GEMM-input) types of a `moe_quant_mode` value, as
/// aiconfigurator's `MoEQuantMode` defines them, with `act` the activation type: every GEMM
/// mode of [`quantization_of`] (`fp8`, `fp8_block`, `int4_wo`, `nvfp4`, …) means the same
/// for the experts (`nvfp4_wo` and `w4a16_nvfp4` fp4 weight-only among them); besides,
/// `bfloat16` is unquantised (overriding the checkpoint's experts), `w4afp8` int4 weights on
/// fp8 GEMM inputs, `w4a16_mxfp4` (gpt-oss's own) and `w4a16_mxfp4_cutlass` fp4
/// weight-only, `w4a8_mxfp4_mxfp8` (and its `_trtllm` kernel) fp4
/// weights on fp8 inputs. `None` for an empty value: the checkpoint's own experts stand (a
/// dense model has none, so any value leaves it unchanged).
///
/// # Errors
/// The value, for any other mode.
pub fn moe_quantization_of(
    mode: &str,
    act: parallax_ir::DType,
) -> std::result::Result<Option<(parallax_ir::DType, parallax_ir::DType)>, String> {
    use parallax_ir::DType as D;
    let mode = mode.trim().to_ascii_lowercase();
    Ok(Some(match mode.as_str() {
        "" | "none" => return Ok(None),
        "bfloat16" | "bf16" | "fp16" | "float16" => (act, act),
        "w4afp8" => (D::Int4, D::Fp8),
        "w4a16_mxfp4" | "w4a16_mxfp4_cutlass" => (D::Fp4, act),
        "w4a8_mxfp4_mxfp8" | "w4a8_mxfp4_mxfp8_trtllm" => (D::Fp4, D::Fp8),
        gemm => match quantization_of(gemm) {
            Ok(Some(q)) => q.dtypes(act),
            _ => return Err(format!("MoE quantisation `{mode}` is not modelled")),
        },
    }))
}

/// One predicted load point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadPointComparison {
    /// The row.
    pub point: LoadPoint,
    /// Why the row was not predicted (unknown GPU or model, disaggregated, …).
    pub skipped: Option<String>,
    /// Predicted mean TTFT, ms (NaN when skipped).
    pub predicted_ttft_ms: f64,
    /// Predicted mean TPOT, ms (NaN when skipped).
    pub predicted_tpot_ms: f64,
    /// Signed TTFT error, percent of measured.
    pub ttft_error_pct: f64,
    /// Signed TPOT error, percent of measured.
    pub tpot_error_pct: f64,
    /// How the row was deployed in the simulation (aggregated rows that were predicted).
    pub deployment: Option<Deployment>,
}

/// How an aggregated load point was deployed in the simulation: the cluster, plan and the
/// engine settings its engine model and aiconfigurator's generator gave it (see the module
/// docs), so that a prediction can be checked against the deployment it assumes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// The cluster simulated (`NxGxGPU`: every worker of the row).
    pub cluster: String,
    /// The plan (workers as `dp`, attention / MoE layouts).
    pub plan: String,
    /// The engine model's name.
    pub engine: String,
    /// Most requests running at once per worker.
    pub max_num_seqs: u32,
    /// Token budget of one iteration per worker.
    pub token_budget: u32,
    /// Most prompt tokens one request prefills per iteration, when below the budget.
    pub prefill_chunk_per_request: Option<u32>,
    /// The KV-cache entry type.
    pub kv_cache: String,
    /// The engine's memory setting (vLLM's `gpu_memory_utilization`, SGLang's
    /// `mem_fraction_static`, TensorRT-LLM's `free_gpu_memory_fraction`).
    pub memory_fraction: f64,
    /// Largest decode batch replayed as a CUDA graph (0: none).
    pub cuda_graph_max_batch: u32,
    /// The engine forms the next batch while one runs.
    pub schedule_ahead: bool,
    /// Speculative decoding, if any.
    pub speculation: Option<parallax_sim::Speculation>,
}

/// Median errors of one engine on one GPU.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadPointSummary {
    /// Engine name.
    pub engine: String,
    /// GPU system as written.
    pub system: String,
    /// Mean-TTFT |error| summary.
    pub ttft: Option<ErrorSummary>,
    /// Mean-TPOT |error| summary.
    pub tpot: Option<ErrorSummary>,
}

/// Predictions of a load-point file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadPointReport {
    /// The file as given.
    pub file: String,
    /// Cost model used.
    pub cost_model: String,
    /// The benchmark's prompt pool as assumed ([`LoadPointOptions::prompt_pool`]; `None`:
    /// every request its own prompt).
    pub prompt_pool: Option<u32>,
    /// One comparison per row, in file order.
    pub rows: Vec<LoadPointComparison>,
    /// Per (engine, system), in that order.
    pub by_engine: Vec<LoadPointSummary>,
    /// Over every predicted row: TTFT.
    pub ttft: Option<ErrorSummary>,
    /// Over every predicted row: TPOT.
    pub tpot: Option<ErrorSummary>,
    /// Disaggregated rows, summarised apart (they are in neither `by_engine` nor the overall
    /// summaries).
    pub disaggregated: LoadPointSummary,
}

/// How far apart the benchmark's clients start, as a fraction of one request's lifetime
/// (0: all at once, 1: evenly spread). The benchmark's profiling phase starts every client at
/// once (aiperf `--concurrency`), and so does the simulation: 0. A positive value spreads the
/// clients' first requests, for studies: on the development rows it is worse for every engine
/// on H100 (median TTFT error on vLLM 11 % at 0, 23 % at 0.1, 40 % at 0.2; `fit_engines --
/// --stagger`) and better only for the anomalous vLLM H200 FP8 rows.
pub const CLIENT_STAGGER: f64 = 0.0;

/// Settings of [`validate_load_points`].
#[derive(Debug, Clone)]
pub struct LoadPointOptions {
    /// Cost model.
    pub cost_model: CostSource,
    /// Replace the host terms of every engine (for fitting them); `None` keeps the presets'.
    pub host: Option<parallax_sim::HostOverhead>,
    /// Client start spread ([`CLIENT_STAGGER`] by default).
    pub stagger: f64,
    /// Predict every row with this engine model instead of its backend's (e.g.
    /// [`EngineModel::none`] to see the bare simulator); `None` (default): the row's backend.
    pub engine: Option<EngineModel>,
    /// Replace every engine's frontend latency (for fitting it); `None` keeps the presets'.
    pub frontend_latency_s: Option<f64>,
    /// Replace every engine's schedule-ahead setting (for studying it); `None` keeps the
    /// presets'.
    pub schedule_ahead: Option<bool>,
    /// The benchmark drew its prompts from a pool of this many distinct prompts (aiperf's
    /// dataset entries; [`AIPERF_DATASET_ENTRIES`] when its `--num-dataset-entries` was not
    /// given), so engines that cache prefixes reuse a repeated prompt's KV blocks (see the
    /// module docs). `None` (default): every request its own prompt, as the development
    /// rows' harness sent them.
    pub prompt_pool: Option<u32>,
}

/// Distinct prompts aiperf generates for a synthetic benchmark when `--num-dataset-entries`
/// is not given (its documented default), reused in shuffled order (`shuffle` sampling:
/// without replacement, re-shuffled once exhausted).
pub const AIPERF_DATASET_ENTRIES: u32 = 100;

impl Default for LoadPointOptions {
    fn default() -> Self {
        LoadPointOptions {
            cost_model: CostSource::Choice(CostModelChoice::default()),
            host: None,
            stagger: CLIENT_STAGGER,
            engine: None,
            frontend_latency_s: None,
            schedule_ahead: None,
            prompt_pool: None,
        }
    }
}

/// Predict one load point with its engine's model. `Err(reason)` when it cannot be predicted.
pub fn predict_load_point(
    p: &LoadPoint,
    opts: &LoadPointOptions,
) -> std::result::Result<(f64, f64), String> {
    predict_deployed(p, opts).map(|(ttft, tpot, _)| (ttft, tpot))
}

/// [`predict_load_point`] with the deployment simulated (`None` for disaggregated rows).
pub fn predict_deployed(
    p: &LoadPoint,
    opts: &LoadPointOptions,
) -> std::result::Result<(f64, f64, Option<Deployment>), String> {
    if p.mode == "disagg" {
        return disagg::predict(p, opts).map(|(ttft, tpot)| (ttft, tpot, None));
    }
    let concurrency = p.concurrency.ok_or_else(|| match p.batch_size {
        // the batch size stands in for a concurrency only up to the most simulated
        Some(b) if b > MAX_CONCURRENCY => format!(
            "no client concurrency recorded (provenance or id), and batch_size {b} cannot \
             stand in for one: at most {MAX_CONCURRENCY} clients are simulated"
        ),
        _ => "no client concurrency recorded (provenance, id or batch_size)".to_string(),
    })?;
    let (gpu, model) = row_model(p)?;
    // `batch_size` is per attention-DP rank: a concurrency above a worker's `batch_size ×
    // attention_dp` means several workers (replicas).
    let adp = p.attention_dp.max(1);
    let per_worker = p.batch_size.map(|b| b.saturating_mul(adp));
    let workers = match per_worker {
        Some(b) if b < concurrency => concurrency.div_ceil(b),
        _ => 1,
    };
    if workers > 64 {
        return Err(format!(
            "{workers} workers implied by concurrency {concurrency} over batch size {}",
            p.batch_size.unwrap_or(0)
        ));
    }
    let width = p.tp.checked_mul(adp).ok_or("tp × attention_dp overflows")?;
    let per_replica = width
        .checked_mul(p.pp)
        .ok_or("tp × attention_dp × pp overflows")?;
    let gpus = per_replica
        .checked_mul(workers)
        .ok_or("tp × pp × workers overflows")?;
    // a wider worker than a node spans nodes of 8 (its collectives cross the network), except
    // within an NVLink domain wider than 8; a TP × DP-attention group that does not pack into
    // nodes of 8 (6, 12, …) runs on nodes as wide as a worker
    let packs = 8 % width == 0 || width % 8 == 0;
    let spec = if gpus <= 8 {
        format!("1x{gpus}x{gpu}")
    } else if gpus % 8 == 0 && packs && (per_replica <= 8 || nvlink_domain(gpu) == 8) {
        format!("{}x8x{gpu}", gpus / 8)
    } else {
        format!("{workers}x{per_replica}x{gpu}")
    };
    let cluster = Cluster::parse(&spec).map_err(|e| e.to_string())?;
    let engine = row_engine(p, opts, &model, &cluster, width, running_cap(p, per_worker));
    let plan = row_plan(p, &model, workers)?;
    let cost = engine.cost_model(
        opts.cost_model.build(&cluster).map_err(|e| e.to_string())?,
        cluster.gpu.memory_bandwidth,
    );
    let lower = LowerOptions {
        required_kv_tokens: p.isl as u64 + p.osl as u64,
        ..engine.lower_options(&LowerOptions::default())
    };
    let lowered = lower_plan(&model, &plan, &cluster, cost, &lower).map_err(|e| e.to_string())?;
    // a prompt pool matters only where the deployed engine reuses cached prefixes
    let pool = opts.prompt_pool.filter(|_| benchmark_prefix_caching(p));
    let mut config = SimConfig {
        max_concurrency: Some(concurrency),
        prefix_caching: pool.is_some(),
        ..engine.sim_config(&SimConfig::default())
    };
    engine.adapt_to_plan(&mut config, &plan);
    let deployment = Deployment {
        cluster: spec,
        plan: plan.to_string(),
        engine: engine.name.clone(),
        max_num_seqs: config.scheduler.max_num_seqs,
        token_budget: config.scheduler.token_budget(),
        prefill_chunk_per_request: config.prefill_chunk_per_request,
        kv_cache: model.precision.kv_cache.to_string(),
        memory_fraction: engine.gpu_memory_utilization,
        cuda_graph_max_batch: lower.cuda_graph_max_batch * u32::from(lower.cuda_graphs),
        schedule_ahead: config.schedule_ahead,
        speculation: config.speculation,
    };
    let sim = Simulator::new(lowered.replicas, config).map_err(|e| e.to_string())?;
    let (ttft, tpot) = closed_loop(&sim, p, concurrency, opts.stagger, pool)?;
    Ok((ttft, tpot, Some(deployment)))
}

/// GPUs that one NVLink domain of catalogue GPU `gpu` joins: 72 on GB200 and GB300 racks
/// (NVL72), 8 on HGX nodes (H100, H200, B200, …): [`parallax_hw::Gpu::scale_up_domain`].
fn nvlink_domain(gpu: &str) -> u32 {
    parallax_hw::catalog::gpu(gpu).map_or(8, |g| g.scale_up_domain())
}

/// The running-request cap of one aggregated worker of `p`, whose `batch_size` (per
/// attention-DP rank, as aiconfigurator counts it) gives `per_worker` slots. SGLang takes the
/// generator's `--max-running-requests batch_size` as the whole worker's and, under DP
/// attention, gives each rank `max_running_requests // dp_size` of it (`TpModelWorker`, and
/// `ModelRunner` since 0.5.7): the worker runs `batch_size` requests, not `batch_size × dp`.
/// vLLM's `--max-num-seqs` and TensorRT-LLM's `max_batch_size` are per rank.
fn running_cap(p: &LoadPoint, per_worker: Option<u32>) -> Option<u32> {
    if p.engine == EngineKind::Sglang && p.attention_dp > 1 {
        p.batch_size
    } else {
        per_worker
    }
}

/// The profiling phase of a load point's closed-loop benchmark on `sim` (aggregated or
/// disaggregated; see the module docs): `MEASURED_PER_CLIENT × concurrency` requests, every
/// client starting at once, as the benchmark's do, all measured. With a positive `stagger` (a study
/// setting, see [`CLIENT_STAGGER`]) that run only measures the mean request lifetime, and a
/// second run starts the clients spread over `stagger ×` that lifetime. Returns the measured
/// requests' mean TTFT and TPOT, ms.
///
/// With a prompt `pool` (`sim` caching prefixes) the warm-up matters too, since it leaves
/// cached prompts behind: [`pooled_loop`].
pub(crate) fn closed_loop(
    sim: &Simulator,
    p: &LoadPoint,
    concurrency: u32,
    stagger: f64,
    pool: Option<u32>,
) -> std::result::Result<(f64, f64), String> {
    let c = concurrency as usize;
    let n = MEASURED_PER_CLIENT * c;
    if let Some(pool) = pool {
        if stagger != 0.0 {
            return Err("a prompt pool with staggered clients is not modelled".into());
        }
        return pooled_loop(sim, p, c, n, pool);
    }
    let workload = |e2e: f64| -> std::result::Result<Workload, String> {
        let requests: Vec<Request> = (0..n)
            .map(|i| Request {
                id: i as u64,
                // Clients start staggered over `e2e` (0: all at once).
                arrival_s: if i < c {
                    e2e * i as f64 / c as f64
                } else {
                    e2e
                },
                prompt_tokens: p.isl,
                output_tokens: p.osl,
                prefix: None,
            })
            .collect();
        Workload::new(&p.id, requests).map_err(|e| e.to_string())
    };
    let first = sim.run(&workload(0.0)?).map_err(|e| e.to_string())?;
    let report = if stagger == 0.0 {
        first
    } else {
        let done: Vec<f64> = first
            .requests
            .iter()
            .filter(|r| r.completed)
            .map(|r| r.e2e_s())
            .collect();
        let lifetime = if done.is_empty() {
            0.0
        } else {
            done.iter().sum::<f64>() / done.len() as f64
        };
        sim.run(&workload(stagger * lifetime)?)
            .map_err(|e| e.to_string())?
    };
    let measured: Vec<&RequestRecord> = report.requests.iter().collect();
    mean_ttft_tpot(p, &measured)
}

/// Mean TTFT and TPOT (ms) of the `measured` requests; an error names one that did not
/// complete.
fn mean_ttft_tpot(
    p: &LoadPoint,
    measured: &[&RequestRecord],
) -> std::result::Result<(f64, f64), String> {
    if let Some(r) = measured.iter().find(|r| !r.completed) {
        return Err(format!(
            "request {} did not complete in the simulation ({})",
            r.id,
            r.rejected.map_or("unfinished".into(), |x| format!("{x:?}"))
        ));
    }
    let k = measured.len() as f64;
    let ttft = measured.iter().map(|r| r.ttft_s()).sum::<f64>() / k * 1e3;
    if p.osl < 2 {
        // rows read from a file are refused when read; a point built in code lands here
        return Err(format!(
            "osl {}: TPOT needs at least 2 output tokens",
            p.osl
        ));
    }
    let tpot = measured.iter().map(|r| r.tpot_s()).sum::<f64>() / k * 1e3;
    Ok((ttft, tpot))
}

/// The benchmark of [`closed_loop`] when its `n` measured requests (and `2c` warm-up requests
/// before them, aiperf's `--warmup-request-count 2c`) draw their prompts from `pool` distinct
/// prompts, in shuffled order re-shuffled once exhausted, warm-up first (one deterministic
/// order; aiperf's own depends on its seed), on an engine that caches prefixes: a prompt seen
/// before hits the blocks it left cached, unless they were evicted since. The warm-up runs as
/// its own closed loop of `c` clients; the measured requests are sent once it has drained
/// (aiperf waits for every warm-up response), `c` at once, as without a pool.
fn pooled_loop(
    sim: &Simulator,
    p: &LoadPoint,
    c: usize,
    n: usize,
    pool: u32,
) -> std::result::Result<(f64, f64), String> {
    if pool == 0 {
        return Err("a prompt pool of 0 prompts".into());
    }
    let warm = 2 * c;
    let order = shuffled_prompts(pool, warm + n);
    let request = |i: usize, arrival_s: f64| Request {
        id: i as u64,
        arrival_s,
        prompt_tokens: p.isl,
        output_tokens: p.osl,
        prefix: Some(Prefix {
            stream: u64::from(order[i]),
            tokens: p.isl,
        }),
    };
    let warm_up: Vec<Request> = (0..warm).map(|i| request(i, 0.0)).collect();
    let workload = |requests| Workload::new(&p.id, requests).map_err(|e| e.to_string());
    let first = sim
        .run(&workload(warm_up.clone())?)
        .map_err(|e| e.to_string())?;
    let drained = first
        .requests
        .iter()
        .map(|r| r.finish_s)
        .fold(0.0, f64::max);
    let mut requests = warm_up;
    requests.extend((warm..warm + n).map(|i| request(i, drained)));
    let report = sim.run(&workload(requests)?).map_err(|e| e.to_string())?;
    let measured: Vec<&RequestRecord> = report
        .requests
        .iter()
        .filter(|r| r.id >= warm as u64)
        .collect();
    mean_ttft_tpot(p, &measured)
}

/// `len` prompt indices below `pool`: permutations of the pool one after another, each from a
/// fixed-seed Fisher–Yates shuffle (the simulator's [`SplitMix64`]). A pool of at least `len`
/// prompts never repeats one, whatever the order: `0..len`.
fn shuffled_prompts(pool: u32, len: usize) -> Vec<u32> {
    if pool as usize >= len {
        return (0..len as u32).collect();
    }
    let mut rng = SplitMix64::new(0x5EED_0FA1_0E4F_0001);
    let mut order = Vec::with_capacity(len + pool as usize);
    while order.len() < len {
        let start = order.len();
        order.extend(0..pool);
        for i in (1..pool as usize).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(start + i, start + j);
        }
    }
    order.truncate(len);
    order
}

fn signed_pct(predicted: f64, measured: f64) -> f64 {
    100.0 * (predicted - measured) / measured
}

/// Predict every row of `points` (in parallel; results in row order) and summarise the
/// errors per engine and GPU.
pub fn validate_load_points(
    file: &str,
    points: &[LoadPoint],
    opts: &LoadPointOptions,
) -> LoadPointReport {
    let rows: Vec<LoadPointComparison> = points
        .par_iter()
        .map(|p| match predict_deployed(p, opts) {
            Ok((ttft, tpot, deployment)) => LoadPointComparison {
                point: p.clone(),
                skipped: None,
                predicted_ttft_ms: ttft,
                predicted_tpot_ms: tpot,
                ttft_error_pct: signed_pct(ttft, p.ttft_ms),
                tpot_error_pct: signed_pct(tpot, p.tpot_ms),
                deployment,
            },
            Err(why) => LoadPointComparison {
                point: p.clone(),
                skipped: Some(why),
                predicted_ttft_ms: f64::NAN,
                predicted_tpot_ms: f64::NAN,
                ttft_error_pct: f64::NAN,
                tpot_error_pct: f64::NAN,
                deployment: None,
            },
        })
        .collect();
    LoadPointReport {
        prompt_pool: opts.prompt_pool,
        ..summarise(file, &opts.cost_model, rows)
    }
}

/// Group `rows` into a report.
pub fn summarise(file: &str, cost: &CostSource, rows: Vec<LoadPointComparison>) -> LoadPointReport {
    let pairs = |rs: &[&LoadPointComparison], ttft: bool| {
        ErrorSummary::from_pairs(rs.iter().filter(|r| r.skipped.is_none()).filter_map(|r| {
            let (p, m) = if ttft {
                (r.predicted_ttft_ms, r.point.ttft_ms)
            } else {
                (r.predicted_tpot_ms, r.point.tpot_ms)
            };
            p.is_finite().then_some((p, m))
        }))
    };
    let mut groups: BTreeMap<(String, String), Vec<&LoadPointComparison>> = BTreeMap::new();
    let is_disagg = |r: &LoadPointComparison| r.point.mode == "disagg";
    for r in rows.iter().filter(|r| !is_disagg(r)) {
        groups
            .entry((
                r.point.engine.name().to_string(),
                system_name(&r.point.system),
            ))
            .or_default()
            .push(r);
    }
    let by_engine = groups
        .into_iter()
        .map(|((engine, system), rs)| LoadPointSummary {
            engine,
            system,
            ttft: pairs(&rs, true),
            tpot: pairs(&rs, false),
        })
        .collect();
    let all: Vec<&LoadPointComparison> = rows.iter().filter(|r| !is_disagg(r)).collect();
    let dis: Vec<&LoadPointComparison> = rows.iter().filter(|r| is_disagg(r)).collect();
    LoadPointReport {
        disaggregated: LoadPointSummary {
            engine: "all".into(),
            system: "all".into(),
            ttft: pairs(&dis, true),
            tpot: pairs(&dis, false),
        },
        file: file.to_string(),
        cost_model: cost.to_string(),
        prompt_pool: None,
        ttft: pairs(&all, true),
        tpot: pairs(&all, false),
        by_engine,
        rows,
    }
}

#[cfg(test)]
mod tests;
