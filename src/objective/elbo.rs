//! The evidence lower bound, scaled for minibatches.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::KlSchedule;
use crate::error::{check_nonzero, Error, Result};

/// Configuration of an [`Elbo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElboConfig {
    /// Number of training examples `N` in the whole dataset (required: the KL is a
    /// dataset-level term, so the batch likelihood must be scaled by `N / B`).
    pub dataset_size: usize,
    /// How the KL is weighted over training.
    pub schedule: KlSchedule,
}

/// The negative ELBO as a minimisation objective, for a network with variational weights.
///
/// For a minibatch of `B` of the `N` training examples, `S` posterior samples and KL weight
/// `beta` (from the [`KlSchedule`]):
///
/// `loss = (N / B) * mean_s sum_b NLL(y_b | x_b, w_s) + beta * KL(q || p)`.
///
/// Its expectation over minibatches and samples is the negative full-data ELBO
/// `E_q[-log p(D | w)] + KL(q || p)` when `beta = 1` (Blundell et al. 2015, eq. 8). The KL is
/// never averaged over weights or divided by `N` behind your back: [`ElboTerms`] returns every
/// term so it can be logged.
///
/// ```
/// use bayesburn::objective::Elbo;
/// let elbo = Elbo::new(1024).unwrap();           // N = 1024 training points
/// assert_eq!(elbo.dataset_size(), 1024);
/// assert!(Elbo::new(0).is_err());                // N is required and must be >= 1
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Elbo {
    dataset_size: usize,
    schedule: KlSchedule,
}

/// The terms of one ELBO evaluation. `loss = nll + beta * kl`.
#[derive(Debug, Clone)]
pub struct ElboTerms {
    /// The objective to minimise, shape `[1]`.
    pub loss: Tensor<1>,
    /// The data term as it enters the loss: `(N / B) * mean_s sum_b NLL`, shape `[1]`.
    pub nll: Tensor<1>,
    /// `KL(q || p)` summed over all variational parameters (unweighted), shape `[1]`.
    pub kl: Tensor<1>,
    /// The KL weight used for this step.
    pub beta: f64,
}

impl ElboConfig {
    /// A config for a dataset of `dataset_size` examples with the constant schedule `beta = 1`.
    pub fn new(dataset_size: usize) -> Self {
        ElboConfig { dataset_size, schedule: KlSchedule::default() }
    }

    /// Sets the KL schedule.
    pub fn with_schedule(mut self, schedule: KlSchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Validates and builds the [`Elbo`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `dataset_size` is 0 or the schedule is invalid.
    pub fn try_init(&self) -> Result<Elbo> {
        check_nonzero("ElboConfig", "dataset_size", self.dataset_size, "pass the number of training examples N")?;
        self.schedule.validate()?;
        Ok(Elbo { dataset_size: self.dataset_size, schedule: self.schedule })
    }

    /// Builds the [`Elbo`].
    ///
    /// # Panics
    /// With the message of [`ElboConfig::try_init`]'s error on an invalid config.
    pub fn init(&self) -> Elbo {
        self.try_init().unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Elbo {
    /// An ELBO for `dataset_size` training examples with `beta = 1`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `dataset_size` is 0.
    pub fn new(dataset_size: usize) -> Result<Self> {
        ElboConfig::new(dataset_size).try_init()
    }

    /// The same ELBO with another KL schedule.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the schedule is invalid.
    pub fn with_schedule(self, schedule: KlSchedule) -> Result<Self> {
        schedule.validate()?;
        Ok(Elbo { schedule, ..self })
    }

    /// The dataset size `N`.
    pub fn dataset_size(&self) -> usize {
        self.dataset_size
    }

    /// The KL schedule.
    pub fn schedule(&self) -> KlSchedule {
        self.schedule
    }

    /// The ELBO terms from per-example negative log-likelihoods.
    ///
    /// `nll` holds `-log p(y_b | x_b, w_s)` for each posterior sample `s` and batch example `b`;
    /// `kl` is the model's [`Bayesian::kl`](crate::Bayesian::kl) (`None` for a model without
    /// variational weights, e.g. pure MC dropout); `step` is the 0-based optimisation step,
    /// which the schedule reads.
    ///
    /// # Shapes
    /// - `nll`: `[S, B]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `S` or `B` is 0 or `B > N`.
    pub fn loss(&self, nll: Tensor<2>, kl: impl Into<Option<Tensor<1>>>, step: usize) -> Result<ElboTerms> {
        let [s, b] = nll.dims();
        if s == 0 || b == 0 {
            return Err(Error::shape(
                "Elbo::loss",
                "nll",
                "[S, B] with S >= 1 and B >= 1",
                &[s, b],
                "pass at least one sample and one example",
            ));
        }
        let nll_sum = nll.sum().div_scalar(s as f64);
        self.loss_from_sum(nll_sum, b, kl, step)
    }

    /// The ELBO terms from an already summed batch NLL (`sum_b NLL`, averaged over posterior
    /// samples), shape `[1]`, for a batch of `batch_size` examples.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `batch_size` is 0 or larger than the dataset.
    pub fn loss_from_sum(
        &self,
        nll_sum: Tensor<1>,
        batch_size: usize,
        kl: impl Into<Option<Tensor<1>>>,
        step: usize,
    ) -> Result<ElboTerms> {
        check_nonzero("Elbo::loss", "batch_size", batch_size, "pass the number of examples in the minibatch")?;
        if batch_size > self.dataset_size {
            return Err(Error::invalid(
                "Elbo::loss",
                "batch_size",
                batch_size,
                "<= the dataset size N given to the Elbo",
                "build the Elbo with the size of the whole training set",
            ));
        }
        let beta = self.schedule.beta(step);
        let nll = nll_sum.mul_scalar(self.dataset_size as f64 / batch_size as f64);
        let kl = kl.into().unwrap_or_else(|| nll.zeros_like());
        let loss = nll.clone() + kl.clone().mul_scalar(beta);
        Ok(ElboTerms { loss, nll, kl, beta })
    }
}

impl ElboTerms {
    /// Reads the three terms back as `f64` (`[loss, nll, kl]`), one host synchronisation.
    pub fn values(&self) -> [f64; 3] {
        let all = Tensor::cat(vec![self.loss.clone(), self.nll.clone(), self.kl.clone()], 0);
        let v = all.into_data().convert::<f64>();
        let v = v.as_slice::<f64>().expect("converted to f64");
        [v[0], v[1], v[2]]
    }

    /// Checks that every term is finite.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming `step` and the first non-finite term (`nll`, then `kl`, then
    /// `loss`).
    pub fn check_finite(&self, step: usize) -> Result<[f64; 3]> {
        let [loss, nll, kl] = self.values();
        for (term, value) in [("nll", nll), ("kl", kl), ("loss", loss)] {
            if !value.is_finite() {
                return Err(Error::NonFinite { step, term, value });
            }
        }
        Ok([loss, nll, kl])
    }
}
