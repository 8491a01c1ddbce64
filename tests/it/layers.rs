//! Statistical and contract tests of the variational layers.
//!
//! Monte-Carlo checks use fixed seeds (`noise::with_seed`) and tolerances of 4 standard errors
//! computed from the number of samples S; the expected values are computed here from the
//! posterior parameters (closed forms, brute-force loops), never taken from the layer.

use crate::support::host;
use bayesburn::check;
use bayesburn::layers::{BayesConv2d, BayesConv2dConfig, BayesLinear, BayesLinearConfig, Estimator, McDropoutConfig};
use bayesburn::posterior::{inverse_softplus, MeanField};
use bayesburn::prelude::*;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{TensorData, Tolerance};
use rand::RngExt;

const ESTIMATORS: [Estimator; 3] =
    [Estimator::Reparameterization, Estimator::Flipout, Estimator::LocalReparameterization];

fn tensor<const D: usize>(values: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

/// `n` values uniform on `[low, high)` from the thread's (seeded) noise source.
fn uniform_values(n: usize, low: f64, high: f64) -> Vec<f64> {
    noise::with_rng(|rng| (0..n).map(|_| low + (high - low) * rng.random::<f64>()).collect())
}

fn rho_of(sigma: &[f64]) -> Vec<f64> {
    sigma.iter().map(|&s| inverse_softplus(s)).collect()
}

/// A fixed posterior for a `d_input x d_output` layer with bias.
struct LinearPosterior {
    d_input: usize,
    d_output: usize,
    mu: Vec<f64>,
    sigma: Vec<f64>,
    b_mu: Vec<f64>,
    b_sigma: Vec<f64>,
}

impl LinearPosterior {
    fn random(d_input: usize, d_output: usize) -> Self {
        let n = d_input * d_output;
        LinearPosterior {
            d_input,
            d_output,
            mu: uniform_values(n, -1.0, 1.0),
            sigma: uniform_values(n, 0.3, 1.0),
            b_mu: uniform_values(d_output, -1.0, 1.0),
            b_sigma: uniform_values(d_output, 0.3, 1.0),
        }
    }

    fn layer(&self, prior: Prior, device: &Device) -> BayesLinear {
        let shape = [self.d_input, self.d_output];
        let mut layer = BayesLinearConfig::new(self.d_input, self.d_output).with_prior(prior).init(device);
        layer.weight = MeanField::new(tensor(&self.mu, shape, device), tensor(&rho_of(&self.sigma), shape, device));
        layer.bias = Some(MeanField::new(
            tensor(&self.b_mu, [self.d_output], device),
            tensor(&rho_of(&self.b_sigma), [self.d_output], device),
        ));
        layer
    }

    /// Mean and variance of output `o` for input row `x`: `x·mu + b_mu`, `x²·sigma² + b_sigma²`.
    fn moments(&self, x: &[f64], o: usize) -> (f64, f64) {
        let mut mean = self.b_mu[o];
        let mut var = self.b_sigma[o].powi(2);
        for (i, xi) in x.iter().enumerate() {
            mean += xi * self.mu[i * self.d_output + o];
            var += xi * xi * self.sigma[i * self.d_output + o].powi(2);
        }
        (mean, var)
    }
}

/// `[N, d]` rows repeated S times: `[S, N, d]`.
fn repeat_samples(rows: &[f64], n: usize, d: usize, s: usize, device: &Device) -> Tensor<3> {
    tensor(rows, [n, d], device).unsqueeze::<3>().repeat_dim(0, s)
}

/// Column `k` of a row-major `[S, K]` sample matrix.
fn column(values: &[f64], k: usize, width: usize) -> Vec<f64> {
    values.iter().skip(k).step_by(width).copied().collect()
}

/// Asserts that the sample mean and (unbiased) sample variance of Gaussian draws are within 4
/// standard errors of `mean` and `var`: SE(mean) = sqrt(var / S), SE(var) = var sqrt(2 / (S - 1)).
fn assert_gaussian_moments(label: &str, draws: &[f64], mean: f64, var: f64) {
    for c in check::gaussian_moments(label, draws, mean, var).unwrap() {
        assert!(c.passes(4.0), "{c}");
    }
}

#[test]
fn linear_estimators_match_the_analytic_pre_activation_moments() {
    let device = crate::support::device();
    let (s, n, d_in, d_out) = (4000, 2, 3, 2);
    let (posterior, x) =
        noise::with_seed(1, || (LinearPosterior::random(d_in, d_out), uniform_values(n * d_in, -2.0, 2.0)));
    // Through the shipped harness, as a user would check a layer of their own.
    for (k, estimator) in ESTIMATORS.into_iter().enumerate() {
        let layer = posterior.layer(Prior::default(), &device).with_estimator(estimator);
        let checks = noise::with_seed(10 + k as u64, || {
            check::pre_activation_moments(
                |x3| layer.forward(x3),
                tensor(&x, [n, d_in], &device),
                s,
                |row, o| posterior.moments(&x[row * d_in..(row + 1) * d_in], o),
            )
        })
        .unwrap();
        assert_eq!(checks.len(), 2 * n * d_out);
        for c in checks {
            assert!(c.passes(4.0), "{estimator:?} {c}");
        }
    }
}

#[test]
fn flipout_signs_are_plus_or_minus_one_per_example() {
    // mu = 0, no bias, one input and output, x = 1: out[s, n] = s_in[s, n] s_out[s, n] sigma eps[s],
    // so |out| is the same for all examples of a sample and out[s, n] / out[s, 0] is a fair sign.
    let device = crate::support::device();
    let (s, n) = (200, 64);
    let mut layer = BayesLinearConfig::new(1, 1).with_bias(false).with_estimator(Estimator::Flipout).init(&device);
    layer.weight = MeanField::new(Tensor::zeros([1, 1], &device), tensor(&[inverse_softplus(0.5)], [1, 1], &device));
    let out = host(noise::with_seed(2, || layer.forward(Tensor::ones([s, n, 1], &device))));
    let mut flips = 0usize;
    for sample in out.chunks(n) {
        let first = sample[0];
        assert!(first.abs() > 1e-12);
        for &v in &sample[1..] {
            let ratio = v / first;
            assert!((ratio.abs() - 1.0).abs() < 1e-5, "ratio {ratio} is not +-1");
            flips += usize::from(ratio < 0.0);
        }
    }
    // Binomial(S (N - 1), 1/2).
    let trials = (s * (n - 1)) as f64;
    let sd = (trials * 0.25).sqrt();
    assert!((flips as f64 - trials / 2.0).abs() < 4.0 * sd, "{flips} sign flips out of {trials}");
}

#[test]
fn flipout_decorrelates_the_examples_of_a_batch() {
    // Wen et al. 2018: with shared weights the perturbations of two identical examples are
    // identical (r = 1); Flipout makes them uncorrelated (and local reparameterization too).
    let device = crate::support::device();
    let (s, d_in) = (4000, 3);
    let (posterior, x) = noise::with_seed(3, || (LinearPosterior::random(d_in, 1), uniform_values(d_in, -2.0, 2.0)));
    let rows = [x.clone(), x.clone()].concat();
    let x3 = repeat_samples(&rows, 2, d_in, s, &device);
    let (mean, var) = posterior.moments(&x, 0);
    // Under Flipout both perturbations are sign-flipped views of the same Gaussian vector, so
    // they are uncorrelated but not independent: Var(r) ~ kappa / S with
    // kappa = E[p0^2 p1^2] / var^2 = 1 + 2 (sum_i (x_i sigma_i)^4 + b_sigma^4) / var^2.
    let fourth: f64 =
        x.iter().zip(&posterior.sigma).map(|(xi, si)| (xi * si).powi(4)).sum::<f64>() + posterior.b_sigma[0].powi(4);
    let kappa = 1.0 + 2.0 * fourth / (var * var);
    for (k, estimator) in ESTIMATORS.into_iter().enumerate() {
        let layer = posterior.layer(Prior::default(), &device).with_estimator(estimator);
        let out = host(noise::with_seed(20 + k as u64, || layer.forward(x3.clone())));
        let (mut s01, mut s00, mut s11) = (0.0, 0.0, 0.0);
        for pair in out.chunks(2) {
            let (p0, p1) = (pair[0] - mean, pair[1] - mean);
            s01 += p0 * p1;
            s00 += p0 * p0;
            s11 += p1 * p1;
        }
        let r = s01 / (s00 * s11).sqrt();
        match estimator {
            Estimator::Reparameterization => assert!(r > 1.0 - 1e-4, "shared weights: r = {r}"),
            Estimator::Flipout => {
                let bound = 4.0 * (kappa / s as f64).sqrt();
                assert!(r.abs() < bound, "Flipout: r = {r}, bound {bound}");
            }
            Estimator::LocalReparameterization => {
                let bound = 4.0 / (s as f64).sqrt();
                assert!(r.abs() < bound, "local reparameterization: r = {r}, bound {bound}");
            }
        }
    }
}

#[test]
fn mean_mode_is_deterministic_and_equals_the_posterior_mean() {
    let device = crate::support::device();
    let (n, d_in, d_out) = (3, 4, 2);
    let (posterior, x) =
        noise::with_seed(4, || (LinearPosterior::random(d_in, d_out), uniform_values(n * d_in, -1.0, 1.0)));
    let x3 = repeat_samples(&x, n, d_in, 5, &device);
    for estimator in ESTIMATORS {
        let layer = posterior.layer(Prior::default(), &device).with_estimator(estimator).with_mode(Mode::Mean);
        let a = host(layer.forward(x3.clone()));
        let b = host(layer.forward(x3.clone()));
        assert_eq!(a, b);
        for (idx, value) in a.iter().enumerate() {
            let (row, o) = ((idx / d_out) % n, idx % d_out);
            let (mean, _) = posterior.moments(&x[row * d_in..(row + 1) * d_in], o);
            assert!((value - mean).abs() < 1e-5, "{value} vs {mean}");
        }
    }
    let conv = BayesConv2dConfig::new([2, 3], [3, 3]).init(&device).with_mode(Mode::Mean);
    let x5: Tensor<5> = noise::with_seed(5, || noise::normal([2, 2, 2, 5, 5], &device));
    assert_eq!(host(conv.forward(x5.clone())), host(conv.forward(x5)));
}

#[test]
fn sample_mode_draws_fresh_noise_and_seeds_reproduce_it() {
    let device = crate::support::device();
    let layer = BayesLinearConfig::new(3, 2).init(&device);
    let x = Tensor::<3>::ones([2, 4, 3], &device);
    for estimator in ESTIMATORS {
        let layer = layer.clone().with_estimator(estimator);
        let a = host(noise::with_seed(6, || layer.forward(x.clone())));
        let b = host(noise::with_seed(6, || layer.forward(x.clone())));
        let c = host(noise::with_seed(7, || layer.forward(x.clone())));
        assert_eq!(a, b, "{estimator:?}: same seed, same draw");
        assert_ne!(a, c, "{estimator:?}: another seed, another draw");
    }
}

#[test]
fn batched_grouped_conv_equals_one_conv_per_weight_sample() {
    let device = crate::support::device();
    let (s, n) = (3, 2);
    let layer = noise::with_seed(8, || {
        BayesConv2dConfig::new([2, 3], [2, 3])
            .with_stride([1, 2])
            .with_dilation([2, 1])
            .with_padding(PaddingConfig2d::Explicit(1, 0, 1, 2))
            .with_init(PosteriorInit { mu: MuInit::Normal { mean: 0.0, std: 1.0 }, rho: 0.0 })
            .init(&device)
    });
    let x: Tensor<5> = noise::with_seed(9, || noise::normal([s, n, 2, 5, 6], &device));
    let (weights, bias) = noise::with_seed(10, || layer.sample_weights(s));
    let batched = layer.forward_with_weights(x.clone(), weights.clone(), bias.clone()).unwrap();
    let bias = bias.unwrap();
    for k in 0..s {
        let xk: Tensor<4> = x.clone().slice(s![k..k + 1]).squeeze_dim(0);
        let wk: Tensor<4> = weights.clone().slice(s![k..k + 1]).squeeze_dim(0);
        let bk: Tensor<1> = bias.clone().slice(s![k..k + 1]).squeeze_dim(0);
        let options = ConvOptions::new_with_padding([1, 2], [(1, 1), (0, 2)], [2, 1], 1);
        let expected = conv2d(xk, wk, Some(bk), options);
        let got: Tensor<4> = batched.clone().slice(s![k..k + 1]).squeeze_dim(0);
        assert_eq!(got.dims(), expected.dims());
        got.into_data().assert_approx_eq::<f32>(&expected.into_data(), Tolerance::default());
    }
    // The reparameterization forward is this path with freshly sampled weights.
    let forward = noise::with_seed(10, || layer.forward(x.clone()));
    forward.into_data().assert_approx_eq::<f32>(&batched.into_data(), Tolerance::default());
}

#[test]
fn conv_estimators_match_the_analytic_pre_activation_moments() {
    let device = crate::support::device();
    let (s, n, c_in, c_out, h, w, k) = (3000, 2, 2, 2, 3, 3, 2);
    let (mu, sigma, b_mu, b_sigma, x) = noise::with_seed(11, || {
        let m = c_out * c_in * k * k;
        (
            uniform_values(m, -1.0, 1.0),
            uniform_values(m, 0.3, 1.0),
            uniform_values(c_out, -1.0, 1.0),
            uniform_values(c_out, 0.3, 1.0),
            uniform_values(n * c_in * h * w, -2.0, 2.0),
        )
    });
    let (h_out, w_out) = (h - k + 1, w - k + 1);
    // Brute-force moments of out[n, o, i, j] = sum_{c,a,b} x[n, c, i+a, j+b] w[o, c, a, b] + b[o].
    let mut analytic = Vec::new();
    for e in 0..n {
        for o in 0..c_out {
            for i in 0..h_out {
                for j in 0..w_out {
                    let (mut mean, mut var) = (b_mu[o], b_sigma[o].powi(2));
                    for c in 0..c_in {
                        for a in 0..k {
                            for b in 0..k {
                                let xv = x[((e * c_in + c) * h + i + a) * w + j + b];
                                let wi = ((o * c_in + c) * k + a) * k + b;
                                mean += xv * mu[wi];
                                var += xv * xv * sigma[wi].powi(2);
                            }
                        }
                    }
                    analytic.push((mean, var));
                }
            }
        }
    }
    let x5 = tensor(&x, [n, c_in, h, w], &device).unsqueeze::<5>().repeat_dim(0, s);
    for (q, estimator) in ESTIMATORS.into_iter().enumerate() {
        let mut layer = BayesConv2dConfig::new([c_in, c_out], [k, k]).with_estimator(estimator).init(&device);
        layer.weight = MeanField::new(
            tensor(&mu, [c_out, c_in, k, k], &device),
            tensor(&rho_of(&sigma), [c_out, c_in, k, k], &device),
        );
        layer.bias = Some(MeanField::new(tensor(&b_mu, [c_out], &device), tensor(&rho_of(&b_sigma), [c_out], &device)));
        let out = host(noise::with_seed(30 + q as u64, || layer.forward(x5.clone())));
        assert_eq!(out.len(), s * analytic.len());
        for (idx, &(mean, var)) in analytic.iter().enumerate() {
            let draws = column(&out, idx, analytic.len());
            assert_gaussian_moments(&format!("{estimator:?} conv output {idx}"), &draws, mean, var);
        }
    }
}

#[test]
fn conv_flipout_decorrelates_the_examples_of_a_batch() {
    // Two identical images; one output unit (1 output channel, 2x2 kernel on a 2x2 image).
    let device = crate::support::device();
    let (s, c_in, k) = (4000, 3, 2);
    let m = c_in * k * k;
    let (mu, sigma, b_sigma, x) = noise::with_seed(21, || {
        (
            uniform_values(m, -1.0, 1.0),
            uniform_values(m, 0.3, 1.0),
            uniform_values(1, 0.3, 1.0),
            uniform_values(m, -2.0, 2.0),
        )
    });
    let mean: f64 = x.iter().zip(&mu).map(|(a, b)| a * b).sum();
    // Flipout signs act per input channel: with v_c the variance carried by channel c and v_b
    // the bias variance, E[p0^2 p1^2] / var^2 = 1 + 2 (sum_c v_c^2 + v_b^2) / var^2.
    let v_c: Vec<f64> =
        (0..c_in).map(|c| (c * k * k..(c + 1) * k * k).map(|i| (x[i] * sigma[i]).powi(2)).sum()).collect();
    let v_b = b_sigma[0].powi(2);
    let var = v_c.iter().sum::<f64>() + v_b;
    let kappa = 1.0 + 2.0 * (v_c.iter().map(|v| v * v).sum::<f64>() + v_b * v_b) / (var * var);
    let image = [x.clone(), x.clone()].concat();
    let x5 = tensor(&image, [2, c_in, k, k], &device).unsqueeze::<5>().repeat_dim(0, s);
    for (q, estimator) in ESTIMATORS.into_iter().enumerate() {
        let mut layer = BayesConv2dConfig::new([c_in, 1], [k, k]).with_estimator(estimator).init(&device);
        layer.weight =
            MeanField::new(tensor(&mu, [1, c_in, k, k], &device), tensor(&rho_of(&sigma), [1, c_in, k, k], &device));
        layer.bias = Some(MeanField::new(Tensor::zeros([1], &device), tensor(&rho_of(&b_sigma), [1], &device)));
        let out = host(noise::with_seed(40 + q as u64, || layer.forward(x5.clone())));
        assert_eq!(out.len(), 2 * s);
        let (mut s01, mut s00, mut s11) = (0.0, 0.0, 0.0);
        for pair in out.chunks(2) {
            let (p0, p1) = (pair[0] - mean, pair[1] - mean);
            s01 += p0 * p1;
            s00 += p0 * p0;
            s11 += p1 * p1;
        }
        let r = s01 / (s00 * s11).sqrt();
        match estimator {
            Estimator::Reparameterization => assert!(r > 1.0 - 1e-4, "shared kernels: r = {r}"),
            Estimator::Flipout => {
                let bound = 4.0 * (kappa / s as f64).sqrt();
                assert!(r.abs() < bound, "conv Flipout: r = {r}, bound {bound}");
            }
            Estimator::LocalReparameterization => {
                let bound = 4.0 / (s as f64).sqrt();
                assert!(r.abs() < bound, "conv local reparameterization: r = {r}, bound {bound}");
            }
        }
    }
}

#[test]
fn mc_dropout_samples_masks_on_the_inference_device() {
    let device = crate::support::device(); // not autodiff: burn's own Dropout would be the identity here
    let p = 0.3;
    let keep = 1.0 - p;
    let layer = McDropoutConfig::new(p).init();
    let x = Tensor::<3>::ones([2, 50, 100], &device);
    let (a, b) = noise::with_seed(12, || (host(layer.forward(x.clone())), host(layer.forward(x.clone()))));
    assert_ne!(a, b, "two calls gave the same mask");
    let valid = layer.valid();
    let c = noise::with_seed(13, || host(valid.forward(x.clone())));
    assert_ne!(a, c, "valid() switched MC dropout off");

    for draws in [&a, &b, &c] {
        let kept: Vec<f64> = draws.iter().copied().filter(|&v| v != 0.0).collect();
        for v in &kept {
            assert!((v - 1.0 / keep).abs() < 1e-6, "kept value {v} is not 1/(1-p)");
        }
        let m = draws.len() as f64;
        let share = kept.len() as f64 / m;
        let se = (keep * p / m).sqrt();
        assert!((share - keep).abs() < 4.0 * se, "kept share {share} vs {keep}");
    }

    // Independent masks across the sample axis: both samples keep a position with (1-p)^2.
    let half = a.len() / 2;
    let both = (0..half).filter(|&i| a[i] != 0.0 && a[half + i] != 0.0).count() as f64 / half as f64;
    let q = keep * keep;
    let se = (q * (1.0 - q) / half as f64).sqrt();
    assert!((both - q).abs() < 4.0 * se, "both kept {both} vs {q}");

    // Also on an autodiff device, and off in Mode::Mean.
    let train = host(noise::with_seed(14, || layer.forward(Tensor::<3>::ones([2, 50, 100], &device.autodiff()))));
    assert!(train.contains(&0.0));
    assert_eq!(host(layer.clone().with_mode(Mode::Mean).forward(x.clone())), host(x));
}

/// `sum[ log(scale/sigma) + (sigma^2 + (mu - loc)^2) / (2 scale^2) - 1/2 ]`.
fn closed_form_kl(mu: &[f64], sigma: &[f64], loc: f64, scale: f64) -> f64 {
    mu.iter()
        .zip(sigma)
        .map(|(m, s)| (scale / s).ln() + (s * s + (m - loc).powi(2)) / (2.0 * scale * scale) - 0.5)
        .sum()
}

#[test]
fn kl_is_the_closed_form_sum_over_weights_and_bias() {
    let device = crate::support::device();
    let (loc, scale) = (0.3, 1.5);
    let prior = Prior::Normal { loc, scale };
    let posterior = noise::with_seed(15, || LinearPosterior::random(4, 3));
    let layer = posterior.layer(prior, &device);
    let expected = closed_form_kl(&posterior.mu, &posterior.sigma, loc, scale)
        + closed_form_kl(&posterior.b_mu, &posterior.b_sigma, loc, scale);
    let kl = host(layer.kl().unwrap())[0];
    assert!((kl - expected).abs() < 1e-4 * expected.abs().max(1.0), "kl {kl} vs {expected}");

    let stats = layer.posterior_stats();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].n_weights, 12 + 3);
    assert!((stats[0].kl - expected).abs() < 1e-4 * expected.abs().max(1.0));
    let all_mu = [posterior.mu.clone(), posterior.b_mu.clone()].concat();
    let all_sigma = [posterior.sigma.clone(), posterior.b_sigma.clone()].concat();
    let snr = all_mu.iter().zip(&all_sigma).map(|(m, s)| m.abs() / s).sum::<f64>() / 15.0;
    assert!((stats[0].mean_snr - snr).abs() < 1e-4 * snr.max(1.0), "snr {} vs {snr}", stats[0].mean_snr);
    let mean_sigma = all_sigma.iter().sum::<f64>() / 15.0;
    assert!((stats[0].mean_sigma - mean_sigma).abs() < 1e-6, "sigma {} vs {mean_sigma}", stats[0].mean_sigma);

    // Conv: the same closed form over the kernel and the bias.
    let conv = noise::with_seed(16, || {
        BayesConv2dConfig::new([2, 2], [2, 2])
            .with_prior(prior)
            .with_init(PosteriorInit { mu: MuInit::Normal { mean: 0.0, std: 0.5 }, rho: -1.0 })
            .init(&device)
    });
    let expected = closed_form_kl(&host(conv.weight.mu.val()), &host(conv.weight.sigma()), loc, scale)
        + closed_form_kl(
            &host(conv.bias.as_ref().unwrap().mu.val()),
            &host(conv.bias.as_ref().unwrap().sigma()),
            loc,
            scale,
        );
    let kl = host(conv.kl().unwrap())[0];
    assert!((kl - expected).abs() < 1e-4 * expected.abs().max(1.0), "conv kl {kl} vs {expected}");
}

