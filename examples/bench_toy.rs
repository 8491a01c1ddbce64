//! The Python peers' benchmark workload, in bayesburn: one JSON line per run, with the peers'
//! field names, so `../shared/bench/peers/run_all.sh` output and ours sit side by side
//! (`bench/compare_peers.sh` runs both and prints the ratios; `docs/PERFORMANCE.md` has the
//! figures).
//!
//! What it shows: what Bayes-by-backprop (reparameterization and Flipout), MC dropout and a deep
//! ensemble cost in bayesburn on one CPU thread, trained and evaluated exactly as the peers do.
//!
//! The workload (`../shared/bench/peers/common.py`): N = 1024 points, x ~ U[-4, 4],
//! y = x^3 + N(0, 3^2), x and y standardised with the training mean and sd; MLP 1-64-64-1 with
//! ReLU; Adam 1e-2, batch 128, 200 epochs = 1600 steps. BNNs: prior N(0, 1) on every weight and
//! bias, posterior mu ~ N(0, 0.1^2), rho = -5, loss MSE + KL / N (as the ELBO: a Gaussian
//! likelihood with sd sqrt(1/2), scaled by N / B, plus the KL), one weight sample per step.
//! MC dropout: p = 0.1 after each hidden ReLU, MSE. Ensemble: 5 members 1-64-64-2 with a mean
//! and a softplus-variance head, Gaussian NLL, each with its own minibatch order. Prediction:
//! T = 100 passes over 10 000 points on [-6, 6] (the ensemble: one pass per member). Metrics in
//! original units: `rmse_in` (predictive mean against x^3 on [-4, 4]), `sd_in`, `sd_out` (mean
//! predictive sd inside and outside [-4, 4]; epistemic for BBB and dropout, the mixture sd for
//! the ensemble). The data follow the peers' recipe from bayesburn's own seeded source, so they
//! are not numpy's numbers.
//!
//! `pred_s` is the first predictive of the run, as the PyTorch peers time theirs; `pred_warm_s`
//! the same predictive once more, as NumPyro times its jitted one (its `pred_s` is the second
//! call; the first traces and compiles).
//!
//! Threads: `--threads N` (default 1) runs burn's `flex` backend on a rayon pool of N threads
//! (flex parallelises large matmuls and reductions with rayon's global pool; `RAYON_NUM_THREADS=1`
//! does the same from the environment). Pin the process to one core with `taskset -c 0` as the
//! peers pin themselves with `sched_setaffinity`.
//!
//! Allocator: this binary uses mimalloc (a dev-dependency); the library imposes none. See the
//! README's "Performance" section for using it in your own binary.
//!
//! The predictive of BBB, MC dropout and the stacked ensemble is one `predict::DenseStack` over
//! the whole grid: the BBB variants draw the T weight samples once (Flipout is a training-time
//! estimator; each point's predictive is the same), dropout draws a mask per sample, point and
//! unit, and the ensemble's members are its M samples.
//!
//! Takes 5-20 s in release on the 2-core dev machine, depending on its load
//! (`cargo run --release --example bench_toy`); flags: `--threads N`, `--seed N`, `--epochs N`,
//! `--only bbb_reparam|bbb_flipout|mcdropout|ensemble|ensemble_separate` (repeatable;
//! `ensemble` trains the 5 members stacked in one batched step, `ensemble_separate` one after
//! the other).

use std::time::Instant;

use bayesburn::data::toy::CubicToy;
use bayesburn::ensemble::{fit_stacked, Ensemble, StackedLinear, StackedLinearConfig};
use bayesburn::layers::{BayesLinear, BayesLinearConfig, Estimator, GaussianHead, GaussianHeadConfig, McDropout};
use bayesburn::layers::{GaussianOutput, McDropoutConfig};
use bayesburn::objective::{gaussian_nll, Elbo};
use bayesburn::posterior::{softplus, Prior};
use bayesburn::predict::{Activation, DenseStack, RegressionSummary};
use bayesburn::train::{fit, FitConfig};
use bayesburn::{noise, Bayesian};
use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::Long;
use burn::module::Param;
use burn::nn::Linear;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 1024;
const HIDDEN: usize = 64;
const BATCH: usize = 128;
const LR: f64 = 1e-2;
const T_PRED: usize = 100;
const N_TEST: usize = 10_000;
const MEMBERS: usize = 5;
const DROPOUT: f64 = 0.1;
/// The peers' MSE is a Gaussian NLL with variance 1/2 in standardised units.
const LIK_VAR: f64 = 0.5;

