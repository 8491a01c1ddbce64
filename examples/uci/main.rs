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
//! Methods (one hidden layer of `n_hidden` ReLU units, inputs and targets standardised):
//! - `mc-dropout` (Gal & Ghahramani 2016, and the 2018 grid-search re-run): dropout on the
//!   input and the hidden layer, squared error, weight decay `l^2 (1 - p) / (2 N tau)` from the
//!   prior length-scale `l = 1e-2`; dropout rate `p` and precision `tau` chosen by the validation
//!   log-likelihood (first 80 % of the train file trains, last 20 % validates), then retrained
//!   on the whole training split; test LL by log-sum-exp over `T` stochastic passes.
//! - `ensemble` (Lakshminarayanan et al. 2017): 5 members with Gaussian heads trained on the
//!   Gaussian NLL, batch 100, uniform-mixture prediction; `--adversarial` adds fast-gradient-sign
//!   examples (ε = 1 % of each input's range).
//! - `bbb`: Bayes-by-backprop (Flipout, N(0, 1) prior, full KL) with a learnt homoscedastic
//!   noise variance.
//!
//! Flags: `--method mc-dropout|ensemble|bbb|all` (default all), `--splits N` (default all),
//! `--epochs N` (every method; default per method below), `--json` (one JSON line per method,
//! last), `--seed N`, `--threads N` (splits trained in parallel; default: available cores),
//! `--samples T` (MC-dropout test passes, default 10 000), `--adversarial`, `--validate`
//! (score on the validation part of each training split instead of the test split: use it to
//! choose settings), and per-method `--mcd-epochs`, `--mcd-lr`, `--mcd-batch`,
//! `--ens-epochs`, `--ens-lr`, `--bbb-epochs`, `--bbb-lr`.
//!
//! Defaults: MC dropout 25 × `n_epochs` (1 000) epochs, batch 128, Adam lr 1e-2, T = 10 000
//! test passes (1 000 on the validation part); ensemble `n_epochs` (40) epochs, batch 100, Adam
//! lr 1e-2; BBB 10 × `n_epochs` (400) epochs, batch 100, Adam lr 1e-2, 100 posterior samples.
//!
//! The three datasets × 3 methods × 20 splits take about 12 minutes in release on 2 cores (the
//! measured times are in `docs/PERFORMANCE.md`); the smoke run of `.ci/run` (`--splits 2
//! --epochs 20`) takes about a second.

mod methods;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use bayesburn::data::uci::{Split, UciDataset};
use bayesburn::{noise, Error, Result};

use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::{Long, Value};
use methods::{bbb, ensemble, mc_dropout, Method, Settings, SplitScore, BATCH};

/// MC-dropout epochs per `n_epochs.txt` epoch: Gal's `--epochx` (10 in 2016, 100 in the 2018
/// re-run at learning rate 1e-3; 25 at our 1e-2, chosen on the validation parts).
const MCD_EPOCHX: usize = 25;

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
}

const PUBLISHED: [Published; 3] = [
    Published {
        dataset: "bostonHousing",
        gal: [2.97, 0.19, -2.46, 0.06],
        gal_2018: [2.90, -2.40],
        ensemble: [3.28, 1.00, 2.41, 0.25],
    },
    Published {
        dataset: "concrete",
        gal: [5.23, 0.12, -3.04, 0.02],
        gal_2018: [4.82, -2.93],
        ensemble: [6.03, 0.58, 3.06, 0.18],
    },
    Published {
        dataset: "yacht",
        gal: [1.11, 0.09, -1.55, 0.03],
        gal_2018: [0.67, -1.25],
        ensemble: [1.58, 0.48, 1.18, 0.21],
    },
];

