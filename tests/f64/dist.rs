//! Statistical and reference tests of `bayesburn::distributions`, on the f64 flex backend.
//!
//! - densities against statrs (or hand formulas built from statrs Normal densities);
//! - sample / rsample moments within 4 standard errors of the true moments;
//! - closed-form KL against Monte-Carlo estimates, within 4 standard errors computed here from
//!   the per-sample values of `ln p - ln q`;
//! - entropies against statrs and against `-E[ln p(x)]` by Monte Carlo;
//! - typed errors for invalid parameters; gradients of `rsample`.
//!
//! Every random draw is seeded through `noise::with_seed`, so each test is deterministic; the
//! tolerances come from the sample sizes, never from the observed output.

use bayesburn::distributions::{
    kl, kl_monte_carlo, kl_monte_carlo_with_error, kl_normal_f64, Bernoulli, Categorical, Distribution, Entropy,
    HalfNormal, KlDivergence, Laplace, LogNormal, Normal, Rsample, ScaleMixtureNormal, StudentT,
};
use bayesburn::{noise, Error};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use statrs::distribution::{Continuous, Discrete};
use statrs::statistics::Distribution as _;

use crate::support::stats::*;

const LOCS: [f64; 3] = [-1.5, 0.0, 2.0];
const SCALES: [f64; 3] = [0.3, 1.0, 2.5];
const XS: [f64; 8] = [-6.0, -2.0, -0.2, 0.0, 0.7, 1.9, 3.0, 8.0];

// ---------------------------------------------------------------------------------------------
// the device
// ---------------------------------------------------------------------------------------------

#[test]
fn device_is_f64_plain_and_autodiff() {
    let d = device();
    assert_eq!(Tensor::<1>::zeros([2], &d).dtype(), DType::F64);
    assert_eq!(Tensor::<1>::zeros([2], &d.clone().autodiff()).dtype(), DType::F64);
    let n = Normal::new(t1(&[0.0]), t1(&[1.0])).unwrap();
    assert_eq!(noise::with_seed(0, || n.sample()).dtype(), DType::F64);
    assert_eq!(Laplace::new(t1(&[0.0]), t1(&[1.0])).unwrap().sample().dtype(), DType::F64);
}

// ---------------------------------------------------------------------------------------------
// log_prob against statrs
// ---------------------------------------------------------------------------------------------

