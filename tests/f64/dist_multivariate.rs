//! Dirichlet and MultivariateNormal: densities against closed forms built independently on the
//! host (Gauss–Jordan inverses and determinants for the normal, statrs's `ln Gamma` for the
//! Dirichlet, and the Beta / product-of-Normals special cases), batching and broadcasting,
//! moments (and a covariance) of `sample` / `rsample` within 4 SE, the pathwise gradient of the
//! Dirichlet, entropies and the closed-form KLs against Monte Carlo, typed errors.

use bayesburn::distributions::{
    kl, kl_monte_carlo, Beta, Dirichlet, Distribution, Entropy, MultivariateNormal, Rsample,
};
use bayesburn::{noise, Error};
use burn::prelude::*;
use burn::tensor::TensorData;
use statrs::distribution::Continuous;
use statrs::function::gamma::{digamma, ln_gamma};

use crate::support::stats::*;

const S: usize = 20_000;
const N_KL: usize = 2_000;
const TOL: f64 = 1e-9;

fn t3(v: &[f64], dims: [usize; 3]) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v.to_vec(), dims), &device())
}

/// `[s, k]` rows: `v` repeated `s` times.
fn repeat(v: &[f64], s: usize) -> Tensor<2> {
    rows(v, s)
}

// ---------------------------------------------------------------------------------------------
// Dirichlet
// ---------------------------------------------------------------------------------------------

fn dirichlet_ln_pdf(a: &[f64], x: &[f64]) -> f64 {
    let a0: f64 = a.iter().sum();
    ln_gamma(a0) - a.iter().map(|&v| ln_gamma(v)).sum::<f64>()
        + a.iter().zip(x).map(|(&a, &x)| (a - 1.0) * x.ln()).sum::<f64>()
}

#[test]
fn dirichlet_log_prob_matches_the_closed_form_and_beta() {
    let alphas = [[0.3, 1.0, 2.5, 9.0], [1.0, 1.0, 1.0, 1.0], [50.0, 0.7, 3.0, 120.0]];
    let xs = [[0.1, 0.2, 0.3, 0.4], [0.97, 0.01, 0.01, 0.01], [0.25, 0.25, 0.25, 0.25]];
    let a: Vec<f64> = alphas.iter().flat_map(|r| xs.iter().map(move |_| *r)).flatten().collect();
    let x: Vec<f64> = alphas.iter().flat_map(|_| xs.iter().flatten().copied()).collect();
    let got = host(Dirichlet::new(t2(&a, 9, 4)).unwrap().log_prob(t2(&x, 9, 4)));
    assert_eq!(got.len(), 9, "one log-density per row");
    for r in 0..9 {
        let want = dirichlet_ln_pdf(&a[4 * r..4 * r + 4], &x[4 * r..4 * r + 4]);
        assert_rel(got[r], want, TOL, &format!("Dirichlet row {r}"));
    }
    // K = 2 is the Beta of the first coordinate.
    let (ab, p) = ([[0.4, 2.0], [3.0, 3.0], [20.0, 0.9]], [0.3, 0.5, 0.999]);
    let d = Dirichlet::new(t2(&ab.iter().flatten().copied().collect::<Vec<_>>(), 3, 2)).unwrap();
    let got = host(d.log_prob(t2(&p.iter().flat_map(|&p| [p, 1.0 - p]).collect::<Vec<_>>(), 3, 2)));
    for j in 0..3 {
        let want = statrs::distribution::Beta::new(ab[j][0], ab[j][1]).unwrap().ln_pdf(p[j]);
        assert_rel(got[j], want, TOL, "Dirichlet with K = 2 against Beta");
    }
    let off = host(Dirichlet::new(t2(&[1.0, 2.0], 1, 2)).unwrap().log_prob(t2(&[-0.1, 1.1], 1, 2)));
    assert_eq!(off, vec![f64::NEG_INFINITY]);
}

#[test]
fn dirichlet_moments_and_simplex_draws() {
    let a = [0.5, 2.0, 7.0];
    let a0: f64 = a.iter().sum();
    // Each coordinate is Beta(a_k, a_0 - a_k): E[x^n] = prod_{j<n} (a_k + j) / (a_0 + j).
    let truth: Vec<Moments> = a
        .iter()
        .map(|&ak| {
            let raw = |n: usize| (0..n).map(|j| (ak + j as f64) / (a0 + j as f64)).product::<f64>();
            Moments::from_raw(raw(1), raw(2), raw(3), raw(4))
        })
        .collect();
    let d = Dirichlet::new(repeat(&a, S)).unwrap();
    check_closed_moments("Dirichlet", &d, &truth);
    check_sampling("Dirichlet", &d, S, &truth, 1000);
    let x = noise::with_seed(1002, || host(d.sample()));
    assert!(x.chunks(3).all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-12 && r.iter().all(|&v| v > 0.0)));
}

