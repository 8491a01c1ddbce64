//! Accuracy against coverage when the model may refuse to predict.
//!
//! Selective classification (Chow 1970; El-Yaniv & Wiener 2010; Geifman & El-Yaniv 2017,
//! *Selective classification for deep neural networks*): keep a point when its confidence is
//! at least a threshold `t`, and report
//!
//! - coverage `c(t) = |{n : conf_n >= t}| / N`, the share of points still classified, and
//! - selective accuracy `a(t)`, the accuracy on those points.
//!
//! Coverage falls as `t` rises; if the confidence ranks errors well, accuracy rises as the
//! model refuses its least confident predictions (the "not classified" study). The points
//! refused are `1 - c(t)` of the data.

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::Serialize;

use super::host;
use crate::error::{Error, Result};

/// One point of an accuracy-vs-coverage curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SelectivePoint {
    /// Confidence threshold: points with `confidence >= threshold` are kept.
    pub threshold: f64,
    /// Number of points kept.
    pub kept: usize,
    /// Share of points kept, `kept / N`.
    pub coverage: f64,
    /// Accuracy on the kept points; `None` when none is kept.
    pub accuracy: Option<f64>,
}

/// Confidences sorted in decreasing order, with the running count of correct points.
struct Ranked {
    confidence: Vec<f64>,
    correct_prefix: Vec<usize>,
}

impl Ranked {
    fn new(confidence: Vec<f64>, correct: Vec<bool>) -> Self {
        let mut order: Vec<usize> = (0..confidence.len()).collect();
        order.sort_by(|&a, &b| confidence[b].total_cmp(&confidence[a]));
        let mut correct_prefix = Vec::with_capacity(order.len() + 1);
        correct_prefix.push(0);
        for &i in &order {
            correct_prefix.push(correct_prefix.last().copied().unwrap_or(0) + usize::from(correct[i]));
        }
        Ranked { confidence: order.iter().map(|&i| confidence[i]).collect(), correct_prefix }
    }

    fn at(&self, threshold: f64) -> SelectivePoint {
        let kept = self.confidence.partition_point(|&c| c >= threshold);
        SelectivePoint {
            threshold,
            kept,
            coverage: kept as f64 / self.confidence.len() as f64,
            accuracy: (kept > 0).then(|| self.correct_prefix[kept] as f64 / kept as f64),
        }
    }
}

/// Reads and checks `[N]` confidences and `[N]` correctness flags.
fn read(context: &'static str, confidence: Tensor<1>, correct: Tensor<1, Bool>) -> Result<Ranked> {
    let dims = confidence.dims();
    host::non_empty(context, "confidence", &dims)?;
    host::same_shape(context, "correct", &correct.dims(), "confidence", &dims)?;
    let c = host::floats(context, "confidence", confidence)?;
    let ok = host::bools(context, "correct", correct)?;
    Ok(Ranked::new(c, ok))
}

