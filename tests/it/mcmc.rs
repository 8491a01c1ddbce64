//! NUTS (`infer::mcmc`) against posteriors whose answers are known exactly or from a long
//! reference run.
//!
//! Each check is `|mean − exact| ≤ 4 MCSE` per coordinate (MCSE from our own bulk of draws,
//! `diagnostics::mcse_mean`), posterior sds within 10 % (the sd of a sd estimate is about
//! `sd / sqrt(2 ESS)`, 1–2 % at the ESS reached here, so 10 % only fails for a wrong sampler),
//! and R-hat ≤ 1.01. Seeds are fixed.

use bayesburn::infer::mcmc::diagnostics::{mcse_mean, rhat, summary};
use bayesburn::infer::mcmc::{ChainMethod, InitStrategy, Mcmc, McmcResult, NutsConfig};
use bayesburn::infer::Potential;
use bayesburn::noise;
use bayesburn::{Error, Result};
use bayesburn_fixtures::eight_schools::EightSchools;
use rand_distr::{Distribution, StandardNormal};

/// `U(q) = ½ (q − m)ᵀ P (q − m)`.
struct Gaussian {
    mean: Vec<f64>,
    precision: Vec<Vec<f64>>,
}

impl Potential for Gaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }
    fn value_and_grad(&self, q: &[f64]) -> Result<(f64, Vec<f64>)> {
        let d: Vec<f64> = q.iter().zip(&self.mean).map(|(q, m)| q - m).collect();
        let grad = mat_vec(&self.precision, &d);
        Ok((0.5 * dot(&d, &grad), grad))
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn mat_vec(a: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    a.iter().map(|row| dot(row, x)).collect()
}

/// Inverse of a symmetric positive-definite matrix through its Cholesky factor.
#[allow(clippy::needless_range_loop)] // index arithmetic is the algorithm
fn spd_inverse(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            l[i][j] = if i == j { s.sqrt() } else { s / l[j][j] };
        }
    }
    // Solve L Lᵀ x = e_c for every column c.
    let mut inv = vec![vec![0.0; n]; n];
    for c in 0..n {
        let mut y = vec![0.0; n];
        for i in 0..n {
            let e = if i == c { 1.0 } else { 0.0 };
            y[i] = (e - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
        }
        for i in (0..n).rev() {
            inv[i][c] = (y[i] - (i + 1..n).map(|k| l[k][i] * inv[k][c]).sum::<f64>()) / l[i][i];
        }
    }
    inv
}

fn config(seed: u64) -> NutsConfig {
    NutsConfig::default().with_num_warmup(1000).with_num_samples(1000).with_num_chains(4).with_seed(seed)
}

/// Means within 4 MCSE, sds within 10 %, R-hat ≤ 1.01, for every coordinate.
fn assert_matches(result: &McmcResult, mean: &[f64], sd: &[f64], what: &str) {
    let summaries = result.summary().unwrap();
    let worst = |f: &dyn Fn(usize) -> f64| (0..mean.len()).map(f).fold(0.0, f64::max);
    println!(
        "{what}: max |err| / MCSE {:.2}, max sd rel. err {:.3}, max R-hat {:.4}, min bulk ESS {:.0}, accept {:.3}, \
         divergences {}",
        worst(&|i| (summaries[i].mean - mean[i]).abs() / summaries[i].mcse_mean),
        worst(&|i| (summaries[i].sd / sd[i] - 1.0).abs()),
        worst(&|i| summaries[i].rhat),
        summaries.iter().map(|s| s.ess_bulk).fold(f64::MAX, f64::min),
        result.mean_accept_prob(),
        result.divergences()
    );
    for (i, s) in summaries.iter().enumerate() {
        let err = (s.mean - mean[i]).abs();
        assert!(
            err <= 4.0 * s.mcse_mean,
            "{what} [{i}]: mean {} vs exact {}, |err| {err} > 4 MCSE {}",
            s.mean,
            mean[i],
            s.mcse_mean
        );
        assert!((s.sd / sd[i] - 1.0).abs() <= 0.10, "{what} [{i}]: sd {} vs exact {}", s.sd, sd[i]);
        assert!(s.rhat <= 1.01, "{what} [{i}]: R-hat {}", s.rhat);
    }
}

