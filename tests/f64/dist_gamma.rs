//! Gamma and inverse Gamma: densities against statrs within 1e-9 (which also checks the tensor
//! `ln Gamma` from alpha = 1e-3 to 1e4), moments of `sample` and `rsample` within 4 standard
//! errors, the implicit reparameterization gradient (against the derivative of the quantile at a
//! fixed CDF value, and `E[dx/dalpha] = dE[x]/dalpha` within 4 SE), entropies, the closed-form
//! KLs against quadrature and Monte Carlo, typed errors.

use bayesburn::distributions::{kl, kl_monte_carlo, Distribution, Entropy, Gamma, InverseGamma, Rsample};
use bayesburn::noise;
use burn::prelude::*;
use burn::tensor::TensorData;
use statrs::distribution::Continuous;
use statrs::function::gamma::{gamma_lr, ln_gamma};
use statrs::statistics::Distribution as _;

use crate::support::stats::*;

const S: usize = 20_000;
const N_KL: usize = 2_000;
const TOL: f64 = 1e-9;

const ALPHAS: [f64; 7] = [1e-3, 0.3, 1.0, 2.5, 7.99, 17.0, 1e4];
const RATES: [f64; 3] = [0.2, 1.0, 6.0];
const XS: [f64; 7] = [-1.0, 1e-3, 0.5, 1.0, 3.0, 40.0, 2e3];

#[test]
fn gamma_log_prob_matches_statrs() {
    let (a, b, x) = grid(&ALPHAS, &RATES, &XS);
    let got = host(Gamma::new(t1(&a), t1(&b)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let want = if x[i] < 0.0 {
            f64::NEG_INFINITY
        } else {
            statrs::distribution::Gamma::new(a[i], b[i]).unwrap().ln_pdf(x[i])
        };
        assert_rel(got[i], want, TOL, &format!("Gamma({}, {}).log_prob({})", a[i], b[i], x[i]));
    }
    // At x = 0: alpha = 1 is the exponential density ln(rate); alpha > 1 has density 0.
    let at_zero = host(Gamma::new(t1(&[1.0, 2.0]), t1(&[3.0, 3.0])).unwrap().log_prob(t1(&[0.0, 0.0])));
    assert_rel(at_zero[0], 3f64.ln(), 1e-15, "Gamma(1, 3).log_prob(0)");
    assert_eq!(at_zero[1], f64::NEG_INFINITY);
}

#[test]
fn inverse_gamma_log_prob_matches_statrs() {
    let (a, b, x) = grid(&ALPHAS[1..], &RATES, &XS);
    let got = host(InverseGamma::new(t1(&a), t1(&b)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let what = format!("InverseGamma({}, {}).log_prob({})", a[i], b[i], x[i]);
        if x[i] <= 0.0 {
            assert_eq!(got[i], f64::NEG_INFINITY, "{what}");
            continue;
        }
        // statrs takes the log of the density, which underflows to -inf far in the left tail;
        // there the textbook log-density is the reference.
        let want = statrs::distribution::InverseGamma::new(a[i], b[i]).unwrap().ln_pdf(x[i]);
        let closed = a[i] * b[i].ln() - (a[i] + 1.0) * x[i].ln() - b[i] / x[i] - ln_gamma(a[i]);
        if want.is_finite() {
            assert_rel(got[i], want, TOL, &what);
        }
        assert_rel(got[i], closed, TOL, &what);
    }
}

/// `alpha (alpha + 1) ... (alpha + n - 1) / beta^n`.
fn gamma_raw(a: f64, b: f64, n: i32) -> f64 {
    (0..n).map(|k| a + k as f64).product::<f64>() / b.powi(n)
}

#[test]
fn gamma_moments() {
    let (a, b) = ([0.3, 2.5, 40.0], [1.0, 2.0, 0.5]);
    let truth: Vec<Moments> = (0..3)
        .map(|j| {
            Moments::from_raw(
                gamma_raw(a[j], b[j], 1),
                gamma_raw(a[j], b[j], 2),
                gamma_raw(a[j], b[j], 3),
                gamma_raw(a[j], b[j], 4),
            )
        })
        .collect();
    let d = Gamma::new(rows(&a, S), rows(&b, S)).unwrap();
    check_closed_moments("Gamma", &d, &truth);
    check_sampling("Gamma", &d, S, &truth, 600);
}

#[test]
fn inverse_gamma_moments() {
    // The fourth moment (for the SE of the sample variance) needs alpha > 4.
    let (a, b): ([f64; 2], [f64; 2]) = ([7.0, 12.0], [1.0, 30.0]);
    let truth: Vec<Moments> = (0..2)
        .map(|j| {
            // E[x^n] = beta^n / ((alpha - 1) ... (alpha - n)).
            let raw = |n: i32| b[j].powi(n) / (1..=n).map(|k| a[j] - k as f64).product::<f64>();
            let t = Moments::from_raw(raw(1), raw(2), raw(3), raw(4));
            let r = statrs::distribution::InverseGamma::new(a[j], b[j]).unwrap();
            assert_rel(t.var, r.variance().unwrap(), 1e-12, "statrs InverseGamma variance");
            t
        })
        .collect();
    let d = InverseGamma::new(rows(&a, S), rows(&b, S)).unwrap();
    check_closed_moments("InverseGamma", &d, &truth);
    check_sampling("InverseGamma", &d, S, &truth, 610);
    let heavy = InverseGamma::new(t1(&[0.5, 1.5]), t1(&[1.0, 1.0])).unwrap();
    assert_eq!(host(heavy.mean())[0], f64::INFINITY);
    assert_rel(host(heavy.mean())[1], 2.0, 1e-15, "InverseGamma(1.5, 1) mean");
    assert!(host(heavy.variance()).iter().all(|v| *v == f64::INFINITY));
}

// ---------------------------------------------------------------------------------------------
// the implicit reparameterization gradient
// ---------------------------------------------------------------------------------------------

fn leaf(v: &[f64], shape: [usize; 2]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), &device().autodiff()).require_grad()
}

