//! Prediction operations (no autodiff): a linear layer on given weight samples, and inverted
//! dropout with a mask drawn inside the multiply.

use burn::prelude::*;

#[cfg(any(feature = "flex", feature = "ndarray"))]
use super::{extension as kernels, routing::plain_kernel_device};

/// `x @ w + b`, then ReLU if `relu`: a linear layer applied to given weight samples (sample `s`
/// of `x` meets weight sample `s`), for prediction.
///
/// Without autodiff on the `flex` backend this is one kernel: SGEMM writes `x w` into an
/// uninitialised output, then one pass adds the bias and applies the ReLU in place, so there is
/// no zero fill, no separate bias tensor pass and no ReLU allocation. Everywhere else (autodiff,
/// other backends, other float types, no bias) it is `x.matmul(w) + b` followed by `relu`, the
/// same values to f32 rounding.
///
/// # Shapes
/// - `x`: `[S, N, I]`, `w`: `[S, I, O]`, `b`: `[S, O]` (`S` may be 1 in `w` and `b` to share them)
/// - output: `[S, N, O]`
pub fn linear(x: Tensor<3>, w: Tensor<3>, b: Option<Tensor<2>>, relu: bool) -> Tensor<3> {
    #[cfg(any(feature = "flex", feature = "ndarray"))]
    let b = match b {
        Some(b) if plain_kernel_device(&x.device()) => {
            use burn::backend::Dispatch;
            use kernels::GaussianKernels;
            return Tensor::from_dispatch(<Dispatch as GaussianKernels>::gaussian_linear(
                x.into_dispatch(),
                w.into_dispatch(),
                b.into_dispatch(),
                relu,
            ));
        }
        b => b,
    };
    super::composed::linear(x, w, b, relu)
}

/// Inverted dropout: each element of `x` kept and multiplied by `scale` when its draw from the
/// mask stream of `seed` is below `threshold` ([`noise::mask_values`]), else 0. Without autodiff
/// on flex and ndarray the mask is drawn inside the multiply (on flex in place when `x` is not
/// shared); elsewhere, autodiff included, a mask tensor with the same values is multiplied in.
///
/// [`noise::mask_values`]: crate::noise
pub(crate) fn dropout<const D: usize>(x: Tensor<D>, seed: u64, threshold: u64, scale: f32) -> Tensor<D> {
    #[cfg(any(feature = "flex", feature = "ndarray"))]
    if plain_kernel_device(&x.device()) {
        use burn::backend::Dispatch;
        use kernels::GaussianKernels;
        return Tensor::from_dispatch(<Dispatch as GaussianKernels>::gaussian_dropout(
            x.into_dispatch(),
            seed,
            threshold,
            scale,
        ));
    }
    super::composed::masked(x, seed, threshold, scale)
}
