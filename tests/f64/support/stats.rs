//! Statistical helpers of the distribution tests: a plain f64 device, host read-back, moment
//! checks within 4 standard errors, typed-error checks, quadrature.
#![allow(dead_code)]

use bayesburn::distributions::{Distribution, Rsample};
use bayesburn::{noise, Error};
use burn::prelude::*;
use burn::tensor::TensorData;

/// The plain f64 test device ([`super::plain`]).
pub fn device() -> Device {
    super::plain()
}

pub fn t1(v: &[f64]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &device())
}

pub fn t2(v: &[f64], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [rows, cols]), &device())
}

/// `[m]` -> `[s, m]` (the sample axis first).
pub fn rows(v: &[f64], s: usize) -> Tensor<2> {
    t1(v).unsqueeze::<2>().expand([s, v.len()])
}

/// Reads a tensor back as f64; fails if it is not stored as f64.
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_to_vec::<f64>().expect("tensor should be f64")
}

pub fn host_int<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
    t.into_data().iter::<i64>().collect()
}

pub fn assert_rel(got: f64, want: f64, tol: f64, what: &str) {
    if want.is_infinite() {
        assert_eq!(got, want, "{what}: got {got}, want {want}");
        return;
    }
    assert!((got - want).abs() <= tol * want.abs() + 1e-12, "{what}: got {got}, want {want} (rel tol {tol})");
}

/// Column `j` of a row-major `[s, m]` buffer.
pub fn column(v: &[f64], m: usize, j: usize) -> Vec<f64> {
    v.iter().skip(j).step_by(m).copied().collect()
}

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Unbiased sample variance.
pub fn var(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() as f64 - 1.0)
}

/// True moments of one batch element: mean, variance and fourth central moment.
#[derive(Clone, Copy, Debug)]
pub struct Moments {
    pub mean: f64,
    pub var: f64,
    pub mu4: f64,
}

impl Moments {
    /// From the raw moments `E[X^k]`, k = 1..4.
    pub fn from_raw(m1: f64, m2: f64, m3: f64, m4: f64) -> Self {
        Moments { mean: m1, var: m2 - m1 * m1, mu4: m4 - 4.0 * m3 * m1 + 6.0 * m2 * m1 * m1 - 3.0 * m1.powi(4) }
    }
}

/// Checks each column of an `[s, m]` sample against its true moments:
/// `SE(mean) = sqrt(var / s)`, `SE(s^2) = sqrt((mu4 - var^2 (s - 3) / (s - 1)) / s)`.
pub fn check_moments(what: &str, draws: &[f64], s: usize, truth: &[Moments]) {
    let m = truth.len();
    assert_eq!(draws.len(), s * m);
    let n = s as f64;
    for (j, t) in truth.iter().enumerate() {
        let col = column(draws, m, j);
        let (sm, sv) = (mean(&col), var(&col));
        let se_mean = (t.var / n).sqrt();
        let se_var = ((t.mu4 - t.var * t.var * (n - 3.0) / (n - 1.0)) / n).sqrt();
        assert!(
            (sm - t.mean).abs() <= 4.0 * se_mean,
            "{what}[{j}]: sample mean {sm}, true {} (4 SE = {})",
            t.mean,
            4.0 * se_mean
        );
        assert!(
            (sv - t.var).abs() <= 4.0 * se_var,
            "{what}[{j}]: sample variance {sv}, true {} (4 SE = {})",
            t.var,
            4.0 * se_var
        );
    }
}

/// Compares the distribution's `mean()` / `variance()` (first row) with the true moments.
pub fn check_closed_moments<const D: usize>(what: &str, d: &impl Distribution<D>, truth: &[Moments]) {
    let (mu, v) = (host(d.mean()), host(d.variance()));
    for (j, t) in truth.iter().enumerate() {
        assert_rel(mu[j], t.mean, 1e-10, &format!("{what} mean()[{j}]"));
        assert_rel(v[j], t.var, 1e-10, &format!("{what} variance()[{j}]"));
    }
}

