//! The [`Bayesian`] trait: what a module with variational weights offers, what
//! `#[derive(Bayesian)]` generates for a network built from such modules, and the
//! implementations for containers and for burn's deterministic modules.

mod base;
mod containers;
mod deterministic;

pub use base::*;
