//! Finite-sample coverage of split conformal prediction, by simulation.
//!
//! For `n` calibration points exchangeable with the test points and scores distinct almost
//! surely, a split-conformal set at miscoverage `alpha` holds a test target with probability
//! exactly `k / (n + 1)`, `k = ceil((n + 1)(1 - alpha))`, which lies in
//! `[1 - alpha, 1 - alpha + 1 / (n + 1)]` (Lei et al. 2018, theorem 2.2; Angelopoulos et al.
//! 2021, theorem 1). Each test repeats a fit on a fresh calibration set `R` times (one seed per
//! repetition), measures the coverage on fresh test points, and requires the mean coverage
//! within 4 standard errors (the sample sd of the per-repetition coverages over `sqrt(R)`) of
//! `k / (n + 1)` — and hence of the bounds (deterministic APS/RAPS sets keep one class more and
//! only promise the lower bound). The sizes are chosen so that an off-by-one rank
//! (`ceil(n (1 - alpha))` or `k + 1`) moves the expectation by more than 10 standard errors.
//!
//! The models are deliberately wrong (a biased mean, an sd of the right shape but half the
//! size, over-confident probabilities): the guarantee needs no correct model.

use crate::support::device;
use bayesburn::calibration::{ConformalClassifierConfig, ConformalScore, SetScore, SplitConformalRegressor};
use bayesburn::noise;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

fn t1(v: &[f64]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [v.len()]), &device())
}

fn t2(v: &[f64], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [rows, cols]), &device())
}

fn labels_tensor(v: &[usize]) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.iter().map(|&l| l as i64).collect::<Vec<_>>(), [v.len()]), &device())
}

fn host(t: Tensor<1>) -> Vec<f64> {
    crate::support::host(t)
}

/// Mean and standard error of the mean.
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// Checks a simulated mean coverage against `k / (n + 1)` and the bounds, within 4 SE.
fn check_coverage(what: &str, coverages: &[f64], n: usize, alpha: f64) {
    let (mean, se) = mean_se(coverages);
    // k = ceil((n + 1)(1 - alpha)) in integers (alpha in whole percent), not through the
    // library's conformal_rank: the oracle must not share the code under test.
    let percent = (alpha * 100.0).round() as usize;
    let k = ((n + 1) * (100 - percent)).div_ceil(100);
    let exact = k as f64 / (n + 1) as f64;
    let (lower, upper) = (1.0 - alpha, 1.0 - alpha + 1.0 / (n + 1) as f64);
    println!("{what}: mean coverage {mean:.4} ± {se:.4} over {} seeds, k / (n + 1) = {exact:.4}", coverages.len());
    assert!(
        (mean - exact).abs() <= 4.0 * se,
        "{what}: mean coverage {mean:.4} is not within 4 SE ({se:.4}) of k / (n + 1) = {exact:.4}"
    );
    assert!(mean >= lower - 4.0 * se, "{what}: mean coverage {mean:.4} below 1 - alpha = {lower}");
    assert!(mean <= upper + 4.0 * se, "{what}: mean coverage {mean:.4} above 1 - alpha + 1 / (n + 1) = {upper:.4}");
}

/// Heteroscedastic regression with heavy-ish tails: `x ~ U(-2, 2)`,
/// `y = sin(2x) + (0.2 + 0.3 |x|) e`, `e` a Student-t-like mix of normals; the "model" says
/// mean `sin(2x) + 0.1` and sd `(0.2 + 0.3 |x|) / 2`. Returns `(mean, sd, y)`.
fn regression_draws(m: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    noise::with_rng(|rng| {
        let (mut mean, mut sd, mut y) = (Vec::with_capacity(m), Vec::with_capacity(m), Vec::with_capacity(m));
        for _ in 0..m {
            let x: f64 = rng.random_range(-2.0..2.0);
            let scale = 0.2 + 0.3 * x.abs();
            let e: f64 = StandardNormal.sample(rng);
            let wide = if rng.random::<f64>() < 0.2 { 3.0 } else { 1.0 };
            y.push((2.0 * x).sin() + scale * wide * e);
            mean.push((2.0 * x).sin() + 0.1);
            sd.push(scale / 2.0);
        }
        (mean, sd, y)
    })
}

