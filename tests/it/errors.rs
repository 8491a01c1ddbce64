//! The bad-input catalogue (`docs/ERRORS.md`): every row that no other test covers is asserted
//! here. Each check asserts the variant, the field, the value (or the shape that was given)
//! and that the message a user reads names both; the message is printed so the catalogue can
//! quote it (`cargo test --test errors -- --nocapture`).
//!
//! Every call goes through a `try_*` or `Result` API: none of these inputs may panic.

use bayesburn::distributions::{
    kl_monte_carlo, Bernoulli, Categorical, HalfNormal, Normal, ScaleMixtureNormal, StudentT,
};
use bayesburn::ensemble::Ensemble;
use bayesburn::layers::{
    BayesConv2dConfig, BayesLinear, BayesLinearConfig, ClassificationHeadConfig, GaussianHeadConfig, HeadKind,
};
use bayesburn::objective::fgsm_epsilon;
use bayesburn::objective::{Elbo, GaussianNllLossConfig, KendallGalLossConfig, KlSchedule};
use bayesburn::posterior::{moped, MuInit, PosteriorInit, Prior};
use bayesburn::train::{fit, Batch, FitConfig};
use bayesburn::{metrics, predict, Error, Result};
use bayesburn_fixtures::cli as device;
use burn::nn::{Linear, LinearConfig};
use burn::optim::SgdConfig;
use burn::prelude::*;

fn dev() -> Device {
    crate::support::device()
}

fn err<T>(r: Result<T>) -> Error {
    match r {
        Ok(_) => panic!("expected an error, got Ok"),
        Err(e) => e,
    }
}

