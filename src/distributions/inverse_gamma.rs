//! The inverse Gamma distribution.

use burn::prelude::*;

use super::check::{expand_pair, sanitize, validate, Check, Requirement};
use super::gamma::standard_gamma;
use super::special::{digamma_tensor, lgamma};
use super::{Distribution, Entropy, Rsample};
use crate::error::Result;

/// The inverse Gamma distribution, the law of `1 / y` for `y ~ Gamma(alpha, beta)`, with shape
/// `concentration` (`alpha`) and `rate` (`beta`, a scale of `x`), elementwise:
///
/// `p(x) = beta^alpha x^(-alpha - 1) exp(-beta / x) / Gamma(alpha)` for `x > 0`.
///
/// The conjugate prior of a Normal's variance. The mean `beta / (alpha - 1)` exists for
/// `alpha > 1`, the variance `beta^2 / ((alpha - 1)^2 (alpha - 2))` for `alpha > 2`; elsewhere
/// they are `inf`. `rsample` is `beta / g` with `g ~ Gamma(alpha, 1)` implicitly
/// reparameterized (see [`Gamma`](super::Gamma)), so it is differentiable in both parameters.
/// The KL between two inverse Gammas is that of the Gammas of `1 / x` (KL is invariant under
/// the bijection).
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, InverseGamma};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = InverseGamma::new(Tensor::<1>::full([1], 3.0, &device), Tensor::<1>::full([1], 4.0, &device))?;
/// let m: f32 = d.mean().into_scalar();
/// assert!((m - 2.0).abs() < 1e-6); // beta / (alpha - 1)
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct InverseGamma<const D: usize> {
    concentration: Tensor<D>,
    rate: Tensor<D>,
}

impl<const D: usize> InverseGamma<D> {
    /// An inverse Gamma with shape `concentration` and `rate` (NumPyro's names).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if either is not `> 0` and
    /// finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not
    /// broadcast.
    pub fn new(concentration: Tensor<D>, rate: Tensor<D>) -> Result<Self> {
        validate(
            "InverseGamma",
            &[
                Check {
                    field: "concentration",
                    tensor: &concentration,
                    requirement: Requirement::Positive,
                    fix: "use a positive shape alpha (alpha > 2 for a finite variance)",
                },
                Check {
                    field: "rate",
                    tensor: &rate,
                    requirement: Requirement::Positive,
                    fix: "use a positive rate beta (the scale of x)",
                },
            ],
        )?;
        Self::from_parts(concentration, rate)
    }

    /// Like [`InverseGamma::new`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes of `concentration` and `rate` do not broadcast.
    pub fn new_unchecked(concentration: Tensor<D>, rate: Tensor<D>) -> Self {
        Self::from_parts(concentration, rate).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(concentration: Tensor<D>, rate: Tensor<D>) -> Result<Self> {
        let (concentration, rate) = expand_pair("InverseGamma", ("concentration", concentration), ("rate", rate))?;
        Ok(Self { concentration, rate })
    }

    /// The shape `alpha`.
    pub fn concentration(&self) -> Tensor<D> {
        self.concentration.clone()
    }

    /// The rate `beta`.
    pub fn rate(&self) -> Tensor<D> {
        self.rate.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.concentration.dims()
    }
}

impl<const D: usize> Distribution<D> for InverseGamma<D> {
    fn sample(&self) -> Tensor<D> {
        (self.rate.clone() / standard_gamma(&self.concentration, false)).detach()
    }

    /// `alpha ln beta - (alpha + 1) ln x - beta / x - ln Gamma(alpha)`; `-inf` for `x <= 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = value.clone().lower_equal_elem(0.0);
        let x = sanitize(value, outside.clone(), 1.0);
        let (a, b) = (self.concentration.clone(), self.rate.clone());
        let lp = a.clone() * b.clone().log() - a.clone().add_scalar(1.0) * x.clone().log() - b / x - lgamma(a);
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `beta / (alpha - 1)` for `alpha > 1`, else `inf`.
    fn mean(&self) -> Tensor<D> {
        let a = self.concentration.clone();
        let none = a.clone().lower_equal_elem(1.0);
        (self.rate.clone() / a.sub_scalar(1.0)).mask_fill(none, f64::INFINITY)
    }

    /// `beta^2 / ((alpha - 1)^2 (alpha - 2))` for `alpha > 2`, else `inf`.
    fn variance(&self) -> Tensor<D> {
        let a = self.concentration.clone();
        let none = a.clone().lower_equal_elem(2.0);
        (self.rate.clone().square() / (a.clone().sub_scalar(1.0).square() * a.sub_scalar(2.0)))
            .mask_fill(none, f64::INFINITY)
    }
}

impl<const D: usize> Rsample<D> for InverseGamma<D> {
    /// `beta / g`, `g ~ Gamma(alpha, 1)` implicitly reparameterized.
    fn rsample(&self) -> Tensor<D> {
        self.rate.clone() / standard_gamma(&self.concentration, true)
    }
}

impl<const D: usize> Entropy<D> for InverseGamma<D> {
    /// `alpha + ln beta + ln Gamma(alpha) - (1 + alpha) psi(alpha)`.
    fn entropy(&self) -> Tensor<D> {
        let a = self.concentration.clone();
        a.clone() + self.rate.clone().log() + lgamma(a.clone()) - a.clone().add_scalar(1.0) * digamma_tensor(a)
    }
}
