//! Reference and statistical tests of `bayesburn::metrics`, on the default (f32) flex device.
//!
//! - ECE: exactly 0 for a predictor calibrated by construction; a hand-computed small case; a
//!   randomly drawn calibrated (and a miscalibrated) predictor within 4 standard errors per bin;
//! - Brier score by hand; AUROC against a brute-force count over all (positive, negative) pairs;
//! - Gaussian CRPS against numerical integration of `(F(x) - 1{x >= y})^2`;
//! - Gaussian NLL against statrs `Normal::ln_pdf`; the MC mixture log-likelihood against a direct
//!   `ln mean exp` in f64, and finite where that direct form underflows;
//! - interval coverage of a Gaussian predictor on data drawn from it within 4 standard errors;
//! - accuracy against coverage: threshold 0, monotonicity, a hand-checked case;
//! - a typed error, naming the field and the value, for every kind of bad input.
//!
//! Inputs are built from f32 values and the oracles use those same values (widened to f64), so
//! the only differences left are f64 rounding; random draws go through `noise::with_seed`.

use crate::support::device;
use bayesburn::metrics::{self, SelectivePoint};
use bayesburn::{noise, Error};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::RngExt;
use statrs::distribution::{Continuous, ContinuousCDF, Normal};

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

fn t1(v: &[f32]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &device())
}

fn t2(v: &[f32], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [rows, cols]), &device())
}

fn ints(v: &[i64]) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &device())
}

fn bools(v: &[bool]) -> Tensor<1, Bool> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &device())
}

fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// `n` uniform draws on `[lo, hi)`, rounded to f32, from the thread's seeded source.
fn uniform_host(n: usize, lo: f64, hi: f64) -> Vec<f32> {
    noise::with_rng(|rng| (0..n).map(|_| (lo + (hi - lo) * rng.random::<f64>()) as f32).collect())
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}, |diff| = {} > {tol}", (got - want).abs());
}

