//! The UCI regression benchmark (Hernández-Lobato & Adams 2015): MC dropout, a deep ensemble
//! and Bayes-by-backprop on the fixed 20 random 90/10 splits, with RMSE and test
//! log-likelihood in original units as mean ± standard error over the splits, printed beside
//! the published figures (Gal & Ghahramani 2016; Lakshminarayanan et al. 2017).
//!
//! What it shows: the loader of the split layout (`bayesburn::data::uci`), standardisation with
//! training statistics, a grid search on the validation part of each training split (never the
//! test split), Monte-Carlo prediction batched along the sample axis, and the mixture test
//! log-likelihood (`metrics::mc_log_likelihood`).
//!
//! ```text
//! cargo run --release --example uci -- ../shared/data/uci/yacht --method all
//! ```
//!
//! The dataset folder is any folder in the layout (`<name>/` or `<name>/data/`); the runner
//! knows no dataset by name. Its settings come from the folder (`n_hidden.txt`, `n_epochs.txt`,
//! `dropout_rates.txt`, `tau_values.txt`) and the flags; the published figures, kept in a table
//! below, are only printed when the folder's name is one of the papers' datasets.
//!
//! Methods (one hidden layer of `n_hidden` ReLU units, inputs and targets standardised):
//! - `mc-dropout` (Gal & Ghahramani 2016, and the 2018 grid-search re-run): dropout on the
//!   input and the hidden layer, squared error, weight decay `l^2 (1 - p) / (2 N tau)` from the
//!   prior length-scale `l = 1e-2`; dropout rate `p` and precision `tau` chosen by the validation
//!   log-likelihood (first 80 % of the train file trains, last 20 % validates), then retrained
//!   on the whole training split; test LL by log-sum-exp over `T` stochastic passes.
//! - `ensemble` (Lakshminarayanan et al. 2017): 5 members with Gaussian heads trained on the
//!   Gaussian NLL, batch 100, uniform-mixture prediction; `--adversarial` adds fast-gradient-sign
//!   examples (ε = 1 % of each input's range).
//! - `bbb`: Bayes-by-backprop (Flipout, N(0, 1) prior, full KL) with a learnt homoscedastic
//!   noise variance.
//!
//! Flags: `--method mc-dropout|ensemble|bbb|all` (default all), `--splits N` (default all),
//! `--epochs N` (every method; default per method below), `--json` (one JSON line per method,
//! last), `--seed N`, `--threads N` (splits trained in parallel; default: available cores),
//! `--samples T` (MC-dropout test passes, default 10 000), `--adversarial`, `--validate`
//! (score on the validation part of each training split instead of the test split: use it to
//! choose settings), and per-method `--mcd-epochs`, `--mcd-lr`, `--mcd-batch`,
//! `--ens-epochs`, `--ens-lr`, `--bbb-epochs`, `--bbb-lr`.
//!
//! Time: all three datasets × 3 methods × 20 splits, release build, 2 cores: see the README
//! and `docs/ARCHITECTURE.md` for the measured figures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use bayesburn::data::uci::{Split, Standardizer, UciDataset};
use bayesburn::ensemble::{fgsm, fgsm_epsilon, Ensemble};
use bayesburn::layers::{
    BayesLinear, BayesLinearConfig, Estimator, GaussianHead, GaussianHeadConfig, McDropout, McDropoutConfig,
};
use bayesburn::objective::{Elbo, ElboTerms, GaussianNllLossConfig};
use bayesburn::posterior::Prior;
use bayesburn::train::{fit, FitConfig};
use bayesburn::{metrics, noise, Bayesian, Error, Result};
use burn::module::Param;
use burn::nn::Linear;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Prior length-scale of Gal's UCI experiments (`lengthscale = 1e-2` in `net.py`).
const LENGTH_SCALE: f64 = 1e-2;
/// MC-dropout epochs per `n_epochs.txt` epoch: Gal's `--epochx` (10 in 2016, 100 in the 2018
/// re-run at learning rate 1e-3; 25 at our 1e-2, chosen on the validation parts).
const MCD_EPOCHX: usize = 25;
/// Minibatch size of the ensemble (Lakshminarayanan et al. 2017) and of BBB.
const BATCH: usize = 100;
/// Floats per Monte-Carlo chunk (hidden activations of `chunk x N x n_hidden`), to bound memory.
const CHUNK_FLOATS: usize = 1 << 22;

