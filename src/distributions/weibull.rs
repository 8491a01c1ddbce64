//! The Weibull distribution.

use burn::prelude::*;
use rand_distr::{Distribution as _, Exp1};

use super::check::{expand_pair, host_noise, sanitize, validate, xlogy, Check, Requirement};
use super::special::lgamma;
use super::{Distribution, Entropy, Rsample};
use crate::error::Result;

/// Euler–Mascheroni constant, `-psi(1)`.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The Weibull distribution with scale `scale` (`lambda`) and concentration (shape) `k`,
/// elementwise:
///
/// `p(x) = (k / lambda) (x / lambda)^(k - 1) exp(-(x / lambda)^k)` for `x >= 0`.
///
/// `k = 1` is the exponential with rate `1 / lambda`. Mean `lambda Gamma(1 + 1/k)`, variance
/// `lambda^2 (Gamma(1 + 2/k) - Gamma(1 + 1/k)^2)`. `rsample` is the inverse CDF
/// `lambda e^(1/k)` with `e ~ Exp(1)`, differentiable in both parameters.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, Weibull};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = Weibull::new(Tensor::<1>::ones([1], &device), Tensor::<1>::ones([1], &device))?;
/// let m: f32 = d.mean().into_scalar();
/// assert!((m - 1.0).abs() < 1e-5); // k = 1: the exponential of mean lambda
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Weibull<const D: usize> {
    scale: Tensor<D>,
    concentration: Tensor<D>,
}

impl<const D: usize> Weibull<D> {
    /// A Weibull with scale `scale` and concentration `concentration` (NumPyro's names and
    /// order).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if either is not `> 0` and
    /// finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not
    /// broadcast.
    pub fn new(scale: Tensor<D>, concentration: Tensor<D>) -> Result<Self> {
        validate(
            "Weibull",
            &[
                Check {
                    field: "scale",
                    tensor: &scale,
                    requirement: Requirement::Positive,
                    fix: "use a positive scale (lambda)",
                },
                Check {
                    field: "concentration",
                    tensor: &concentration,
                    requirement: Requirement::Positive,
                    fix: "use a positive shape k (k = 1 is the exponential)",
                },
            ],
        )?;
        Self::from_parts(scale, concentration)
    }

    /// Like [`Weibull::new`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes of `scale` and `concentration` do not broadcast.
    pub fn new_unchecked(scale: Tensor<D>, concentration: Tensor<D>) -> Self {
        Self::from_parts(scale, concentration).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(scale: Tensor<D>, concentration: Tensor<D>) -> Result<Self> {
        let (scale, concentration) = expand_pair("Weibull", ("scale", scale), ("concentration", concentration))?;
        Ok(Self { scale, concentration })
    }

    /// The scale `lambda`.
    pub fn scale(&self) -> Tensor<D> {
        self.scale.clone()
    }

    /// The concentration (shape) `k`.
    pub fn concentration(&self) -> Tensor<D> {
        self.concentration.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.scale.dims()
    }

    /// `lambda^n Gamma(1 + n / k)`, the `n`-th raw moment.
    fn raw_moment(&self, n: f64) -> Tensor<D> {
        let g = lgamma(self.concentration.clone().recip().mul_scalar(n).add_scalar(1.0)).exp();
        self.scale.clone().powf_scalar(n) * g
    }
}

impl<const D: usize> Distribution<D> for Weibull<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    /// `ln k - ln lambda + (k - 1) ln(x / lambda) - (x / lambda)^k`; `-inf` for `x < 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = value.clone().lower_elem(0.0);
        let z = sanitize(value, outside.clone(), 0.0) / self.scale.clone();
        let k = self.concentration.clone();
        let lp = k.clone().log() - self.scale.clone().log() + xlogy(k.clone().sub_scalar(1.0), z.clone()) - z.powf(k);
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `lambda Gamma(1 + 1/k)`.
    fn mean(&self) -> Tensor<D> {
        self.raw_moment(1.0)
    }

    /// `lambda^2 (Gamma(1 + 2/k) - Gamma(1 + 1/k)^2)`.
    fn variance(&self) -> Tensor<D> {
        self.raw_moment(2.0) - self.raw_moment(1.0).square()
    }
}

impl<const D: usize> Rsample<D> for Weibull<D> {
    /// `lambda e^(1/k)`, `e ~ Exp(1)` drawn on the host.
    fn rsample(&self) -> Tensor<D> {
        let e = host_noise(self.dims(), &self.scale.device(), self.scale.dtype(), |rng| Exp1.sample(rng));
        self.scale.clone() * (e.log() / self.concentration.clone()).exp()
    }
}

impl<const D: usize> Entropy<D> for Weibull<D> {
    /// `gamma (1 - 1/k) + ln(lambda / k) + 1`, with Euler's constant `gamma`.
    fn entropy(&self) -> Tensor<D> {
        let k = self.concentration.clone();
        k.clone().recip().neg().add_scalar(1.0).mul_scalar(EULER_GAMMA) + self.scale.clone().log() - k.log() + 1.0
    }
}
