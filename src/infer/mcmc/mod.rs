//! MCMC: the No-U-Turn Sampler on a [`Potential`](crate::infer::Potential), with Stan's warmup and diagnostics.
//!
//! ```
//! use bayesburn::infer::mcmc::{Mcmc, NutsConfig};
//! use bayesburn::infer::Potential;
//!
//! /// A standard normal in two dimensions: U(q) = |q|² / 2.
//! struct StdNormal;
//! impl Potential for StdNormal {
//!     fn dim(&self) -> usize { 2 }
//!     fn value_and_grad(&self, q: &[f64]) -> bayesburn::Result<(f64, Vec<f64>)> {
//!         Ok((0.5 * q.iter().map(|x| x * x).sum::<f64>(), q.to_vec()))
//!     }
//! }
//!
//! let config = NutsConfig::default().with_num_warmup(200).with_num_samples(200).with_num_chains(2);
//! let result = Mcmc::new(config)?.run(&StdNormal)?;
//! assert_eq!(result.draws.len(), 2); // [chain][draw][dim]
//! assert_eq!(result.draws[0].len(), 200);
//! let summary = result.summary()?; // per coordinate: mean, sd, MCSE, bulk ESS, R-hat
//! assert!(summary[0].mean.abs() < 6.0 * summary[0].mcse_mean);
//! # Ok::<(), bayesburn::Error>(())
//! ```
//!
//! - [`nuts`]: one transition (multinomial NUTS as in Stan) and its [`DrawStats`].
//! - [`adapt`]: dual-averaging step size, initial step-size heuristic, windowed diagonal mass
//!   matrix.
//! - [`diagnostics`]: rank-normalized split R-hat, bulk ESS, MCSE of the mean.
//!
//! **Chains and threads.** Chain `c` is seeded with the `c`-th [`noise::next_seed`](crate::noise::next_seed) of a
//! source seeded with [`NutsConfig::seed`], and every random number of that chain comes from
//! the [`noise`](crate::noise) source of the thread that runs it, seeded with that value. A chain's draws
//! therefore depend only on the seed and the chain index, whether chains run in parallel or one
//! after the other. [`Mcmc::run`] needs a `Sync` potential and runs chains on scoped threads
//! (or sequentially with [`ChainMethod::Sequential`]); [`Mcmc::run_sequential`] accepts any
//! potential (one holding burn tensors or `Rc`s, for instance) and runs the chains one after the
//! other on the calling thread.

pub mod adapt;
pub mod diagnostics;
pub mod nuts;
mod sampler;

pub use diagnostics::Summary;
pub use nuts::{DrawStats, MAX_DELTA_H};
pub use sampler::{ChainMethod, InitStrategy, Mcmc, McmcResult, NutsConfig};
