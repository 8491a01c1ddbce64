//! MCMC results in the model's terms (`Mcmc::run_model` → `McmcSamples`): draws per site,
//! constrained and shaped as the site, `deterministic!` sites, NumPyro's summary layout, the
//! ArviZ export's structure, the checkpoint round trip, and the batched predictive against the
//! per-draw loop. Everything here is exact (equalities, not statistics): the posterior itself is
//! checked in `ppl_nuts.rs`.

use crate::support::{device, host, tensor1, tensor2};
use bayesburn::distributions::{Bernoulli, HalfNormal, Normal};
use bayesburn::infer::mcmc::{diagnostics, Mcmc, NutsConfig};
use bayesburn::infer::{BatchedPredictive, McmcSamples, ModelPotential, Predictive, SampleKind};
use bayesburn::noise;
use bayesburn::ppl::{trace, Ctx, SiteKind};
use bayesburn::prelude::*;
use burn::prelude::*;

const N: usize = 6;
const X: [f64; 2 * N] = [1.0, 0.5, 1.0, -1.0, 1.0, 2.0, 1.0, 0.0, 1.0, -0.5, 1.0, 1.5];
const Y: [f64; N] = [1.2, -0.9, 3.1, 0.4, -0.2, 2.5];

/// `beta ~ N(0, I_2)`, `sigma ~ HalfNormal(1)`, `y ~ N(x beta, sigma)`, and the deterministic
/// `beta_sq = |beta|^2`.
#[model]
fn linear(x: Tensor<2>, y: Option<Tensor<1>>) -> bayesburn::Result<()> {
    let device = x.device();
    let n = x.dims()[0];
    let beta: Tensor<1> = sample!("beta", Normal::new(Tensor::zeros([2], &device), Tensor::ones([2], &device))?);
    let sigma: Tensor<1> = sample!("sigma", HalfNormal::new(Tensor::ones([1], &device))?);
    deterministic!("beta_sq", (beta.clone() * beta.clone()).sum());
    let mean = x.matmul(beta.unsqueeze_dim(1)).squeeze_dim::<1>(1);
    plate!("data", n, {
        observe!("y", Normal::new_unchecked(mean, sigma.expand([n])), y);
    });
    Ok(())
}

/// The same model with a leading sample axis of `s` draws on every site (what
/// `BatchedPredictive` runs in one pass).
#[model]
fn linear_batched(x: Tensor<2>, s: usize) -> bayesburn::Result<()> {
    let device = x.device();
    let n = x.dims()[0];
    let beta: Tensor<2> = sample!("beta", Normal::new(Tensor::zeros([s, 2], &device), Tensor::ones([s, 2], &device))?);
    let sigma: Tensor<2> = sample!("sigma", HalfNormal::new(Tensor::ones([s, 1], &device))?);
    ppl::deterministic!("beta_sq", (beta.clone() * beta.clone()).sum_dim(1));
    let mean = beta.matmul(x.transpose());
    observe!("y", Normal::new_unchecked(mean, sigma.expand([s, n])), None::<Tensor<2>>);
    Ok(())
}

fn run(seed: u64) -> (ModelPotential<impl bayesburn::ppl::Model + Sync>, McmcSamples) {
    let device = device();
    let (x, y) = (tensor2(&X, N, 2, &device), tensor1(&Y, &device));
    let potential = ModelPotential::new(move |ctx: &mut Ctx| linear(ctx, x.clone(), Some(y.clone()))).unwrap();
    let config = NutsConfig::default().with_num_warmup(150).with_num_samples(60).with_num_chains(2).with_seed(seed);
    let samples = Mcmc::new(config).unwrap().run_model(&potential).unwrap();
    (potential, samples)
}

#[test]
fn deterministic_sites_are_in_the_trace_without_a_density() {
    let device = device();
    let x = tensor2(&X, N, 2, &device);
    let (_, tr) = trace(&|ctx: &mut Ctx| linear(ctx, x.clone(), None)).unwrap();
    let site = tr.get("beta_sq").unwrap();
    assert_eq!(site.kind, SiteKind::Deterministic);
    assert!(site.log_prob.is_none());
    let beta = tr.get("beta").unwrap().value.to_vec();
    assert!((site.value.to_vec()[0] - (beta[0] * beta[0] + beta[1] * beta[1])).abs() < 1e-12);
    assert_eq!(tr.deterministic_sites().count(), 1);
    assert!(tr.latent_sites().all(|s| s.name != "beta_sq"), "a deterministic site is not a latent");
    assert!(tr.values().contains_key("beta_sq"), "values() carries it (Predictive reports it)");
    // Its name is claimed like any site's.
    let dup = |ctx: &mut Ctx| -> bayesburn::Result<()> {
        ctx.deterministic("a", Tensor::<1>::zeros([1], &device))?;
        ctx.deterministic("a", Tensor::<1>::zeros([1], &device))?;
        Ok(())
    };
    assert!(matches!(trace(&dup), Err(bayesburn::Error::DuplicateSite { .. })));
}

