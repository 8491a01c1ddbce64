//! Weight priors, and the KL of a mean-field Normal posterior against them (see [`Prior`]).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::distributions::special::ln_gamma;
use crate::distributions::LN_SQRT_2PI;
use crate::error::{check_positive, Error, Result};

/// The prior `p(w)` of a variational layer's weights (the same prior on every element).
///
/// A [`Normal`](Prior::Normal) prior has a closed-form KL. The others have none: their KL is a
/// Monte-Carlo estimate at the reparameterized weight sample `w = mu + sigma * eps`, one draw per
/// weight in [`Prior::kl`] (what [`Bayesian::kl`](crate::Bayesian::kl) returns, differentiable
/// through `mu` and `sigma`), and many draws with their variance in [`Prior::kl_estimate`].
///
/// For [`Laplace`](Prior::Laplace), [`StudentT`](Prior::StudentT) and
/// [`Horseshoe`](Prior::Horseshoe) only the cross-entropy is sampled: the entropy of the Normal
/// posterior is exact, so one draw is `sum[-log sigma - ln(2 pi e)/2 - log p(w)]`. Its variance is
/// that of `log p(w)` alone, far below that of `log q(w) - log p(w)` when the posterior is narrow
/// (the usual case: the `eps^2 / 2` of `log q` has variance 1/2 per weight). The
/// [`ScaleMixture`](Prior::ScaleMixture) keeps Blundell et al.'s `log q(w) - log p(w)`.
///
/// The horseshoe is `w | lambda ~ N(0, (tau lambda)^2)` with `lambda ~ C+(0, 1)`; its KL uses the
/// exact marginal density of `w` (Carvalho, Polson & Scott 2010, eq. 4),
/// `p(w) = exp(z) E1(z) / (tau sqrt(2 pi^3))` with `z = w^2 / (2 tau^2)` and `E1` the exponential
/// integral, not a Monte-Carlo average over `lambda` (which would be biased upwards by Jensen's
/// inequality).
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
    /// `Laplace(loc, scale)`, density `exp(-|w - loc| / scale) / (2 scale)`: the Bayesian
    /// L1 penalty. Monte-Carlo KL.
    Laplace {
        /// Prior median.
        loc: f64,
        /// Scale `b` (> 0); the standard deviation is `b sqrt(2)`.
        scale: f64,
    },
    /// Student-t with `df` degrees of freedom, location `loc` and scale `scale`: heavier tails
    /// than a Normal (a Cauchy at `df = 1`). Monte-Carlo KL.
    StudentT {
        /// Degrees of freedom (> 0).
        df: f64,
        /// Location.
        loc: f64,
        /// Scale (> 0); the standard deviation is `scale sqrt(df / (df - 2))` for `df > 2`.
        scale: f64,
    },
    /// The horseshoe (Carvalho, Polson & Scott 2010): `w ~ N(0, (tau lambda)^2)` with a
    /// half-Cauchy local scale `lambda ~ C+(0, 1)` per weight, integrated out: a pole at 0 and
    /// Cauchy tails, so weights are either shrunk hard or left alone. Monte-Carlo KL against the
    /// exact marginal density (see [`Prior`]).
    Horseshoe {
        /// Global scale `tau` (> 0).
        tau: f64,
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
            Prior::Laplace { loc, scale } => write!(f, "Laplace(loc={loc}, scale={scale})"),
            Prior::StudentT { df, loc, scale } => write!(f, "StudentT(df={df}, loc={loc}, scale={scale})"),
            Prior::Horseshoe { tau } => write!(f, "Horseshoe(tau={tau})"),
        }
    }
}

/// A Monte-Carlo estimate of `KL(q || p)` summed over a tensor's weights, from
/// [`Prior::kl_estimate`]: the mean of `samples` independent draws of the estimator that
/// [`Prior::kl`] returns once, and the variance of one draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KlEstimate {
    /// The KL estimate (the mean over the draws; the exact value for a closed form).
    pub value: f64,
    /// The variance of one draw of [`Prior::kl`] (the sample variance over the draws); 0 for a
    /// closed form.
    pub variance: f64,
    /// The number of draws averaged; 0 for a closed form.
    pub samples: usize,
}

