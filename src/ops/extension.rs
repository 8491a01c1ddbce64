//! The backend extension: the fused operations as a burn backend trait, with default bodies
//! composed of primitive operations (what every backend without an override runs). The `flex`
//! override is in `flex.rs`, the autodiff decorator in `autodiff.rs`.

// burn 0.22 marks its ndarray backend deprecated; the extension still serves it.
#![allow(deprecated)]

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, DispatchDevice, Scalar, TensorMetadata};
use burn::tensor::{Device, Shape};

use crate::posterior::SIGMA_RHO_MAX;

/// Whether `device` is one the extension is implemented for.
pub(crate) fn available(device: &Device) -> bool {
    match device.as_dispatch().clone().inner() {
        #[cfg(feature = "flex")]
        DispatchDevice::Flex(_) => true,
        #[cfg(feature = "ndarray")]
        DispatchDevice::NdArray(_) => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// `log1p(exp(min(rho, 80)))`, as [`sigma_of_rho`](crate::posterior::sigma_of_rho) (reference:
/// [`softplus_f64`](crate::posterior::softplus_f64) of the clamped `rho`).
pub(super) fn sigma<B: Backend>(rho: FloatTensor<B>) -> FloatTensor<B> {
    B::float_log1p(B::float_exp(B::float_clamp_max(rho, Scalar::from(SIGMA_RHO_MAX))))
}

/// `[1, P...]`: the parameter's shape with a leading sample axis of 1, for broadcasting.
pub(super) fn lead(shape: &Shape) -> Shape {
    let mut dims = vec![1];
    dims.extend(shape.iter().copied());
    Shape::from(dims)
}

/// `[1, ..., 1]` of the given rank, for broadcasting a `[1]` gradient.
pub(super) fn ones_rank(rank: usize) -> Shape {
    Shape::from(vec![1; rank])
}

/// The extension: forward passes composed of primitive operations (overridden for autodiff).
#[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
pub trait GaussianKernels: Backend {
    /// `mu + softplus(rho) * eps`.
    fn gaussian_rsample(mu: FloatTensor<Self>, rho: FloatTensor<Self>, eps: FloatTensor<Self>) -> FloatTensor<Self> {
        rsample_composed::<Self>(mu, rho, eps)
    }

    /// `softplus(rho) * eps`.
    fn gaussian_scaled_noise(rho: FloatTensor<Self>, eps: FloatTensor<Self>) -> FloatTensor<Self> {
        scaled_noise_composed::<Self>(rho, eps)
    }

    /// `x @ w + b` (then ReLU): `x` `[S, N, I]`, `w` `[S, I, O]`, `b` `[S, O]`.
    fn gaussian_linear(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        linear_composed::<Self>(x, w, b, relu)
    }

    /// Inverted dropout with the mask of `seed` (see [`dropout`](super::predict::dropout)).
    fn gaussian_dropout(x: FloatTensor<Self>, seed: u64, threshold: u64, scale: f32) -> FloatTensor<Self> {
        dropout_composed::<Self>(x, seed, threshold, scale)
    }

    /// `sigmoid(rho)`, the derivative of `softplus(rho)` (the backward passes' factor).
    fn gaussian_dsigma(rho: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::sigmoid(rho)
    }

    /// `(sigma / scale^2 - 1 / sigma) sigmoid(rho)` with `inv_var = 1 / scale^2`: the KL's
    /// derivative in `rho`, per element.
    fn gaussian_kl_drho(rho: FloatTensor<Self>, inv_var: f64) -> FloatTensor<Self> {
        kl_drho_composed::<Self>(rho, inv_var)
    }

    /// `sum[(sigma^2 + (mu - loc)^2) / (2 scale^2) - log sigma] + n (log scale - 1/2)`, `[1]`.
    fn gaussian_kl_sum(mu: FloatTensor<Self>, rho: FloatTensor<Self>, loc: f64, scale: f64) -> FloatTensor<Self> {
        kl_sum_composed::<Self>(mu, rho, loc, scale)
    }
}

/// `mu + sigma(rho) * eps` as primitive operations.
pub(super) fn rsample_composed<B: Backend>(
    mu: FloatTensor<B>,
    rho: FloatTensor<B>,
    eps: FloatTensor<B>,
) -> FloatTensor<B> {
    let shape = lead(&mu.shape());
    let sigma = B::float_reshape(sigma::<B>(rho), shape.clone());
    B::float_add(B::float_reshape(mu, shape), B::float_mul(sigma, eps))
}

/// `sigma(rho) * eps` as primitive operations.
pub(super) fn scaled_noise_composed<B: Backend>(rho: FloatTensor<B>, eps: FloatTensor<B>) -> FloatTensor<B> {
    let shape = lead(&rho.shape());
    B::float_mul(B::float_reshape(sigma::<B>(rho), shape), eps)
}

/// `(sigma / scale^2 - 1 / sigma) sigmoid(rho)` as primitive operations.
pub(super) fn kl_drho_composed<B: Backend>(rho: FloatTensor<B>, inv_var: f64) -> FloatTensor<B> {
    let sigma = sigma::<B>(rho.clone());
    let d = B::float_sub(B::float_mul_scalar(sigma.clone(), Scalar::from(inv_var)), B::float_recip(sigma));
    B::float_mul(d, B::sigmoid(rho))
}

/// The Normal KL sum as primitive operations, the same expression as
/// [`kl_normal_normal_sum`](crate::posterior::kl_normal_normal_sum) (reference:
/// [`kl_normal_f64`](crate::distributions::kl_normal_f64)).
pub(super) fn kl_sum_composed<B: Backend>(
    mu: FloatTensor<B>,
    rho: FloatTensor<B>,
    loc: f64,
    scale: f64,
) -> FloatTensor<B> {
    let n = mu.shape().num_elements() as f64;
    let sigma = sigma::<B>(rho);
    let diff = if loc == 0.0 { mu } else { B::float_sub_scalar(mu, Scalar::from(loc)) };
    let quad = B::float_add(B::float_mul(sigma.clone(), sigma.clone()), B::float_mul(diff.clone(), diff));
    let terms = B::float_sub(B::float_mul_scalar(quad, Scalar::from(0.5 / (scale * scale))), B::float_log(sigma));
    B::float_add_scalar(B::float_sum(terms), Scalar::from(n * (scale.ln() - 0.5)))
}

/// `x * mask`, the mask of `seed` built on the host and cast to `x`'s float type.
pub(super) fn dropout_composed<B: Backend>(x: FloatTensor<B>, seed: u64, threshold: u64, scale: f32) -> FloatTensor<B> {
    let shape = x.shape();
    let mask = crate::noise::mask_values(seed, shape.num_elements(), threshold, scale);
    let mask = B::float_from_data(burn::tensor::TensorData::new(mask, shape), &x.device());
    let mask = B::float_cast(mask, x.dtype().into());
    B::float_mul(x, mask)
}

/// `matmul`, bias add (`b` as `[S, 1, O]`) and ReLU, as primitive operations.
pub(super) fn linear_composed<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    b: FloatTensor<B>,
    relu: bool,
) -> FloatTensor<B> {
    let shape = b.shape();
    let b = B::float_reshape(b, Shape::from(vec![shape[0], 1, shape[1]]));
    let out = B::float_add(B::float_matmul(x, w), b);
    if relu {
        B::relu(out)
    } else {
        out
    }
}

#[cfg(feature = "ndarray")]
impl GaussianKernels for burn::backend::NdArray {}

/// Sums a `[S, P...]` gradient over the sample axis into the parameter's shape `P`.
pub(super) fn sum_samples<B: Backend>(grad: FloatTensor<B>, shape: Shape) -> FloatTensor<B> {
    let samples = grad.shape()[0];
    let grad = if samples == 1 { grad } else { B::float_sum_dim(grad, 0) };
    B::float_reshape(grad, shape)
}