/// Draws `s` samples and `s` reparameterized samples (different seeds) of a distribution built
/// over `[s, m]` and checks both.
pub fn check_sampling<Dist: Rsample<2>>(what: &str, d: &Dist, s: usize, truth: &[Moments], seed: u64) {
    let drawn = noise::with_seed(seed, || host(d.sample()));
    check_moments(&format!("{what} sample"), &drawn, s, truth);
    let drawn = noise::with_seed(seed + 1, || host(d.rsample()));
    check_moments(&format!("{what} rsample"), &drawn, s, truth);
}

/// Per-column mean and standard error of an `[s, m]` buffer.
pub fn mean_and_se(v: &[f64], m: usize) -> Vec<(f64, f64)> {
    let s = v.len() / m;
    (0..m)
        .map(|j| {
            let col = column(v, m, j);
            (mean(&col), (var(&col) / s as f64).sqrt())
        })
        .collect()
}

pub fn expect_invalid<T: std::fmt::Debug>(r: Result<T, Error>, context: &str, field: &str, value: &str) {
    let e = r.expect_err("expected an invalid-parameter error");
    let msg = e.to_string();
    match &e {
        Error::InvalidParameter { context: c, field: f, value: v, .. } => {
            assert_eq!(*c, context, "{msg}");
            assert_eq!(*f, field, "{msg}");
            assert!(v.contains(value), "value {v:?} should contain {value:?}: {msg}");
        }
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
    assert!(msg.contains(field) && msg.contains(value), "message should name the field and value: {msg}");
}

/// All (loc, scale, x) combinations, flattened.
pub fn grid(locs: &[f64], scales: &[f64], xs: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut l, mut s, mut x) = (vec![], vec![], vec![]);
    for &a in locs {
        for &b in scales {
            for &c in xs {
                l.push(a);
                s.push(b);
                x.push(c);
            }
        }
    }
    (l, s, x)
}

/// The statistical check: `closed` must lie within 4 SE of the Monte-Carlo estimate.
pub fn assert_within_4_se(what: &str, closed: &[f64], estimate: &[f64], per_sample: &[f64], n: usize) {
    let m = closed.len();
    let stats = mean_and_se(per_sample, m);
    assert_eq!(per_sample.len(), n * m);
    for j in 0..m {
        let se = stats[j].1;
        assert!(
            (estimate[j] - closed[j]).abs() <= 4.0 * se,
            "{what}[{j}]: closed form {}, Monte Carlo {} (4 SE = {})",
            closed[j],
            estimate[j],
            4.0 * se
        );
        // The independent per-sample mean is a second estimate of the same quantity.
        assert!(
            (stats[j].0 - closed[j]).abs() <= 4.0 * se,
            "{what}[{j}]: closed form {}, per-sample mean {} (4 SE = {})",
            closed[j],
            stats[j].0,
            4.0 * se
        );
    }
}

/// `int f` by composite Simpson's rule (20 000 panels) on each interval between consecutive
/// `breaks` (put kinks of `f` at breaks so every panel integrates a smooth function).
pub fn simpson(f: impl Fn(f64) -> f64, breaks: &[f64]) -> f64 {
    let k = 20_000;
    breaks
        .windows(2)
        .map(|w| {
            let h = (w[1] - w[0]) / k as f64;
            let inner: f64 = (1..k).map(|i| f(w[0] + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 }).sum();
            (f(w[0]) + f(w[1]) + inner) * h / 3.0
        })
        .sum()
}

/// `H = -E[ln p(x)]`, estimated from `S` samples of a `[S, m]` distribution, must lie within 4
/// SE of the closed form.
pub fn check_entropy_by_monte_carlo<Dist: Distribution<2>>(what: &str, closed: &[f64], d: &Dist, seed: u64) {
    let per_sample = noise::with_seed(seed, || host(d.log_prob(d.sample()).neg()));
    let stats = mean_and_se(&per_sample, closed.len());
    for (j, (m, se)) in stats.into_iter().enumerate() {
        assert!(
            (m - closed[j]).abs() <= 4.0 * se,
            "{what} entropy[{j}]: closed {}, Monte Carlo {m} (SE {se})",
            closed[j]
        );
    }
}
