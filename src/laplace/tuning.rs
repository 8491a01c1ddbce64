//! Tuning the prior precision (and the Gaussian noise sd) by maximising the Laplace log
//! marginal likelihood (MacKay 1992's evidence framework; laplace-torch's `optimize_prior_precision`
//! with `method="marglik"`).
//!
//! laplace-torch runs Adam on `log lambda` with the evidence's gradient. Here the curvature is
//! kept in an eigenbasis, so one evaluation of the evidence costs `O(P)`, and a derivative-free
//! golden-section search on `log lambda` replaces the gradient steps: with the mean held fixed
//! the evidence is concave in `log lambda` (its second derivative is
//! `-lambda ||theta||^2 / 2 - sum_k s e_k lambda / (s e_k + lambda)^2 / 2 < 0`) and in
//! `log sigma`, so the search finds the maximum of each coordinate to `1e-9` in the log without
//! a learning rate or a step count to choose. Both together alternate the two 1-D searches
//! (coordinate ascent) until neither moves by more than `1e-9`.

use super::last_layer::{LaplaceLikelihood, LastLayerLaplace};
use crate::error::{check_positive, Error, Result};

/// The search range of `log lambda` and `log sigma`: `lambda` and `sigma` in `[e^-20, e^20]`.
pub const LOG_SEARCH_RANGE: (f64, f64) = (-20.0, 20.0);

/// Maximiser of a unimodal `f` on `[lo, hi]` to `tol`.
fn golden_section(mut lo: f64, mut hi: f64, tol: f64, f: impl Fn(f64) -> f64) -> f64 {
    let r = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (hi - r * (hi - lo), lo + r * (hi - lo));
    let (mut fa, mut fb) = (f(a), f(b));
    while hi - lo > tol {
        if fa < fb {
            lo = a;
            a = b;
            fa = fb;
            b = lo + r * (hi - lo);
            fb = f(b);
        } else {
            hi = b;
            b = a;
            fb = fa;
            a = hi - r * (hi - lo);
            fa = f(a);
        }
    }
    (lo + hi) / 2.0
}

/// `Ok(x)` unless the maximiser sits at an end of the search range.
fn interior(context: &'static str, field: &'static str, x: f64, fix: &'static str) -> Result<f64> {
    let (lo, hi) = LOG_SEARCH_RANGE;
    if x - lo < 1e-3 || hi - x < 1e-3 {
        return Err(Error::invalid(
            context,
            field,
            format!("e^{x:.3} (the edge of the search range)"),
            "a maximiser of the marginal likelihood inside [e^-20, e^20]",
            fix,
        ));
    }
    Ok(x.exp())
}

/// What the marginal-likelihood search needs of a fitted Laplace posterior (last-layer or
/// all-weights).
pub(crate) trait Evidence {
    /// The log evidence at `lambda` and (Gaussian) `sigma`, both checked positive.
    fn evidence_at(&self, lambda: f64, sigma: Option<f64>) -> f64;
    /// The current noise sd (`None` for a categorical likelihood).
    fn sigma(&self) -> Option<f64>;
    /// Stores a (checked) prior precision.
    fn store_prior_precision(&mut self, lambda: f64);
    /// Stores a (checked) noise sd of a Gaussian fit.
    fn store_sigma(&mut self, sigma: f64);
}

/// Sets the prior precision of `la` to the maximiser of its evidence, sigma fixed.
pub(crate) fn optimize_prior_precision<E: Evidence>(la: &mut E, context: &'static str) -> Result<f64> {
    let sigma = la.sigma();
    let u = golden_section(LOG_SEARCH_RANGE.0, LOG_SEARCH_RANGE.1, 1e-9, |u| la.evidence_at(u.exp(), sigma));
    let lambda = interior(context, "prior_precision", u, "check that the features vary over the training points")?;
    la.store_prior_precision(lambda);
    Ok(lambda)
}

/// Sets the prior precision and the noise sd of a Gaussian `la` to the joint maximiser of its
/// evidence by alternating 1-D searches.
pub(crate) fn optimize_prior_precision_and_sigma<E: Evidence>(
    la: &mut E,
    lambda0: f64,
    context: &'static str,
) -> Result<(f64, f64)> {
    let Some(mut sigma) = la.sigma() else {
        return Err(Error::invalid(
            context,
            "likelihood",
            "Categorical",
            "Gaussian",
            "a classifier has no observation noise; use optimize_prior_precision",
        ));
    };
    let mut lambda = lambda0;
    for _round in 0..200 {
        let (lambda_prev, sigma_prev) = (lambda, sigma);
        lambda = optimize_prior_precision(la, context)?;
        let v = golden_section(LOG_SEARCH_RANGE.0, LOG_SEARCH_RANGE.1, 1e-9, |v| la.evidence_at(lambda, Some(v.exp())));
        sigma = interior(context, "sigma", v, "check that the targets are not fitted exactly")?;
        la.store_sigma(sigma);
        if (lambda / lambda_prev).ln().abs() < 1e-9 && (sigma / sigma_prev).ln().abs() < 1e-9 {
            break;
        }
    }
    Ok((lambda, sigma))
}

