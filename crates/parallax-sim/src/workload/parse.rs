//! Trace parsers: APEX JSONL, Vidur/Splitwise CSV and the Azure LLM inference trace CSV.

use super::prefix::{link, Tag};
use super::{Request, Workload, DEFAULT_LENGTHS_ONLY_RATE, DEFAULT_LENGTHS_ONLY_SEED};
use crate::error::SimError;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// A trace file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TraceFormat {
    /// APEX+ JSON lines: `ContextTokens`, `GeneratedTokens`, `StartTimeOffset` (ns, integer).
    ApexJsonl,
    /// Vidur processed-trace CSV: `num_prefill_tokens`, `num_decode_tokens` and optionally
    /// `arrived_at` (s). Without `arrived_at`, Poisson arrivals are assigned (and noted).
    VidurCsv,
    /// Azure LLM inference trace CSV: `TIMESTAMP` (`YYYY-MM-DD HH:MM:SS[.fffffff]`),
    /// `ContextTokens`, `GeneratedTokens`.
    AzureCsv,
}

impl TraceFormat {
    /// Detect the format from the source name's extension and the first non-empty line.
    ///
    /// `.jsonl`/`.json` or a first line starting with `{` → APEX; otherwise a CSV header naming
    /// `TIMESTAMP` → Azure, naming `num_prefill_tokens` → Vidur.
    pub fn detect(source: &str, text: &str) -> Result<Self, SimError> {
        let first = text.lines().map(str::trim).find(|l| !l.is_empty());
        let Some(first) = first else {
            return Err(SimError::UnknownFormat {
                file: source.to_string(),
                message: "the file is empty".into(),
            });
        };
        let lower = source.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".json") || first.starts_with('{') {
            return Ok(TraceFormat::ApexJsonl);
        }
        // a header that does not split is no known CSV header
        let header: Vec<String> = csv_fields(first).unwrap_or_default();
        if header.iter().any(|h| h == "TIMESTAMP") {
            return Ok(TraceFormat::AzureCsv);
        }
        if header.iter().any(|h| h == "num_prefill_tokens") {
            return Ok(TraceFormat::VidurCsv);
        }
        Err(SimError::UnknownFormat {
            file: source.to_string(),
            message: format!(
                "first line `{}` is neither a JSON object (APEX JSONL) nor a CSV header with `num_prefill_tokens` (Vidur) or `TIMESTAMP` (Azure)",
                parallax_ir::shown(first, 80)
            ),
        })
    }
}

/// One parsed row: file-order id, arrival (if the format has one), prompt, output.
struct Row {
    id: u64,
    arrival_s: Option<f64>,
    prompt: u32,
    output: u32,
    /// Prefix columns (see [`super::prefix`]).
    tag: Tag,
}

/// Parse a trace whose format is detected with [`TraceFormat::detect`].
///
/// # Arguments
/// - `source`: the file name (used in errors, notes and as the workload name);
/// - `text`: the file contents.
///
/// # Returns
/// The workload, sorted by arrival with any fix-ups in [`Workload::notes`]; an error naming
/// the line for a malformed line or a zero/negative length.
///
/// # Complexity
/// O(n log n) in the number of lines (sorting only if unsorted).
///
/// # Examples
/// ```
/// let w = parallax_sim::workload::parse(
///     "t.csv",
///     "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,5\n1.5,20,7\n",
/// )
/// .unwrap();
/// assert_eq!(w.requests[1].prompt_tokens, 20);
/// ```
pub fn parse(source: &str, text: &str) -> Result<Workload, SimError> {
    // ShareGPT datasets and `vllm bench serve` results (see `super::external`).
    if let Some(w) = super::external::parse(source, text)? {
        return Ok(w);
    }
    let format = TraceFormat::detect(source, text)?;
    parse_as(source, text, format)
}

