//! The Gaussian-weight operations a variational layer calls on every training step.

use burn::prelude::*;

use super::composed;
#[cfg(any(feature = "flex", feature = "ndarray"))]
use super::extension::{self as kernels};

/// `mu + softplus(rho) * eps`, one autodiff node.
///
/// # Shapes
/// - `mu`, `rho`: the parameter's shape `P` (rank `D`)
/// - `eps`: `[S, P...]` (rank `D1 = D + 1`), standard normal noise
/// - output: `[S, P...]`
pub fn rsample<const D: usize, const D1: usize>(mu: Tensor<D>, rho: Tensor<D>, eps: Tensor<D1>) -> Tensor<D1> {
    #[cfg(any(feature = "flex", feature = "ndarray"))]
    if kernels::available(&mu.device()) {
        use burn::backend::Dispatch;
        use kernels::GaussianKernels;
        return Tensor::from_dispatch(<Dispatch as GaussianKernels>::gaussian_rsample(
            mu.into_dispatch(),
            rho.into_dispatch(),
            eps.into_dispatch(),
        ));
    }
    composed::rsample(mu, rho, eps)
}

/// `softplus(rho) * eps`, one autodiff node (Flipout's weight perturbation).
///
/// # Shapes
/// - `rho`: the parameter's shape `P` (rank `D`)
/// - `eps`: `[S, P...]` (rank `D1 = D + 1`)
/// - output: `[S, P...]`
pub fn scaled_noise<const D: usize, const D1: usize>(rho: Tensor<D>, eps: Tensor<D1>) -> Tensor<D1> {
    #[cfg(any(feature = "flex", feature = "ndarray"))]
    if kernels::available(&rho.device()) {
        use burn::backend::Dispatch;
        use kernels::GaussianKernels;
        return Tensor::from_dispatch(<Dispatch as GaussianKernels>::gaussian_scaled_noise(
            rho.into_dispatch(),
            eps.into_dispatch(),
        ));
    }
    composed::scaled_noise(rho, eps)
}

/// `sum KL(N(mu, softplus(rho)^2) || N(loc, scale^2))` over all elements, shape `[1]`, one
/// autodiff node. Equals
/// [`kl_normal_normal_sum`](crate::posterior::kl_normal_normal_sum)`(mu, sigma_of_rho(rho), None, loc, scale)`.
pub fn kl_normal_sum<const D: usize>(mu: Tensor<D>, rho: Tensor<D>, loc: f64, scale: f64) -> Tensor<1> {
    #[cfg(any(feature = "flex", feature = "ndarray"))]
    if kernels::available(&mu.device()) {
        use burn::backend::Dispatch;
        use kernels::GaussianKernels;
        return Tensor::from_dispatch(<Dispatch as GaussianKernels>::gaussian_kl_sum(
            mu.into_dispatch(),
            rho.into_dispatch(),
            loc,
            scale,
        ));
    }
    composed::kl_normal_sum(mu, rho, loc, scale)
}
