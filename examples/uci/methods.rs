//! The three methods of the UCI runner, one function per method taking one split: MC dropout
//! (with its batched grid), the deep ensemble and Bayes-by-backprop, and the networks they train.

use bayesburn::data::uci::{Split, Standardizer, UciDataset};
use bayesburn::ensemble::Ensemble;
use bayesburn::layers::{
    BayesLinear, BayesLinearConfig, Estimator, GaussianHead, GaussianHeadConfig, McDropout, McDropoutConfig,
};
use bayesburn::objective::{fgsm, fgsm_epsilon};
use bayesburn::objective::{Elbo, ElboTerms, GaussianNllLossConfig};
use bayesburn::posterior::Prior;
use bayesburn::train::{fit, FitConfig};
use bayesburn::{metrics, noise, Bayesian, Result};
use burn::module::Param;
use burn::nn::Linear;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::Args;

/// Prior length-scale of Gal's UCI experiments (`lengthscale = 1e-2` in `net.py`).
const LENGTH_SCALE: f64 = 1e-2;
/// Minibatch size of the ensemble (Lakshminarayanan et al. 2017) and of BBB.
pub const BATCH: usize = 100;
/// Floats per Monte-Carlo chunk (hidden activations of `chunk x N x n_hidden`), to bound memory.
const CHUNK_FLOATS: usize = 1 << 22;

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
    hidden: BayesLinear,
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
    fn new(data: &UciDataset, split: &Split) -> Result<Self> {
        let (x_train, y_train) = data.rows(&split.train)?;
        let (x_test, y_test) = data.rows(&split.test)?;
        let x_scale = Standardizer::fit(&x_train, data.n_features)?;
        let y_scale = Standardizer::fit(&y_train, 1)?;
        Ok(Prepared {
            d: data.n_features,
            x_train: x_scale.apply(&x_train),
            y_train: y_scale.apply(&y_train),
            x_test: x_scale.apply(&x_test),
            y_test,
            y_scale,
        })
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
pub struct SplitScore {
    pub rmse: f64,
    pub ll: f64,
    pub note: String,
}

/// Settings shared by the methods, resolved from the flags and the dataset's files.
pub struct Settings {
    pub hidden: usize,
    pub dropout_rates: Vec<f64>,
    pub tau_values: Option<Vec<f64>>,
    pub mcd_epochs: usize,
    pub ens_epochs: usize,
    pub bbb_epochs: usize,
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
pub fn mc_dropout(data: &UciDataset, split: &Split, args: &Args, s: &Settings) -> Result<SplitScore> {
    let device = Device::flex();
    let full = Prepared::new(data, split)?;
    // Without a tau grid in the folder, use the precision of a noise sd of 10 % of the target sd.
    let taus = s.tau_values.clone().unwrap_or_else(|| vec![1.0 / (0.1 * full.y_std()).powi(2)]);
    let (mut best_p, mut best_tau) = (s.dropout_rates[0], taus[0]);
    if s.dropout_rates.len() * taus.len() > 1 {
        let inner = Prepared::new(data, &split.validation())?;
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
pub fn ensemble(data: &UciDataset, split: &Split, args: &Args, s: &Settings) -> Result<SplitScore> {
    let prep = Prepared::new(data, split)?;
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
    let y_std = prep.y_scale.apply(&prep.y_test);
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
pub fn bbb(data: &UciDataset, split: &Split, args: &Args, s: &Settings) -> Result<SplitScore> {
    let prep = Prepared::new(data, split)?;
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
    let y_z = prep.y_scale.apply(&prep.y_test);
    let device = Device::flex();
    // As for the ensemble: LL of standardised targets minus the log-Jacobian ln std.
    let ll = metrics::mc_log_likelihood(samples.clone(), vector(&y_z, &device), 1.0 / noise_var)? - prep.y_std().ln();
    let mean = samples.mean_dim(0).reshape([t]).mul_scalar(prep.y_std()).add_scalar(prep.y_mean());
    let rmse = metrics::rmse(mean, vector(&prep.y_test, &device))?;
    Ok(SplitScore { rmse, ll, note: format!("noise sd {:.3}", noise_var.sqrt() * prep.y_std()) })
}
// ANCHOR_END: bbb

pub type Method = fn(&UciDataset, &Split, &Args, &Settings) -> Result<SplitScore>;
