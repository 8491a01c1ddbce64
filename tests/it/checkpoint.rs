//! Checkpoints: a saved and reloaded model is the same posterior (bit-identical predictions in
//! Mean mode, and in Sample mode under the same seed; the same KL), training resumed from a
//! checkpoint ends bit-identical to training straight through, and a checkpoint that does not
//! fit the model is a typed error naming the field.

use std::path::PathBuf;

use bayesburn::checkpoint;
use bayesburn::layers::{GaussianHead, GaussianHeadConfig, HeadKind};
use bayesburn::objective::{gaussian_nll, Elbo, KlSchedule};
use bayesburn::prelude::*;
use bayesburn::train::{fit_bayesian_with_state, FitConfig, TrainState};
use burn::module::{ModuleVisitor, Param};
use burn::nn::conv::Conv2dConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("bayesburn-checkpoint-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bits<const D: usize>(t: Tensor<D>) -> Vec<u32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap().into_iter().map(f32::to_bits).collect()
}

/// Every parameter value of a module, in visiting order, as bits.
fn parameters<M: Module>(model: &M) -> Vec<Vec<u32>> {
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

/// Sets every `rho` to a random value so the saved posterior is not the initial constant.
fn spread(mut layer: BayesLinear) -> BayesLinear {
    let device = layer.weight.mu.val().device();
    layer.weight.rho = Param::from_tensor(noise::uniform(layer.weight.dims(), -4.0, -1.0, &device));
    layer
}

fn input(s: usize, n: usize, d: usize, device: &Device) -> Tensor<3> {
    noise::with_seed(99, || noise::normal([s, n, d], device))
}

/// Mean-mode outputs, seeded Sample-mode outputs and the seeded KL of a layer.
fn fingerprint(layer: &BayesLinear, x: &Tensor<3>) -> [Vec<u32>; 3] {
    let mean = layer.clone().with_mode(Mode::Mean).forward(x.clone());
    let sample = noise::with_seed(5, || layer.clone().with_mode(Mode::Sample).forward(x.clone()));
    let kl = noise::with_seed(6, || Bayesian::kl(layer).unwrap());
    [bits(mean), bits(sample), bits(kl)]
}

#[test]
fn each_estimator_and_its_mode_survive_save_and_load() {
    let device = crate::support::device();
    let x = input(3, 4, 5, &device);
    let prior = Prior::Normal { loc: 0.1, scale: 0.37 };
    for (i, estimator) in
        [Estimator::Reparameterization, Estimator::Flipout, Estimator::LocalReparameterization].into_iter().enumerate()
    {
        for mode in [Mode::Sample, Mode::Mean] {
            let dir = TempDir::new(&format!("estimator-{i}-{mode:?}"));
            let config = BayesLinearConfig::new(5, 2).with_prior(prior).with_estimator(estimator);
            let layer = spread(noise::with_seed(i as u64, || config.init(&device))).with_mode(mode);
            checkpoint::save_model(&dir.0, &layer).unwrap();
            // The template has the default estimator and prior values: both come from the file.
            let template = BayesLinearConfig::new(5, 2).init(&device);
            let loaded = checkpoint::load_model(&dir.0, template).unwrap();
            assert_eq!((loaded.estimator(), loaded.mode(), loaded.prior()), (estimator, mode, prior));
            assert_eq!(fingerprint(&loaded, &x), fingerprint(&layer, &x), "{estimator} {mode:?}");
        }
    }
}

#[test]
fn a_scale_mixture_prior_survives_with_its_values() {
    let device = crate::support::device();
    let x = input(2, 3, 4, &device);
    let dir = TempDir::new("mixture");
    let prior = Prior::ScaleMixture { pi: 0.25, sigma1: 1.5, sigma2: 0.0025 };
    let layer = spread(BayesLinearConfig::new(4, 3).with_prior(prior).init(&device));
    checkpoint::save_model(&dir.0, &layer).unwrap();
    let other = Prior::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.1 };
    let loaded = checkpoint::load_model(&dir.0, BayesLinearConfig::new(4, 3).with_prior(other).init(&device)).unwrap();
    assert_eq!(loaded.prior(), prior);
    // The Monte-Carlo KL under one seed is bit-identical only if pi, sigma1, sigma2 are.
    assert_eq!(fingerprint(&loaded, &x), fingerprint(&layer, &x));
}