/// `x(alpha')` with `P(alpha', x) = u` by Newton's method from `x0`.
fn gamma_quantile(alpha: f64, u: f64, x0: f64) -> f64 {
    let mut x = x0;
    for _ in 0..50 {
        let density = ((alpha - 1.0) * x.ln() - x - ln_gamma(alpha)).exp();
        let step = (gamma_lr(alpha, x) - u) / density;
        x = (x - step).max(x / 4.0);
        if step.abs() <= 1e-15 * x {
            break;
        }
    }
    x
}

#[test]
fn gamma_rsample_gradient_is_the_derivative_of_the_quantile() {
    let alphas = [0.4, 1.0, 3.0, 25.0];
    let m = alphas.len();
    let n = 8;
    let a: Vec<f64> = (0..n).flat_map(|_| alphas).collect();
    let alpha = leaf(&a, [n, m]);
    let rate = leaf(&vec![1.0; n * m], [n, m]);
    let d = Gamma::new(alpha.clone(), rate.clone()).unwrap();
    assert!(!d.sample().is_tracked(), "sample() must be detached");
    let x = noise::with_seed(620, || d.rsample());
    assert!(x.is_tracked());
    let grads = x.clone().sum().backward();
    let (g, g_rate, x) = (host(alpha.grad(&grads).unwrap()), host(rate.grad(&grads).unwrap()), host(x));
    for i in 0..n * m {
        // Central difference of the quantile at the draw's CDF value u = P(alpha, x).
        let u = gamma_lr(a[i], x[i]);
        let h = 1e-5 * a[i];
        let fd = (gamma_quantile(a[i] + h, u, x[i]) - gamma_quantile(a[i] - h, u, x[i])) / (2.0 * h);
        assert_rel(g[i], fd, 1e-5, &format!("dx/dalpha at alpha {}, x {}", a[i], x[i]));
        assert_rel(g_rate[i], -x[i], 1e-12, "dx/drate at rate 1");
    }
}

