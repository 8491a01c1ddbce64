//! [`Independent`]: batch dimensions reinterpreted as event dimensions (`to_event`).

use burn::prelude::*;

use super::constraint::Constraint;
use super::site::{Family, SiteDistribution};
use super::{Distribution, Entropy, KlDivergence, Rsample};
use crate::error::{Error, Result};

/// A distribution whose last `reinterpreted` dimensions are one joint event: `log_prob`,
/// `entropy` and `kl` are those of the base summed over these dimensions (kept, with size 1),
/// as NumPyro's `Independent` / `to_event`. Draws, the mean and the variance are the base's.
///
/// With an elementwise base (Normal, Gamma, ...) every dimension is a batch dimension, so
/// `Independent::new(normal [B, n], 1)` is a diagonal normal over `n` with `log_prob` `[B, 1]`.
/// A base that already sums an event over its last dimension (Dirichlet, MultivariateNormal,
/// Categorical: `log_prob` `[..., 1]`) counts that dimension among the `reinterpreted` ones,
/// so `reinterpreted = 2` adds one batch dimension to its event.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, Independent, Normal};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let normal = Normal::new(Tensor::<2>::zeros([4, 3], &device), Tensor::<2>::ones([4, 3], &device))?;
/// let diagonal = Independent::new(normal, 1)?; // 4 vectors of 3 independent coordinates
/// assert_eq!(diagonal.log_prob(Tensor::zeros([4, 3], &device)).dims(), [4, 1]);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Independent<T, const D: usize> {
    base: T,
    reinterpreted: usize,
}

impl<T: Distribution<D>, const D: usize> Independent<T, D> {
    /// `base` with its last `reinterpreted` dimensions summed as one event.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `1 <= reinterpreted <= D`.
    pub fn new(base: T, reinterpreted: usize) -> Result<Self> {
        if reinterpreted == 0 || reinterpreted > D {
            return Err(Error::invalid(
                "Independent",
                "reinterpreted",
                format!("{reinterpreted} (for a distribution of rank {D})"),
                "in 1..=D",
                "reinterpret between one and all of the dimensions as the event",
            ));
        }
        Ok(Self { base, reinterpreted })
    }

    /// The base distribution.
    pub fn base(&self) -> &T {
        &self.base
    }

    /// How many trailing dimensions form the event.
    pub fn reinterpreted(&self) -> usize {
        self.reinterpreted
    }

    /// Sums `t` over the event dimensions, keeping them with size 1.
    fn sum_event(&self, t: Tensor<D>) -> Tensor<D> {
        ((D - self.reinterpreted)..D).fold(t, |acc, dim| acc.sum_dim(dim))
    }
}

/// `to_event` for every distribution: `d.to_event(n)` is [`Independent::new`]`(d, n)`.
pub trait ToEvent<const D: usize>: Distribution<D> + Sized {
    /// This distribution with its last `reinterpreted` dimensions as one event.
    ///
    /// # Errors
    /// As [`Independent::new`].
    fn to_event(self, reinterpreted: usize) -> Result<Independent<Self, D>> {
        Independent::new(self, reinterpreted)
    }
}

impl<T: Distribution<D>, const D: usize> ToEvent<D> for T {}

impl<T: Distribution<D>, const D: usize> Distribution<D> for Independent<T, D> {
    fn sample(&self) -> Tensor<D> {
        self.base.sample()
    }

    /// The base's `log_prob` summed over the event dimensions (kept, size 1).
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        self.sum_event(self.base.log_prob(value))
    }

    fn mean(&self) -> Tensor<D> {
        self.base.mean()
    }

    fn variance(&self) -> Tensor<D> {
        self.base.variance()
    }
}

impl<T: Rsample<D>, const D: usize> Rsample<D> for Independent<T, D> {
    fn rsample(&self) -> Tensor<D> {
        self.base.rsample()
    }
}

impl<T: Distribution<D> + Entropy<D>, const D: usize> Entropy<D> for Independent<T, D> {
    /// The base's entropy summed over the event dimensions.
    fn entropy(&self) -> Tensor<D> {
        self.sum_event(self.base.entropy())
    }
}

impl<P, Q, const D: usize> KlDivergence<Independent<Q, D>, D> for Independent<P, D>
where
    P: Distribution<D> + KlDivergence<Q, D>,
    Q: Distribution<D>,
{
    /// The base KL summed over the event dimensions.
    ///
    /// # Panics
    /// If the two reinterpret a different number of dimensions.
    fn kl(&self, q: &Independent<Q, D>) -> Tensor<D> {
        assert_eq!(self.reinterpreted, q.reinterpreted, "KL of Independent distributions with different event ranks");
        self.sum_event(self.base.kl(&q.base))
    }
}

impl<T: SiteDistribution<D> + Distribution<D>, const D: usize> SiteDistribution<D> for Independent<T, D> {
    fn value_shape(&self) -> [usize; D] {
        self.base.value_shape()
    }
    fn support(&self) -> Constraint {
        self.base.support()
    }
    fn draw(&self) -> Tensor<D> {
        self.base.draw()
    }
    fn is_reparameterized(&self) -> bool {
        self.base.is_reparameterized()
    }
    fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
        self.sum_event(self.base.log_density(value))
    }
    /// The base's family: the summed log-density and KL are the same totals.
    fn family(&self) -> Family {
        self.base.family()
    }
    fn moments(&self) -> Option<(Tensor<D>, Tensor<D>)> {
        self.base.moments()
    }
}
