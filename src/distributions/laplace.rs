//! The Laplace (double-exponential) distribution.

use std::f64::consts::LN_2;

use burn::prelude::*;
use rand_distr::{Distribution as _, Exp1};

use super::check::{expand_pair, host_noise, validate, Check, Requirement};
use super::{Distribution, Entropy, Rsample};
use crate::error::Result;

/// The Laplace distribution, elementwise:
///
/// `p(x) = exp(-|x - loc| / scale) / (2 scale)`.
///
/// Mean `loc`, variance `2 scale^2`; a Laplace prior on weights is the Bayesian reading of L1
/// regularisation.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{kl, Laplace};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let p = Laplace::new(Tensor::<1>::zeros([2], &device), Tensor::<1>::ones([2], &device))?;
/// let q = Laplace::new(Tensor::<1>::ones([2], &device), Tensor::<1>::ones([2], &device))?;
/// let d: Tensor<1> = kl(&p, &q); // closed form, elementwise
/// assert_eq!(d.dims(), [2]);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Laplace<const D: usize> {
    loc: Tensor<D>,
    scale: Tensor<D>,
}

impl<const D: usize> Laplace<D> {
    /// A Laplace with location (mean and median) `loc` and scale `scale`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `loc` is not finite or
    /// `scale` is not `> 0` and finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch)
    /// if the shapes do not broadcast.
    pub fn new(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        validate(
            "Laplace",
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

    /// Like [`Laplace::new`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes of `loc` and `scale` do not broadcast.
    pub fn new_unchecked(loc: Tensor<D>, scale: Tensor<D>) -> Self {
        Self::from_parts(loc, scale).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        let (loc, scale) = expand_pair("Laplace", ("loc", loc), ("scale", scale))?;
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

    /// Standard Laplace noise: the difference of two independent Exp(1) draws.
    fn standard_noise(&self) -> Tensor<D> {
        host_noise(self.dims(), &self.loc.device(), self.loc.dtype(), |rng| {
            let a: f64 = Exp1.sample(rng);
            let b: f64 = Exp1.sample(rng);
            a - b
        })
    }
}

impl<const D: usize> Distribution<D> for Laplace<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let z = (value - self.loc.clone()).abs() / self.scale.clone();
        z.neg() - self.scale.clone().log() - LN_2
    }

    fn mean(&self) -> Tensor<D> {
        self.loc.clone()
    }

    /// `2 scale^2`.
    fn variance(&self) -> Tensor<D> {
        self.scale.clone().square().mul_scalar(2.0)
    }
}

impl<const D: usize> Rsample<D> for Laplace<D> {
    /// `loc + scale * eps` with `eps` standard Laplace.
    fn rsample(&self) -> Tensor<D> {
        self.loc.clone() + self.scale.clone() * self.standard_noise()
    }
}

impl<const D: usize> Entropy<D> for Laplace<D> {
    /// `1 + ln(2 scale)`.
    fn entropy(&self) -> Tensor<D> {
        self.scale.clone().log().add_scalar(1.0 + LN_2)
    }
}
