//! burn's `Learner` for Bayesian networks (feature `learner`): an ELBO train and validation step
//! for any [`Bayesian`] module, and the uncertainty metrics as burn
//! [`Metric`](burn::train::metric::Metric)s, so they appear in burn's dashboard and metric logs.
//!
//! A model opts in by implementing [`ElboModel`] (its ELBO and the per-example NLL of a batch)
//! and invoking [`elbo_learner_steps!`](crate::elbo_learner_steps), which writes burn's
//! `TrainStep` and `InferenceStep` for it (a blanket implementation for every `ElboModel` is
//! impossible: both traits are burn's). The train step is [`train_step`]: the loss is
//! [`Elbo::loss`] of the batch, so the NLL is scaled by `N / B` and the KL added once, exactly
//! as in [`train::fit`](crate::train::fit); with the same minibatches, the same weight noise
//! and the same optimizer the two paths take the same steps (`tests/learner.rs`).
//!
//! Metrics ([`UncertaintyMetric`], all numeric, lower is better except coverage): the
//! predictive NLL, ECE, Brier score (classification), interval coverage and the mean epistemic
//! sd (regression), and the KL's share of the loss; [`HealthMetric`] runs the
//! [`HealthMonitor`] at the end of every epoch and reports its warnings through `log::warn!`,
//! which burn's Learner writes to `experiment.log` in its directory. Per-batch values are
//! averaged over the epoch weighted by batch size (burn's `NumericMetricState`); ECE and
//! coverage over a whole set are not such averages, so the figures to quote come from
//! [`metrics`](crate::metrics) on the full set.
//!
//! Checkpoints: the Learner's checkpointer stores the model's burn record, which holds every
//! variational parameter (`mu` and `rho` of every layer: the whole mean-field posterior);
//! the priors and modes, which burn records do not carry, are written with
//! [`checkpoint::save_model`](crate::checkpoint::save_model) after training.
//!
//! Limits: burn's `TrainStep::step` has no step counter and no error channel, so the KL weight
//! is the schedule's value at step 0 (use [`KlSchedule::Constant`](crate::objective::KlSchedule)
//! or `train::fit` for warm-ups), and an invalid batch panics with the typed error's message.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::{ExecutionError, TensorReadError};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, LossInput, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};
use burn::train::{ItemLazy, TrainOutput};
use std::sync::Arc;

use crate::bayesian::Bayesian;
use crate::error::Result;
use crate::health::HealthMonitor;
use crate::metrics;
use crate::objective::Elbo;

/// A [`Bayesian`] module that burn's Learner can train on the ELBO.
pub trait ElboModel: Module + Bayesian {
    /// A minibatch, as burn's data loader hands it over.
    type Batch: Send + 'static;

    /// The ELBO of the training set: its size `N` and KL schedule.
    fn elbo(&self) -> Elbo;

    /// The batch's per-example negative log-likelihood `[S, B]` (`S` weight samples) and,
    /// optionally, the predictive the uncertainty metrics read.
    ///
    /// # Errors
    /// Whatever the model's forward pass reports.
    fn forward_elbo(&self, batch: &Self::Batch) -> Result<ElboForward>;
}

/// What [`ElboModel::forward_elbo`] returns.
#[derive(Debug, Clone)]
pub struct ElboForward {
    /// `-log p(y_b | x_b, w_s)`, `[S, B]`.
    pub nll: Tensor<2>,
    /// The predictive of the batch, for the metrics (`None`: only the ELBO terms are logged).
    pub predictive: Option<Predictive>,
}

/// A batch's predictive over `S` weight samples.
// One value per batch: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Predictive {
    /// Class probabilities `[S, B, C]` and the labels `[B]`.
    Classification {
        /// Per-sample class probabilities, `[S, B, C]`.
        probs: Tensor<3>,
        /// True classes, `[B]`.
        labels: Tensor<1, Int>,
    },
    /// Per-sample Gaussian means and (aleatoric) variances `[S, B]` and the targets `[B]`.
    Regression {
        /// Per-sample means, `[S, B]`.
        means: Tensor<2>,
        /// Per-sample variances, `[S, B]`.
        vars: Tensor<2>,
        /// Targets, `[B]`.
        targets: Tensor<1>,
    },
}

