//! Intervals and CRPS of mixture predictives: the equal-weight Gaussian mixture of `S` sampled
//! networks (an ensemble, Bayes-by-backprop or MC-dropout samples with a noise model), and the
//! empirical distribution of `S` samples.
//!
//! A mixture's predictive is not Gaussian: an ensemble whose members disagree is bimodal, and a
//! band `mean ± z sd` built from its first two moments covers the wrong places. Here the
//! interval's ends are the mixture's own quantiles, found by bisection on its CDF
//! `F(x) = (1 / S) sum_s Phi((x - mu_s) / sigma_s)`, and the CRPS is the mixture's closed form
//! (Grimit et al. 2006, *The continuous ranked probability score for circular variables and its
//! application to mesoscale forecast ensemble verification*, eq. 5).

use burn::prelude::*;
use burn::tensor::TensorData;
use statrs::distribution::{Continuous, ContinuousCDF, Normal};

use super::host;
use super::interval::{summarise, IntervalCoverage};
use super::mixture::samples_and_targets;
use crate::error::Result;
use crate::predict::normal_quantile_two_sided;

/// `E|X|` for `X ~ N(m, v)`: `2 sqrt(v) phi(m / sqrt(v)) + m (2 Phi(m / sqrt(v)) - 1)` (the
/// folded normal mean).
fn abs_normal_mean(standard: &Normal, m: f64, v: f64) -> f64 {
    let s = v.sqrt();
    let z = m / s;
    2.0 * s * standard.pdf(z) + m * (2.0 * standard.cdf(z) - 1.0)
}

/// Reads `[S, N]` sample means and standard deviations (same shape, finite, sds `> 0`).
fn means_and_sds(
    context: &'static str,
    sample_means: Tensor<2>,
    sample_sds: Tensor<2>,
) -> Result<(Vec<f64>, Vec<f64>, [usize; 2])> {
    let dims = sample_means.dims();
    host::non_empty(context, "sample_means", &dims)?;
    host::same_shape(context, "sample_sds", &sample_sds.dims(), "sample_means", &dims)?;
    let mu = host::floats(context, "sample_means", sample_means)?;
    let sd = host::floats(context, "sample_sds", sample_sds)?;
    host::positive(
        context,
        "sample_sds",
        &sd,
        &dims,
        "pass standard deviations (sqrt of the predicted noise variances), floored at a small positive value",
    )?;
    Ok((mu, sd, dims))
}

/// The `p`-quantile of the equal-weight mixture of `N(mu_s, sd_s^2)`, `s` running over the
/// entries `j, j + n, j + 2n, ...` of the `[S, N]` arrays: bisection on the CDF between the
/// smallest and the largest component quantile, which bracket it (the mixture CDF is the mean
/// of the component CDFs, each `<= p` at the smallest and `>= p` at the largest).
fn mixture_quantile(standard: &Normal, mu: &[f64], sd: &[f64], s: usize, n: usize, j: usize, p: f64) -> f64 {
    let z = standard.inverse_cdf(p);
    let comp = |i: usize| mu[i * n + j] + sd[i * n + j] * z;
    let (mut lo, mut hi) = (0..s).map(comp).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), q| (l.min(q), h.max(q)));
    let cdf = |x: f64| (0..s).map(|i| standard.cdf((x - mu[i * n + j]) / sd[i * n + j])).sum::<f64>() / s as f64;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi || hi - lo <= 1e-12 * (lo.abs() + hi.abs()).max(1e-300) {
            break;
        }
        if cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Bounds `(lower, upper)` of the central intervals of the mixtures, on the host.
/// `level` must already be checked to lie in `(0, 1)`.
fn bounds(mu: &[f64], sd: &[f64], [s, n]: [usize; 2], level: f64) -> (Vec<f64>, Vec<f64>) {
    let standard = Normal::standard();
    let (p_lo, p_hi) = (0.5 - level / 2.0, 0.5 + level / 2.0);
    (0..n)
        .map(|j| {
            (mixture_quantile(&standard, mu, sd, s, n, j, p_lo), mixture_quantile(&standard, mu, sd, s, n, j, p_hi))
        })
        .unzip()
}

