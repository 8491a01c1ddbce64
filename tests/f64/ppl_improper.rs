//! Improper flat priors (`ImproperUniform`) and `factor!` in models: the potential NUTS sees
//! (exact, against the closed form), a NUTS run against an exact posterior, SVI with and
//! without a guide site for the flat prior, and the typed errors.
//!
//! The NUTS test: `mu` flat on R, `sigma` flat on `(0, inf)` (as `GreaterThan { low: 0 }`,
//! Stan's `real<lower=0> sigma;` with no statement), `y_i ~ N(mu, sigma)`, n = 20. Then
//! `sigma^2 | y ~ InverseGamma(n/2 - 1, S/2)` with `S = sum (y_i - ybar)^2`, so
//! `E[sigma^2] = S / (n - 4)`, and `E[mu] = ybar`, `Var(mu) = E[sigma^2] / n`. 2 chains x
//! 1000 draws after 500 warmup (seed fixed): each mean within 4 MCSE (a correct sampler fails
//! with probability ~6e-5 each), the sd of mu within 10 % (its relative error is about
//! 1 / sqrt(2 ESS), ~2 % here), R-hat <= 1.01. Without the half-line's log-Jacobian the
//! target is the flat prior on ln sigma, whose `E[sigma^2] = S / (n - 3)` is 6 % off, about 7
//! MCSE. A few seconds in the dev profile.

use crate::support::{device, host, scalar, tensor1};
use bayesburn::distributions::{Constraint, Distribution, ImproperUniform, Normal};
use bayesburn::infer::mcmc::diagnostics::summary;
use bayesburn::infer::mcmc::{ChainMethod, Mcmc, NutsConfig};
use bayesburn::infer::{AutoDelta, AutoNormal, ModelGuide, ModelPotential, Potential, Svi, TraceElbo};
use bayesburn::ppl::{model, trace, Ctx};
use bayesburn::{noise, Error, Result};
use burn::optim::AdamConfig;
use burn::prelude::*;

const Y: [f64; 20] =
    [1.3, 0.2, 2.9, 1.8, -0.4, 1.1, 2.2, 0.7, 1.9, 3.1, 0.4, 1.5, 2.6, -0.1, 1.2, 2.0, 0.9, 1.7, 2.4, 0.3];

#[model]
fn flat_normal(y: Tensor<1>, low: f64) -> Result<()> {
    let device = y.device();
    let mu: Tensor<1> = sample!("mu", ImproperUniform::new(Constraint::Real, [1], &device)?);
    let sigma: Tensor<1> = sample!("sigma", ImproperUniform::new(Constraint::GreaterThan { low }, [1], &device)?);
    let n = y.dims()[0];
    observe!("y", Normal::new(mu.expand([n]), sigma.expand([n]))?, y);
    Ok(())
}

/// `y ~ N(mu, 1)` with `mu ~ N(0, 10)`, the likelihood written as an `observe!` or a `factor!`.
#[model]
fn normal_mean(y: Tensor<1>, as_factor: bool) -> Result<()> {
    let device = y.device();
    let mu: Tensor<1> = sample!("mu", Normal::new(Tensor::zeros([1], &device), Tensor::full([1], 10.0, &device))?);
    let n = y.dims()[0];
    let lik = Normal::new(mu.expand([n]), Tensor::ones([n], &device))?;
    if as_factor {
        factor!("y", lik.log_prob(y));
    } else {
        observe!("y", lik, y);
    }
    Ok(())
}

fn ln_normal(y: f64, mu: f64, sigma: f64) -> f64 {
    -0.5 * ((y - mu) / sigma).powi(2) - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
}

