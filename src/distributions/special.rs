//! Scalar special functions for the Student-t constants (`df` is a scalar), from statrs.

pub(crate) use statrs::function::beta::ln_beta;
pub(crate) use statrs::function::gamma::{digamma, ln_gamma};
