//! The half-Cauchy distribution.

use std::f64::consts::{FRAC_PI_2, PI};

use burn::prelude::*;

use super::check::{host_noise, open_unit, sanitize, validate, Check, Requirement};
use super::{Distribution, Entropy, Rsample};
use crate::error::Result;

/// The half-Cauchy distribution: `|y|` with `y ~ Cauchy(0, scale)`, elementwise:
///
/// `p(x) = 2 / (pi scale (1 + (x / scale)^2))` for `x >= 0`.
///
/// The weakly informative prior for group-level standard deviations of Gelman (2006) and
/// Polson & Scott (2012), e.g. `tau ~ HalfCauchy(5)` in eight schools. Its mean and variance
/// are infinite. `rsample` is `scale tan(pi u / 2)` with `u ~ U(0, 1)` (the inverse CDF),
/// differentiable in `scale`.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, HalfCauchy};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = HalfCauchy::new(Tensor::<1>::full([3], 5.0, &device))?;
/// assert_eq!(d.sample().dims(), [3]);
/// assert!(HalfCauchy::new(Tensor::<1>::from_floats([-1.0], &device)).is_err());
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct HalfCauchy<const D: usize> {
    scale: Tensor<D>,
}

impl<const D: usize> HalfCauchy<D> {
    /// A half-Cauchy folded from `Cauchy(0, scale)`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `scale` is not `> 0` and
    /// finite.
    pub fn new(scale: Tensor<D>) -> Result<Self> {
        validate(
            "HalfCauchy",
            &[Check {
                field: "scale",
                tensor: &scale,
                requirement: Requirement::Positive,
                fix: "use a positive scale (the median of the distribution), e.g. 5.0",
            }],
        )?;
        Ok(Self { scale })
    }

    /// Like [`HalfCauchy::new`] without the value check (no host read-back).
    pub fn new_unchecked(scale: Tensor<D>) -> Self {
        Self { scale }
    }

    /// The scale (also the median).
    pub fn scale(&self) -> Tensor<D> {
        self.scale.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.scale.dims()
    }
}

impl<const D: usize> Distribution<D> for HalfCauchy<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    /// `-inf` for `x < 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = value.clone().lower_elem(0.0);
        let z = sanitize(value, outside.clone(), 0.0) / self.scale.clone();
        let lp = z.square().log1p().neg() - self.scale.clone().log() - FRAC_PI_2.ln();
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `inf`.
    fn mean(&self) -> Tensor<D> {
        self.scale.full_like(f64::INFINITY)
    }

    /// `inf`.
    fn variance(&self) -> Tensor<D> {
        self.scale.full_like(f64::INFINITY)
    }
}

impl<const D: usize> Rsample<D> for HalfCauchy<D> {
    /// `scale * tan(pi u / 2)`, `u ~ U(0, 1)` drawn on the host.
    fn rsample(&self) -> Tensor<D> {
        let noise =
            host_noise(self.dims(), &self.scale.device(), self.scale.dtype(), |rng| (FRAC_PI_2 * open_unit(rng)).tan());
        self.scale.clone() * noise
    }
}

impl<const D: usize> Entropy<D> for HalfCauchy<D> {
    /// `ln(2 pi scale)`: the Cauchy's `ln(4 pi scale)` less `ln 2` (folding doubles the density).
    fn entropy(&self) -> Tensor<D> {
        self.scale.clone().log().add_scalar((2.0 * PI).ln())
    }
}