#[test]
fn standard_normal_in_ten_dimensions() {
    let d = 10;
    let identity: Vec<Vec<f64>> = (0..d).map(|i| (0..d).map(|j| f64::from(u8::from(i == j))).collect()).collect();
    let target = Gaussian { mean: vec![0.0; d], precision: identity };
    let result = Mcmc::new(config(11)).unwrap().run(&target).unwrap();
    assert_eq!((result.num_chains(), result.num_samples(), result.dim()), (4, 1000, d));
    assert_matches(&result, &vec![0.0; d], &vec![1.0; d], "N(0, I)");
    assert_eq!(result.divergences(), 0);
    assert!(result.stats.iter().flatten().all(|s| s.tree_depth <= 10 && s.step_size == s.step_size.abs()));
}

#[test]
fn correlated_gaussian_with_scales_from_a_hundredth_to_a_hundred() {
    // Cov = D R D, D = diag(10^(-2 + 4 i / 9)) (0.01 .. 100), R_ij = 0.5^|i−j|. Without a mass
    // matrix the step size would be set by the 0.01 scale and the 100 scale would need ~10^4
    // steps per U-turn (past the depth-10 cap); with it, the sampler sees R (condition number 9).
    let d = 10;
    let scale: Vec<f64> = (0..d).map(|i| 10f64.powf(-2.0 + 4.0 * i as f64 / 9.0)).collect();
    let cov: Vec<Vec<f64>> = (0..d)
        .map(|i| (0..d).map(|j| scale[i] * scale[j] * 0.5f64.powi((i as i32 - j as i32).abs())).collect())
        .collect();
    let mean: Vec<f64> = (0..d).map(|i| scale[i] * (i as f64 - 4.5)).collect();
    let target = Gaussian { mean: mean.clone(), precision: spd_inverse(&cov) };
    let result = Mcmc::new(config(12)).unwrap().run(&target).unwrap();
    assert_matches(&result, &mean, &scale, "ill-scaled Gaussian");
    // The adapted inverse metric is the posterior variance (within a factor 2: the last window
    // has 500 draws, so its variance estimates are good to a few tens of percent).
    for (c, inv_mass) in result.inv_mass.iter().enumerate() {
        for i in 0..d {
            let ratio = inv_mass[i] / scale[i].powi(2);
            assert!((0.5..2.0).contains(&ratio), "chain {c}, coordinate {i}: inverse mass / variance = {ratio}");
        }
    }
}

#[test]
fn skewed_target_log_of_gamma_variables() {
    // q_i = log x_i, x_i ~ Gamma(a_i, 1) independently: U = Σ (e^q − a q), a skewed, light-left /
    // heavy-right target with E[q] = ψ(a) and Var[q] = ψ'(a). a = 1, 2, 5:
    // ψ(1) = −γ, ψ(2) = 1 − γ, ψ(5) = 25/12 − γ; ψ'(1) = π²/6, ψ'(2) = π²/6 − 1, ψ'(5) = π²/6 − 205/144.
    struct LogGamma([f64; 3]);
    impl Potential for LogGamma {
        fn dim(&self) -> usize {
            3
        }
        fn value_and_grad(&self, q: &[f64]) -> Result<(f64, Vec<f64>)> {
            let u = q.iter().zip(&self.0).map(|(q, a)| q.exp() - a * q).sum();
            Ok((u, q.iter().zip(&self.0).map(|(q, a)| q.exp() - a).collect()))
        }
    }
    let gamma = 0.577_215_664_901_532_9;
    let pi2_6 = std::f64::consts::PI.powi(2) / 6.0;
    let mean = [-gamma, 1.0 - gamma, 25.0 / 12.0 - gamma];
    let sd = [pi2_6.sqrt(), (pi2_6 - 1.0).sqrt(), (pi2_6 - 205.0 / 144.0).sqrt()];
    let result = Mcmc::new(config(16)).unwrap().run(&LogGamma([1.0, 2.0, 5.0])).unwrap();
    assert_matches(&result, &mean, &sd, "log-gamma");
}

