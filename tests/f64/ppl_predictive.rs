//! Predictive draws (from posterior samples and from a guide) and priors on a burn module's
//! parameters (`random_module!`), checked exactly or within 4 standard errors.

use crate::support::{device, host, tensor1, tensor2};
use bayesburn::distributions::Normal;
use bayesburn::noise;
use bayesburn::posterior::Prior;
use bayesburn::prelude::*;
use bayesburn::{
    infer::{AutoDelta, ModelPotential, Potential, Predictive},
    ppl::{trace, Ctx, Value, Values},
};
use bayesburn_fixtures::regression::{self, regression, D, N, NOISE_SD};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

#[test]
fn predictive_from_samples_draws_the_data_given_each_sample() {
    let device = device();
    let (xh, _) = regression::data();
    let x = tensor2(&xh, N, D, &device);
    let model = move |ctx: &mut Ctx| regression(ctx, x.clone(), None, None);
    let w = [0.5, -1.0, 0.0, 2.0, 1.0];
    let s = 2000;
    let sample: Values = [("w".to_string(), Value::from(tensor1(&w, &device)))].into_iter().collect();
    let draws = noise::with_seed(3, || Predictive::new(model).from_samples(&vec![sample; s])).unwrap();
    assert_eq!(draws["w"].shape(), &[s, D]);
    assert_eq!(draws["y"].shape(), &[s, N]);
    let y = draws["y"].to_vec();
    // y_i | w ~ N(x_i . w, sigma^2): the mean over S draws is within 4 SE = 4 sigma / sqrt(S)
    for i in [0, 7, 39] {
        let mean = (0..s).map(|k| y[k * N + i]).sum::<f64>() / s as f64;
        let expected: f64 = (0..D).map(|j| xh[i * D + j] * w[j]).sum();
        assert!((mean - expected).abs() < 4.0 * NOISE_SD / (s as f64).sqrt(), "y{i}: {mean} vs {expected}");
    }
}

#[test]
fn predictive_from_a_guide_uses_the_guide_draws() {
    let device = device();
    let (xh, _) = regression::data();
    let x = tensor2(&xh, N, D, &device);
    let model = move |ctx: &mut Ctx| regression(ctx, x.clone(), None, None);
    let mut guide = AutoDelta::new(&model).unwrap();
    guide.loc = guide.loc.map(|l| l.add_scalar(0.25));
    let draws = Predictive::new(model).from_guide(&guide, 5).unwrap();
    assert!(draws["w"].to_vec().iter().all(|&v| (v - 0.25).abs() < 1e-12));
    assert_eq!(draws["y"].shape(), &[5, N]);
    assert!(Predictive::new(|_: &mut Ctx| Ok(())).from_guide(&guide, 0).is_err());
}

/// y ~ N(net(x), 0.5) with a N(0, 1) prior on every weight of `net`.
#[model]
fn bayesian_linear(net: Linear, x: Tensor<2>, y: Tensor<2>) -> bayesburn::Result<Linear> {
    let net = random_module!("net", net, Prior::Normal { loc: 0.0, scale: 1.0 });
    let mean = net.forward(x);
    observe!("y", Normal::new_unchecked(mean.clone(), mean.ones_like().mul_scalar(0.5)), y);
    Ok(net)
}

#[test]
fn random_module_puts_a_site_on_every_parameter() {
    let device = device();
    let net = LinearConfig::new(2, 1).init(&device);
    let (xv, yv) = ([0.5, -1.0, 2.0, 0.3, -0.7, 1.1], [0.2, 1.5, -0.4]);
    let (x, y) = (tensor2(&xv, 3, 2, &device), tensor2(&yv, 3, 1, &device));
    let model = {
        let (net, x, y) = (net.clone(), x.clone(), y.clone());
        move |ctx: &mut Ctx| bayesian_linear(ctx, net.clone(), x.clone(), y.clone())
    };
    let (sampled, tr) = trace(&model).unwrap();
    let mut names = tr.names();
    names.sort();
    assert_eq!(names, vec!["net.bias", "net.weight", "y"]);
    // the returned module computes with the sampled values
    let (wv, bv) = (tr.get("net.weight").unwrap().value.to_vec(), tr.get("net.bias").unwrap().value.to_vec());
    let out = host(sampled.forward(x.clone()));
    assert!((out[0] - (xv[0] * wv[0] + xv[1] * wv[1] + bv[0])).abs() < 1e-12);
    // and NUTS sees it through ModelPotential: U(q) by hand, q = (weight [2, 1], bias [1])
    let pot = ModelPotential::new(model).unwrap();
    assert_eq!(pot.dim(), 3);
    let order: Vec<&str> = pot.layout().slots().iter().map(|s| s.name.as_str()).collect();
    let q = [0.3, -0.6, 0.9];
    let (w, b) = if order[0] == "net.weight" { ([q[0], q[1]], q[2]) } else { ([q[1], q[2]], q[0]) };
    let prior: f64 = q.iter().map(|v| -0.5 * v * v - LN_SQRT_2PI).sum();
    let lik: f64 = (0..3)
        .map(|i| {
            let m = xv[2 * i] * w[0] + xv[2 * i + 1] * w[1] + b;
            -0.5 * ((yv[i] - m) / 0.5f64).powi(2) - 0.5f64.ln() - LN_SQRT_2PI
        })
        .sum();
    let (u, _) = pot.value_and_grad(&q).unwrap();
    assert!((u + prior + lik).abs() < 1e-10, "U = {u}, by hand {}", -(prior + lik));
}
