//! Probabilistic programming: models that are not layer stacks.
//!
//! The vocabulary follows Pyro/NumPyro. This module is being built up; today it holds the
//! interface between models and samplers:
//!
//! - [`Potential`]: the negative log joint density `U(q) = -log p(q, data)` of a model on an
//!   **unconstrained** real vector `q` (log-Jacobians of the constraining transforms included),
//!   with its gradient. MCMC (NUTS) only ever sees a model through this trait.
//! - [`mcmc`]: the No-U-Turn Sampler over a [`Potential`] (Stan's multinomial variant and
//!   warmup), several chains, split R-hat and bulk ESS.

pub mod mcmc;
mod potential;

pub use potential::Potential;