fn regression_coverage(n: usize, alpha: f64, normalized: bool, reps: u64) -> Vec<f64> {
    const M: usize = 100;
    (0..reps)
        .map(|seed| {
            noise::with_seed(seed, || {
                let (mean, sd, y) = regression_draws(n);
                let sd = normalized.then(|| t1(&sd));
                let conformal = SplitConformalRegressor::fit(t1(&mean), sd, t1(&y), alpha).unwrap();
                assert_eq!(
                    conformal.score(),
                    if normalized { ConformalScore::Normalized } else { ConformalScore::Absolute }
                );
                let (mean, sd, y) = regression_draws(M);
                let (lower, upper) = conformal.interval(t1(&mean), normalized.then(|| t1(&sd))).unwrap();
                let (lower, upper) = (host(lower), host(upper));
                // Bounds went through f32; compare with the f32 targets the fit would have seen.
                let inside =
                    (0..M).filter(|&i| lower[i] <= y[i] as f32 as f64 && y[i] as f32 as f64 <= upper[i]).count();
                inside as f64 / M as f64
            })
        })
        .collect()
}

#[test]
fn split_conformal_regression_covers_within_the_finite_sample_bounds() {
    // n = 25, alpha = 0.1: k = 24, E = 24 / 26 = 0.923 (an off-by-one rank: 0.885 or 0.962).
    check_coverage("normalized, n = 25", &regression_coverage(25, 0.1, true, 2000), 25, 0.1);
    check_coverage("absolute, n = 25", &regression_coverage(25, 0.1, false, 2000), 25, 0.1);
    // n = 40, alpha = 0.2: k = 33, E = 33 / 41 = 0.805 (off by one: 0.780 or 0.829).
    check_coverage("normalized, n = 40", &regression_coverage(40, 0.2, true, 1500), 40, 0.2);
}

#[test]
fn too_few_calibration_points_give_infinite_intervals() {
    // n = 5, alpha = 0.1: k = ceil(5.4) = 6 > 5.
    let conformal = SplitConformalRegressor::fit(t1(&[0.0; 5]), None, t1(&[0.1, 0.2, 0.3, 0.4, 0.5]), 0.1).unwrap();
    assert_eq!(conformal.quantiles(), &[f64::INFINITY]);
    let (lower, upper) = conformal.interval(t1(&[1.0, 2.0]), None).unwrap();
    assert!(host(lower).iter().all(|&l| l == f64::NEG_INFINITY));
    assert!(host(upper).iter().all(|&u| u == f64::INFINITY));
    // With n = 9 the rank is ceil(9) = 9 <= 9: the largest score.
    let y = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, -0.9];
    let conformal = SplitConformalRegressor::fit(t1(&[0.0; 9]), None, t1(&y), 0.1).unwrap();
    assert!((conformal.quantiles()[0] - 0.9).abs() < 1e-6);
}

#[test]
fn each_output_column_is_calibrated_on_its_own() {
    // Column 0 residuals 1..=9, column 1 residuals 10..=90: rank ceil(10 * 0.8) = 8.
    let mean = vec![0.0; 18];
    let y: Vec<f64> = (1..=9).flat_map(|i| [i as f64, 10.0 * i as f64]).collect();
    let conformal = SplitConformalRegressor::fit(t2(&mean, 9, 2), None, t2(&y, 9, 2), 0.2).unwrap();
    assert_eq!(conformal.quantiles(), &[8.0, 80.0]);
    let (lower, upper) = conformal.interval(t2(&[1.0, 2.0], 1, 2), None).unwrap();
    assert_eq!(crate::support::host(lower), vec![-7.0, -78.0]);
    assert_eq!(crate::support::host(upper), vec![9.0, 82.0]);
}