/// Parse a trace in a given format (see [`parse`]).
pub fn parse_as(source: &str, text: &str, format: TraceFormat) -> Result<Workload, SimError> {
    let rows = parse_rows(source, text, format)?;
    if rows.is_empty() {
        return Err(SimError::workload(
            source,
            "requests",
            0,
            "at least one request",
        ));
    }
    let mut notes = Vec::new();
    let mut requests = Vec::with_capacity(rows.len());
    if rows[0].arrival_s.is_none() {
        let mut rng = Rng::new(DEFAULT_LENGTHS_ONLY_SEED);
        let mut t = 0.0;
        for r in &rows {
            requests.push(Request {
                id: r.id,
                arrival_s: t,
                prompt_tokens: r.prompt,
                output_tokens: r.output,
                prefix: None,
            });
            t += rng.exponential(DEFAULT_LENGTHS_ONLY_RATE);
        }
        notes.push(format!(
            "{source}: the trace has no arrival times; assigned Poisson arrivals at {DEFAULT_LENGTHS_ONLY_RATE} req/s (seed {DEFAULT_LENGTHS_ONLY_SEED}), first at 0 s"
        ));
    } else {
        for r in &rows {
            requests.push(Request {
                id: r.id,
                arrival_s: r.arrival_s.unwrap_or(0.0),
                prompt_tokens: r.prompt,
                output_tokens: r.output,
                prefix: None,
            });
        }
    }
    if format == TraceFormat::AzureCsv {
        notes.push(format!(
            "{source}: TIMESTAMP converted to seconds after the earliest timestamp"
        ));
    }
    let mut w = Workload::new(source, requests)?;
    let tags: Vec<Tag> = rows.into_iter().map(|r| r.tag).collect();
    link(source, &mut w, &tags)?;
    notes.append(&mut w.notes);
    w.notes = notes;
    Ok(w)
}

/// Only the `(prompt, output)` lengths of a trace, in file order (for resampling).
pub fn parse_lengths(source: &str, text: &str) -> Result<Vec<(u32, u32)>, SimError> {
    let format = TraceFormat::detect(source, text)?;
    Ok(parse_rows(source, text, format)?
        .into_iter()
        .map(|r| (r.prompt, r.output))
        .collect())
}

fn parse_rows(source: &str, text: &str, format: TraceFormat) -> Result<Vec<Row>, SimError> {
    match format {
        TraceFormat::ApexJsonl => parse_apex(source, text),
        TraceFormat::VidurCsv => parse_vidur(source, text),
        TraceFormat::AzureCsv => parse_azure(source, text),
    }
}

fn value_err(file: &str, line: usize, field: &str, value: &str, expected: &str) -> SimError {
    SimError::TraceValue {
        file: file.to_string(),
        line,
        field: field.to_string(),
        value: parallax_ir::shown(value, 60),
        expected: expected.to_string(),
    }
}

const LEN_EXPECTED: &str = "an integer number of tokens from 1 to 4294967295";

/// A token count written as text: an integer (or a float with integral value) in 1..=u32::MAX.
fn len_from_text(file: &str, line: usize, field: &str, s: &str) -> Result<u32, SimError> {
    let s = s.trim();
    let v: f64 = if let Ok(i) = s.parse::<i64>() {
        i as f64
    } else {
        match s.parse::<f64>() {
            Ok(f) if f.is_finite() && f.fract() == 0.0 => f,
            _ => return Err(value_err(file, line, field, s, LEN_EXPECTED)),
        }
    };
    if v < 1.0 || v > u32::MAX as f64 {
        return Err(value_err(file, line, field, s, LEN_EXPECTED));
    }
    Ok(v as u32)
}

