//! The fused Gaussian-weight operations (`ops`) against closed forms computed in f64 on the
//! host: values and gradients of `rsample`, `scaled_noise` and `kl_normal_sum`, on the autodiff
//! device (the fused backward passes) and without autodiff (the forward kernels). Softplus and
//! the Normal KL have one f64 reference each ([`softplus_f64`], [`kl_normal_f64`], themselves
//! checked against the textbook forms in `tests/f64/dist.rs` and `src/posterior/gaussian.rs`);
//! every tensor form of them is checked against it here: the `flex` kernels (contiguous f32
//! input), the composed fallback of the backend extension (a strided view, which the kernels
//! leave to it), the tensor forms of `posterior` and `distributions`, and [`MeanField`].
//!
//! Tolerance: the operations run in f32, so each value and gradient must agree with the f64
//! reference to `1e-5 * (1 + |reference| + its largest summand)`, a few f32 ulps of every term
//! (a sum over S samples or over all elements adds at most a few ulps of its largest summand).

use crate::support::{device, host};
use bayesburn::distributions::{kl, kl_normal_f64, Normal};
use bayesburn::ops;
use bayesburn::posterior::{kl_normal_normal_sum, sigma_of_rho, softplus, softplus_f64, MeanField, SIGMA_RHO_MAX};
use bayesburn::prelude::*;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::RngExt;

fn tensor<const D: usize>(values: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape), device)
}

fn param<const D: usize>(values: &[f64], shape: [usize; D]) -> Tensor<D> {
    tensor(values, shape, &device().autodiff()).require_grad()
}

/// `n` values uniform on `[low, high)` from a seeded stream, rounded to f32 so that the f64
/// reference sees exactly the tensor's inputs.
fn uniform(n: usize, low: f64, high: f64, seed: u64) -> Vec<f64> {
    noise::with_seed(seed, || {
        noise::with_rng(|rng| (0..n).map(|_| (low + (high - low) * rng.random::<f64>()) as f32 as f64).collect())
    })
}

fn sigmoid(r: f64) -> f64 {
    1.0 / (1.0 + (-r).exp())
}

#[track_caller]
fn assert_close(what: &str, got: &[f64], want: &[f64], scale: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        let tol = 1e-5 * (1.0 + w.abs() + s);
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, want {w} (tolerance {tol})");
    }
}

/// `mu + softplus(rho) * eps` and, for the loss `sum(c * out)`, `d/dmu = sum_s c` and
/// `d/drho = sum_s c * eps * sigmoid(rho)`, for parameters of `p` elements and `s` samples.
fn check_rsample(s: usize, with_mu: bool, seed: u64) {
    let (rows, cols) = (5, 7);
    let p = rows * cols;
    let mu_v = uniform(p, -1.0, 1.0, seed);
    let rho_v = uniform(p, -8.0, 3.0, seed + 1);
    let eps_v = uniform(s * p, -2.5, 2.5, seed + 2);
    let c_v = uniform(s * p, -1.0, 1.0, seed + 3);
    let ad = device().autodiff();
    let mu = param(&mu_v, [rows, cols]);
    let rho = param(&rho_v, [rows, cols]);
    let eps = tensor(&eps_v, [s, rows, cols], &ad);
    let out = if with_mu { ops::rsample(mu.clone(), rho.clone(), eps) } else { ops::scaled_noise(rho.clone(), eps) };
    let loss = (out.clone() * tensor(&c_v, [s, rows, cols], &ad)).sum();
    let grads = loss.backward();

    let mut want_out = vec![0.0; s * p];
    let mut want_dmu = vec![0.0; p];
    let mut want_drho = vec![0.0; p];
    let mut scale_drho = vec![0.0; p];
    for k in 0..s {
        for j in 0..p {
            let i = k * p + j;
            want_out[i] = if with_mu { mu_v[j] } else { 0.0 } + softplus_f64(rho_v[j]) * eps_v[i];
            want_dmu[j] += c_v[i];
            let term = c_v[i] * eps_v[i] * sigmoid(rho_v[j]);
            want_drho[j] += term;
            scale_drho[j] = f64::max(scale_drho[j], term.abs() * s as f64);
        }
    }
    let tag = if with_mu { "rsample" } else { "scaled_noise" };
    assert_close(&format!("{tag} S={s} value"), &host(out), &want_out, &vec![0.0; s * p]);
    assert_close(&format!("{tag} S={s} d/drho"), &host(rho.grad(&grads).unwrap()), &want_drho, &scale_drho);
    if with_mu {
        assert_close(&format!("{tag} S={s} d/dmu"), &host(mu.grad(&grads).unwrap()), &want_dmu, &vec![s as f64; p]);
    }
}

