//! Prediction-interval coverage probability (PICP) and mean interval width.
//!
//! A well-calibrated `level` interval contains the target a share `level` of the time; among
//! intervals with the right coverage, narrower is better (Pearce et al. 2018, *High-quality
//! prediction intervals for deep learning*, section 2; Kuleshov et al. 2018).

use burn::prelude::*;
use serde::Serialize;

use super::host;
use super::regression::{prediction_and_targets, scale};
use crate::error::{Error, Result};
use crate::predict::normal_quantile_two_sided;

/// Coverage and width of a set of prediction intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IntervalCoverage {
    /// Share of targets inside their interval, bounds included (PICP), in `[0, 1]`.
    pub coverage: f64,
    /// Mean of `upper - lower` over all entries, in the units of the targets.
    pub mean_width: f64,
    /// Number of entries (`N * D`).
    pub count: usize,
}

/// Summarises explicit bounds against targets, all already read back.
pub(super) fn summarise(lower: &[f64], upper: &[f64], y: &[f64]) -> IntervalCoverage {
    let inside = y.iter().zip(lower.iter().zip(upper)).filter(|(y, (l, u))| *l <= *y && *y <= *u).count();
    let width: f64 = lower.iter().zip(upper).map(|(l, u)| u - l).sum();
    let count = y.len();
    IntervalCoverage { coverage: inside as f64 / count as f64, mean_width: width / count as f64, count }
}

/// Coverage and mean width of the Gaussian central intervals `mean ± z sd` holding `level`
/// of each predictive, `z = Phi^-1((1 + level) / 2)` ([`inverse_normal_cdf`](crate::predict::inverse_normal_cdf); `z = 1.96` for
/// `level = 0.95`). The mean width is `2 z mean(sd)`.
///
/// With a [`RegressionSummary`](crate::predict::RegressionSummary):
/// `gaussian_interval_coverage(s.mean.clone(), y, s.total_sd(), 0.95)`.
///
/// # Shapes
/// - `mean`, `targets`, `sd`: `[N]` or `[N, D]`, all equal
///
/// # Errors
/// [`Error::InvalidParameter`] when `level` is not in `(0, 1)`, on a NaN/inf entry or a
/// standard deviation `<= 0`; [`Error::ShapeMismatch`] on empty inputs or differing shapes.
pub fn gaussian_interval_coverage<const D: usize>(
    mean: Tensor<D>,
    targets: Tensor<D>,
    sd: Tensor<D>,
    level: f64,
) -> Result<IntervalCoverage> {
    const CONTEXT: &str = "metrics::gaussian_interval_coverage";
    let z = normal_quantile_two_sided(CONTEXT, level)?;
    let (mu, y, dims) = prediction_and_targets(CONTEXT, "mean", mean, targets)?;
    let s = scale(
        CONTEXT,
        "sd",
        sd,
        &dims,
        "pass standard deviations (not variances or log-variances), floored at a small positive value",
    )?;
    let lower: Vec<f64> = mu.iter().zip(&s).map(|(m, s)| m - z * s).collect();
    let upper: Vec<f64> = mu.iter().zip(&s).map(|(m, s)| m + z * s).collect();
    Ok(summarise(&lower, &upper, &y))
}

/// Coverage and mean width of explicit intervals `[lower, upper]` (bounds included), e.g.
/// empirical quantiles of posterior samples, or
/// [`RegressionSummary::interval`](crate::predict::RegressionSummary::interval):
/// `interval_coverage(summary.interval(0.95)?, y)`.
///
/// # Shapes
/// - `interval`: `(lower, upper)`, each `[N]` or `[N, D]`
/// - `targets`: same as `lower`
///
/// # Errors
/// [`Error::ShapeMismatch`] on empty inputs or differing shapes; [`Error::InvalidParameter`] on
/// a NaN/inf entry or where `upper < lower`.
pub fn interval_coverage<const D: usize>(
    interval: (Tensor<D>, Tensor<D>),
    targets: Tensor<D>,
) -> Result<IntervalCoverage> {
    const CONTEXT: &str = "metrics::interval_coverage";
    let (lower, upper) = interval;
    let dims = lower.dims();
    host::same_shape(CONTEXT, "upper", &upper.dims(), "lower", &dims)?;
    let (l, y, dims) = prediction_and_targets(CONTEXT, "lower", lower, targets)?;
    let u = host::floats(CONTEXT, "upper", upper)?;
    if let Some(i) = l.iter().zip(&u).position(|(l, u)| u < l) {
        return Err(Error::invalid(
            CONTEXT,
            "upper",
            format!("{} below lower = {} at index {:?}", u[i], l[i], host::unravel(i, &dims)),
            ">= lower everywhere",
            "pass the interval as (lower, upper), in that order",
        ));
    }
    Ok(summarise(&l, &u, &y))
}