/// Published figures, printed beside ours: (dataset folder name, MC dropout RMSE ± SE and LL ±
/// SE from Gal & Ghahramani 2016 (arXiv revision), the 2018 grid-search re-run's RMSE and LL,
/// deep-ensemble RMSE ± SE and NLL ± SE from Lakshminarayanan et al. 2017). Display only: no
/// setting depends on the dataset's name.
const PUBLISHED: [(&str, [f64; 4], [f64; 2], [f64; 4]); 3] = [
    ("bostonHousing", [2.97, 0.19, -2.46, 0.06], [2.90, -2.40], [3.28, 1.00, 2.41, 0.25]),
    ("concrete", [5.23, 0.12, -3.04, 0.02], [4.82, -2.93], [6.03, 0.58, 3.06, 0.18]),
    ("yacht", [1.11, 0.09, -1.55, 0.03], [0.67, -1.25], [1.58, 0.48, 1.18, 0.21]),
];

// ANCHOR: models
/// Gal's UCI network: dropout on the input, one ReLU layer, dropout, a linear output.
#[derive(Module, Debug)]
pub struct DropoutMlp {
    drop_input: McDropout,
    hidden: Linear,
    drop_hidden: McDropout,
    out: Linear,
}

impl DropoutMlp {
    /// `[S, N, d] -> [S, N, 1]`: every sample gets its own masks.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = relu(self.hidden.forward(self.drop_input.forward(x)));
        self.out.forward(self.drop_hidden.forward(h))
    }
}

/// `K` copies of Gal's network stacked on a leading axis, one per dropout rate of the grid,
/// trained together: one optimizer step updates all `K` (each copy's gradient is that of its
/// own loss, and Adam scales every parameter separately, so this is `K` independent trainings
/// on the same minibatches) at little more than the cost of one.
#[derive(Module, Debug)]
pub struct DropoutGrid {
    w1: Param<Tensor<3>>,
    b1: Param<Tensor<3>>,
    w2: Param<Tensor<3>>,
    b2: Param<Tensor<3>>,
}

impl DropoutGrid {
    fn new(k: usize, d: usize, hidden: usize, device: &Device) -> Self {
        let glorot = |i: usize, o: usize| {
            let a = (6.0 / (i + o) as f64).sqrt();
            Param::from_tensor(noise::uniform([k, i, o], -a, a, device))
        };
        DropoutGrid {
            w1: glorot(d, hidden),
            b1: Param::from_tensor(Tensor::zeros([k, 1, hidden], device)),
            w2: glorot(hidden, 1),
            b2: Param::from_tensor(Tensor::zeros([k, 1, 1], device)),
        }
    }

    /// `[B, d] -> [K, B, 1]`, copy `k` with dropout rate `rates[k]` on its input and hidden layer.
    fn forward(&self, x: Tensor<2>, rates: &[f64]) -> Tensor<3> {
        let ([b, d], k, hidden) = (x.dims(), rates.len(), self.w1.dims()[2]);
        let device = x.device();
        let keep: Vec<f32> = rates.iter().map(|p| (1.0 - p) as f32).collect();
        let keep = Tensor::<1>::from_floats(keep.as_slice(), &device).reshape([k, 1, 1]);
        // Inverted dropout, as McDropout: keep with probability 1 - p, scale by 1 / (1 - p).
        let mask = |shape: [usize; 3]| {
            let keep = keep.clone().expand(shape);
            noise::uniform(shape, 0.0, 1.0, &device).lower(keep.clone()).float() / keep
        };
        let x = x.unsqueeze::<3>().expand([k, b, d]) * mask([k, b, d]);
        let h = relu(x.matmul(self.w1.val()) + self.b1.val());
        (h * mask([k, b, hidden])).matmul(self.w2.val()) + self.b2.val()
    }

    /// Gal's weight decay per copy, `sum_k decay_k / 2 (|W1_k|^2 + |W2_k|^2)` (weights only, as
    /// Keras' `W_regularizer` in the reference code).
    fn penalty(&self, decay: &[f64]) -> Tensor<1> {
        let k = decay.len();
        let sq = |w: Tensor<3>| w.powi_scalar(2).sum_dim(2).sum_dim(1).reshape([k]);
        let decay: Vec<f32> = decay.iter().map(|&c| (c / 2.0) as f32).collect();
        let decay = Tensor::<1>::from_floats(decay.as_slice(), &self.w1.device());
        ((sq(self.w1.val()) + sq(self.w2.val())) * decay).sum()
    }

