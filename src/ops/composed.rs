//! The composed forms of the fused operations: burn tensor operations only, differentiated by
//! burn's autodiff. A device without the fused kernels (CUDA, any backend but `flex` and
//! `ndarray`) runs these; they are public so that one CPU device can compare them with the
//! kernels (`tests/it/fused.rs`), which is how the GPU path is tested without a GPU.
//!
//! They compute the same values as the kernels to f32 rounding. One gradient differs on
//! purpose: past the clamp of [`sigma_of_rho`] (`rho > 80`) the composed `sigma` is constant, so
//! its derivative in `rho` is 0, where the fused backward passes use `sigmoid(rho)` (about 1; see
//! [`crate::ops`]).

use burn::prelude::*;

use crate::posterior::{kl_normal_normal_sum, sigma_of_rho};

/// `mu + sigma_of_rho(rho) * eps` (shapes as [`ops::rsample`](super::rsample)).
pub fn rsample<const D: usize, const D1: usize>(mu: Tensor<D>, rho: Tensor<D>, eps: Tensor<D1>) -> Tensor<D1> {
    mu.unsqueeze::<D1>() + sigma_of_rho(rho).unsqueeze::<D1>() * eps
}

/// `sigma_of_rho(rho) * eps` (shapes as [`ops::scaled_noise`](super::scaled_noise)).
pub fn scaled_noise<const D: usize, const D1: usize>(rho: Tensor<D>, eps: Tensor<D1>) -> Tensor<D1> {
    sigma_of_rho(rho).unsqueeze::<D1>() * eps
}

/// `sum KL(N(mu, sigma_of_rho(rho)^2) || N(loc, scale^2))`, shape `[1]` (as
/// [`ops::kl_normal_sum`](super::kl_normal_sum)).
pub fn kl_normal_sum<const D: usize>(mu: Tensor<D>, rho: Tensor<D>, loc: f64, scale: f64) -> Tensor<1> {
    kl_normal_normal_sum(mu, sigma_of_rho(rho), None, loc, scale)
}

/// `x.matmul(w) + b`, then ReLU if `relu` (shapes as [`ops::linear`](super::linear)).
pub fn linear(x: Tensor<3>, w: Tensor<3>, b: Option<Tensor<2>>, relu: bool) -> Tensor<3> {
    let out = x.matmul(w);
    let out = match b {
        Some(b) => out + b.unsqueeze_dim::<3>(1),
        None => out,
    };
    if relu {
        burn::tensor::activation::relu(out)
    } else {
        out
    }
}

/// Inverted dropout of rate `p` with the mask of `seed`: `x` times a mask tensor that is
/// `1 / (1 - p)` where kept, else 0. The same mask as [`McDropout`](crate::layers::McDropout)
/// draws when the thread's stream gives it `seed` ([`noise::next_seed`](crate::noise::next_seed)).
pub fn dropout<const D: usize>(x: Tensor<D>, seed: u64, p: f64) -> Tensor<D> {
    let (threshold, scale) = crate::noise::dropout_params(p);
    masked::<D>(x, seed, threshold, scale)
}

/// [`dropout`] with the mask's threshold and scale given.
pub(crate) fn masked<const D: usize>(x: Tensor<D>, seed: u64, threshold: u64, scale: f32) -> Tensor<D> {
    let (dims, device) = (x.dims(), x.device());
    x * crate::noise::dropout_mask(dims, seed, threshold, scale, &device)
}
