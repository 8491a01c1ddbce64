//! Eight posteriors of posteriordb, each a `#[model]` transcribed from its Stan program, sampled
//! with NUTS and checked against the reference draws.
//!
//! What it shows: porting Stan programs with the library's distributions and constraints only:
//! flat priors on bounded parameters (`ImproperUniform`), half-Cauchy and half-normal priors on
//! `<lower=0>` scales, `target +=` as `factor!` (a truncated Student-t prior, the Jacobian of a
//! bound that depends on another parameter in GARCH), a Gaussian process through a Cholesky
//! factor, a Poisson likelihood. Per posterior: the worst |mean - reference| in combined
//! Monte-Carlo standard errors (this run's MCSE and the reference's sd / sqrt(10 000)), the worst
//! relative sd error, the largest R-hat, divergences and ESS per second (smallest bulk ESS over
//! the wall time, warmup included). 4 chains x 1000 draws after 1000 warmup, chains on threads.
//!
//! Data: `../shared/data/posteriordb` (Stan programs, data, `reference.json`; README there);
//! skipped with a message when it is absent. The cheap ones (`--cheap`: eight_schools 0.3 s, kidiq
//! 1.5 s, sblrc 0.8 s, earnings 19 s in the dev profile on 2 busy cores through the site tape;
//! 24 s, 23 s, 38 s and 162 s with `--no-tape`) are what `.ci/run` checks;
//! nes1972 takes 86 s, gp_pois_regr and garch minutes (the GARCH recursion is 200 sequential steps of
//! small tensor operations per gradient), diamonds far longer (24 correlated predictors, N = 5000:
//! trees of depth 10 with a diagonal mass matrix).
//!
//! Each row also gives the cost of one `U` and gradient and how it was evaluated: through
//! `ModelPotential`'s site tape (`tape`), or the burn path (`burn`, with the tape's reason for
//! falling back: gp_pois_regr's Gamma prior has no tape family, GARCH's `log(1 - alpha1)`
//! Jacobian `factor!` is not a polynomial of degree ≤ 2 in the latents, nor is diamonds'
//! Student-t `factor!` of sigma; nes1972 and the cheap four run through the tape).
//!
//! Flags: `--json` (one JSON line with all rows at the end), `--only NAME` (a posterior
//! name or its prefix, e.g. `garch`), `--cheap`, `--data DIR`, `--seed N`, `--draws N` (kept
//! draws and warmup per chain), `--no-tape` (the burn path for every posterior, to compare),
//! `--repeats N` (seeds seed..seed+N-1, each figure's median), `--numpyro FILE` (the rows
//! `bench/posteriordb_numpyro.py --out FILE` wrote, printed next to ours;
//! `bench/posteriordb_side_by_side.sh` runs both).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use bayesburn::distributions::{
    Constraint, Distribution, Gamma, HalfCauchy, HalfNormal, ImproperUniform, Normal, Poisson, StudentT,
};
use bayesburn::infer::mcmc::diagnostics::summary;
use bayesburn::infer::mcmc::{Mcmc, NutsConfig};
use bayesburn::infer::{ModelPotential, Potential, TapeStatus};
use bayesburn::ppl::{model, Ctx};
use bayesburn::Result;
use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::Long;
use burn::prelude::*;
use burn::tensor::{FloatDType, TensorData};
use serde_json::Value as Json;

/// The posteriors run by `.ci/run` (about 25 s together in the dev profile).
const CHEAP: [&str; 4] =
    ["eight_schools-eight_schools_noncentered", "kidiq-kidscore_momhs", "sblrc-blr", "earnings-logearn_height"];
const ALL: [&str; 8] = [
    "eight_schools-eight_schools_noncentered",
    "kidiq-kidscore_momhs",
    "sblrc-blr",
    "earnings-logearn_height",
    "nes1972-nes",
    "gp_pois_regr-gp_pois_regr",
    "garch-garch11",
    "diamonds-diamonds",
];

