//! Reading metric inputs back to the host, and the checks every metric shares.

use burn::prelude::*;

use crate::error::{Error, Result};

/// How far a row of class probabilities may sum from 1 (and an entry stray outside `[0, 1]`)
/// before the metrics reject it as "not probabilities". Loose enough for a float32 softmax
/// over thousands of classes, tight enough to catch logits passed by mistake.
pub const PROBABILITY_TOLERANCE: f64 = 1e-3;

/// The multi-index of flat (row-major) position `flat` in a tensor of shape `dims`.
pub(crate) fn unravel(mut flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for (slot, &d) in index.iter_mut().zip(dims).rev() {
        *slot = flat % d.max(1);
        flat /= d.max(1);
    }
    index
}

/// Fails unless every dimension is at least 1.
pub(crate) fn non_empty(context: &'static str, field: &'static str, dims: &[usize]) -> Result<()> {
    if !dims.is_empty() && dims.iter().all(|&d| d >= 1) {
        Ok(())
    } else {
        Err(Error::shape(context, field, "[d1, d2, ...] with every dimension >= 1", dims, "pass at least one point"))
    }
}

/// Fails unless `got` equals `reference`, the shape of the argument named `reference_field`.
pub(crate) fn same_shape(
    context: &'static str,
    field: &'static str,
    got: &[usize],
    reference_field: &'static str,
    reference: &[usize],
) -> Result<()> {
    if got == reference {
        Ok(())
    } else {
        Err(Error::shape(
            context,
            field,
            format!("{reference:?} (the shape of {reference_field})"),
            got,
            "pass one value per entry of the prediction, in the same layout",
        ))
    }
}

/// Reads a float tensor back as `f64`, failing on the first NaN or infinite entry.
pub(crate) fn floats<const D: usize>(
    context: &'static str,
    field: &'static str,
    tensor: Tensor<D>,
) -> Result<Vec<f64>> {
    let dims = tensor.dims();
    let data = tensor.into_data();
    let dtype = data.dtype();
    let values = data.try_into_vec_as::<f64>().map_err(|_| {
        Error::invalid(
            context,
            field,
            format!("a tensor of dtype {dtype:?}"),
            "a float tensor readable as f64",
            "dequantize or cast the tensor to a float dtype first",
        )
    })?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            context,
            field,
            format!("{} at index {:?}", values[i], unravel(i, &dims)),
            "finite everywhere (no NaN or inf)",
            "drop or repair the non-finite entries (a NaN prediction usually means training diverged)",
        ));
    }
    Ok(values)
}

/// Reads an integer tensor back as `i64`.
pub(crate) fn ints<const D: usize>(
    context: &'static str,
    field: &'static str,
    tensor: Tensor<D, Int>,
) -> Result<Vec<i64>> {
    let data = tensor.into_data();
    let dtype = data.dtype();
    data.try_into_vec_as::<i64>().map_err(|_| {
        Error::invalid(
            context,
            field,
            format!("a tensor of dtype {dtype:?}"),
            "an integer tensor readable as i64",
            "cast the tensor to an integer dtype first",
        )
    })
}

/// Reads a boolean tensor back.
pub(crate) fn bools<const D: usize>(
    context: &'static str,
    field: &'static str,
    tensor: Tensor<D, Bool>,
) -> Result<Vec<bool>> {
    Ok(ints(context, field, tensor.int())?.into_iter().map(|v| v != 0).collect())
}

/// Fails on the first entry that is not `> 0`.
pub(crate) fn positive(
    context: &'static str,
    field: &'static str,
    values: &[f64],
    dims: &[usize],
    fix: &'static str,
) -> Result<()> {
    match values.iter().position(|&v| v <= 0.0) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(
            context,
            field,
            format!("{} at index {:?}", values[i], unravel(i, dims)),
            "> 0 everywhere",
            fix,
        )),
    }
}

