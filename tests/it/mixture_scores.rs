//! Mixture-aware intervals and CRPS (`metrics::mixture_interval`, `mixture_crps`,
//! `sample_crps`) against independent oracles:
//!
//! - the mixture CRPS against a Monte-Carlo estimate of `E|X - y| - E|X - X'| / 2` with draws
//!   from the mixture, within 4 standard errors; with one component, equal to `gaussian_crps`;
//! - the empirical-samples CRPS against its brute-force double sum, and, over many points with
//!   samples from `N(0, 1)`, its known bias `1 / (S sqrt(pi))` over the Gaussian CRPS
//!   (`E` of the empirical pair term is `(S - 1) / S` of the population one), within 4 SE;
//! - mixture intervals: the mixture CDF at the bounds is `(1 -+ level) / 2`, and targets drawn
//!   from bimodal mixtures fall inside a share `level` of the time, within 4 binomial SE, where
//!   the moment-matched Gaussian band misses.

use crate::support::{device, host};
use bayesburn::{metrics, noise, Error};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use statrs::distribution::{ContinuousCDF, Normal};

fn t1(v: &[f64]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [v.len()]), &device())
}

fn t2(v: &[f64], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [rows, cols]), &device())
}

fn as_f32(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| x as f32 as f64).collect()
}

fn normal(rng: &mut bayesburn::noise::NoiseRng) -> f64 {
    StandardNormal.sample(rng)
}

/// One draw from the equal-weight mixture of components `(mu, sd)`.
fn draw_mixture(rng: &mut bayesburn::noise::NoiseRng, comps: &[(f64, f64)]) -> f64 {
    let (mu, sd) = comps[rng.random_range(0..comps.len())];
    mu + sd * normal(rng)
}

#[test]
fn mixture_crps_matches_a_monte_carlo_estimate() {
    // 4 points, 3 components each, [S, N] layout; targets inside and outside the mixtures.
    let (s, n) = (3, 4);
    let mu = as_f32(&[-2.0, 0.0, 1.0, 5.0, 0.5, 0.2, 1.5, 5.5, 3.0, 0.4, 2.0, 4.0]);
    let sd = as_f32(&[0.5, 1.0, 0.3, 2.0, 1.0, 0.5, 0.3, 1.0, 0.3, 0.2, 0.3, 0.5]);
    let y = as_f32(&[0.1, 0.3, 4.0, -1.0]);
    let got = metrics::mixture_crps(t2(&mu, s, n), t1(&y), t2(&sd, s, n)).unwrap();
    const M: usize = 400_000;
    let (mut mean, mut var) = (0.0, 0.0);
    noise::with_seed(11, || {
        noise::with_rng(|rng| {
            for j in 0..n {
                let comps: Vec<(f64, f64)> = (0..s).map(|i| (mu[i * n + j], sd[i * n + j])).collect();
                let terms: Vec<f64> = (0..M)
                    .map(|_| {
                        let (x, x2) = (draw_mixture(rng, &comps), draw_mixture(rng, &comps));
                        (x - y[j]).abs() - 0.5 * (x - x2).abs()
                    })
                    .collect();
                let m = terms.iter().sum::<f64>() / M as f64;
                let v = terms.iter().map(|t| (t - m).powi(2)).sum::<f64>() / (M - 1) as f64;
                mean += m / n as f64;
                var += v / M as f64 / (n * n) as f64;
            }
        })
    });
    let se = var.sqrt();
    assert!((got - mean).abs() <= 4.0 * se, "closed form {got:.5}, Monte Carlo {mean:.5} ± {se:.5}");
}

#[test]
fn one_component_mixture_crps_is_the_gaussian_crps() {
    let mu = [0.0, 1.0, -2.0, 3.5];
    let sd = [1.0, 0.3, 2.0, 0.01];
    let y = [0.5, 1.0, 1.0, 3.0];
    let mixture = metrics::mixture_crps(t2(&mu, 1, 4), t1(&y), t2(&sd, 1, 4)).unwrap();
    let gaussian = metrics::gaussian_crps(t1(&mu), t1(&y), t1(&sd)).unwrap();
    assert!((mixture - gaussian).abs() < 1e-9, "{mixture} against {gaussian}");
}

