//! Predictive summaries: the streaming accumulators equal the two-pass formulas, the law of
//! total variance holds, and mutual information is the entropy gap and never negative.

use crate::support::host;
use bayesburn::noise;
use bayesburn::predict::{self, ClassificationAccumulator, RegressionAccumulator};
use bayesburn::Error;
use burn::prelude::*;
use burn::tensor::activation::softmax;

/// `[S, N, D]` per-sample means with a large offset (so a naive sum-of-squares would cancel
/// badly) and positive variances.
fn samples(s: usize, n: usize, d: usize, device: &Device) -> (Tensor<3>, Tensor<3>) {
    noise::with_seed(42, || {
        let means = noise::normal([s, n, d], device).mul_scalar(0.3).add_scalar(1000.0);
        let vars = noise::uniform([s, n, d], 0.1, 2.0, device);
        (means, vars)
    })
}

#[test]
fn streaming_regression_equals_two_pass_formulas() {
    let device = crate::support::device();
    let (s, n, d) = (37, 5, 2);
    let (means, vars) = samples(s, n, d, &device);
    let (m, v) = (host(means.clone()), host(vars.clone()));
    // Two-pass reference in f64 on the host.
    let at = |k: usize, i: usize| k * n * d + i;
    let mut acc = RegressionAccumulator::new();
    for (lo, hi) in [(0, 1), (1, 11), (11, 30), (30, 37)] {
        acc.push(means.clone().slice(s![lo..hi]), Some(vars.clone().slice(s![lo..hi]))).unwrap();
    }
    let summary = acc.finish().unwrap();
    assert_eq!(summary.samples, s);
    let (mean, epi, alea) =
        (host(summary.mean.clone()), host(summary.epistemic_var.clone()), host(summary.aleatoric_var.clone()));
    for i in 0..n * d {
        let mu: f64 = (0..s).map(|k| m[at(k, i)]).sum::<f64>() / s as f64;
        let var: f64 = (0..s).map(|k| (m[at(k, i)] - mu).powi(2)).sum::<f64>() / s as f64;
        let al: f64 = (0..s).map(|k| v[at(k, i)]).sum::<f64>() / s as f64;
        // f32 storage: the mean is ~1000, so its resolution is ~6e-5; the spread is computed
        // from deviations and keeps ~1e-6 relative accuracy.
        assert!((mean[i] - mu).abs() < 2e-4, "mean {i}: {} vs {mu}", mean[i]);
        assert!((epi[i] - var).abs() < 1e-3 * var, "epistemic {i}: {} vs {var}", epi[i]);
        assert!((alea[i] - al).abs() < 1e-5 * al, "aleatoric {i}: {} vs {al}", alea[i]);
    }
    // One call on everything gives the same summary as the chunked pushes.
    let whole = predict::regression(means, Some(vars)).unwrap();
    for (a, b) in host(whole.epistemic_var).iter().zip(&epi) {
        assert!((a - b).abs() < 1e-3 * b);
    }
}

#[test]
fn law_of_total_variance_holds_for_a_mixture() {
    // Total variance of the predictive mixture (1/S) sum N(mu_s, var_s) is
    // E[var_s] + Var[mu_s]: check against the raw second moment mean(var_s + mu_s^2) - mean^2.
    let device = crate::support::device();
    let (means, vars) =
        noise::with_seed(1, || (noise::normal([50, 4, 1], &device), noise::uniform([50, 4, 1], 0.5, 1.5, &device)));
    let summary = predict::regression(means.clone(), Some(vars.clone())).unwrap();
    let second: Vec<f64> = host((vars + means.square()).mean_dim(0).squeeze_dim::<2>(0));
    let mean = host(summary.mean.clone());
    for ((t, m2), mu) in host(summary.total_var()).iter().zip(&second).zip(&mean) {
        assert!((t - (m2 - mu * mu)).abs() < 1e-5, "{t} vs {}", m2 - mu * mu);
    }
    // Without a noise head the aleatoric part is zero and total = epistemic.
    let no_head = predict::regression(noise::normal([10, 4, 1], &device), None).unwrap();
    assert!(host(no_head.aleatoric_var.clone()).iter().all(|&a| a == 0.0));
}

