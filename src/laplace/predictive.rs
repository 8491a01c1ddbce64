//! Predictives of a last-layer Laplace posterior through the linearised network (the GLM
//! predictive of Immer et al. 2021), which for a last layer is exact in function space: the
//! outputs at features `phi` are `f ~ N(phi^T W*, J Sigma J^T)`, `J = phi^T (x) I_O`.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand_distr::{Distribution, StandardNormal};

use super::last_layer::{outputs, softmax, LaplaceLikelihood, LastLayerLaplace};
use super::linalg::cholesky;
use crate::error::{check_nonzero, Error, Result};
use crate::metrics::host;
use crate::noise;
use crate::predict::{self, ClassificationSummary, RegressionSummary};

impl LastLayerLaplace {
    /// Features `[M, H]` as rows of `H'`, checked.
    fn rows(&self, context: &'static str, features: Tensor<2>) -> Result<(Vec<f64>, usize)> {
        let [m, w] = features.dims();
        if m == 0 || w != self.d_features {
            return Err(Error::shape(
                context,
                "features",
                format!("[M, {}] with M >= 1 (the width of the fitted features)", self.d_features),
                &[m, w],
                "pass the penultimate features of the test points, computed as for the fit",
            ));
        }
        let raw = host::floats(context, "features", features)?;
        if !self.bias {
            return Ok((raw, m));
        }
        let mut out = Vec::with_capacity(m * (w + 1));
        for row in raw.chunks_exact(w) {
            out.extend_from_slice(row);
            out.push(1.0);
        }
        Ok((out, m))
    }

    /// The GLM's output mean `[M, O]` and covariances (`M` blocks of `O x O`), host row-major.
    fn moments(&self, context: &'static str, features: Tensor<2>) -> Result<(Vec<f64>, Vec<f64>, usize)> {
        let (phi, m) = self.rows(context, features)?;
        let (h, o) = (self.d_features + usize::from(self.bias), self.outputs);
        let mean = outputs(&phi, &self.mean, h, o);
        let (s, lambda) = (self.scale(), self.prior_precision());
        let f = |k: usize| 1.0 / (s * self.eigenvalues[k] + lambda);
        let cov = phi.chunks_exact(h).flat_map(|row| self.factors.function_covariance(row, h, o, &f)).collect();
        Ok((mean, cov, m))
    }

    /// The output mean `[M, O]` and covariance `[M, O, O]` of the linearised network at
    /// `features` `[M, H]`, on `device`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `features` is empty or not `H` wide;
    /// [`Error::InvalidParameter`] on a NaN or infinite feature.
    pub fn function_moments(&self, features: Tensor<2>) -> Result<(Tensor<2>, Tensor<3>)> {
        let device = features.device();
        let (mean, cov, m) = self.moments("LastLayerLaplace::function_moments", features)?;
        let o = self.outputs;
        Ok((
            Tensor::from_data(TensorData::new(mean, [m, o]), &device),
            Tensor::from_data(TensorData::new(cov, [m, o, o]), &device),
        ))
    }

    /// Gaussian likelihood: the closed-form predictive at `features` `[M, H]`, mean `phi^T W*`,
    /// epistemic variance `diag(J Sigma J^T)` and aleatoric variance `sigma^2`, as a
    /// [`RegressionSummary`] (`samples` is 0: no sampling).
    ///
    /// # Errors
    /// As [`function_moments`](Self::function_moments); [`Error::InvalidParameter`] for a
    /// categorical fit.
    pub fn predict_regression(&self, features: Tensor<2>) -> Result<RegressionSummary> {
        const CONTEXT: &str = "LastLayerLaplace::predict_regression";
        let LaplaceLikelihood::Gaussian { sigma } = self.likelihood else {
            return Err(wrong_likelihood(CONTEXT, "Categorical", "Gaussian"));
        };
        let device = features.device();
        let (mean, cov, m) = self.moments(CONTEXT, features)?;
        Ok(regression_summary(mean, &cov, m, self.outputs, sigma, &device))
    }

    /// Categorical likelihood: the probit approximation of the GLM predictive (MacKay 1992;
    /// laplace-torch's `link_approx="probit"`), `p = softmax(m_k / sqrt(1 + pi v_kk / 8))`.
    ///
    /// There are no samples, so the summary's other fields are approximations too:
    /// `expected_entropy` is the entropy of the mean network `softmax(m)` (the plug-in, so the
    /// mutual information is how much the weight uncertainty flattens the prediction),
    /// `variation_ratio` is 0 and `samples` is 0. Use
    /// [`predict_monte_carlo`](Self::predict_monte_carlo) for the sampled split.
    ///
    /// # Errors
    /// As [`function_moments`](Self::function_moments); [`Error::InvalidParameter`] for a
    /// Gaussian fit.
    pub fn predict_probit(&self, features: Tensor<2>) -> Result<ClassificationSummary> {
        const CONTEXT: &str = "LastLayerLaplace::predict_probit";
        if let LaplaceLikelihood::Gaussian { .. } = self.likelihood {
            return Err(wrong_likelihood(CONTEXT, "Gaussian", "Categorical"));
        }
        let device = features.device();
        let (mean, cov, m) = self.moments(CONTEXT, features)?;
        Ok(probit_summary(&mean, &cov, m, self.outputs, &device))
    }

