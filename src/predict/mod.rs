//! Predictive summaries over the leading sample axis, in streaming form.
//!
//! Every uncertainty method in bayesburn — Bayes-by-backprop in [`Mode::Sample`](crate::Mode),
//! MC dropout, deep ensembles — produces `[S, N, ...]` outputs, one slice per posterior sample
//! (or member). These accumulators turn them into the answer a user wants, split into
//! aleatoric and epistemic parts, pushing samples in chunks so memory does not grow with `S`.
//!
//! Regression (law of total variance, Kendall & Gal 2017 eq. 9; Lakshminarayanan et al. 2017):
//! with per-sample predicted means `mu_s` and noise variances `sigma_s^2`,
//! - predictive mean `mean_s mu_s`,
//! - aleatoric variance `mean_s sigma_s^2`,
//! - epistemic variance `var_s mu_s` (population variance over samples),
//! - total variance = aleatoric + epistemic.
//!
//! Classification (Depeweg et al. 2018; Houlsby et al. 2011 "BALD"): with per-sample class
//! probabilities `p_s`,
//! - mean probabilities `p = mean_s p_s`,
//! - predictive entropy `H[p]` (total),
//! - expected entropy `mean_s H[p_s]` (aleatoric),
//! - mutual information `H[p] - mean_s H[p_s]` (epistemic, >= 0),
//! - variation ratio `1 - (count of the modal class among the S argmaxes) / S`.
//!
//! [`DenseStack`] produces the `[S, N, D]` samples of an MLP (sampled weights, MC dropout) in
//! one fused pass on the CPU backends, without a `[S, N, width]` tensor per layer.

mod dense;
mod summary;

pub use dense::{Activation, DenseStack};
pub(crate) use summary::normal_quantile_two_sided;
pub use summary::{
    classification, inverse_normal_cdf, regression, ClassificationAccumulator, ClassificationSummary,
    RegressionAccumulator, RegressionSummary,
};
