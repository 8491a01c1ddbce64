//! `Independent` / `to_event` and `MixtureSameFamily`: summed densities, entropies and KLs;
//! mixture densities against a host log-sum-exp of statrs densities within 1e-9 (Normal,
//! Poisson and Gamma components), moments of the mixture and of its draws within 4 SE, the KL
//! of a Normal to a mixture by Monte Carlo against quadrature, typed errors.

use bayesburn::distributions::{
    kl, kl_monte_carlo_with_error, Categorical, Distribution, Entropy, Gamma, Independent, MixtureSameFamily, Normal,
    Poisson, ToEvent,
};
use bayesburn::{noise, Error};
use statrs::distribution::{Continuous, Discrete};
use statrs::statistics::Distribution as _;

use crate::support::stats::*;

const S: usize = 20_000;
const TOL: f64 = 1e-9;

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

#[test]
fn independent_sums_log_prob_entropy_and_kl_over_the_event() {
    let (loc, scale) = ([0.0, 1.0, -2.0, 0.5, 0.3, 4.0], [1.0, 0.5, 2.0, 0.2, 1.5, 3.0]);
    let x = [0.3, 1.1, -4.0, 0.4, 0.0, 9.0];
    let base = Normal::new(t2(&loc, 2, 3), t2(&scale, 2, 3)).unwrap();
    let rows_lp = host(Independent::new(base.clone(), 1).unwrap().log_prob(t2(&x, 2, 3)));
    let all_lp = host(base.clone().to_event(2).unwrap().log_prob(t2(&x, 2, 3)));
    let lp: Vec<f64> =
        (0..6).map(|i| statrs::distribution::Normal::new(loc[i], scale[i]).unwrap().ln_pdf(x[i])).collect();
    assert_eq!(rows_lp.len(), 2);
    assert_rel(rows_lp[0], lp[..3].iter().sum(), TOL, "Independent(1) row 0");
    assert_rel(rows_lp[1], lp[3..].iter().sum(), TOL, "Independent(1) row 1");
    assert_rel(all_lp[0], lp.iter().sum(), TOL, "Independent(2)");

    let d = Independent::new(base.clone(), 1).unwrap();
    let h = host(d.entropy());
    let hs: Vec<f64> =
        (0..6).map(|i| statrs::distribution::Normal::new(loc[i], scale[i]).unwrap().entropy().unwrap()).collect();
    assert_rel(h[1], hs[3..].iter().sum(), 1e-12, "Independent entropy");
    let q = Normal::new(t2(&[0.0; 6], 2, 3), t2(&[1.0; 6], 2, 3)).unwrap();
    let elementwise = host(kl(&base, &q));
    let summed = host(kl(&d, &Independent::new(q, 1).unwrap()));
    assert_rel(summed[0], elementwise[..3].iter().sum(), 1e-12, "Independent KL");
    assert_eq!(host(d.mean()), loc.to_vec(), "draws and moments are the base's");

    for bad in [0, 3] {
        expect_invalid(Independent::new(base.clone(), bad), "Independent", "reinterpreted", &bad.to_string());
    }
}

#[test]
fn mixture_log_prob_matches_a_log_sum_exp_of_statrs_densities() {
    // Two rows of three Normal components.
    let w = [0.2, 0.5, 0.3, 0.6, 0.3, 0.1];
    let (m, s) = ([-3.0, 0.0, 4.0, 1.0, 1.5, 10.0], [0.5, 1.0, 2.0, 0.1, 3.0, 1.0]);
    let mixture = MixtureSameFamily::new(
        Categorical::from_probs(t2(&w, 2, 3)).unwrap(),
        Normal::new(t2(&m, 2, 3), t2(&s, 2, 3)).unwrap(),
    )
    .unwrap();
    for x in [-40.0, -3.1, 0.0, 2.0, 1e3] {
        let got = host(mixture.log_prob(t2(&[x, x], 2, 1)));
        for r in 0..2 {
            let terms: Vec<f64> = (0..3)
                .map(|k| {
                    w[3 * r + k].ln() + statrs::distribution::Normal::new(m[3 * r + k], s[3 * r + k]).unwrap().ln_pdf(x)
                })
                .collect();
            assert_rel(got[r], log_sum_exp(&terms), TOL, &format!("Normal mixture row {r} at {x}"));
        }
    }
    // A discrete family, and a family with a bounded support (-inf outside, not NaN).
    let poisson = MixtureSameFamily::new(
        Categorical::from_probs(t2(&[0.4, 0.6], 1, 2)).unwrap(),
        Poisson::new(t2(&[1.0, 9.0], 1, 2)).unwrap(),
    )
    .unwrap();
    for k in [0u64, 3, 9, 30] {
        let got = host(poisson.log_prob(t2(&[k as f64], 1, 1)))[0];
        let want = log_sum_exp(&[
            0.4f64.ln() + statrs::distribution::Poisson::new(1.0).unwrap().ln_pmf(k),
            0.6f64.ln() + statrs::distribution::Poisson::new(9.0).unwrap().ln_pmf(k),
        ]);
        assert_rel(got, want, TOL, &format!("Poisson mixture at {k}"));
    }
    let gamma = MixtureSameFamily::new(
        Categorical::from_probs(t2(&[0.5, 0.5], 1, 2)).unwrap(),
        Gamma::new(t2(&[2.0, 5.0], 1, 2), t2(&[1.0, 1.0], 1, 2)).unwrap(),
    )
    .unwrap();
    assert_eq!(host(gamma.log_prob(t2(&[-1.0], 1, 1))), vec![f64::NEG_INFINITY]);
}