#[test]
fn interval_uses_the_gaussian_quantile() {
    let device = crate::support::device();
    let means = Tensor::<1>::from_floats([0.0, 2.0], &device).reshape([2, 1, 1]); // S = 2
    let summary = predict::regression(means, None).unwrap(); // mean 1, epistemic var 1
    let (lo, hi) = summary.interval(0.95).unwrap();
    // 1.959963985 from tables of the standard normal.
    assert!((host(hi)[0] - (1.0 + 1.959_963_985)).abs() < 1e-6);
    assert!((host(lo)[0] - (1.0 - 1.959_963_985)).abs() < 1e-6);
    let err = summary.interval(1.5).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { field: "level", .. }), "{err}");
}

#[test]
fn classification_summary_matches_definitions_and_mi_is_nonnegative() {
    let device = crate::support::device();
    let (s, n, k) = (23, 6, 4);
    let logits = noise::with_seed(5, || noise::normal([s, n, k], &device).mul_scalar(2.0));
    let probs = softmax(logits, 2);
    let p = host(probs.clone());
    let mut acc = ClassificationAccumulator::new();
    acc.push(probs.clone().slice(s![0..10])).unwrap();
    acc.push(probs.slice(s![10..23])).unwrap();
    let summary = acc.finish().unwrap();
    let (pe, ee, vr, mi) = (
        host(summary.predictive_entropy.clone()),
        host(summary.expected_entropy.clone()),
        host(summary.variation_ratio.clone()),
        host(summary.mutual_information()),
    );
    let h = |q: &[f64]| -q.iter().filter(|&&x| x > 0.0).map(|x| x * x.ln()).sum::<f64>();
    for i in 0..n {
        let row = |t: usize| &p[(t * n + i) * k..(t * n + i + 1) * k];
        let mean: Vec<f64> = (0..k).map(|c| (0..s).map(|t| row(t)[c]).sum::<f64>() / s as f64).collect();
        let expected = (0..s).map(|t| h(row(t))).sum::<f64>() / s as f64;
        assert!((pe[i] - h(&mean)).abs() < 1e-5, "predictive entropy");
        assert!((ee[i] - expected).abs() < 1e-5, "expected entropy");
        assert!(mi[i] >= 0.0);
        assert!((mi[i] - (h(&mean) - expected)).abs() < 1e-5, "MI = H - E[H]");
        // Jensen: the entropy of the mean is at least the mean entropy.
        assert!(h(&mean) >= expected - 1e-12);
        let mut votes = vec![0usize; k];
        for t in 0..s {
            let r = row(t);
            let arg = (0..k).fold(0, |b, c| if r[c] > r[b] { c } else { b });
            votes[arg] += 1;
        }
        let modal = *votes.iter().max().unwrap() as f64;
        assert!((vr[i] - (1.0 - modal / s as f64)).abs() < 1e-6, "variation ratio");
    }
    // Identical samples: no epistemic uncertainty at all.
    let same = softmax(Tensor::<1>::from_floats([1.0, 0.0, -1.0], &device).reshape([1, 1, 3]), 2).expand([8, 1, 3]);
    let s2 = predict::classification(same).unwrap();
    assert!(host(s2.mutual_information())[0].abs() < 1e-6);
    assert_eq!(host(s2.variation_ratio)[0], 0.0);
}

#[test]
fn bad_shapes_are_typed_errors() {
    let device = crate::support::device();
    let mut acc = RegressionAccumulator::new();
    acc.push(Tensor::zeros([2, 3, 1], &device), None).unwrap();
    let err = acc.push(Tensor::zeros([2, 4, 1], &device), None).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { field: "means", .. }), "{err}");
    assert!(err.to_string().contains("[2, 4, 1]"), "{err}");
    let err =
        predict::regression(Tensor::zeros([2, 3, 1], &device), Some(Tensor::ones([2, 3, 2], &device))).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { field: "vars", .. }), "{err}");
    let err = RegressionAccumulator::new().finish().unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { field: "samples", .. }), "{err}");
    let err = predict::classification(Tensor::zeros([0, 3, 2], &device)).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { field: "probs", .. }), "{err}");
}
