//! Checkpoints: a model's whole posterior, and everything needed to resume its training exactly.
//!
//! burn 0.22 records a module's `Param` tensors (burnpack, `.bpk`) and nothing else: plain
//! fields such as a layer's prior, estimator and mode are not in the record, so a model reloaded
//! with burn alone takes them from whatever it was built with. A checkpoint is a directory that
//! adds what is missing:
//!
//! | file | holds |
//! | --- | --- |
//! | `model.bpk` | burn's record of the model: every `mu` and `rho` (MOPED layers included), deterministic layers, parameter ids |
//! | `checkpoint.json` | per stochastic layer its [`LayerState`] (prior hyper-parameters, estimator, mode, dropout `p`, convolution geometry); the name and shape of every tensor in `model.bpk`; with [`save`], the [`TrainState`](crate::train::TrainState) (step, epoch, minibatch order, noise stream, health) |
//! | `optimizer.bpk` | with [`save`]: burn's record of the optimizer state (Adam's moments and step counts), keyed by parameter id |
//!
//! ```
//! use bayesburn::checkpoint;
//! use bayesburn::prelude::*;
//! use burn::prelude::*;
//!
//! let device = Device::flex();
//! let dir = std::env::temp_dir().join(format!("bayesburn-doc-{}", std::process::id()));
//! let layer = BayesLinearConfig::new(3, 2).with_estimator(Estimator::Flipout).init(&device);
//! checkpoint::save_model(&dir, &layer.clone().with_mode(Mode::Mean))?;
//! // The template only supplies the types and shapes; estimator and mode come from the file.
//! let loaded = checkpoint::load_model(&dir, BayesLinearConfig::new(3, 2).init(&device))?;
//! assert_eq!((loaded.estimator(), loaded.mode()), (Estimator::Flipout, Mode::Mean));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), bayesburn::Error>(())
//! ```
//!
//! Loading checks the checkpoint against the template (a model built from the same config)
//! before it changes anything: the same tensors with the same shapes, the same stochastic layers
//! at the same paths with the same prior family and convolution geometry. Anything else is an
//! [`Error::Checkpoint`](crate::Error::Checkpoint) naming the tensor or layer. Values come from the checkpoint: prior
//! hyper-parameters (which may have been tuned or set from data), estimator, mode.
//!
//! To resume: train with [`train::fit_with_state`](crate::train::fit_with_state), [`save`] the
//! model, optimizer and state, later [`load`] them into a freshly built model and optimizer and
//! call `fit_with_state` again with the loaded state. The parameters come out bit-identical to
//! an uninterrupted run. A hand-written loop can do the same by keeping its own [`TrainState`](crate::train::TrainState)
//! (at least `step`, and `noise: Some(noise::state())` before saving; restore it with
//! [`noise::restore`](crate::noise::restore) after loading).

mod io;
mod layers;
mod manifest;

pub use io::{load, load_model, save, save_model};
pub use layers::{LayerKind, LayerState, LayerStates};
