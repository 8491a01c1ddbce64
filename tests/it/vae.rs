//! VAE objectives against closed forms, Monte-Carlo estimates and Jensen's inequality, and a
//! short training run; tolerances are 4 standard errors computed from the samples.

use crate::support::host;
use bayesburn::data::images::ImageSet;
use bayesburn::noise;
use bayesburn::train::{fit, FitConfig};
use bayesburn::vae::{
    elbo, iwae_bound, log_weights, ConvVaeConfig, LatentGaussian, Likelihood, MlpVae, MlpVaeConfig, Reconstruction, Vae,
};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use statrs::distribution::{Continuous, Normal as StatNormal};

fn tensor2(values: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape), device)
}

/// Mean and standard error of the mean.
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// `n` binary rows of `side x side` procedurally drawn digits (pixel > 1/2).
fn binary_digits(n_per_class: usize, side: usize, seed: u64, device: &Device) -> Tensor<2> {
    let set = ImageSet::synthetic_digits(n_per_class, side, seed);
    let bits: Vec<f32> = set.pixels().iter().map(|&p| if p > 0.5 { 1.0 } else { 0.0 }).collect();
    Tensor::from_data(TensorData::new(bits, [set.len(), side * side]), device)
}

#[test]
fn analytic_kl_matches_closed_form_and_monte_carlo() {
    let device = crate::support::device();
    let (mean, log_var) = ([0.0, 1.5, -0.7, 0.3, 2.0, -1.0], [0.0, -1.2, 0.8, -3.0, 0.5, 1.0]);
    let q = LatentGaussian { mean: tensor2(&mean, [2, 3], &device), log_var: tensor2(&log_var, [2, 3], &device) };
    let kl = host(q.kl_to_standard_normal());
    // Kingma & Welling (2014), appendix B: -1/2 sum (1 + log var - mean^2 - var).
    for row in 0..2 {
        let closed: f64 = (0..3)
            .map(|j| {
                let (m, lv) = (mean[row * 3 + j], log_var[row * 3 + j]);
                -0.5 * (1.0 + lv - m * m - lv.exp())
            })
            .sum();
        assert!((kl[row] - closed).abs() < 1e-5 * (1.0 + closed), "row {row}: {} vs {closed}", kl[row]);
    }
    // Monte Carlo: KL = E_q[log q(z) - log p(z)], 20,000 draws, 4 standard errors.
    let m = 20_000;
    let z = noise::with_seed(3, || q.rsample(m));
    let log_q = host(q.log_prob(z.clone()));
    let zs = host(z);
    for row in 0..2 {
        let diffs: Vec<f64> = (0..m)
            .map(|s| {
                let log_p: f64 = (0..3).map(|j| StatNormal::standard().ln_pdf(zs[(s * 2 + row) * 3 + j])).sum();
                log_q[s * 2 + row] - log_p
            })
            .collect();
        let (est, se) = mean_se(&diffs);
        assert!((est - kl[row]).abs() < 4.0 * se, "row {row}: MC {est} +- {se} vs analytic {}", kl[row]);
    }
}

fn small_mlp(device: &Device) -> MlpVae {
    noise::with_seed(1, || MlpVaeConfig::new(64, 16, 3).init(device))
}

#[test]
fn iwae_is_at_least_the_elbo_on_the_same_samples() {
    let device = crate::support::device();
    let model = small_mlp(&device);
    let x = binary_digits(1, 8, 2, &device); // 10 images
    let k = 10;
    let w = host(noise::with_seed(5, || log_weights(&model, x.clone(), k)).unwrap()); // [k, N]
    let bound = host(noise::with_seed(5, || iwae_bound(&model, x.clone(), k, k)).unwrap());
    let n = 10;
    for i in 0..n {
        let wi: Vec<f64> = (0..k).map(|s| w[s * n + i]).collect();
        let max = wi.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let iwae = max + (wi.iter().map(|v| (v - max).exp()).sum::<f64>() / k as f64).ln();
        let elbo_estimate = wi.iter().sum::<f64>() / k as f64;
        // Jensen: log mean exp >= mean, on the very same draws.
        assert!(iwae >= elbo_estimate - 1e-9, "example {i}: IWAE {iwae} < ELBO {elbo_estimate}");
        assert!((bound[i] - iwae).abs() < 1e-4 * (1.0 + iwae.abs()), "example {i}: {} vs {iwae}", bound[i]);
    }
    // Chunking only changes how the draws are grouped, not the bound.
    let chunked = host(noise::with_seed(5, || iwae_bound(&model, x.clone(), k, 3)).unwrap());
    assert!(chunked.iter().all(|v| v.is_finite()));
}