#[test]
fn sample_crps_is_the_empirical_distributions_crps() {
    let (s, n) = (5, 3);
    let x = as_f32(&[0.3, -1.0, 2.0, 1.1, 0.0, 2.5, -0.4, 0.2, 3.0, 0.9, -2.0, 1.0, 0.0, 0.5, 1.5]);
    let y = as_f32(&[0.2, 0.0, 2.2]);
    let got = metrics::sample_crps(t2(&x, s, n), t1(&y)).unwrap();
    let brute: f64 = (0..n)
        .map(|j| {
            let col: Vec<f64> = (0..s).map(|i| x[i * n + j]).collect();
            let to_y: f64 = col.iter().map(|v| (v - y[j]).abs()).sum::<f64>() / s as f64;
            let pairs: f64 = col.iter().flat_map(|a| col.iter().map(move |b| (a - b).abs())).sum::<f64>();
            to_y - pairs / (2.0 * (s * s) as f64)
        })
        .sum::<f64>()
        / n as f64;
    assert!((got - brute).abs() < 1e-12, "{got} against {brute}");
    // Samples as a mixture of very narrow Gaussians: the same number.
    let narrow = metrics::mixture_crps(t2(&x, s, n), t1(&y), t2(&[1e-6; 15], s, n)).unwrap();
    assert!((got - narrow).abs() < 1e-5, "{got} against {narrow}");
}

#[test]
fn sample_crps_has_the_known_small_sample_bias() {
    // S = 10 draws from N(0, 1) per point, y ~ N(0, 1): E[sample CRPS - CRPS] = 1 / (S sqrt(pi)).
    let (s, n, batches) = (10, 200, 25);
    let diffs: Vec<f64> = (0..batches)
        .map(|b| {
            noise::with_seed(100 + b as u64, || {
                let (x, y): (Vec<f64>, Vec<f64>) = noise::with_rng(|rng| {
                    ((0..s * n).map(|_| normal(rng)).collect(), (0..n).map(|_| normal(rng)).collect())
                });
                let empirical = metrics::sample_crps(t2(&x, s, n), t1(&y)).unwrap();
                let exact = metrics::gaussian_crps(t1(&vec![0.0; n]), t1(&y), t1(&vec![1.0; n])).unwrap();
                empirical - exact
            })
        })
        .collect();
    let m = diffs.iter().sum::<f64>() / batches as f64;
    let se = (diffs.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (batches - 1) as f64 / batches as f64).sqrt();
    let bias = 1.0 / (s as f64 * std::f64::consts::PI.sqrt());
    assert!((m - bias).abs() <= 4.0 * se, "mean excess {m:.5}, expected {bias:.5} ± 4 SE {:.5}", 4.0 * se);
}

