//! Uncertainty metrics: how good the predictions are, and how honest their uncertainty is.
//!
//! | family | functions |
//! | --- | --- |
//! | regression accuracy | [`rmse`] |
//! | regression likelihood | [`gaussian_nll`], [`mc_log_likelihood`], [`mc_log_likelihood_with_variances`] |
//! | proper scoring | [`gaussian_crps`], [`mixture_crps`], [`sample_crps`], [`brier_score`], [`categorical_nll`] |
//! | calibration | [`reliability_diagram`], [`expected_calibration_error`] (to improve it: [`crate::calibration`]) |
//! | prediction intervals | [`gaussian_interval_coverage`], [`mixture_interval`], [`mixture_interval_coverage`], [`interval_coverage`] |
//! | out-of-distribution detection | [`auroc`], [`ood_auroc`] |
//! | refusing to predict | [`accuracy_coverage`], [`accuracy_coverage_curve`], [`confidence_and_correct`] |
//!
//! Conventions shared by every function here:
//!
//! - **Argument order**: the prediction first, the targets second, further parameters of the
//!   predictive distribution after them, as in [`crate::objective::gaussian_nll`] and burn's
//!   losses: `gaussian_nll(mean, targets, var)`.
//! - **Shapes**: regression metrics take `[N]` or `[N, D]` tensors of equal shape and average
//!   over all `N * D` entries; classification metrics take probabilities `[N, K]` (rows summing
//!   to 1, e.g. [`ClassificationSummary::probs`](crate::predict::ClassificationSummary)) and
//!   labels `[N]` (`Tensor<1, Int>`, values in `0..K`).
//! - **Host arithmetic**: each input tensor is read back to the host once and the metric is
//!   computed in `f64` (metrics are cheap next to the model). The result is an `f64` or a
//!   small [`serde::Serialize`] struct a report or a plot can consume.
//! - **Typed errors, no panics**: shape mismatches and empty inputs give
//!   [`Error::ShapeMismatch`](crate::Error::ShapeMismatch); NaN/inf entries (with the field and
//!   the first bad index), non-positive variances, probability rows that do not sum to 1,
//!   labels out of range and invalid levels or bin counts give
//!   [`Error::InvalidParameter`](crate::Error::InvalidParameter).
//!
//! ```
//! use bayesburn::metrics;
//! use burn::prelude::*;
//! use burn::tensor::TensorData;
//!
//! let device = Device::flex();
//! let mean = Tensor::<1>::from_data(TensorData::new(vec![0.0f32, 1.0, 2.0], [3]), &device);
//! let y = Tensor::<1>::from_data(TensorData::new(vec![0.5f32, 1.0, 1.5], [3]), &device);
//! let sd = Tensor::<1>::ones([3], &device);
//! let nll = metrics::gaussian_nll(mean.clone(), y.clone(), sd.clone().square()).unwrap();
//! let crps = metrics::gaussian_crps(mean.clone(), y.clone(), sd.clone()).unwrap();
//! let band = metrics::gaussian_interval_coverage(mean, y, sd, 0.95).unwrap();
//! assert!(nll > 0.9 && crps > 0.0 && band.coverage == 1.0);
//! ```

mod auroc;
mod calibration;
pub(crate) mod host;
mod interval;
mod mixture;
mod mixture_scores;
mod regression;
mod selective;

pub use auroc::{auroc, ood_auroc};
pub use calibration::{
    brier_score, categorical_nll, expected_calibration_error, reliability_diagram, ReliabilityBin, ReliabilityDiagram,
    DEFAULT_CALIBRATION_BINS,
};
pub use host::PROBABILITY_TOLERANCE;
pub use interval::{gaussian_interval_coverage, interval_coverage, IntervalCoverage};
pub use mixture::{mc_log_likelihood, mc_log_likelihood_with_variances};
pub use mixture_scores::{mixture_crps, mixture_interval, mixture_interval_coverage, sample_crps};
pub use regression::{gaussian_crps, gaussian_nll, rmse};
pub use selective::{accuracy_coverage, accuracy_coverage_curve, confidence_and_correct, SelectivePoint};
