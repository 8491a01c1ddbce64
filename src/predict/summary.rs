use burn::prelude::*;

use crate::error::{Error, Result};

/// Regression summary for `N` points and `D` outputs; every field is `[N, D]`.
#[derive(Debug, Clone)]
pub struct RegressionSummary {
    /// Predictive mean.
    pub mean: Tensor<2>,
    /// Aleatoric variance: the mean of the predicted noise variances (0 without a noise head).
    pub aleatoric_var: Tensor<2>,
    /// Epistemic variance: the variance of the predicted means over samples.
    pub epistemic_var: Tensor<2>,
    /// Number of samples summarised.
    pub samples: usize,
}

impl RegressionSummary {
    /// Total predictive variance, aleatoric + epistemic.
    pub fn total_var(&self) -> Tensor<2> {
        self.aleatoric_var.clone() + self.epistemic_var.clone()
    }

    /// Total predictive standard deviation.
    pub fn total_sd(&self) -> Tensor<2> {
        self.total_var().sqrt()
    }

    /// Central interval `mean ± z sd_total` holding `level` of a Gaussian with the predictive
    /// moments (e.g. `level = 0.95` gives `z = 1.96`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `level` is not in `(0, 1)`.
    pub fn interval(&self, level: f64) -> Result<(Tensor<2>, Tensor<2>)> {
        let z = normal_quantile_two_sided("RegressionSummary::interval", level)?;
        let sd = self.total_sd();
        Ok((self.mean.clone() - sd.clone().mul_scalar(z), self.mean.clone() + sd.mul_scalar(z)))
    }
}

/// `z` with `P(|Z| <= z) = level` for a standard normal `Z`; `context` names the caller in the
/// error for a level outside `(0, 1)`.
pub(crate) fn normal_quantile_two_sided(context: &'static str, level: f64) -> Result<f64> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::invalid(context, "level", level, "in (0, 1)", "use a coverage level such as 0.9 or 0.95"));
    }
    Ok(inverse_normal_cdf(0.5 + level / 2.0))
}

/// Inverse of the standard normal CDF.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(p)
}

/// Streaming accumulator for [`RegressionSummary`]: push `[s, N, D]` chunks of per-sample
/// predicted means (and, for heteroscedastic models, variances) in any chunking; the result
/// equals the two-pass formulas over all samples.
///
/// Uses Chan et al.'s parallel update of the mean and the sum of squared deviations, so it is
/// numerically stable when the epistemic spread is small against the mean.
#[derive(Debug, Clone, Default)]
pub struct RegressionAccumulator {
    count: usize,
    mean: Option<Tensor<2>>,
    m2: Option<Tensor<2>>,
    alea_sum: Option<Tensor<2>>,
}

