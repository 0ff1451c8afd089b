//! When a long run stops early: a wall-clock instant, a caller's cancellation flag, or both.
//!
//! [`crate::Simulator::run_until`] takes a [`Deadline`], and so do the plan search's phases
//! (`parallax::Search`): the clock bounds a run's wall time; the flag lets another thread (a
//! Ctrl-C handler, a user interface) stop it. Neither ever changes the result of a run that
//! finishes: they only cut it short.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A wall-clock deadline and a cancellation flag, either optional; the default never passes.
///
/// # Examples
/// ```
/// use parallax_sim::Deadline;
/// use std::sync::{atomic::{AtomicBool, Ordering}, Arc};
/// use std::time::{Duration, Instant};
///
/// let flag = Arc::new(AtomicBool::new(false));
/// let d = Deadline::at(Instant::now() + Duration::from_secs(3600)).cancel_on(flag.clone());
/// assert!(!d.passed());
/// flag.store(true, Ordering::Relaxed);
/// assert!(d.passed() && d.cancelled());
/// assert!(!Deadline::default().passed());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Deadline {
    at: Option<Instant>,
    cancel: Option<Arc<AtomicBool>>,
}

impl Deadline {
    /// Passes at `at`.
    pub fn at(at: Instant) -> Self {
        Deadline {
            at: Some(at),
            cancel: None,
        }
    }

    /// Also passes once `flag` is set (by any thread).
    pub fn cancel_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// The wall-clock instant, if any.
    pub fn instant(&self) -> Option<Instant> {
        self.at
    }

    /// Whether the cancellation flag is set.
    pub fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// Whether the flag is set or the instant has come (reads the clock only when an instant
    /// is set).
    pub fn passed(&self) -> bool {
        self.cancelled() || self.at.is_some_and(|d| Instant::now() >= d)
    }
}

impl From<Option<Instant>> for Deadline {
    fn from(at: Option<Instant>) -> Self {
        Deadline { at, cancel: None }
    }
}

impl From<Instant> for Deadline {
    fn from(at: Instant) -> Self {
        Deadline::at(at)
    }
}
