//! The fit loop: it trains, and it stops with a typed error naming the step and the term when
//! the loss goes non-finite.

use bayesburn::objective::Elbo;
use bayesburn::train::{fit, FitConfig};
use bayesburn::{noise, Error};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, SgdConfig};
use burn::prelude::*;

fn problem(device: &Device) -> (Tensor<2>, Tensor<2>) {
    // y = 2x - 1 on 64 points.
    let x: Vec<f32> = (0..64).map(|i| i as f32 / 32.0 - 1.0).collect();
    let y: Vec<f32> = x.iter().map(|v| 2.0 * v - 1.0).collect();
    (
        Tensor::<1>::from_floats(x.as_slice(), device).reshape([64, 1]),
        Tensor::<1>::from_floats(y.as_slice(), device).reshape([64, 1]),
    )
}

fn mse_step(
    elbo: &Elbo,
    x: &Tensor<2>,
    y: &Tensor<2>,
) -> impl FnMut(&Linear, &bayesburn::train::Batch) -> bayesburn::Result<bayesburn::objective::ElboTerms> {
    let (elbo, x, y) = (elbo.clone(), x.clone(), y.clone());
    move |model, batch| {
        let pred = model.forward(batch.select(x.clone()));
        let nll = (pred - batch.select(y.clone())).square().transpose(); // [1, B]
        elbo.loss(nll, None, batch.step)
    }
}

#[test]
fn fit_reduces_the_loss() {
    let device = crate::support::device().autodiff();
    let (x, y) = problem(&device);
    let model = LinearConfig::new(1, 1).init(&device);
    let elbo = Elbo::new(64).unwrap();
    let mut optim = AdamConfig::new().init();
    let cfg = FitConfig::new(60, 16, 0.05).with_progress(false);
    let (_, history) = noise::with_seed(1, || fit(model, &mut optim, 64, &cfg, mse_step(&elbo, &x, &y))).unwrap();
    assert_eq!(history.steps, 60 * 4);
    let first = history.epochs.first().unwrap().loss;
    let last = history.epochs.last().unwrap().loss;
    assert!(last < 0.01 * first, "loss {first} -> {last}");
}

