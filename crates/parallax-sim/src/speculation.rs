//! Speculative decoding as serving engines run multi-token prediction (MTP): each decode step
//! of a request verifies `draft_tokens` drafted tokens together with its next token and emits
//! the next token plus every draft accepted before the first rejection.
//!
//! The simulator needs only the mean number of drafts accepted per step: with conditional
//! acceptance rates `a₁, a₂, …` (the chance that draft `i` is accepted given that the drafts
//! before it were) it is `a₁ + a₁a₂ + a₁a₂a₃ + …` ([`Speculation::from_acceptance_rates`]), the
//! "mean acceptance length − 1" vLLM reports. Emission is deterministic: each request keeps a
//! credit that grows by the mean every step and emits its whole part (at most `draft_tokens`)
//! as extra tokens, so its tokens per step average `1 + mean` and every run is reproducible (a
//! real engine's acceptance is random; the means agree). The credit starts at a fraction that
//! depends on the request (`initial_credit`: 0.5 for the first, spread evenly over `[0, 1)`
//! for the others), so short outputs are not biased towards rejection and requests that
//! decode together do not all accept on the same steps.
//!
//! A step writes KV for the verified and drafted positions, so it needs room for
//! `draft_tokens` more tokens than a plain decode. What the step costs (the verification runs
//! `1 + draft_tokens` tokens of every decoding request through the model, the draft module
//! runs `draft_tokens` times) is the cost model's part (`parallax_plan::LowerOptions::
//! speculative_tokens`).

use serde::{Deserialize, Serialize};

/// Most draft tokens per step accepted ([`Speculation::draft_tokens`]); engines use 1–7.
pub const MAX_DRAFT_TOKENS: u32 = 16;

/// Acceptance rate of the first draft of DeepSeek-V3's multi-token-prediction module: the
/// lower end of the 85–90 % its technical report measured for the second-token prediction
/// (arXiv:2412.19437, section 5.4.3); also the rate NVIDIA's aiconfigurator assumes for it
/// (`nextn_accept_rates[0]`).
pub const DEEPSEEK_MTP_ACCEPTANCE: f64 = 0.85;

/// What a report says of a [`Speculation`] ([`Speculation::summary`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpeculationSummary {
    /// Draft tokens per step.
    pub draft_tokens: u32,
    /// Mean tokens a decoding request emits per step.
    pub tokens_per_step: f64,
    /// A decode step's time per emitted token, ms (when a step's time is known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_per_token: Option<f64>,
}

/// The accepted-draft credit request `idx` starts with: the fractional part of
/// `0.5 + idx · φ⁻¹` (the golden ratio's low-discrepancy sequence), in `[0, 1)`.
pub(crate) fn initial_credit(idx: u32) -> f64 {
    (0.5 + f64::from(idx) * 0.618_033_988_749_894_9).fract()
}

/// Speculative decoding settings (see the module docs).
///
/// # Examples
/// ```
/// use parallax_sim::Speculation;
/// // one MTP draft accepted 85 % of the time: 1.85 tokens per step
/// let s = Speculation::from_acceptance_rates(&[0.85]).unwrap();
/// assert_eq!(s.draft_tokens, 1);
/// assert!((s.tokens_per_step() - 1.85).abs() < 1e-12);
/// // two drafts, the second accepted 30 % of the time after the first
/// let s = Speculation::from_acceptance_rates(&[0.85, 0.3]).unwrap();
/// assert!((s.mean_accepted - (0.85 + 0.85 * 0.3)).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Speculation {
    /// Draft tokens verified per request and step (vLLM's `num_speculative_tokens`,
    /// TensorRT-LLM's `num_nextn_predict_layers`, SGLang's `speculative_num_steps`).
    pub draft_tokens: u32,
    /// Mean drafts accepted per step, in `[0, draft_tokens]`.
    pub mean_accepted: f64,
}