/// The field and value of an `InvalidParameter`, and its message.
fn invalid<T: std::fmt::Debug>(r: Result<T, Error>) -> (&'static str, String, String) {
    match r {
        Err(e @ Error::InvalidParameter { .. }) => {
            let msg = e.to_string();
            let Error::InvalidParameter { field, value, .. } = e else { unreachable!() };
            (field, value, msg)
        }
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
}

/// The field and got-shape of a `ShapeMismatch`, and its message.
fn shape<T: std::fmt::Debug>(r: Result<T, Error>) -> (&'static str, String, String) {
    match r {
        Err(e @ Error::ShapeMismatch { .. }) => {
            let msg = e.to_string();
            let Error::ShapeMismatch { field, got, .. } = e else { unreachable!() };
            (field, got, msg)
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// calibration
// ---------------------------------------------------------------------------------------------

#[test]
fn ece_is_exactly_zero_for_a_predictor_calibrated_by_construction() {
    // Binary predictions with confidence c = m/8 (exact in f32), eight points each, of which
    // exactly m are right: every bin has accuracy == confidence.
    let (mut probs, mut labels) = (Vec::new(), Vec::new());
    for m in 4..=8 {
        let c = m as f32 / 8.0;
        for i in 0..8 {
            probs.extend([c, 1.0 - c]);
            labels.push(if i < m { 0 } else { 1 });
        }
    }
    let n = labels.len();
    let d = metrics::reliability_diagram(t2(&probs, n, 2), ints(&labels), 10).unwrap();
    assert_eq!(d.expected_calibration_error, 0.0);
    assert_eq!(d.maximum_calibration_error, 0.0);
    assert_eq!(d.bins.iter().filter(|b| b.count > 0).count(), 5);
    for b in d.bins.iter().filter(|b| b.count > 0) {
        assert_eq!(b.count, 8);
        assert_eq!(b.accuracy, b.mean_confidence);
    }
    let ece = metrics::expected_calibration_error(t2(&probs, n, 2), ints(&labels), 10).unwrap();
    assert_eq!(ece, 0.0);
}

#[test]
fn ece_mce_and_brier_match_a_hand_computation() {
    #[rustfmt::skip]
    let probs = [
        0.7, 0.2, 0.1,    // label 0: confidence 0.70, right
        0.1, 0.65, 0.25,  // label 2: confidence 0.65, wrong
        0.3, 0.25, 0.45,  // label 2: confidence 0.45, right
        0.05, 0.9, 0.05,  // label 1: confidence 0.90, right
        0.85, 0.1, 0.05,  // label 1: confidence 0.85, wrong
    ];
    let labels = [0, 2, 2, 1, 1];
    let d = metrics::reliability_diagram(t2(&probs, 5, 3), ints(&labels), 5).unwrap();
    // Bins of width 0.2: (0.4, 0.6] holds 0.45; (0.6, 0.8] holds 0.70, 0.65; (0.8, 1] 0.90, 0.85.
    assert_eq!(d.bins.iter().map(|b| b.count).collect::<Vec<_>>(), vec![0, 0, 1, 2, 2]);
    let gap_mid = (1.0f64 - 0.45).abs();
    let gap_high = (0.5f64 - (0.7 + 0.65) / 2.0).abs();
    let gap_top = (0.5f64 - (0.9 + 0.85) / 2.0).abs();
    let ece = 1.0 / 5.0 * gap_mid + 2.0 / 5.0 * gap_high + 2.0 / 5.0 * gap_top;
    // Inputs are f32: each confidence is off by < 3e-8.
    close(d.expected_calibration_error, ece, 1e-6, "ECE");
    close(d.maximum_calibration_error, gap_mid.max(gap_high).max(gap_top), 1e-6, "MCE");
    close(d.accuracy, 3.0 / 5.0, 1e-12, "accuracy");
    close(d.mean_confidence, (0.7 + 0.65 + 0.45 + 0.9 + 0.85) / 5.0, 1e-6, "mean confidence");

    let brier = ((0.7f64 - 1.0).powi(2)
        + 0.2f64.powi(2)
        + 0.1f64.powi(2)
        + 0.1f64.powi(2)
        + 0.65f64.powi(2)
        + (0.25f64 - 1.0).powi(2)
        + 0.3f64.powi(2)
        + 0.25f64.powi(2)
        + (0.45f64 - 1.0).powi(2)
        + 0.05f64.powi(2)
        + (0.9f64 - 1.0).powi(2)
        + 0.05f64.powi(2)
        + 0.85f64.powi(2)
        + (0.1f64 - 1.0).powi(2)
        + 0.05f64.powi(2))
        / 5.0;
    close(metrics::brier_score(t2(&probs, 5, 3), ints(&labels)).unwrap(), brier, 1e-6, "Brier");

    // The log score reads the true label's probability in each row: 0.7, 0.25, 0.45, 0.9, 0.1.
    let nll = -(0.7f64.ln() + 0.25f64.ln() + 0.45f64.ln() + 0.9f64.ln() + 0.1f64.ln()) / 5.0;
    close(metrics::categorical_nll(t2(&probs, 5, 3), ints(&labels)).unwrap(), nll, 1e-6, "NLL");
}

/// Draws `n` three-class predictions with top-label confidence `c ~ U(0.4, 1)` in a random
/// column, right with probability `c - shift`. Returns probs, labels, confidences and the true
/// probabilities of being right.
fn random_predictor(seed: u64, n: usize, shift: f64) -> (Vec<f32>, Vec<i64>, Vec<f64>, Vec<f64>) {
    noise::with_seed(seed, || {
        noise::with_rng(|rng| {
            let (mut probs, mut labels, mut conf, mut p_right) = (vec![], vec![], vec![], vec![]);
            for _ in 0..n {
                let c = (0.4 + 0.6 * rng.random::<f64>()) as f32;
                let j = rng.random_range(0..3usize);
                let mut row = [(1.0 - c) / 2.0; 3];
                row[j] = c;
                probs.extend(row);
                let p = c as f64 - shift;
                let right = rng.random::<f64>() < p;
                let other = (j + 1 + rng.random_range(0..2usize)) % 3;
                labels.push(if right { j } else { other } as i64);
                conf.push(c as f64);
                p_right.push(p);
            }
            (probs, labels, conf, p_right)
        })
    })
}

/// Draws a predictor whose accuracy falls short of its confidence by `shift` in every bin and
/// checks the ECE is `shift` within 4 standard errors: per bin the gap `acc_b - conf_b` has
/// mean `-shift` and standard error `sqrt(sum_i p_i (1 - p_i)) / n_b`, so
/// `|ECE - shift| <= sum_b (n_b / N) |gap_b + shift| <= 4 sum_b (n_b / N) SE_b`.
fn check_ece(seed: u64, shift: f64) -> (f64, f64) {
    let (n, bins) = (20_000, 10);
    let (probs, labels, conf, p_right) = random_predictor(seed, n, shift);
    let d = metrics::reliability_diagram(t2(&probs, n, 3), ints(&labels), bins).unwrap();
    let mut var_sum = vec![0.0f64; bins];
    let mut count = vec![0usize; bins];
    for (c, p) in conf.iter().zip(&p_right) {
        let b = ((c * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        var_sum[b] += p * (1.0 - p);
        count[b] += 1;
    }
    assert_eq!(d.bins.iter().map(|b| b.count).collect::<Vec<_>>(), count);
    let mut bound = 0.0;
    for (b, bin) in d.bins.iter().enumerate().filter(|(_, b)| b.count > 0) {
        let se = var_sum[b].sqrt() / count[b] as f64;
        let gap = bin.gap().unwrap();
        assert!((gap + shift).abs() <= 4.0 * se, "bin {b}: gap {gap}, shift {shift}, se {se}");
        bound += 4.0 * count[b] as f64 / n as f64 * se;
    }
    let ece = d.expected_calibration_error;
    close(ece, shift, bound, "ECE of a randomly drawn predictor");
    (ece, bound)
}

#[test]
fn ece_of_a_calibrated_random_predictor_is_zero_within_monte_carlo_error() {
    check_ece(1, 0.0);
}

#[test]
fn ece_detects_an_overconfident_predictor() {
    let (ece, bound) = check_ece(2, 0.1);
    // The same tolerance would not pass a calibrated predictor off as this one.
    assert!(ece > bound, "ece {ece}, bound {bound}");
}

// ---------------------------------------------------------------------------------------------
// AUROC
// ---------------------------------------------------------------------------------------------

fn brute_force_auroc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut wins = 0.0;
    for p in pos {
        for q in neg {
            wins += if p > q {
                1.0
            } else if p == q {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

#[test]
fn auroc_matches_a_brute_force_pair_count_with_ties() {
    for seed in 0..5 {
        let (scores, positive): (Vec<f32>, Vec<bool>) = noise::with_seed(seed, || {
            noise::with_rng(|rng| {
                // Few distinct values, so ties are frequent.
                (0..90)
                    .map(|i| (rng.random_range(0..6u32) as f32 / 2.0, i % 3 == 0 || rng.random::<f64>() < 0.3))
                    .unzip()
            })
        });
        let pos: Vec<f64> = scores.iter().zip(&positive).filter(|(_, p)| **p).map(|(s, _)| *s as f64).collect();
        let neg: Vec<f64> = scores.iter().zip(&positive).filter(|(_, p)| !**p).map(|(s, _)| *s as f64).collect();
        let want = brute_force_auroc(&pos, &neg);
        close(metrics::auroc(t1(&scores), bools(&positive)).unwrap(), want, 1e-12, "auroc");
        let (pos32, neg32): (Vec<f32>, Vec<f32>) =
            (pos.iter().map(|&x| x as f32).collect(), neg.iter().map(|&x| x as f32).collect());
        close(metrics::ood_auroc(t1(&neg32), t1(&pos32)).unwrap(), want, 1e-12, "ood_auroc");
    }
}

#[test]
fn auroc_is_one_when_separated_and_one_half_when_symmetric() {
    let in_dist = uniform_host(50, 0.0, 1.0);
    let out_dist = uniform_host(30, 1.5, 3.0);
    assert_eq!(metrics::ood_auroc(t1(&in_dist), t1(&out_dist)).unwrap(), 1.0);
    assert_eq!(metrics::ood_auroc(t1(&out_dist), t1(&in_dist)).unwrap(), 0.0);
    // The same multiset of scores (with ties) on both sides: P(X > Y) = P(Y > X), so 1/2.
    let same = [0.5f32, 0.5, 1.0, 2.0, 2.0, 2.0, 3.5];
    assert_eq!(metrics::ood_auroc(t1(&same), t1(&same)).unwrap(), 0.5);
    let scores: Vec<f32> = same.iter().chain(&same).copied().collect();
    let positive: Vec<bool> = (0..scores.len()).map(|i| i < same.len()).collect();
    assert_eq!(metrics::auroc(t1(&scores), bools(&positive)).unwrap(), 0.5);
}

// ---------------------------------------------------------------------------------------------
// regression scores
// ---------------------------------------------------------------------------------------------

/// `int (F(x) - 1{x >= y})^2 dx` by the midpoint rule with step `h`, split at `y`, over
/// `[mu - 12 sd, mu + 12 sd]` widened to hold `y`; also returns the midpoint-rule error bound
/// `L h^2 max|f''| / 24` with `|f''| <= 2 phi^2 + 2 |phi'| <= 1 / sd^2`.
fn crps_by_quadrature(mu: f64, sd: f64, y: f64) -> (f64, f64) {
    let normal = Normal::new(mu, sd).unwrap();
    let h = sd / 2000.0;
    let (lo, hi) = ((mu - 12.0 * sd).min(y), (mu + 12.0 * sd).max(y));
    let midpoint = |a: f64, b: f64, step: f64| {
        let n = ((b - a) / h).ceil().max(1.0) as usize;
        let w = (b - a) / n as f64;
        (0..n).map(|i| step_fn(normal.cdf(a + (i as f64 + 0.5) * w), step)).sum::<f64>() * w
    };
    fn step_fn(f: f64, step: f64) -> f64 {
        (f - step).powi(2)
    }
    let value = midpoint(lo, y, 0.0) + midpoint(y, hi, 1.0);
    let bound = (hi - lo) * h * h / (24.0 * sd * sd) + 1e-12;
    (value, bound)
}

#[test]
fn gaussian_crps_matches_numerical_integration() {
    let mu = [0.0f32, 0.5, -3.0, 1.0, 2.0];
    let sd = [1.0f32, 2.0, 0.25, 1.5, 0.5];
    let y = [0.0f32, -1.25, -2.5, 9.0, 2.125];
    let mut sum = 0.0;
    for i in 0..mu.len() {
        let (want, tol) = crps_by_quadrature(mu[i] as f64, sd[i] as f64, y[i] as f64);
        let got = metrics::gaussian_crps(t1(&mu[i..=i]), t1(&y[i..=i]), t1(&sd[i..=i])).unwrap();
        close(got, want, tol, &format!("CRPS case {i}"));
        sum += want;
    }
    // The mean over points, also through a [N, 1] shape.
    let n = mu.len();
    let got = metrics::gaussian_crps(t2(&mu, n, 1), t2(&y, n, 1), t2(&sd, n, 1)).unwrap();
    close(got, sum / n as f64, 1e-6, "mean CRPS");
}

#[test]
fn gaussian_nll_matches_statrs_and_rmse_matches_hand_arithmetic() {
    let (n, d) = (20, 3);
    let (mu, var, y) = noise::with_seed(5, || {
        (uniform_host(n * d, -2.0, 2.0), uniform_host(n * d, 0.05, 3.0), uniform_host(n * d, -3.0, 3.0))
    });
    let want = -(0..n * d)
        .map(|i| Normal::new(mu[i] as f64, (var[i] as f64).sqrt()).unwrap().ln_pdf(y[i] as f64))
        .sum::<f64>()
        / (n * d) as f64;
    let got = metrics::gaussian_nll(t2(&mu, n, d), t2(&y, n, d), t2(&var, n, d)).unwrap();
    close(got, want, 1e-10 * want.abs().max(1.0), "Gaussian NLL");

    let rmse = metrics::rmse(t1(&[1.0, 2.0, 3.0]), t1(&[1.0, 4.0, 0.0])).unwrap();
    close(rmse, ((0.0 + 4.0 + 9.0) / 3.0f64).sqrt(), 1e-12, "RMSE");
}

/// `mean_n ln( (1/S) sum_s N(y_n; mu_sn, var_sn) )`, exponentiating directly.
fn naive_mixture_ll(mu: &[f64], var: &[f64], y: &[f64]) -> f64 {
    let (s, n) = (mu.len() / y.len(), y.len());
    (0..n)
        .map(|j| {
            let mean_density = (0..s)
                .map(|i| Normal::new(mu[i * n + j], var[i * n + j].sqrt()).unwrap().ln_pdf(y[j]).exp())
                .sum::<f64>()
                / s as f64;
            mean_density.ln()
        })
        .sum::<f64>()
        / n as f64
}

#[test]
fn mc_log_likelihood_matches_a_direct_mixture_density() {
    let (s, n, tau) = (7, 11, 2.5f64);
    let (mu, y, var) = noise::with_seed(9, || {
        (uniform_host(s * n, -1.0, 1.0), uniform_host(n, -1.5, 1.5), uniform_host(s * n, 0.2, 2.0))
    });
    let want = naive_mixture_ll(&wide(&mu), &vec![1.0 / tau; s * n], &wide(&y));
    let got = metrics::mc_log_likelihood(t2(&mu, s, n), t1(&y), tau).unwrap();
    close(got, want, 1e-10, "MC log-likelihood, fixed tau");

    let want = naive_mixture_ll(&wide(&mu), &wide(&var), &wide(&y));
    let got = metrics::mc_log_likelihood_with_variances(t2(&mu, s, n), t1(&y), t2(&var, s, n)).unwrap();
    close(got, want, 1e-10, "MC log-likelihood, per-sample variances");

    // var = 1 / tau everywhere reproduces the fixed-precision form (tau = 4 is exact in f32).
    let quarter = vec![0.25f32; s * n];
    let a = metrics::mc_log_likelihood(t2(&mu, s, n), t1(&y), 4.0).unwrap();
    let b = metrics::mc_log_likelihood_with_variances(t2(&mu, s, n), t1(&y), t2(&quarter, s, n)).unwrap();
    close(a, b, 1e-12, "fixed tau vs constant variances");
}

#[test]
fn mc_log_likelihood_stays_finite_where_the_direct_form_underflows() {
    // Sampled means 60..64 sd away from the target: every density is below exp(-1800).
    let mu = [60.0f32, 61.0, 62.0, 63.0, 64.0];
    let y = [0.0f32];
    let ln_pdf: Vec<f64> = mu.iter().map(|&m| Normal::new(m as f64, 1.0).unwrap().ln_pdf(0.0)).collect();
    let naive = naive_mixture_ll(&wide(&mu), &[1.0; 5], &[0.0]);
    assert_eq!(naive, f64::NEG_INFINITY, "the direct form should underflow here");
    let got = metrics::mc_log_likelihood(t2(&mu, 5, 1), t1(&y), 1.0).unwrap();
    assert!(got.is_finite());
    // (1/S) max_s p_s <= mean_s p_s <= max_s p_s.
    let max = ln_pdf.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(got >= max - 5f64.ln() - 1e-9 && got <= max + 1e-9, "{got} vs max ln p {max}");
    // Identical samples: the mixture is that one Gaussian.
    let same = [60.0f32; 5];
    let got = metrics::mc_log_likelihood(t2(&same, 5, 1), t1(&y), 1.0).unwrap();
    close(got, ln_pdf[0], 1e-9 * ln_pdf[0].abs(), "identical samples");
}

// ---------------------------------------------------------------------------------------------
// intervals
// ---------------------------------------------------------------------------------------------

#[test]
fn gaussian_interval_coverage_is_the_level_on_data_from_the_predictive() {
    let n = 20_000;
    let (mean, sd, eps) = noise::with_seed(13, || {
        let mean = uniform_host(n, -5.0, 5.0);
        let sd = uniform_host(n, 0.5, 2.0);
        let eps = noise::normal([n], &device());
        (mean, sd, eps)
    });
    let y = t1(&mean) + t1(&sd) * eps;
    let mean_sd = wide(&sd).iter().sum::<f64>() / n as f64;
    for level in [0.5, 0.9, 0.95] {
        let r = metrics::gaussian_interval_coverage(t1(&mean), y.clone(), t1(&sd), level).unwrap();
        let se = (level * (1.0 - level) / n as f64).sqrt();
        close(r.coverage, level, 4.0 * se, &format!("coverage at level {level}"));
        let z = Normal::standard().inverse_cdf(0.5 + level / 2.0);
        close(r.mean_width, 2.0 * z * mean_sd, 1e-9, "mean width");
        assert_eq!(r.count, n);
    }
}

#[test]
fn explicit_interval_coverage_counts_bounds_as_inside() {
    let lower = t1(&[0.0, 0.0, 0.0, 0.0]);
    let upper = t1(&[1.0, 2.0, 1.0, 1.0]);
    // 0.5 inside, 2.0 on the upper bound (inside), 1.5 above, -0.1 below.
    let r = metrics::interval_coverage((lower, upper), t1(&[0.5, 2.0, 1.5, -0.1])).unwrap();
    assert_eq!(r.coverage, 2.0 / 4.0);
    assert_eq!(r.mean_width, (1.0 + 2.0 + 1.0 + 1.0) / 4.0);
    assert_eq!(r.count, 4);
}

// ---------------------------------------------------------------------------------------------
// accuracy against coverage
// ---------------------------------------------------------------------------------------------

#[test]
fn accuracy_coverage_starts_at_plain_accuracy_and_coverage_never_grows() {
    let n = 2_000;
    let (probs, labels, _, _) = random_predictor(21, n, 0.0);
    let accuracy = probs
        .chunks(3)
        .zip(&labels)
        .filter(|(row, &l)| {
            let arg = (0..3).fold(0, |a, j| if row[j] > row[a] { j } else { a });
            arg as i64 == l
        })
        .count() as f64
        / n as f64;
    let (confidence, correct) = metrics::confidence_and_correct(t2(&probs, n, 3), ints(&labels)).unwrap();
    let thresholds: Vec<f64> = (0..=20).map(|i| i as f64 / 20.0).collect();
    let curve = metrics::accuracy_coverage(confidence.clone(), correct.clone(), &thresholds).unwrap();
    assert_eq!(curve[0].coverage, 1.0);
    close(curve[0].accuracy.unwrap(), accuracy, 1e-12, "accuracy at threshold 0");
    for w in curve.windows(2) {
        assert!(w[1].coverage <= w[0].coverage, "{:?} then {:?}", w[0], w[1]);
    }
    // The predictor is calibrated, so refusing its least confident points raises accuracy:
    // among c >= 0.8 the expected accuracy is 0.9, against 0.7 overall (4 SE of that difference is about 0.06 at these n).
    let at = |t: f64| curve[thresholds.iter().position(|&x| x == t).unwrap()];
    assert!(at(0.8).accuracy.unwrap() > curve[0].accuracy.unwrap() + 0.1);
    // The full curve ends by keeping everything, with coverage rising along it.
    let full = metrics::accuracy_coverage_curve(confidence, correct).unwrap();
    assert_eq!(full.last().unwrap().coverage, 1.0);
    assert!(full.windows(2).all(|w| w[0].coverage < w[1].coverage && w[0].threshold > w[1].threshold));
}

#[test]
fn accuracy_coverage_matches_a_hand_checked_case() {
    let confidence = t1(&[0.9, 0.6, 0.8, 0.55, 0.7]);
    let correct = bools(&[true, false, true, false, false]);
    let curve =
        metrics::accuracy_coverage(confidence.clone(), correct.clone(), &[0.0, 0.58, 0.65, 0.75, 0.85, 0.95]).unwrap();
    let kept: Vec<usize> = curve.iter().map(|p| p.kept).collect();
    assert_eq!(kept, vec![5, 4, 3, 2, 1, 0]);
    let acc: Vec<Option<f64>> = curve.iter().map(|p| p.accuracy).collect();
    assert_eq!(acc, vec![Some(2.0 / 5.0), Some(2.0 / 4.0), Some(2.0 / 3.0), Some(1.0), Some(1.0), None]);
    assert_eq!(curve[1].coverage, 4.0 / 5.0);

    let full: Vec<SelectivePoint> = metrics::accuracy_coverage_curve(confidence, correct).unwrap();
    let kept: Vec<usize> = full.iter().map(|p| p.kept).collect();
    assert_eq!(kept, vec![1, 2, 3, 4, 5]);
    let acc: Vec<f64> = full.iter().map(|p| p.accuracy.unwrap()).collect();
    assert_eq!(acc, vec![1.0, 1.0, 2.0 / 3.0, 2.0 / 4.0, 2.0 / 5.0]);
}

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

#[test]
fn shape_errors_name_the_field_and_shape() {
    let (field, got, msg) = shape(metrics::rmse(t1(&[1.0, 2.0, 3.0]), t1(&[1.0; 4])));
    assert_eq!((field, got.as_str()), ("targets", "[4]"));
    assert!(msg.contains("[3] (the shape of predictions)"), "{msg}");

    let (field, got, _) = shape(metrics::rmse(t1(&[]), t1(&[])));
    assert_eq!((field, got.as_str()), ("predictions", "[0]"));

    let (field, got, _) = shape(metrics::gaussian_nll(t1(&[0.0; 3]), t1(&[0.0; 3]), t1(&[1.0; 2])));
    assert_eq!((field, got.as_str()), ("var", "[2]"));

    let (field, got, _) = shape(metrics::mc_log_likelihood(t2(&[0.0; 6], 2, 3), t1(&[0.0; 2]), 1.0));
    assert_eq!((field, got.as_str()), ("targets", "[2]"));

    let (field, got, msg) = shape(metrics::brier_score(t2(&[0.5; 4], 2, 2), ints(&[0, 1, 1])));
    assert_eq!((field, got.as_str()), ("labels", "[3]"));
    assert!(msg.contains("[2] (one label per row of probs)"), "{msg}");

    let (field, _, _) = shape(metrics::ood_auroc(t1(&[1.0]), t1(&[])));
    assert_eq!(field, "out_of_distribution");

    let (field, _, _) = shape(metrics::accuracy_coverage(t1(&[0.5, 0.6]), bools(&[true]), &[0.0]));
    assert_eq!(field, "correct");
}

#[test]
fn non_finite_entries_are_named_with_their_first_index() {
    let (field, value, msg) = invalid(metrics::rmse(t1(&[1.0, 2.0, 3.0]), t1(&[1.0, f32::NAN, f32::NAN])));
    assert_eq!((field, value.as_str()), ("targets", "NaN at index [1]"));
    assert!(msg.contains("targets must be finite"), "{msg}");

    let (field, value, _) = invalid(metrics::gaussian_crps(
        t2(&[0.0, 0.0, 0.0, f32::INFINITY], 2, 2),
        t2(&[0.0; 4], 2, 2),
        t2(&[1.0; 4], 2, 2),
    ));
    assert_eq!((field, value.as_str()), ("mean", "inf at index [1, 1]"));

    let (field, value, _) = invalid(metrics::ood_auroc(t1(&[0.0, f32::NEG_INFINITY]), t1(&[1.0])));
    assert_eq!((field, value.as_str()), ("in_distribution", "-inf at index [1]"));

    let (field, value, _) = invalid(metrics::brier_score(t2(&[0.5, 0.5, f32::NAN, 0.5], 2, 2), ints(&[0, 1])));
    assert_eq!((field, value.as_str()), ("probs", "NaN at index [1, 0]"));
}

#[test]
fn non_positive_scales_are_rejected() {
    let zeros = || t1(&[0.0, 0.0, 0.0]);
    let (field, value, msg) = invalid(metrics::gaussian_nll(zeros(), zeros(), t1(&[1.0, 0.0, 2.0])));
    assert_eq!((field, value.as_str()), ("var", "0 at index [1]"));
    assert!(msg.contains("var must be > 0"), "{msg}");

    let (field, value, _) = invalid(metrics::gaussian_crps(zeros(), zeros(), t1(&[1.0, 1.0, -1.0])));
    assert_eq!((field, value.as_str()), ("sd", "-1 at index [2]"));

    let (field, value, _) = invalid(metrics::gaussian_interval_coverage(zeros(), zeros(), t1(&[0.0, 1.0, 1.0]), 0.9));
    assert_eq!((field, value.as_str()), ("sd", "0 at index [0]"));

    let (field, value, _) = invalid(metrics::mc_log_likelihood_with_variances(
        t2(&[0.0; 4], 2, 2),
        t1(&[0.0; 2]),
        t2(&[1.0, 1.0, 1.0, -0.5], 2, 2),
    ));
    assert_eq!((field, value.as_str()), ("sample_vars", "-0.5 at index [1, 1]"));

    for tau in [0.0, -1.0, f64::NAN] {
        let (field, value, _) = invalid(metrics::mc_log_likelihood(t2(&[0.0; 2], 1, 2), t1(&[0.0; 2]), tau));
        assert_eq!((field, value), ("tau", tau.to_string()));
    }
}

#[test]
fn probabilities_and_labels_are_checked() {
    let (field, value, msg) = invalid(metrics::brier_score(t2(&[0.25, 0.75, 0.5, 0.75], 2, 2), ints(&[0, 1])));
    assert_eq!((field, value.as_str()), ("probs", "row 1 summing to 1.25"));
    assert!(msg.contains("rows sum to 1"), "{msg}");

    // Logits: out of [0, 1] even when a row happens to sum to 1.
    let (field, value, _) = invalid(metrics::expected_calibration_error(t2(&[2.0, -1.0], 1, 2), ints(&[0]), 10));
    assert_eq!((field, value.as_str()), ("probs", "2 at index [0, 0]"));

    let (field, value, msg) = invalid(metrics::reliability_diagram(t2(&[0.5; 6], 3, 2), ints(&[0, 2, 1]), 10));
    assert_eq!((field, value.as_str()), ("labels", "2 at index [1] (with K = 2 classes)"));
    assert!(msg.contains("0..K"), "{msg}");

    let (field, value, _) = invalid(metrics::confidence_and_correct(t2(&[0.5; 4], 2, 2), ints(&[0, -1])));
    assert_eq!((field, value.as_str()), ("labels", "-1 at index [1] (with K = 2 classes)"));
}

#[test]
fn invalid_levels_bins_bounds_thresholds_and_classes_are_rejected() {
    let z = || t1(&[0.0, 0.0]);
    for level in [0.0, 1.0, 1.5, f64::NAN] {
        let (field, value, msg) = invalid(metrics::gaussian_interval_coverage(z(), z(), t1(&[1.0, 1.0]), level));
        assert_eq!((field, value), ("level", level.to_string()));
        assert!(msg.contains("level must be in (0, 1)"), "{msg}");
    }

    let (field, value, _) = invalid(metrics::reliability_diagram(t2(&[0.5; 2], 1, 2), ints(&[0]), 0));
    assert_eq!((field, value.as_str()), ("bins", "0"));

    let (field, value, msg) = invalid(metrics::interval_coverage((t1(&[0.0, 1.0]), t1(&[1.0, 0.5])), z()));
    assert_eq!((field, value.as_str()), ("upper", "0.5 below lower = 1 at index [1]"));
    assert!(msg.contains("(lower, upper)"), "{msg}");

    let (field, value, _) = invalid(metrics::accuracy_coverage(z(), bools(&[true, false]), &[0.5, f64::NAN]));
    assert_eq!((field, value.as_str()), ("thresholds", "NaN at index [1]"));

    let (field, value, msg) = invalid(metrics::auroc(z(), bools(&[false, false])));
    assert_eq!((field, value.as_str()), ("positive", "0 positives and 2 negatives"));
    assert!(msg.contains("at least one positive and one negative"), "{msg}");
}
