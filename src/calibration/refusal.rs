//! Refusing to predict with per-class thresholds set on a validation set.

use burn::prelude::*;
use serde::Serialize;

use super::input;
use crate::error::{Error, Result};
use crate::predict;

/// Per-class thresholds for refusing to predict, set on a validation set.
///
/// For each class `c`, the validation points of class `c` that the model classifies correctly
/// give a distribution of the probability it puts on `c` when it is right; its `q`-th quantile
/// is the threshold `t_c`. At test time a point predicted as `c` is classified only when
/// `p_c >= t_c`, and otherwise refused ("not classified"). With `q = 0.1`, about 10 % of the
/// correct predictions of each class are refused, and a larger share of the wrong ones, whose
/// probabilities are lower; those points go to a human. Thresholds per class adapt to classes
/// the model is systematically less sure of, where one global threshold would refuse them all.
///
/// Only correctly classified points set the thresholds: a misclassified point's probability of
/// its true class is below that of the predicted one, often below `1 / K`, and a threshold
/// drawn down by them is one no argmax prediction falls below (on a 3-class toy with 20 %
/// errors, the 10th percentile over all points of a class refused nothing).
///
/// ```
/// use bayesburn::calibration::RefusalThresholds;
/// use burn::prelude::*;
/// use burn::tensor::TensorData;
///
/// let device = Device::flex();
/// let probs = Tensor::<2>::from_data(TensorData::new(vec![0.9f32, 0.1, 0.7, 0.3, 0.2, 0.8, 0.4, 0.6], [4, 2]), &device);
/// let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 0, 1, 1], [4]), &device);
/// // The median probability of each class where it is right: 0.8 for class 0, 0.7 for class 1.
/// let refusal = RefusalThresholds::fit(probs.clone(), labels.clone(), 0.5).unwrap();
/// let decisions = refusal.apply(probs.clone()).unwrap();
/// assert_eq!(decisions, vec![Some(0), None, Some(1), None]);
/// let report = refusal.evaluate(probs, labels).unwrap();
/// assert_eq!((report.refused, report.accuracy_after), (2, Some(1.0)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusalThresholds {
    thresholds: Vec<f64>,
    quantile: f64,
}

/// What refusing did on a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusalReport {
    /// Number of points.
    pub count: usize,
    /// Number of points refused ("not classified").
    pub refused: usize,
    /// Share of points refused, `refused / count`.
    pub refused_share: f64,
    /// Accuracy of the argmax prediction on all points, before refusing.
    pub accuracy_before: f64,
    /// Accuracy on the points still classified; `None` when all are refused.
    pub accuracy_after: Option<f64>,
    /// Accuracy of the argmax prediction on the refused points; `None` when none is refused.
    /// Well below `accuracy_before` when refusing picks the right points.
    pub accuracy_refused: Option<f64>,
    /// Points refused per predicted class.
    pub refused_per_class: Vec<usize>,
}

