//! Variational families for weights and their priors.
//!
//! A variational weight tensor is a mean-field Normal `q(w) = N(mu, sigma^2)` with
//! `sigma = softplus(rho)`, stored as two ordinary burn `Param`s (`mu`, `rho`) so optimizers,
//! records and devices just work. [`Prior`] is the distribution the KL term pulls towards;
//! [`PosteriorInit`] says how `mu` and `rho` start; [`moped`] initialises them from a trained
//! deterministic layer.

mod gaussian;
mod init;
mod prior;

pub use gaussian::{inverse_softplus, kl_normal_normal_sum, sigma_of_rho, softplus, SIGMA_RHO_MAX};
pub use init::{moped, MuInit, PosteriorInit};
pub use prior::Prior;
