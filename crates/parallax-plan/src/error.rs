//! The error type of `parallax-plan`.

use parallax_ir::IrError;

/// A shortfall of device memory on one pipeline stage of a plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MemoryShortfall {
    /// The plan, in canonical form.
    pub plan: String,
    /// Index of the pipeline stage that misses (0-based).
    pub stage: usize,
    /// Bytes one device of that stage needs (weights + activation reserve + the KV that must fit).
    pub needed_bytes: f64,
    /// Bytes one device may use under the engine's memory rule (vLLM's: `gpu_memory_utilization`
    /// × capacity; never more than the device's memory).
    pub available_bytes: f64,
}

impl MemoryShortfall {
    /// By how many bytes the stage misses (`needed - available`, positive).
    pub fn deficit_bytes(&self) -> f64 {
        self.needed_bytes - self.available_bytes
    }
}

impl std::fmt::Display for MemoryShortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
        write!(
            f,
            "plan `{}`: stage {} needs {:.2} GiB per device but {:.2} GiB are available; it misses by {:.2} GiB ({:.0} bytes)",
            self.plan,
            self.stage,
            self.needed_bytes / GIB,
            self.available_bytes / GIB,
            self.deficit_bytes() / GIB,
            self.deficit_bytes()
        )
    }
}

/// Everything that can go wrong in `parallax-plan`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A plan string that does not follow the grammar (see `PLAN-STRING.md`).
    #[error("malformed plan string `{input}`: at `{token}`: expected {expected}")]
    Parse {
        /// The whole string given.
        input: String,
        /// The offending part.
        token: String,
        /// What was expected there.
        expected: String,
    },
    /// A well-formed plan that does not fit the model or the cluster.
    #[error("inconsistent plan `{plan}`: {field}: {reason}")]
    Inconsistent {
        /// The plan (as given or in canonical form).
        plan: String,
        /// The part of the plan at fault (`tp`, `layers`, `attn`, `moe`, `dp·pp·tp`, ...).
        field: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// The plan's weights, activations and required KV do not fit a stage's devices.
    #[error("infeasible memory: {0}")]
    Memory(MemoryShortfall),
    /// A malformed `--prefill` / `--decode` batch spec.
    #[error("malformed {flag} spec `{spec}`: {expected}")]
    BatchSpec {
        /// Which flag (`--prefill` or `--decode`).
        flag: String,
        /// The spec as given.
        spec: String,
        /// What was expected.
        expected: String,
    },
    /// A batch of no prefill and no decode: nothing to predict.
    #[error(
        "no batch to predict: expected at least one --prefill/--decode spec (`--prefill BxS[+P]` \
         or `--decode BxC`)"
    )]
    EmptyBatch,
    /// An invalid option value (e.g. `gpu_memory_utilization` outside (0, 1]).
    #[error("invalid option {option} = {value}: expected {expected}")]
    Option {
        /// Option name.
        option: String,
        /// Value given.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// An error from the model IR (e.g. a shard that does not divide the heads).
    #[error(transparent)]
    Ir(#[from] IrError),
}

impl PlanError {
    pub(crate) fn inconsistent(
        plan: impl ToString,
        field: &str,
        reason: impl Into<String>,
    ) -> Self {
        PlanError::Inconsistent {
            plan: plan.to_string(),
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}
