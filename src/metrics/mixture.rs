//! The Monte-Carlo mixture test log-likelihood of the MC-dropout UCI protocol.
//!
//! Gal & Ghahramani (2016), *Dropout as a Bayesian approximation*, section 5.2 and appendix,
//! and Gal (2016), *Uncertainty in Deep Learning*, eq. 3.23: the predictive density of a point
//! is the equal-weight mixture of the `S` Gaussians `N(y; mu_s, tau^-1)` given by the sampled
//! networks, so
//!
//! `ll_n = logsumexp_s(-0.5 tau (y_n - mu_sn)^2) - ln S - 0.5 ln(2 pi) + 0.5 ln tau`,
//!
//! and the reported number is `mean_n ll_n` (higher is better). The log-sum-exp subtracts the
//! largest term first, so a point far from every sampled mean gives a large negative but finite
//! value where `ln(mean_s exp(..))` would underflow to `-inf`.

use burn::prelude::*;

use super::host;
use crate::error::{check_positive, Error, Result};

/// `ln(2 pi) / 2`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln sum_i exp(a_i)`, computed as `m + ln sum_i exp(a_i - m)` with `m = max_i a_i`.
pub(super) fn log_sum_exp(a: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = a.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + a.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Reads `[S, N]` per-sample values (the argument `field`) and `[N]` targets.
pub(super) fn samples_and_targets(
    context: &'static str,
    field: &'static str,
    samples: Tensor<2>,
    targets: Tensor<1>,
) -> Result<(Vec<f64>, Vec<f64>, [usize; 2])> {
    let dims = samples.dims();
    host::non_empty(context, field, &dims)?;
    if targets.dims() != [dims[1]] {
        return Err(Error::shape(
            context,
            "targets",
            format!("[{}] (N, the second dimension of {field} [S, N])", dims[1]),
            &targets.dims(),
            "put the sample axis first: [S, N] per-sample values with targets [N]",
        ));
    }
    let mu = host::floats(context, field, samples)?;
    let y = host::floats(context, "targets", targets)?;
    Ok((mu, y, dims))
}

/// Mean over points of the per-point mixture log-likelihood, given per-sample log densities
/// `log_density(s, n)` of point `n` under sample `s`.
fn mean_mixture_ll(s: usize, n: usize, log_density: impl Fn(usize, usize) -> f64) -> f64 {
    let ln_s = (s as f64).ln();
    let log_density = &log_density;
    let total: f64 = (0..n).map(|j| log_sum_exp((0..s).map(move |i| log_density(i, j))) - ln_s).sum();
    total / n as f64
}

/// Monte-Carlo mixture test log-likelihood with a fixed noise precision `tau`, as in the
/// MC-dropout UCI protocol (Gal & Ghahramani 2016, *Dropout as a Bayesian approximation*,
/// section 5.2; Gal 2016, *Uncertainty in Deep Learning*, eq. 3.23). The predictive density
/// of a point is the equal-weight mixture of the `S` Gaussians `N(y; mu_s, 1 / tau)` of the
/// sampled networks, so
///
/// `ll_n = logsumexp_s(-0.5 tau (y_n - mu_sn)^2) - ln S - 0.5 ln(2 pi) + 0.5 ln tau`,
///
/// and the result is `mean_n ll_n` (nats; higher is better). The log-sum-exp subtracts the
/// largest term first, so a point far from every sampled mean gives a large negative but
/// finite value where `ln(mean_s exp(..))` would underflow to `-inf`.
///
/// # Shapes
/// - `sample_means`: `[S, N]`, one row per posterior sample (for a one-output model's
///   `[S, N, 1]`, use `squeeze_dim(2)`)
/// - `targets`: `[N]`
///
/// # Errors
/// [`Error::ShapeMismatch`] on empty inputs or when `targets` is not `[N]`;
/// [`Error::InvalidParameter`] on a NaN/inf entry or when `tau` is not `> 0` and finite.
pub fn mc_log_likelihood(sample_means: Tensor<2>, targets: Tensor<1>, tau: f64) -> Result<f64> {
    const CONTEXT: &str = "metrics::mc_log_likelihood";
    check_positive(CONTEXT, "tau", tau, "pass the noise precision 1 / sigma^2, e.g. tau = 1 / 0.01")?;
    let (mu, y, [s, n]) = samples_and_targets(CONTEXT, "sample_means", sample_means, targets)?;
    let constant = 0.5 * tau.ln() - HALF_LN_2PI;
    Ok(mean_mixture_ll(s, n, |i, j| -0.5 * tau * (y[j] - mu[i * n + j]).powi(2)) + constant)
}

/// Monte-Carlo mixture test log-likelihood with per-sample noise variances (heteroscedastic
/// heads, deep ensembles): `mean_n [ logsumexp_s ln N(y_n; mu_sn, var_sn) - ln S ]`.
/// With `var_sn = 1 / tau` everywhere it equals [`mc_log_likelihood`].
///
/// # Shapes
/// - `sample_means`: `[S, N]`
/// - `targets`: `[N]`
/// - `sample_vars`: `[S, N]`
///
/// # Errors
/// As [`mc_log_likelihood`], plus [`Error::InvalidParameter`] when a variance is `<= 0`.
pub fn mc_log_likelihood_with_variances(
    sample_means: Tensor<2>,
    targets: Tensor<1>,
    sample_vars: Tensor<2>,
) -> Result<f64> {
    const CONTEXT: &str = "metrics::mc_log_likelihood_with_variances";
    let (mu, y, [s, n]) = samples_and_targets(CONTEXT, "sample_means", sample_means, targets)?;
    host::same_shape(CONTEXT, "sample_vars", &sample_vars.dims(), "sample_means", &[s, n])?;
    let v = host::floats(CONTEXT, "sample_vars", sample_vars)?;
    host::positive(
        CONTEXT,
        "sample_vars",
        &v,
        &[s, n],
        "pass variances (sd squared), floored at a small positive value",
    )?;
    Ok(mean_mixture_ll(s, n, |i, j| {
        let v = v[i * n + j];
        -HALF_LN_2PI - 0.5 * v.ln() - (y[j] - mu[i * n + j]).powi(2) / (2.0 * v)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_sum_exp_matches_the_naive_form_and_survives_large_arguments() {
        let a = [0.1f64, -0.3, 0.7];
        let naive = a.iter().map(|x| x.exp()).sum::<f64>().ln();
        assert!((log_sum_exp(a.iter().copied()) - naive).abs() < 1e-14);
        // ln(2 e^-1000) = -1000 + ln 2, where exp underflows.
        let big = [-1000.0f64, -1000.0];
        assert!((log_sum_exp(big.iter().copied()) - (-1000.0 + 2f64.ln())).abs() < 1e-12);
    }
}
