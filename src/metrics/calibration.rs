//! Calibration of classifiers: reliability diagrams, expected calibration error, Brier score.

use burn::prelude::*;
use serde::Serialize;

use super::host;
use crate::error::{check_nonzero, Result};

/// Number of equal-width confidence bins used by Guo et al. (2017) for ECE; pass it when in
/// doubt (10 is the other common choice).
pub const DEFAULT_CALIBRATION_BINS: usize = 15;

/// One confidence bin of a [`ReliabilityDiagram`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin (excluded, except 0 for the first bin).
    pub lower: f64,
    /// Upper edge of the bin (included).
    pub upper: f64,
    /// Number of points whose top-label confidence falls in the bin.
    pub count: usize,
    /// Mean top-label confidence of those points; `None` for an empty bin.
    pub mean_confidence: Option<f64>,
    /// Share of those points whose top label is correct; `None` for an empty bin.
    pub accuracy: Option<f64>,
}

impl ReliabilityBin {
    /// `accuracy - mean_confidence` (negative: over-confident); `None` for an empty bin.
    pub fn gap(&self) -> Option<f64> {
        Some(self.accuracy? - self.mean_confidence?)
    }
}

/// Reliability-diagram data (DeGroot & Fienberg 1983; Niculescu-Mizil & Caruana 2005; Guo et
/// al. 2017, section 2): per confidence bin, how sure the model was and how often it was right.
/// A calibrated model has `accuracy == mean_confidence` in every bin: a plot draws the bars
/// `accuracy` against the diagonal at the bin centres.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityDiagram {
    /// The equal-width bins over `[0, 1]`, in increasing confidence.
    pub bins: Vec<ReliabilityBin>,
    /// Number of points `N`.
    pub count: usize,
    /// Overall top-label accuracy.
    pub accuracy: f64,
    /// Overall mean top-label confidence.
    pub mean_confidence: f64,
    /// Expected calibration error, `sum_b (n_b / N) |acc_b - conf_b|` (Naeini et al. 2015;
    /// Guo et al. 2017, eq. 3).
    pub expected_calibration_error: f64,
    /// Maximum calibration error, `max_b |acc_b - conf_b|` over non-empty bins (Naeini et al. 2015).
    pub maximum_calibration_error: f64,
}

/// The bin of confidence `c` among `bins` equal-width bins `((b-1)/B, b/B]` (0 goes to the
/// first bin), as in Guo et al. (2017).
fn bin_of(c: f64, bins: usize) -> usize {
    let upper = (c * bins as f64).ceil();
    if upper <= 1.0 {
        0
    } else {
        (upper as usize - 1).min(bins - 1)
    }
}

/// Builds the diagram from top-label confidences and correctness.
fn diagram(confidence: &[f64], correct: &[bool], bins: usize) -> ReliabilityDiagram {
    let mut count = vec![0usize; bins];
    let mut conf_sum = vec![0.0f64; bins];
    let mut hits = vec![0usize; bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        let b = bin_of(c, bins);
        count[b] += 1;
        conf_sum[b] += c;
        hits[b] += usize::from(ok);
    }
    let n = confidence.len();
    let bins: Vec<ReliabilityBin> = (0..bins)
        .map(|b| {
            let m = count[b] as f64;
            ReliabilityBin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                count: count[b],
                mean_confidence: (count[b] > 0).then(|| conf_sum[b] / m),
                accuracy: (count[b] > 0).then(|| hits[b] as f64 / m),
            }
        })
        .collect();
    let gaps = bins.iter().filter_map(|b| Some((b.count, b.gap()?.abs())));
    let ece = gaps.clone().map(|(m, g)| m as f64 / n as f64 * g).sum();
    let mce = gaps.map(|(_, g)| g).fold(0.0, f64::max);
    ReliabilityDiagram {
        count: n,
        accuracy: correct.iter().filter(|&&ok| ok).count() as f64 / n as f64,
        mean_confidence: confidence.iter().sum::<f64>() / n as f64,
        expected_calibration_error: ece,
        maximum_calibration_error: mce,
        bins,
    }
}

