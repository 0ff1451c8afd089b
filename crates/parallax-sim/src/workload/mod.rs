//! Workloads: a list of requests sorted by arrival time.
//!
//! Sources:
//! - traces parsed from text ([`parse`], [`parse_as`]) or read from a file ([`load_path`]) in
//!   three formats (see [`TraceFormat`]);
//! - synthetic workloads ([`synthetic::SyntheticSpec`]);
//! - embedded defaults ([`embedded`], [`names`]) built from public traces shipped with the crate
//!   (see `data/traces/README.md`).
//!
//! # Fix-ups are reported, never silent
//! Every adjustment a loader makes is recorded in [`Workload::notes`] (the CLI prints them):
//! - arrivals out of order are sorted (stable: equal times keep file order) and a note gives how
//!   many lines were out of order and the first one;
//! - a lengths-only trace (no arrival column, e.g. the Vidur arXiv summarization CSV) is given
//!   Poisson arrivals at [`DEFAULT_LENGTHS_ONLY_RATE`] req/s with seed [`DEFAULT_LENGTHS_ONLY_SEED`];
//! - Azure timestamps are converted to seconds after the earliest timestamp.
//!
//! Zero or negative token counts are an error naming the line, never a fix-up.
//!
//! # Clocks
//! APEX `StartTimeOffset` (ns) is on the trace's own clock (the first request does not arrive at
//! 0) and is kept as is, converted to seconds; Vidur `arrived_at` is kept as is. The simulator
//! measures everything relative to arrivals and the makespan from the first arrival, so no shift
//! is needed.

pub mod external;
mod parse;
pub mod prefix;
pub mod spec;
pub mod synthetic;

pub use parse::{csv_fields, parse, parse_as, parse_lengths, TraceFormat};

use crate::error::SimError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Default rate (req/s) given to lengths-only traces (and the embedded `summarization`).
pub const DEFAULT_LENGTHS_ONLY_RATE: f64 = 0.5;
/// Default seed of the Poisson arrivals given to lengths-only traces.
pub const DEFAULT_LENGTHS_ONLY_SEED: u64 = 0;
/// Most requests a workload may hold: a trace, a `synthetic:` spec's `requests`, or a
/// `--requests` cut (10,000,000).
pub const MAX_REQUESTS: usize = 10_000_000;
/// Longest prompt or output of one request, in tokens (2^24 = 16,777,216).
pub const MAX_REQUEST_TOKENS: u32 = 1 << 24;
/// Latest arrival time of a request, in seconds (10^9 s, about 31.7 years). Beyond it the
/// simulator's `f64` clock could no longer resolve a microsecond.
pub const MAX_ARRIVAL_S: f64 = 1e9;
/// Smallest arrival rate (req/s) a synthetic spec or a rescale may ask for.
pub const MIN_RATE: f64 = 1e-6;
/// Largest arrival rate (req/s) a synthetic spec or a rescale may ask for.
pub const MAX_RATE: f64 = 1e6;

/// Rows of the arXiv summarization trace embedded as `summarization` (a prefix of the file).
pub const SUMMARIZATION_EMBEDDED_ROWS: usize = 4096;

/// One request of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Identifier: the 0-based position of the request in its source (file order, before any
    /// sort), or its index in a synthetic workload.
    pub id: u64,
    /// Arrival time in seconds.
    pub arrival_s: f64,
    /// Prompt length in tokens (≥ 1).
    pub prompt_tokens: u32,
    /// Output length in tokens (≥ 1).
    pub output_tokens: u32,
    /// Prefix identity for prefix caching (`None`: the request shares nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Prefix>,
}

/// What a request's token sequence (prompt, then output) shares with others: its first
/// `tokens` tokens are the first `tokens` tokens of the token stream `stream`. Requests naming
/// the same stream share those tokens, so the KV blocks that cover them are the same blocks
/// (as vLLM's chained block hashes make them). A shared system prompt is a stream whose
/// `tokens` is the system prompt's length; a multi-turn conversation is one stream in which
/// every turn's whole sequence (`prompt + output` tokens) lies, each turn's prompt extending
/// the previous turn's prompt and answer. Tokens past `tokens` belong to the request alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefix {
    /// Stream identifier (< 2^63).
    pub stream: u64,
    /// Leading tokens of the request that lie in the stream.
    pub tokens: u32,
}

/// A request stream, sorted by arrival (ties keep source order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Name (file name, embedded name, or a synthetic description).
    pub name: String,
    /// Requests, sorted by `arrival_s`.
    pub requests: Vec<Request>,
    /// Fix-ups the loader made (sorting, assigned arrivals, ...), for the user to see.
    pub notes: Vec<String>,
}

