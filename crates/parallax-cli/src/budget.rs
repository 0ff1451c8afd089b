//! Wall-clock budgets of the subcommands whose running time grows with their input
//! (`simulate`, `validate`, `calibrate`): a watchdog thread ends the process with exit code
//! [`EXIT_BUDGET`] and a message naming the flag once the budget has passed.
//!
//! A simulation cut short has no meaningful metrics, so none are printed: the run either
//! finishes within its budget with its full, deterministic output, or it stops with the
//! message below and no result. (`search` and `place` have budgets of their own that return
//! the best result so far; see docs/cli.md.)

use crate::common;
use crate::output::CliError;
use std::time::Duration;

/// Exit code of a run stopped by its wall-clock budget.
pub const EXIT_BUDGET: i32 = 3;

/// Default budget of `simulate`, `validate` and `calibrate` (one hour).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(3600);

/// Start the budget of subcommand `command`: `limit` is the `--time-limit` value as the user
/// wrote it (a duration with a unit, at most 1,000,000 s), `None` for [`DEFAULT_BUDGET`].
///
/// # Errors
/// An invalid `--time-limit` (see [`common::duration`]).
pub fn start(command: &'static str, limit: Option<&str>) -> Result<(), CliError> {
    let budget = match limit {
        Some(text) => common::duration("--time-limit", text)?,
        None => DEFAULT_BUDGET,
    };
    let shown = match limit {
        Some(text) => format!("--time-limit {text}"),
        None => format!(
            "the default of {} s; raise it with --time-limit",
            DEFAULT_BUDGET.as_secs()
        ),
    };
    std::thread::Builder::new()
        .name("budget".into())
        .spawn(move || {
            std::thread::sleep(budget);
            eprintln!(
                "error: stopped: `parallax {command}` ran past its wall-clock budget ({shown}); \
                 no result is reported for a cut run"
            );
            std::process::exit(EXIT_BUDGET);
        })
        .map_err(CliError::failure)?;
    Ok(())
}