#[test]
fn dirichlet_rsample_gradient_is_unbiased() {
    // E[x_0] = a_0 / A (A = sum a), so d/da_0 = (A - a_0) / A^2 and d/da_j = -a_0 / A^2 for j > 0.
    let a = [0.6, 1.5, 4.0];
    let total: f64 = a.iter().sum();
    let data: Vec<f64> = (0..S).flat_map(|_| a).collect();
    let alpha = Tensor::<2>::from_data(TensorData::new(data, [S, 3]), &device().autodiff()).require_grad();
    let d = Dirichlet::new(alpha.clone()).unwrap();
    assert!(!d.sample().is_tracked(), "sample() must be detached");
    let x = noise::with_seed(1010, || d.rsample());
    let grads = x.slice(s![.., 0..1]).sum().backward();
    let stats = mean_and_se(&host(alpha.grad(&grads).unwrap()), 3);
    for (j, (got, se)) in stats.into_iter().enumerate() {
        let want = if j == 0 { (total - a[0]) / total.powi(2) } else { -a[0] / total.powi(2) };
        assert!((got - want).abs() <= 4.0 * se, "E[dx_0 / da_{j}]: {got} (SE {se}), want {want}");
    }
}

#[test]
fn dirichlet_entropy_and_kl_match_beta_and_monte_carlo() {
    // K = 2: the entropy and KL of the Beta of the first coordinate (statrs for the entropy).
    let (p2, q2) = ([1.5, 0.7], [2.0, 3.0]);
    let (dp, dq) = (Dirichlet::new(t2(&p2, 1, 2)).unwrap(), Dirichlet::new(t2(&q2, 1, 2)).unwrap());
    let want = statrs::distribution::Beta::new(p2[0], p2[1]).unwrap();
    assert_rel(
        host(dp.entropy())[0],
        statrs::statistics::Distribution::entropy(&want).unwrap(),
        1e-9,
        "Dirichlet K=2 entropy",
    );
    let beta_kl =
        host(kl(&Beta::new(t1(&[p2[0]]), t1(&[p2[1]])).unwrap(), &Beta::new(t1(&[q2[0]]), t1(&[q2[1]])).unwrap()));
    assert_rel(host(kl(&dp, &dq))[0], beta_kl[0], 1e-12, "Dirichlet K=2 KL against the Beta KL");

    let (a, b) = ([[0.8, 2.0, 1.2], [4.0, 4.0, 4.0]], [[1.0, 1.0, 1.0], [2.0, 6.0, 1.5]]);
    let (af, bf): (Vec<f64>, Vec<f64>) = (a.iter().flatten().copied().collect(), b.iter().flatten().copied().collect());
    let closed_h = host(Dirichlet::new(t2(&af, 2, 3)).unwrap().entropy());
    for r in 0..2 {
        // ln B(a) + (a_0 - K) psi(a_0) - sum (a_k - 1) psi(a_k), from statrs's scalar functions.
        let a0: f64 = a[r].iter().sum();
        let want = a[r].iter().map(|&v| ln_gamma(v)).sum::<f64>() - ln_gamma(a0) + (a0 - 3.0) * digamma(a0)
            - a[r].iter().map(|&v| (v - 1.0) * digamma(v)).sum::<f64>();
        assert_rel(closed_h[r], want, 1e-9, "Dirichlet entropy");
    }
    let n = 20_000;
    let big = |v: &[f64]| Tensor::<3>::from_data(TensorData::new(v.to_vec(), [1, 2, 3]), &device()).expand([n, 2, 3]);
    let pn = Dirichlet::new(big(&af)).unwrap();
    let per_sample = noise::with_seed(1020, || host(pn.log_prob(pn.sample()).neg()));
    for (r, (m, se)) in mean_and_se(&per_sample, 2).into_iter().enumerate() {
        assert!(
            (m - closed_h[r]).abs() <= 4.0 * se,
            "Dirichlet entropy[{r}]: {} vs Monte Carlo {m} (SE {se})",
            closed_h[r]
        );
    }

    let (p, q) = (Dirichlet::new(t2(&af, 2, 3)).unwrap(), Dirichlet::new(t2(&bf, 2, 3)).unwrap());
    let closed = host(kl(&p, &q));
    let estimate = noise::with_seed(1021, || host(kl_monte_carlo(&p, &q, N_KL).unwrap()));
    let big =
        |v: &[f64]| Tensor::<3>::from_data(TensorData::new(v.to_vec(), [1, 2, 3]), &device()).expand([N_KL, 2, 3]);
    let (pn, qn) = (Dirichlet::new(big(&af)).unwrap(), Dirichlet::new(big(&bf)).unwrap());
    let per_sample = noise::with_seed(1022, || {
        let x = pn.rsample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    assert_within_4_se("Dirichlet||Dirichlet", &closed, &estimate, &per_sample, N_KL);
}

#[test]
fn dirichlet_errors_are_typed() {
    expect_invalid(Dirichlet::new(t2(&[1.0, 0.0, 2.0], 1, 3)), "Dirichlet", "concentration", "0 (at index [0, 1])");
    let e = Dirichlet::new(t2(&[1.0, 2.0], 2, 1)).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { field: "concentration", .. }), "{e}");
}

