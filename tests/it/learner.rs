//! burn's `Learner` on an [`ElboModel`] (feature `learner`): the same minibatches, optimizer and
//! learning rate as `train::fit` give the same steps, and the uncertainty metrics run inside it.

use std::sync::Arc;

use bayesburn::layers::{BayesLinear, BayesLinearConfig};
use bayesburn::learner::{ElboForward, ElboModel, HealthMetric, Predictive, UncertaintyMetric};
use bayesburn::objective::{gaussian_nll, Elbo};
use bayesburn::train::{fit, FitConfig};
use bayesburn::{noise, Bayesian, Mode};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::InMemDataset;
use burn::lr_scheduler::constant::ConstantLr;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::train::metric::LossMetric;
use burn::train::{Learner, SupervisedTraining};

use crate::support::host;

const N: usize = 64;
const BATCH: usize = 16;
const EPOCHS: usize = 3;
const LR: f64 = 1e-2;

/// 1-16-1, both layers variational; `n` is the training-set size the ELBO scales with.
#[derive(Module, Bayesian, Debug)]
struct Net {
    hidden: BayesLinear,
    out: BayesLinear,
    n: usize,
}

#[derive(Debug, Clone)]
struct XyBatch {
    x: Tensor<2>,
    y: Tensor<2>,
}

impl Net {
    fn new(device: &Device) -> Net {
        noise::with_seed(3, || Net {
            hidden: BayesLinearConfig::new(1, 16).init(device).with_mode(Mode::Mean),
            out: BayesLinearConfig::new(16, 1).init(device).with_mode(Mode::Mean),
            n: N,
        })
    }

    /// Per-example Gaussian NLL with sd 0.1, `[1, B]`, and the mean `[1, B]`.
    fn nll(&self, x: Tensor<2>, y: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let mean = self.out.forward(relu(self.hidden.forward(x.unsqueeze::<3>())));
        let var = mean.zeros_like().add_scalar(0.01);
        (gaussian_nll(mean.clone(), y.unsqueeze::<3>(), var).squeeze_dim::<2>(2), mean.squeeze_dim::<2>(2))
    }
}

impl ElboModel for Net {
    type Batch = XyBatch;

    fn elbo(&self) -> Elbo {
        Elbo::new(self.n).expect("n > 0")
    }

    fn forward_elbo(&self, batch: &XyBatch) -> bayesburn::Result<ElboForward> {
        let (nll, means) = self.nll(batch.x.clone(), batch.y.clone());
        let vars = means.zeros_like().add_scalar(0.01);
        let targets = batch.y.clone().squeeze_dim::<1>(1);
        Ok(ElboForward { nll, predictive: Some(Predictive::Regression { means, vars, targets }) })
    }
}

bayesburn::elbo_learner_steps!(Net);

fn data() -> (Vec<f32>, Vec<f32>) {
    let x: Vec<f32> = (0..N).map(|i| i as f32 / 32.0 - 1.0).collect();
    let y: Vec<f32> = x.iter().map(|v| (3.0 * v).sin()).collect();
    (x, y)
}

/// Rows by index, in the order the data loader hands them over.
#[derive(Clone)]
struct Rows {
    x: Arc<Vec<f32>>,
    y: Arc<Vec<f32>>,
}

impl Batcher<usize, XyBatch> for Rows {
    fn batch(&self, items: Vec<usize>, device: &Device) -> XyBatch {
        let column = |v: &[f32]| {
            let picked: Vec<f32> = items.iter().map(|&i| v[i]).collect();
            Tensor::<1>::from_floats(picked.as_slice(), device).reshape([items.len(), 1])
        };
        XyBatch { x: column(&self.x), y: column(&self.y) }
    }
}

fn params(net: &Net) -> Vec<f64> {
    [&net.hidden, &net.out]
        .iter()
        .flat_map(|l| {
            let b = l.bias.as_ref().unwrap();
            let weights = [l.weight.mu.val(), l.weight.rho.val()].into_iter().flat_map(host);
            weights.chain([b.mu.val(), b.rho.val()].into_iter().flat_map(host)).collect::<Vec<_>>()
        })
        .collect()
}

/// burn's Learner (single device, batches in order) and `train::fit` (no shuffling) on the same
/// 3 x 4 minibatches with Adam at the same learning rate: the same loss (`Elbo::loss`, N / B and
/// the KL once) and so the same 12 steps. The two loops differ in nothing but the order of
/// host-side bookkeeping, so the parameters agree to f32 rounding; the bound is that of
/// `tests/it/data_parallel.rs` (12 steps of relative rounding `B * eps_f32 = 1e-6`, tolerance
/// `1e-4`), as is the ELBO on the whole set.
#[test]
fn the_learner_takes_the_steps_of_fit() {
    let device = crate::support::device().autodiff();
    let (xs, ys) = data();
    let rows = Rows { x: Arc::new(xs.clone()), y: Arc::new(ys.clone()) };
    let whole = rows.batch((0..N).collect(), &device);

    let config = FitConfig::new(EPOCHS, BATCH, LR).with_progress(false).with_shuffle(false);
    let mut optim = AdamConfig::new().init();
    let (reference, _) = fit(Net::new(&device), &mut optim, N, &config, |model, batch| {
        let (nll, _) = model.nll(batch.select(whole.x.clone()), batch.select(whole.y.clone()));
        model.elbo().loss(nll, model.kl(), batch.step)
    })
    .unwrap();

    let dir = std::env::temp_dir().join(format!("bayesburn-learner-{}", std::process::id()));
    let train = DataLoaderBuilder::new(rows.clone()).batch_size(BATCH).build(InMemDataset::new((0..N).collect()));
    let valid = DataLoaderBuilder::new(rows).batch_size(N).build(InMemDataset::new((0..N).collect()));
    let result = SupervisedTraining::new(&dir, train, valid)
        .metric_train_numeric(LossMetric::new())
        .metric_train_numeric(UncertaintyMetric::kl_share())
        .metric_valid_numeric(UncertaintyMetric::nll())
        .metric_valid_numeric(UncertaintyMetric::coverage(0.9))
        .metric_valid_numeric(UncertaintyMetric::epistemic_sd())
        .metric_train(HealthMetric::new(EPOCHS))
        .num_epochs(EPOCHS)
        .launch(Learner::new(Net::new(&device), AdamConfig::new().init(), ConstantLr::from(LR)));
    let learned = result.model;
    let _ = std::fs::remove_dir_all(&dir);

    for (i, (a, b)) in params(&reference).iter().zip(params(&learned)).enumerate() {
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "parameter {i}: fit {a} vs Learner {b}");
    }
    let elbo = |net: &Net| {
        let (nll, _) = net.nll(whole.x.clone().without_autodiff(), whole.y.clone().without_autodiff());
        net.elbo().loss(nll, net.kl(), 0).unwrap().values()[0]
    };
    let (a, b) = (elbo(&reference.valid()), elbo(&learned));
    assert!((a - b).abs() <= 1e-4 * a.abs(), "ELBO: fit {a} vs Learner {b}");
}