/// Central intervals holding `level` of each point's predictive, the equal-weight mixture
/// `(1 / S) sum_s N(mu_s, sd_s^2)` of the `S` samples: the mixture's `(1 - level) / 2` and
/// `(1 + level) / 2` quantiles, by bisection on its CDF to relative precision `1e-12`. For one
/// sample it is the Gaussian interval `mu ± z sd`. Costs `O(S)` CDF evaluations per bisection
/// step and point.
///
/// # Shapes
/// - `sample_means`, `sample_sds`: `[S, N]` (for `[S, N, 1]` outputs, `squeeze_dim(2)`)
/// - returns `([N], [N])` on the device of `sample_means`
///
/// # Errors
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) when `level` is not in `(0, 1)`, on a NaN/inf entry or an sd
/// `<= 0`; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) on empty inputs or differing shapes.
pub fn mixture_interval(sample_means: Tensor<2>, sample_sds: Tensor<2>, level: f64) -> Result<(Tensor<1>, Tensor<1>)> {
    const CONTEXT: &str = "metrics::mixture_interval";
    normal_quantile_two_sided(CONTEXT, level)?;
    let device = sample_means.device();
    let (mu, sd, dims) = means_and_sds(CONTEXT, sample_means, sample_sds)?;
    let (lower, upper) = bounds(&mu, &sd, dims, level);
    let n = dims[1];
    Ok((
        Tensor::from_data(TensorData::new(lower, [n]), &device),
        Tensor::from_data(TensorData::new(upper, [n]), &device),
    ))
}

/// Coverage and mean width of the [`mixture_interval`]s against targets.
///
/// # Shapes
/// - `sample_means`, `sample_sds`: `[S, N]`
/// - `targets`: `[N]`
///
/// # Errors
/// As [`mixture_interval`], and [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) when `targets` is not `[N]`.
pub fn mixture_interval_coverage(
    sample_means: Tensor<2>,
    targets: Tensor<1>,
    sample_sds: Tensor<2>,
    level: f64,
) -> Result<IntervalCoverage> {
    const CONTEXT: &str = "metrics::mixture_interval_coverage";
    normal_quantile_two_sided(CONTEXT, level)?;
    host::same_shape(CONTEXT, "sample_sds", &sample_sds.dims(), "sample_means", &sample_means.dims())?;
    let (mu, y, dims) = samples_and_targets(CONTEXT, "sample_means", sample_means, targets)?;
    let sd = host::floats(CONTEXT, "sample_sds", sample_sds)?;
    host::positive(CONTEXT, "sample_sds", &sd, &dims, "pass standard deviations, floored at a small positive value")?;
    let (lower, upper) = bounds(&mu, &sd, dims, level);
    Ok(summarise(&lower, &upper, &y))
}