    /// Categorical likelihood: `samples` draws of the outputs from the GLM,
    /// `f_s ~ N(m, J Sigma J^T)` at each point, through the softmax and
    /// [`predict::classification`]. Draws come from the thread's [`noise`] source.
    ///
    /// # Errors
    /// As [`predict_probit`](Self::predict_probit); [`Error::InvalidParameter`] when
    /// `samples` is 0.
    pub fn predict_monte_carlo(&self, features: Tensor<2>, samples: usize) -> Result<ClassificationSummary> {
        const CONTEXT: &str = "LastLayerLaplace::predict_monte_carlo";
        check_nonzero(CONTEXT, "samples", samples, "draw at least one sample, e.g. 100")?;
        if let LaplaceLikelihood::Gaussian { .. } = self.likelihood {
            return Err(wrong_likelihood(CONTEXT, "Gaussian", "Categorical"));
        }
        let device = features.device();
        let (mean, cov, m) = self.moments(CONTEXT, features)?;
        monte_carlo_summary(&mean, &cov, m, self.outputs, samples, &device)
    }
}

/// The closed-form Gaussian predictive from output means `[M, O]` and covariances (`M` blocks
/// of `O x O`): epistemic variance the covariance's diagonal, aleatoric `sigma^2`.
pub(crate) fn regression_summary(
    mean: Vec<f64>,
    cov: &[f64],
    m: usize,
    o: usize,
    sigma: f64,
    device: &Device,
) -> RegressionSummary {
    let epistemic: Vec<f64> = cov.chunks_exact(o * o).flat_map(|c| (0..o).map(move |a| c[a * o + a])).collect();
    let shape = [m, o];
    RegressionSummary {
        mean: Tensor::from_data(TensorData::new(mean, shape), device),
        aleatoric_var: Tensor::full(shape, sigma * sigma, device),
        epistemic_var: Tensor::from_data(TensorData::new(epistemic, shape), device),
        samples: 0,
    }
}

/// The probit approximation of the softmax of Gaussian logits (means `[M, K]`, covariances `M`
/// blocks of `K x K`); see [`LastLayerLaplace::predict_probit`].
pub(crate) fn probit_summary(mean: &[f64], cov: &[f64], m: usize, k: usize, device: &Device) -> ClassificationSummary {
    let mut probs = Vec::with_capacity(m * k);
    let (mut h_pred, mut h_plug) = (Vec::with_capacity(m), Vec::with_capacity(m));
    for (mu, c) in mean.chunks_exact(k).zip(cov.chunks_exact(k * k)) {
        let scaled: Vec<f64> =
            (0..k).map(|a| mu[a] / (1.0 + std::f64::consts::PI * c[a * k + a] / 8.0).sqrt()).collect();
        let p = softmax(&scaled);
        h_pred.push(entropy(&p));
        h_plug.push(entropy(&softmax(mu)));
        probs.extend(p);
    }
    ClassificationSummary {
        probs: Tensor::from_data(TensorData::new(probs, [m, k]), device),
        predictive_entropy: Tensor::from_data(TensorData::new(h_pred, [m]), device),
        expected_entropy: Tensor::from_data(TensorData::new(h_plug, [m]), device),
        variation_ratio: Tensor::zeros([m], device),
        samples: 0,
    }
}

/// `samples` draws of Gaussian logits per point through the softmax and
/// [`predict::classification`]; see [`LastLayerLaplace::predict_monte_carlo`].
pub(crate) fn monte_carlo_summary(
    mean: &[f64],
    cov: &[f64],
    m: usize,
    k: usize,
    samples: usize,
    device: &Device,
) -> Result<ClassificationSummary> {
    let mut probs = vec![0.0; samples * m * k];
    noise::with_rng(|rng| {
        for (n, (mu, c)) in mean.chunks_exact(k).zip(cov.chunks_exact(k * k)).enumerate() {
            let l = factor(c, k);
            for s in 0..samples {
                let eps: Vec<f64> = (0..k).map(|_| StandardNormal.sample(&mut *rng)).collect();
                let f: Vec<f64> = (0..k).map(|a| mu[a] + (0..=a).map(|b| l[a * k + b] * eps[b]).sum::<f64>()).collect();
                let at = (s * m + n) * k;
                probs[at..at + k].copy_from_slice(&softmax(&f));
            }
        }
    });
    predict::classification(Tensor::from_data(TensorData::new(probs, [samples, m, k]), device))
}

/// A Cholesky factor of a covariance, with jitter on the diagonal if it is only semi-definite.
fn factor(c: &[f64], k: usize) -> Vec<f64> {
    let trace: f64 = (0..k).map(|a| c[a * k + a]).sum();
    let mut jitter = 0.0;
    loop {
        let mut m = c.to_vec();
        for a in 0..k {
            m[a * k + a] += jitter;
        }
        if let Some(l) = cholesky(&m, k) {
            return l;
        }
        jitter = if jitter == 0.0 { 1e-12 * (trace + 1.0) } else { jitter * 10.0 };
    }
}

fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|&&v| v > 0.0).map(|v| v * v.ln()).sum::<f64>()
}

pub(crate) fn wrong_likelihood(context: &'static str, got: &'static str, needed: &'static str) -> Error {
    Error::invalid(
        context,
        "likelihood",
        got,
        needed,
        "call the predictive of the likelihood the posterior was fitted with",
    )
}
