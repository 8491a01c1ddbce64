//! Last-layer Laplace: a Gaussian posterior over the weights and bias of a trained network's
//! last `Linear` layer, the rest of the network fixed (Daxberger et al. 2021, "Laplace Redux",
//! Sec. 3.1; Kristiadi et al. 2020).

use burn::nn::Linear;
use burn::prelude::*;

use super::curvature::{gram, Curvature, Factors, Fisher};
use super::linalg::symmetric_eigen;
use super::tuning::{evidence_arguments, laplace_evidence, replace_sigma};
use crate::error::{check_positive, Error, Result};
use crate::metrics::host::{self, ColumnsOf};

/// Which weights the posterior is centred on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum LaplaceMean {
    /// The trained layer's weights (laplace-torch's choice): the Laplace approximation proper,
    /// which assumes training found the MAP of the same prior.
    #[default]
    Trained,
    /// Gaussian likelihood only: the exact posterior mean of the last layer given the features,
    /// `(s Phi^T Phi + lambda I)^-1 s Phi^T Y` with `s = 1 / sigma^2`, recomputed whenever the
    /// prior precision or sigma change. The posterior is then the exact Bayesian linear
    /// regression on the features.
    Refit,
}

/// The likelihood a last layer was fitted with.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum LaplaceLikelihood {
    /// `y ~ N(f, sigma^2 I)`.
    Gaussian {
        /// Observation noise standard deviation.
        sigma: f64,
    },
    /// `y ~ Categorical(softmax(f))`.
    Categorical,
}

/// Settings of a last-layer Laplace fit: the curvature, the isotropic prior
/// `N(0, I / prior_precision)` on every weight and bias, and the mean.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LastLayerLaplaceConfig {
    /// The GGN structure (default [`Curvature::Kron`]).
    pub curvature: Curvature,
    /// The prior precision `lambda > 0` (default 1); tune it with
    /// [`LastLayerLaplace::optimize_prior_precision`].
    pub prior_precision: f64,
    /// The posterior mean (default [`LaplaceMean::Trained`]).
    pub mean: LaplaceMean,
    /// The curvature matrix: the GGN (default) or the empirical Fisher.
    pub fisher: Fisher,
}

impl Default for LastLayerLaplaceConfig {
    fn default() -> Self {
        Self { curvature: Curvature::Kron, prior_precision: 1.0, mean: LaplaceMean::Trained, fisher: Fisher::Ggn }
    }
}

/// What the Gaussian likelihood needs of the data to re-evaluate the fit at any mean and sigma.
#[derive(Debug, Clone)]
struct GaussianData {
    /// `Phi^T Phi` in its eigenbasis (`H' x H'`): the exact GGN is `Phi^T Phi (x) I / sigma^2`.
    gram_e: Vec<f64>,
    gram_q: Vec<f64>,
    /// `Phi^T Y`, `[H', O]` row-major.
    phi_t_y: Vec<f64>,
    /// `sum ||y_n||^2`.
    y_sq: f64,
    /// `sum_n ||y_n - f(phi_n; trained)||^2` of the trained weights.
    trained_rss: f64,
}

/// A fitted last-layer Laplace posterior `N(theta*, (s GGN + lambda I)^-1)`.
///
/// `theta = vec([W; b])` row-major, `[H', O]`: the weight `W` `[H, O]` as burn's `Linear` holds
/// it, then the bias row (`H' = H + 1`; `H' = H` for a layer without bias).
#[derive(Debug, Clone)]
pub struct LastLayerLaplace {
    pub(crate) config: LastLayerLaplaceConfig,
    pub(crate) likelihood: LaplaceLikelihood,
    pub(crate) factors: Factors,
    pub(crate) eigenvalues: Vec<f64>,
    /// Trained weights `theta`, length `P`.
    pub(crate) trained: Vec<f64>,
    /// `theta*`: the trained weights or the refit mean at the current settings.
    pub(crate) mean: Vec<f64>,
    pub(crate) d_features: usize,
    pub(crate) bias: bool,
    pub(crate) outputs: usize,
    pub(crate) points: usize,
    gaussian: Option<GaussianData>,
    /// `log p(D | theta*)` of the trained weights for the categorical likelihood.
    categorical_log_lik: f64,
}

const FIT_FIX: &str = "pass the penultimate features of the training points and the network's last Linear layer";

