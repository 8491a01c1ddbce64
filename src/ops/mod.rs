//! Fused operations: the hot paths of the variational layers and of prediction, each one
//! autodiff node (or one host kernel) instead of a chain of tensor operations.
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
//! back to the composed tensor operations of [`composed`], so every backend computes the same
//! function.
//! `tests/it/fused.rs` checks values and gradients of the kernels and of the composed forms
//! against the f64 references [`softplus_f64`](crate::posterior::softplus_f64) and
//! [`kl_normal_f64`](crate::distributions::kl_normal_f64).
//!
//! `sigma = softplus(rho)` is evaluated as [`sigma_of_rho`](crate::posterior::sigma_of_rho) does,
//! `log1p(exp(min(rho, 80)))`. Its derivative is taken as `sigmoid(rho)`, the derivative of the
//! unclamped softplus, so a `rho` past the clamp still has a gradient.
//!
//! | file | what it holds |
//! | --- | --- |
//! | `gaussian.rs` | the public Gaussian-weight ops: [`rsample`], [`scaled_noise`], [`kl_normal_sum`] |
//! | `predict.rs` | prediction ops without autodiff: [`linear`] (SGEMM + bias + ReLU), inverted dropout |
//! | `composed.rs` | [`composed`]: the same operations as burn tensor operations (what CUDA runs) |
//! | `routing.rs` | which devices run the extension ([`fused_on`]) |
//! | `extension.rs` | the burn backend extension trait and its composed fallbacks (any device) |
//! | `flex.rs` | the `flex` implementation: host loops of the `bayesburn-cpu` crate |
//! | `autodiff.rs` | the autodiff decorator: one node per op with the backward pass written out |

#[cfg(any(feature = "flex", feature = "ndarray"))]
mod autodiff;
pub mod composed;
#[cfg(any(feature = "flex", feature = "ndarray"))]
mod extension;
#[cfg(feature = "flex")]
mod flex;
mod gaussian;
mod predict;
mod routing;

pub use gaussian::{kl_normal_sum, rsample, scaled_noise};
pub(crate) use predict::dropout;
pub use predict::linear;
pub use routing::fused_on;
pub(crate) use routing::plain_kernel_device;
