//! Split conformal prediction: the finite-sample quantile, and intervals for regression around
//! any method's mean and standard deviation (Vovk et al. 2005; Papadopoulos et al. 2002; Lei
//! et al. 2018, *Distribution-free predictive inference for regression*).

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::Serialize;

use super::input::check_alpha;
use crate::error::{Error, Result};
use crate::metrics::host;
use crate::predict::RegressionSummary;

/// The rank `k = ceil((n + 1)(1 - alpha))` of the conformal quantile among `n` calibration
/// scores. A product within `1e-9` (relative) above an integer is taken as that integer, so
/// that floating-point error in `1 - alpha` (`1 - 0.3 = 0.70000000000000001`) does not raise
/// the rank by one.
pub fn conformal_rank(n: usize, alpha: f64) -> usize {
    let r = (n + 1) as f64 * (1.0 - alpha);
    (r - 1e-9 * r.max(1.0)).ceil().max(1.0) as usize
}

/// The split-conformal quantile of calibration scores: the `k`-th smallest score with
/// `k = ceil((n + 1)(1 - alpha))` ([`conformal_rank`]), or `+inf` when `k > n` (too few
/// calibration points for level `1 - alpha`: the only valid set is everything).
///
/// If the `n` calibration points and a test point are exchangeable, the test point's score is
/// at most this quantile with probability at least `1 - alpha`, and, when the scores are
/// distinct almost surely, at most `1 - alpha + 1 / (n + 1)` (Vovk et al. 2005; Lei et al.
/// 2018, theorem 2.2). With distinct scores the probability is exactly `k / (n + 1)`.
///
/// # Errors
/// [`Error::InvalidParameter`] when `alpha` is not in `(0, 1)`, `scores` is empty, or a score
/// is NaN.
pub fn conformal_quantile(scores: &[f64], alpha: f64) -> Result<f64> {
    const CONTEXT: &str = "calibration::conformal_quantile";
    check_alpha(CONTEXT, alpha)?;
    if scores.is_empty() {
        return Err(Error::invalid(CONTEXT, "scores", "0 scores", ">= 1 score", "pass the calibration set's scores"));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(Error::invalid(
            CONTEXT,
            "scores",
            format!("NaN at index [{i}]"),
            "not NaN",
            "drop or repair the calibration points whose score is NaN",
        ));
    }
    let n = scores.len();
    let k = conformal_rank(n, alpha);
    if k > n {
        return Ok(f64::INFINITY);
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(sorted[k - 1])
}

/// The nonconformity score of [`SplitConformalRegressor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConformalScore {
    /// `|y - mean|`: intervals `mean ± q` of one width everywhere.
    Absolute,
    /// `|y - mean| / sd`: intervals `mean ± q sd` that keep the model's own idea of where it is
    /// unsure (Papadopoulos et al. 2008; Lei et al. 2018, section 5.2, "locally weighted").
    Normalized,
}

/// Split-conformal prediction intervals for regression, on top of any method's predictive mean
/// and standard deviation (Bayes-by-backprop, MC dropout, an ensemble, a heteroscedastic head).
///
/// Fit on a calibration set the model was not trained on: the scores `|y - mean| / sd`
/// ([`ConformalScore::Normalized`], with `Some(sd)`) or `|y - mean|`
/// ([`ConformalScore::Absolute`], with `None`) give, per output column, the quantile `q` of
/// [`conformal_quantile`]; a test interval is `mean ± q sd` (or `mean ± q`). If calibration and
/// test points are exchangeable, each column's interval holds a test target with probability at
/// least `1 - alpha`, and at most `1 - alpha + 1 / (n + 1)`, whatever the model, however wrong
/// its mean or sd. With too few points (`ceil((n + 1)(1 - alpha)) > n`) the interval is
/// infinite.
///
/// ```
/// use bayesburn::calibration::SplitConformalRegressor;
/// use burn::prelude::*;
/// use burn::tensor::TensorData;
///
/// let device = Device::flex();
/// let t = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v.clone(), [v.len()]), &device);
/// // 9 calibration points whose residuals are 0.1, 0.2, ..., 0.9 standard deviations.
/// let mean = t(vec![0.0; 9]);
/// let y = t((1..=9).map(|i| i as f32 / 10.0).collect());
/// let sd = t(vec![1.0; 9]);
/// let conformal = SplitConformalRegressor::fit(mean, Some(sd), y, 0.2).unwrap();
/// // rank ceil(10 * 0.8) = 8: the 8th smallest score.
/// assert!((conformal.quantiles()[0] - 0.8).abs() < 1e-6);
/// let (lower, upper) = conformal.interval(t(vec![1.0]), Some(t(vec![2.0]))).unwrap(); // 1 ± 1.6
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitConformalRegressor {
    score: ConformalScore,
    alpha: f64,
    quantiles: Vec<f64>,
    calibration_size: usize,
}

