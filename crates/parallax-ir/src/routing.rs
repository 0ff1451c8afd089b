//! MoE routing skew: how unequally a layer's token-expert pairs fall on its experts, and what
//! that does to the busiest expert-parallel rank (which the whole layer waits for).
//!
//! An [`ExpertLoad`] is each expert's share of the routed pairs (shares sum to 1): balanced,
//! Zipf-skewed (the expert of popularity rank `r` gets a share ∝ `1/r^s`; popularity ranks are
//! placed on expert ids by a fixed seeded shuffle, as a trained router's hot experts fall on
//! arbitrary ids), or measured (per-expert counts, e.g. from an engine's expert-load log).
//!
//! Experts are placed on EP ranks as engines do by default: contiguous blocks of `E/ep`
//! (expert `e` on rank `e / (E/ep)`). EPLB (expert-parallel load balancing, vLLM's
//! `--enable-eplb` with `num_redundant_experts`, DeepSeek's EPLB) adds `redundant` replica
//! slots: the hottest experts are replicated (each replica takes an equal part of its
//! expert's pairs), then all `E + redundant` replicas are packed on the ranks,
//! `(E + redundant)/ep` slots each, hottest first onto the least-loaded rank with a free slot.
//! Each replica costs one expert's weights on its rank.
//!
//! Plan lowering (`parallax_plan::skew`) prices each EP rank with [`fused_moe_op_on_rank`] and
//! waits for the slowest; [`fused_moe_op_with_load`] gives the
//! busiest rank's fused MoE op, and with a balanced load and no redundancy it returns exactly
//! [`crate::lower::fused_moe_op`]'s op.

use crate::dtype::Precision;
use crate::error::IrError;
use crate::lower::fused_moe_op;
use crate::model::Moe;
use crate::op::FusedMoe;

/// Each expert's share of a MoE layer's routed token-expert pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertLoad {
    shares: Vec<f64>,
}

