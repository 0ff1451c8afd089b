//! Workloads from two JSON files users already have: a ShareGPT-format conversation dataset and
//! the result file `vllm bench serve --save-result` writes.
//!
//! # ShareGPT
//! A JSON array of `{"id": …, "conversations": [{"from": "human", "value": …},
//! {"from": "gpt", "value": …}, …]}`. As `vllm bench serve --dataset-name sharegpt` does, each
//! conversation gives one request: its first turn is the prompt and its second the output.
//! Conversations with fewer than two turns are skipped (and counted in a note).
//!
//! Token lengths need the model's tokenizer, which Parallax does not ship. Two ways:
//! - pre-tokenized: when an entry has integer `prompt_tokens` and `output_tokens` (or
//!   `input_len`/`output_len`), those are used as they are;
//! - otherwise the lengths are **approximated as ⌈characters / 4⌉** (Unicode scalar values),
//!   the usual rule of thumb for English text under GPT/Llama-style BPE tokenizers; a note
//!   says so. Its error against a real tokenizer was not measured here (no tokenizer ships);
//!   code and non-English text have fewer characters per token, so the rule undercounts them.
//!   For exact lengths pre-tokenize with the model's tokenizer and add the two fields.
//!
//! A turn that yields 0 tokens (an empty string) skips its conversation (counted in the note).
//! The dataset has no arrival times: requests get Poisson arrivals at
//! [`super::DEFAULT_LENGTHS_ONLY_RATE`] req/s (seed [`super::DEFAULT_LENGTHS_ONLY_SEED`]), as
//! lengths-only traces do; `--rate` rescales them.
//!
//! # `vllm bench serve` results
//! A JSON object with per-request `input_lens` and `output_lens` (and `errors`), written by
//! `vllm bench serve --save-result` (`vllm/benchmarks/serve.py`). Requests that failed
//! (non-empty error or 0 output tokens) are left out and counted in a note. Arrivals: the
//! per-request `start_times` when the file has them (recent vLLM; seconds after the first),
//! else Poisson at the file's `request_rate` (when it is a number, with a note when
//! `burstiness` ≠ 1), else all at 0 s (`request_rate` `inf`). A `max_concurrency` limit is not
//! replayed (the start times already reflect it when present); a note says so.
//!
//! The summary metrics of the file (`mean_ttft_ms`, `p99_tpot_ms`, `request_throughput`, …)
//! are read by [`vllm_bench_summary`] for comparison with a simulation.

use super::{Request, Workload, DEFAULT_LENGTHS_ONLY_RATE, DEFAULT_LENGTHS_ONLY_SEED};
use crate::error::SimError;
use crate::rng::Rng;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Which external JSON format a text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalFormat {
    /// A ShareGPT conversation array.
    ShareGpt,
    /// A `vllm bench serve` result object.
    VllmBench,
}

/// The format of `text` when it is one of the external JSON formats: an array whose first
/// element has `conversations` (ShareGPT), or an object with `input_lens` and `output_lens`
/// (`vllm bench serve`). Looks only at the first non-blank character before parsing.
pub fn detect(text: &str) -> Option<(ExternalFormat, Value)> {
    detect_strict(text).ok().flatten()
}

/// [`detect`], with a key repeated in one object of a whole-JSON document as the error
/// (`serde_json`'s data error with its line; [`parallax_ir::json::parse_unique`]).
fn detect_strict(text: &str) -> Result<Option<(ExternalFormat, Value)>, serde_json::Error> {
    let Some(first) = text.trim_start().chars().next() else {
        return Ok(None);
    };
    if first != '[' && first != '{' {
        return Ok(None);
    }
    // A JSON-lines trace is not one JSON value: its syntax error means "not this format"; a
    // repeated key in a document that parses is an error of the document.
    let value = match parallax_ir::json::parse_unique(text) {
        Ok(v) => v,
        Err(e) if e.classify() == serde_json::error::Category::Data => return Err(e),
        Err(_) => return Ok(None),
    };
    Ok(match &value {
        Value::Array(a) if a.first().is_some_and(|e| e.get("conversations").is_some()) => {
            Some((ExternalFormat::ShareGpt, value))
        }
        Value::Object(o) if o.contains_key("input_lens") && o.contains_key("output_lens") => {
            Some((ExternalFormat::VllmBench, value))
        }
        _ => None,
    })
}

