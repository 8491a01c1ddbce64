//! A correctness harness for variational layers, yours included: the checks bayesburn's own
//! tests run on its layers, as functions that return what they measured.
//!
//! Each statistical check returns a [`Check`]: the Monte-Carlo estimate, the value the math
//! expects and the standard error of the estimator, so a test asserts `check.passes(4.0)` (within
//! 4 standard errors: a false alarm about once in 16,000 runs of a sound layer, at a fixed seed
//! never) and prints the check when it fails.
//!
//! - [`pre_activation_moments`]: a layer's outputs over `S` weight samples against the analytic
//!   mean and variance of its pre-activation (for a mean-field Gaussian linear layer
//!   `x·mu + b_mu` and `x²·sigma² + b_sigma²`), whatever the estimator;
//! - [`gaussian_moments`]: the same for draws you already have;
//! - [`identical_example_correlation`]: the correlation of the perturbations of two identical
//!   examples in one batch (1 for shared weight samples, about 0 for Flipout and local
//!   reparameterization, Wen et al. 2018), with its standard error under independence;
//! - [`monte_carlo_kl`]: a closed-form KL against the mean of `log q(w) - log p(w)` over draws
//!   `w ~ q`;
//! - [`central_differences`]: a numerical gradient to hold an autodiff gradient against.

use burn::prelude::*;

use crate::distributions::check::to_host;
use crate::error::{Error, Result};

/// One statistical comparison: a Monte-Carlo `estimate` of a quantity the math says is
/// `expected`, with the `standard_error` of the estimator.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Check {
    /// What was compared, e.g. `example 0 output 1: variance`.
    pub label: String,
    /// The Monte-Carlo estimate.
    pub estimate: f64,
    /// The value the math expects.
    pub expected: f64,
    /// The standard error of the estimate.
    pub standard_error: f64,
}

impl Check {
    /// `(estimate - expected) / standard_error`.
    pub fn z(&self) -> f64 {
        (self.estimate - self.expected) / self.standard_error
    }

    /// Whether the estimate is within `k` standard errors of the expected value (false for a
    /// non-finite estimate).
    pub fn passes(&self, k: f64) -> bool {
        self.estimate.is_finite() && self.z().abs() <= k
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {:.6} vs {:.6} expected (SE {:.3e}, z = {:.2})",
            self.label,
            self.estimate,
            self.expected,
            self.standard_error,
            self.z()
        )
    }
}

/// Sample mean and unbiased sample variance of Gaussian `draws` against `mean` and `var`:
/// standard errors `sqrt(var / S)` and `var sqrt(2 / (S - 1))`.
///
/// # Errors
/// [`Error::InvalidParameter`] for fewer than 2 draws or `var <= 0`.
pub fn gaussian_moments(label: &str, draws: &[f64], mean: f64, var: f64) -> Result<[Check; 2]> {
    if draws.len() < 2 {
        return Err(Error::invalid("check::gaussian_moments", "draws", draws.len(), ">= 2", "draw more samples"));
    }
    crate::error::check_positive("check::gaussian_moments", "var", var, "pass the analytic variance (> 0)")?;
    let s = draws.len() as f64;
    let m = draws.iter().sum::<f64>() / s;
    let v = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (s - 1.0);
    Ok([
        Check { label: format!("{label}: mean"), estimate: m, expected: mean, standard_error: (var / s).sqrt() },
        Check {
            label: format!("{label}: variance"),
            estimate: v,
            expected: var,
            standard_error: var * (2.0 / (s - 1.0)).sqrt(),
        },
    ])
}

/// Runs `forward` once on `x` (`[N, d_in]`) repeated `samples` times along a leading sample axis
/// (`[S, N, d_in]`, so each sample meets fresh weights or noise) and compares the mean and
/// variance over samples of every output `(n, o)` with `analytic(n, o) = (mean, var)`: two
/// [`Check`]s per output, examples first.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `forward` does not return `[S, N, d_out]`; the errors of
/// [`gaussian_moments`].
pub fn pre_activation_moments(
    forward: impl FnOnce(Tensor<3>) -> Tensor<3>,
    x: Tensor<2>,
    samples: usize,
    analytic: impl Fn(usize, usize) -> (f64, f64),
) -> Result<Vec<Check>> {
    let [n, _] = x.dims();
    let out = forward(x.unsqueeze::<3>().repeat_dim(0, samples));
    let [s, n_out, d_out] = out.dims();
    if s != samples || n_out != n {
        return Err(Error::shape(
            "check::pre_activation_moments",
            "forward output",
            format!("[{samples}, {n}, d_out]"),
            &[s, n_out, d_out],
            "return one output row per sample and example",
        ));
    }
    let values = to_host(&out);
    let mut checks = Vec::with_capacity(2 * n * d_out);
    for row in 0..n {
        for o in 0..d_out {
            let draws: Vec<f64> = values.iter().skip(row * d_out + o).step_by(n * d_out).copied().collect();
            let (mean, var) = analytic(row, o);
            checks.extend(gaussian_moments(&format!("example {row} output {o}"), &draws, mean, var)?);
        }
    }
    Ok(checks)
}