impl Workload {
    /// Build a workload from requests in any order, validating them.
    ///
    /// Requests are stably sorted by arrival; if they were not already sorted a note says how
    /// many were out of order. Lengths must be ≥ 1 and arrivals finite and ≥ 0.
    ///
    /// # Complexity
    /// O(n log n) if unsorted, O(n) otherwise.
    pub fn new(name: impl Into<String>, mut requests: Vec<Request>) -> Result<Self, SimError> {
        let name = name.into();
        if requests.len() > MAX_REQUESTS {
            return Err(SimError::workload(
                &name,
                "requests",
                requests.len(),
                &format!("at most {MAX_REQUESTS} requests"),
            ));
        }
        for r in &requests {
            for (field, v) in [
                ("prompt_tokens", r.prompt_tokens),
                ("output_tokens", r.output_tokens),
            ] {
                if v > MAX_REQUEST_TOKENS {
                    return Err(SimError::workload(
                        &name,
                        &format!("requests[id={}].{field}", r.id),
                        v,
                        &format!("at most {MAX_REQUEST_TOKENS} tokens"),
                    ));
                }
            }
            if r.prompt_tokens == 0 {
                return Err(SimError::workload(
                    &name,
                    &format!("requests[id={}].prompt_tokens", r.id),
                    0,
                    "≥ 1",
                ));
            }
            if r.output_tokens == 0 {
                return Err(SimError::workload(
                    &name,
                    &format!("requests[id={}].output_tokens", r.id),
                    0,
                    "≥ 1",
                ));
            }
            if !(r.arrival_s.is_finite() && (0.0..=MAX_ARRIVAL_S).contains(&r.arrival_s)) {
                return Err(SimError::workload(
                    &name,
                    &format!("requests[id={}].arrival_s", r.id),
                    crate::error::compact(r.arrival_s),
                    &format!("a time in [0, {MAX_ARRIVAL_S:e}] s"),
                ));
            }
        }
        let mut notes = Vec::new();
        let out_of_order = requests
            .windows(2)
            .filter(|w| w[1].arrival_s < w[0].arrival_s)
            .count();
        if out_of_order > 0 {
            let first = requests
                .windows(2)
                .find(|w| w[1].arrival_s < w[0].arrival_s)
                .map(|w| w[1].id)
                .unwrap_or(0);
            requests.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
            notes.push(format!(
                "{name}: arrivals were not sorted ({out_of_order} request(s) arrive before their predecessor, first id {first}); sorted by arrival time"
            ));
        }
        Ok(Workload {
            name,
            requests,
            notes,
        })
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// True when there are no requests.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Arrival span (last minus first arrival) in seconds; 0 for fewer than two requests.
    pub fn span_s(&self) -> f64 {
        match (self.requests.first(), self.requests.last()) {
            (Some(a), Some(b)) => b.arrival_s - a.arrival_s,
            _ => 0.0,
        }
    }

    /// Observed arrival rate: `(n - 1) / span` req/s (`None` when the span is 0).
    pub fn mean_rate(&self) -> Option<f64> {
        let span = self.span_s();
        if self.requests.len() >= 2 && span > 0.0 {
            Some((self.requests.len() - 1) as f64 / span)
        } else {
            None
        }
    }

    /// Total prompt and output tokens.
    pub fn total_tokens(&self) -> (u64, u64) {
        self.requests.iter().fold((0, 0), |(p, o), r| {
            (p + r.prompt_tokens as u64, o + r.output_tokens as u64)
        })
    }

    /// The first `n` requests (in arrival order). Asking for more than there are is an error
    /// (nothing is silently shortened).
    pub fn take(mut self, n: usize) -> Result<Self, SimError> {
        if n == 0 || n > self.requests.len() {
            return Err(SimError::workload(
                &self.name,
                "requests",
                n,
                &format!("1..={} (the workload's size)", self.requests.len()),
            ));
        }
        if n < self.requests.len() {
            self.requests.truncate(n);
            self.name = format!("{}[..{n}]", self.name);
        }
        Ok(self)
    }

    /// Rescale inter-arrival times so the observed rate ([`Workload::mean_rate`]) becomes
    /// `rate` req/s; the first arrival keeps its time.
    ///
    /// # Complexity
    /// O(n).
    pub fn with_rate(mut self, rate: f64) -> Result<Self, SimError> {
        if !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate)) {
            return Err(SimError::workload(
                &self.name,
                "rate",
                crate::error::compact(rate),
                &format!("a rate in [{MIN_RATE:e}, {MAX_RATE:e}] req/s"),
            ));
        }
        let Some(current) = self.mean_rate() else {
            return Err(SimError::workload(
                &self.name,
                "rate",
                rate,
                "a workload with at least two distinct arrival times to rescale",
            ));
        };
        let factor = current / rate;
        let t0 = self.requests[0].arrival_s;
        let last = t0 + self.span_s() * factor;
        if last.is_nan() || last > MAX_ARRIVAL_S {
            return Err(SimError::workload(
                &self.name,
                "rate",
                crate::error::compact(rate),
                &format!(
                    "a rate at which the last arrival stays within {MAX_ARRIVAL_S:e} s (it \
                     would be at {} s)",
                    crate::error::compact(last)
                ),
            ));
        }
        for r in &mut self.requests {
            r.arrival_s = t0 + (r.arrival_s - t0) * factor;
        }
        // six decimals, or three significant digits for a factor that would print as 0
        let times = if factor >= 1e-4 {
            format!("{factor:.6}")
        } else {
            format!("{factor:.3e}")
        };
        self.notes.push(format!(
            "{}: arrivals rescaled from {current:.4} to {rate} req/s (times × {times})",
            self.name
        ));
        Ok(self)
    }
}