/// Parse `text` if it is an external format ([`detect`]); `None` otherwise.
///
/// # Errors
/// [`SimError::InvalidWorkload`] naming the entry and field for a malformed entry, or a key
/// repeated in one object (with its line).
pub fn parse(source: &str, text: &str) -> Result<Option<Workload>, SimError> {
    let detected = detect_strict(text).map_err(|e| {
        bad(
            source,
            format!("line {}", e.line()),
            "(a repeated key)",
            &format!("each key once per object ({e})"),
        )
    })?;
    match detected {
        None => Ok(None),
        Some((ExternalFormat::ShareGpt, v)) => sharegpt(source, &v).map(Some),
        Some((ExternalFormat::VllmBench, v)) => vllm_bench(source, &v).map(Some),
    }
}

/// ⌈characters / 4⌉: the token approximation of ShareGPT text without a tokenizer.
pub fn approx_tokens(text: &str) -> u32 {
    let chars = text.chars().count() as u64;
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

fn bad(source: &str, field: String, value: impl ToString, expected: &str) -> SimError {
    SimError::workload(source, &field, value, expected)
}

fn int_field(
    source: &str,
    o: &Map<String, Value>,
    names: &[&str],
    at: &str,
) -> Result<Option<u32>, SimError> {
    for n in names {
        if let Some(v) = o.get(*n) {
            return match v.as_u64().and_then(|x| u32::try_from(x).ok()) {
                Some(x) => Ok(Some(x)),
                None => Err(bad(
                    source,
                    format!("{at}.{n}"),
                    v,
                    "a non-negative integer token count",
                )),
            };
        }
    }
    Ok(None)
}

fn poisson(lengths: &[(u64, u32, u32)], rate: f64, seed: u64) -> Vec<Request> {
    let mut rng = Rng::new(seed);
    let mut t = 0.0;
    lengths
        .iter()
        .map(|&(id, p, o)| {
            let r = Request {
                id,
                arrival_s: t,
                prompt_tokens: p,
                output_tokens: o,
                prefix: None,
            };
            t += rng.exponential(rate);
            r
        })
        .collect()
}

fn sharegpt(source: &str, v: &Value) -> Result<Workload, SimError> {
    let entries = v.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut lengths = Vec::new();
    let (mut short, mut empty, mut approximated) = (0usize, 0usize, 0usize);
    for (i, e) in entries.iter().enumerate() {
        let at = format!("[{i}]");
        let o = e
            .as_object()
            .ok_or_else(|| bad(source, at.clone(), "…", "an object with `conversations`"))?;
        let pre_p = int_field(source, o, &["prompt_tokens", "input_len"], &at)?;
        let pre_o = int_field(source, o, &["output_tokens", "output_len"], &at)?;
        let (p, out, approx) = match (pre_p, pre_o) {
            (Some(p), Some(out)) => (p, out, false),
            _ => {
                let turns = o
                    .get("conversations")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        bad(
                            source,
                            format!("{at}.conversations"),
                            o.get("conversations")
                                .map_or("missing".into(), |c| c.to_string()),
                            "an array of {\"from\", \"value\"} turns",
                        )
                    })?;
                if turns.len() < 2 {
                    short += 1;
                    continue;
                }
                let text = |k: usize| {
                    turns[k]
                        .get("value")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            bad(
                                source,
                                format!("{at}.conversations[{k}].value"),
                                turns[k]
                                    .get("value")
                                    .map_or("missing".into(), |x| x.to_string()),
                                "a string",
                            )
                        })
                };
                (approx_tokens(text(0)?), approx_tokens(text(1)?), true)
            }
        };
        if p == 0 || out == 0 {
            empty += 1;
            continue;
        }
        approximated += usize::from(approx);
        lengths.push((i as u64, p, out));
    }
    if lengths.is_empty() {
        return Err(bad(
            source,
            "conversations".into(),
            format!("{} entries, none usable", entries.len()),
            "at least one conversation with two non-empty turns",
        ));
    }
    let mut notes = Vec::new();
    if approximated > 0 {
        notes.push(format!(
            "{source}: {approximated} ShareGPT conversations tokenized approximately as \
             ⌈characters / 4⌉ (first turn = prompt, second = output); add integer \
             `prompt_tokens` and `output_tokens` to each entry for exact lengths"
        ));
    }
    if short > 0 {
        notes.push(format!(
            "{source}: {short} conversations with fewer than two turns skipped"
        ));
    }
    if empty > 0 {
        notes.push(format!(
            "{source}: {empty} conversations with an empty prompt or reply skipped"
        ));
    }
    notes.push(format!(
        "{source}: the dataset has no arrival times; assigned Poisson arrivals at \
         {DEFAULT_LENGTHS_ONLY_RATE} req/s (seed {DEFAULT_LENGTHS_ONLY_SEED}), first at 0 s"
    ));
    let mut w = Workload::new(
        source,
        poisson(
            &lengths,
            DEFAULT_LENGTHS_ONLY_RATE,
            DEFAULT_LENGTHS_ONLY_SEED,
        ),
    )?;
    notes.append(&mut w.notes);
    w.notes = notes;
    Ok(w)
}

