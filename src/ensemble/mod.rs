//! Deep ensembles (Lakshminarayanan, Pritzel & Blundell 2017).
//!
//! `M` networks with independent initialisations (and independent minibatch orders) are
//! trained separately, each with a proper scoring rule (typically the Gaussian NLL of a
//! [`GaussianHead`](crate::layers::GaussianHead)); the prediction is the uniform mixture of the members' predictive
//! distributions (§2.4):
//!
//! - mean `mu* = (1/M) sum_m mu_m`,
//! - variance `sigma*^2 = (1/M) sum_m (sigma_m^2 + mu_m^2) - mu*^2`,
//!
//! which splits (law of total variance) into aleatoric `mean_m sigma_m^2` and epistemic
//! `var_m mu_m`. The members' outputs are stacked on the sample axis (`[M, N, D]`), so the
//! summary is [`predict::RegressionAccumulator`](crate::predict::RegressionAccumulator)'s, as
//! for Bayes-by-backprop or MC dropout samples.
//!
//! Randomness: [`Ensemble::init`] and the fit functions draw one seed per member from the
//! calling thread's [`noise`](crate::noise) source and run that member's initialisation (or training) under
//! it, so a whole ensemble is reproducible under one outer [`noise::with_seed`](crate::noise::with_seed), and
//! [`Ensemble::fit`] and [`Ensemble::fit_parallel`] train identical members.
//!
//! For small members, [`StackedLinear`] and [`fit_stacked`] put all `M` members on a leading
//! axis and train them in one batched step (each with its own minibatch order); the stacked
//! network's `[M, N, D]` output is summarised the same way.
//!
//! ```ignore
//! let ensemble = noise::with_seed(0, || Ensemble::init(5, |_| Net::new(&device)))?;
//! let (ensemble, histories) = ensemble.fit_parallel(|| AdamConfig::new().init(), n, &cfg, |net, batch| {
//!     let out = net.predict(batch.select(x.clone()));
//!     elbo.loss(nll.forward_no_reduction(out.mean, out.var, batch.select(y.clone())), None, batch.step)
//! })?;
//! let summary = ensemble.valid().summary(x_test)?;   // mean, aleatoric_var, epistemic_var
//! ```

mod members;
mod stacked;

pub use members::{Ensemble, Member};
pub use stacked::{fit_stacked, StackedBatch, StackedLinear, StackedLinearConfig};
