//! A small fit loop: minibatches, one optimizer step per batch, a progress bar, and a guard
//! that stops with a typed error when a loss term goes NaN/inf.
//!
//! The loop owns what is the same for every model (shuffling, backward, optimizer step,
//! logging); the caller's closure owns the model-specific part (forward pass and ELBO):
//!
//! ```ignore
//! let (model, history) = fit(model, &mut optim, n, &FitConfig::new(200, 128, 1e-2), |model, batch| {
//!     let (x, y) = (batch.select(x.clone()), batch.select(y.clone()));
//!     let pred = model.forward(x.unsqueeze::<3>().expand([samples, batch.len(), 1]));
//!     elbo.loss(gaussian_nll(pred, y.unsqueeze(), var).squeeze_dim(2), model.kl(), batch.step)
//! })?;
//! ```

use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::bayesian::{Bayesian, LayerStats};
use crate::error::{check_nonzero, check_positive, Result};
use crate::health::{HealthMonitor, HealthWarning};
use crate::objective::ElboTerms;

/// Settings of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Examples per minibatch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Optimizer learning rate.
    pub learning_rate: f64,
    /// Shuffle the examples every epoch (from the seeded [`noise`](crate::noise) source).
    pub shuffle: bool,
    /// Show a progress bar on stderr (hidden automatically when stderr is not a terminal).
    pub progress: bool,
    /// Label shown in front of the progress bar.
    pub label: String,
}

impl FitConfig {
    /// `epochs` passes in minibatches of `batch_size` at `learning_rate`, shuffled, with a
    /// progress bar.
    pub fn new(epochs: usize, batch_size: usize, learning_rate: f64) -> Self {
        FitConfig { epochs, batch_size, learning_rate, shuffle: true, progress: true, label: "train".into() }
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
        let idx: Vec<i64> = self.indices.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [self.indices.len()]), &data.device());
        data.select(0, idx)
    }
}

/// Mean ELBO terms over one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
/// - [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an invalid config or `n = 0`;
/// - [`Error::NonFinite`](crate::Error::NonFinite) as soon as the NLL, KL or loss of a step is
///   NaN/inf, naming the step and the term (the model from before that step is dropped);
/// - any error the closure returns.
pub fn fit<M, F>(model: M, optim: &mut ModuleOptimizer, n: usize, config: &FitConfig, step: F) -> Result<(M, History)>
where
    M: Module,
    F: FnMut(&M, &Batch) -> Result<ElboTerms>,
{
    fit_inner(model, optim, n, config, step, |_| None)
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
    fit_inner(model, optim, n, config, step, |m: &M| Some(m.posterior_stats()))
}

fn fit_inner<M, F, S>(
    model: M,
    optim: &mut ModuleOptimizer,
    n: usize,
    config: &FitConfig,
    step: F,
    layer_stats: S,
) -> Result<(M, History)>
where
    M: Module,
    F: FnMut(&M, &Batch) -> Result<ElboTerms>,
    S: Fn(&M) -> Option<Vec<LayerStats>>,
{
    let mut order: Vec<usize> = (0..n).collect();
    let batches = |epoch: usize, first_step: usize| {
        if config.shuffle {
            crate::noise::with_rng(|rng| order.shuffle(rng));
        }
        order
            .chunks(config.batch_size.max(1))
            .enumerate()
            .map(|(k, chunk)| Batch { indices: chunk.to_vec(), step: first_step + k, epoch })
            .collect()
    };
    fit_loop(model, optim, n, config, batches, step, layer_stats)
}

/// The loop shared by [`fit`], [`fit_bayesian`] and the stacked ensembles' fit
/// ([`crate::ensemble::fit_stacked`]): `batches(epoch, first_step)` makes one epoch's
/// minibatches (`n.div_ceil(batch_size)` of them), `step` computes each one's loss.
pub(crate) fn fit_loop<M, B, F, S>(
    mut model: M,
    optim: &mut ModuleOptimizer,
    n: usize,
    config: &FitConfig,
    mut batches: impl FnMut(usize, usize) -> Vec<B>,
    mut step: F,
    layer_stats: S,
) -> Result<(M, History)>
where
    M: Module,
    F: FnMut(&M, &B) -> Result<ElboTerms>,
    S: Fn(&M) -> Option<Vec<LayerStats>>,
{
    config.validate(n)?;
    let per_epoch = n.div_ceil(config.batch_size);
    let bar = if config.progress {
        let bar = ProgressBar::new((config.epochs * per_epoch) as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} steps {elapsed_precise} {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(config.label.clone());
        bar
    } else {
        ProgressBar::hidden()
    };

    let start = Instant::now();
    let mut epochs = Vec::with_capacity(config.epochs);
    let mut global = 0usize;
    let mut health = HealthMonitor::new(config.epochs);
    for epoch in 0..config.epochs {
        let mut sums = [0.0f64; 3];
        let mut beta = 0.0;
        for batch in batches(epoch, global) {
            let terms = step(&model, &batch)?;
            let [loss, nll, kl] = terms.check_finite(global)?;
            beta = terms.beta;
            let grads = GradientsParams::from_grads(terms.loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
            for (s, v) in sums.iter_mut().zip([loss, nll, kl]) {
                *s += v;
            }
            global += 1;
            bar.inc(1);
        }
        let k = per_epoch as f64;
        let stats = EpochStats { loss: sums[0] / k, nll: sums[1] / k, kl: sums[2] / k, beta };
        let layers = layer_stats(&model);
        for warning in health.end_epoch(epoch, [stats.loss, stats.nll, stats.kl], beta, layers.as_deref()) {
            bar.suspend(|| eprintln!("warning ({}): {warning}", config.label));
        }
        bar.set_message(format!(
            "loss {:.4e} nll {:.4e} kl {:.4e} beta {:.3} {}",
            stats.loss,
            stats.nll,
            stats.kl,
            beta,
            health.summary()
        ));
        epochs.push(stats);
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    Ok((model, History { epochs, steps: global, seconds, warnings: health.warnings().to_vec() }))
}