/// Settings of a run (the flags).
#[derive(Debug, Clone)]
pub struct Args {
    /// The dataset folder (`<name>/` or `<name>/data/`).
    pub folder: String,
    /// `mc-dropout`, `ensemble`, `bbb` or `all`.
    pub method: String,
    /// Use the first `splits` splits (default all).
    pub splits: Option<usize>,
    /// Epochs for every method (default: per method).
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
    /// MC-dropout epochs (default 10 x `n_epochs.txt`).
    pub mcd_epochs: Option<usize>,
    /// MC-dropout learning rate.
    pub mcd_lr: f64,
    /// MC-dropout batch size.
    pub mcd_batch: usize,
    /// Ensemble epochs (default `n_epochs.txt`).
    pub ens_epochs: Option<usize>,
    /// Ensemble learning rate.
    pub ens_lr: f64,
    /// BBB epochs (default 10 x `n_epochs.txt`).
    pub bbb_epochs: Option<usize>,
    /// BBB learning rate.
    pub bbb_lr: f64,
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
            mcd_epochs: None,
            mcd_lr: 1e-2,
            mcd_batch: 128,
            ens_epochs: None,
            ens_lr: 1e-2,
            bbb_epochs: None,
            bbb_lr: 1e-2,
        }
    }
}

fn parse_args() -> Args {
    let mut a = Args::new("");
    let mut cli = cli!(
        "cargo run --release --example uci -- <dataset folder> [--method mc-dropout|ensemble|bbb|all] \
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
            Long("mcd-epochs") => a.mcd_epochs = Some(cli.value()),
            Long("mcd-lr") => a.mcd_lr = cli.value(),
            Long("mcd-batch") => a.mcd_batch = cli.value(),
            Long("ens-epochs") => a.ens_epochs = Some(cli.value()),
            Long("ens-lr") => a.ens_lr = cli.value(),
            Long("bbb-epochs") => a.bbb_epochs = Some(cli.value()),
            Long("bbb-lr") => a.bbb_lr = cli.value(),
            Value(folder) if a.folder.is_empty() => a.folder = cli.string(folder),
            _ => usage.fail(arg.unexpected()),
        }
    }
    if a.folder.is_empty() {
        usage.fail("the dataset folder is missing (e.g. ../shared/data/uci/yacht)");
    }
    a
}

/// One method's figures over the splits: the JSON line of `--json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MethodReport {
    /// The dataset's folder name.
    pub dataset: String,
    /// `mc-dropout`, `ensemble` or `bbb`.
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
    /// Wall time of the method over all splits.
    pub seconds: f64,
}

