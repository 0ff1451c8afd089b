//! Prefix identity of requests (for prefix caching): trace columns and synthetic specs.
//!
//! # Trace columns
//! Every trace format accepts three optional columns (JSONL fields or CSV header names):
//! - `conversation_id` (any text or integer): the request is one turn of a multi-turn
//!   conversation. Turns are ordered by arrival; each turn's prompt must contain the previous
//!   turn's prompt and answer (`prompt ≥ previous prompt + previous output`), as chat clients
//!   resend the whole history. The whole turn (`prompt + output` tokens) lies in the
//!   conversation's stream, so a later turn can reuse every full KV block of earlier turns.
//! - `prefix_id` with `prefix_tokens`: the first `prefix_tokens` prompt tokens are a prompt
//!   shared by every request with the same `prefix_id` (a system prompt, few-shot examples).
//!
//! A request has either a conversation or a shared prefix, not both. An empty CSV cell (or a
//! JSON `null`) means none.
//!
//! # Synthetic specs
//! [`PrefixSpec`] adds prefix identity to a generated workload (`synthetic:` keys, see
//! [`super::spec`]):
//! - `prefix=shared(N)[,share=F][,prompts=G]`: a fraction `F` (default 1) of the requests get
//!   one of `G` (default 1) system prompts of `N` tokens, chosen uniformly, in front of their
//!   drawn prompt;
//! - `turns=T[,think=S]`: consecutive groups of `T` requests become conversations; the first
//!   turn keeps its arrival, each later turn arrives `S` seconds (default 5) after the previous
//!   one and its prompt is the previous prompt, the previous answer and its own drawn prompt.
//!   Arrivals are open-loop: a turn can arrive before the previous turn has finished, and then
//!   finds only what the cache holds at that moment.

use super::{Prefix, Request, Workload, MAX_REQUESTS, MAX_REQUEST_TOKENS};
use crate::error::SimError;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Prefix columns of one trace row, before linking.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tag {
    /// 1-based line of the row.
    pub line: usize,
    /// `conversation_id`.
    pub conversation: Option<String>,
    /// `prefix_id`.
    pub group: Option<String>,
    /// `prefix_tokens`.
    pub group_tokens: Option<u32>,
}

impl Tag {
    fn is_empty(&self) -> bool {
        self.conversation.is_none() && self.group.is_none() && self.group_tokens.is_none()
    }
}

