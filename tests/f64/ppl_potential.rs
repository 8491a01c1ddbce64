//! `ModelPotential`: U and its gradient against the log density written out by hand, with a
//! positive (exp) and a unit-interval (sigmoid) site, so both log-Jacobians are checked.

use crate::support::{device, tensor1};
use bayesburn::distributions::{Bernoulli, HalfNormal, Normal};
use bayesburn::prelude::*;
use bayesburn::{
    distributions::Beta,
    infer::{ModelPotential, Potential},
    ppl::Ctx,
};
use burn::prelude::*;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
const Y: [f64; 4] = [0.3, -1.1, 0.8, 2.0];
const K: [f64; 5] = [1.0, 0.0, 1.0, 1.0, 0.0];

/// sigma ~ HalfNormal(1), y_i ~ N(0, sigma); p ~ Beta(2, 3), k_j ~ Bernoulli(p).
#[model]
fn two_constraints(device: Device) -> bayesburn::Result<()> {
    let sigma: Tensor<1> = sample!("sigma", HalfNormal::new(Tensor::ones([1], &device))?);
    let p: Tensor<1> = sample!("p", Beta::new(Tensor::full([1], 2.0, &device), Tensor::full([1], 3.0, &device))?);
    observe!("y", Normal::new(Tensor::zeros([4], &device), sigma.expand([4]))?, tensor1(&Y, &device));
    observe!("k", Bernoulli::from_probs_unchecked(p.expand([5])), tensor1(&K, &device));
    Ok(())
}

/// U(a, b) by hand: sigma = exp(a), p = sigmoid(b); log-Jacobians a and ln p + ln(1 - p).
fn u_by_hand(q: &[f64]) -> f64 {
    let (a, b) = (q[0], q[1]);
    let sigma = a.exp();
    let p = 1.0 / (1.0 + (-b).exp());
    let half_normal = 2f64.ln() - 0.5 * sigma * sigma - LN_SQRT_2PI;
    let beta = (p.ln() + 2.0 * (1.0 - p).ln()) - statrs::function::beta::ln_beta(2.0, 3.0);
    let lik_y: f64 = Y.iter().map(|y| -0.5 * (y / sigma).powi(2) - sigma.ln() - LN_SQRT_2PI).sum();
    let lik_k: f64 = K.iter().map(|k| k * p.ln() + (1.0 - k) * (1.0 - p).ln()).sum();
    let log_jacobian = a + p.ln() + (1.0 - p).ln();
    -(half_normal + beta + lik_y + lik_k + log_jacobian)
}

#[test]
fn u_and_grad_match_the_hand_computed_density() {
    let device = device();
    let pot = ModelPotential::new(move |ctx: &mut Ctx| two_constraints(ctx, device.clone())).unwrap();
    assert_eq!(pot.dim(), 2);
    assert_eq!(pot.layout().slots().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["sigma", "p"]);
    for q in [[0.0, 0.0], [-0.7, 1.3], [0.4, -2.1]] {
        let (u, grad) = pot.value_and_grad(&q).unwrap();
        let expected = u_by_hand(&q);
        assert!((u - expected).abs() < 1e-10, "U({q:?}) = {u}, by hand {expected}");
        let h = 1e-6;
        for j in 0..2 {
            let (mut a, mut b) = (q, q);
            a[j] += h;
            b[j] -= h;
            let fd = (u_by_hand(&a) - u_by_hand(&b)) / (2.0 * h);
            let fd_model = (pot.value(&a).unwrap() - pot.value(&b).unwrap()) / (2.0 * h);
            assert!((grad[j] - fd).abs() < 1e-6, "dU/dq{j} at {q:?}: {} vs {fd}", grad[j]);
            assert!((grad[j] - fd_model).abs() < 1e-6, "dU/dq{j} at {q:?}: {} vs {fd_model}", grad[j]);
        }
        // the map back: sigma = exp(a), p = sigmoid(b), and its inverse
        let values = pot.constrain(&q).unwrap();
        let sigma = values["sigma"].to_vec()[0];
        assert!((sigma - q[0].exp()).abs() < 1e-12);
        let back = pot.unconstrain(&values).unwrap();
        assert!((back[0] - q[0]).abs() < 1e-9 && (back[1] - q[1]).abs() < 1e-9, "{back:?}");
    }
    assert!(matches!(pot.value_and_grad(&[0.0]), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn a_plain_device_or_a_discrete_latent_is_an_error() {
    let plain = crate::support::plain();
    let err = ModelPotential::new(move |ctx: &mut Ctx| two_constraints(ctx, plain.clone())).unwrap_err();
    assert!(matches!(err, Error::Model { ref site, .. } if site == "sigma"), "{err}");
    let d = device();
    let discrete = move |ctx: &mut Ctx| -> bayesburn::Result<()> {
        ctx.sample("z", Bernoulli::from_probs_unchecked(Tensor::<1>::full([1], 0.5, &d)))?;
        Ok(())
    };
    let err = ModelPotential::new(discrete).unwrap_err();
    assert!(matches!(err, Error::Model { ref site, .. } if site == "z"), "{err}");
}