impl Speculation {
    /// Speculation with one draft per rate in `rates`, the conditional acceptance rate of
    /// each position (each in `[0, 1]`).
    ///
    /// # Errors
    /// A message naming the bad rate, or an empty list or more than [`MAX_DRAFT_TOKENS`]
    /// rates.
    pub fn from_acceptance_rates(rates: &[f64]) -> Result<Self, String> {
        if rates.is_empty() || rates.len() > MAX_DRAFT_TOKENS as usize {
            return Err(format!(
                "1 to {MAX_DRAFT_TOKENS} acceptance rates (one per draft token), got {}",
                rates.len()
            ));
        }
        let mut mean = 0.0;
        let mut all = 1.0;
        for (i, &a) in rates.iter().enumerate() {
            if !(a.is_finite() && (0.0..=1.0).contains(&a)) {
                return Err(format!(
                    "acceptance rate {} of draft {} is not in [0, 1]",
                    a,
                    i + 1
                ));
            }
            all *= a;
            mean += all;
        }
        Ok(Speculation {
            draft_tokens: rates.len() as u32,
            mean_accepted: mean,
        })
    }

    /// Mean tokens a request emits per decode step: `1 + mean_accepted`.
    pub fn tokens_per_step(&self) -> f64 {
        1.0 + self.mean_accepted
    }

    /// The report of this speculation (the `speculation` object of `predict` and `simulate`
    /// JSON): its draft tokens, tokens per step and, given a decode step's time in ms, the
    /// time per token.
    pub fn summary(&self, step_ms: Option<f64>) -> SpeculationSummary {
        SpeculationSummary {
            draft_tokens: self.draft_tokens,
            tokens_per_step: self.tokens_per_step(),
            ms_per_token: step_ms.map(|ms| ms / self.tokens_per_step()),
        }
    }

    /// Check the settings.
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] naming the field and value when `draft_tokens` is
    /// not in `1..=`[`MAX_DRAFT_TOKENS`] or `mean_accepted` not in `[0, draft_tokens]`.
    pub fn validate(&self) -> Result<(), crate::SimError> {
        if !(1..=MAX_DRAFT_TOKENS).contains(&self.draft_tokens) {
            return Err(crate::SimError::config(
                "speculation.draft_tokens",
                self.draft_tokens,
                &format!("1 to {MAX_DRAFT_TOKENS} draft tokens per step"),
            ));
        }
        let m = self.mean_accepted;
        if !(m.is_finite() && m >= 0.0 && m <= self.draft_tokens as f64) {
            return Err(crate::SimError::config(
                "speculation.mean_accepted",
                m,
                &format!(
                    "a mean in [0, {}] (at most every draft accepted)",
                    self.draft_tokens
                ),
            ));
        }
        Ok(())
    }

    /// Extra tokens (accepted drafts) a request with `credit` emits this step, updating the
    /// credit: its whole part after adding the mean, at most `draft_tokens`.
    pub(crate) fn accept(&self, credit: &mut f64) -> u32 {
        *credit += self.mean_accepted;
        // a tolerance so that 0.85 added 20 times makes 17 tokens, not 16
        let extra = ((*credit + 1e-9).floor() as u32).min(self.draft_tokens);
        *credit -= extra as f64;
        extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emission_averages_the_mean_and_stays_in_range() {
        let s = Speculation::from_acceptance_rates(&[0.85]).unwrap();
        let mut credit = initial_credit(0);
        assert_eq!(credit, 0.5);
        let extra: Vec<u32> = (0..20).map(|_| s.accept(&mut credit)).collect();
        assert_eq!(extra.iter().sum::<u32>(), 17);
        // every start in [0, 1)
        assert!((0..1000).all(|i| (0.0..1.0).contains(&initial_credit(i))));
        assert!(extra.iter().all(|&e| e <= 1));
        let s = Speculation::from_acceptance_rates(&[1.0, 1.0, 0.5]).unwrap();
        let mut credit = 0.0;
        let extra: Vec<u32> = (0..10).map(|_| s.accept(&mut credit)).collect();
        assert_eq!(extra.iter().sum::<u32>(), 25);
        assert!(extra.iter().all(|&e| (2..=3).contains(&e)));
    }

    #[test]
    fn bad_rates_are_named() {
        assert!(Speculation::from_acceptance_rates(&[])
            .unwrap_err()
            .contains("1 to 16"));
        let e = Speculation::from_acceptance_rates(&[0.8, 1.5]).unwrap_err();
        assert!(e.contains("1.5") && e.contains("draft 2"), "{e}");
        assert!(Speculation::from_acceptance_rates(&[f64::NAN]).is_err());
        let bad = Speculation {
            draft_tokens: 1,
            mean_accepted: 1.5,
        };
        assert!(bad.validate().unwrap_err().to_string().contains("1.5"));
        let bad = Speculation {
            draft_tokens: 0,
            mean_accepted: 0.0,
        };
        assert!(bad.validate().is_err());
    }
}