/// Reliability diagram of top-label predictions with `bins` equal-width confidence bins.
///
/// The confidence of a point is `max_k p_k`, its prediction the first class attaining it, and
/// a bin `b` holds the confidences in `((b-1)/B, b/B]`.
///
/// # Shapes
/// - `probs`: `[N, K]`, rows summing to 1
/// - `labels`: `[N]`, values in `0..K`
///
/// # Errors
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) when `bins` is 0, on NaN/inf,
/// rows not summing to 1 within [`PROBABILITY_TOLERANCE`](super::PROBABILITY_TOLERANCE),
/// or labels out of range; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) on empty
/// inputs or a label count other than `N`.
pub fn reliability_diagram(probs: Tensor<2>, labels: Tensor<1, Int>, bins: usize) -> Result<ReliabilityDiagram> {
    const CONTEXT: &str = "metrics::reliability_diagram";
    check_nonzero(CONTEXT, "bins", bins, "use DEFAULT_CALIBRATION_BINS (15) or 10 bins")?;
    let (p, labels, k) = host::classification(CONTEXT, probs, labels)?;
    let (confidence, correct) = host::top_label(&p, &labels, k);
    Ok(diagram(&confidence, &correct, bins))
}

/// Expected calibration error with `bins` equal-width bins (Guo et al. 2017, eq. 3):
/// `ECE = sum_b (n_b / N) |acc_b - conf_b|`, 0 for a calibrated model. Shorthand for
/// [`reliability_diagram`]`(..).expected_calibration_error`.
///
/// # Shapes
/// As [`reliability_diagram`].
///
/// # Errors
/// As [`reliability_diagram`].
pub fn expected_calibration_error(probs: Tensor<2>, labels: Tensor<1, Int>, bins: usize) -> Result<f64> {
    const CONTEXT: &str = "metrics::expected_calibration_error";
    check_nonzero(CONTEXT, "bins", bins, "use DEFAULT_CALIBRATION_BINS (15) or 10 bins")?;
    let (p, labels, k) = host::classification(CONTEXT, probs, labels)?;
    let (confidence, correct) = host::top_label(&p, &labels, k);
    Ok(diagram(&confidence, &correct, bins).expected_calibration_error)
}

/// Multi-class Brier score (Brier 1950, *Verification of forecasts expressed in terms of
/// probability*): `(1 / N) sum_n sum_k (p_nk - 1{k = y_n})^2`, in `[0, 2]`; lower is better.
///
/// # Shapes
/// - `probs`: `[N, K]`, rows summing to 1
/// - `labels`: `[N]`, values in `0..K`
///
/// # Errors
/// As [`reliability_diagram`], without the `bins` check.
pub fn brier_score(probs: Tensor<2>, labels: Tensor<1, Int>) -> Result<f64> {
    let (p, labels, k) = host::classification("metrics::brier_score", probs, labels)?;
    let total: f64 = p
        .chunks(k)
        .zip(&labels)
        .map(|(row, &y)| {
            row.iter().enumerate().map(|(j, &q)| (q - if j == y { 1.0 } else { 0.0 }).powi(2)).sum::<f64>()
        })
        .sum();
    Ok(total / labels.len() as f64)
}

/// Mean negative log-likelihood of the labels under the predicted class probabilities,
/// `-(1 / N) sum_n ln p_{n, y_n}` (the log score; Gneiting & Raftery 2007), in nats; lower is
/// better. A probability of exactly 0 on the true label gives `+inf`, as the score says.
///
/// # Shapes
/// - `probs`: `[N, K]`, rows summing to 1
/// - `labels`: `[N]`, values in `0..K`
///
/// # Errors
/// As [`reliability_diagram`], without the `bins` check.
pub fn categorical_nll(probs: Tensor<2>, labels: Tensor<1, Int>) -> Result<f64> {
    let (p, labels, k) = host::classification("metrics::categorical_nll", probs, labels)?;
    let total: f64 = p.chunks(k).zip(&labels).map(|(row, &y)| -row[y].ln()).sum();
    Ok(total / labels.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_open_below_and_closed_above() {
        assert_eq!(bin_of(0.0, 10), 0);
        assert_eq!(bin_of(0.1, 4), 0);
        assert_eq!(bin_of(0.25, 4), 0);
        assert_eq!(bin_of(0.2500001, 4), 1);
        assert_eq!(bin_of(0.75, 4), 2);
        assert_eq!(bin_of(1.0, 4), 3);
        assert_eq!(bin_of(1.0005, 4), 3);
    }

    #[test]
    fn empty_bins_carry_no_weight() {
        let d = diagram(&[0.9, 0.9], &[true, false], 10);
        assert_eq!(d.bins.iter().filter(|b| b.count > 0).count(), 1);
        assert!(d.bins[0].accuracy.is_none() && d.bins[0].gap().is_none());
        assert!((d.expected_calibration_error - 0.4).abs() < 1e-12);
        assert!((d.maximum_calibration_error - 0.4).abs() < 1e-12);
    }
}
