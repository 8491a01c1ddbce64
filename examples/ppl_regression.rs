//! Bayesian linear regression with the probabilistic-programming layer: SVI against the exact
//! posterior, and NUTS on the same model against it.
//!
//! What it shows: a `#[model]` function with `sample!`, `plate!` and `observe!`; fitting the
//! AutoNormal (mean-field) and AutoMultivariateNormal (full-rank) guides with `Svi` and Adam;
//! and how close each gets to the exact answers of this conjugate model: the mean-field
//! optimum (mean = posterior mean, variance_i = 1 / Λ_ii) and the exact covariance Λ⁻¹;
//! then NUTS (4 chains × 1000 draws after 1000 warmup) on the model's `ModelPotential`,
//! whose means must sit within Monte-Carlo error of the exact posterior and whose sds match
//! the exact ones, not the mean-field ones.
//!
//! Data: d = 5 correlated features, N = 40, known noise sd 1, prior N(0, 1) on each weight
//! (the model, data and exact posterior are in `tests/f64/support/regression.rs`, shared with
//! the tests). SVI: 1500 Adam steps at lr 0.03, then 2000 at lr 0.003 whose iterates are
//! averaged (Polyak–Ruppert) to get under the Monte-Carlo noise floor; 4 particles per step.
//! Runs in f64 (the flex device configured before any tensor exists).
//!
//! Takes about 20 s on 2 cores (`cargo run --example ppl_regression`); `--json` prints one
//! JSON line last.

use bayesburn::infer::mcmc::{Mcmc, NutsConfig};
use bayesburn::noise;
use bayesburn::{
    infer::{AutoMultivariateNormal, AutoNormal, ModelPotential, Potential, Svi, TraceElbo, TraceMeanFieldElbo},
    ppl::Ctx,
};
use bayesburn_fixtures::cli;
use bayesburn_fixtures::regression::{self, exact, nuts_errors, nuts_summaries, regression, D, N};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::{FloatDType, TensorData};

const PHASE1: usize = 1500;
const PHASE2: usize = 2000;

fn host<const R: usize>(t: Tensor<R>) -> Vec<f64> {
    t.into_data().try_to_vec_as::<f64>().expect("float tensor")
}

/// Runs SVI and returns the Polyak average of `read(guide)` over the second phase.
fn fit<G, E>(mut svi: Svi<impl bayesburn::ppl::Model, G, E>, read: impl Fn(&G) -> Vec<f64>) -> Vec<f64>
where
    G: bayesburn::infer::Guide,
    E: bayesburn::infer::ElboObjective,
{
    for _ in 0..PHASE1 {
        svi.step(0.03).expect("finite ELBO");
    }
    let mut avg: Vec<f64> = Vec::new();
    for _ in 0..PHASE2 {
        svi.step(0.003).expect("finite ELBO");
        let v = read(svi.guide());
        avg.resize(v.len(), 0.0);
        for (a, x) in avg.iter_mut().zip(v) {
            *a += x / PHASE2 as f64;
        }
    }
    avg
}

