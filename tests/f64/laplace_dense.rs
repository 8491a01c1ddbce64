//! All-weights Laplace (`laplace::DenseLaplace`) against closed forms, in f64: on a
//! linear-Gaussian model (one Linear, no hidden layer) the full posterior is the exact Bayesian
//! linear regression, the diagonal its precision's diagonal, KFAC the full GGN, the empirical
//! Fisher the sum of the per-point gradients' outer products and the evidence the Gaussian
//! marginal; one layer is the last-layer Laplace; a two-layer GGN is built from the Jacobians
//! that central differences give.

use crate::laplace::{assert_close, data, exact_posterior, inverse, linear, log_det, normals, per_output, Data};
use crate::support::{device, host, tensor2};
use bayesburn::laplace::{
    Activation, Curvature, DenseLaplace, DenseLaplaceConfig, Fisher, LastLayerLaplaceConfig, MAX_FULL_PARAMETERS,
};
use bayesburn::Error;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The exact posterior's full precision `(X'^T X' / sigma^2 + lambda I) (x) I_O` (`P x P` in the
/// `[H', O]` row-major layout) and its mean `[H', O]`.
fn exact(d: &Data, lambda: f64, sigma: f64) -> (Vec<f64>, Vec<f64>) {
    let (prec, _, mean) = exact_posterior(d, lambda, sigma);
    (per_output(&prec, d.h + 1, d.o), mean)
}

/// The one Linear layer holding `theta` (`[H', O]`, bias row last).
fn layer_of(theta: &[f64], h: usize, o: usize, device: &Device) -> Linear {
    linear(&theta[..h * o], Some(&theta[h * o..]), h, o, device)
}

fn fit(d: &Data, layers: &[Linear], curvature: Curvature, fisher: Fisher, lambda: f64, sigma: f64) -> DenseLaplace {
    let device = device();
    DenseLaplaceConfig::new()
        .with_curvature(curvature)
        .with_fisher(fisher)
        .with_prior_precision(lambda)
        .fit_regression(layers, tensor2(&d.x, d.n, d.h, &device), tensor2(&d.y, d.n, d.o, &device), sigma)
        .unwrap()
}