    /// Copy `i` as a [`DropoutMlp`] with dropout rate `p` (for prediction).
    fn member(&self, i: usize, p: f64) -> DropoutMlp {
        let [_, d, hidden] = self.w1.dims();
        let take = |w: &Param<Tensor<3>>, rows: usize, cols: usize| {
            w.val().slice(s![i..i + 1, .., ..]).reshape([rows, cols]).detach()
        };
        let linear = |w: &Param<Tensor<3>>, b: &Param<Tensor<3>>, d_in: usize, d_out: usize| Linear {
            weight: Param::from_tensor(take(w, d_in, d_out)),
            bias: Some(Param::from_tensor(take(b, 1, d_out).reshape([d_out]))),
        };
        DropoutMlp {
            drop_input: McDropoutConfig::new(p).init(),
            hidden: linear(&self.w1, &self.b1, d, hidden),
            drop_hidden: McDropoutConfig::new(p).init(),
            out: linear(&self.w2, &self.b2, hidden, 1),
        }
    }
}

/// One deep-ensemble member: one ReLU layer and a Gaussian head (mean and variance).
#[derive(Module, Debug)]
pub struct GaussianMlp {
    hidden: Linear,
    head: GaussianHead,
}

impl GaussianMlp {
    fn new(d: usize, hidden: usize, device: &Device) -> Self {
        GaussianMlp { hidden: glorot(d, hidden, device), head: GaussianHeadConfig::new(hidden, 1).init(device) }
    }

    fn forward(&self, x: Tensor<3>) -> bayesburn::layers::GaussianOutput {
        self.head.forward(relu(self.hidden.forward(x)))
    }
}

/// Bayes-by-backprop network with a learnt homoscedastic noise variance (a point estimate).
#[derive(Module, Bayesian, Debug)]
pub struct BbbMlp {
    #[bayesian]
    hidden: BayesLinear,
    #[bayesian]
    out: BayesLinear,
    log_noise_var: Param<Tensor<1>>,
}

