//! R-hat, ESS and MCSE (`infer::mcmc::diagnostics`) on chains whose answers are known.
//!
//! Tolerances come from the sampling distributions of the estimators (4 standard deviations):
//! - split R-hat of `m` iid chains of length `n`: `R̂² ≈ (n−1)/n + (B/n)/W` with
//!   `n (B/n) / W ~ χ²_{m−1} / (m−1)`, so `R̂ − 1 ≈ (χ²_{m−1}/(m−1) − 1) / (2n)` has sd
//!   `sqrt(2/(m−1)) / (2n)`;
//! - the ESS estimates `N / τ` with `τ = 1 + 2 Σ ρ_t`; a sum of the first `M` sample
//!   autocorrelations (rectangular lag window) has relative sd `sqrt(2 (2M + 1) / N)`
//!   (Priestley 1981, §6.2.4; the factor 2 is that of frequency 0). Geyer's sequence stops
//!   where the pairs of autocorrelations reach the noise level `1/sqrt(N)`: for iid draws after
//!   a few lags (we allow M = 10), for AR(1) with φ = 0.5 (ρ_t = 2^-t) after about 20 (we allow 30).

use bayesburn::infer::mcmc::diagnostics::{ess_bulk, ess_mean, mcse_mean, rhat, split_rhat_basic, summary};
use bayesburn::noise;
use rand_distr::{Distribution, StandardNormal};

fn normals(n: usize) -> Vec<f64> {
    noise::with_rng(|rng| StandardNormal.sample_iter(rng).take(n).collect())
}

/// `chains` stationary AR(1) chains `x_t = φ x_{t−1} + sqrt(1 − φ²) e_t` (unit marginal variance).
fn ar1(chains: usize, n: usize, phi: f64) -> Vec<Vec<f64>> {
    (0..chains)
        .map(|_| {
            let e = normals(n);
            let mut x = Vec::with_capacity(n);
            let mut prev = e[0];
            x.push(prev);
            for e in &e[1..] {
                prev = phi * prev + (1.0 - phi * phi).sqrt() * e;
                x.push(prev);
            }
            x
        })
        .collect()
}

/// 4 sd of the split R-hat of `chains` iid chains of `draws` each.
fn rhat_tolerance(chains: usize, draws: usize) -> f64 {
    let (m, n) = (2.0 * chains as f64, draws as f64 / 2.0);
    4.0 * (2.0 / (m - 1.0)).sqrt() / (2.0 * n)
}

/// 4 relative sd of an ESS whose autocorrelation sum runs over at most `lags` lags.
fn ess_tolerance(total: usize, lags: usize) -> f64 {
    4.0 * (2.0 * (2.0 * lags as f64 + 1.0) / total as f64).sqrt()
}

#[test]
fn iid_normal_draws_have_rhat_one_and_ess_n() {
    let (chains, n) = (4, 50_000);
    let draws: Vec<Vec<f64>> = noise::with_seed(1, || (0..chains).map(|_| normals(n)).collect());
    let tol = rhat_tolerance(chains, n);
    let r = rhat(&draws).unwrap();
    let r_basic = split_rhat_basic(&draws).unwrap();
    println!("iid: R-hat {r}, basic {r_basic}, tolerance {tol}");
    assert!((r - 1.0).abs() < tol, "rank R-hat {r}, tolerance {tol}");
    assert!((r_basic - 1.0).abs() < tol, "basic R-hat {r_basic}, tolerance {tol}");
    let total = chains * n;
    let tol = ess_tolerance(total, 10);
    for (name, ess) in [("bulk", ess_bulk(&draws).unwrap()), ("mean", ess_mean(&draws).unwrap())] {
        println!("iid: {name} ESS {ess} of {total}, tolerance {tol}");
        assert!((ess / total as f64 - 1.0).abs() < tol, "{name} ESS {ess} of {total}, relative tolerance {tol}");
    }
    // MCSE of the mean of iid N(0, 1): 1 / sqrt(N), to the ESS's tolerance (halved by the sqrt).
    let mcse = mcse_mean(&draws).unwrap();
    let expect = 1.0 / (total as f64).sqrt();
    assert!((mcse / expect - 1.0).abs() < tol / 2.0 + 4.0 / (2.0 * total as f64).sqrt(), "MCSE {mcse} vs {expect}");
}

