//! The Normal (Gaussian) distribution.

use burn::prelude::*;

use super::check::{expand_pair, validate, Check, Requirement};
use super::{Distribution, Entropy, Rsample, LN_SQRT_2PI};
use crate::error::Result;
use crate::noise;

/// The Normal distribution `N(loc, scale^2)`, elementwise:
///
/// `p(x) = exp(-(x - loc)^2 / (2 scale^2)) / (scale sqrt(2 pi))`.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, Normal, Rsample};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let normal = Normal::new(
///     Tensor::<1>::from_floats([0.0, 1.0], &device),
///     Tensor::<1>::from_floats([1.0, 0.5], &device),
/// )?;
/// let x = normal.rsample(); // differentiable in loc and scale
/// let log_p: Tensor<1> = normal.log_prob(x);
/// assert_eq!(log_p.dims(), [2]);
///
/// // Invalid parameters are an error, not a panic:
/// let bad = Normal::new(Tensor::<1>::zeros([2], &device), Tensor::<1>::from_floats([1.0, -1.0], &device));
/// assert!(bad.unwrap_err().to_string().contains("scale"));
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Normal<const D: usize> {
    loc: Tensor<D>,
    scale: Tensor<D>,
}

impl<const D: usize> Normal<D> {
    /// A Normal with mean `loc` and standard deviation `scale` (broadcast to a common shape).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `loc` is not finite or
    /// `scale` is not `> 0` and finite (checked with one host read-back);
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not broadcast.
    pub fn new(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        validate(
            "Normal",
            &[
                Check { field: "loc", tensor: &loc, requirement: Requirement::Finite, fix: "use a finite mean" },
                Check {
                    field: "scale",
                    tensor: &scale,
                    requirement: Requirement::Positive,
                    fix: "use a positive standard deviation (e.g. softplus(rho) for a learnt one)",
                },
            ],
        )?;
        Self::from_parts(loc, scale)
    }

    /// Like [`Normal::new`] without the value checks (no host read-back), for parameters that
    /// are valid by construction, e.g. `scale = softplus(rho)` inside a layer's forward pass.
    ///
    /// # Panics
    /// If the shapes of `loc` and `scale` do not broadcast.
    pub fn new_unchecked(loc: Tensor<D>, scale: Tensor<D>) -> Self {
        Self::from_parts(loc, scale).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        let (loc, scale) = expand_pair("Normal", ("loc", loc), ("scale", scale))?;
        Ok(Self { loc, scale })
    }

    /// The mean `loc`.
    pub fn loc(&self) -> Tensor<D> {
        self.loc.clone()
    }

    /// The standard deviation `scale`.
    pub fn scale(&self) -> Tensor<D> {
        self.scale.clone()
    }

    /// The batch shape (the broadcast shape of the parameters).
    pub fn dims(&self) -> [usize; D] {
        self.loc.dims()
    }
}

impl<const D: usize> Distribution<D> for Normal<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let z = (value - self.loc.clone()) / self.scale.clone();
        z.square().mul_scalar(-0.5) - self.scale.clone().log() - LN_SQRT_2PI
    }

    fn mean(&self) -> Tensor<D> {
        self.loc.clone()
    }

    fn variance(&self) -> Tensor<D> {
        self.scale.clone().square()
    }

    fn stddev(&self) -> Tensor<D> {
        self.scale.clone()
    }
}

impl<const D: usize> Rsample<D> for Normal<D> {
    /// `loc + scale * eps` with `eps ~ N(0, 1)`.
    fn rsample(&self) -> Tensor<D> {
        let eps = noise::normal(self.dims(), &self.loc.device());
        self.loc.clone() + self.scale.clone() * eps
    }
}

impl<const D: usize> Entropy<D> for Normal<D> {
    /// `1/2 + ln(scale sqrt(2 pi))`.
    fn entropy(&self) -> Tensor<D> {
        self.scale.clone().log().add_scalar(0.5 + LN_SQRT_2PI)
    }
}