impl BbbMlp {
    fn new(d: usize, hidden: usize, device: &Device) -> Self {
        let layer = |i, o| {
            BayesLinearConfig::new(i, o)
                .with_prior(Prior::Normal { loc: 0.0, scale: 1.0 })
                .with_estimator(Estimator::Flipout)
                .init(device)
        };
        BbbMlp {
            hidden: layer(d, hidden),
            out: layer(hidden, 1),
            log_noise_var: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// `[S, N, d] -> [S, N, 1]` sampled means.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.out.forward(relu(self.hidden.forward(x)))
    }

    fn noise_var(&self) -> Tensor<1> {
        self.log_noise_var.val().exp()
    }
}
// ANCHOR_END: models

/// A linear layer with Glorot-uniform weights (Keras' default, as in the reference code) and zero
/// bias, drawn from the thread's seeded noise source so parallel splits stay reproducible.
fn glorot(d_in: usize, d_out: usize, device: &Device) -> Linear {
    let k = (6.0 / (d_in + d_out) as f64).sqrt();
    Linear {
        weight: Param::from_tensor(noise::uniform([d_in, d_out], -k, k, device)),
        bias: Some(Param::from_tensor(Tensor::zeros([d_out], device))),
    }
}

/// Settings of a run (the flags).
#[derive(Debug, Clone)]
pub struct Args {
    /// The dataset folder (`<name>/` or `<name>/data/`).
    pub folder: String,
    /// `mc-dropout`, `ensemble`, `bbb` or `all`.
    pub method: String,
    /// Use the first `splits` splits (default all).
    pub splits: Option<usize>,
    /// Epochs for every method (default: per method).
    pub epochs: Option<usize>,
    /// Print one JSON line per method (and no per-split progress).
    pub json: bool,
    /// Base seed; split `i` runs under its own seed derived from it.
    pub seed: u64,
    /// Splits trained at the same time.
    pub threads: usize,
    /// MC-dropout test passes `T`.
    pub samples: usize,
    /// Deep ensemble with fast-gradient-sign examples.
    pub adversarial: bool,
    /// Score on the validation part of each training split instead of the test split.
    pub validate: bool,
    /// MC-dropout epochs (default 10 x `n_epochs.txt`).
    pub mcd_epochs: Option<usize>,
    /// MC-dropout learning rate.
    pub mcd_lr: f64,
    /// MC-dropout batch size.
    pub mcd_batch: usize,
    /// Ensemble epochs (default `n_epochs.txt`).
    pub ens_epochs: Option<usize>,
    /// Ensemble learning rate.
    pub ens_lr: f64,
    /// BBB epochs (default 10 x `n_epochs.txt`).
    pub bbb_epochs: Option<usize>,
    /// BBB learning rate.
    pub bbb_lr: f64,
}

impl Args {
    /// The defaults for a dataset folder.
    pub fn new(folder: impl Into<String>) -> Args {
        Args {
            folder: folder.into(),
            method: "all".into(),
            splits: None,
            epochs: None,
            json: false,
            seed: 0,
            threads: std::thread::available_parallelism().map_or(1, |p| p.get()),
            samples: 10_000,
            adversarial: false,
            validate: false,
            mcd_epochs: None,
            mcd_lr: 1e-2,
            mcd_batch: 128,
            ens_epochs: None,
            ens_lr: 1e-2,
            bbb_epochs: None,
            bbb_lr: 1e-2,
        }
    }
}

fn parse_args() -> Args {
    let mut a = Args::new("");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> T {
            v.parse().unwrap_or_else(|_| panic!("{flag} takes a number, got {v:?}"))
        }
        match flag.as_str() {
            "--method" => a.method = value(),
            "--splits" => a.splits = Some(num(&flag, value())),
            "--epochs" => a.epochs = Some(num(&flag, value())),
            "--json" => a.json = true,
            "--seed" => a.seed = num(&flag, value()),
            "--threads" => a.threads = num::<usize>(&flag, value()).max(1),
            "--samples" => a.samples = num::<usize>(&flag, value()).max(1),
            "--adversarial" => a.adversarial = true,
            "--validate" => a.validate = true,
            "--mcd-epochs" => a.mcd_epochs = Some(num(&flag, value())),
            "--mcd-lr" => a.mcd_lr = num(&flag, value()),
            "--mcd-batch" => a.mcd_batch = num(&flag, value()),
            "--ens-epochs" => a.ens_epochs = Some(num(&flag, value())),
            "--ens-lr" => a.ens_lr = num(&flag, value()),
            "--bbb-epochs" => a.bbb_epochs = Some(num(&flag, value())),
            "--bbb-lr" => a.bbb_lr = num(&flag, value()),
            f if f.starts_with("--") => panic!("unknown flag {f:?}; see the header of examples/uci.rs"),
            _ => a.folder = flag,
        }
    }
    if a.folder.is_empty() {
        eprintln!(
            "usage: cargo run --release --example uci -- <dataset folder> \\
             [--method mc-dropout|ensemble|bbb|all] [--splits N] [--epochs N] [--json] [--seed N]"
        );
        std::process::exit(2);
    }
    a
}

/// One method's figures over the splits: the JSON line of `--json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MethodReport {
    /// The dataset's folder name.
    pub dataset: String,
    /// `mc-dropout`, `ensemble` or `bbb`.
    pub method: String,
    /// Number of splits.
    pub splits: usize,
    /// Mean test RMSE (original units).
    pub rmse_mean: f64,
    /// Its standard error over the splits.
    pub rmse_se: f64,
    /// Mean test log-likelihood per point (original units; higher is better).
    pub ll_mean: f64,
    /// Its standard error over the splits.
    pub ll_se: f64,
    /// Wall time of the method over all splits.
    pub seconds: f64,
}

/// One split's data, standardised with its training statistics.
struct Prepared {
    d: usize,
    x_train: Vec<f64>,
    y_train: Vec<f64>,
    x_test: Vec<f64>,
    /// Test targets in original units.
    y_test: Vec<f64>,
    y_scale: Standardizer,
}

impl Prepared {
    fn new(data: &UciDataset, split: &Split) -> Self {
        let (x_train, y_train) = data.rows(&split.train);
        let (x_test, y_test) = data.rows(&split.test);
        let x_scale = Standardizer::fit(&x_train, data.n_features);
        let y_scale = Standardizer::fit(&y_train, 1);
        Prepared {
            d: data.n_features,
            x_train: x_scale.apply(&x_train),
            y_train: y_scale.apply(&y_train),
            x_test: x_scale.apply(&x_test),
            y_test,
            y_scale,
        }
    }

    fn n_train(&self) -> usize {
        self.y_train.len()
    }

    fn n_test(&self) -> usize {
        self.y_test.len()
    }

