//! ELBO estimators: a subsampled plate and the closed-form KL give the same expected ELBO as
//! the full-data Monte-Carlo one (statistical tests, 4 standard errors); a hand-written guide
//! is the same distribution as the auto guide it spells out; MAP by AutoDelta; NaN data stop
//! SVI with a typed error.

use crate::support::{device, host, scalar, tensor1, tensor2};
use bayesburn::distributions::Normal;
use bayesburn::noise;
use bayesburn::prelude::*;
use bayesburn::{
    distributions::Constraint,
    infer::{AutoDelta, AutoNormal, ElboObjective, Guide, ModelGuide, Svi, TraceElbo, TraceMeanFieldElbo},
    ppl::{Ctx, ParamStore},
};
use bayesburn_fixtures::regression::{self, exact, regression, D, N};
use burn::optim::AdamConfig;
use burn::prelude::*;

/// Mean and standard error of `reps` one-particle ELBO estimates.
fn elbo_stats(reps: usize, mut one: impl FnMut() -> f64) -> (f64, f64) {
    let v: Vec<f64> = (0..reps).map(|_| one()).collect();
    let m = v.iter().sum::<f64>() / reps as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (reps - 1) as f64;
    (m, (var / reps as f64).sqrt())
}

fn agree(name: &str, a: (f64, f64), b: (f64, f64)) {
    let se = (a.1 * a.1 + b.1 * b.1).sqrt();
    println!("{name}: {:.3} ± {:.3} vs {:.3} ± {:.3}", a.0, a.1, b.0, b.1);
    assert!((a.0 - b.0).abs() < 4.0 * se, "{name}: {} vs {} differ by more than 4 SE ({se})", a.0, b.0);
}

#[test]
fn a_subsampled_plate_and_the_closed_form_kl_give_the_full_data_expected_elbo() {
    let device = device();
    let (xh, yh) = regression::data();
    let (x, y) = (tensor2(&xh, N, D, &device), tensor1(&yh, &device));
    let (x2, y2) = (x.clone(), y.clone());
    let full = move |ctx: &mut Ctx| regression(ctx, x.clone(), Some(y.clone()), None);
    let sub = move |ctx: &mut Ctx| regression(ctx, x2.clone(), Some(y2.clone()), Some(10));
    // a guide near the posterior, so the estimates are not dominated by a bad fit
    let mut guide = AutoNormal::new(&full, 0.2).unwrap();
    guide.loc = guide.loc.map(|l| l.add_scalar(0.9));
    let params = ParamStore::new();
    let mc = TraceElbo::new(1).unwrap();
    let mf = TraceMeanFieldElbo::new(1).unwrap();
    let reps = 1500;
    let (f, s, c) = noise::with_seed(11, || {
        let f = elbo_stats(reps, || -scalar(mc.estimate(&full, &guide, &params).unwrap().loss));
        let s = elbo_stats(reps, || -scalar(mc.estimate(&sub, &guide, &params).unwrap().loss));
        let c = elbo_stats(reps, || -scalar(mf.estimate(&full, &guide, &params).unwrap().loss));
        (f, s, c)
    });
    agree("subsampled (10 of 40) vs full", s, f);
    agree("closed-form KL vs Monte-Carlo KL", c, f);
    // the subsampled estimate is noisier but unbiased; without the N / batch scale it would
    // sit near a quarter of the log-likelihood, far outside these bounds
    assert!(s.1 > f.1);
}

/// The guide AutoNormal spells out, written by hand.
#[model]
fn hand_guide(device: Device) -> bayesburn::Result<()> {
    let loc: Tensor<1> = param!("loc", Tensor::zeros([D], &device));
    let scale: Tensor<1> = param!("scale", Tensor::full([D], 0.1, &device), Constraint::PositiveSoftplus);
    sample!("w", Normal::new_unchecked(loc, scale));
    Ok(())
}

#[test]
fn a_hand_written_guide_is_the_auto_guide_it_spells_out() {
    let device = device();
    let (xh, yh) = regression::data();
    let (x, y) = (tensor2(&xh, N, D, &device), tensor1(&yh, &device));
    let model = move |ctx: &mut Ctx| regression(ctx, x.clone(), Some(y.clone()), None);
    let auto = AutoNormal::new(&model, 0.1).unwrap();
    let d2 = device.clone();
    let hand = ModelGuide::new(move |ctx: &mut Ctx| hand_guide(ctx, d2.clone())).unwrap();
    assert_eq!(hand.params().names(), vec!["loc", "scale"]);
    let a = noise::with_seed(5, || auto.draw().unwrap());
    let b = noise::with_seed(5, || hand.draw().unwrap());
    let (va, vb) = (a.values["w"].to_vec(), b.values["w"].to_vec());
    for (p, q) in va.iter().zip(&vb) {
        assert!((p - q).abs() < 1e-12, "{va:?} vs {vb:?}");
    }
    assert!((scalar(a.log_q) - scalar(b.log_q)).abs() < 1e-9);
}

#[test]
fn auto_delta_finds_the_map_point() {
    let device = device();
    let (xh, yh) = regression::data();
    let ex = exact(&xh, &yh);
    let (x, y) = (tensor2(&xh, N, D, &device), tensor1(&yh, &device));
    let model = move |ctx: &mut Ctx| regression(ctx, x.clone(), Some(y.clone()), None);
    let guide = AutoDelta::new(&model).unwrap();
    let mut svi = Svi::new(model, guide, TraceElbo::new(1).unwrap(), AdamConfig::new().init()).unwrap();
    for _ in 0..1500 {
        svi.step(0.05).unwrap();
    }
    // Gaussian posterior: the MAP point is the posterior mean; no noise in a delta guide, so
    // Adam converges to it (to its step size).
    let w = svi.guide().median().unwrap()["w"].to_vec();
    for (j, (w, exact)) in w.iter().zip(&ex.mean).enumerate().take(D) {
        assert!((w - exact).abs() < 1e-3, "w{j}: {w} vs {exact}");
    }
}

#[test]
fn nan_data_stop_svi_with_the_step_and_the_term() {
    let device = device();
    let (xh, mut yh) = regression::data();
    yh[3] = f64::NAN;
    let (x, y) = (tensor2(&xh, N, D, &device), tensor1(&yh, &device));
    let model = move |ctx: &mut Ctx| regression(ctx, x.clone(), Some(y.clone()), None);
    let guide = AutoNormal::new(&model, 0.1).unwrap();
    let before = host(guide.loc.val());
    let mut svi = Svi::new(model, guide, TraceElbo::new(1).unwrap(), AdamConfig::new().init()).unwrap();
    let err = svi.step(0.01).unwrap_err();
    assert!(matches!(err, Error::NonFinite { step: 0, term: "log_likelihood", .. }), "{err}");
    assert_eq!(host(svi.guide().loc.val()), before);
    assert!(TraceElbo::new(0).is_err());
}