fn parse_apex(file: &str, text: &str) -> Result<Vec<Row>, SimError> {
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        // an object, each key once (a repeated key would be read as its last value)
        let value = parallax_ir::json::parse_unique(l).map_err(|e| SimError::TraceSyntax {
            file: file.to_string(),
            line,
            message: format!("invalid JSON: {e}"),
        })?;
        let Some(obj) = value.as_object() else {
            return Err(SimError::TraceSyntax {
                file: file.to_string(),
                line,
                message: format!(
                    "invalid JSON: expected a JSON object, found `{}`",
                    parallax_ir::shown(l, 40)
                ),
            });
        };
        let get = |field: &str| -> Result<&serde_json::Value, SimError> {
            match obj.get(field) {
                Some(v) => Ok(v),
                None => Err(SimError::TraceMissingField {
                    file: file.to_string(),
                    line,
                    field: field.to_string(),
                }),
            }
        };
        let len = |field: &str| -> Result<u32, SimError> {
            let v = get(field)?;
            match v {
                serde_json::Value::Number(n) => len_from_text(file, line, field, &n.to_string()),
                other => Err(value_err(
                    file,
                    line,
                    field,
                    &other.to_string(),
                    LEN_EXPECTED,
                )),
            }
        };
        let prompt = len("ContextTokens")?;
        let output = len("GeneratedTokens")?;
        let off = get("StartTimeOffset")?;
        let ns = off
            .as_f64()
            .filter(|f| f.is_finite() && (0.0..=super::MAX_ARRIVAL_S * 1e9).contains(f))
            .ok_or_else(|| {
                value_err(
                    file,
                    line,
                    "StartTimeOffset",
                    &off.to_string(),
                    &format!(
                        "a number of nanoseconds from 0 to {:e}",
                        super::MAX_ARRIVAL_S * 1e9
                    ),
                )
            })?;
        let arrival = match off.as_u64() {
            Some(u) => u as f64 / 1e9,
            None => ns / 1e9,
        };
        let id_field = |field: &str| -> Result<Option<String>, SimError> {
            match obj.get(field) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
                Some(other) => Err(value_err(
                    file,
                    line,
                    field,
                    &other.to_string(),
                    "a string or an integer id",
                )),
            }
        };
        let tag = Tag {
            line,
            conversation: id_field("conversation_id")?,
            group: id_field("prefix_id")?,
            group_tokens: match obj.get("prefix_tokens") {
                None | Some(serde_json::Value::Null) => None,
                Some(_) => Some(len("prefix_tokens")?),
            },
        };
        rows.push(Row {
            id: rows.len() as u64,
            arrival_s: Some(arrival),
            prompt,
            output,
            tag,
        });
    }
    Ok(rows)
}

