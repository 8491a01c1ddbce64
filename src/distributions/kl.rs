//! KL divergences: closed forms, and a Monte-Carlo estimator for any other pair.

use burn::prelude::*;

use super::special::{digamma_tensor, lbeta, lgamma};
use super::{
    Bernoulli, Beta, Categorical, Dirichlet, Distribution, Exponential, Gamma, InverseGamma, KlDivergence, Laplace,
    LogNormal, MultivariateNormal, Normal, Poisson, Rsample, ScaleMixtureNormal, LN_SQRT_2PI,
};
use crate::error::{check_nonzero, Error, Result};
use crate::noise;
use crate::posterior::softplus;

/// Elementwise `KL(p || q)`, the free-function form of [`KlDivergence::kl`].
///
/// ```
/// use bayesburn::distributions::{kl, Normal};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let p = Normal::new(Tensor::<1>::zeros([1], &device), Tensor::<1>::ones([1], &device))?;
/// let q = Normal::new(Tensor::<1>::ones([1], &device), Tensor::<1>::ones([1], &device))?;
/// let d: f32 = kl(&p, &q).into_scalar();
/// assert!((d - 0.5).abs() < 1e-6); // (mu_p - mu_q)^2 / 2
/// # Ok::<(), bayesburn::Error>(())
/// ```
pub fn kl<P, Q, const D: usize>(p: &P, q: &Q) -> Tensor<D>
where
    P: KlDivergence<Q, D>,
{
    p.kl(q)
}

/// `KL(N(loc_p, scale_p^2) || N(loc_q, scale_q^2)) = ln(scale_q / scale_p)
/// + (scale_p^2 + (loc_p - loc_q)^2) / (2 scale_q^2) - 1/2`, in f64 on the host.
///
/// The reference for the Normal KL: the tensor forms (the elementwise [`KlDivergence`] of
/// [`Normal`], the summed [`kl_normal_normal_sum`](crate::posterior::kl_normal_normal_sum) of the
/// layers, the fused [`ops::kl_normal_sum`](crate::ops::kl_normal_sum) with its composed fallback
/// and its `flex` kernel) are written for speed on tensors and tested against this function.
///
/// ```
/// use bayesburn::distributions::kl_normal_f64;
///
/// assert_eq!(kl_normal_f64(0.0, 1.0, 0.0, 1.0), 0.0);
/// assert!((kl_normal_f64(1.0, 1.0, 0.0, 1.0) - 0.5).abs() < 1e-15);
/// ```
pub fn kl_normal_f64(loc_p: f64, scale_p: f64, loc_q: f64, scale_q: f64) -> f64 {
    let diff = loc_p - loc_q;
    (scale_q / scale_p).ln() + (scale_p * scale_p + diff * diff) / (2.0 * scale_q * scale_q) - 0.5
}

impl<const D: usize> KlDivergence<Normal<D>, D> for Normal<D> {
    /// `ln(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2`.
    fn kl(&self, q: &Normal<D>) -> Tensor<D> {
        normal_normal(self.loc(), self.scale(), q.loc(), q.scale())
    }
}

impl<const D: usize> KlDivergence<LogNormal<D>, D> for LogNormal<D> {
    /// KL is invariant under the bijection `x = exp(y)`, so it equals the KL of the
    /// underlying Normals of `ln x`.
    fn kl(&self, q: &LogNormal<D>) -> Tensor<D> {
        normal_normal(self.loc(), self.scale(), q.loc(), q.scale())
    }
}

fn normal_normal<const D: usize>(m_p: Tensor<D>, s_p: Tensor<D>, m_q: Tensor<D>, s_q: Tensor<D>) -> Tensor<D> {
    let ratio = s_p.clone() / s_q.clone();
    let z = (m_p - m_q) / s_q.clone();
    (ratio.square() + z.square()).sub_scalar(1.0).mul_scalar(0.5) + s_q.log() - s_p.log()
}

impl<const D: usize> KlDivergence<Laplace<D>, D> for Laplace<D> {
    /// `ln(b_q / b_p) + |m_p - m_q| / b_q + (b_p / b_q) exp(-|m_p - m_q| / b_p) - 1`.
    fn kl(&self, q: &Laplace<D>) -> Tensor<D> {
        let (b_p, b_q) = (self.scale(), q.scale());
        let dist = (self.loc() - q.loc()).abs();
        let decay = (dist.clone() / b_p.clone()).neg().exp();
        b_q.clone().log() - b_p.clone().log() + dist / b_q.clone() + b_p / b_q * decay - 1.0
    }
}

impl<const D: usize> KlDivergence<Exponential<D>, D> for Exponential<D> {
    /// `ln(rate_p / rate_q) + rate_q / rate_p - 1`, as `r - ln r - 1` with `r = rate_q / rate_p`.
    fn kl(&self, q: &Exponential<D>) -> Tensor<D> {
        let r = q.rate() / self.rate();
        r.clone() - r.log() - 1.0
    }
}

