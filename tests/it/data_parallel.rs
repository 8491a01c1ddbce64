//! `train::fit_data_parallel`: the minibatch split between devices gives the ELBO trajectory of
//! one device on the whole minibatch (deterministic weights), and every device draws its own
//! weight noise.
//!
//! flex has one CPU device; listing `Device::flex().autodiff()` twice gives two workers (two
//! threads, two shards, two noise streams) on it, which is what the split and the bookkeeping
//! need. On CUDA the list is `Device::cuda(0)`, `Device::cuda(1)`, ...

use std::sync::Mutex;

use bayesburn::layers::{BayesLinear, BayesLinearConfig};
use bayesburn::objective::{gaussian_nll, Elbo};
use bayesburn::train::{fit, fit_data_parallel, DataParallelConfig, FitConfig, History, Shard};
use bayesburn::{noise, Bayesian, Error, Mode};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::support::host;

/// 1-16-1 with a ReLU, both layers variational.
#[derive(Module, Bayesian, Debug)]
struct Net {
    hidden: BayesLinear,
    out: BayesLinear,
}

impl Net {
    fn new(mode: Mode, device: &Device) -> Net {
        noise::with_seed(3, || Net {
            hidden: BayesLinearConfig::new(1, 16).init(device).with_mode(mode),
            out: BayesLinearConfig::new(16, 1).init(device).with_mode(mode),
        })
    }

    /// `[B, 1]` -> `[1, B, 1]` (one weight sample).
    fn forward(&self, x: Tensor<2>) -> Tensor<3> {
        self.out.forward(relu(self.hidden.forward(x.unsqueeze::<3>())))
    }