/// The correlation over `samples` weight samples of the two outputs of `forward` on a batch of
/// two copies of the row `x` (`[d_in]`, single output), around `mean`: 1 when both copies meet
/// the same weights, about 0 for Flipout and local reparameterization. The [`Check`]'s expected
/// value is 0 with the standard error `1 / sqrt(S)` of a correlation of independent draws
/// (Flipout's perturbations are uncorrelated but not independent: its spread is
/// `sqrt(kappa / S)`, `kappa >= 1`, so judge Flipout with a wider `k` or that error).
///
/// # Errors
/// [`Error::ShapeMismatch`] if `forward` does not return `[S, 2, 1]`.
pub fn identical_example_correlation(
    forward: impl FnOnce(Tensor<3>) -> Tensor<3>,
    x: Tensor<1>,
    mean: f64,
    samples: usize,
) -> Result<Check> {
    let row = x.unsqueeze::<2>();
    let batch = Tensor::cat(vec![row.clone(), row], 0);
    let out = forward(batch.unsqueeze::<3>().repeat_dim(0, samples));
    let dims = out.dims();
    if dims != [samples, 2, 1] {
        return Err(Error::shape(
            "check::identical_example_correlation",
            "forward output",
            format!("[{samples}, 2, 1]"),
            &dims,
            "use a layer with one output",
        ));
    }
    let values = to_host(&out);
    let (mut s01, mut s00, mut s11) = (0.0, 0.0, 0.0);
    for pair in values.chunks(2) {
        let (p0, p1) = (pair[0] - mean, pair[1] - mean);
        s01 += p0 * p1;
        s00 += p0 * p0;
        s11 += p1 * p1;
    }
    Ok(Check {
        label: "correlation of two identical examples".into(),
        estimate: s01 / (s00 * s11).sqrt(),
        expected: 0.0,
        standard_error: 1.0 / (samples as f64).sqrt(),
    })
}

/// A closed-form `KL(q || p)` against the Monte-Carlo mean of `log_ratios`, draws of
/// `log q(w) - log p(w)` at `w ~ q`, with the standard error of that mean (the draws' sample sd
/// over `sqrt(S)`).
///
/// # Errors
/// [`Error::InvalidParameter`] for fewer than 2 draws.
pub fn monte_carlo_kl(closed_form: f64, log_ratios: &[f64]) -> Result<Check> {
    if log_ratios.len() < 2 {
        return Err(Error::invalid(
            "check::monte_carlo_kl",
            "log_ratios",
            log_ratios.len(),
            ">= 2",
            "draw more samples",
        ));
    }
    let s = log_ratios.len() as f64;
    let m = log_ratios.iter().sum::<f64>() / s;
    let v = log_ratios.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (s - 1.0);
    Ok(Check { label: "KL".into(), estimate: m, expected: closed_form, standard_error: (v / s).sqrt() })
}

/// The gradient of `f` at `x` by central differences with step `h` (`h` around `1e-5` for a
/// function evaluated in f64; a function evaluated in f32 needs about `1e-2`).
pub fn central_differences(mut f: impl FnMut(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut at = x.to_vec();
    (0..x.len())
        .map(|i| {
            at[i] = x[i] + h;
            let up = f(&at);
            at[i] = x[i] - h;
            let down = f(&at);
            at[i] = x[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn central_differences_of_a_quadratic_are_exact() {
        let g = central_differences(|x| x[0] * x[0] + 3.0 * x[0] * x[1], &[1.0, 2.0], 1e-3);
        assert!((g[0] - 8.0).abs() < 1e-9 && (g[1] - 3.0).abs() < 1e-9, "{g:?}");
    }

    #[test]
    fn a_wrong_variance_fails_and_the_right_one_passes() {
        // Draws with variance 1 and mean 0 exactly in their first two moments.
        let draws: Vec<f64> = (0..1000).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let v = 1000.0 / 999.0;
        let [mean, var] = gaussian_moments("x", &draws, 0.0, v).unwrap();
        assert!(mean.passes(4.0) && var.passes(4.0), "{mean} {var}");
        let [_, wrong] = gaussian_moments("x", &draws, 0.0, 2.0 * v).unwrap();
        assert!(!wrong.passes(4.0), "{wrong}");
        assert!(matches!(gaussian_moments("x", &[1.0], 0.0, 1.0), Err(Error::InvalidParameter { .. })));
    }
}
