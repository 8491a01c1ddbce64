//! Eight schools with NUTS: the centered and the non-centered parameterization side by side.
//!
//! What it shows: the model written as `#[model]` functions (`fixtures/src/eight_schools/model.rs`,
//! with the library's HalfCauchy), sampled by `infer::mcmc` through `ModelPotential` (4 chains
//! of 1 000 draws after 1 000 warmup, Stan's adaptation); reading the diagnostics
//! (divergences, R-hat, bulk ESS); and why reparameterizing matters: the centered model's
//! funnel between `tau` and `theta` gives divergences and a poorly mixed `tau`; the
//! non-centered one samples cleanly. The last column is NUTS effective samples per second (the
//! smallest bulk ESS over mu, tau and the eight school-level parameters, over the wall time of
//! the run, warmup included). The same non-centered posterior through the hand-written
//! potential (`bayesburn_fixtures::eight_schools::EightSchools`, analytic gradient) is run too, for its ESS/s,
//! and the cost of one gradient of each is timed: the `#[model]` potential through its site
//! tape (recorded on the first gradient, then plain f64 arithmetic), through the burn path
//! (the model re-run and burn's autodiff), and by hand.
//!
//! mu ~ N(0, 5), tau ~ HalfCauchy(5), theta_j ~ N(mu, tau) (or theta_j = mu + tau theta_tilde_j,
//! theta_tilde_j ~ N(0, 1)), y_j ~ N(theta_j, sigma_j).
//!
//! Takes about 4 s in the dev profile (one gradient of the `#[model]` potential ~0.3 us through
//! the tape, ~0.24 us by hand); `--no-tape` samples through the burn path instead (~100 s:
//! ~150-350 us per gradient); `--hand` runs both parameterizations on the hand-written potential
//! (half a second).
//! Chains run one after the other on one thread (the setting of NumPyro's figure in
//! `bench/eight_schools_numpyro.py --bench`); `--parallel` puts them on threads.
//!
//! The non-centered `#[model]` run is then shown in the model's own terms: `McmcSamples`
//! (`Mcmc::run_model`) holds the draws per site, constrained (`tau`, not `log tau`) and shaped as
//! the site (`theta_tilde`: `[4, 1000, 8]`), with the `deterministic!` school effects `theta`, and
//! `print_summary()` prints NumPyro's table (mean, std, median, 5 % / 95 % quantiles, n_eff,
//! R-hat per element, divergences); `--arviz PATH` writes it for `arviz.from_dict`.
//!
//! Flags: `--json` (one JSON line last, for the non-centered model), `--seed N`, `--parallel`,
//! `--hand`, `--no-tape`, `--arviz PATH` (the non-centered draws as ArviZ JSON; not with `--hand`).

use bayesburn::infer::mcmc::diagnostics::summary;
use bayesburn::infer::mcmc::{ChainMethod, Mcmc, McmcResult, NutsConfig};
use bayesburn::{
    infer::{McmcSamples, ModelPotential, Potential},
    ppl::Ctx,
};
use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::Long;
use bayesburn_fixtures::eight_schools::{self, EightSchools, EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y};
use burn::prelude::*;
use burn::tensor::{FloatDType, TensorData};
use std::time::Instant;

/// NumPyro's posterior means (three runs of 4 x 50 000 draws, pooled; see `tests/it/mcmc.rs`).
const NUMPYRO_MU: f64 = 4.39514;
const NUMPYRO_TAU: f64 = 3.59378;
/// The exact posterior means (2-D quadrature after integrating theta out; `tests/it/mcmc.rs`).
const EXACT_MU: f64 = 4.39682;
const EXACT_TAU: f64 = 3.59771;

/// The figures the table shows for one run.
struct Report {
    divergence_rate: f64,
    divergences: usize,
    accept: f64,
    step_size: f64,
    rhat_max: f64,
    ess_bulk_min: f64,
    mu: (f64, f64),
    tau: (f64, f64),
    seconds: f64,
}

