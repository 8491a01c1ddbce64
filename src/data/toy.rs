//! The cubic toy regression of the Python peers' benchmark (`../shared/bench/peers/common.py`):
//! `x ~ U[-4, 4]`, `y = x^3 + N(0, 3^2)`, standardised with the training means and sds.

use rand::RngExt;
use rand_distr::{Distribution, Normal};

use crate::noise;

/// `n` standardised points of the cubic toy and the constants that undo the standardisation.
#[derive(Debug, Clone)]
pub struct CubicToy {
    /// Standardised inputs, `[n]`.
    pub x: Vec<f32>,
    /// Standardised targets, `[n]`.
    pub y: Vec<f32>,
    /// Mean of the raw inputs.
    pub x_mean: f64,
    /// Population sd of the raw inputs.
    pub x_sd: f64,
    /// Mean of the raw targets.
    pub y_mean: f64,
    /// Population sd of the raw targets.
    pub y_sd: f64,
}

impl CubicToy {
    /// Draws `n` points from the calling thread's [`noise`] source (so `noise::seed` fixes them).
    pub fn new(n: usize) -> Self {
        let (x, y): (Vec<f64>, Vec<f64>) = noise::with_rng(|rng| {
            let x: Vec<f64> = (0..n).map(|_| rng.random_range(-4.0..4.0)).collect();
            let noise = Normal::new(0.0, 3.0).expect("3 is a valid sd");
            let y = x.iter().map(|&x| x * x * x + noise.sample(rng)).collect();
            (x, y)
        });
        let ((x_mean, x_sd), (y_mean, y_sd)) = (mean_sd(&x), mean_sd(&y));
        CubicToy {
            x: x.iter().map(|v| ((v - x_mean) / x_sd) as f32).collect(),
            y: y.iter().map(|v| ((v - y_mean) / y_sd) as f32).collect(),
            x_mean,
            x_sd,
            y_mean,
            y_sd,
        }
    }

    /// A raw input in the standardised units of [`x`](Self::x).
    pub fn standardise_x(&self, x: f64) -> f32 {
        ((x - self.x_mean) / self.x_sd) as f32
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
    let var = v.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / v.len().max(1) as f64;
    (m, var.sqrt())
}