/// SplitMix64: a tiny, fixed, seeded generator (deterministic shuffles).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl ExpertLoad {
    /// Every expert an equal share.
    pub fn balanced(experts: u32) -> Self {
        let n = experts.max(1) as usize;
        ExpertLoad {
            shares: vec![1.0 / n as f64; n],
        }
    }

    /// Zipf skew with exponent `s ≥ 0` (0: balanced); popularity ranks placed on expert ids by
    /// a Fisher–Yates shuffle seeded with `seed`.
    ///
    /// # Errors
    /// [`IrError::InvalidValue`] for a negative or non-finite `s`, or no experts.
    ///
    /// # Examples
    /// ```
    /// use parallax_ir::routing::ExpertLoad;
    /// let z = ExpertLoad::zipf(8, 1.0, 0).unwrap();
    /// assert!((z.shares().iter().sum::<f64>() - 1.0).abs() < 1e-12);
    /// assert_eq!(ExpertLoad::zipf(8, 0.0, 0).unwrap(), ExpertLoad::balanced(8));
    /// ```
    pub fn zipf(experts: u32, s: f64, seed: u64) -> Result<Self, IrError> {
        if !(s.is_finite() && s >= 0.0) {
            return Err(IrError::invalid(
                "routing skew",
                "zipf exponent",
                s.to_string(),
                "a finite number >= 0 (0: balanced)",
            ));
        }
        if experts == 0 {
            return Err(IrError::invalid(
                "routing skew",
                "experts",
                "0",
                "at least one expert",
            ));
        }
        if s == 0.0 {
            return Ok(Self::balanced(experts));
        }
        let n = experts as usize;
        let mut ids: Vec<usize> = (0..n).collect();
        let mut state = seed;
        for i in (1..n).rev() {
            let j = (splitmix(&mut state) % (i as u64 + 1)) as usize;
            ids.swap(i, j);
        }
        let weights: Vec<f64> = (1..=n).map(|r| (r as f64).powf(-s)).collect();
        let total: f64 = weights.iter().sum();
        let mut shares = vec![0.0; n];
        for (rank, &id) in ids.iter().enumerate() {
            shares[id] = weights[rank] / total;
        }
        Ok(ExpertLoad { shares })
    }

    /// Measured per-expert loads (counts or fractions, in expert-id order), normalised.
    ///
    /// # Errors
    /// [`IrError::InvalidValue`] naming `source` and the entry for a negative or non-finite
    /// value, or when every entry is 0.
    pub fn from_counts(counts: &[f64], source: &str) -> Result<Self, IrError> {
        for (i, &c) in counts.iter().enumerate() {
            if !(c.is_finite() && c >= 0.0) {
                return Err(IrError::invalid(
                    source,
                    &format!("expert {i}"),
                    c.to_string(),
                    "a finite load >= 0",
                ));
            }
        }
        // A sum that overflows is taken over the loads scaled by the largest.
        let max = counts.iter().copied().fold(0.0, f64::max);
        if max <= 0.0 {
            return Err(IrError::invalid(
                source,
                "expert loads",
                format!("{} entries summing to 0", counts.len()),
                "at least one expert with a positive load",
            ));
        }
        let total: f64 = counts.iter().sum();
        let shares = if total.is_finite() {
            counts.iter().map(|c| c / total).collect()
        } else {
            let scaled: f64 = counts.iter().map(|c| c / max).sum();
            counts.iter().map(|c| c / max / scaled).collect()
        };
        Ok(ExpertLoad { shares })
    }

    /// Parse a load vector: numbers separated by commas, whitespace or newlines; `#` starts a
    /// comment. `source` names the input in errors, which give the line and the token.
    ///
    /// # Errors
    /// [`IrError::InvalidValue`] for a token that is not a finite number >= 0 (field
    /// `line N (expert I)`, the token as written), or as [`Self::from_counts`].
    ///
    /// # Examples
    /// ```
    /// use parallax_ir::routing::ExpertLoad;
    /// let l = ExpertLoad::parse("# expert loads\n3, 1\n0 0\n", "load.txt").unwrap();
    /// assert_eq!(l.shares(), &[0.75, 0.25, 0.0, 0.0]);
    /// assert!(ExpertLoad::parse("1, x", "load.txt").unwrap_err().to_string().contains("line 1"));
    /// ```
    pub fn parse(text: &str, source: &str) -> Result<Self, IrError> {
        let mut counts = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("");
            for tok in line
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
            {
                let bad = |expected: &str| {
                    IrError::invalid(
                        source,
                        &format!("line {} (expert {})", n + 1, counts.len()),
                        format!("`{tok}`"),
                        expected,
                    )
                };
                let v: f64 = tok
                    .parse()
                    .map_err(|_| bad("a number (one load per expert)"))?;
                if !(v.is_finite() && v >= 0.0) {
                    return Err(bad("a finite load >= 0"));
                }
                counts.push(v);
            }
        }
        Self::from_counts(&counts, source)
    }

    /// Experts described.
    pub fn experts(&self) -> u32 {
        self.shares.len() as u32
    }

    /// Per-expert shares (sum 1), in expert-id order.
    pub fn shares(&self) -> &[f64] {
        &self.shares
    }

    /// The largest share and its expert.
    pub fn max_share(&self) -> (usize, f64) {
        self.shares
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, 0.0),
                |best, (i, s)| if s > best.1 { (i, s) } else { best },
            )
    }

    /// The load as top-`k` routing can realise it: each token picks `k` distinct experts, so no
    /// expert receives more than `1/k` of the routed pairs. Shares above that are capped and
    /// the excess spread over the other experts in proportion to their shares (repeated until
    /// none exceeds the cap; with `k ≥ E` every expert gets `1/E`). Loads already within the
    /// cap are returned unchanged.
    ///
    /// # Examples
    /// ```
    /// use parallax_ir::routing::ExpertLoad;
    /// let l = ExpertLoad::from_counts(&[6.0, 2.0, 1.0, 1.0], "x").unwrap();
    /// let c = l.capped_at_top_k(2); // expert 0 can take at most half of the pairs
    /// assert!((c.shares()[0] - 0.5).abs() < 1e-12);
    /// assert!((c.shares()[1] - 0.25).abs() < 1e-12); // 2/4 of the remaining half
    /// assert_eq!(ExpertLoad::balanced(8).capped_at_top_k(2), ExpertLoad::balanced(8));
    /// ```
    pub fn capped_at_top_k(&self, k: u32) -> ExpertLoad {
        let n = self.shares.len();
        let k = (k.max(1) as usize).min(n.max(1));
        let cap = 1.0 / k as f64;
        let mut shares = self.shares.clone();
        let mut capped = vec![false; n];
        loop {
            let over: Vec<usize> = (0..n)
                .filter(|&i| !capped[i] && shares[i] > cap * (1.0 + 1e-12))
                .collect();
            if over.is_empty() {
                break;
            }
            for &i in &over {
                capped[i] = true;
            }
            let fixed = capped.iter().filter(|&&c| c).count() as f64 * cap;
            let free: f64 = (0..n).filter(|&i| !capped[i]).map(|i| shares[i]).sum();
            let rest = (1.0 - fixed).max(0.0);
            let free_n = capped.iter().filter(|&&c| !c).count();
            for i in 0..n {
                shares[i] = if capped[i] {
                    cap
                } else if free > 0.0 {
                    shares[i] * rest / free
                } else {
                    rest / free_n.max(1) as f64
                };
            }
        }
        ExpertLoad { shares }
    }

    /// Whether every expert has the same share.
    pub fn is_balanced(&self) -> bool {
        self.shares.windows(2).all(|w| w[0] == w[1])
    }

    /// The replicas on each of `ep` ranks: per rank, the shares of the pairs each of its
    /// replicas receives. Without redundancy rank `r` holds experts `r·E/ep .. (r+1)·E/ep`;
    /// with `redundant` slots, EPLB as in the module docs.
    ///
    /// # Errors
    /// [`IrError::InvalidValue`] when `ep` is 0 or `E + redundant` is not a multiple of `ep`.
    pub fn placement(&self, ep: u32, redundant: u32) -> Result<Vec<Vec<f64>>, IrError> {
        let e = self.shares.len();
        let slots_total = e + redundant as usize;
        if ep == 0 || slots_total % ep as usize != 0 {
            return Err(IrError::invalid(
                "routing",
                "ep / redundant experts",
                format!("ep={ep}, {e} experts + {redundant} redundant"),
                "an EP degree dividing the experts plus redundant replicas",
            ));
        }
        let ep = ep as usize;
        let per = slots_total / ep;
        if redundant == 0 {
            return Ok(self.shares.chunks(per).map(|c| c.to_vec()).collect());
        }
        // Replicate: each extra replica goes to the expert with the largest per-replica load
        // (ties: lowest id).
        let mut replicas = vec![1u32; e];
        for _ in 0..redundant {
            let mut best = 0;
            for i in 1..e {
                if self.shares[i] / replicas[i] as f64 > self.shares[best] / replicas[best] as f64 {
                    best = i;
                }
            }
            replicas[best] += 1;
        }
        let mut items: Vec<(f64, usize)> = Vec::with_capacity(slots_total);
        for (i, (&share, &n)) in self.shares.iter().zip(&replicas).enumerate() {
            for _ in 0..n {
                items.push((share / n as f64, i));
            }
        }
        items.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut ranks: Vec<Vec<f64>> = vec![Vec::with_capacity(per); ep];
        let mut load = vec![0.0f64; ep];
        for (share, _) in items {
            let mut best: Option<usize> = None;
            for r in 0..ep {
                if ranks[r].len() < per && best.map_or(true, |b| load[r] < load[b]) {
                    best = Some(r);
                }
            }
            let r = best.unwrap_or(0);
            ranks[r].push(share);
            load[r] += share;
        }
        Ok(ranks)
    }

    /// The busiest rank's replicas (the most pairs; ties: the lowest rank), see
    /// [`Self::placement`].
    ///
    /// # Errors
    /// As [`Self::placement`].
    pub fn busiest_rank(&self, ep: u32, redundant: u32) -> Result<Vec<f64>, IrError> {
        let ranks = self.placement(ep, redundant)?;
        let mut best = 0;
        let sum = |v: &Vec<f64>| v.iter().sum::<f64>();
        for r in 1..ranks.len() {
            if sum(&ranks[r]) > sum(&ranks[best]) {
                best = r;
            }
        }
        Ok(ranks.into_iter().nth(best).unwrap_or_default())
    }
}