// ---------------------------------------------------------------------------------------------
// MultivariateNormal
// ---------------------------------------------------------------------------------------------

/// `L L^T` of a row-major `n x n` factor.
fn covariance(l: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            c[i * n + j] = (0..n).map(|k| l[i * n + k] * l[j * n + k]).sum();
        }
    }
    c
}

/// Inverse and determinant by Gauss–Jordan elimination with partial pivoting.
fn inverse_and_det(a: &[f64], n: usize) -> (Vec<f64>, f64) {
    let (mut m, mut inv, mut det) = (a.to_vec(), vec![0.0; n * n], 1.0);
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    for c in 0..n {
        let p = (c..n).max_by(|&x, &y| m[x * n + c].abs().total_cmp(&m[y * n + c].abs())).unwrap();
        if p != c {
            for k in 0..n {
                m.swap(p * n + k, c * n + k);
                inv.swap(p * n + k, c * n + k);
            }
            det = -det;
        }
        let d = m[c * n + c];
        det *= d;
        for k in 0..n {
            m[c * n + k] /= d;
            inv[c * n + k] /= d;
        }
        for r in (0..n).filter(|&r| r != c) {
            let f = m[r * n + c];
            for k in 0..n {
                m[r * n + k] -= f * m[c * n + k];
                inv[r * n + k] -= f * inv[c * n + k];
            }
        }
    }
    (inv, det)
}

fn mvn_ln_pdf(loc: &[f64], l: &[f64], x: &[f64]) -> f64 {
    let n = loc.len();
    let (inv, det) = inverse_and_det(&covariance(l, n), n);
    let d: Vec<f64> = x.iter().zip(loc).map(|(x, m)| x - m).collect();
    let quad: f64 = (0..n).map(|i| (0..n).map(|j| d[i] * inv[i * n + j] * d[j]).sum::<f64>()).sum();
    -0.5 * quad - 0.5 * det.ln() - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln()
}

const L3: [[f64; 9]; 2] =
    [[1.0, 0.0, 0.0, 0.5, 2.0, 0.0, -0.3, 0.8, 0.4], [0.3, 0.0, 0.0, -1.0, 1.5, 0.0, 2.0, 0.1, 3.0]];
const LOC3: [[f64; 3]; 2] = [[0.5, -1.0, 2.0], [0.0, 3.0, -2.0]];

#[test]
fn mvn_log_prob_matches_gauss_jordan_and_the_diagonal_case() {
    let xs = [[0.0, 0.0, 0.0], [1.3, -2.0, 4.0], [-5.0, 6.0, 0.1]];
    // Batch of 2 (one factor each) against 3 points: values [3, 2, 3] broadcast against [1, 2, 3].
    let loc = t3(&LOC3.concat(), [1, 2, 3]);
    let l: Vec<f64> = L3.concat();
    let scale_tril = Tensor::<4>::from_data(TensorData::new(l.clone(), [1, 2, 3, 3]), &device());
    let d = MultivariateNormal::new(loc, scale_tril).unwrap();
    assert_eq!(d.dims(), [1, 2, 3]);
    let values: Vec<f64> = xs.iter().flat_map(|x| [x, x]).flatten().copied().collect();
    let got = host(d.log_prob(t3(&values, [3, 2, 3])));
    assert_eq!(got.len(), 6);
    for (i, x) in xs.iter().enumerate() {
        for b in 0..2 {
            let want = mvn_ln_pdf(&LOC3[b], &L3[b], x);
            assert_rel(got[2 * i + b], want, TOL, &format!("MVN batch {b} at {x:?}"));
        }
    }
    // A diagonal factor: the product of independent Normals; rank 1 (no batch dimension).
    let (m, s) = ([0.2, -1.0], [0.5, 3.0]);
    let d = MultivariateNormal::new(t1(&m), t2(&[s[0], 0.0, 0.0, s[1]], 2, 2)).unwrap();
    let x = [1.0, 2.5];
    let want: f64 = (0..2).map(|j| statrs::distribution::Normal::new(m[j], s[j]).unwrap().ln_pdf(x[j])).sum();
    assert_rel(host(d.log_prob(t1(&x)))[0], want, TOL, "diagonal MVN");
    // Broadcasting of the parameters: loc [2, 1, 3] against factors [1, 2, 3, 3] -> batch [2, 2].
    let d = MultivariateNormal::new(
        t3(&LOC3.concat(), [2, 1, 3]),
        Tensor::<4>::from_data(TensorData::new(l, [1, 2, 3, 3]), &device()),
    )
    .unwrap();
    assert_eq!(d.dims(), [2, 2, 3]);
    let got = host(d.log_prob(t3(&[0.0; 3], [1, 1, 3])));
    for (i, g) in got.iter().enumerate() {
        assert_rel(*g, mvn_ln_pdf(&LOC3[i / 2], &L3[i % 2], &[0.0; 3]), TOL, "broadcast MVN");
    }
}

