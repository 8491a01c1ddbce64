//! Conformal prediction sets for classification: APS (Romano, Sesia & Candès 2020, *Classification
//! with valid and adaptive coverage*) and RAPS (Angelopoulos, Bates, Malik & Jordan 2021,
//! *Uncertainty sets for image classifiers using conformal prediction*).

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::RngExt;
use serde::Serialize;

use super::conformal::conformal_quantile;
use super::input::{self, check_alpha};
use crate::error::{Error, Result};
use crate::metrics::host::{self, ColumnsOf};
use crate::noise;

/// The score behind a [`ConformalClassifier`]'s sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum SetScore {
    /// Adaptive prediction sets: the probability mass of the classes ranked above the label,
    /// plus the label's own (times `u` when randomized). Sets grow where the model is unsure.
    Aps,
    /// Regularized APS: APS plus `lambda` for each rank beyond `k_reg`, which keeps the many
    /// small-probability classes of a large label space out of the sets (Angelopoulos et al.
    /// 2021 use `lambda = 0.01`, `k_reg = 5` on ImageNet; on a few classes, `k_reg = 1` or `2`).
    Raps {
        /// The penalty per rank beyond `k_reg`, `>= 0`.
        lambda: f64,
        /// The number of top ranks left unpenalized.
        k_reg: usize,
    },
}

/// Settings of a [`ConformalClassifier`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConformalClassifierConfig {
    /// The miscoverage rate: sets hold the label with probability at least `1 - alpha`.
    pub alpha: f64,
    /// APS or RAPS.
    pub score: SetScore,
    /// Randomized sets (the paper's default): the label's own mass counts `u` times, `u`
    /// uniform, and a set holds the classes whose score is at most the threshold. Coverage is
    /// then in `[1 - alpha, 1 - alpha + 1 / (n + 1)]`, and a set may be empty. Deterministic
    /// sets (`false`) count the whole mass (`u = 1`) and also keep the class at which the
    /// score first passes the threshold (Angelopoulos et al.'s non-randomized sets; MAPIE's
    /// `include_last_label`): never empty, the same set for the same input every time,
    /// coverage at least `1 - alpha` but often more.
    pub randomized: bool,
}

impl ConformalClassifierConfig {
    /// Randomized APS at miscoverage `alpha`.
    pub fn new(alpha: f64) -> Self {
        ConformalClassifierConfig { alpha, score: SetScore::Aps, randomized: true }
    }

    /// Uses `score` (APS or RAPS).
    pub fn with_score(mut self, score: SetScore) -> Self {
        self.score = score;
        self
    }

    /// Randomized (`true`, the default) or deterministic sets.
    pub fn with_randomized(mut self, randomized: bool) -> Self {
        self.randomized = randomized;
        self
    }

    /// Fits the threshold on a calibration set the model was not trained on: the conformal
    /// quantile ([`conformal_quantile`]) of the calibration points' scores at their labels.
    /// Randomized scores draw their `u` from the thread's [`noise`](crate::noise) source.
    ///
    /// # Shapes
    /// - `probs`: `[N, K]`, rows summing to 1, `K >= 2` (e.g. mean probabilities of a sampled
    ///   predictive, after temperature scaling)
    /// - `labels`: `[N]`, values in `0..K`
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `alpha` is not in `(0, 1)`, `lambda` is not `>= 0` and
    /// finite, on a NaN/inf entry, rows not summing to 1 or a label out of range;
    /// [`Error::ShapeMismatch`] on an empty set, `K < 2` or a label count other than `N`.
    pub fn fit(&self, probs: Tensor<2>, labels: Tensor<1, Int>) -> Result<ConformalClassifier> {
        const CONTEXT: &str = "ConformalClassifierConfig::fit";
        check_alpha(CONTEXT, self.alpha)?;
        if let SetScore::Raps { lambda, .. } = self.score {
            if !(lambda.is_finite() && lambda >= 0.0) {
                return Err(Error::invalid(
                    CONTEXT,
                    "lambda",
                    lambda,
                    ">= 0 and finite",
                    "use a small penalty such as 0.01 (0 gives APS)",
                ));
            }
        }
        let (p, labels, k) = input::probs_and_labels(CONTEXT, probs, labels)?;
        let scores: Vec<f64> = p
            .chunks(k)
            .zip(&labels)
            .map(|(row, &y)| {
                let u = self.draw_u();
                let ranked = Ranked::new(row);
                ranked.score(ranked.rank_of(y), u, self.score)
            })
            .collect();
        let threshold = conformal_quantile(&scores, self.alpha)?;
        Ok(ConformalClassifier { config: *self, threshold, calibration_size: labels.len(), classes: k })
    }