/// A synthetic multinomial model: true logits `z ~ N(0, 1.5^2 I_K)`, labels drawn from
/// `softmax(z)`; the classifier reports `softmax(sharpness z)` (over-confident for
/// `sharpness > 1`). Returns row-major probabilities and labels.
fn multinomial_draws(m: usize, k: usize, sharpness: f64) -> (Vec<f64>, Vec<usize>) {
    noise::with_rng(|rng| {
        let (mut probs, mut labels) = (Vec::with_capacity(m * k), Vec::with_capacity(m));
        for _ in 0..m {
            let z: Vec<f64> = (0..k)
                .map(|_| {
                    let e: f64 = StandardNormal.sample(rng);
                    1.5 * e
                })
                .collect();
            let softmax = |t: f64| {
                let e: Vec<f64> = z.iter().map(|v| (t * v).exp()).collect();
                let s: f64 = e.iter().sum();
                e.into_iter().map(|e| e / s).collect::<Vec<f64>>()
            };
            let truth = softmax(1.0);
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let label = truth.iter().position(|p| {
                acc += p;
                u < acc
            });
            labels.push(label.unwrap_or(k - 1));
            probs.extend(softmax(sharpness));
        }
        (probs, labels)
    })
}

fn set_coverage(config: ConformalClassifierConfig, n: usize, reps: u64) -> (Vec<f64>, f64) {
    const M: usize = 100;
    const K: usize = 6;
    let mut sizes = 0.0;
    let coverages = (0..reps)
        .map(|seed| {
            noise::with_seed(1000 + seed, || {
                let (p, y) = multinomial_draws(n, K, 2.0);
                let sets = config.fit(t2(&p, n, K), labels_tensor(&y)).unwrap();
                let (p, y) = multinomial_draws(M, K, 2.0);
                let predicted = sets.predict(t2(&p, M, K)).unwrap();
                sizes += predicted.mean_size();
                predicted.coverage(labels_tensor(&y)).unwrap()
            })
        })
        .collect();
    (coverages, sizes / reps as f64)
}

#[test]
fn aps_and_raps_sets_cover_within_the_finite_sample_bounds() {
    // n = 30, alpha = 0.1: k = 28, E = 28 / 31 = 0.903 (off by one: 0.871 or 0.935).
    let (n, alpha) = (30, 0.1);
    let raps = SetScore::Raps { lambda: 0.05, k_reg: 2 };
    let mut mean_sizes = Vec::new();
    for (name, score, randomized) in [
        ("APS randomized", SetScore::Aps, true),
        ("APS deterministic", SetScore::Aps, false),
        ("RAPS randomized", raps, true),
        ("RAPS deterministic", raps, false),
    ] {
        let config = ConformalClassifierConfig::new(alpha).with_score(score).with_randomized(randomized);
        let (coverages, mean_size) = set_coverage(config, n, 1000);
        if randomized {
            check_coverage(name, &coverages, n, alpha);
        } else {
            // Deterministic sets add the class that passes the threshold: only the lower bound.
            let (mean, se) = mean_se(&coverages);
            assert!(mean >= 1.0 - alpha - 4.0 * se, "{name}: mean coverage {mean:.4} below 1 - alpha");
        }
        mean_sizes.push((name, mean_size));
    }
    // Informative sets (K = 6), and the deterministic ones larger than the randomized ones.
    for (name, size) in &mean_sizes {
        assert!(*size > 1.0 && *size < 5.0, "{name}: mean set size {size}");
    }
    assert!(mean_sizes[1].1 > mean_sizes[0].1 && mean_sizes[3].1 > mean_sizes[2].1, "{mean_sizes:?}");
}

#[test]
fn sets_grow_with_the_model_uncertainty() {
    // APS is adaptive: a point whose probabilities are flat gets a bigger set than a
    // confident one, at the same threshold.
    noise::seed(7);
    let (p, y) = multinomial_draws(500, 4, 1.0);
    let sets =
        ConformalClassifierConfig::new(0.1).with_randomized(false).fit(t2(&p, 500, 4), labels_tensor(&y)).unwrap();
    let confident = [0.97, 0.01, 0.01, 0.01];
    let flat = [0.3, 0.25, 0.25, 0.2];
    let predicted = sets.predict(t2(&[confident, flat].concat(), 2, 4)).unwrap();
    assert!(predicted.get(0).len() < predicted.get(1).len(), "{:?}", predicted);
    assert_eq!(predicted.get(0)[0], 0);
    let mask = crate::support::host(predicted.mask(&device()).float());
    assert_eq!(mask.iter().sum::<f64>() as usize, predicted.sizes().iter().sum::<usize>());
}
