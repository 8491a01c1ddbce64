use burn::prelude::*;
use burn::tensor::activation::relu;

/// `softplus(rho) = log(1 + exp(rho))`, written as `relu(rho) + log1p(exp(-|rho|))` so it
/// neither overflows for large `rho` nor loses precision for very negative `rho`.
pub fn softplus<const D: usize>(rho: Tensor<D>) -> Tensor<D> {
    let tail = rho.clone().abs().neg().exp().log1p();
    relu(rho) + tail
}

/// Largest `rho` that [`sigma_of_rho`] evaluates; beyond it `sigma` saturates.
pub const SIGMA_RHO_MAX: f64 = 80.0;

/// The posterior standard deviation `sigma = softplus(rho)` of a variational weight, computed as
/// `log1p(exp(min(rho, 80)))`.
///
/// Three tensor operations where [`softplus`] takes six: every variational layer evaluates this
/// for each weight tensor in its forward pass and again in its KL, so under autodiff each
/// operation saved is a graph node and a backward kernel less per training step. `log1p` keeps
/// full precision for very negative `rho` (`sigma ≈ exp(rho)`), and for `rho <= 80` the result
/// equals [`softplus`] to f32 rounding (`exp(80)` is finite in f32). Above 80 it saturates at 80
/// with zero gradient instead of overflowing: a posterior standard deviation of 80 is far outside
/// any sensible weight posterior. (Heads that map network outputs to variances use the
/// unbounded [`softplus`].)
pub fn sigma_of_rho<const D: usize>(rho: Tensor<D>) -> Tensor<D> {
    rho.clamp_max(SIGMA_RHO_MAX).exp().log1p()
}

/// The `rho` whose softplus is `sigma`: `log(expm1(sigma))` (for `sigma > 0`).
pub fn inverse_softplus(sigma: f64) -> f64 {
    if sigma > 30.0 {
        sigma + (-(-sigma).exp()).ln_1p()
    } else {
        sigma.exp_m1().ln()
    }
}

/// Closed-form `KL(N(mu, sigma^2) || N(loc, scale^2))`, summed over all elements, shape `[1]`.
///
/// `sum[ log(scale/sigma) + (sigma^2 + (mu - loc)^2) / (2 scale^2) - 1/2 ]`.
pub fn kl_normal_normal_sum<const D: usize>(
    mu: Tensor<D>,
    sigma: Tensor<D>,
    loc: Option<Tensor<D>>,
    loc_scalar: f64,
    scale: f64,
) -> Tensor<1> {
    let n = mu.shape().num_elements() as f64;
    let diff = match loc {
        Some(loc) => mu - loc,
        None if loc_scalar == 0.0 => mu,
        None => mu.sub_scalar(loc_scalar),
    };
    // One elementwise expression and one sum (fewer graph nodes than summing each part):
    // sum[(sigma^2 + diff^2) / (2 scale^2) - log sigma] + n (log scale - 1/2).
    let terms = (sigma.clone().square() + diff.square()).mul_scalar(0.5 / (scale * scale)) - sigma.log();
    terms.sum().add_scalar(n * (scale.ln() - 0.5))
}
