//! SWAG: the moments it keeps are the closed-form ones of the snapshots, its samples have the
//! SWAG covariance `(Sigma_diag + D D^T / (K - 1)) / 2`, and misuse is a typed error.

use bayesburn::swag::{multi_swag_samples, Swag};
use bayesburn::{noise, Error};
use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use crate::support::{device, host};

/// A `Linear` 2 -> 1 whose weights (visiting order: weight `[2, 1]`, then bias) are `theta`.
fn linear(theta: [f32; 3]) -> Linear {
    let d = device();
    let mut l = LinearConfig::new(2, 1).init(&d);
    l.weight = Param::from_tensor(Tensor::<1>::from_floats([theta[0], theta[1]], &d).reshape([2, 1]));
    l.bias = Some(Param::from_tensor(Tensor::from_floats([theta[2]], &d)));
    l
}

fn weights(l: &Linear) -> Vec<f64> {
    let mut w = host(l.weight.val());
    w.extend(host(l.bias.as_ref().expect("bias").val()));
    w
}

/// Snapshots with exactly representable values, so the expected moments are exact in f64.
const SNAPSHOTS: [[f32; 3]; 5] =
    [[1.0, -2.0, 0.5], [1.5, -1.0, 0.25], [0.5, -2.5, 1.0], [2.0, -1.5, 0.0], [1.0, -3.0, 0.75]];

fn collected(max_rank: usize) -> Swag {
    let mut swag = Swag::new(max_rank).unwrap();
    for s in SNAPSHOTS {
        swag.collect(&linear(s)).unwrap();
    }
    swag
}

#[test]
fn moments_are_those_of_the_snapshots() {
    let swag = collected(3);
    let t = SNAPSHOTS.len() as f64;
    let column = |j: usize| SNAPSHOTS.iter().map(|s| f64::from(s[j])).collect::<Vec<_>>();
    for j in 0..3 {
        let c = column(j);
        let mean = c.iter().sum::<f64>() / t;
        let var = c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / t;
        assert!((swag.mean()[j] - mean).abs() < 1e-12, "mean {j}");
        assert!((swag.diagonal_variance()[j] - var).abs() < 1e-12, "variance {j}");
    }
    // The last K = 3 deviations, each from the running mean at its snapshot.
    assert_eq!((swag.count(), swag.rank()), (5, 3));
    for (k, dev) in swag.deviations().enumerate() {
        let t_index = SNAPSHOTS.len() - 3 + k;
        for j in 0..3 {
            let running: f64 =
                SNAPSHOTS[..=t_index].iter().map(|s| f64::from(s[j])).sum::<f64>() / (t_index + 1) as f64;
            assert!((dev[j] - (f64::from(SNAPSHOTS[t_index][j]) - running)).abs() < 1e-12, "deviation {k}, {j}");
        }
    }
    // The SWA model carries the mean.
    let swa = swag.swa(linear([0.0; 3])).unwrap();
    for (got, want) in weights(&swa).iter().zip(swag.mean()) {
        assert!((got - want).abs() < 1e-6);
    }
}

/// Sample mean and covariance of `S` draws against `theta_bar` and
/// `Sigma = (diag + D D^T / (K - 1)) / 2`, each within 4 standard errors of its estimator
/// (`sqrt(Sigma_ii / S)` for a mean, `sqrt((Sigma_ii Sigma_jj + Sigma_ij^2) / S)` for a
/// covariance of Gaussian draws).
#[test]
fn samples_have_the_swag_mean_and_covariance() {
    let swag = collected(4);
    let k = swag.rank() as f64;
    let diag = swag.diagonal_variance();
    let devs: Vec<&[f64]> = swag.deviations().collect();
    let sigma = |i: usize, j: usize| {
        let low: f64 = devs.iter().map(|d| d[i] * d[j]).sum::<f64>() / (k - 1.0);
        0.5 * (if i == j { diag[i] } else { 0.0 } + low)
    };
    let s = 4000;
    let draws: Vec<Vec<f64>> =
        noise::with_seed(7, || (0..s).map(|_| weights(&swag.sample(linear([0.0; 3])).unwrap())).collect());
    let n = s as f64;
    let mean: Vec<f64> = (0..3).map(|j| draws.iter().map(|d| d[j]).sum::<f64>() / n).collect();
    for (j, (got, want)) in mean.iter().zip(swag.mean()).enumerate() {
        let se = (sigma(j, j) / n).sqrt();
        assert!((got - want).abs() < 4.0 * se, "mean {j}: {got} vs {want}");
    }
    for i in 0..3 {
        for j in 0..3 {
            let cov = draws.iter().map(|d| (d[i] - mean[i]) * (d[j] - mean[j])).sum::<f64>() / (n - 1.0);
            let se = ((sigma(i, i) * sigma(j, j) + sigma(i, j).powi(2)) / n).sqrt();
            assert!((cov - sigma(i, j)).abs() < 4.0 * se, "cov ({i}, {j}): {cov} vs {}", sigma(i, j));
        }
    }
}

#[test]
fn multi_swag_draws_from_every_member() {
    let members = [linear([0.0; 3]), linear([0.0; 3])];
    let swags = [collected(2), collected(0)];
    let draws = noise::with_seed(1, || multi_swag_samples(&members, &swags, 3)).unwrap();
    assert_eq!(draws.len(), 6);
    assert!(matches!(multi_swag_samples(&members, &swags[..1], 3), Err(Error::InvalidParameter { .. })));
}

#[test]
fn misuse_is_a_typed_error() {
    let mut swag = Swag::new(2).unwrap();
    assert!(matches!(swag.sample(linear([0.0; 3])), Err(Error::InvalidParameter { field: "snapshots", .. })));
    swag.collect(&linear([1.0, 2.0, 3.0])).unwrap();
    assert!(matches!(swag.sample(linear([0.0; 3])), Err(Error::InvalidParameter { field: "snapshots", .. })));
    let other = LinearConfig::new(3, 1).init(&device());
    assert!(matches!(swag.collect(&other), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(
        swag.collect(&linear([f32::NAN, 0.0, 0.0])),
        Err(Error::InvalidParameter { field: "weights", .. })
    ));
    assert_eq!(swag.count(), 1, "a rejected snapshot is not added");
    assert!(matches!(Swag::new(2).unwrap().with_scale(0.0), Err(Error::InvalidParameter { field: "scale", .. })));
}