/// The trained layer as `theta` (`[H', O]` row-major) and whether it has a bias.
fn layer_parameters(context: &'static str, last: &Linear) -> Result<(Vec<f64>, usize, usize, bool)> {
    let [h, o] = last.weight.val().dims();
    let mut theta = host::floats(context, "last.weight", last.weight.val())?;
    let bias = match &last.bias {
        Some(b) => {
            theta.extend(host::floats(context, "last.bias", b.val())?);
            true
        }
        None => false,
    };
    Ok((theta, h, o, bias))
}

/// Features `[N, H]` as rows of `H'` (a trailing 1 for the bias).
fn augmented(
    context: &'static str,
    features: Tensor<2>,
    h: usize,
    bias: bool,
    min_rows: usize,
) -> Result<(Vec<f64>, usize)> {
    let [n, w] = features.dims();
    if n < min_rows || w != h {
        return Err(Error::shape(
            context,
            "features",
            format!("[N, {h}] with N >= {min_rows} (d_input of the last layer)"),
            &[n, w],
            FIT_FIX,
        ));
    }
    let raw = host::floats(context, "features", features)?;
    if !bias {
        return Ok((raw, n));
    }
    let mut out = Vec::with_capacity(n * (h + 1));
    for row in raw.chunks_exact(h) {
        out.extend_from_slice(row);
        out.push(1.0);
    }
    Ok((out, n))
}

/// `phi W'` for rows `phi` (`[N, H']`) and `theta` (`[H', O]`): `[N, O]`.
pub(crate) fn outputs(phi: &[f64], theta: &[f64], h: usize, o: usize) -> Vec<f64> {
    let mut f = vec![0.0; phi.len() / h * o];
    for (row, out) in phi.chunks_exact(h).zip(f.chunks_exact_mut(o)) {
        for (i, &x) in row.iter().enumerate() {
            for (a, fa) in out.iter_mut().enumerate() {
                *fa += x * theta[i * o + a];
            }
        }
    }
    f
}

/// The factor on a Gaussian fit's curvature (stored at `sigma = 1`): `1 / sigma^2` for the
/// GGN, `1 / sigma^4` for the empirical Fisher (whose residuals carry a `1 / sigma^2` each).
pub(crate) fn gaussian_scale(fisher: Fisher, sigma: f64) -> f64 {
    match fisher {
        Fisher::Ggn => 1.0 / (sigma * sigma),
        Fisher::Empirical => 1.0 / (sigma * sigma).powi(2),
    }
}

/// The softmax of one row of logits.
pub(crate) fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

impl LastLayerLaplaceConfig {
    /// The defaults: KFAC, prior precision 1, centred on the trained weights.
    pub fn new() -> Self {
        Self::default()
    }

    /// With another curvature structure.
    pub fn with_curvature(mut self, curvature: Curvature) -> Self {
        self.curvature = curvature;
        self
    }

    /// With another prior precision (checked at fit time).
    pub fn with_prior_precision(mut self, prior_precision: f64) -> Self {
        self.prior_precision = prior_precision;
        self
    }

    /// With another posterior mean.
    pub fn with_mean(mut self, mean: LaplaceMean) -> Self {
        self.mean = mean;
        self
    }

    /// With another curvature matrix ([`Fisher::Empirical`] needs [`LaplaceMean::Trained`]).
    pub fn with_fisher(mut self, fisher: Fisher) -> Self {
        self.fisher = fisher;
        self
    }