#[test]
fn rsample_value_and_gradients_match_the_closed_form() {
    for s in [1, 4] {
        check_rsample(s, true, 10 + s as u64);
    }
}

#[test]
fn scaled_noise_value_and_gradient_match_the_closed_form() {
    for s in [1, 3] {
        check_rsample(s, false, 20 + s as u64);
    }
}

/// `sum[log(scale / sigma) + (sigma^2 + (mu - loc)^2) / (2 scale^2) - 1/2]`,
/// `d/dmu = (mu - loc) / scale^2`, `d/drho = (sigma / scale^2 - 1 / sigma) sigmoid(rho)`.
#[test]
fn kl_normal_sum_value_and_gradients_match_the_closed_form() {
    let n = 64;
    for (loc, scale, seed) in [(0.0, 1.0, 30), (0.3, 1.5, 31), (-1.0, 0.25, 32)] {
        let mu_v = uniform(n, -1.0, 1.0, seed);
        let rho_v = uniform(n, -7.0, 2.0, seed + 100);
        let mu = param(&mu_v, [8, 8]);
        let rho = param(&rho_v, [8, 8]);
        let kl = ops::kl_normal_sum(mu.clone(), rho.clone(), loc, scale);
        let got = host(kl.clone());
        let grads = kl.backward();

        let mut want = 0.0;
        let mut largest: f64 = 0.0;
        let (mut dmu, mut drho, mut scale_drho) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for j in 0..n {
            let sigma = softplus_f64(rho_v[j]);
            let diff = mu_v[j] - loc;
            let term = kl_normal_f64(mu_v[j], sigma, loc, scale);
            want += term;
            largest = largest.max(term.abs()).max((scale / sigma).ln().abs());
            dmu[j] = diff / (scale * scale);
            drho[j] = (sigma / (scale * scale) - 1.0 / sigma) * sigmoid(rho_v[j]);
            scale_drho[j] = (1.0 / sigma) * sigmoid(rho_v[j]);
        }
        let what = format!("kl loc={loc} scale={scale}");
        assert_close(&format!("{what} value"), &got, &[want], &[largest * n as f64]);
        assert_close(&format!("{what} d/dmu"), &host(mu.grad(&grads).unwrap()), &dmu, &vec![0.0; n]);
        assert_close(&format!("{what} d/drho"), &host(rho.grad(&grads).unwrap()), &drho, &scale_drho);
    }
}

/// Without autodiff the same functions run the forward kernels only; the values agree with the
/// autodiff path exactly (the autodiff forward calls the same kernel).
#[test]
fn plain_device_gives_the_autodiff_values() {
    let d = device();
    let ad = d.clone().autodiff();
    let mu_v = uniform(12, -1.0, 1.0, 40);
    let rho_v = uniform(12, -6.0, 1.0, 41);
    let eps_v = uniform(24, -2.0, 2.0, 42);
    let plain =
        host(ops::rsample(tensor(&mu_v, [3, 4], &d), tensor(&rho_v, [3, 4], &d), tensor(&eps_v, [2, 3, 4], &d)));
    let tracked = host(ops::rsample(param(&mu_v, [3, 4]), param(&rho_v, [3, 4]), tensor(&eps_v, [2, 3, 4], &ad)));
    assert_eq!(plain, tracked);
    let plain = host(ops::kl_normal_sum(tensor(&mu_v, [12], &d), tensor(&rho_v, [12], &d), 0.0, 1.0));
    let tracked = host(ops::kl_normal_sum(param(&mu_v, [12]), param(&rho_v, [12]), 0.0, 1.0));
    assert_eq!(plain, tracked);
    assert!(ops::fused_on(&d) && ops::fused_on(&ad));
}

