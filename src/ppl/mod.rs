//! Probabilistic programming: the model runtime — models that are not layer stacks.
//!
//! The vocabulary follows Pyro/NumPyro. A model is a `#[model]` function whose body uses
//! `sample!`, `observe!`, `param!`, `plate!` and `deterministic!`; it runs in a [`Ctx`] that records a
//! [`Trace`]. Effect handlers ([`condition`], [`substitute`], [`replay`], [`scale`],
//! [`block`], [`seed`]) wrap models into models. [`random_module`] puts a prior on every
//! parameter of a burn module (a BNN in a model).
//!
//! This module is NumPyro's `primitives` and `handlers`; inference (SVI, guides, NUTS,
//! `Predictive`) lives in [`crate::infer`] and sees models only through their traces, and the
//! distributions and constraints of the sites in [`crate::distributions`].

pub(crate) mod ctx;
pub(crate) mod handlers;
mod macros;
pub(crate) mod params;
mod random_module;
pub(crate) mod trace;
pub(crate) mod value;

/// `deterministic!("name", value)` inside a `#[model]` function: a recorded function of other
/// sites (NumPyro's `deterministic`), reported by MCMC samples and predictive draws. Not the
/// crate-root `bayesburn::deterministic!` (modules without random weights).
pub use crate::__ppl_deterministic as deterministic;
pub use bayesburn_macros::model;
pub use ctx::{trace, Ctx, Model, Plate};
pub use handlers::{block, condition, replay, scale, seed, substitute, Handled, Handler, Seeded};
pub use params::ParamStore;
pub use random_module::random_module;
pub use trace::{PlateFrame, Site, SiteKind, Trace};
pub use value::{Value, Values};
