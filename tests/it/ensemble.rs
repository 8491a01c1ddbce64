//! Deep ensembles: the mixture summary against its closed form and against sampling from the
//! mixture (4 standard errors), independence and reproducibility of members, and training.

use crate::support::host;
use bayesburn::ensemble::Ensemble;
use bayesburn::layers::{GaussianHead, GaussianHeadConfig};
use bayesburn::objective::{Elbo, ElboTerms, GaussianNllLossConfig};
use bayesburn::train::{Batch, FitConfig};
use bayesburn::{noise, Result};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution as _, StandardNormal};

fn tensor<const D: usize>(values: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape), device)
}

/// f32 agreement: relative 1e-5 of the magnitude plus an absolute 1e-5.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn mixture_summary_matches_closed_form_and_sampling() {
    let device = crate::support::device();
    let members = 5;
    let ensemble =
        noise::with_seed(1, || Ensemble::init(members, |_| GaussianHeadConfig::new(3, 1).init(&device))).unwrap();
    let x = noise::with_seed(2, || noise::normal([1, 4, 3], &device).mul_scalar(2.0));
    let stacked = ensemble.predict(x.clone()).unwrap();
    assert_eq!(stacked.mean.dims(), [members, 4, 1]);
    let (mu, var) = (host(stacked.mean), host(stacked.var));
    let summary = ensemble.summary(x).unwrap();
    assert_eq!(summary.samples, members);
    let (s_mean, s_total) = (host(summary.mean.clone()), host(summary.total_var()));
    let (s_alea, s_epi) = (host(summary.aleatoric_var.clone()), host(summary.epistemic_var.clone()));

    let mut rng = StdRng::seed_from_u64(3);
    let draws = 100_000;
    for point in 0..4 {
        let mu_m: Vec<f64> = (0..members).map(|m| mu[m * 4 + point]).collect();
        let var_m: Vec<f64> = (0..members).map(|m| var[m * 4 + point]).collect();
        let k = members as f64;
        // Lakshminarayanan et al. 2017, §2.4: the uniform mixture's moments.
        let mean = mu_m.iter().sum::<f64>() / k;
        let total = mu_m.iter().zip(&var_m).map(|(m, v)| v + m * m).sum::<f64>() / k - mean * mean;
        let aleatoric = var_m.iter().sum::<f64>() / k;
        let epistemic = mu_m.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / k;
        assert!(close(s_mean[point], mean), "point {point}: mean {} vs {mean}", s_mean[point]);
        assert!(close(s_total[point], total), "point {point}: total {} vs {total}", s_total[point]);
        assert!(close(s_alea[point], aleatoric) && close(s_epi[point], epistemic), "point {point}: split");
        assert!(epistemic > 1e-3, "point {point}: members should disagree");

        // Sampling: member index uniformly, then Normal(mu_m, var_m).
        let ys: Vec<f64> = (0..draws)
            .map(|_| {
                let m = rng.random_range(0..members);
                let z: f64 = StandardNormal.sample(&mut rng);
                mu_m[m] + var_m[m].sqrt() * z
            })
            .collect();
        let n = draws as f64;
        let sample_mean = ys.iter().sum::<f64>() / n;
        let sample_var = ys.iter().map(|y| (y - sample_mean).powi(2)).sum::<f64>() / (n - 1.0);
        // Fourth central moment of the mixture: mean_m E[(d_m + sigma_m z)^4], d_m = mu_m - mean.
        let mu4 = mu_m
            .iter()
            .zip(&var_m)
            .map(|(m, v)| {
                let d = m - mean;
                d.powi(4) + 6.0 * d * d * v + 3.0 * v * v
            })
            .sum::<f64>()
            / k;
        let se_mean = (s_total[point] / n).sqrt();
        let se_var = ((mu4 - total * total) / n).sqrt();
        assert!(
            (sample_mean - s_mean[point]).abs() < 4.0 * se_mean,
            "point {point}: sampled mean {sample_mean} vs {}",
            s_mean[point]
        );
        assert!(
            (sample_var - s_total[point]).abs() < 4.0 * se_var,
            "point {point}: sampled var {sample_var} vs {}",
            s_total[point]
        );
    }
}

