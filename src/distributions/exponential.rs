//! The exponential distribution.

use burn::prelude::*;
use rand_distr::{Distribution as _, Exp1};

use super::check::{host_noise, sanitize, validate, Check, Requirement};
use super::{Distribution, Entropy, Rsample};
use crate::error::Result;

/// The exponential distribution with rate `rate`, elementwise:
///
/// `p(x) = rate exp(-rate x)` for `x >= 0`.
///
/// Mean `1 / rate`, variance `1 / rate^2`. `rsample` is `e / rate` with `e ~ Exp(1)`,
/// differentiable in `rate`. The KL against another exponential is in closed form.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{kl, Exponential};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let p = Exponential::new(Tensor::<1>::from_floats([1.0], &device))?;
/// let q = Exponential::new(Tensor::<1>::from_floats([2.0], &device))?;
/// let d: f32 = kl(&p, &q).into_scalar();
/// assert!((d - (1.0 - 2f32.ln())).abs() < 1e-6); // ln(1/2) + 2 - 1
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Exponential<const D: usize> {
    rate: Tensor<D>,
}

impl<const D: usize> Exponential<D> {
    /// An exponential with rate (inverse mean) `rate`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `rate` is not `> 0` and
    /// finite.
    pub fn new(rate: Tensor<D>) -> Result<Self> {
        validate(
            "Exponential",
            &[Check {
                field: "rate",
                tensor: &rate,
                requirement: Requirement::Positive,
                fix: "use a positive rate (1 / mean), e.g. 1.0",
            }],
        )?;
        Ok(Self { rate })
    }

    /// Like [`Exponential::new`] without the value check (no host read-back).
    pub fn new_unchecked(rate: Tensor<D>) -> Self {
        Self { rate }
    }

    /// The rate `rate`.
    pub fn rate(&self) -> Tensor<D> {
        self.rate.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.rate.dims()
    }
}

impl<const D: usize> Distribution<D> for Exponential<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    /// `ln rate - rate x`; `-inf` for `x < 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = value.clone().lower_elem(0.0);
        let x = sanitize(value, outside.clone(), 0.0);
        let lp = self.rate.clone().log() - self.rate.clone() * x;
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `1 / rate`.
    fn mean(&self) -> Tensor<D> {
        self.rate.clone().recip()
    }

    /// `1 / rate^2`.
    fn variance(&self) -> Tensor<D> {
        self.rate.clone().square().recip()
    }
}

impl<const D: usize> Rsample<D> for Exponential<D> {
    /// `e / rate`, `e ~ Exp(1)` drawn on the host.
    fn rsample(&self) -> Tensor<D> {
        let e = host_noise(self.dims(), &self.rate.device(), self.rate.dtype(), |rng| Exp1.sample(rng));
        e / self.rate.clone()
    }
}

impl<const D: usize> Entropy<D> for Exponential<D> {
    /// `1 - ln rate`.
    fn entropy(&self) -> Tensor<D> {
        self.rate.clone().log().neg().add_scalar(1.0)
    }
}
