//! Errors and output helpers shared by the subcommands.
//!
//! Everything written to stdout goes through [`out!`] / [`outln!`], which ignore write errors:
//! a closed pipe (`parallax search --json | head`) must end the output quietly, never panic.

/// `print!` to stdout, ignoring write errors (e.g. a closed pipe).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `println!` to stdout, ignoring write errors (e.g. a closed pipe).
macro_rules! outln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

use std::fmt::Display;

/// An error that ends the program: a message for stderr and an exit code.
#[derive(Debug)]
pub struct CliError {
    /// What went wrong, naming the input, field and value.
    pub message: String,
    /// 2 for bad input, 1 for everything else.
    pub code: u8,
}

/// Library option names and the flags that set them, longest first: errors from the library
/// speak of builder fields, users of flags.
const FLAG_NAMES: &[(&str, &str)] = &[
    ("steady_state.requests", "--steady-requests"),
    ("steady_state.arrivals", "--arrivals"),
    ("workload.rate", "--rate"),
    ("scheduler_space.max_num_seqs", "--max-num-seqs"),
    ("scheduler.max_num_batched_tokens", "--max-batched-tokens"),
    ("scheduler_space.chunk_sizes", "--chunk"),
    ("scheduler.max_num_seqs", "--max-num-seqs"),
    ("scheduler.chunk_size", "--chunk"),
    ("gpu_memory_utilization", "--gpu-memory-utilization"),
    ("max_num_batched_tokens", "--max-batched-tokens"),
    ("price_per_gpu_hour", "--price"),
    ("limits.max_plans", "--max-plans"),
    ("max_num_seqs", "--max-num-seqs"),
    ("slo.ttft_ms", "--slo-ttft"),
    ("slo.tpot_ms", "--slo-tpot"),
    ("slo_target", "--slo-target"),
    ("max_gpus", "--max-gpus"),
    ("max_pp", "--max-pp"),
    ("max_concurrency", "--max-concurrency"),
    ("option block_size", "option --block-size"),
    ("config: preemption", "config: --preemption"),
    ("config: router", "config: --router"),
    ("prefix_caching on", "--prefix-caching"),
    ("option `objective`", "option `--objective`"),
    ("option `cost-model`", "option `--cost-model`"),
    ("option cluster = ", "option --cluster = "),
];

/// `message` with library option names replaced by the flags that set them, where a name
/// stands as a word of its own: the same letters inside a path the user gave
/// (`runs/max_num_seqs.jsonl`) or a header quoted from their file (`…,max_num_seqs,…`) stay
/// as written. A name's edge that is a letter, digit or `_` must meet the start or end of the
/// message or a character that cannot continue a path or a header cell (not a letter,
/// digit, `_`, `/`, `-`, `.` or `,`; a `.` or `,` that a space or the end follows ends a
/// sentence or a list and counts as a boundary after the name).
pub fn public_names(message: &str) -> String {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let joins = |c: char| word(c) || matches!(c, '/' | '-' | '.' | ',');
    let mut m = message.to_string();
    for &(internal, flag) in FLAG_NAMES {
        let check_before = internal.chars().next().is_some_and(word);
        let check_after = internal.chars().next_back().is_some_and(word);
        let mut out = String::with_capacity(m.len());
        let mut rest = m.as_str();
        while let Some(at) = rest.find(internal) {
            out.push_str(&rest[..at]);
            let before = out.chars().next_back();
            let mut after = rest[at + internal.len()..].chars();
            let opens = !check_before || before.map_or(true, |c| !joins(c));
            let closes = !check_after
                || match after.next() {
                    None => true,
                    Some('.' | ',') => after.next().map_or(true, char::is_whitespace),
                    Some(c) => !joins(c),
                };
            out.push_str(if opens && closes { flag } else { internal });
            rest = &rest[at + internal.len()..];
        }
        out.push_str(rest);
        m = out;
    }
    m
}

impl CliError {
    /// Bad user input (exit code 2). Library option names in the message become flag names.
    pub fn input(e: impl Display) -> Self {
        CliError {
            message: public_names(&e.to_string()),
            code: 2,
        }
    }