fn number_list(source: &str, o: &Map<String, Value>, key: &str) -> Result<Vec<f64>, SimError> {
    let arr = o.get(key).and_then(Value::as_array).ok_or_else(|| {
        bad(
            source,
            key.into(),
            o.get(key).map_or("missing".into(), |v| v.to_string()),
            "an array of numbers",
        )
    })?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .ok_or_else(|| bad(source, format!("{key}[{i}]"), x, "a non-negative number"))
        })
        .collect()
}

fn vllm_bench(source: &str, v: &Value) -> Result<Workload, SimError> {
    let Some(o) = v.as_object() else {
        return Err(bad(
            source,
            "(top level)".into(),
            "not an object",
            "a `vllm bench serve` result object",
        ));
    };
    let inputs = number_list(source, o, "input_lens")?;
    let outputs = number_list(source, o, "output_lens")?;
    if inputs.len() != outputs.len() {
        return Err(bad(
            source,
            "output_lens".into(),
            format!("{} entries", outputs.len()),
            &format!("as many entries as input_lens ({})", inputs.len()),
        ));
    }
    let errors: Vec<bool> = match o.get("errors").and_then(Value::as_array) {
        Some(e) => e
            .iter()
            .map(|x| x.as_str().is_some_and(|s| !s.is_empty()))
            .collect(),
        None => vec![false; inputs.len()],
    };
    let starts = match o.get("start_times") {
        Some(Value::Array(_)) => {
            let s = number_list(source, o, "start_times")?;
            if s.len() != inputs.len() {
                return Err(bad(
                    source,
                    "start_times".into(),
                    format!("{} entries", s.len()),
                    &format!("as many entries as input_lens ({})", inputs.len()),
                ));
            }
            Some(s)
        }
        _ => None,
    };
    let mut kept = Vec::new();
    let mut failed = 0usize;
    for i in 0..inputs.len() {
        let (p, out) = (inputs[i], outputs[i]);
        if errors.get(i).copied().unwrap_or(false) || out < 1.0 {
            failed += 1;
            continue;
        }
        let as_u32 = |x: f64, key: &str| {
            if x.fract() == 0.0 && x >= 1.0 && x <= f64::from(u32::MAX) {
                Ok(x as u32)
            } else {
                Err(bad(
                    source,
                    format!("{key}[{i}]"),
                    x,
                    "a positive integer token count",
                ))
            }
        };
        kept.push((
            i as u64,
            as_u32(p, "input_lens")?,
            as_u32(out, "output_lens")?,
        ));
    }
    if kept.is_empty() {
        return Err(bad(
            source,
            "output_lens".into(),
            format!("{} requests, all failed", inputs.len()),
            "at least one successful request",
        ));
    }
    let mut notes = Vec::new();
    if failed > 0 {
        notes.push(format!(
            "{source}: {failed} failed requests (error or no output) left out"
        ));
    }
    let requests = if let Some(s) = &starts {
        let t0 = kept
            .iter()
            .map(|&(i, _, _)| s[i as usize])
            .fold(f64::INFINITY, f64::min);
        notes.push(format!(
            "{source}: arrivals from the benchmark's start_times (seconds after the first)"
        ));
        kept.iter()
            .map(|&(id, p, out)| Request {
                id,
                arrival_s: s[id as usize] - t0,
                prompt_tokens: p,
                output_tokens: out,
                prefix: None,
            })
            .collect()
    } else {
        let rate = match o.get("request_rate") {
            Some(Value::Number(n)) => n.as_f64().filter(|r| r.is_finite() && *r > 0.0),
            Some(Value::String(s)) => s.parse::<f64>().ok().filter(|r| r.is_finite() && *r > 0.0),
            _ => None,
        };
        match rate {
            Some(r) => {
                let burst = o.get("burstiness").and_then(Value::as_f64).unwrap_or(1.0);
                notes.push(format!(
                    "{source}: no start_times; assigned Poisson arrivals at the benchmark's \
                     request_rate {r} req/s (seed {DEFAULT_LENGTHS_ONLY_SEED}){}",
                    if burst != 1.0 {
                        format!(" although it used burstiness {burst} (gamma inter-arrivals)")
                    } else {
                        String::new()
                    }
                ));
                poisson(&kept, r, DEFAULT_LENGTHS_ONLY_SEED)
            }
            None => {
                notes.push(format!(
                    "{source}: no start_times and request_rate {}: every request arrives at 0 s",
                    o.get("request_rate")
                        .map_or("absent".into(), |v| v.to_string())
                ));
                kept.iter()
                    .map(|&(id, p, out)| Request {
                        id,
                        arrival_s: 0.0,
                        prompt_tokens: p,
                        output_tokens: out,
                        prefix: None,
                    })
                    .collect()
            }
        }
    };
    if let Some(c) = o.get("max_concurrency").filter(|c| !c.is_null()) {
        notes.push(format!(
            "{source}: the benchmark's max_concurrency {c} is not replayed (requests arrive \
             open-loop{})",
            if starts.is_some() {
                "; its start times already reflect the limit"
            } else {
                ""
            }
        ));
    }
    let mut w = Workload::new(source, requests)?;
    notes.append(&mut w.notes);
    w.notes = notes;
    Ok(w)
}

