//! Cauchy, HalfCauchy, Exponential, Uniform, Logistic and Weibull: densities against statrs
//! (or the closed form) within 1e-9, moments of `sample` and `rsample` within 4 standard errors,
//! entropies, the exponential KL against Monte Carlo, typed errors, `rsample` gradients.
//!
//! The Cauchy and half-Cauchy have no moments, so their draws are checked through the
//! probability integral transform: `F(x)` of a correct draw is `U(0, 1)`, whose mean, variance
//! and fourth central moment are 1/2, 1/12 and 1/80.

use std::f64::consts::PI;

use bayesburn::distributions::{
    kl, kl_monte_carlo, Cauchy, Distribution, Entropy, Exponential, HalfCauchy, Laplace, LogNormal, Logistic, Rsample,
    Uniform, Weibull,
};
use bayesburn::noise;
use burn::prelude::*;
use burn::tensor::TensorData;
use statrs::distribution::Continuous;
use statrs::function::gamma::gamma;
use statrs::statistics::Distribution as _;

use crate::support::stats::*;

const S: usize = 20_000;
const N_KL: usize = 2_000;
const TOL: f64 = 1e-9;

/// `U(0, 1)`: the law of `F(x)` for a draw `x` of a continuous distribution with CDF `F`.
const PIT: Moments = Moments { mean: 0.5, var: 1.0 / 12.0, mu4: 1.0 / 80.0 };

fn check_pit<Dist: Rsample<2>>(what: &str, d: &Dist, m: usize, cdf: impl Fn(usize, f64) -> f64, seed: u64) {
    for (kind, draws) in [
        ("sample", noise::with_seed(seed, || host(d.sample()))),
        ("rsample", noise::with_seed(seed + 1, || host(d.rsample()))),
    ] {
        let u: Vec<f64> = draws.iter().enumerate().map(|(i, &x)| cdf(i % m, x)).collect();
        check_moments(&format!("{what} {kind} (probability integral transform)"), &u, S, &vec![PIT; m]);
    }
}

// ---------------------------------------------------------------------------------------------
// log_prob against statrs
// ---------------------------------------------------------------------------------------------

