//! Eight schools (Rubin 1981; BDA3 §5.5) as `#[model]` functions, in the centered and the
//! non-centered parameterization. Shared by `examples/eight_schools.rs` and
//! `tests/ppl_eight_schools.rs` (included with `#[path]`; not an example of its own).
//!
//! ```text
//! mu ~ N(0, 5),  tau ~ HalfCauchy(5)
//! centered:      theta_j ~ N(mu, tau)
//! non-centered:  theta_tilde_j ~ N(0, 1),  theta_j = mu + tau * theta_tilde_j
//! y_j ~ N(theta_j, sigma_j),  j = 1..8
//! ```
//!
//! `tau` has a positive support, so `ModelPotential` samples `log tau` (the `Positive`
//! constraint's transform is `exp`) and adds the Jacobian: the unconstrained vector is
//! `[mu, log tau, theta (or theta_tilde) 1..8]`, the same coordinates as the hand-written
//! `ppl::mcmc::targets::EightSchools`.
#![allow(dead_code)]

use std::f64::consts::PI;

use bayesburn::dist::Normal;
use bayesburn::ppl::{Constraint, SiteDistribution};
use bayesburn::prelude::*;
use burn::prelude::*;

/// HalfCauchy(scale): density `2 / (π s (1 + (x / s)²))` on `x > 0`. The library's `dist`
/// has no Cauchy, and any type implementing `SiteDistribution` can be a site's distribution.
#[derive(Debug, Clone)]
pub struct HalfCauchy<const D: usize> {
    scale: Tensor<D>,
}

impl<const D: usize> HalfCauchy<D> {
    /// `scale` elementwise, each > 0 (not checked: a fixed prior in these models).
    pub fn new(scale: Tensor<D>) -> Self {
        Self { scale }
    }
}

impl<const D: usize> SiteDistribution<D> for HalfCauchy<D> {
    fn value_shape(&self) -> [usize; D] {
        self.scale.dims()
    }
    fn support(&self) -> Constraint {
        Constraint::Positive
    }
    /// Inverse CDF: `x = s tan(π u / 2)`, `u ~ U(0, 1)`.
    fn draw(&self) -> Tensor<D> {
        let half_angle =
            bayesburn::noise::uniform(self.scale.dims(), 0.0, 1.0, &self.scale.device()).mul_scalar(PI / 2.0);
        self.scale.clone() * half_angle.clone().sin() / half_angle.cos()
    }
    fn is_reparameterized(&self) -> bool {
        true
    }
    fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
        let z = value / self.scale.clone();
        (z.clone() * z).log1p().neg() - self.scale.clone().mul_scalar(PI / 2.0).log()
    }
}

// ANCHOR: model
/// The non-centered model: the school effects are `mu + tau * theta_tilde` with standard
/// normal `theta_tilde`, so the prior geometry NUTS sees does not depend on `tau`.
#[model]
pub fn non_centered(sigma: Tensor<1>, y: Option<Tensor<1>>) -> bayesburn::Result<Tensor<1>> {
    let device = sigma.device();
    let j = sigma.dims()[0];
    let mu: Tensor<1> = sample!("mu", Normal::new(Tensor::zeros([1], &device), Tensor::full([1], 5.0, &device))?);
    let tau: Tensor<1> = sample!("tau", HalfCauchy::new(Tensor::full([1], 5.0, &device)));
    let theta = plate!("schools", j, |_p| {
        let theta_tilde: Tensor<1> =
            sample!("theta_tilde", Normal::new(Tensor::zeros([j], &device), Tensor::ones([j], &device))?);
        let theta = mu.clone().expand([j]) + tau.clone().expand([j]) * theta_tilde;
        observe!("y", Normal::new_unchecked(theta.clone(), sigma.clone()), y.clone());
        theta
    });
    Ok(theta)
}
// ANCHOR_END: model

// ANCHOR: centered
/// The centered model: `theta_j ~ N(mu, tau)` directly, a funnel in `(log tau, theta)`.
#[model]
pub fn centered(sigma: Tensor<1>, y: Option<Tensor<1>>) -> bayesburn::Result<Tensor<1>> {
    let device = sigma.device();
    let j = sigma.dims()[0];
    let mu: Tensor<1> = sample!("mu", Normal::new(Tensor::zeros([1], &device), Tensor::full([1], 5.0, &device))?);
    let tau: Tensor<1> = sample!("tau", HalfCauchy::new(Tensor::full([1], 5.0, &device)));
    let theta = plate!("schools", j, |_p| {
        let theta: Tensor<1> = sample!("theta", Normal::new_unchecked(mu.clone().expand([j]), tau.clone().expand([j])));
        observe!("y", Normal::new_unchecked(theta.clone(), sigma.clone()), y.clone());
        theta
    });
    Ok(theta)
}
// ANCHOR_END: centered

/// `U_model(q) - U_hand(q)`: the normalizing constants `targets::EightSchools` drops
/// (`log(5 √(2π))` for mu, `log(5π / 2)` for tau, `8 log √(2π)` for theta or theta_tilde,
/// `Σ log(σ_j √(2π))` for y). The two potentials must differ by exactly this.
pub fn dropped_constant(sigma: &[f64]) -> f64 {
    let ln_sqrt_2pi = 0.5 * (2.0 * PI).ln();
    (5.0f64).ln()
        + ln_sqrt_2pi
        + (5.0 * PI / 2.0).ln()
        + 8.0 * ln_sqrt_2pi
        + sigma.iter().map(|s| s.ln() + ln_sqrt_2pi).sum::<f64>()
}