/// The fused MoE op of the **busiest** EP rank of `m` for `tokens` tokens under `tp × ep`
/// with routing `load` and `redundant` EPLB replica slots.
///
/// A balanced load without redundancy gives exactly [`fused_moe_op`]. Otherwise the rank
/// holds `(E + redundant)/ep` replicas with shares `p_i`: it processes
/// `ceil(tokens · top_k · Σ p_i)` pairs; replica `i` is active with probability
/// `1 − (1 − top_k·p_i)^tokens` (a token picks it with probability `top_k·p_i`, capped at 1);
/// the expected active count is rounded up as in [`crate::lower::routed_load`].
///
/// # Errors
/// [`IrError::InvalidValue`] when `load` does not describe `m.experts` experts, or as
/// [`ExpertLoad::placement`].
pub fn fused_moe_op_with_load(
    m: &Moe,
    tokens: u64,
    tp: u32,
    ep: u32,
    p: &Precision,
    load: &ExpertLoad,
    redundant: u32,
) -> Result<FusedMoe, IrError> {
    if load.experts() != m.experts {
        return Err(IrError::invalid(
            "routing",
            "expert loads",
            format!("{} entries", load.experts()),
            format!("one load per routed expert ({})", m.experts),
        ));
    }
    let ep = ep.max(1);
    if load.is_balanced() && redundant == 0 {
        load.placement(ep, 0)?;
        return Ok(fused_moe_op(m, tokens, tp, ep, p));
    }
    let rank = load.busiest_rank(ep, redundant)?;
    Ok(fused_moe_op_on_rank(m, tokens, tp, ep, p, &rank))
}

/// The fused MoE op of one EP rank whose replicas receive the shares `rank` of the routed
/// pairs (one entry per replica slot, from [`ExpertLoad::placement`]); see
/// [`fused_moe_op_with_load`] for the counts.
pub fn fused_moe_op_on_rank(
    m: &Moe,
    tokens: u64,
    tp: u32,
    ep: u32,
    p: &Precision,
    rank: &[f64],
) -> FusedMoe {
    let mut op = fused_moe_op(m, tokens, tp, ep.max(1), p);
    let k = m.top_k.min(m.experts) as f64;
    let share: f64 = rank.iter().sum();
    let assignments = (tokens as f64 * k * share).ceil();
    let expected: f64 = rank
        .iter()
        .map(|&pi| 1.0 - (1.0 - (k * pi).min(1.0)).powf(tokens as f64))
        .sum();
    let slots = rank.len() as u32;
    let active = if tokens == 0 || assignments <= 0.0 {
        0
    } else {
        ((expected - 1e-9).ceil().max(1.0) as u32).min(slots)
    };
    op.local_experts = slots;
    op.assignments = assignments as u64;
    op.active_experts = active;
    op.max_rows = if active == 0 {
        0
    } else {
        op.assignments.div_ceil(active as u64)
    };
    op
}