fn t1(v: &[f64], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

fn t2(rows: &[Vec<f64>], device: &Device) -> Tensor<2> {
    let (n, k) = (rows.len(), rows[0].len());
    Tensor::from_data(TensorData::new(rows.concat(), [n, k]), device)
}

fn full(n: usize, v: f64, device: &Device) -> Tensor<1> {
    Tensor::full([n], v, device)
}

fn flat(n: usize, support: Constraint, device: &Device) -> Result<ImproperUniform<1>> {
    ImproperUniform::new(support, [n], device)
}

/// `X beta` for `X: [N, K]`, `beta: [K]`.
fn linear(x: &Tensor<2>, beta: Tensor<1>) -> Tensor<1> {
    let [n, k] = x.dims();
    x.clone().matmul(beta.reshape([k, 1])).reshape([n])
}

// ANCHOR: eight_schools
// parameters { vector[J] theta_trans; real mu; real<lower=0> tau; }
// theta = theta_trans * tau + mu;
// theta_trans ~ normal(0, 1); y ~ normal(theta, sigma); mu ~ normal(0, 5); tau ~ cauchy(0, 5);
#[model]
fn eight_schools(y: Tensor<1>, sigma: Tensor<1>) -> Result<()> {
    let device = y.device();
    let j = y.dims()[0];
    let theta_trans: Tensor<1> = sample!("theta_trans", Normal::new(full(j, 0.0, &device), full(j, 1.0, &device))?);
    let mu: Tensor<1> = sample!("mu", Normal::new(full(1, 0.0, &device), full(1, 5.0, &device))?);
    // cauchy(0, 5) on a <lower=0> parameter is a half-Cauchy
    let tau: Tensor<1> = sample!("tau", HalfCauchy::new(full(1, 5.0, &device))?);
    let theta = theta_trans * tau.expand([j]) + mu.expand([j]);
    observe!("y", Normal::new_unchecked(theta, sigma), y);
    Ok(())
}
// ANCHOR_END: eight_schools

// parameters { vector[2] beta; real<lower=0> sigma; } (no statements: flat priors)
// y ~ normal(X * beta, sigma), or with sigma ~ cauchy(0, 2.5) (kidiq) or
// target += normal_lpdf(beta | 0, 10) + normal_lpdf(sigma | 0, 10) (blr)
#[derive(Clone, Copy)]
enum RegressionPrior {
    Flat,
    HalfCauchySigma,
    Blr,
}

#[model]
fn regression(x: Tensor<2>, y: Tensor<1>, prior: RegressionPrior) -> Result<()> {
    let device = y.device();
    let [n, k] = x.dims();
    let (beta, sigma): (Tensor<1>, Tensor<1>) = match prior {
        RegressionPrior::Flat => (
            sample!("beta", flat(k, Constraint::Real, &device)?),
            sample!("sigma", flat(1, Constraint::GreaterThan { low: 0.0 }, &device)?),
        ),
        RegressionPrior::HalfCauchySigma => (
            sample!("beta", flat(k, Constraint::Real, &device)?),
            sample!("sigma", HalfCauchy::new(full(1, 2.5, &device))?),
        ),
        RegressionPrior::Blr => (
            sample!("beta", Normal::new(full(k, 0.0, &device), full(k, 10.0, &device))?),
            sample!("sigma", HalfNormal::new(full(1, 10.0, &device))?),
        ),
    };
    observe!("y", Normal::new_unchecked(linear(&x, beta), sigma.expand([n])), y);
    Ok(())
}

/// `L` with `L L^T = a` for a symmetric positive-definite `a: [n, n]`, column by column
/// (differentiable: plain tensor operations).
fn cholesky(a: Tensor<2>) -> Tensor<2> {
    let n = a.dims()[0];
    let mut cols: Vec<Tensor<2>> = Vec::with_capacity(n);
    for j in 0..n {
        let mut c = a.clone().slice(s![.., j..j + 1]);
        if j > 0 {
            let left = Tensor::cat(cols.clone(), 1); // [n, j]
            let row = left.clone().slice(s![j..j + 1, ..]); // [1, j]
            c = c - left.matmul(row.transpose());
        }
        let pivot = c.clone().slice(s![j..j + 1, ..]).sqrt();
        let mask: Vec<f64> = (0..n).map(|i| if i >= j { 1.0 } else { 0.0 }).collect();
        let mask = Tensor::<1>::from_data(TensorData::new(mask, [n]), &a.device()).reshape([n, 1]);
        cols.push(c / pivot * mask);
    }
    Tensor::cat(cols, 1)
}

// parameters { real<lower=0> rho; real<lower=0> alpha; vector[N] f_tilde; }
// f = cholesky_decompose(gp_exp_quad_cov(x, alpha, rho) + 1e-10 I) * f_tilde;
// rho ~ gamma(25, 4); alpha ~ normal(0, 2); f_tilde ~ normal(0, 1); k ~ poisson_log(f);
#[model]
fn gp_pois_regr(x: Tensor<1>, k: Tensor<1>) -> Result<()> {
    let device = x.device();
    let n = x.dims()[0];
    let rho: Tensor<1> = sample!("rho", Gamma::new(full(1, 25.0, &device), full(1, 4.0, &device))?);
    let alpha: Tensor<1> = sample!("alpha", HalfNormal::new(full(1, 2.0, &device))?);
    let f_tilde: Tensor<1> = sample!("f_tilde", Normal::new(full(n, 0.0, &device), full(n, 1.0, &device))?);
    let d = x.clone().reshape([n, 1]) - x.reshape([1, n]);
    let r2 = rho.clone().square().reshape([1, 1]).mul_scalar(2.0);
    let cov =
        (d.square().neg() / r2).exp() * alpha.square().reshape([1, 1]) + Tensor::<2>::eye(n, &device).mul_scalar(1e-10);
    let f = cholesky(cov).matmul(f_tilde.reshape([n, 1])).reshape([n]);
    observe!("k", Poisson::new_unchecked(f.exp()), k);
    Ok(())
}

// ANCHOR: garch
// parameters { real mu; real<lower=0> alpha0; real<lower=0, upper=1> alpha1;
//              real<lower=0, upper=(1 - alpha1)> beta1; }   (flat priors)
// sigma[1] = sigma1;
// sigma[t] = sqrt(alpha0 + alpha1 * square(y[t - 1] - mu) + beta1 * square(sigma[t - 1]));
// y ~ normal(mu, sigma);
#[model]
fn garch11(y: Vec<f64>, sigma1: f64, device: Device) -> Result<()> {
    let mu: Tensor<1> = sample!("mu", flat(1, Constraint::Real, &device)?);
    let alpha0: Tensor<1> = sample!("alpha0", flat(1, Constraint::GreaterThan { low: 0.0 }, &device)?);
    let alpha1: Tensor<1> = sample!("alpha1", flat(1, Constraint::UnitInterval, &device)?);
    // beta1's upper bound depends on alpha1: sample it on (0, 1), scale it, and add the
    // Jacobian of the scaling, as Stan does for a parameter-dependent bound.
    let beta1_raw: Tensor<1> = sample!("beta1_raw", flat(1, Constraint::UnitInterval, &device)?);
    let room = alpha1.clone().neg().add_scalar(1.0);
    let beta1 = beta1_raw * room.clone();
    factor!("beta1_jacobian", room.log());
    let mut sigma = vec![full(1, sigma1, &device)];
    for t in 1..y.len() {
        let prev = sigma[t - 1].clone();
        let shock = mu.clone().neg().add_scalar(y[t - 1]).square();
        sigma.push((alpha0.clone() + alpha1.clone() * shock + beta1.clone() * prev.square()).sqrt());
    }
    let n = y.len();
    observe!("y", Normal::new_unchecked(mu.expand([n]), Tensor::cat(sigma, 0)), t1(&y, &device));
    Ok(())
}
// ANCHOR_END: garch

// parameters { vector[Kc] b; real Intercept; real<lower=0> sigma; }
// target += normal_lpdf(b | 0, 1); target += student_t_lpdf(Intercept | 3, 8, 10);
// target += student_t_lpdf(sigma | 3, 0, 10) - 1 * student_t_lccdf(0 | 3, 0, 10);
// target += normal_id_glm_lpdf(Y | Xc, Intercept, b, sigma);
#[model]
fn diamonds(xc: Tensor<2>, y: Tensor<1>) -> Result<()> {
    let device = y.device();
    let [n, k] = xc.dims();
    let b: Tensor<1> = sample!("b", Normal::new(full(k, 0.0, &device), full(k, 1.0, &device))?);
    let intercept: Tensor<1> = sample!("Intercept", StudentT::new(3.0, full(1, 8.0, &device), full(1, 10.0, &device))?);
    let sigma: Tensor<1> = sample!("sigma", flat(1, Constraint::GreaterThan { low: 0.0 }, &device)?);
    // a Student-t truncated to sigma > 0: its density plus ln 2 (the lccdf at 0 is ln 1/2)
    let half_t = StudentT::new(3.0, full(1, 0.0, &device), full(1, 10.0, &device))?;
    factor!("sigma_prior", half_t.log_prob(sigma.clone()).add_scalar(std::f64::consts::LN_2));
    let mean = linear(&xc, b) + intercept.expand([n]);
    observe!("Y", Normal::new_unchecked(mean, sigma.expand([n])), y);
    Ok(())
}

type Boxed = Box<dyn Fn(&mut Ctx) -> Result<()> + Send + Sync>;
/// Site values (flat, host) of one draw.
type Named = BTreeMap<String, Vec<f64>>;
/// Derived quantities (Stan's transformed parameters) of one draw.
type Derive = Box<dyn Fn(&Named) -> Vec<(String, f64)>>;

fn floats(data: &Json, key: &str) -> Vec<f64> {
    data[key].as_array().unwrap_or_else(|| panic!("data field {key}")).iter().map(|v| v.as_f64().unwrap()).collect()
}

fn matrix(data: &Json, key: &str) -> Vec<Vec<f64>> {
    data[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
        .collect()
}

fn none() -> Derive {
    Box::new(|_| vec![])
}

fn build(name: &str, data: &Json, device: &Device) -> (Boxed, Derive) {
    let d = device.clone();
    match name {
        "eight_schools-eight_schools_noncentered" => {
            let (y, sigma) = (t1(&floats(data, "y"), &d), t1(&floats(data, "sigma"), &d));
            let derive: Derive = Box::new(|v: &Named| {
                let (mu, tau) = (v["mu"][0], v["tau"][0]);
                v["theta_trans"].iter().enumerate().map(|(j, t)| (format!("theta[{}]", j + 1), t * tau + mu)).collect()
            });
            (Box::new(move |ctx: &mut Ctx| eight_schools(ctx, y.clone(), sigma.clone())), derive)
        }
        "kidiq-kidscore_momhs" | "earnings-logearn_height" | "nes1972-nes" | "sblrc-blr" => {
            let (x, y, prior) = match name {
                "kidiq-kidscore_momhs" => {
                    let x: Vec<Vec<f64>> = floats(data, "mom_hs").iter().map(|&h| vec![1.0, h]).collect();
                    (x, floats(data, "kid_score"), RegressionPrior::HalfCauchySigma)
                }
                "earnings-logearn_height" => {
                    let x: Vec<Vec<f64>> = floats(data, "height").iter().map(|&h| vec![1.0, h]).collect();
                    (x, floats(data, "earn").iter().map(|e| e.ln()).collect(), RegressionPrior::Flat)
                }
                "nes1972-nes" => {
                    let cols =
                        ["real_ideo", "race_adj", "age_discrete", "educ1", "gender", "income"].map(|k| floats(data, k));
                    let x = (0..cols[0].len())
                        .map(|i| {
                            let age = cols[2][i];
                            vec![
                                1.0,
                                cols[0][i],
                                cols[1][i],
                                f64::from(age == 2.0),
                                f64::from(age == 3.0),
                                f64::from(age == 4.0),
                                cols[3][i],
                                cols[4][i],
                                cols[5][i],
                            ]
                        })
                        .collect();
                    (x, floats(data, "partyid7"), RegressionPrior::Flat)
                }
                _ => (matrix(data, "X"), floats(data, "y"), RegressionPrior::Blr),
            };
            let (x, y) = (t2(&x, &d), t1(&y, &d));
            (Box::new(move |ctx: &mut Ctx| regression(ctx, x.clone(), y.clone(), prior)), none())
        }
        "gp_pois_regr-gp_pois_regr" => {
            let xs = floats(data, "x");
            let (x, k) = (t1(&xs, &d), t1(&floats(data, "k"), &d));
            let derive: Derive = Box::new(move |v: &Named| {
                let (rho, alpha, z) = (v["rho"][0], v["alpha"][0], &v["f_tilde"]);
                let n = xs.len();
                let cov = |i: usize, j: usize| {
                    alpha * alpha * (-(xs[i] - xs[j]).powi(2) / (2.0 * rho * rho)).exp()
                        + if i == j { 1e-10 } else { 0.0 }
                };
                let mut l = vec![vec![0.0; n]; n];
                for j in 0..n {
                    for i in j..n {
                        let s = cov(i, j) - (0..j).map(|m| l[i][m] * l[j][m]).sum::<f64>();
                        l[i][j] = if i == j { s.sqrt() } else { s / l[j][j] };
                    }
                }
                (0..n).map(|i| (format!("f[{}]", i + 1), (0..=i).map(|m| l[i][m] * z[m]).sum())).collect()
            });
            (Box::new(move |ctx: &mut Ctx| gp_pois_regr(ctx, x.clone(), k.clone())), derive)
        }
        "garch-garch11" => {
            let (y, sigma1) = (floats(data, "y"), data["sigma1"].as_f64().unwrap());
            let derive: Derive =
                Box::new(|v: &Named| vec![("beta1".to_string(), v["beta1_raw"][0] * (1.0 - v["alpha1"][0]))]);
            (Box::new(move |ctx: &mut Ctx| garch11(ctx, y.clone(), sigma1, d.clone())), derive)
        }
        _ => {
            // transformed data: Xc = X without its intercept column, centred
            let x = matrix(data, "X");
            let k = x[0].len() - 1;
            let means: Vec<f64> = (1..=k).map(|c| x.iter().map(|r| r[c]).sum::<f64>() / x.len() as f64).collect();
            let xc: Vec<Vec<f64>> = x.iter().map(|r| (1..=k).map(|c| r[c] - means[c - 1]).collect()).collect();
            let (xc, y) = (t2(&xc, &d), t1(&floats(data, "Y"), &d));
            (Box::new(move |ctx: &mut Ctx| diamonds(ctx, xc.clone(), y.clone())), none())
        }
    }
}

/// One posterior's figures (ours, or NumPyro's read back from `bench/posteriordb_numpyro.py --out`).
#[derive(Clone)]
struct Row {
    name: String,
    mean_err: f64,
    sd_err: f64,
    rhat: f64,
    divergences: usize,
    ess_per_s: f64,
    seconds: f64,
    worst: String,
    /// Microseconds per U and gradient.
    grad_us: f64,
    /// The evaluation path: `tape`, `burn`, or `burn (why the tape fell back)`.
    tape: String,
}

fn run(
    name: &str,
    dir: &std::path::Path,
    reference: &Json,
    config: &NutsConfig,
    device: &Device,
    tape: bool,
) -> Result<Row> {
    let file = name.split('-').next().unwrap();
    let data: Json = serde_json::from_str(
        &std::fs::read_to_string(dir.join("data").join(format!("{file}.json"))).expect("posteriordb data file"),
    )
    .expect("posteriordb data is JSON");
    let (model, derive) = build(name, &data, device);
    let potential = ModelPotential::new(model)?.with_tape(tape);
    let start = Instant::now();
    let result = Mcmc::new(config.clone())?.run(&potential)?;
    let seconds = start.elapsed().as_secs_f64();
    // One U and gradient at the last draw (the tape recorded during the run, if it could): the
    // fastest of 5 batches of 50, so that a batch holding the tape's spot check (one burn-path
    // evaluation every 10 000 calls) or a busy moment of the machine does not count.
    let q = result.draws[0].last().expect("a draw").clone();
    let mut grad_us = f64::MAX;
    for _ in 0..5 {
        let timed = Instant::now();
        for _ in 0..50 {
            potential.value_and_grad(&q)?;
        }
        grad_us = grad_us.min(timed.elapsed().as_secs_f64() / 50.0 * 1e6);
    }
    let tape = match potential.tape_status() {
        TapeStatus::Active { .. } => "tape".to_string(),
        TapeStatus::Disabled => "burn".to_string(),
        other => format!("burn ({other:?})"),
    };
    // Every draw, named as Stan names it: beta[1], sigma, ...
    let (chains, draws) = (result.num_chains(), result.num_samples());
    let mut named: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    for (c, chain) in result.draws.iter().enumerate() {
        for q in chain {
            let values = potential.constrain(q)?;
            let sites: Named = values
                .iter()
                .map(|(k, v)| (k.clone(), v.flat().into_data().iter::<f64>().collect::<Vec<f64>>()))
                .collect();
            let mut all: Vec<(String, f64)> = Vec::new();
            for (site, v) in &sites {
                if v.len() == 1 {
                    all.push((site.clone(), v[0]));
                } else {
                    all.extend(v.iter().enumerate().map(|(i, x)| (format!("{site}[{}]", i + 1), *x)));
                }
            }
            all.extend(derive(&sites));
            for (k, x) in all {
                named.entry(k).or_insert_with(|| vec![Vec::with_capacity(draws); chains])[c].push(x);
            }
        }
    }
    let refs = reference[name].as_object().expect("posterior in reference.json");
    let (mut mean_err, mut sd_err, mut rhat, mut ess, mut worst) = (0.0f64, 0.0f64, 0.0f64, f64::MAX, String::new());
    for (param, r) in refs {
        let chains = named.get(param).unwrap_or_else(|| panic!("{name}: no draws for the reference's {param}"));
        let s = summary(chains)?;
        let (rm, rsd, rn) = (r["mean"].as_f64().unwrap(), r["sd"].as_f64().unwrap(), r["n"].as_f64().unwrap());
        let z = (s.mean - rm).abs() / (s.mcse_mean.powi(2) + rsd * rsd / rn).sqrt();
        if z > mean_err {
            worst = param.clone();
        }
        mean_err = mean_err.max(z);
        sd_err = sd_err.max((s.sd / rsd - 1.0).abs());
        rhat = rhat.max(s.rhat);
        ess = ess.min(s.ess_bulk);
    }
    Ok(Row {
        name: name.to_string(),
        mean_err,
        sd_err,
        rhat,
        divergences: result.divergences(),
        ess_per_s: ess / seconds,
        seconds,
        worst,
        grad_us,
        tape,
    })
}

/// Per figure, the median over runs of the same posterior (seeds `seed`, `seed + 1`, ...).
fn median_row(runs: &[Row]) -> Row {
    let median = |f: &dyn Fn(&Row) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        let m = v.len() / 2;
        if v.len() % 2 == 1 {
            v[m]
        } else {
            (v[m - 1] + v[m]) / 2.0
        }
    };
    let worst = runs.iter().max_by(|a, b| a.mean_err.total_cmp(&b.mean_err)).expect("at least one run");
    Row {
        name: worst.name.clone(),
        mean_err: median(&|r| r.mean_err),
        sd_err: median(&|r| r.sd_err),
        rhat: median(&|r| r.rhat),
        divergences: median(&|r| r.divergences as f64).round() as usize,
        ess_per_s: median(&|r| r.ess_per_s),
        seconds: median(&|r| r.seconds),
        worst: worst.worst.clone(),
        grad_us: median(&|r| r.grad_us),
        tape: worst.tape.clone(),
    }
}

/// NumPyro's rows from the JSON file `bench/posteriordb_numpyro.py --out FILE` writes.
fn numpyro_rows(path: &std::path::Path) -> std::result::Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--numpyro {}: {e}", path.display()))?;
    let rows: Json =
        serde_json::from_str(&text).map_err(|e| format!("--numpyro {}: not JSON ({e})", path.display()))?;
    let field = |r: &Json, k: &str| {
        r[k].as_f64().ok_or_else(|| format!("--numpyro {}: a row without the number {k}", path.display()))
    };
    rows.as_array()
        .ok_or_else(|| format!("--numpyro {}: expected a JSON array of rows", path.display()))?
        .iter()
        .map(|r| {
            Ok(Row {
                name: r["name"].as_str().unwrap_or_default().to_string(),
                mean_err: field(r, "mean_err_mcse")?,
                sd_err: field(r, "sd_rel_err")?,
                rhat: field(r, "rhat")?,
                divergences: field(r, "divergences")?.round() as usize,
                ess_per_s: field(r, "ess_per_s")?,
                seconds: field(r, "seconds")?,
                worst: r["worst"].as_str().unwrap_or_default().to_string(),
                grad_us: f64::NAN,
                tape: "numpyro".to_string(),
            })
        })
        .collect()
}

