//! Heteroscedastic heads and their losses, against references computed here: statrs densities,
//! softmax cross-entropy and Monte-Carlo expectations in f64, autodiff gradients, and
//! maximum-likelihood noise levels with tolerances of 4 standard errors.

use crate::support::host;
use bayesburn::layers::{BayesLinear, BayesLinearConfig, GaussianHead, GaussianHeadConfig, HeadKind, HeadProjection};
use bayesburn::objective::{Elbo, GaussianNllLossConfig, KendallGalLossConfig};
use bayesburn::prelude::*;
use bayesburn::train::{fit, FitConfig};
use burn::module::Param;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution as _, StandardNormal};
use statrs::distribution::{Continuous, Normal};

fn tensor<const D: usize>(values: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape), device)
}

fn labels(values: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

/// f32 agreement: relative 1e-5 of the magnitude plus an absolute 1e-5.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn gaussian_nll_is_minus_the_normal_log_density_summed_over_outputs() {
    let device = crate::support::device();
    let (s, n, d) = (2, 3, 2);
    let mut rng = StdRng::seed_from_u64(1);
    let mean: Vec<f64> = (0..s * n * d).map(|_| rng.random::<f64>() * 4.0 - 2.0).collect();
    let var: Vec<f64> = (0..s * n * d).map(|_| 0.05 + rng.random::<f64>() * 3.0).collect();
    let y: Vec<f64> = (0..n * d).map(|_| rng.random::<f64>() * 4.0 - 2.0).collect();
    // Round the inputs to f32 first so the reference sees what the loss sees.
    let f32r = |v: &Vec<f64>| v.iter().map(|&x| x as f32 as f64).collect::<Vec<_>>();
    let (mean, var, y) = (f32r(&mean), f32r(&var), f32r(&y));
    let loss = GaussianNllLossConfig::new().init();
    let got = host(loss.forward_no_reduction(
        tensor(&mean, [s, n, d], &device),
        tensor(&var, [s, n, d], &device),
        tensor(&y, [n, d], &device),
    ));
    assert_eq!(got.len(), s * n);
    for si in 0..s {
        for ni in 0..n {
            let expected: f64 = (0..d)
                .map(|di| {
                    let k = (si * n + ni) * d + di;
                    -Normal::new(mean[k], var[k].sqrt()).unwrap().ln_pdf(y[ni * d + di])
                })
                .sum();
            assert!(close(got[si * n + ni], expected), "[{si}, {ni}]: {} vs {expected}", got[si * n + ni]);
        }
    }
}

/// Gradients of the summed loss with respect to `mean` and `var`.
fn nll_gradients(beta: f64, mean: &[f64], var: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let device = crate::support::device().autodiff();
    let n = mean.len();
    let m = tensor(mean, [1, n, 1], &device).require_grad();
    let v = tensor(var, [1, n, 1], &device).require_grad();
    let per_example = GaussianNllLossConfig::beta_nll(beta).init().forward_no_reduction(
        m.clone(),
        v.clone(),
        tensor(y, [n, 1], &device),
    );
    let values = host(per_example.clone());
    let grads = per_example.sum().backward();
    (values, host(m.grad(&grads).unwrap()), host(v.grad(&grads).unwrap()))
}

#[test]
fn beta_nll_reweights_the_gradient_by_var_to_the_beta() {
    let mean = [0.5, -1.0, 2.0];
    let var = [0.25, 1.0, 4.0];
    let y = [1.0, 0.0, -1.0];
    let (plain, g_mean, g_var) = nll_gradients(0.0, &mean, &var, &y);
    // beta = 0 is the plain NLL, value for value.
    let (beta0, _, _) = nll_gradients(0.0, &mean, &var, &y);
    assert_eq!(plain, beta0);
    // Analytic gradients of the plain NLL, as a check on the autodiff reference itself.
    for i in 0..3 {
        let r = mean[i] - y[i];
        assert!(close(g_mean[i], r / var[i]), "d/dmean {} vs {}", g_mean[i], r / var[i]);
        assert!(close(g_var[i], 0.5 / var[i] - 0.5 * r * r / (var[i] * var[i])), "d/dvar {}", g_var[i]);
    }
    for beta in [0.5, 1.0] {
        let (values, gb_mean, gb_var) = nll_gradients(beta, &mean, &var, &y);
        for i in 0..3 {
            let w = var[i].powf(beta);
            // Seitzer et al. 2022, eq. 4: the weight var^beta scales the value and, being a
            // stopped gradient, scales both gradients by the same factor.
            assert!(close(values[i], w * plain[i]), "beta {beta}: value {} vs {}", values[i], w * plain[i]);
            assert!(close(gb_mean[i], w * g_mean[i]), "beta {beta}: d/dmean {} vs {}", gb_mean[i], w * g_mean[i]);
            assert!(close(gb_var[i], w * g_var[i]), "beta {beta}: d/dvar {} vs {}", gb_var[i], w * g_var[i]);
        }
    }
}