fn bad(file: &str, line: usize, field: &str, value: impl ToString, expected: &str) -> SimError {
    SimError::TraceValue {
        file: file.to_string(),
        line,
        field: field.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// Give every request of `w` its [`Prefix`] from `tags` (indexed by request id = file row).
/// Requests must be sorted by arrival (as [`Workload::new`] leaves them).
pub(crate) fn link(file: &str, w: &mut Workload, tags: &[Tag]) -> Result<(), SimError> {
    if tags.iter().all(Tag::is_empty) {
        return Ok(());
    }
    let mut streams: BTreeMap<(bool, &str), u64> = BTreeMap::new();
    // Conversation stream -> (prompt, output) of its latest turn.
    let mut last: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
    for r in &mut w.requests {
        let Some(tag) = tags.get(r.id as usize) else {
            continue;
        };
        let n = streams.len() as u64;
        match (&tag.conversation, &tag.group, tag.group_tokens) {
            (None, None, None) => {}
            (Some(c), None, None) => {
                let s = *streams.entry((true, c.as_str())).or_insert(n);
                if let Some(&(p, o)) = last.get(&s) {
                    if (r.prompt_tokens as u64) < p as u64 + o as u64 {
                        return Err(bad(
                            file,
                            tag.line,
                            "conversation_id",
                            c,
                            &format!(
                                "a turn whose prompt ({} tokens) holds the previous turn's prompt and answer ({p} + {o} tokens)",
                                r.prompt_tokens
                            ),
                        ));
                    }
                }
                last.insert(s, (r.prompt_tokens, r.output_tokens));
                r.prefix = Some(Prefix {
                    stream: s,
                    tokens: r.prompt_tokens.saturating_add(r.output_tokens),
                });
            }
            (None, Some(g), Some(k)) => {
                if k > r.prompt_tokens {
                    return Err(bad(
                        file,
                        tag.line,
                        "prefix_tokens",
                        k,
                        &format!("≤ the prompt length ({})", r.prompt_tokens),
                    ));
                }
                let s = *streams.entry((false, g.as_str())).or_insert(n);
                r.prefix = Some(Prefix {
                    stream: s,
                    tokens: k,
                });
            }
            (None, Some(g), None) => {
                return Err(bad(
                    file,
                    tag.line,
                    "prefix_tokens",
                    "",
                    &format!("the shared prefix length of prefix_id `{g}`"),
                ))
            }
            (None, None, Some(k)) => {
                return Err(bad(
                    file,
                    tag.line,
                    "prefix_id",
                    "",
                    &format!("the id of the shared {k}-token prefix"),
                ))
            }
            (Some(c), _, _) => {
                return Err(bad(
                    file,
                    tag.line,
                    "conversation_id",
                    c,
                    "either conversation_id or prefix_id/prefix_tokens, not both",
                ))
            }
        }
    }
    Ok(())
}

/// Prefix identity added to a synthetic workload (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PrefixSpec {
    /// Shared system prompts.
    Shared {
        /// System prompt length, tokens (≥ 1).
        tokens: u32,
        /// Fraction of requests that carry one (0..=1).
        share: f64,
        /// Distinct system prompts (≥ 1), chosen uniformly.
        prompts: u32,
    },
    /// Multi-turn conversations.
    Turns {
        /// Turns per conversation (≥ 1).
        turns: u32,
        /// Seconds between a turn's arrival and the next one's (≥ 0).
        think_s: f64,
    },
}

impl PrefixSpec {
    /// Apply to `w` (requests in arrival order, ids = positions); `seed` drives the draws of
    /// [`PrefixSpec::Shared`]. The workload is re-sorted by arrival.
    ///
    /// # Errors
    /// An out-of-range setting, or a prompt that would exceed `u32::MAX` tokens.
    pub fn apply(&self, w: Workload, seed: u64) -> Result<Workload, SimError> {
        let name = w.name.clone();
        let mut reqs = w.requests;
        let too_long = |id: u64| {
            SimError::workload(
                &name,
                &format!("requests[id={id}].prompt_tokens"),
                "more than 4294967295",
                "a prompt length that fits 32 bits",
            )
        };
        match *self {
            PrefixSpec::Shared {
                tokens,
                share,
                prompts,
            } => {
                if tokens == 0 || tokens > MAX_REQUEST_TOKENS {
                    return Err(SimError::workload(
                        &name,
                        "prefix.shared",
                        tokens,
                        "1 to 16777216 tokens",
                    ));
                }
                if !(share.is_finite() && (0.0..=1.0).contains(&share)) {
                    return Err(SimError::workload(&name, "share", share, "0 ≤ share ≤ 1"));
                }
                if prompts == 0 || prompts as usize > MAX_REQUESTS {
                    return Err(SimError::workload(
                        &name,
                        "prompts",
                        prompts,
                        "1 to 10000000",
                    ));
                }
                let mut rng = Rng::new(seed ^ 0x5052_4546_4958_0001);
                for r in &mut reqs {
                    let shared = rng.next_f64() < share;
                    let g = rng.below(prompts as u64);
                    if shared {
                        r.prompt_tokens = r
                            .prompt_tokens
                            .checked_add(tokens)
                            .ok_or_else(|| too_long(r.id))?;
                        r.prefix = Some(Prefix { stream: g, tokens });
                    }
                }
            }
            PrefixSpec::Turns { turns, think_s } => {
                if turns == 0 || turns as usize > MAX_REQUESTS {
                    return Err(SimError::workload(&name, "turns", turns, "1 to 10000000"));
                }
                if !(think_s.is_finite() && think_s >= 0.0) {
                    return Err(SimError::workload(&name, "think", think_s, "seconds ≥ 0"));
                }
                let t = turns as usize;
                for (c, conv) in reqs.chunks_mut(t).enumerate() {
                    let mut prev: Option<Request> = None;
                    for r in conv.iter_mut() {
                        if let Some(p) = prev {
                            r.arrival_s = p.arrival_s + think_s;
                            r.prompt_tokens = p
                                .prompt_tokens
                                .checked_add(p.output_tokens)
                                .and_then(|x| x.checked_add(r.prompt_tokens))
                                .ok_or_else(|| too_long(r.id))?;
                        }
                        r.prefix = Some(Prefix {
                            stream: c as u64,
                            tokens: r
                                .prompt_tokens
                                .checked_add(r.output_tokens)
                                .ok_or_else(|| too_long(r.id))?,
                        });
                        prev = Some(*r);
                    }
                }
            }
        }
        let mut out = Workload::new(name, reqs)?;
        // Re-sorting after spreading turns over time is expected, not a fix-up to report.
        if matches!(self, PrefixSpec::Turns { .. }) {
            out.notes.clear();
        }
        let mut notes = w.notes;
        notes.append(&mut out.notes);
        out.notes = notes;
        Ok(out)
    }
}
