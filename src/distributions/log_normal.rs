//! The log-normal distribution.

use burn::prelude::*;

use super::check::{expand_pair, sanitize, validate, Check, Requirement};
use super::{Distribution, Entropy, Rsample, LN_SQRT_2PI};
use crate::error::Result;
use crate::noise;

/// The log-normal distribution: `x = exp(y)` with `y ~ N(loc, scale^2)`, elementwise:
///
/// `p(x) = exp(-(ln x - loc)^2 / (2 scale^2)) / (x scale sqrt(2 pi))` for `x > 0`.
///
/// `loc` and `scale` are the mean and standard deviation of `ln x`, not of `x`.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, LogNormal};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = LogNormal::new(Tensor::<1>::zeros([3], &device), Tensor::<1>::ones([3], &device))?;
/// let x = d.sample();
/// let positive: bool = x.greater_elem(0.0).all().into_scalar();
/// assert!(positive);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LogNormal<const D: usize> {
    loc: Tensor<D>,
    scale: Tensor<D>,
}

impl<const D: usize> LogNormal<D> {
    /// A log-normal whose logarithm has mean `loc` and standard deviation `scale`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `loc` is not finite or
    /// `scale` is not `> 0` and finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch)
    /// if the shapes do not broadcast.
    pub fn new(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        validate(
            "LogNormal",
            &[
                Check {
                    field: "loc",
                    tensor: &loc,
                    requirement: Requirement::Finite,
                    fix: "use a finite mean of ln x",
                },
                Check {
                    field: "scale",
                    tensor: &scale,
                    requirement: Requirement::Positive,
                    fix: "use a positive standard deviation of ln x",
                },
            ],
        )?;
        Self::from_parts(loc, scale)
    }

    /// Like [`LogNormal::new`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes of `loc` and `scale` do not broadcast.
    pub fn new_unchecked(loc: Tensor<D>, scale: Tensor<D>) -> Self {
        Self::from_parts(loc, scale).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        let (loc, scale) = expand_pair("LogNormal", ("loc", loc), ("scale", scale))?;
        Ok(Self { loc, scale })
    }

    /// The mean of `ln x`.
    pub fn loc(&self) -> Tensor<D> {
        self.loc.clone()
    }

    /// The standard deviation of `ln x`.
    pub fn scale(&self) -> Tensor<D> {
        self.scale.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.loc.dims()
    }
}

impl<const D: usize> Distribution<D> for LogNormal<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    /// `-inf` for `x <= 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = value.clone().lower_equal_elem(0.0);
        let ln_x = sanitize(value, outside.clone(), 1.0).log();
        let z = (ln_x.clone() - self.loc.clone()) / self.scale.clone();
        let lp = z.square().mul_scalar(-0.5) - ln_x - self.scale.clone().log() - LN_SQRT_2PI;
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `exp(loc + scale^2 / 2)`.
    fn mean(&self) -> Tensor<D> {
        (self.loc.clone() + self.scale.clone().square().mul_scalar(0.5)).exp()
    }

    /// `expm1(scale^2) exp(2 loc + scale^2)`, with `expm1(s) = 2 sinh(s/2) exp(s/2)` so small
    /// scales keep their precision.
    fn variance(&self) -> Tensor<D> {
        let s2 = self.scale.clone().square();
        let expm1 = s2.clone().mul_scalar(0.5).sinh().mul_scalar(2.0) * s2.clone().mul_scalar(0.5).exp();
        expm1 * (self.loc.clone().mul_scalar(2.0) + s2).exp()
    }
}

impl<const D: usize> Rsample<D> for LogNormal<D> {
    /// `exp(loc + scale * eps)` with `eps ~ N(0, 1)`.
    fn rsample(&self) -> Tensor<D> {
        let eps = noise::normal(self.dims(), &self.loc.device());
        (self.loc.clone() + self.scale.clone() * eps).exp()
    }
}

impl<const D: usize> Entropy<D> for LogNormal<D> {
    /// `loc + 1/2 + ln(scale sqrt(2 pi))`.
    fn entropy(&self) -> Tensor<D> {
        self.loc.clone() + self.scale.clone().log().add_scalar(0.5 + LN_SQRT_2PI)
    }
}
