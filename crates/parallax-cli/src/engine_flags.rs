//! vLLM's engine switches shared by `predict`, `simulate` and `search`: `--enforce-eager`
//! (no CUDA graphs), `--disable-custom-all-reduce` (NCCL for every all-reduce) and
//! speculative decoding by the model's multi-token-prediction module
//! (`--num-speculative-tokens`, `--speculative-acceptance`), applied to the engine model of
//! `--engine`.

use crate::output::CliError;
use clap::Args;
use parallax::ir::Model;
use parallax::sim::Speculation;
use parallax::EngineModel;

/// Engine switches named as vLLM names them.
#[derive(Debug, Args, Default)]
pub struct EngineFlags {
    /// vLLM's flag: never replay CUDA graphs; every iteration launches its kernels eagerly.
    #[arg(long)]
    pub enforce_eager: bool,
    /// vLLM's flag: all-reduce with NCCL only, not the engine's custom (one-shot NVLink)
    /// all-reduce for small messages.
    #[arg(long)]
    pub disable_custom_all_reduce: bool,
    /// Speculative decoding with the model's multi-token-prediction (MTP) module drafting
    /// this many tokens per step (vLLM's `--speculative-config` `num_speculative_tokens` with
    /// method `mtp`; SGLang's `--speculative-num-steps`; TensorRT-LLM's
    /// `num_nextn_predict_layers`). The model must ship MTP layers (`num_nextn_predict_layers`
    /// in its config, e.g. DeepSeek-V3/R1).
    #[arg(long, value_name = "K", value_parser = crate::common::draft_tokens_arg)]
    pub num_speculative_tokens: Option<u32>,
    /// Conditional acceptance rate of each draft position, comma-separated (draft i accepted
    /// given drafts before it were): e.g. `0.85` or `0.85,0.3`. Default for one draft: 0.85
    /// (DeepSeek-V3's report measured 85–90 % for its MTP module).
    #[arg(long, value_name = "RATES", requires = "num_speculative_tokens")]
    pub speculative_acceptance: Option<String>,
}

impl EngineFlags {
    /// `engine` with the switches applied, for `model`.
    ///
    /// # Errors
    /// Speculation on a model without MTP layers, acceptance rates that are not one per
    /// draft token in `[0, 1]`, or more than one draft token without rates.
    pub fn apply(&self, mut engine: EngineModel, model: &Model) -> Result<EngineModel, CliError> {
        if self.enforce_eager {
            engine = engine.without_cuda_graphs();
        }
        if self.disable_custom_all_reduce {
            engine = engine.without_custom_all_reduce();
        }
        if let Some(s) = self.speculation(model)? {
            engine = engine.with_speculation(s);
        }
        Ok(engine)
    }

    /// The speculation of `--num-speculative-tokens` and `--speculative-acceptance`.
    fn speculation(&self, model: &Model) -> Result<Option<Speculation>, CliError> {
        let Some(k) = self.num_speculative_tokens else {
            return Ok(None);
        };
        let rates: Option<Vec<f64>> = match &self.speculative_acceptance {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(|r| {
                        r.trim().parse::<f64>().map_err(|_| {
                            CliError::input(format!(
                                "invalid --speculative-acceptance `{}`: `{}` is not a number; \
                                 expected rates in [0, 1] separated by commas",
                                parallax::ir::shown(list, 80),
                                parallax::ir::shown(r.trim(), 80)
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        parallax::plan::mtp_speculation(model, k, rates.as_deref())
            .map(Some)
            .map_err(|e| {
                CliError::input(match &self.speculative_acceptance {
                    Some(a) => format!(
                        "--num-speculative-tokens {k} --speculative-acceptance {}: {e}",
                        parallax::ir::shown(a, 80)
                    ),
                    None => format!(
                        "--num-speculative-tokens {k}: {e}{}",
                        if k > 1 {
                            "; give them with --speculative-acceptance (e.g. 0.85,0.5)"
                        } else {
                            ""
                        }
                    ),
                })
            })
    }
}

/// The line `predict` and `simulate` print for speculative decoding.
pub fn speculation_text(s: &Speculation) -> String {
    format!(
        "speculation   MTP, {} draft token{} per step verified with the next one, {} tokens per \
         decoding request and step on average",
        s.draft_tokens,
        if s.draft_tokens == 1 { "" } else { "s" },
        // a computed mean (0.9 + 0.9·0.7 = 2.5300000000000002): three decimals, trimmed
        format!("{:.3}", s.tokens_per_step())
            .trim_end_matches('0')
            .trim_end_matches('.')
    )
}
