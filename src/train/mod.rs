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
//!
//! A run can be stopped and resumed exactly: [`fit_with_state`] keeps where it stands in a
//! [`TrainState`] (step, epoch, minibatch order, the noise stream, health), and
//! [`checkpoint::save`](crate::checkpoint::save) writes it next to the model and optimizer.
//! Training `N` steps straight through, or `k` steps, saving, loading into a fresh model and
//! optimizer and training on, gives bit-identical parameters.

//! Several devices: [`fit_data_parallel`] splits every minibatch between a list of devices, each
//! with its own weight-noise stream, and takes one optimizer step on the summed gradients
//! (`docs/SCALING.md` says how the same code reaches CUDA and many machines).

mod data_parallel;
mod fit;

pub use data_parallel::{fit_data_parallel, DataParallelConfig, GradientSync, Shard};
pub use fit::{
    fit, fit_bayesian, fit_bayesian_with_state, fit_with_state, Batch, EpochStats, FitConfig, History, TrainState,
};