#[test]
fn conjugate_linear_regression_matches_the_exact_posterior() {
    // y = X β + e, e ~ N(0, σ² I) with σ = 1 known, prior β ~ N(0, s0² I) with s0 = 2.
    // Exact posterior: Λ = XᵀX / σ² + I / s0², mean = Λ⁻¹ Xᵀ y / σ², cov = Λ⁻¹.
    let (n, d, sigma, s0) = (100, 5, 1.0, 2.0);
    let beta = [1.0, -2.0, 0.5, 0.0, 3.0];
    let (x, y): (Vec<Vec<f64>>, Vec<f64>) = noise::with_seed(13, || {
        noise::with_rng(|rng| {
            (0..n)
                .map(|_| {
                    let row: Vec<f64> = (0..d).map(|_| StandardNormal.sample(rng)).collect();
                    let e: f64 = StandardNormal.sample(rng);
                    let yi = dot(&row, &beta) + sigma * e;
                    (row, yi)
                })
                .unzip()
        })
    });
    let mut lambda = vec![vec![0.0; d]; d];
    for (i, row) in lambda.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = x.iter().map(|r| r[i] * r[j]).sum::<f64>() / (sigma * sigma)
                + if i == j { 1.0 / (s0 * s0) } else { 0.0 };
        }
    }
    let cov = spd_inverse(&lambda);
    let xty: Vec<f64> =
        (0..d).map(|j| x.iter().zip(&y).map(|(r, y)| r[j] * y).sum::<f64>() / (sigma * sigma)).collect();
    let mean = mat_vec(&cov, &xty);
    let sd: Vec<f64> = (0..d).map(|i| cov[i][i].sqrt()).collect();

    /// The regression's potential, written out: ||y − Xβ||² / 2σ² + ||β||² / 2 s0².
    struct Regression {
        x: Vec<Vec<f64>>,
        y: Vec<f64>,
        sigma: f64,
        s0: f64,
    }
    impl Potential for Regression {
        fn dim(&self) -> usize {
            self.x[0].len()
        }
        fn value_and_grad(&self, b: &[f64]) -> Result<(f64, Vec<f64>)> {
            let mut u = dot(b, b) / (2.0 * self.s0 * self.s0);
            let mut grad: Vec<f64> = b.iter().map(|b| b / (self.s0 * self.s0)).collect();
            for (row, y) in self.x.iter().zip(&self.y) {
                let r = y - dot(row, b);
                u += r * r / (2.0 * self.sigma * self.sigma);
                for (g, xij) in grad.iter_mut().zip(row) {
                    *g -= r * xij / (self.sigma * self.sigma);
                }
            }
            Ok((u, grad))
        }
    }
    let target = Regression { x, y, sigma, s0 };
    let result = Mcmc::new(config(14)).unwrap().run(&target).unwrap();
    assert_matches(&result, &mean, &sd, "regression");
}

