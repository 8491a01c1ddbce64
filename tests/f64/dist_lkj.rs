//! LKJCholesky and the CorrCholesky constraint: the density of `n = 2` against the Beta law of
//! the correlation within 1e-9; the density of `n = 3` integrates to 1 through the constraint's
//! bijection (trapezoid rule in the unconstrained coordinates, so the normaliser and the
//! log-Jacobian are checked together); the log-Jacobian against finite differences; the
//! marginal law `2 Beta(b, b) - 1` of every correlation of the draws within 4 SE; typed errors.

use bayesburn::distributions::{Constraint, Distribution, LKJCholesky};
use bayesburn::{noise, Error};
use burn::prelude::*;
use burn::tensor::TensorData;
use statrs::distribution::Continuous;

use crate::support::stats::*;

fn t3(v: &[f64], dims: [usize; 3]) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v.to_vec(), dims), &device())
}

#[test]
fn lkj_2x2_log_prob_is_the_beta_law_of_the_correlation() {
    // L = [[1, 0], [r, sqrt(1 - r^2)]]: r = 2 u - 1 with u ~ Beta(eta, eta), so
    // p(r) = Beta((r + 1) / 2; eta, eta) / 2.
    let rs: [f64; 5] = [-0.95, -0.3, 0.0, 0.5, 0.999];
    for eta in [0.5, 1.0, 2.0, 7.5] {
        let l: Vec<f64> = rs.iter().flat_map(|&r| [1.0, 0.0, r, (1.0 - r * r).sqrt()]).collect();
        let d = LKJCholesky::new(2, t3(&vec![eta; rs.len()], [rs.len(), 1, 1])).unwrap();
        let got = host(d.log_prob(t3(&l, [rs.len(), 2, 2])));
        for (i, &r) in rs.iter().enumerate() {
            let want = statrs::distribution::Beta::new(eta, eta).unwrap().ln_pdf((r + 1.0) / 2.0) - 2f64.ln();
            assert_rel(got[i], want, 1e-9, &format!("LKJCholesky(2, {eta}) at r = {r}"));
        }
    }
}

#[test]
fn lkj_3x3_density_integrates_to_one_through_the_bijection() {
    // int exp(ln p(T(u)) + ln |det dT/du|) du over R^3, by the trapezoid rule on [-9, 9]^3
    // (the integrand decays like e^(-2 |u|) or faster, so the rule converges quickly).
    let (k, half) = (61usize, 9.0);
    let h = 2.0 * half / (k - 1) as f64;
    let grid: Vec<f64> = (0..k).map(|i| -half + i as f64 * h).collect();
    let u: Vec<f64> = (0..k * k * k).flat_map(|i| [grid[i / (k * k)], grid[(i / k) % k], grid[i % k]]).collect();
    let rows = k * k * k;
    let shape = [rows, 3, 3];
    let c = Constraint::CorrCholesky;
    assert_eq!(c.unconstrained_len(&shape).unwrap(), 3 * rows);
    // The log-Jacobian of `forward` is a sum over rows; take it row by row instead.
    let (x, log_det) = c.forward(t1(&u), &shape).unwrap();
    let x: Tensor<3> = x.reshape(shape);
    // `forward` sums the log-Jacobian over the rows; per row it is
    // ln(1 - z10^2) + ln(1 - z20^2) + ln(1 - z21^2) + ln(1 - L_20^2) / 2, with L_20 = z20.
    let per_row_log_det: Vec<f64> = u
        .chunks(3)
        .map(|r| {
            let (z10, z20, z21) = (r[0].tanh(), r[1].tanh(), r[2].tanh());
            (1.0 - z10 * z10).ln() + (1.0 - z20 * z20).ln() + (1.0 - z21 * z21).ln() + 0.5 * (1.0 - z20 * z20).ln()
        })
        .collect();
    let total_log_det = host(log_det)[0];
    let want: f64 = per_row_log_det.iter().sum();
    assert!((total_log_det - want).abs() <= 1e-9 * want.abs(), "summed log det {total_log_det} vs {want}");
    for eta in [1.0, 2.5] {
        let d = LKJCholesky::new(3, Tensor::<3>::full([1, 1, 1], eta, &device())).unwrap();
        let lp = host(d.log_prob(x.clone()));
        let total: f64 = lp.iter().zip(&per_row_log_det).map(|(a, b)| (a + b).exp()).sum::<f64>() * h.powi(3);
        assert!((total - 1.0).abs() < 1e-6, "LKJCholesky(3, {eta}) integrates to {total}");
    }
}

