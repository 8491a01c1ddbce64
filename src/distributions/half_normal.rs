//! The half-normal distribution.

use std::f64::consts::{FRAC_2_PI, LN_2, PI};

use burn::prelude::*;

use super::check::{sanitize, validate, Check, Requirement};
use super::{Distribution, Entropy, Rsample, LN_SQRT_2PI};
use crate::error::Result;
use crate::noise;

/// The half-normal distribution: `|y|` with `y ~ N(0, scale^2)`, elementwise:
///
/// `p(x) = sqrt(2 / pi) / scale * exp(-x^2 / (2 scale^2))` for `x >= 0`.
///
/// A common prior for standard deviations (Gelman 2006).
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, HalfNormal};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = HalfNormal::new(Tensor::<1>::from_floats([1.0, 2.0], &device))?;
/// let log_p: Tensor<1> = d.log_prob(Tensor::from_floats([-1.0, 1.0], &device));
/// let v: Vec<f32> = log_p.into_data().convert::<f32>().try_to_vec().unwrap();
/// assert_eq!(v[0], f32::NEG_INFINITY); // outside the support
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct HalfNormal<const D: usize> {
    scale: Tensor<D>,
}

impl<const D: usize> HalfNormal<D> {
    /// A half-normal folded from `N(0, scale^2)`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `scale` is not `> 0` and
    /// finite.
    pub fn new(scale: Tensor<D>) -> Result<Self> {
        validate(
            "HalfNormal",
            &[Check {
                field: "scale",
                tensor: &scale,
                requirement: Requirement::Positive,
                fix: "use a positive scale (the standard deviation of the unfolded Normal)",
            }],
        )?;
        Ok(Self { scale })
    }

    /// Like [`HalfNormal::new`] without the value check (no host read-back).
    pub fn new_unchecked(scale: Tensor<D>) -> Self {
        Self { scale }
    }

    /// The scale (standard deviation of the unfolded Normal).
    pub fn scale(&self) -> Tensor<D> {
        self.scale.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.scale.dims()
    }
}

impl<const D: usize> Distribution<D> for HalfNormal<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    /// `-inf` for `x < 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = value.clone().lower_elem(0.0);
        let z = sanitize(value, outside.clone(), 0.0) / self.scale.clone();
        let lp = z.square().mul_scalar(-0.5) - self.scale.clone().log() + (LN_2 - LN_SQRT_2PI);
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `scale sqrt(2 / pi)`.
    fn mean(&self) -> Tensor<D> {
        self.scale.clone().mul_scalar(FRAC_2_PI.sqrt())
    }

    /// `scale^2 (1 - 2 / pi)`.
    fn variance(&self) -> Tensor<D> {
        self.scale.clone().square().mul_scalar(1.0 - FRAC_2_PI)
    }
}

impl<const D: usize> Rsample<D> for HalfNormal<D> {
    /// `scale * |eps|` with `eps ~ N(0, 1)`.
    fn rsample(&self) -> Tensor<D> {
        let eps = noise::normal(self.dims(), &self.scale.device());
        self.scale.clone() * eps.abs()
    }
}

impl<const D: usize> Entropy<D> for HalfNormal<D> {
    /// `1/2 + ln(scale sqrt(pi / 2))`.
    fn entropy(&self) -> Tensor<D> {
        self.scale.clone().log().add_scalar(0.5 + 0.5 * (PI / 2.0).ln())
    }
}
