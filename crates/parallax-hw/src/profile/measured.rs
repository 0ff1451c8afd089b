//! The measured-iteration file format (`docs/measured-format.md`) and error summaries.
//!
//! A measured file is a CSV with one whole serving iteration per row:
//!
//! ```text
//! model,gpu,tp,prefill,decode,cuda_graphs,measured_ms
//! llama-3.1-8b,H100-SXM,1,1x2048,,off,95.1
//! llama-3.1-8b,H100-SXM,1,,32x2048,on,9.8
//! llama-3.1-8b,H100-SXM,1,1x512+1024,16x1024,off,31.0
//! ```
//!
//! `prefill` and `decode` hold zero or more specs separated by spaces or `;`, in the CLI's
//! syntax: `BxS` or `BxS+P` (B sequences of S new tokens after P cached ones) and `BxC` (B
//! requests with C tokens of context each). Lines starting with `#` are comments.

use super::csv::Csv;
use super::error::{ProfileError, Row};
use parallax_ir::{Batch, DecodeGroup, PrefillChunk, MAX_BATCH_SEQUENCES, MAX_SEQUENCE_TOKENS};
use std::path::Path;

/// One measured iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredIteration {
    /// Model name as the user wrote it (an embedded short name, HF id or path).
    pub model: String,
    /// GPU name as the user wrote it.
    pub gpu: String,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Prefill specs: (sequences, new tokens, prefix).
    pub prefill: Vec<PrefillSpec>,
    /// Decode specs: (requests, context).
    pub decode: Vec<DecodeSpec>,
    /// Whether the iteration ran inside a CUDA graph.
    pub cuda_graphs: bool,
    /// Measured wall time of the iteration in milliseconds.
    pub measured_ms: f64,
    /// CSV line it came from.
    pub line: usize,
}

/// `BxS+P`: `batch` sequences of `new_tokens` after `prefix` cached tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefillSpec {
    /// Sequences.
    pub batch: u32,
    /// New tokens per sequence.
    pub new_tokens: u32,
    /// Cached tokens before them.
    pub prefix: u32,
}

/// `BxC`: `batch` decode requests of `context` tokens each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeSpec {
    /// Requests.
    pub batch: u32,
    /// Context per request.
    pub context: u32,
}

impl MeasuredIteration {
    /// The iteration's batch as the IR describes it.
    pub fn batch(&self) -> Batch {
        let mut prefill = Vec::new();
        for s in &self.prefill {
            for _ in 0..s.batch {
                prefill.push(PrefillChunk {
                    new_tokens: s.new_tokens,
                    prefix: s.prefix,
                });
            }
        }
        let mut contexts = Vec::new();
        for s in &self.decode {
            contexts.extend(std::iter::repeat(s.context).take(s.batch as usize));
        }
        Batch {
            prefill,
            decode: DecodeGroup::from_contexts(&contexts),
        }
    }