/// The figures of one row, for the side-by-side table.
fn figures(r: Option<&Row>) -> String {
    match r {
        Some(r) => format!(
            "{:>9.2} {:>6.1}% {:>6.3} {:>4} {:>8.1}",
            r.mean_err,
            100.0 * r.sd_err,
            r.rhat,
            r.divergences,
            r.ess_per_s
        ),
        None => format!("{:>38}", "(not run)"),
    }
}

fn main() -> Result<()> {
    let mut json = false;
    let mut only: Option<String> = None;
    let mut cheap = false;
    let mut dir = PathBuf::from("../shared/data/posteriordb");
    let mut seed = 0u64;
    let mut draws = 1000usize;
    let mut tape = true;
    let mut repeats = 1usize;
    let mut numpyro: Option<PathBuf> = None;
    let mut cli = cli!(
        "cargo run --example posteriordb -- [--json] [--only NAME] [--cheap] [--data DIR] [--seed N] [--draws N] [--no-tape] [--repeats N] [--numpyro FILE]"
    );
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("json") => json = true,
            Long("cheap") => cheap = true,
            Long("only") => only = Some(cli.value()),
            Long("data") => dir = PathBuf::from(cli.value::<String>()),
            Long("seed") => seed = cli.value(),
            Long("draws") => draws = cli.value(),
            Long("no-tape") => tape = false,
            Long("repeats") => repeats = cli.value(),
            Long("numpyro") => numpyro = Some(PathBuf::from(cli.value::<String>())),
            _ => usage.fail(arg.unexpected()),
        }
    }
    if repeats == 0 {
        usage.fail("--repeats 0: run each posterior at least once (--repeats 3 reports medians of 3 seeds)");
    }
    let theirs = match &numpyro {
        Some(path) => numpyro_rows(path).unwrap_or_else(|e| usage.fail(e)),
        None => Vec::new(),
    };
    if !dir.join("reference.json").exists() {
        println!("posteriordb skipped: {} is absent (see /work/shared/data/posteriordb/README.md)", dir.display());
        return Ok(());
    }
    let reference: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).expect("reference.json"))
            .expect("reference.json is JSON");
    let names: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|n| !cheap || CHEAP.contains(n))
        .filter(|n| only.as_ref().is_none_or(|o| n.starts_with(o.as_str())))
        .collect();
    if names.is_empty() {
        usage.fail(format!(
            "--only {}: no posterior of that name (names: {})",
            only.unwrap_or_default(),
            ALL.join(", ")
        ));
    }

    // f64 before any tensor exists: NUTS's energy error needs more than f32's 7 digits.
    let mut plain = Device::flex();
    plain.configure(FloatDType::F64).expect("configure before creating tensors");
    let device = plain.autodiff();
    let config =
        NutsConfig::default().with_num_warmup(draws).with_num_samples(draws).with_num_chains(4).with_seed(seed);

    println!(
        "{:<40} {:>10} {:>8} {:>7} {:>5} {:>9} {:>8} {:>9}  worst mean, U+grad by",
        "posterior", "mean/MCSE", "sd err", "R-hat", "div", "ESS/s", "time s", "grad us"
    );
    let mut rows = Vec::new();
    for name in names {
        let runs = (0..repeats as u64)
            .map(|i| run(name, &dir, &reference, &config.clone().with_seed(seed + i), &device, tape))
            .collect::<Result<Vec<Row>>>()?;
        let row = median_row(&runs);
        println!(
            "{:<40} {:>10.2} {:>7.1}% {:>7.3} {:>5} {:>9.1} {:>8.1} {:>9.2}  {}, {}",
            row.name,
            row.mean_err,
            100.0 * row.sd_err,
            row.rhat,
            row.divergences,
            row.ess_per_s,
            row.seconds,
            row.grad_us,
            row.worst,
            row.tape
        );
        rows.push(row);
    }
    if numpyro.is_some() {
        let head = format!("{:>9} {:>7} {:>6} {:>4} {:>8}", "mean/MCSE", "sd err", "R-hat", "div", "ESS/s");
        println!("\n{:<40} | {:^38} | {:^38}", "", "bayesburn", "NumPyro");
        println!("{:<40} | {head} | {head}", "posterior");
        for row in &rows {
            let theirs = theirs.iter().find(|t| t.name == row.name);
            println!("{:<40} | {} | {}", row.name, figures(Some(row)), figures(theirs));
        }
    }
    if json {
        let all: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"name\":\"{}\",\"mean_err_mcse\":{:.4},\"sd_rel_err\":{:.5},\"rhat\":{:.5},\"divergences\":{},\"ess_per_s\":{:.3},\"seconds\":{:.2},\"grad_us\":{:.3},\"tape\":{}}}",
                    r.name, r.mean_err, r.sd_err, r.rhat, r.divergences, r.ess_per_s, r.seconds, r.grad_us, serde_json::to_string(&r.tape).expect("a string")
                )
            })
            .collect();
        println!("[{}]", all.join(","));
    }
    Ok(())
}