#[test]
fn mixture_moments_and_draws() {
    let (w, m, s) = ([0.3, 0.7], [-2.0, 1.0], [0.5, 1.5]);
    // Raw moments of a Normal mixture: sum_k w_k E_k[x^n].
    let raw = |n: i32| -> f64 {
        (0..2)
            .map(|k| {
                let (mu, sd): (f64, f64) = (m[k], s[k]);
                let e = match n {
                    1 => mu,
                    2 => mu * mu + sd * sd,
                    3 => mu.powi(3) + 3.0 * mu * sd * sd,
                    _ => mu.powi(4) + 6.0 * mu * mu * sd * sd + 3.0 * sd.powi(4),
                };
                w[k] * e
            })
            .sum()
    };
    let truth = [Moments::from_raw(raw(1), raw(2), raw(3), raw(4))];
    let mixture = MixtureSameFamily::new(
        Categorical::from_probs(rows(&w, S)).unwrap(),
        Normal::new(rows(&m, S), rows(&s, S)).unwrap(),
    )
    .unwrap();
    assert_eq!(mixture.dims(), [S, 1]);
    check_closed_moments("MixtureSameFamily", &mixture, &truth);
    let drawn = noise::with_seed(1200, || host(mixture.sample()));
    check_moments("MixtureSameFamily sample", &drawn, S, &truth);
}

#[test]
fn normal_to_mixture_kl_by_monte_carlo_matches_quadrature() {
    let (w, m, s) = ([0.5, 0.5], [-1.0, 1.5], [0.7, 0.4]);
    let q = MixtureSameFamily::new(
        Categorical::from_probs(t2(&w, 1, 2)).unwrap(),
        Normal::new(t2(&m, 1, 2), t2(&s, 1, 2)).unwrap(),
    )
    .unwrap();
    let p = Normal::new(t2(&[0.3], 1, 1), t2(&[0.9], 1, 1)).unwrap();
    let ln_q = |x: f64| {
        log_sum_exp(&[
            w[0].ln() + statrs::distribution::Normal::new(m[0], s[0]).unwrap().ln_pdf(x),
            w[1].ln() + statrs::distribution::Normal::new(m[1], s[1]).unwrap().ln_pdf(x),
        ])
    };
    let dp = statrs::distribution::Normal::new(0.3, 0.9).unwrap();
    let exact = simpson(|x| dp.pdf(x) * (dp.ln_pdf(x) - ln_q(x)), &[0.3 - 12.0 * 0.9, 0.3, 0.3 + 12.0 * 0.9]);
    let est = noise::with_seed(1210, || kl_monte_carlo_with_error(&p, &q, 4_000).unwrap());
    let (e, se) = (host(est.estimate)[0], host(est.standard_error)[0]);
    assert!((e - exact).abs() <= 4.0 * se, "KL(Normal || mixture): Monte Carlo {e} (SE {se}), quadrature {exact}");
}

#[test]
fn mixture_shape_errors_are_typed() {
    let weights = Categorical::from_probs(t2(&[0.5, 0.5], 1, 2)).unwrap();
    let e =
        MixtureSameFamily::new(weights, Normal::new(t2(&[0.0; 3], 1, 3), t2(&[1.0; 3], 1, 3)).unwrap()).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { field: "components", .. }), "{e}");
}