#[test]
fn run_model_returns_constrained_draws_shaped_as_the_sites() {
    let (potential, samples) = run(3);
    let (c, d) = (2, 60);
    let names: Vec<&str> = samples.sites().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["beta", "sigma", "beta_sq"]);
    assert_eq!(samples.site("beta").unwrap().grouped_shape(), [c, d, 2]);
    assert_eq!(samples.site("beta_sq").unwrap().kind, SampleKind::Deterministic);
    let grouped = samples.get_samples(true);
    assert_eq!(grouped["beta"].shape, [c, d, 2]);
    assert_eq!(grouped["sigma"].shape, [c, d, 1]);
    let pooled = samples.get_samples(false);
    assert_eq!(pooled["beta"].shape, [c * d, 2]);
    assert_eq!(pooled["beta"].values, grouped["beta"].values);
    // Each draw is T(q) of the unconstrained draw: beta = q[0..2], sigma = exp(q[2]), and the
    // deterministic site is recomputed from them.
    let (beta, sigma, sq) = (&grouped["beta"].values, &grouped["sigma"].values, &grouped["beta_sq"].values);
    for ch in 0..c {
        for k in 0..d {
            let q = &samples.result.draws[ch][k];
            let i = ch * d + k;
            assert_eq!(potential.layout().slots()[1].name, "sigma");
            assert!((beta[2 * i] - q[0]).abs() < 1e-12 && (beta[2 * i + 1] - q[1]).abs() < 1e-12);
            assert!((sigma[i] - q[2].exp()).abs() < 1e-12 * sigma[i]);
            assert!((sq[i] - (q[0] * q[0] + q[1] * q[1])).abs() < 1e-12);
        }
    }
    let err = samples.site("y").unwrap_err().to_string();
    assert!(err.contains("\"y\"") && err.contains("beta, sigma, beta_sq"), "{err}");
    let t = grouped["beta"].tensor::<3>(&device()).unwrap();
    assert_eq!(t.dims(), [c, d, 2]);
    assert!(grouped["beta"].tensor::<2>(&device()).is_err());
}

#[test]
fn summary_has_numpyros_columns_per_element() {
    let (_, samples) = run(3);
    let rows = samples.summary().unwrap();
    let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["beta[0]", "beta[1]", "sigma", "beta_sq"]);
    let beta1 = samples.site("beta").unwrap().element(1);
    let expect = diagnostics::summary(&beta1).unwrap();
    let row = &rows[1];
    assert_eq!((row.mean, row.sd, row.n_eff, row.r_hat), (expect.mean, expect.sd, expect.ess_bulk, expect.rhat));
    let mut pooled: Vec<f64> = beta1.concat();
    pooled.sort_by(f64::total_cmp);
    // 120 draws: the median is halfway between order statistics 59 and 60 (0-based); the 5 %
    // quantile at 0.05 * 119 = 5.95.
    assert!((row.median - 0.5 * (pooled[59] + pooled[60])).abs() < 1e-12);
    assert!((row.q5 - (pooled[5] + 0.95 * (pooled[6] - pooled[5]))).abs() < 1e-12);
    assert!(row.q5 < row.median && row.median < row.q95);
    let table = samples.summary_table().unwrap();
    println!("{table}");
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["mean", "std", "median", "5.0%", "95.0%", "n_eff", "r_hat"]);
    assert!(table.lines().any(|l| l.trim_start().starts_with("beta[1] ")));
    assert!(table.contains(&format!("Number of divergences: {}", samples.divergences())));
}