/// The numeric summary metrics of a `vllm bench serve` result, by their names in the file:
/// `mean_`/`median_`/`std_`/`pNN_` × `ttft`/`tpot`/`itl`/`e2el` × `_ms`, and `duration`,
/// `completed`, `failed`, `request_throughput`, `output_throughput`,
/// `total_token_throughput`. `None` when `text` is not such a result.
pub fn vllm_bench_summary(text: &str) -> Option<BTreeMap<String, f64>> {
    let (format, v) = detect(text)?;
    if format != ExternalFormat::VllmBench {
        return None;
    }
    let o = v.as_object()?;
    let plain = [
        "duration",
        "completed",
        "failed",
        "request_throughput",
        "output_throughput",
        "total_token_throughput",
    ];
    let metric = |k: &str| {
        let Some(rest) = k.strip_suffix("_ms") else {
            return false;
        };
        let Some((stat, name)) = rest.split_once('_') else {
            return false;
        };
        let stat_ok = matches!(stat, "mean" | "median" | "std")
            || stat.strip_prefix('p').is_some_and(|p| {
                !p.is_empty()
                    && p.chars().all(|c| c.is_ascii_digit() || c == '.')
                    && p.parse::<f64>().is_ok()
            });
        stat_ok && matches!(name, "ttft" | "tpot" | "itl" | "e2el")
    };
    Some(
        o.iter()
            .filter(|(k, _)| plain.contains(&k.as_str()) || metric(k))
            .filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_an_error_not_the_last_value() {
        let text = "{\"input_lens\": [100, 200], \"output_lens\": [10, 20],\n \"input_lens\": [5000, 6000]}";
        let e = parse("vb.json", text).unwrap_err().to_string();
        assert!(
            e.contains("vb.json")
                && e.contains("line 2")
                && e.contains("`input_lens` appears twice"),
            "{e}"
        );
        // JSON lines are not one document: not this format, no error
        assert!(parse("t.jsonl", "{\"a\": 1}\n{\"a\": 2}\n")
            .unwrap()
            .is_none());
    }

    #[test]
    fn sharegpt_first_two_turns_approximated_or_pretokenized() {
        let text = r#"[
          {"id": "a", "conversations": [{"from": "human", "value": "12345678"},
                                        {"from": "gpt", "value": "123456789"},
                                        {"from": "human", "value": "ignored"}]},
          {"id": "b", "conversations": [{"from": "human", "value": "only one"}]},
          {"id": "c", "conversations": [], "prompt_tokens": 300, "output_tokens": 40},
          {"id": "d", "conversations": [{"from": "human", "value": ""},
                                        {"from": "gpt", "value": "x"}]}
        ]"#;
        let w = parse("sg.json", text).unwrap().unwrap();
        let lens: Vec<(u64, u32, u32)> = w
            .requests
            .iter()
            .map(|r| (r.id, r.prompt_tokens, r.output_tokens))
            .collect();
        assert_eq!(lens, [(0, 2, 3), (2, 300, 40)]);
        let notes = w.notes.join("\n");
        assert!(
            notes.contains("1 ShareGPT conversations tokenized approximately as ⌈characters / 4⌉"),
            "{notes}"
        );
        assert!(
            notes.contains("1 conversations with fewer than two turns skipped"),
            "{notes}"
        );
        assert!(
            notes.contains("1 conversations with an empty prompt or reply skipped"),
            "{notes}"
        );
        assert_eq!(w.requests[0].arrival_s, 0.0);
        assert!(w.requests[1].arrival_s > 0.0);
        assert_eq!(approx_tokens("héllo"), 2);

        let e = parse(
            "sg.json",
            r#"[{"conversations": [{"from": "human", "value": 3}, {"value": "x"}]}]"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("[0].conversations[0].value = 3: expected a string"),
            "{e}"
        );
        assert!(parse(
            "x.jsonl",
            "{\"ContextTokens\": 1}\n{\"ContextTokens\": 2}\n"
        )
        .unwrap()
        .is_none());
    }

    #[test]
    fn vllm_bench_result_with_and_without_start_times() {
        let with = r#"{"request_rate": 4.0, "burstiness": 1.0, "max_concurrency": null,
          "input_lens": [100, 200, 300], "output_lens": [10, 0, 30],
          "errors": ["", "timeout", ""], "start_times": [1000.5, 1000.7, 1001.0],
          "mean_ttft_ms": 12.5, "p99_ttft_ms": 40.0, "median_itl_ms": 7.0, "completed": 2,
          "std_ttft_ms": 1.0, "p99.9_tpot_ms": 9.0, "model_id": "m", "pNaN_ttft_ms": 1.0}"#;
        let w = parse("bench.json", with).unwrap().unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w.requests[0].arrival_s, 0.0);
        assert!((w.requests[1].arrival_s - 0.5).abs() < 1e-9);
        assert_eq!(w.requests[1].prompt_tokens, 300);
        assert!(
            w.notes.iter().any(|n| n.contains("1 failed requests")),
            "{:?}",
            w.notes
        );
        let s = vllm_bench_summary(with).unwrap();
        assert_eq!(s["mean_ttft_ms"], 12.5);
        assert_eq!(s["p99.9_tpot_ms"], 9.0);
        assert_eq!(s["completed"], 2.0);
        assert!(!s.contains_key("model_id") && !s.contains_key("pNaN_ttft_ms"));

        let inf = r#"{"request_rate": "inf", "max_concurrency": 8,
          "input_lens": [5, 6], "output_lens": [7, 8]}"#;
        let w = parse("b.json", inf).unwrap().unwrap();
        assert!(w.requests.iter().all(|r| r.arrival_s == 0.0));
        assert!(w
            .notes
            .iter()
            .any(|n| n.contains("max_concurrency 8 is not replayed")));
        let poisson = r#"{"request_rate": 2, "input_lens": [5, 6], "output_lens": [7, 8]}"#;
        let w = parse("b.json", poisson).unwrap().unwrap();
        assert!(w.requests[1].arrival_s > 0.0);

        let e = parse("b.json", r#"{"input_lens": [5], "output_lens": [7, 8]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("output_lens = 2 entries: expected as many entries as input_lens (1)"),
            "{e}"
        );
        let e = parse("b.json", r#"{"input_lens": [5.5], "output_lens": [7]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("input_lens[0] = 5.5"), "{e}");
    }
}