#[test]
fn all_weights_laplace_of_a_linear_gaussian_model_is_the_exact_posterior() {
    let d = data(21, 40, 3, 2);
    let (lambda, sigma) = (0.7, 0.3);
    let (prec, mean) = exact(&d, lambda, sigma);
    let device = device();
    // Centred on the exact posterior mean (the MAP a training would find).
    let layers = [layer_of(&mean, d.h, d.o, &device)];
    let p = mean.len();
    let full = fit(&d, &layers, Curvature::Full, Fisher::Ggn, lambda, sigma);
    assert_eq!(full.num_parameters(), p);
    assert_close(full.posterior_mean(), &mean, 1e-12, "mean");
    assert_close(&full.posterior_precision(), &prec, 1e-8, "full precision");
    assert_close(&full.posterior_covariance(), &inverse(&prec, p), 1e-8, "full covariance");
    // KFAC equals the full GGN with one layer (the Gaussian output Hessian is constant).
    let kron = fit(&d, &layers, Curvature::Kron, Fisher::Ggn, lambda, sigma);
    assert_close(&kron.posterior_precision(), &prec, 1e-8, "kron precision");
    // The diagonal is the exact precision's diagonal.
    let diag = fit(&d, &layers, Curvature::Diagonal, Fisher::Ggn, lambda, sigma);
    let want: Vec<f64> = (0..p * p).map(|k| if k / p == k % p { prec[k] } else { 0.0 }).collect();
    assert_close(&diag.posterior_precision(), &want, 1e-8, "diagonal precision");

    // The evidence is the Gaussian marginal log N(vec Y; 0, (sigma^2 I + X' X'^T / lambda) (x) I).
    let n = d.n;
    let hp = d.h + 1;
    let c: Vec<f64> = (0..n * n)
        .map(|k| {
            let (r, s) = (k / n, k % n);
            (0..hp).map(|i| d.xb[r * hp + i] * d.xb[s * hp + i]).sum::<f64>() / lambda
                + if r == s { sigma * sigma } else { 0.0 }
        })
        .collect();
    let ci = inverse(&c, n);
    let mut marginal = 0.0;
    for a in 0..d.o {
        let quad: f64 = (0..n * n).map(|k| d.y[(k / n) * d.o + a] * ci[k] * d.y[(k % n) * d.o + a]).sum();
        marginal -= 0.5 * (n as f64 * (2.0 * std::f64::consts::PI).ln() + log_det(&c, n) + quad);
    }
    for la in [&full, &kron] {
        let got = la.log_marginal_likelihood();
        assert!((got - marginal).abs() < 1e-8, "{:?} evidence {got} vs {marginal}", la.config().curvature);
    }

    // The GLM predictive: mean x'^T mu, epistemic variance x'^T Sigma_a x' per output.
    let test = [0.5, -1.0, 2.0, 3.0, 0.0, -2.0];
    let summary = full.predict_regression(tensor2(&test, 2, 3, &device)).unwrap();
    let (m, v) = (host(summary.mean), host(summary.epistemic_var));
    let cov = inverse(&prec, p);
    for r in 0..2 {
        let xb: Vec<f64> = test[3 * r..3 * r + 3].iter().copied().chain([1.0]).collect();
        for a in 0..d.o {
            let want_m: f64 = (0..hp).map(|i| xb[i] * mean[i * d.o + a]).sum();
            let want_v: f64 =
                (0..hp * hp).map(|k| xb[k / hp] * cov[(k / hp * d.o + a) * p + k % hp * d.o + a] * xb[k % hp]).sum();
            assert!((m[r * d.o + a] - want_m).abs() < 1e-8, "predictive mean");
            assert!((v[r * d.o + a] - want_v).abs() < 1e-8, "epistemic variance {} vs {want_v}", v[r * d.o + a]);
        }
    }
}

#[test]
fn empirical_fisher_is_the_sum_of_the_gradient_outer_products() {
    let d = data(22, 30, 2, 2);
    let (lambda, sigma) = (0.5, 0.4);
    let device = device();
    // Weights off the optimum, so the residuals are not orthogonal to the features.
    let theta: Vec<f64> = (0..(d.h + 1) * d.o).map(|k| 0.3 - 0.1 * k as f64).collect();
    let layers = [layer_of(&theta, d.h, d.o, &device)];
    let (hp, o, p) = (d.h + 1, d.o, theta.len());
    // g_n = J_n^T r_n with J_n = x'_n^T (x) I and r_n = (f_n - y_n) / sigma^2.
    let mut want = vec![0.0; p * p];
    for r in 0..d.n {
        let xb = &d.xb[r * hp..(r + 1) * hp];
        let res: Vec<f64> = (0..o)
            .map(|a| ((0..hp).map(|i| xb[i] * theta[i * o + a]).sum::<f64>() - d.y[r * o + a]) / (sigma * sigma))
            .collect();
        let g: Vec<f64> = (0..p).map(|k| xb[k / o] * res[k % o]).collect();
        for i in 0..p {
            for j in 0..p {
                want[i * p + j] += g[i] * g[j];
            }
        }
    }
    for i in 0..p {
        want[i * p + i] += lambda;
    }
    let ef = fit(&d, &layers, Curvature::Full, Fisher::Empirical, lambda, sigma);
    assert_close(&ef.posterior_precision(), &want, 1e-8, "dense empirical Fisher");
    // The last-layer posterior's empirical Fisher is the same matrix.
    let last = LastLayerLaplaceConfig::new()
        .with_curvature(Curvature::Full)
        .with_fisher(Fisher::Empirical)
        .with_prior_precision(lambda)
        .fit_regression(tensor2(&d.x, d.n, d.h, &device), tensor2(&d.y, d.n, o, &device), &layers[0], sigma)
        .unwrap();
    assert_close(&last.posterior_precision(), &want, 1e-8, "last-layer empirical Fisher");
    let diag = fit(&d, &layers, Curvature::Diagonal, Fisher::Empirical, lambda, sigma);
    let want_diag: Vec<f64> = (0..p * p).map(|k| if k / p == k % p { want[k] } else { 0.0 }).collect();
    assert_close(&diag.posterior_precision(), &want_diag, 1e-8, "diagonal empirical Fisher");
}