/// A 1-D parameter (a bias) with a `[S, P]` noise tensor, and the gradient of `softplus` at 0,
/// which is exactly 1/2.
#[test]
fn bias_shapes_and_the_derivative_at_zero() {
    let ad = device().autodiff();
    let mu = param(&[0.5, -0.5], [2]);
    let rho = param(&[0.0, 0.0], [2]);
    let eps = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2], &ad);
    let out = ops::rsample(mu.clone(), rho.clone(), eps);
    assert_eq!(out.dims(), [3, 2]);
    let grads = out.sum().backward();
    assert_eq!(host(mu.grad(&grads).unwrap()), vec![3.0, 3.0]);
    // sum_s eps * sigmoid(0) = (1 + 3 + 5) / 2 and (2 + 4 + 6) / 2
    assert_eq!(host(rho.grad(&grads).unwrap()), vec![4.5, 6.0]);
}

/// `ops::linear` on a plain flex device (the SGEMM kernel) against the same sums computed here
/// in f64: an expanded input (stride 0 on the sample axis), sliced weight samples (an offset
/// view), shared weights (`S = 1` in `w` and `b`), with and without the ReLU. Tolerance: f32
/// rounding of an `I`-term dot product, `1e-5 * (1 + sum |x w|)`.
#[test]
fn linear_kernel_matches_the_sums() {
    let d = device();
    let (s, n, i, o) = (3, 17, 5, 6);
    let x_v = uniform(n * i, -2.0, 2.0, 50);
    let w_v = uniform((s + 1) * i * o, -1.0, 1.0, 51);
    let b_v = uniform((s + 1) * o, -1.0, 1.0, 52);
    let x = tensor(&x_v, [1, n, i], &d).expand([s, n, i]);
    let w_all = tensor(&w_v, [s + 1, i, o], &d);
    let b_all = tensor(&b_v, [s + 1, o], &d);
    for (shared, relu) in [(false, false), (false, true), (true, true)] {
        let (w, b, sw) = if shared {
            (w_all.clone().slice(1..2), b_all.clone().slice(1..2), 1)
        } else {
            (w_all.clone().slice(1..s + 1), b_all.clone().slice(1..s + 1), s)
        };
        let got = host(ops::linear(x.clone(), w, Some(b), relu));
        let (mut want, mut scale) = (vec![0.0; s * n * o], vec![0.0; s * n * o]);
        for k in 0..s {
            let kw = 1 + if sw == 1 { 0 } else { k };
            for r in 0..n {
                for c in 0..o {
                    let mut acc = b_v[kw * o + c];
                    let mut abs = acc.abs();
                    for t in 0..i {
                        let term = x_v[r * i + t] * w_v[(kw * i + t) * o + c];
                        acc += term;
                        abs += term.abs();
                    }
                    let idx = (k * n + r) * o + c;
                    want[idx] = if relu { acc.max(0.0) } else { acc };
                    scale[idx] = abs;
                }
            }
        }
        assert_close(&format!("linear shared={shared} relu={relu}"), &got, &want, &scale);
    }
    // No bias: the composed path.
    let got = host(ops::linear(x, w_all.clone().slice(0..3), None, false));
    assert_eq!(got.len(), s * n * o);
}

/// McDropout draws the same mask on a plain device (the fused in-place kernel) and on the
/// autodiff device (a mask tensor) from the same seed, and keeps a share `1 - p` of the units
/// within 4 standard errors.
#[test]
fn dropout_is_the_same_with_and_without_autodiff() {
    use bayesburn::layers::McDropoutConfig;
    let d = device();
    let layer = McDropoutConfig::new(0.3).init();
    let shape = [4, 250, 64];
    let plain = noise::with_seed(9, || layer.forward(Tensor::<3>::ones(shape, &d)));
    let tracked = noise::with_seed(9, || layer.forward(Tensor::<3>::ones(shape, &d.clone().autodiff())));
    let (plain, tracked) = (host(plain), host(tracked));
    assert_eq!(plain, tracked);
    let n = plain.len() as f64;
    let kept = plain.iter().filter(|&&v| v != 0.0).count() as f64 / n;
    assert!((kept - 0.7).abs() <= 4.0 * (0.21f64 / n).sqrt(), "kept share {kept}");
    let scale = (1.0f32 / 0.7f32) as f64;
    assert!(plain.iter().all(|&v| v == 0.0 || v == scale));
}

