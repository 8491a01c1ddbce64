//! The UCI regression benchmark (Hernández-Lobato & Adams 2015): MC dropout, a deep ensemble
//! and Bayes-by-backprop on the fixed 20 random 90/10 splits, with RMSE and test
//! log-likelihood in original units as mean ± standard error over the splits, printed beside
//! the published figures (Gal & Ghahramani 2016; Lakshminarayanan et al. 2017).
//!
//! What it shows: the loader of the split layout (`bayesburn::data::uci`), standardisation with
//! training statistics, a grid search on the validation part of each training split (never the
//! test split), Monte-Carlo prediction batched along the sample axis, and the mixture test
//! log-likelihood (`metrics::mc_log_likelihood`).
//!
//! ```text
//! cargo run --release --example uci -- ../shared/data/uci/yacht --method all
//! ```
//!
//! The dataset folder is any folder in the layout (`<name>/` or `<name>/data/`); the runner
//! knows no dataset by name. Its settings come from the folder (`n_hidden.txt`, `n_epochs.txt`,
//! `dropout_rates.txt`, `tau_values.txt`) and the flags; the published figures, kept in a table
//! below, are only printed when the folder's name is one of the papers' datasets.
//!
//! Methods (one hidden ReLU layer, inputs and targets standardised with training statistics):
//! - `mc-dropout` (Gal & Ghahramani 2016): dropout on the input and the hidden layer, squared
//!   error, weight decay `l^2 (1 - p) / tau` from the prior length-scale `l = 1e-2`; test LL by
//!   log-sum-exp over `T` stochastic passes with noise precision `tau`.
//! - `ensemble` (Lakshminarayanan et al. 2017): 5 members with Gaussian outputs trained on the
//!   Gaussian NLL, batch 100, uniform-mixture prediction; `--adversarial` adds fast-gradient-sign
//!   examples (ε = 1 % of each input's range).
//! - `bbb` (Blundell et al. 2015): Bayes-by-backprop, `BayesLinear` with the reparameterization
//!   estimator, N(0, 1) prior, full KL, a learnt homoscedastic noise variance.
//! - `laplace` (Daxberger et al. 2021): a deterministic network trained to the MAP of the same
//!   N(0, 1) prior with a learnt noise, then `bayesburn::laplace`'s last-layer posterior (full
//!   GGN of the output layer), prior precision and noise sd by the marginal likelihood, the
//!   closed-form GLM predictive. The validation checks score the Laplace predictive refitted at
//!   each check.
//! - `swag` (Maddox et al. 2019): the same MAP network, epochs by its own validation LL, then
//!   `max(20, epochs / 4)` epochs at a constant learning rate from 1e-3, 3e-3, 1e-2 (chosen on
//!   the validation part), one snapshot per epoch, rank 20; the test predictive is the mixture
//!   of 30 sampled networks (each with its sampled noise).
//!
//! The protocol (the same for every folder; nothing depends on the dataset's name): each
//! training split's first 80 % trains and its last 20 % validates. The epoch budget is
//! `800 (d + 1) max(1, sqrt(n / 1000))` gradient steps for `n` rows and `d` inputs (10 to
//! 4 000 epochs), checked 20 times on the validation LL;
//! the search stops after a quarter of the budget without improvement, and the learning rate
//! decays exponentially to 1e-3 of its start over the budget. MC dropout searches the rates
//! 0.005, 0.01, 0.05, 0.1 and a precision grid of noise sds from 1e-5 to 1 times the training
//! target's sd; the ensemble's variance floor is (1e-5 target sd)^2 and its heads start near
//! the target's variance; BBB's noise starts at the target's variance. 50 hidden units below
//! 5 000 training rows, else 100. The chosen setting and epoch count are retrained on the whole
//! training split and scored once on its test split.
//!
//! Flags: `--method mc-dropout|ensemble|bbb|laplace|swag|all` (default all), `--splits N` (default all),
//! `--epochs N` (replaces the epoch budget), `--json` (one JSON line per method, last),
//! `--seed N`, `--threads N` (splits trained in parallel; default: available cores),
//! `--samples T` (MC-dropout test passes, default 10 000), `--adversarial`, `--validate`
//! (score on the validation part of each training split instead of the test split),
//! `--mcd-lr`, `--mcd-batch`, `--ens-lr`, `--bbb-lr`, `--map-lr` (Laplace's and SWAG's MAP network). Instead of a folder, `--synthetic R`
//! generates `bayesburn::data::synthetic::NoisyRegression` (`--rows N`, default 20 000,
//! `--inputs D`, default 12) with noise sd `R` times the signal's, and `--noise-sweep` runs it
//! at R = 1e-4, 1e-3, 1e-2, 0.1, 1 and prints the learnt noise sd beside the true one.
//!
//! Time (dev profile, 2 shared cores): yacht, all methods, 20 splits, about 10 minutes; the
//! measured times of every dataset are in the book's UCI chapter. The smoke run of `.ci/run`
//! (`--splits 2 --epochs 20`) takes a few seconds.