#[test]
fn one_layer_is_the_last_layer_laplace_for_a_classifier() {
    let device = device();
    let mut rng = StdRng::seed_from_u64(23);
    let n = 40;
    let x = normals(&mut rng, n * 2);
    let labels: Vec<i64> = (0..n).map(|r| i64::from(x[2 * r] > 0.0) + i64::from(x[2 * r + 1] > 0.5)).collect();
    let layer = linear(&[1.5, -0.2, 0.3, 0.1, 0.4, 1.2], Some(&[0.2, 0.0, -0.3]), 2, 3, &device);
    let labels = || Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [n]), &device);
    let test = [0.3, -0.7, 2.5, 1.0];
    for fisher in [Fisher::Ggn, Fisher::Empirical] {
        for curvature in [Curvature::Full, Curvature::Diagonal, Curvature::Kron] {
            let what = format!("{fisher:?} {curvature:?}");
            let dense = DenseLaplaceConfig::new()
                .with_curvature(curvature)
                .with_fisher(fisher)
                .with_prior_precision(0.8)
                .fit_classification(std::slice::from_ref(&layer), tensor2(&x, n, 2, &device), labels())
                .unwrap();
            let last = LastLayerLaplaceConfig::new()
                .with_curvature(curvature)
                .with_fisher(fisher)
                .with_prior_precision(0.8)
                .fit_classification(tensor2(&x, n, 2, &device), labels(), &layer)
                .unwrap();
            assert_close(&dense.posterior_precision(), &last.posterior_precision(), 1e-10, &what);
            let (a, b) = (dense.log_marginal_likelihood(), last.log_marginal_likelihood());
            assert!((a - b).abs() < 1e-8, "{what} evidence {a} vs {b}");
            let pd = host(dense.predict_probit(tensor2(&test, 2, 2, &device)).unwrap().probs);
            let pl = host(last.predict_probit(tensor2(&test, 2, 2, &device)).unwrap().probs);
            assert_close(&pd, &pl, 1e-10, &format!("{what} probit"));
        }
    }
}

/// A host forward of a two-layer tanh network, `theta` in `DenseLaplace`'s layout.
fn two_layer(theta: &[f64], x: &[f64], d: usize, hidden: usize, o: usize) -> Vec<f64> {
    let w1 = &theta[..(d + 1) * hidden];
    let w2 = &theta[(d + 1) * hidden..];
    let h: Vec<f64> = (0..hidden)
        .map(|j| ((0..d).map(|i| x[i] * w1[i * hidden + j]).sum::<f64>() + w1[d * hidden + j]).tanh())
        .collect();
    (0..o).map(|a| (0..hidden).map(|j| h[j] * w2[j * o + a]).sum::<f64>() + w2[hidden * o + a]).collect()
}