#[test]
fn prior_share_counts_weights_left_at_the_prior() {
    let device = crate::support::device();
    let prior = Prior::Normal { loc: 0.0, scale: 1.0 };
    // Two of six weights sit at the prior (mu = 0, sigma = 1); the others moved.
    let mu = [0.0, 0.5, 0.0, -2.0, 0.01, 1.0];
    let sigma = [1.0, 1.0, 1.02, 0.1, 0.5, 0.2];
    let mut layer = BayesLinearConfig::new(2, 3).with_bias(false).with_prior(prior).init(&device);
    layer.weight = MeanField::new(tensor(&mu, [2, 3], &device), tensor(&rho_of(&sigma), [2, 3], &device));
    let stats = layer.posterior_stats();
    assert_eq!(stats[0].n_weights, 6);
    assert!((stats[0].prior_share - 2.0 / 6.0).abs() < 1e-9, "prior share {}", stats[0].prior_share);
}

#[test]
fn moped_from_burn_linear_and_conv2d() {
    let device = crate::support::device();
    let delta = 0.1;
    let linear = noise::with_seed(17, || LinearConfig::new(4, 3).init(&device));
    let layer = BayesLinear::from_linear(&linear, delta, Prior::default()).unwrap();
    assert_eq!(host(layer.weight.mu.val()), host(linear.weight.val()));
    let check_sigma = |w: Vec<f64>, sigma: Vec<f64>| {
        for (w, s) in w.iter().zip(&sigma) {
            let expected = (delta * w.abs()).max(1e-6);
            assert!((s - expected).abs() < 1e-4 * expected + 1e-7, "sigma {s} vs delta |w| = {expected}");
        }
    };
    check_sigma(host(linear.weight.val()), host(layer.weight.sigma()));
    let bias = linear.bias.as_ref().unwrap().val();
    assert_eq!(host(layer.bias.as_ref().unwrap().mu.val()), host(bias.clone()));
    check_sigma(host(bias), host(layer.bias.as_ref().unwrap().sigma()));
    // In Mode::Mean the converted layer computes what the deterministic one did.
    let x: Tensor<2> = noise::with_seed(18, || noise::normal([5, 4], &device));
    let mean = layer.with_mode(Mode::Mean).forward(x.clone().unsqueeze::<3>().repeat_dim(0, 2));
    let expected = linear.forward(x);
    for k in 0..2 {
        let got: Tensor<2> = mean.clone().slice(s![k..k + 1]).squeeze_dim(0);
        got.into_data().assert_approx_eq::<f32>(&expected.clone().into_data(), Tolerance::default());
    }

    let conv = noise::with_seed(19, || {
        Conv2dConfig::new([2, 3], [3, 3]).with_padding(PaddingConfig2d::Same).with_stride([2, 1]).init(&device)
    });
    let bayes = BayesConv2d::from_conv2d(&conv, delta, Prior::default()).unwrap();
    assert_eq!(host(bayes.weight.mu.val()), host(conv.weight.val()));
    check_sigma(host(conv.weight.val()), host(bayes.weight.sigma()));
    let x: Tensor<4> = noise::with_seed(20, || noise::normal([2, 2, 7, 6], &device));
    let got: Tensor<4> = bayes.with_mode(Mode::Mean).forward(x.clone().unsqueeze::<5>()).squeeze_dim(0);
    let expected = conv.forward(x);
    assert_eq!(got.dims(), expected.dims());
    got.into_data().assert_approx_eq::<f32>(&expected.into_data(), Tolerance::default());

    let err = BayesLinear::from_linear(&linear, 0.0, Prior::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { field: "delta", .. }), "{err}");
    let grouped = Conv2dConfig::new([2, 4], [3, 3]).with_groups(2).init(&device);
    let err = BayesConv2d::from_conv2d(&grouped, delta, Prior::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { field: "groups", .. }), "{err}");
}