    /// Fits the posterior of `last` under a Gaussian likelihood with noise sd `sigma`, from the
    /// penultimate `features` `[N, H]` of the training points (what the trained network feeds
    /// `last`) and their `targets` `[N, O]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `features` is empty or not `H` wide (`H` = `last`'s
    /// `d_input`), or `targets` is not `[N, O]`; [`Error::InvalidParameter`] on a NaN or
    /// infinite entry, or a prior precision or `sigma` that is not `> 0` and finite.
    pub fn fit_regression(
        &self,
        features: Tensor<2>,
        targets: Tensor<2>,
        last: &Linear,
        sigma: f64,
    ) -> Result<LastLayerLaplace> {
        const CONTEXT: &str = "LastLayerLaplaceConfig::fit_regression";
        self.check(CONTEXT)?;
        check_positive(CONTEXT, "sigma", sigma, "pass the observation noise sd, e.g. the training RMSE")?;
        let (trained, h, o, bias) = layer_parameters(CONTEXT, last)?;
        let (phi, n) = augmented(CONTEXT, features, h, bias, 1)?;
        if targets.dims() != [n, o] {
            return Err(Error::shape(
                CONTEXT,
                "targets",
                format!("[{n}, {o}] (N of features, d_output of the last layer)"),
                &targets.dims(),
                "pass one target row per feature row, one column per output",
            ));
        }
        let y = host::floats(CONTEXT, "targets", targets)?;
        let hp = h + usize::from(bias);
        let f = outputs(&phi, &trained, hp, o);
        let factors = match self.fisher {
            Fisher::Ggn => {
                let identity: Vec<f64> = (0..o * o).map(|k| f64::from(u8::from(k / o == k % o))).collect();
                Factors::build(self.curvature, &phi, n, hp, o, |_| identity.clone())
            }
            // r_n r_n^T with r_n = f_n - y_n: the empirical Fisher at sigma = 1 (it scales as
            // 1 / sigma^4).
            Fisher::Empirical => Factors::build(self.curvature, &phi, n, hp, o, |row| {
                let r: Vec<f64> = (0..o).map(|a| f[row * o + a] - y[row * o + a]).collect();
                (0..o * o).map(|k| r[k / o] * r[k % o]).collect()
            }),
        };
        let (gram_e, gram_q) = symmetric_eigen(&gram(&phi, n, hp), hp);
        let mut phi_t_y = vec![0.0; hp * o];
        for (row, yr) in phi.chunks_exact(hp).zip(y.chunks_exact(o)) {
            for i in 0..hp {
                for a in 0..o {
                    phi_t_y[i * o + a] += row[i] * yr[a];
                }
            }
        }
        let trained_rss = f.iter().zip(&y).map(|(f, y)| (y - f).powi(2)).sum();
        let y_sq = y.iter().map(|v| v * v).sum();
        let mut out = LastLayerLaplace {
            config: *self,
            likelihood: LaplaceLikelihood::Gaussian { sigma },
            eigenvalues: factors.eigenvalues(),
            factors,
            mean: trained.clone(),
            trained,
            d_features: h,
            bias,
            outputs: o,
            points: n,
            gaussian: Some(GaussianData { gram_e, gram_q, phi_t_y, y_sq, trained_rss }),
            categorical_log_lik: 0.0,
        };
        out.mean = out.mean_at(self.prior_precision, sigma);
        Ok(out)
    }

    /// Fits the posterior of `last` under a categorical likelihood (softmax of `last`'s `K`
    /// outputs), from the penultimate `features` `[N, H]` and the class `labels` `[N]` in `0..K`.
    /// The output Hessian of point `n` is `diag(p_n) - p_n p_n^T`, `p_n` the trained softmax.
    ///
    /// # Errors
    /// As [`fit_regression`](Self::fit_regression); also [`Error::ShapeMismatch`] when `last`
    /// has fewer than 2 outputs and [`Error::InvalidParameter`] for a label outside `0..K` or
    /// [`LaplaceMean::Refit`] (which needs a Gaussian likelihood).
    pub fn fit_classification(
        &self,
        features: Tensor<2>,
        labels: Tensor<1, Int>,
        last: &Linear,
    ) -> Result<LastLayerLaplace> {
        const CONTEXT: &str = "LastLayerLaplaceConfig::fit_classification";
        self.check(CONTEXT)?;
        if self.mean == LaplaceMean::Refit {
            return Err(Error::invalid(
                CONTEXT,
                "mean",
                "LaplaceMean::Refit",
                "LaplaceMean::Trained for a categorical likelihood",
                "the refit mean is the closed-form Gaussian posterior; centre a classifier on its trained weights",
            ));
        }
        let (trained, h, k, bias) = layer_parameters(CONTEXT, last)?;
        if k < 2 {
            return Err(Error::shape(
                CONTEXT,
                "last.weight",
                format!("[{h}, K] with K >= 2 classes"),
                &[h, k],
                FIT_FIX,
            ));
        }
        let (phi, n) = augmented(CONTEXT, features, h, bias, 1)?;
        if labels.dims() != [n] {
            return Err(Error::shape(
                CONTEXT,
                "labels",
                format!("[{n}] (one label per row of features)"),
                &labels.dims(),
                "pass one class index per point",
            ));
        }
        let labels = host::class_labels(CONTEXT, labels, k, ColumnsOf::Logits)?;
        let hp = h + usize::from(bias);
        let probs: Vec<Vec<f64>> = outputs(&phi, &trained, hp, k).chunks_exact(k).map(softmax).collect();
        let log_lik = probs.iter().zip(&labels).map(|(p, &y)| p[y].max(f64::MIN_POSITIVE).ln()).sum();
        let factors = Factors::build(self.curvature, &phi, n, hp, k, |row| {
            let p = &probs[row];
            match self.fisher {
                Fisher::Ggn => {
                    (0..k * k).map(|r| f64::from(u8::from(r / k == r % k)) * p[r / k] - p[r / k] * p[r % k]).collect()
                }
                Fisher::Empirical => {
                    let r: Vec<f64> = (0..k).map(|a| p[a] - f64::from(u8::from(a == labels[row]))).collect();
                    (0..k * k).map(|c| r[c / k] * r[c % k]).collect()
                }
            }
        });
        Ok(LastLayerLaplace {
            config: *self,
            likelihood: LaplaceLikelihood::Categorical,
            eigenvalues: factors.eigenvalues(),
            factors,
            mean: trained.clone(),
            trained,
            d_features: h,
            bias,
            outputs: k,
            points: n,
            gaussian: None,
            categorical_log_lik: log_lik,
        })
    }

