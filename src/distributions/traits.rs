//! The traits every distribution implements.

use burn::prelude::*;

/// A batch of independent real-valued random variables, one per element of a rank-`D` tensor.
///
/// The batch shape is the broadcast shape of the parameters. To draw `S` samples, build the
/// distribution from parameters expanded to `[S, ...]` (dimension 0 is the sample axis).
pub trait Distribution<const D: usize> {
    /// One draw per batch element, **detached** from the autodiff graph (no gradient flows to
    /// the parameters). Use [`Rsample::rsample`] for a differentiable draw.
    fn sample(&self) -> Tensor<D>;

    /// Elementwise log-density (or log-mass) of `value`; `-inf` outside the support.
    ///
    /// # Panics
    /// If `value` does not broadcast against the batch shape (burn's shape check).
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D>;

    /// Elementwise mean (`NaN` where it does not exist, e.g. a Student-t with `df <= 1`).
    fn mean(&self) -> Tensor<D>;

    /// Elementwise variance (`inf` or `NaN` where it does not exist).
    fn variance(&self) -> Tensor<D>;

    /// Elementwise standard deviation, `sqrt(variance)`.
    fn stddev(&self) -> Tensor<D> {
        self.variance().sqrt()
    }
}

/// Distributions with a reparameterized sampler (Kingma & Welling 2014): the draw is a
/// differentiable function `x = g(params, eps)` of the parameters and parameter-free noise
/// `eps`, so `x.backward()` reaches the parameters.
pub trait Rsample<const D: usize>: Distribution<D> {
    /// One differentiable draw per batch element.
    fn rsample(&self) -> Tensor<D>;
}

/// Distributions with a closed-form (differential) entropy `H = -E[log p(x)]`.
pub trait Entropy<const D: usize> {
    /// Elementwise entropy, in nats.
    fn entropy(&self) -> Tensor<D>;
}

/// `KL(self || q)`, elementwise over the batch.
///
/// Implemented in closed form where one exists (Normal, LogNormal, Laplace, Exponential, Gamma,
/// InverseGamma, Beta, Dirichlet, MultivariateNormal, Poisson, Bernoulli, Categorical against
/// their own kind, and [`Independent`](super::Independent) of those) and as a one-sample
/// Monte-Carlo estimate for
/// [`Normal`](super::Normal) against [`ScaleMixtureNormal`](super::ScaleMixtureNormal) (the
/// Bayes-by-backprop prior of Blundell et al. 2015, which has none).
pub trait KlDivergence<Q, const D: usize> {
    /// Elementwise `KL(self || q) = E_self[log self(x) - log q(x)]`, in nats.
    fn kl(&self, q: &Q) -> Tensor<D>;
}
