//! Bayes-by-backprop on the cubic toy: the workload of the Python peers
//! (`../shared/bench/peers/common.py`).
//!
//! What it shows: declaring a Bayesian MLP with `#[derive(Bayesian)]`, training it with a
//! correctly scaled ELBO, and getting epistemic uncertainty that grows away from the data.
//!
//! Data: N = 1024, x ~ U[-4, 4], y = x^3 + N(0, 3^2), standardised. Model: MLP 1-64-64-1 with
//! ReLU, every weight and bias N(0, 1) a priori, posterior mu ~ N(0, 0.1), rho = -5. Adam 1e-2,
//! batch 128, 200 epochs (1600 steps), Gaussian likelihood with sd sqrt(1/2) in standardised
//! units (the peers' MSE loss). Prediction: T = 100 posterior samples over 10 000 points on
//! [-6, 6].
//!
//! Takes about 5-10 s on 2 cores (`cargo run --release --example bbb_regression`).
//!
//! Flags: `--json` (one JSON line last), `--device cpu|cuda`, `--seed N`, `--epochs N`,
//! `--estimator reparam|flipout|local`.

use std::time::Instant;

use bayesburn::data::toy::CubicToy;
use bayesburn::layers::{BayesLinear, BayesLinearConfig, Estimator};
use bayesburn::objective::{gaussian_nll, Elbo};
use bayesburn::posterior::Prior;
use bayesburn::train::{fit_bayesian, FitConfig};
use bayesburn::{noise, Bayesian, Mode};
use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::Long;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;

// ANCHOR: model
/// A Bayesian MLP: every weight and bias has a Gaussian posterior.
#[derive(Module, Bayesian, Debug)]
pub struct Mlp {
    hidden1: BayesLinear,
    hidden2: BayesLinear,
    out: BayesLinear,
}

impl Mlp {
    /// A 1-h-h-1 network with the given estimator and a N(0, 1) prior on every weight.
    pub fn new(hidden: usize, estimator: Estimator, device: &Device) -> Self {
        let layer = |i, o| {
            BayesLinearConfig::new(i, o)
                .with_prior(Prior::Normal { loc: 0.0, scale: 1.0 })
                .with_estimator(estimator)
                .init(device)
        };
        Mlp { hidden1: layer(1, hidden), hidden2: layer(hidden, hidden), out: layer(hidden, 1) }
    }

    /// `[S, N, 1] -> [S, N, 1]`: S posterior samples of the function at N points.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = relu(self.hidden1.forward(x));
        let h = relu(self.hidden2.forward(h));
        self.out.forward(h)
    }
}
// ANCHOR_END: model

struct Args {
    json: bool,
    device: String,
    seed: u64,
    epochs: usize,
    estimator: Estimator,
}

fn parse_args() -> Args {
    let mut args =
        Args { json: false, device: "cpu".into(), seed: 0, epochs: 200, estimator: Estimator::Reparameterization };
    let mut cli = cli!("cargo run --release --example bbb_regression -- [--json] [--device D] [--seed N] [--epochs N] [--estimator reparam|flipout|local]");
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("json") => args.json = true,
            Long("device") => args.device = cli.value(),
            Long("seed") => args.seed = cli.value(),
            Long("epochs") => args.epochs = cli.value(),
            Long("estimator") => {
                args.estimator = match cli.value::<String>().as_str() {
                    "reparam" => Estimator::Reparameterization,
                    "flipout" => Estimator::Flipout,
                    "local" => Estimator::LocalReparameterization,
                    other => usage
                        .fail(format!("unknown estimator {other:?} for --estimator: use reparam, flipout or local")),
                }
            }
            _ => usage.fail(arg.unexpected()),
        }
    }
    args
}

