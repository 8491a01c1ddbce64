//! Inference: what turns a model into a posterior. It knows models only through their
//! [traces](crate::ppl::Trace), as NumPyro's `infer` does.
//!
//! - [`Potential`]: the negative log joint density `U(q) = -log p(q, data)` of a model on an
//!   **unconstrained** real vector `q` (log-Jacobians of the constraining transforms included),
//!   with its gradient. MCMC (NUTS) only ever sees a model through this trait.
//! - [`mcmc`]: the No-U-Turn Sampler over a [`Potential`] (Stan's multinomial variant and
//!   warmup), several chains, split R-hat and bulk ESS.
//! - [`ModelPotential`] turns the latent sites into one unconstrained vector and implements
//!   [`Potential`] (`U(q) = -log p(q, data)` with log-Jacobians, and its gradient) for NUTS.
//! - Guides ([`AutoNormal`], [`AutoMultivariateNormal`], [`AutoDelta`], or any `#[model]`
//!   function with `param!` sites through [`ModelGuide`]) are fitted by [`Svi`] with a
//!   [`TraceElbo`] or [`TraceMeanFieldElbo`] and any burn optimizer.
//! - [`Mcmc::run_model`](mcmc::Mcmc::run_model) returns [`McmcSamples`]: the draws per site,
//!   constrained and shaped as the site, `deterministic!` sites included, with NumPyro's
//!   `print_summary` and `get_samples(group_by_chain)`, an ArviZ export and a checkpoint.
//! - [`Predictive`] draws posterior predictive samples from a guide or from posterior draws
//!   (one model run per draw); [`BatchedPredictive`] runs all draws in one pass for a model
//!   written with a leading sample axis. Both summarise a site into the aleatoric/epistemic
//!   split of [`predict::regression`](crate::predict::regression).

pub mod mcmc;

mod auto_normal;
mod guide;
mod layout;
mod model_potential;
mod potential;
mod predictive;
mod samples;
mod svi;
mod tape;

pub use auto_normal::{AutoMultivariateNormal, AutoNormal};
pub use guide::{AutoDelta, Guide, GuideDraw, ModelGuide};
pub use layout::{LatentLayout, LatentSlot};
pub use model_potential::{ModelPotential, TapeStatus};
pub use potential::Potential;
pub use predictive::{BatchedPredictive, Predictive};
pub use samples::{Draws, McmcSamples, SampleKind, SiteSamples, SummaryRow};
pub use svi::{ElboEstimate, ElboObjective, Svi, SviStep, TraceElbo, TraceMeanFieldElbo};