    fn draw_u(&self) -> f64 {
        if self.randomized {
            noise::with_rng(|rng| rng.random::<f64>())
        } else {
            1.0
        }
    }
}

/// A row's classes in decreasing probability (ties by index), with the mass ranked above each.
struct Ranked<'a> {
    row: &'a [f64],
    order: Vec<usize>,
    mass_above: Vec<f64>,
}

impl<'a> Ranked<'a> {
    fn new(row: &'a [f64]) -> Self {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        let mut mass_above = Vec::with_capacity(row.len());
        let mut total = 0.0;
        for &c in &order {
            mass_above.push(total);
            total += row[c];
        }
        Ranked { row, order, mass_above }
    }

    fn rank_of(&self, class: usize) -> usize {
        self.order.iter().position(|&c| c == class).unwrap_or(0)
    }

    /// The score of the class at 0-based rank `r` (Angelopoulos et al. 2021, eq. 4 and
    /// algorithm 2): `rho + u p + lambda (r + 1 - k_reg)^+`, `rho` the mass ranked above it.
    fn score(&self, r: usize, u: f64, score: SetScore) -> f64 {
        let base = self.mass_above[r] + u * self.row[self.order[r]];
        match score {
            SetScore::Aps => base,
            SetScore::Raps { lambda, k_reg } => base + lambda * (r + 1).saturating_sub(k_reg) as f64,
        }
    }
}

/// Conformal prediction sets for a classifier (APS or RAPS), fitted with
/// [`ConformalClassifierConfig::fit`]. A test point's set holds its classes in decreasing
/// probability while their score is at most the fitted threshold (deterministic sets add the
/// next class too). If calibration and test points are exchangeable, the set holds the true
/// label with probability at least `1 - alpha` whatever the model (and, randomized, at most
/// `1 - alpha + 1 / (n + 1)`); better probabilities only make the sets smaller.
///
/// ```
/// use bayesburn::calibration::{ConformalClassifierConfig, SetScore};
/// use burn::prelude::*;
/// use burn::tensor::TensorData;
///
/// let device = Device::flex();
/// let probs = Tensor::<2>::from_data(
///     TensorData::new(vec![0.7f32, 0.2, 0.1, 0.6, 0.3, 0.1, 0.5, 0.4, 0.1, 0.8, 0.1, 0.1], [4, 3]),
///     &device,
/// );
/// let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 0, 0], [4]), &device);
/// let sets = ConformalClassifierConfig::new(0.2)
///     .with_randomized(false)
///     .with_score(SetScore::Aps)
///     .fit(probs, labels)
///     .unwrap(); // scores 0.7, 0.9, 0.5, 0.8: the threshold is the 4th smallest, 0.9
/// let test = Tensor::<2>::from_data(TensorData::new(vec![0.95f32, 0.03, 0.02, 0.5, 0.4, 0.1], [2, 3]), &device);
/// let predicted = sets.predict(test).unwrap();
/// assert_eq!(predicted.get(0), &[0]); // 0.95 > 0.9 at once: the top class alone
/// assert_eq!(predicted.get(1), &[0, 1, 2]); // 0.5, 0.9 <= 0.9, then the class passing it
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConformalClassifier {
    config: ConformalClassifierConfig,
    threshold: f64,
    calibration_size: usize,
    classes: usize,
}

