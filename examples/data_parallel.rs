//! Data-parallel Bayes-by-backprop: every minibatch split between several workers
//! (`train::fit_data_parallel`), each with its own weight noise, the KL counted once.
//!
//! What it shows: the same model and step closure as a one-device fit, on a list of devices,
//! and what the split costs or gains. On this CPU the "devices" are handles of flex's one CPU
//! device, each a worker thread with its own shard; on CUDA the list would be `Device::cuda(0)`,
//! `Device::cuda(1)`, ... and nothing else changes. The run trains once on one worker and once
//! on `--devices N` workers from the same seed and prints steps per second and the last epoch's
//! ELBO of both (they differ by Monte-Carlo noise only: every worker draws its own weights).
//!
//! Model: the cubic toy (N = 1024), MLP 1-H-H-1 (H = `--hidden`, default 128), every weight
//! N(0, 1) a priori, Adam 1e-2, batch `--batch` (default 512), one weight sample per example
//! (local reparameterization, so the work grows with the batch and splits with it).
//!
//! Takes 2-5 s on 2 cores in the dev profile (`cargo run --example data_parallel`);
//! `docs/PERFORMANCE.md` has the measured speed-ups.
//!
//! Flags: `--devices N` (workers, default 2), `--epochs N` (default 10), `--batch N` (512),
//! `--hidden N` (128), `--seed N`, `--json` (one JSON line last).

use std::time::Instant;

use bayesburn::data::toy::CubicToy;
use bayesburn::layers::{BayesLinear, BayesLinearConfig, Estimator};
use bayesburn::objective::{gaussian_nll, Elbo};
use bayesburn::train::{fit_data_parallel, DataParallelConfig, FitConfig, History};
use bayesburn::{noise, Bayesian};
use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::Long;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;

const N: usize = 1024;

#[derive(Module, Bayesian, Debug)]
struct Bnn {
    l1: BayesLinear,
    l2: BayesLinear,
    l3: BayesLinear,
}

impl Bnn {
    fn new(hidden: usize, device: &Device) -> Self {
        let layer = |i, o| BayesLinearConfig::new(i, o).with_estimator(Estimator::LocalReparameterization).init(device);
        Bnn { l1: layer(1, hidden), l2: layer(hidden, hidden), l3: layer(hidden, 1) }
    }

    /// `[1, B, 1]` -> `[1, B, 1]`.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.l3.forward(relu(self.l2.forward(relu(self.l1.forward(x)))))
    }
}

struct Args {
    devices: usize,
    epochs: usize,
    batch: usize,
    hidden: usize,
    seed: u64,
    json: bool,
}

fn parse_args() -> Args {
    let mut args = Args { devices: 2, epochs: 10, batch: 512, hidden: 128, seed: 0, json: false };
    let mut cli = cli!(
        "cargo run --example data_parallel -- [--devices N] [--epochs N] [--batch N] [--hidden N] [--seed N] [--json]"
    );
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("devices") => args.devices = cli.value(),
            Long("epochs") => args.epochs = cli.value(),
            Long("batch") => args.batch = cli.value(),
            Long("hidden") => args.hidden = cli.value(),
            Long("seed") => args.seed = cli.value(),
            Long("json") => args.json = true,
            _ => usage.fail(arg.unexpected()),
        }
    }
    args
}

// ANCHOR: train
/// Trains from `args.seed` on `workers` handles of `device`.
fn train(args: &Args, workers: usize, device: &Device) -> bayesburn::Result<(History, f64)> {
    let toy = CubicToy::new(N);
    let column = |v: &[f32]| Tensor::<1>::from_floats(v, device).reshape([N, 1]);
    let (x, y) = (column(&toy.x), column(&toy.y));
    let elbo = Elbo::new(N)?;
    let config = FitConfig::new(args.epochs, args.batch, 1e-2).with_progress(false);
    let parallel = DataParallelConfig::new(vec![device.clone(); workers], args.seed);
    let mut optim = AdamConfig::new().init();
    let start = Instant::now();
    let (_, history) = noise::with_seed(args.seed, || {
        let model = Bnn::new(args.hidden, device);
        fit_data_parallel(model, &mut optim, N, &config, &parallel, |model, shard| {
            let pred = model.forward(shard.select(x.clone()).unsqueeze());
            let yb = shard.select(y.clone()).unsqueeze::<3>();
            // The peers' MSE as a Gaussian likelihood with variance 1/2 (standardised units).
            let nll = gaussian_nll(pred, yb.clone(), yb.full_like(0.5)).squeeze_dim::<2>(2);
            shard.loss(&elbo, nll, || model.kl())
        })
    })?;
    Ok((history, start.elapsed().as_secs_f64()))
}
// ANCHOR_END: train

fn main() -> bayesburn::Result<()> {
    let args = parse_args();
    let device = Device::flex().autodiff();
    let mut rows = Vec::new();
    for workers in [1, args.devices] {
        let (history, seconds) = train(&args, workers, &device)?;
        let last = history.epochs.last().expect("at least one epoch");
        let steps_per_second = history.steps as f64 / seconds;
        println!(
            "{workers} worker(s): {} steps in {seconds:.2} s = {steps_per_second:.1} steps/s, last epoch's loss {:.1} (nll {:.1}, kl {:.1})",
            history.steps, last.loss, last.nll, last.kl
        );
        rows.push((workers, steps_per_second, last.loss));
    }
    let speedup = rows[1].1 / rows[0].1;
    println!("speed-up of {} workers over 1: {speedup:.2}x", args.devices);
    if args.json {
        println!(
            "{{\"devices\":{},\"batch\":{},\"hidden\":{},\"steps_per_s_1\":{:.3},\"steps_per_s_n\":{:.3},\"speedup\":{speedup:.3},\"loss_1\":{:.3},\"loss_n\":{:.3}}}",
            args.devices, args.batch, args.hidden, rows[0].1, rows[1].1, rows[0].2, rows[1].2
        );
    }
    Ok(())
}