    fn check(&self, context: &'static str) -> Result<()> {
        check_positive(context, "prior_precision", self.prior_precision, "use a positive prior precision such as 1.0")?;
        if self.fisher == Fisher::Empirical && self.mean == LaplaceMean::Refit {
            return Err(Error::invalid(
                context,
                "mean",
                "LaplaceMean::Refit",
                "LaplaceMean::Trained with Fisher::Empirical",
                "the empirical Fisher is taken at the trained weights; use LaplaceMean::Trained or Fisher::Ggn",
            ));
        }
        Ok(())
    }
}

impl LastLayerLaplace {
    /// Number of parameters `P = H' O`.
    pub fn num_parameters(&self) -> usize {
        self.mean.len()
    }

    /// The prior precision `lambda`.
    pub fn prior_precision(&self) -> f64 {
        self.config.prior_precision
    }

    /// The likelihood, with the current `sigma` for a Gaussian one.
    pub fn likelihood(&self) -> LaplaceLikelihood {
        self.likelihood
    }

    /// The settings, with the current prior precision.
    pub fn config(&self) -> LastLayerLaplaceConfig {
        self.config
    }

    /// The posterior mean `theta*` (`[H', O]` row-major, the bias row last).
    pub fn posterior_mean(&self) -> &[f64] {
        &self.mean
    }

    /// The likelihood's scale on the GGN: `1 / sigma^2` (Gaussian) or 1.
    pub(crate) fn scale(&self) -> f64 {
        match self.likelihood {
            LaplaceLikelihood::Gaussian { sigma } => gaussian_scale(self.config.fisher, sigma),
            LaplaceLikelihood::Categorical => 1.0,
        }
    }

    fn h_prime(&self) -> usize {
        self.d_features + usize::from(self.bias)
    }

    /// The posterior precision `s GGN + lambda I` (`P x P` row-major, in the chosen structure).
    pub fn posterior_precision(&self) -> Vec<f64> {
        let (s, lambda) = (self.scale(), self.prior_precision());
        self.factors.dense(self.h_prime(), self.outputs, |k| s * self.eigenvalues[k] + lambda)
    }

    /// The posterior covariance `(s GGN + lambda I)^-1` (`P x P` row-major).
    pub fn posterior_covariance(&self) -> Vec<f64> {
        let (s, lambda) = (self.scale(), self.prior_precision());
        self.factors.dense(self.h_prime(), self.outputs, |k| 1.0 / (s * self.eigenvalues[k] + lambda))
    }

    /// The posterior mean at prior precision `lambda` and noise `sigma` (a Gaussian likelihood).
    fn mean_at(&self, lambda: f64, sigma: f64) -> Vec<f64> {
        match (&self.gaussian, self.config.mean) {
            (Some(g), LaplaceMean::Refit) => {
                // (s A + lambda I)^-1 s Phi^T Y, column by column in A's eigenbasis.
                let (h, o, s) = (self.h_prime(), self.outputs, 1.0 / (sigma * sigma));
                let mut theta = vec![0.0; h * o];
                for k in 0..h {
                    let w = s / (s * g.gram_e[k] + lambda);
                    for a in 0..o {
                        let proj: f64 = (0..h).map(|i| g.gram_q[i * h + k] * g.phi_t_y[i * o + a]).sum();
                        for i in 0..h {
                            theta[i * o + a] += w * g.gram_q[i * h + k] * proj;
                        }
                    }
                }
                theta
            }
            _ => self.trained.clone(),
        }
    }