/// Deterministic export: the plain burn layers from `to_linear` / `to_conv2d` compute exactly
/// what the Bayesian layers compute in Mode::Mean, and `sample_linear` draws weights whose mean
/// over K draws is `mu` within 4 standard errors (`sigma / sqrt(K)`).
#[test]
fn exported_layers_match_mean_mode_and_sample_the_posterior() {
    let device = crate::support::device();
    let posterior = noise::with_seed(21, || LinearPosterior::random(4, 3));
    let layer = posterior.layer(Prior::default(), &device);
    let x: Tensor<2> = noise::with_seed(22, || noise::normal([6, 4], &device));
    let mean = layer.clone().with_mode(Mode::Mean).forward(x.clone().unsqueeze::<3>()).squeeze_dim::<2>(0);
    mean.into_data().assert_eq(&layer.to_linear().forward(x).into_data(), true);

    let k = 2000;
    let draws: Vec<Vec<f64>> =
        noise::with_seed(23, || (0..k).map(|_| host(layer.sample_linear().weight.val())).collect());
    for (j, (&mu, &sigma)) in posterior.mu.iter().zip(&posterior.sigma).enumerate() {
        let avg = draws.iter().map(|d| d[j]).sum::<f64>() / k as f64;
        let se = sigma / (k as f64).sqrt();
        assert!((avg - mu).abs() < 4.0 * se, "weight {j}: mean of draws {avg} vs mu {mu} (se {se})");
    }

    let conv = noise::with_seed(24, || {
        BayesConv2dConfig::new([2, 3], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .with_stride([2, 1])
            .with_init(PosteriorInit { mu: MuInit::Normal { mean: 0.0, std: 0.5 }, rho: -1.0 })
            .init(&device)
    });
    let x: Tensor<4> = noise::with_seed(25, || noise::normal([2, 2, 7, 6], &device));
    let mean: Tensor<4> = conv.clone().with_mode(Mode::Mean).forward(x.clone().unsqueeze::<5>()).squeeze_dim(0);
    let exported = conv.to_conv2d().forward(x.clone());
    assert_eq!(mean.dims(), exported.dims());
    mean.into_data().assert_approx_eq::<f32>(&exported.into_data(), Tolerance::default());
    assert_eq!(conv.sample_conv2d().forward(x).dims(), [2, 3, 4, 6]);
}

#[test]
fn gradients_reach_mu_and_rho_under_every_estimator() {
    let device = crate::support::device().autodiff();
    for estimator in ESTIMATORS {
        let layer = BayesLinearConfig::new(3, 2).with_estimator(estimator).init(&device);
        let x = Tensor::<3>::ones([4, 2, 3], &device);
        let loss = layer.forward(x).powi_scalar(2).sum() + layer.kl().unwrap();
        let grads = loss.backward();
        for (name, grad) in [
            ("weight.mu", layer.weight.mu.val().grad(&grads).map(host)),
            ("weight.rho", layer.weight.rho.val().grad(&grads).map(host)),
            ("bias.rho", layer.bias.as_ref().unwrap().rho.val().grad(&grads).map(host)),
        ] {
            let grad = grad.unwrap_or_else(|| panic!("{estimator:?}: no gradient for {name}"));
            assert!(
                grad.iter().all(|g| g.is_finite()) && grad.iter().any(|&g| g != 0.0),
                "{estimator:?} {name}: {grad:?}"
            );
        }

        let conv = BayesConv2dConfig::new([1, 2], [2, 2]).with_estimator(estimator).init(&device);
        let loss = conv.forward(Tensor::<5>::ones([2, 1, 1, 3, 3], &device)).sum() + conv.kl().unwrap();
        let grads = loss.backward();
        let grad = host(conv.weight.rho.val().grad(&grads).expect("conv weight.rho gradient"));
        assert!(grad.iter().all(|g| g.is_finite()), "{estimator:?} conv: {grad:?}");
    }
}

/// Asserts an [`Error::InvalidParameter`] whose message names `field` and `value`.
fn assert_invalid(result: Result<impl std::fmt::Debug>, field: &str, value: &str) {
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::InvalidParameter { .. }), "expected InvalidParameter, got {err:?}");
    assert!(message.contains(field) && message.contains(value), "message {message:?} should name {field} and {value}");
}