/// `values` as a `[rows, cols]` tensor that is the transpose of a contiguous `[cols, rows]` one:
/// a strided view, which the `flex` kernels decline, so the extension's composed fallback runs.
fn strided(values: &[f64], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    let mut transposed = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            transposed[c * rows + r] = values[r * cols + c];
        }
    }
    tensor(&transposed, [cols, rows], device).transpose()
}

/// Points where softplus is delicate: far negative (`sigma ~ e^rho`), around 0, large, and both
/// sides of the clamp of `sigma_of_rho` at 80; then a spread from a seeded stream.
fn rho_edges(seed: u64) -> Vec<f64> {
    let mut rho = vec![-30.0, -12.5, -1.0, 0.0, 0.001, 1.0, 15.0, 79.5, 80.0, 80.5, 100.0, 1000.0];
    rho.extend(uniform(36, -20.0, 100.0, seed));
    rho
}

/// Tolerance of an f32 softplus: `exp` and `log1p` are each within an ulp and `log1p`'s
/// condition number is at most 1, so a few ulps of the value; 8 ulps (`2^-23 * 8 ~ 1e-6`)
/// relative. The reference is positive everywhere here.
#[track_caller]
fn assert_softplus(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-6 * w, "{what}[{i}]: got {g}, want {w}");
    }
}

#[test]
fn every_softplus_form_matches_the_f64_reference() {
    let d = device();
    let rho_v = rho_edges(60);
    let (rows, cols) = (6, 8);
    assert_eq!(rho_v.len(), rows * cols);
    let unclamped: Vec<f64> = rho_v.iter().map(|&r| softplus_f64(r)).collect();
    let clamped: Vec<f64> = rho_v.iter().map(|&r| softplus_f64(r.min(SIGMA_RHO_MAX))).collect();
    let rho = tensor(&rho_v, [rows, cols], &d);
    assert_softplus("posterior::softplus", &host(softplus(rho.clone())), &unclamped);
    assert_softplus("sigma_of_rho", &host(sigma_of_rho(rho.clone())), &clamped);
    let weight = MeanField::new(rho.zeros_like(), rho.clone());
    assert_softplus("MeanField::sigma", &host(weight.sigma()), &clamped);
    // The fused ops with eps = 1 and mu = 0 return sigma itself.
    let ones = Tensor::<3>::ones([1, rows, cols], &d);
    assert_softplus("rsample kernel", &host(weight.rsample(ones.clone())), &clamped);
    assert_softplus("scaled_noise kernel", &host(ops::scaled_noise(rho, ones.clone())), &clamped);
    let rho = strided(&rho_v, rows, cols, &d);
    assert_softplus("scaled_noise composed", &host(ops::scaled_noise(rho.clone(), ones.clone())), &clamped);
    assert_softplus("rsample composed", &host(ops::rsample(rho.zeros_like(), rho, ones)), &clamped);
}

/// The derivative of the tensor softplus is `sigmoid(x)`; at exactly 0 the `relu` and `abs`
/// kinks of its overflow-safe form give 0 (documented on `posterior::softplus`).
#[test]
fn the_tensor_softplus_differentiates_to_sigmoid() {
    let x_v = [-3.0, -0.5, 0.0, 0.5, 4.0];
    let x = param(&x_v, [5]);
    let grads = softplus(x.clone()).sum().backward();
    let want: Vec<f64> = x_v.iter().map(|&v| if v == 0.0 { 0.0 } else { sigmoid(v) }).collect();
    assert_close("d softplus / dx", &host(x.grad(&grads).unwrap()), &want, &[0.0; 5]);
}