// ANCHOR: report
fn report(result: &McmcResult) -> bayesburn::Result<Report> {
    // mu, tau (constrained: tau = exp of the sampled log tau) and the eight school parameters.
    let mut quantities = vec![result.param(0)?, result.map(|q| q[1].exp())];
    for j in 0..8 {
        quantities.push(result.param(2 + j)?);
    }
    let summaries = quantities.iter().map(|chains| summary(chains)).collect::<bayesburn::Result<Vec<_>>>()?;
    Ok(Report {
        divergence_rate: result.divergence_rate(),
        divergences: result.divergences(),
        accept: result.mean_accept_prob(),
        step_size: result.step_sizes.iter().sum::<f64>() / result.num_chains() as f64,
        rhat_max: summaries.iter().map(|s| s.rhat).fold(f64::MIN, f64::max),
        ess_bulk_min: summaries.iter().map(|s| s.ess_bulk).fold(f64::MAX, f64::min),
        mu: (summaries[0].mean, summaries[0].mcse_mean),
        tau: (summaries[1].mean, summaries[1].mcse_mean),
        seconds: result.elapsed_s,
    })
}
// ANCHOR_END: report

fn main() -> bayesburn::Result<()> {
    let mut json = false;
    let mut seed = 0u64;
    let mut method = ChainMethod::Sequential;
    let mut hand = false;
    let mut arviz: Option<String> = None;
    let mut tape = true;
    let mut cli = cli!(
        "cargo run --release --example eight_schools -- [--json] [--seed N] [--parallel] [--hand] [--no-tape] [--arviz PATH]"
    );
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("json") => json = true,
            Long("parallel") => method = ChainMethod::Parallel,
            Long("hand") => hand = true,
            Long("no-tape") => tape = false,
            Long("seed") => seed = cli.value(),
            Long("arviz") => arviz = Some(cli.value()),
            _ => usage.fail(arg.unexpected()),
        }
    }

    // ANCHOR: run
    // f64 before any tensor exists: NUTS's energy error needs more than f32's 7 digits.
    let mut plain = Device::flex();
    plain.configure(FloatDType::F64).expect("configure before creating tensors");
    let device = plain.autodiff();
    let sigma = Tensor::<1>::from_data(TensorData::new(EIGHT_SCHOOLS_SIGMA.to_vec(), [8]), &device);
    let y = Tensor::<1>::from_data(TensorData::new(EIGHT_SCHOOLS_Y.to_vec(), [8]), &device);
    let (s, yc) = (sigma.clone(), y.clone());
    let centered_model =
        ModelPotential::new(move |ctx: &mut Ctx| eight_schools::centered(ctx, s.clone(), Some(yc.clone())))?
            .with_tape(tape);
    let (s, yc) = (sigma.clone(), y.clone());
    let non_centered_model =
        ModelPotential::new(move |ctx: &mut Ctx| eight_schools::non_centered(ctx, s.clone(), Some(yc.clone())))?
            .with_tape(tape);

    let config = NutsConfig::default()
        .with_num_warmup(1000)
        .with_num_samples(1000)
        .with_num_chains(4)
        .with_seed(seed)
        .with_chain_method(method);
    let mcmc = Mcmc::new(config)?;
    // Both potentials use q = [mu, log tau, 8 school parameters], so one `report` reads either.
    let (centered, non_centered, samples) = if hand {
        (report(&mcmc.run(&EightSchools::centered())?)?, report(&mcmc.run(&EightSchools::non_centered())?)?, None)
    } else {
        let result = mcmc.run(&non_centered_model)?;
        let non_centered = report(&result)?;
        // The same draws in the model's terms: per site, constrained, `theta` recomputed.
        let samples = McmcSamples::from_result(&non_centered_model, result)?;
        (report(&mcmc.run(&centered_model)?)?, non_centered, Some(samples))
    };
    // ANCHOR_END: run

    let source = match (hand, tape) {
        (true, _) => "hand-written potential",
        (false, true) => "#[model] through ModelPotential's site tape",
        (false, false) => "#[model] through ModelPotential, burn path",
    };
    println!("eight schools ({source}), NUTS, 4 chains x 1000 draws (1000 warmup), {method:?} chains, seed {seed}");
    println!(
        "{:<13} {:>12} {:>7} {:>6} {:>7} {:>9} {:>15} {:>15} {:>8} {:>9}",
        "model", "divergences", "accept", "step", "R-hat", "bulk ESS", "mu (MCSE)", "tau (MCSE)", "seconds", "ESS / s"
    );
    for (name, r) in [("centered", &centered), ("non-centered", &non_centered)] {
        println!(
            "{:<13} {:>5} ({:>4.1}%) {:>7.3} {:>6.3} {:>7.3} {:>9.0} {:>7.2} ({:>5.3}) {:>7.2} ({:>5.3}) {:>8.3} {:>9.0}",
            name,
            r.divergences,
            100.0 * r.divergence_rate,
            r.accept,
            r.step_size,
            r.rhat_max,
            r.ess_bulk_min,
            r.mu.0,
            r.mu.1,
            r.tau.0,
            r.tau.1,
            r.seconds,
            r.ess_bulk_min / r.seconds
        );
    }
    println!(
        "NumPyro (3 x 4 x 50 000 draws): mu {NUMPYRO_MU}, tau {NUMPYRO_TAU}; exact: mu {EXACT_MU}, tau {EXACT_TAU}"
    );
    // ANCHOR: summary
    if let Some(samples) = &samples {
        println!("\nnon-centered #[model], per site (tau constrained; theta is a deterministic! site):");
        samples.print_summary()?;
        if let Some(path) = &arviz {
            samples.save_arviz_json(path)?;
            println!("ArviZ JSON written to {path} (arviz.from_dict(posterior=d[\"posterior\"], ...))");
        }
    }
    // ANCHOR_END: summary
    // The hand-written non-centered potential for comparison (cheap), and the cost of one
    // value-and-gradient of each potential at the same points.
    let hand_report = if hand { None } else { Some(report(&mcmc.run(&EightSchools::non_centered())?)?) };
    if let Some(r) = &hand_report {
        println!(
            "non-centered, hand-written potential: {:.3} s, bulk ESS {:.0}, ESS / s {:.0}",
            r.seconds,
            r.ess_bulk_min,
            r.ess_bulk_min / r.seconds
        );
    }
    let q = [1.0, 0.5, 0.3, -0.2, 0.1, 0.0, -0.4, 0.6, 0.2, -0.1];
    let time_grad = |p: &dyn Potential| -> bayesburn::Result<f64> {
        let start = Instant::now();
        for _ in 0..200 {
            p.value_and_grad(&q)?;
        }
        Ok(start.elapsed().as_secs_f64() / 200.0 * 1e6)
    };
    let burn_path =
        ModelPotential::new(move |ctx: &mut Ctx| eight_schools::non_centered(ctx, sigma.clone(), Some(y.clone())))?
            .with_tape(false);
    non_centered_model.value_and_grad(&q)?; // records the tape if the runs above did not
    let (t_tape, t_burn, t_hand) =
        (time_grad(&non_centered_model)?, time_grad(&burn_path)?, time_grad(&EightSchools::non_centered())?);
    println!(
        "one U and gradient: #[model] {t_tape:.3} us ({:?}), #[model] burn path {t_burn:.1} us, hand-written {t_hand:.3} us",
        non_centered_model.tape_status()
    );

    if json {
        let r = &non_centered;
        println!(
            "{{\"rhat_max\": {:.5}, \"divergence_rate\": {:.5}, \"mu_mean\": {:.5}, \"tau_mean\": {:.5}, \
             \"ess_bulk_min\": {:.1}, \"ess_per_s\": {:.1}, \"mu_mcse\": {:.5}, \"tau_mcse\": {:.5}}}",
            r.rhat_max,
            r.divergence_rate,
            r.mu.0,
            r.tau.0,
            r.ess_bulk_min,
            r.ess_bulk_min / r.seconds,
            r.mu.1,
            r.tau.1
        );
    }
    Ok(())
}
