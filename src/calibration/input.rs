//! Reading the inputs of the calibration methods back to the host, and the checks they share.

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::metrics::host::{self, ColumnsOf};

/// Fails unless `alpha` (a miscoverage or error rate) is in `(0, 1)`.
pub(super) fn check_alpha(context: &'static str, alpha: f64) -> Result<()> {
    if alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            context,
            "alpha",
            alpha,
            "in (0, 1)",
            "pass the miscoverage rate, e.g. 0.1 for 90 % coverage",
        ))
    }
}

/// Reads logits `[N, K]` (`N >= 1`, `K >= 2`, finite) and labels `[N]` in `0..K`. Returns the
/// logits row-major, the labels as indices, and `K`.
pub(super) fn logits_and_labels(
    context: &'static str,
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
) -> Result<(Vec<f64>, Vec<usize>, usize)> {
    let [n, k] = logits.dims();
    if n == 0 || k < 2 {
        return Err(Error::shape(
            context,
            "logits",
            "[N, K] with N >= 1 and K >= 2",
            &[n, k],
            "pass the validation set's logits, one row per point and one column per class",
        ));
    }
    if labels.dims() != [n] {
        return Err(Error::shape(
            context,
            "labels",
            format!("[{n}] (one label per row of logits)"),
            &labels.dims(),
            "pass one class index per point",
        ));
    }
    let z = host::floats(context, "logits", logits)?;
    let labels = host::class_labels(context, labels, k, ColumnsOf::Logits)?;
    Ok((z, labels, k))
}

/// Reads class probabilities `[N, K]` (`K >= 2`) and labels `[N]` in `0..K`, as the metrics do.
pub(super) fn probs_and_labels(
    context: &'static str,
    probs: Tensor<2>,
    labels: Tensor<1, Int>,
) -> Result<(Vec<f64>, Vec<usize>, usize)> {
    let [n, k] = probs.dims();
    if k < 2 {
        return Err(Error::shape(
            context,
            "probs",
            "[N, K] with N >= 1 and K >= 2",
            &[n, k],
            "pass one probability per class (K >= 2)",
        ));
    }
    host::classification(context, probs, labels)
}

/// Reads class probabilities `[N, K]` without labels (`N >= 1`, `K >= 2`, rows summing to 1).
pub(super) fn probs(context: &'static str, probs: Tensor<2>) -> Result<(Vec<f64>, usize)> {
    let [n, k] = probs.dims();
    if n == 0 || k < 2 {
        return Err(Error::shape(
            context,
            "probs",
            "[N, K] with N >= 1 and K >= 2",
            &[n, k],
            "pass one row per point and one probability per class (K >= 2)",
        ));
    }
    let p = host::floats(context, "probs", probs)?;
    host::probability_rows(context, "probs", &p, k)?;
    Ok((p, k))
}