impl<const D: usize> KlDivergence<Gamma<D>, D> for Gamma<D> {
    /// `(a_p - a_q) psi(a_p) - ln Gamma(a_p) + ln Gamma(a_q) + a_q (ln b_p - ln b_q)
    /// + a_p (b_q - b_p) / b_p` (shapes `a`, rates `b`).
    fn kl(&self, q: &Gamma<D>) -> Tensor<D> {
        gamma_gamma(self.concentration(), self.rate(), q.concentration(), q.rate())
    }
}

impl<const D: usize> KlDivergence<InverseGamma<D>, D> for InverseGamma<D> {
    /// The Gamma KL of the same parameters: `x -> 1 / x` maps each inverse Gamma onto the
    /// Gamma with its shape and rate, and KL is invariant under a bijection.
    fn kl(&self, q: &InverseGamma<D>) -> Tensor<D> {
        gamma_gamma(self.concentration(), self.rate(), q.concentration(), q.rate())
    }
}

fn gamma_gamma<const D: usize>(a_p: Tensor<D>, b_p: Tensor<D>, a_q: Tensor<D>, b_q: Tensor<D>) -> Tensor<D> {
    (a_p.clone() - a_q.clone()) * digamma_tensor(a_p.clone()) - lgamma(a_p.clone())
        + lgamma(a_q.clone())
        + a_q * (b_p.clone().log() - b_q.clone().log())
        + a_p * (b_q - b_p.clone()) / b_p
}

impl<const D: usize> KlDivergence<Beta<D>, D> for Beta<D> {
    /// `ln B(a_q, b_q) - ln B(a_p, b_p) + (a_p - a_q) psi(a_p) + (b_p - b_q) psi(b_p)
    /// + (a_q - a_p + b_q - b_p) psi(a_p + b_p)`.
    fn kl(&self, q: &Beta<D>) -> Tensor<D> {
        let (a_p, b_p, a_q, b_q) = (self.alpha(), self.beta(), q.alpha(), q.beta());
        let total_p = a_p.clone() + b_p.clone();
        lbeta(a_q.clone(), b_q.clone()) - lbeta(a_p.clone(), b_p.clone())
            + (a_p.clone() - a_q.clone()) * digamma_tensor(a_p.clone())
            + (b_p.clone() - b_q.clone()) * digamma_tensor(b_p.clone())
            + (a_q - a_p + b_q - b_p) * digamma_tensor(total_p)
    }
}

impl<const D: usize> KlDivergence<Dirichlet<D>, D> for Dirichlet<D> {
    /// `ln Gamma(a_0) - sum ln Gamma(a_k) - ln Gamma(b_0) + sum ln Gamma(b_k)
    /// + sum (a_k - b_k) (psi(a_k) - psi(a_0))` over the last dimension, shape `[..., 1]`.
    fn kl(&self, q: &Dirichlet<D>) -> Tensor<D> {
        let (a, b) = (self.concentration(), q.concentration());
        let (a0, b0) = (a.clone().sum_dim(D - 1), b.clone().sum_dim(D - 1));
        let score = (a.clone() - b.clone()) * (digamma_tensor(a.clone()) - digamma_tensor(a0.clone()));
        lgamma(a0) - lgamma(a).sum_dim(D - 1) - lgamma(b0) + lgamma(b).sum_dim(D - 1) + score.sum_dim(D - 1)
    }
}

impl<const D: usize> KlDivergence<MultivariateNormal<D>, D> for MultivariateNormal<D> {
    /// `(|L_q^-1 L_p|_F^2 + |L_q^-1 (m_q - m_p)|^2 - n) / 2 + sum ln (L_q)_ii - sum ln (L_p)_ii`,
    /// `[..., 1]`, by forward substitution.
    ///
    /// # Panics
    /// If the two shapes differ.
    fn kl(&self, q: &MultivariateNormal<D>) -> Tensor<D> {
        super::multivariate_normal::kl_mvn(self, q)
    }
}

impl<const D: usize> KlDivergence<Poisson<D>, D> for Poisson<D> {
    /// `lambda_p (ln lambda_p - ln lambda_q) - lambda_p + lambda_q`.
    fn kl(&self, q: &Poisson<D>) -> Tensor<D> {
        let (l_p, l_q) = (self.rate(), q.rate());
        l_p.clone() * (l_p.clone().log() - l_q.clone().log()) - l_p + l_q
    }
}

impl<const D: usize> KlDivergence<Bernoulli<D>, D> for Bernoulli<D> {
    /// `p ln(p / q) + (1 - p) ln((1 - p) / (1 - q))`, in logits form
    /// `softplus(l_q) - softplus(l_p) + p (l_p - l_q)` (no `ln 0`).
    fn kl(&self, q: &Bernoulli<D>) -> Tensor<D> {
        let (l_p, l_q) = (self.logits(), q.logits());
        softplus(l_q.clone()) - softplus(l_p.clone()) + self.probs() * (l_p - l_q)
    }
}