impl KlEstimate {
    /// The standard error of [`value`](Self::value): `sqrt(variance / samples)` (0 for a closed
    /// form).
    pub fn std_error(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            (self.variance / self.samples as f64).sqrt()
        }
    }

    /// Whether the value is a closed form rather than a Monte-Carlo estimate.
    pub fn is_exact(&self) -> bool {
        self.samples == 0
    }
}

impl std::ops::Add for KlEstimate {
    type Output = KlEstimate;

    /// The estimate of a sum of two independently estimated terms (a layer's weights and bias):
    /// the values and the variances of one draw add; the draw count is the smaller one (so the
    /// standard error is not understated).
    fn add(self, other: KlEstimate) -> KlEstimate {
        let samples = match (self.samples, other.samples) {
            (0, n) | (n, 0) => n,
            (a, b) => a.min(b),
        };
        KlEstimate { value: self.value + other.value, variance: self.variance + other.variance, samples }
    }
}

impl std::fmt::Display for KlEstimate {
    /// `12.3 (exact)` or `12.3 ± 0.04 (400 draws)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_exact() {
            write!(f, "{} (exact)", self.value)
        } else {
            write!(f, "{} ± {} ({} draws)", self.value, self.std_error(), self.samples)
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
                check_finite_loc(context, loc)?;
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
            Prior::Laplace { loc, scale } => {
                check_finite_loc(context, loc)?;
                check_positive(context, "prior scale", scale, "use a positive Laplace scale such as 0.1")
            }
            Prior::StudentT { df, loc, scale } => {
                check_positive(
                    context,
                    "prior df",
                    df,
                    "use positive degrees of freedom such as 3.0 (1.0 is a Cauchy)",
                )?;
                check_finite_loc(context, loc)?;
                check_positive(context, "prior scale", scale, "use a positive Student-t scale such as 1.0")
            }
            Prior::Horseshoe { tau } => {
                check_positive(context, "prior tau", tau, "use a positive global horseshoe scale such as 0.1")
            }
        }
    }

    /// The width of the prior: its standard deviation for the Normal, the mixture (of the whole
    /// mixture) and the Laplace (`scale sqrt(2)`); the scale parameter for the Student-t and
    /// `tau` for the horseshoe, whose variances may be infinite.
    pub fn scale(&self) -> f64 {
        match *self {
            Prior::Normal { scale, .. } | Prior::StudentT { scale, .. } => scale,
            Prior::ScaleMixture { pi, sigma1, sigma2 } => (pi * sigma1 * sigma1 + (1.0 - pi) * sigma2 * sigma2).sqrt(),
            Prior::Laplace { scale, .. } => scale * std::f64::consts::SQRT_2,
            Prior::Horseshoe { tau } => tau,
        }
    }

    /// The centre of the prior (its mean, or median where the mean does not exist).
    pub fn loc(&self) -> f64 {
        match *self {
            Prior::Normal { loc, .. } | Prior::Laplace { loc, .. } | Prior::StudentT { loc, .. } => loc,
            Prior::ScaleMixture { .. } | Prior::Horseshoe { .. } => 0.0,
        }
    }

    /// Whether `KL(N(mu, sigma^2) || prior)` has a closed form (only [`Prior::Normal`]); the
    /// others are Monte-Carlo estimates.
    pub fn has_closed_form_kl(&self) -> bool {
        matches!(self, Prior::Normal { .. })
    }

    /// Elementwise `log p(w)`.
    pub fn log_prob<const D: usize>(&self, w: Tensor<D>) -> Tensor<D> {
        self.log_prob_about(w, None)
    }

    /// Elementwise `log p(w)` with the prior centred on the elementwise `loc` when it is given
    /// (a data-dependent prior, e.g. MOPED's pretrained weights), in place of the scalar centre
    /// [`loc`](Self::loc).
    pub fn log_prob_about<const D: usize>(&self, w: Tensor<D>, loc: Option<Tensor<D>>) -> Tensor<D> {
        let x = match loc {
            Some(loc) => w - loc,
            None if self.loc() == 0.0 => w,
            None => w.sub_scalar(self.loc()),
        };
        match *self {
            Prior::Normal { scale, .. } => {
                x.div_scalar(scale).square().mul_scalar(-0.5).sub_scalar(scale.ln() + LN_SQRT_2PI)
            }
            Prior::ScaleMixture { pi, sigma1, sigma2 } => {
                crate::distributions::scale_mixture_log_prob(x, pi, sigma1, sigma2)
            }
            Prior::Laplace { scale, .. } => x.abs().div_scalar(-scale).sub_scalar((2.0 * scale).ln()),
            Prior::StudentT { df, scale, .. } => {
                let norm = ln_gamma((df + 1.0) / 2.0)
                    - ln_gamma(df / 2.0)
                    - 0.5 * (df * std::f64::consts::PI).ln()
                    - scale.ln();
                x.div_scalar(scale).square().div_scalar(df).log1p().mul_scalar(-(df + 1.0) / 2.0).add_scalar(norm)
            }
            Prior::Horseshoe { tau } => {
                let norm = -tau.ln() - 0.5 * (2.0 * std::f64::consts::PI.powi(3)).ln();
                log_scaled_e1(x.square().div_scalar(2.0 * tau * tau)).add_scalar(norm)
            }
        }
    }

    /// `KL(N(mu, sigma^2) || prior)` summed over all elements, shape `[1]`; `loc` is an optional
    /// elementwise prior centre (data-dependent MOPED priors) that replaces the scalar one.
    ///
    /// Closed form for [`Prior::Normal`]. For the others a one-sample Monte-Carlo estimate at
    /// `w = mu + sigma * eps` with fresh noise from [`noise`](crate::noise), unbiased and
    /// differentiable through `mu` and `sigma`: `log q(w) - log p(w)` for
    /// [`Prior::ScaleMixture`] (Blundell et al. 2015, eq. 2), the exact negative entropy of `q`
    /// minus `log p(w)` for the Laplace, Student-t and horseshoe priors (see the
    /// documentation of [`Prior`]). [`kl_estimate`](Self::kl_estimate) averages many draws and
    /// reports their variance.
    pub fn kl<const D: usize>(&self, mu: Tensor<D>, sigma: Tensor<D>, loc: Option<Tensor<D>>) -> Tensor<1> {
        match *self {
            Prior::Normal { loc: loc_scalar, scale } => super::kl_normal_normal_sum(mu, sigma, loc, loc_scalar, scale),
            Prior::ScaleMixture { .. } => {
                let eps = crate::noise::normal(mu.dims(), &mu.device());
                let w = mu.clone() + sigma.clone() * eps.clone();
                // log q(w) with w - mu = sigma * eps: -eps^2/2 - log sigma - log sqrt(2 pi)
                let log_q = eps.square().mul_scalar(-0.5) - sigma.log() - LN_SQRT_2PI;
                (log_q - self.log_prob_about(w, loc)).sum()
            }
            Prior::Laplace { .. } | Prior::StudentT { .. } | Prior::Horseshoe { .. } => {
                let n = mu.shape().num_elements() as f64;
                let eps = crate::noise::normal(mu.dims(), &mu.device());
                let w = mu + sigma.clone() * eps;
                // -H(q) = sum[-log sigma] - n (ln(2 pi) + 1) / 2, exact; only E_q[log p] is sampled.
                let log_p = self.log_prob_about(w, loc);
                (sigma.log() + log_p).sum().neg().sub_scalar(n * (LN_SQRT_2PI + 0.5))
            }
        }
    }

    /// [`kl`](Self::kl) averaged over `samples` independent draws, with the variance of one
    /// draw: how noisy the KL term a [`Bayesian::kl`](crate::Bayesian::kl) call returns is. For
    /// [`Prior::Normal`] the closed form, with variance 0 and `samples` 0. Reads `samples`
    /// scalars back to the host; not differentiable (a diagnostic, not a loss).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `samples < 2` (a variance needs two draws).
    pub fn kl_estimate<const D: usize>(
        &self,
        mu: Tensor<D>,
        sigma: Tensor<D>,
        loc: Option<Tensor<D>>,
        samples: usize,
    ) -> Result<KlEstimate> {
        if samples < 2 {
            return Err(Error::invalid(
                "Prior::kl_estimate",
                "samples",
                samples,
                ">= 2",
                "draw at least 2 samples (a few hundred for a standard error to within 10 %)",
            ));
        }
        let (mu, sigma, loc) = (mu.detach(), sigma.detach(), loc.map(Tensor::detach));
        if self.has_closed_form_kl() {
            let value = self.kl(mu, sigma, loc).into_scalar::<f64>();
            return Ok(KlEstimate { value, variance: 0.0, samples: 0 });
        }
        let draws: Vec<f64> =
            (0..samples).map(|_| self.kl(mu.clone(), sigma.clone(), loc.clone()).into_scalar::<f64>()).collect();
        let s = samples as f64;
        let value = draws.iter().sum::<f64>() / s;
        let variance = draws.iter().map(|d| (d - value).powi(2)).sum::<f64>() / (s - 1.0);
        Ok(KlEstimate { value, variance, samples })
    }

    /// `KL(q || p)` summed over all elements, shape `[1]`, for `q = N(mu, softplus(rho)^2)` given
    /// by its parameters `mu` and `rho`, as the variational layers store them. For a Normal prior
    /// this is one fused autodiff operation ([`ops::kl_normal_sum`](crate::ops::kl_normal_sum));
    /// for the others, the one-sample Monte-Carlo estimate of [`kl`](Self::kl).
    pub fn kl_rho<const D: usize>(&self, mu: Tensor<D>, rho: Tensor<D>) -> Tensor<1> {
        match *self {
            Prior::Normal { loc, scale } => crate::ops::kl_normal_sum(mu, rho, loc, scale),
            _ => self.kl(mu, super::sigma_of_rho(rho), None),
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

/// The check of a scalar prior centre.
fn check_finite_loc(context: &'static str, loc: f64) -> Result<()> {
    if loc.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(context, "prior loc", loc, "finite", "use a finite prior centre such as 0.0"))
    }
}

