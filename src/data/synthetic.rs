//! Synthetic regression sets in the UCI split layout, built to stress how a method learns the
//! observation noise: a known noise sd, from almost none (1e-4 of the signal's sd) to as much
//! noise as signal, on tens of thousands of rows.
//!
//! The clean target is a random one-hidden-layer ReLU network (a *teacher* with
//! [`NoisyRegression::teacher_hidden`] units, standard-normal weights) of standard-normal
//! inputs, rescaled so that its sd over the rows is exactly 1; the target adds Gaussian noise of
//! sd `noise_fraction`. A student with at least as many ReLU units can represent the clean part
//! exactly, so the noise sd is the floor of the achievable error and what a Gaussian head
//! should learn. The rows come with `splits` random 90/10 train/test splits, as the UCI folders.
//!
//! ```
//! use bayesburn::data::synthetic::NoisyRegression;
//! let data = bayesburn::noise::with_seed(0, || NoisyRegression::new(2_000, 8, 1e-3).generate()).unwrap();
//! assert_eq!((data.n_rows(), data.n_features, data.splits.len()), (2_000, 8, 1));
//! ```

use std::path::PathBuf;

use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};

use super::uci::{Grids, Split, UciDataset};
use crate::error::{Error, Result};
use crate::noise;

/// The recipe of a synthetic regression set (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct NoisyRegression {
    /// Rows.
    pub rows: usize,
    /// Input dimension.
    pub inputs: usize,
    /// Noise sd as a fraction of the clean target's sd.
    pub noise_fraction: f64,
    /// Hidden ReLU units of the teacher network (default 8); 0 makes the clean target linear
    /// in the inputs, which a short training fits to high precision (for quick tests).
    pub teacher_hidden: usize,
    /// Random 90/10 train/test splits (default 1).
    pub splits: usize,
}

impl NoisyRegression {
    /// `rows` rows of `inputs` inputs with noise sd `noise_fraction` times the clean sd.
    pub fn new(rows: usize, inputs: usize, noise_fraction: f64) -> Self {
        NoisyRegression { rows, inputs, noise_fraction, teacher_hidden: 8, splits: 1 }
    }

    /// Draws the set from the calling thread's [`noise`] source (`noise::with_seed` fixes it).
    /// The dataset's `dir` is a label such as `synthetic-d8-noise0.001`, not a folder.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for fewer than 10 rows, no inputs, no splits, or a noise fraction that is not finite and positive.
    pub fn generate(&self) -> Result<UciDataset> {
        const CONTEXT: &str = "NoisyRegression";
        if self.rows < 10 {
            return Err(Error::invalid(CONTEXT, "rows", self.rows, "at least 10", "ask for more rows"));
        }
        for (field, v) in [("inputs", self.inputs), ("splits", self.splits)] {
            if v == 0 {
                return Err(Error::invalid(CONTEXT, field, v, "at least 1", "use a positive count"));
            }
        }
        if !(self.noise_fraction.is_finite() && self.noise_fraction > 0.0) {
            return Err(Error::invalid(
                CONTEXT,
                "noise_fraction",
                self.noise_fraction,
                "finite and > 0",
                "give the noise sd as a fraction of the signal's sd, e.g. 1e-3",
            ));
        }
        let (n, d, h) = (self.rows, self.inputs, self.teacher_hidden);
        noise::with_rng(|rng| {
            let mut normal = || -> f64 { StandardNormal.sample(rng) };
            let x: Vec<f64> = (0..n * d).map(|_| normal()).collect();
            let w1: Vec<f64> = (0..d * h).map(|_| normal() / (d as f64).sqrt()).collect();
            let b1: Vec<f64> = (0..h).map(|_| normal()).collect();
            let w2: Vec<f64> = (0..h).map(|_| normal()).collect();
            let linear: Vec<f64> = (0..d).map(|_| normal()).collect();
            let b1_or_w = |i: usize| linear[i];
            let clean: Vec<f64> = x
                .chunks(d)
                .map(|row| {
                    if h == 0 {
                        return (0..d).map(|i| row[i] * b1_or_w(i)).sum();
                    }
                    (0..h)
                        .map(|j| {
                            let a = b1[j] + (0..d).map(|i| row[i] * w1[i * h + j]).sum::<f64>();
                            w2[j] * a.max(0.0)
                        })
                        .sum()
                })
                .collect();
            let mean = clean.iter().sum::<f64>() / n as f64;
            let sd = (clean.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / n as f64).sqrt().max(f64::MIN_POSITIVE);
            let y: Vec<f64> = clean.iter().map(|c| (c - mean) / sd + self.noise_fraction * normal()).collect();
            let n_test = n / 10;
            let splits = (0..self.splits)
                .map(|_| {
                    let mut order: Vec<usize> = (0..n).collect();
                    order.shuffle(rng);
                    let (test, train) = order.split_at(n_test);
                    let mut test = test.to_vec();
                    test.sort_unstable();
                    Split { train: train.to_vec(), test }
                })
                .collect();
            Ok(UciDataset {
                dir: PathBuf::from(format!("synthetic-d{d}-noise{}", self.noise_fraction)),
                x,
                y,
                n_features: d,
                splits,
                grids: Grids::default(),
            })
        })
    }
}