    /// The prefill specs in CLI syntax (`1x512+1024`), space-separated.
    pub fn prefill_spec(&self) -> String {
        self.prefill
            .iter()
            .map(|s| {
                if s.prefix > 0 {
                    format!("{}x{}+{}", s.batch, s.new_tokens, s.prefix)
                } else {
                    format!("{}x{}", s.batch, s.new_tokens)
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The decode specs in CLI syntax (`32x1024`), space-separated.
    pub fn decode_spec(&self) -> String {
        self.decode
            .iter()
            .map(|s| format!("{}x{}", s.batch, s.context))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn parse_u32(s: &str) -> Option<u32> {
    s.parse::<u32>().ok()
}

fn parse_prefill(s: &str) -> Option<PrefillSpec> {
    let (b, rest) = s.split_once('x')?;
    let (n, p) = match rest.split_once('+') {
        Some((n, p)) => (n, parse_u32(p)?),
        None => (rest, 0),
    };
    let (batch, new_tokens) = (parse_u32(b)?, parse_u32(n)?);
    let sized = (1..=MAX_BATCH_SEQUENCES).contains(&batch)
        && (1..=MAX_SEQUENCE_TOKENS).contains(&new_tokens)
        && p <= MAX_SEQUENCE_TOKENS;
    sized.then_some(PrefillSpec {
        batch,
        new_tokens,
        prefix: p,
    })
}

fn parse_decode(s: &str) -> Option<DecodeSpec> {
    let (b, c) = s.split_once('x')?;
    let (batch, context) = (parse_u32(b)?, parse_u32(c)?);
    let sized =
        (1..=MAX_BATCH_SEQUENCES).contains(&batch) && (1..=MAX_SEQUENCE_TOKENS).contains(&context);
    sized.then_some(DecodeSpec { batch, context })
}

fn specs(s: &str) -> impl Iterator<Item = &str> {
    s.split([' ', ';']).filter(|t| !t.is_empty())
}

/// Parses a measured-iteration CSV; `file` names it in errors.
///
/// # Errors
/// A [`ProfileError`] naming the file, the line and the column: a missing column, a bad spec,
/// a TP degree of 0, `cuda_graphs` other than on/off/true/false/1/0, a non-positive time, a
/// row with neither prefill nor decode work.
pub fn parse_measured(file: &str, text: &str) -> Result<Vec<MeasuredIteration>, ProfileError> {
    let cleaned: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let c = Csv::parse(file, "measured", &cleaned)?;
    // every column is read: one this format does not define is a misspelling or another
    // format's, not something to ignore
    const COLUMNS: [&str; 7] = [
        "model",
        "gpu",
        "tp",
        "prefill",
        "decode",
        "cuda_graphs",
        "measured_ms",
    ];
    if let Some(h) = c.header.iter().find(|h| !COLUMNS.contains(h)) {
        return Err(ProfileError::UnknownColumn {
            file: file.to_string(),
            table: "measured".into(),
            column: h.to_string(),
            expected: COLUMNS.join(", "),
        });
    }
    let cm = c.col("model")?;
    let cg = c.col("gpu")?;
    let ct = c.col("tp")?;
    let cp = c.col("prefill")?;
    let cd = c.col("decode")?;
    let cc = c.col("cuda_graphs")?;
    let cms = c.col("measured_ms")?;
    let mut out = Vec::with_capacity(c.rows.len());
    for (line, f) in &c.rows {
        let l = *line;
        if f[cm].is_empty() {
            return Err(c.bad_value(l, cm, "a model name"));
        }
        if f[cg].is_empty() {
            return Err(c.bad_value(l, cg, "a GPU name"));
        }
        let tp = u32::try_from(c.pos_int(l, f, ct)?)
            .ok()
            .filter(|&t| t <= crate::MAX_CLUSTER_GPUS)
            .ok_or_else(|| {
                c.bad_value(
                    l,
                    ct,
                    &format!("a TP degree from 1 to {}", crate::MAX_CLUSTER_GPUS),
                )
            })?;
        let mut prefill = Vec::new();
        for s in specs(f[cp]) {
            prefill.push(parse_prefill(s).ok_or_else(|| {
                c.bad_value(
                    l,
                    cp,
                    &format!(
                        "prefill specs `BxS` or `BxS+P` with 1 ≤ B ≤ {MAX_BATCH_SEQUENCES}, \
                     1 ≤ S ≤ {MAX_SEQUENCE_TOKENS}, P ≤ {MAX_SEQUENCE_TOKENS}"
                    ),
                )
            })?);
        }
        let mut decode = Vec::new();
        for s in specs(f[cd]) {
            decode.push(parse_decode(s).ok_or_else(|| {
                c.bad_value(
                    l,
                    cd,
                    &format!(
                        "decode specs `BxC` with 1 ≤ B ≤ {MAX_BATCH_SEQUENCES}, \
                         1 ≤ C ≤ {MAX_SEQUENCE_TOKENS}"
                    ),
                )
            })?);
        }
        let sequences: u64 = prefill.iter().map(|s| s.batch as u64).sum::<u64>()
            + decode.iter().map(|s| s.batch as u64).sum::<u64>();
        if sequences > MAX_BATCH_SEQUENCES as u64 {
            return Err(c.bad_value(
                l,
                cp,
                &format!(
                    "at most {MAX_BATCH_SEQUENCES} sequences (prefill and decode) in one row; \
                     this row has {sequences}"
                ),
            ));
        }
        if prefill.is_empty() && decode.is_empty() {
            return Err(ProfileError::BadValue {
                file: file.to_string(),
                table: "measured".into(),
                row: Row::Line(l),
                column: "prefill".into(),
                value: String::new(),
                expected: "at least one prefill or decode spec in the row".into(),
            });
        }
        let cuda_graphs = match f[cc].to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => true,
            "off" | "false" | "0" | "no" => false,
            _ => return Err(c.bad_value(l, cc, "on or off (or true/false, yes/no, 1/0)")),
        };
        out.push(MeasuredIteration {
            model: f[cm].to_string(),
            gpu: f[cg].to_string(),
            tp,
            prefill,
            decode,
            cuda_graphs,
            measured_ms: c.time_in(l, f, cms, 0, 1e-3)?,
            line: l,
        });
    }
    Ok(out)
}

/// Reads and parses a measured-iteration file.
///
/// # Errors
/// [`ProfileError::Io`] or as [`parse_measured`].
pub fn load_measured(path: &Path) -> Result<Vec<MeasuredIteration>, ProfileError> {
    let text = parallax_ir::read_text(path).map_err(|e| ProfileError::io(path, &e))?;
    parse_measured(&path.display().to_string(), &text)
}

/// Median, mean and maximum of absolute percentage errors.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ErrorSummary {
    /// Number of comparisons.
    pub count: usize,
    /// Median absolute error, percent.
    pub median: f64,
    /// Mean absolute error, percent.
    pub mean: f64,
    /// Largest absolute error, percent.
    pub max: f64,
}

impl ErrorSummary {
    /// Absolute percentage error of `predicted` against `measured` (`measured` > 0).
    pub fn abs_pct(predicted: f64, measured: f64) -> f64 {
        100.0 * (predicted - measured).abs() / measured
    }

    /// Summary of (predicted, measured) pairs. `None` when there are none.
    ///
    /// Complexity: O(n log n).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (f64, f64)>) -> Option<ErrorSummary> {
        let errs: Vec<f64> = pairs
            .into_iter()
            .map(|(p, m)| Self::abs_pct(p, m))
            .collect();
        Self::from_abs_pct(&errs)
    }

    /// Summary of absolute percentage errors. `None` when the slice is empty.
    pub fn from_abs_pct(errors: &[f64]) -> Option<ErrorSummary> {
        if errors.is_empty() {
            return None;
        }
        let mut e = errors.to_vec();
        e.sort_by(f64::total_cmp);
        let n = e.len();
        let median = if n % 2 == 1 {
            e[n / 2]
        } else {
            0.5 * (e[n / 2 - 1] + e[n / 2])
        };
        Some(ErrorSummary {
            count: n,
            median,
            mean: e.iter().sum::<f64>() / n as f64,
            max: e[n - 1],
        })
    }
}
