//! The Beta distribution.

use burn::prelude::*;

use super::check::{epsilon, expand_pair, tiny, validate, xlogy, Check, Requirement};
use super::gamma::standard_gamma;
use super::special::{digamma_tensor, lbeta};
use super::{Distribution, Entropy, Rsample};
use crate::error::Result;

/// The Beta distribution on `[0, 1]` with shape parameters `alpha` (NumPyro's
/// `concentration1`) and `beta` (`concentration0`), elementwise:
///
/// `p(x) = x^(alpha - 1) (1 - x)^(beta - 1) / B(alpha, beta)`.
///
/// Mean `alpha / (alpha + beta)`, variance `alpha beta / ((alpha + beta)^2 (alpha + beta + 1))`.
/// `rsample` is `g_a / (g_a + g_b)` with `g_a ~ Gamma(alpha, 1)`, `g_b ~ Gamma(beta, 1)`, both
/// implicitly reparameterized (see [`Gamma`](super::Gamma)), so it is differentiable in both
/// parameters and a Beta can be a variational family; the draw is kept inside
/// `[tiny, 1 - eps]` of the dtype, as NumPyro does, so `log_prob` of a draw is finite. The KL
/// against another Beta is in closed form.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Beta, Distribution, Rsample};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = Beta::new(Tensor::<1>::from_floats([2.0, 0.5], &device), Tensor::<1>::from_floats([3.0, 0.5], &device))?;
/// let p = d.rsample(); // differentiable in alpha and beta
/// assert_eq!(d.log_prob(p).dims(), [2]);
/// let m: Vec<f32> = d.mean().into_data().convert::<f32>().try_to_vec().unwrap();
/// assert!((m[0] - 0.4).abs() < 1e-6);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Beta<const D: usize> {
    alpha: Tensor<D>,
    beta: Tensor<D>,
}

impl<const D: usize> Beta<D> {
    /// A Beta with shape parameters `alpha` and `beta` (broadcast to a common shape).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless both are `> 0` and
    /// finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not
    /// broadcast.
    pub fn new(alpha: Tensor<D>, beta: Tensor<D>) -> Result<Self> {
        validate(
            "Beta",
            &[
                Check {
                    field: "alpha",
                    tensor: &alpha,
                    requirement: Requirement::Positive,
                    fix: "use a positive shape parameter such as 2.0",
                },
                Check {
                    field: "beta",
                    tensor: &beta,
                    requirement: Requirement::Positive,
                    fix: "use a positive shape parameter such as 2.0",
                },
            ],
        )?;
        Self::from_parts(alpha, beta)
    }

    /// Like [`Beta::new`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes of `alpha` and `beta` do not broadcast.
    pub fn new_unchecked(alpha: Tensor<D>, beta: Tensor<D>) -> Self {
        Self::from_parts(alpha, beta).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(alpha: Tensor<D>, beta: Tensor<D>) -> Result<Self> {
        let (alpha, beta) = expand_pair("Beta", ("alpha", alpha), ("beta", beta))?;
        Ok(Self { alpha, beta })
    }

    /// The shape parameter `alpha` (the exponent of `x`, plus one).
    pub fn alpha(&self) -> Tensor<D> {
        self.alpha.clone()
    }

    /// The shape parameter `beta` (the exponent of `1 - x`, plus one).
    pub fn beta(&self) -> Tensor<D> {
        self.beta.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.alpha.dims()
    }

    fn draw(&self, reparameterized: bool) -> Tensor<D> {
        let a = standard_gamma(&self.alpha, reparameterized);
        let b = standard_gamma(&self.beta, reparameterized);
        let dtype = self.alpha.dtype();
        (a.clone() / (a + b)).clamp(tiny(dtype), 1.0 - epsilon(dtype))
    }
}

impl<const D: usize> Distribution<D> for Beta<D> {
    fn sample(&self) -> Tensor<D> {
        self.draw(false).detach()
    }

    /// `(alpha - 1) ln x + (beta - 1) ln(1 - x) - ln B(alpha, beta)`; `-inf` outside `[0, 1]`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = value.clone().lower_elem(0.0).bool_or(value.clone().greater_elem(1.0));
        let x = value.mask_fill(outside.clone(), 0.5);
        let (a, b) = (self.alpha.clone(), self.beta.clone());
        let lp = xlogy(a.clone().sub_scalar(1.0), x.clone())
            + xlogy(b.clone().sub_scalar(1.0), x.neg().add_scalar(1.0))
            - lbeta(a, b);
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `alpha / (alpha + beta)`.
    fn mean(&self) -> Tensor<D> {
        self.alpha.clone() / (self.alpha.clone() + self.beta.clone())
    }

    /// `alpha beta / ((alpha + beta)^2 (alpha + beta + 1))`.
    fn variance(&self) -> Tensor<D> {
        let total = self.alpha.clone() + self.beta.clone();
        self.alpha.clone() * self.beta.clone() / (total.clone().square() * total.add_scalar(1.0))
    }
}

impl<const D: usize> Rsample<D> for Beta<D> {
    /// `g_a / (g_a + g_b)` of two implicitly reparameterized Gamma draws.
    fn rsample(&self) -> Tensor<D> {
        self.draw(true)
    }
}

impl<const D: usize> Entropy<D> for Beta<D> {
    /// `ln B(alpha, beta) - (alpha - 1) psi(alpha) - (beta - 1) psi(beta)
    /// + (alpha + beta - 2) psi(alpha + beta)`.
    fn entropy(&self) -> Tensor<D> {
        let (a, b) = (self.alpha.clone(), self.beta.clone());
        let total = a.clone() + b.clone();
        lbeta(a.clone(), b.clone())
            - a.clone().sub_scalar(1.0) * digamma_tensor(a)
            - b.clone().sub_scalar(1.0) * digamma_tensor(b)
            + total.clone().sub_scalar(2.0) * digamma_tensor(total)
    }
}
