//! Criterion benchmarks of the costs issue 9 names: a `BayesLinear` forward for S ∈ {1, 10, 100}
//! with each estimator, one ELBO training step of the peers' toy MLP (1-64-64-1, batch 128),
//! the T = 100 predictive over 10,000 points for Bayes-by-backprop, MC dropout (each composed and
//! as a fused `DenseStack`) and a 5-member ensemble, and the KL of a 64×64 layer. All on burn's `flex` CPU backend.
//!
//! `cargo bench` runs them (a few minutes); `cargo bench --no-run` only compiles them (what
//! `.ci/run` does). Speed is measured here and in the side-by-side peer runs, never asserted in a
//! test.

use bayesburn::layers::{BayesLinear, BayesLinearConfig, Estimator, McDropout, McDropoutConfig};
use bayesburn::objective::{gaussian_nll, Elbo};
use bayesburn::predict::{Activation, DenseStack};
use bayesburn::{noise, Bayesian};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

// The allocator the example binaries use too (a dev-dependency; the library imposes none).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ESTIMATORS: [(&str, Estimator); 3] = [
    ("reparam", Estimator::Reparameterization),
    ("flipout", Estimator::Flipout),
    ("local", Estimator::LocalReparameterization),
];

/// The peers' toy network: 1-64-64-1 with ReLU, every weight Bayesian.
#[derive(Module, Bayesian, Debug)]
struct Mlp {
    l1: BayesLinear,
    l2: BayesLinear,
    l3: BayesLinear,
}

impl Mlp {
    fn new(estimator: Estimator, device: &Device) -> Self {
        let layer = |i, o| BayesLinearConfig::new(i, o).with_estimator(estimator).init(device);
        Mlp { l1: layer(1, 64), l2: layer(64, 64), l3: layer(64, 1) }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.l3.forward(relu(self.l2.forward(relu(self.l1.forward(x)))))
    }
}

/// The same layout with MC dropout (p = 0.1) after each hidden layer.
#[derive(Module, Bayesian, Debug)]
struct DropoutMlp {
    l1: Linear,
    d1: McDropout,
    l2: Linear,
    d2: McDropout,
    l3: Linear,
}

impl DropoutMlp {
    fn new(device: &Device) -> Self {
        DropoutMlp {
            l1: LinearConfig::new(1, 64).init(device),
            d1: McDropoutConfig::new(0.1).init(),
            l2: LinearConfig::new(64, 64).init(device),
            d2: McDropoutConfig::new(0.1).init(),
            l3: LinearConfig::new(64, 1).init(device),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.l3.forward(self.d2.forward(relu(self.l2.forward(self.d1.forward(relu(self.l1.forward(x)))))))
    }
}

fn linear_forward(c: &mut Criterion) {
    let device = Device::flex();
    let mut group = c.benchmark_group("linear_forward_64x64_batch128");
    for (name, estimator) in ESTIMATORS {
        let layer = BayesLinearConfig::new(64, 64).with_estimator(estimator).init(&device);
        for s in [1usize, 10, 100] {
            let x = noise::normal::<3>([1, 128, 64], &device).expand([s, 128, 64]);
            group.bench_with_input(BenchmarkId::new(name, format!("S={s}")), &s, |b, _| {
                b.iter(|| layer.forward(x.clone()).into_data())
            });
        }
    }
    group.finish();
}

fn elbo_step(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let mut group = c.benchmark_group("elbo_step_toy_mlp_batch128");
    for (name, estimator) in &ESTIMATORS[..2] {
        let x = noise::uniform::<3>([1, 128, 1], -1.0, 1.0, &device);
        let y = x.clone().powi_scalar(3);
        let elbo = Elbo::new(1024).expect("N > 0");
        let mut optim = AdamConfig::new().init();
        let mut model = Some(Mlp::new(*estimator, &device));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let m = model.take().expect("model");
                let nll = gaussian_nll(m.forward(x.clone()), y.clone(), y.full_like(0.5)).squeeze_dim::<2>(2);
                let terms = elbo.loss(nll, m.kl(), 0).expect("valid batch");
                let grads = GradientsParams::from_grads(terms.loss.backward(), &m);
                model = Some(optim.step(1e-2, m, grads));
            })
        });
    }
    group.finish();
}