#[test]
fn cauchy_and_half_cauchy_log_prob_match_statrs() {
    let (l, s, x) = grid(&[-1.5, 0.0, 2.0], &[0.3, 1.0, 2.5], &[-60.0, -2.0, -0.2, 0.0, 0.7, 1.9, 3.0, 1e4]);
    let got = host(Cauchy::new(t1(&l), t1(&s)).unwrap().log_prob(t1(&x)));
    let half = host(HalfCauchy::new(t1(&s)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let want = statrs::distribution::Cauchy::new(l[i], s[i]).unwrap().ln_pdf(x[i]);
        assert_rel(got[i], want, TOL, &format!("Cauchy({}, {}).log_prob({})", l[i], s[i], x[i]));
        // p(x) = 2 Cauchy(x; 0, s) on x >= 0.
        let want = if x[i] < 0.0 {
            f64::NEG_INFINITY
        } else {
            2f64.ln() + statrs::distribution::Cauchy::new(0.0, s[i]).unwrap().ln_pdf(x[i])
        };
        assert_rel(half[i], want, TOL, &format!("HalfCauchy({}).log_prob({})", s[i], x[i]));
    }
}

#[test]
fn exponential_log_prob_matches_statrs() {
    let (_, r, x) = grid(&[0.0], &[0.05, 1.0, 7.5], &[-1.0, 0.0, 1e-3, 0.4, 2.0, 30.0]);
    let got = host(Exponential::new(t1(&r)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let want = statrs::distribution::Exp::new(r[i]).unwrap().ln_pdf(x[i]);
        assert_rel(got[i], want, TOL, &format!("Exponential({}).log_prob({})", r[i], x[i]));
    }
}

#[test]
fn uniform_log_prob_matches_statrs() {
    let (lo, hi) = ([-2.0, 0.0, 0.5], [3.0, 1e-3, 10.0]);
    let xs = [-2.5, -1.0, 0.0, 5e-4, 0.7, 2.9, 9.0, 11.0];
    for j in 0..3 {
        let d = Uniform::new(t1(&[lo[j]; 8]), t1(&[hi[j]; 8])).unwrap();
        let got = host(d.log_prob(t1(&xs)));
        let r = statrs::distribution::Uniform::new(lo[j], hi[j]).unwrap();
        for (i, &x) in xs.iter().enumerate() {
            assert_rel(got[i], r.ln_pdf(x), TOL, &format!("Uniform({}, {}).log_prob({x})", lo[j], hi[j]));
        }
    }
}

#[test]
fn logistic_log_prob_matches_the_closed_form() {
    let (l, s, x) = grid(&[-1.5, 0.0, 2.0], &[0.3, 1.0, 2.5], &[-800.0, -6.0, -0.2, 0.0, 0.7, 3.0, 40.0, 800.0]);
    let got = host(Logistic::new(t1(&l), t1(&s)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        // p = e^-z / (s (1 + e^-z)^2), symmetric in z: use |z| so the exponential never overflows.
        let z = ((x[i] - l[i]) / s[i]).abs();
        let want = -z - s[i].ln() - 2.0 * (-z).exp().ln_1p();
        assert_rel(got[i], want, TOL, &format!("Logistic({}, {}).log_prob({})", l[i], s[i], x[i]));
    }
}

#[test]
fn weibull_log_prob_matches_statrs() {
    let (s, k, x) = grid(&[0.5, 1.0, 3.0], &[0.4, 1.0, 2.0, 7.5], &[-1.0, 1e-3, 0.3, 1.0, 2.2, 6.0]);
    let got = host(Weibull::new(t1(&s), t1(&k)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let want = if x[i] < 0.0 {
            f64::NEG_INFINITY
        } else {
            statrs::distribution::Weibull::new(k[i], s[i]).unwrap().ln_pdf(x[i])
        };
        assert_rel(got[i], want, TOL, &format!("Weibull({}, {}).log_prob({})", s[i], k[i], x[i]));
    }
}

// ---------------------------------------------------------------------------------------------
// moments of sample() and rsample()
// ---------------------------------------------------------------------------------------------

#[test]
fn cauchy_and_half_cauchy_draws_have_the_right_law() {
    let (loc, scale) = ([0.5, -3.0], [1.0, 0.2]);
    let d = Cauchy::new(rows(&loc, S), rows(&scale, S)).unwrap();
    check_pit("Cauchy", &d, 2, |j, x| 0.5 + ((x - loc[j]) / scale[j]).atan() / PI, 500);
    let d = HalfCauchy::new(rows(&scale, S)).unwrap();
    check_pit("HalfCauchy", &d, 2, |j, x| 2.0 / PI * (x / scale[j]).atan(), 502);
    let c = Cauchy::new(t1(&loc), t1(&scale)).unwrap();
    assert!(host(c.mean()).iter().all(|m| m.is_nan()) && host(c.variance()).iter().all(|v| v.is_infinite()));
    let h = HalfCauchy::new(t1(&scale)).unwrap();
    assert!(host(h.mean()).iter().chain(&host(h.variance())).all(|v| *v == f64::INFINITY));
}

#[test]
fn exponential_moments() {
    let rate = [0.5, 4.0];
    let truth: Vec<Moments> =
        rate.iter().map(|&r| Moments::from_raw(1.0 / r, 2.0 / r.powi(2), 6.0 / r.powi(3), 24.0 / r.powi(4))).collect();
    let d = Exponential::new(rows(&rate, S)).unwrap();
    check_closed_moments("Exponential", &d, &truth);
    check_sampling("Exponential", &d, S, &truth, 510);
}

#[test]
fn uniform_moments() {
    let (lo, hi): ([f64; 2], [f64; 2]) = ([-1.0, 2.0], [3.0, 2.5]);
    let truth: Vec<Moments> = (0..2)
        .map(|j| {
            let raw = |k: i32| (hi[j].powi(k + 1) - lo[j].powi(k + 1)) / ((k + 1) as f64 * (hi[j] - lo[j]));
            Moments::from_raw(raw(1), raw(2), raw(3), raw(4))
        })
        .collect();
    let d = Uniform::new(rows(&lo, S), rows(&hi, S)).unwrap();
    check_closed_moments("Uniform", &d, &truth);
    check_sampling("Uniform", &d, S, &truth, 520);
    let drawn = noise::with_seed(521, || host(d.sample()));
    for j in 0..2 {
        assert!(column(&drawn, 2, j).iter().all(|&x| lo[j] < x && x < hi[j]), "Uniform draws inside the bounds");
    }
}

#[test]
fn logistic_moments() {
    let (loc, scale): ([f64; 2], [f64; 2]) = ([1.0, -2.0], [0.5, 3.0]);
    let truth: Vec<Moments> = (0..2)
        .map(|j| {
            let var = scale[j].powi(2) * PI * PI / 3.0;
            // Excess kurtosis 6/5: mu4 = 4.2 var^2.
            Moments { mean: loc[j], var, mu4: 4.2 * var * var }
        })
        .collect();
    let d = Logistic::new(rows(&loc, S), rows(&scale, S)).unwrap();
    check_closed_moments("Logistic", &d, &truth);
    check_sampling("Logistic", &d, S, &truth, 530);
}

#[test]
fn weibull_moments() {
    let (scale, k): ([f64; 3], [f64; 3]) = ([1.0, 2.5, 0.7], [0.8, 1.0, 3.5]);
    let truth: Vec<Moments> = (0..3)
        .map(|j| {
            let raw = |n: f64| scale[j].powf(n) * gamma(1.0 + n / k[j]);
            let t = Moments::from_raw(raw(1.0), raw(2.0), raw(3.0), raw(4.0));
            let r = statrs::distribution::Weibull::new(k[j], scale[j]).unwrap();
            assert_rel(t.mean, r.mean().unwrap(), 1e-12, "statrs Weibull mean");
            t
        })
        .collect();
    let d = Weibull::new(rows(&scale, S), rows(&k, S)).unwrap();
    check_closed_moments("Weibull", &d, &truth);
    check_sampling("Weibull", &d, S, &truth, 540);
}

// ---------------------------------------------------------------------------------------------
// entropy
// ---------------------------------------------------------------------------------------------

#[test]
fn entropies_match_statrs_and_monte_carlo() {
    let n = 20_000;
    let (loc, scale) = ([0.5, -1.0], [0.4, 3.0]);

    let e = host(Cauchy::new(t1(&loc), t1(&scale)).unwrap().entropy());
    for j in 0..2 {
        let want = statrs::distribution::Cauchy::new(loc[j], scale[j]).unwrap().entropy().unwrap();
        assert_rel(e[j], want, 1e-12, "Cauchy entropy");
    }
    check_entropy_by_monte_carlo("Cauchy", &e, &Cauchy::new(rows(&loc, n), rows(&scale, n)).unwrap(), 550);

    // Folding halves the support and doubles the density: H(Cauchy) - ln 2.
    let e = host(HalfCauchy::new(t1(&scale)).unwrap().entropy());
    for j in 0..2 {
        let want = statrs::distribution::Cauchy::new(0.0, scale[j]).unwrap().entropy().unwrap() - 2f64.ln();
        assert_rel(e[j], want, 1e-12, "HalfCauchy entropy");
    }
    check_entropy_by_monte_carlo("HalfCauchy", &e, &HalfCauchy::new(rows(&scale, n)).unwrap(), 551);

    let e = host(Exponential::new(t1(&scale)).unwrap().entropy());
    for j in 0..2 {
        let want = statrs::distribution::Exp::new(scale[j]).unwrap().entropy().unwrap();
        assert_rel(e[j], want, 1e-12, "Exponential entropy");
    }
    check_entropy_by_monte_carlo("Exponential", &e, &Exponential::new(rows(&scale, n)).unwrap(), 552);

    let (lo, hi) = ([-1.0, 0.0], [3.0, 0.01]);
    let e = host(Uniform::new(t1(&lo), t1(&hi)).unwrap().entropy());
    for j in 0..2 {
        let want = statrs::distribution::Uniform::new(lo[j], hi[j]).unwrap().entropy().unwrap();
        assert_rel(e[j], want, 1e-12, "Uniform entropy");
    }

    // Logistic: ln s + 2 (statrs has no logistic); by Monte Carlo.
    let e = host(Logistic::new(t1(&loc), t1(&scale)).unwrap().entropy());
    for j in 0..2 {
        assert_rel(e[j], scale[j].ln() + 2.0, 1e-12, "Logistic entropy");
    }
    check_entropy_by_monte_carlo("Logistic", &e, &Logistic::new(rows(&loc, n), rows(&scale, n)).unwrap(), 553);

    let k = [0.7, 2.0];
    let e = host(Weibull::new(t1(&scale), t1(&k)).unwrap().entropy());
    for j in 0..2 {
        let want = statrs::distribution::Weibull::new(k[j], scale[j]).unwrap().entropy().unwrap();
        assert_rel(e[j], want, 1e-12, "Weibull entropy");
    }
    check_entropy_by_monte_carlo("Weibull", &e, &Weibull::new(rows(&scale, n), rows(&k, n)).unwrap(), 554);
}

// ---------------------------------------------------------------------------------------------
// KL
// ---------------------------------------------------------------------------------------------

#[test]
fn exponential_kl_matches_exact_integral_and_monte_carlo() {
    let (rp, rq) = ([1.0, 0.5, 3.0], [2.0, 0.5, 0.4]);
    let p = Exponential::new(t1(&rp)).unwrap();
    let q = Exponential::new(t1(&rq)).unwrap();
    let closed = host(kl(&p, &q));
    for j in 0..3 {
        // E_p[ln p - ln q] = ln(rp / rq) - (rp - rq) E_p[x], E_p[x] = 1 / rp.
        let want = (rp[j] / rq[j]).ln() - (rp[j] - rq[j]) / rp[j];
        assert_rel(closed[j], want, 1e-12, "Exponential KL");
    }
    let estimate = noise::with_seed(560, || host(kl_monte_carlo(&p, &q, N_KL).unwrap()));
    let (pn, qn) = (Exponential::new(rows(&rp, N_KL)).unwrap(), Exponential::new(rows(&rq, N_KL)).unwrap());
    let per_sample = noise::with_seed(561, || {
        let x = pn.rsample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    // The middle pair is p = q: the KL and every per-sample value are 0 (SE 0), so the check is exact.
    assert_within_4_se("Exponential||Exponential", &closed, &estimate, &per_sample, N_KL);
}

// ---------------------------------------------------------------------------------------------
// invalid parameters
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_parameters_are_typed_errors() {
    let ok = t1(&[1.0, 1.0, 1.0]);
    for (bad, shown) in [(0.0, "0"), (-1.0, "-1"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        let v = t1(&[1.0, bad, 2.0]);
        expect_invalid(Cauchy::new(ok.clone(), v.clone()), "Cauchy", "scale", shown);
        expect_invalid(HalfCauchy::new(v.clone()), "HalfCauchy", "scale", shown);
        expect_invalid(Exponential::new(v.clone()), "Exponential", "rate", shown);
        expect_invalid(Logistic::new(ok.clone(), v.clone()), "Logistic", "scale", shown);
        expect_invalid(Weibull::new(v.clone(), ok.clone()), "Weibull", "scale", shown);
        expect_invalid(Weibull::new(ok.clone(), v.clone()), "Weibull", "concentration", shown);
        expect_invalid(Laplace::new(ok.clone(), v.clone()), "Laplace", "scale", shown);
        expect_invalid(LogNormal::new(ok.clone(), v.clone()), "LogNormal", "scale", shown);
    }
    let nan = t1(&[0.0, f64::NAN, 0.0]);
    expect_invalid(Cauchy::new(nan.clone(), ok.clone()), "Cauchy", "loc", "NaN (at index [1])");
    expect_invalid(Logistic::new(nan.clone(), ok.clone()), "Logistic", "loc", "NaN (at index [1])");
    expect_invalid(Laplace::new(nan.clone(), ok.clone()), "Laplace", "loc", "NaN (at index [1])");
    expect_invalid(LogNormal::new(nan.clone(), ok.clone()), "LogNormal", "loc", "NaN (at index [1])");
    expect_invalid(Uniform::new(nan, t1(&[5.0; 3])), "Uniform", "low", "NaN (at index [1])");
    expect_invalid(Uniform::new(t1(&[0.0; 3]), t1(&[1.0, f64::INFINITY, 1.0])), "Uniform", "high", "inf");
    expect_invalid(
        Uniform::new(t1(&[0.0, 2.0, 0.0]), t1(&[1.0, 2.0, 1.0])),
        "Uniform",
        "high",
        "2 (at index [1]), where low is 2",
    );
    expect_invalid(Uniform::new(t1(&[0.0, 0.0, 3.0]), t1(&[1.0, 1.0, -1.0])), "Uniform", "high", "-1 (at index [2])");
}

// ---------------------------------------------------------------------------------------------
// gradients of rsample
// ---------------------------------------------------------------------------------------------

fn leaf(v: &[f64]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &device().autodiff()).require_grad()
}

/// `d sum(x) / d theta` against the expected per-element derivative `want(x)`.
fn check_grad(what: &str, theta: &Tensor<1>, x: Tensor<1>, want: impl Fn(usize, f64) -> f64) {
    assert!(x.is_tracked(), "{what}: rsample should be on the graph");
    let grads = x.clone().sum().backward();
    let (g, x) = (host(theta.grad(&grads).expect("a gradient")), host(x));
    for j in 0..x.len() {
        assert_rel(g[j], want(j, x[j]), 1e-10, &format!("{what}[{j}]"));
    }
}

#[test]
fn rsample_is_differentiable_in_every_parameter() {
    let (a, b) = ([0.5, 1.0, 2.0], [1.5, 0.25, 3.0]);
    let (loc, scale) = (leaf(&a), leaf(&b));
    let x = noise::with_seed(570, || Cauchy::new(loc.clone(), scale.clone()).unwrap().rsample());
    check_grad("Cauchy d x / d loc", &loc, x, |_, _| 1.0);
    let (loc, scale) = (leaf(&a), leaf(&b));
    let x = noise::with_seed(571, || Cauchy::new(loc, scale.clone()).unwrap().rsample());
    check_grad("Cauchy d x / d scale", &scale, x, |j, x| (x - a[j]) / b[j]);

    let scale = leaf(&b);
    let x = noise::with_seed(572, || HalfCauchy::new(scale.clone()).unwrap().rsample());
    check_grad("HalfCauchy d x / d scale", &scale, x, |j, x| x / b[j]);

    let rate = leaf(&b);
    let x = noise::with_seed(573, || Exponential::new(rate.clone()).unwrap().rsample());
    check_grad("Exponential d x / d rate", &rate, x, |j, x| -x / b[j]);

    // x = low + (high - low) u: d x / d low + d x / d high = 1, d x / d high = u.
    let hi = [2.0, 3.0, 4.0];
    let (low, high) = (leaf(&a), leaf(&hi));
    let x = noise::with_seed(574, || Uniform::new(low.clone(), high.clone()).unwrap().rsample());
    check_grad("Uniform d x / d high", &high, x, |j, x| (x - a[j]) / (hi[j] - a[j]));
    let (low, high) = (leaf(&a), leaf(&hi));
    let x = noise::with_seed(574, || Uniform::new(low.clone(), high).unwrap().rsample());
    check_grad("Uniform d x / d low", &low, x, |j, x| 1.0 - (x - a[j]) / (hi[j] - a[j]));

    let (loc, scale) = (leaf(&a), leaf(&b));
    let x = noise::with_seed(575, || Logistic::new(loc, scale.clone()).unwrap().rsample());
    check_grad("Logistic d x / d scale", &scale, x, |j, x| (x - a[j]) / b[j]);

    // x = lambda e^(1/k): d x / d lambda = x / lambda, d x / d k = -x ln(x / lambda) / k.
    let (scale, k) = (leaf(&a), leaf(&b));
    let x = noise::with_seed(576, || Weibull::new(scale.clone(), k).unwrap().rsample());
    check_grad("Weibull d x / d scale", &scale, x, |j, x| x / a[j]);
    let (scale, k) = (leaf(&a), leaf(&b));
    let x = noise::with_seed(577, || Weibull::new(scale, k.clone()).unwrap().rsample());
    check_grad("Weibull d x / d concentration", &k, x, |j, x| -x * (x / a[j]).ln() / b[j]);
}