#[test]
fn gamma_rsample_gradient_is_unbiased_for_the_moments() {
    // d E[x] / d alpha = 1 and d E[x^2] / d alpha = 2 alpha + 1 (rate 1): the pathwise
    // gradients of x and x^2, averaged over draws, must agree within 4 SE.
    let alphas = [0.3, 1.0, 4.0, 60.0];
    let m = alphas.len();
    let a: Vec<f64> = (0..S).flat_map(|_| alphas).collect();
    for (power, want) in [(1, alphas.map(|_| 1.0)), (2, alphas.map(|a| 2.0 * a + 1.0))] {
        let alpha = leaf(&a, [S, m]);
        let d = Gamma::new(alpha.clone(), Tensor::ones([S, m], &device().autodiff())).unwrap();
        let x = noise::with_seed(630 + power as u64, || d.rsample());
        let grads = x.powi_scalar(power).sum().backward();
        let stats = mean_and_se(&host(alpha.grad(&grads).unwrap()), m);
        for j in 0..m {
            let (got, se) = stats[j];
            assert!(
                (got - want[j]).abs() <= 4.0 * se,
                "E[d x^{power} / d alpha] at alpha {}: {got} (SE {se}), want {}",
                alphas[j],
                want[j]
            );
        }
    }
}

#[test]
fn inverse_gamma_rsample_is_differentiable_in_both_parameters() {
    let (a, b) = ([3.0, 0.7], [2.0, 0.5]);
    let (alpha, rate) = (leaf(&a, [1, 2]), leaf(&b, [1, 2]));
    let x = noise::with_seed(640, || InverseGamma::new(alpha.clone(), rate.clone()).unwrap().rsample());
    let grads = x.clone().sum().backward();
    let (ga, gb, x) = (host(alpha.grad(&grads).unwrap()), host(rate.grad(&grads).unwrap()), host(x));
    for j in 0..2 {
        // x = beta / g: dx/dbeta = x / beta; dx/dalpha = -x^2 / beta dg/dalpha, with
        // g = beta / x and dg/dalpha the quantile derivative of Gamma(alpha, 1).
        assert_rel(gb[j], x[j] / b[j], 1e-12, "InverseGamma dx/drate");
        let g = b[j] / x[j];
        let u = gamma_lr(a[j], g);
        let h = 1e-5 * a[j];
        let dg = (gamma_quantile(a[j] + h, u, g) - gamma_quantile(a[j] - h, u, g)) / (2.0 * h);
        assert_rel(ga[j], -x[j] * x[j] / b[j] * dg, 1e-5, "InverseGamma dx/dalpha");
    }
}

// ---------------------------------------------------------------------------------------------
// entropy and KL
// ---------------------------------------------------------------------------------------------

#[test]
fn entropies_match_statrs_and_monte_carlo() {
    let (a, b) = ([0.05, 0.8, 3.0, 11.0, 500.0], [1.0, 2.0, 0.5, 3.0, 10.0]);
    let e = host(Gamma::new(t1(&a), t1(&b)).unwrap().entropy());
    let e_inv = host(InverseGamma::new(t1(&a), t1(&b)).unwrap().entropy());
    for j in 0..5 {
        let want = statrs::distribution::Gamma::new(a[j], b[j]).unwrap().entropy().unwrap();
        assert_rel(e[j], want, 1e-9, &format!("Gamma({}, {}) entropy", a[j], b[j]));
        let want = statrs::distribution::InverseGamma::new(a[j], b[j]).unwrap().entropy().unwrap();
        assert_rel(e_inv[j], want, 1e-9, &format!("InverseGamma({}, {}) entropy", a[j], b[j]));
    }
    let n = 20_000;
    let (a, b) = ([0.8, 3.0], [2.0, 0.5]);
    let closed = host(Gamma::new(t1(&a), t1(&b)).unwrap().entropy());
    check_entropy_by_monte_carlo("Gamma", &closed, &Gamma::new(rows(&a, n), rows(&b, n)).unwrap(), 650);
    let closed = host(InverseGamma::new(t1(&a), t1(&b)).unwrap().entropy());
    check_entropy_by_monte_carlo("InverseGamma", &closed, &InverseGamma::new(rows(&a, n), rows(&b, n)).unwrap(), 651);
}