/// Mean CRPS of equal-weight Gaussian mixture predictives, in closed form (Grimit et al. 2006,
/// eq. 5; the kernel form `CRPS(F, y) = E|X - y| - E|X - X'| / 2` of Gneiting & Raftery 2007,
/// eq. 21, with `X, X'` independent draws from `F`):
///
/// `CRPS = (1 / S) sum_s A(y - mu_s, sd_s^2) - (1 / (2 S^2)) sum_{s, t} A(mu_s - mu_t, sd_s^2 + sd_t^2)`,
///
/// `A(m, v) = E|Z|` for `Z ~ N(m, v)`, averaged over points. With one sample it is
/// [`gaussian_crps`](super::gaussian_crps). In the units of `y`; lower is better. Costs `O(S^2)`
/// per point.
///
/// # Shapes
/// - `sample_means`, `sample_sds`: `[S, N]`
/// - `targets`: `[N]`
///
/// # Errors
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) on empty inputs, differing shapes or `targets` other than `[N]`;
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) on a NaN/inf entry or an sd `<= 0`.
pub fn mixture_crps(sample_means: Tensor<2>, targets: Tensor<1>, sample_sds: Tensor<2>) -> Result<f64> {
    const CONTEXT: &str = "metrics::mixture_crps";
    host::same_shape(CONTEXT, "sample_sds", &sample_sds.dims(), "sample_means", &sample_means.dims())?;
    let (mu, y, [s, n]) = samples_and_targets(CONTEXT, "sample_means", sample_means, targets)?;
    let sd = host::floats(CONTEXT, "sample_sds", sample_sds)?;
    host::positive(CONTEXT, "sample_sds", &sd, &[s, n], "pass standard deviations, floored at a small positive value")?;
    let standard = Normal::standard();
    let total: f64 = (0..n)
        .map(|j| {
            let at = |i: usize| (mu[i * n + j], sd[i * n + j].powi(2));
            let to_target: f64 = (0..s).map(|i| abs_normal_mean(&standard, y[j] - at(i).0, at(i).1)).sum();
            let mut between = 0.0;
            for a in 0..s {
                let (ma, va) = at(a);
                between += abs_normal_mean(&standard, 0.0, 2.0 * va);
                for b in a + 1..s {
                    let (mb, vb) = at(b);
                    between += 2.0 * abs_normal_mean(&standard, ma - mb, va + vb);
                }
            }
            to_target / s as f64 - between / (2.0 * (s * s) as f64)
        })
        .sum();
    Ok(total / n as f64)
}

/// Mean CRPS of the empirical distributions of `S` samples per point (an ensemble's or MC
/// dropout's predicted means without a noise model, or draws from any predictive):
/// `CRPS = (1 / S) sum_s |x_s - y| - (1 / (2 S^2)) sum_{s, t} |x_s - x_t|`, the exact CRPS of
/// the empirical distribution (Gneiting & Raftery 2007, eq. 21), with the double sum as
/// `2 sum_i (2i - S + 1) x_(i)` over the sorted samples (`O(S log S)` per point). It tends to
/// the CRPS of the distribution the samples come from as `S` grows (a fair, unbiased variant
/// divides the second term by `2 S (S - 1)`; Ferro 2014).
///
/// # Shapes
/// - `samples`: `[S, N]`
/// - `targets`: `[N]`
///
/// # Errors
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) on empty inputs or `targets` other than `[N]`;
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) on a NaN/inf entry.
pub fn sample_crps(samples: Tensor<2>, targets: Tensor<1>) -> Result<f64> {
    let (x, y, [s, n]) = samples_and_targets("metrics::sample_crps", "samples", samples, targets)?;
    let mut column = vec![0.0; s];
    let total: f64 = (0..n)
        .map(|j| {
            for (i, c) in column.iter_mut().enumerate() {
                *c = x[i * n + j];
            }
            let to_target: f64 = column.iter().map(|v| (v - y[j]).abs()).sum::<f64>() / s as f64;
            column.sort_by(f64::total_cmp);
            let spread: f64 =
                column.iter().enumerate().map(|(i, v)| (2.0 * i as f64 - s as f64 + 1.0) * v).sum::<f64>();
            to_target - spread / (s * s) as f64
        })
        .sum();
    Ok(total / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_normal_mean_tends_to_the_absolute_value() {
        let standard = Normal::standard();
        assert!((abs_normal_mean(&standard, 1.5, 1e-12) - 1.5).abs() < 1e-9);
        assert!((abs_normal_mean(&standard, -1.5, 1e-12) - 1.5).abs() < 1e-9);
        // E|Z| = sqrt(2 / pi) for a standard normal.
        assert!((abs_normal_mean(&standard, 0.0, 1.0) - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-14);
    }

    #[test]
    fn one_component_quantile_is_the_gaussian_one() {
        let standard = Normal::standard();
        let q = mixture_quantile(&standard, &[1.0], &[2.0], 1, 1, 0, 0.975);
        assert!((q - (1.0 + 2.0 * standard.inverse_cdf(0.975))).abs() < 1e-12);
    }
}