/// The Bayesian MLP 1-64-64-1.
#[derive(Module, Bayesian, Debug)]
struct Bnn {
    l1: BayesLinear,
    l2: BayesLinear,
    l3: BayesLinear,
}

impl Bnn {
    fn new(estimator: Estimator, device: &Device) -> Self {
        let layer = |i, o| {
            BayesLinearConfig::new(i, o)
                .with_prior(Prior::Normal { loc: 0.0, scale: 1.0 })
                .with_estimator(estimator)
                .init(device)
        };
        Bnn { l1: layer(1, HIDDEN), l2: layer(HIDDEN, HIDDEN), l3: layer(HIDDEN, 1) }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.l3.forward(relu(self.l2.forward(relu(self.l1.forward(x)))))
    }

    /// The predictive network: `t` posterior draws of every layer's weights, fused.
    fn predictive(&self, t: usize) -> bayesburn::Result<DenseStack> {
        DenseStack::new(t)?
            .bayes_linear(&self.l1, Activation::Relu)?
            .bayes_linear(&self.l2, Activation::Relu)?
            .bayes_linear(&self.l3, Activation::Identity)
    }
}

/// A `Linear` with PyTorch's default initialisation, `U(-1/sqrt(d_in), 1/sqrt(d_in))` for the
/// weight and the bias, drawn from bayesburn's seeded source.
fn linear(d_input: usize, d_output: usize, device: &Device) -> Linear {
    let k = 1.0 / (d_input as f64).sqrt();
    Linear {
        weight: Param::from_tensor(noise::uniform([d_input, d_output], -k, k, device)),
        bias: Some(Param::from_tensor(noise::uniform([d_output], -k, k, device))),
    }
}

/// The MC-dropout MLP: dropout after each hidden ReLU.
#[derive(Module, Bayesian, Debug)]
struct DropoutNet {
    l1: Linear,
    d1: McDropout,
    l2: Linear,
    d2: McDropout,
    l3: Linear,
}

impl DropoutNet {
    fn new(device: &Device) -> Self {
        DropoutNet {
            l1: linear(1, HIDDEN, device),
            d1: McDropoutConfig::new(DROPOUT).init(),
            l2: linear(HIDDEN, HIDDEN, device),
            d2: McDropoutConfig::new(DROPOUT).init(),
            l3: linear(HIDDEN, 1, device),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.d1.forward(relu(self.l1.forward(x)));
        self.l3.forward(self.d2.forward(relu(self.l2.forward(h))))
    }

    /// The same network for prediction, `t` dropout masks per point, fused.
    fn predictive(&self, t: usize) -> bayesburn::Result<DenseStack> {
        DenseStack::new(t)?
            .linear(&self.l1, Activation::Relu)?
            .mc_dropout(&self.d1)?
            .linear(&self.l2, Activation::Relu)?
            .mc_dropout(&self.d2)?
            .linear(&self.l3, Activation::Identity)
    }
}

/// One ensemble member: MLP 1-64-64 and a Gaussian head (mean, softplus variance + 1e-6).
#[derive(Module, Debug)]
struct MeanVar {
    l1: Linear,
    l2: Linear,
    head: GaussianHead,
}

impl MeanVar {
    fn new(device: &Device) -> Self {
        MeanVar { l1: linear(1, HIDDEN, device), l2: linear(HIDDEN, HIDDEN, device), head: head(device) }
    }

    fn forward(&self, x: Tensor<3>) -> GaussianOutput {
        self.head.forward(relu(self.l2.forward(relu(self.l1.forward(x)))))
    }
}

fn head(device: &Device) -> GaussianHead {
    GaussianHeadConfig::new(HIDDEN, 1).init(device)
}

/// The whole ensemble as one network: the members' layers stacked on a leading member axis
/// (`[M, N, d] -> [M, N, d']`), the head's two outputs a mean and a softplus variance + 1e-6.
#[derive(Module, Debug)]
struct StackedMeanVar {
    l1: StackedLinear,
    l2: StackedLinear,
    l3: StackedLinear,
}

impl StackedMeanVar {
    fn new(device: &Device) -> Self {
        let layer = |i, o| StackedLinearConfig::new(MEMBERS, i, o).init(device);
        StackedMeanVar { l1: layer(1, HIDDEN), l2: layer(HIDDEN, HIDDEN), l3: layer(HIDDEN, 2) }
    }

    /// `[M or 1, N, 1]` -> mean and variance `[M, N, 1]`.
    fn forward(&self, x: Tensor<3>) -> GaussianOutput {
        mean_var(self.l3.forward(relu(self.l2.forward(relu(self.l1.forward(x))))))
    }