impl RegressionAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `s` samples: `means: [s, N, D]`, `vars: [s, N, D]` (predicted noise variances) or
    /// `None` for a model without a noise head.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the chunk is empty, `vars` differs in shape from `means`,
    /// or `[N, D]` differs from earlier chunks.
    pub fn push(&mut self, means: Tensor<3>, vars: Option<Tensor<3>>) -> Result<()> {
        let [s, n, d] = means.dims();
        if s == 0 || n == 0 || d == 0 {
            return Err(Error::shape(
                "RegressionAccumulator::push",
                "means",
                "[s, N, D] with s, N, D >= 1",
                &[s, n, d],
                "pass at least one sample of at least one point",
            ));
        }
        if let Some(v) = &vars {
            if v.dims() != [s, n, d] {
                return Err(Error::shape(
                    "RegressionAccumulator::push",
                    "vars",
                    format!("{:?} (the shape of means)", [s, n, d]),
                    &v.dims(),
                    "pass one predicted variance per predicted mean",
                ));
            }
        }
        if let Some(m) = &self.mean {
            if m.dims() != [n, d] {
                return Err(Error::shape(
                    "RegressionAccumulator::push",
                    "means",
                    format!("[s, {}, {}] (as earlier chunks)", m.dims()[0], m.dims()[1]),
                    &[s, n, d],
                    "push chunks of the same points",
                ));
            }
        }
        let chunk_mean: Tensor<2> = means.clone().mean_dim(0).squeeze_dim(0);
        let chunk_m2: Tensor<2> = (means - chunk_mean.clone().unsqueeze::<3>()).square().sum_dim(0).squeeze_dim(0);
        let chunk_alea = vars.map(|v| v.sum_dim(0).squeeze_dim::<2>(0));
        let (na, nb) = (self.count as f64, s as f64);
        match (self.mean.take(), self.m2.take()) {
            (Some(mean_a), Some(m2_a)) => {
                let delta = chunk_mean.clone() - mean_a.clone();
                let total = na + nb;
                self.mean = Some(mean_a + delta.clone().mul_scalar(nb / total));
                self.m2 = Some(m2_a + chunk_m2 + delta.square().mul_scalar(na * nb / total));
            }
            _ => {
                self.mean = Some(chunk_mean);
                self.m2 = Some(chunk_m2);
            }
        }
        self.alea_sum = match (self.alea_sum.take(), chunk_alea) {
            (Some(a), Some(b)) => Some(a + b),
            (None, Some(b)) if self.count == 0 => Some(b),
            (a, None) => a,
            (None, Some(_)) => {
                return Err(Error::shape(
                    "RegressionAccumulator::push",
                    "vars",
                    "None (as earlier chunks)",
                    &[s, n, d],
                    "pass variances with every chunk or with none",
                ));
            }
        };
        self.count += s;
        Ok(())
    }

    /// The summary of everything pushed so far.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when nothing was pushed.
    pub fn finish(self) -> Result<RegressionSummary> {
        let (Some(mean), Some(m2)) = (self.mean, self.m2) else {
            return Err(Error::invalid(
                "RegressionAccumulator",
                "samples",
                0,
                ">= 1",
                "push at least one chunk of samples before finish()",
            ));
        };
        let s = self.count as f64;
        let epistemic_var = m2.div_scalar(s);
        let aleatoric_var = match self.alea_sum {
            Some(a) => a.div_scalar(s),
            None => epistemic_var.zeros_like(),
        };
        Ok(RegressionSummary { mean, aleatoric_var, epistemic_var, samples: self.count })
    }
}

/// Summarises `[S, N, D]` per-sample means (and optional variances) in one call.
///
/// # Errors
/// As [`RegressionAccumulator::push`].
pub fn regression(means: Tensor<3>, vars: Option<Tensor<3>>) -> Result<RegressionSummary> {
    let mut acc = RegressionAccumulator::new();
    acc.push(means, vars)?;
    acc.finish()
}

/// Classification summary for `N` points and `K` classes.
#[derive(Debug, Clone)]
pub struct ClassificationSummary {
    /// Mean class probabilities `[N, K]`.
    pub probs: Tensor<2>,
    /// Predictive entropy `H[mean_s p_s]` `[N]` (total uncertainty, nats).
    pub predictive_entropy: Tensor<1>,
    /// Expected entropy `mean_s H[p_s]` `[N]` (aleatoric).
    pub expected_entropy: Tensor<1>,
    /// Variation ratio `1 - modal count / S` `[N]`.
    pub variation_ratio: Tensor<1>,
    /// Number of samples summarised.
    pub samples: usize,
}

impl ClassificationSummary {
    /// Mutual information between the prediction and the weights,
    /// `H[mean p] - mean H[p]` `[N]` (epistemic, BALD). Clamped at 0 against rounding.
    pub fn mutual_information(&self) -> Tensor<1> {
        (self.predictive_entropy.clone() - self.expected_entropy.clone()).clamp_min(0.0)
    }

    /// Predicted class (argmax of the mean probabilities) `[N]`.
    pub fn predicted_class(&self) -> Tensor<1, Int> {
        self.probs.clone().argmax(1).squeeze_dim(1)
    }
}

