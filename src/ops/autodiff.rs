//! The autodiff decorator of the extension: each fused operation is one graph node whose
//! backward pass is written out (the derivatives are in the module docs of [`crate::ops`]).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, unary, Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Scalar, TensorMetadata};
use burn::tensor::Shape;

use super::extension::{ones_rank, sum_samples, GaussianKernels};

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
    fn gaussian_rsample(mu: FloatTensor<Self>, rho: FloatTensor<Self>, eps: FloatTensor<Self>) -> FloatTensor<Self> {
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
