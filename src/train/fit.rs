//! The single-device fit loop, and the epoch loop every fit shares.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::bayesian::{Bayesian, LayerStats};
use crate::error::{check_nonzero, check_positive, Error, Result};
use crate::health::{HealthMonitor, HealthWarning};
use crate::noise::{self, NoiseState};
use crate::objective::ElboTerms;
use crate::progress::Progress;

/// Settings of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Examples per minibatch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Optimizer learning rate.
    pub learning_rate: f64,
    /// Shuffle the examples every epoch (from the seeded [`noise`] source).
    pub shuffle: bool,
    /// Show a progress bar on stderr (hidden automatically when stderr is not a terminal, and
    /// always without the feature `progress`).
    pub progress: bool,
    /// Label shown in front of the progress bar.
    pub label: String,
    /// Stop (to save a checkpoint) once this many optimisation steps have been taken in all,
    /// counting those of earlier calls on the same [`TrainState`]; `None` runs all `epochs`.
    #[serde(default)]
    pub stop_after_steps: Option<usize>,
}

impl FitConfig {
    /// `epochs` passes in minibatches of `batch_size` at `learning_rate`, shuffled, with a
    /// progress bar.
    pub fn new(epochs: usize, batch_size: usize, learning_rate: f64) -> Self {
        FitConfig {
            epochs,
            batch_size,
            learning_rate,
            shuffle: true,
            progress: true,
            label: "train".into(),
            stop_after_steps: None,
        }
    }

    /// Stops once `steps` optimisation steps have been taken in all (see
    /// [`stop_after_steps`](Self::stop_after_steps)); [`fit_with_state`] then resumes.
    pub fn with_stop_after_steps(mut self, steps: usize) -> Self {
        self.stop_after_steps = Some(steps);
        self
    }

    /// Turns the progress bar on or off.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Turns shuffling on or off.
    pub fn with_shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Sets the progress bar's label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    fn validate(&self, n: usize) -> Result<()> {
        check_nonzero("FitConfig", "epochs", self.epochs, "train for at least one epoch")?;
        check_nonzero("FitConfig", "batch_size", self.batch_size, "use a batch size such as 128")?;
        check_nonzero("fit", "dataset size", n, "pass a non-empty training set")?;
        check_positive("FitConfig", "learning_rate", self.learning_rate, "use a learning rate such as 1e-3")
    }
}

/// One minibatch, as handed to the step closure of [`fit`].
#[derive(Debug, Clone)]
pub struct Batch {
    /// Row indices of the examples in this batch.
    pub indices: Vec<usize>,
    /// 0-based optimisation step since the start of training (what KL schedules read).
    pub step: usize,
    /// 0-based epoch.
    pub epoch: usize,
}

impl Batch {
    /// Number of examples in the batch.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether the batch is empty (never, for batches made by [`fit`]).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The rows of `data` (dimension 0) that belong to this batch.
    pub fn select<const D: usize>(&self, data: Tensor<D>) -> Tensor<D> {
        select_rows(&self.indices, data)
    }
}

/// The rows `indices` of `data` (dimension 0), on `data`'s device.
pub(super) fn select_rows<const D: usize>(indices: &[usize], data: Tensor<D>) -> Tensor<D> {
    let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [indices.len()]), &data.device());
    data.select(0, idx)
}

/// Mean ELBO terms over one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Mean loss.
    pub loss: f64,
    /// Mean (scaled) NLL term.
    pub nll: f64,
    /// Mean KL.
    pub kl: f64,
    /// KL weight at the epoch's last step.
    pub beta: f64,
}

/// What [`fit`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    /// Per-epoch means.
    pub epochs: Vec<EpochStats>,
    /// Optimisation steps taken.
    pub steps: usize,
    /// Wall time of the loop in seconds.
    pub seconds: f64,
    /// Health warnings raised during the run (each kind at most once), also printed to stderr
    /// when they were raised; see [`crate::health`].
    pub warnings: Vec<HealthWarning>,
}

impl History {
    /// Steps per second.
    pub fn steps_per_second(&self) -> f64 {
        self.steps as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }
}

/// Where a training run stands: everything besides the model and the optimizer that
/// [`fit_with_state`] needs to continue it exactly. Serializable;
/// [`checkpoint::save`](crate::checkpoint::save) writes it into `checkpoint.json`.
///
/// `TrainState::default()` is a run that has not started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainState {
    /// Optimisation steps taken: the next [`Batch::step`], which KL schedules read.
    pub step: usize,
    /// The current epoch (0-based); `FitConfig::epochs` once the run is complete.
    pub epoch: usize,
    /// Minibatches of the current epoch already taken.
    pub batch: usize,
    /// The current epoch's order of the examples (empty before the first epoch; each epoch
    /// shuffles the previous order, so it is part of the state).
    pub order: Vec<usize>,
    /// The run's dataset size and batch size (0 before the first call), checked on resume.
    pub n: usize,
    /// See [`n`](Self::n).
    pub batch_size: usize,
    /// Sums of loss, NLL and KL over the current epoch's batches so far.
    pub epoch_sums: [f64; 3],
    /// The KL weight of the last step.
    pub beta: f64,
    /// Means of the completed epochs.
    pub epochs: Vec<EpochStats>,
    /// The health monitor (what it has seen and warned about).
    pub health: Option<HealthMonitor>,
    /// The calling thread's [`noise`] stream when [`fit_with_state`] last returned; the next
    /// call restores it before its first draw, so whatever drew noise in between (building a
    /// model to load a checkpoint into) does not shift the run's noise.
    pub noise: Option<NoiseState>,
}

