//! [`Delta`]: a point mass, the distribution of a MAP guide's sites.

use burn::prelude::*;

use super::constraint::Constraint;
use super::site::SiteDistribution;

/// A point mass at `value` (log-density 0 everywhere: it is used where the density is not
/// part of the objective, e.g. [`AutoDelta`](crate::infer::AutoDelta) for MAP and
/// `deterministic`-style sites), with a declared support.
#[derive(Debug, Clone)]
pub struct Delta<const D: usize> {
    value: Tensor<D>,
    support: Constraint,
}

impl<const D: usize> Delta<D> {
    /// A point mass at `value` on the real line.
    pub fn new(value: Tensor<D>) -> Self {
        Self { value, support: Constraint::Real }
    }

    /// The same point mass, declared to live on `support`.
    pub fn with_support(self, support: Constraint) -> Self {
        Self { support, ..self }
    }
}

impl<const D: usize> SiteDistribution<D> for Delta<D> {
    fn value_shape(&self) -> [usize; D] {
        self.value.dims()
    }
    fn support(&self) -> Constraint {
        self.support
    }
    fn draw(&self) -> Tensor<D> {
        self.value.clone()
    }
    fn is_reparameterized(&self) -> bool {
        true
    }
    fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
        value.zeros_like()
    }
    fn moments(&self) -> Option<(Tensor<D>, Tensor<D>)> {
        Some((self.value.clone(), self.value.zeros_like()))
    }
}
