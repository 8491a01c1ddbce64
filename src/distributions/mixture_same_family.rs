//! [`MixtureSameFamily`]: a finite mixture of components of one family.

use burn::prelude::*;

use super::constraint::Constraint;
use super::site::SiteDistribution;
use super::{Categorical, Distribution};
use crate::error::{Error, Result};

/// A mixture of `K` components of one family, with mixing weights given by a
/// [`Categorical`] over the **last dimension**:
///
/// `p(x) = sum_k w_k p_k(x)`, `ln p(x) = logsumexp_k (ln w_k + ln p_k(x))`.
///
/// `components` is any elementwise distribution of this module (Normal, Gamma, Poisson, ...)
/// with batch shape `[..., K]`, the component axis last, and `mixing` a `Categorical` with
/// probabilities `[..., K]`. The mixture has one value per row, kept as `[..., 1]` (the
/// convention of `Categorical`): `sample`, `mean`, `variance` and `log_prob` are `[..., 1]`, and
/// `log_prob(x)` broadcasts `x` (`[..., 1]`) against the `K` components. Draws pick a component
/// by the weights and take that component's draw; they are not reparameterized (the component
/// choice is discrete), so a mixture is a prior or a likelihood, not a variational family.
/// (Components with an event dimension, such as MultivariateNormal, are not supported.)
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Categorical, Distribution, MixtureSameFamily, Normal};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let weights = Categorical::from_probs(Tensor::<2>::from_floats([[0.3, 0.7]], &device))?;
/// let components = Normal::new(Tensor::<2>::from_floats([[-2.0, 2.0]], &device), Tensor::<2>::ones([1, 2], &device))?;
/// let mixture = MixtureSameFamily::new(weights, components)?;
/// assert_eq!(mixture.log_prob(Tensor::zeros([1, 1], &device)).dims(), [1, 1]);
/// let m: f32 = mixture.mean().into_scalar();
/// assert!((m - 0.8).abs() < 1e-6);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixtureSameFamily<C, const D: usize> {
    mixing: Categorical<D>,
    components: C,
}

impl<C: Distribution<D> + SiteDistribution<D>, const D: usize> MixtureSameFamily<C, D> {
    /// The mixture of `components` (batch `[..., K]`) with weights `mixing` (`[..., K]`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the shapes differ (the component axis must be the last
    /// dimension of both).
    pub fn new(mixing: Categorical<D>, components: C) -> Result<Self> {
        let (w, c) = (mixing.dims(), components.value_shape());
        if w != c {
            return Err(Error::shape(
                "MixtureSameFamily",
                "components",
                format!("{w:?} (the shape of the mixing weights, components last)"),
                &c,
                "give the components the batch shape [..., K] of the mixing probabilities",
            ));
        }
        Ok(Self { mixing, components })
    }

    /// The mixing distribution over the components.
    pub fn mixing(&self) -> &Categorical<D> {
        &self.mixing
    }

    /// The components.
    pub fn components(&self) -> &C {
        &self.components
    }

    /// The shape of one value, `[..., 1]`.
    pub fn dims(&self) -> [usize; D] {
        let mut dims = self.mixing.dims();
        dims[D - 1] = 1;
        dims
    }
}

impl<C: Distribution<D> + SiteDistribution<D>, const D: usize> Distribution<D> for MixtureSameFamily<C, D> {
    /// A component chosen by the weights, and that component's draw (`[..., 1]`).
    fn sample(&self) -> Tensor<D> {
        let index = self.mixing.sample();
        self.components.sample().detach().gather(D - 1, index)
    }

    /// `logsumexp_k (ln w_k + ln p_k(x))` over the last dimension, `[..., 1]`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let joint = self.mixing.logits() + self.components.log_prob(value);
        let max = joint.clone().max_dim(D - 1).detach();
        // A row where every term is -inf (x outside every support) stays -inf, not NaN.
        let safe = max.clone().mask_fill(max.clone().is_inf(), 0.0);
        (joint - safe.clone()).exp().sum_dim(D - 1).log() + safe
    }

    /// `sum_k w_k mean_k`.
    fn mean(&self) -> Tensor<D> {
        (self.mixing.probs() * self.components.mean()).sum_dim(D - 1)
    }

    /// `sum_k w_k (var_k + mean_k^2) - mean^2` (the law of total variance).
    fn variance(&self) -> Tensor<D> {
        let m = self.components.mean();
        let second = (self.mixing.probs() * (self.components.variance() + m.square())).sum_dim(D - 1);
        second - self.mean().square()
    }
}

impl<C: Distribution<D> + SiteDistribution<D>, const D: usize> SiteDistribution<D> for MixtureSameFamily<C, D> {
    fn value_shape(&self) -> [usize; D] {
        self.dims()
    }
    /// The components' support.
    fn support(&self) -> Constraint {
        self.components.support()
    }
    fn draw(&self) -> Tensor<D> {
        self.sample()
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
        self.log_prob(value)
    }
    fn moments(&self) -> Option<(Tensor<D>, Tensor<D>)> {
        Some((self.mean(), self.variance()))
    }
}
