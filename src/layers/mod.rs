//! Variational layers.
//!
//! - [`BayesLinear`]: fully connected, mean-field Normal weights; estimators
//!   [`Estimator::Reparameterization`] (Bayes-by-backprop), [`Estimator::Flipout`] and
//!   [`Estimator::LocalReparameterization`].
//! - [`BayesConv2d`]: the same for 2-D convolutions.
//! - [`McDropout`]: dropout that samples masks at prediction time too.
//! - [`GaussianHead`], [`ClassificationHead`]: heteroscedastic heads that predict their noise.
//!
//! Every layer keeps dimension 0 as the Monte-Carlo sample axis `S`: `[S, N, ...]` in,
//! `[S, N, ...]` out, with the S posterior samples drawn in one batched call. Expand a
//! deterministic batch `[N, d]` with `x.unsqueeze::<3>().repeat_dim(0, s)` before the first layer.
//!
//! All layers implement [`Bayesian`](crate::Bayesian): `kl()` (exact sum, or `None` for
//! dropout), `with_mode(Mode::Mean)` and `posterior_stats()`.

mod checks;
mod conv2d;
mod dropout;
mod estimator;
mod heads;
mod linear;

pub use conv2d::{BayesConv2d, BayesConv2dConfig};
pub use dropout::{McDropout, McDropoutConfig};
pub use estimator::Estimator;
pub use heads::*;
pub use linear::{BayesLinear, BayesLinearConfig};
