//! The categorical distribution over the last dimension.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::check::{broadcast_shape, expand_to, tiny, validate, Check, Requirement};
use super::Entropy;
use crate::error::{Error, Result};
use crate::noise;

/// The categorical distribution over `K` classes, batched: the **last** dimension of the
/// parameters indexes the classes, the leading ones are the batch.
///
/// `P(x = k) = probs[..., k] = softmax(logits)[..., k]`, `log P(x = k) = log_softmax(logits)[..., k]`.
///
/// # Values: integer class indices with a kept last dimension
///
/// burn's const generics cannot name rank `D - 1`, so values keep the class dimension with
/// size 1, as burn's own `argmax(dim)` does: parameters `[..., K]` give samples
/// `Tensor<D, Int>` of shape `[..., 1]` holding indices in `[0, K)`, and
/// [`log_prob`](Categorical::log_prob) / [`entropy`](Entropy::entropy) /
/// [`kl`](super::kl) return `Tensor<D>` of shape `[..., 1]`. Use `squeeze_dim(D - 1)` to drop
/// it. An index outside `[0, K)` has log-mass `-inf`.
///
/// Categorical is therefore not a [`Distribution`](super::Distribution) (whose values are
/// float tensors of the batch shape), and it has no `mean`/`variance`.
///
/// Probabilities are normalised along the last dimension; a zero probability is kept as
/// the dtype's smallest positive normal number in the log-probabilities so that
/// `0 * ln 0` terms evaluate to 0.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Categorical, Entropy};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// // Two rows (batch of 2) over 3 classes.
/// let c = Categorical::from_logits(Tensor::<2>::from_floats([[0.0, 1.0, 2.0], [5.0, 0.0, 0.0]], &device))?;
/// let x: Tensor<2, Int> = c.sample(); // [2, 1]
/// let log_p: Tensor<2> = c.log_prob(x); // [2, 1]
/// assert_eq!(log_p.dims(), [2, 1]);
/// assert_eq!(c.entropy().dims(), [2, 1]);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Categorical<const D: usize> {
    probs: Tensor<D>,
    /// Normalised: `log_softmax` of the logits given, or `ln(probs)`.
    log_probs: Tensor<D>,
}

/// At least one class: with `K = 0` there is nothing to normalise (and burn's `max_dim` in
/// `log_softmax` panics on an empty dimension).
fn check_classes<const D: usize>(field: &'static str, dims: [usize; D]) -> Result<()> {
    if dims[D - 1] == 0 {
        return Err(Error::shape(
            "Categorical",
            field,
            "[..., K] with K >= 1 classes",
            &dims,
            "give one probability or logit per class along the last dimension",
        ));
    }
    Ok(())
}

impl<const D: usize> Categorical<D> {
    /// A categorical with class probabilities `probs` (`[..., K]`), normalised along the last
    /// dimension.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if an element of `probs` is
    /// negative or not finite, or a row (last dimension) sums to 0;
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the last dimension `K` is 0.
    pub fn from_probs(probs: Tensor<D>) -> Result<Self> {
        check_classes("probs", probs.dims())?;
        let row_sums = probs.clone().sum_dim(D - 1);
        validate(
            "Categorical",
            &[
                Check {
                    field: "probs",
                    tensor: &probs,
                    requirement: Requirement::NonNegative,
                    fix: "use non-negative class probabilities, or Categorical::from_logits for unnormalised scores",
                },
                Check {
                    field: "probs row sum (over the last dimension)",
                    tensor: &row_sums,
                    requirement: Requirement::Positive,
                    fix: "give every row at least one positive probability",
                },
            ],
        )?;
        Ok(Self::from_probs_unchecked(probs))
    }

    /// Like [`Categorical::from_probs`] without the value checks (no host read-back).
    pub fn from_probs_unchecked(probs: Tensor<D>) -> Self {
        let probs = probs.clone() / probs.sum_dim(D - 1);
        let log_probs = probs.clone().clamp_min(tiny(probs.dtype())).log();
        Self { probs, log_probs }
    }