fn main() {
    let args = parse_args();
    let device = bayesburn_fixtures::cli::from_name(&args.device).unwrap_or_else(|e| panic!("{e}"));
    noise::seed(args.seed);
    const N: usize = 1024;
    const T: usize = 100;
    const N_TEST: usize = 10_000;
    let lik_var = 0.5; // the peers' MSE == Gaussian NLL with sd sqrt(1/2)

    let toy = CubicToy::new(N);
    let train_device = device.clone().autodiff();
    let x = Tensor::<1>::from_floats(toy.x.as_slice(), &train_device).reshape([N, 1]);
    let y = Tensor::<1>::from_floats(toy.y.as_slice(), &train_device).reshape([N, 1]);

    // ANCHOR: train
    let model = Mlp::new(64, args.estimator, &train_device);
    let elbo = Elbo::new(N).expect("N > 0");
    let mut optim = AdamConfig::new().init();
    let config = FitConfig::new(args.epochs, 128, 1e-2).with_label("BBB");
    let (model, history) = fit_bayesian(model, &mut optim, N, &config, |model, batch| {
        let xb = batch.select(x.clone()).unsqueeze::<3>(); // [1, B, 1]: one posterior sample
        let yb = batch.select(y.clone()).unsqueeze::<3>();
        let pred = model.forward(xb);
        let nll = gaussian_nll(pred, yb.clone(), yb.full_like(lik_var)); // [1, B, 1]
        elbo.loss(nll.squeeze_dim::<2>(2), model.kl(), batch.step)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    // ANCHOR_END: train

    // ANCHOR: predict
    // Prediction runs on the plain (inference) device; chunks of rows keep the [T, rows, 64]
    // intermediates small enough to stay in cache.
    let model = model.valid();
    let grid: Vec<f64> = (0..N_TEST).map(|i| -6.0 + 12.0 * i as f64 / (N_TEST - 1) as f64).collect();
    let xt: Vec<f32> = grid.iter().map(|&v| toy.standardise_x(v)).collect();
    let start = Instant::now();
    let (mut mean, mut sd) = (Vec::with_capacity(N_TEST), Vec::with_capacity(N_TEST));
    for rows in xt.chunks(1000) {
        let xc = Tensor::<1>::from_floats(rows, &device).reshape([1, rows.len(), 1]).expand([T, rows.len(), 1]);
        let samples = model.forward(xc); // [T, rows, 1]: T posterior function samples
        let m = samples.clone().mean_dim(0);
        let s = samples.var(0).sqrt();
        mean.extend(m.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64"));
        sd.extend(s.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64"));
    }
    let pred_s = start.elapsed().as_secs_f64();
    // The posterior-mean network, for a deterministic prediction.
    let mean_net = model.clone().with_mode(Mode::Mean);
    let x0 = Tensor::<1>::from_floats([0.0f32], &device).reshape([1, 1, 1]);
    let at_zero = mean_net.forward(x0).into_data().convert::<f64>().try_to_vec::<f64>().expect("f64")[0];
    // ANCHOR_END: predict

    // Metrics in original units, as the peers compute them.
    let (mut se, mut n_in, mut sd_in, mut sd_out, mut n_out) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for ((g, m), s) in grid.iter().zip(&mean).zip(&sd) {
        let m = m * toy.y_sd + toy.y_mean;
        let s = s * toy.y_sd;
        if g.abs() <= 4.0 {
            se += (m - g * g * g).powi(2);
            sd_in += s;
            n_in += 1.0;
        } else {
            sd_out += s;
            n_out += 1.0;
        }
    }
    let rmse_in = (se / n_in).sqrt();
    let (sd_in, sd_out) = (sd_in / n_in, sd_out / n_out);
    let train_s = history.seconds;
    let steps_per_s = history.steps_per_second();
    let last = history.epochs.last().expect("at least one epoch");

    println!("Bayes-by-backprop, MLP 1-64-64-1, estimator {:?}, {} steps", args.estimator, history.steps);
    println!("| figure | value |");
    println!("| --- | --- |");
    println!("| final loss (nll + kl) | {:.1} = {:.1} + {:.1} |", last.loss, last.nll, last.kl);
    println!("| rmse_in (vs x^3 on [-4, 4]) | {rmse_in:.3} |");
    println!("| sd_in (epistemic, on [-4, 4]) | {sd_in:.3} |");
    println!("| sd_out (epistemic, outside) | {sd_out:.3} |");
    println!("| sd_out / sd_in | {:.2} |", sd_out / sd_in);
    println!("| posterior-mean net at x = 0 | {:.3} |", at_zero * toy.y_sd + toy.y_mean);
    println!("| train_s | {train_s:.2} |");
    println!("| steps_per_s | {steps_per_s:.0} |");
    println!("| pred_s (T = {T} x {N_TEST} points) | {pred_s:.3} |");
    if args.json {
        println!(
            "{{\"bench\":\"bbb_regression\",\"estimator\":\"{:?}\",\"seed\":{},\"steps\":{},\"rmse_in\":{rmse_in:.5},\"sd_in\":{sd_in:.5},\"sd_out\":{sd_out:.5},\"train_s\":{train_s:.5},\"steps_per_s\":{steps_per_s:.3},\"pred_s\":{pred_s:.5},\"pred_T\":{T},\"pred_points\":{N_TEST}}}",
            args.estimator, args.seed, history.steps
        );
    }
}
