//! The integration tests, in one binary so that burn is linked once (`tests/f64/` holds those
//! that need f64: burn's `flex` device has one float type per process).

mod support;

mod calibration;
mod checkpoint;
mod conformal;
mod convert;
mod data_parallel;
mod dense_stack;
mod derive;
mod digits;
mod ensemble;
mod errors;
mod fused;
mod fuzz_readers;
mod heads;
mod images;
mod layers;
#[cfg(feature = "learner")]
mod learner;
mod mcmc;
mod mcmc_diagnostics;
mod metrics;
mod mixture_scores;
mod plot;
mod predict;
mod properties;
mod stacked;
mod swag;
mod train;
mod uci;
mod uci_loader;
mod vae;