pub mod methods;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use bayesburn::data::synthetic::NoisyRegression;
use bayesburn::data::uci::{Split, UciDataset};
use bayesburn::{noise, Error, Result};

use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::{Long, Value};
use methods::{bbb, ensemble, laplace, mc_dropout, swag, Method, SplitScore};

/// Published figures for one dataset, printed beside ours. Display only: no setting depends on
/// the dataset's name.
struct Published {
    /// The dataset's folder name.
    dataset: &'static str,
    /// MC dropout RMSE, its SE, LL, its SE (Gal & Ghahramani 2016, arXiv revision).
    gal: [f64; 4],
    /// MC dropout RMSE and LL of the 2018 grid-search re-run.
    gal_2018: [f64; 2],
    /// Deep-ensemble RMSE, its SE, NLL, its SE (Lakshminarayanan et al. 2017).
    ensemble: [f64; 4],
    /// Mean-field VI (Graves 2011) RMSE, its SE, LL, its SE, as run by Hernández-Lobato & Adams
    /// (2015, Tables 1-2) and reprinted by Gal & Ghahramani (2016, Table 1).
    vi: [f64; 4],
}

const PUBLISHED: [Published; 3] = [
    Published {
        dataset: "bostonHousing",
        gal: [2.97, 0.19, -2.46, 0.06],
        gal_2018: [2.90, -2.40],
        ensemble: [3.28, 1.00, 2.41, 0.25],
        vi: [4.32, 0.29, -2.90, 0.07],
    },
    Published {
        dataset: "concrete",
        gal: [5.23, 0.12, -3.04, 0.02],
        gal_2018: [4.82, -2.93],
        ensemble: [6.03, 0.58, 3.06, 0.18],
        vi: [7.13, 0.12, -3.39, 0.02],
    },
    Published {
        dataset: "yacht",
        gal: [1.11, 0.09, -1.55, 0.03],
        gal_2018: [0.67, -1.25],
        ensemble: [1.58, 0.48, 1.18, 0.21],
        vi: [6.89, 0.67, -3.44, 0.16],
    },
];