    /// Per-example Gaussian NLL with sd 0.1, `[1, B]`.
    fn nll(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<2> {
        let mean = self.forward(x);
        let var = mean.zeros_like().add_scalar(0.01);
        gaussian_nll(mean, y.unsqueeze::<3>(), var).squeeze_dim::<2>(2)
    }
}

const N: usize = 64;

fn data(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let x: Vec<f32> = (0..N).map(|i| i as f32 / 32.0 - 1.0).collect();
    let y: Vec<f32> = x.iter().map(|v| (3.0 * v).sin()).collect();
    (
        Tensor::<1>::from_floats(x.as_slice(), device).reshape([N, 1]),
        Tensor::<1>::from_floats(y.as_slice(), device).reshape([N, 1]),
    )
}

fn one_device(mode: Mode, config: &FitConfig) -> (Net, History) {
    let device = crate::support::device().autodiff();
    let (x, y) = data(&device);
    let elbo = Elbo::new(N).unwrap();
    let mut optim = AdamConfig::new().init();
    noise::with_seed(11, || {
        fit(Net::new(mode, &device), &mut optim, N, config, |model, batch| {
            elbo.loss(model.nll(batch.select(x.clone()), batch.select(y.clone())), model.kl(), batch.step)
        })
    })
    .unwrap()
}

fn data_parallel(mode: Mode, config: &FitConfig, parallel: &DataParallelConfig) -> (Net, History) {
    let device = parallel.devices[0].clone();
    let (x, y) = data(&device);
    let elbo = Elbo::new(N).unwrap();
    let mut optim = AdamConfig::new().init();
    noise::with_seed(11, || {
        fit_data_parallel(Net::new(mode, &device), &mut optim, N, config, parallel, |model, shard| {
            shard.loss(&elbo, model.nll(shard.select(x.clone()), shard.select(y.clone())), || model.kl())
        })
    })
    .unwrap()
}

fn params(net: &Net) -> Vec<f64> {
    [&net.hidden, &net.out]
        .iter()
        .flat_map(|l| {
            let (w, b) = (&l.weight, l.bias.as_ref().unwrap());
            [w.mu.val(), w.rho.val()]
                .into_iter()
                .flat_map(host)
                .chain([b.mu.val(), b.rho.val()].into_iter().flat_map(host))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Two (and three) workers on shards of each minibatch take the steps one device takes on the
/// whole minibatch, when the weights are deterministic (`Mode::Mean`): the summed shard losses
/// are the minibatch's negative ELBO and the summed gradients its gradient, up to the order of
/// f32 additions. Each of the 24 steps adds a relative rounding difference of order
/// `B * eps_f32 = 16 * 6e-8 = 1e-6` to the parameters; Adam's normalised steps do not amplify
/// it beyond the step count, so 24 steps stay below `3e-5`; the tolerance is `1e-4` relative
/// (on the per-epoch ELBO and on every parameter, with an absolute floor of `1e-4` for
/// parameters near zero).
#[test]
fn shards_reach_the_one_device_elbo() {
    let config = FitConfig::new(6, 16, 1e-2).with_progress(false);
    let (reference, one) = one_device(Mode::Mean, &config);
    let device = crate::support::device().autodiff();
    // Three workers split 16 as 6 + 5 + 5: uneven shards, the KL on the first only.
    for workers in [2, 3] {
        let parallel = DataParallelConfig::new(vec![device.clone(); workers], 5);
        let (model, many) = data_parallel(Mode::Mean, &config, &parallel);
        assert_eq!(many.steps, one.steps);
        for (e, (a, b)) in one.epochs.iter().zip(&many.epochs).enumerate() {
            for (term, x, y) in [("loss", a.loss, b.loss), ("nll", a.nll, b.nll), ("kl", a.kl, b.kl)] {
                assert!((x - y).abs() <= 1e-4 * x.abs(), "{workers} workers, epoch {e} {term}: {x} vs {y}");
            }
        }
        for (i, (a, b)) in params(&reference).iter().zip(params(&model)).enumerate() {
            assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{workers} workers, parameter {i}: {a} vs {b}");
        }
    }
}

/// In `Mode::Sample` every worker draws its own weights: the same input run through each
/// worker's replica at the same step gives different outputs, the streams are fixed by the
/// config's seed (a rerun repeats them, another seed changes them).
#[test]
fn every_device_draws_its_own_noise() {
    let device = crate::support::device().autodiff();
    let (x, y) = data(&device);
    let probe = Tensor::<2>::from_floats([[0.5]], &device);
    let elbo = Elbo::new(N).unwrap();
    let config = FitConfig::new(1, 32, 1e-2).with_progress(false);
    let run = |seed: u64| {
        let seen = Mutex::new(Vec::new());
        let parallel = DataParallelConfig::new(vec![device.clone(); 2], seed);
        let mut optim = AdamConfig::new().init();
        let step = |model: &Net, shard: &Shard| {
            let out = host(model.forward(probe.clone().to_device(&shard.device)))[0];
            seen.lock().unwrap().push((shard.step, shard.device_index, out));
            shard.loss(&elbo, model.nll(shard.select(x.clone()), shard.select(y.clone())), || model.kl())
        };
        noise::with_seed(11, || {
            fit_data_parallel(Net::new(Mode::Sample, &device), &mut optim, N, &config, &parallel, step)
        })
        .unwrap();
        let mut seen = seen.into_inner().unwrap();
        seen.sort_by_key(|a| (a.0, a.1));
        seen
    };
    let first = run(5);
    assert_eq!(first.len(), 2 * 2, "two steps, two workers each");
    for pair in first.chunks(2) {
        assert_eq!((pair[0].1, pair[1].1), (0, 1));
        assert_ne!(pair[0].2, pair[1].2, "step {}: both workers drew the same weights", pair[0].0);
    }
    assert_eq!(run(5), first, "the same seed repeats the streams");
    let other = run(6);
    assert!(first.iter().zip(&other).all(|(a, b)| a.2 != b.2), "another seed changes every draw");
}

#[test]
fn data_parallel_inputs_are_typed_errors() {
    let device = crate::support::device().autodiff();
    let config = FitConfig::new(1, 16, 1e-2).with_progress(false);
    let mut optim = AdamConfig::new().init();
    let err = fit_data_parallel(
        Net::new(Mode::Mean, &device),
        &mut optim,
        N,
        &config,
        &DataParallelConfig::new(vec![], 0),
        |_, _| unreachable!("no device, no step"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { field: "devices", .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "DataParallelConfig: devices must be a list of at least one device, got []; list the devices to train on, \
         e.g. vec![Device::flex().autodiff(); 2]"
    );

    let (x, y) = data(&device);
    let elbo = Elbo::new(N).unwrap();
    let parallel = DataParallelConfig::new(vec![device.clone(); 2], 0);
    let err = fit_data_parallel(Net::new(Mode::Mean, &device), &mut optim, N, &config, &parallel, |model, shard| {
        // The whole dataset's NLL instead of the shard's.
        shard.loss(&elbo, model.nll(x.clone(), y.clone()), || model.kl())
    })
    .unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { context: "Shard::loss", field: "nll", .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "Shard::loss: nll must have shape [S, 8] with S >= 1 (the shard's examples), got [1, 64]; pass the \
         per-example NLL of this shard's rows (Shard::select), one row per sample"
    );
}
