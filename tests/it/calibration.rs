//! Statistical tests of `bayesburn::calibration`: temperature and vector scaling, refusal
//! thresholds, and the typed errors of the module (coverage of the conformal methods is in
//! `conformal.rs`).
//!
//! - Temperature scaling is the maximum-likelihood estimate of `beta = 1 / T` in a correctly
//!   specified model when the logits are `T0 z` and the labels are drawn from `softmax(z)`, so
//!   the estimate is within 4 standard errors of `1 / T0`, the standard error
//!   `1 / sqrt(I(beta0))` from the Fisher information `I = sum_n Var_{p_n}[l_n]` (computed here in
//!   f64 from the logits the fit sees).
//! - Vector scaling, with logits `(z - b) / w`, recovers `(w, b)` in the likelihood-ratio sense:
//!   `0 <= 2 N (NLL(w, b) - NLL(fit)) <= chi2_{2K-1}(0.9999)` (Wilks; the biases lose one
//!   degree of freedom to the softmax's shift invariance), and its NLL is at most temperature
//!   scaling's (vector scaling contains it).
//! - Refusal thresholds at quantile `q` of the `n_c` correctly classified validation points of
//!   a class are the order statistic `X_(j)`, `j = (n_c - 1) q + 1`, when `j` is an integer
//!   (`n_c = 21`, `q = 0.1`: `j = 3`), and a fresh correctly classified point of the class falls
//!   below it with probability `E F(X_(j)) = j / (n_c + 1)` (order statistics of a continuous
//!   distribution); checked within 4 SE over seeds, with misclassified points in the
//!   validation set that must not count.

use crate::support::device;
use bayesburn::calibration::{
    ConformalClassifierConfig, RefusalThresholds, SetScore, SplitConformalRegressor, TemperatureScaling, VectorScaling,
};
use bayesburn::{metrics, noise, Error};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::TensorData;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use statrs::distribution::{ChiSquared, ContinuousCDF};

fn t1(v: &[f64]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [v.len()]), &device())
}

fn t2(v: &[f64], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [rows, cols]), &device())
}

fn labels_tensor(v: &[usize]) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.iter().map(|&l| l as i64).collect::<Vec<_>>(), [v.len()]), &device())
}

/// Rounds to f32 and back, as a tensor built by [`t2`] holds the values.
fn as_f32(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| x as f32 as f64).collect()
}

fn softmax_row(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|e| e / s).collect()
}

/// `n` true logit rows `z ~ N(0, scale^2 I_k)` and labels drawn from `softmax(z)`.
fn true_logits(n: usize, k: usize, scale: f64) -> (Vec<f64>, Vec<usize>) {
    noise::with_rng(|rng| {
        let mut z = Vec::with_capacity(n * k);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f64> = (0..k)
                .map(|_| {
                    let e: f64 = StandardNormal.sample(rng);
                    scale * e
                })
                .collect();
            let p = softmax_row(&row);
            let u: f64 = rng.random();
            let mut acc = 0.0;
            labels.push(
                p.iter()
                    .position(|p| {
                        acc += p;
                        u < acc
                    })
                    .unwrap_or(k - 1),
            );
            z.extend(row);
        }
        (z, labels)
    })
}

/// Mean NLL of `labels` under `softmax(w ⊙ l + b)`, in f64.
fn nll(l: &[f64], labels: &[usize], k: usize, w: &[f64], b: &[f64]) -> f64 {
    let total: f64 = l
        .chunks(k)
        .zip(labels)
        .map(|(row, &y)| {
            let u: Vec<f64> = (0..k).map(|j| w[j] * row[j] + b[j]).collect();
            -softmax_row(&u)[y].ln()
        })
        .sum();
    total / labels.len() as f64
}

