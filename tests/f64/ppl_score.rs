//! Inference that is right for every site it accepts: the score-function term of a guide site
//! whose draws are not reparameterized (Bernoulli, Poisson), checked against the exact ELBO
//! gradient; auto guides under a subsampled plate scale their local `log q` like the model's.
//!
//! Tolerances: K independent one-particle gradient estimates, their mean within 4 standard
//! errors (sd / sqrt(K)) of the exact gradient (a correct estimator fails with probability
//! ~6e-5).

use crate::support::{device, scalar, tensor1};
use bayesburn::distributions::{Bernoulli, Constraint, Normal, Poisson};
use bayesburn::infer::{AutoMultivariateNormal, AutoNormal, ElboObjective, ModelGuide, TraceElbo, TraceMeanFieldElbo};
use bayesburn::noise;
use bayesburn::ppl::{Ctx, ParamStore};
use bayesburn::prelude::*;
use burn::prelude::*;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

fn log_normal_pdf(x: f64, mean: f64, sd: f64) -> f64 {
    let z = (x - mean) / sd;
    -0.5 * z * z - sd.ln() - LN_SQRT_2PI
}

/// `z ~ Bernoulli(0.3)`, `x ~ N(2 z, 1)`.
#[model]
fn coin(x: Tensor<1>) -> bayesburn::Result<()> {
    let z: Tensor<1> = sample!("z", Bernoulli::from_probs(x.ones_like().mul_scalar(0.3))?);
    observe!("x", Normal::new_unchecked(z.mul_scalar(2.0), x.ones_like()), x);
    Ok(())
}

/// `q(z) = Bernoulli(sigmoid(logit))`: a guide site without a reparameterization.
#[model]
fn coin_guide(device: Device) -> bayesburn::Result<()> {
    let logit: Tensor<1> = param!("logit", Tensor::full([1], -1.0, &device));
    sample!("z", Bernoulli::from_logits(logit)?);
    Ok(())
}

/// `n ~ Poisson(3)`, `x ~ N(n, 2)`.
#[model]
fn counts(x: Tensor<1>) -> bayesburn::Result<()> {
    let n: Tensor<1> = sample!("n", Poisson::new(x.ones_like().mul_scalar(3.0))?);
    observe!("x", Normal::new_unchecked(n, x.ones_like().mul_scalar(2.0)), x);
    Ok(())
}

/// `q(n) = Poisson(rate)`, `rate` stored as `ln rate` (Constraint::Positive).
#[model]
fn counts_guide(device: Device) -> bayesburn::Result<()> {
    let rate: Tensor<1> = param!("rate", Tensor::full([1], 2.5, &device), Constraint::Positive);
    sample!("n", Poisson::new(rate)?);
    Ok(())
}

/// Mean and standard error of `k` one-particle estimates of d(loss)/d(param `name`).
fn gradient_estimates<M, G>(model: &M, guide: &ModelGuide<G>, name: &str, k: usize) -> (f64, f64)
where
    M: bayesburn::ppl::Model,
    G: bayesburn::ppl::Model + Clone,
{
    let elbo = TraceElbo::new(1).unwrap();
    let g: Vec<f64> = noise::with_seed(17, || {
        (0..k)
            .map(|_| {
                let est = elbo.estimate(model, guide, &ParamStore::new()).unwrap();
                let grads = est.loss.backward();
                let p = guide.params().unconstrained(name).unwrap();
                scalar(p.grad(&grads).unwrap())
            })
            .collect()
    });
    let mean = g.iter().sum::<f64>() / k as f64;
    let var = g.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (k as f64 - 1.0);
    (mean, (var / k as f64).sqrt())
}

#[test]
fn a_bernoulli_guide_site_gets_the_exact_gradient_in_expectation() {
    let device = device();
    let x = 3.0;
    let xt = tensor1(&[x], &device);
    let model = move |ctx: &mut Ctx| coin(ctx, xt.clone());
    let d = device.clone();
    let guide = ModelGuide::new(move |ctx: &mut Ctx| coin_guide(ctx, d.clone())).unwrap();
    // ELBO(theta) = sum_z q(z) f(z), f(z) = log p(z) + log p(x | z) - log q(z);
    // dELBO/dtheta = s (1 - s) (f(1) - f(0)) with s = sigmoid(theta) (E[d log q] = 0).
    let s = 1.0 / (1.0 + (1.0f64).exp());
    let f = |z: f64, q: f64| (if z == 1.0 { 0.3f64 } else { 0.7 }).ln() + log_normal_pdf(x, 2.0 * z, 1.0) - q.ln();
    let exact = -(s * (1.0 - s) * (f(1.0, s) - f(0.0, 1.0 - s)));
    let (mean, se) = gradient_estimates(&model, &guide, "logit", 3000);
    println!("Bernoulli guide: d loss / d logit = {mean:.4} +- {se:.4} (exact {exact:.4})");
    assert!((mean - exact).abs() < 4.0 * se, "{mean} +- {se} vs exact {exact}");
    // The test can tell: without the score-function term the expectation is 0.
    assert!(exact.abs() > 8.0 * se, "exact {exact} not separable from 0 at SE {se}");
}