/// The fields of one CSV line, each trimmed: RFC 4180 quoting (a field holding a comma is
/// quoted, `""` inside quotes is a quote), with spaces allowed around a quoted field.
///
/// # Errors
/// An unterminated quote, or text after a closing quote.
pub fn csv_fields(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut field = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') if chars.next_if_eq(&'"').is_some() => field.push('"'),
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err("a closing quote (this line has an unterminated one)".into())
                    }
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            match chars.peek() {
                None | Some(',') => {}
                Some(_) => {
                    return Err(format!(
                        "a comma after the closing quote of `{field}` (a quoted field ends at \
                         its quote)"
                    ))
                }
            }
        } else {
            while let Some(c) = chars.next_if(|&c| c != ',') {
                field.push(c);
            }
            field = field.trim().to_string();
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// CSV lines after the header: `(line number, fields)`, with the column count checked.
struct Csv<'a> {
    file: &'a str,
    header: Vec<String>,
    header_line: usize,
    body: Vec<(usize, &'a str)>,
}

impl<'a> Csv<'a> {
    fn new(file: &'a str, text: &'a str) -> Result<Self, SimError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((header_line, h)) = lines.next() else {
            return Err(SimError::UnknownFormat {
                file: file.to_string(),
                message: "the file is empty".into(),
            });
        };
        let header: Vec<String> = csv_fields(h).map_err(|message| SimError::TraceSyntax {
            file: file.to_string(),
            line: header_line,
            message: format!("expected {message}"),
        })?;
        // A column named twice would be read from its first copy only.
        if let Some(dup) = header
            .iter()
            .enumerate()
            // empty names are trailing commas, as spreadsheets export them
            .find_map(|(i, c)| (!c.is_empty() && header[..i].contains(c)).then_some(c))
        {
            return Err(value_err(file, header_line, dup, dup, "each column once"));
        }
        Ok(Csv {
            file,
            header,
            header_line,
            body: lines.collect(),
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    fn require(&self, name: &str) -> Result<usize, SimError> {
        self.column(name)
            .ok_or_else(|| SimError::TraceMissingField {
                file: self.file.to_string(),
                line: self.header_line,
                field: name.to_string(),
            })
    }

    /// The optional prefix columns of a row (empty cells mean none).
    fn tag(&self, line: usize, f: &[String]) -> Result<Tag, SimError> {
        let cell = |name: &str| {
            self.column(name)
                .map(|c| f[c].trim())
                .filter(|v| !v.is_empty())
        };
        Ok(Tag {
            line,
            conversation: cell("conversation_id").map(str::to_string),
            group: cell("prefix_id").map(str::to_string),
            group_tokens: cell("prefix_tokens")
                .map(|v| len_from_text(self.file, line, "prefix_tokens", v))
                .transpose()?,
        })
    }

    fn fields(&self, line: usize, text: &str) -> Result<Vec<String>, SimError> {
        let f = csv_fields(text).map_err(|message| SimError::TraceSyntax {
            file: self.file.to_string(),
            line,
            message: format!("expected {message}"),
        })?;
        if f.len() != self.header.len() {
            return Err(SimError::TraceSyntax {
                file: self.file.to_string(),
                line,
                message: format!(
                    "{} field(s), expected {} as in the header ({})",
                    f.len(),
                    self.header.len(),
                    self.header.join(",")
                ),
            });
        }
        Ok(f)
    }
}

fn parse_vidur(file: &str, text: &str) -> Result<Vec<Row>, SimError> {
    let csv = Csv::new(file, text)?;
    let cp = csv.require("num_prefill_tokens")?;
    let cd = csv.require("num_decode_tokens")?;
    let ca = csv.column("arrived_at");
    let mut rows = Vec::with_capacity(csv.body.len());
    for &(line, l) in &csv.body {
        let f = csv.fields(line, l)?;
        let arrival_s = match ca {
            Some(c) => {
                let s = f[c].trim();
                match s.parse::<f64>() {
                    Ok(t) if t.is_finite() && (0.0..=super::MAX_ARRIVAL_S).contains(&t) => Some(t),
                    _ => {
                        return Err(value_err(
                            file,
                            line,
                            "arrived_at",
                            s,
                            &format!("seconds from 0 to {:e}", super::MAX_ARRIVAL_S),
                        ))
                    }
                }
            }
            None => None,
        };
        rows.push(Row {
            id: rows.len() as u64,
            arrival_s,
            prompt: len_from_text(file, line, "num_prefill_tokens", &f[cp])?,
            output: len_from_text(file, line, "num_decode_tokens", &f[cd])?,
            tag: csv.tag(line, &f)?,
        });
    }
    Ok(rows)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (also `T` as separator, optional trailing `Z`) →
/// (days since epoch, seconds of day).
fn parse_timestamp(s: &str) -> Option<(i64, f64)> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let mo: i64 = dp.next()?.parse().ok()?;
    let d: i64 = dp.next()?.parse().ok()?;
    // Years 1900..=9999 keep day counts far from overflow and catch garbage; the day must
    // exist in its month (no 2023-02-31).
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if dp.next().is_some() || !(1900..=9999).contains(&y) || !(1..=month_days).contains(&d) {
        return None;
    }
    let mut tp = time.split(':');
    let h: i64 = tp.next()?.parse().ok()?;
    let mi: i64 = tp.next()?.parse().ok()?;
    let sec_s = tp.next()?;
    if tp.next().is_some() || !(0..24).contains(&h) || !(0..60).contains(&mi) {
        return None;
    }
    let (whole, frac) = match sec_s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (sec_s, ""),
    };
    let sec: i64 = whole.parse().ok()?;
    if !(0..=60).contains(&sec) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let frac_v = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse::<f64>().ok()?
    };
    Some((
        days_from_civil(y, mo, d),
        (h * 3600 + mi * 60 + sec) as f64 + frac_v,
    ))
}

fn parse_azure(file: &str, text: &str) -> Result<Vec<Row>, SimError> {
    let csv = Csv::new(file, text)?;
    let ct = csv.require("TIMESTAMP")?;
    let cp = csv.require("ContextTokens")?;
    let cg = csv.require("GeneratedTokens")?;
    let mut stamps = Vec::with_capacity(csv.body.len());
    let mut rows = Vec::with_capacity(csv.body.len());
    for &(line, l) in &csv.body {
        let f = csv.fields(line, l)?;
        let ts = parse_timestamp(&f[ct]).ok_or_else(|| {
            value_err(
                file,
                line,
                "TIMESTAMP",
                &f[ct],
                "a valid date-time `YYYY-MM-DD HH:MM:SS[.fraction]` with a year in 1900..=9999",
            )
        })?;
        stamps.push(ts);
        rows.push(Row {
            id: rows.len() as u64,
            arrival_s: None,
            prompt: len_from_text(file, line, "ContextTokens", &f[cp])?,
            output: len_from_text(file, line, "GeneratedTokens", &f[cg])?,
            tag: csv.tag(line, &f)?,
        });
    }
    if let Some(&(d0, s0)) = stamps
        .iter()
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
    {
        for (r, &(d, s)) in rows.iter_mut().zip(&stamps) {
            r.arrival_s = Some((d - d0) as f64 * 86_400.0 + (s - s0));
        }
    }
    Ok(rows)
}
