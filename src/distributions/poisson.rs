//! The Poisson distribution.

use burn::prelude::*;
use rand_distr::Distribution as _;

use super::check::{not_a_count, to_host, upload, validate, xlogy, Check, Requirement};
use super::special::lgamma;
use super::Distribution;
use crate::error::Result;
use crate::noise;

/// The Poisson distribution over counts `k = 0, 1, 2, ...` with mean `rate` (`lambda`),
/// elementwise:
///
/// `P(k) = lambda^k exp(-lambda) / k!`.
///
/// Values are whole numbers stored as floats (the dtype of `rate`); `log_prob` is `-inf` at
/// negative or fractional values. Mean and variance `lambda`. Draws come from
/// `rand_distr::Poisson` on the host, from the seeded [`crate::noise`] source (one read-back
/// of `rate` per draw); they are not reparameterized (a discrete draw has no pathwise
/// gradient). The KL against another Poisson is in closed form.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, Poisson};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = Poisson::new(Tensor::<1>::from_floats([2.0], &device))?;
/// let lp: f32 = d.log_prob(Tensor::from_floats([3.0], &device)).into_scalar();
/// assert!((lp - (8f32 / 6.0 * (-2f32).exp()).ln()).abs() < 1e-5);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Poisson<const D: usize> {
    rate: Tensor<D>,
}

impl<const D: usize> Poisson<D> {
    /// A Poisson with mean `rate`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `rate` is not `> 0` and
    /// finite.
    pub fn new(rate: Tensor<D>) -> Result<Self> {
        validate(
            "Poisson",
            &[Check {
                field: "rate",
                tensor: &rate,
                requirement: Requirement::Positive,
                fix: "use a positive mean count (e.g. exp of a linear predictor)",
            }],
        )?;
        Ok(Self { rate })
    }

    /// Like [`Poisson::new`] without the value check (no host read-back).
    pub fn new_unchecked(rate: Tensor<D>) -> Self {
        Self { rate }
    }

    /// The rate (mean) `lambda`.
    pub fn rate(&self) -> Tensor<D> {
        self.rate.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.rate.dims()
    }
}

impl<const D: usize> Distribution<D> for Poisson<D> {
    /// Counts drawn on the host with `rand_distr::Poisson`.
    fn sample(&self) -> Tensor<D> {
        let rates = to_host(&self.rate);
        let counts = noise::with_rng(|rng| {
            rates.iter().map(|&r| rand_distr::Poisson::new(r).map(|d| d.sample(rng)).unwrap_or(f64::NAN)).collect()
        });
        upload(counts, self.dims(), &self.rate.device(), self.rate.dtype())
    }

    /// `k ln lambda - lambda - ln k!`; `-inf` where `k` is not a whole number `>= 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = not_a_count(value.clone());
        let k = value.mask_fill(outside.clone(), 0.0);
        let lp = xlogy(k.clone(), self.rate.clone()) - self.rate.clone() - lgamma(k.add_scalar(1.0));
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `lambda`.
    fn mean(&self) -> Tensor<D> {
        self.rate.clone()
    }

    /// `lambda`.
    fn variance(&self) -> Tensor<D> {
        self.rate.clone()
    }
}
