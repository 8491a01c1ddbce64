//! Conjugate Bayesian linear regression (d = 5, known noise, Gaussian prior): the model, the
//! data (fixed seed) and the exact posterior in f64.

use bayesburn::dist::Normal;
use bayesburn::noise;
use bayesburn::prelude::*;
use burn::prelude::*;

pub const D: usize = 5;
pub const N: usize = 40;
pub const PRIOR_SD: f64 = 1.0;
pub const NOISE_SD: f64 = 1.0;
pub const TRUE_W: [f64; D] = [1.0, -2.0, 0.7, 1.5, -0.8];

#[model]
pub fn regression(x: Tensor<2>, y: Option<Tensor<1>>, subsample: Option<usize>) -> bayesburn::Result<Tensor<1>> {
    let device = x.device();
    let [n, d] = x.dims();
    let w: Tensor<1> = sample!("w", Normal::new(Tensor::zeros([d], &device), Tensor::full([d], PRIOR_SD, &device))?);
    let size = n;
    let batch = subsample.unwrap_or(n);
    plate!("data", size, subsample = batch, |p| {
        let mean = p.subsample(x.clone(), 0).matmul(w.clone().unsqueeze_dim(1)).squeeze_dim::<1>(1);
        let sd = mean.ones_like().mul_scalar(NOISE_SD);
        observe!("y", Normal::new_unchecked(mean, sd), y.clone().map(|y| p.subsample(y, 0)));
    });
    Ok(w)
}

/// Host data: correlated features (x_j = z_j + 0.6 z_0) so that the mean-field optimum
/// differs from the exact marginals, and y = x w + noise.
pub fn data() -> (Vec<f64>, Vec<f64>) {
    noise::with_seed(2024, || {
        let device = Device::flex();
        let z: Vec<f64> = super::host(noise::normal([N, D], &device));
        let e: Vec<f64> = super::host(noise::normal([N], &device));
        let mut x = vec![0.0; N * D];
        for i in 0..N {
            for j in 0..D {
                x[i * D + j] = z[i * D + j] + if j > 0 { 0.6 * z[i * D] } else { 0.0 };
            }
        }
        let y = (0..N).map(|i| (0..D).map(|j| x[i * D + j] * TRUE_W[j]).sum::<f64>() + NOISE_SD * e[i]).collect();
        (x, y)
    })
}

/// Inverse of a small symmetric positive-definite matrix (Gauss-Jordan).
pub fn inverse(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut m: Vec<Vec<f64>> = a.iter().cloned().collect();
    let mut inv: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect()).collect();
    for c in 0..n {
        let p = m[c][c];
        for k in 0..n {
            m[c][k] /= p;
            inv[c][k] /= p;
        }
        for r in 0..n {
            if r != c {
                let f = m[r][c];
                for k in 0..n {
                    m[r][k] -= f * m[c][k];
                    inv[r][k] -= f * inv[c][k];
                }
            }
        }
    }
    inv
}

/// Exact posterior: precision Λ = I / s0² + XᵀX / σ², mean = Λ⁻¹ Xᵀy / σ², covariance Λ⁻¹.
pub struct Exact {
    pub mean: Vec<f64>,
    pub precision: Vec<Vec<f64>>,
    pub covariance: Vec<Vec<f64>>,
}

pub fn exact(x: &[f64], y: &[f64]) -> Exact {
    let mut precision = vec![vec![0.0; D]; D];
    let mut xty = vec![0.0; D];
    for j in 0..D {
        precision[j][j] = 1.0 / (PRIOR_SD * PRIOR_SD);
        for i in 0..N {
            xty[j] += x[i * D + j] * y[i] / (NOISE_SD * NOISE_SD);
            for k in 0..D {
                precision[j][k] += x[i * D + j] * x[i * D + k] / (NOISE_SD * NOISE_SD);
            }
        }
    }
    let covariance = inverse(&precision);
    let mean = (0..D).map(|j| (0..D).map(|k| covariance[j][k] * xty[k]).sum()).collect();
    Exact { mean, precision, covariance }
}

/// NUTS on the model's `ModelPotential`, each draw mapped back through the constraint
/// transforms (`potential.constrain`; the identity for this all-real model, but the path a
/// constrained model takes): per coefficient, the summary (mean, sd, MCSE, ESS, R-hat) of
/// `w_j` over all chains.
pub fn nuts_summaries<M: bayesburn::ppl::Model>(
    potential: &bayesburn::ppl::ModelPotential<M>,
    result: &bayesburn::ppl::mcmc::McmcResult,
) -> Vec<bayesburn::ppl::mcmc::Summary> {
    // [chain][draw] -> w (D values)
    let w: Vec<Vec<Vec<f64>>> = result
        .draws
        .iter()
        .map(|chain| {
            chain.iter().map(|q| potential.constrain(q).expect("q has the layout's length")["w"].to_vec()).collect()
        })
        .collect();
    (0..D)
        .map(|j| {
            let chains: Vec<Vec<f64>> = w.iter().map(|c| c.iter().map(|w| w[j]).collect()).collect();
            bayesburn::ppl::mcmc::diagnostics::summary(&chains).expect("4 chains of equal length")
        })
        .collect()
}

/// `(max_j |mean_j − exact_j| / MCSE_j, max_j |sd_j / exact sd_j − 1|)`.
pub fn nuts_errors(summaries: &[bayesburn::ppl::mcmc::Summary], exact: &Exact) -> (f64, f64) {
    let mut mean_err = 0.0f64;
    let mut sd_err = 0.0f64;
    for (j, s) in summaries.iter().enumerate() {
        mean_err = mean_err.max((s.mean - exact.mean[j]).abs() / s.mcse_mean);
        sd_err = sd_err.max((s.sd / exact.covariance[j][j].sqrt() - 1.0).abs());
    }
    (mean_err, sd_err)
}