    fn y_mean(&self) -> f64 {
        self.y_scale.mean[0]
    }

    fn y_std(&self) -> f64 {
        self.y_scale.std[0]
    }
}

fn matrix(values: &[f64], cols: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = values.iter().map(|&a| a as f32).collect();
    Tensor::<1>::from_floats(v.as_slice(), device).reshape([values.len() / cols, cols])
}

fn vector(values: &[f64], device: &Device) -> Tensor<1> {
    let v: Vec<f32> = values.iter().map(|&a| a as f32).collect();
    Tensor::<1>::from_floats(v.as_slice(), device)
}

/// What one split gives: test RMSE and LL (original units) and the chosen setting.
#[derive(Debug, Clone)]
struct SplitScore {
    rmse: f64,
    ll: f64,
    note: String,
}

/// Settings shared by the methods, resolved from the flags and the dataset's files.
struct Settings {
    hidden: usize,
    dropout_rates: Vec<f64>,
    tau_values: Option<Vec<f64>>,
    mcd_epochs: usize,
    ens_epochs: usize,
    bbb_epochs: usize,
}

// ANCHOR: mc_dropout
/// Gal's weight decay for dropout rate `p` and precision `tau`. Gal (2016), eq. 3.16 / `net.py`:
/// the objective `mean_b (y - f)^2 + reg |W|^2` with `reg = l^2 (1 - p) / (2 N tau)`. The data
/// term here is `N mean_b (y - f)^2` (the ELBO's scaling), so the same optimum needs
/// `N reg |W|^2 = (decay / 2) |W|^2` with `decay = l^2 (1 - p) / tau`.
fn weight_decay(p: f64, tau: f64) -> f64 {
    LENGTH_SCALE.powi(2) * (1.0 - p) / tau
}

/// Trains one [`DropoutGrid`] copy per dropout rate on squared error plus weight decay.
fn train_dropout(
    prep: &Prepared,
    rates: &[f64],
    tau: f64,
    epochs: usize,
    args: &Args,
    hidden: usize,
) -> Result<Vec<DropoutMlp>> {
    let device = Device::flex().autodiff();
    let n = prep.n_train();
    let (x, y) = (matrix(&prep.x_train, prep.d, &device), matrix(&prep.y_train, 1, &device));
    let decay: Vec<f64> = rates.iter().map(|&p| weight_decay(p, tau)).collect();
    let config = FitConfig::new(epochs, args.mcd_batch, args.mcd_lr).with_progress(false);
    let grid = DropoutGrid::new(rates.len(), prep.d, hidden, &device);
    let (grid, _) = fit(grid, &mut AdamConfig::new().init(), n, &config, |m, b| {
        let pred = m.forward(b.select(x.clone()), rates);
        let scale = n as f64 / b.len() as f64;
        let data = (pred - b.select(y.clone()).unsqueeze::<3>()).powi_scalar(2).sum().mul_scalar(scale);
        let loss = data.clone() + m.penalty(&decay);
        Ok(ElboTerms { loss, nll: data, kl: Tensor::zeros([1], &x.device()), beta: 0.0 })
    })?;
    let grid = grid.valid();
    Ok(rates.iter().enumerate().map(|(i, &p)| grid.member(i, p)).collect())
}

/// `T` stochastic passes over the inputs `x`, batched along the sample axis in chunks, in
/// original units: `[T, N]`.
fn dropout_samples(model: &DropoutMlp, prep: &Prepared, x: &[f64], samples: usize, hidden: usize) -> Tensor<2> {
    let device = Device::flex();
    let n = x.len() / prep.d;
    let x = matrix(x, prep.d, &device).unsqueeze::<3>();
    let chunk = (CHUNK_FLOATS / (n * (prep.d + hidden)).max(1)).clamp(1, samples);
    let mut parts = Vec::new();
    let mut done = 0;
    while done < samples {
        let c = chunk.min(samples - done);
        parts.push(model.forward(x.clone().expand([c, n, prep.d])).reshape([c, n]));
        done += c;
    }
    Tensor::cat(parts, 0).mul_scalar(prep.y_std()).add_scalar(prep.y_mean())
}

