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
use crate::error::{Error, Result};

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

impl LastLayerLaplace {
    /// Sets the prior precision to the maximiser of the log marginal likelihood
    /// ([`log_marginal_likelihood_at`](Self::log_marginal_likelihood_at)), sigma held fixed,
    /// and returns it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`prior_precision`) when the evidence keeps rising towards an
    /// end of `[e^-20, e^20]` (e.g. features that are all zero).
    pub fn optimize_prior_precision(&mut self) -> Result<f64> {
        let sigma = self.current_sigma();
        let u = golden_section(LOG_SEARCH_RANGE.0, LOG_SEARCH_RANGE.1, 1e-9, |u| {
            self.log_marginal_likelihood_at(u.exp(), sigma).unwrap_or(f64::NEG_INFINITY)
        });
        let lambda = interior(
            "LastLayerLaplace::optimize_prior_precision",
            "prior_precision",
            u,
            "check that the features vary over the training points",
        )?;
        self.set_prior_precision(lambda)?;
        Ok(lambda)
    }

    /// Gaussian likelihood: sets the prior precision and the noise sd to the joint maximiser of
    /// the log marginal likelihood (alternating 1-D searches) and returns `(lambda, sigma)`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a categorical fit, or when a maximiser sits at an end of
    /// `[e^-20, e^20]` (e.g. a network that interpolates its targets exactly: `sigma -> 0`).
    pub fn optimize_prior_precision_and_sigma(&mut self) -> Result<(f64, f64)> {
        const CONTEXT: &str = "LastLayerLaplace::optimize_prior_precision_and_sigma";
        let LaplaceLikelihood::Gaussian { .. } = self.likelihood else {
            return Err(Error::invalid(
                CONTEXT,
                "likelihood",
                "Categorical",
                "Gaussian",
                "a classifier has no observation noise; use optimize_prior_precision",
            ));
        };
        for _round in 0..200 {
            let (lambda0, sigma0) = (self.prior_precision(), self.current_sigma().unwrap_or(1.0));
            self.optimize_prior_precision()?;
            let lambda = self.prior_precision();
            let v = golden_section(LOG_SEARCH_RANGE.0, LOG_SEARCH_RANGE.1, 1e-9, |v| {
                self.log_marginal_likelihood_at(lambda, Some(v.exp())).unwrap_or(f64::NEG_INFINITY)
            });
            let sigma = interior(CONTEXT, "sigma", v, "check that the targets are not fitted exactly")?;
            self.set_sigma(sigma)?;
            if (lambda / lambda0).ln().abs() < 1e-9 && (sigma / sigma0).ln().abs() < 1e-9 {
                break;
            }
        }
        Ok((self.prior_precision(), self.current_sigma().unwrap_or(1.0)))
    }

    fn current_sigma(&self) -> Option<f64> {
        match self.likelihood {
            LaplaceLikelihood::Gaussian { sigma } => Some(sigma),
            LaplaceLikelihood::Categorical => None,
        }
    }
}