fn main() {
    let json = cli!("cargo run --release --example ppl_regression -- [--json]").json_only();
    let mut plain = Device::flex();
    plain.configure(FloatDType::F64).expect("configure before creating tensors");
    let device = plain.autodiff();

    let (xh, yh) = regression::data();
    let ex = exact(&xh, &yh);
    let x = Tensor::<2>::from_data(TensorData::new(xh.clone(), [N, D]), &device);
    let y = Tensor::<1>::from_data(TensorData::new(yh.clone(), [N]), &device);
    // ANCHOR: model_closure
    let model = move |ctx: &mut Ctx| regression(ctx, x.clone(), Some(y.clone()), None);
    // ANCHOR_END: model_closure

    // ANCHOR: svi
    let (mean, sd) = noise::with_seed(7, || {
        let guide = AutoNormal::new(&model, 0.1).expect("continuous latents");
        let svi =
            Svi::new(model.clone(), guide, TraceMeanFieldElbo::new(4).unwrap(), AdamConfig::new().init()).unwrap();
        let avg = fit(svi, |g: &AutoNormal| [host(g.loc.val()), host(g.scale())].concat());
        (avg[..D].to_vec(), avg[D..].to_vec())
    });
    let cov = noise::with_seed(8, || {
        let guide = AutoMultivariateNormal::new(&model, 0.1).expect("continuous latents");
        let svi = Svi::new(model.clone(), guide, TraceElbo::new(4).unwrap(), AdamConfig::new().init()).unwrap();
        fit(svi, |g: &AutoMultivariateNormal| host(g.covariance()))
    });
    // ANCHOR_END: svi

    println!("weight  exact mean  SVI mean   mean-field var  SVI var   exact var  MVN var");
    let (mut mean_err, mut var_err) = (0.0f64, 0.0f64);
    for j in 0..D {
        let mf_var = 1.0 / ex.precision[j][j];
        let var = sd[j] * sd[j];
        mean_err = mean_err.max((mean[j] - ex.mean[j]).abs() / ex.mean[j].abs());
        var_err = var_err.max((var - mf_var).abs() / mf_var);
        println!(
            "w{j}      {:>9.5}  {:>9.5}  {:>14.6}  {:>8.6}  {:>9.6}  {:>7.6}",
            ex.mean[j],
            mean[j],
            mf_var,
            var,
            ex.covariance[j][j],
            cov[j * D + j]
        );
    }
    let (mut num, mut den) = (0.0, 0.0);
    for j in 0..D {
        for k in 0..D {
            num += (cov[j * D + k] - ex.covariance[j][k]).powi(2);
            den += ex.covariance[j][k].powi(2);
        }
    }
    let cov_err = (num / den).sqrt();
    println!("max relative error: SVI mean {mean_err:.4}, SVI variance {var_err:.4}, MVN covariance (Frobenius) {cov_err:.4}");

    // ANCHOR: nuts
    // NUTS on the same model: `ModelPotential` is U(q) = -log p(T(q), y) - log|det J| on the
    // unconstrained vector (here q = w, all sites real), its gradient from burn's autodiff.
    let potential = ModelPotential::new(model).expect("continuous latents on an autodiff device");
    let config = NutsConfig::default().with_num_warmup(1000).with_num_samples(1000).with_num_chains(4).with_seed(11);
    let result = Mcmc::new(config).unwrap().run(&potential).expect("finite potential");
    // Draws live in the unconstrained space; `potential.constrain(q)` maps each back to named sites.
    let summaries = nuts_summaries(&potential, &result);
    let (nuts_mean_err, nuts_sd_err) = nuts_errors(&summaries, &ex);
    // ANCHOR_END: nuts
    println!(
        "NUTS, 4 chains x 1000 draws (1000 warmup) on ModelPotential ({} dimensions), {:.1} s, {} divergences",
        potential.dim(),
        result.elapsed_s,
        result.divergences()
    );
    println!("weight  exact mean  NUTS mean (MCSE)     exact sd  NUTS sd   R-hat  bulk ESS");
    for (j, s) in summaries.iter().enumerate() {
        println!(
            "w{j}      {:>9.5}  {:>9.5} ({:>7.5})  {:>8.5}  {:>7.5}  {:>6.4}  {:>8.0}",
            ex.mean[j],
            s.mean,
            s.mcse_mean,
            ex.covariance[j][j].sqrt(),
            s.sd,
            s.rhat,
            s.ess_bulk
        );
    }
    println!("NUTS: max |mean - exact| / MCSE {nuts_mean_err:.2}, max sd relative error {nuts_sd_err:.4}");

    if json {
        println!(
            "{}",
            serde_json::json!({
                "nuts_mean_err_mcse_max": nuts_mean_err,
                "nuts_sd_rel_err_max": nuts_sd_err,
                "svi_mean_rel_err_max": mean_err,
                "svi_var_rel_err_max": var_err,
                "mvn_cov_rel_err": cov_err,
            })
        );
    }
}