/// Grid search over (p, tau) on the validation part, retraining, test scores.
fn mc_dropout(data: &UciDataset, split: &Split, args: &Args, s: &Settings) -> Result<SplitScore> {
    let device = Device::flex();
    let full = Prepared::new(data, split);
    // Without a tau grid in the folder, use the precision of a noise sd of 10 % of the target sd.
    let taus = s.tau_values.clone().unwrap_or_else(|| vec![1.0 / (0.1 * full.y_std()).powi(2)]);
    let (mut best_p, mut best_tau) = (s.dropout_rates[0], taus[0]);
    if s.dropout_rates.len() * taus.len() > 1 {
        let inner = Prepared::new(data, &split.validation());
        let y_val = vector(&inner.y_test, &device);
        let mut best_ll = f64::NEG_INFINITY;
        // tau enters training only through the weight decay l^2 (1 - p) / tau, about 1e-3 of
        // the data term here; so one model per p (decay from the middle tau), scored under every
        // tau, instead of one per (p, tau). The final model uses the chosen tau's decay.
        let middle_tau = taus[taus.len() / 2];
        let models = train_dropout(&inner, &s.dropout_rates, middle_tau, s.mcd_epochs, args, s.hidden)?;
        for (model, &p) in models.iter().zip(&s.dropout_rates) {
            let samples = dropout_samples(model, &inner, &inner.x_test, 1000.min(args.samples), s.hidden);
            for &tau in &taus {
                let ll = metrics::mc_log_likelihood(samples.clone(), y_val.clone(), tau)?;
                if ll > best_ll {
                    (best_ll, best_p, best_tau) = (ll, p, tau);
                }
            }
        }
    }
    let model = train_dropout(&full, &[best_p], best_tau, s.mcd_epochs, args, s.hidden)?.remove(0);
    let samples = dropout_samples(&model, &full, &full.x_test, args.samples, s.hidden);
    let y = vector(&full.y_test, &device);
    let ll = metrics::mc_log_likelihood(samples.clone(), y.clone(), best_tau)?;
    let rmse = metrics::rmse(samples.mean_dim(0).reshape([full.n_test()]), y)?;
    Ok(SplitScore { rmse, ll, note: format!("p {best_p} tau {best_tau}") })
}
// ANCHOR_END: mc_dropout

// ANCHOR: ensemble
/// Five Gaussian-head members on the NLL (optionally with FGSM examples), mixture prediction.
fn ensemble(data: &UciDataset, split: &Split, args: &Args, s: &Settings) -> Result<SplitScore> {
    let prep = Prepared::new(data, split);
    let device = Device::flex().autodiff();
    let n = prep.n_train();
    let (x, y) = (matrix(&prep.x_train, prep.d, &device), matrix(&prep.y_train, 1, &device));
    let epsilon = fgsm_epsilon(&x, 0.01)?;
    let nll = GaussianNllLossConfig::new().init();
    let elbo = Elbo::new(n)?;
    let config = FitConfig::new(s.ens_epochs, BATCH, args.ens_lr).with_progress(false);
    let members = Ensemble::init(5, |_| GaussianMlp::new(prep.d, s.hidden, &device))?;
    let (members, _) = members.fit(
        || AdamConfig::new().init(),
        n,
        &config,
        |m, b| {
            let (xb, yb) = (b.select(x.clone()), b.select(y.clone()));
            let loss_at = |input: Tensor<2>| {
                let out = m.forward(input.unsqueeze());
                nll.forward_no_reduction(out.mean, out.var, yb.clone())
            };
            let mut per_example = loss_at(xb.clone());
            if args.adversarial {
                // Lakshminarayanan et al. (2017), section 2.3: train on l(x) + l(x + eps sign grad).
                let adversarial = fgsm(xb, epsilon.clone(), |probe| loss_at(probe).sum())?;
                per_example = per_example + loss_at(adversarial);
            }
            elbo.loss(per_example, None, b.step)
        },
    )?;
    let x_test = matrix(&prep.x_test, prep.d, &Device::flex()).unsqueeze::<3>();
    let out = members.valid().predict_with(|m| m.forward(x_test.clone()))?;
    let (m, t) = (members.len(), prep.n_test());
    let (means, vars) = (out.mean.reshape([m, t]), out.var.reshape([m, t]));
    let y_std = Standardizer { mean: vec![prep.y_mean()], std: vec![prep.y_std()] }.apply(&prep.y_test);
    let device = Device::flex();
    // The mixture density of standardised targets; de-standardising y = mean + std z multiplies
    // the density by 1 / std (the log-Jacobian), so the LL in original units is ll_z - ln std.
    let ll =
        metrics::mc_log_likelihood_with_variances(means.clone(), vector(&y_std, &device), vars)? - prep.y_std().ln();
    let mixture_mean = means.mean_dim(0).reshape([t]).mul_scalar(prep.y_std()).add_scalar(prep.y_mean());
    let rmse = metrics::rmse(mixture_mean, vector(&prep.y_test, &device))?;
    Ok(SplitScore { rmse, ll, note: String::new() })
}
// ANCHOR_END: ensemble