/// Runs `method` on every split, `threads` splits at a time, each under its own seed (so the
/// figures do not depend on the number of threads).
fn run_splits(
    method: Method,
    data: &UciDataset,
    splits: &[Split],
    args: &Args,
    s: &Settings,
) -> Result<Vec<SplitScore>> {
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
                let score = noise::with_seed(seed, || method(data, &splits[i], args, s));
                if !args.json {
                    if let Ok(sc) = &score {
                        eprintln!("  split {i:>2}: rmse {:.3} ll {:.3} {}", sc.rmse, sc.ll, sc.note);
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

/// Runs the selected methods on the folder's splits, prints the markdown table and returns one
/// report per method.
///
/// # Errors
/// The loader's typed errors for a malformed folder; an unknown `--method`; a training error.
pub fn run(args: &Args) -> Result<Vec<MethodReport>> {
    let data = UciDataset::load(&args.folder)?;
    let name = data.name();
    let n_splits = args.splits.unwrap_or(data.splits.len()).min(data.splits.len());
    let splits: Vec<Split> =
        data.splits[..n_splits].iter().map(|s| if args.validate { s.validation() } else { s.clone() }).collect();
    let base_epochs = data.grids.n_epochs.unwrap_or(40);
    let s = Settings {
        hidden: data.grids.n_hidden.as_ref().map_or(50, |h| h[0]),
        dropout_rates: data.grids.dropout_rates.clone().unwrap_or_else(|| vec![0.05]),
        tau_values: data.grids.tau_values.clone(),
        mcd_epochs: args.epochs.or(args.mcd_epochs).unwrap_or(MCD_EPOCHX * base_epochs),
        ens_epochs: args.epochs.or(args.ens_epochs).unwrap_or(base_epochs),
        bbb_epochs: args.epochs.or(args.bbb_epochs).unwrap_or(10 * base_epochs),
    };
    let all: [(&str, &str, Method); 3] = [
        ("mc-dropout", "MC dropout", mc_dropout),
        ("ensemble", if args.adversarial { "Deep ensemble (5, adversarial)" } else { "Deep ensemble (5)" }, ensemble),
        ("bbb", "BBB (Flipout)", bbb),
    ];
    if !matches!(args.method.as_str(), "all" | "mc-dropout" | "ensemble" | "bbb") {
        return Err(Error::invalid(
            "examples/uci",
            "--method",
            &args.method,
            "one of mc-dropout, ensemble, bbb, all",
            "pick a method or all",
        ));
    }
    let published = PUBLISHED.iter().find(|p| p.dataset == name);
    let scored_on = if args.validate { "validation part of each training split" } else { "test split" };
    println!(
        "UCI regression: {name} ({} rows, {} features), {n_splits} splits, scored on the {scored_on}",
        data.n_rows(),
        data.n_features
    );
    println!("| method | RMSE | published RMSE | test LL | published LL | seconds |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut reports = Vec::new();
    for (key, label, method) in all {
        if args.method != "all" && args.method != key {
            continue;
        }
        if !args.json {
            eprintln!("{label} on {name}:");
        }
        let start = Instant::now();
        let scores = run_splits(method, &data, &splits, args, &s)?;
        let seconds = start.elapsed().as_secs_f64();
        let (rmse_mean, rmse_se) = mean_se(&scores.iter().map(|r| r.rmse).collect::<Vec<_>>());
        let (ll_mean, ll_se) = mean_se(&scores.iter().map(|r| r.ll).collect::<Vec<_>>());
        let (pub_rmse, pub_ll) = match (key, published) {
            ("mc-dropout", Some(Published { gal: g, gal_2018: r, .. })) => (
                format!("{:.2} ± {:.2} (2018 grid: {:.2})", g[0], g[1], r[0]),
                format!("{:.2} ± {:.2} (2018 grid: {:.2})", g[2], g[3], r[1]),
            ),
            ("ensemble", Some(Published { ensemble: e, .. })) => {
                (format!("{:.2} ± {:.2}", e[0], e[1]), format!("{:.2} ± {:.2} (NLL {:.2})", -e[2], e[3], e[2]))
            }
            _ => ("—".into(), "—".into()),
        };
        println!(
            "| {label} | {rmse_mean:.2} ± {rmse_se:.2} | {pub_rmse} | {ll_mean:.2} ± {ll_se:.2} | {pub_ll} | {seconds:.0} |"
        );
        reports.push(MethodReport {
            dataset: name.clone(),
            method: key.into(),
            splits: n_splits,
            rmse_mean,
            rmse_se,
            ll_mean,
            ll_se,
            seconds,
        });
    }
    println!(
        "Settings: {} hidden units; MC dropout {} epochs, batch {}, lr {}, p in {:?}, tau in {:?}, T = {}; \
         ensemble {} epochs, batch {BATCH}, lr {}{}; BBB {} epochs, batch {BATCH}, lr {}; seed {}",
        s.hidden,
        s.mcd_epochs,
        args.mcd_batch,
        args.mcd_lr,
        s.dropout_rates,
        s.tau_values.as_deref().unwrap_or(&[]),
        args.samples,
        s.ens_epochs,
        args.ens_lr,
        if args.adversarial { ", adversarial (FGSM, 1 % of range)" } else { "" },
        s.bbb_epochs,
        args.bbb_lr,
        args.seed
    );
    Ok(reports)
}