#[test]
fn a_moped_layer_survives_with_its_data_dependent_posterior_and_prior() {
    let device = crate::support::device();
    let x = input(2, 3, 4, &device);
    let dir = TempDir::new("moped");
    let trained: Linear = LinearConfig::new(4, 3).init(&device);
    let prior = Prior::Normal { loc: 0.0, scale: 0.2 };
    let layer = BayesLinear::from_linear(&trained, 0.1, prior).unwrap().with_estimator(Estimator::Flipout);
    checkpoint::save_model(&dir.0, &layer).unwrap();
    let loaded = checkpoint::load_model(&dir.0, BayesLinearConfig::new(4, 3).init(&device)).unwrap();
    assert_eq!((loaded.prior(), loaded.estimator()), (prior, Estimator::Flipout));
    assert_eq!(fingerprint(&loaded, &x), fingerprint(&layer, &x));
    // sigma = delta |w| came back too (the template's rho was the constant -5).
    assert_eq!(bits(loaded.weight.sigma()), bits(layer.weight.sigma()));
}

#[test]
fn a_convolution_survives_with_its_geometry() {
    let device = crate::support::device();
    let dir = TempDir::new("conv");
    let config = BayesConv2dConfig::new([2, 3], [3, 3])
        .with_stride([2, 1])
        .with_padding(PaddingConfig2d::Same)
        .with_estimator(Estimator::Flipout)
        .with_prior(Prior::Normal { loc: 0.0, scale: 0.3 });
    let conv = config.init(&device);
    checkpoint::save_model(&dir.0, &conv).unwrap();
    let template = BayesConv2dConfig::new([2, 3], [3, 3]).with_stride([2, 1]).with_padding(PaddingConfig2d::Same);
    let loaded = checkpoint::load_model(&dir.0, template.init(&device)).unwrap();
    let x = noise::with_seed(1, || noise::normal([2, 2, 2, 6, 5], &device));
    let run = |c: &BayesConv2d, mode| noise::with_seed(8, || bits(c.clone().with_mode(mode).forward(x.clone())));
    for mode in [Mode::Mean, Mode::Sample] {
        assert_eq!(run(&loaded, mode), run(&conv, mode), "{mode:?}");
    }
    // MOPED from a deterministic convolution keeps its posterior too.
    let moped =
        BayesConv2d::from_conv2d(&Conv2dConfig::new([2, 3], [3, 3]).init(&device), 0.1, Prior::default()).unwrap();
    checkpoint::save_model(&dir.0, &moped).unwrap();
    let loaded = checkpoint::load_model(&dir.0, BayesConv2dConfig::new([2, 3], [3, 3]).init(&device)).unwrap();
    assert_eq!(run(&loaded, Mode::Sample), run(&moped, Mode::Sample));
}

/// A derived network with `Vec` and `Option` fields, a head and a deterministic layer.
#[derive(Module, Bayesian, Debug)]
struct Net {
    blocks: Vec<BayesLinear>,
    dropout: Option<McDropout>,
    head: GaussianHead,
    skip: Linear,
}

struct NetConfig {
    width: usize,
    depth: usize,
    dropout: bool,
    prior: Prior,
}

impl NetConfig {
    fn new() -> Self {
        NetConfig { width: 8, depth: 2, dropout: true, prior: Prior::Normal { loc: 0.0, scale: 1.0 } }
    }

    fn init(&self, device: &Device) -> Net {
        let mut d = 1;
        let blocks = (0..self.depth)
            .map(|_| {
                let layer = BayesLinearConfig::new(d, self.width).with_prior(self.prior).init(device);
                d = self.width;
                layer
            })
            .collect();
        Net {
            blocks,
            dropout: self.dropout.then(|| McDropoutConfig::new(0.1).init()),
            head: GaussianHeadConfig::new(self.width, 1).with_kind(HeadKind::bayesian()).init(device),
            // From the seeded noise source (burn's initialiser draws from its global RNG).
            skip: Linear {
                weight: Param::from_tensor(noise::uniform([1, 1], -1.0, 1.0, device)),
                bias: Some(Param::from_tensor(noise::uniform([1], -1.0, 1.0, device))),
            },
        }
    }
}