/// Asserts an [`Error::InvalidParameter`] for `field` with `value`, named in the message.
fn invalid<T>(r: Result<T>, field: &str, value: &str) -> String {
    let e = err(r);
    let msg = e.to_string();
    match &e {
        Error::InvalidParameter { field: f, value: v, .. } => {
            assert_eq!((*f, v.as_str()), (field, value), "{msg}");
        }
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
    assert!(msg.contains(field) && msg.contains(value), "{msg}");
    println!("{msg}");
    msg
}

/// Asserts an [`Error::ShapeMismatch`] for `field` with the given shape `got`, named in the message.
fn shape<T>(r: Result<T>, field: &str, got: &str) -> String {
    let e = err(r);
    let msg = e.to_string();
    match &e {
        Error::ShapeMismatch { field: f, got: g, .. } => {
            assert_eq!((*f, g.as_str()), (field, got), "{msg}");
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert!(msg.contains(field) && msg.contains(got), "{msg}");
    println!("{msg}");
    msg
}

// ---------------------------------------------------------------------------------------------
// Configs
// ---------------------------------------------------------------------------------------------

#[test]
fn posterior_init_is_checked() {
    let cfg = |init| BayesLinearConfig::new(2, 2).with_init(init).try_init(&dev());
    invalid(cfg(PosteriorInit { mu: MuInit::KaimingUniform, rho: f64::NAN }), "rho init", "NaN");
    invalid(cfg(PosteriorInit { mu: MuInit::Normal { mean: 0.0, std: 0.0 }, rho: -5.0 }), "mu init std", "0");
    invalid(cfg(PosteriorInit { mu: MuInit::Uniform { low: 1.0, high: 1.0 }, rho: -5.0 }), "mu init high", "1");
}

#[test]
fn layer_priors_beyond_the_normal_are_checked() {
    let cfg = |prior| BayesLinearConfig::new(2, 2).with_prior(prior).try_init(&dev());
    invalid(cfg(Prior::Laplace { loc: 0.0, scale: 0.0 }), "prior scale", "0");
    invalid(cfg(Prior::StudentT { df: -1.0, loc: 0.0, scale: 1.0 }), "prior df", "-1");
    invalid(cfg(Prior::StudentT { df: 3.0, loc: f64::INFINITY, scale: 1.0 }), "prior loc", "inf");
    invalid(cfg(Prior::Horseshoe { tau: f64::NAN }), "prior tau", "NaN");
    let w = bayesburn::posterior::MeanField::from_init(&PosteriorInit::default(), [2, 2], 2, &dev());
    invalid(w.kl_estimate(&Prior::Horseshoe { tau: 0.1 }, None, 1), "samples", "1");
}

#[test]
fn conversion_and_prior_centres_are_checked() {
    use bayesburn::convert::{MopedConfig, ToBayesian};
    let linear = LinearConfig::new(3, 2).init(&dev());
    invalid(linear.to_bayesian(&MopedConfig::new().with_delta(0.0)), "delta", "0");
    let layer = linear.to_bayesian(&MopedConfig::new()).unwrap();
    shape(layer.clone().with_prior_centre(Tensor::zeros([2, 3], &dev()), None), "weight", "[2, 3]");
    shape(layer.clone().with_prior_centre(Tensor::zeros([3, 2], &dev()), None), "bias", "[]");
    shape(layer.with_prior_centre(Tensor::zeros([3, 2], &dev()), Some(Tensor::zeros([3], &dev()))), "bias", "[3]");
}

#[test]
fn conv_stride_zero_and_moped_delta_are_checked() {
    invalid(BayesConv2dConfig::new([1, 2], [3, 3]).with_stride([0, 1]).try_init(&dev()), "stride", "[0, 1]");
    let w = Tensor::<2>::ones([2, 2], &dev());
    invalid(moped(w, -0.1), "delta", "-0.1");
}

#[test]
fn head_configs_are_checked() {
    invalid(GaussianHeadConfig::new(4, 1).with_min_variance(0.0).try_init(&dev()), "min_variance", "0");
    invalid(GaussianHeadConfig::new(0, 1).try_init(&dev()), "d_input", "0");
    invalid(ClassificationHeadConfig::new(4, 1).try_init(&dev()), "n_classes", "1");
    let bad_prior = HeadKind::Bayesian {
        prior: Prior::Normal { loc: 0.0, scale: -2.0 },
        init: PosteriorInit::default(),
        estimator: Default::default(),
    };
    invalid(ClassificationHeadConfig::new(4, 3).with_kind(bad_prior).try_init(&dev()), "prior scale", "-2");
}

#[test]
fn loss_configs_are_checked() {
    invalid(GaussianNllLossConfig::beta_nll(1.5).try_init(), "beta", "1.5");
    invalid(KendallGalLossConfig::new().with_samples(0).try_init(), "samples", "0");
}

#[test]
fn kl_schedules_and_elbo_are_checked() {
    let elbo = || Elbo::new(100).unwrap();
    invalid(elbo().with_schedule(KlSchedule::Constant(-1.0)), "beta", "-1");
    invalid(elbo().with_schedule(KlSchedule::LinearWarmup { steps: 0, start: 0.0, end: 1.0 }), "steps", "0");
    invalid(elbo().with_schedule(KlSchedule::Blundell { batches_per_epoch: 0 }), "batches_per_epoch", "0");
    let nll = Tensor::<2>::ones([1, 200], &dev());
    invalid(elbo().loss(nll, None, 0), "batch_size", "200");
}

// ---------------------------------------------------------------------------------------------
// Tensors of the wrong rank or shape, empty inputs, zero samples
// ---------------------------------------------------------------------------------------------

#[test]
fn heads_check_their_input() {
    let head = GaussianHeadConfig::new(4, 1).try_init(&dev()).unwrap();
    shape(head.try_forward(Tensor::zeros([2, 3, 5], &dev())), "input", "[2, 3, 5]");
    let head = ClassificationHeadConfig::new(4, 3).try_init(&dev()).unwrap();
    shape(head.try_forward(Tensor::zeros([0, 3, 4], &dev())), "input (zero samples)", "[0, 3, 4]");
}

#[test]
fn losses_check_their_inputs() {
    let loss = GaussianNllLossConfig::new().try_init().unwrap();
    let (mean, var) = (Tensor::<3>::zeros([2, 3, 1], &dev()), Tensor::<3>::ones([2, 3, 1], &dev()));
    shape(loss.try_forward_no_reduction(mean, var, Tensor::zeros([4, 1], &dev())), "target", "[4, 1]");
    let loss = KendallGalLossConfig::new().try_init().unwrap();
    let (logits, var) = (Tensor::<3>::zeros([1, 2, 3], &dev()), Tensor::<3>::ones([1, 2, 3], &dev()));
    let labels = Tensor::<1, Int>::from_ints([0, 3], &dev());
    invalid(loss.try_forward_no_reduction(logits, var, labels), "labels", "3 (with K = 3 classes)");
    // One class: no classification (burn's one_hot would panic on it).
    let one = || Tensor::<3>::zeros([1, 2, 1], &dev());
    shape(loss.try_forward_no_reduction(one(), one(), Tensor::zeros([2], &dev())), "logits", "[1, 2, 1]");
}

#[test]
fn predictive_summaries_check_their_inputs() {
    shape(predict::regression(Tensor::zeros([0, 3, 1], &dev()), None), "means", "[0, 3, 1]");
    let summary = predict::regression(Tensor::zeros([2, 3, 1], &dev()), None).unwrap();
    invalid(summary.interval(1.5), "level", "1.5");
    // One class: no classification (burn's one_hot would panic on it).
    shape(predict::classification(Tensor::ones([2, 3, 1], &dev())), "probs", "[2, 3, 1]");
}

#[test]
fn distributions_check_shapes() {
    let e = Normal::new(Tensor::<1>::zeros([2], &dev()), Tensor::<1>::ones([3], &dev()));
    shape(e, "scale", "[3]");
    let c = Categorical::from_probs(Tensor::<2>::full([2, 3], 1.0 / 3.0, &dev())).unwrap();
    shape(c.try_log_prob(Tensor::<2, Int>::zeros([2, 2], &dev())), "value", "[2, 2]");
    // Both once panicked inside burn (found by tests/it/properties.rs).
    shape(Categorical::from_probs(Tensor::<2>::zeros([2, 0], &dev())), "probs", "[2, 0]");
    let e = Normal::new(Tensor::<1>::zeros([1], &dev()), Tensor::<1>::ones([0], &dev()));
    shape(e, "scale", "[0]");
}

#[test]
fn conv_input_smaller_than_the_kernel_is_a_shape_error() {
    let conv = BayesConv2dConfig::new([2, 1], [3, 3]).try_init(&dev()).unwrap();
    shape(conv.try_forward(Tensor::zeros([1, 1, 2, 2, 2], &dev())), "input (spatial size)", "[1, 1, 2, 2, 2]");
}

#[test]
fn metric_labels_of_another_length_are_a_shape_error() {
    let probs = Tensor::<2>::full([2, 2], 0.5, &dev());
    let msg = shape(metrics::brier_score(probs, Tensor::from_ints([0, 1, 1], &dev())), "labels", "[3]");
    assert!(msg.contains("[2] (one label per row of probs)"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Invalid distribution parameters, Monte-Carlo sample counts
// ---------------------------------------------------------------------------------------------

#[test]
fn distribution_parameters_are_checked() {
    let t = |v: f64| Tensor::<1>::from_floats([1.0, v], &dev());
    invalid(Normal::new(t(0.0), t(-1.0)), "scale", "-1 (at index [1])");
    invalid(Normal::new(t(f64::NAN), t(1.0)), "loc", "NaN (at index [1])");
    invalid(HalfNormal::new(t(0.0)), "scale", "0 (at index [1])");
    invalid(StudentT::new(0.0, t(0.0), t(1.0)), "df", "0");
    invalid(Bernoulli::from_probs(t(1.5)), "probs", "1.5 (at index [1])");
    invalid(Categorical::from_probs(Tensor::<2>::from_floats([[0.5, -2.0]], &dev())), "probs", "-2 (at index [0, 1])");
    invalid(ScaleMixtureNormal::new(1.5, 1.0, 0.1, [3], &dev()), "pi", "1.5");
    let p = Normal::new(t(0.0), t(1.0)).unwrap();
    invalid(kl_monte_carlo(&p, &p, 0), "n_samples", "0");
}

// ---------------------------------------------------------------------------------------------
// Ensembles, devices
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_ensembles_and_bad_fgsm_steps_are_rejected() {
    invalid(Ensemble::<u8>::new(vec![]), "members", "0");
    invalid(Ensemble::<u8>::init(0, |i| i as u8), "size", "0");
    let x = Tensor::<2>::ones([4, 2], &dev());
    invalid(fgsm_epsilon(&x, 0.0), "fraction", "0");
    invalid(fgsm_epsilon(&Tensor::<2>::ones([0, 2], &dev()), 0.01), "rows of x", "0");
}

#[test]
fn unknown_device_names_are_rejected() {
    invalid(device::from_name("tpu"), "name", "\"tpu\"");
}

// ---------------------------------------------------------------------------------------------
// Training: NaN in the data stops the fit with the step and the term
// ---------------------------------------------------------------------------------------------

#[test]
fn nan_in_the_data_stops_training_at_step_zero_naming_the_nll() {
    let device = dev().autodiff();
    let x = Tensor::<1>::from_floats([0.0, 1.0, f64::NAN, 3.0], &device).reshape([4, 1]);
    let y = Tensor::<1>::from_floats([0.0, 1.0, 2.0, 3.0], &device).reshape([4, 1]);
    let elbo = Elbo::new(4).unwrap();
    let model = LinearConfig::new(1, 1).init(&device);
    let mut optim = SgdConfig::new().init();
    let cfg = FitConfig::new(3, 4, 0.01).with_progress(false).with_shuffle(false);
    let step = |m: &Linear, b: &Batch| {
        let nll = (m.forward(b.select(x.clone())) - b.select(y.clone())).square().transpose();
        elbo.loss(nll, None, b.step)
    };
    let e = err(fit(model, &mut optim, 4, &cfg, step));
    let msg = e.to_string();
    match &e {
        Error::NonFinite { step, term, value } => {
            assert_eq!((*step, *term), (0, "nll"), "{msg}");
            assert!(value.is_nan(), "{msg}");
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    assert!(msg.contains("step 0") && msg.contains("nll term is NaN"), "{msg}");
    println!("{msg}");
}

#[test]
fn empty_training_set_is_rejected() {
    let device = dev().autodiff();
    let model = LinearConfig::new(1, 1).init(&device);
    let mut optim = SgdConfig::new().init();
    let cfg = FitConfig::new(3, 4, 0.01).with_progress(false);
    let step = |_: &Linear, _: &Batch| -> Result<_> { unreachable!("no batch of an empty set") };
    invalid(fit(model, &mut optim, 0, &cfg, step), "dataset size", "0");
}

/// `from_linear` is the MOPED path for a trained burn layer: a zero `delta` would give a
/// zero posterior sd.
#[test]
fn moped_from_linear_rejects_zero_delta() {
    let linear = LinearConfig::new(2, 2).init(&dev());
    invalid(BayesLinear::from_linear(&linear, 0.0, Prior::default()), "delta", "0");
}