    /// The same for prediction, `[N, 1]` -> `[M, N, 1]` each: the members' MLPs as one fused
    /// `DenseStack` (member m as sample m).
    fn predict(&self, x: Tensor<2>) -> bayesburn::Result<GaussianOutput> {
        let out = DenseStack::new(MEMBERS)?
            .stacked_linear(&self.l1, Activation::Relu)?
            .stacked_linear(&self.l2, Activation::Relu)?
            .stacked_linear(&self.l3, Activation::Identity)?
            .forward(x)?;
        Ok(mean_var(out))
    }
}

/// The Gaussian head of the stacked members: output 0 the mean, output 1 a softplus variance
/// + 1e-6.
fn mean_var(out: Tensor<3>) -> GaussianOutput {
    let [m, n, _] = out.dims();
    let mean = out.clone().slice([0..m, 0..n, 0..1]);
    let var = softplus(out.slice([0..m, 0..n, 1..2])).add_scalar(1e-6);
    GaussianOutput { mean, var }
}

struct Args {
    threads: usize,
    seed: u64,
    epochs: usize,
    only: Vec<String>,
}

/// `ensemble` trains the members stacked (one batched step for all five); `ensemble_separate`
/// trains them one after the other with [`Ensemble::fit`], for comparison.
const BENCHES: [&str; 5] = ["bbb_reparam", "bbb_flipout", "mcdropout", "ensemble", "ensemble_separate"];
const DEFAULT_BENCHES: [&str; 4] = ["bbb_reparam", "bbb_flipout", "mcdropout", "ensemble"];

fn parse_args() -> Args {
    let mut args = Args { threads: 1, seed: 0, epochs: 200, only: Vec::new() };
    let mut cli =
        cli!("cargo run --release --example bench_toy -- [--threads N] [--seed N] [--epochs N] [--only NAME]...");
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("threads") => args.threads = cli.value(),
            Long("seed") => args.seed = cli.value(),
            Long("epochs") => args.epochs = cli.value(),
            Long("only") => {
                let name: String = cli.value();
                if !BENCHES.contains(&name.as_str()) {
                    usage.fail(format!("unknown bench {name:?} for --only: use one of {BENCHES:?}"));
                }
                args.only.push(name);
            }
            _ => usage.fail(arg.unexpected()),
        }
    }
    if args.only.is_empty() {
        args.only = DEFAULT_BENCHES.iter().map(|s| s.to_string()).collect();
    }
    args
}

/// The standardised training set and test grid (the peers' `make_data`).
struct Toy {
    x: Tensor<2>,
    y: Tensor<2>,
    /// Standardised test inputs, `[N_TEST, 1]`.
    xt: Tensor<2>,
    /// Raw test inputs on [-6, 6].
    grid: Vec<f64>,
    y_mean: f64,
    y_sd: f64,
}

fn make_toy(device: &Device) -> Toy {
    let toy = CubicToy::new(N);
    let to_tensor = |v: &[f32]| Tensor::<1>::from_floats(v, device).reshape([N, 1]);
    let grid: Vec<f64> = (0..N_TEST).map(|i| -6.0 + 12.0 * i as f64 / (N_TEST - 1) as f64).collect();
    Toy {
        x: to_tensor(&toy.x),
        y: to_tensor(&toy.y),
        xt: {
            let xt: Vec<f32> = grid.iter().map(|&g| toy.standardise_x(g)).collect();
            Tensor::<1>::from_floats(xt.as_slice(), device).reshape([N_TEST, 1])
        },
        grid,
        y_mean: toy.y_mean,
        y_sd: toy.y_sd,
    }
}

/// What one run measured.
struct Run {
    steps: usize,
    train: Phase,
    /// The first predictive of the process (what the PyTorch peers time).
    pred: Phase,
    /// The same predictive again (NumPyro's `pred_s` is its second, warm call).
    pred_warm: Phase,
    /// Predictive mean and sd on the grid, standardised units.
    mean: Vec<f64>,
    sd: Vec<f64>,
}

/// Wall and CPU seconds of one phase.
#[derive(Clone, Copy)]
struct Phase {
    wall: f64,
    cpu: f64,
}

/// Runs `f`, timing it.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Phase) {
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let out = f();
    (out, Phase { wall: start.elapsed().as_secs_f64(), cpu: cpu_seconds() - cpu })
}