#[test]
fn improper_uniform_is_flat_and_sampling_it_is_a_typed_error() {
    let device = device();
    let flat = ImproperUniform::new(Constraint::PositiveOrdered, [2, 3], &device).unwrap();
    let x = Tensor::<2>::from_floats([[0.5, 1.0, 4.0], [0.1, 0.2, 0.3]], &device);
    assert_eq!(host(flat.log_prob(x)), vec![0.0; 6]);
    assert!(matches!(flat.sample(), Err(Error::Model { .. })));
    let start = host(flat.init_draw());
    assert!(start.chunks(3).all(|r| r[0] > 0.0 && r[0] < r[1] && r[1] < r[2]), "{start:?}");
    let bad = |c: Constraint, shape: [usize; 1]| ImproperUniform::new(c, shape, &device).unwrap_err();
    assert!(matches!(bad(Constraint::Discrete, [2]), Error::InvalidParameter { field: "support", .. }));
    assert!(matches!(
        bad(Constraint::GreaterThan { low: f64::NAN }, [2]),
        Error::InvalidParameter { field: "support", .. }
    ));
    assert!(matches!(
        bad(Constraint::Interval { low: 1.0, high: 0.0 }, [2]),
        Error::InvalidParameter { field: "support", .. }
    ));
    assert!(matches!(bad(Constraint::Real, [0]), Error::InvalidParameter { field: "shape", .. }));
    assert!(matches!(bad(Constraint::Simplex, [1]), Error::ShapeMismatch { field: "shape", .. }));
    // A plain run has nothing to draw the flat site from: the error names the site and the fix.
    let y = tensor1(&Y, &device);
    let err = trace(&|ctx: &mut Ctx| flat_normal(ctx, y.clone(), 0.0)).unwrap_err();
    match &err {
        Error::Model { site, fix, .. } => assert!(site == "mu" && fix.contains("NUTS"), "{err}"),
        other => panic!("{other}"),
    }
}

#[test]
fn the_potential_of_flat_priors_is_the_likelihood_and_the_log_jacobian() {
    let device = device();
    let y = tensor1(&Y, &device);
    let low = 0.5;
    let potential = ModelPotential::new(move |ctx: &mut Ctx| flat_normal(ctx, y.clone(), low)).unwrap();
    for q in [[0.3f64, -0.2], [1.4, 0.7], [-2.0, 1.5]] {
        let sigma = low + q[1].exp();
        // -log lik - log |d sigma / d q1| (= q1); the flat priors add nothing
        let want = -Y.iter().map(|&v| ln_normal(v, q[0], sigma)).sum::<f64>() - q[1];
        let (got, grad) = potential.value_and_grad(&q).unwrap();
        assert!((got - want).abs() < 1e-9, "U({q:?}) = {got}, closed form {want}");
        let dmu = -Y.iter().map(|&v| (v - q[0]) / sigma.powi(2)).sum::<f64>();
        assert!((grad[0] - dmu).abs() < 1e-9, "dU/dmu {} vs {dmu}", grad[0]);
    }
}

#[test]
fn nuts_with_flat_priors_matches_the_exact_posterior() {
    let device = device();
    let y = tensor1(&Y, &device);
    let potential = ModelPotential::new(move |ctx: &mut Ctx| flat_normal(ctx, y.clone(), 0.0)).unwrap();
    let config = NutsConfig::default()
        .with_num_warmup(500)
        .with_num_samples(1000)
        .with_num_chains(2)
        .with_seed(3)
        .with_chain_method(ChainMethod::Parallel);
    let result = Mcmc::new(config).unwrap().run(&potential).unwrap();
    let n = Y.len() as f64;
    let ybar = Y.iter().sum::<f64>() / n;
    let s = Y.iter().map(|v| (v - ybar).powi(2)).sum::<f64>();
    let (var_mean, mu_sd) = (s / (n - 4.0), (s / (n - 4.0) / n).sqrt());
    let mu = summary(&result.param(0).unwrap()).unwrap();
    let var = summary(&result.map(|q| q[1].exp().powi(2))).unwrap();
    println!(
        "flat priors: mu {:.4} (exact {ybar:.4}, MCSE {:.4}), sd {:.4} (exact {mu_sd:.4}); sigma^2 {:.4} (exact {var_mean:.4}, MCSE {:.4})",
        mu.mean, mu.mcse_mean, mu.sd, var.mean, var.mcse_mean
    );
    assert!((mu.mean - ybar).abs() <= 4.0 * mu.mcse_mean, "mu {} vs {ybar}", mu.mean);
    assert!((var.mean - var_mean).abs() <= 4.0 * var.mcse_mean, "sigma^2 {} vs {var_mean}", var.mean);
    assert!((mu.sd / mu_sd - 1.0).abs() <= 0.10, "sd of mu {} vs {mu_sd}", mu.sd);
    assert!(mu.rhat <= 1.01 && var.rhat <= 1.01, "R-hat {} {}", mu.rhat, var.rhat);
}

