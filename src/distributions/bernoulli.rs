//! The Bernoulli distribution.

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, sigmoid};

use super::check::{epsilon, validate, Check, Requirement};
use super::{Distribution, Entropy};
use crate::error::Result;
use crate::noise;
use crate::posterior::softplus;

/// The Bernoulli distribution over `{0, 1}`, elementwise:
///
/// `P(x = 1) = probs = sigmoid(logits)`, `log P(x) = x logits - softplus(logits)`.
///
/// Build it from probabilities ([`Bernoulli::from_probs`]) or log-odds
/// ([`Bernoulli::from_logits`], the numerically preferable form for a classifier's output).
/// Both are kept; `log_prob` always uses the logits form, which never evaluates `ln 0`.
/// Probabilities of exactly 0 or 1 are clamped to `[eps, 1 - eps]` (the dtype's machine
/// epsilon) when converted to logits, as PyTorch does, so their log-mass is finite.
///
/// Values are floats `0.0` / `1.0` (the same dtype as the parameters).
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Bernoulli, Distribution};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let b = Bernoulli::from_logits(Tensor::<1>::from_floats([-2.0, 0.0, 3.0], &device))?;
/// let x = b.sample(); // 0.0 or 1.0 per element
/// let log_p: Tensor<1> = b.log_prob(x);
/// assert_eq!(log_p.dims(), [3]);
/// assert!(Bernoulli::from_probs(Tensor::<1>::from_floats([1.5], &device)).is_err());
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Bernoulli<const D: usize> {
    probs: Tensor<D>,
    logits: Tensor<D>,
}

impl<const D: usize> Bernoulli<D> {
    /// A Bernoulli with success probabilities `probs`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if an element of `probs` is
    /// outside `[0, 1]` or NaN.
    pub fn from_probs(probs: Tensor<D>) -> Result<Self> {
        validate(
            "Bernoulli",
            &[Check {
                field: "probs",
                tensor: &probs,
                requirement: Requirement::UnitInterval,
                fix: "use probabilities in [0, 1], or Bernoulli::from_logits for unnormalised scores",
            }],
        )?;
        Ok(Self::from_probs_unchecked(probs))
    }

    /// Like [`Bernoulli::from_probs`] without the value check (no host read-back).
    pub fn from_probs_unchecked(probs: Tensor<D>) -> Self {
        let eps = epsilon(probs.dtype());
        let clamped = probs.clone().clamp(eps, 1.0 - eps);
        let logits = clamped.clone().log() - clamped.neg().log1p();
        Self { probs, logits }
    }

    /// A Bernoulli with log-odds `logits` (`probs = sigmoid(logits)`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if an element of `logits`
    /// is not finite.
    pub fn from_logits(logits: Tensor<D>) -> Result<Self> {
        validate(
            "Bernoulli",
            &[Check {
                field: "logits",
                tensor: &logits,
                requirement: Requirement::Finite,
                fix: "use finite log-odds (check the network output for NaN/inf)",
            }],
        )?;
        Ok(Self::from_logits_unchecked(logits))
    }

    /// Like [`Bernoulli::from_logits`] without the value check (no host read-back).
    pub fn from_logits_unchecked(logits: Tensor<D>) -> Self {
        Self { probs: sigmoid(logits.clone()), logits }
    }

    /// The success probabilities.
    pub fn probs(&self) -> Tensor<D> {
        self.probs.clone()
    }

    /// The log-odds `ln(probs / (1 - probs))`.
    pub fn logits(&self) -> Tensor<D> {
        self.logits.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.probs.dims()
    }
}

impl<const D: usize> Distribution<D> for Bernoulli<D> {
    /// `1.0` where a uniform draw falls below `probs`, else `0.0`.
    fn sample(&self) -> Tensor<D> {
        let u = noise::uniform(self.dims(), 0.0, 1.0, &self.probs.device());
        u.lower(self.probs.clone().detach()).float()
    }

    /// `x logits - softplus(logits)` (equal to `x ln p + (1 - x) ln(1 - p)` for `x` in
    /// `{0, 1}`), with `-softplus(l)` as burn's fused `log_sigmoid(-l)`: same value, and its
    /// backward is right at `logits = 0` too (the `relu`-based softplus differentiates to 0
    /// there, which made the gradient of a p = 1/2 site wrong).
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        value * self.logits.clone() + log_sigmoid(self.logits.clone().neg())
    }

    /// `probs`.
    fn mean(&self) -> Tensor<D> {
        self.probs.clone()
    }

    /// `probs (1 - probs)`.
    fn variance(&self) -> Tensor<D> {
        self.probs.clone() * self.probs.clone().neg().add_scalar(1.0)
    }
}

impl<const D: usize> Entropy<D> for Bernoulli<D> {
    /// `softplus(logits) - probs logits` (equal to `-p ln p - (1 - p) ln(1 - p)`).
    fn entropy(&self) -> Tensor<D> {
        softplus(self.logits.clone()) - self.probs.clone() * self.logits.clone()
    }
}
