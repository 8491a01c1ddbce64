//! The vectorised f32 loops behind bayesburn's fused Gaussian-weight kernels on the `flex`
//! backend: the softplus `sigma = ln(1 + e^min(rho, rho_max))` of every weight, the sample
//! `mu + sigma * eps`, the Normal KL's terms and the derivatives its backward pass needs.
//!
//! A separate crate so that these loops are compiled optimised even in dev builds (bayesburn's
//! own crate builds at `opt-level = 1` there, which does not vectorise); see the workspace
//! `Cargo.toml`. Every loop runs compiled for AVX-512 when the CPU has it. Within a few ulp of
//! the exact values ([`vmath`]); bayesburn's `tests/it/fused.rs` checks the kernels against f64
//! closed forms.

pub mod vmath;

/// The loops over parameter slices.
pub mod gaussian {
    use crate::vmath;

    /// Defines `fn $name` that runs its body compiled for AVX-512 when the CPU has it (the
    /// loops then vectorise 16 wide; elsewhere they use the baseline's vectors).
    macro_rules! multiversion {
        ($(#[$m:meta])* fn $name:ident($($a:ident: $t:ty),*) -> $r:ty $body:block) => {
            $(#[$m])*
            pub fn $name($($a: $t),*) -> $r {
                #[inline(always)]
                fn imp($($a: $t),*) -> $r $body
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx512f") {
                    #[target_feature(enable = "avx512f")]
                    unsafe fn avx512($($a: $t),*) -> $r {
                        imp($($a),*)
                    }
                    // SAFETY: the CPU has the feature the function is compiled for.
                    return unsafe { avx512($($a),*) };
                }
                imp($($a),*)
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
}