fn log_softmax_f64(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    z.iter().map(|v| v - lse).collect()
}

#[test]
fn kendall_gal_with_vanishing_variance_is_softmax_cross_entropy() {
    let device = crate::support::device();
    let (s, n, k) = (2, 4, 3);
    let mut rng = StdRng::seed_from_u64(2);
    let logits: Vec<f64> = (0..s * n * k).map(|_| (rng.random::<f64>() * 6.0 - 3.0) as f32 as f64).collect();
    let y: Vec<i64> = (0..n).map(|i| (i % k) as i64).collect();
    let loss = KendallGalLossConfig::new().init();
    let var = Tensor::<3>::full([s, n, k], 1e-12, &device);
    let got = host(noise::with_seed(3, || {
        loss.forward_no_reduction(tensor(&logits, [s, n, k], &device), var, labels(&y, &device))
    }));
    for si in 0..s {
        for ni in 0..n {
            let row = &logits[(si * n + ni) * k..(si * n + ni + 1) * k];
            let ce = -log_softmax_f64(row)[y[ni] as usize];
            assert!(close(got[si * n + ni], ce), "[{si}, {ni}]: {} vs {ce}", got[si * n + ni]);
        }
    }
}

/// Monte-Carlo reference in f64: mean and standard deviation over `t` draws of
/// `softmax(f + sigma eps)[y]`, with its own generator.
fn softmax_true_class_moments(f: &[f64], var: &[f64], y: usize, t: usize, seed: u64) -> (f64, f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    for _ in 0..t {
        let x: Vec<f64> = f
            .iter()
            .zip(var)
            .map(|(fi, vi)| {
                let e: f64 = StandardNormal.sample(&mut rng);
                fi + vi.sqrt() * e
            })
            .collect();
        let p = log_softmax_f64(&x)[y].exp();
        sum += p;
        sum_sq += p * p;
    }
    let mean = sum / t as f64;
    (mean, (sum_sq / t as f64 - mean * mean).max(0.0).sqrt())
}

/// The loss's Monte-Carlo estimate of `E[softmax(x)[y]]`, `exp(-loss)`, for one example.
fn kendall_gal_probability(f: &[f64], var: &[f64], y: i64, t: usize, seed: u64) -> f64 {
    let device = crate::support::device();
    let k = f.len();
    let loss = KendallGalLossConfig::new().with_samples(t).init();
    let value = noise::with_seed(seed, || {
        loss.forward_no_reduction(tensor(f, [1, 1, k], &device), tensor(var, [1, 1, k], &device), labels(&[y], &device))
    });
    (-host(value)[0]).exp()
}

#[test]
fn kendall_gal_with_many_samples_approaches_the_expected_softmax() {
    let f = [1.0, 0.0, -0.5];
    let var = [0.5, 2.0, 1.0];
    let (t_lib, t_ref) = (20_000, 200_000);
    for y in [0usize, 1] {
        let p_lib = kendall_gal_probability(&f, &var, y as i64, t_lib, 10 + y as u64);
        let (p_ref, sd) = softmax_true_class_moments(&f, &var, y, t_ref, 20 + y as u64);
        // Both are means of iid draws of the same bounded variable.
        let tolerance = 4.0 * sd * (1.0 / t_lib as f64 + 1.0 / t_ref as f64).sqrt();
        assert!((p_lib - p_ref).abs() < tolerance, "class {y}: {p_lib} vs {p_ref} (tolerance {tolerance})");
    }
}

#[test]
fn more_logit_noise_on_a_confident_correct_example_costs_more() {
    let f = [4.0, 0.0, 0.0];
    let t = 5_000;
    let mut previous: Option<(f64, f64, f64)> = None; // (p_lib, p_ref, se)
    for (i, var) in [0.25, 4.0, 16.0].into_iter().enumerate() {
        let vars = [var; 3];
        let p_lib = kendall_gal_probability(&f, &vars, 0, t, 30 + i as u64);
        let (p_ref, sd) = softmax_true_class_moments(&f, &vars, 0, 100_000, 40 + i as u64);
        let se = sd * (1.0 / t as f64 + 1.0 / 100_000.0).sqrt();
        assert!((p_lib - p_ref).abs() < 4.0 * se, "var {var}: {p_lib} vs {p_ref}");
        if let Some((prev_lib, prev_ref, prev_se)) = previous {
            // The design: the expected drop is far beyond the Monte-Carlo error...
            assert!(prev_ref - p_ref > 8.0 * (se + prev_se), "var {var}: drop {} too small to test", prev_ref - p_ref);
            // ...so the loss -log p must rise.
            assert!(p_lib < prev_lib, "var {var}: loss did not increase ({p_lib} >= {prev_lib})");
        }
        previous = Some((p_lib, p_ref, se));
    }
}

