//! Data sets and their readers.
//!
//! - [`images`]: image classification sets (MNIST IDX and CSV files, gzip or plain), stratified
//!   splits, gamma and rotation shifts, noise images for out-of-distribution tests, and a
//!   procedurally generated digit-like set for running without data files.

pub mod images;