/// Settings of a run (the flags).
#[derive(Debug, Clone)]
pub struct Args {
    /// The dataset folder (`<name>/` or `<name>/data/`).
    pub folder: String,
    /// `mc-dropout`, `ensemble`, `bbb`, `laplace`, `swag` or `all`.
    pub method: String,
    /// Use the first `splits` splits (default all).
    pub splits: Option<usize>,
    /// Epochs for every method, replacing the protocol's budget.
    pub epochs: Option<usize>,
    /// Print one JSON line per method (and no per-split progress).
    pub json: bool,
    /// Base seed; split `i` runs under its own seed derived from it.
    pub seed: u64,
    /// Splits trained at the same time.
    pub threads: usize,
    /// MC-dropout test passes `T`.
    pub samples: usize,
    /// Deep ensemble with fast-gradient-sign examples.
    pub adversarial: bool,
    /// Score on the validation part of each training split instead of the test split.
    pub validate: bool,
    /// MC-dropout learning rate.
    pub mcd_lr: f64,
    /// MC-dropout batch size.
    pub mcd_batch: usize,
    /// Ensemble learning rate.
    pub ens_lr: f64,
    /// BBB learning rate.
    pub bbb_lr: f64,
    /// Learning rate of the MAP network under Laplace and SWAG.
    pub map_lr: f64,
    /// Generate a synthetic set with this noise fraction instead of reading a folder.
    pub synthetic: Option<f64>,
    /// Rows of the synthetic set.
    pub rows: usize,
    /// Inputs of the synthetic set.
    pub inputs: usize,
    /// Run the synthetic set at every noise level of [`SWEEP`].
    pub noise_sweep: bool,
}

impl Args {
    /// The defaults for a dataset folder.
    pub fn new(folder: impl Into<String>) -> Args {
        Args {
            folder: folder.into(),
            method: "all".into(),
            splits: None,
            epochs: None,
            json: false,
            seed: 0,
            threads: std::thread::available_parallelism().map_or(1, |p| p.get()),
            samples: 10_000,
            adversarial: false,
            validate: false,
            mcd_lr: 1e-2,
            mcd_batch: 128,
            ens_lr: 1e-2,
            bbb_lr: 1e-2,
            map_lr: 1e-2,
            synthetic: None,
            rows: 20_000,
            inputs: 12,
            noise_sweep: false,
        }
    }
}

fn parse_args() -> Args {
    let mut a = Args::new("");
    let mut cli = cli!(
        "cargo run --release --example uci -- <dataset folder> [--method mc-dropout|ensemble|bbb|laplace|swag|all] \
         [--splits N] [--epochs N] [--json] [--seed N] [flags]"
    );
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("method") => a.method = cli.value(),
            Long("splits") => a.splits = Some(cli.value()),
            Long("epochs") => a.epochs = Some(cli.value()),
            Long("json") => a.json = true,
            Long("seed") => a.seed = cli.value(),
            Long("threads") => a.threads = cli.value::<usize>().max(1),
            Long("samples") => a.samples = cli.value::<usize>().max(1),
            Long("adversarial") => a.adversarial = true,
            Long("validate") => a.validate = true,
            Long("mcd-lr") => a.mcd_lr = cli.value(),
            Long("mcd-batch") => a.mcd_batch = cli.value(),
            Long("ens-lr") => a.ens_lr = cli.value(),
            Long("synthetic") => a.synthetic = Some(cli.value()),
            Long("rows") => a.rows = cli.value(),
            Long("inputs") => a.inputs = cli.value(),
            Long("noise-sweep") => a.noise_sweep = true,
            Long("bbb-lr") => a.bbb_lr = cli.value(),
            Long("map-lr") => a.map_lr = cli.value(),
            Value(folder) if a.folder.is_empty() => a.folder = cli.string(folder),
            _ => usage.fail(arg.unexpected()),
        }
    }
    if a.folder.is_empty() && a.synthetic.is_none() && !a.noise_sweep {
        usage.fail("the dataset folder is missing (e.g. ../shared/data/uci/yacht)");
    }
    a
}

/// One method's figures over the splits: the JSON line of `--json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MethodReport {
    /// The dataset's folder name.
    pub dataset: String,
    /// `mc-dropout`, `ensemble`, `bbb`, `laplace` or `swag`.
    pub method: String,
    /// Number of splits.
    pub splits: usize,
    /// Mean test RMSE (original units).
    pub rmse_mean: f64,
    /// Its standard error over the splits.
    pub rmse_se: f64,
    /// Mean test log-likelihood per point (original units; higher is better).
    pub ll_mean: f64,
    /// Its standard error over the splits.
    pub ll_se: f64,
    /// Mean over the splits of the learnt noise sd (original units).
    pub noise_sd: f64,
    /// Mean over the splits of the epochs the validation chose.
    pub epochs: f64,
    /// Wall time of the method over all splits.
    pub seconds: f64,
}