#[test]
fn every_normal_kl_form_matches_the_f64_reference() {
    let d = device();
    let (rows, cols) = (6, 8);
    let n = rows * cols;
    let mu_v = uniform(n, -1.0, 1.0, 70);
    // rho from the far-negative end to past the clamp: the KL of a posterior of sigma 80 is
    // large but finite.
    let mut rho_v = uniform(n, -7.0, 3.0, 71);
    rho_v[..4].copy_from_slice(&[-12.0, 0.0, 85.0, 200.0]);
    let loc_v = uniform(n, -0.5, 0.5, 72);
    for (loc, scale) in [(0.0, 1.0), (0.3, 1.5), (-1.0, 0.25)] {
        let sigma: Vec<f64> = rho_v.iter().map(|&r| softplus_f64(r.min(SIGMA_RHO_MAX))).collect();
        let terms: Vec<f64> = (0..n).map(|j| kl_normal_f64(mu_v[j], sigma[j], loc, scale)).collect();
        let want: f64 = terms.iter().sum();
        // A sum of n f32 terms: within about n ulps of the sum of the terms' magnitudes (each
        // term's own rounding is a few ulps of its largest part).
        let parts: f64 = (0..n)
            .map(|j| {
                let diff = mu_v[j] - loc;
                (scale / sigma[j]).ln().abs() + (sigma[j] * sigma[j] + diff * diff) / (2.0 * scale * scale) + 0.5
            })
            .sum();
        let tol = 1e-5 * (1.0 + parts);
        let check = |what: &str, got: f64| {
            assert!(
                (got - want).abs() <= tol,
                "{what} loc={loc} scale={scale}: got {got}, want {want} (tolerance {tol})"
            );
        };
        let (mu, rho) = (tensor(&mu_v, [rows, cols], &d), tensor(&rho_v, [rows, cols], &d));
        check("kl_normal_sum kernel", host(ops::kl_normal_sum(mu.clone(), rho.clone(), loc, scale))[0]);
        let (mu_s, rho_s) = (strided(&mu_v, rows, cols, &d), strided(&rho_v, rows, cols, &d));
        check("kl_normal_sum composed", host(ops::kl_normal_sum(mu_s, rho_s, loc, scale))[0]);
        let sigma_t = sigma_of_rho(rho.clone());
        check("kl_normal_normal_sum", host(kl_normal_normal_sum(mu.clone(), sigma_t.clone(), None, loc, scale))[0]);
        let weight = MeanField::new(mu.clone(), rho.clone());
        check("MeanField::kl", host(weight.kl(&Prior::Normal { loc, scale }))[0]);
        let q = Normal::new(mu.full_like(loc), mu.full_like(scale)).unwrap();
        let p = Normal::new(mu.clone(), sigma_t.clone()).unwrap();
        check("Normal KL, summed", host(kl(&p, &q)).iter().sum());

        // An elementwise prior mean (data-dependent MOPED priors).
        let want_loc: f64 = (0..n).map(|j| kl_normal_f64(mu_v[j], sigma[j], loc_v[j], scale)).sum();
        let got =
            host(kl_normal_normal_sum(mu.clone(), sigma_t, Some(tensor(&loc_v, [rows, cols], &d)), 0.0, scale))[0];
        assert!((got - want_loc).abs() <= tol, "elementwise loc scale={scale}: got {got}, want {want_loc}");
    }
}

/// Kernel against composed form: `got` (composed) within `1e-5 * (1 + |kernel| + scale)` of
/// `kernel`, a few f32 ulps of the value and of its largest summand (both are f32 evaluations
/// of one function; the composed one rounds in more steps).
#[track_caller]
fn assert_same(what: &str, got: &[f64], kernel: &[f64], scale: &[f64]) {
    assert_close(what, got, kernel, scale);
}

