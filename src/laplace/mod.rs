//! The Laplace approximation of a trained network ("Laplace Redux", Daxberger et al. 2021): a
//! Gaussian posterior `N(theta*, (s GGN + lambda I)^-1)` over the weights and bias of the last
//! `burn::nn::Linear`, the rest of the network a fixed feature map ([`LastLayerLaplace`]), or
//! over every weight of a stack of `Linear` layers ([`DenseLaplace`]: full, diagonal or per-layer
//! KFAC curvature, GGN or empirical Fisher, the same evidence, tuning and predictives).
//!
//! | step | call | gives |
//! | --- | --- | --- |
//! | fit | [`LastLayerLaplaceConfig::fit_regression`], [`LastLayerLaplaceConfig::fit_classification`] | the posterior from the penultimate features `[N, H]` of the training points and the last layer |
//! | curvature | [`Curvature::Full`], [`Curvature::Diagonal`], [`Curvature::Kron`] (KFAC) | the GGN `sum_n (phi_n phi_n^T) (x) Lambda_n` or an approximation of it |
//! | matrix | [`Fisher::Ggn`], [`Fisher::Empirical`] | the GGN or the empirical Fisher `sum_n g_n g_n^T` |
//! | all weights | [`DenseLaplaceConfig::fit_regression`], [`DenseLaplaceConfig::fit_classification`] | a [`DenseLaplace`] over a stack of `Linear` layers with an [`Activation`] between them |
//! | evidence | [`LastLayerLaplace::log_marginal_likelihood`] | the Laplace log marginal likelihood (closed form for a Gaussian likelihood) |
//! | tuning | [`LastLayerLaplace::optimize_prior_precision`], [`LastLayerLaplace::optimize_prior_precision_and_sigma`] | `lambda` (and `sigma`) maximising it |
//! | predictive | [`LastLayerLaplace::predict_regression`], [`LastLayerLaplace::predict_probit`], [`LastLayerLaplace::predict_monte_carlo`] | [`RegressionSummary`](crate::predict::RegressionSummary), [`ClassificationSummary`](crate::predict::ClassificationSummary) |
//!
//! The features are whatever the trained network feeds its last layer (call the network's body
//! on the inputs); the fit reads them back to the host and works in `f64`. Everything after the
//! fit is on the host too: the curvature is kept in an eigenbasis (its own small Jacobi
//! eigendecomposition and Cholesky, no linear-algebra dependency), so each evaluation of the
//! evidence during tuning costs `O(P)`, `P = (H + 1) O`.

mod curvature;
mod dense;
mod last_layer;
mod linalg;
mod predictive;
mod tuning;

pub use curvature::{Curvature, Fisher};
pub use dense::{Activation, DenseLaplace, DenseLaplaceConfig, MAX_FULL_PARAMETERS};
pub use last_layer::{LaplaceLikelihood, LaplaceMean, LastLayerLaplace, LastLayerLaplaceConfig};
pub use tuning::LOG_SEARCH_RANGE;