#[test]
fn gamma_kl_matches_quadrature_and_monte_carlo() {
    let (ap, bp, aq, bq) = ([0.7, 2.0, 9.0], [1.0, 0.5, 3.0], [1.5, 2.0, 4.0], [2.0, 1.5, 1.0]);
    let p = Gamma::new(t1(&ap), t1(&bp)).unwrap();
    let q = Gamma::new(t1(&aq), t1(&bq)).unwrap();
    let closed = host(kl(&p, &q));
    for j in 0..3 {
        // In y = ln x (dx = e^y dy) the integrand is smooth; its tails beyond the range are < 1e-15.
        let (dp, dq) = (
            statrs::distribution::Gamma::new(ap[j], bp[j]).unwrap(),
            statrs::distribution::Gamma::new(aq[j], bq[j]).unwrap(),
        );
        let f = |y: f64| {
            let x = y.exp();
            dp.pdf(x) * (dp.ln_pdf(x) - dq.ln_pdf(x)) * x
        };
        let centre = (ap[j] / bp[j]).ln();
        let want = simpson(f, &[centre - 60.0 / ap[j], centre, centre + 4.0]);
        assert_rel(closed[j], want, 1e-8, "Gamma KL by quadrature");
    }
    let estimate = noise::with_seed(660, || host(kl_monte_carlo(&p, &q, N_KL).unwrap()));
    let (pn, qn) =
        (Gamma::new(rows(&ap, N_KL), rows(&bp, N_KL)).unwrap(), Gamma::new(rows(&aq, N_KL), rows(&bq, N_KL)).unwrap());
    let per_sample = noise::with_seed(661, || {
        let x = pn.rsample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    assert_within_4_se("Gamma||Gamma", &closed, &estimate, &per_sample, N_KL);

    // The inverse Gammas of the same parameters have the same KL; checked by Monte Carlo in x.
    let (p, q) = (InverseGamma::new(t1(&ap), t1(&bp)).unwrap(), InverseGamma::new(t1(&aq), t1(&bq)).unwrap());
    assert_eq!(host(kl(&p, &q)), closed);
    let estimate = noise::with_seed(662, || host(kl_monte_carlo(&p, &q, N_KL).unwrap()));
    let (pn, qn) = (
        InverseGamma::new(rows(&ap, N_KL), rows(&bp, N_KL)).unwrap(),
        InverseGamma::new(rows(&aq, N_KL), rows(&bq, N_KL)).unwrap(),
    );
    let per_sample = noise::with_seed(663, || {
        let x = pn.rsample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    assert_within_4_se("InverseGamma||InverseGamma", &closed, &estimate, &per_sample, N_KL);
}

#[test]
fn invalid_parameters_are_typed_errors() {
    let ok = t1(&[1.0, 1.0, 1.0]);
    for (bad, shown) in [(0.0, "0"), (-1.0, "-1"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        let v = t1(&[1.0, bad, 2.0]);
        expect_invalid(Gamma::new(v.clone(), ok.clone()), "Gamma", "concentration", shown);
        expect_invalid(Gamma::new(ok.clone(), v.clone()), "Gamma", "rate", shown);
        expect_invalid(InverseGamma::new(v.clone(), ok.clone()), "InverseGamma", "concentration", shown);
        expect_invalid(InverseGamma::new(ok.clone(), v.clone()), "InverseGamma", "rate", shown);
    }
}