/// T = 100 predictive samples over 10,000 points, reduced to mean and variance per point: with
/// burn's operations in chunks of 1,000 rows, and as one fused `predict::DenseStack`.
fn predictive(c: &mut Criterion) {
    let device = Device::flex();
    let mut group = c.benchmark_group("predictive_T100_10k_points");
    group.sample_size(10);
    let xs: Vec<Tensor<3>> =
        (0..10).map(|_| noise::uniform::<3>([1, 1000, 1], -1.5, 1.5, &device).expand([100, 1000, 1])).collect();
    let summarise = |out: Tensor<3>| {
        let mean = out.clone().mean_dim(0);
        (mean.into_data(), out.var(0).into_data())
    };
    let bbb = Mlp::new(Estimator::Reparameterization, &device);
    group.bench_function("bbb", |b| {
        b.iter(|| xs.iter().for_each(|x| drop(black_box(summarise(bbb.forward(x.clone()))))))
    });
    let dropout = DropoutMlp::new(&device);
    group.bench_function("mc_dropout", |b| {
        b.iter(|| xs.iter().for_each(|x| drop(black_box(summarise(dropout.forward(x.clone()))))))
    });
    // The same two predictives as one `DenseStack` over all 10,000 points (weights drawn once).
    let grid = noise::uniform::<2>([10_000, 1], -1.5, 1.5, &device);
    let stack_summary = |stack: &DenseStack| {
        let s = stack.regression(grid.clone()).expect("a valid stack");
        (s.mean.into_data(), s.epistemic_var.into_data())
    };
    group.bench_function("bbb_dense_stack", |b| {
        b.iter(|| {
            let stack = DenseStack::new(100)
                .and_then(|s| s.bayes_linear(&bbb.l1, Activation::Relu))
                .and_then(|s| s.bayes_linear(&bbb.l2, Activation::Relu))
                .and_then(|s| s.bayes_linear(&bbb.l3, Activation::Identity))
                .expect("a valid stack");
            stack_summary(&stack)
        })
    });
    let dropout_stack = DenseStack::new(100)
        .and_then(|s| s.linear(&dropout.l1, Activation::Relu))
        .and_then(|s| s.mc_dropout(&dropout.d1))
        .and_then(|s| s.linear(&dropout.l2, Activation::Relu))
        .and_then(|s| s.mc_dropout(&dropout.d2))
        .and_then(|s| s.linear(&dropout.l3, Activation::Identity))
        .expect("a valid stack");
    group.bench_function("mc_dropout_dense_stack", |b| b.iter(|| stack_summary(&dropout_stack)));
    let members: Vec<Mlp> =
        (0..5).map(|_| Mlp::new(Estimator::Reparameterization, &device).with_mode(bayesburn::Mode::Mean)).collect();
    group.bench_function("ensemble_5", |b| {
        b.iter(|| {
            xs.iter()
                .map(|x| {
                    let one = x.clone().slice(s![0..1]);
                    summarise(Tensor::cat(members.iter().map(|m| m.forward(one.clone())).collect(), 0))
                })
                .count()
        })
    });
    group.finish();
}

fn kl(c: &mut Criterion) {
    let device = Device::flex();
    let layer = BayesLinearConfig::new(64, 64).init(&device);
    c.bench_function("kl_64x64", |b| b.iter(|| layer.kl().expect("Bayesian layer").into_data()));
}

criterion_group!(benches, linear_forward, elbo_step, predictive, kl);
criterion_main!(benches);