/// Coverage and selective accuracy at each of `thresholds` (in the order given), for a model
/// that refuses to predict below a confidence threshold (selective classification: Chow 1970;
/// Geifman & El-Yaniv 2017, *Selective classification for deep neural networks*). A point is
/// kept when `confidence >= t`; coverage is the share kept, `|{n : conf_n >= t}| / N`, and
/// the selective accuracy is the accuracy on the kept points. Coverage falls as `t` rises; if
/// the confidence ranks errors well, accuracy rises as the least confident predictions are
/// refused. With max-probability confidences, threshold 0 keeps every point (coverage 1, plain
/// accuracy).
///
/// ```
/// use bayesburn::metrics::{accuracy_coverage, confidence_and_correct};
/// use burn::prelude::*;
/// use burn::tensor::TensorData;
///
/// let device = Device::flex();
/// let probs = Tensor::<2>::from_data(TensorData::new(vec![0.9f32, 0.1, 0.4, 0.6, 0.3, 0.7], [3, 2]), &device);
/// let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 0, 1], [3]), &device);
/// let (confidence, correct) = confidence_and_correct(probs, labels).unwrap();
/// let curve = accuracy_coverage(confidence, correct, &[0.0, 0.65, 0.8]).unwrap();
/// assert_eq!(curve.iter().map(|p| p.kept).collect::<Vec<_>>(), vec![3, 2, 1]);
/// assert_eq!(curve[1].accuracy, Some(1.0)); // the wrong, least confident point is refused
/// ```
///
/// # Shapes
/// - `confidence`: `[N]`, higher means more sure (e.g. `max_k p_k`, `-entropy`)
/// - `correct`: `[N]`, whether each prediction is right
///
/// # Errors
/// [`Error::ShapeMismatch`] on empty inputs or differing lengths; [`Error::InvalidParameter`]
/// on a NaN/inf confidence or threshold.
pub fn accuracy_coverage(
    confidence: Tensor<1>,
    correct: Tensor<1, Bool>,
    thresholds: &[f64],
) -> Result<Vec<SelectivePoint>> {
    const CONTEXT: &str = "metrics::accuracy_coverage";
    if let Some(i) = thresholds.iter().position(|t| !t.is_finite()) {
        return Err(Error::invalid(
            CONTEXT,
            "thresholds",
            format!("{} at index [{i}]", thresholds[i]),
            "finite everywhere",
            "pass finite confidence thresholds, e.g. 0.0, 0.5, 0.9",
        ));
    }
    let ranked = read(CONTEXT, confidence, correct)?;
    Ok(thresholds.iter().map(|&t| ranked.at(t)).collect())
}

/// The whole accuracy-vs-coverage curve: one point per distinct confidence value, used as the
/// threshold, in decreasing threshold (increasing coverage) order; the last point keeps every
/// point. These are all the coverages a confidence threshold can reach.
///
/// # Shapes
/// As [`accuracy_coverage`].
///
/// # Errors
/// As [`accuracy_coverage`].
pub fn accuracy_coverage_curve(confidence: Tensor<1>, correct: Tensor<1, Bool>) -> Result<Vec<SelectivePoint>> {
    let ranked = read("metrics::accuracy_coverage_curve", confidence, correct)?;
    let mut thresholds = ranked.confidence.clone();
    thresholds.dedup();
    Ok(thresholds.into_iter().map(|t| ranked.at(t)).collect())
}

/// Top-label confidence `max_k p_k` and correctness (the first class attaining the maximum is
/// the label) of class probabilities, the inputs of [`accuracy_coverage`], on the device of
/// `probs`.
///
/// # Shapes
/// - `probs`: `[N, K]`, rows summing to 1
/// - `labels`: `[N]`, values in `0..K`
/// - returns `([N], [N])`
///
/// # Errors
/// As [`reliability_diagram`](super::reliability_diagram), without the `bins` check.
pub fn confidence_and_correct(probs: Tensor<2>, labels: Tensor<1, Int>) -> Result<(Tensor<1>, Tensor<1, Bool>)> {
    let device = probs.device();
    let (p, labels, k) = host::classification("metrics::confidence_and_correct", probs, labels)?;
    let n = labels.len();
    let (confidence, correct) = host::top_label(&p, &labels, k);
    Ok((
        Tensor::from_data(TensorData::new(confidence, [n]), &device),
        Tensor::from_data(TensorData::new(correct, [n]), &device),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_keep_ties() {
        let r = Ranked::new(vec![0.5, 0.9, 0.5, 0.7], vec![false, true, true, false]);
        let p = r.at(0.5);
        assert_eq!((p.kept, p.accuracy), (4, Some(0.5)));
        let p = r.at(0.7);
        assert_eq!((p.kept, p.accuracy), (2, Some(0.5)));
        let p = r.at(0.95);
        assert_eq!((p.kept, p.coverage, p.accuracy), (0, 0.0, None));
    }
}
