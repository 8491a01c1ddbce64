//! The whole-network converter (`convert::ToBayesian`, `#[derive(ToBayesian)]`): a trained
//! deterministic network's twin computes exactly the deterministic outputs in `Mode::Mean`, and
//! so do its samples when the posterior sds go to 0; the twin carries the KL, the MOPED prior
//! centre and the estimator asked for.

use bayesburn::convert::{MopedConfig, ToBayesian};
use bayesburn::layers::Estimator;
use bayesburn::posterior::{MeanField, Prior};
use bayesburn::prelude::*;
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d, Relu, Tanh};
use burn::prelude::*;

use crate::support::{device, host};

#[derive(Module, ToBayesian, Debug)]
#[to_bayesian(twin = BayesMlp)]
pub struct Mlp {
    hidden: Vec<Linear>,
    activation: Relu,
    dropout: Dropout,
    out: Linear,
    #[module(skip)]
    label: String,
}

impl Mlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = x;
        for layer in &self.hidden {
            h = self.dropout.forward(self.activation.forward(layer.forward(h)));
        }
        self.out.forward(h)
    }
}

impl BayesMlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let mut h = x;
        for layer in &self.hidden {
            h = self.dropout.forward(self.activation.forward(layer.forward(h)));
        }
        self.out.forward(h)
    }
}

/// A small CNN: convolution, tanh, max-pool, dense head (the default twin name `BayesCnn`).
#[derive(Module, ToBayesian, Debug)]
pub struct Cnn {
    conv: Conv2d,
    activation: Tanh,
    pool: MaxPool2d,
    head: Linear,
}

impl Cnn {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let h = self.pool.forward(self.activation.forward(self.conv.forward(x)));
        self.head.forward(h.flatten::<2>(1, 3))
    }
}

impl BayesCnn {
    fn forward(&self, x: Tensor<5>) -> Tensor<3> {
        let h = self.activation.forward(self.conv.forward(x));
        let [s, n, c, hh, ww] = h.dims();
        let pooled = self.pool.forward(h.reshape([s * n, c, hh, ww]));
        let [_, c, hh, ww] = pooled.dims();
        self.head.forward(pooled.reshape([s, n, c * hh * ww]))
    }
}

fn mlp(device: &Device) -> Mlp {
    noise::with_seed(1, || Mlp {
        hidden: vec![LinearConfig::new(3, 16).init(device), LinearConfig::new(16, 8).init(device)],
        activation: Relu::new(),
        dropout: DropoutConfig::new(0.5).init(),
        out: LinearConfig::new(8, 2).init(device),
        label: "mlp".into(),
    })
}

fn cnn(device: &Device) -> Cnn {
    Cnn {
        conv: Conv2dConfig::new([2, 4], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device),
        activation: Tanh::new(),
        pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        head: LinearConfig::new(4 * 3 * 3, 3).init(device),
    }
}

fn inputs<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    noise::with_seed(9, || noise::normal(shape, device))
}

/// Every `rho` of `field` set to `rho` (posterior sd `softplus(rho)`).
fn with_rho<const D: usize>(field: &mut MeanField<D>, rho: f64) {
    field.rho = Param::from_tensor(field.rho.val().full_like(rho));
}

#[test]
fn converted_mlp_in_mean_mode_equals_the_deterministic_network() {
    let device = device();
    let net = mlp(&device);
    let bnn = net.to_bayesian(&MopedConfig::new()).unwrap();
    assert_eq!(bnn.label, "mlp");
    assert_eq!(bnn.hidden.len(), 2);
    let x = inputs([5, 3], &device);
    let want = host(net.forward(x.clone()));
    let got = bnn.clone().with_mode(Mode::Mean).forward(x.clone().unsqueeze::<3>().repeat_dim(0, 3));
    for s in 0..3 {
        assert_eq!(host(got.clone().slice(s..s + 1)), want, "sample {s}");
    }
    // With the default delta the sampled network differs, and the twin has a KL term.
    let sampled = host(bnn.forward(x.unsqueeze::<3>()));
    assert!(sampled.iter().zip(&want).any(|(a, b)| a != b));
    assert!(host(bnn.kl().unwrap())[0].is_finite());
    assert_eq!(bnn.posterior_stats().len(), 3);
}