#[test]
fn corr_cholesky_bijection_round_trips_and_its_log_det_matches_finite_differences() {
    let c = Constraint::CorrCholesky;
    let u = [0.3, -1.2, 0.8, 2.0, -0.1, 0.5]; // one 4 x 4 factor
    let shape = [1, 4, 4];
    let (x, log_det) = c.forward(t1(&u), &shape).unwrap();
    let xs = host(x.clone());
    for i in 0..4 {
        let norm: f64 = (0..4).map(|j| xs[i * 4 + j].powi(2)).sum();
        assert!((norm - 1.0).abs() < 1e-12 && xs[i * 4 + i] > 0.0, "row {i} of a correlation factor");
        assert!(((i + 1)..4).all(|j| xs[i * 4 + j] == 0.0), "lower triangular");
    }
    let back = host(c.inverse(x, &shape).unwrap());
    for (a, b) in u.iter().zip(&back) {
        assert!((a - b).abs() < 1e-10, "round trip {u:?} -> {back:?}");
    }
    // Jacobian of the 6 strictly lower entries against the 6 coordinates.
    let lower = |v: &[f64]| {
        let x = host(c.forward(t1(v), &shape).unwrap().0);
        [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)].map(|(i, j)| x[i * 4 + j])
    };
    let h = 1e-6;
    let mut jac = vec![vec![0.0; 6]; 6];
    for j in 0..6 {
        let (mut a, mut b) = (u, u);
        a[j] += h;
        b[j] -= h;
        let (fa, fb) = (lower(&a), lower(&b));
        for i in 0..6 {
            jac[i][j] = (fa[i] - fb[i]) / (2.0 * h);
        }
    }
    // ln |det| by Gaussian elimination.
    let mut want = 0.0;
    for col in 0..6 {
        let p = (col..6).max_by(|&a, &b| jac[a][col].abs().total_cmp(&jac[b][col].abs())).unwrap();
        jac.swap(col, p);
        want += jac[col][col].abs().ln();
        for r in (col + 1)..6 {
            let f = jac[r][col] / jac[col][col];
            let pivot = jac[col].clone();
            for (v, q) in jac[r].iter_mut().zip(&pivot) {
                *v -= f * q;
            }
        }
    }
    let got = host(log_det)[0];
    assert!((got - want).abs() < 1e-6, "log det {got} vs finite differences {want}");
}

#[test]
fn lkj_draws_have_the_marginal_beta_law_of_each_correlation() {
    let (n, s) = (3, 20_000);
    for eta in [1.0, 4.0] {
        let d = LKJCholesky::new(n, Tensor::<3>::full([s, 1, 1], eta, &device())).unwrap();
        let l = noise::with_seed(1300 + eta as u64, || host(d.sample()));
        // Correlations of L L^T: (1, 0), (2, 0), (2, 1).
        let mut corr = Vec::with_capacity(3 * s);
        for m in l.chunks(9) {
            for row in m.chunks(3) {
                assert!((row.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12, "unit rows");
            }
            assert!(m[0] > 0.0 && m[4] > 0.0 && m[8] > 0.0 && m[1] == 0.0 && m[2] == 0.0 && m[5] == 0.0);
            corr.extend([m[3], m[6], m[6] * m[3] + m[7] * m[4]]);
        }
        // r = 2 u - 1, u ~ Beta(b, b), b = eta - 1 + n / 2: mean 0, variance 1 / (2 b + 1),
        // E[r^4] = 3 / ((2 b + 1) (2 b + 3)).
        let b = eta - 1.0 + n as f64 / 2.0;
        let var = 1.0 / (2.0 * b + 1.0);
        let truth = [Moments { mean: 0.0, var, mu4: 3.0 / ((2.0 * b + 1.0) * (2.0 * b + 3.0)) }; 3];
        check_moments(&format!("LKJCholesky(3, {eta}) correlations"), &corr, s, &truth);
    }
}

#[test]
fn lkj_errors_are_typed() {
    expect_invalid(
        LKJCholesky::new(3, t3(&[1.0, 0.0], [2, 1, 1])),
        "LKJCholesky",
        "concentration",
        "0 (at index [1, 0, 0])",
    );
    expect_invalid(LKJCholesky::new(1, t3(&[1.0], [1, 1, 1])), "LKJCholesky", "dimension", "1");
    let e = LKJCholesky::new(3, t3(&[1.0, 1.0], [1, 2, 1])).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { field: "concentration", .. }), "{e}");
    assert!(matches!(Constraint::CorrCholesky.unconstrained_len(&[2, 3]), Err(Error::ShapeMismatch { .. })));
}
