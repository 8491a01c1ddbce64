//! Probabilistic programming: models that are not layer stacks.
//!
//! The vocabulary follows Pyro/NumPyro. A model is a `#[model]` function whose body uses
//! `sample!`, `observe!`, `param!` and `plate!`; it runs in a [`Ctx`] that records a
//! [`Trace`]. Effect handlers ([`condition`], [`substitute`], [`replay`], [`scale`],
//! [`block`], [`seed`]) wrap models into models. Inference sees models only through traces:
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
//! - [`Predictive`] draws posterior predictive samples from a guide or from posterior draws.
//! - [`random_module`] puts a prior on every parameter of a burn module (a BNN in a model).

pub mod mcmc;

mod auto_normal;
mod beta;
mod constraint;
mod ctx;
mod guide;
mod handlers;
mod layout;
mod macros;
mod model_potential;
mod params;
mod potential;
mod predictive;
mod random_module;
mod site_dist;
mod svi;
mod trace;
mod value;

pub use auto_normal::{AutoMultivariateNormal, AutoNormal};
pub use bayesburn_macros::model;
pub use beta::Beta;
pub use constraint::Constraint;
pub use ctx::{trace, Ctx, Model, Plate};
pub use guide::{AutoDelta, Guide, GuideDraw, ModelGuide};
pub use handlers::{block, condition, replay, scale, seed, substitute, Handled, Handler, Seeded};
pub use layout::{LatentLayout, LatentSlot};
pub use model_potential::ModelPotential;
pub use params::ParamStore;
pub use potential::Potential;
pub use predictive::Predictive;
pub use random_module::random_module;
pub use site_dist::{Delta, Family, SiteDist, SiteDistribution};
pub use svi::{ElboEstimate, ElboObjective, Svi, SviStep, TraceElbo, TraceMeanFieldElbo};
pub use trace::{PlateFrame, Site, SiteKind, Trace};
pub use value::{Value, Values};
