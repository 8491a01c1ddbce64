//! Poisson, Binomial, NegativeBinomial and Geometric: masses against statrs within 1e-9, zero
//! mass off the support, sample moments within 4 SE, the Poisson KL against the exact sum and
//! Monte Carlo, typed errors.

use bayesburn::distributions::{kl, Binomial, Distribution, Geometric, NegativeBinomial, Poisson};
use bayesburn::noise;
use statrs::distribution::Discrete;

use crate::support::stats::*;

const S: usize = 20_000;
const TOL: f64 = 1e-9;

/// `(parameter, k)` for every pair, flattened.
fn pairs(params: &[f64], ks: &[f64]) -> (Vec<f64>, Vec<f64>) {
    params.iter().flat_map(|&p| ks.iter().map(move |&k| (p, k))).unzip()
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[test]
fn poisson_log_prob_matches_statrs() {
    let (r, k) = pairs(&[1e-3, 0.5, 3.0, 40.0, 1e4], &[0.0, 1.0, 2.0, 7.0, 55.0, 9_870.0]);
    let got = host(Poisson::new(t1(&r)).unwrap().log_prob(t1(&k)));
    for i in 0..k.len() {
        let want = statrs::distribution::Poisson::new(r[i]).unwrap().ln_pmf(k[i] as u64);
        assert_rel(got[i], want, TOL, &format!("Poisson({}).log_prob({})", r[i], k[i]));
    }
    let off = host(Poisson::new(t1(&[2.0; 3])).unwrap().log_prob(t1(&[-1.0, 0.5, 2.000_001])));
    assert!(off.iter().all(|&v| v == f64::NEG_INFINITY), "{off:?}");
}

#[test]
fn binomial_log_prob_matches_statrs_from_probs_and_logits() {
    for n in [1.0, 7.0, 60.0] {
        let (p, k) = pairs(
            &[0.01, 0.3, 0.5, 0.97],
            &(0..=n as usize).step_by(1 + n as usize / 12).map(|k| k as f64).collect::<Vec<_>>(),
        );
        let nn = vec![n; k.len()];
        let by_probs = host(Binomial::from_probs(t1(&nn), t1(&p)).unwrap().log_prob(t1(&k)));
        let l: Vec<f64> = p.iter().map(|&p| logit(p)).collect();
        let by_logits = host(Binomial::from_logits(t1(&nn), t1(&l)).unwrap().log_prob(t1(&k)));
        for i in 0..k.len() {
            let want = statrs::distribution::Binomial::new(p[i], n as u64).unwrap().ln_pmf(k[i] as u64);
            assert_rel(by_probs[i], want, TOL, &format!("Binomial({n}, {}).log_prob({})", p[i], k[i]));
            assert_rel(by_logits[i], want, TOL, &format!("Binomial({n}, logits of {}).log_prob({})", p[i], k[i]));
        }
    }
    let off = host(Binomial::from_probs(t1(&[5.0; 3]), t1(&[0.5; 3])).unwrap().log_prob(t1(&[-1.0, 6.0, 2.5])));
    assert!(off.iter().all(|&v| v == f64::NEG_INFINITY), "{off:?}");
}

#[test]
fn negative_binomial_log_prob_matches_statrs() {
    for r in [0.4, 1.0, 3.0, 25.5] {
        let (p, k) = pairs(&[0.05, 0.5, 0.9], &[0.0, 1.0, 4.0, 30.0, 400.0]);
        let rr = vec![r; k.len()];
        let by_probs = host(NegativeBinomial::from_probs(t1(&rr), t1(&p)).unwrap().log_prob(t1(&k)));
        let l: Vec<f64> = p.iter().map(|&p| logit(p)).collect();
        let by_logits = host(NegativeBinomial::from_logits(t1(&rr), t1(&l)).unwrap().log_prob(t1(&k)));
        let mean: Vec<f64> = p.iter().map(|&p| r * p / (1.0 - p)).collect();
        let by_mean = host(NegativeBinomial::from_mean(t1(&mean), t1(&rr)).unwrap().log_prob(t1(&k)));
        for i in 0..k.len() {
            // statrs counts failures before r successes of probability 1 - p.
            let want = statrs::distribution::NegativeBinomial::new(r, 1.0 - p[i]).unwrap().ln_pmf(k[i] as u64);
            let what = format!("NegativeBinomial({r}, {}).log_prob({})", p[i], k[i]);
            assert_rel(by_probs[i], want, TOL, &what);
            assert_rel(by_logits[i], want, TOL, &format!("{what} from logits"));
            assert_rel(by_mean[i], want, TOL, &format!("{what} from the mean"));
        }
    }
}

#[test]
fn geometric_log_prob_matches_statrs() {
    let (p, k) = pairs(&[0.02, 0.3, 0.5, 0.95], &[0.0, 1.0, 3.0, 40.0]);
    let got = host(Geometric::from_probs(t1(&p)).unwrap().log_prob(t1(&k)));
    let l: Vec<f64> = p.iter().map(|&p| logit(p)).collect();
    let by_logits = host(Geometric::from_logits(t1(&l)).unwrap().log_prob(t1(&k)));
    for i in 0..k.len() {
        // statrs counts trials (support 1, 2, ...): failures + 1.
        let want = statrs::distribution::Geometric::new(p[i]).unwrap().ln_pmf(k[i] as u64 + 1);
        assert_rel(got[i], want, TOL, &format!("Geometric({}).log_prob({})", p[i], k[i]));
        assert_rel(by_logits[i], want, TOL, &format!("Geometric(logits of {}).log_prob({})", p[i], k[i]));
    }
    let off = host(Geometric::from_probs(t1(&[0.5; 2])).unwrap().log_prob(t1(&[-2.0, 1.5])));
    assert!(off.iter().all(|&v| v == f64::NEG_INFINITY), "{off:?}");
}

fn check_counts<Dist: Distribution<2>>(what: &str, d: &Dist, truth: &[Moments], seed: u64) {
    check_closed_moments(what, d, truth);
    let drawn = noise::with_seed(seed, || host(d.sample()));
    assert!(drawn.iter().all(|&k| k >= 0.0 && k.fract() == 0.0), "{what}: draws are counts");
    check_moments(&format!("{what} sample"), &drawn, S, truth);
}

#[test]
fn poisson_moments() {
    let rate = [0.3, 4.0, 150.0];
    let truth: Vec<Moments> = rate.iter().map(|&l| Moments { mean: l, var: l, mu4: l + 3.0 * l * l }).collect();
    check_counts("Poisson", &Poisson::new(rows(&rate, S)).unwrap(), &truth, 900);
}

#[test]
fn binomial_moments() {
    let (n, p) = ([1.0, 12.0, 300.0], [0.3, 0.5, 0.02]);
    let truth: Vec<Moments> = (0..3)
        .map(|j| {
            let q = p[j] * (1.0 - p[j]);
            Moments { mean: n[j] * p[j], var: n[j] * q, mu4: n[j] * q * (1.0 + 3.0 * (n[j] - 2.0) * q) }
        })
        .collect();
    check_counts("Binomial", &Binomial::from_probs(rows(&n, S), rows(&p, S)).unwrap(), &truth, 910);
}

#[test]
fn negative_binomial_moments() {
    let (r, p): ([f64; 3], [f64; 3]) = ([0.7, 5.0, 30.0], [0.6, 0.2, 0.5]);
    let truth: Vec<Moments> = (0..3)
        .map(|j| {
            let var = r[j] * p[j] / (1.0 - p[j]).powi(2);
            // Excess kurtosis 6 / r + (1 - p)^2 / (r p).
            let excess = 6.0 / r[j] + (1.0 - p[j]).powi(2) / (r[j] * p[j]);
            Moments { mean: r[j] * p[j] / (1.0 - p[j]), var, mu4: var * var * (3.0 + excess) }
        })
        .collect();
    check_counts("NegativeBinomial", &NegativeBinomial::from_probs(rows(&r, S), rows(&p, S)).unwrap(), &truth, 920);
}

#[test]
fn geometric_moments() {
    let p = [0.1, 0.5, 0.9];
    let truth: Vec<Moments> = p
        .iter()
        .map(|&p| {
            let var = (1.0 - p) / (p * p);
            // Excess kurtosis 6 + p^2 / (1 - p).
            Moments { mean: (1.0 - p) / p, var, mu4: var * var * (9.0 + p * p / (1.0 - p)) }
        })
        .collect();
    check_counts("Geometric", &Geometric::from_probs(rows(&p, S)).unwrap(), &truth, 930);
    let sure = noise::with_seed(931, || host(Geometric::from_probs(t1(&[1.0; 4])).unwrap().sample()));
    assert_eq!(sure, vec![0.0; 4], "p = 1 succeeds at once");
}

#[test]
fn poisson_kl_matches_the_exact_sum_and_monte_carlo() {
    let (rp, rq) = ([0.5, 3.0, 10.0], [1.5, 3.0, 4.0]);
    let closed = host(kl(&Poisson::new(t1(&rp)).unwrap(), &Poisson::new(t1(&rq)).unwrap()));
    for j in 0..3 {
        let (p, q) =
            (statrs::distribution::Poisson::new(rp[j]).unwrap(), statrs::distribution::Poisson::new(rq[j]).unwrap());
        let want: f64 = (0..200).map(|k| p.pmf(k) * (p.ln_pmf(k) - q.ln_pmf(k))).sum();
        assert_rel(closed[j], want, 1e-12, &format!("Poisson KL({}, {})", rp[j], rq[j]));
    }
    let (pn, qn) = (Poisson::new(rows(&rp, S)).unwrap(), Poisson::new(rows(&rq, S)).unwrap());
    let per_sample = noise::with_seed(940, || {
        let x = pn.sample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    for (j, (m, se)) in mean_and_se(&per_sample, 3).into_iter().enumerate() {
        assert!((m - closed[j]).abs() <= 4.0 * se, "Poisson KL[{j}]: closed {}, Monte Carlo {m} (SE {se})", closed[j]);
    }
}

#[test]
fn invalid_parameters_are_typed_errors() {
    let ok = t1(&[0.5, 0.5, 0.5]);
    for (bad, shown) in [(0.0, "0"), (-1.0, "-1"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        expect_invalid(Poisson::new(t1(&[1.0, bad, 2.0])), "Poisson", "rate", shown);
        let r = t1(&[1.0, bad, 2.0]);
        expect_invalid(NegativeBinomial::from_probs(r.clone(), ok.clone()), "NegativeBinomial", "total_count", shown);
        expect_invalid(NegativeBinomial::from_mean(r.clone(), ok.clone()), "NegativeBinomial", "mean", shown);
        expect_invalid(NegativeBinomial::from_mean(ok.clone(), r), "NegativeBinomial", "concentration", shown);
    }
    for (bad, shown) in [(2.5, "2.5"), (-1.0, "-1"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        expect_invalid(Binomial::from_probs(t1(&[3.0, bad, 1.0]), ok.clone()), "Binomial", "total_count", shown);
    }
    let n = t1(&[3.0, 3.0, 3.0]);
    expect_invalid(Binomial::from_probs(n.clone(), t1(&[0.5, 1.5, 0.5])), "Binomial", "probs", "1.5 (at index [1])");
    expect_invalid(Binomial::from_logits(n.clone(), t1(&[0.5, f64::NAN, 0.5])), "Binomial", "logits", "NaN");
    expect_invalid(
        NegativeBinomial::from_probs(n.clone(), t1(&[0.5, 1.0, 0.5])),
        "NegativeBinomial",
        "probs",
        "1 (at index [1])",
    );
    expect_invalid(
        NegativeBinomial::from_logits(n, t1(&[0.5, f64::INFINITY, 0.5])),
        "NegativeBinomial",
        "logits",
        "inf",
    );
    for (bad, shown) in [(0.0, "0"), (1.2, "1.2"), (f64::NAN, "NaN")] {
        expect_invalid(Geometric::from_probs(t1(&[0.5, bad])), "Geometric", "probs", shown);
    }
    expect_invalid(Geometric::from_logits(t1(&[0.5, f64::NEG_INFINITY])), "Geometric", "logits", "-inf");
}
