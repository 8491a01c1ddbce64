//! Area under the ROC curve of an uncertainty score, e.g. for out-of-distribution detection.
//!
//! The AUROC equals the probability that a random positive scores higher than a random
//! negative, ties counting one half — the Mann–Whitney `U` statistic divided by
//! `n_pos n_neg` (Hanley & McNeil 1982, *The meaning and use of the area under a ROC curve*).
//! It is computed from mid-ranks in `O(N log N)`:
//! `AUROC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`, `R_pos` the sum of the
//! positives' ranks in the pooled sample, tied scores sharing the mean of their ranks.
//! In OOD studies (Hendrycks & Gimpel 2017) the positives are the out-of-distribution inputs
//! and the score is an uncertainty (predictive entropy, mutual information, `1 - max p`):
//! 1 means the score separates them perfectly, 0.5 that it is no better than chance.

use burn::prelude::*;

use super::host;
use crate::error::{Error, Result};

/// Mann–Whitney AUROC from host scores and positive flags; needs both classes present.
fn rank_auroc(scores: &[f64], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start + 1 ..= end share their mean.
        let mid_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum += mid_rank * order[start..end].iter().filter(|&&i| positive[i]).count() as f64;
        start = end;
    }
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = scores.len() as f64 - n_pos;
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// AUROC of `scores` for telling positives (`positive[i] == true`) from negatives: the
/// probability that a positive scores higher than a negative, ties counted half. Higher scores
/// should mean "more likely positive"; 1 is perfect separation, 0.5 chance.
///
/// This is the Mann–Whitney `U` statistic over `n_pos n_neg` (Hanley & McNeil 1982, *The
/// meaning and use of the area under a ROC curve*), from mid-ranks in `O(N log N)`:
/// `AUROC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`, `R_pos` the sum of the
/// positives' ranks in the pooled sample, tied scores sharing the mean of their ranks.
///
/// # Shapes
/// - `scores`: `[N]`
/// - `positive`: `[N]`
///
/// # Errors
/// [`Error::ShapeMismatch`] on empty inputs or differing lengths; [`Error::InvalidParameter`]
/// on a NaN/inf score or when either class is absent.
pub fn auroc(scores: Tensor<1>, positive: Tensor<1, Bool>) -> Result<f64> {
    const CONTEXT: &str = "metrics::auroc";
    let dims = scores.dims();
    host::non_empty(CONTEXT, "scores", &dims)?;
    host::same_shape(CONTEXT, "positive", &positive.dims(), "scores", &dims)?;
    let s = host::floats(CONTEXT, "scores", scores)?;
    let p = host::bools(CONTEXT, "positive", positive)?;
    let n_pos = p.iter().filter(|&&p| p).count();
    if n_pos == 0 || n_pos == p.len() {
        return Err(Error::invalid(
            CONTEXT,
            "positive",
            format!("{n_pos} positives and {} negatives", p.len() - n_pos),
            "at least one positive and one negative",
            "evaluate on a set that holds both in-distribution and out-of-distribution points",
        ));
    }
    Ok(rank_auroc(&s, &p))
}

/// AUROC of an uncertainty score for detecting out-of-distribution inputs (Hendrycks & Gimpel
/// 2017, *A baseline for detecting misclassified and out-of-distribution examples*): the
/// probability that an out-of-distribution point gets a higher score than an in-distribution
/// one, ties counted half. Same as [`auroc`] with the OOD scores as positives. The score is an
/// uncertainty: predictive entropy, mutual information, `1 - max_k p_k`.
///
/// # Shapes
/// - `in_distribution`: `[N_in]`, scores of in-distribution (negative) points
/// - `out_of_distribution`: `[N_out]`, scores of out-of-distribution (positive) points
///
/// # Errors
/// [`Error::ShapeMismatch`] when either is empty; [`Error::InvalidParameter`] on a NaN/inf
/// score.
pub fn ood_auroc(in_distribution: Tensor<1>, out_of_distribution: Tensor<1>) -> Result<f64> {
    const CONTEXT: &str = "metrics::ood_auroc";
    host::non_empty(CONTEXT, "in_distribution", &in_distribution.dims())?;
    host::non_empty(CONTEXT, "out_of_distribution", &out_of_distribution.dims())?;
    let mut s = host::floats(CONTEXT, "in_distribution", in_distribution)?;
    let n_in = s.len();
    s.extend(host::floats(CONTEXT, "out_of_distribution", out_of_distribution)?);
    let positive: Vec<bool> = (0..s.len()).map(|i| i >= n_in).collect();
    Ok(rank_auroc(&s, &positive))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_ranks_count_ties_half() {
        // Pairs (pos, neg): (1, 1) tie -> 0.5, (1, 0) -> 1, (2, 1) -> 1, (2, 0) -> 1: 3.5 / 4.
        let auc = rank_auroc(&[1.0, 2.0, 1.0, 0.0], &[true, true, false, false]);
        assert!((auc - 3.5 / 4.0).abs() < 1e-15);
    }
}