#[test]
fn eight_schools_non_centered_agrees_with_numpyro() {
    // Reference: NumPyro 0.22.0 (jax 0.10.2, numpy 2.4.6, Python 3.11.7, one CPU thread), NUTS
    // defaults (target 0.8, diagonal mass, depth 10), 4 chains x 50 000 draws after 2 000
    // warmup, three independent runs:
    //   python bench/eight_schools_numpyro.py --reference --seed 0   (then --seed 1, --seed 2)
    //   seed 0: mu 4.37675 (MCSE 0.00809), tau 3.60205 (MCSE 0.00897), 49 divergences
    //   seed 1: mu 4.39830 (MCSE 0.00753), tau 3.58446 (MCSE 0.00886), 76 divergences
    //   seed 2: mu 4.41037 (MCSE 0.00758), tau 3.59484 (MCSE 0.00878), 51 divergences
    // (R-hat ≤ 1.0001, bulk ESS ≥ 106 000 in each.) Pooled: the mean of the three; its MCSE is
    // the larger of sqrt(Σ MCSE²) / 3 and the spread of the three means / sqrt(3) (for mu the
    // runs disagree by more than their MCSEs say: 0.0098 against 0.0045).
    // Exact by quadrature (`eight_schools_exact_means`): mu 4.39682, tau 3.59771.
    const MU: (f64, f64) = (4.39514, 0.0098);
    const TAU: (f64, f64) = (3.59378, 0.0051);
    let result = Mcmc::new(config(15)).unwrap().run(&EightSchools::non_centered()).unwrap();
    let mu = result.param(0).unwrap();
    let tau = result.map(|q| q[1].exp());
    let mut quantities = vec![("mu", mu.clone()), ("tau", tau.clone())];
    for j in 0..8 {
        quantities.push(("theta_tilde", result.param(2 + j).unwrap()));
        quantities.push(("theta", result.map(|q| q[0] + q[1].exp() * q[2 + j])));
    }
    for (name, chains) in &quantities {
        let r = rhat(chains).unwrap();
        assert!(r <= 1.01, "{name}: R-hat {r}");
    }
    println!(
        "eight schools: max R-hat {:.4}, divergences {}, step sizes {:?}",
        quantities.iter().map(|(_, c)| rhat(c).unwrap()).fold(0.0, f64::max),
        result.divergences(),
        result.step_sizes
    );
    assert!(result.divergence_rate() < 0.01, "divergence rate {}", result.divergence_rate());
    // |ours − reference| ≤ 4 sqrt(MCSE_ours² + MCSE_ref²), and ≤ 4 MCSE_ours from the exact
    // means (quadrature below).
    let exact = eight_schools_exact_means();
    println!("eight schools exact (quadrature): mu {:.5}, tau {:.5}", exact.0, exact.1);
    for (name, chains, (reference, ref_mcse)) in [("mu", &mu, MU), ("tau", &tau, TAU)] {
        let s = summary(chains).unwrap();
        let tol = 4.0 * (s.mcse_mean.powi(2) + ref_mcse * ref_mcse).sqrt();
        println!(
            "eight schools {name}: {:.4} (MCSE {:.4}, bulk ESS {:.0}) vs NumPyro {reference}, tolerance {tol:.4}",
            s.mean, s.mcse_mean, s.ess_bulk
        );
        assert!((s.mean - reference).abs() <= tol, "{name}: {} vs NumPyro {reference}, tolerance {tol}", s.mean);
        let exact = if name == "mu" { exact.0 } else { exact.1 };
        assert!((s.mean - exact).abs() <= 4.0 * s.mcse_mean, "{name}: {} vs exact {exact}", s.mean);
    }
}

/// Posterior means of mu and tau by quadrature: theta integrates out in closed form,
/// `y_j | mu, tau ~ N(mu, sigma_j² + tau²)`, leaving a smooth 2-D density in (mu, log tau),
/// summed on a grid that covers it (mu in [-40, 50], log tau in [-35, 14]; the density is
/// below e^-30 of its peak at the edges). Agrees with a finer grid to 1e-10.
fn eight_schools_exact_means() -> (f64, f64) {
    use bayesburn_fixtures::eight_schools::{EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y};
    let log_density = |mu: f64, eta: f64| {
        let tau2 = (2.0 * eta).exp();
        let mut lp = -mu * mu / 50.0 - (tau2 / 25.0).ln_1p() + eta;
        for (y, s) in EIGHT_SCHOOLS_Y.iter().zip(EIGHT_SCHOOLS_SIGMA) {
            let v = s * s + tau2;
            lp -= 0.5 * (v.ln() + (y - mu) * (y - mu) / v);
        }
        lp
    };
    let peak = log_density(4.0, 1.0);
    let (mut z, mut mu_sum, mut tau_sum) = (0.0, 0.0, 0.0);
    for i in 0..=1800 {
        let mu = -40.0 + 0.05 * i as f64;
        for k in 0..=2450 {
            let eta = -35.0 + 0.02 * k as f64;
            let w = (log_density(mu, eta) - peak).exp();
            z += w;
            mu_sum += w * mu;
            tau_sum += w * eta.exp();
        }
    }
    (mu_sum / z, tau_sum / z)
}

