//! Data-parallel ELBO training: every minibatch split between several devices.
//!
//! Each step, device `k` gets a replica of the model (`Module::fork`: the same `ParamId`s, its
//! own autodiff leaves), its contiguous share of the minibatch and its own weight-noise stream,
//! and back-propagates its share of the loss on its own thread. The negative ELBO of a
//! minibatch of `B` examples is a sum over examples plus one KL term,
//!
//! `loss = (N / B) * sum_b NLL_b + beta * KL = sum_k [(N / B) * sum_{b in shard k} NLL_b] + beta * KL`,
//!
//! so each shard scales its NLL sum by `N / B` with the *whole* batch's `B`, only the first
//! device adds the KL, and the gradient of the loss is the sum of the devices' gradients
//! ([`Shard::loss`] does the bookkeeping). The summed gradients go to one optimizer step;
//! [`GradientSync`] chooses how they are summed.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::SeedableRng;

use super::fit::{run_epochs, select_rows, FitConfig, History, TrainState};
use super::Batch;
use crate::bayesian::Bayesian;
use crate::error::{Error, Result};
use crate::noise::{self, NoiseRng};
use crate::objective::{Elbo, ElboTerms};

/// How the devices' gradients are summed before the optimizer step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GradientSync {
    /// Every device's [`GradientsParams`] is moved to the first device
    /// ([`GradientsParams::to_device`]) and added there ([`GradientsAccumulator`]). Works on
    /// every backend, including several handles of flex's single CPU device, whose
    /// `all_reduce` burn 0.22.1 leaves unimplemented.
    #[default]
    Gather,
    /// burn's collective `all_reduce` (`burn::tensor::distributed`, NCCL on CUDA): the devices
    /// sum their gradients among themselves, inside a `DistributedContext` opened for the run,
    /// and the first device's sum feeds the step. Only backends with collectives (CUDA in
    /// burn 0.22.1); not run in this repository's CI, which has no GPU.
    #[cfg(feature = "cuda")]
    Collective,
}

/// The devices, noise seed and gradient synchronisation of [`fit_data_parallel`].
#[derive(Debug, Clone)]
pub struct DataParallelConfig {
    /// The devices that share every minibatch (autodiff devices); the model is trained and
    /// returned on the first. The same device may be listed more than once: each entry is a
    /// worker thread with its own shard and noise stream.
    pub devices: Vec<Device>,
    /// Seed of the weight-noise streams: device `k` draws from ChaCha12 seeded with `seed` on
    /// stream `k`, so the devices' noise differs and a run is reproducible.
    pub seed: u64,
    /// How the gradients are summed.
    pub sync: GradientSync,
}

impl DataParallelConfig {
    /// Data parallelism over `devices`, noise seeded with `seed`, gradients gathered on the
    /// first device.
    pub fn new(devices: Vec<Device>, seed: u64) -> Self {
        DataParallelConfig { devices, seed, sync: GradientSync::default() }
    }

    /// Sets how the gradients are summed.
    pub fn with_sync(mut self, sync: GradientSync) -> Self {
        self.sync = sync;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.devices.is_empty() {
            return Err(Error::invalid(
                "DataParallelConfig",
                "devices",
                "[]",
                "a list of at least one device",
                "list the devices to train on, e.g. vec![Device::flex().autodiff(); 2]",
            ));
        }
        Ok(())
    }
}

/// One device's share of a minibatch, as handed to the step closure of [`fit_data_parallel`].
#[derive(Debug, Clone)]
pub struct Shard {
    /// Row indices of this device's examples (a contiguous part of the minibatch).
    pub indices: Vec<usize>,
    /// Examples in the whole minibatch, over all devices: the `B` of the `N / B` scaling.
    pub batch_len: usize,
    /// 0-based optimisation step (what KL schedules read).
    pub step: usize,
    /// 0-based epoch.
    pub epoch: usize,
    /// Position of this device in [`DataParallelConfig::devices`].
    pub device_index: usize,
    /// The device this shard runs on; the model replica handed with it lives there.
    pub device: Device,
}

impl Shard {
    /// Number of examples in this shard.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether the shard is empty (never, for shards handed to the step closure).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Whether this shard adds the KL term: the first device's does, the others do not, so
    /// the KL enters the summed loss once.
    pub fn counts_kl(&self) -> bool {
        self.device_index == 0
    }

    /// This shard's rows of `data` (dimension 0), moved to the shard's device.
    pub fn select<const D: usize>(&self, data: Tensor<D>) -> Tensor<D> {
        select_rows(&self.indices, data).to_device(&self.device)
    }

