//! [`Beta`]: a prior on the unit interval (scalar shape parameters), for `sample!` sites.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand_distr::Distribution as _;

use super::constraint::Constraint;
use super::site::SiteDistribution;
use crate::error::{check_positive, Result};
use crate::noise;

/// The Beta distribution `Beta(alpha, beta)` on `(0, 1)`, elementwise over a batch of shape
/// `dims`, with scalar shape parameters:
/// `p(x) = x^(alpha-1) (1-x)^(beta-1) / B(alpha, beta)`.
///
/// Draws come from `rand_distr::Beta` through [`noise`] (not reparameterized), so it serves as
/// a prior or a likelihood, not as a variational family.
#[derive(Debug, Clone)]
pub struct Beta<const D: usize> {
    alpha: f64,
    beta: f64,
    dims: [usize; D],
    device: Device,
}

impl<const D: usize> Beta<D> {
    /// `Beta(alpha, beta)` for every element of a batch of shape `dims` on `device`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless both parameters are
    /// `> 0` and finite.
    pub fn new(alpha: f64, beta: f64, dims: [usize; D], device: &Device) -> Result<Self> {
        check_positive("Beta", "alpha", alpha, "use a positive shape parameter such as 2.0")?;
        check_positive("Beta", "beta", beta, "use a positive shape parameter such as 2.0")?;
        Ok(Self { alpha, beta, dims, device: device.clone() })
    }
}

impl<const D: usize> SiteDistribution<D> for Beta<D> {
    fn value_shape(&self) -> [usize; D] {
        self.dims
    }
    fn support(&self) -> Constraint {
        Constraint::UnitInterval
    }
    fn draw(&self) -> Tensor<D> {
        let n: usize = self.dims.iter().product();
        let beta = rand_distr::Beta::new(self.alpha, self.beta).expect("validated in Beta::new");
        let v: Vec<f64> = noise::with_rng(|rng| (0..n).map(|_| beta.sample(rng)).collect());
        Tensor::from_data(TensorData::new(v, self.dims), &self.device)
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
        let norm = statrs::function::beta::ln_beta(self.alpha, self.beta);
        (value.clone().log().mul_scalar(self.alpha - 1.0) + value.neg().log1p().mul_scalar(self.beta - 1.0))
            .sub_scalar(norm)
    }
}