/// Runs the predictive `f` twice: the first result and timing, and the second's timing (the
/// first call of a process also faults in the memory the later ones reuse).
fn twice<R>(f: impl Fn() -> R) -> (R, Phase, Phase) {
    let (out, first) = timed(&f);
    let (_, warm) = timed(&f);
    (out, first, warm)
}

/// CPU seconds this process has used so far (user + system, from `/proc/self/stat`; 0 where
/// that file does not exist). On a loaded machine the CPU time of a phase is a steadier figure
/// than its wall time, which also counts the time other processes held the core.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(14) + ticks(15)) / 100.0 // USER_HZ is 100 on Linux
}

fn host(t: Tensor<2>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64 data")
}

/// The predictive mean and epistemic sd on the test grid from T = 100 function samples.
fn summary(summary: bayesburn::Result<RegressionSummary>) -> (Vec<f64>, Vec<f64>) {
    let summary = summary.unwrap_or_else(|e| panic!("{e}"));
    (host(summary.mean), host(summary.epistemic_var.sqrt()))
}

/// Trains with the peers' MSE loss as an ELBO (Gaussian likelihood with variance 1/2, scaled by
/// N / B) plus `kl(model)` (BBB: the KL, one weight sample per step; dropout: none).
fn train_mse<M: Module>(
    model: M,
    toy: &Toy,
    epochs: usize,
    forward: impl Fn(&M, Tensor<3>) -> Tensor<3>,
    kl: impl Fn(&M) -> Option<Tensor<1>>,
) -> (M, usize, Phase) {
    let (x, y) = (toy.x.clone(), toy.y.clone());
    let elbo = Elbo::new(N).expect("N > 0");
    let mut optim = AdamConfig::new().init();
    let config = FitConfig::new(epochs, BATCH, LR).with_progress(false);
    let ((model, history), train) = timed(|| {
        fit(model, &mut optim, N, &config, |model, batch| {
            let xb = batch.select(x.clone()).unsqueeze::<3>();
            let yb = batch.select(y.clone()).unsqueeze::<3>();
            let nll = gaussian_nll(forward(model, xb), yb.clone(), yb.full_like(LIK_VAR));
            elbo.loss(nll.squeeze_dim::<2>(2), kl(model), batch.step)
        })
        .unwrap_or_else(|e| panic!("{e}"))
    });
    (model, history.steps, train)
}

fn bbb(estimator: Estimator, toy: &Toy, epochs: usize, device: &Device) -> Run {
    let model = Bnn::new(estimator, &device.clone().autodiff());
    let (model, steps, train) = train_mse(model, toy, epochs, Bnn::forward, Bnn::kl);
    let model = model.valid();
    // The T weight samples are drawn once and shared by every test point, so each predictive
    // sample is one function over the whole grid (as in the peers' loop of T passes). Flipout is a training-time estimator: every example's output has the same distribution
    // as under plain weight sampling, so the predictive is sampled the same way for both.
    let ((mean, sd), pred, pred_warm) =
        twice(|| summary(model.predictive(T_PRED).and_then(|p| p.regression(toy.xt.clone()))));
    Run { steps, train, pred, pred_warm, mean, sd }
}

fn mcdropout(toy: &Toy, epochs: usize, device: &Device) -> Run {
    let model = DropoutNet::new(&device.clone().autodiff());
    let (model, steps, train) = train_mse(model, toy, epochs, DropoutNet::forward, |_| None);
    let model = model.valid(); // McDropout keeps sampling masks on the inference device
    let ((mean, sd), pred, pred_warm) =
        twice(|| summary(model.predictive(T_PRED).and_then(|p| p.regression(toy.xt.clone()))));
    Run { steps, train, pred, pred_warm, mean, sd }
}

/// The mixture's mean and sd on the test grid from members' `[M, N, 1]` means and variances.
fn mixture(out: GaussianOutput) -> (Vec<f64>, Vec<f64>) {
    let summary = bayesburn::predict::regression(out.mean, Some(out.var)).unwrap_or_else(|e| panic!("{e}"));
    (host(summary.mean.clone()), host(summary.total_sd()))
}