    /// This shard's part of the minibatch's ELBO terms: the NLL summed over the shard,
    /// averaged over samples and scaled by `N / B` with `B` the *whole* minibatch
    /// ([`batch_len`](Self::batch_len)), plus `beta * kl()` on the first device only (`kl`, e.g.
    /// `|| model.kl()`, is not called on the others). Summed over the shards this is [`Elbo::loss`] of the whole
    /// minibatch.
    ///
    /// # Shapes
    /// - `nll`: `[S, B_k]`, `B_k` this shard's [`len`](Self::len)
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `S` is 0 or `B_k` is not the shard's length; the errors of
    /// [`Elbo::loss_from_sum`].
    pub fn loss<K>(&self, elbo: &Elbo, nll: Tensor<2>, kl: impl FnOnce() -> K) -> Result<ElboTerms>
    where
        K: Into<Option<Tensor<1>>>,
    {
        let [s, b] = nll.dims();
        if s == 0 || b != self.len() {
            return Err(Error::shape(
                "Shard::loss",
                "nll",
                format!("[S, {}] with S >= 1 (the shard's examples)", self.len()),
                &[s, b],
                "pass the per-example NLL of this shard's rows (Shard::select), one row per sample",
            ));
        }
        let nll_sum = nll.sum().div_scalar(s as f64);
        let kl = if self.counts_kl() { kl().into() } else { None };
        elbo.loss_from_sum(nll_sum, self.batch_len, kl, self.step)
    }
}

/// Trains a [`Bayesian`] `model` on `n` examples like [`fit_bayesian`](super::fit_bayesian),
/// with every minibatch split between `parallel.devices`: device `k` runs `step` on its own
/// thread, on a replica of the model, with its [`Shard`] of the batch and its own noise stream;
/// the gradients are summed ([`GradientSync`]) and one optimizer step updates the model on the
/// first device. The step closure computes its shard's terms with [`Shard::loss`], which scales
/// the NLL with the whole batch and counts the KL once, so the summed loss is the minibatch's
/// negative ELBO.
///
/// Shuffling draws from the calling thread's [`noise`] stream, exactly as in
/// [`fit`](super::fit): with the same seed both see the same minibatches, and with
/// deterministic weights ([`Mode::Mean`](crate::Mode::Mean)) the two reach the same ELBO up to
/// float rounding (`tests/it/data_parallel.rs`). The returned [`History`] holds the summed
/// terms. A run is not resumable: the devices' noise streams are not part of [`TrainState`].
///
/// ```ignore
/// let parallel = DataParallelConfig::new(vec![device.clone(), device.clone()], 7);
/// let (model, history) = fit_data_parallel(model, &mut optim, n, &config, &parallel, |model, shard| {
///     let (x, y) = (shard.select(x.clone()), shard.select(y.clone()));
///     let nll = model.nll(x, y); // [S, shard.len()]
///     shard.loss(&elbo, nll, || model.kl())
/// })?;
/// ```
///
/// # Errors
/// As [`fit`](super::fit) (the first failing shard's error), and
/// [`Error::InvalidParameter`] for an empty device list.
pub fn fit_data_parallel<M, F>(
    model: M,
    optim: &mut ModuleOptimizer,
    n: usize,
    config: &FitConfig,
    parallel: &DataParallelConfig,
    step: F,
) -> Result<(M, History)>
where
    M: Module + Bayesian,
    F: Fn(&M, &Shard) -> Result<ElboTerms> + Sync,
{
    parallel.validate()?;
    let devices = &parallel.devices;
    let mut streams: Vec<NoiseRng> = (0..devices.len())
        .map(|k| {
            let mut rng = NoiseRng::seed_from_u64(parallel.seed);
            rng.set_stream(k as u64);
            rng
        })
        .collect();
    #[cfg(feature = "cuda")]
    let _collectives = (parallel.sync == GradientSync::Collective).then(|| {
        let config = burn::tensor::distributed::DistributedConfig {
            all_reduce_op: burn::tensor::distributed::ReduceOperation::Sum,
        };
        burn::tensor::distributed::DistributedContext::init(devices.clone(), config)
    });
    let lr = config.learning_rate;
    let advance = |model: M, optim: &mut ModuleOptimizer, batch: &Batch| {
        let shards = split(batch, devices);
        let outcomes = run_shards(&model, shards, &mut streams, &step, parallel.sync);
        let mut sums = [0.0; 3];
        let mut beta = 0.0;
        let mut accumulator = GradientsAccumulator::<M>::new();
        for (k, outcome) in outcomes.into_iter().enumerate() {
            let (grads, values, shard_beta) = outcome?;
            sums[0] += values[0];
            sums[1] += values[1];
            if k == 0 {
                sums[2] = values[2];
                beta = shard_beta;
                accumulator.accumulate(&model, grads.to_device(&devices[0], &model));
            } else if parallel.sync == GradientSync::Gather {
                accumulator.accumulate(&model, grads.to_device(&devices[0], &model));
            }
        }
        Ok((optim.step(lr, model, accumulator.grads()), sums, beta))
    };
    let model = model.fork(&devices[0]);
    run_epochs(model, optim, n, config, &mut TrainState::default(), advance, |m: &M| Some(m.posterior_stats()))
}