/// Asserts an [`Error::ShapeMismatch`] whose message names `field` and the shape `got`.
fn assert_shape_error(result: Result<impl std::fmt::Debug>, field: &str, got: &str) {
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "expected ShapeMismatch, got {err:?}");
    assert!(message.contains(field) && message.contains(got), "message {message:?} should name {field} and {got}");
}

#[test]
fn invalid_configurations_and_inputs_are_typed_errors() {
    let device = crate::support::device();
    let linear = |prior: Prior| BayesLinearConfig::new(2, 2).with_prior(prior).try_init(&device);
    assert_invalid(linear(Prior::Normal { loc: 0.0, scale: -1.0 }), "prior scale", "-1");
    assert_invalid(linear(Prior::Normal { loc: 0.0, scale: 0.0 }), "prior scale", "got 0");
    assert_invalid(linear(Prior::ScaleMixture { pi: 1.5, sigma1: 1.0, sigma2: 0.1 }), "prior pi", "1.5");
    assert_invalid(linear(Prior::ScaleMixture { pi: 0.0, sigma1: 1.0, sigma2: 0.1 }), "prior pi", "got 0");
    assert_invalid(
        BayesConv2dConfig::new([1, 1], [3, 3]).with_prior(Prior::Normal { loc: 0.0, scale: -2.0 }).try_init(&device),
        "prior scale",
        "-2",
    );

    assert_invalid(McDropoutConfig::new(1.0).try_init(), "p", "got 1");
    assert_invalid(McDropoutConfig::new(-0.1).try_init(), "p", "-0.1");
    assert_invalid(McDropoutConfig::new(f64::NAN).try_init(), "p", "NaN");

    assert_invalid(BayesLinearConfig::new(0, 2).try_init(&device), "d_input", "got 0");
    assert_invalid(BayesLinearConfig::new(2, 0).try_init(&device), "d_output", "got 0");
    assert_invalid(BayesConv2dConfig::new([0, 2], [3, 3]).try_init(&device), "channels[0]", "got 0");
    assert_invalid(BayesConv2dConfig::new([1, 2], [0, 3]).try_init(&device), "kernel_size", "[0, 3]");

    let layer = BayesLinearConfig::new(3, 2).init(&device);
    assert_shape_error(layer.try_forward(Tensor::zeros([2, 4, 5], &device)), "input", "[2, 4, 5]");
    assert_shape_error(layer.try_forward(Tensor::zeros([0, 4, 3], &device)), "zero samples", "[0, 4, 3]");
    assert_shape_error(layer.try_forward(Tensor::zeros([2, 0, 3], &device)), "empty batch", "[2, 0, 3]");
    let conv = BayesConv2dConfig::new([2, 1], [3, 3]).init(&device);
    assert_shape_error(conv.try_forward(Tensor::zeros([1, 1, 3, 5, 5], &device)), "input", "[1, 1, 3, 5, 5]");
    assert_shape_error(conv.try_forward(Tensor::zeros([0, 1, 2, 5, 5], &device)), "zero samples", "[0, 1, 2, 5, 5]");
}