/// Entropy in nats over the last axis, with `0 log 0 = 0`.
fn entropy_last<const D: usize>(p: Tensor<D>) -> Tensor<D> {
    let logp = p.clone().clamp_min(1e-30).log();
    (p * logp).sum_dim(D - 1).neg()
}

/// Streaming accumulator for [`ClassificationSummary`]: push `[s, N, K]` chunks of per-sample
/// class probabilities.
#[derive(Debug, Clone, Default)]
pub struct ClassificationAccumulator {
    count: usize,
    prob_sum: Option<Tensor<2>>,
    entropy_sum: Option<Tensor<1>>,
    votes: Option<Tensor<2>>,
}

impl ClassificationAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `s` samples of class probabilities `[s, N, K]` (rows sum to 1; use
    /// `softmax(logits, 2)`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] on an empty chunk, fewer than two classes, or a shape that
    /// differs from earlier chunks.
    pub fn push(&mut self, probs: Tensor<3>) -> Result<()> {
        let [s, n, k] = probs.dims();
        // K = 1 is rejected too: it is no classification, and burn's `one_hot` panics on it.
        if s == 0 || n == 0 || k < 2 {
            return Err(Error::shape(
                "ClassificationAccumulator::push",
                "probs",
                "[s, N, K] with s, N >= 1 and K >= 2",
                &[s, n, k],
                "pass at least one sample of at least one point, with one probability per class (K >= 2)",
            ));
        }
        if let Some(p) = &self.prob_sum {
            if p.dims() != [n, k] {
                return Err(Error::shape(
                    "ClassificationAccumulator::push",
                    "probs",
                    format!("[s, {}, {}] (as earlier chunks)", p.dims()[0], p.dims()[1]),
                    &[s, n, k],
                    "push chunks of the same points",
                ));
            }
        }
        let prob_sum: Tensor<2> = probs.clone().sum_dim(0).squeeze_dim(0);
        let entropy_sum: Tensor<1> = entropy_last(probs.clone()).sum_dim(0).reshape([n]);
        let winners: Tensor<2, Int> = probs.argmax(2).squeeze_dim(2); // [s, N]
        let one_hot: Tensor<3> = winners.one_hot::<3>(k).float();
        let votes: Tensor<2> = one_hot.sum_dim(0).squeeze_dim(0);
        let add2 = |a: Option<Tensor<2>>, b: Tensor<2>| Some(a.map_or(b.clone(), |a| a + b));
        self.prob_sum = add2(self.prob_sum.take(), prob_sum);
        self.votes = add2(self.votes.take(), votes);
        self.entropy_sum = Some(self.entropy_sum.take().map_or(entropy_sum.clone(), |a| a + entropy_sum));
        self.count += s;
        Ok(())
    }

    /// The summary of everything pushed so far.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when nothing was pushed.
    pub fn finish(self) -> Result<ClassificationSummary> {
        let (Some(prob_sum), Some(entropy_sum), Some(votes)) = (self.prob_sum, self.entropy_sum, self.votes) else {
            return Err(Error::invalid(
                "ClassificationAccumulator",
                "samples",
                0,
                ">= 1",
                "push at least one chunk of samples before finish()",
            ));
        };
        let s = self.count as f64;
        let probs = prob_sum.div_scalar(s);
        let predictive_entropy = entropy_last(probs.clone()).squeeze_dim(1);
        let expected_entropy = entropy_sum.div_scalar(s);
        let modal: Tensor<1> = votes.max_dim(1).squeeze_dim(1);
        let variation_ratio = modal.div_scalar(s).neg().add_scalar(1.0);
        Ok(ClassificationSummary { probs, predictive_entropy, expected_entropy, variation_ratio, samples: self.count })
    }
}

/// Summarises `[S, N, K]` per-sample class probabilities in one call.
///
/// # Errors
/// As [`ClassificationAccumulator::push`].
pub fn classification(probs: Tensor<3>) -> Result<ClassificationSummary> {
    let mut acc = ClassificationAccumulator::new();
    acc.push(probs)?;
    acc.finish()
}