impl Predictive {
    fn without_autodiff(self) -> Self {
        match self {
            Predictive::Classification { probs, labels } => {
                Predictive::Classification { probs: probs.without_autodiff(), labels: labels.without_autodiff() }
            }
            Predictive::Regression { means, vars, targets } => Predictive::Regression {
                means: means.without_autodiff(),
                vars: vars.without_autodiff(),
                targets: targets.without_autodiff(),
            },
        }
    }
}

/// The output of one ELBO step: the terms of [`Elbo::loss`] and the predictive.
#[derive(Debug, Clone)]
pub struct ElboOutput {
    /// The negative ELBO of the batch, `[1]`.
    pub loss: Tensor<1>,
    /// The scaled NLL term `(N / B) * mean_s sum_b NLL`, `[1]`.
    pub nll: Tensor<1>,
    /// The KL, `[1]`.
    pub kl: Tensor<1>,
    /// The KL weight.
    pub beta: f64,
    /// Examples in the batch.
    pub batch_len: usize,
    /// The predictive, if the model gave one.
    pub predictive: Option<Predictive>,
}

fn elbo_output<M: ElboModel>(model: &M, batch: &M::Batch) -> ElboOutput {
    let outcome = model.forward_elbo(batch).and_then(|forward| {
        let batch_len = forward.nll.dims()[1];
        let terms = model.elbo().loss(forward.nll, model.kl(), 0)?;
        Ok(ElboOutput {
            loss: terms.loss,
            nll: terms.nll,
            kl: terms.kl,
            beta: terms.beta,
            batch_len,
            predictive: forward.predictive,
        })
    });
    outcome.unwrap_or_else(|e| panic!("{e}"))
}

/// burn's train step for an [`ElboModel`]: the batch's [`Elbo::loss`], back-propagated.
///
/// # Panics
/// With the message of the typed error when the forward pass or [`Elbo::loss`] fails (burn's
/// `TrainStep` has no error channel).
pub fn train_step<M: ElboModel>(model: &M, batch: M::Batch) -> TrainOutput<ElboOutput> {
    let output = elbo_output(model, &batch);
    let grads = output.loss.backward();
    TrainOutput::new(model, grads, output)
}

/// burn's validation step for an [`ElboModel`]: the same terms, no gradients.
///
/// # Panics
/// As [`train_step`].
pub fn valid_step<M: ElboModel>(model: &M, batch: M::Batch) -> ElboOutput {
    elbo_output(model, &batch)
}

/// Implements burn's `TrainStep` and `InferenceStep` for an [`ElboModel`] type, with
/// [`train_step`] and [`valid_step`]:
///
/// ```ignore
/// impl ElboModel for Net { /* elbo, forward_elbo */ }
/// bayesburn::elbo_learner_steps!(Net);
/// let result = SupervisedTraining::new(dir, train_loader, valid_loader)
///     .metrics((LossMetric::new(), UncertaintyMetric::kl_share()))
///     .num_epochs(10)
///     .launch(Learner::new(net, AdamConfig::new().init(), 1e-2));
/// ```
#[macro_export]
macro_rules! elbo_learner_steps {
    ($model:ty) => {
        impl $crate::burn::train::TrainStep for $model {
            type Input = <$model as $crate::learner::ElboModel>::Batch;
            type Output = $crate::learner::ElboOutput;
            fn step(&self, batch: Self::Input) -> $crate::burn::train::TrainOutput<Self::Output> {
                $crate::learner::train_step(self, batch)
            }
        }
        impl $crate::burn::train::InferenceStep for $model {
            type Input = <$model as $crate::learner::ElboModel>::Batch;
            type Output = $crate::learner::ElboOutput;
            fn step(&self, batch: Self::Input) -> Self::Output {
                $crate::learner::valid_step(self, batch)
            }
        }
    };
}

impl ItemLazy for ElboOutput {
    fn sync(self) -> std::result::Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(ElboOutput {
            loss: self.loss.without_autodiff(),
            nll: self.nll.without_autodiff(),
            kl: self.kl.without_autodiff(),
            predictive: self.predictive.map(Predictive::without_autodiff),
            ..self
        })
    }
}

