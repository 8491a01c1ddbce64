//! The methods of the UCI runner, one function per method taking one split: MC dropout (with
//! its batched grid), the deep ensemble, Bayes-by-backprop, and last-layer Laplace and SWAG on
//! a MAP network, and the networks they train.

use bayesburn::data::uci::{Split, Standardizer, UciDataset};
use bayesburn::laplace::{Curvature, LaplaceLikelihood, LastLayerLaplace, LastLayerLaplaceConfig};
use bayesburn::layers::{BayesLinear, BayesLinearConfig, Estimator, McDropout, McDropoutConfig};
use bayesburn::objective::{fgsm, fgsm_epsilon};
use bayesburn::objective::{Elbo, ElboTerms, GaussianNllLossConfig};
use bayesburn::posterior::softplus;
use bayesburn::posterior::Prior;
use bayesburn::swag::Swag;
use bayesburn::train::{fit_with_state, Batch, FitConfig, TrainState};
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
/// Members of the deep ensemble.
pub const ENSEMBLE_SIZE: usize = 5;
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

/// The parameters of `k` one-hidden-layer MLPs `d -> hidden -> out`, stacked along a leading
/// axis: Glorot-uniform weights (first layer drawn first), zero biases.
fn stacked_mlp(k: usize, d: usize, hidden: usize, out: usize, device: &Device) -> [Param<Tensor<3>>; 4] {
    let glorot = |i: usize, o: usize| {
        let a = (6.0 / (i + o) as f64).sqrt();
        Param::from_tensor(noise::uniform([k, i, o], -a, a, device))
    };
    let w1 = glorot(d, hidden);
    let b1 = Param::from_tensor(Tensor::zeros([k, 1, hidden], device));
    let w2 = glorot(hidden, out);
    let b2 = Param::from_tensor(Tensor::zeros([k, 1, out], device));
    [w1, b1, w2, b2]
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
        let [w1, b1, w2, b2] = stacked_mlp(k, d, hidden, 1, device);
        DropoutGrid { w1, b1, w2, b2 }
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

/// The deep ensemble's `K` members stacked on a leading axis, trained together on the same
/// minibatches (each member's gradient is that of its own loss, and Adam scales every parameter
/// separately, so these are `K` independent trainings from `K` random initialisations): one
/// ReLU layer and a Gaussian output, mean and variance `softplus(raw) + floor`.
#[derive(Module, Debug)]
pub struct EnsembleGrid {
    w1: Param<Tensor<3>>,
    b1: Param<Tensor<3>>,
    w2: Param<Tensor<3>>,
    b2: Param<Tensor<3>>,
}

impl EnsembleGrid {
    fn new(k: usize, d: usize, hidden: usize, device: &Device) -> Self {
        let [w1, b1, w2, b2] = stacked_mlp(k, d, hidden, 2, device);
        EnsembleGrid { w1, b1, w2, b2 }
    }

    /// `[B, d] -> ([K, B, 1] means, [K, B, 1] variances)` in standardised target units. The raw
    /// variance starts near 0, so every member starts at a variance of about `ln 2` times the
    /// target's variance; the floor is [`MIN_SD_FRACTION`] squared.
    fn forward(&self, x: Tensor<2>) -> (Tensor<3>, Tensor<3>) {
        let ([b, d], k) = (x.dims(), self.w1.dims()[0]);
        let h = relu(x.unsqueeze::<3>().expand([k, b, d]).matmul(self.w1.val()) + self.b1.val());
        let out = h.matmul(self.w2.val()) + self.b2.val();
        let mean = out.clone().slice(s![.., .., 0..1]);
        let var = softplus(out.slice(s![.., .., 1..2])).add_scalar(MIN_SD_FRACTION * MIN_SD_FRACTION);
        (mean, var)
    }
}

/// Bayes-by-backprop network (Blundell et al. 2015: the reparameterization estimator, one
/// weight sample per step) with a learnt homoscedastic noise variance (a point estimate).
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
                .with_estimator(Estimator::Reparameterization)
                .init(device)
        };
        // log variance 0: the noise starts at the (standardised) target's own variance.
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

