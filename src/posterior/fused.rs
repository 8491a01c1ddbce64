//! Fused autodiff operations for mean-field Gaussian weights.
//!
//! A variational layer evaluates, for every weight tensor and every training step, the sample
//! `w = mu + softplus(rho) * eps` and the KL of `N(mu, softplus(rho)^2)` from a Normal prior.
//! Written with burn's tensor operations these are five and about eleven graph nodes; the
//! autodiff graph's bookkeeping (node creation, hash maps, one backward step each, allocation)
//! then costs more than their arithmetic on the small tensors of a typical Bayesian MLP. Here each
//! is **one** autodiff node with a hand-written backward pass:
//!
//! - [`rsample`]: `mu + softplus(rho) * eps`; `d/dmu = sum_S g`, `d/drho = sum_S(g * eps) * sigmoid(rho)`;
//! - [`scaled_noise`]: `softplus(rho) * eps` (Flipout's weight perturbation);
//! - [`kl_normal_sum`]: `sum KL(N(mu, softplus(rho)^2) || N(loc, scale^2))`;
//!   `d/dmu = (mu - loc) / scale^2`, `d/drho = (sigma / scale^2 - 1 / sigma) * sigmoid(rho)`.
//!
//! They are burn backend extensions (`#[backend_extension]`) for the `flex` and `ndarray`
//! backends and their autodiff decorators. On any other device (CUDA) the same functions fall
//! back to the composed tensor operations, so every backend computes the same function.
//! `tests/fused.rs` checks values and gradients against closed forms computed in f64.
//!
//! `sigma = softplus(rho)` is evaluated as [`sigma_of_rho`](super::sigma_of_rho) does,
//! `log1p(exp(min(rho, 80)))`. Its derivative is taken as `sigmoid(rho)`, the derivative of the
//! softplus itself, which is also non-zero above the clamp (where the composed version's is 0).

use burn::prelude::*;

use super::{kl_normal_normal_sum, sigma_of_rho, SIGMA_RHO_MAX};

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
    mu.unsqueeze::<D1>() + sigma_of_rho(rho).unsqueeze::<D1>() * eps
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
    sigma_of_rho(rho).unsqueeze::<D1>() * eps
}

/// `sum KL(N(mu, softplus(rho)^2) || N(loc, scale^2))` over all elements, shape `[1]`, one
/// autodiff node. Equals [`kl_normal_normal_sum`]`(mu, sigma_of_rho(rho), None, loc, scale)`.
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
    kl_normal_normal_sum(mu, sigma_of_rho(rho), None, loc, scale)
}

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
    let (dims, device) = (x.dims(), x.device());
    x * crate::noise::dropout_mask(dims, seed, threshold, scale, &device)
}

/// A plain (non-autodiff) device of the extension: where the prediction kernels apply.
#[cfg(any(feature = "flex", feature = "ndarray"))]
pub(crate) fn plain_kernel_device(device: &Device) -> bool {
    !device.is_autodiff() && kernels::available(device)
}

/// Whether a device runs the fused kernels (`flex` and `ndarray`, with or without autodiff).
pub fn fused_on(device: &Device) -> bool {
    #[cfg(any(feature = "flex", feature = "ndarray"))]
    {
        kernels::available(device)
    }
    #[cfg(not(any(feature = "flex", feature = "ndarray")))]
    {
        let _ = device;
        false
    }
}

#[cfg(any(feature = "flex", feature = "ndarray"))]
// burn 0.22 marks its ndarray backend deprecated; the extension still serves it.
#[allow(deprecated)]
mod kernels {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{binary, unary, Backward, Ops, OpsKind};
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{backend_extension, Autodiff, Backend, DispatchDevice, Scalar, TensorMetadata};
    use burn::tensor::{Device, Shape};

    use super::SIGMA_RHO_MAX;

