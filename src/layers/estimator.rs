//! How a variational layer turns its weight posterior into a noisy output.
//!
//! All three estimators give the same distribution of each example's pre-activation given its
//! input (a Gaussian with mean `x·mu + b_mu` and variance `x²·sigma² + b_sigma²`); they differ in
//! how the noise is shared across the examples of a batch, and so in the variance of the
//! gradient.

use serde::{Deserialize, Serialize};

/// Gradient estimator of a variational layer ([`BayesLinear`](super::BayesLinear),
/// [`BayesConv2d`](super::BayesConv2d)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Estimator {
    /// Bayes-by-backprop (Blundell et al. 2015): one weight sample `w = mu + sigma * eps` per
    /// Monte-Carlo sample, shared by every example of the batch.
    #[default]
    Reparameterization,
    /// Flipout (Wen et al. 2018, eq. 4): the shared perturbation `sigma * eps` is decorrelated
    /// across examples by Rademacher signs,
    /// `out = x @ mu + ((x ∘ s_in) @ (sigma ∘ eps)) ∘ s_out`, with per-example signs `s_in`, `s_out`.
    /// Same marginal per example as [`Estimator::Reparameterization`], lower gradient variance.
    Flipout,
    /// Local reparameterization (Kingma et al. 2015, eq. 6): sample the pre-activations instead
    /// of the weights, `out = x @ mu + b_mu + sqrt(x² @ sigma² + b_sigma²) * eps`, with
    /// independent noise per example and output unit.
    LocalReparameterization,
}

impl std::fmt::Display for Estimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Estimator::Reparameterization => "reparameterization",
            Estimator::Flipout => "flipout",
            Estimator::LocalReparameterization => "local reparameterization",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_reparameterization() {
        assert_eq!(Estimator::default(), Estimator::Reparameterization);
    }

    #[test]
    fn serde_round_trip() {
        for e in [Estimator::Reparameterization, Estimator::Flipout, Estimator::LocalReparameterization] {
            let json = serde_json::to_string(&e).unwrap();
            let back: Estimator = serde_json::from_str(&json).unwrap();
            assert_eq!(back, e);
        }
    }
}