/// Read a trace file and parse it ([`parse`]), detecting the format from the extension and
/// content. The workload is named after the file name.
pub fn load_path(path: impl AsRef<Path>) -> Result<Workload, SimError> {
    let path = path.as_ref();
    let text = parallax_ir::read_text(path).map_err(|e| SimError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse(&path.display().to_string(), &text)
}

/// An embedded workload by name ([`names`]), a synthetic spec (`synthetic:…`, see [`spec`]),
/// otherwise a trace file path ([`load_path`]) — what a `--workload chat|<file>|synthetic:…`
/// option needs.
pub fn resolve(name_or_path: &str) -> Result<Workload, SimError> {
    if names().contains(&name_or_path) {
        embedded(name_or_path)
    } else if name_or_path.starts_with(spec::PREFIX) {
        // Named (and its errors labelled) by the spec as the user wrote it.
        let mut w = spec::generate(name_or_path).map_err(|e| match e {
            SimError::InvalidWorkload {
                field,
                value,
                expected,
                ..
            } => SimError::InvalidWorkload {
                workload: name_or_path.to_string(),
                field,
                value,
                expected,
            },
            other => other,
        })?;
        w.name = name_or_path.to_string();
        Ok(w)
    } else {
        load_path(name_or_path)
    }
}

const APEX_CHAT: &str = include_str!("../../data/traces/apex-llama-lmsys_025.jsonl");
const APEX_CREATION: &str = include_str!("../../data/traces/apex-llama-creation_025.jsonl");
const VIDUR_ARXIV: &str = include_str!("../../data/traces/vidur-arxiv_summarization_first4096.csv");
const VIDUR_CODE: &str = include_str!("../../data/traces/vidur-splitwise_code.csv");
const VIDUR_CONV: &str = include_str!("../../data/traces/vidur-splitwise_conv.csv");

/// Names of the embedded workloads, in a fixed order.
pub fn names() -> &'static [&'static str] {
    &["chat", "creation", "summarization", "code", "conversation"]
}

/// An embedded default workload.
///
/// | name | source | requests | arrivals |
/// |---|---|---|---|
/// | `chat` | APEX+ `llama/lmsys_025.jsonl` | 1024 | trace (≈0.25 req/s) |
/// | `creation` | APEX+ `llama/creation_025.jsonl` | 512 | trace (≈0.25 req/s) |
/// | `summarization` | Vidur arXiv summarization, first 4096 rows | 4096 | Poisson 0.5 req/s, seed 0 |
/// | `code` | Vidur `splitwise_code.csv` | 8819 | trace (≈2.6 req/s) |
/// | `conversation` | Vidur `splitwise_conv.csv` | 19366 | trace (≈5.5 req/s) |
pub fn embedded(name: &str) -> Result<Workload, SimError> {
    let (label, text, format) = match name {
        "chat" => ("chat", APEX_CHAT, TraceFormat::ApexJsonl),
        "creation" => ("creation", APEX_CREATION, TraceFormat::ApexJsonl),
        "summarization" => ("summarization", VIDUR_ARXIV, TraceFormat::VidurCsv),
        "code" => ("code", VIDUR_CODE, TraceFormat::VidurCsv),
        "conversation" => ("conversation", VIDUR_CONV, TraceFormat::VidurCsv),
        _ => {
            return Err(SimError::UnknownWorkload {
                name: name.to_string(),
                expected: names().join(", "),
            })
        }
    };
    parse_as(label, text, format)
}