#[test]
fn temperature_scaling_recovers_a_known_temperature_within_its_standard_error() {
    let (n, k) = (4000, 5);
    for (seed, t0) in [(1u64, 2.5), (2, 0.5)] {
        let (z, labels) = noise::with_seed(seed, || true_logits(n, k, 1.5));
        // Logits of a model that is over- (T0 > 1) or under-confident (T0 < 1).
        let l = as_f32(&z.iter().map(|v| t0 * v).collect::<Vec<_>>());
        let fit = TemperatureScaling::fit(t2(&l, n, k), labels_tensor(&labels)).unwrap();
        // Fisher information of beta at the truth: sum_n Var_{softmax(beta0 l_n)}[l_n].
        let beta0 = 1.0 / t0;
        let information: f64 = l
            .chunks(k)
            .map(|row| {
                let p = softmax_row(&row.iter().map(|v| beta0 * v).collect::<Vec<_>>());
                let mean: f64 = p.iter().zip(row).map(|(p, v)| p * v).sum();
                p.iter().zip(row).map(|(p, v)| p * (v - mean).powi(2)).sum::<f64>()
            })
            .sum();
        let se = 1.0 / information.sqrt();
        let beta = 1.0 / fit.temperature();
        assert!(
            (beta - beta0).abs() <= 4.0 * se,
            "T0 = {t0}: fitted 1/T = {beta:.5}, true {beta0:.5}, |diff| > 4 SE = {:.5}",
            4.0 * se
        );
        // The fit is the NLL's minimum: the derivative in beta vanishes there.
        let rise = |b: f64| nll(&l, &labels, k, &[b; 5], &[0.0; 5]) - nll(&l, &labels, k, &[beta; 5], &[0.0; 5]);
        assert!(rise(beta * (1.0 + 1e-3)) > 0.0 && rise(beta * (1.0 - 1e-3)) > 0.0, "T0 = {t0}: not a minimum");
        // The same temperature from the probabilities (their logs are the logits up to a shift).
        let probs = softmax(t2(&l, n, k), 1);
        let from_probs = TemperatureScaling::fit_probs(probs.clone(), labels_tensor(&labels)).unwrap();
        let relative = (from_probs.temperature() / fit.temperature() - 1.0).abs();
        assert!(
            relative < 1e-4,
            "T0 = {t0}: fit_probs gives {} against {}",
            from_probs.temperature(),
            fit.temperature()
        );
        let rescaled = crate::support::host(from_probs.rescale_probs(probs));
        let direct = crate::support::host(fit.probs(t2(&l, n, k)));
        assert!(rescaled.iter().zip(&direct).all(|(a, b)| (a - b).abs() < 1e-4));
    }
}

#[test]
fn temperature_scaling_lowers_the_ece_of_an_over_confident_model() {
    let (n, k) = (3000, 4);
    let (z, labels) = noise::with_seed(3, || true_logits(2 * n, k, 1.0));
    let l = as_f32(&z.iter().map(|v| 3.0 * v).collect::<Vec<_>>());
    let (validation, test) = l.split_at(n * k);
    let fit = TemperatureScaling::fit(t2(validation, n, k), labels_tensor(&labels[..n])).unwrap();
    let test_labels = labels_tensor(&labels[n..]);
    let bins = metrics::DEFAULT_CALIBRATION_BINS;
    let before = metrics::expected_calibration_error(softmax(t2(test, n, k), 1), test_labels.clone(), bins).unwrap();
    let after = metrics::expected_calibration_error(fit.probs(t2(test, n, k)), test_labels, bins).unwrap();
    // Before: confidences ~3x too sharp, ECE ~0.2; after: the finite-sample ECE of a
    // calibrated model, a few hundredths at N = 3000.
    assert!(before > 0.1 && after < 0.04, "ECE before {before:.4}, after {after:.4}");
}

#[test]
fn vector_scaling_recovers_weights_and_biases_in_the_likelihood_ratio_sense() {
    let (n, k) = (3000, 4);
    let (w, b) = ([1.5, 0.8, 1.2, 0.6], [0.3, -0.2, 0.0, 0.5]);
    let (z, labels) = noise::with_seed(4, || true_logits(n, k, 1.5));
    // Logits l with w ⊙ l + b = z: what a miscalibrated model might report.
    let l = as_f32(&z.chunks(k).flat_map(|row| (0..k).map(|j| (row[j] - b[j]) / w[j])).collect::<Vec<_>>());
    let fit = VectorScaling::fit(t2(&l, n, k), labels_tensor(&labels)).unwrap();
    let at_truth = nll(&l, &labels, k, &w, &b);
    let at_fit = nll(&l, &labels, k, fit.weights(), fit.biases());
    let statistic = 2.0 * n as f64 * (at_truth - at_fit);
    let bound = ChiSquared::new((2 * k - 1) as f64).unwrap().inverse_cdf(0.9999);
    assert!(statistic >= -1e-6, "the fit's NLL {at_fit} is above the truth's {at_truth}: not the maximum");
    assert!(statistic <= bound, "2N (NLL_truth - NLL_fit) = {statistic:.2} > chi2_7(0.9999) = {bound:.2}");
    assert!(fit.biases().iter().sum::<f64>().abs() < 1e-9, "biases are centred");
    // Vector scaling contains temperature scaling (w = 1/T, b = 0), so it fits at least as well.
    let t = TemperatureScaling::fit(t2(&l, n, k), labels_tensor(&labels)).unwrap().temperature();
    assert!(at_fit <= nll(&l, &labels, k, &[1.0 / t; 4], &[0.0; 4]) + 1e-12);
    // apply() is w ⊙ l + b on the device.
    let scaled = crate::support::host(fit.apply(t2(&l[..2 * k], 2, k)).unwrap());
    for (i, got) in scaled.iter().enumerate() {
        let want = fit.weights()[i % k] * l[i] + fit.biases()[i % k];
        assert!((got - want).abs() < 1e-5, "apply at {i}: {got} against {want}");
    }
}

