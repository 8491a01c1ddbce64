//! Beta with tensor parameters: the density against statrs within 1e-9, moments of `sample` and
//! `rsample` within 4 SE, the pathwise gradient against `d E[x] / d alpha` within 4 SE, the
//! entropy, the closed-form KL against quadrature and Monte Carlo, typed errors.

use bayesburn::distributions::{kl, kl_monte_carlo, Beta, Distribution, Entropy, Rsample};
use bayesburn::noise;
use burn::prelude::*;
use burn::tensor::TensorData;
use statrs::distribution::Continuous;
use statrs::statistics::Distribution as _;

use crate::support::stats::*;

const S: usize = 20_000;
const N_KL: usize = 2_000;

#[test]
fn beta_log_prob_matches_statrs() {
    let (a, b, x) =
        grid(&[0.2, 1.0, 2.5, 40.0], &[0.5, 1.0, 3.0, 900.0], &[-0.1, 1e-6, 0.02, 0.3, 0.5, 0.9, 1.0 - 1e-7, 1.3]);
    let got = host(Beta::new(t1(&a), t1(&b)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let what = format!("Beta({}, {}).log_prob({})", a[i], b[i], x[i]);
        if !(0.0..=1.0).contains(&x[i]) {
            assert_eq!(got[i], f64::NEG_INFINITY, "{what}");
            continue;
        }
        let want = statrs::distribution::Beta::new(a[i], b[i]).unwrap().ln_pdf(x[i]);
        assert_rel(got[i], want, 1e-9, &what);
    }
    // The edges: alpha = 1 at x = 0 is ln(beta); alpha > 1 there has density 0.
    let edge = host(Beta::new(t1(&[1.0, 2.0]), t1(&[3.0, 3.0])).unwrap().log_prob(t1(&[0.0, 0.0])));
    assert_rel(edge[0], 3f64.ln(), 1e-14, "Beta(1, 3).log_prob(0)");
    assert_eq!(edge[1], f64::NEG_INFINITY);
}

#[test]
fn beta_moments() {
    let (a, b) = ([0.3, 2.0, 30.0], [0.5, 5.0, 12.0]);
    let truth: Vec<Moments> = (0..3)
        .map(|j| {
            // E[x^n] = prod_{k<n} (alpha + k) / (alpha + beta + k).
            let raw = |n: usize| (0..n).map(|k| (a[j] + k as f64) / (a[j] + b[j] + k as f64)).product::<f64>();
            let t = Moments::from_raw(raw(1), raw(2), raw(3), raw(4));
            let r = statrs::distribution::Beta::new(a[j], b[j]).unwrap();
            assert_rel(t.var, r.variance().unwrap(), 1e-12, "statrs Beta variance");
            t
        })
        .collect();
    let d = Beta::new(rows(&a, S), rows(&b, S)).unwrap();
    check_closed_moments("Beta", &d, &truth);
    check_sampling("Beta", &d, S, &truth, 800);
}

#[test]
fn beta_rsample_gradient_is_unbiased() {
    // d E[x] / d alpha = beta / (alpha + beta)^2 and d E[x] / d beta = -alpha / (alpha + beta)^2.
    let (a, b) = ([0.5, 2.0, 8.0], [1.5, 2.0, 0.7]);
    let m = a.len();
    let leaf = |v: &[f64]| {
        let data: Vec<f64> = (0..S).flat_map(|_| v.to_vec()).collect();
        Tensor::<2>::from_data(TensorData::new(data, [S, m]), &device().autodiff()).require_grad()
    };
    let (alpha, beta) = (leaf(&a), leaf(&b));
    let d = Beta::new(alpha.clone(), beta.clone()).unwrap();
    assert!(!d.sample().is_tracked(), "sample() must be detached");
    let grads = noise::with_seed(810, || d.rsample()).sum().backward();
    let (ga, gb) =
        (mean_and_se(&host(alpha.grad(&grads).unwrap()), m), mean_and_se(&host(beta.grad(&grads).unwrap()), m));
    for j in 0..m {
        let t2 = (a[j] + b[j]).powi(2);
        for (what, (got, se), want) in [("alpha", ga[j], b[j] / t2), ("beta", gb[j], -a[j] / t2)] {
            assert!(
                (got - want).abs() <= 4.0 * se,
                "E[dx/d{what}] at Beta({}, {}): {got} (SE {se}), want {want}",
                a[j],
                b[j]
            );
        }
    }
}

#[test]
fn beta_entropy_matches_statrs_and_monte_carlo() {
    let (a, b) = ([0.2, 1.0, 3.0, 50.0], [0.7, 1.0, 2.0, 400.0]);
    let e = host(Beta::new(t1(&a), t1(&b)).unwrap().entropy());
    for j in 0..4 {
        let want = statrs::distribution::Beta::new(a[j], b[j]).unwrap().entropy().unwrap();
        assert_rel(e[j], want, 1e-9, &format!("Beta({}, {}) entropy", a[j], b[j]));
    }
    let n = 20_000;
    let (a, b) = ([0.7, 3.0], [1.5, 2.0]);
    let closed = host(Beta::new(t1(&a), t1(&b)).unwrap().entropy());
    check_entropy_by_monte_carlo("Beta", &closed, &Beta::new(rows(&a, n), rows(&b, n)).unwrap(), 820);
}

#[test]
fn beta_kl_matches_quadrature_and_monte_carlo() {
    let (ap, bp, aq, bq) = ([0.8, 2.0, 6.0], [1.2, 2.0, 3.0], [1.5, 2.0, 2.0], [1.0, 5.0, 2.0]);
    let p = Beta::new(t1(&ap), t1(&bp)).unwrap();
    let q = Beta::new(t1(&aq), t1(&bq)).unwrap();
    let closed = host(kl(&p, &q));
    for j in 0..3 {
        // In y = logit x (dx = x (1 - x) dy) the integrand is smooth and decays exponentially;
        // ln x and ln(1 - x) are taken from y directly (-softplus(-y), -softplus(y)) so that
        // neither rounds to ln 0 in the tails. Beyond |y| = 36 the mass is below 3e-13.
        let ln_pdf = |a: f64, b: f64, y: f64| {
            let (ln_x, ln_1mx) = (-(-y).exp().ln_1p(), -y.exp().ln_1p());
            (a - 1.0) * ln_x + (b - 1.0) * ln_1mx - statrs::function::beta::ln_beta(a, b)
        };
        let f = |y: f64| {
            let (lp, lq) = (ln_pdf(ap[j], bp[j], y), ln_pdf(aq[j], bq[j], y));
            // p(x) dx = exp(ln p + ln x + ln(1 - x)) dy
            (lp - (-y).exp().ln_1p() - y.exp().ln_1p()).exp() * (lp - lq)
        };
        let want = simpson(f, &[-36.0, 0.0, 36.0]);
        assert_rel(closed[j], want, 1e-8, "Beta KL by quadrature");
    }
    assert!(host(kl(&p, &p)).iter().all(|v| v.abs() < 1e-14), "KL of a distribution with itself");
    let estimate = noise::with_seed(830, || host(kl_monte_carlo(&p, &q, N_KL).unwrap()));
    let (pn, qn) =
        (Beta::new(rows(&ap, N_KL), rows(&bp, N_KL)).unwrap(), Beta::new(rows(&aq, N_KL), rows(&bq, N_KL)).unwrap());
    let per_sample = noise::with_seed(831, || {
        let x = pn.rsample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    assert_within_4_se("Beta||Beta", &closed, &estimate, &per_sample, N_KL);
}

#[test]
fn invalid_parameters_are_typed_errors() {
    let ok = t1(&[1.0, 1.0, 1.0]);
    for (bad, shown) in [(0.0, "0"), (-1.0, "-1"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        let v = t1(&[1.0, bad, 2.0]);
        expect_invalid(Beta::new(v.clone(), ok.clone()), "Beta", "alpha", shown);
        expect_invalid(Beta::new(ok.clone(), v.clone()), "Beta", "beta", shown);
    }
}