#[test]
fn divergence_stops_with_step_and_term() {
    let device = crate::support::device().autodiff();
    let (x, y) = problem(&device);
    let model = LinearConfig::new(1, 1).init(&device);
    let elbo = Elbo::new(64).unwrap();
    // Plain SGD with a huge learning rate: the weights overflow f32 within a few steps.
    let mut optim = SgdConfig::new().init();
    let cfg = FitConfig::new(50, 64, 1e30).with_progress(false).with_shuffle(false);
    let err = fit(model, &mut optim, 64, &cfg, mse_step(&elbo, &x, &y)).unwrap_err();
    match &err {
        Error::NonFinite { step, term, value } => {
            assert!(*step >= 1, "step 0 is finite by construction");
            assert!(["nll", "loss"].contains(term), "{term}");
            assert!(!value.is_finite());
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    assert!(err.to_string().starts_with("training stopped at step "), "{err}");
}

#[test]
fn invalid_fit_configs_are_typed_errors() {
    let device = crate::support::device().autodiff();
    let (x, y) = problem(&device);
    let elbo = Elbo::new(64).unwrap();
    for (cfg, n, field) in [
        (FitConfig::new(0, 16, 0.1), 64, "epochs"),
        (FitConfig::new(1, 0, 0.1), 64, "batch_size"),
        (FitConfig::new(1, 16, -0.1), 64, "learning_rate"),
        (FitConfig::new(1, 16, 0.1), 0, "dataset size"),
    ] {
        let model = LinearConfig::new(1, 1).init(&device);
        let mut optim = AdamConfig::new().init();
        let err = fit(model, &mut optim, n, &cfg.with_progress(false), mse_step(&elbo, &x, &y)).unwrap_err();
        assert!(matches!(&err, Error::InvalidParameter { field: f, .. } if *f == field), "{err}");
    }
}

mod health {
    //! The three seeded failures of a Bayes-by-backprop run that the posterior health monitor
    //! must name (issue 8), each against a healthy control with the same data and model.
    use bayesburn::health::HealthWarning;
    use bayesburn::layers::{BayesLinear, BayesLinearConfig};
    use bayesburn::objective::{gaussian_nll, Elbo, KlSchedule};
    use bayesburn::posterior::{MuInit, PosteriorInit};
    use bayesburn::train::{fit_bayesian, FitConfig, History};
    use bayesburn::{noise, Bayesian};
    use burn::optim::AdamConfig;
    use burn::prelude::*;
    use burn::tensor::activation::relu;

    #[derive(Module, Bayesian, Debug)]
    struct Net {
        hidden: BayesLinear,
        out: BayesLinear,
    }

    const N: usize = 64;

    /// Trains a 1-16-1 BBB network on y = sin(3x) + noise with the given rho init, KL weight
    /// and learning rate, and returns the run's history.
    fn run(rho: f64, beta: f64, lr: f64) -> History {
        noise::with_seed(3, || {
            let device = crate::support::device().autodiff();
            let init = PosteriorInit { mu: MuInit::Normal { mean: 0.0, std: 0.1 }, rho };
            let layer = |i, o| BayesLinearConfig::new(i, o).with_init(init).init(&device);
            let net = Net { hidden: layer(1, 16), out: layer(16, 1) };
            let x = noise::uniform::<2>([N, 1], -1.0, 1.0, &device);
            let y = x.clone().mul_scalar(3.0).sin() + noise::normal::<2>([N, 1], &device).mul_scalar(0.1);
            let elbo = Elbo::new(N).unwrap().with_schedule(KlSchedule::Constant(beta)).unwrap();
            let config = FitConfig::new(40, 16, lr).with_progress(false);
            let (_, history) = fit_bayesian(net, &mut AdamConfig::new().init(), N, &config, |m, b| {
                let pred = m.out.forward(relu(m.hidden.forward(b.select(x.clone()).unsqueeze())));
                let yb = b.select(y.clone()).unsqueeze::<3>();
                elbo.loss(gaussian_nll(pred, yb.clone(), yb.full_like(0.01)).squeeze_dim(2), m.kl(), b.step)
            })
            .unwrap();
            history
        })
    }

    #[test]
    fn a_healthy_run_raises_no_warning() {
        let history = run(-5.0, 1.0, 1e-2);
        assert!(history.warnings.is_empty(), "{:?}", history.warnings);
        assert!(history.epochs.last().unwrap().loss < history.epochs[0].loss, "the control must learn");
    }

    #[test]
    fn rho_initialised_at_minus_12_is_a_sigma_underflow() {
        let history = run(-12.0, 1.0, 1e-2);
        assert!(
            matches!(history.warnings[..], [HealthWarning::SigmaUnderflow { epoch: 0, .. }]),
            "{:?}",
            history.warnings
        );
    }

    #[test]
    fn a_kl_weight_of_1000_dominates_the_loss() {
        let history = run(-5.0, 1000.0, 1e-2);
        assert!(
            history.warnings.iter().any(|w| matches!(w, HealthWarning::KlDominates { epoch: 1, .. })),
            "{:?}",
            history.warnings
        );
        assert!(!history.warnings.iter().any(|w| matches!(w, HealthWarning::SigmaUnderflow { .. })));
    }

    #[test]
    fn a_learning_rate_of_10_stalls_the_loss() {
        let history = run(-5.0, 1.0, 10.0);
        assert!(
            history.warnings.iter().any(|w| matches!(w, HealthWarning::LossStalled { .. })),
            "{:?}",
            history.warnings
        );
        assert!(!history.warnings.iter().any(|w| matches!(w, HealthWarning::SigmaUnderflow { .. })));
    }
}