/// The Laplace log marginal likelihood from its parts:
/// `log p(D | theta*) - lambda ||theta*||^2 / 2 + P log(lambda) / 2 - log det(s C + lambda I) / 2`
/// for the curvature's eigenvalues `e` (at `s = 1`).
pub(crate) fn laplace_evidence(log_lik: f64, theta: &[f64], eigenvalues: &[f64], s: f64, lambda: f64) -> f64 {
    let scatter: f64 = theta.iter().map(|t| t * t).sum();
    let p = theta.len() as f64;
    let log_det: f64 = eigenvalues.iter().map(|e| (s * e + lambda).ln()).sum();
    log_lik - 0.5 * lambda * scatter + 0.5 * p * lambda.ln() - 0.5 * log_det
}

/// The checked arguments of `log_marginal_likelihood_at`: `lambda > 0` and, for a Gaussian
/// `likelihood`, the given or current `sigma > 0`; a `sigma` for a categorical fit is an error.
pub(crate) fn evidence_arguments(
    context: &'static str,
    likelihood: LaplaceLikelihood,
    lambda: f64,
    sigma: Option<f64>,
) -> Result<Option<f64>> {
    check_positive(context, "prior_precision", lambda, "use a positive prior precision such as 1.0")?;
    match (likelihood, sigma) {
        (LaplaceLikelihood::Gaussian { sigma: current }, s) => {
            let s = s.unwrap_or(current);
            check_positive(context, "sigma", s, "pass a positive observation noise sd")?;
            Ok(Some(s))
        }
        (LaplaceLikelihood::Categorical, None) => Ok(None),
        (LaplaceLikelihood::Categorical, Some(s)) => Err(Error::invalid(
            context,
            "sigma",
            s,
            "None for a categorical likelihood",
            "a classifier has no observation noise; pass None",
        )),
    }
}

/// Stores a checked `sigma` in a Gaussian `likelihood`; an error for a categorical one.
pub(crate) fn replace_sigma(context: &'static str, likelihood: &mut LaplaceLikelihood, sigma: f64) -> Result<()> {
    check_positive(context, "sigma", sigma, "pass a positive observation noise sd")?;
    match likelihood {
        LaplaceLikelihood::Gaussian { sigma: s } => {
            *s = sigma;
            Ok(())
        }
        LaplaceLikelihood::Categorical => Err(Error::invalid(
            context,
            "likelihood",
            "Categorical",
            "Gaussian",
            "a classifier has no observation noise",
        )),
    }
}

impl Evidence for LastLayerLaplace {
    fn evidence_at(&self, lambda: f64, sigma: Option<f64>) -> f64 {
        self.log_marginal_likelihood_at(lambda, sigma).unwrap_or(f64::NEG_INFINITY)
    }

    fn sigma(&self) -> Option<f64> {
        self.current_sigma()
    }

    fn store_prior_precision(&mut self, lambda: f64) {
        self.set_prior_precision(lambda).expect("the search stays inside the positive range");
    }

    fn store_sigma(&mut self, sigma: f64) {
        self.set_sigma(sigma).expect("a Gaussian fit and a positive sigma");
    }
}

impl LastLayerLaplace {
    /// Sets the prior precision to the maximiser of the log marginal likelihood
    /// ([`log_marginal_likelihood_at`](Self::log_marginal_likelihood_at)), sigma held fixed,
    /// and returns it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`prior_precision`) when the evidence keeps rising towards an
    /// end of `[e^-20, e^20]` (e.g. features that are all zero).
    pub fn optimize_prior_precision(&mut self) -> Result<f64> {
        optimize_prior_precision(self, "LastLayerLaplace::optimize_prior_precision")
    }

    /// Gaussian likelihood: sets the prior precision and the noise sd to the joint maximiser of
    /// the log marginal likelihood (alternating 1-D searches) and returns `(lambda, sigma)`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a categorical fit, or when a maximiser sits at an end of
    /// `[e^-20, e^20]` (e.g. a network that interpolates its targets exactly: `sigma -> 0`).
    pub fn optimize_prior_precision_and_sigma(&mut self) -> Result<(f64, f64)> {
        let lambda = self.prior_precision();
        optimize_prior_precision_and_sigma(self, lambda, "LastLayerLaplace::optimize_prior_precision_and_sigma")
    }

    pub(crate) fn current_sigma(&self) -> Option<f64> {
        match self.likelihood {
            LaplaceLikelihood::Gaussian { sigma } => Some(sigma),
            LaplaceLikelihood::Categorical => None,
        }
    }
}