/// Splits a `rho` gradient at the clamp of `sigma_of_rho`: below 80 the composed form (burn's
/// autodiff through `log1p(exp(min(rho, 80)))`) has the kernels' gradient; above it the
/// composed `sigma` is constant, so its gradient is exactly 0 where the kernels keep
/// `sigmoid(rho)` (the fused gradient's documented choice, `crate::ops`). At exactly 80 either.
#[track_caller]
fn assert_rho_grad(what: &str, rho: &[f64], composed: &[f64], kernel: &[f64], scale: &[f64]) {
    let (mut past, mut below) = (0, 0);
    for j in 0..rho.len() {
        let tol = 1e-5 * (1.0 + kernel[j].abs() + scale[j]);
        if rho[j] > SIGMA_RHO_MAX {
            past += 1;
            assert_eq!(composed[j], 0.0, "{what}[{j}] (rho {}): the composed gradient past the clamp", rho[j]);
            assert!(kernel[j] != 0.0, "{what}[{j}] (rho {}): the kernel keeps sigmoid(rho)", rho[j]);
        } else if rho[j] < SIGMA_RHO_MAX {
            below += 1;
            let (g, k) = (composed[j], kernel[j]);
            assert!((g - k).abs() <= tol, "{what}[{j}] (rho {}): composed {g}, kernel {k} (tolerance {tol})", rho[j]);
        } else {
            assert!(composed[j] == 0.0 || (composed[j] - kernel[j]).abs() <= tol, "{what}[{j}] at rho = 80");
        }
    }
    assert!(past > 0 && below > 0, "{what}: the edges must include both sides of the clamp");
}