fn ensemble_stacked(toy: &Toy, epochs: usize, device: &Device) -> Run {
    let model = StackedMeanVar::new(&device.clone().autodiff());
    let (x, y) = (toy.x.clone(), toy.y.clone());
    // Gaussian NLL averaged over the batch, as torch's gaussian_nll_loss: the ELBO's N / B
    // scaling only rescales it, which Adam does not see.
    let elbo = Elbo::new(N).expect("N > 0");
    let mut optim = AdamConfig::new().init();
    let config = FitConfig::new(epochs, BATCH, LR).with_progress(false);
    let ((model, history), train) = timed(|| {
        fit_stacked(model, &mut optim, N, MEMBERS, &config, |m, batch| {
            let out = m.forward(batch.select(x.clone())); // [M, B, 1]: member m on its own rows
            let nll = gaussian_nll(out.mean, batch.select(y.clone()), out.var);
            elbo.loss(nll.squeeze_dim::<2>(2), None, batch.step)
        })
        .unwrap_or_else(|e| panic!("{e}"))
    });
    let model = model.valid();
    let ((mean, sd), pred, pred_warm) =
        twice(|| mixture(model.predict(toy.xt.clone()).unwrap_or_else(|e| panic!("{e}"))));
    Run { steps: history.steps * MEMBERS, train, pred, pred_warm, mean, sd }
}

fn ensemble_separate(toy: &Toy, epochs: usize, device: &Device) -> Run {
    let train_device = device.clone().autodiff();
    let members = Ensemble::init(MEMBERS, |_| MeanVar::new(&train_device)).expect("5 members");
    let (x, y) = (toy.x.clone(), toy.y.clone());
    let elbo = Elbo::new(N).expect("N > 0");
    let config = FitConfig::new(epochs, BATCH, LR).with_progress(false);
    let ((members, histories), train) = timed(|| {
        members
            .fit(
                || AdamConfig::new().init(),
                N,
                &config,
                |m, batch| {
                    let out = m.forward(batch.select(x.clone()).unsqueeze::<3>());
                    let yb = batch.select(y.clone()).unsqueeze::<3>();
                    elbo.loss(gaussian_nll(out.mean, yb, out.var).squeeze_dim::<2>(2), None, batch.step)
                },
            )
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let steps = histories.iter().map(|h| h.steps).sum();
    let members = members.valid();
    let ((mean, sd), pred, pred_warm) = twice(|| {
        let xt = toy.xt.clone().unsqueeze::<3>();
        mixture(members.predict_with(|m| m.forward(xt.clone())).unwrap_or_else(|e| panic!("{e}")))
    });
    Run { steps, train, pred, pred_warm, mean, sd }
}

fn main() {
    let args = parse_args();
    rayon::ThreadPoolBuilder::new().num_threads(args.threads).build_global().expect("the first rayon pool");
    let device = Device::flex();
    for name in &args.only {
        // Every run starts from the same seed, so its data and initialisation do not depend on
        // which other runs came before it.
        noise::seed(args.seed);
        let toy = make_toy(&device);
        let run = match name.as_str() {
            "bbb_reparam" => bbb(Estimator::Reparameterization, &toy, args.epochs, &device),
            "bbb_flipout" => bbb(Estimator::Flipout, &toy, args.epochs, &device),
            "mcdropout" => mcdropout(&toy, args.epochs, &device),
            "ensemble" => ensemble_stacked(&toy, args.epochs, &device),
            "ensemble_separate" => ensemble_separate(&toy, args.epochs, &device),
            _ => unreachable!("checked in parse_args"),
        };
        // Metrics in original units, as the peers' `metrics`.
        let (mut se, mut n_in, mut sd_in, mut sd_out) = (0.0, 0.0, 0.0, 0.0);
        for ((g, m), s) in toy.grid.iter().zip(&run.mean).zip(&run.sd) {
            let (m, s) = (m * toy.y_sd + toy.y_mean, s * toy.y_sd);
            if g.abs() <= 4.0 {
                se += (m - g * g * g).powi(2);
                sd_in += s;
                n_in += 1.0;
            } else {
                sd_out += s;
            }
        }
        let n_out = N_TEST as f64 - n_in;
        println!(
            "{{\"bench\":\"{name}\",\"threads\":{},\"seed\":{},\"n\":{N},\"epochs\":{},\"batch\":{BATCH},\"steps\":{},\"train_s\":{:.5},\"train_cpu_s\":{:.2},\"steps_per_s\":{:.3},\"pred_T\":{T_PRED},\"pred_points\":{N_TEST},\"pred_s\":{:.5},\"pred_cpu_s\":{:.2},\"pred_warm_s\":{:.5},\"rmse_in\":{:.5},\"sd_in\":{:.5},\"sd_out\":{:.5}}}",
            args.threads,
            args.seed,
            args.epochs,
            run.steps,
            run.train.wall,
            run.train.cpu,
            run.steps as f64 / run.train.wall,
            run.pred.wall,
            run.pred.cpu,
            run.pred_warm.wall,
            (se / n_in).sqrt(),
            sd_in / n_in,
            sd_out / n_out,
        );
    }
}