#[test]
fn a_poisson_guide_site_gets_the_exact_gradient_in_expectation() {
    let device = device();
    let x = 4.0;
    let xt = tensor1(&[x], &device);
    let model = move |ctx: &mut Ctx| counts(ctx, xt.clone());
    let d = device.clone();
    let guide = ModelGuide::new(move |ctx: &mut Ctx| counts_guide(ctx, d.clone())).unwrap();
    // With u = ln(rate): d log q(n) / du = n - rate, so dELBO/du = sum_n q(n) (n - rate) f(n).
    let (lam, prior) = (2.5f64, 3.0f64);
    let ln_fact = |n: usize| (1..=n).map(|k| (k as f64).ln()).sum::<f64>();
    let ln_pois = |n: usize, r: f64| n as f64 * r.ln() - r - ln_fact(n);
    let exact = -(0..80)
        .map(|n| {
            let f = ln_pois(n, prior) + log_normal_pdf(x, n as f64, 2.0) - ln_pois(n, lam);
            ln_pois(n, lam).exp() * (n as f64 - lam) * f
        })
        .sum::<f64>();
    let (mean, se) = gradient_estimates(&model, &guide, "rate", 3000);
    println!("Poisson guide: d loss / d ln rate = {mean:.4} +- {se:.4} (exact {exact:.4})");
    assert!((mean - exact).abs() < 4.0 * se, "{mean} +- {se} vs exact {exact}");
    assert!(exact.abs() > 8.0 * se, "exact {exact} not separable from 0 at SE {se}");
}

/// A local latent `z_i ~ N(0, 1)` for each of `n` elements, `b` of them per run.
#[model]
fn locals(device: Device, n: usize, b: usize) -> bayesburn::Result<()> {
    plate!("data", n, subsample = b, {
        sample!("z", Normal::new(Tensor::<1>::zeros([b], &device), Tensor::ones([b], &device))?);
    });
    Ok(())
}

#[test]
fn auto_guides_scale_the_local_log_q_of_a_subsampled_plate() {
    let device = device();
    let (n, b) = (40, 10);
    let d = device.clone();
    let model = move |ctx: &mut Ctx| locals(ctx, d.clone(), n, b);
    let guide = AutoNormal::new(&model, 0.1).unwrap();
    assert_eq!(guide.layout().slots()[0].scale, 4.0);
    // The full-data KL: n KL(N(0, 0.1^2) || N(0, 1)) = n (ln 10 + 0.01 / 2 - 1 / 2).
    let full = n as f64 * ((10.0f64).ln() + 0.005 - 0.5);
    let closed = TraceMeanFieldElbo::new(1).unwrap().estimate(&model, &guide, &ParamStore::new()).unwrap();
    let closed = scalar(closed.kl);
    assert!((closed - full).abs() < 1e-9 * full, "closed form {closed} vs {full}");
    // The Monte-Carlo KL of TraceElbo: (n / b) sum over the batch of log q - log p.
    let elbo = TraceElbo::new(1).unwrap();
    let k = 400;
    let kls: Vec<f64> = noise::with_seed(23, || {
        (0..k)
            .map(|_| {
                let est = elbo.estimate(&model, &guide, &ParamStore::new()).unwrap();
                scalar(est.kl)
            })
            .collect()
    });
    let mean = kls.iter().sum::<f64>() / k as f64;
    let se = (kls.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (k as f64 - 1.0) / k as f64).sqrt();
    println!("subsampled local KL: Monte Carlo {mean:.3} +- {se:.3}, exact {full:.3}");
    assert!((mean - full).abs() < 4.0 * se, "{mean} +- {se} vs {full}");
    // A joint guide cannot scale per site: a typed error naming it.
    let d = device.clone();
    let err = AutoMultivariateNormal::new(&move |ctx: &mut Ctx| locals(ctx, d.clone(), n, b), 0.1).unwrap_err();
    assert!(matches!(&err, bayesburn::Error::Model { site, .. } if site == "z"), "{err}");
    println!("{err}");
}
