//! Saving, loading and resuming: trains a small Bayes-by-backprop regressor (Flipout hidden
//! layer, a scale-mixture prior, KL warm-up) on the peers' cubic toy, once straight through and
//! once stopped halfway, saved, reloaded into a freshly built model and optimizer and resumed;
//! shows that both end with bit-identical parameters, and that a model reloaded for prediction
//! gives bit-identical outputs in Mean mode and, under the same seed, in Sample mode.
//! Takes about 4 s (dev profile; CI runs it and fails if anything is not bit-identical).
//!
//! `cargo run --release --example checkpoint`

use std::path::PathBuf;

use bayesburn::checkpoint;
use bayesburn::objective::gaussian_nll;
use bayesburn::prelude::*;
use bayesburn::train::{fit_bayesian_with_state, Batch, FitConfig, History, TrainState};
use burn::module::{ModuleVisitor, Param};
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::relu;

#[derive(Module, Bayesian, Debug)]
struct Regressor {
    hidden: BayesLinear,
    out: BayesLinear,
}

impl Regressor {
    /// Everything a run's config says about the model; the checkpoint adds the trained values.
    fn new(device: &Device) -> Regressor {
        let prior = Prior::ScaleMixture { pi: 0.5, sigma1: 1.5, sigma2: 0.1 };
        Regressor {
            hidden: BayesLinearConfig::new(1, 32).with_prior(prior).with_estimator(Estimator::Flipout).init(device),
            out: BayesLinearConfig::new(32, 1).with_prior(prior).init(device),
        }
    }

    /// `[S, N, 1] -> [S, N, 1]`.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.out.forward(relu(self.hidden.forward(x)))
    }
}

/// The cubic toy of the Python peers: y = x^3 + N(0, 3^2) on 20 points in [-4, 4], scaled by 1/100.
fn data(device: &Device) -> (Tensor<2>, Tensor<2>) {
    noise::with_seed(1, || {
        let x = noise::uniform([20, 1], -4.0, 4.0, device);
        let y = (x.clone().powi_scalar(3) + noise::normal([20, 1], device).mul_scalar(3.0)).div_scalar(100.0);
        (x.div_scalar(4.0), y)
    })
}

const EPOCHS: usize = 400;

/// One run of `fit_bayesian_with_state` over the toy, continuing `state`.
fn train(
    model: Regressor,
    optim: &mut ModuleOptimizer,
    config: &FitConfig,
    state: &mut TrainState,
    device: &Device,
) -> Result<(Regressor, History)> {
    let (x, y) = data(device);
    let elbo = Elbo::new(20)?.with_schedule(KlSchedule::LinearWarmup { steps: 200, start: 0.0, end: 1.0 })?;
    fit_bayesian_with_state(model, optim, 20, config, state, |model: &Regressor, batch: &Batch| {
        let xb = batch.select(x.clone()).unsqueeze::<3>();
        let yb = batch.select(y.clone()).unsqueeze::<3>();
        let nll = gaussian_nll(model.forward(xb), yb.clone(), yb.full_like(0.03f32.powi(2)));
        elbo.loss(nll.squeeze_dim(2), model.kl(), batch.step)
    })
}

fn main() -> Result<()> {
    let device = Device::flex().autodiff();
    let dir = std::env::temp_dir().join(format!("bayesburn-checkpoint-example-{}", std::process::id()));
    let config = FitConfig::new(EPOCHS, 5, 1e-2).with_progress(false);

    // Straight through: 400 epochs of 4 minibatches.
    noise::seed(0);
    let mut optim = AdamConfig::new().init();
    let (straight, _) = train(Regressor::new(&device), &mut optim, &config, &mut TrainState::default(), &device)?;

    // ANCHOR: save
    // The same run, stopped after 600 of its 1600 steps and saved: model (variational
    // parameters, priors, estimators, modes), Adam's moments, and the training state (step,
    // epoch, minibatch order, noise stream).
    noise::seed(0);
    let mut optim = AdamConfig::new().init();
    let mut state = TrainState::default();
    let halfway = config.clone().with_stop_after_steps(600);
    let (model, _) = train(Regressor::new(&device), &mut optim, &halfway, &mut state, &device)?;
    checkpoint::save(&dir, &model, &optim, &state)?;
    // ANCHOR_END: save
    println!("saved after step {} (epoch {}) to {}", state.step, state.epoch, dir.display());

    // ANCHOR: resume
    // Later, perhaps in another process: build the model and optimizer as at the start, load
    // the checkpoint into them, and call the fit loop again with the loaded state.
    let template = Regressor::new(&device); // its initial values are replaced
    let (model, mut optim, mut state) = checkpoint::load(&dir, template, AdamConfig::new().init())?;
    let (resumed, history) = train(model, &mut optim, &config, &mut state, &device)?;
    // ANCHOR_END: resume
    let same = parameters(&resumed) == parameters(&straight);
    println!(
        "resumed to step {}: parameters bit-identical to the uninterrupted run: {same} (final loss {:.4})",
        history.steps,
        history.epochs.last().map_or(f64::NAN, |e| e.loss)
    );

    // ANCHOR: predict
    // For prediction only the posterior is needed: save_model / load_model, on a plain device.
    checkpoint::save_model(&dir, &resumed.valid())?;
    let served = checkpoint::load_model(&dir, Regressor::new(&Device::flex()))?;
    let x = Tensor::<1>::from_floats([-0.5, 0.0, 0.5, 1.5], &Device::flex()).reshape([1, 4, 1]);
    let mean = served.clone().with_mode(Mode::Mean).forward(x.clone());
    let samples = noise::with_seed(7, || served.forward(x.clone().repeat_dim(0, 100))); // [100, 4, 1]
                                                                                        // ANCHOR_END: predict
    let original = resumed.valid();
    let mean_again = original.clone().with_mode(Mode::Mean).forward(x.clone());
    let samples_again = noise::with_seed(7, || original.forward(x.clone().repeat_dim(0, 100)));
    println!(
        "reloaded model: Mean mode bit-identical: {}, Sample mode (same seed) bit-identical: {}",
        bits(mean.clone()) == bits(mean_again.clone()),
        bits(samples.clone()) == bits(samples_again.clone())
    );
    if !(same && bits(mean.clone()) == bits(mean_again) && bits(samples.clone()) == bits(samples_again)) {
        eprintln!("error: a reloaded or resumed model differs from the original");
        std::process::exit(1);
    }
    let sd = samples.var(0).sqrt();
    println!("at x = [-0.5, 0, 0.5, 1.5]: mean {:?}", values(mean));
    println!("                           epistemic sd {:?}", values(sd));
    std::fs::remove_dir_all(PathBuf::from(&dir)).ok();
    Ok(())
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn bits<const D: usize>(t: Tensor<D>) -> Vec<u32> {
    values(t).into_iter().map(f32::to_bits).collect()
}

/// Every parameter value, as bits.
fn parameters(model: &Regressor) -> Vec<Vec<u32>> {
    struct Values(Vec<Vec<u32>>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(bits(param.val()));
        }
    }
    let mut v = Values(Vec::new());
    model.visit(&mut v);
    v.0
}