    /// Whether `device` is one the extension is implemented for.
    pub(super) fn available(device: &Device) -> bool {
        match device.as_dispatch().clone().inner() {
            #[cfg(feature = "flex")]
            DispatchDevice::Flex(_) => true,
            #[cfg(feature = "ndarray")]
            DispatchDevice::NdArray(_) => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// `log1p(exp(min(rho, 80)))`.
    fn sigma<B: Backend>(rho: FloatTensor<B>) -> FloatTensor<B> {
        B::float_log1p(B::float_exp(B::float_clamp_max(rho, Scalar::from(SIGMA_RHO_MAX))))
    }

    /// `[1, P...]`: the parameter's shape with a leading sample axis of 1, for broadcasting.
    fn lead(shape: &Shape) -> Shape {
        let mut dims = vec![1];
        dims.extend(shape.iter().copied());
        Shape::from(dims)
    }

    /// `[1, ..., 1]` of the given rank, for broadcasting a `[1]` gradient.
    fn ones_rank(rank: usize) -> Shape {
        Shape::from(vec![1; rank])
    }

    /// The extension: forward passes composed of primitive operations (overridden for autodiff).
    #[backend_extension(Flex: cfg(feature = "flex"), NdArray: cfg(feature = "ndarray"), Autodiff)]
    pub trait GaussianKernels: Backend {
        /// `mu + softplus(rho) * eps`.
        fn gaussian_rsample(
            mu: FloatTensor<Self>,
            rho: FloatTensor<Self>,
            eps: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
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

        /// Inverted dropout with the mask of `seed` (see [`super::dropout`]).
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

    #[cfg(feature = "flex")]
    impl GaussianKernels for burn::backend::Flex {
        fn gaussian_rsample(
            mu: FloatTensor<Self>,
            rho: FloatTensor<Self>,
            eps: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            match (flex::slice(&mu), flex::slice(&rho), flex::slice(&eps)) {
                (Some(m), Some(r), Some(e)) if m.len() == r.len() && flex::samples_of(e, r) => {
                    flex::tensor(bayesburn_kernels::gaussian::rsample(Some(m), r, e, RHO_MAX), eps.shape())
                }
                _ => rsample_composed::<Self>(mu, rho, eps),
            }
        }

        fn gaussian_scaled_noise(rho: FloatTensor<Self>, eps: FloatTensor<Self>) -> FloatTensor<Self> {
            match (flex::slice(&rho), flex::slice(&eps)) {
                (Some(r), Some(e)) if flex::samples_of(e, r) => {
                    flex::tensor(bayesburn_kernels::gaussian::rsample(None, r, e, RHO_MAX), eps.shape())
                }
                _ => scaled_noise_composed::<Self>(rho, eps),
            }
        }

        fn gaussian_dsigma(rho: FloatTensor<Self>) -> FloatTensor<Self> {
            match flex::slice(&rho) {
                Some(r) => flex::tensor(bayesburn_kernels::gaussian::sigmoid(r), rho.shape()),
                None => <Self as burn::backend::ops::ActivationOps<Self>>::sigmoid(rho),
            }
        }

        fn gaussian_kl_drho(rho: FloatTensor<Self>, inv_var: f64) -> FloatTensor<Self> {
            let c = inv_var as f32;
            match flex::slice(&rho) {
                Some(r) => flex::tensor(bayesburn_kernels::gaussian::kl_drho(r, c, RHO_MAX), rho.shape()),
                None => kl_drho_composed::<Self>(rho, inv_var),
            }
        }

        fn gaussian_kl_sum(mu: FloatTensor<Self>, rho: FloatTensor<Self>, loc: f64, scale: f64) -> FloatTensor<Self> {
            match (flex::slice(&mu), flex::slice(&rho)) {
                (Some(m), Some(r)) if m.len() == r.len() => {
                    // f32 terms, summed in f64 in blocks of 64.
                    let (c, loc32) = ((0.5 / (scale * scale)) as f32, loc as f32);
                    let sum = bayesburn_kernels::gaussian::kl_terms_sum(m, r, loc32, c, RHO_MAX);
                    let kl = sum + r.len() as f64 * (scale.ln() - 0.5);
                    flex::tensor(vec![kl as f32], Shape::from(vec![1]))
                }
                _ => kl_sum_composed::<Self>(mu, rho, loc, scale),
            }
        }

        fn gaussian_linear(
            x: FloatTensor<Self>,
            w: FloatTensor<Self>,
            b: FloatTensor<Self>,
            relu: bool,
        ) -> FloatTensor<Self> {
            match flex_linear(&x, &w, &b, relu) {
                Some(out) => out,
                None => linear_composed::<Self>(x, w, b, relu),
            }
        }

        fn gaussian_dropout(x: FloatTensor<Self>, seed: u64, threshold: u64, scale: f32) -> FloatTensor<Self> {
            use burn::backend::flex::FlexTensor;
            use burn::tensor::{DType, TensorData};
            if x.dtype() != DType::F32 {
                return dropout_composed::<Self>(x, seed, threshold, scale);
            }
            let apply = |v: &mut [f32]| crate::noise::apply_dropout(seed, threshold, scale, v);
            let mut x = x;
            // In place when `x` owns exactly its (contiguous) storage.
            if x.is_contiguous() && x.layout().start_offset() == 0 && x.bytes().len() == 4 * x.layout().num_elements() {
                if let Some(v) = x.try_storage_mut::<f32>() {
                    apply(v);
                    return x;
                }
            }
            let shape = x.shape();
            let mut v = x.into_data().try_to_vec::<f32>().expect("an F32 tensor reads as f32");
            apply(&mut v);
            FlexTensor::from_data(TensorData::new(v, shape))
        }
    }

    /// The clamp of `sigma_of_rho` in f32.
    #[cfg(feature = "flex")]
    const RHO_MAX: f32 = SIGMA_RHO_MAX as f32;

    /// Host access to contiguous f32 flex tensors, for the kernels above.
    #[cfg(feature = "flex")]
    mod flex {
        use burn::backend::flex::FlexTensor;
        use burn::tensor::{DType, Shape, TensorData};

        /// The values of a contiguous f32 tensor, else `None` (and the composed path).
        pub(super) fn slice(t: &FlexTensor) -> Option<&[f32]> {
            if t.dtype() != DType::F32 || !t.is_contiguous() {
                return None;
            }
            let (start, n) = (t.layout().start_offset(), t.layout().num_elements());
            t.storage::<f32>().get(start..start + n)
        }

        /// Whether `eps` is whole samples of a parameter shaped like `param`.
        pub(super) fn samples_of(eps: &[f32], param: &[f32]) -> bool {
            !param.is_empty() && eps.len() % param.len() == 0
        }

        /// A new tensor of `values`.
        pub(super) fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
            FlexTensor::from_data(TensorData::new(values, shape))
        }
    }

    /// `mu + sigma(rho) * eps` as primitive operations.
    fn rsample_composed<B: Backend>(mu: FloatTensor<B>, rho: FloatTensor<B>, eps: FloatTensor<B>) -> FloatTensor<B> {
        let shape = lead(&mu.shape());
        let sigma = B::float_reshape(sigma::<B>(rho), shape.clone());
        B::float_add(B::float_reshape(mu, shape), B::float_mul(sigma, eps))
    }

    /// `sigma(rho) * eps` as primitive operations.
    fn scaled_noise_composed<B: Backend>(rho: FloatTensor<B>, eps: FloatTensor<B>) -> FloatTensor<B> {
        let shape = lead(&rho.shape());
        B::float_mul(B::float_reshape(sigma::<B>(rho), shape), eps)
    }

    /// `(sigma / scale^2 - 1 / sigma) sigmoid(rho)` as primitive operations.
    fn kl_drho_composed<B: Backend>(rho: FloatTensor<B>, inv_var: f64) -> FloatTensor<B> {
        let sigma = sigma::<B>(rho.clone());
        let d = B::float_sub(B::float_mul_scalar(sigma.clone(), Scalar::from(inv_var)), B::float_recip(sigma));
        B::float_mul(d, B::sigmoid(rho))
    }

    /// The Normal KL sum as primitive operations.
    fn kl_sum_composed<B: Backend>(mu: FloatTensor<B>, rho: FloatTensor<B>, loc: f64, scale: f64) -> FloatTensor<B> {
        let n = mu.shape().num_elements() as f64;
        let sigma = sigma::<B>(rho);
        let diff = if loc == 0.0 { mu } else { B::float_sub_scalar(mu, Scalar::from(loc)) };
        let quad = B::float_add(B::float_mul(sigma.clone(), sigma.clone()), B::float_mul(diff.clone(), diff));
        let terms = B::float_sub(B::float_mul_scalar(quad, Scalar::from(0.5 / (scale * scale))), B::float_log(sigma));
        B::float_add_scalar(B::float_sum(terms), Scalar::from(n * (scale.ln() - 0.5)))
    }

    /// `x * mask`, the mask of `seed` built on the host and cast to `x`'s float type.
    fn dropout_composed<B: Backend>(x: FloatTensor<B>, seed: u64, threshold: u64, scale: f32) -> FloatTensor<B> {
        let shape = x.shape();
        let mask = crate::noise::mask_values(seed, shape.num_elements(), threshold, scale);
        let mask = B::float_from_data(burn::tensor::TensorData::new(mask, shape), &x.device());
        let mask = B::float_cast(mask, x.dtype().into());
        B::float_mul(x, mask)
    }

    /// `matmul`, bias add (`b` as `[S, 1, O]`) and ReLU, as primitive operations.
    fn linear_composed<B: Backend>(
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

    /// The flex kernel of [`super::linear`]; `None` (and the composed path) for anything but
    /// f32 tensors of ranks 3, 3, 2 with matching dimensions.
    #[cfg(feature = "flex")]
    fn flex_linear(
        x: &burn::backend::flex::FlexTensor,
        w: &burn::backend::flex::FlexTensor,
        b: &burn::backend::flex::FlexTensor,
        relu: bool,
    ) -> Option<burn::backend::flex::FlexTensor> {
        use burn::backend::flex::FlexTensor;
        use burn::tensor::{DType, TensorData};
        if [x.dtype(), w.dtype(), b.dtype()].iter().any(|d| *d != DType::F32) {
            return None;
        }
        let (xl, wl, bl) = (x.layout(), w.layout(), b.layout());
        let (xs, ws, bs) = (xl.shape(), wl.shape(), bl.shape());
        if xs.num_dims() != 3 || ws.num_dims() != 3 || bs.num_dims() != 2 {
            return None;
        }
        let (s, n, i) = (xs[0], xs[1], xs[2]);
        let (o, sw, sb) = (ws[2], ws[0], bs[0]);
        if ws[1] != i || bs[1] != o || !(sw == s || sw == 1) || !(sb == s || sb == 1) || s * n * o == 0 {
            return None;
        }
        let (xd, wd, bd) = (x.storage::<f32>(), w.storage::<f32>(), b.storage::<f32>());
        let (xt, wt, bt) = (xl.strides(), wl.strides(), bl.strides());
        let at = |offset: usize, sample: usize, stride: isize| offset as isize + sample as isize * stride;
        let parallelism =
            if n * o * i >= 192 * 192 * 192 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
        let len = s * n * o;
        let mut out: Vec<f32> = Vec::with_capacity(len);
        let dst_all = out.spare_capacity_mut().as_mut_ptr() as *mut f32;
        for k in 0..s {
            let x0 = at(xl.start_offset(), k, xt[0]);
            let w0 = at(wl.start_offset(), if sw == 1 { 0 } else { k }, wt[0]);
            // SAFETY: the layouts describe views into `xd` and `wd` (offsets and strides within
            // their storage, checked by flex when the views were made); the destination is the
            // k-th n x o row-major block of `out`'s capacity, which gemm writes in full
            // (`read_dst = false`) before anything reads it.
            unsafe {
                gemm::gemm(
                    n,
                    o,
                    i,
                    dst_all.add(k * n * o),
                    1,
                    o as isize,
                    false,
                    xd.as_ptr().offset(x0),
                    xt[2],
                    xt[1],
                    wd.as_ptr().offset(w0),
                    wt[2],
                    wt[1],
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
        }
        // SAFETY: every block 0..s was written by gemm above.
        unsafe { out.set_len(len) };
        // The bias (and ReLU) in one pass over each row while it is in cache; an unconditional
        // select, so it vectorises; NaN propagates, as burn's relu does.
        let mut bias = vec![0.0f32; o];
        for (k, block) in out.chunks_exact_mut(n * o).enumerate() {
            let b0 = at(bl.start_offset(), if sb == 1 { 0 } else { k }, bt[0]);
            for (c, v) in bias.iter_mut().enumerate() {
                *v = bd[(b0 + c as isize * bt[1]) as usize];
            }
            for row in block.chunks_exact_mut(o) {
                if relu {
                    for (v, b) in row.iter_mut().zip(&bias) {
                        let z = *v + b;
                        *v = if z < 0.0 { 0.0 } else { z };
                    }
                } else {
                    for (v, b) in row.iter_mut().zip(&bias) {
                        *v += b;
                    }
                }
            }
        }
        Some(FlexTensor::from_data(TensorData::new(out, [s, n, o])))
    }
    #[cfg(feature = "ndarray")]
    impl GaussianKernels for burn::backend::NdArray {}

    /// Sums a `[S, P...]` gradient over the sample axis into the parameter's shape `P`.
    fn sum_samples<B: Backend>(grad: FloatTensor<B>, shape: Shape) -> FloatTensor<B> {
        let samples = grad.shape()[0];
        let grad = if samples == 1 { grad } else { B::float_sum_dim(grad, 0) };
        B::float_reshape(grad, shape)
    }

    #[derive(Debug)]
    struct Rsample;

    impl<B: Backend + GaussianKernels> Backward<B, 2> for Rsample {
        /// (rho, eps, the parameter's shape)
        type State = (FloatTensor<B>, FloatTensor<B>, Shape);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
            let (rho, eps, shape) = ops.state;
            let shape_mu = shape.clone();
            binary::<B, _, _>(
                ops.parents,
                ops.node,
                grads,
                |grad| sum_samples::<B>(grad, shape_mu),
                |grad| B::float_mul(sum_samples::<B>(B::float_mul(grad, eps), shape), B::gaussian_dsigma(rho)),
            );
        }
    }

    #[derive(Debug)]
    struct ScaledNoise;

    impl<B: Backend + GaussianKernels> Backward<B, 1> for ScaledNoise {
        /// (rho, eps)
        type State = (FloatTensor<B>, FloatTensor<B>);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
            let (rho, eps) = ops.state;
            unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                let shape = rho.shape();
                B::float_mul(sum_samples::<B>(B::float_mul(grad, eps), shape), B::gaussian_dsigma(rho))
            });
        }
    }

    #[derive(Debug)]
    struct KlSum;

    impl<B: Backend + GaussianKernels> Backward<B, 2> for KlSum {
        /// (mu, rho, loc, scale)
        type State = (FloatTensor<B>, FloatTensor<B>, f64, f64);

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
            let (mu, rho, loc, scale) = ops.state;
            let rank = mu.shape().num_dims();
            let inv_var = 1.0 / (scale * scale);
            binary::<B, _, _>(
                ops.parents,
                ops.node,
                grads,
                |grad| {
                    let g = B::float_reshape(grad, ones_rank(rank));
                    let diff = if loc == 0.0 { mu } else { B::float_sub_scalar(mu, Scalar::from(loc)) };
                    B::float_mul(B::float_mul_scalar(diff, Scalar::from(inv_var)), g)
                },
                |grad| {
                    let g = B::float_reshape(grad, ones_rank(rank));
                    B::float_mul(B::gaussian_kl_drho(rho, inv_var), g)
                },
            );
        }
    }

    impl<B: Backend + GaussianKernels, C: CheckpointStrategy> GaussianKernels for Autodiff<B, C> {
        fn gaussian_rsample(
            mu: FloatTensor<Self>,
            rho: FloatTensor<Self>,
            eps: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            let eps = eps.into_primitive();
            match Rsample.prepare::<C>([mu.node(), rho.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let shape = mu.primitive().shape();
                    let state = (rho.primitive().clone(), eps.clone(), shape);
                    prep.finish(state, B::gaussian_rsample(mu.into_primitive(), rho.into_primitive(), eps))
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::gaussian_rsample(mu.into_primitive(), rho.into_primitive(), eps))
                }
            }
        }

        fn gaussian_scaled_noise(rho: FloatTensor<Self>, eps: FloatTensor<Self>) -> FloatTensor<Self> {
            let eps = eps.into_primitive();
            match ScaledNoise.prepare::<C>([rho.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let state = (rho.primitive().clone(), eps.clone());
                    prep.finish(state, B::gaussian_scaled_noise(rho.into_primitive(), eps))
                }
                OpsKind::UnTracked(prep) => prep.finish(B::gaussian_scaled_noise(rho.into_primitive(), eps)),
            }
        }

        fn gaussian_kl_sum(mu: FloatTensor<Self>, rho: FloatTensor<Self>, loc: f64, scale: f64) -> FloatTensor<Self> {
            match KlSum.prepare::<C>([mu.node(), rho.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let state = (mu.primitive().clone(), rho.primitive().clone(), loc, scale);
                    prep.finish(state, B::gaussian_kl_sum(mu.into_primitive(), rho.into_primitive(), loc, scale))
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::gaussian_kl_sum(mu.into_primitive(), rho.into_primitive(), loc, scale))
                }
            }
        }
    }
}
