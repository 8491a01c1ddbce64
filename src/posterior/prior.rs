//! Weight priors.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::distributions::LN_SQRT_2PI;
use crate::error::{check_positive, Error, Result};

/// The prior `p(w)` of a variational layer's weights (the same prior on every element).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Prior {
    /// `N(loc, scale^2)`. The KL from a mean-field Normal posterior has a closed form.
    Normal {
        /// Prior mean.
        loc: f64,
        /// Prior standard deviation (> 0).
        scale: f64,
    },
    /// The two-component scale mixture of Blundell et al. 2015 (eq. 7):
    /// `pi N(0, sigma1^2) + (1 - pi) N(0, sigma2^2)`, typically `sigma1 > sigma2` with
    /// `sigma2 << 1`. No closed-form KL: a one-sample Monte-Carlo estimate is used.
    ScaleMixture {
        /// Weight of the first component, in `(0, 1)`.
        pi: f64,
        /// Standard deviation of the first (wide) component (> 0).
        sigma1: f64,
        /// Standard deviation of the second (narrow) component (> 0).
        sigma2: f64,
    },
}

impl Default for Prior {
    /// The standard normal prior `N(0, 1)`.
    fn default() -> Self {
        Prior::Normal { loc: 0.0, scale: 1.0 }
    }
}

impl std::fmt::Display for Prior {
    /// `N(loc, scale^2)` as `Normal(loc, scale)`, the mixture as
    /// `ScaleMixture(pi, sigma1, sigma2)`: what a layer's display shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Prior::Normal { loc, scale } => write!(f, "Normal(loc={loc}, scale={scale})"),
            Prior::ScaleMixture { pi, sigma1, sigma2 } => {
                write!(f, "ScaleMixture(pi={pi}, sigma1={sigma1}, sigma2={sigma2})")
            }
        }
    }
}

impl Prior {
    /// The standard normal prior `N(0, 1)`.
    pub fn standard_normal() -> Self {
        Self::default()
    }

    /// Checks the hyper-parameters; `context` names the config that holds the prior.
    pub fn validate(&self, context: &'static str) -> Result<()> {
        match *self {
            Prior::Normal { loc, scale } => {
                if !loc.is_finite() {
                    return Err(Error::invalid(
                        context,
                        "prior loc",
                        loc,
                        "finite",
                        "use a finite prior mean such as 0.0",
                    ));
                }
                check_positive(context, "prior scale", scale, "use a positive prior standard deviation such as 1.0")
            }
            Prior::ScaleMixture { pi, sigma1, sigma2 } => {
                if !(pi > 0.0 && pi < 1.0) {
                    return Err(Error::invalid(
                        context,
                        "prior pi",
                        pi,
                        "in (0, 1)",
                        "use a mixture weight strictly between 0 and 1 such as 0.5 (for a single Gaussian use Prior::Normal)",
                    ));
                }
                check_positive(context, "prior sigma1", sigma1, "use a positive standard deviation such as 1.0")?;
                check_positive(context, "prior sigma2", sigma2, "use a positive standard deviation such as 0.0025")
            }
        }
    }

    /// The standard deviation of the prior (for the mixture, of the whole mixture).
    pub fn scale(&self) -> f64 {
        match *self {
            Prior::Normal { scale, .. } => scale,
            Prior::ScaleMixture { pi, sigma1, sigma2 } => (pi * sigma1 * sigma1 + (1.0 - pi) * sigma2 * sigma2).sqrt(),
        }
    }

    /// The mean of the prior.
    pub fn loc(&self) -> f64 {
        match *self {
            Prior::Normal { loc, .. } => loc,
            Prior::ScaleMixture { .. } => 0.0,
        }
    }

    /// Elementwise `log p(w)`.
    pub fn log_prob<const D: usize>(&self, w: Tensor<D>) -> Tensor<D> {
        match *self {
            Prior::Normal { loc, scale } => {
                w.sub_scalar(loc).div_scalar(scale).square().mul_scalar(-0.5).sub_scalar(scale.ln() + LN_SQRT_2PI)
            }
            Prior::ScaleMixture { pi, sigma1, sigma2 } => {
                crate::distributions::scale_mixture_log_prob(w, pi, sigma1, sigma2)
            }
        }
    }

    /// `KL(N(mu, sigma^2) || prior)` summed over all elements, shape `[1]`.
    ///
    /// Closed form for [`Prior::Normal`] (with an optional elementwise prior mean `loc`, used by
    /// data-dependent MOPED priors). For [`Prior::ScaleMixture`] a one-sample Monte-Carlo
    /// estimate `log q(w) - log p(w)` at `w = mu + sigma * eps` (Blundell et al. 2015, eq. 2),
    /// unbiased and differentiable through `mu` and `sigma`.
    pub fn kl<const D: usize>(&self, mu: Tensor<D>, sigma: Tensor<D>, loc: Option<Tensor<D>>) -> Tensor<1> {
        match *self {
            Prior::Normal { loc: loc_scalar, scale } => super::kl_normal_normal_sum(mu, sigma, loc, loc_scalar, scale),
            Prior::ScaleMixture { .. } => {
                let eps = crate::noise::normal(mu.dims(), &mu.device());
                let w = mu.clone() + sigma.clone() * eps.clone();
                // log q(w) with w - mu = sigma * eps: -eps^2/2 - log sigma - log sqrt(2 pi)
                let log_q = eps.square().mul_scalar(-0.5) - sigma.log() - LN_SQRT_2PI;
                let log_p = match loc {
                    Some(loc) => self.log_prob(w - loc),
                    None => self.log_prob(w),
                };
                (log_q - log_p).sum()
            }
        }
    }

    /// `KL(q || p)` summed over all elements, shape `[1]`, for `q = N(mu, softplus(rho)^2)` given
    /// by its parameters `mu` and `rho`, as the variational layers store them. For a Normal prior
    /// this is one fused autodiff operation ([`ops::kl_normal_sum`](crate::ops::kl_normal_sum));
    /// for the scale mixture, the one-sample Monte-Carlo estimate of [`kl`](Self::kl).
    pub fn kl_rho<const D: usize>(&self, mu: Tensor<D>, rho: Tensor<D>) -> Tensor<1> {
        match *self {
            Prior::Normal { loc, scale } => crate::ops::kl_normal_sum(mu, rho, loc, scale),
            Prior::ScaleMixture { .. } => self.kl(mu, super::sigma_of_rho(rho), None),
        }
    }

    /// Whether a posterior element is "at the prior": mean within 5 % of the prior scale from
    /// the prior mean and sigma within 5 % of the prior scale. Returns a 0/1 float tensor.
    pub fn at_prior_mask<const D: usize>(&self, mu: Tensor<D>, sigma: Tensor<D>, loc: Option<Tensor<D>>) -> Tensor<D> {
        let scale = self.scale();
        let diff = match loc {
            Some(loc) => mu - loc,
            None => mu.sub_scalar(self.loc()),
        };
        let mean_ok = diff.abs().lower_equal_elem(0.05 * scale);
        let sd_ok = sigma.sub_scalar(scale).abs().lower_equal_elem(0.05 * scale);
        mean_ok.bool_and(sd_ok).float()
    }
}