    /// Bad user input (exit code 2) whose message is kept as written: errors that name a
    /// file's columns (which share names with library options) rather than flags.
    pub fn input_verbatim(e: impl Display) -> Self {
        CliError {
            message: e.to_string(),
            code: 2,
        }
    }

    /// A failure that is not the input's fault (exit code 1).
    pub fn failure(e: impl Display) -> Self {
        CliError {
            message: e.to_string(),
            code: 1,
        }
    }
}

/// Serialise `value` as pretty JSON to stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(CliError::failure)?;
    outln!("{text}");
    Ok(())
}

/// Checks, before any work is done, that `path` (given with `flag`) can be written: not a
/// folder, inside a folder that exists. A run whose output file fails only at the end loses
/// the whole run.
pub fn check_output(flag: &str, path: &std::path::Path) -> Result<(), CliError> {
    if path.is_dir() {
        return Err(CliError::input(format!(
            "invalid {flag} `{}`: a folder; expected a file path",
            path.display()
        )));
    }
    let parent = parent_dir(path);
    if !parent.is_dir() {
        return Err(CliError::input(format!(
            "invalid {flag} `{}`: the folder `{}` does not exist",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// The folder `path` is in (`.` for a bare file name).
fn parent_dir(path: &std::path::Path) -> &std::path::Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    }
}

/// Whether `a` and `b` name the same file: the same canonical path where both exist (links
/// and `./` resolved), else the same canonical folder and file name.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    let canonical = |p: &std::path::Path| {
        std::fs::canonicalize(p).ok().or_else(|| {
            Some(
                std::fs::canonicalize(parent_dir(p))
                    .ok()?
                    .join(p.file_name()?),
            )
        })
    };
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Refuses output files that would overwrite an input or each other: `outputs` and `inputs`
/// are `(flag, path)` pairs (an input's path only where it names an existing file).
pub fn check_distinct_outputs(
    outputs: &[(&str, &std::path::Path)],
    inputs: &[(&str, &std::path::Path)],
) -> Result<(), CliError> {
    for (i, &(flag, out)) in outputs.iter().enumerate() {
        let earlier = outputs[..i].iter();
        let inputs = inputs.iter().filter(|(_, p)| p.is_file());
        if let Some((other, _)) = inputs.chain(earlier).find(|(_, p)| same_file(out, p)) {
            return Err(CliError::input(format!(
                "invalid {flag} `{}`: it names the same file as {other}; expected another file \
                 (writing it would overwrite that one)",
                out.display()
            )));
        }
    }
    Ok(())
}

/// Write `text` to `path`, naming the path on failure.
pub fn write_file(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))
}

/// Render rows as an aligned text table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut first = true;
        for (i, c) in cells.iter().enumerate() {
            if !first {
                out.push_str("  ");
            }
            first = false;
            let pad = widths[i].saturating_sub(c.chars().count());
            // Right-align everything but the first column.
            if i == 0 {
                out.push_str(c);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(rule.iter().map(|s| s.as_str()).collect(), &mut out);
    for row in rows {
        line(row.iter().map(|s| s.as_str()).collect(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::public_names;

    #[test]
    fn option_names_become_flags_but_the_users_own_text_stays() {
        assert_eq!(
            public_names("invalid option max_num_seqs = 0: expected 1..=4096"),
            "invalid option --max-num-seqs = 0: expected 1..=4096"
        );
        assert_eq!(
            public_names("scheduler.max_num_batched_tokens (0) is below max_num_seqs."),
            "--max-batched-tokens (0) is below --max-num-seqs."
        );
        assert_eq!(
            public_names("set max_num_seqs, max_concurrency [or max_gpus]"),
            "set --max-num-seqs, --max-concurrency [or --max-gpus]"
        );
        // an entry ending in a space is followed by the value
        assert_eq!(
            public_names("invalid option cluster = 1x8xH100+1x8xA100"),
            "invalid option --cluster = 1x8xH100+1x8xA100"
        );
        // a path and a header quoted from the user's file are theirs
        for text in [
            "runs/max_num_seqs.jsonl:1: field `ContextTokens`",
            "max_num_seqs.jsonl:1: field `ContextTokens`",
            "header engine,max_num_seqs,max_num_batched_tokens,gpu_memory_utilization",
        ] {
            assert_eq!(public_names(text), text);
        }
    }
}