impl<const D: usize> KlDivergence<Categorical<D>, D> for Categorical<D> {
    /// `sum_k p_k (ln p_k - ln q_k)` over the last dimension, shape `[..., 1]`. A class with
    /// `q_k = 0 < p_k` gives a large finite value (`ln q_k` is kept at the dtype's smallest
    /// normal number) rather than `inf`.
    fn kl(&self, q: &Categorical<D>) -> Tensor<D> {
        (self.probs() * (self.logits() - q.logits())).sum_dim(D - 1)
    }
}

impl<const D: usize> KlDivergence<ScaleMixtureNormal<D>, D> for Normal<D> {
    /// One-sample Monte-Carlo estimate `ln q(w) - ln p(w)` at a reparameterized draw
    /// `w = loc + scale * eps` (Blundell et al. 2015, eq. 2): unbiased for the KL and
    /// differentiable in `loc` and `scale`, so its gradient is an unbiased estimate of the
    /// KL's gradient. Its spread is large per element; summed over many weights it averages
    /// out. Use [`kl_monte_carlo`] for more samples.
    fn kl(&self, prior: &ScaleMixtureNormal<D>) -> Tensor<D> {
        let eps = noise::normal(self.dims(), &self.loc().device());
        let w = self.loc() + self.scale() * eps.clone();
        // ln N(w; loc, scale) with (w - loc) / scale = eps exactly.
        let log_q = eps.square().mul_scalar(-0.5) - self.scale().log() - LN_SQRT_2PI;
        log_q - prior.log_prob(w)
    }
}

/// A Monte-Carlo estimate with its standard error, elementwise.
#[derive(Debug, Clone)]
pub struct MonteCarloEstimate<const D: usize> {
    /// The sample mean (differentiable where the samples are).
    pub estimate: Tensor<D>,
    /// The standard error of the mean, `sd / sqrt(n)` with the unbiased sample standard
    /// deviation `sd` of the per-sample values (detached).
    pub standard_error: Tensor<D>,
}

/// Monte-Carlo estimate of elementwise `KL(p || q) = E_p[ln p(x) - ln q(x)]` from `n_samples`
/// reparameterized draws of `p`:
///
/// `KL ~ (1/n) sum_i [ln p(x_i) - ln q(x_i)]`, `x_i = p.rsample()`.
///
/// Works for any pair where `p` can [`Rsample`] and `q` has a `log_prob`, e.g. a Normal
/// posterior against a Laplace or Student-t prior. The estimate is **unbiased**, and
/// differentiable in `p`'s and `q`'s parameters (pathwise gradient). Its standard error is
/// `sd(ln p(x) - ln q(x)) / sqrt(n)`; [`kl_monte_carlo_with_error`] returns it. The draws are
/// made one batch at a time (`n_samples` calls of `rsample`), so memory does not grow with `n`.
///
/// # Errors
/// [`Error::InvalidParameter`] if `n_samples` is 0.
pub fn kl_monte_carlo<P, Q, const D: usize>(p: &P, q: &Q, n_samples: usize) -> Result<Tensor<D>>
where
    P: Rsample<D>,
    Q: Distribution<D>,
{
    check_nonzero("kl_monte_carlo", "n_samples", n_samples, "draw at least one sample")?;
    let mut sum: Option<Tensor<D>> = None;
    for _ in 0..n_samples {
        let v = log_ratio(p, q);
        sum = Some(match sum {
            None => v,
            Some(s) => s + v,
        });
    }
    Ok(sum.expect("n_samples >= 1").div_scalar(n_samples as f64))
}

/// [`kl_monte_carlo`] together with the standard error of the estimate.
///
/// The variance is accumulated from values shifted by the first draw (a constant), which
/// avoids the cancellation of the naive sum-of-squares formula in low precision.
///
/// # Errors
/// [`Error::InvalidParameter`] if `n_samples < 2` (one sample has no spread).
pub fn kl_monte_carlo_with_error<P, Q, const D: usize>(p: &P, q: &Q, n_samples: usize) -> Result<MonteCarloEstimate<D>>
where
    P: Rsample<D>,
    Q: Distribution<D>,
{
    if n_samples < 2 {
        return Err(Error::invalid(
            "kl_monte_carlo_with_error",
            "n_samples",
            n_samples,
            ">= 2",
            "draw at least two samples to estimate a standard error",
        ));
    }
    let first = log_ratio(p, q);
    let shift = first.clone().detach();
    let (mut sum, mut s1, mut s2) = (first, shift.zeros_like(), shift.zeros_like());
    for _ in 1..n_samples {
        let v = log_ratio(p, q);
        let d = v.clone().detach() - shift.clone();
        s1 = s1 + d.clone();
        s2 = s2 + d.square();
        sum = sum + v;
    }
    let n = n_samples as f64;
    let var = (s2 - s1.square().div_scalar(n)).div_scalar(n - 1.0).clamp_min(0.0);
    Ok(MonteCarloEstimate { estimate: sum.div_scalar(n), standard_error: var.div_scalar(n).sqrt() })
}

fn log_ratio<P, Q, const D: usize>(p: &P, q: &Q) -> Tensor<D>
where
    P: Rsample<D>,
    Q: Distribution<D>,
{
    let x = p.rsample();
    p.log_prob(x.clone()) - q.log_prob(x)
}
