//! The geometric distribution.

use burn::prelude::*;

use super::check::{epsilon, host_noise, not_a_count, open_unit, validate, Check, Requirement};
use super::Distribution;
use crate::error::Result;
use crate::posterior::softplus;

/// The geometric distribution: the number of failures `k = 0, 1, 2, ...` before the first
/// success of independent trials with success probability `probs` (NumPyro's and PyTorch's
/// convention), elementwise:
///
/// `P(k) = (1 - p)^k p`.
///
/// Mean `(1 - p) / p`, variance `(1 - p) / p^2`. Values are whole numbers stored as floats;
/// `log_prob` is `-inf` at negative or fractional values. Draws are the inverse CDF
/// `floor(ln u / ln(1 - p))` of host uniforms, computed on the device (no read-back); they are
/// not reparameterized.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, Geometric};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = Geometric::from_probs(Tensor::<1>::from_floats([0.25], &device))?;
/// let m: f32 = d.mean().into_scalar();
/// assert!((m - 3.0).abs() < 1e-6);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Geometric<const D: usize> {
    probs: Tensor<D>,
    logits: Tensor<D>,
}

impl<const D: usize> Geometric<D> {
    /// A geometric with success probabilities `probs`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if an element of `probs` is
    /// not in `(0, 1]` (at `p = 0` the first success never comes).
    pub fn from_probs(probs: Tensor<D>) -> Result<Self> {
        validate(
            "Geometric",
            &[Check {
                field: "probs",
                tensor: &probs,
                requirement: Requirement::AboveZero,
                fix: "use success probabilities in (0, 1], or Geometric::from_logits",
            }],
        )?;
        Ok(Self::from_probs_unchecked(probs))
    }

    /// Like [`Geometric::from_probs`] without the value check (no host read-back).
    pub fn from_probs_unchecked(probs: Tensor<D>) -> Self {
        let eps = epsilon(probs.dtype());
        let clamped = probs.clone().clamp(eps, 1.0 - eps);
        let logits = clamped.clone().log() - clamped.neg().log1p();
        Self { probs, logits }
    }

    /// A geometric with success log-odds `logits`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if an element of `logits`
    /// is not finite.
    pub fn from_logits(logits: Tensor<D>) -> Result<Self> {
        validate(
            "Geometric",
            &[Check {
                field: "logits",
                tensor: &logits,
                requirement: Requirement::Finite,
                fix: "use finite log-odds (check the network output for NaN/inf)",
            }],
        )?;
        Ok(Self::from_logits_unchecked(logits))
    }

    /// Like [`Geometric::from_logits`] without the value check (no host read-back).
    pub fn from_logits_unchecked(logits: Tensor<D>) -> Self {
        Self { probs: burn::tensor::activation::sigmoid(logits.clone()), logits }
    }

    /// The success probabilities.
    pub fn probs(&self) -> Tensor<D> {
        self.probs.clone()
    }

    /// The success log-odds.
    pub fn logits(&self) -> Tensor<D> {
        self.logits.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.probs.dims()
    }
}

impl<const D: usize> Distribution<D> for Geometric<D> {
    /// `floor(ln u / ln(1 - p))`, `u ~ U(0, 1)`: `P(K >= k) = (1 - p)^k`.
    fn sample(&self) -> Tensor<D> {
        let ln_u = host_noise(self.dims(), &self.probs.device(), self.probs.dtype(), |rng| open_unit(rng).ln());
        (ln_u / self.probs.clone().detach().neg().log1p()).floor()
    }

    /// `k ln(1 - p) + ln p`, in logits form `-k softplus(l) - softplus(-l)` (no `ln 0`; a
    /// probability of exactly 1 is clamped at `1 - eps` of the dtype, as for
    /// [`Bernoulli`](super::Bernoulli)); `-inf` where `k` is not a whole number `>= 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = not_a_count(value.clone());
        let k = value.mask_fill(outside.clone(), 0.0);
        let lp = (k * softplus(self.logits.clone()) + softplus(self.logits.clone().neg())).neg();
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `(1 - p) / p`.
    fn mean(&self) -> Tensor<D> {
        self.probs.clone().neg().add_scalar(1.0) / self.probs.clone()
    }

    /// `(1 - p) / p^2`.
    fn variance(&self) -> Tensor<D> {
        self.probs.clone().neg().add_scalar(1.0) / self.probs.clone().square()
    }
}