// ANCHOR: bbb
/// Bayes-by-backprop with the full KL (beta = 1) and a learnt noise variance.
fn bbb(data: &UciDataset, split: &Split, args: &Args, s: &Settings) -> Result<SplitScore> {
    let prep = Prepared::new(data, split);
    let device = Device::flex().autodiff();
    let n = prep.n_train();
    let (x, y) = (matrix(&prep.x_train, prep.d, &device), matrix(&prep.y_train, 1, &device));
    let nll = GaussianNllLossConfig::new().init();
    let elbo = Elbo::new(n)?;
    let config = FitConfig::new(s.bbb_epochs, BATCH, args.bbb_lr).with_progress(false);
    let (model, _) = fit(BbbMlp::new(prep.d, s.hidden, &device), &mut AdamConfig::new().init(), n, &config, |m, b| {
        let mean = m.forward(b.select(x.clone()).unsqueeze());
        let var = m.noise_var().reshape([1, 1, 1]).expand(mean.dims());
        elbo.loss(nll.forward_no_reduction(mean, var, b.select(y.clone())), m.kl(), b.step)
    })?;
    let model = model.valid();
    let t = prep.n_test();
    let x_test = matrix(&prep.x_test, prep.d, &Device::flex()).unsqueeze::<3>();
    let samples = model.forward(x_test.expand([100, t, prep.d])).reshape([100, t]);
    let noise_var = model.noise_var().into_scalar::<f32>() as f64;
    let y_z = Standardizer { mean: vec![prep.y_mean()], std: vec![prep.y_std()] }.apply(&prep.y_test);
    let device = Device::flex();
    // As for the ensemble: LL of standardised targets minus the log-Jacobian ln std.
    let ll = metrics::mc_log_likelihood(samples.clone(), vector(&y_z, &device), 1.0 / noise_var)? - prep.y_std().ln();
    let mean = samples.mean_dim(0).reshape([t]).mul_scalar(prep.y_std()).add_scalar(prep.y_mean());
    let rmse = metrics::rmse(mean, vector(&prep.y_test, &device))?;
    Ok(SplitScore { rmse, ll, note: format!("noise sd {:.3}", noise_var.sqrt() * prep.y_std()) })
}
// ANCHOR_END: bbb

type Method = fn(&UciDataset, &Split, &Args, &Settings) -> Result<SplitScore>;

/// Runs `method` on every split, `threads` splits at a time, each under its own seed (so the
/// figures do not depend on the number of threads).
fn run_splits(
    method: Method,
    data: &UciDataset,
    splits: &[Split],
    args: &Args,
    s: &Settings,
) -> Result<Vec<SplitScore>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<SplitScore>>>> = Mutex::new(vec![None; splits.len()]);
    std::thread::scope(|scope| {
        for _ in 0..args.threads.min(splits.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= splits.len() {
                    break;
                }
                let seed = args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
                let score = noise::with_seed(seed, || method(data, &splits[i], args, s));
                if !args.json {
                    if let Ok(sc) = &score {
                        eprintln!("  split {i:>2}: rmse {:.3} ll {:.3} {}", sc.rmse, sc.ll, sc.note);
                    }
                }
                results.lock().expect("no panics while holding the lock")[i] = Some(score);
            });
        }
    });
    results.into_inner().expect("threads joined").into_iter().map(|r| r.expect("every split ran")).collect()
}

/// Mean and standard error (sample sd / sqrt(n)).
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

fn main() -> Result<()> {
    let args = parse_args();
    let reports = run(&args)?;
    if args.json {
        for r in reports {
            println!("{}", serde_json::to_string(&r).expect("plain numbers and strings"));
        }
    }
    Ok(())
}