/// The `q`-th quantile of `v` with linear interpolation between order statistics (type 7 of
/// Hyndman & Fan 1996, numpy's default `percentile`).
fn quantile_linear(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// The first class attaining the row maximum.
fn argmax(row: &[f64]) -> usize {
    row.iter().enumerate().fold(0, |best, (j, &v)| if v > row[best] { j } else { best })
}

impl RefusalThresholds {
    /// Sets each class's threshold to the `quantile`-th quantile (e.g. 0.1, the 10th
    /// percentile) of the probability of class `c` over the validation points labelled `c` and
    /// predicted as `c` (the argmax, first maximum on ties).
    ///
    /// # Shapes
    /// - `probs`: `[N, K]`, rows summing to 1, `K >= 2`
    /// - `labels`: `[N]`, values in `0..K`
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `quantile` is not in `[0, 1]`, a class has no
    /// correctly classified validation point, on a NaN/inf entry, rows not summing to 1 or a label out of range;
    /// [`Error::ShapeMismatch`] on an empty set, `K < 2` or a label count other than `N`.
    pub fn fit(probs: Tensor<2>, labels: Tensor<1, Int>, quantile: f64) -> Result<Self> {
        const CONTEXT: &str = "RefusalThresholds::fit";
        if !(0.0..=1.0).contains(&quantile) {
            return Err(Error::invalid(
                CONTEXT,
                "quantile",
                quantile,
                "in [0, 1]",
                "pass the share of correct validation points each class may refuse, e.g. 0.1",
            ));
        }
        let (p, labels, k) = input::probs_and_labels(CONTEXT, probs, labels)?;
        let mut per_class: Vec<Vec<f64>> = vec![Vec::new(); k];
        for (row, &y) in p.chunks(k).zip(&labels) {
            if argmax(row) == y {
                per_class[y].push(row[y]);
            }
        }
        if let Some(c) = per_class.iter().position(Vec::is_empty) {
            return Err(Error::invalid(
                CONTEXT,
                "labels",
                format!("no correctly classified validation point of class {c} (of K = {k})"),
                "at least one correctly classified validation point per class",
                "use a larger or stratified validation set",
            ));
        }
        let thresholds = per_class.iter_mut().map(|v| quantile_linear(v, quantile)).collect();
        Ok(RefusalThresholds { thresholds, quantile })
    }

    /// [`fit`](Self::fit) on the mean probabilities of predictive samples (MC dropout,
    /// Bayes-by-backprop, an ensemble), as [`predict::classification`] computes them.
    ///
    /// # Shapes
    /// - `samples`: `[S, N, K]` per-sample class probabilities
    /// - `labels`: `[N]`
    ///
    /// # Errors
    /// As [`fit`](Self::fit) and [`predict::classification`].
    pub fn fit_samples(samples: Tensor<3>, labels: Tensor<1, Int>, quantile: f64) -> Result<Self> {
        Self::fit(predict::classification(samples)?.probs, labels, quantile)
    }

    /// The threshold of each class.
    pub fn thresholds(&self) -> &[f64] {
        &self.thresholds
    }

    /// The quantile the thresholds were set at.
    pub fn quantile(&self) -> f64 {
        self.quantile
    }

    fn decide(&self, context: &'static str, probs: Tensor<2>) -> Result<(Vec<Option<usize>>, Vec<usize>)> {
        let dims = probs.dims();
        if dims[1] != self.thresholds.len() {
            return Err(Error::shape(
                context,
                "probs",
                format!("[M, {}] (K of the fit)", self.thresholds.len()),
                &dims,
                "pass probabilities of the classifier the thresholds were set for",
            ));
        }
        let (p, k) = input::probs(context, probs)?;
        Ok(p.chunks(k)
            .map(|row| {
                let c = argmax(row);
                ((row[c] >= self.thresholds[c]).then_some(c), c)
            })
            .unzip())
    }

    /// The decision for each row: `Some(class)` (the argmax) when its probability reaches the
    /// class's threshold, `None` (refused) otherwise.
    ///
    /// # Shapes
    /// - `probs`: `[M, K]`, rows summing to 1, `K` as in the fit
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] on an empty input or another `K`; [`Error::InvalidParameter`]
    /// on a NaN/inf entry or rows not summing to 1.
    pub fn apply(&self, probs: Tensor<2>) -> Result<Vec<Option<usize>>> {
        Ok(self.decide("RefusalThresholds::apply", probs)?.0)
    }

    /// [`apply`](Self::apply) to the mean probabilities of predictive samples `[S, M, K]`.
    ///
    /// # Errors
    /// As [`apply`](Self::apply) and [`predict::classification`].
    pub fn apply_samples(&self, samples: Tensor<3>) -> Result<Vec<Option<usize>>> {
        self.apply(predict::classification(samples)?.probs)
    }

    /// Accuracy before and after refusing, and how many points were refused, on a labelled
    /// test set.
    ///
    /// # Shapes
    /// - `probs`: `[M, K]`, rows summing to 1, `K` as in the fit
    /// - `labels`: `[M]`, values in `0..K`
    ///
    /// # Errors
    /// As [`apply`](Self::apply), plus [`Error::ShapeMismatch`] when `labels` is not `[M]` and
    /// [`Error::InvalidParameter`] on a label out of range.
    pub fn evaluate(&self, probs: Tensor<2>, labels: Tensor<1, Int>) -> Result<RefusalReport> {
        const CONTEXT: &str = "RefusalThresholds::evaluate";
        let m = probs.dims()[0];
        if labels.dims() != [m] {
            return Err(Error::shape(
                CONTEXT,
                "labels",
                format!("[{m}] (one label per row of probs)"),
                &labels.dims(),
                "pass one class index per point",
            ));
        }
        let k = self.thresholds.len();
        let labels = crate::metrics::host::class_labels(CONTEXT, labels, k, crate::metrics::host::ColumnsOf::Probs)?;
        let (decisions, predicted) = self.decide(CONTEXT, probs)?;
        let (mut refused, mut right, mut right_kept, mut right_refused) = (0, 0, 0, 0);
        let mut refused_per_class = vec![0; k];
        for ((d, &c), &y) in decisions.iter().zip(&predicted).zip(&labels) {
            let ok = usize::from(c == y);
            right += ok;
            if d.is_some() {
                right_kept += ok;
            } else {
                refused += 1;
                right_refused += ok;
                refused_per_class[c] += 1;
            }
        }
        let kept = m - refused;
        Ok(RefusalReport {
            count: m,
            refused,
            refused_share: refused as f64 / m as f64,
            accuracy_before: right as f64 / m as f64,
            accuracy_after: (kept > 0).then(|| right_kept as f64 / kept as f64),
            accuracy_refused: (refused > 0).then(|| right_refused as f64 / refused as f64),
            refused_per_class,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_quantile_matches_numpy() {
        // numpy.percentile([1, 2, 3, 4], 10) = 1.3; 50 -> 2.5; 0 -> 1; 100 -> 4.
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert!((quantile_linear(&mut v, 0.1) - 1.3).abs() < 1e-12);
        assert!((quantile_linear(&mut v, 0.5) - 2.5).abs() < 1e-12);
        assert_eq!(quantile_linear(&mut v, 0.0), 1.0);
        assert_eq!(quantile_linear(&mut v, 1.0), 4.0);
        assert_eq!(quantile_linear(&mut [0.7], 0.1), 0.7);
    }
}
