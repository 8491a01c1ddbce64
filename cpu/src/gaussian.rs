//! The loops over the parameter slices of Gaussian weights: the softplus
//! `sigma = ln(1 + e^min(rho, rho_max))` of every weight, the sample `mu + sigma * eps`, the
//! Normal KL's terms and the derivatives its backward pass needs (bayesburn's `ops::flex`).
//! Within a few ulp of the exact values ([`vmath`]); bayesburn's `tests/it/fused.rs` checks them
//! against f64 closed forms.

use crate::{dispatch, vmath};

/// Defines `fn $name` that runs its body inside [`dispatch::vectorize`]: compiled for the
/// widest vector unit the CPU has (16 lanes with AVX-512, 8 with AVX2).
macro_rules! multiversion {
    ($(#[$m:meta])* fn $name:ident($($a:ident: $t:ty),*) -> $r:ty $body:block) => {
        $(#[$m])*
        pub fn $name($($a: $t),*) -> $r {
            #[inline(always)]
            fn imp($($a: $t),*) -> $r $body
            dispatch::vectorize(
                #[inline(always)]
                |_| imp($($a),*),
            )
        }
    };
}

multiversion! {
    /// `mu + softplus(rho) * eps` (`mu` 0 when `None`) for `eps` of whole samples of `rho`'s
    /// length (a trailing partial sample, or an empty `rho`, leaves those `eps` unscaled).
    fn rsample(mu: Option<&[f32]>, rho: &[f32], eps: &[f32], rho_max: f32) -> Vec<f32> {
        if rho.is_empty() {
            return eps.to_vec();
        }
        let mut sigma = vec![0.0f32; rho.len()];
        for (s, &r) in sigma.iter_mut().zip(rho) {
            *s = vmath::softplus(r, rho_max);
        }
        let mut out = eps.to_vec();
        for chunk in out.chunks_exact_mut(rho.len()) {
            match mu {
                Some(mu) => {
                    for ((o, &m), &s) in chunk.iter_mut().zip(mu).zip(&sigma) {
                        *o = m + s * *o;
                    }
                }
                None => {
                    for (o, &s) in chunk.iter_mut().zip(&sigma) {
                        *o *= s;
                    }
                }
            }
        }
        out
    }
}

multiversion! {
    /// `sigmoid(rho)`.
    fn sigmoid(rho: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; rho.len()];
        for (o, &r) in out.iter_mut().zip(rho) {
            *o = vmath::sigmoid(r);
        }
        out
    }
}

multiversion! {
    /// `(sigma c - 1 / sigma) sigmoid(rho)` with `sigma = softplus(rho)`.
    fn kl_drho(rho: &[f32], c: f32, rho_max: f32) -> Vec<f32> {
        let mut out = vec![0.0f32; rho.len()];
        for (o, &r) in out.iter_mut().zip(rho) {
            let sigma = vmath::softplus(r, rho_max);
            *o = (sigma * c - 1.0 / sigma) * vmath::sigmoid(r);
        }
        out
    }
}

multiversion! {
    /// `sum[(sigma^2 + (mu - loc)^2) c - ln sigma]`: f32 terms, summed in f64 in blocks of 64.
    fn kl_terms_sum(mu: &[f32], rho: &[f32], loc: f32, c: f32, rho_max: f32) -> f64 {
        let mut terms = vec![0.0f32; rho.len()];
        for ((t, &m), &r) in terms.iter_mut().zip(mu).zip(rho) {
            let sigma = vmath::softplus(r, rho_max);
            let d = m - loc;
            *t = (sigma * sigma + d * d) * c - vmath::ln(sigma);
        }
        terms.chunks(64).map(|b| f64::from(b.iter().sum::<f32>())).sum()
    }
}