impl TrainState {
    /// Whether the run has done all `config.epochs` epochs.
    pub fn is_complete(&self, config: &FitConfig) -> bool {
        self.epoch >= config.epochs
    }

    /// Checks that this state belongs to a run on `n` examples in batches of `batch_size`, and
    /// fills in a fresh state.
    fn begin(&mut self, n: usize, config: &FitConfig) -> Result<()> {
        let fix = "resume with the dataset and batch size the run started with, or start from TrainState::default()";
        if self.n == 0 && self.step == 0 && self.epoch == 0 {
            self.n = n;
            self.batch_size = config.batch_size;
        }
        for (field, expected, got) in [("n", self.n, n), ("batch_size", self.batch_size, config.batch_size)] {
            if expected != got {
                return Err(Error::Checkpoint {
                    path: "TrainState".into(),
                    field: field.into(),
                    problem: format!("the run was started with {field} = {expected}, this call has {got}"),
                    fix,
                });
            }
        }
        if !self.order.is_empty() && (self.order.len() != n || self.batch * config.batch_size > n) {
            return Err(Error::Checkpoint {
                path: "TrainState".into(),
                field: "order".into(),
                problem: format!(
                    "holds {} indices and {} batches done, for {n} examples",
                    self.order.len(),
                    self.batch
                ),
                fix,
            });
        }
        if let Some(state) = &self.noise {
            noise::restore(state)?;
        }
        Ok(())
    }
}

/// Trains `model` on `n` examples: every epoch the indices `0..n` are (optionally) shuffled and
/// cut into minibatches; for each, `step` computes the [`ElboTerms`] (typically with
/// [`Elbo::loss`](crate::objective::Elbo::loss)), then the loop back-propagates `loss` and takes
/// one optimizer step. The model must live on an autodiff device.
///
/// At the end of each epoch a [`HealthMonitor`] checks the loss terms: a KL term that leaves the
/// data under 1 % of the loss, or a loss that does not fall below its first epoch's, is reported
/// once on stderr with the fix and kept in [`History::warnings`]. The progress line shows the KL
/// share. [`fit_bayesian`] also checks the posterior of every layer.
///
/// # Errors
/// - [`Error::InvalidParameter`] for an invalid config or `n = 0`;
/// - [`Error::NonFinite`] as soon as the NLL, KL or loss of a step is
///   NaN/inf, naming the step and the term (the model from before that step is dropped);
/// - any error the closure returns.
pub fn fit<M, F>(model: M, optim: &mut ModuleOptimizer, n: usize, config: &FitConfig, step: F) -> Result<(M, History)>
where
    M: Module,
    F: FnMut(&M, &Batch) -> Result<ElboTerms>,
{
    fit_inner(model, optim, n, config, &mut TrainState::default(), step, |_| None)
}

/// As [`fit`], continuing the run `state` describes (`TrainState::default()` starts one) and
/// leaving in `state` where it stopped: after all `config.epochs`, or once
/// [`FitConfig::stop_after_steps`] steps have been taken. Calling it again with the same state
/// (also one reloaded by [`checkpoint::load`](crate::checkpoint::load) into a fresh model and
/// optimizer) continues exactly where it left off: the same minibatches, the same noise and the
/// same optimizer moments, so the parameters come out bit-identical to one uninterrupted run.
/// The returned [`History`] covers the whole run so far.
///
/// # Errors
/// As [`fit`], and [`Error::Checkpoint`] if `state` comes from a run
/// with another dataset size or batch size.
pub fn fit_with_state<M, F>(
    model: M,
    optim: &mut ModuleOptimizer,
    n: usize,
    config: &FitConfig,
    state: &mut TrainState,
    step: F,
) -> Result<(M, History)>
where
    M: Module,
    F: FnMut(&M, &Batch) -> Result<ElboTerms>,
{
    fit_inner(model, optim, n, config, state, step, |_| None)
}

/// As [`fit_with_state`] for a [`Bayesian`] model, with the checks of [`fit_bayesian`].
///
/// # Errors
/// As [`fit_with_state`].
pub fn fit_bayesian_with_state<M, F>(
    model: M,
    optim: &mut ModuleOptimizer,
    n: usize,
    config: &FitConfig,
    state: &mut TrainState,
    step: F,
) -> Result<(M, History)>
where
    M: Module + Bayesian,
    F: FnMut(&M, &Batch) -> Result<ElboTerms>,
{
    fit_inner(model, optim, n, config, state, step, |m: &M| Some(m.posterior_stats()))
}

