//! Negative log-likelihood terms.

use burn::prelude::*;

/// Elementwise Gaussian negative log-likelihood
/// `0.5 * (y - mean)^2 / var + 0.5 * log(var) + 0.5 * log(2 pi)`.
///
/// `mean`, `target` and `var` broadcast against each other (e.g. `mean: [S, B, 1]`,
/// `target: [1, B, 1]`, `var` a full tensor or built with `full_like`).
pub fn gaussian_nll<const D: usize>(mean: Tensor<D>, target: Tensor<D>, var: Tensor<D>) -> Tensor<D> {
    const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;
    let sq = (target - mean).square();
    (sq / var.clone() + var.log()).mul_scalar(0.5).add_scalar(HALF_LN_2PI)
}