impl Net {
    /// `[S, N, 1]` -> (mean, variance).
    fn forward(&self, x: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let mut h = x.clone();
        for block in &self.blocks {
            h = relu(block.forward(h));
            if let Some(dropout) = &self.dropout {
                h = dropout.forward(h);
            }
        }
        let out = self.head.forward(h);
        (out.mean + self.skip.forward(x), out.var)
    }
}

fn net_outputs(net: &Net, x: &Tensor<3>) -> Vec<Vec<u32>> {
    let mean = net.clone().with_mode(Mode::Mean).forward(x.clone());
    let sample = noise::with_seed(4, || net.clone().forward(x.clone()));
    vec![bits(mean.0), bits(mean.1), bits(sample.0), bits(sample.1)]
}

#[test]
fn a_derived_network_with_vec_and_option_fields_survives() {
    let device = crate::support::device();
    let dir = TempDir::new("net");
    let x = input(3, 5, 1, &device);
    let mut net = noise::with_seed(2, || NetConfig::new().init(&device));
    net.blocks[1] = net.blocks[1].clone().with_estimator(Estimator::Flipout);
    checkpoint::save_model(&dir.0, &net).unwrap();
    let loaded = checkpoint::load_model(&dir.0, NetConfig::new().init(&device)).unwrap();
    assert_eq!(loaded.blocks[1].estimator(), Estimator::Flipout);
    assert_eq!(net_outputs(&loaded, &x), net_outputs(&net, &x));
    // The mode is part of the posterior's state too.
    checkpoint::save_model(&dir.0, &net.clone().with_mode(Mode::Mean)).unwrap();
    let loaded = checkpoint::load_model(&dir.0, NetConfig::new().init(&device)).unwrap();
    assert_eq!(loaded.blocks[0].mode(), Mode::Mean);
    assert_eq!(loaded.dropout.as_ref().unwrap().mode(), Mode::Mean);
}

/// The toy regression of the resume test: y = sin(3x) + noise on 50 points.
fn toy(device: &Device) -> (Tensor<2>, Tensor<2>) {
    noise::with_seed(11, || {
        let x = noise::uniform([50, 1], -1.0, 1.0, device);
        let y = x.clone().mul_scalar(3.0).sin() + noise::normal([50, 1], device).mul_scalar(0.1);
        (x, y)
    })
}

type Step = Box<dyn FnMut(&Net, &bayesburn::train::Batch) -> Result<bayesburn::objective::ElboTerms>>;

fn elbo_step(x: &Tensor<2>, y: &Tensor<2>) -> Step {
    let elbo =
        Elbo::new(50).unwrap().with_schedule(KlSchedule::LinearWarmup { steps: 10, start: 0.0, end: 1.0 }).unwrap();
    let (x, y) = (x.clone(), y.clone());
    Box::new(move |net: &Net, batch| {
        let xb = batch.select(x.clone()).unsqueeze::<3>().repeat_dim(0, 2);
        let (mean, var) = net.forward(xb);
        let yb = batch.select(y.clone()).unsqueeze::<3>().repeat_dim(0, 2);
        let nll = gaussian_nll(mean, yb, var).squeeze_dim::<2>(2);
        elbo.loss(nll, net.kl(), batch.step)
    })
}

/// Trains a fresh `Net` (built under seed 3) for `epochs` epochs of 4 batches (the last of each
/// holds 2 of the 50 points), stopping after `stop` steps if given. Returns the model, optimizer
/// and state.
fn train(
    device: &Device,
    config: &FitConfig,
    state: &mut TrainState,
    model: Net,
    optim: &mut burn::optim::ModuleOptimizer,
) -> (Net, bayesburn::train::History) {
    let (x, y) = toy(device);
    fit_bayesian_with_state(model, optim, 50, config, state, elbo_step(&x, &y)).unwrap()
}

