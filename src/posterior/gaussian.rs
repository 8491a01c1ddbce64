use burn::prelude::*;
use burn::tensor::activation::relu;

/// `softplus(x) = ln(1 + e^x)` in f64 on the host, as `max(x, 0) + ln(1 + e^(-|x|))`: no
/// overflow for large `x`, full precision for very negative `x` (where it is `e^x`).
///
/// The reference for softplus: the tensor forms ([`softplus`], [`sigma_of_rho`], which clamps
/// at [`SIGMA_RHO_MAX`]) and the fused kernels of [`ops`](crate::ops) are tested against it.
///
/// ```
/// use bayesburn::posterior::softplus_f64;
///
/// assert_eq!(softplus_f64(0.0), std::f64::consts::LN_2);
/// assert_eq!(softplus_f64(1000.0), 1000.0); // ln(1 + e^1000) overflows written directly
/// ```
pub fn softplus_f64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `softplus(x) = ln(1 + e^x)` elementwise, as `relu(x) + log1p(exp(-|x|))` (the same
/// `max(x, 0) + ln(1 + e^(-|x|))` as [`softplus_f64`]): it neither overflows for large `x` nor
/// loses precision for very negative `x`. Its autodiff derivative is `sigmoid(x)` except at
/// exactly `x = 0`, where burn's `relu'(0) = 0` and `abs'(0) = 0` give 0 instead of `1/2`
/// (`-log_sigmoid(-x)` would give `1/2` there, but rounds differently everywhere and moves every
/// seeded trajectory).
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let tail = x.clone().abs().neg().exp().log1p();
    relu(x) + tail
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
/// unbounded [`softplus`].) The reference is [`softplus_f64`]`(rho.min(SIGMA_RHO_MAX))`.
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
/// `sum[ log(scale/sigma) + (sigma^2 + (mu - loc)^2) / (2 scale^2) - 1/2 ]`: the sum of
/// [`kl_normal_f64`](crate::distributions::kl_normal_f64) (its reference) over the elements,
/// arranged for few graph nodes. `loc` is an elementwise prior mean (data-dependent priors);
/// without it the prior mean is `loc_scalar`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_f64_is_ln_1_plus_exp_without_overflow() {
        // Where ln(1 + e^x) can be written directly, the two agree to f64 rounding.
        for i in -300..=300 {
            let x = i as f64 / 10.0;
            let direct = x.exp().ln_1p();
            assert!((softplus_f64(x) - direct).abs() <= 4.0 * f64::EPSILON * direct, "x = {x}");
        }
        // Large x: x + e^(-x), where the direct form overflows to inf.
        assert!(710.0f64.exp().ln_1p().is_infinite());
        for x in [40.0, 709.0, 710.0, 1e6] {
            assert_eq!(softplus_f64(x), x + (-x).exp());
        }
        // Very negative x: e^x to full relative precision (1 + e^x rounds to 1 long before).
        for x in [-40.0, -300.0, -700.0] {
            assert!((softplus_f64(x) - x.exp()).abs() <= 2.0 * f64::EPSILON * x.exp(), "x = {x}");
        }
    }

    #[test]
    fn inverse_softplus_inverts_the_reference() {
        for sigma in [1e-8, 0.0067, 0.5, 1.0, 29.0, 31.0, 500.0] {
            let back = softplus_f64(inverse_softplus(sigma));
            assert!((back - sigma).abs() <= 8.0 * f64::EPSILON * sigma, "sigma = {sigma}: {back}");
        }
    }
}