#[test]
fn arviz_json_has_chain_and_draw_dims() {
    let (_, samples) = run(3);
    let j = samples.to_arviz_json();
    let post = &j["posterior"];
    let beta = post["beta"].as_array().unwrap();
    assert_eq!(beta.len(), 2, "chains");
    assert_eq!(beta[0].as_array().unwrap().len(), 60, "draws");
    assert_eq!(beta[0][0].as_array().unwrap().len(), 2, "the site's own axis");
    let first = &samples.site("beta").unwrap().values;
    assert_eq!(beta[1][3][1].as_f64().unwrap(), first[(60 + 3) * 2 + 1]);
    // one-element sites are one scalar per draw, as NumPyro's scalar sites
    assert!(post["sigma"][0][0].is_f64());
    assert!(post["beta_sq"][1][59].is_f64());
    assert_eq!(j["dims"]["beta"], serde_json::json!(["beta_dim_0"]));
    let stats = &j["sample_stats"];
    for key in ["diverging", "energy", "tree_depth", "n_steps", "acceptance_rate", "step_size", "lp"] {
        let v = stats[key].as_array().unwrap_or_else(|| panic!("sample_stats.{key}"));
        assert_eq!((v.len(), v[0].as_array().unwrap().len()), (2, 60), "{key}");
    }
    assert!(stats["diverging"][0][0].is_boolean());
    assert_eq!(stats["lp"][0][7].as_f64().unwrap(), -samples.result.stats[0][7].potential);
    assert_eq!(stats["tree_depth"][1][2].as_u64().unwrap() as usize, samples.result.stats[1][2].tree_depth);
    let path = std::env::temp_dir().join(format!("bayesburn_arviz_{}.json", std::process::id()));
    samples.save_arviz_json(&path).unwrap();
    let back: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(back, j);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn mcmc_samples_checkpoint_round_trips_bit_identically() {
    let (_, samples) = run(5);
    let path = std::env::temp_dir().join(format!("bayesburn_mcmc_{}.json", std::process::id()));
    samples.save(&path).unwrap();
    let back = McmcSamples::load(&path).unwrap();
    assert_eq!(back, samples);
    let bits = |s: &McmcSamples| -> Vec<u64> {
        let mut v: Vec<u64> = s.sites().iter().flat_map(|s| s.values.iter().map(|x| x.to_bits())).collect();
        v.extend(s.result.draws.iter().flatten().flatten().map(|x| x.to_bits()));
        v.extend(s.result.stats.iter().flatten().map(|st| st.energy.to_bits()));
        v.extend(s.result.inv_mass.iter().flatten().map(|x| x.to_bits()));
        v
    };
    assert_eq!(bits(&back), bits(&samples));
    // A file that is not a result is a typed error naming the file.
    std::fs::write(&path, "{\"not\": 1}").unwrap();
    let err = McmcSamples::load(&path).unwrap_err();
    assert!(matches!(err, bayesburn::Error::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));
    std::fs::remove_file(path).unwrap();
}

#[test]
fn batched_predictive_equals_the_per_draw_loop() {
    let device = device();
    let (_, samples) = run(3);
    let x = tensor2(&X, N, 2, &device);
    let xb = x.clone();
    let batched = BatchedPredictive::new(move |ctx: &mut Ctx, s: usize| linear_batched(ctx, xb.clone(), s));
    let values = samples.values(&device).unwrap();
    let one_pass = noise::with_seed(9, || batched.from_samples(&values)).unwrap();
    let looped = noise::with_seed(9, || batched.from_samples_looped(&values)).unwrap();
    // The per-draw model through the plain Predictive loop: the same noise in the same order.
    let xl = x.clone();
    let plain = Predictive::new(move |ctx: &mut Ctx| linear(ctx, xl.clone(), None));
    let draws = samples.draws(&device).unwrap();
    let per_draw = noise::with_seed(9, || plain.from_samples(&draws)).unwrap();
    let s = 120;
    assert_eq!(one_pass["y"].shape(), &[s, N]);
    assert_eq!(looped["y"].shape(), &[s, N]);
    assert_eq!(per_draw["y"].shape(), &[s, N]);
    let (a, b, c) = (one_pass["y"].to_vec(), looped["y"].to_vec(), per_draw["y"].to_vec());
    for i in 0..s * N {
        assert!(
            (a[i] - b[i]).abs() < 1e-12 && (a[i] - c[i]).abs() < 1e-12,
            "y element {i}: {} {} {}",
            a[i],
            b[i],
            c[i]
        );
    }
    let (d1, d2) = (one_pass["beta_sq"].to_vec(), per_draw["beta_sq"].to_vec());
    assert!(d1.iter().zip(&d2).all(|(u, v)| (u - v).abs() < 1e-12));
    // The predictive draws are not the posterior means: they carry the noise (sanity that the
    // site was drawn, not substituted).
    let mean_beta: Vec<f64> = samples.site("beta").unwrap().values.clone();
    assert!((a[0] - (X[0] * mean_beta[0] + X[1] * mean_beta[1])).abs() > 0.0);
}

#[test]
fn predictive_summary_splits_aleatoric_and_epistemic_as_the_layers() {
    let device = device();
    let (_, samples) = run(3);
    let x = tensor2(&X, N, 2, &device);
    let xb = x.clone();
    let batched = BatchedPredictive::new(move |ctx: &mut Ctx, s: usize| linear_batched(ctx, xb.clone(), s));
    let one_pass = batched.regression_summary(&samples.values(&device).unwrap(), "y").unwrap();
    let xl = x.clone();
    let plain = Predictive::new(move |ctx: &mut Ctx| linear(ctx, xl.clone(), None));
    let looped = plain.regression_summary(&samples.draws(&device).unwrap(), "y").unwrap();
    assert_eq!(one_pass.mean.dims(), [N, 1]);
    // By hand: aleatoric = mean of sigma^2 over the draws, epistemic = population variance of
    // x_i . beta over the draws (what predict::regression computes for a Gaussian head).
    let g = samples.get_samples(false);
    let (beta, sigma) = (&g["beta"].values, &g["sigma"].values);
    let s = sigma.len() as f64;
    let alea = sigma.iter().map(|v| v * v).sum::<f64>() / s;
    for (summary, name) in [(&one_pass, "batched"), (&looped, "looped")] {
        let (m, a, e) =
            (host(summary.mean.clone()), host(summary.aleatoric_var.clone()), host(summary.epistemic_var.clone()));
        for i in 0..N {
            let mu: Vec<f64> =
                (0..sigma.len()).map(|k| X[2 * i] * beta[2 * k] + X[2 * i + 1] * beta[2 * k + 1]).collect();
            let mean = mu.iter().sum::<f64>() / s;
            let var = mu.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / s;
            assert!((m[i] - mean).abs() < 1e-10, "{name} mean {i}");
            assert!((a[i] - alea).abs() < 1e-10 * alea, "{name} aleatoric {i}: {} vs {alea}", a[i]);
            assert!((e[i] - var).abs() < 1e-9 * var.max(1e-12), "{name} epistemic {i}: {} vs {var}", e[i]);
        }
    }
    let err = plain.regression_summary(&samples.draws(&device).unwrap(), "z").unwrap_err().to_string();
    assert!(err.contains("\"z\""), "{err}");
}

/// A model with a discrete latent: NUTS refuses it, naming the site.
#[model]
fn coin(p: Tensor<1>) -> bayesburn::Result<()> {
    let z: Tensor<1> = sample!("z", Bernoulli::from_probs(p.clone())?);
    observe!("y", Normal::new_unchecked(z, p.ones_like()), p);
    Ok(())
}

#[test]
fn mcmc_on_a_discrete_latent_is_a_typed_error_naming_the_site() {
    let device = device();
    let p = tensor1(&[0.3], &device);
    let err = ModelPotential::new(move |ctx: &mut Ctx| coin(ctx, p.clone())).unwrap_err();
    assert!(matches!(&err, bayesburn::Error::Model { site, .. } if site == "z"), "{err}");
    assert!(err.to_string().contains("discrete"), "{err}");
}

#[test]
fn bad_results_inputs_are_typed_errors() {
    let device = device();
    let (_, samples) = run(3);
    let show = |e: bayesburn::Error| {
        println!("{e}");
        e
    };
    let err = show(samples.site("y").unwrap_err());
    assert!(matches!(&err, bayesburn::Error::Model { site, .. } if site == "y"));
    let err = show(samples.get_samples(true)["beta"].tensor::<2>(&device).unwrap_err());
    assert!(matches!(err, bayesburn::Error::ShapeMismatch { field: "rank", .. }));
    let x = tensor2(&X, N, 2, &device);
    let batched = BatchedPredictive::new(move |ctx: &mut Ctx, s: usize| linear_batched(ctx, x.clone(), s));
    let mut values = samples.values(&device).unwrap();
    let short = bayesburn::ppl::Value::from(Tensor::<2>::zeros([7, 1], &device));
    values.insert("sigma".to_string(), short);
    let err = show(batched.from_samples(&values).unwrap_err());
    assert!(matches!(err, bayesburn::Error::ShapeMismatch { field: "samples", .. }));
    let err = show(batched.from_samples(&bayesburn::ppl::Values::new()).unwrap_err());
    assert!(matches!(err, bayesburn::Error::InvalidParameter { field: "samples", .. }));
    let err = show(batched.regression_summary(&samples.values(&device).unwrap(), "beta_sq").unwrap_err());
    assert!(matches!(&err, bayesburn::Error::Model { site, .. } if site == "beta_sq"));
}