/// `y = 2x - 1 + N(0, 0.1^2)` on 64 points in [-1, 1].
fn line(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let mut rng = StdRng::seed_from_u64(4);
    let xs: Vec<f64> = (0..64).map(|i| i as f64 / 32.0 - 1.0).collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|x| {
            let e: f64 = StandardNormal.sample(&mut rng);
            2.0 * x - 1.0 + 0.1 * e
        })
        .collect();
    (tensor(&xs, [64, 1], device), tensor(&ys, [64, 1], device))
}

fn gaussian_step<'a>(
    x: &'a Tensor<2>,
    y: &'a Tensor<2>,
) -> impl Fn(&GaussianHead, &Batch) -> Result<ElboTerms> + Sync + 'a {
    let elbo = Elbo::new(64).unwrap();
    let nll = GaussianNllLossConfig::new().init();
    move |head, batch| {
        let out = head.forward(batch.select(x.clone()).unsqueeze::<3>());
        elbo.loss(nll.forward_no_reduction(out.mean, out.var, batch.select(y.clone())), None, batch.step)
    }
}

/// Mixture NLL of the training data under the ensemble's summary Gaussian (mean, total var).
fn mixture_nll(ensemble: &Ensemble<GaussianHead>, x: &Tensor<2>, y: &Tensor<2>) -> f64 {
    let plain = crate::support::device();
    let x = Tensor::<2>::from_data(x.to_data(), &plain).unsqueeze::<3>();
    let y = Tensor::<2>::from_data(y.to_data(), &plain);
    let summary = ensemble.valid().summary(x).unwrap();
    let nll = GaussianNllLossConfig::new().init();
    host(nll.forward_no_reduction(summary.mean.clone().unsqueeze(), summary.total_var().unsqueeze(), y).mean())[0]
}

#[test]
fn training_reduces_the_nll_and_members_differ() {
    let device = crate::support::device().autodiff();
    let (x, y) = line(&device);
    let ensemble = noise::with_seed(5, || Ensemble::init(3, |_| GaussianHeadConfig::new(1, 1).init(&device))).unwrap();
    let before = mixture_nll(&ensemble, &x, &y);
    let config = FitConfig::new(30, 16, 0.05).with_progress(false);
    let (trained, histories) =
        noise::with_seed(6, || ensemble.clone().fit(|| AdamConfig::new().init(), 64, &config, gaussian_step(&x, &y)))
            .unwrap();
    let after = mixture_nll(&trained, &x, &y);
    assert!(after < before, "mixture NLL {before} -> {after}");
    for (i, h) in histories.iter().enumerate() {
        let (first, last) = (h.epochs.first().unwrap().loss, h.epochs.last().unwrap().loss);
        assert!(last < first, "member {i}: loss {first} -> {last}");
    }

    // Different seeds: the members' predictions differ pairwise.
    let probe = Tensor::<3>::from_data([[[-0.5], [0.0], [0.5]]], &crate::support::device());
    let preds = host(trained.valid().predict(probe.clone()).unwrap().mean);
    for a in 0..3 {
        for b in a + 1..3 {
            let diff = (0..3).map(|j| (preds[a * 3 + j] - preds[b * 3 + j]).abs()).fold(0.0, f64::max);
            assert!(diff > 1e-4, "members {a} and {b} coincide: {preds:?}");
        }
    }

    // Parallel training uses the same per-member seeds: identical members.
    let (parallel, _) = noise::with_seed(6, || {
        ensemble.clone().fit_parallel(|| AdamConfig::new().init(), 64, &config, gaussian_step(&x, &y))
    })
    .unwrap();
    let parallel_preds = host(parallel.valid().predict(probe.clone()).unwrap().mean);
    assert_eq!(preds, parallel_preds);

    // Spread over two devices (two handles of the one CPU device here): the same members.
    let devices = [device.clone(), device.clone()];
    let (spread, _) = noise::with_seed(6, || {
        ensemble.clone().fit_on_devices(&devices, || AdamConfig::new().init(), 64, &config, gaussian_step(&x, &y))
    })
    .unwrap();
    assert_eq!(preds, host(spread.valid().predict(probe).unwrap().mean));
    let err =
        ensemble.fit_on_devices(&[], || AdamConfig::new().init(), 64, &config, gaussian_step(&x, &y)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Ensemble::fit_on_devices: devices must be a list of at least one device, got []; list the devices to spread \
         the members over, e.g. vec![Device::cuda(0), Device::cuda(1)]"
    );
}