/// Mean, optional sd and (when given) targets read back: `[N]` or `[N, D...]`, one column per
/// output (`D = 1` for `[N]`).
struct Columns {
    mean: Vec<f64>,
    sd: Option<Vec<f64>>,
    points: usize,
    outputs: usize,
}

fn read_columns<const D: usize>(context: &'static str, mean: Tensor<D>, sd: Option<Tensor<D>>) -> Result<Columns> {
    let dims = mean.dims();
    host::non_empty(context, "mean", &dims)?;
    let sd = match sd {
        Some(sd) => {
            host::same_shape(context, "sd", &sd.dims(), "mean", &dims)?;
            let s = host::floats(context, "sd", sd)?;
            host::positive(
                context,
                "sd",
                &s,
                &dims,
                "pass standard deviations (not variances), floored at a small positive value",
            )?;
            Some(s)
        }
        None => None,
    };
    let mean = host::floats(context, "mean", mean)?;
    let points = dims[0];
    Ok(Columns { outputs: mean.len() / points, mean, sd, points })
}

impl SplitConformalRegressor {
    /// Fits the per-output quantiles on a calibration set: `sd = Some(..)` uses the
    /// [`ConformalScore::Normalized`] score, `None` the [`ConformalScore::Absolute`] one.
    ///
    /// # Shapes
    /// - `mean`, `targets`, `sd`: `[N]` or `[N, D]`, all equal; each of the `D` columns is
    ///   calibrated on its own
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `alpha` is not in `(0, 1)`, on a NaN/inf entry or an
    /// sd `<= 0`; [`Error::ShapeMismatch`] on an empty calibration set or differing shapes.
    pub fn fit<const D: usize>(mean: Tensor<D>, sd: Option<Tensor<D>>, targets: Tensor<D>, alpha: f64) -> Result<Self> {
        const CONTEXT: &str = "SplitConformalRegressor::fit";
        check_alpha(CONTEXT, alpha)?;
        let dims = mean.dims();
        host::non_empty(CONTEXT, "mean", &dims)?;
        host::same_shape(CONTEXT, "targets", &targets.dims(), "mean", &dims)?;
        let y = host::floats(CONTEXT, "targets", targets)?;
        let c = read_columns(CONTEXT, mean, sd)?;
        let score = if c.sd.is_some() { ConformalScore::Normalized } else { ConformalScore::Absolute };
        let quantiles = (0..c.outputs)
            .map(|d| {
                let scores: Vec<f64> = (0..c.points)
                    .map(|i| {
                        let j = i * c.outputs + d;
                        let r = (y[j] - c.mean[j]).abs();
                        c.sd.as_ref().map_or(r, |s| r / s[j])
                    })
                    .collect();
                conformal_quantile(&scores, alpha)
            })
            .collect::<Result<Vec<f64>>>()?;
        Ok(SplitConformalRegressor { score, alpha, quantiles, calibration_size: c.points })
    }

    /// [`fit`](Self::fit) with the normalized score on a predictive summary's mean and total
    /// standard deviation (aleatoric + epistemic).
    ///
    /// # Shapes
    /// - `targets`: `[N, D]`, the shape of `summary.mean`
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn fit_summary(summary: &RegressionSummary, targets: Tensor<2>, alpha: f64) -> Result<Self> {
        Self::fit(summary.mean.clone(), Some(summary.total_sd()), targets, alpha)
    }

