//! The binomial distribution.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use rand_distr::Distribution as _;

use super::check::{epsilon, expand_pair, not_a_count, to_host, upload, validate, Check, Requirement};
use super::special::lgamma;
use super::Distribution;
use crate::error::Result;
use crate::noise;
use crate::posterior::softplus;

/// The binomial distribution: the number of successes `k = 0, ..., n` in `n = total_count`
/// independent trials with success probability `probs`, elementwise:
///
/// `P(k) = C(n, k) p^k (1 - p)^(n - k)`.
///
/// Build it from probabilities or log-odds, as [`Bernoulli`](super::Bernoulli);
/// `log_prob` uses the logits form `ln C(n, k) + k l - n softplus(l)`, which never evaluates
/// `ln 0` (probabilities of exactly 0 or 1 are clamped to `[eps, 1 - eps]`). `total_count` is
/// a tensor of whole numbers (broadcast against `probs`). Mean `n p`, variance `n p (1 - p)`.
/// Values are whole numbers stored as floats; `log_prob` is `-inf` outside `0..=n` or at
/// fractional values. Draws come from `rand_distr::Binomial` on the host (one read-back of
/// both parameters per draw) and are not reparameterized.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Binomial, Distribution};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = Binomial::from_probs(Tensor::<1>::from_floats([10.0], &device), Tensor::<1>::from_floats([0.3], &device))?;
/// let m: f32 = d.mean().into_scalar();
/// assert!((m - 3.0).abs() < 1e-6);
/// assert!(Binomial::from_probs(Tensor::<1>::from_floats([2.5], &device), Tensor::<1>::from_floats([0.3], &device)).is_err());
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Binomial<const D: usize> {
    total_count: Tensor<D>,
    probs: Tensor<D>,
    logits: Tensor<D>,
}

const COUNT_FIX: &str = "use a whole number of trials >= 0 (e.g. 10.0)";

impl<const D: usize> Binomial<D> {
    /// A binomial with `total_count` trials of success probability `probs`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `total_count` is not a
    /// whole number `>= 0` or `probs` is outside `[0, 1]` (one host read-back);
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not broadcast.
    pub fn from_probs(total_count: Tensor<D>, probs: Tensor<D>) -> Result<Self> {
        validate(
            "Binomial",
            &[
                Check { field: "total_count", tensor: &total_count, requirement: Requirement::Count, fix: COUNT_FIX },
                Check {
                    field: "probs",
                    tensor: &probs,
                    requirement: Requirement::UnitInterval,
                    fix: "use probabilities in [0, 1], or Binomial::from_logits for unnormalised scores",
                },
            ],
        )?;
        let (total_count, probs) = expand_pair("Binomial", ("total_count", total_count), ("probs", probs))?;
        Ok(Self::with_probs(total_count, probs))
    }

    /// Like [`Binomial::from_probs`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    pub fn from_probs_unchecked(total_count: Tensor<D>, probs: Tensor<D>) -> Self {
        let (total_count, probs) =
            expand_pair("Binomial", ("total_count", total_count), ("probs", probs)).unwrap_or_else(|e| panic!("{e}"));
        Self::with_probs(total_count, probs)
    }

    fn with_probs(total_count: Tensor<D>, probs: Tensor<D>) -> Self {
        let eps = epsilon(probs.dtype());
        let clamped = probs.clone().clamp(eps, 1.0 - eps);
        let logits = clamped.clone().log() - clamped.neg().log1p();
        Self { total_count, probs, logits }
    }

    /// A binomial with `total_count` trials of success log-odds `logits`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `total_count` is not a
    /// whole number `>= 0` or `logits` is not finite;
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not broadcast.
    pub fn from_logits(total_count: Tensor<D>, logits: Tensor<D>) -> Result<Self> {
        validate(
            "Binomial",
            &[
                Check { field: "total_count", tensor: &total_count, requirement: Requirement::Count, fix: COUNT_FIX },
                Check {
                    field: "logits",
                    tensor: &logits,
                    requirement: Requirement::Finite,
                    fix: "use finite log-odds (check the network output for NaN/inf)",
                },
            ],
        )?;
        Self::try_from_logits(total_count, logits)
    }

    /// Like [`Binomial::from_logits`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    pub fn from_logits_unchecked(total_count: Tensor<D>, logits: Tensor<D>) -> Self {
        Self::try_from_logits(total_count, logits).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_from_logits(total_count: Tensor<D>, logits: Tensor<D>) -> Result<Self> {
        let (total_count, logits) = expand_pair("Binomial", ("total_count", total_count), ("logits", logits))?;
        Ok(Self { total_count, probs: sigmoid(logits.clone()), logits })
    }

    /// The number of trials `n`.
    pub fn total_count(&self) -> Tensor<D> {
        self.total_count.clone()
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

impl<const D: usize> Distribution<D> for Binomial<D> {
    /// Counts drawn on the host with `rand_distr::Binomial`.
    fn sample(&self) -> Tensor<D> {
        let (n, p) = (to_host(&self.total_count), to_host(&self.probs));
        let counts = noise::with_rng(|rng| {
            n.iter()
                .zip(&p)
                .map(|(&n, &p)| {
                    rand_distr::Binomial::new(n as u64, p).map(|d| d.sample(rng) as f64).unwrap_or(f64::NAN)
                })
                .collect()
        });
        upload(counts, self.dims(), &self.probs.device(), self.probs.dtype())
    }

    /// `ln Gamma(n + 1) - ln Gamma(k + 1) - ln Gamma(n - k + 1) + k l - n softplus(l)`; `-inf`
    /// outside `0..=n` or at fractional `k`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let n = self.total_count.clone();
        let outside = not_a_count(value.clone()).bool_or((value.clone() - n.clone()).greater_elem(0.0));
        let k = value.mask_fill(outside.clone(), 0.0);
        let log_choose = lgamma(n.clone().add_scalar(1.0))
            - lgamma(k.clone().add_scalar(1.0))
            - lgamma((n.clone() - k.clone()).add_scalar(1.0));
        let lp = log_choose + k * self.logits.clone() - n * softplus(self.logits.clone());
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `n p`.
    fn mean(&self) -> Tensor<D> {
        self.total_count.clone() * self.probs.clone()
    }

    /// `n p (1 - p)`.
    fn variance(&self) -> Tensor<D> {
        self.total_count.clone() * self.probs.clone() * self.probs.clone().neg().add_scalar(1.0)
    }
}
