//! KL weight schedules.

use serde::{Deserialize, Serialize};

use crate::error::{check_nonzero, Error, Result};

/// How the KL term is weighted at each optimisation step: the ELBO's loss is
/// `(N / B) * NLL_sum(batch) + beta * KL`.
///
/// With `beta = 1` throughout, every step is an unbiased estimate of the negative full-data
/// ELBO `NLL_sum(all data) + KL`. The schedules below trade that for easier optimisation early
/// on, or restore it on average over an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum KlSchedule {
    /// A fixed `beta` (1 is the true ELBO; `< 1` is a tempered / "cold" posterior).
    Constant(f64),
    /// `beta` rises linearly from `start` to `end` over the first `steps` steps, then stays at
    /// `end` ("KL annealing" / warm-up, Bowman et al. 2016; Sønderby et al. 2016).
    LinearWarmup {
        /// Number of steps of the warm-up (>= 1).
        steps: usize,
        /// `beta` at step 0.
        start: f64,
        /// `beta` from step `steps` on.
        end: f64,
    },
    /// Blundell et al. 2015 (eq. 9): minibatch `i` of the `M` in an epoch (1-based) weights the
    /// KL by `pi_i = 2^(M-i) / (2^M - 1)`, so early minibatches of an epoch see most of the
    /// prior and `sum_i pi_i = 1`. Because this crate's NLL term is already scaled by `N / B = M`,
    /// the `beta` used here is `M * pi_i`, whose mean over an epoch is 1: an epoch still sums to
    /// the full KL once, exactly as in the paper.
    Blundell {
        /// Minibatches per epoch `M` (>= 1).
        batches_per_epoch: usize,
    },
}

impl Default for KlSchedule {
    /// `Constant(1.0)`: the true ELBO.
    fn default() -> Self {
        KlSchedule::Constant(1.0)
    }
}

impl KlSchedule {
    /// Checks the schedule's parameters.
    pub fn validate(&self) -> Result<()> {
        let finite_nonneg = |field: &'static str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::invalid("KlSchedule", field, v, ">= 0 and finite", "use a KL weight such as 1.0"))
            }
        };
        match *self {
            KlSchedule::Constant(beta) => finite_nonneg("beta", beta),
            KlSchedule::LinearWarmup { steps, start, end } => {
                check_nonzero("KlSchedule", "steps", steps, "use a warm-up of at least one step")?;
                finite_nonneg("start", start)?;
                finite_nonneg("end", end)
            }
            KlSchedule::Blundell { batches_per_epoch } => check_nonzero(
                "KlSchedule",
                "batches_per_epoch",
                batches_per_epoch,
                "pass the number of minibatches per epoch, ceil(N / B)",
            ),
        }
    }

    /// Blundell's minibatch weight `pi_i = 2^(M-i) / (2^M - 1)` for the 1-based minibatch `i`
    /// of `m`, computed as `2^-i / (1 - 2^-M)` so it does not overflow for large `M`.
    pub fn blundell_weight(i: usize, m: usize) -> f64 {
        let i = i.clamp(1, m.max(1)) as f64;
        (-i).exp2() / (1.0 - (-(m as f64)).exp2())
    }

    /// The KL weight `beta` at optimisation step `step` (0-based, counted from the start of
    /// training).
    pub fn beta(&self, step: usize) -> f64 {
        match *self {
            KlSchedule::Constant(beta) => beta,
            KlSchedule::LinearWarmup { steps, start, end } => {
                if step >= steps {
                    end
                } else {
                    start + (end - start) * step as f64 / steps as f64
                }
            }
            KlSchedule::Blundell { batches_per_epoch: m } => {
                let i = step % m + 1;
                m as f64 * Self::blundell_weight(i, m)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blundell_weights_sum_to_one_and_halve() {
        for m in [1usize, 2, 8, 60, 2000] {
            let total: f64 = (1..=m).map(|i| KlSchedule::blundell_weight(i, m)).sum();
            assert!((total - 1.0).abs() < 1e-12, "m = {m}: {total}");
            // Closed form against the definition for small M.
            if m <= 60 {
                let direct = 2f64.powi((m - 1) as i32) / (2f64.powi(m as i32) - 1.0);
                assert!((KlSchedule::blundell_weight(1, m) - direct).abs() < 1e-12);
            }
            if m >= 2 {
                let r = KlSchedule::blundell_weight(2, m) / KlSchedule::blundell_weight(1, m);
                assert!((r - 0.5).abs() < 1e-12);
            }
        }
        // Mean beta over an epoch is 1.
        let s = KlSchedule::Blundell { batches_per_epoch: 8 };
        let mean: f64 = (0..8).map(|k| s.beta(k)).sum::<f64>() / 8.0;
        assert!((mean - 1.0).abs() < 1e-12);
        assert_eq!(s.beta(0), s.beta(8), "the schedule restarts every epoch");
    }

    #[test]
    fn warmup_is_linear_then_flat() {
        let s = KlSchedule::LinearWarmup { steps: 10, start: 0.0, end: 1.0 };
        assert_eq!(s.beta(0), 0.0);
        assert!((s.beta(5) - 0.5).abs() < 1e-12);
        assert_eq!(s.beta(10), 1.0);
        assert_eq!(s.beta(1000), 1.0);
    }

    #[test]
    fn invalid_schedules_are_typed_errors() {
        let e = KlSchedule::LinearWarmup { steps: 0, start: 0.0, end: 1.0 }.validate().unwrap_err();
        assert!(matches!(e, Error::InvalidParameter { field: "steps", .. }), "{e}");
        let e = KlSchedule::Constant(-1.0).validate().unwrap_err();
        assert!(e.to_string().contains("beta must be >= 0 and finite, got -1"), "{e}");
        let e = KlSchedule::Blundell { batches_per_epoch: 0 }.validate().unwrap_err();
        assert!(matches!(e, Error::InvalidParameter { field: "batches_per_epoch", .. }));
    }
}