    /// `log p(D | theta)` under the Gaussian likelihood with noise `sigma`.
    fn gaussian_log_lik(&self, g: &GaussianData, theta: &[f64], sigma: f64) -> f64 {
        let rss = if theta == self.trained.as_slice() {
            g.trained_rss
        } else {
            // ||Y - Phi W||^2 = ||Y||^2 - 2 <W, Phi^T Y> + sum_a w_a^T A w_a, A from its eigenbasis.
            let (h, o) = (self.h_prime(), self.outputs);
            let cross: f64 = theta.iter().zip(&g.phi_t_y).map(|(w, b)| w * b).sum();
            let mut quad = 0.0;
            for k in 0..h {
                for a in 0..o {
                    let proj: f64 = (0..h).map(|i| g.gram_q[i * h + k] * theta[i * o + a]).sum();
                    quad += g.gram_e[k] * proj * proj;
                }
            }
            (g.y_sq - 2.0 * cross + quad).max(0.0)
        };
        let n_obs = (self.points * self.outputs) as f64;
        -0.5 * n_obs * (2.0 * std::f64::consts::PI * sigma * sigma).ln() - rss / (2.0 * sigma * sigma)
    }

    /// The Laplace approximation of the log marginal likelihood (log evidence) at the current
    /// prior precision and sigma; see [`log_marginal_likelihood_at`](Self::log_marginal_likelihood_at).
    pub fn log_marginal_likelihood(&self) -> f64 {
        let sigma = match self.likelihood {
            LaplaceLikelihood::Gaussian { sigma } => Some(sigma),
            LaplaceLikelihood::Categorical => None,
        };
        self.evidence(self.prior_precision(), sigma)
    }

    /// The Laplace log marginal likelihood at prior precision `lambda` and, for a Gaussian
    /// likelihood, noise sd `sigma` (`None` keeps the current one):
    ///
    /// `log p(D) ~ log p(D | theta*) - lambda ||theta*||^2 / 2 + P log(lambda) / 2 - log det(s GGN + lambda I) / 2`
    ///
    /// (MacKay 1992; Immer et al. 2021, Eq. 4; the `2 pi` of the prior and of the Laplace
    /// normaliser cancel). For a Gaussian likelihood with [`LaplaceMean::Refit`] and
    /// [`Curvature::Full`] or [`Curvature::Kron`] it is the exact evidence of Bayesian linear
    /// regression on the features, `log N(vec Y; 0, (sigma^2 I + Phi Phi^T / lambda) (x) I)`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `lambda` or `sigma` is not `> 0` and finite, or a
    /// `sigma` is given for a categorical fit.
    pub fn log_marginal_likelihood_at(&self, lambda: f64, sigma: Option<f64>) -> Result<f64> {
        const CONTEXT: &str = "LastLayerLaplace::log_marginal_likelihood_at";
        let sigma = evidence_arguments(CONTEXT, self.likelihood, lambda, sigma)?;
        Ok(self.evidence(lambda, sigma))
    }

    fn evidence(&self, lambda: f64, sigma: Option<f64>) -> f64 {
        let (theta, log_lik, s) = match (&self.gaussian, sigma) {
            (Some(g), Some(sigma)) => {
                let theta = self.mean_at(lambda, sigma);
                let ll = self.gaussian_log_lik(g, &theta, sigma);
                (theta, ll, gaussian_scale(self.config.fisher, sigma))
            }
            _ => (self.trained.clone(), self.categorical_log_lik, 1.0),
        };
        laplace_evidence(log_lik, &theta, &self.eigenvalues, s, lambda)
    }

    /// Sets the prior precision (and refits the mean under [`LaplaceMean::Refit`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `lambda` is not `> 0` and finite.
    pub fn set_prior_precision(&mut self, lambda: f64) -> Result<()> {
        check_positive(
            "LastLayerLaplace::set_prior_precision",
            "prior_precision",
            lambda,
            "use a positive prior precision such as 1.0",
        )?;
        self.config.prior_precision = lambda;
        self.refresh_mean();
        Ok(())
    }

    /// Sets the observation noise sd of a Gaussian fit (and refits the mean under
    /// [`LaplaceMean::Refit`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `sigma` is not `> 0` and finite or the fit is categorical.
    pub fn set_sigma(&mut self, sigma: f64) -> Result<()> {
        const CONTEXT: &str = "LastLayerLaplace::set_sigma";
        replace_sigma(CONTEXT, &mut self.likelihood, sigma)?;
        self.refresh_mean();
        Ok(())
    }

    fn refresh_mean(&mut self) {
        if let LaplaceLikelihood::Gaussian { sigma } = self.likelihood {
            self.mean = self.mean_at(self.prior_precision(), sigma);
        }
    }
}