/// Every layer displays its hyper-parameters (burn's `ModuleDisplay`), as `burn::nn::Linear`
/// does: shapes, bias, prior, estimator, mode, dropout probability, the head's variance floor.
#[test]
fn every_layer_displays_its_hyper_parameters() {
    use bayesburn::layers::{ClassificationHeadConfig, GaussianHeadConfig, HeadKind, LogitVariance};
    let device = crate::support::device();
    let prior = Prior::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.25 };
    let linear = BayesLinearConfig::new(3, 2).with_prior(prior).with_estimator(Estimator::Flipout).init(&device);
    assert_eq!(
        linear.to_string(),
        "BayesLinear {d_input: 3, d_output: 2, bias: true, prior: ScaleMixture(pi=0.5, sigma1=1, sigma2=0.25), \
         estimator: flipout, mode: sample, params: 16}"
    );
    let conv = BayesConv2dConfig::new([2, 4], [3, 1])
        .with_bias(false)
        .with_stride([2, 1])
        .with_padding(PaddingConfig2d::Same)
        .init(&device)
        .with_mode(Mode::Mean);
    assert_eq!(
        conv.to_string(),
        "BayesConv2d {channels: [2, 4], kernel_size: [3, 1], stride: [2, 1], dilation: [1, 1], padding: Same, \
         bias: false, prior: Normal(loc=0, scale=1), estimator: reparameterization, mode: mean, params: 48}"
    );
    assert_eq!(McDropoutConfig::new(0.25).init().to_string(), "McDropout {p: 0.25, mode: sample}");
    let head = GaussianHeadConfig::new(4, 2).with_min_variance(0.001).init(&device);
    let shown = head.to_string();
    assert!(shown.starts_with("GaussianHead {d_input: 4, d_output: 2, min_variance: 0.001, projection: "), "{shown}");
    let head = ClassificationHeadConfig::new(4, 3)
        .with_variance(LogitVariance::Shared)
        .with_kind(HeadKind::bayesian())
        .init(&device);
    let shown = head.to_string();
    assert!(
        shown.starts_with("ClassificationHead {d_input: 4, n_classes: 3, variance: Shared, min_variance: ")
            && shown.contains("BayesLinear {d_input: 4, d_output: 4, bias: true"),
        "{shown}"
    );
}
