//! Shared bookkeeping of the variational layers: posterior statistics and input checks.

use burn::prelude::*;

use crate::bayesian::LayerStats;
use crate::error::{Error, Result};
use crate::posterior::Prior;

/// Running sums behind one [`LayerStats`], accumulated over a layer's weight and bias tensors.
#[derive(Debug, Default)]
pub(crate) struct StatsAccumulator {
    n_weights: usize,
    snr_sum: f64,
    sigma_sum: f64,
    at_prior_sum: f64,
    kl: f64,
}

impl StatsAccumulator {
    /// Adds the elements of one variational tensor `N(mu, sigma^2)` under `prior`.
    pub(crate) fn add<const D: usize>(&mut self, prior: &Prior, mu: Tensor<D>, sigma: Tensor<D>) {
        self.n_weights += mu.shape().num_elements();
        self.snr_sum += scalar((mu.clone().abs() / sigma.clone()).sum());
        self.sigma_sum += scalar(sigma.clone().sum());
        self.at_prior_sum += scalar(prior.at_prior_mask(mu.clone(), sigma.clone(), None).sum());
        self.kl += scalar(prior.kl(mu, sigma, None));
    }

    /// The finished statistics of the layer called `name`.
    pub(crate) fn finish(self, name: String) -> LayerStats {
        let n = self.n_weights.max(1) as f64;
        LayerStats {
            name,
            n_weights: self.n_weights,
            mean_snr: self.snr_sum / n,
            mean_sigma: self.sigma_sum / n,
            prior_share: self.at_prior_sum / n,
            kl: self.kl,
        }
    }
}

/// Reads a one-element tensor back as `f64`.
pub(crate) fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f64>()
}

/// Checks that the sample axis (dim 0) and the batch axis (dim 1) of `dims` are non-empty.
pub(crate) fn check_sample_and_batch(context: &'static str, dims: &[usize], expected: &str) -> Result<()> {
    if dims[0] == 0 {
        return Err(Error::shape(
            context,
            "input (zero samples)",
            expected,
            dims,
            "the sample axis S (dim 0) must be >= 1; expand the input to [S, N, ...] with S >= 1",
        ));
    }
    if dims[1] == 0 {
        return Err(Error::shape(
            context,
            "input (empty batch)",
            expected,
            dims,
            "the batch axis N (dim 1) must be >= 1; pass at least one example",
        ));
    }
    Ok(())
}
