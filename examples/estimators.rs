//! When each estimator pays: the variance of the ELBO gradient and the cost of a training step
//! for Bayes-by-backprop (reparameterization), Flipout and local reparameterization.
//!
//! What it shows: one `BayesLinear` layer (64 -> 64, posterior sd 0.1 on every weight) on a
//! fixed batch of B inputs with a linear-Gaussian target. For each estimator and batch size it
//! draws the gradient of the batch NLL with respect to the weight means R times with fresh
//! weight noise and reports the variance across draws, averaged over the weights and
//! normalised by the squared mean gradient (so it reads as "noise per unit of signal"). With
//! one weight sample shared by the whole batch (reparameterization) that variance cannot fall
//! below the variance from the one shared sample, however large the batch; Flipout (Wen et al.
//! 2018) decorrelates the examples with random signs and local reparameterization (Kingma et
//! al. 2015) samples the pre-activations directly, so both fall roughly as 1/B. Then it times
//! a forward + backward step at B = 128 for each estimator.
//!
//! Takes about 10 s on 2 cores: `cargo run --release --example estimators` (`--json` for one
//! JSON line last, `--seed N`, `--draws R`, default 200).

use std::time::Instant;

use bayesburn::layers::{BayesLinear, BayesLinearConfig, Estimator};
use bayesburn::noise;
use bayesburn::objective::gaussian_nll;
use bayesburn::posterior::{inverse_softplus, MuInit, PosteriorInit};
use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::Long;
use burn::prelude::*;

const D: usize = 64;
const SIGMA: f64 = 0.1;
const ESTIMATORS: [(&str, Estimator); 3] = [
    ("reparameterization", Estimator::Reparameterization),
    ("flipout", Estimator::Flipout),
    ("local reparameterization", Estimator::LocalReparameterization),
];

fn host<const N: usize>(t: Tensor<N>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64")
}

// ANCHOR: gradient
/// The gradient of the batch NLL with respect to the weight means, for one draw of the weight
/// noise: `x` is `[1, B, D]` (one posterior sample), `y` the targets `[1, B, D]`.
fn mu_gradient(layer: &BayesLinear, x: Tensor<3>, y: Tensor<3>) -> Vec<f64> {
    let pred = layer.forward(x);
    let nll = gaussian_nll(pred, y.clone(), y.ones_like()).sum();
    let grads = nll.backward();
    host(layer.weight.mu.val().grad(&grads).expect("weight.mu takes part in the loss"))
}
// ANCHOR_END: gradient

/// Relative gradient variance: mean over weights of Var(g) / mean over weights of E[g]^2.
fn relative_variance(draws: &[Vec<f64>]) -> f64 {
    let r = draws.len() as f64;
    let n = draws[0].len();
    let (mut var, mut signal) = (0.0, 0.0);
    for j in 0..n {
        let mean = draws.iter().map(|g| g[j]).sum::<f64>() / r;
        var += draws.iter().map(|g| (g[j] - mean).powi(2)).sum::<f64>() / (r - 1.0);
        signal += mean * mean;
    }
    var / signal
}

fn main() -> bayesburn::Result<()> {
    let (mut json, mut seed, mut draws) = (false, 0u64, 200usize);
    let mut cli = cli!("cargo run --release --example estimators -- [--json] [--seed N] [--draws N]");
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("json") => json = true,
            Long("seed") => seed = cli.value(),
            Long("draws") => draws = cli.value(),
            _ => usage.fail(arg.unexpected()),
        }
    }
    noise::seed(seed);
    let device = Device::flex().autodiff();
    let init = PosteriorInit { mu: MuInit::Normal { mean: 0.0, std: 0.1 }, rho: inverse_softplus(SIGMA) };
    let base = BayesLinearConfig::new(D, D).with_init(init).init(&device);
    let w_true = noise::normal::<2>([D, D], &device).mul_scalar(0.2);

    let batches = [16usize, 128, 1024];
    let mut rows = Vec::new();
    for (name, estimator) in ESTIMATORS {
        let layer = base.clone().with_estimator(estimator);
        let mut variances = Vec::new();
        for &b in &batches {
            let x = noise::normal::<2>([b, D], &device);
            let y = (x.clone().matmul(w_true.clone()) + noise::normal::<2>([b, D], &device)).unsqueeze::<3>();
            let x = x.unsqueeze::<3>();
            let grads: Vec<Vec<f64>> = (0..draws).map(|_| mu_gradient(&layer, x.clone(), y.clone())).collect();
            variances.push(relative_variance(&grads));
        }
        // Cost of one forward + backward step at B = 128, averaged over 50 steps after 5 warm-ups.
        let x = noise::normal::<3>([1, 128, D], &device);
        let y = noise::normal::<3>([1, 128, D], &device);
        for _ in 0..5 {
            mu_gradient(&layer, x.clone(), y.clone());
        }
        let start = Instant::now();
        for _ in 0..50 {
            mu_gradient(&layer, x.clone(), y.clone());
        }
        let step_ms = start.elapsed().as_secs_f64() * 1e3 / 50.0;
        rows.push((name, variances, step_ms));
    }

    println!("BayesLinear {D} -> {D}, posterior sd {SIGMA}; gradient of the batch NLL w.r.t. the weight means");
    println!("relative variance = mean Var(g) / mean E[g]^2 over {draws} noise draws (lower is better)");
    println!("| estimator | B = 16 | B = 128 | B = 1024 | ms per step (B = 128) |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, v, ms) in &rows {
        println!("| {name} | {:.4} | {:.4} | {:.4} | {:.3} |", v[0], v[1], v[2], ms);
    }
    if json {
        let line: Vec<_> = rows
            .iter()
            .map(|(name, v, ms)| {
                serde_json::json!({"estimator": name, "rel_var_b16": v[0], "rel_var_b128": v[1],
                "rel_var_b1024": v[2], "step_ms_b128": ms})
            })
            .collect();
        println!("{}", serde_json::json!({ "estimators": line, "seed": seed, "draws": draws }));
    }
    Ok(())
}
