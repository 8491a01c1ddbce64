//! Data sets and their readers, with typed errors for malformed files.
//!
//! - [`uci`]: the UCI regression split layout (Hernandez-Lobato & Adams 2015).
//! - [`images`]: image classification sets (MNIST IDX and CSV files, gzip or plain), stratified
//!   splits, gamma and rotation shifts, noise images for out-of-distribution tests, and a
//!   procedurally generated digit-like set for running without data files.
//! - [`synthetic`]: regression sets with a known noise sd (1e-4 to 1 of the signal), in the UCI
//!   layout, to check that a method learns the noise.
//! - [`toy`]: the cubic toy regression of the Python peers' benchmark.

pub mod images;
pub mod synthetic;
pub mod toy;
pub mod uci;