#[test]
fn iwae_increases_with_k_on_average_and_iwae_1_is_the_elbo() {
    let device = crate::support::device();
    let model = small_mlp(&device);
    let x = binary_digits(100, 8, 4, &device); // 1,000 images: 1,000 independent estimates
    let bound = |k: usize, seed: u64| host(noise::with_seed(seed, || iwae_bound(&model, x.clone(), k, 50)).unwrap());
    let (b1, b5, b50) = (bound(1, 10), bound(5, 11), bound(50, 12));
    for (lo, hi, name) in [(&b1, &b5, "IWAE_5 - IWAE_1"), (&b5, &b50, "IWAE_50 - IWAE_5")] {
        let diff: Vec<f64> = lo.iter().zip(hi).map(|(a, b)| b - a).collect();
        let (m, se) = mean_se(&diff);
        println!("{name}: {m:.4} +- {se:.4}");
        assert!(m > 4.0 * se, "{name}: {m} +- {se}");
    }
    // E[IWAE_1] is the ELBO: the one-sample log weight averages to E_q[log p(x|z)] - KL.
    let analytic = host(noise::with_seed(13, || elbo(&model, x.clone(), 1, 1.0)).unwrap().elbo());
    let diff: Vec<f64> = b1.iter().zip(&analytic).map(|(a, b)| a - b).collect();
    let (m, se) = mean_se(&diff);
    assert!(m.abs() < 4.0 * se, "IWAE_1 - ELBO: {m} +- {se}");
}

#[test]
fn elbo_improves_during_a_short_training() {
    let device = crate::support::device();
    let ad = device.clone().autodiff();
    noise::seed(7);
    let x = binary_digits(20, 8, 6, &ad); // 200 images
    let x_plain = binary_digits(20, 8, 6, &device);
    let model = MlpVaeConfig::new(64, 32, 4).init(&ad);
    let score = |m: &MlpVae| host(noise::with_seed(8, || elbo(&m.valid(), x_plain.clone(), 10, 1.0)).unwrap().elbo());
    let before = score(&model);
    let config = FitConfig::new(15, 20, 1e-2).with_progress(false);
    let (model, _) = fit(model, &mut AdamConfig::new().init(), 200, &config, |m, b| {
        Ok(elbo(m, b.select(x.clone()), 1, 1.0)?.terms())
    })
    .unwrap();
    let after = score(&model);
    let diff: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let (m, se) = mean_se(&diff);
    assert!(m > 4.0 * se, "ELBO gain {m} +- {se} (before {:.2}, after {:.2})", mean_se(&before).0, mean_se(&after).0);
}

#[test]
fn gaussian_likelihood_is_the_normal_density_summed() {
    let device = crate::support::device();
    let raw = [0.1, -0.4, 0.9, 0.2, -1.0, 0.5]; // [1, 1, 2 * 3]: means, then raw variances
    let rec = Likelihood::Gaussian { min_variance: 1e-3 }
        .reconstruction(Tensor::from_data(TensorData::new(raw.map(|v| v as f32).to_vec(), [1, 1, 6]), &device));
    let x = [0.3, 0.0, 1.2];
    let got = host(rec.log_prob(tensor2(&x, [1, 3], &device)).unwrap())[0];
    let softplus = |v: f64| (1.0 + v.exp()).ln();
    let expected: f64 =
        (0..3).map(|d| StatNormal::new(raw[d], (softplus(raw[3 + d]) + 1e-3).sqrt()).unwrap().ln_pdf(x[d])).sum();
    assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
    assert!(matches!(rec, Reconstruction::Gaussian { .. }));
    assert!(rec.log_prob(tensor2(&x[..2], [1, 2], &device)).is_err());
}

#[test]
fn conv_vae_shapes_and_size_check() {
    let device = crate::support::device();
    for side in [8, 28] {
        let model = noise::with_seed(1, || ConvVaeConfig::new(side, side, 2).with_channels([4, 8]).init(&device));
        let x = binary_digits(1, side, 0, &device);
        let q = model.encode(x.clone()).unwrap();
        assert_eq!(q.mean.dims(), [10, 2]);
        let rec = model.decode(q.rsample(3)).unwrap();
        assert_eq!(rec.mean().dims(), [3, 10, side * side]);
        assert!(host(iwae_bound(&model, x, 4, 2).unwrap()).iter().all(|v| v.is_finite() && *v < 0.0));
    }
    let err = ConvVaeConfig::new(6, 8, 2).try_init(&device).unwrap_err();
    assert!(err.to_string().contains("multiple of 4"), "{err}");
    let model = small_mlp(&device);
    assert!(model.encode(Tensor::zeros([2, 5], &device)).is_err());
}
