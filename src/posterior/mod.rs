//! Variational families for weights and their priors.
//!
//! A variational weight tensor is a [`MeanField`] Normal `q(w) = N(mu, sigma^2)` with
//! `sigma = softplus(rho)`, stored as two ordinary burn `Param`s (`mu`, `rho`) so optimizers,
//! records and devices just work. [`Prior`] is the distribution the KL term pulls towards;
//! [`PosteriorInit`] says how `mu` and `rho` start; [`moped`] initialises them from a trained
//! deterministic layer.

mod gaussian;
mod init;
mod mean_field;
mod prior;

pub use gaussian::{inverse_softplus, kl_normal_normal_sum, sigma_of_rho, softplus, softplus_f64, SIGMA_RHO_MAX};
pub use init::{moped, MuInit, PosteriorInit};
pub(crate) use mean_field::{layer_kl, layer_kl_estimate, layer_stats};
pub use mean_field::{MeanField, PriorCentre};
pub use prior::{KlEstimate, Prior};