#[test]
fn mvn_moments_and_covariance_of_draws() {
    let (loc, l) = (LOC3[0], L3[0]);
    let cov = covariance(&l, 3);
    let truth: Vec<Moments> =
        (0..3).map(|i| Moments { mean: loc[i], var: cov[i * 3 + i], mu4: 3.0 * cov[i * 3 + i].powi(2) }).collect();
    let scale_tril = t2(&l, 3, 3).unsqueeze::<3>().expand([S, 3, 3]);
    let d = MultivariateNormal::new(repeat(&loc, S), scale_tril).unwrap();
    check_closed_moments("MultivariateNormal", &d, &truth);
    check_sampling("MultivariateNormal", &d, S, &truth, 1100);
    let c: Vec<f64> = host(d.covariance::<3>().slice(s![0..1, .., ..]));
    for (g, w) in c.iter().zip(&cov) {
        assert_rel(*g, *w, 1e-12, "covariance()");
    }
    // Off-diagonal: the sample covariance of coordinates (0, 1) and (1, 2), SE
    // sqrt((S_ii S_jj + S_ij^2) / n) for Gaussian draws.
    let x = noise::with_seed(1102, || host(d.rsample()));
    for (i, j) in [(0, 1), (1, 2)] {
        let (ci, cj) = (column(&x, 3, i), column(&x, 3, j));
        let (mi, mj) = (mean(&ci), mean(&cj));
        let sample_cov = ci.iter().zip(&cj).map(|(a, b)| (a - mi) * (b - mj)).sum::<f64>() / (S as f64 - 1.0);
        let se = ((cov[i * 3 + i] * cov[j * 3 + j] + cov[i * 3 + j].powi(2)) / S as f64).sqrt();
        assert!(
            (sample_cov - cov[i * 3 + j]).abs() <= 4.0 * se,
            "cov({i}, {j}): {sample_cov} vs {} (4 SE = {})",
            cov[i * 3 + j],
            4.0 * se
        );
    }
}

#[test]
fn mvn_rsample_is_differentiable_in_loc_and_the_factor() {
    let leaf = |v: &[f64], dims: [usize; 2]| {
        Tensor::<2>::from_data(TensorData::new(v.to_vec(), dims), &device().autodiff()).require_grad()
    };
    let (loc, l) = (leaf(&LOC3[0], [1, 3]), leaf(&L3[0], [3, 3]));
    let d = MultivariateNormal::new(loc.clone(), l.clone().unsqueeze::<3>()).unwrap();
    let x = noise::with_seed(1110, || d.rsample());
    let grads = x.clone().slice(s![.., 2..3]).sum().backward();
    assert_eq!(host(loc.grad(&grads).unwrap()), vec![0.0, 0.0, 1.0]);
    // x_2 = loc_2 + sum_j L_2j eps_j: d x_2 / d L_2j = eps_j = (L^-1 (x - loc))_j.
    let g = host(l.grad(&grads).unwrap());
    let x = host(x);
    let d0: Vec<f64> = (0..3).map(|i| x[i] - LOC3[0][i]).collect();
    let e0 = d0[0] / L3[0][0];
    let e1 = (d0[1] - L3[0][3] * e0) / L3[0][4];
    let e2 = (d0[2] - L3[0][6] * e0 - L3[0][7] * e1) / L3[0][8];
    for (j, e) in [e0, e1, e2].iter().enumerate() {
        assert_rel(g[6 + j], *e, 1e-10, &format!("d x_2 / d L_2{j}"));
    }
}

