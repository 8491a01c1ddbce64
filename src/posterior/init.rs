//! How variational parameters start.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{check_positive, Error, Result};

/// Initial distribution of the posterior means `mu`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MuInit {
    /// `N(mean, std^2)` (bayesian-torch and the peers use `N(0, 0.1)`).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (> 0).
        std: f64,
    },
    /// `U(low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound (> low).
        high: f64,
    },
    /// Kaiming-uniform `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, burn's `Linear` default.
    KaimingUniform,
}

/// Initialisation of a mean-field Normal posterior `N(mu, softplus(rho)^2)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PosteriorInit {
    /// How the means start.
    pub mu: MuInit,
    /// The initial `rho` of every weight: `sigma = softplus(rho)`. `-5` gives
    /// `sigma ~ 6.7e-3`, small enough that training starts from a near-deterministic network.
    pub rho: f64,
}

impl Default for PosteriorInit {
    /// `mu ~ N(0, 0.1^2)`, `rho = -5` (the convention of bayesian-torch and the peers).
    fn default() -> Self {
        PosteriorInit { mu: MuInit::Normal { mean: 0.0, std: 0.1 }, rho: -5.0 }
    }
}

impl PosteriorInit {
    /// Checks the values; `context` names the config that holds them.
    pub fn validate(&self, context: &'static str) -> Result<()> {
        if !self.rho.is_finite() {
            return Err(Error::invalid(
                context,
                "rho init",
                self.rho,
                "finite",
                "use a value such as -5.0 (sigma = softplus(rho))",
            ));
        }
        match self.mu {
            MuInit::Normal { mean, std } => {
                if !mean.is_finite() {
                    return Err(Error::invalid(
                        context,
                        "mu init mean",
                        mean,
                        "finite",
                        "use a finite mean such as 0.0",
                    ));
                }
                check_positive(context, "mu init std", std, "use a positive standard deviation such as 0.1")
            }
            MuInit::Uniform { low, high } => {
                if low.is_finite() && high.is_finite() && low < high {
                    Ok(())
                } else {
                    Err(Error::invalid(
                        context,
                        "mu init high",
                        high,
                        "finite and > low",
                        "use bounds with low < high such as (-0.1, 0.1)",
                    ))
                }
            }
            MuInit::KaimingUniform => Ok(()),
        }
    }

    /// Draws initial means of `shape` (`fan_in` is used by Kaiming initialisation).
    pub fn init_mu<const D: usize>(&self, shape: [usize; D], fan_in: usize, device: &Device) -> Tensor<D> {
        match self.mu {
            MuInit::Normal { mean, std } => crate::noise::normal(shape, device).mul_scalar(std).add_scalar(mean),
            MuInit::Uniform { low, high } => crate::noise::uniform(shape, low, high, device),
            MuInit::KaimingUniform => {
                let k = 1.0 / (fan_in.max(1) as f64).sqrt();
                crate::noise::uniform(shape, -k, k, device)
            }
        }
    }

    /// Initial `rho` tensor of `shape`.
    pub fn init_rho<const D: usize>(&self, shape: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::full(shape, self.rho, device)
    }
}

/// MOPED initialisation (Krishnan et al. 2020) from trained deterministic weights `w`:
/// `mu = w`, `sigma = delta * |w|` (floored at `1e-6` so `rho` stays finite). Returns
/// `(mu, rho)`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `delta` is not positive.
pub fn moped<const D: usize>(w: Tensor<D>, delta: f64) -> Result<(Tensor<D>, Tensor<D>)> {
    check_positive("moped", "delta", delta, "use a small positive factor such as 0.1")?;
    let sigma = w.clone().abs().mul_scalar(delta).clamp_min(1e-6);
    // rho = log(expm1(sigma)); for small sigma use log(sigma) + sigma/2 to keep precision.
    let small = sigma.clone().lower_elem(1e-2);
    let series = sigma.clone().log() + sigma.clone().div_scalar(2.0);
    let direct = sigma.exp().sub_scalar(1.0).log();
    let rho = direct.mask_where(small, series);
    Ok((w, rho))
}