/// Runs the selected methods on the folder's splits, prints the markdown table and returns one
/// report per method.
///
/// # Errors
/// The loader's typed errors for a malformed folder; an unknown `--method`; a training error.
pub fn run(args: &Args) -> Result<Vec<MethodReport>> {
    let data = UciDataset::load(&args.folder)?;
    let name = data.name();
    let n_splits = args.splits.unwrap_or(data.splits.len()).min(data.splits.len());
    let splits: Vec<Split> =
        data.splits[..n_splits].iter().map(|s| if args.validate { s.validation() } else { s.clone() }).collect();
    let base_epochs = data.grids.n_epochs.unwrap_or(40);
    let s = Settings {
        hidden: data.grids.n_hidden.as_ref().map_or(50, |h| h[0]),
        dropout_rates: data.grids.dropout_rates.clone().unwrap_or_else(|| vec![0.05]),
        tau_values: data.grids.tau_values.clone(),
        mcd_epochs: args.epochs.or(args.mcd_epochs).unwrap_or(MCD_EPOCHX * base_epochs),
        ens_epochs: args.epochs.or(args.ens_epochs).unwrap_or(base_epochs),
        bbb_epochs: args.epochs.or(args.bbb_epochs).unwrap_or(10 * base_epochs),
    };
    let all: [(&str, &str, Method); 3] = [
        ("mc-dropout", "MC dropout", mc_dropout),
        ("ensemble", if args.adversarial { "Deep ensemble (5, adversarial)" } else { "Deep ensemble (5)" }, ensemble),
        ("bbb", "BBB (Flipout)", bbb),
    ];
    if !matches!(args.method.as_str(), "all" | "mc-dropout" | "ensemble" | "bbb") {
        return Err(Error::invalid(
            "examples/uci",
            "--method",
            &args.method,
            "one of mc-dropout, ensemble, bbb, all",
            "pick a method or all",
        ));
    }
    let published = PUBLISHED.iter().find(|p| p.0 == name);
    let scored_on = if args.validate { "validation part of each training split" } else { "test split" };
    println!(
        "UCI regression: {name} ({} rows, {} features), {n_splits} splits, scored on the {scored_on}",
        data.n_rows(),
        data.n_features
    );
    println!("| method | RMSE | published RMSE | test LL | published LL | seconds |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut reports = Vec::new();
    for (key, label, method) in all {
        if args.method != "all" && args.method != key {
            continue;
        }
        if !args.json {
            eprintln!("{label} on {name}:");
        }
        let start = Instant::now();
        let scores = run_splits(method, &data, &splits, args, &s)?;
        let seconds = start.elapsed().as_secs_f64();
        let (rmse_mean, rmse_se) = mean_se(&scores.iter().map(|r| r.rmse).collect::<Vec<_>>());
        let (ll_mean, ll_se) = mean_se(&scores.iter().map(|r| r.ll).collect::<Vec<_>>());
        let (pub_rmse, pub_ll) = match (key, published) {
            ("mc-dropout", Some((_, g, r, _))) => (
                format!("{:.2} ± {:.2} (2018 grid: {:.2})", g[0], g[1], r[0]),
                format!("{:.2} ± {:.2} (2018 grid: {:.2})", g[2], g[3], r[1]),
            ),
            ("ensemble", Some((_, _, _, e))) => {
                (format!("{:.2} ± {:.2}", e[0], e[1]), format!("{:.2} ± {:.2} (NLL {:.2})", -e[2], e[3], e[2]))
            }
            _ => ("—".into(), "—".into()),
        };
        println!(
            "| {label} | {rmse_mean:.2} ± {rmse_se:.2} | {pub_rmse} | {ll_mean:.2} ± {ll_se:.2} | {pub_ll} | {seconds:.0} |"
        );
        reports.push(MethodReport {
            dataset: name.clone(),
            method: key.into(),
            splits: n_splits,
            rmse_mean,
            rmse_se,
            ll_mean,
            ll_se,
            seconds,
        });
    }
    println!(
        "Settings: {} hidden units; MC dropout {} epochs, batch {}, lr {}, p in {:?}, tau in {:?}, T = {}; \
         ensemble {} epochs, batch {BATCH}, lr {}{}; BBB {} epochs, batch {BATCH}, lr {}; seed {}",
        s.hidden,
        s.mcd_epochs,
        args.mcd_batch,
        args.mcd_lr,
        s.dropout_rates,
        s.tau_values.as_deref().unwrap_or(&[]),
        args.samples,
        s.ens_epochs,
        args.ens_lr,
        if args.adversarial { ", adversarial (FGSM, 1 % of range)" } else { "" },
        s.bbb_epochs,
        args.bbb_lr,
        args.seed
    );
    Ok(reports)
}