#[test]
fn resuming_from_a_checkpoint_is_bit_identical_to_training_straight_through() {
    let device = crate::support::device().autodiff();
    let mut config = NetConfig::new();
    config.prior = Prior::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.1 }; // MC KL: draws noise
    let fit = FitConfig::new(5, 16, 0.01).with_progress(false);
    let fresh = || noise::with_seed(3, || config.init(&device));

    let (straight, straight_history) = noise::with_seed(7, || {
        let mut optim = AdamConfig::new().init();
        train(&device, &fit, &mut TrainState::default(), fresh(), &mut optim)
    });

    // Stop mid-epoch (step 6 of 20) and at an epoch boundary (step 8); resume each from disk.
    for stop in [6, 8] {
        let dir = TempDir::new(&format!("resume-{stop}"));
        noise::with_seed(7, || {
            let mut optim = AdamConfig::new().init();
            let mut state = TrainState::default();
            let (model, _) = train(&device, &fit.clone().with_stop_after_steps(stop), &mut state, fresh(), &mut optim);
            assert_eq!((state.step, state.is_complete(&fit)), (stop, false));
            checkpoint::save(&dir.0, &model, &optim, &state).unwrap();
        });
        // Another seed, and a template whose initialisation draws noise: the state's saved
        // noise stream must take over.
        let (resumed, history) = noise::with_seed(1234, || {
            let template = config.init(&device);
            let (model, mut optim, mut state) = checkpoint::load(&dir.0, template, AdamConfig::new().init()).unwrap();
            train(&device, &fit, &mut state, model, &mut optim)
        });
        assert_eq!(parameters(&resumed), parameters(&straight), "stopped at step {stop}");
        assert_eq!(history.epochs, straight_history.epochs, "stopped at step {stop}");
        assert_eq!(history.steps, 20);
    }
}

#[test]
fn the_resume_test_can_fail_without_the_optimizer_state() {
    // Control for the test above: resuming with a fresh Adam (moments lost) does not reproduce
    // the uninterrupted run, so bit-identity there is evidence that the state was restored.
    let device = crate::support::device().autodiff();
    let config = NetConfig::new();
    let fit = FitConfig::new(3, 16, 0.01).with_progress(false);
    let fresh = || noise::with_seed(3, || config.init(&device));
    let straight = noise::with_seed(7, || {
        train(&device, &fit, &mut TrainState::default(), fresh(), &mut AdamConfig::new().init()).0
    });
    let dir = TempDir::new("control");
    noise::with_seed(7, || {
        let mut optim = AdamConfig::new().init();
        let mut state = TrainState::default();
        let (model, _) = train(&device, &fit.clone().with_stop_after_steps(6), &mut state, fresh(), &mut optim);
        checkpoint::save(&dir.0, &model, &optim, &state).unwrap();
    });
    let (model, _, mut state) = checkpoint::load(&dir.0, config.init(&device), AdamConfig::new().init()).unwrap();
    let resumed = train(&device, &fit, &mut state, model, &mut AdamConfig::new().init()).0;
    assert_ne!(parameters(&resumed), parameters(&straight));
}

#[test]
fn a_prior_centred_on_pretrained_weights_survives_and_a_template_without_one_is_refused() {
    use bayesburn::convert::{MopedConfig, ToBayesian};
    let device = crate::support::device();
    let x = input(2, 3, 4, &device);
    let dir = TempDir::new("centred");
    let trained: Linear = LinearConfig::new(4, 3).init(&device);
    let config = MopedConfig::new().with_prior(Prior::Laplace { loc: 0.0, scale: 0.2 }).with_centre_prior(true);
    let layer = trained.to_bayesian(&config).unwrap();
    checkpoint::save_model(&dir.0, &layer).unwrap();
    // The template built by the same conversion carries the centre; the KL is bit-identical.
    let loaded = checkpoint::load_model(&dir.0, trained.to_bayesian(&config).unwrap()).unwrap();
    assert_eq!(fingerprint(&loaded, &x), fingerprint(&layer, &x));
    // A template whose prior is centred on its loc would silently change the KL: refused.
    let err = checkpoint::load_model(&dir.0, BayesLinearConfig::new(4, 3).init(&device)).map(|_| ()).unwrap_err();
    let (field, problem) = checkpoint_error(err);
    assert_eq!(
        problem, "the checkpoint's prior is centred on a PriorCentre, the model's centred on its loc",
        "{field}"
    );
}