#[test]
fn a_two_layer_ggn_is_built_from_the_finite_difference_jacobians() {
    let device = device();
    let (n, d, hidden, o) = (15, 2, 4, 2);
    let mut rng = StdRng::seed_from_u64(24);
    let x = normals(&mut rng, n * d);
    let y = normals(&mut rng, n * o);
    let theta: Vec<f64> = normals(&mut rng, (d + 1) * hidden + (hidden + 1) * o).iter().map(|v| 0.7 * v).collect();
    let split = (d + 1) * hidden;
    let layers = [
        linear(&theta[..d * hidden], Some(&theta[d * hidden..split]), d, hidden, &device),
        linear(&theta[split..split + hidden * o], Some(&theta[split + hidden * o..]), hidden, o, &device),
    ];
    let (lambda, sigma) = (0.9, 0.5);
    let p = theta.len();
    // J by central differences of the test's own forward, then sum J^T J / sigma^2 + lambda I.
    let step = 1e-6;
    let mut want = vec![0.0; p * p];
    for r in 0..n {
        let xr = &x[r * d..(r + 1) * d];
        let jac: Vec<Vec<f64>> = (0..p)
            .map(|k| {
                let (mut up, mut down) = (theta.clone(), theta.clone());
                up[k] += step;
                down[k] -= step;
                let (fu, fd) = (two_layer(&up, xr, d, hidden, o), two_layer(&down, xr, d, hidden, o));
                fu.iter().zip(&fd).map(|(a, b)| (a - b) / (2.0 * step)).collect()
            })
            .collect();
        for i in 0..p {
            for j in 0..p {
                want[i * p + j] += (0..o).map(|a| jac[i][a] * jac[j][a]).sum::<f64>() / (sigma * sigma);
            }
        }
    }
    for i in 0..p {
        want[i * p + i] += lambda;
    }
    let fit = |curvature| {
        DenseLaplaceConfig::new()
            .with_curvature(curvature)
            .with_activation(Activation::Tanh)
            .with_prior_precision(lambda)
            .fit_regression(&layers, tensor2(&x, n, d, &device), tensor2(&y, n, o, &device), sigma)
            .unwrap()
    };
    // Central differences of a smooth function in f64: error ~ step^2 f''' + eps / step ~ 1e-10.
    assert_close(&fit(Curvature::Full).posterior_precision(), &want, 1e-7, "full GGN");
    let diag = fit(Curvature::Diagonal).posterior_precision();
    for k in 0..p {
        assert!((diag[k * p + k] - want[k * p + k]).abs() < 1e-7, "diagonal GGN [{k}]");
    }
    // KFAC's block of the last layer is exact (its output Jacobian is the identity and the
    // Gaussian Hessian constant); the first layer's is an approximation, and the blocks between
    // the layers are zero.
    let kron = fit(Curvature::Kron).posterior_precision();
    for i in split..p {
        for j in split..p {
            assert!((kron[i * p + j] - want[i * p + j]).abs() < 1e-7, "KFAC last-layer block [{i}, {j}]");
        }
        for j in 0..split {
            assert_eq!(kron[i * p + j], 0.0, "KFAC between the layers");
        }
    }
    // The GLM predictive's mean is the network itself.
    let m = host(fit(Curvature::Kron).predict_regression(tensor2(&x[..d], 1, d, &device)).unwrap().mean);
    assert_close(&m, &two_layer(&theta, &x[..d], d, hidden, o), 1e-12, "predictive mean");
}

#[test]
fn the_evidence_tunes_the_prior_and_the_noise_of_a_two_layer_net() {
    // A smoke check of the shared search on the dense posterior: the tuned values are interior
    // maxima (the derivative of the evidence in log lambda and log sigma vanishes there).
    let d = data(25, 60, 2, 1);
    let device = device();
    let layers = [
        linear(&[0.5, -0.3, 0.2, 0.8, -0.6, 0.1], Some(&[0.0, 0.1, -0.1]), 2, 3, &device),
        linear(&[0.7, -0.4, 0.3], Some(&[0.05]), 3, 1, &device),
    ];
    let mut la = fit(&d, &layers, Curvature::Kron, Fisher::Ggn, 1.0, 1.0);
    let (lambda, sigma) = la.optimize_prior_precision_and_sigma().unwrap();
    let at = |l: f64, s: f64| la.log_marginal_likelihood_at(l, Some(s)).unwrap();
    let h = 1e-4;
    let dl = (at(lambda * (1.0 + h), sigma) - at(lambda * (1.0 - h), sigma)) / (2.0 * h);
    let ds = (at(lambda, sigma * (1.0 + h)) - at(lambda, sigma * (1.0 - h))) / (2.0 * h);
    assert!(dl.abs() < 1e-5 && ds.abs() < 1e-5, "gradient at the maximum: {dl}, {ds}");
    assert_eq!(la.prior_precision(), lambda);
}

