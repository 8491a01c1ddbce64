//! Variational autoencoders: amortized variational inference with the same distribution
//! machinery as the weight posteriors (Kingma & Welling 2014; Rezende et al. 2014).
//!
//! An encoder maps an example `x` to a diagonal Gaussian `q(z | x) = N(mean, diag(exp(log_var)))`
//! over a latent `z` ([`GaussianEncoderHead`], [`LatentGaussian`]); a decoder maps `z` to a
//! likelihood `p(x | z)` ([`DecoderHead`]: [`Likelihood::Bernoulli`] for binary pixels,
//! [`Likelihood::Gaussian`] for real values); the prior is `N(0, I)`.
//!
//! - [`elbo`]: `E_q[log p(x | z)] - beta KL(q(z | x) || N(0, I))` per example, with the KL in
//!   closed form from [`distributions::kl`](crate::distributions::kl); `beta != 1` is the beta-VAE (Higgins et
//!   al. 2017). [`VaeElbo::terms`] feeds [`train::fit`](crate::train::fit).
//! - [`iwae_bound`]: the importance-weighted bound of Burda et al. (2016) with `k` samples,
//!   `log (1/k) sum_i p(x, z_i) / q(z_i | x)`, a tighter lower bound on `log p(x)` that grows
//!   with `k`; with `k = 100` or more it is the usual estimate of the test log-likelihood.
//! - Two architectures implementing [`Vae`]: [`MlpVae`] (the 784-400-20 network of Kingma &
//!   Welling) and [`ConvVae`] (two stride-2 convolutions down, two transposed convolutions up).
//!
//! Data are flat `[N, D]` rows for both (the convolutional VAE reshapes to `[N, 1, H, W]`
//! itself); latent samples are `[K, N, Z]` with the sample axis first, as everywhere in
//! bayesburn, and reconstructions `[K, N, D]`.

mod bound;
mod conv;
mod decoder;
mod latent;
mod mlp;
mod model;

pub use bound::{elbo, iwae_bound, log_weights, VaeElbo};
pub use conv::{ConvVae, ConvVaeConfig};
pub use decoder::{DecoderHead, DecoderHeadConfig, Likelihood, Reconstruction};
pub use latent::{GaussianEncoderHead, GaussianEncoderHeadConfig, LatentGaussian};
pub use mlp::{MlpVae, MlpVaeConfig};
pub use model::Vae;