#[test]
fn mvn_entropy_and_kl_match_closed_forms_and_monte_carlo() {
    let (pl, ql) = (L3[0], L3[1]);
    let p = MultivariateNormal::new(t2(&LOC3[0], 1, 3), t2(&pl, 3, 3).unsqueeze::<3>()).unwrap();
    let q = MultivariateNormal::new(t2(&LOC3[1], 1, 3), t2(&ql, 3, 3).unsqueeze::<3>()).unwrap();
    // H = ln det(2 pi e Sigma) / 2, with the determinant by Gauss–Jordan.
    let (_, det) = inverse_and_det(&covariance(&pl, 3), 3);
    let want_h = 0.5 * (3.0 * (1.0 + (2.0 * std::f64::consts::PI).ln()) + det.ln());
    let closed_h = host(p.entropy());
    assert_rel(closed_h[0], want_h, 1e-12, "MVN entropy");
    // KL = (tr(Sq^-1 Sp) + dm^T Sq^-1 dm - n + ln det Sq - ln det Sp) / 2, on the host.
    let (sp, sq) = (covariance(&pl, 3), covariance(&ql, 3));
    let (iq, det_q) = inverse_and_det(&sq, 3);
    let tr: f64 = (0..3).map(|i| (0..3).map(|k| iq[i * 3 + k] * sp[k * 3 + i]).sum::<f64>()).sum();
    let dm: Vec<f64> = (0..3).map(|i| LOC3[1][i] - LOC3[0][i]).collect();
    let quad: f64 = (0..3).map(|i| (0..3).map(|j| dm[i] * iq[i * 3 + j] * dm[j]).sum::<f64>()).sum();
    let want = 0.5 * (tr + quad - 3.0 + det_q.ln() - det.ln());
    let closed = host(kl(&p, &q));
    assert_rel(closed[0], want, 1e-10, "MVN KL");
    assert!(host(kl(&p, &p))[0].abs() < 1e-12, "KL of a distribution with itself");

    let big = |loc: &[f64], l: &[f64], n: usize| {
        MultivariateNormal::new(repeat(loc, n), t2(l, 3, 3).unsqueeze::<3>().expand([n, 3, 3])).unwrap()
    };
    let pn = big(&LOC3[0], &pl, 20_000);
    check_entropy_by_monte_carlo("MultivariateNormal", &closed_h, &pn, 1120);
    let estimate = noise::with_seed(1121, || host(kl_monte_carlo(&p, &q, N_KL).unwrap()));
    let (pn, qn) = (big(&LOC3[0], &pl, N_KL), big(&LOC3[1], &ql, N_KL));
    let per_sample = noise::with_seed(1122, || {
        let x = pn.rsample();
        host(pn.log_prob(x.clone()) - qn.log_prob(x))
    });
    assert_within_4_se("MVN||MVN", &closed, &estimate, &per_sample, N_KL);
}

#[test]
fn mvn_errors_are_typed() {
    let loc = t2(&[0.0, 0.0], 1, 2);
    let factor = |v: [f64; 4]| t2(&v, 2, 2).unsqueeze::<3>();
    expect_invalid(
        MultivariateNormal::new(loc.clone(), factor([1.0, 0.0, 0.5, -2.0])),
        "MultivariateNormal",
        "diagonal of scale_tril",
        "-2 (at index [0, 1])",
    );
    expect_invalid(
        MultivariateNormal::new(loc.clone(), factor([1.0, 0.3, 0.5, 2.0])),
        "MultivariateNormal",
        "entries above the diagonal of scale_tril (row by row)",
        "0.3 (at index [0, 0])",
    );
    expect_invalid(
        MultivariateNormal::new(t2(&[f64::NAN, 0.0], 1, 2), factor([1.0, 0.0, 0.0, 1.0])),
        "MultivariateNormal",
        "loc",
        "NaN",
    );
    for bad in [
        MultivariateNormal::new(loc.clone(), t3(&[1.0; 9], [1, 3, 3])).map(|_| ()),
        MultivariateNormal::new(loc.clone(), t2(&[1.0, 0.0, 0.0, 1.0], 2, 2)).map(|_| ()),
        MultivariateNormal::new(t2(&[0.0; 6], 3, 2), factor([1.0, 0.0, 0.0, 1.0]).expand([2, 2, 2])).map(|_| ()),
    ] {
        assert!(matches!(bad, Err(Error::ShapeMismatch { .. })), "{bad:?}");
    }
}