/// The path a GPU takes ([`ops::composed`]: burn tensor operations differentiated by burn's
/// autodiff) against the fused kernels and their hand-written backward passes, on the same
/// device (the kernels where the device has them): values and gradients of `rsample`,
/// `scaled_noise` and `kl_normal_sum` over `rho` from -30 to 1000 (both sides of the clamp at
/// 80), and the values of `linear` and `dropout` on a plain device.
#[test]
fn composed_fallbacks_match_the_kernels_on_every_op() {
    use bayesburn::ops::composed;
    let ad = device().autodiff();
    let (rows, cols, s) = (6, 8, 3);
    let p = rows * cols;
    let rho_v = rho_edges(80);
    let mu_v = uniform(p, -1.0, 1.0, 81);
    let eps_v = uniform(s * p, -2.5, 2.5, 82);
    let c_v = uniform(s * p, -1.0, 1.0, 83);
    // sum_s |c eps|: the largest a rho-gradient's summands can add to (sigmoid <= 1).
    let scale_drho: Vec<f64> =
        (0..p).map(|j| (0..s).map(|k| (c_v[k * p + j] * eps_v[k * p + j]).abs()).sum()).collect();
    let scale_out: Vec<f64> =
        (0..s * p).map(|i| softplus_f64(rho_v[i % p].min(SIGMA_RHO_MAX)) * eps_v[i].abs()).collect();

    for with_mu in [true, false] {
        let run = |fused: bool| {
            let (mu, rho) = (param(&mu_v, [rows, cols]), param(&rho_v, [rows, cols]));
            let eps = tensor(&eps_v, [s, rows, cols], &ad);
            let out = match (with_mu, fused) {
                (true, true) => ops::rsample(mu.clone(), rho.clone(), eps),
                (true, false) => composed::rsample(mu.clone(), rho.clone(), eps),
                (false, true) => ops::scaled_noise(rho.clone(), eps),
                (false, false) => composed::scaled_noise(rho.clone(), eps),
            };
            let grads = (out.clone() * tensor(&c_v, [s, rows, cols], &ad)).sum().backward();
            let dmu = if with_mu { host(mu.grad(&grads).unwrap()) } else { vec![] };
            (host(out), dmu, host(rho.grad(&grads).unwrap()))
        };
        let ((out_k, dmu_k, drho_k), (out_c, dmu_c, drho_c)) = (run(true), run(false));
        let tag = if with_mu { "rsample" } else { "scaled_noise" };
        assert_same(&format!("{tag} value"), &out_c, &out_k, &scale_out);
        if with_mu {
            assert_same(&format!("{tag} d/dmu"), &dmu_c, &dmu_k, &vec![s as f64; p]);
        }
        assert_rho_grad(&format!("{tag} d/drho"), &rho_v, &drho_c, &drho_k, &scale_drho);
        // Past the clamp the kernel's gradient is sum_s c eps sigmoid(rho), sigmoid(rho) = 1 in f32.
        for j in (0..p).filter(|&j| rho_v[j] > SIGMA_RHO_MAX) {
            let want: f64 = (0..s).map(|k| c_v[k * p + j] * eps_v[k * p + j] * sigmoid(rho_v[j])).sum();
            assert!((drho_k[j] - want).abs() <= 1e-5 * (1.0 + scale_drho[j]), "{tag} kernel d/drho[{j}]");
        }
    }

    for (loc, scale) in [(0.0, 1.0), (0.3, 1.5)] {
        let run = |fused: bool| {
            let (mu, rho) = (param(&mu_v, [rows, cols]), param(&rho_v, [rows, cols]));
            let kl = if fused {
                ops::kl_normal_sum(mu.clone(), rho.clone(), loc, scale)
            } else {
                composed::kl_normal_sum(mu.clone(), rho.clone(), loc, scale)
            };
            let grads = kl.clone().backward();
            (host(kl), host(mu.grad(&grads).unwrap()), host(rho.grad(&grads).unwrap()))
        };
        let ((kl_k, dmu_k, drho_k), (kl_c, dmu_c, drho_c)) = (run(true), run(false));
        let sigma: Vec<f64> = rho_v.iter().map(|&r| softplus_f64(r.min(SIGMA_RHO_MAX))).collect();
        // The sum's summands: |log(scale / sigma)| and (sigma^2 + (mu - loc)^2) / (2 scale^2).
        let parts: f64 = (0..p)
            .map(|j| {
                (scale / sigma[j]).ln().abs() + (sigma[j].powi(2) + (mu_v[j] - loc).powi(2)) / (2.0 * scale * scale)
            })
            .sum();
        let what = format!("kl loc={loc} scale={scale}");
        assert_same(&format!("{what} value"), &kl_c, &kl_k, &[parts]);
        assert_same(&format!("{what} d/dmu"), &dmu_c, &dmu_k, &vec![0.0; p]);
        let scale_drho: Vec<f64> =
            (0..p).map(|j| (sigma[j] / (scale * scale) + 1.0 / sigma[j]) * sigmoid(rho_v[j])).collect();
        assert_rho_grad(&format!("{what} d/drho"), &rho_v, &drho_c, &drho_k, &scale_drho);
    }

    // linear: the plain device's SGEMM kernel against matmul + bias + ReLU.
    let d = device();
    let (n, i, o) = (9, 5, 4);
    let x = tensor(&uniform(s * n * i, -2.0, 2.0, 84), [s, n, i], &d);
    let w = tensor(&uniform(s * i * o, -1.0, 1.0, 85), [s, i, o], &d);
    let b = tensor(&uniform(s * o, -1.0, 1.0, 86), [s, o], &d);
    // |x w| summed over the I terms, plus |b|: the dot products' scale.
    let abs = |t: &Tensor<3>| t.clone().abs();
    let scale = host(abs(&x).matmul(abs(&w)) + b.clone().abs().unsqueeze_dim::<3>(1));
    for relu in [false, true] {
        let kernel = host(ops::linear(x.clone(), w.clone(), Some(b.clone()), relu));
        let got = host(composed::linear(x.clone(), w.clone(), Some(b.clone()), relu));
        assert_same(&format!("linear relu={relu}"), &got, &kernel, &scale);
    }

    // dropout: McDropout's mask (the in-place kernel on a plain device) and the composed mask
    // tensor from the same seed are the same values exactly.
    let layer = bayesburn::layers::McDropoutConfig::new(0.3).init();
    let ones = Tensor::<3>::ones([s, n, 16], &d);
    let kernel = host(noise::with_seed(5, || layer.forward(ones.clone())));
    let got = host(composed::dropout(ones, noise::with_seed(5, noise::next_seed), 0.3));
    assert_eq!(got, kernel, "dropout: composed mask against the kernel");
    assert!(kernel.contains(&0.0) && kernel.iter().any(|&v| v > 1.0), "dropout kept all or none");
}