#[test]
fn samples_equal_the_deterministic_network_as_sigma_goes_to_zero() {
    let device = device();
    let net = mlp(&device);
    let x = inputs([5, 3], &device);
    let want = host(net.forward(x.clone()));
    for estimator in [Estimator::Reparameterization, Estimator::Flipout] {
        let mut bnn = net.to_bayesian(&MopedConfig::new().with_estimator(estimator)).unwrap();
        // softplus(-100) = 3.7e-44: every weight sample is its mean to f32 rounding.
        for layer in bnn.hidden.iter_mut().chain(std::iter::once(&mut bnn.out)) {
            assert_eq!(layer.estimator(), estimator);
            with_rho(&mut layer.weight, -100.0);
            with_rho(layer.bias.as_mut().unwrap(), -100.0);
        }
        let got = host(bnn.forward(x.clone().unsqueeze::<3>().repeat_dim(0, 4)));
        for s in 0..4 {
            assert_eq!(got[s * want.len()..(s + 1) * want.len()], want[..], "{estimator} sample {s}");
        }
    }
}

#[test]
fn converted_cnn_in_mean_mode_equals_the_deterministic_network() {
    let device = device();
    let net = noise::with_seed(2, || cnn(&device));
    let bnn: BayesCnn = net.to_bayesian(&MopedConfig::new().with_delta(0.2)).unwrap();
    let x = inputs([4, 2, 6, 6], &device);
    let want = host(net.forward(x.clone()));
    let got = host(bnn.clone().with_mode(Mode::Mean).forward(x.clone().unsqueeze::<5>()));
    assert_eq!(got, want);
    let mut sharp = bnn;
    with_rho(&mut sharp.conv.weight, -100.0);
    with_rho(sharp.conv.bias.as_mut().unwrap(), -100.0);
    with_rho(&mut sharp.head.weight, -100.0);
    with_rho(sharp.head.bias.as_mut().unwrap(), -100.0);
    assert_eq!(host(sharp.forward(x.unsqueeze::<5>())), want);
}

#[test]
fn the_prior_is_centred_on_the_pretrained_weights_when_asked() {
    let device = device();
    let net = mlp(&device);
    let prior = Prior::Laplace { loc: 0.0, scale: 0.1 };
    let centred = net.to_bayesian(&MopedConfig::new().with_prior(prior).with_centre_prior(true)).unwrap();
    let plain = net.to_bayesian(&MopedConfig::new().with_prior(prior)).unwrap();
    let centre = centred.out.prior_centre.as_ref().expect("a centre");
    assert_eq!(host(centre.weight.clone()), host(net.out.weight.val()));
    assert_eq!(host(centre.bias.clone().unwrap()), host(net.out.bias.as_ref().unwrap().val()));
    assert!(plain.out.prior_centre.is_none());
    assert_eq!(centred.out.prior(), prior);
    // Centred on w with mu = w, the KL is that of a zero-mean posterior against the zero-centred
    // prior: smaller than against a prior at 0 for the same posterior.
    let (a, b) = noise::with_seed(3, || (centred.out.kl_estimate(200).unwrap(), plain.out.kl_estimate(200).unwrap()));
    assert!(a.value + 4.0 * a.std_error() < b.value - 4.0 * b.std_error(), "centred {a} vs at 0 {b}");
}

#[test]
fn a_network_converted_on_the_autodiff_device_trains() {
    // The twin's parameters are leaves: the KL and the output have gradients in mu and rho.
    let device = device().autodiff();
    let net = mlp(&device);
    let bnn =
        net.to_bayesian(&MopedConfig::new().with_prior(Prior::StudentT { df: 3.0, loc: 0.0, scale: 1.0 })).unwrap();
    let loss = bnn.forward(inputs([1, 5, 3], &device)).sum() + bnn.kl().unwrap();
    let grads = loss.backward();
    for g in [bnn.out.weight.mu.val(), bnn.out.weight.rho.val(), bnn.hidden[0].weight.rho.val()] {
        assert!(host(g.grad(&grads).expect("a gradient")).iter().all(|v| v.is_finite()));
    }
}