/// Where [`log_scaled_e1`] switches from the power series to the continued fraction.
const E1_SWITCH: f64 = 2.0;
/// Terms of the power series of `E1` (relative error below `1e-15` for `z < 2`).
const E1_SERIES_TERMS: usize = 24;
/// Depth of the continued fraction of `exp(z) E1(z)` (relative error below `2e-14` for `z >= 2`).
const E1_FRACTION_DEPTH: usize = 40;
/// The Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// `ln(exp(z) E1(z))` elementwise for `z >= 0`, differentiable, in tensor operations only: the
/// power series `E1(z) = -gamma - ln z + sum_k (-1)^(k+1) z^k / (k k!)` below 2 and the continued
/// fraction `exp(z) E1(z) = 1 / (z + 1 - 1 / (z + 3 - 4 / (z + 5 - ...)))` above (Abramowitz &
/// Stegun 5.1.11 and 5.1.22). Each branch sees its input clamped to its own range so that the
/// branch not taken stays finite (its zero gradient would otherwise meet an infinite partial).
/// `z` is floored at `1e-30`: the horseshoe's log-density has a (integrable) pole at 0.
pub(crate) fn log_scaled_e1<const D: usize>(z: Tensor<D>) -> Tensor<D> {
    let z = z.clamp_min(1e-30);
    let small = z.clone().lower_elem(E1_SWITCH);
    // Power series, Horner form in z: z (c1 + z (c2 + ... + z c_K)).
    let zs = z.clone().clamp_max(E1_SWITCH);
    let mut factorial = 1.0;
    let coefficients: Vec<f64> = (1..=E1_SERIES_TERMS)
        .map(|k| {
            factorial *= k as f64;
            let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
            sign / (k as f64 * factorial)
        })
        .collect();
    let mut horner = zs.zeros_like().add_scalar(coefficients[E1_SERIES_TERMS - 1]);
    for &c in coefficients[..E1_SERIES_TERMS - 1].iter().rev() {
        horner = (horner * zs.clone()).add_scalar(c);
    }
    let e1 = (horner * zs.clone() - zs.clone().log()).sub_scalar(EULER_GAMMA);
    let series = e1.log() + zs;
    // Continued fraction, evaluated from its tail.
    let zc = z.clamp_min(E1_SWITCH);
    let mut t = zc.clone().add_scalar((2 * E1_FRACTION_DEPTH + 1) as f64);
    for k in (0..E1_FRACTION_DEPTH).rev() {
        let kf = k as f64;
        t = zc.clone().add_scalar(2.0 * kf + 1.0) - t.recip().mul_scalar((kf + 1.0) * (kf + 1.0));
    }
    let fraction = t.log().neg();
    fraction.mask_where(small, series)
}