/// The share of fresh, correctly classified points whose probability of their class is below
/// the class's threshold, pooled over classes, per seed.
#[test]
fn refusal_thresholds_refuse_the_expected_share_of_each_class() {
    let (n_c, k, q, reps) = (21usize, 3usize, 0.1, 1500u64);
    let argmax = |row: &[f64]| (0..row.len()).fold(0, |b, j| if row[j] > row[b] { j } else { b });
    let mut shares = Vec::new();
    let mut gains = Vec::new();
    for seed in 0..reps {
        noise::with_seed(10_000 + seed, || {
            // Probabilities softmax(z) of the true logits, labels drawn from them. The validation
            // set keeps every misclassified point and the first n_c correct ones of each class
            // (so those are iid given class and correctness, like the fresh ones).
            let draw = |m: usize| {
                let (mut p, mut y) = (Vec::new(), Vec::new());
                let mut counts = vec![0; k];
                while counts.iter().any(|&c| c < m) {
                    let (z, l) = true_logits(1, k, 2.0);
                    let row = as_f32(&softmax_row(&z));
                    let correct = argmax(&row) == l[0];
                    if !correct || counts[l[0]] < m {
                        counts[l[0]] += usize::from(correct);
                        p.extend(row);
                        y.push(l[0]);
                    }
                }
                (p, y)
            };
            let (p, y) = draw(n_c);
            let refusal = RefusalThresholds::fit(t2(&p, y.len(), k), labels_tensor(&y), q).unwrap();
            let (p, y) = draw(40);
            let (below, correct) =
                p.chunks(k).zip(&y).filter(|(row, &c)| argmax(row) == c).fold((0, 0), |(below, correct), (row, &c)| {
                    (below + usize::from(row[c] < refusal.thresholds()[c]), correct + 1)
                });
            shares.push(below as f64 / correct as f64);
            let report = refusal.evaluate(t2(&p, y.len(), k), labels_tensor(&y)).unwrap();
            if let Some(after) = report.accuracy_after {
                gains.push(after - report.accuracy_before);
            }
        });
    }
    let n = shares.len() as f64;
    let mean = shares.iter().sum::<f64>() / n;
    let se = (shares.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
    let expected = ((n_c - 1) as f64 * q + 1.0) / (n_c + 1) as f64; // 3 / 22
    println!("refused share of correct points {mean:.4} ± {se:.4}, expected {expected:.4}");
    assert!(
        (mean - expected).abs() <= 4.0 * se,
        "refused share {mean:.4}, expected {expected:.4} ± 4 SE {:.4}",
        4.0 * se
    );
    // Refusing the least sure points raises the accuracy of the rest, on average.
    let gain = gains.iter().sum::<f64>() / gains.len() as f64;
    assert!(gain > 0.0, "mean accuracy gain {gain}");
}

#[test]
fn refusal_reports_count_what_happened() {
    let probs = [0.9, 0.1, 0.6, 0.4, 0.3, 0.7, 0.45, 0.55, 0.2, 0.8];
    let labels = [0, 1, 1, 0, 1];
    // Correctly classified: rows 0 (class 0, p 0.9), 2 and 4 (class 1, p 0.7, 0.8); rows 1 and
    // 3 are wrong and do not count. Thresholds: 0.9 and the median 0.75.
    let refusal = RefusalThresholds::fit(t2(&probs, 5, 2), labels_tensor(&labels), 0.5).unwrap();
    assert!((refusal.thresholds()[0] - 0.9).abs() < 1e-6 && (refusal.thresholds()[1] - 0.75).abs() < 1e-6);
    assert_eq!(refusal.apply(t2(&probs, 5, 2)).unwrap(), vec![Some(0), None, None, None, Some(1)]);
    let report = refusal.evaluate(t2(&probs, 5, 2), labels_tensor(&labels)).unwrap();
    assert_eq!((report.count, report.refused, report.refused_per_class.clone()), (5, 3, vec![1, 2]));
    assert_eq!(report.accuracy_before, 3.0 / 5.0); // rows 0, 2, 4 right
    assert_eq!(report.accuracy_after, Some(1.0));
    assert_eq!(report.accuracy_refused, Some(1.0 / 3.0));
    // From predictive samples: thresholds of the mean over S (per-sample rows need not be
    // the data's; their mean is).
    let samples: Vec<f64> = probs.iter().map(|p| p + 0.05).chain(probs.iter().map(|p| p - 0.05)).collect();
    let samples = Tensor::<3>::from_data(
        TensorData::new(samples.iter().map(|&x| x as f32).collect::<Vec<_>>(), [2, 5, 2]),
        &device(),
    );
    let from_samples = RefusalThresholds::fit_samples(samples, labels_tensor(&labels), 0.5).unwrap();
    for (a, b) in from_samples.thresholds().iter().zip(refusal.thresholds()) {
        assert!((a - b).abs() < 1e-6, "{a} against {b}");
    }
}

/// The field of an `InvalidParameter` or `ShapeMismatch`, and its message.
fn field<T: std::fmt::Debug>(r: Result<T, Error>) -> (&'static str, String) {
    match r {
        Err(e @ (Error::InvalidParameter { .. } | Error::ShapeMismatch { .. })) => {
            let msg = e.to_string();
            match e {
                Error::InvalidParameter { field, .. } | Error::ShapeMismatch { field, .. } => (field, msg),
                _ => unreachable!(),
            }
        }
        other => panic!("expected InvalidParameter or ShapeMismatch, got {other:?}"),
    }
}

/// Every row of the calibration section of `docs/ERRORS.md` (run with `--nocapture` to print
/// the messages pasted there).
#[test]
fn bad_calibration_inputs_are_typed_errors() {
    let y = t1(&[0.1, 0.2, 0.3]);
    let m = t1(&[0.0, 0.0, 0.0]);
    let cases: Vec<(&str, (&'static str, String))> = vec![
        ("CAL1", field(SplitConformalRegressor::fit(m.clone(), None, y.clone(), 1.5))),
        ("CAL2", field(SplitConformalRegressor::fit(t1(&[]), None, t1(&[]), 0.1))),
        ("CAL3", field(SplitConformalRegressor::fit(m.clone(), None, t1(&[0.1, 0.2]), 0.1))),
        ("CAL4", field(SplitConformalRegressor::fit(m.clone(), Some(t1(&[1.0, 0.0, 1.0])), y.clone(), 0.1))),
        (
            "CAL5",
            field(
                SplitConformalRegressor::fit(m.clone(), Some(t1(&[1.0; 3])), y.clone(), 0.1)
                    .unwrap()
                    .interval(m.clone(), None),
            ),
        ),
        ("CAL6", field(TemperatureScaling::fit(t2(&[1.0, f64::NAN, 0.0, 1.0], 2, 2), labels_tensor(&[0, 1])))),
        ("CAL7", field(TemperatureScaling::fit(t2(&[5.0, 0.0, 0.0, 5.0], 2, 2), labels_tensor(&[0, 1])))),
        ("CAL8", field(TemperatureScaling::fit(t2(&[1.0, 2.0, 3.0], 3, 1), labels_tensor(&[0, 0, 0])))),
        ("CAL9", field(VectorScaling::new(vec![1.0; 3], vec![0.0; 3]).unwrap().apply(t2(&[1.0, 2.0], 1, 2)))),
        (
            "CAL10",
            field(
                ConformalClassifierConfig::new(0.1)
                    .with_score(SetScore::Raps { lambda: -1.0, k_reg: 1 })
                    .fit(t2(&[0.5, 0.5], 1, 2), labels_tensor(&[0])),
            ),
        ),
        (
            "CAL11",
            field(
                ConformalClassifierConfig::new(0.5)
                    .fit(t2(&[0.5, 0.5], 1, 2), labels_tensor(&[0]))
                    .unwrap()
                    .predict(t2(&[0.2, 0.3, 0.5], 1, 3)),
            ),
        ),
        ("CAL12", field(RefusalThresholds::fit(t2(&[0.5, 0.5], 1, 2), labels_tensor(&[0]), 10.0))),
        ("CAL13", field(RefusalThresholds::fit(t2(&[0.9, 0.1, 0.8, 0.2], 2, 2), labels_tensor(&[0, 0]), 0.1))),
    ];
    let expected_fields = [
        "alpha", "mean", "targets", "sd", "sd", "logits", "logits", "logits", "logits", "lambda", "probs", "quantile",
        "labels",
    ];
    for ((row, (field, msg)), want) in cases.iter().zip(expected_fields) {
        println!("{row}: {msg}");
        assert_eq!(*field, want, "{row}: {msg}");
        assert!(msg.contains(want), "{row}: the message names the field: {msg}");
    }
}