fn checkpoint_error(err: Error) -> (String, String) {
    match err {
        Error::Checkpoint { field, problem, .. } => (field, problem),
        other => panic!("expected Error::Checkpoint, got {other}"),
    }
}

#[test]
fn mismatched_checkpoints_are_typed_errors_naming_the_field() {
    let device = crate::support::device();
    let dir = TempDir::new("mismatch");
    checkpoint::save_model(&dir.0, &NetConfig::new().init(&device)).unwrap();
    let load = |config: NetConfig| checkpoint::load_model(&dir.0, config.init(&device)).map(|_| ()).unwrap_err();

    // Other shapes.
    let err = load(NetConfig { width: 16, ..NetConfig::new() });
    println!("{err}");
    let (field, problem) = checkpoint_error(err);
    assert_eq!(field, "blocks.0.weight.mu");
    assert!(problem.contains("[1, 8]") && problem.contains("[1, 16]"), "{problem}");

    // Other architecture: one more layer in the template, or one fewer.
    let err = load(NetConfig { depth: 3, ..NetConfig::new() });
    println!("{err}");
    let (field, problem) = checkpoint_error(err);
    assert_eq!(field, "blocks.2.weight.mu");
    assert!(problem.contains("the checkpoint none"), "{problem}");
    let (field, _) = checkpoint_error(load(NetConfig { depth: 1, ..NetConfig::new() }));
    assert_eq!(field, "blocks.1.weight.mu");

    // A stochastic layer the template lacks (no tensors, so only the layer states show it).
    let err = load(NetConfig { dropout: false, ..NetConfig::new() });
    println!("{err}");
    let (field, problem) = checkpoint_error(err);
    assert_eq!(field, "dropout");
    assert!(problem.contains("McDropout"), "{problem}");

    // Another prior family.
    let err = load(NetConfig { prior: Prior::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.1 }, ..NetConfig::new() });
    println!("{err}");
    let (field, problem) = checkpoint_error(err);
    assert_eq!(field, "blocks.0");
    assert!(problem.contains("prior family"), "{problem}");

    // Another convolution geometry (same kernel shape, so the tensors match).
    let conv = BayesConv2dConfig::new([1, 2], [3, 3]).init(&device);
    checkpoint::save_model(&dir.0, &conv).unwrap();
    let err = checkpoint::load_model(&dir.0, BayesConv2dConfig::new([1, 2], [3, 3]).with_stride([2, 2]).init(&device))
        .unwrap_err();
    println!("{err}");
    let (field, problem) = checkpoint_error(err);
    assert_eq!(field, "(the model itself)");
    assert!(problem.contains("stride"), "{problem}");
}

/// `BayesLinear` as it was recorded before its weights became `MeanField`s: the same tensors
/// under the names `weight_mu`, `weight_rho`, `bias_mu`, `bias_rho`.
#[derive(Module, Debug)]
struct OldBayesLinear {
    weight_mu: Param<Tensor<2>>,
    weight_rho: Param<Tensor<2>>,
    bias_mu: Option<Param<Tensor<1>>>,
    bias_rho: Option<Param<Tensor<1>>>,
}

