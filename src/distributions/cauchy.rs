//! The Cauchy distribution.

use std::f64::consts::PI;

use burn::prelude::*;

use super::check::{expand_pair, host_noise, open_unit, validate, Check, Requirement};
use super::{Distribution, Entropy, Rsample};
use crate::error::Result;

/// The Cauchy distribution (Student-t with one degree of freedom), elementwise:
///
/// `p(x) = 1 / (pi scale (1 + z^2))`, `z = (x - loc) / scale`.
///
/// Neither its mean nor its variance exists: [`Distribution::mean`] is `NaN` and
/// [`Distribution::variance`] is `inf`, as in PyTorch and NumPyro. `rsample` is
/// `loc + scale tan(pi (u - 1/2))` with `u ~ U(0, 1)` (the inverse CDF), differentiable in
/// `loc` and `scale`.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Cauchy, Distribution};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = Cauchy::new(Tensor::<1>::zeros([2], &device), Tensor::<1>::ones([2], &device))?;
/// let log_p: Tensor<1> = d.log_prob(Tensor::zeros([2], &device));
/// let v: f32 = log_p.slice([0..1]).into_scalar();
/// assert!((v + std::f32::consts::PI.ln()).abs() < 1e-6); // p(loc) = 1 / (pi scale)
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cauchy<const D: usize> {
    loc: Tensor<D>,
    scale: Tensor<D>,
}

impl<const D: usize> Cauchy<D> {
    /// A Cauchy with location (median) `loc` and scale (half the interquartile range) `scale`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `loc` is not finite or
    /// `scale` is not `> 0` and finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch)
    /// if the shapes do not broadcast.
    pub fn new(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        validate(
            "Cauchy",
            &[
                Check { field: "loc", tensor: &loc, requirement: Requirement::Finite, fix: "use a finite location" },
                Check {
                    field: "scale",
                    tensor: &scale,
                    requirement: Requirement::Positive,
                    fix: "use a positive scale (half the interquartile range)",
                },
            ],
        )?;
        Self::from_parts(loc, scale)
    }

    /// Like [`Cauchy::new`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes of `loc` and `scale` do not broadcast.
    pub fn new_unchecked(loc: Tensor<D>, scale: Tensor<D>) -> Self {
        Self::from_parts(loc, scale).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        let (loc, scale) = expand_pair("Cauchy", ("loc", loc), ("scale", scale))?;
        Ok(Self { loc, scale })
    }

    /// The location (median) `loc`.
    pub fn loc(&self) -> Tensor<D> {
        self.loc.clone()
    }

    /// The scale `scale`.
    pub fn scale(&self) -> Tensor<D> {
        self.scale.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.loc.dims()
    }

    /// Standard Cauchy noise by the inverse CDF, drawn on the host in f64.
    fn standard_noise(&self) -> Tensor<D> {
        host_noise(self.dims(), &self.loc.device(), self.loc.dtype(), |rng| (PI * (open_unit(rng) - 0.5)).tan())
    }
}

impl<const D: usize> Distribution<D> for Cauchy<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let z = (value - self.loc.clone()) / self.scale.clone();
        z.square().log1p().neg() - self.scale.clone().log() - PI.ln()
    }

    /// `NaN`: the mean does not exist.
    fn mean(&self) -> Tensor<D> {
        self.loc.full_like(f64::NAN)
    }

    /// `inf`: the variance does not exist.
    fn variance(&self) -> Tensor<D> {
        self.loc.full_like(f64::INFINITY)
    }
}

impl<const D: usize> Rsample<D> for Cauchy<D> {
    /// `loc + scale * t` with `t = tan(pi (u - 1/2))` standard Cauchy, drawn on the host.
    fn rsample(&self) -> Tensor<D> {
        self.loc.clone() + self.scale.clone() * self.standard_noise()
    }
}

impl<const D: usize> Entropy<D> for Cauchy<D> {
    /// `ln(4 pi scale)`.
    fn entropy(&self) -> Tensor<D> {
        self.scale.clone().log().add_scalar((4.0 * PI).ln())
    }
}
