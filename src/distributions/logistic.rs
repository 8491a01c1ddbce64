//! The logistic distribution.

use std::f64::consts::PI;

use burn::prelude::*;

use super::check::{expand_pair, host_noise, open_unit, validate, Check, Requirement};
use super::{Distribution, Entropy, Rsample};
use crate::error::Result;
use crate::posterior::softplus;

/// The logistic distribution, elementwise:
///
/// `p(x) = exp(-z) / (scale (1 + exp(-z))^2)`, `z = (x - loc) / scale`;
/// its CDF is the logistic sigmoid `sigmoid(z)`.
///
/// Mean `loc`, variance `scale^2 pi^2 / 3`. `log_prob` is `-z - ln scale - 2 softplus(-z)`,
/// which does not overflow in either tail. `rsample` is the inverse CDF
/// `loc + scale (ln u - ln(1 - u))`, differentiable in `loc` and `scale`.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, Logistic};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = Logistic::new(Tensor::<1>::zeros([1], &device), Tensor::<1>::ones([1], &device))?;
/// let v: f32 = d.log_prob(Tensor::zeros([1], &device)).into_scalar();
/// assert!((v + 4f32.ln()).abs() < 1e-6); // p(loc) = 1 / (4 scale)
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Logistic<const D: usize> {
    loc: Tensor<D>,
    scale: Tensor<D>,
}

impl<const D: usize> Logistic<D> {
    /// A logistic with location (mean, median) `loc` and scale `scale`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `loc` is not finite or
    /// `scale` is not `> 0` and finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch)
    /// if the shapes do not broadcast.
    pub fn new(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        validate(
            "Logistic",
            &[
                Check { field: "loc", tensor: &loc, requirement: Requirement::Finite, fix: "use a finite location" },
                Check {
                    field: "scale",
                    tensor: &scale,
                    requirement: Requirement::Positive,
                    fix: "use a positive scale",
                },
            ],
        )?;
        Self::from_parts(loc, scale)
    }

    /// Like [`Logistic::new`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes of `loc` and `scale` do not broadcast.
    pub fn new_unchecked(loc: Tensor<D>, scale: Tensor<D>) -> Self {
        Self::from_parts(loc, scale).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        let (loc, scale) = expand_pair("Logistic", ("loc", loc), ("scale", scale))?;
        Ok(Self { loc, scale })
    }

    /// The location `loc`.
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
}

impl<const D: usize> Distribution<D> for Logistic<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let z = (value - self.loc.clone()) / self.scale.clone();
        z.clone().neg() - softplus(z.neg()).mul_scalar(2.0) - self.scale.clone().log()
    }

    fn mean(&self) -> Tensor<D> {
        self.loc.clone()
    }

    /// `scale^2 pi^2 / 3`.
    fn variance(&self) -> Tensor<D> {
        self.scale.clone().square().mul_scalar(PI * PI / 3.0)
    }
}

impl<const D: usize> Rsample<D> for Logistic<D> {
    /// `loc + scale * logit(u)`, `u ~ U(0, 1)` drawn on the host.
    fn rsample(&self) -> Tensor<D> {
        let noise = host_noise(self.dims(), &self.loc.device(), self.loc.dtype(), |rng| {
            let u = open_unit(rng);
            u.ln() - (-u).ln_1p()
        });
        self.loc.clone() + self.scale.clone() * noise
    }
}

impl<const D: usize> Entropy<D> for Logistic<D> {
    /// `ln scale + 2`.
    fn entropy(&self) -> Tensor<D> {
        self.scale.clone().log().add_scalar(2.0)
    }
}