#[test]
fn parallel_and_sequential_chains_give_the_same_draws() {
    let target = EightSchools::non_centered();
    let base = NutsConfig::default().with_num_warmup(100).with_num_samples(50).with_num_chains(3).with_seed(7);
    let parallel = Mcmc::new(base.clone()).unwrap().run(&target).unwrap();
    let sequential = Mcmc::new(base.clone().with_chain_method(ChainMethod::Sequential)).unwrap().run(&target).unwrap();
    let not_sync = Mcmc::new(base.clone()).unwrap().run_sequential(&target).unwrap();
    assert_eq!(parallel.draws, sequential.draws);
    assert_eq!(parallel.draws, not_sync.draws);
    assert_ne!(parallel.draws[0], parallel.draws[1], "chains must be seeded differently");
    let other = Mcmc::new(base.with_seed(8)).unwrap().run(&target).unwrap();
    assert_ne!(parallel.draws, other.draws);
}

#[test]
fn max_tree_depth_caps_the_trajectory() {
    // Depth 2: two doublings, a tree of 1 step then one of 2, so at most 3 leapfrog steps.
    let target = EightSchools::non_centered();
    let cfg = NutsConfig::default().with_num_warmup(50).with_num_samples(100).with_num_chains(1).with_max_tree_depth(2);
    let result = Mcmc::new(cfg).unwrap().run(&target).unwrap();
    assert!(result.stats[0].iter().all(|s| s.tree_depth <= 2 && s.n_leapfrog <= 3));
    assert!(result.stats[0].iter().any(|s| s.tree_depth == 2));
    let _ = mcse_mean(&result.param(0).unwrap()).unwrap();
}

/// A potential of dimension 0, or one that is infinite everywhere.
struct Degenerate {
    dim: usize,
}
impl Potential for Degenerate {
    fn dim(&self) -> usize {
        self.dim
    }
    fn value_and_grad(&self, q: &[f64]) -> Result<(f64, Vec<f64>)> {
        Ok((f64::INFINITY, vec![0.0; q.len()]))
    }
}

fn field(e: &Error) -> &'static str {
    match e {
        Error::InvalidParameter { field, .. } | Error::ShapeMismatch { field, .. } => field,
        _ => panic!("unexpected error {e}"),
    }
}

#[test]
fn bad_configurations_are_typed_errors() {
    let cases = [
        (NutsConfig::default().with_num_samples(0), "num_samples", "0"),
        (NutsConfig::default().with_num_chains(0), "num_chains", "0"),
        (NutsConfig::default().with_target_accept(1.0), "target_accept", "1"),
        (NutsConfig::default().with_target_accept(-0.5), "target_accept", "-0.5"),
        (NutsConfig::default().with_target_accept(f64::NAN), "target_accept", "NaN"),
        (NutsConfig::default().with_max_tree_depth(0), "max_tree_depth", "0"),
        (NutsConfig::default().with_init(InitStrategy::Uniform { radius: 0.0 }), "init radius", "0"),
        (NutsConfig::default().with_init(InitStrategy::Values(vec![0.0, f64::NAN])), "init", "NaN"),
    ];
    for (cfg, name, value) in cases {
        let e = Mcmc::new(cfg).unwrap_err();
        println!("{e}");
        assert_eq!(field(&e), name);
        let msg = e.to_string();
        assert!(msg.contains(name) && msg.contains(value), "{msg}");
    }
    let small = NutsConfig::default().with_num_warmup(10).with_num_samples(10);
    let runtime = [
        (Mcmc::new(small.clone()).unwrap().run(&Degenerate { dim: 0 }).unwrap_err(), "dim"),
        (Mcmc::new(small.clone()).unwrap().run(&Degenerate { dim: 2 }).unwrap_err(), "init"),
        (
            Mcmc::new(small.clone().with_init(InitStrategy::Values(vec![0.0; 3])))
                .unwrap()
                .run(&EightSchools::centered())
                .unwrap_err(),
            "init",
        ),
    ];
    let ok = Mcmc::new(small).unwrap().run(&EightSchools::non_centered()).unwrap();
    let runtime = runtime.into_iter().chain([(ok.param(10).unwrap_err(), "index")]);
    for (e, name) in runtime {
        println!("{e}");
        assert_eq!(field(&e), name);
        assert!(e.to_string().contains(name));
    }
}