// ANCHOR: protocol
/// Gradient steps of the search per input dimension (plus one): the budget is
/// `STEPS_PER_INPUT (d + 1) max(1, sqrt(n / SIZE_UNIT))` steps for `n` training rows and `d`
/// inputs: more parameters to fit need more steps, and more rows support (and need) a finer
/// fit, which a decaying learning rate reaches only with more steps.
pub const STEPS_PER_INPUT: usize = 800;
/// Rows above which the step budget grows as the square root of the rows.
pub const SIZE_UNIT: usize = 1000;
/// Fewest and most epochs a budget may have.
pub const EPOCH_RANGE: (usize, usize) = (10, 4000);
/// Validation checks per budget (the granularity of the chosen epoch count).
pub const CHECKS: usize = 20;
/// The learning rate decays exponentially to this fraction of its start at the end of the budget.
pub const LR_END_FRACTION: f64 = 1e-3;
/// Hidden units: 50 below this many training rows, else 100 (Gal's rule for the larger sets).
pub const LARGE_N: usize = 5000;
/// The dropout-rate grid (Gal's 2018 grid search).
pub const DROPOUT_RATES: [f64; 4] = [0.005, 0.01, 0.05, 0.1];
/// Smallest noise sd any method can express, as a fraction of the training target's sd: the
/// variance floor of the ensemble's heads, and the low end of MC dropout's tau grid.
pub const MIN_SD_FRACTION: f64 = 1e-5;
/// MC-dropout passes per validation check.
const VALIDATION_PASSES: usize = 200;
/// Posterior samples of BBB per validation check and for the test predictive.
const BBB_SAMPLES: usize = 100;

/// The search budget of one split, from its size and dimension only.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most epochs the search trains.
    pub max_epochs: usize,
    /// Epochs between validation checks.
    pub check_every: usize,
    /// The search stops when the validation LL has not improved for this many epochs.
    pub patience: usize,
}

impl Budget {
    /// `n` training rows of the search, `d` inputs, minibatches of `batch`; `max_epochs`
    /// overrides the budget (the `--epochs` flag).
    pub fn new(n: usize, d: usize, batch: usize, max_epochs: Option<usize>) -> Budget {
        let batches = n.div_ceil(batch.max(1)).max(1);
        let size = (n as f64 / SIZE_UNIT as f64).sqrt().max(1.0);
        let steps = (STEPS_PER_INPUT as f64 * (d + 1) as f64 * size).ceil() as usize;
        let max_epochs = max_epochs.unwrap_or_else(|| steps.div_ceil(batches).clamp(EPOCH_RANGE.0, EPOCH_RANGE.1));
        let check_every = (max_epochs / CHECKS).max(1);
        Budget { max_epochs, check_every, patience: (max_epochs / 4).max(check_every) }
    }

    /// The learning rate for epochs starting at `epoch`.
    fn lr(&self, lr: f64, epoch: usize) -> f64 {
        lr * LR_END_FRACTION.powf(epoch as f64 / self.max_epochs as f64)
    }
}

/// Hidden units for `n` training rows.
pub fn hidden_units(n: usize) -> usize {
    if n < LARGE_N {
        50
    } else {
        100
    }
}

/// MC dropout's precision grid in standardised units: noise sds from [`MIN_SD_FRACTION`] to 1
/// times the target's sd, 4 per decade.
pub fn tau_grid() -> Vec<f64> {
    let decades = -MIN_SD_FRACTION.log10();
    let steps = (4.0 * decades).round() as usize;
    (0..=steps).map(|i| 10f64.powf(2.0 * decades * i as f64 / steps as f64)).collect()
}

/// MC dropout's chosen (dropout rate, precision tau).
type DropoutChoice = (f64, f64);

/// The best validation check of a search: epochs trained, its validation LL and what was chosen.
struct Best<T> {
    epochs: usize,
    ll: f64,
    choice: T,
}

/// Trains `model` for up to `epochs` epochs in chunks of `budget.check_every` (one Adam state
/// and one minibatch order throughout, the learning rate decayed per chunk), calling `score`
/// after each chunk; stops once `score` has not improved for `budget.patience` epochs. `score`
/// returning `None` (the final retraining) never stops it.
#[allow(clippy::too_many_arguments)]
fn train_chunks<M, T, F, S>(
    mut model: M,
    n: usize,
    batch: usize,
    lr: f64,
    budget: &Budget,
    epochs: usize,
    mut step: F,
    mut score: S,
) -> Result<(M, Option<Best<T>>)>
where
    M: Module,
    F: FnMut(&M, &Batch) -> Result<ElboTerms>,
    S: FnMut(&M) -> Result<Option<(f64, T)>>,
{
    let mut optim = AdamConfig::new().init();
    let mut state = TrainState::default();
    let mut best: Option<Best<T>> = None;
    let mut done = 0;
    while done < epochs {
        let next = (done + budget.check_every).min(epochs);
        let config = FitConfig::new(next, batch, budget.lr(lr, done)).with_progress(false);
        model = fit_with_state(model, &mut optim, n, &config, &mut state, &mut step)?.0;
        done = next;
        if let Some((ll, choice)) = score(&model)? {
            if best.as_ref().is_none_or(|b| ll > b.ll) {
                best = Some(Best { epochs: done, ll, choice });
            }
            if best.as_ref().is_some_and(|b| done - b.epochs >= budget.patience) {
                break;
            }
        }
    }
    Ok((model, best))
}