/// Runs `method` on every split, `threads` splits at a time, each under its own seed (so the
/// figures do not depend on the number of threads).
fn run_splits(method: Method, data: &UciDataset, splits: &[Split], args: &Args) -> Result<Vec<SplitScore>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<SplitScore>>>> = Mutex::new(vec![None; splits.len()]);
    std::thread::scope(|scope| {
        for _ in 0..args.threads.min(splits.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= splits.len() {
                    break;
                }
                let seed = args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
                let score = noise::with_seed(seed, || method(data, &splits[i], args));
                if !args.json {
                    if let Ok(sc) = &score {
                        eprintln!(
                            "  split {i:>2}: rmse {:.3} ll {:.3} epochs {} {}",
                            sc.rmse, sc.ll, sc.epochs, sc.note
                        );
                    }
                }
                results.lock().expect("no panics while holding the lock")[i] = Some(score);
            });
        }
    });
    results.into_inner().expect("threads joined").into_iter().map(|r| r.expect("every split ran")).collect()
}

/// Mean and standard error (sample sd / sqrt(n)).
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

fn main() {
    let args = parse_args();
    match run(&args) {
        Ok(reports) if args.json => {
            for r in reports {
                println!("{}", serde_json::to_string(&r).expect("plain numbers and strings"));
            }
        }
        Ok(_) => {}
        Err(e) => {
            // The typed error's message names the file, the line and the fix.
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// Noise levels of `--noise-sweep` (noise sd over the signal's sd).
pub const SWEEP: [f64; 5] = [1e-4, 1e-3, 1e-2, 0.1, 1.0];

/// Runs the selected methods on the folder's (or the synthetic set's) splits, prints the
/// markdown table and returns one report per method (per noise level with `--noise-sweep`).
///
/// # Errors
/// The loader's typed errors for a malformed folder; an unknown `--method`; a training error.
pub fn run(args: &Args) -> Result<Vec<MethodReport>> {
    if !matches!(args.method.as_str(), "all" | "mc-dropout" | "ensemble" | "bbb" | "laplace" | "swag") {
        return Err(Error::invalid(
            "examples/uci",
            "--method",
            &args.method,
            "one of mc-dropout, ensemble, bbb, laplace, swag, all",
            "pick a method or all",
        ));
    }
    if args.noise_sweep {
        let mut reports = Vec::new();
        println!("| noise sd / signal sd | method | learnt noise sd | ratio | RMSE | epochs |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for r in SWEEP {
            let data = noise::with_seed(args.seed, || NoisyRegression::new(args.rows, args.inputs, r).generate())?;
            for rep in run_dataset(&data, args, false)? {
                println!(
                    "| {r:.0e} | {} | {:.2e} | {:.2} | {:.2e} | {:.0} |",
                    rep.method,
                    rep.noise_sd,
                    rep.noise_sd / r,
                    rep.rmse_mean,
                    rep.epochs
                );
                reports.push(rep);
            }
        }
        return Ok(reports);
    }
    let data = match args.synthetic {
        Some(r) => noise::with_seed(args.seed, || NoisyRegression::new(args.rows, args.inputs, r).generate())?,
        None => UciDataset::load(&args.folder)?,
    };
    run_dataset(&data, args, true)
}

/// [`run`] on one dataset; `table` prints the markdown table.
fn run_dataset(data: &UciDataset, args: &Args, table: bool) -> Result<Vec<MethodReport>> {
    let name = data.name();
    let n_splits = args.splits.unwrap_or(data.splits.len()).min(data.splits.len());
    let splits: Vec<Split> =
        data.splits[..n_splits].iter().map(|s| if args.validate { s.validation() } else { s.clone() }).collect();
    let all: [(&str, &str, Method); 5] = [
        ("mc-dropout", "MC dropout", mc_dropout),
        ("ensemble", if args.adversarial { "Deep ensemble (5, adversarial)" } else { "Deep ensemble (5)" }, ensemble),
        ("bbb", "BBB (reparameterization)", bbb),
        ("laplace", "Last-layer Laplace (MAP)", laplace),
        ("swag", "SWAG (MAP)", swag),
    ];
    let published = PUBLISHED.iter().find(|p| p.dataset == name);
    let scored_on = if args.validate { "validation part of each training split" } else { "test split" };
    if table {
        println!(
            "UCI regression: {name} ({} rows, {} features), {n_splits} splits, scored on the {scored_on}",
            data.n_rows(),
            data.n_features
        );
        println!("| method | RMSE | published RMSE | test LL | published LL | noise sd | epochs | seconds |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    }
    let mut reports = Vec::new();
    for (key, label, method) in all {
        if args.method != "all" && args.method != key {
            continue;
        }
        if !args.json {
            eprintln!("{label} on {name}:");
        }
        let start = Instant::now();
        let scores = run_splits(method, data, &splits, args)?;
        let seconds = start.elapsed().as_secs_f64();
        let column = |f: fn(&SplitScore) -> f64| scores.iter().map(f).collect::<Vec<_>>();
        let (rmse_mean, rmse_se) = mean_se(&column(|r| r.rmse));
        let (ll_mean, ll_se) = mean_se(&column(|r| r.ll));
        let (noise_sd, _) = mean_se(&column(|r| r.noise_sd));
        let (epochs, _) = mean_se(&column(|r| r.epochs as f64));
        let pair = |v: &[f64; 4]| (format!("{:.2} ± {:.2}", v[0], v[1]), format!("{:.2} ± {:.2}", v[2], v[3]));
        let (pub_rmse, pub_ll) = match (key, published) {
            ("mc-dropout", Some(Published { gal: g, gal_2018: r, .. })) => (
                format!("{:.2} ± {:.2} (2018 grid: {:.2})", g[0], g[1], r[0]),
                format!("{:.2} ± {:.2} (2018 grid: {:.2})", g[2], g[3], r[1]),
            ),
            ("ensemble", Some(Published { ensemble: e, .. })) => {
                (format!("{:.2} ± {:.2}", e[0], e[1]), format!("{:.2} ± {:.2} (NLL {:.2})", -e[2], e[3], e[2]))
            }
            ("bbb", Some(Published { vi, .. })) => {
                let (r, l) = pair(vi);
                (format!("VI {r}"), format!("VI {l}"))
            }
            _ => ("—".into(), "—".into()),
        };
        if table {
            println!(
                "| {label} | {rmse_mean:.2} ± {rmse_se:.2} | {pub_rmse} | {ll_mean:.2} ± {ll_se:.2} | {pub_ll} | \
                 {noise_sd:.3} | {epochs:.0} | {seconds:.0} |"
            );
        }
        reports.push(MethodReport {
            dataset: name.clone(),
            method: key.into(),
            splits: n_splits,
            rmse_mean,
            rmse_se,
            ll_mean,
            ll_se,
            noise_sd,
            epochs,
            seconds,
        });
    }
    if table {
        println!(
            "Settings by the protocol (examples/uci/methods.rs): MC dropout batch {}, lr {}, T = {}; \
             ensemble, BBB and the MAP network of Laplace and SWAG batch {}, lr {}, {} and {}{}; seed {}",
            args.mcd_batch,
            args.mcd_lr,
            args.samples,
            methods::BATCH,
            args.ens_lr,
            args.bbb_lr,
            args.map_lr,
            if args.adversarial { ", adversarial (FGSM, 1 % of range)" } else { "" },
            args.seed
        );
    }
    Ok(reports)
}
