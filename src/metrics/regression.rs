//! Point-wise regression metrics: RMSE, Gaussian negative log-likelihood and Gaussian CRPS.

use burn::prelude::*;
use statrs::distribution::{Continuous, ContinuousCDF, Normal};

use super::host;
use crate::error::Result;

/// `ln(2 pi) / 2`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Reads a prediction and its targets (same shape, non-empty, finite) back to the host.
pub(super) fn prediction_and_targets<const D: usize>(
    context: &'static str,
    prediction_field: &'static str,
    prediction: Tensor<D>,
    targets: Tensor<D>,
) -> Result<(Vec<f64>, Vec<f64>, [usize; D])> {
    let dims = prediction.dims();
    host::non_empty(context, prediction_field, &dims)?;
    host::same_shape(context, "targets", &targets.dims(), prediction_field, &dims)?;
    let p = host::floats(context, prediction_field, prediction)?;
    let y = host::floats(context, "targets", targets)?;
    Ok((p, y, dims))
}

/// Reads a positive scale parameter (variance or standard deviation) of the same shape.
pub(super) fn scale<const D: usize>(
    context: &'static str,
    field: &'static str,
    scale: Tensor<D>,
    dims: &[usize; D],
    fix: &'static str,
) -> Result<Vec<f64>> {
    host::same_shape(context, field, &scale.dims(), "mean", dims)?;
    let s = host::floats(context, field, scale)?;
    host::positive(context, field, &s, dims, fix)?;
    Ok(s)
}

/// Root mean squared error over all entries,
/// `sqrt( (1 / (N D)) sum_{n,d} (y_nd - yhat_nd)^2 )`.
///
/// # Shapes
/// - `predictions`: `[N]` or `[N, D]`
/// - `targets`: same as `predictions`
///
/// # Errors
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) on empty inputs or differing shapes;
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) on a NaN/inf entry.
pub fn rmse<const D: usize>(predictions: Tensor<D>, targets: Tensor<D>) -> Result<f64> {
    let (p, y, _) = prediction_and_targets("metrics::rmse", "predictions", predictions, targets)?;
    let sse: f64 = p.iter().zip(&y).map(|(p, y)| (y - p).powi(2)).sum();
    Ok((sse / p.len() as f64).sqrt())
}

/// Mean Gaussian negative log-likelihood over all entries (nats),
/// `(1 / (N D)) sum_{n,d} [ 0.5 ln(2 pi var_nd) + (y_nd - mu_nd)^2 / (2 var_nd) ]`.
///
/// The per-entry terms are those of [`crate::objective::gaussian_nll`] (which returns a
/// differentiable tensor for training); this one is the evaluation number reported in papers,
/// e.g. the test NLL of Lakshminarayanan et al. (2017), *Deep ensembles*.
///
/// # Shapes
/// - `mean`, `targets`, `var`: `[N]` or `[N, D]`, all equal
///
/// # Errors
/// As [`rmse`], plus [`Error::InvalidParameter`](crate::Error::InvalidParameter) when a
/// variance is `<= 0`.
pub fn gaussian_nll<const D: usize>(mean: Tensor<D>, targets: Tensor<D>, var: Tensor<D>) -> Result<f64> {
    const CONTEXT: &str = "metrics::gaussian_nll";
    let (mu, y, dims) = prediction_and_targets(CONTEXT, "mean", mean, targets)?;
    let v = scale(CONTEXT, "var", var, &dims, "pass variances (sd squared), floored at a small positive value")?;
    let total: f64 =
        mu.iter().zip(&y).zip(&v).map(|((mu, y), v)| HALF_LN_2PI + 0.5 * v.ln() + (y - mu).powi(2) / (2.0 * v)).sum();
    Ok(total / mu.len() as f64)
}

/// Mean continuous ranked probability score of Gaussian predictions, in closed form
/// (Gneiting & Raftery 2007, *Strictly proper scoring rules, prediction, and estimation*,
/// eq. 21):
///
/// `CRPS(N(mu, sigma^2), y) = sigma [ z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi) ]`,
/// `z = (y - mu) / sigma`,
///
/// averaged over all entries. It equals `int (F(x) - 1{x >= y})^2 dx`, is in the units of `y`,
/// and reduces to the absolute error as `sigma -> 0`; lower is better.
///
/// # Shapes
/// - `mean`, `targets`, `sd`: `[N]` or `[N, D]`, all equal
///
/// # Errors
/// As [`rmse`], plus [`Error::InvalidParameter`](crate::Error::InvalidParameter) when a
/// standard deviation is `<= 0`.
pub fn gaussian_crps<const D: usize>(mean: Tensor<D>, targets: Tensor<D>, sd: Tensor<D>) -> Result<f64> {
    const CONTEXT: &str = "metrics::gaussian_crps";
    let (mu, y, dims) = prediction_and_targets(CONTEXT, "mean", mean, targets)?;
    let s = scale(
        CONTEXT,
        "sd",
        sd,
        &dims,
        "pass standard deviations (not log-variances), floored at a small positive value",
    )?;
    let standard = Normal::standard();
    let inv_sqrt_pi = 1.0 / std::f64::consts::PI.sqrt();
    let total: f64 = mu
        .iter()
        .zip(&y)
        .zip(&s)
        .map(|((mu, y), s)| {
            let z = (y - mu) / s;
            s * (z * (2.0 * standard.cdf(z) - 1.0) + 2.0 * standard.pdf(z) - inv_sqrt_pi)
        })
        .sum();
    Ok(total / mu.len() as f64)
}
