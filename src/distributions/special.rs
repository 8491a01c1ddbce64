//! Special functions: the scalar ones from statrs, and tensor forms of `ln Gamma` and the
//! digamma function for distributions whose shape parameters are tensors.
//!
//! The tensor forms are composed of burn's elementwise ops, so autodiff differentiates them and
//! they run on any backend. Both shift small arguments up by the recurrences
//! `ln Gamma(x) = ln Gamma(x + 8) - ln(x (x + 1) ... (x + 7))` and
//! `psi(x) = psi(x + 8) - sum_{k<8} 1 / (x + k)`, then use the asymptotic (Stirling) series at
//! `z >= 8`, whose first omitted term there is below `1e-15` (Abramowitz & Stegun 6.1.40 and
//! 6.3.18). They are tested against statrs through the densities and entropies that use them.

use burn::prelude::*;

pub(crate) use statrs::function::beta::ln_beta;
pub(crate) use statrs::function::gamma::{digamma, ln_gamma};

use super::LN_SQRT_2PI;

/// The recurrence shift: arguments below it are moved up by it.
const SHIFT: usize = 8;

/// `B_2k / (2k (2k - 1))`, k = 1..8: the coefficients of `z^-(2k-1)` in Stirling's series.
const STIRLING: [f64; 8] = [
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
    -691.0 / 360_360.0,
    1.0 / 156.0,
    -3617.0 / 122_400.0,
];

/// `B_2k / (2k)`, k = 1..8: the coefficients of `z^-2k` subtracted in the digamma series.
const DIGAMMA: [f64; 8] =
    [1.0 / 12.0, -1.0 / 120.0, 1.0 / 252.0, -1.0 / 240.0, 1.0 / 132.0, -691.0 / 32_760.0, 1.0 / 12.0, -3617.0 / 8160.0];

/// `sum_k c_k w^k` for `k = 0..`, by Horner's rule.
fn horner<const D: usize>(w: Tensor<D>, coefficients: &[f64]) -> Tensor<D> {
    let (last, rest) = coefficients.split_last().expect("at least one coefficient");
    rest.iter().rev().fold(w.full_like(*last), |acc, &c| (acc * w.clone()).add_scalar(c))
}

/// `(x, mask)` -> `(z, x_small)`: `z = x + SHIFT` where `x < SHIFT` (else `x`), and `x` with
/// the other elements replaced by 1 (so the recurrence terms stay finite and their gradient is
/// 0 there).
fn shifted<const D: usize>(x: Tensor<D>) -> (Tensor<D>, Tensor<D>, Tensor<D, Bool>) {
    let large = x.clone().greater_equal_elem(SHIFT as f64);
    let z = x.clone().add_scalar(SHIFT as f64).mask_where(large.clone(), x.clone());
    let small = x.mask_fill(large.clone(), 1.0);
    (z, small, large)
}

/// Elementwise `ln Gamma(x)` for `x > 0` (NaN or garbage elsewhere: callers validate).
pub(crate) fn lgamma<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let (z, small, large) = shifted(x);
    let mut product = small.clone();
    for k in 1..SHIFT {
        product = product * small.clone().add_scalar(k as f64);
    }
    let ln_product = product.log().mask_fill(large, 0.0);
    let inv = z.clone().recip();
    let series = horner(inv.clone().square(), &STIRLING) * inv;
    (z.clone().sub_scalar(0.5) * z.clone().log() - z + series).add_scalar(LN_SQRT_2PI) - ln_product
}

/// Elementwise digamma `psi(x) = d ln Gamma(x) / dx` for `x > 0`.
pub(crate) fn digamma_tensor<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let (z, small, large) = shifted(x);
    let mut reciprocal_sum = small.clone().recip();
    for k in 1..SHIFT {
        reciprocal_sum = reciprocal_sum + small.clone().add_scalar(k as f64).recip();
    }
    let reciprocal_sum = reciprocal_sum.mask_fill(large, 0.0);
    let inv = z.clone().recip();
    let w = inv.clone().square();
    let series = horner(w.clone(), &DIGAMMA) * w;
    z.log() - inv.mul_scalar(0.5) - series - reciprocal_sum
}
/// Elementwise `ln B(a, b) = ln Gamma(a) + ln Gamma(b) - ln Gamma(a + b)`.
pub(crate) fn lbeta<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    lgamma(a.clone()) + lgamma(b.clone()) - lgamma(a + b)
}