impl Adaptor<LossInput> for ElboOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

/// What [`UncertaintyMetric`] and [`HealthMetric`] read from an [`ElboOutput`].
#[derive(Debug, Clone)]
pub struct UncertaintyInput {
    output: ElboOutput,
}

impl Adaptor<UncertaintyInput> for ElboOutput {
    fn adapt(&self) -> UncertaintyInput {
        UncertaintyInput { output: self.clone() }
    }
}

/// Which figure an [`UncertaintyMetric`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Figure {
    Nll,
    Ece { bins: usize },
    Brier,
    Coverage { level: f64 },
    EpistemicSd,
    KlShare,
}

/// A bayesburn uncertainty figure as a burn numeric metric.
#[derive(Clone)]
pub struct UncertaintyMetric {
    figure: Figure,
    name: MetricName,
    state: NumericMetricState,
}

impl UncertaintyMetric {
    fn new(figure: Figure, name: String) -> Self {
        UncertaintyMetric { figure, name: Arc::new(name), state: NumericMetricState::default() }
    }

    /// The predictive NLL per example: the categorical NLL of the sample-mean probabilities, or
    /// minus the Monte-Carlo mixture log-likelihood for regression.
    pub fn nll() -> Self {
        Self::new(Figure::Nll, "Predictive NLL".into())
    }

    /// Expected calibration error of the sample-mean probabilities over `bins` bins
    /// (classification).
    pub fn ece(bins: usize) -> Self {
        Self::new(Figure::Ece { bins }, format!("ECE ({bins} bins)"))
    }

    /// Brier score of the sample-mean probabilities (classification).
    pub fn brier() -> Self {
        Self::new(Figure::Brier, "Brier".into())
    }

    /// Coverage of the central `level` interval of the Gaussian with the predictive's total
    /// mean and variance (regression).
    pub fn coverage(level: f64) -> Self {
        Self::new(Figure::Coverage { level }, format!("Coverage {:.0}%", 100.0 * level))
    }

    /// Mean epistemic sd: the sd over weight samples of the predicted mean (regression) or of
    /// the predicted class's probability (classification), averaged over the batch.
    pub fn epistemic_sd() -> Self {
        Self::new(Figure::EpistemicSd, "Epistemic sd".into())
    }

    /// The weighted KL's share of the loss, `beta * KL / loss`.
    pub fn kl_share() -> Self {
        Self::new(Figure::KlShare, "KL share".into())
    }

    /// The figure on one batch, `None` where it does not apply (ECE on regression, say).
    fn value(&self, output: &ElboOutput) -> std::result::Result<Option<f64>, TensorReadError> {
        let scalar = |t: Tensor<1>| t.into_data().convert::<f64>().as_slice::<f64>().map(|v| v[0]).unwrap_or(f64::NAN);
        let figure = match (&self.figure, &output.predictive) {
            (Figure::KlShare, _) => {
                let (loss, kl) = (scalar(output.loss.clone()), scalar(output.kl.clone()));
                Ok(output.beta * kl / loss)
            }
            (figure, Some(Predictive::Classification { probs, labels })) => {
                let mean = probs.clone().mean_dim(0).squeeze_dim::<2>(0);
                match figure {
                    Figure::Nll => metrics::categorical_nll(mean, labels.clone()),
                    Figure::Ece { bins } => metrics::expected_calibration_error(mean, labels.clone(), *bins),
                    Figure::Brier => metrics::brier_score(mean, labels.clone()),
                    Figure::EpistemicSd => {
                        let [s, b, _] = probs.dims();
                        let top = mean.argmax(1).reshape([1, b, 1]).expand([s, b, 1]);
                        let chosen = probs.clone().gather(2, top).squeeze_dim::<2>(2);
                        Ok(scalar(chosen.var(0).sqrt().mean()))
                    }
                    _ => return Ok(None),
                }
            }
            (figure, Some(Predictive::Regression { means, vars, targets })) => {
                let mean = means.clone().mean_dim(0).squeeze_dim::<1>(0);
                let epistemic = means.clone().var_bias(0).squeeze_dim::<1>(0);
                match figure {
                    Figure::Nll => {
                        metrics::mc_log_likelihood_with_variances(means.clone(), targets.clone(), vars.clone())
                            .map(|ll| -ll)
                    }
                    Figure::Coverage { level } => {
                        let total = vars.clone().mean_dim(0).squeeze_dim::<1>(0) + epistemic;
                        metrics::gaussian_interval_coverage(mean, targets.clone(), total.sqrt(), *level)
                            .map(|c| c.coverage)
                    }
                    Figure::EpistemicSd => Ok(scalar(epistemic.sqrt().mean())),
                    _ => return Ok(None),
                }
            }
            (_, None) => return Ok(None),
        };
        // A typed error on a batch (a NaN, say) reads as NaN in the dashboard.
        Ok(Some(figure.unwrap_or(f64::NAN)))
    }
}