#[test]
fn ar1_chains_have_ess_n_times_one_minus_phi_over_one_plus_phi() {
    let (chains, n, phi) = (4, 100_000, 0.5);
    let draws = noise::with_seed(2, || ar1(chains, n, phi));
    let total = (chains * n) as f64;
    let expect = total * (1.0 - phi) / (1.0 + phi);
    let tol = ess_tolerance(chains * n, 30);
    for (name, ess) in [("mean", ess_mean(&draws).unwrap()), ("bulk", ess_bulk(&draws).unwrap())] {
        println!("AR(1): {name} ESS {ess}, expected {expect}, tolerance {tol}");
        assert!((ess / expect - 1.0).abs() < tol, "{name} ESS {ess}, expected {expect} within {tol} (relative)");
    }
    // MCSE = sd sqrt(τ / N) with sd = 1, τ = (1 + φ) / (1 − φ).
    let mcse = mcse_mean(&draws).unwrap();
    let expect = ((1.0 + phi) / (1.0 - phi) / total).sqrt();
    assert!((mcse / expect - 1.0).abs() < tol / 2.0 + 4.0 / (2.0 * total).sqrt(), "MCSE {mcse} vs {expect}");
    let r = rhat(&draws).unwrap();
    assert!(r < 1.01, "well-mixed AR(1) chains: R-hat {r}");
}

#[test]
fn chains_with_shifted_means_have_rhat_far_above_one() {
    // Chain c ~ N(c, 1): the split chain means 0, 0, 1, 1, 2, 2, 3, 3 vary by 10/7 against a
    // within-chain variance of 1, so the basic R-hat is about sqrt(1 + 10/7) ≈ 1.56.
    let draws: Vec<Vec<f64>> =
        noise::with_seed(3, || (0..4).map(|c| normals(1000).into_iter().map(|x| x + c as f64).collect()).collect());
    let r = rhat(&draws).unwrap();
    let r_basic = split_rhat_basic(&draws).unwrap();
    println!("shifted means: R-hat {r}, basic {r_basic}");
    assert!(r > 1.3, "rank R-hat {r}");
    assert!((r_basic - 1.56).abs() < 0.1, "basic R-hat {r_basic}");
    // One drifting chain is caught by the split: the second half of chain 0 is shifted by 2.
    let mut drift: Vec<Vec<f64>> = noise::with_seed(4, || (0..4).map(|_| normals(1000)).collect());
    drift[0][500..].iter_mut().for_each(|x| *x += 2.0);
    assert!(rhat(&drift).unwrap() > 1.1, "drifting chain: R-hat {}", rhat(&drift).unwrap());
}

#[test]
fn chains_with_different_scales_are_caught_by_the_folded_rhat() {
    // Same means, sds 1, 1, 3, 3: the bulk (and basic) R-hat see nothing, the tail R-hat on
    // |x − median| does.
    let (chains, n) = (4, 1000);
    let draws: Vec<Vec<f64>> = noise::with_seed(5, || {
        (0..chains).map(|c| normals(n).into_iter().map(|x| x * if c < 2 { 1.0 } else { 3.0 }).collect()).collect()
    });
    let r_basic = split_rhat_basic(&draws).unwrap();
    // The chain means have sds 1/sqrt(n) and 3/sqrt(n): B/n stays O(1/n); allow 4 sd of the iid case, scaled by 3².
    assert!((r_basic - 1.0).abs() < 9.0 * rhat_tolerance(chains, n), "basic R-hat {r_basic}");
    let r = rhat(&draws).unwrap();
    println!("different scales: R-hat {r}, basic {r_basic}");
    assert!(r > 1.1, "rank R-hat (max of bulk and tail) {r}");
}

#[test]
fn summary_agrees_with_the_parts() {
    let draws = noise::with_seed(6, || ar1(2, 500, 0.3));
    let s = summary(&draws).unwrap();
    assert_eq!(s.rhat, rhat(&draws).unwrap());
    assert_eq!(s.ess_bulk, ess_bulk(&draws).unwrap());
    assert_eq!(s.mcse_mean, mcse_mean(&draws).unwrap());
    let pooled: Vec<f64> = draws.iter().flatten().copied().collect();
    let mean = pooled.iter().sum::<f64>() / 1000.0;
    assert!((s.mean - mean).abs() < 1e-12);
    // A rank-based ESS does not change under a monotone transform.
    let cubed: Vec<Vec<f64>> = draws.iter().map(|c| c.iter().map(|x| x.powi(3)).collect()).collect();
    assert!((ess_bulk(&cubed).unwrap() - s.ess_bulk).abs() < 1e-9 * s.ess_bulk);
}