#[test]
fn factor_adds_its_log_density_like_an_observe() {
    let device = device();
    let y = tensor1(&Y[..6], &device);
    let (y1, y2) = (y.clone(), y.clone());
    let observed = ModelPotential::new(move |ctx: &mut Ctx| normal_mean(ctx, y1.clone(), false)).unwrap();
    let factored = ModelPotential::new(move |ctx: &mut Ctx| normal_mean(ctx, y2.clone(), true)).unwrap();
    for q in [[0.0], [1.7], [-3.2]] {
        let (a, ga) = observed.value_and_grad(&q).unwrap();
        let (b, gb) = factored.value_and_grad(&q).unwrap();
        assert!((a - b).abs() < 1e-12 && (ga[0] - gb[0]).abs() < 1e-12, "U {a} vs {b}, grad {ga:?} vs {gb:?}");
    }
    // In SVI the factor is part of the log-likelihood term: with a point-mass guide the loss is
    // minus the log joint at the point.
    let model = move |ctx: &mut Ctx| normal_mean(ctx, y.clone(), true);
    let guide = AutoDelta::new(&model).unwrap();
    let svi = Svi::new(model, guide, TraceElbo::new(1).unwrap(), AdamConfig::new().init()).unwrap();
    let step = svi.evaluate().unwrap();
    let want = -(ln_normal(0.0, 0.0, 10.0) + Y[..6].iter().map(|&v| ln_normal(v, 0.0, 1.0)).sum::<f64>());
    assert!((step.loss - want).abs() < 1e-9, "loss {} vs {want}", step.loss);
    // a factor's name is a site name like any other
    #[model]
    fn twice(x: Tensor<1>) -> Result<()> {
        factor!("t", x.clone());
        factor!("t", x);
        Ok(())
    }
    let x = tensor1(&[0.0], &device);
    assert!(matches!(trace(&|ctx: &mut Ctx| twice(ctx, x.clone())), Err(Error::DuplicateSite { .. })));
}

/// A guide for `flat_normal` that forgets `mu`.
#[model]
fn sigma_only(device: Device) -> Result<()> {
    let loc = param!("loc", Tensor::<1>::zeros([1], &device));
    sample!("sigma", bayesburn::distributions::LogNormal::new(loc, Tensor::full([1], 0.1, &device))?);
    Ok(())
}

#[test]
fn svi_needs_a_guide_site_for_an_improper_prior() {
    let device = device();
    let y = tensor1(&Y, &device);
    let model = move |ctx: &mut Ctx| flat_normal(ctx, y.clone(), 0.0);
    let d = device.clone();
    let guide = ModelGuide::new(move |ctx: &mut Ctx| sigma_only(ctx, d.clone())).unwrap();
    let mut svi = Svi::new(model.clone(), guide, TraceElbo::new(1).unwrap(), AdamConfig::new().init()).unwrap();
    match svi.step(0.01).unwrap_err() {
        Error::Model { site, fix, .. } => assert!(site == "mu" && fix.contains("guide"), "{site}: {fix}"),
        other => panic!("{other}"),
    }
    // An auto guide has a site for every latent, the flat ones included.
    noise::with_seed(1, || {
        let guide = AutoNormal::new(&model, 0.1).unwrap();
        let mut svi = Svi::new(model, guide, TraceElbo::new(1).unwrap(), AdamConfig::new().init()).unwrap();
        for _ in 0..200 {
            svi.step(0.05).unwrap();
        }
        let loc = host(svi.guide().loc.val());
        let ybar = Y.iter().sum::<f64>() / Y.len() as f64;
        // a loose check that it moved to the data (the mean-field optimum is exactly ybar)
        assert!((loc[0] - ybar).abs() < 0.5, "guide mean of mu {} vs {ybar}", loc[0]);
        assert!(scalar(svi.guide().loc.val()).is_finite());
    });
}