// ANCHOR_END: protocol

/// One split's data, standardised with its training statistics.
struct Prepared {
    d: usize,
    x_train: Vec<f64>,
    y_train: Vec<f64>,
    x_test: Vec<f64>,
    /// Test targets in original units.
    y_test: Vec<f64>,
    /// Test targets standardised.
    y_test_z: Vec<f64>,
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
            y_test_z: y_scale.apply(&y_test),
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

    /// Test RMSE (original units) of standardised predictive means `[N]`.
    fn rmse(&self, mean_z: Tensor<1>) -> Result<f64> {
        let device = mean_z.device();
        metrics::rmse(mean_z.mul_scalar(self.y_std()).add_scalar(self.y_mean()), vector(&self.y_test, &device))
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

/// What one split gives: test RMSE and LL (original units), the learnt noise sd (original
/// units) and the chosen settings.
#[derive(Debug, Clone)]
pub struct SplitScore {
    pub rmse: f64,
    pub ll: f64,
    pub noise_sd: f64,
    pub epochs: usize,
    pub note: String,
}

// ANCHOR: mc_dropout
/// Gal's weight decay for dropout rate `p` and precision `tau` (standardised units). Gal (2016),
/// eq. 3.16 / `net.py`: the objective `mean_b (y - f)^2 + reg |W|^2` with
/// `reg = l^2 (1 - p) / (2 N tau)`. The data term here is `N mean_b (y - f)^2` (the ELBO's
/// scaling), so the same optimum needs `(decay / 2) |W|^2` with `decay = l^2 (1 - p) / tau`.
fn weight_decay(p: f64, tau: f64) -> f64 {
    LENGTH_SCALE.powi(2) * (1.0 - p) / tau
}

/// The precision whose weight decay the search trains under (noise sd 10 % of the target's):
/// the decay is 1e-6 of the data term, so the choice barely matters; the final model uses the
/// chosen tau's.
const SEARCH_TAU: f64 = 100.0;

/// `T` stochastic passes over the inputs `x`, batched along the sample axis in chunks, in
/// standardised units: `[T, N]`.
fn dropout_samples(model: &DropoutMlp, d: usize, x: &[f64], samples: usize, hidden: usize) -> Tensor<2> {
    let device = Device::flex();
    let n = x.len() / d;
    let x = matrix(x, d, &device).unsqueeze::<3>();
    let chunk = (CHUNK_FLOATS / (n * (d + hidden)).max(1)).clamp(1, samples);
    let mut parts = Vec::new();
    let mut done = 0;
    while done < samples {
        let c = chunk.min(samples - done);
        parts.push(model.forward(x.clone().expand([c, n, d])).reshape([c, n]));
        done += c;
    }
    Tensor::cat(parts, 0)
}

/// Trains one [`DropoutGrid`] copy per dropout rate on squared error plus weight decay for
/// `epochs` epochs; with `validation` (standardised inputs and targets) stops early and returns
/// the best check's (epochs, validation LL, (p, tau)).
fn train_dropout(
    prep: &Prepared,
    rates: &[f64],
    tau: f64,
    budget: &Budget,
    epochs: usize,
    args: &Args,
    validation: Option<(&[f64], &[f64])>,
) -> Result<(Vec<DropoutMlp>, Option<Best<DropoutChoice>>)> {
    let device = Device::flex().autodiff();
    let (n, hidden) = (prep.n_train(), hidden_units(prep.n_train()));
    let (x, y) = (matrix(&prep.x_train, prep.d, &device), matrix(&prep.y_train, 1, &device));
    let decay: Vec<f64> = rates.iter().map(|&p| weight_decay(p, tau)).collect();
    let taus = tau_grid();
    let step = |m: &DropoutGrid, b: &Batch| {
        let pred = m.forward(b.select(x.clone()), rates);
        let scale = n as f64 / b.len() as f64;
        let data = (pred - b.select(y.clone()).unsqueeze::<3>()).powi_scalar(2).sum().mul_scalar(scale);
        let loss = data.clone() + m.penalty(&decay);
        Ok(ElboTerms { loss, nll: data, kl: Tensor::zeros([1], &x.device()), beta: 0.0 })
    };
    let score = |m: &DropoutGrid| -> Result<Option<(f64, (f64, f64))>> {
        let Some((x_val, y_val)) = validation else { return Ok(None) };
        let grid = m.valid();
        let y_val = vector(y_val, &Device::flex());
        let mut best = (f64::NEG_INFINITY, (rates[0], taus[0]));
        for (i, &p) in rates.iter().enumerate() {
            let samples = dropout_samples(&grid.member(i, p), prep.d, x_val, VALIDATION_PASSES, hidden);
            for &t in &taus {
                let ll = metrics::mc_log_likelihood(samples.clone(), y_val.clone(), t)?;
                if ll > best.0 {
                    best = (ll, (p, t));
                }
            }
        }
        Ok(Some(best))
    };
    let grid = DropoutGrid::new(rates.len(), prep.d, hidden, &device);
    let (grid, best) = train_chunks(grid, n, args.mcd_batch, args.mcd_lr, budget, epochs, step, score)?;
    let grid = grid.valid();
    Ok((rates.iter().enumerate().map(|(i, &p)| grid.member(i, p)).collect(), best))
}

/// The protocol's search on the validation part chooses (p, tau, epochs) by validation LL;
/// the chosen setting is retrained on the whole training split; test scores.
pub fn mc_dropout(data: &UciDataset, split: &Split, args: &Args) -> Result<SplitScore> {
    let device = Device::flex();
    let full = Prepared::new(data, split)?;
    let inner = Prepared::new(data, &split.validation())?;
    let budget = Budget::new(inner.n_train(), inner.d, args.mcd_batch, args.epochs);
    let validation = Some((inner.x_test.as_slice(), inner.y_test_z.as_slice()));
    let (_, best) = train_dropout(&inner, &DROPOUT_RATES, SEARCH_TAU, &budget, budget.max_epochs, args, validation)?;
    let best = best.expect("the search checks at least once");
    let (p, tau) = best.choice;
    let model = train_dropout(&full, &[p], tau, &budget, best.epochs, args, None)?.0.remove(0);
    let samples = dropout_samples(&model, full.d, &full.x_test, args.samples, hidden_units(full.n_train()));
    let ll = metrics::mc_log_likelihood(samples.clone(), vector(&full.y_test_z, &device), tau)? - full.y_std().ln();
    let rmse = full.rmse(samples.mean_dim(0).reshape([full.n_test()]))?;
    let noise_sd = full.y_std() / tau.sqrt();
    Ok(SplitScore { rmse, ll, noise_sd, epochs: best.epochs, note: format!("p {p} noise sd {noise_sd:.4}") })
}
// ANCHOR_END: mc_dropout

// ANCHOR: ensemble
/// Trains the ensemble's stacked members on the Gaussian NLL (optionally with FGSM examples)
/// for `epochs` epochs; with `validation` stops early on the mixture's validation LL.
fn train_ensemble(
    prep: &Prepared,
    budget: &Budget,
    epochs: usize,
    args: &Args,
    validation: Option<(&[f64], &[f64])>,
) -> Result<(EnsembleGrid, Option<Best<()>>)> {
    let device = Device::flex().autodiff();
    let n = prep.n_train();
    let (x, y) = (matrix(&prep.x_train, prep.d, &device), matrix(&prep.y_train, 1, &device));
    let epsilon = fgsm_epsilon(&x, 0.01)?;
    let nll = GaussianNllLossConfig::new().init();
    let elbo = Elbo::new(n)?;
    let step = |m: &EnsembleGrid, b: &Batch| {
        let yb = b.select(y.clone());
        let loss_at = |input: Tensor<2>| {
            let (mean, var) = m.forward(input);
            nll.forward_no_reduction(mean, var, yb.clone())
        };
        let xb = b.select(x.clone());
        let mut per_example = loss_at(xb.clone());
        if args.adversarial {
            // Lakshminarayanan et al. (2017), section 2.3: train on l(x) + l(x + eps sign grad).
            let adversarial = fgsm(xb, epsilon.clone(), |probe| loss_at(probe).sum())?;
            per_example = per_example + loss_at(adversarial);
        }
        elbo.loss(per_example, None, b.step)
    };
    let score = |m: &EnsembleGrid| -> Result<Option<(f64, ())>> {
        let Some((x_val, y_val)) = validation else { return Ok(None) };
        let device = Device::flex();
        let (means, vars) = m.valid().forward(matrix(x_val, prep.d, &device));
        let [k, t, _] = means.dims();
        let ll = metrics::mc_log_likelihood_with_variances(
            means.reshape([k, t]),
            vector(y_val, &device),
            vars.reshape([k, t]),
        )?;
        Ok(Some((ll, ())))
    };
    let grid = EnsembleGrid::new(ENSEMBLE_SIZE, prep.d, hidden_units(n), &device);
    let (grid, best) = train_chunks(grid, n, BATCH, args.ens_lr, budget, epochs, step, score)?;
    Ok((grid.valid(), best))
}

/// Five Gaussian members, epochs by the validation part's mixture LL, retrained on the whole
/// training split; mixture prediction.
pub fn ensemble(data: &UciDataset, split: &Split, args: &Args) -> Result<SplitScore> {
    let full = Prepared::new(data, split)?;
    let inner = Prepared::new(data, &split.validation())?;
    let budget = Budget::new(inner.n_train(), inner.d, BATCH, args.epochs);
    let validation = Some((inner.x_test.as_slice(), inner.y_test_z.as_slice()));
    let best = train_ensemble(&inner, &budget, budget.max_epochs, args, validation)?.1.expect("checked once");
    let members = train_ensemble(&full, &budget, best.epochs, args, None)?.0;
    let device = Device::flex();
    let (means, vars) = members.forward(matrix(&full.x_test, full.d, &device));
    let (k, t) = (ENSEMBLE_SIZE, full.n_test());
    let (means, vars) = (means.reshape([k, t]), vars.reshape([k, t]));
    // The mixture density of standardised targets; de-standardising y = mean + std z multiplies
    // the density by 1 / std (the log-Jacobian), so the LL in original units is ll_z - ln std.
    let ll = metrics::mc_log_likelihood_with_variances(means.clone(), vector(&full.y_test_z, &device), vars.clone())?
        - full.y_std().ln();
    let rmse = full.rmse(means.mean_dim(0).reshape([t]))?;
    // The learnt aleatoric sd: root of the members' mean variance, averaged over test points.
    let noise_sd = vars.mean().into_scalar::<f32>().sqrt() as f64 * full.y_std();
    Ok(SplitScore { rmse, ll, noise_sd, epochs: best.epochs, note: format!("noise sd {noise_sd:.4}") })
}
// ANCHOR_END: ensemble

// ANCHOR: bbb
/// Trains BBB (full KL, beta = 1) for `epochs` epochs; with `validation` stops early on the
/// validation LL.
fn train_bbb(
    prep: &Prepared,
    budget: &Budget,
    epochs: usize,
    args: &Args,
    validation: Option<(&[f64], &[f64])>,
) -> Result<(BbbMlp, Option<Best<()>>)> {
    let device = Device::flex().autodiff();
    let n = prep.n_train();
    let (x, y) = (matrix(&prep.x_train, prep.d, &device), matrix(&prep.y_train, 1, &device));
    let nll = GaussianNllLossConfig::new().init();
    let elbo = Elbo::new(n)?;
    let step = |m: &BbbMlp, b: &Batch| {
        let mean = m.forward(b.select(x.clone()).unsqueeze());
        let var = m.noise_var().reshape([1, 1, 1]).expand(mean.dims());
        elbo.loss(nll.forward_no_reduction(mean, var, b.select(y.clone())), m.kl(), b.step)
    };
    let score = |m: &BbbMlp| -> Result<Option<(f64, ())>> {
        let Some((x_val, y_val)) = validation else { return Ok(None) };
        let device = Device::flex();
        Ok(Some((bbb_ll(&m.valid(), prep.d, x_val, vector(y_val, &device))?.0, ())))
    };
    let model = BbbMlp::new(prep.d, hidden_units(n), &device);
    let (model, best) = train_chunks(model, n, BATCH, args.bbb_lr, budget, epochs, step, score)?;
    Ok((model.valid(), best))
}

/// BBB's predictive LL of standardised targets `y` at inputs `x`, with the sampled means `[S, N]`.
fn bbb_ll(model: &BbbMlp, d: usize, x: &[f64], y: Tensor<1>) -> Result<(f64, Tensor<2>)> {
    let n = x.len() / d;
    let x = matrix(x, d, &Device::flex()).unsqueeze::<3>();
    let samples = model.forward(x.expand([BBB_SAMPLES, n, d])).reshape([BBB_SAMPLES, n]);
    let noise_var = model.noise_var().into_scalar::<f32>() as f64;
    Ok((metrics::mc_log_likelihood(samples.clone(), y, 1.0 / noise_var)?, samples))
}

/// Bayes-by-backprop, epochs by the validation LL, retrained on the whole training split.
pub fn bbb(data: &UciDataset, split: &Split, args: &Args) -> Result<SplitScore> {
    let full = Prepared::new(data, split)?;
    let inner = Prepared::new(data, &split.validation())?;
    let budget = Budget::new(inner.n_train(), inner.d, BATCH, args.epochs);
    let validation = Some((inner.x_test.as_slice(), inner.y_test_z.as_slice()));
    let best = train_bbb(&inner, &budget, budget.max_epochs, args, validation)?.1.expect("checked once");
    let model = train_bbb(&full, &budget, best.epochs, args, None)?.0;
    let device = Device::flex();
    // As for the ensemble: LL of standardised targets minus the log-Jacobian ln std.
    let (ll, samples) = bbb_ll(&model, full.d, &full.x_test, vector(&full.y_test_z, &device))?;
    let ll = ll - full.y_std().ln();
    let rmse = full.rmse(samples.mean_dim(0).reshape([full.n_test()]))?;
    let noise_sd = (model.noise_var().into_scalar::<f32>() as f64).sqrt() * full.y_std();
    Ok(SplitScore { rmse, ll, noise_sd, epochs: best.epochs, note: format!("noise sd {noise_sd:.4}") })
}
// ANCHOR_END: bbb

pub type Method = fn(&UciDataset, &Split, &Args) -> Result<SplitScore>;

// ANCHOR: map
/// Prior precision of the MAP network under the Laplace and SWAG rows: the `N(0, 1)` prior BBB
/// has, as a weight decay `|theta|^2 / 2` on every weight and bias.
pub const MAP_PRIOR_PRECISION: f64 = 1.0;
/// SWAG's deviation columns (the paper's `K`) and its fewest snapshots.
pub const SWAG_RANK: usize = 20;
/// SWAG's constant learning rates, chosen per split on the validation part.
pub const SWAG_LRS: [f64; 3] = [1e-3, 3e-3, 1e-2];
/// SWAG weight samples per validation check and for the test predictive.
const SWAG_SAMPLES: usize = 30;

/// A deterministic one-hidden-layer MLP with a learnt homoscedastic noise (a point estimate),
/// trained to the MAP of a `N(0, 1 / MAP_PRIOR_PRECISION)` prior: the network the Laplace and
/// SWAG rows make uncertain after training.
#[derive(Module, Debug)]
pub struct MapMlp {
    hidden: Linear,
    out: Linear,
    log_noise_var: Param<Tensor<1>>,
}

impl MapMlp {
    /// Glorot-uniform weights (as the stacked grids), zero biases, the noise at the target's
    /// variance.
    fn new(d: usize, hidden: usize, device: &Device) -> Self {
        let [w1, b1, w2, b2] = stacked_mlp(1, d, hidden, 1, device);
        let linear = |w: Param<Tensor<3>>, b: Param<Tensor<3>>, i: usize, o: usize| Linear {
            weight: Param::from_tensor(w.val().reshape([i, o]).detach()),
            bias: Some(Param::from_tensor(b.val().reshape([o]).detach())),
        };
        MapMlp {
            hidden: linear(w1, b1, d, hidden),
            out: linear(w2, b2, hidden, 1),
            log_noise_var: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// What the last layer sees: `[N, d] -> [N, hidden]`.
    fn features(&self, x: Tensor<2>) -> Tensor<2> {
        relu(self.hidden.forward(x))
    }

    /// `[N, d] -> [N, 1]` means.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.features(x))
    }

    fn noise_var(&self) -> Tensor<1> {
        self.log_noise_var.val().exp()
    }

    /// `sum theta^2 / 2` over the weights and biases (not the noise).
    fn half_sq_norm(&self) -> Tensor<1> {
        let sq = |l: &Linear| {
            let w = l.weight.val().square().sum();
            l.bias.as_ref().map_or(w.clone(), |b| w + b.val().square().sum())
        };
        (sq(&self.hidden) + sq(&self.out)).mul_scalar(0.5)
    }
}

/// The MAP objective on one minibatch: the Gaussian NLL (scaled to the data set) plus the
/// prior's `MAP_PRIOR_PRECISION |theta|^2 / 2`.
fn map_loss(m: &MapMlp, b: &Batch, x: &Tensor<2>, y: &Tensor<2>, elbo: &Elbo) -> Result<ElboTerms> {
    let mean = m.forward(b.select(x.clone())).unsqueeze::<3>();
    let var = m.noise_var().reshape([1, 1, 1]).expand(mean.dims());
    let prior = m.half_sq_norm().mul_scalar(MAP_PRIOR_PRECISION);
    let nll = GaussianNllLossConfig::new().init();
    elbo.loss(nll.forward_no_reduction(mean, var, b.select(y.clone()).unsqueeze()), prior, b.step)
}

/// Trains a [`MapMlp`] on the Gaussian NLL plus the prior's `MAP_PRIOR_PRECISION |theta|^2 / 2`
/// for `epochs` epochs on the protocol's schedule; `score` as in [`train_chunks`].
fn train_map<T>(
    prep: &Prepared,
    budget: &Budget,
    epochs: usize,
    args: &Args,
    score: impl FnMut(&MapMlp) -> Result<Option<(f64, T)>>,
) -> Result<(MapMlp, Option<Best<T>>)> {
    let device = Device::flex().autodiff();
    let n = prep.n_train();
    let (x, y) = (matrix(&prep.x_train, prep.d, &device), matrix(&prep.y_train, 1, &device));
    let elbo = Elbo::new(n)?;
    let step = |m: &MapMlp, b: &Batch| map_loss(m, b, &x, &y, &elbo);
    let model = MapMlp::new(prep.d, hidden_units(n), &device);
    train_chunks(model, n, BATCH, args.map_lr, budget, epochs, step, score)
}
// ANCHOR_END: map

// ANCHOR: laplace
/// Last-layer Laplace of a trained [`MapMlp`] on `prep`'s training part: full GGN of the output
/// layer (51 or 101 parameters), prior precision and noise sd by the marginal likelihood.
fn fit_laplace(model: &MapMlp, prep: &Prepared) -> Result<LastLayerLaplace> {
    let device = Device::flex();
    let x = matrix(&prep.x_train, prep.d, &device);
    let mut la = LastLayerLaplaceConfig::new().with_curvature(Curvature::Full).fit_regression(
        model.features(x),
        matrix(&prep.y_train, 1, &device),
        &model.out,
        (model.noise_var().into_scalar::<f32>() as f64).sqrt(),
    )?;
    la.optimize_prior_precision_and_sigma()?;
    Ok(la)
}

/// The GLM predictive's mean test LL of standardised targets `y` at inputs `x`, with its means.
fn laplace_ll(la: &LastLayerLaplace, model: &MapMlp, d: usize, x: &[f64], y: &[f64]) -> Result<(f64, Tensor<1>)> {
    let device = Device::flex();
    let summary = la.predict_regression(model.features(matrix(x, d, &device)))?;
    let mean = summary.mean.clone().reshape([y.len()]);
    let nll = metrics::gaussian_nll(mean.clone(), vector(y, &device), summary.total_var().reshape([y.len()]))?;
    Ok((-nll, mean))
}

/// Last-layer Laplace (Daxberger et al. 2021): a MAP network, epochs by the validation LL of
/// its Laplace predictive (refitted at every check), retrained on the whole training split.
pub fn laplace(data: &UciDataset, split: &Split, args: &Args) -> Result<SplitScore> {
    let full = Prepared::new(data, split)?;
    let inner = Prepared::new(data, &split.validation())?;
    let budget = Budget::new(inner.n_train(), inner.d, BATCH, args.epochs);
    let score = |m: &MapMlp| -> Result<Option<(f64, ())>> {
        let m = m.valid();
        let la = fit_laplace(&m, &inner)?;
        Ok(Some((laplace_ll(&la, &m, inner.d, &inner.x_test, &inner.y_test_z)?.0, ())))
    };
    let best = train_map(&inner, &budget, budget.max_epochs, args, score)?.1.expect("checked once");
    let model = train_map(&full, &budget, best.epochs, args, |_| Ok(None::<(f64, ())>))?.0.valid();
    let la = fit_laplace(&model, &full)?;
    let (ll, mean) = laplace_ll(&la, &model, full.d, &full.x_test, &full.y_test_z)?;
    let ll = ll - full.y_std().ln();
    let rmse = full.rmse(mean)?;
    let LaplaceLikelihood::Gaussian { sigma } = la.likelihood() else { unreachable!("a regression fit") };
    let noise_sd = sigma * full.y_std();
    let note = format!("prior precision {:.3} noise sd {noise_sd:.4}", la.prior_precision());
    Ok(SplitScore { rmse, ll, noise_sd, epochs: best.epochs, note })
}
// ANCHOR_END: laplace

// ANCHOR: swag
/// Keeps training `model` (autodiff) at the constant learning rate `lr` for `epochs` epochs, one
/// SWAG snapshot after each (a fresh Adam, the MAP objective).
fn swag_phase(model: MapMlp, prep: &Prepared, lr: f64, epochs: usize) -> Result<(MapMlp, Swag)> {
    let device = model.hidden.weight.device();
    let n = prep.n_train();
    let (x, y) = (matrix(&prep.x_train, prep.d, &device), matrix(&prep.y_train, 1, &device));
    let elbo = Elbo::new(n)?;
    let step = |m: &MapMlp, b: &Batch| map_loss(m, b, &x, &y, &elbo);
    let mut optim = AdamConfig::new().init();
    let mut state = TrainState::default();
    let mut swag = Swag::new(SWAG_RANK)?;
    let mut model = model;
    for e in 0..epochs {
        let config = FitConfig::new(e + 1, BATCH, lr).with_progress(false);
        model = fit_with_state(model, &mut optim, n, &config, &mut state, step)?.0;
        swag.collect(&model)?;
    }
    Ok((model, swag))
}

/// The SWAG predictive's mean LL of standardised targets `y` at inputs `x` (a mixture over
/// [`SWAG_SAMPLES`] draws, each with its own sampled noise), with the mixture's means.
fn swag_ll(swag: &Swag, model: &MapMlp, d: usize, x: &[f64], y: &[f64]) -> Result<(f64, Tensor<1>)> {
    let device = Device::flex();
    let (n, x) = (y.len(), matrix(x, d, &device));
    let (mut means, mut vars) = (Vec::new(), Vec::new());
    for _ in 0..SWAG_SAMPLES {
        let m = swag.sample(model.clone())?;
        let mean = m.forward(x.clone()).reshape([1, n]);
        vars.push(m.noise_var().reshape([1, 1]).expand([1, n]));
        means.push(mean);
    }
    let (means, vars) = (Tensor::cat(means, 0), Tensor::cat(vars, 0));
    let ll = metrics::mc_log_likelihood_with_variances(means.clone(), vector(y, &device), vars)?;
    Ok((ll, means.mean_dim(0).reshape([n])))
}

/// SWAG (Maddox et al. 2019): the MAP network's epochs by its own validation LL; then
/// `max(SWAG_RANK, epochs / 4)` more epochs at a constant learning rate from [`SWAG_LRS`] (chosen
/// on the validation part), one snapshot each; retrained and collected on the whole training
/// split with the chosen settings.
pub fn swag(data: &UciDataset, split: &Split, args: &Args) -> Result<SplitScore> {
    let full = Prepared::new(data, split)?;
    let inner = Prepared::new(data, &split.validation())?;
    let budget = Budget::new(inner.n_train(), inner.d, BATCH, args.epochs);
    // The MAP's own predictive (its learnt noise) scores the checks; the best check's model
    // starts the SWAG phase of the search.
    let score = |m: &MapMlp| -> Result<Option<(f64, MapMlp)>> {
        let v = m.valid();
        let (x, y) = (matrix(&inner.x_test, inner.d, &Device::flex()), vector(&inner.y_test_z, &Device::flex()));
        let n = inner.n_test();
        let ll = -metrics::gaussian_nll(v.forward(x).reshape([n]), y, v.noise_var().expand([n]))?;
        Ok(Some((ll, m.clone())))
    };
    let best = train_map(&inner, &budget, budget.max_epochs, args, score)?.1.expect("checked once");
    let swag_epochs = (best.epochs / 4).max(SWAG_RANK);
    let mut chosen = (f64::NEG_INFINITY, SWAG_LRS[0]);
    for lr in SWAG_LRS {
        let (model, swag) = swag_phase(best.choice.clone(), &inner, lr, swag_epochs)?;
        let ll = swag_ll(&swag, &model.valid(), inner.d, &inner.x_test, &inner.y_test_z)?.0;
        if ll > chosen.0 {
            chosen = (ll, lr);
        }
    }
    let lr = chosen.1;
    let model = train_map(&full, &budget, best.epochs, args, |_| Ok(None::<(f64, ())>))?.0;
    let (model, swag) = swag_phase(model, &full, lr, swag_epochs)?;
    let model = model.valid();
    let (ll, mean) = swag_ll(&swag, &model, full.d, &full.x_test, &full.y_test_z)?;
    let ll = ll - full.y_std().ln();
    let rmse = full.rmse(mean)?;
    let noise_sd = (swag.swa(model)?.noise_var().into_scalar::<f32>() as f64).sqrt() * full.y_std();
    let note = format!("swag lr {lr} over {swag_epochs} epochs, noise sd {noise_sd:.4}");
    Ok(SplitScore { rmse, ll, noise_sd, epochs: best.epochs, note })
}
// ANCHOR_END: swag
