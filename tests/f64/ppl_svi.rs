//! SVI on conjugate Bayesian linear regression against the exact answers: AutoNormal against
//! the closed-form mean-field optimum (mean = posterior mean, variance_i = 1 / Λ_ii),
//! AutoMultivariateNormal against the exact covariance.
//!
//! The Monte-Carlo noise floor: after a first phase at a large learning rate, the second
//! phase uses a small one and averages the iterates (Polyak–Ruppert averaging), so the
//! reported parameters carry far less gradient noise than any single iterate.

use crate::support::{device, host, tensor1, tensor2};
use bayesburn::noise;
use bayesburn::{
    infer::{AutoMultivariateNormal, AutoNormal, Svi, TraceElbo, TraceMeanFieldElbo},
    ppl::Ctx,
};
use bayesburn_fixtures::regression::{self, exact, regression, D, N};
use burn::optim::AdamConfig;

const PHASE1: usize = 1500;
const PHASE2: usize = 2000;

#[test]
fn auto_normal_reaches_the_mean_field_optimum() {
    let device = device();
    let (xh, yh) = regression::data();
    let ex = exact(&xh, &yh);
    let (x, y) = (tensor2(&xh, N, D, &device), tensor1(&yh, &device));
    let model = move |ctx: &mut Ctx| regression(ctx, x.clone(), Some(y.clone()), None);
    let (mean, var) = noise::with_seed(7, || {
        let guide = AutoNormal::new(&model, 0.1).unwrap();
        let mut svi = Svi::new(model, guide, TraceMeanFieldElbo::new(4).unwrap(), AdamConfig::new().init()).unwrap();
        for _ in 0..PHASE1 {
            svi.step(0.03).unwrap();
        }
        let (mut mean, mut sd) = (vec![0.0; D], vec![0.0; D]);
        for _ in 0..PHASE2 {
            svi.step(0.003).unwrap();
            let g = svi.guide();
            for (acc, v) in mean.iter_mut().zip(host(g.loc.val())) {
                *acc += v / PHASE2 as f64;
            }
            for (acc, v) in sd.iter_mut().zip(host(g.scale())) {
                *acc += v / PHASE2 as f64;
            }
        }
        (mean, sd.iter().map(|s| s * s).collect::<Vec<_>>())
    });
    let mut worst = (0.0f64, 0.0f64);
    for j in 0..D {
        let mf_var = 1.0 / ex.precision[j][j];
        let (em, ev) = ((mean[j] - ex.mean[j]).abs() / ex.mean[j].abs(), (var[j] - mf_var).abs() / mf_var);
        println!(
            "w{j}: mean {:.5} exact {:.5} ({em:.4}); var {:.6} mean-field {mf_var:.6} ({ev:.4}); exact marginal {:.6}",
            mean[j], ex.mean[j], var[j], ex.covariance[j][j]
        );
        worst = (worst.0.max(em), worst.1.max(ev));
        assert!(em < 0.02, "w{j}: mean {} vs exact {} ({em:.4} relative)", mean[j], ex.mean[j]);
        assert!(ev < 0.05, "w{j}: variance {} vs mean-field optimum {mf_var} ({ev:.4} relative)", var[j]);
    }
    println!("svi_mean_rel_err_max {:.4} svi_var_rel_err_max {:.4}", worst.0, worst.1);
}

#[test]
fn auto_multivariate_normal_recovers_the_exact_covariance() {
    let device = device();
    let (xh, yh) = regression::data();
    let ex = exact(&xh, &yh);
    let (x, y) = (tensor2(&xh, N, D, &device), tensor1(&yh, &device));
    let model = move |ctx: &mut Ctx| regression(ctx, x.clone(), Some(y.clone()), None);
    let (mean, cov) = noise::with_seed(8, || {
        let guide = AutoMultivariateNormal::new(&model, 0.1).unwrap();
        let mut svi = Svi::new(model, guide, TraceElbo::new(4).unwrap(), AdamConfig::new().init()).unwrap();
        for _ in 0..PHASE1 {
            svi.step(0.03).unwrap();
        }
        let (mut mean, mut cov) = (vec![0.0; D], vec![0.0; D * D]);
        for _ in 0..PHASE2 {
            svi.step(0.003).unwrap();
            let g = svi.guide();
            for (acc, v) in mean.iter_mut().zip(host(g.loc.val())) {
                *acc += v / PHASE2 as f64;
            }
            for (acc, v) in cov.iter_mut().zip(host(g.covariance())) {
                *acc += v / PHASE2 as f64;
            }
        }
        (mean, cov)
    });
    let (mut num, mut den) = (0.0, 0.0);
    for j in 0..D {
        for k in 0..D {
            num += (cov[j * D + k] - ex.covariance[j][k]).powi(2);
            den += ex.covariance[j][k].powi(2);
        }
        let em = (mean[j] - ex.mean[j]).abs() / ex.mean[j].abs();
        assert!(em < 0.02, "w{j}: mean {} vs exact {} ({em:.4})", mean[j], ex.mean[j]);
    }
    let rel = (num / den).sqrt();
    println!("mvn_cov_rel_err {rel:.4}");
    assert!(rel < 0.05, "covariance relative Frobenius error {rel:.4}");
}