impl ConformalClassifier {
    /// The prediction set of each row of `probs`, classes in decreasing probability.
    /// Randomized sets draw one `u` per row from the thread's [`noise`](crate::noise) source.
    ///
    /// # Shapes
    /// - `probs`: `[M, K]`, rows summing to 1, `K` as in the fit
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] on an empty input or another `K` than in the fit;
    /// [`Error::InvalidParameter`] on a NaN/inf entry or rows not summing to 1.
    pub fn predict(&self, probs: Tensor<2>) -> Result<PredictionSets> {
        const CONTEXT: &str = "ConformalClassifier::predict";
        let dims = probs.dims();
        if dims[1] != self.classes {
            return Err(Error::shape(
                CONTEXT,
                "probs",
                format!("[M, {}] (K of the fit)", self.classes),
                &dims,
                "pass probabilities of the classifier the sets were fitted on",
            ));
        }
        let (p, k) = input::probs(CONTEXT, probs)?;
        let sets = p
            .chunks(k)
            .map(|row| {
                let u = self.config.draw_u();
                let ranked = Ranked::new(row);
                // Scores rise with the rank (each step adds mass and penalty), so the classes
                // within the threshold are a prefix of the ranking.
                let within = (0..k).filter(|&r| ranked.score(r, u, self.config.score) <= self.threshold).count();
                let size = if self.config.randomized { within } else { (within + 1).min(k) };
                ranked.order[..size].to_vec()
            })
            .collect();
        Ok(PredictionSets { sets, classes: k })
    }

    /// The fitted threshold on the score (`+inf` when the calibration set is too small for
    /// `1 - alpha`, and every set is then every class).
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The settings of the fit.
    pub fn config(&self) -> &ConformalClassifierConfig {
        &self.config
    }

    /// The number `n` of calibration points.
    pub fn calibration_size(&self) -> usize {
        self.calibration_size
    }
}

/// Prediction sets of `M` points: each a list of classes in decreasing probability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PredictionSets {
    sets: Vec<Vec<usize>>,
    classes: usize,
}

impl PredictionSets {
    /// The number of points `M`.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The set of point `i`, classes in decreasing probability.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn get(&self, i: usize) -> &[usize] {
        &self.sets[i]
    }

    /// The size of each set.
    pub fn sizes(&self) -> Vec<usize> {
        self.sets.iter().map(Vec::len).collect()
    }

    /// The mean set size (1 is a confident classifier; `K` says nothing).
    pub fn mean_size(&self) -> f64 {
        self.sets.iter().map(Vec::len).sum::<usize>() as f64 / self.sets.len().max(1) as f64
    }

    /// The share of points whose set holds their label (the empirical coverage).
    ///
    /// # Shapes
    /// - `labels`: `[M]`, values in `0..K`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `labels` is not `[M]`; [`Error::InvalidParameter`] on a
    /// label out of range.
    pub fn coverage(&self, labels: Tensor<1, Int>) -> Result<f64> {
        const CONTEXT: &str = "PredictionSets::coverage";
        if labels.dims() != [self.sets.len()] {
            return Err(Error::shape(
                CONTEXT,
                "labels",
                format!("[{}] (one label per set)", self.sets.len()),
                &labels.dims(),
                "pass the labels of the points the sets were predicted for",
            ));
        }
        let labels = host::class_labels(CONTEXT, labels, self.classes, ColumnsOf::Probs)?;
        let hits = self.sets.iter().zip(&labels).filter(|(s, y)| s.contains(y)).count();
        Ok(hits as f64 / labels.len().max(1) as f64)
    }

    /// The sets as a membership mask `[M, K]` on `device`.
    pub fn mask(&self, device: &Device) -> Tensor<2, Bool> {
        let mut m = vec![false; self.sets.len() * self.classes];
        for (i, s) in self.sets.iter().enumerate() {
            for &c in s {
                m[i * self.classes + c] = true;
            }
        }
        Tensor::from_data(TensorData::new(m, [self.sets.len(), self.classes]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_raps_formula() {
        let row = [0.3, 0.5, 0.2];
        let r = Ranked::new(&row);
        assert_eq!(r.order, vec![1, 0, 2]);
        let rank = r.rank_of(0); // second
        assert_eq!(rank, 1);
        assert!((r.score(rank, 0.5, SetScore::Aps) - (0.5 + 0.5 * 0.3)).abs() < 1e-15);
        assert!((r.score(rank, 1.0, SetScore::Aps) - 0.8).abs() < 1e-15);
        let raps = SetScore::Raps { lambda: 0.1, k_reg: 1 };
        assert!((r.score(rank, 0.5, raps) - (0.65 + 0.1)).abs() < 1e-15);
        assert!((r.score(0, 0.5, raps) - 0.25).abs() < 1e-15); // top rank: no penalty
        assert!((r.score(2, 1.0, raps) - (1.0 + 0.2)).abs() < 1e-12);
    }
}