#[test]
fn gaussian_head_variance_never_goes_below_the_floor() {
    let device = crate::support::device();
    let floor = 1e-3;
    for kind in [HeadKind::Deterministic, HeadKind::bayesian()] {
        let head = noise::with_seed(5, || {
            GaussianHeadConfig::new(2, 1).with_min_variance(floor).with_kind(kind).init(&device)
        });
        let x = noise::with_seed(6, || noise::normal([4, 50, 2], &device).mul_scalar(100.0));
        let var = host(head.forward(x).var);
        assert!(
            var.iter().all(|&v| v >= floor as f32 as f64),
            "{kind:?}: min {:?}",
            var.iter().cloned().fold(f64::INFINITY, f64::min)
        );
    }
    // A raw variance of -1e4 makes softplus underflow to 0: the variance is exactly the floor.
    let mut head = GaussianHeadConfig::new(1, 1).with_min_variance(floor).init(&device);
    if let HeadProjection::Deterministic(linear) = &mut head.projection {
        linear.weight = Param::from_tensor(Tensor::from_data([[0.0, -1e4]], &device));
        linear.bias = Some(Param::from_tensor(Tensor::zeros([2], &device)));
    }
    let var = host(head.forward(Tensor::ones([1, 3, 1], &device)).var);
    assert!(var.iter().all(|&v| v == floor as f32 as f64), "{var:?}");
}

#[test]
fn heteroscedastic_head_learns_two_noise_levels() {
    // y ~ N(m_r, s_r^2) in two regions r, encoded as one-hot features, so a linear head can
    // represent the truth exactly and its optimum is the per-region maximum-likelihood fit.
    let device = crate::support::device().autodiff();
    let per_region = 400;
    let regions = [(1.0, 0.3), (-2.0, 1.5)]; // (mean, sd)
    let mut rng = StdRng::seed_from_u64(7);
    let (mut features, mut targets) = (Vec::new(), Vec::new());
    for (r, (m, sd)) in regions.iter().enumerate() {
        for _ in 0..per_region {
            features.extend(if r == 0 { [1.0, 0.0] } else { [0.0, 1.0] });
            let e: f64 = StandardNormal.sample(&mut rng);
            targets.push(m + sd * e);
        }
    }
    let n = 2 * per_region;
    let x = tensor(&features, [n, 2], &device);
    let y = tensor(&targets, [n, 1], &device);
    let head = noise::with_seed(8, || GaussianHeadConfig::new(2, 1).init(&device));
    let elbo = Elbo::new(n).unwrap();
    let nll = GaussianNllLossConfig::new().init();
    let config = FitConfig::new(300, n, 0.05).with_progress(false);
    let mut optim = AdamConfig::new().init();
    let (head, _) = fit(head, &mut optim, n, &config, |head: &GaussianHead, batch| {
        let out = head.forward(batch.select(x.clone()).unsqueeze::<3>());
        elbo.loss(nll.forward_no_reduction(out.mean, out.var, batch.select(y.clone())), head.kl(), batch.step)
    })
    .unwrap();
    let probe = Tensor::<3>::from_data([[[1.0, 0.0], [0.0, 1.0]]], &crate::support::device());
    let out = head.valid().forward(probe);
    let (mean, var) = (host(out.mean), host(out.var));
    for (r, (m, sd)) in regions.iter().enumerate() {
        let truth = sd * sd;
        // The ML variance of n Normal draws has standard error var * sqrt(2 / n); the ML mean
        // has sd / sqrt(n).
        let var_tol = 4.0 * truth * (2.0 / per_region as f64).sqrt();
        let mean_tol = 4.0 * sd / (per_region as f64).sqrt();
        assert!((var[r] - truth).abs() < var_tol, "region {r}: var {} vs {truth} (tolerance {var_tol})", var[r]);
        assert!((mean[r] - m).abs() < mean_tol, "region {r}: mean {} vs {m} (tolerance {mean_tol})", mean[r]);
    }
}

/// Partial Bayesianization: a Bayes-by-backprop body with a deterministic variance head.
#[derive(Module, Bayesian, Debug)]
struct PartlyBayesian {
    body: BayesLinear,
    head: GaussianHead,
}

#[test]
fn a_deterministic_head_adds_nothing_to_the_kl_of_a_bayesian_body() {
    let device = crate::support::device();
    let net = noise::with_seed(9, || PartlyBayesian {
        body: BayesLinearConfig::new(3, 4).init(&device),
        head: GaussianHeadConfig::new(4, 1).init(&device),
    });
    let body_kl = host(Bayesian::kl(&net.body).unwrap())[0];
    assert_eq!(host(net.kl().unwrap())[0], body_kl);
    assert_eq!(net.posterior_stats().len(), 1);
    let net = net.with_mode(Mode::Mean);
    let x = Tensor::<3>::ones([2, 5, 3], &device);
    let out = net.head.forward(net.body.forward(x));
    // In Mode::Mean both samples are the same deterministic prediction.
    let mean = host(out.mean);
    assert_eq!(&mean[..5], &mean[5..]);
}
