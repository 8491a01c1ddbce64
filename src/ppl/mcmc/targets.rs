//! Reference posteriors written by hand (f64, analytic gradients), for tests, benchmarks and
//! examples of the samplers.
//!
//! [`EightSchools`]: Rubin (1981), the coaching effects of eight schools (Gelman et al., BDA3
//! §5.5), in the two parameterizations the literature contrasts:
//!
//! ```text
//! mu ~ N(0, 5),  tau ~ HalfCauchy(5)
//! centered:      theta_j ~ N(mu, tau)
//! non-centered:  theta_tilde_j ~ N(0, 1),  theta_j = mu + tau * theta_tilde_j
//! y_j ~ N(theta_j, sigma_j),  j = 1..8
//! ```
//!
//! The unconstrained vector is `q = [mu, log tau, theta_1..8]` (centered) or
//! `[mu, log tau, theta_tilde_1..8]` (non-centered); `U(q)` includes the Jacobian `-log tau` of
//! `tau = exp(q[1])`. The centered form has a funnel between `tau` and `theta` that NUTS cannot
//! enter with a fixed step size (divergences, biased `tau`); the non-centered form removes it.

use crate::error::Result;
use crate::ppl::Potential;

/// Estimated treatment effects of the eight schools.
pub const EIGHT_SCHOOLS_Y: [f64; 8] = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
/// Their standard errors.
pub const EIGHT_SCHOOLS_SIGMA: [f64; 8] = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];

/// The eight-schools posterior as a [`Potential`] of dimension 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EightSchools {
    /// `true`: `q[2..]` are the school effects `theta`; `false`: the standardized
    /// `theta_tilde`.
    pub centered: bool,
}

impl EightSchools {
    /// `q = [mu, log tau, theta_1..8]`.
    pub fn centered() -> Self {
        EightSchools { centered: true }
    }

    /// `q = [mu, log tau, theta_tilde_1..8]`.
    pub fn non_centered() -> Self {
        EightSchools { centered: false }
    }
}

impl Potential for EightSchools {
    fn dim(&self) -> usize {
        10
    }

    fn value_and_grad(&self, q: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (mu, log_tau) = (q[0], q[1]);
        let tau = log_tau.exp();
        let mut grad = vec![0.0; 10];
        // Prior on mu: N(0, 5).
        let mut u = mu * mu / 50.0;
        grad[0] = mu / 25.0;
        // HalfCauchy(5) on tau, with the Jacobian of tau = exp(log_tau):
        // -log p = log(1 + tau²/25) - log_tau + const.
        let t2 = tau * tau / 25.0;
        u += t2.ln_1p() - log_tau;
        grad[1] = 2.0 * t2 / (1.0 + t2) - 1.0;
        for j in 0..8 {
            let (y, s2) = (EIGHT_SCHOOLS_Y[j], EIGHT_SCHOOLS_SIGMA[j].powi(2));
            let x = q[2 + j];
            if self.centered {
                // theta_j ~ N(mu, tau): (theta - mu)² / (2 tau²) + log tau.
                let d = x - mu;
                u += d * d / (2.0 * tau * tau) + log_tau;
                grad[0] -= d / (tau * tau);
                grad[1] += 1.0 - d * d / (tau * tau);
                grad[2 + j] += d / (tau * tau);
                // y_j ~ N(theta_j, sigma_j).
                let r = y - x;
                u += r * r / (2.0 * s2);
                grad[2 + j] -= r / s2;
            } else {
                u += x * x / 2.0;
                grad[2 + j] += x;
                let r = y - mu - tau * x;
                u += r * r / (2.0 * s2);
                grad[0] -= r / s2;
                grad[1] -= r / s2 * tau * x;
                grad[2 + j] -= r / s2 * tau;
            }
        }
        Ok((u, grad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_central_differences() {
        let q = [1.3, 0.7, 0.4, -1.1, 0.9, 0.2, -0.5, 1.7, -0.3, 0.6];
        for target in [EightSchools::centered(), EightSchools::non_centered()] {
            let (_, grad) = target.value_and_grad(&q).unwrap();
            for i in 0..10 {
                let h = 1e-6;
                let (mut plus, mut minus) = (q, q);
                plus[i] += h;
                minus[i] -= h;
                let fd =
                    (target.value_and_grad(&plus).unwrap().0 - target.value_and_grad(&minus).unwrap().0) / (2.0 * h);
                // Central differences: error O(h²·U''') plus rounding O(eps·U/h) ≈ 1e-9 here.
                assert!(
                    (fd - grad[i]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{target:?} coordinate {i}: {fd} vs {}",
                    grad[i]
                );
            }
        }
    }
}