    /// The intervals `mean ± q sd` (normalized score) or `mean ± q` (absolute score), with
    /// infinite bounds where `q = +inf`, on the device of `mean`.
    ///
    /// # Shapes
    /// - `mean`, `sd`: `[M]` or `[M, D]`, `D` as in the fit → `(lower, upper)` of that shape
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `sd` is given for an absolute-score fit or missing for a
    /// normalized one, on a NaN/inf entry or an sd `<= 0`; [`Error::ShapeMismatch`] on empty or
    /// differing shapes, or another number of output columns than in the fit.
    pub fn interval<const D: usize>(&self, mean: Tensor<D>, sd: Option<Tensor<D>>) -> Result<(Tensor<D>, Tensor<D>)> {
        const CONTEXT: &str = "SplitConformalRegressor::interval";
        match (self.score, sd.is_some()) {
            (ConformalScore::Normalized, false) => {
                return Err(Error::invalid(
                    CONTEXT,
                    "sd",
                    "None",
                    "Some(sd) for a fit with the normalized score",
                    "pass the test points' standard deviations, as in the fit",
                ))
            }
            (ConformalScore::Absolute, true) => {
                return Err(Error::invalid(
                    CONTEXT,
                    "sd",
                    "Some(sd)",
                    "None for a fit with the absolute score",
                    "pass None, as in the fit, or refit with Some(sd) for intervals that scale with sd",
                ))
            }
            _ => {}
        }
        let dims = mean.dims();
        let device = mean.device();
        let c = read_columns(CONTEXT, mean, sd)?;
        if c.outputs != self.quantiles.len() {
            return Err(Error::shape(
                CONTEXT,
                "mean",
                format!("[M, ...] with {} outputs per point (as in the fit)", self.quantiles.len()),
                &dims,
                "pass predictions of the outputs the conformal fit was calibrated on",
            ));
        }
        let half: Vec<f64> = (0..c.mean.len())
            .map(|j| {
                let q = self.quantiles[j % c.outputs];
                c.sd.as_ref().map_or(q, |s| q * s[j])
            })
            .collect();
        let lower: Vec<f64> = c.mean.iter().zip(&half).map(|(m, h)| m - h).collect();
        let upper: Vec<f64> = c.mean.iter().zip(&half).map(|(m, h)| m + h).collect();
        Ok((
            Tensor::from_data(TensorData::new(lower, dims), &device),
            Tensor::from_data(TensorData::new(upper, dims), &device),
        ))
    }

    /// [`interval`](Self::interval) on a predictive summary's mean and total standard deviation,
    /// for a fit made with [`fit_summary`](Self::fit_summary).
    ///
    /// # Errors
    /// As [`interval`](Self::interval).
    pub fn interval_summary(&self, summary: &RegressionSummary) -> Result<(Tensor<2>, Tensor<2>)> {
        self.interval(summary.mean.clone(), Some(summary.total_sd()))
    }

    /// The score the fit used.
    pub fn score(&self) -> ConformalScore {
        self.score
    }

    /// The miscoverage rate `alpha`: intervals hold `1 - alpha` of the targets.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The quantile `q` of each output column (`+inf` when the calibration set is too small).
    pub fn quantiles(&self) -> &[f64] {
        &self.quantiles
    }

    /// The number `n` of calibration points.
    pub fn calibration_size(&self) -> usize {
        self.calibration_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_is_ceil_of_n_plus_one_times_one_minus_alpha() {
        assert_eq!(conformal_rank(25, 0.1), 24); // 23.4
        assert_eq!(conformal_rank(9, 0.1), 9); // 9 exactly
        assert_eq!(conformal_rank(29, 0.3), 21); // 21, although 30 * (1 - 0.3) = 21.000000000000004
        assert_eq!(conformal_rank(5, 0.1), 6); // 5.4: more than n
        assert_eq!(conformal_rank(1, 0.9), 1); // 0.2
    }

    #[test]
    fn quantile_is_the_kth_smallest_or_infinite() {
        let scores = [0.5, 0.1, 0.4, 0.2, 0.3];
        assert_eq!(conformal_quantile(&scores, 0.5).unwrap(), 0.3); // k = 3
        assert_eq!(conformal_quantile(&scores, 0.2).unwrap(), 0.5); // k = 5
        assert_eq!(conformal_quantile(&scores, 0.1).unwrap(), f64::INFINITY); // k = 6 > 5
        assert!(conformal_quantile(&[], 0.1).is_err());
        assert!(conformal_quantile(&scores, 1.0).is_err());
        assert!(conformal_quantile(&[f64::NAN], 0.5).is_err());
    }
}
