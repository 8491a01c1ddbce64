//! The evidence lower bound of a VAE and the importance-weighted bound.

use burn::prelude::*;

use super::latent::standard_normal_log_prob;
use super::Vae;
use crate::error::{check_nonzero, Error, Result};
use crate::objective::ElboTerms;

/// The ELBO of a batch, per example: `E_q[log p(x | z)] - KL(q(z | x) || N(0, I))`.
#[derive(Debug, Clone)]
pub struct VaeElbo {
    /// Monte-Carlo estimate of `E_q[log p(x | z)]` (mean over the latent samples), `[N]`.
    pub log_likelihood: Tensor<1>,
    /// `KL(q(z | x) || N(0, I))` in closed form, `[N]`.
    pub kl: Tensor<1>,
    /// Weight of the KL in [`loss`](Self::loss) (1: the ELBO; other values: the beta-VAE).
    pub beta: f64,
}

impl VaeElbo {
    /// The ELBO per example (always with `beta = 1`, so it is a bound on `log p(x)`), `[N]`.
    pub fn elbo(&self) -> Tensor<1> {
        self.log_likelihood.clone() - self.kl.clone()
    }

    /// The training loss: `mean_n -(log_likelihood - beta * kl)`, `[1]`.
    pub fn loss(&self) -> Tensor<1> {
        (self.kl.clone().mul_scalar(self.beta) - self.log_likelihood.clone()).mean()
    }

    /// The terms for [`train::fit`](crate::train::fit): `loss`, `nll = mean_n -log_likelihood`,
    /// `kl = mean_n kl`, `beta`, all per example.
    pub fn terms(&self) -> ElboTerms {
        ElboTerms {
            loss: self.loss(),
            nll: self.log_likelihood.clone().mean().neg(),
            kl: self.kl.clone().mean(),
            beta: self.beta,
        }
    }
}

/// The ELBO of `x` under `model` with `samples` reparameterized latent draws per example
/// (Kingma & Welling 2014, eq. 10, with the KL in closed form) and KL weight `beta` (Higgins et
/// al. 2017; `beta = 1` is the ELBO). Differentiable in the model's parameters.
///
/// # Shapes
/// - `x`: `[N, D]`
///
/// # Errors
/// [`Error::InvalidParameter`] for `samples = 0` or a negative or non-finite `beta`; what the
/// model's `encode` and `decode` report.
pub fn elbo<V: Vae>(model: &V, x: Tensor<2>, samples: usize, beta: f64) -> Result<VaeElbo> {
    check_nonzero("vae::elbo", "samples", samples, "draw at least one latent sample")?;
    if !(beta.is_finite() && beta >= 0.0) {
        return Err(Error::invalid("vae::elbo", "beta", beta, ">= 0 and finite", "use 1 for the ELBO"));
    }
    let q = model.encode(x.clone())?;
    let z = q.rsample(samples);
    let log_likelihood: Tensor<1> = model.decode(z)?.log_prob(x)?.mean_dim(0).squeeze_dim(0);
    Ok(VaeElbo { log_likelihood, kl: q.kl_to_standard_normal(), beta })
}

/// Log importance weights `log p(x, z_i) - log q(z_i | x)` of `k` draws `z_i ~ q(z | x)`.
///
/// # Shapes
/// - `x`: `[N, D]`
/// - output: `[k, N]`
///
/// # Errors
/// [`Error::InvalidParameter`] for `k = 0`; what the model's `encode` and `decode` report.
pub fn log_weights<V: Vae>(model: &V, x: Tensor<2>, k: usize) -> Result<Tensor<2>> {
    check_nonzero("vae::log_weights", "k", k, "draw at least one importance sample")?;
    let q = model.encode(x.clone())?;
    let z = q.rsample(k);
    let log_joint = model.decode(z.clone())?.log_prob(x)? + standard_normal_log_prob(z.clone());
    Ok(log_joint - q.log_prob(z))
}

/// The importance-weighted bound with `k` samples (Burda et al. 2016, eq. 8),
/// `log (1/k) sum_i exp(w_i)` with `w_i` the [`log_weights`], per example, computed with a
/// max-shifted log-sum-exp in chunks of at most `chunk` samples (the `[chunk, N, D]`
/// reconstruction is the memory peak). `k = 1` is a one-sample ELBO estimate; the bound grows
/// with `k` towards `log p(x)`.
///
/// # Shapes
/// - `x`: `[N, D]`
/// - output: `[N]`
///
/// # Errors
/// [`Error::InvalidParameter`] for `k = 0` or `chunk = 0`; what the model reports.
pub fn iwae_bound<V: Vae>(model: &V, x: Tensor<2>, k: usize, chunk: usize) -> Result<Tensor<1>> {
    check_nonzero("vae::iwae_bound", "k", k, "draw at least one importance sample")?;
    check_nonzero("vae::iwae_bound", "chunk", chunk, "use e.g. 100 samples per chunk")?;
    let mut parts = Vec::new();
    let mut left = k;
    while left > 0 {
        let now = left.min(chunk);
        parts.push(log_weights(model, x.clone(), now)?);
        left -= now;
    }
    let w = Tensor::cat(parts, 0); // [k, N]
    let [_, n] = w.dims();
    let shift = w.clone().max_dim(0).detach(); // [1, N]
    let lse = (w - shift.clone()).exp().sum_dim(0).log() + shift;
    Ok(lse.sub_scalar((k as f64).ln()).reshape([n]))
}