    /// A categorical with unnormalised log-probabilities `logits` (`[..., K]`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if an element of `logits`
    /// is not finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the last
    /// dimension `K` is 0.
    pub fn from_logits(logits: Tensor<D>) -> Result<Self> {
        check_classes("logits", logits.dims())?;
        validate(
            "Categorical",
            &[Check {
                field: "logits",
                tensor: &logits,
                requirement: Requirement::Finite,
                fix: "use finite scores (check the network output for NaN/inf)",
            }],
        )?;
        Ok(Self::from_logits_unchecked(logits))
    }

    /// Like [`Categorical::from_logits`] without the value check (no host read-back).
    pub fn from_logits_unchecked(logits: Tensor<D>) -> Self {
        let log_probs = log_softmax(logits, D - 1);
        Self { probs: log_probs.clone().exp(), log_probs }
    }

    /// Class probabilities `[..., K]`, rows summing to 1.
    pub fn probs(&self) -> Tensor<D> {
        self.probs.clone()
    }

    /// Normalised log-probabilities `[..., K]` (the logits minus their log-sum-exp).
    pub fn logits(&self) -> Tensor<D> {
        self.log_probs.clone()
    }

    /// The number of classes `K`.
    pub fn num_classes(&self) -> usize {
        self.probs.dims()[D - 1]
    }

    /// The parameter shape `[..., K]`.
    pub fn dims(&self) -> [usize; D] {
        self.probs.dims()
    }

    /// One class index per batch element, shape `[..., 1]`, by inverting the cumulative
    /// distribution at a uniform draw from [`crate::noise`].
    pub fn sample(&self) -> Tensor<D, Int> {
        let dims = self.dims();
        let k = dims[D - 1];
        let mut u_dims = dims;
        u_dims[D - 1] = 1;
        let cdf = self.probs.clone().detach().cumsum(D - 1);
        let u = noise::uniform(u_dims, 0.0, 1.0, &self.probs.device()).expand(dims);
        // #{k : F(k) <= u} is the first class whose CDF exceeds u; the clamp guards against
        // a last CDF entry rounded just below 1.
        cdf.lower_equal(u).int().sum_dim(D - 1).clamp_max(k as i64 - 1)
    }

    /// Log-mass of integer class indices `value` of shape `[..., 1]` (broadcasting against
    /// the batch), shape `[..., 1]`; `-inf` for an index outside `[0, K)`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the last dimension of `value`
    /// is not 1 or its leading dimensions do not broadcast with the batch.
    pub fn try_log_prob(&self, value: Tensor<D, Int>) -> Result<Tensor<D>> {
        let dims = self.dims();
        let k = dims[D - 1];
        let v_dims = value.dims();
        if v_dims[D - 1] != 1 {
            let mut expected = dims;
            expected[D - 1] = 1;
            return Err(Error::shape(
                "Categorical::log_prob",
                "value",
                format!("{expected:?} (class indices with a kept last dimension of size 1)"),
                &v_dims,
                "pass class indices of shape [..., 1], e.g. labels.unsqueeze_dim(D - 1)",
            ));
        }
        let mut full = broadcast_shape("Categorical::log_prob", ("the parameters", dims), ("value", v_dims))?;
        full[D - 1] = k;
        let mut class_dims = [1; D];
        class_dims[D - 1] = k;
        let classes = Tensor::<1, Int>::arange(0..k as i64, &value.device()).reshape(class_dims).expand(full);
        let one_hot = value.expand(full).equal(classes).float();
        let log_probs = expand_to(self.log_probs.clone(), full);
        let selected = (log_probs * one_hot.clone()).sum_dim(D - 1);
        // ln 1 = 0 when the index is a class, ln 0 = -inf when it is out of range.
        Ok(selected + one_hot.sum_dim(D - 1).log())
    }

    /// [`Categorical::try_log_prob`], panicking on a shape error.
    ///
    /// # Panics
    /// With the error's text if `value` has the wrong shape.
    pub fn log_prob(&self, value: Tensor<D, Int>) -> Tensor<D> {
        self.try_log_prob(value).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl<const D: usize> Entropy<D> for Categorical<D> {
    /// `-sum_k p_k ln p_k` over the last dimension, shape `[..., 1]`.
    fn entropy(&self) -> Tensor<D> {
        (self.probs.clone() * self.log_probs.clone()).sum_dim(D - 1).neg()
    }
}