/// As [`fit`], for a [`Bayesian`] model: at the end of each epoch it also reads
/// [`Bayesian::posterior_stats`] and reports a layer whose posterior sd underflows
/// (`rho` initialised far too low), and shows the mean signal-to-noise ratio in the progress
/// line. Costs one read-back of the variational parameters per epoch.
///
/// # Errors
/// As [`fit`].
pub fn fit_bayesian<M, F>(
    model: M,
    optim: &mut ModuleOptimizer,
    n: usize,
    config: &FitConfig,
    step: F,
) -> Result<(M, History)>
where
    M: Module + Bayesian,
    F: FnMut(&M, &Batch) -> Result<ElboTerms>,
{
    fit_inner(model, optim, n, config, &mut TrainState::default(), step, |m: &M| Some(m.posterior_stats()))
}

fn fit_inner<M, F, S>(
    model: M,
    optim: &mut ModuleOptimizer,
    n: usize,
    config: &FitConfig,
    state: &mut TrainState,
    mut step: F,
    layer_stats: S,
) -> Result<(M, History)>
where
    M: Module,
    F: FnMut(&M, &Batch) -> Result<ElboTerms>,
    S: Fn(&M) -> Option<Vec<LayerStats>>,
{
    let lr = config.learning_rate;
    let advance = |model: M, optim: &mut ModuleOptimizer, batch: &Batch| {
        let terms = step(&model, batch)?;
        let values = terms.check_finite(batch.step)?;
        let grads = GradientsParams::from_grads(terms.loss.backward(), &model);
        Ok((optim.step(lr, model, grads), values, terms.beta))
    };
    run_epochs(model, optim, n, config, state, advance, layer_stats)
}

/// The epoch loop every fit shares: shuffling, minibatches, [`TrainState`] bookkeeping, health
/// checks and the progress bar. `advance` takes one optimisation step on a minibatch and returns
/// the model after it, the batch's `[loss, nll, kl]` (already checked finite) and the KL weight.
pub(super) fn run_epochs<M, A, S>(
    mut model: M,
    optim: &mut ModuleOptimizer,
    n: usize,
    config: &FitConfig,
    state: &mut TrainState,
    mut advance: A,
    layer_stats: S,
) -> Result<(M, History)>
where
    M: Module,
    A: FnMut(M, &mut ModuleOptimizer, &Batch) -> Result<(M, [f64; 3], f64)>,
    S: Fn(&M) -> Option<Vec<LayerStats>>,
{
    config.validate(n)?;
    state.begin(n, config)?;
    let per_epoch = n.div_ceil(config.batch_size);
    let bar = Progress::new(config.progress, &config.label, (config.epochs * per_epoch) as u64, state.step as u64);

    let start = Instant::now();
    let stop_at = config.stop_after_steps.unwrap_or(usize::MAX);
    let health = state.health.get_or_insert_with(|| HealthMonitor::new(config.epochs));
    while state.epoch < config.epochs && state.step < stop_at {
        if state.batch == 0 {
            if state.order.is_empty() {
                state.order = (0..n).collect();
            }
            if config.shuffle {
                noise::with_rng(|rng| state.order.shuffle(rng));
            }
            state.epoch_sums = [0.0; 3];
        }
        while state.batch < per_epoch && state.step < stop_at {
            let lo = state.batch * config.batch_size;
            let indices = state.order[lo..(lo + config.batch_size).min(n)].to_vec();
            let batch = Batch { indices, step: state.step, epoch: state.epoch };
            let (next, [loss, nll, kl], beta) = advance(model, optim, &batch)?;
            model = next;
            state.beta = beta;
            for (s, v) in state.epoch_sums.iter_mut().zip([loss, nll, kl]) {
                *s += v;
            }
            state.step += 1;
            state.batch += 1;
            bar.inc();
        }
        if state.batch < per_epoch {
            break; // stopped inside the epoch
        }
        let k = per_epoch as f64;
        let sums = state.epoch_sums;
        let stats = EpochStats { loss: sums[0] / k, nll: sums[1] / k, kl: sums[2] / k, beta: state.beta };
        let layers = layer_stats(&model);
        for warning in health.end_epoch(state.epoch, [stats.loss, stats.nll, stats.kl], state.beta, layers.as_deref()) {
            bar.suspend(|| eprintln!("warning ({}): {warning}", config.label));
        }
        bar.set_message(format!(
            "loss {:.4e} nll {:.4e} kl {:.4e} beta {:.3} {}",
            stats.loss,
            stats.nll,
            stats.kl,
            state.beta,
            health.summary()
        ));
        state.epochs.push(stats);
        state.epoch += 1;
        state.batch = 0;
    }
    bar.finish();
    let warnings = health.warnings().to_vec();
    state.noise = Some(noise::state());
    let seconds = start.elapsed().as_secs_f64();
    Ok((model, History { epochs: state.epochs.clone(), steps: state.step, seconds, warnings }))
}