#[test]
fn normal_log_prob_matches_statrs() {
    let (l, s, x) = grid(&LOCS, &SCALES, &XS);
    let got = host(Normal::new(t1(&l), t1(&s)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let want = statrs::distribution::Normal::new(l[i], s[i]).unwrap().ln_pdf(x[i]);
        assert_rel(got[i], want, 1e-5, &format!("Normal({}, {}).log_prob({})", l[i], s[i], x[i]));
    }
}

#[test]
fn log_normal_log_prob_matches_statrs() {
    let xs = [-1.0, 0.0, 0.05, 0.5, 1.0, 2.7, 10.0];
    let (l, s, x) = grid(&LOCS, &SCALES, &xs);
    let got = host(LogNormal::new(t1(&l), t1(&s)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let want = statrs::distribution::LogNormal::new(l[i], s[i]).unwrap().ln_pdf(x[i]);
        assert_rel(got[i], want, 1e-5, &format!("LogNormal({}, {}).log_prob({})", l[i], s[i], x[i]));
    }
}

#[test]
fn half_normal_log_prob_matches_folded_normal() {
    let (_, s, x) = grid(&[0.0], &SCALES, &XS);
    let got = host(HalfNormal::new(t1(&s)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        // p(x) = 2 N(x; 0, s^2) on x >= 0.
        let want = if x[i] < 0.0 {
            f64::NEG_INFINITY
        } else {
            2f64.ln() + statrs::distribution::Normal::new(0.0, s[i]).unwrap().ln_pdf(x[i])
        };
        assert_rel(got[i], want, 1e-5, &format!("HalfNormal({}).log_prob({})", s[i], x[i]));
    }
}

#[test]
fn laplace_log_prob_matches_statrs() {
    let (l, s, x) = grid(&LOCS, &SCALES, &XS);
    let got = host(Laplace::new(t1(&l), t1(&s)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let want = statrs::distribution::Laplace::new(l[i], s[i]).unwrap().ln_pdf(x[i]);
        assert_rel(got[i], want, 1e-5, &format!("Laplace({}, {}).log_prob({})", l[i], s[i], x[i]));
    }
}

#[test]
fn student_t_log_prob_matches_statrs() {
    let (l, s, x) = grid(&LOCS, &SCALES, &XS);
    for df in [0.5, 1.0, 2.5, 10.0, 1e3] {
        let got = host(StudentT::new(df, t1(&l), t1(&s)).unwrap().log_prob(t1(&x)));
        for i in 0..x.len() {
            let want = statrs::distribution::StudentsT::new(l[i], s[i], df).unwrap().ln_pdf(x[i]);
            assert_rel(got[i], want, 1e-5, &format!("StudentT({df}, {}, {}).log_prob({})", l[i], s[i], x[i]));
        }
    }
}

#[test]
fn bernoulli_log_prob_matches_statrs_from_probs_and_logits() {
    let ps = [0.01f64, 0.2, 0.5, 0.9, 0.999];
    let (mut p, mut x) = (vec![], vec![]);
    for &pi in &ps {
        for xi in [0.0, 1.0] {
            p.push(pi);
            x.push(xi);
        }
    }
    let logits: Vec<f64> = p.iter().map(|p| (p / (1.0 - p)).ln()).collect();
    let from_probs = host(Bernoulli::from_probs(t1(&p)).unwrap().log_prob(t1(&x)));
    let from_logits = host(Bernoulli::from_logits(t1(&logits)).unwrap().log_prob(t1(&x)));
    for i in 0..x.len() {
        let want = statrs::distribution::Bernoulli::new(p[i]).unwrap().ln_pmf(x[i] as u64);
        assert_rel(from_probs[i], want, 1e-5, &format!("Bernoulli(probs {}).log_prob({})", p[i], x[i]));
        assert_rel(from_logits[i], want, 1e-5, &format!("Bernoulli(logits of {}).log_prob({})", p[i], x[i]));
    }
}

#[test]
fn categorical_log_prob_matches_statrs() {
    let probs = [[0.2, 0.3, 0.5], [0.7, 0.1, 0.2], [0.05, 0.05, 0.9]];
    let flat: Vec<f64> = probs.iter().flatten().copied().collect();
    let logits: Vec<f64> = flat.iter().map(|p| p.ln() + 1.7).collect(); // unnormalised on purpose
    let by_probs = Categorical::from_probs(t2(&flat, 3, 3)).unwrap();
    let by_logits = Categorical::from_logits(t2(&logits, 3, 3)).unwrap();
    for k in 0..3i64 {
        let value = Tensor::<2, Int>::from_data(TensorData::new(vec![k; 3], [3, 1]), &device());
        let a = host(by_probs.log_prob(value.clone()));
        let b = host(by_logits.log_prob(value));
        for (r, row) in probs.iter().enumerate() {
            let want = statrs::distribution::Categorical::new(row).unwrap().ln_pmf(k as u64);
            assert_rel(a[r], want, 1e-5, &format!("Categorical(probs {row:?}).log_prob({k})"));
            assert_rel(b[r], want, 1e-5, &format!("Categorical(logits of {row:?}).log_prob({k})"));
        }
    }
    // Out-of-range indices have probability 0.
    let value = Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, -1, 7], [3, 1]), &device());
    assert!(host(by_probs.log_prob(value)).iter().all(|&v| v == f64::NEG_INFINITY));
    // Values broadcast against the batch: [2, 3, 1] indices for a [1, 3, 3] batch.
    let batched = Categorical::from_probs(t2(&flat, 3, 3).unsqueeze::<3>()).unwrap();
    let value = Tensor::<3, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 2, 1, 0], [2, 3, 1]), &device());
    let got = host(batched.log_prob(value));
    let want = [probs[0][0], probs[1][1], probs[2][2], probs[0][2], probs[1][1], probs[2][0]];
    for (g, w) in got.iter().zip(want) {
        assert_rel(*g, w.ln(), 1e-12, "broadcast Categorical log_prob");
    }
}