/// Fails unless `values` (`[n, k]`, row-major) are probabilities whose rows sum to 1, within
/// [`PROBABILITY_TOLERANCE`].
pub(crate) fn probability_rows(context: &'static str, field: &'static str, values: &[f64], k: usize) -> Result<()> {
    const REQUIREMENT: &str = "probabilities in [0, 1] whose rows sum to 1 (within PROBABILITY_TOLERANCE = 1e-3)";
    const FIX: &str = "pass class probabilities such as softmax(logits, 1), not logits or log-probabilities";
    let bad = |value: String| Error::invalid(context, field, value, REQUIREMENT, FIX);
    for (row, p) in values.chunks(k).enumerate() {
        if let Some(j) = p.iter().position(|&v| !(-PROBABILITY_TOLERANCE..=1.0 + PROBABILITY_TOLERANCE).contains(&v)) {
            return Err(bad(format!("{} at index [{row}, {j}]", p[j])));
        }
        let sum: f64 = p.iter().sum();
        if (sum - 1.0).abs() > PROBABILITY_TOLERANCE {
            return Err(bad(format!("row {row} summing to {sum}")));
        }
    }
    Ok(())
}

/// Reads and validates a classification input: probabilities `[N, K]` and labels `[N]` in
/// `0..K`. Returns the probabilities row-major, the labels as indices, and `K`.
pub(crate) fn classification(
    context: &'static str,
    probs: Tensor<2>,
    labels: Tensor<1, Int>,
) -> Result<(Vec<f64>, Vec<usize>, usize)> {
    let [n, k] = probs.dims();
    non_empty(context, "probs", &[n, k])?;
    if labels.dims() != [n] {
        return Err(Error::shape(
            context,
            "labels",
            format!("[{n}] (one label per row of probs)"),
            &labels.dims(),
            "pass one class index per point",
        ));
    }
    let p = floats(context, "probs", probs)?;
    probability_rows(context, "probs", &p, k)?;
    let labels = class_labels(context, labels, k, ColumnsOf::Probs)?;
    Ok((p, labels, k))
}

/// The argument whose columns are the `K` classes, named in the error for a bad label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ColumnsOf {
    Probs,
    Logits,
}

/// Reads class labels `[N]` as indices, failing on the first one outside `0..k`.
pub(crate) fn class_labels(
    context: &'static str,
    labels: Tensor<1, Int>,
    k: usize,
    columns: ColumnsOf,
) -> Result<Vec<usize>> {
    let requirement = match columns {
        ColumnsOf::Probs => "class indices in 0..K, K the number of columns of probs",
        ColumnsOf::Logits => "class indices in 0..K, K the number of columns of logits",
    };
    let raw = ints(context, "labels", labels)?;
    let mut out = Vec::with_capacity(raw.len());
    for (i, &label) in raw.iter().enumerate() {
        match usize::try_from(label) {
            Ok(l) if l < k => out.push(l),
            _ => {
                return Err(Error::invalid(
                    context,
                    "labels",
                    format!("{label} at index [{i}] (with K = {k} classes)"),
                    requirement,
                    "check the label encoding (0-based) and the width of the classifier's output",
                ))
            }
        }
    }
    Ok(out)
}

/// Top-label confidence and correctness of each row: `max_k p_k`, and whether the first class
/// attaining it is the label.
pub(crate) fn top_label(probs: &[f64], labels: &[usize], k: usize) -> (Vec<f64>, Vec<bool>) {
    probs
        .chunks(k)
        .zip(labels)
        .map(|(row, &label)| {
            let (arg, &conf) =
                row.iter().enumerate().fold((0, &row[0]), |best, (j, v)| if *v > *best.1 { (j, v) } else { best });
            (conf, arg == label)
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(0, &[3, 4]), vec![0, 0]);
        assert_eq!(unravel(7, &[3, 4]), vec![1, 3]);
        assert_eq!(unravel(23, &[2, 3, 4]), vec![1, 2, 3]);
    }

    #[test]
    fn top_label_takes_the_first_maximum() {
        let probs = [0.2, 0.4, 0.4, 0.5, 0.3, 0.2];
        let (conf, correct) = top_label(&probs, &[1, 1], 3);
        assert_eq!(conf, vec![0.4, 0.5]);
        assert_eq!(correct, vec![true, false]);
    }
}
