//! Calibrating a trained model on a validation set: temperature and vector scaling of logits,
//! split-conformal intervals and prediction sets with finite-sample coverage, and per-class
//! thresholds for refusing to predict.
//!
//! | method | fits on the validation set | gives |
//! | --- | --- | --- |
//! | [`TemperatureScaling`], [`VectorScaling`] | logits (or mean probabilities) and labels, by minimising the NLL | calibrated probabilities |
//! | [`SplitConformalRegressor`] | means, standard deviations and targets | intervals holding `1 - alpha` of the targets |
//! | [`ConformalClassifierConfig`] (APS, RAPS) | probabilities and labels | sets holding the label with probability `1 - alpha` |
//! | [`RefusalThresholds`] | probabilities and labels | a class or "not classified" per point |
//!
//! Every method works on the summaries the library already produces:
//! [`RegressionSummary`](crate::predict::RegressionSummary) and
//! [`ClassificationSummary`](crate::predict::ClassificationSummary), so Bayes-by-backprop, MC
//! dropout and ensembles are calibrated the same way. The validation (calibration) set must be
//! data the model was not trained on; the conformal guarantees need it exchangeable with the
//! test data (e.g. a random split of the same source). Fitting reads the inputs back to the host
//! and works in `f64`; inputs are checked as the [`metrics`](crate::metrics) check theirs (typed
//! errors on empty sets, mismatched shapes, NaN/inf, `alpha` outside `(0, 1)`).

mod conformal;
mod input;
mod prediction_sets;
mod refusal;
mod temperature;

pub use conformal::{conformal_quantile, conformal_rank, ConformalScore, SplitConformalRegressor};
pub use prediction_sets::{ConformalClassifier, ConformalClassifierConfig, PredictionSets, SetScore};
pub use refusal::{RefusalReport, RefusalThresholds};
pub use temperature::{TemperatureScaling, VectorScaling, TEMPERATURE_RANGE};