#[test]
fn scale_mixture_log_prob_matches_hand_formula() {
    let xs = [-40.0, -3.0, -0.5, -0.01, 0.0, 0.02, 0.3, 1.0, 4.0, 40.0];
    for (pi, s1, s2) in [(0.5, 1.0, (-6.0f64).exp()), (0.25, 2.0, 0.1), (0.9, 0.5, 0.4)] {
        let d = ScaleMixtureNormal::new(pi, s1, s2, [xs.len()], &device()).unwrap();
        let got = host(d.log_prob(t1(&xs)));
        let n1 = statrs::distribution::Normal::new(0.0, s1).unwrap();
        let n2 = statrs::distribution::Normal::new(0.0, s2).unwrap();
        for (i, &x) in xs.iter().enumerate() {
            // log(pi N1 + (1 - pi) N2), as a log-sum-exp so far tails stay finite.
            let (a, b) = (pi.ln() + n1.ln_pdf(x), (1.0 - pi).ln() + n2.ln_pdf(x));
            let m = a.max(b);
            let want = m + ((a - m).exp() + (b - m).exp()).ln();
            assert_rel(got[i], want, 1e-5, &format!("ScaleMixture({pi}, {s1}, {s2}).log_prob({x})"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// moments of sample() and rsample()
// ---------------------------------------------------------------------------------------------

const S: usize = 20_000;

#[test]
fn normal_moments() {
    let (loc, scale) = ([0.5, -2.0], [1.0, 0.3]);
    let truth: Vec<Moments> = (0..2)
        .map(|j| {
            let n = statrs::distribution::Normal::new(loc[j], scale[j]).unwrap();
            Moments { mean: n.mean().unwrap(), var: n.variance().unwrap(), mu4: 3.0 * scale[j].powi(4) }
        })
        .collect();
    let d = Normal::new(rows(&loc, S), rows(&scale, S)).unwrap();
    check_closed_moments("Normal", &d, &truth);
    check_sampling("Normal", &d, S, &truth, 10);
}

#[test]
fn log_normal_moments() {
    let (loc, scale) = ([0.0, 0.5], [0.25, 0.5]);
    let truth: Vec<Moments> = (0..2)
        .map(|j| {
            // E[X^k] = exp(k loc + k^2 scale^2 / 2)
            let raw = |k: f64| (k * loc[j] + 0.5 * k * k * scale[j] * scale[j]).exp();
            let t = Moments::from_raw(raw(1.0), raw(2.0), raw(3.0), raw(4.0));
            let r = statrs::distribution::LogNormal::new(loc[j], scale[j]).unwrap();
            assert_rel(t.mean, r.mean().unwrap(), 1e-12, "statrs LogNormal mean");
            assert_rel(t.var, r.variance().unwrap(), 1e-12, "statrs LogNormal variance");
            t
        })
        .collect();
    let d = LogNormal::new(rows(&loc, S), rows(&scale, S)).unwrap();
    check_closed_moments("LogNormal", &d, &truth);
    check_sampling("LogNormal", &d, S, &truth, 20);
}

#[test]
fn log_normal_variance_keeps_precision_for_small_scale() {
    // expm1(s^2) exp(2 loc + s^2) at s = 1e-5: exp(s^2) - 1 would lose ~6 digits.
    let d = LogNormal::new(t1(&[0.3]), t1(&[1e-5])).unwrap();
    let want = (1e-10f64).exp_m1() * (0.6f64 + 1e-10).exp();
    assert_rel(host(d.variance())[0], want, 1e-12, "LogNormal variance at scale 1e-5");
}

#[test]
fn half_normal_moments() {
    let scale = [0.5, 2.0];
    let c = (2.0 / std::f64::consts::PI).sqrt();
    let truth: Vec<Moments> =
        scale.iter().map(|&s| Moments::from_raw(s * c, s * s, 2.0 * c * s.powi(3), 3.0 * s.powi(4))).collect();
    let d = HalfNormal::new(rows(&scale, S)).unwrap();
    check_closed_moments("HalfNormal", &d, &truth);
    check_sampling("HalfNormal", &d, S, &truth, 30);
}

#[test]
fn laplace_moments() {
    let (loc, scale) = ([1.0, -0.5], [0.5, 2.0]);
    let truth: Vec<Moments> = (0..2)
        .map(|j| {
            let r = statrs::distribution::Laplace::new(loc[j], scale[j]).unwrap();
            // Excess kurtosis 3: mu4 = 6 var^2 = 24 b^4.
            Moments { mean: r.mean().unwrap(), var: r.variance().unwrap(), mu4: 24.0 * scale[j].powi(4) }
        })
        .collect();
    let d = Laplace::new(rows(&loc, S), rows(&scale, S)).unwrap();
    check_closed_moments("Laplace", &d, &truth);
    check_sampling("Laplace", &d, S, &truth, 40);
}

#[test]
fn student_t_moments() {
    // df = 10: the fourth moment (needed for the SE of the sample variance) exists for df > 4.
    let df = 10.0;
    let (loc, scale) = ([0.0, 3.0], [1.0, 0.5]);
    let truth: Vec<Moments> = (0..2)
        .map(|j| {
            let r = statrs::distribution::StudentsT::new(loc[j], scale[j], df).unwrap();
            let mu4 = 3.0 * df * df / ((df - 2.0) * (df - 4.0)) * scale[j].powi(4);
            Moments { mean: r.mean().unwrap(), var: r.variance().unwrap(), mu4 }
        })
        .collect();
    let d = StudentT::new(df, rows(&loc, S), rows(&scale, S)).unwrap();
    check_closed_moments("StudentT", &d, &truth);
    check_sampling("StudentT", &d, S, &truth, 50);
}

#[test]
fn student_t_moments_that_do_not_exist() {
    let (loc, scale) = (t1(&[1.0]), t1(&[2.0]));
    let heavy = StudentT::new(1.5, loc.clone(), scale.clone()).unwrap();
    assert_eq!(host(heavy.mean()), vec![1.0]);
    assert_eq!(host(heavy.variance()), vec![f64::INFINITY]);
    let cauchy = StudentT::new(1.0, loc, scale).unwrap();
    assert!(host(cauchy.mean())[0].is_nan());
    assert!(host(cauchy.variance())[0].is_nan());
}

#[test]
fn bernoulli_moments() {
    let p = [0.1, 0.5, 0.85];
    let truth: Vec<Moments> = p
        .iter()
        .map(|&p| {
            let r = statrs::distribution::Bernoulli::new(p).unwrap();
            let pq = p * (1.0 - p);
            Moments { mean: r.mean().unwrap(), var: r.variance().unwrap(), mu4: pq * (1.0 - 3.0 * pq) }
        })
        .collect();
    let d = Bernoulli::from_probs(rows(&p, S)).unwrap();
    check_closed_moments("Bernoulli", &d, &truth);
    let drawn = noise::with_seed(60, || host(d.sample()));
    assert!(drawn.iter().all(|&x| x == 0.0 || x == 1.0));
    check_moments("Bernoulli sample", &drawn, S, &truth);
}

#[test]
fn scale_mixture_moments() {
    let (pi, s1, s2) = (0.3, 2.0, 0.2);
    let var = pi * s1 * s1 + (1.0 - pi) * s2 * s2;
    let truth = [Moments { mean: 0.0, var, mu4: 3.0 * (pi * s1.powi(4) + (1.0 - pi) * s2.powi(4)) }];
    let d = ScaleMixtureNormal::new(pi, s1, s2, [S, 1], &device()).unwrap();
    check_closed_moments("ScaleMixtureNormal", &d, &truth);
    let drawn = noise::with_seed(70, || host(d.sample()));
    check_moments("ScaleMixtureNormal sample", &drawn, S, &truth);
}

#[test]
fn categorical_sample_frequencies() {
    let probs = [[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]];
    let flat: Vec<f64> = probs.iter().flatten().copied().collect();
    let d = Categorical::from_probs(t2(&flat, 2, 3).unsqueeze::<3>().expand([S, 2, 3])).unwrap();
    let x = noise::with_seed(80, || d.sample());
    assert_eq!(x.dims(), [S, 2, 1]);
    let x = host_int(x);
    for (r, row) in probs.iter().enumerate() {
        for (k, &p) in row.iter().enumerate() {
            let count = x.iter().skip(r).step_by(2).filter(|&&v| v == k as i64).count() as f64;
            let se = (p * (1.0 - p) / S as f64).sqrt();
            assert!(
                (count / S as f64 - p).abs() <= 4.0 * se,
                "row {r} class {k}: frequency {}, p {p} (4 SE = {})",
                count / S as f64,
                4.0 * se
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// KL: closed forms against Monte Carlo
// ---------------------------------------------------------------------------------------------

/// Builds a two-parameter distribution from host slices.
fn pair<T>(build: impl Fn(Tensor<1>, Tensor<1>) -> T, a: &[f64], b: &[f64]) -> T {
    build(t1(a), t1(b))
}

const N_KL: usize = 2_000;

#[test]
fn normal_kl_matches_monte_carlo() {
    let (lp, sp, lq, sq) = ([0.0, 1.0, -0.5], [1.0, 0.5, 2.0], [0.3, -1.0, -0.5], [1.2, 1.0, 0.7]);
    let p = pair(|a, b| Normal::new(a, b).unwrap(), &lp, &sp);
    let q = pair(|a, b| Normal::new(a, b).unwrap(), &lq, &sq);
    let closed = host(kl(&p, &q));
    // Independent reference for the closed form itself.
    for j in 0..3 {
        let want = (sq[j] / sp[j]).ln() + (sp[j].powi(2) + (lp[j] - lq[j]).powi(2)) / (2.0 * sq[j].powi(2)) - 0.5;
        assert_rel(closed[j], want, 1e-12, "Normal KL textbook formula");
        // The f64 reference the fast forms are tested against (`tests/it/fused.rs`).
        assert_rel(kl_normal_f64(lp[j], sp[j], lq[j], sq[j]), want, 1e-12, "kl_normal_f64");
    }
    let estimate = noise::with_seed(100, || host(kl_monte_carlo(&p, &q, N_KL).unwrap()));
    let (pn, qn) = (
        Normal::new(rows(&lp, N_KL), rows(&sp, N_KL)).unwrap(),
        Normal::new(rows(&lq, N_KL), rows(&sq, N_KL)).unwrap(),
    );
    let per_sample = noise::with_seed(101, || {
        let x = pn.rsample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    assert_within_4_se("Normal||Normal", &closed, &estimate, &per_sample, N_KL);
}

#[test]
fn log_normal_kl_matches_monte_carlo() {
    let (lp, sp, lq, sq) = ([0.0, 0.5], [0.3, 0.8], [0.2, 0.0], [0.5, 1.0]);
    let p = pair(|a, b| LogNormal::new(a, b).unwrap(), &lp, &sp);
    let q = pair(|a, b| LogNormal::new(a, b).unwrap(), &lq, &sq);
    let closed = host(kl(&p, &q));
    // Quadrature with statrs densities in y = ln x (dx = e^y dy), over loc_p +- 12 scale_p.
    for j in 0..2 {
        let (dp, dq) = (
            statrs::distribution::LogNormal::new(lp[j], sp[j]).unwrap(),
            statrs::distribution::LogNormal::new(lq[j], sq[j]).unwrap(),
        );
        let f = |y: f64| {
            let x = y.exp();
            dp.pdf(x) * (dp.ln_pdf(x) - dq.ln_pdf(x)) * x
        };
        let want = simpson(f, &[lp[j] - 12.0 * sp[j], lp[j] + 12.0 * sp[j]]);
        assert_rel(closed[j], want, 1e-8, "LogNormal KL by quadrature");
    }
    let estimate = noise::with_seed(110, || host(kl_monte_carlo(&p, &q, N_KL).unwrap()));
    let (pn, qn) = (
        LogNormal::new(rows(&lp, N_KL), rows(&sp, N_KL)).unwrap(),
        LogNormal::new(rows(&lq, N_KL), rows(&sq, N_KL)).unwrap(),
    );
    let per_sample = noise::with_seed(111, || {
        let x = pn.rsample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    assert_within_4_se("LogNormal||LogNormal", &closed, &estimate, &per_sample, N_KL);
}

#[test]
fn laplace_kl_matches_monte_carlo() {
    let (lp, sp, lq, sq) = ([0.0, 1.0, 2.0], [1.0, 0.5, 2.0], [0.0, -1.0, 2.5], [2.0, 1.0, 0.5]);
    let p = pair(|a, b| Laplace::new(a, b).unwrap(), &lp, &sp);
    let q = pair(|a, b| Laplace::new(a, b).unwrap(), &lq, &sq);
    let closed = host(kl(&p, &q));
    // Quadrature with statrs densities, split at both kinks; +-40 scales leave < 1e-15 out.
    for j in 0..3 {
        let (dp, dq) = (
            statrs::distribution::Laplace::new(lp[j], sp[j]).unwrap(),
            statrs::distribution::Laplace::new(lq[j], sq[j]).unwrap(),
        );
        let breaks = [lp[j] - 40.0 * sp[j], lp[j].min(lq[j]), lp[j].max(lq[j]), lp[j] + 40.0 * sp[j]];
        let want = simpson(|x| dp.pdf(x) * (dp.ln_pdf(x) - dq.ln_pdf(x)), &breaks);
        assert_rel(closed[j], want, 1e-8, "Laplace KL by quadrature");
    }
    let estimate = noise::with_seed(120, || host(kl_monte_carlo(&p, &q, N_KL).unwrap()));
    let (pn, qn) = (
        Laplace::new(rows(&lp, N_KL), rows(&sp, N_KL)).unwrap(),
        Laplace::new(rows(&lq, N_KL), rows(&sq, N_KL)).unwrap(),
    );
    let per_sample = noise::with_seed(121, || {
        let x = pn.rsample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    assert_within_4_se("Laplace||Laplace", &closed, &estimate, &per_sample, N_KL);
}

#[test]
fn bernoulli_kl_matches_exact_sum_and_monte_carlo() {
    let (pp, pq) = ([0.1, 0.5, 0.97, 0.3], [0.4, 0.5, 0.6, 0.01]);
    let p = Bernoulli::from_probs(t1(&pp)).unwrap();
    let q = Bernoulli::from_logits(t1(&pq.map(|q: f64| (q / (1.0 - q)).ln()))).unwrap();
    let closed = host(kl(&p, &q));
    for j in 0..4 {
        // Exact: sum over the two outcomes with statrs masses.
        let (bp, bq) = (
            statrs::distribution::Bernoulli::new(pp[j]).unwrap(),
            statrs::distribution::Bernoulli::new(pq[j]).unwrap(),
        );
        let want: f64 = (0..2).map(|x| bp.pmf(x) * (bp.ln_pmf(x) - bq.ln_pmf(x))).sum();
        assert_rel(closed[j], want, 1e-10, &format!("Bernoulli KL({}, {})", pp[j], pq[j]));
    }
    // Monte Carlo through sample() (Bernoulli has no rsample, so kl_monte_carlo does not apply).
    let n = 20_000;
    let (pn, qn) = (Bernoulli::from_probs(rows(&pp, n)).unwrap(), Bernoulli::from_probs(rows(&pq, n)).unwrap());
    let per_sample = noise::with_seed(130, || {
        let x = pn.sample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    let stats = mean_and_se(&per_sample, 4);
    for j in 0..4 {
        assert!(
            (stats[j].0 - closed[j]).abs() <= 4.0 * stats[j].1,
            "Bernoulli KL[{j}]: {} vs {:?}",
            closed[j],
            stats[j]
        );
    }
}

#[test]
fn categorical_kl_matches_exact_sum_and_monte_carlo() {
    let pp = [[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]];
    let pq = [[0.4, 0.4, 0.2], [0.1, 0.1, 0.8]];
    let flat = |a: &[[f64; 3]; 2]| a.iter().flatten().copied().collect::<Vec<f64>>();
    let p = Categorical::from_probs(t2(&flat(&pp), 2, 3)).unwrap();
    let q = Categorical::from_logits(t2(&flat(&pq).iter().map(|v| v.ln()).collect::<Vec<_>>(), 2, 3)).unwrap();
    let closed = host(kl(&p, &q));
    assert_eq!(closed.len(), 2);
    for r in 0..2 {
        let (cp, cq) = (
            statrs::distribution::Categorical::new(&pp[r]).unwrap(),
            statrs::distribution::Categorical::new(&pq[r]).unwrap(),
        );
        let want: f64 = (0..3).map(|k| cp.pmf(k) * (cp.ln_pmf(k) - cq.ln_pmf(k))).sum();
        assert_rel(closed[r], want, 1e-10, &format!("Categorical KL row {r}"));
    }
    let n = 20_000;
    let pn = Categorical::from_probs(t2(&flat(&pp), 2, 3).unsqueeze::<3>().expand([n, 2, 3])).unwrap();
    let qn = Categorical::from_probs(t2(&flat(&pq), 2, 3).unsqueeze::<3>().expand([n, 2, 3])).unwrap();
    let per_sample = noise::with_seed(140, || {
        let x = pn.sample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    let stats = mean_and_se(&per_sample, 2);
    for r in 0..2 {
        assert!(
            (stats[r].0 - closed[r]).abs() <= 4.0 * stats[r].1,
            "Categorical KL[{r}]: {} vs {:?}",
            closed[r],
            stats[r]
        );
    }
}

#[test]
fn normal_to_scale_mixture_kl_matches_quadrature() {
    let (loc, scale) = ([0.0, 0.8], [0.05, 0.5]);
    let (pi, s1, s2) = (0.5f64, 1.0, (-3.0f64).exp());
    let mixture = |x: f64| {
        let (a, b) = (
            pi.ln() + statrs::distribution::Normal::new(0.0, s1).unwrap().ln_pdf(x),
            (1.0 - pi).ln() + statrs::distribution::Normal::new(0.0, s2).unwrap().ln_pdf(x),
        );
        let m = a.max(b);
        m + ((a - m).exp() + (b - m).exp()).ln()
    };
    // KL by quadrature over loc +- 12 scale (the tails beyond carry < 1e-30).
    let exact: Vec<f64> = (0..2)
        .map(|j| {
            let q = statrs::distribution::Normal::new(loc[j], scale[j]).unwrap();
            let f = |x: f64| q.pdf(x) * (q.ln_pdf(x) - mixture(x));
            simpson(f, &[loc[j] - 12.0 * scale[j], loc[j], loc[j] + 12.0 * scale[j]])
        })
        .collect();
    // The trait's one-sample estimate, averaged over n independent rows.
    let n = 20_000;
    let posterior = Normal::new(rows(&loc, n), rows(&scale, n)).unwrap();
    let prior = ScaleMixtureNormal::new(pi, s1, s2, [n, 2], &device()).unwrap();
    let one_sample = noise::with_seed(150, || host(posterior.kl(&prior)));
    let stats = mean_and_se(&one_sample, 2);
    for j in 0..2 {
        assert!(
            (stats[j].0 - exact[j]).abs() <= 4.0 * stats[j].1,
            "Normal||ScaleMixture[{j}]: quadrature {}, Monte Carlo {:?}",
            exact[j],
            stats[j]
        );
    }
    // kl_monte_carlo on the same pair agrees too; its reported SE matches the per-sample SE.
    let p = Normal::new(t1(&loc), t1(&scale)).unwrap();
    let q = prior.with_dims([2]);
    let est = noise::with_seed(151, || kl_monte_carlo_with_error(&p, &q, N_KL).unwrap());
    let (e, se) = (host(est.estimate), host(est.standard_error));
    for j in 0..2 {
        assert!((e[j] - exact[j]).abs() <= 4.0 * se[j], "kl_monte_carlo[{j}]: {} vs quadrature {}", e[j], exact[j]);
        // Per-sample SE from the 20 000 one-sample values, scaled to N_KL draws. The relative
        // SE of a sample SD is about sqrt((kurtosis - 1) / (4 n)); allow 4 of those (both
        // estimates are noisy), with the kurtosis measured from the per-sample values.
        let col = column(&one_sample, 2, j);
        let (m, v) = (mean(&col), var(&col));
        let kurt = col.iter().map(|x| (x - m).powi(4)).sum::<f64>() / col.len() as f64 / (v * v);
        let want_se = (v / N_KL as f64).sqrt();
        let rel = 4.0 * ((kurt - 1.0) / (4.0 * N_KL as f64)).sqrt() * 2f64.sqrt();
        assert!((se[j] / want_se - 1.0).abs() <= rel, "standard error[{j}]: reported {}, per-sample {want_se}", se[j]);
    }
}

#[test]
fn kl_monte_carlo_rejects_too_few_samples() {
    let p = Normal::new(t1(&[0.0]), t1(&[1.0])).unwrap();
    expect_invalid(kl_monte_carlo(&p, &p, 0), "kl_monte_carlo", "n_samples", "0");
    expect_invalid(
        kl_monte_carlo_with_error(&p, &p, 1).map(|e| e.estimate),
        "kl_monte_carlo_with_error",
        "n_samples",
        "1",
    );
}

// ---------------------------------------------------------------------------------------------
// entropy
// ---------------------------------------------------------------------------------------------

#[test]
fn continuous_entropies_match_statrs_and_monte_carlo() {
    let (loc, scale) = ([0.5, -1.0], [0.4, 3.0]);
    let n = 20_000;

    let e = host(Normal::new(t1(&loc), t1(&scale)).unwrap().entropy());
    let e_ln = host(LogNormal::new(t1(&loc), t1(&scale)).unwrap().entropy());
    let e_lap = host(Laplace::new(t1(&loc), t1(&scale)).unwrap().entropy());
    let e_half = host(HalfNormal::new(t1(&scale)).unwrap().entropy());
    for j in 0..2 {
        let want = statrs::distribution::Normal::new(loc[j], scale[j]).unwrap().entropy().unwrap();
        assert_rel(e[j], want, 1e-10, "Normal entropy");
        let want = statrs::distribution::LogNormal::new(loc[j], scale[j]).unwrap().entropy().unwrap();
        assert_rel(e_ln[j], want, 1e-10, "LogNormal entropy");
        let want = statrs::distribution::Laplace::new(loc[j], scale[j]).unwrap().entropy().unwrap();
        assert_rel(e_lap[j], want, 1e-10, "Laplace entropy");
        // Half-normal: the Normal's entropy minus ln 2 (folding halves the support, doubles p).
        let want = statrs::distribution::Normal::new(0.0, scale[j]).unwrap().entropy().unwrap() - 2f64.ln();
        assert_rel(e_half[j], want, 1e-10, "HalfNormal entropy");
    }
    check_entropy_by_monte_carlo("Normal", &e, &Normal::new(rows(&loc, n), rows(&scale, n)).unwrap(), 200);
    check_entropy_by_monte_carlo("LogNormal", &e_ln, &LogNormal::new(rows(&loc, n), rows(&scale, n)).unwrap(), 201);
    check_entropy_by_monte_carlo("Laplace", &e_lap, &Laplace::new(rows(&loc, n), rows(&scale, n)).unwrap(), 202);
    check_entropy_by_monte_carlo("HalfNormal", &e_half, &HalfNormal::new(rows(&scale, n)).unwrap(), 203);
}

#[test]
fn student_t_entropy_matches_statrs_and_monte_carlo() {
    // statrs 0.18's location-scale StudentsT entropy adds -ln(scale) where the entropy of
    // loc + scale * T is H(T) + ln(scale); compare with statrs at scale 1 and check the scale
    // dependence by Monte Carlo.
    for df in [0.7, 3.0, 10.0, 250.0] {
        let h = host(StudentT::new(df, t1(&[0.0, 2.0]), t1(&[1.0, 1.0])).unwrap().entropy());
        let want = statrs::distribution::StudentsT::new(0.0, 1.0, df).unwrap().entropy().unwrap();
        assert_rel(h[0], want, 1e-9, &format!("StudentT({df}) entropy"));
        assert_rel(h[1], want, 1e-9, &format!("StudentT({df}) entropy, shifted"));
    }
    // df = 10 so that ln p(x) has a finite variance (it does for any df, but the SE converges
    // faster with lighter tails).
    let (loc, scale) = ([0.0, 1.0], [0.5, 4.0]);
    let closed = host(StudentT::new(10.0, t1(&loc), t1(&scale)).unwrap().entropy());
    assert_rel(closed[1] - closed[0], (4.0f64 / 0.5).ln(), 1e-12, "StudentT entropy scale dependence");
    let n = 20_000;
    check_entropy_by_monte_carlo(
        "StudentT",
        &closed,
        &StudentT::new(10.0, rows(&loc, n), rows(&scale, n)).unwrap(),
        210,
    );
}

#[test]
fn discrete_entropies_match_statrs() {
    let p = [0.0, 0.01, 0.3, 0.5, 0.99, 1.0];
    let got = host(Bernoulli::from_probs(t1(&p)).unwrap().entropy());
    for (j, &pj) in p.iter().enumerate() {
        let want = statrs::distribution::Bernoulli::new(pj).unwrap().entropy().unwrap();
        // At p = 0 or 1 the logits are clamped at machine epsilon: the entropy is ~1e-14, not 0.
        assert!((got[j] - want).abs() <= 1e-5 * want.abs() + 1e-13, "Bernoulli({pj}) entropy {} vs {want}", got[j]);
    }
    let logits: Vec<f64> = p[1..5].iter().map(|p| (p / (1.0 - p)).ln()).collect();
    let got = host(Bernoulli::from_logits(t1(&logits)).unwrap().entropy());
    for (j, &pj) in p[1..5].iter().enumerate() {
        let want = statrs::distribution::Bernoulli::new(pj).unwrap().entropy().unwrap();
        assert_rel(got[j], want, 1e-10, &format!("Bernoulli(logits of {pj}) entropy"));
    }
    let probs = [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]];
    let flat: Vec<f64> = probs.iter().flatten().copied().collect();
    let got = host(Categorical::from_probs(t2(&flat, 3, 3)).unwrap().entropy());
    for (r, row) in probs.iter().enumerate() {
        let want = statrs::distribution::Categorical::new(row).unwrap().entropy().unwrap();
        assert_rel(got[r], want, 1e-10, &format!("Categorical {row:?} entropy"));
    }
}

// ---------------------------------------------------------------------------------------------
// invalid parameters
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_scales_are_typed_errors() {
    let loc = t1(&[0.0, 0.0, 0.0]);
    for (bad, shown) in [(0.0, "0"), (-1.0, "-1"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        let scale = t1(&[1.0, bad, 2.0]);
        expect_invalid(Normal::new(loc.clone(), scale.clone()), "Normal", "scale", shown);
        expect_invalid(LogNormal::new(loc.clone(), scale.clone()), "LogNormal", "scale", shown);
        expect_invalid(Laplace::new(loc.clone(), scale.clone()), "Laplace", "scale", shown);
        expect_invalid(HalfNormal::new(scale.clone()), "HalfNormal", "scale", shown);
        expect_invalid(StudentT::new(3.0, loc.clone(), scale.clone()), "StudentT", "scale", shown);
    }
    // The index of the first bad value is reported.
    let e = Normal::new(loc.clone(), t1(&[1.0, -1.0, -2.0])).unwrap_err().to_string();
    assert!(e.contains("-1 (at index [1])"), "{e}");
    expect_invalid(Normal::new(t1(&[f64::NAN, 0.0, 0.0]), t1(&[1.0; 3])), "Normal", "loc", "NaN");
}

#[test]
fn invalid_df_is_a_typed_error() {
    for (bad, shown) in [(0.0, "0"), (-2.0, "-2"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        expect_invalid(StudentT::new(bad, t1(&[0.0]), t1(&[1.0])), "StudentT", "df", shown);
    }
}

#[test]
fn invalid_probabilities_are_typed_errors() {
    for (bad, shown) in [(1.5, "1.5"), (-0.1, "-0.1"), (f64::NAN, "NaN")] {
        expect_invalid(Bernoulli::from_probs(t1(&[0.5, bad])), "Bernoulli", "probs", shown);
    }
    expect_invalid(Bernoulli::from_logits(t1(&[0.5, f64::NAN])), "Bernoulli", "logits", "NaN");
    expect_invalid(Categorical::from_probs(t2(&[0.5, -0.5, 1.0, 0.2, 0.3, 0.5], 2, 3)), "Categorical", "probs", "-0.5");
    expect_invalid(
        Categorical::from_probs(t2(&[0.5, 0.5, 0.0, 0.0, 0.0, 0.0], 2, 3)),
        "Categorical",
        "probs row sum (over the last dimension)",
        "0 (at index [1, 0])",
    );
    expect_invalid(
        Categorical::from_logits(t2(&[0.5, 0.5, f64::INFINITY, 0.0, 0.0, 0.0], 2, 3)),
        "Categorical",
        "logits",
        "inf",
    );
}

#[test]
fn invalid_mixture_parameters_are_typed_errors() {
    let d = device();
    for (bad, shown) in [(0.0, "0"), (1.0, "1"), (1.5, "1.5"), (f64::NAN, "NaN")] {
        expect_invalid(ScaleMixtureNormal::new(bad, 1.0, 0.1, [2], &d), "ScaleMixtureNormal", "pi", shown);
    }
    expect_invalid(ScaleMixtureNormal::new(0.5, -1.0, 0.1, [2], &d), "ScaleMixtureNormal", "sigma1", "-1");
    expect_invalid(ScaleMixtureNormal::new(0.5, 1.0, f64::NAN, [2], &d), "ScaleMixtureNormal", "sigma2", "NaN");
}

#[test]
fn shape_errors_are_typed() {
    let e = Normal::new(t1(&[0.0, 1.0]), t1(&[1.0, 1.0, 1.0])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { field: "scale", .. }), "{e}");
    // Broadcasting works where it should.
    let n = Normal::new(t2(&[0.0, 1.0, 2.0], 3, 1), t2(&[1.0, 2.0], 1, 2)).unwrap();
    assert_eq!(n.sample().dims(), [3, 2]);
    assert_eq!(host(n.mean()), vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
    let c = Categorical::from_probs(t2(&[0.5, 0.5], 1, 2)).unwrap();
    let e = c.try_log_prob(Tensor::<2, Int>::zeros([1, 2], &device())).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { field: "value", .. }), "{e}");
}

// ---------------------------------------------------------------------------------------------
// gradients
// ---------------------------------------------------------------------------------------------

fn leaf(v: &[f64]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &device().autodiff()).require_grad()
}

#[test]
fn rsample_is_differentiable_in_loc_and_sample_is_not() {
    let (l, s) = ([0.5, -1.0, 2.0], [1.0, 0.5, 3.0]);
    let ones = vec![1.0; 3];
    let check = |what: &str, loc: &Tensor<1>, x: Tensor<1>| {
        assert!(x.is_tracked(), "{what}: rsample should be on the graph");
        let grads = x.sum().backward();
        assert_eq!(host(loc.grad(&grads).expect("loc has a gradient")), ones, "{what}: d sum(rsample) / d loc");
    };

    let (loc, scale) = (leaf(&l), leaf(&s));
    let d = Normal::new(loc.clone(), scale.clone()).unwrap();
    assert!(!d.sample().is_tracked(), "sample() must be detached");
    check("Normal", &loc, noise::with_seed(300, || d.rsample()));

    let (loc, scale) = (leaf(&l), leaf(&s));
    check("Laplace", &loc, noise::with_seed(301, || Laplace::new(loc.clone(), scale).unwrap().rsample()));

    let (loc, scale) = (leaf(&l), leaf(&s));
    check("StudentT", &loc, noise::with_seed(302, || StudentT::new(5.0, loc.clone(), scale).unwrap().rsample()));

    // LogNormal: d exp(loc + scale eps) / d loc = the draw itself.
    let (loc, scale) = (leaf(&l), leaf(&s));
    let d = LogNormal::new(loc.clone(), scale).unwrap();
    assert!(!d.sample().is_tracked());
    let x = noise::with_seed(303, || d.rsample());
    let grads = x.clone().sum().backward();
    let (g, x) = (host(loc.grad(&grads).unwrap()), host(x));
    for j in 0..3 {
        assert_rel(g[j], x[j], 1e-12, "LogNormal d rsample / d loc");
    }

    // HalfNormal: d (scale |eps|) / d scale = draw / scale.
    let scale = leaf(&s);
    let x = noise::with_seed(304, || HalfNormal::new(scale.clone()).unwrap().rsample());
    let grads = x.clone().sum().backward();
    let (g, x) = (host(scale.grad(&grads).unwrap()), host(x));
    for j in 0..3 {
        assert_rel(g[j], x[j] / s[j], 1e-12, "HalfNormal d rsample / d scale");
    }
}

#[test]
fn scale_mixture_kl_is_differentiable() {
    let (loc, scale) = (leaf(&[0.1, -0.3]), leaf(&[0.2, 0.05]));
    let posterior = Normal::new(loc.clone(), scale.clone()).unwrap();
    let prior = ScaleMixtureNormal::new(0.5, 1.0, 0.01, [2], &device()).unwrap();
    let grads = noise::with_seed(310, || posterior.kl(&prior)).sum().backward();
    for g in [host(loc.grad(&grads).unwrap()), host(scale.grad(&grads).unwrap())] {
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    }
}