/// Cuts `batch` into one contiguous shard per device, sizes differing by at most one (the
/// first devices take the extra examples, so the first, which counts the KL, is never empty).
fn split(batch: &Batch, devices: &[Device]) -> Vec<Shard> {
    let (base, extra) = (batch.len() / devices.len(), batch.len() % devices.len());
    let mut lo = 0;
    devices
        .iter()
        .enumerate()
        .map(|(k, device)| {
            let hi = lo + base + usize::from(k < extra);
            let indices = batch.indices[lo..hi].to_vec();
            lo = hi;
            Shard {
                indices,
                batch_len: batch.len(),
                step: batch.step,
                epoch: batch.epoch,
                device_index: k,
                device: device.clone(),
            }
        })
        .collect()
}

type ShardOutcome = Result<(GradientsParams, [f64; 3], f64)>;

/// Runs every shard on its own scoped thread (an empty shard contributes nothing, except its
/// part in a collective sum) and returns their gradients and terms in device order.
fn run_shards<M, F>(
    model: &M,
    shards: Vec<Shard>,
    streams: &mut [NoiseRng],
    step: &F,
    sync: GradientSync,
) -> Vec<ShardOutcome>
where
    M: Module,
    F: Fn(&M, &Shard) -> Result<ElboTerms> + Sync,
{
    let devices: Vec<Device> = shards.iter().map(|s| s.device.clone()).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = shards
            .into_iter()
            .zip(streams.iter_mut())
            .map(|(shard, stream)| {
                let replica = model.clone().fork(&shard.device);
                let devices = &devices;
                scope.spawn(move || -> ShardOutcome {
                    let mut outcome = (GradientsParams::new(), [0.0; 3], 0.0);
                    if !shard.is_empty() {
                        let terms = noise::with_stream(stream, || step(&replica, &shard))?;
                        let values = terms.check_finite(shard.step)?;
                        let grads = GradientsParams::from_grads(terms.loss.backward(), &replica);
                        outcome = (grads, values, terms.beta);
                    }
                    outcome.0 = reduce_in_worker(outcome.0, &replica, devices, sync);
                    Ok(outcome)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// What a worker does to its gradients before handing them back: nothing for
/// [`GradientSync::Gather`] (the caller adds them up), burn's `all_reduce` for the collective.
fn reduce_in_worker<M: Module>(
    grads: GradientsParams,
    _replica: &M,
    _devices: &[Device],
    sync: GradientSync,
) -> GradientsParams {
    match sync {
        GradientSync::Gather => grads,
        #[cfg(feature = "cuda")]
        GradientSync::Collective => collective::all_reduce(grads, _replica, _devices),
    }
}

#[cfg(feature = "cuda")]
mod collective {
    //! [`GradientSync::Collective`](super::GradientSync::Collective): burn's `all_reduce` over
    //! every float parameter's gradient (zeros where a device has none, so every device takes
    //! part in every sum).

    use burn::module::{Module, ModuleVisitor, Param};
    use burn::optim::GradientsParams;
    use burn::prelude::*;
    use burn::tensor::distributed::{all_reduce as burn_all_reduce, ReduceOperation};

    struct AllReduce<'a> {
        grads: &'a mut GradientsParams,
        devices: &'a [Device],
    }

    impl ModuleVisitor for AllReduce<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let grad = self.grads.remove::<D>(param.id).unwrap_or_else(|| param.val().inner().zeros_like());
            let summed = burn_all_reduce(grad, ReduceOperation::Sum, self.devices.to_vec()).resolve();
            self.grads.register::<D>(param.id, summed);
        }
    }

    pub(super) fn all_reduce<M: Module>(
        mut grads: GradientsParams,
        replica: &M,
        devices: &[Device],
    ) -> GradientsParams {
        replica.visit(&mut AllReduce { grads: &mut grads, devices });
        grads
    }
}
