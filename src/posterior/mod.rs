//! Variational families for weights and their priors.
//!
//! A variational weight tensor is a mean-field Normal `q(w) = N(mu, sigma^2)` with
//! `sigma = softplus(rho)`, stored as two ordinary burn `Param`s (`mu`, `rho`) so optimizers,
//! records and devices just work. [`Prior`] is the distribution the KL term pulls towards;
//! [`PosteriorInit`] says how `mu` and `rho` start; [`moped`] initialises them from a trained
//! deterministic layer.

mod init;
mod prior;

pub use init::{moped, MuInit, PosteriorInit};
pub use prior::Prior;

use burn::prelude::*;
use burn::tensor::activation::relu;

/// `softplus(rho) = log(1 + exp(rho))`, written as `relu(rho) + log1p(exp(-|rho|))` so it
/// neither overflows for large `rho` nor loses precision for very negative `rho`.
pub fn softplus<const D: usize>(rho: Tensor<D>) -> Tensor<D> {
    let tail = rho.clone().abs().neg().exp().log1p();
    relu(rho) + tail
}

/// The `rho` whose softplus is `sigma`: `log(expm1(sigma))` (for `sigma > 0`).
pub fn inverse_softplus(sigma: f64) -> f64 {
    if sigma > 30.0 {
        sigma + (-(-sigma).exp()).ln_1p()
    } else {
        sigma.exp_m1().ln()
    }
}

/// Closed-form `KL(N(mu, sigma^2) || N(loc, scale^2))`, summed over all elements, shape `[1]`.
///
/// `sum[ log(scale/sigma) + (sigma^2 + (mu - loc)^2) / (2 scale^2) - 1/2 ]`.
pub fn kl_normal_normal_sum<const D: usize>(
    mu: Tensor<D>,
    sigma: Tensor<D>,
    loc: Option<Tensor<D>>,
    loc_scalar: f64,
    scale: f64,
) -> Tensor<1> {
    let diff = match loc {
        Some(loc) => mu - loc,
        None => mu.sub_scalar(loc_scalar),
    };
    let n = diff.shape().num_elements() as f64;
    let quad = (sigma.clone().square() + diff.square()).sum().div_scalar(2.0 * scale * scale);
    // sum log(scale / sigma) = n log(scale) - sum log(sigma)
    quad - sigma.log().sum() + (n * (scale.ln() - 0.5))
}