impl Metric for UncertaintyMetric {
    type Input = UncertaintyInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        item: &Self::Input,
        _metadata: &MetricMetadata,
    ) -> std::result::Result<SerializedEntry, TensorReadError> {
        if let Some(value) = self.value(&item.output)? {
            self.state.update(value, item.output.batch_len);
        }
        Ok(self.state.compute_update(FormatOptions::new(self.name()).precision(4)))
    }

    fn compute(&mut self) -> std::result::Result<SerializedEntry, TensorReadError> {
        Ok(self.state.compute_final(FormatOptions::new(self.name()).precision(4)))
    }

    fn clear(&mut self) {
        self.state.reset()
    }

    fn attributes(&self) -> MetricAttributes {
        let higher_is_better = matches!(self.figure, Figure::Coverage { .. });
        NumericAttributes { unit: None, higher_is_better }.into()
    }
}

impl Numeric for UncertaintyMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}

/// bayesburn's [`HealthMonitor`] as a burn metric: it sums the ELBO terms over an epoch and, when
/// burn computes the epoch's value, runs the monitor's checks and sends each new warning to
/// `log::warn!` (burn's Learner writes them to `experiment.log`). Its value is the number of
/// warnings raised so far.
#[derive(Clone)]
pub struct HealthMetric {
    monitor: HealthMonitor,
    epoch: usize,
    sums: [f64; 3],
    beta: f64,
    batches: usize,
    warnings: usize,
    name: MetricName,
}

impl HealthMetric {
    /// A monitor for a run of `epochs` epochs.
    pub fn new(epochs: usize) -> Self {
        HealthMetric {
            monitor: HealthMonitor::new(epochs),
            epoch: 0,
            sums: [0.0; 3],
            beta: 1.0,
            batches: 0,
            warnings: 0,
            name: Arc::new("Health warnings".into()),
        }
    }

    fn entry(&self) -> SerializedEntry {
        SerializedEntry { formatted: self.warnings.to_string(), serialized: self.warnings.to_string() }
    }
}

impl Metric for HealthMetric {
    type Input = UncertaintyInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        item: &Self::Input,
        _metadata: &MetricMetadata,
    ) -> std::result::Result<SerializedEntry, TensorReadError> {
        let output = &item.output;
        let all = Tensor::cat(vec![output.loss.clone(), output.nll.clone(), output.kl.clone()], 0);
        let values = all.into_data().convert::<f64>();
        if let Ok(v) = values.as_slice::<f64>() {
            for (sum, value) in self.sums.iter_mut().zip(v) {
                *sum += value;
            }
        }
        self.beta = output.beta;
        self.batches += 1;
        Ok(self.entry())
    }

    fn compute(&mut self) -> std::result::Result<SerializedEntry, TensorReadError> {
        if self.batches > 0 {
            let k = self.batches as f64;
            let means = [self.sums[0] / k, self.sums[1] / k, self.sums[2] / k];
            for warning in self.monitor.end_epoch(self.epoch, means, self.beta, None) {
                log::warn!("bayesburn health: {warning}");
                self.warnings += 1;
            }
            self.epoch += 1;
        }
        Ok(self.entry())
    }

    fn clear(&mut self) {
        self.sums = [0.0; 3];
        self.batches = 0;
    }
}