#[test]
fn bad_inputs_are_typed_errors_naming_the_field() {
    let device = device();
    let x = tensor2(&[0.0, 1.0, 2.0, 3.0], 2, 2, &device);
    let y = tensor2(&[0.0, 1.0], 2, 1, &device);
    let config = DenseLaplaceConfig::new();
    let field = |e: Error| match e {
        Error::ShapeMismatch { field, .. } | Error::InvalidParameter { field, .. } => field,
        other => panic!("unexpected error {other:?}"),
    };
    let e = config.fit_regression(&[], x.clone(), y.clone(), 1.0).unwrap_err();
    assert_eq!(field(e), "layers");
    // Layers that do not chain: 2 -> 3 then 2 -> 1.
    let bad = [linear(&[0.0; 6], Some(&[0.0; 3]), 2, 3, &device), linear(&[0.0; 2], Some(&[0.0]), 2, 1, &device)];
    let e = config.fit_regression(&bad, x.clone(), y.clone(), 1.0).unwrap_err();
    assert!(e.to_string().contains("[3, d_output] for layer 1"), "{e}");
    assert_eq!(field(e), "layers");
    let one = [linear(&[0.0; 2], Some(&[0.0]), 2, 1, &device)];
    let e = config.fit_regression(&one, tensor2(&[0.0; 3], 1, 3, &device), y.clone(), 1.0).unwrap_err();
    assert_eq!(field(e), "inputs");
    let e = config.fit_regression(&one, x.clone(), y.clone(), 0.0).unwrap_err();
    assert_eq!(field(e), "sigma");
    let e = config.with_prior_precision(-1.0).fit_regression(&one, x.clone(), y.clone(), 1.0).unwrap_err();
    assert_eq!(field(e), "prior_precision");
    let e = config.fit_classification(&one, x.clone(), Tensor::<1, Int>::zeros([2], &device)).unwrap_err();
    assert_eq!(field(e), "layers");
    // A full curvature past its size limit (a 100 x 50 layer: 5 050 parameters).
    let wide = [linear(&vec![0.0; 100 * 50], Some(&[0.0; 50]), 100, 50, &device)];
    let e = config
        .with_curvature(Curvature::Full)
        .fit_regression(&wide, tensor2(&vec![0.0; 100], 1, 100, &device), tensor2(&[0.0; 50], 1, 50, &device), 1.0)
        .unwrap_err();
    assert!(wide[0].weight.dims()[0] * 51 > MAX_FULL_PARAMETERS);
    assert!(e.to_string().contains("5050 parameters"), "{e}");
    assert_eq!(field(e), "curvature");
    let mut la = config.fit_regression(&one, x.clone(), y, 1.0).unwrap();
    assert_eq!(field(la.set_sigma(f64::NAN).unwrap_err()), "sigma");
    assert_eq!(field(la.predict_probit(x.clone()).unwrap_err()), "likelihood");
    // The empirical Fisher is taken at the trained weights: no refit mean.
    let e = LastLayerLaplaceConfig::new()
        .with_fisher(Fisher::Empirical)
        .with_mean(bayesburn::laplace::LaplaceMean::Refit)
        .fit_regression(x, tensor2(&[0.0, 1.0], 2, 1, &device), &one[0], 1.0)
        .unwrap_err();
    assert_eq!(field(e), "mean");
}