#[test]
fn mixture_intervals_hold_their_level_on_draws_from_the_mixture() {
    let (s, n, level) = (3, 4000, 0.9);
    // Bimodal predictives: three components, two far apart, varying per point.
    let (mu, sd, y) = noise::with_seed(21, || {
        noise::with_rng(|rng| {
            let mut mu = vec![0.0; s * n];
            let mut sd = vec![0.0; s * n];
            let mut y = Vec::with_capacity(n);
            for j in 0..n {
                let shift: f64 = rng.random_range(-1.0..1.0);
                let comps = [(shift - 2.0, 0.4), (shift + 0.3, 0.8), (shift + 3.0, 0.3)];
                for (i, (m, v)) in comps.iter().enumerate() {
                    mu[i * n + j] = *m as f32 as f64;
                    sd[i * n + j] = *v as f32 as f64;
                }
                let comps: Vec<(f64, f64)> = (0..s).map(|i| (mu[i * n + j], sd[i * n + j])).collect();
                y.push(draw_mixture(rng, &comps));
            }
            (mu, sd, y)
        })
    });
    let band = metrics::mixture_interval_coverage(t2(&mu, s, n), t1(&y), t2(&sd, s, n), level).unwrap();
    let se = (level * (1.0 - level) / n as f64).sqrt();
    assert!((band.coverage - level).abs() <= 4.0 * se, "coverage {} against {level} ± {}", band.coverage, 4.0 * se);
    // The bounds are the mixture's quantiles.
    let (lower, upper) = metrics::mixture_interval(t2(&mu, s, n), t2(&sd, s, n), level).unwrap();
    let (lower, upper) = (host(lower), host(upper));
    let standard = Normal::standard();
    for j in [0, 1, 2, n - 1] {
        // The bounds went through f32; allow for that rounding times the density (< 1).
        let cdf = |x: f64| (0..s).map(|i| standard.cdf((x - mu[i * n + j]) / sd[i * n + j])).sum::<f64>() / s as f64;
        let tol = 1e-6 * (1.0 + lower[j].abs().max(upper[j].abs()));
        assert!((cdf(lower[j]) - 0.05).abs() < tol, "point {j}: F(lower) = {}", cdf(lower[j]));
        assert!((cdf(upper[j]) - 0.95).abs() < tol, "point {j}: F(upper) = {}", cdf(upper[j]));
    }
    // The moment-matched Gaussian band mean ± 1.645 sd misses the level on these mixtures.
    let (gm, gsd): (Vec<f64>, Vec<f64>) = (0..n)
        .map(|j| {
            let m = (0..s).map(|i| mu[i * n + j]).sum::<f64>() / s as f64;
            let second = (0..s).map(|i| sd[i * n + j].powi(2) + mu[i * n + j].powi(2)).sum::<f64>() / s as f64;
            (m, (second - m * m).sqrt())
        })
        .unzip();
    let gaussian = metrics::gaussian_interval_coverage(t1(&gm), t1(&y), t1(&gsd), level).unwrap();
    assert!((gaussian.coverage - level).abs() > 8.0 * se, "moment-matched coverage {}", gaussian.coverage);
}

/// The mixture rows of `docs/ERRORS.md` (run with `--nocapture` to print the messages).
#[test]
fn bad_mixture_inputs_are_typed_errors() {
    let field = |r: Result<f64, Error>| match r {
        Err(e @ (Error::InvalidParameter { .. } | Error::ShapeMismatch { .. })) => {
            let msg = e.to_string();
            match e {
                Error::InvalidParameter { field, .. } | Error::ShapeMismatch { field, .. } => (field, msg),
                _ => unreachable!(),
            }
        }
        other => panic!("expected InvalidParameter or ShapeMismatch, got {other:?}"),
    };
    let interval = metrics::mixture_interval(t2(&[0.0, 1.0], 2, 1), t2(&[1.0, 0.0], 2, 1), 0.9).map(|_| 0.0);
    let cases = [
        (
            "MIX1",
            field(metrics::mixture_crps(t2(&[0.0, 1.0], 2, 1), t1(&[0.5]), t2(&[1.0, 1.0, 1.0], 3, 1))),
            "sample_sds",
        ),
        ("MIX2", field(interval), "sample_sds"),
        ("MIX3", field(metrics::sample_crps(t2(&[0.0, 1.0], 2, 1), t1(&[0.5, 0.5]))), "targets"),
        (
            "MIX4",
            field(
                metrics::mixture_interval_coverage(t2(&[0.0], 1, 1), t1(&[0.0]), t2(&[1.0], 1, 1), 1.0)
                    .map(|c| c.coverage),
            ),
            "level",
        ),
    ];
    for (row, (field, msg), want) in cases {
        println!("{row}: {msg}");
        assert_eq!(field, want, "{row}: {msg}");
        assert!(msg.contains(want), "{row}: the message names the field: {msg}");
    }
}
