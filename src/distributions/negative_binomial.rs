//! The negative binomial distribution.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use rand_distr::Distribution as _;

use super::check::{epsilon, expand_pair, not_a_count, to_host, upload, validate, Check, Requirement};
use super::special::lgamma;
use super::Distribution;
use crate::error::Result;
use crate::noise;
use crate::posterior::softplus;

/// The negative binomial distribution: the number of successes `k = 0, 1, 2, ...` before
/// `r = total_count` failures, in trials of success probability `probs` (NumPyro's and
/// PyTorch's convention), elementwise:
///
/// `P(k) = Gamma(k + r) / (Gamma(r) k!) p^k (1 - p)^r`.
///
/// `r > 0` need not be whole: the distribution is the Gamma–Poisson mixture
/// `k ~ Poisson(lambda)`, `lambda ~ Gamma(r, (1 - p) / p)`, the usual model of over-dispersed
/// counts; [`NegativeBinomial::from_mean`] builds it from its mean `mu` and concentration `r`
/// (variance `mu + mu^2 / r`, NumPyro's `NegativeBinomial2`). Mean `r p / (1 - p)`, variance
/// `r p / (1 - p)^2`. `log_prob` uses the logits form `k l - (k + r) softplus(l)` plus the
/// normalising Gammas. Values are whole numbers stored as floats. Draws are the Gamma–Poisson
/// mixture on the host (one read-back per draw), not reparameterized.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, NegativeBinomial};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = NegativeBinomial::from_mean(Tensor::<1>::from_floats([4.0], &device), Tensor::<1>::from_floats([2.0], &device))?;
/// let v: f32 = d.variance().into_scalar();
/// assert!((v - 12.0).abs() < 1e-4); // mu + mu^2 / r
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct NegativeBinomial<const D: usize> {
    total_count: Tensor<D>,
    probs: Tensor<D>,
    logits: Tensor<D>,
}

const COUNT_FIX: &str = "use a positive number of failures r (any real r > 0, e.g. a learnt concentration)";

impl<const D: usize> NegativeBinomial<D> {
    /// A negative binomial with `total_count` failures and success probability `probs`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `total_count` is not
    /// `> 0` and finite or `probs` is outside `[0, 1)` (one host read-back);
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not broadcast.
    pub fn from_probs(total_count: Tensor<D>, probs: Tensor<D>) -> Result<Self> {
        validate(
            "NegativeBinomial",
            &[
                Check {
                    field: "total_count",
                    tensor: &total_count,
                    requirement: Requirement::Positive,
                    fix: COUNT_FIX,
                },
                Check {
                    field: "probs",
                    tensor: &probs,
                    requirement: Requirement::BelowOne,
                    fix: "use success probabilities in [0, 1) (at 1 the failures never come)",
                },
            ],
        )?;
        Self::try_from_probs(total_count, probs)
    }

    /// Like [`NegativeBinomial::from_probs`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    pub fn from_probs_unchecked(total_count: Tensor<D>, probs: Tensor<D>) -> Self {
        Self::try_from_probs(total_count, probs).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_from_probs(total_count: Tensor<D>, probs: Tensor<D>) -> Result<Self> {
        let (total_count, probs) = expand_pair("NegativeBinomial", ("total_count", total_count), ("probs", probs))?;
        let eps = epsilon(probs.dtype());
        let clamped = probs.clone().clamp(eps, 1.0 - eps);
        let logits = clamped.clone().log() - clamped.neg().log1p();
        Ok(Self { total_count, probs, logits })
    }

    /// A negative binomial with `total_count` failures and success log-odds `logits`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `total_count` is not
    /// `> 0` and finite or `logits` is not finite;
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not broadcast.
    pub fn from_logits(total_count: Tensor<D>, logits: Tensor<D>) -> Result<Self> {
        validate(
            "NegativeBinomial",
            &[
                Check {
                    field: "total_count",
                    tensor: &total_count,
                    requirement: Requirement::Positive,
                    fix: COUNT_FIX,
                },
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

    /// Like [`NegativeBinomial::from_logits`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    pub fn from_logits_unchecked(total_count: Tensor<D>, logits: Tensor<D>) -> Self {
        Self::try_from_logits(total_count, logits).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_from_logits(total_count: Tensor<D>, logits: Tensor<D>) -> Result<Self> {
        let (total_count, logits) = expand_pair("NegativeBinomial", ("total_count", total_count), ("logits", logits))?;
        Ok(Self { total_count, probs: sigmoid(logits.clone()), logits })
    }

    /// A negative binomial with mean `mean` and concentration `concentration` (`r`): variance
    /// `mu + mu^2 / r`, so a large `r` approaches a Poisson. `logits = ln mu - ln r`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless both are `> 0` and
    /// finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not
    /// broadcast.
    pub fn from_mean(mean: Tensor<D>, concentration: Tensor<D>) -> Result<Self> {
        validate(
            "NegativeBinomial",
            &[
                Check {
                    field: "mean",
                    tensor: &mean,
                    requirement: Requirement::Positive,
                    fix: "use a positive mean count (e.g. exp of a linear predictor)",
                },
                Check {
                    field: "concentration",
                    tensor: &concentration,
                    requirement: Requirement::Positive,
                    fix: "use a positive concentration r (large r: nearly Poisson)",
                },
            ],
        )?;
        let logits = mean.log() - concentration.clone().log();
        Self::try_from_logits(concentration, logits)
    }

    /// The number of failures `r`.
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

impl<const D: usize> Distribution<D> for NegativeBinomial<D> {
    /// The Gamma–Poisson mixture, drawn on the host.
    fn sample(&self) -> Tensor<D> {
        let (r, l) = (to_host(&self.total_count), to_host(&self.logits));
        let counts = noise::with_rng(|rng| {
            r.iter()
                .zip(&l)
                .map(|(&r, &l)| {
                    // lambda ~ Gamma(r, scale p / (1 - p) = e^l).
                    let lambda = rand_distr::Gamma::new(r, l.exp()).map(|d| d.sample(rng)).unwrap_or(f64::NAN);
                    if lambda > 0.0 {
                        rand_distr::Poisson::new(lambda).map(|d| d.sample(rng)).unwrap_or(f64::NAN)
                    } else {
                        0.0
                    }
                })
                .collect()
        });
        upload(counts, self.dims(), &self.probs.device(), self.probs.dtype())
    }

    /// `ln Gamma(k + r) - ln Gamma(r) - ln Gamma(k + 1) + k l - (k + r) softplus(l)`; `-inf`
    /// where `k` is not a whole number `>= 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = not_a_count(value.clone());
        let k = value.mask_fill(outside.clone(), 0.0);
        let r = self.total_count.clone();
        let norm = lgamma(k.clone() + r.clone()) - lgamma(r.clone()) - lgamma(k.clone().add_scalar(1.0));
        let lp = norm + k.clone() * self.logits.clone() - (k + r) * softplus(self.logits.clone());
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `r p / (1 - p) = r e^l`.
    fn mean(&self) -> Tensor<D> {
        self.total_count.clone() * self.logits.clone().exp()
    }

    /// `r p / (1 - p)^2 = mean (1 + e^l)`.
    fn variance(&self) -> Tensor<D> {
        self.mean() * self.logits.clone().exp().add_scalar(1.0)
    }
}