#[test]
fn a_checkpoint_in_the_old_tensor_layout_is_rejected_with_how_to_convert() {
    let device = crate::support::device();
    let dir = TempDir::new("old-layout");
    let layer = spread(BayesLinearConfig::new(3, 2).init(&device));
    checkpoint::save_model(&dir.0, &layer).unwrap();
    // Rewrite it as the old layout wrote it: model.bpk under the old names, and the old names
    // in the manifest's tensor list.
    let old = OldBayesLinear {
        weight_mu: layer.weight.mu.clone(),
        weight_rho: layer.weight.rho.clone(),
        bias_mu: layer.bias.as_ref().map(|b| b.mu.clone()),
        bias_rho: layer.bias.as_ref().map(|b| b.rho.clone()),
    };
    old.save_file(dir.0.join("model.bpk")).unwrap();
    let manifest = dir.0.join("checkpoint.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("\"weight.mu\"") && text.contains("\"bias.rho\""), "{text}");
    let renamed =
        [("weight.mu", "weight_mu"), ("weight.rho", "weight_rho"), ("bias.mu", "bias_mu"), ("bias.rho", "bias_rho")]
            .iter()
            .fold(text, |t, (new, old)| t.replace(&format!("\"{new}\""), &format!("\"{old}\"")));
    std::fs::write(&manifest, renamed).unwrap();

    let err = checkpoint::load_model(&dir.0, BayesLinearConfig::new(3, 2).init(&device)).unwrap_err();
    println!("{err}");
    match &err {
        Error::Checkpoint { field, problem, fix, .. } => {
            assert_eq!(field, "weight_mu");
            assert!(problem.contains("`weight_mu` is now `weight.mu`"), "{problem}");
            assert!(
                fix.contains("`bias_rho`") && fix.contains("`bias.rho`") && fix.contains("checkpoint.json"),
                "{fix}"
            );
        }
        other => panic!("expected Error::Checkpoint, got {other}"),
    }
}

#[test]
fn unreadable_or_incomplete_checkpoints_are_typed_errors() {
    let device = crate::support::device();
    let dir = TempDir::new("broken");
    let layer = || BayesLinearConfig::new(2, 2).init(&device);

    // Not a checkpoint directory.
    let err = checkpoint::load_model(&dir.0, layer()).unwrap_err();
    println!("{err}");
    assert!(matches!(&err, Error::Io { path, .. } if path.ends_with("checkpoint.json")), "{err}");

    // A model-only checkpoint cannot resume training.
    checkpoint::save_model(&dir.0, &layer()).unwrap();
    let err = checkpoint::load(&dir.0, layer(), AdamConfig::new().init()).map(|_| ()).unwrap_err();
    println!("{err}");
    assert_eq!(checkpoint_error(err).0, "optimizer");

    // A damaged weights file.
    let model = dir.0.join("model.bpk");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let err = checkpoint::load_model(&dir.0, layer()).unwrap_err();
    println!("{err}");
    assert_eq!(checkpoint_error(err).0, "model.bpk");

    // A damaged manifest.
    std::fs::write(dir.0.join("checkpoint.json"), "{\"format\": 3").unwrap();
    let err = checkpoint::load_model(&dir.0, layer()).unwrap_err();
    println!("{err}");
    assert_eq!(checkpoint_error(err).0, "checkpoint.json");
}

#[test]
fn a_training_state_from_another_run_is_a_typed_error() {
    let device = crate::support::device().autodiff();
    let config = NetConfig::new();
    let mut state = TrainState::default();
    let fit = FitConfig::new(2, 16, 0.01).with_progress(false).with_stop_after_steps(2);
    let mut optim = AdamConfig::new().init();
    let (model, _) = train(&device, &fit, &mut state, config.init(&device), &mut optim);
    let err = train_err(&device, &FitConfig::new(2, 10, 0.01).with_progress(false), &mut state, model, &mut optim);
    println!("{err}");
    let (field, problem) = checkpoint_error(err);
    assert_eq!(field, "batch_size");
    assert!(problem.contains("16") && problem.contains("10"), "{problem}");
}

fn train_err(
    device: &Device,
    config: &FitConfig,
    state: &mut TrainState,
    model: Net,
    optim: &mut burn::optim::ModuleOptimizer,
) -> Error {
    let (x, y) = toy(device);
    fit_bayesian_with_state(model, optim, 50, config, state, elbo_step(&x, &y)).map(|_| ()).unwrap_err()
}
