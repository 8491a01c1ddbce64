//! Active learning on digits (Gal, Islam & Ghahramani 2017, "Deep Bayesian Active Learning
//! with Image Data"): start from 20 labelled images (2 per class), acquire 10 at a time from an
//! unlabelled pool by an acquisition function of the MC-dropout predictive, retrain from scratch,
//! and record the test accuracy against the number of labels used.
//!
//! What it shows: `predict::classification` on `[T, N, K]` dropout samples gives every
//! acquisition function the paper compares: BALD (the mutual information between the prediction
//! and the weights, `ClassificationSummary::mutual_information`), max entropy
//! (`predictive_entropy`), variation ratios (`variation_ratio`) and, as the baseline, random.
//!
//! Model: an MLP 784-256-256-10 with `McDropout` (p = 0.5) after each hidden layer, softmax
//! cross-entropy with a weight decay scaled by `1 / labels` (Gal's `c / N`), Adam 1e-3, batch 32,
//! 100 epochs from scratch at every round (fewer steps than the paper's CNN, which trains to
//! convergence; the pool is scored with T = 20 dropout samples, the test set with the same
//! predictive). Data: `--data PATH` (default `../shared/data/mnist5k/mnist_5k.csv.gz`; 1,000 test
//! images, the other 4,000 the pool) or, when the file is absent, procedurally drawn digits
//! (said in the output).
//!
//! Prints the accuracy of each method at every 50 labels, mean ± sd over the seeds, the figures
//! at the last round, and with `--json` one JSON line last; writes a PNG (one panel per method:
//! the seed mean and a ± 1 sd band). Flags: `--data PATH`, `--seeds N` (default 3),
//! `--labels N` (the last round's label count, default 300), `--epochs N` (default 100),
//! `--samples T` (default 20), `--only bald|entropy|variation-ratio|random`, `--json`,
//! `--out DIR` (default `target/active_learning`). Takes about 14 minutes per method for 3
//! seeds in the dev profile on 2 shared cores (`cargo run --example active_learning -- --only
//! bald`; all four about an hour); `--labels 60 --seeds 1` takes about a minute.
//!
//! Measured (mnist5k, seeds 0-2, accuracy at 300 labels, mean ± sd): BALD 0.887 ± 0.011,
//! variation ratios 0.892 ± 0.006, max entropy 0.844 ± 0.018, random 0.867 ± 0.005.

use std::time::Instant;

use bayesburn::data::images::ImageSet;
use bayesburn::layers::{McDropout, McDropoutConfig};
use bayesburn::objective::Elbo;
use bayesburn::predict::{self, ClassificationSummary};
use bayesburn::train::{fit, FitConfig};
use bayesburn::{noise, Error};
use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::Long;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{decay::WeightDecayConfig, AdamConfig};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::TensorData;

const HIDDEN: usize = 256;
const START_PER_CLASS: usize = 2;
const ACQUIRE: usize = 10;
const N_TEST: usize = 1000;

// ANCHOR: model
/// Gal's MNIST MLP stand-in: two ReLU layers, MC dropout after each.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden1: Linear,
    drop1: McDropout,
    hidden2: Linear,
    drop2: McDropout,
    out: Linear,
}

impl Mlp {
    fn new(d: usize, device: &Device) -> Self {
        Mlp {
            hidden1: LinearConfig::new(d, HIDDEN).init(device),
            drop1: McDropoutConfig::new(0.5).init(),
            hidden2: LinearConfig::new(HIDDEN, HIDDEN).init(device),
            drop2: McDropoutConfig::new(0.5).init(),
            out: LinearConfig::new(HIDDEN, 10).init(device),
        }
    }

    /// `[S, N, d] -> [S, N, 10]` logits, fresh dropout masks per sample.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.drop1.forward(relu(self.hidden1.forward(x)));
        self.out.forward(self.drop2.forward(relu(self.hidden2.forward(h))))
    }
}
// ANCHOR_END: model

#[derive(Clone, Copy, PartialEq, Debug)]
enum Acquisition {
    Bald,
    Entropy,
    VariationRatio,
    Random,
}

impl Acquisition {
    const ALL: [Acquisition; 4] =
        [Acquisition::Bald, Acquisition::Entropy, Acquisition::VariationRatio, Acquisition::Random];

    fn name(self) -> &'static str {
        match self {
            Acquisition::Bald => "BALD",
            Acquisition::Entropy => "max entropy",
            Acquisition::VariationRatio => "variation ratios",
            Acquisition::Random => "random",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Acquisition::Bald => "bald",
            Acquisition::Entropy => "entropy",
            Acquisition::VariationRatio => "variation-ratio",
            Acquisition::Random => "random",
        }
    }
}

// ANCHOR: acquire
/// The scores of the pool points under `acquisition` (higher is acquired first); `None` for
/// random acquisition.
fn scores(acquisition: Acquisition, summary: &ClassificationSummary) -> Option<Tensor<1>> {
    match acquisition {
        Acquisition::Bald => Some(summary.mutual_information()),
        Acquisition::Entropy => Some(summary.predictive_entropy.clone()),
        Acquisition::VariationRatio => Some(summary.variation_ratio.clone()),
        Acquisition::Random => None,
    }
}
// ANCHOR_END: acquire

struct Args {
    data: String,
    seeds: u64,
    labels: usize,
    epochs: usize,
    samples: usize,
    only: String,
    json: bool,
    out: String,
}

fn parse_args() -> Args {
    let mut a = Args {
        data: "../shared/data/mnist5k/mnist_5k.csv.gz".into(),
        seeds: 3,
        labels: 300,
        epochs: 100,
        samples: 20,
        only: "all".into(),
        json: false,
        out: "target/active_learning".into(),
    };
    let mut cli = cli!("cargo run --example active_learning -- [--data PATH] [--seeds N] [--labels N] [flags]");
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("data") => a.data = cli.value(),
            Long("seeds") => a.seeds = cli.value(),
            Long("labels") => a.labels = cli.value(),
            Long("epochs") => a.epochs = cli.value(),
            Long("samples") => a.samples = cli.value(),
            Long("only") => a.only = cli.value(),
            Long("json") => a.json = true,
            Long("out") => a.out = cli.value(),
            _ => usage.fail(arg.unexpected()),
        }
    }
    a
}

/// Rows `idx` of `x` (`[N, d]` host) as a tensor.
fn rows(x: &[f32], d: usize, idx: &[usize], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = idx.iter().flat_map(|&i| x[i * d..(i + 1) * d].iter().copied()).collect();
    Tensor::from_data(TensorData::new(v, [idx.len(), d]), device)
}

fn labels_of(y: &[u8], idx: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = idx.iter().map(|&i| i64::from(y[i])).collect();
    Tensor::from_data(TensorData::new(v, [idx.len()]), device)
}

/// The MC-dropout predictive summary of `x` `[N, d]` with `t` samples, in chunks of rows.
fn predictive(model: &Mlp, x: Tensor<2>, t: usize) -> bayesburn::Result<ClassificationSummary> {
    let [n, d] = x.dims();
    let mut parts = Vec::new();
    let chunk = 1000;
    for lo in (0..n).step_by(chunk) {
        let hi = (lo + chunk).min(n);
        let xs = x.clone().slice(s![lo..hi, ..]).unsqueeze::<3>().expand([t, hi - lo, d]);
        parts.push(softmax(model.forward(xs), 2));
    }
    predict::classification(Tensor::cat(parts, 1))
}

/// Test accuracy of the predictive mean.
fn accuracy(summary: &ClassificationSummary, y: &[u8]) -> f64 {
    let pred: Vec<i64> =
        summary.probs.clone().argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().unwrap_or_default();
    pred.iter().zip(y).filter(|(p, &l)| **p == i64::from(l)).count() as f64 / y.len() as f64
}

/// One active-learning run: the test accuracy after each round, at 20, 30, ... labels.
fn run(
    acquisition: Acquisition,
    seed: u64,
    data: (&[f32], &[u8], usize),
    test: (&Tensor<2>, &[u8]),
    args: &Args,
) -> bayesburn::Result<Vec<f64>> {
    let (x, y, d) = data;
    let device = Device::flex();
    let ad = device.clone().autodiff();
    noise::seed(seed);
    device.seed(seed);
    // 2 labelled images per class to start, the rest of the pool unlabelled.
    let mut labelled = Vec::new();
    for class in 0..10u8 {
        labelled.extend(y.iter().enumerate().filter(|(_, &l)| l == class).map(|(i, _)| i).take(START_PER_CLASS));
    }
    let mut pool: Vec<usize> = (0..y.len()).filter(|i| !labelled.contains(i)).collect();
    let mut curve = Vec::new();
    loop {
        // ANCHOR: round
        // Retrain from scratch on the labelled set; weight decay c / N as in Gal et al.
        let n = labelled.len();
        let (xl, yl) = (rows(x, d, &labelled, &ad), labels_of(y, &labelled, &ad).one_hot::<2>(10).float());
        let elbo = Elbo::new(n)?;
        let decay = WeightDecayConfig::new((2.5 / n as f64) as f32);
        let config = FitConfig::new(args.epochs, 32.min(n), 1e-3).with_progress(false);
        let (model, _) =
            fit(Mlp::new(d, &ad), &mut AdamConfig::new().with_weight_decay(Some(decay)).init(), n, &config, |m, b| {
                let logits = m.forward(b.select(xl.clone()).unsqueeze());
                let one_hot: Tensor<3> = b.select(yl.clone()).unsqueeze();
                elbo.loss((log_softmax(logits, 2) * one_hot).sum_dim(2).neg().reshape([1, b.len()]), None, b.step)
            })?;
        let model = model.valid(); // McDropout keeps sampling masks
        curve.push(accuracy(&predictive(&model, test.0.clone(), args.samples)?, test.1));
        if n >= args.labels || pool.len() < ACQUIRE {
            break;
        }
        // Score the pool and move the top ACQUIRE (or ACQUIRE random ones) to the labelled set.
        let picked: Vec<usize> =
            match scores(acquisition, &predictive(&model, rows(x, d, &pool, &device), args.samples)?) {
                Some(score) => {
                    let s: Vec<f64> = score.into_data().convert::<f64>().try_to_vec::<f64>().unwrap_or_default();
                    let mut order: Vec<usize> = (0..pool.len()).collect();
                    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
                    order.truncate(ACQUIRE);
                    order
                }
                None => {
                    let u = noise::uniform::<1>([pool.len()], 0.0, 1.0, &device);
                    let u: Vec<f64> = u.into_data().convert::<f64>().try_to_vec::<f64>().unwrap_or_default();
                    let mut order: Vec<usize> = (0..pool.len()).collect();
                    order.sort_by(|&a, &b| u[a].total_cmp(&u[b]));
                    order.truncate(ACQUIRE);
                    order
                }
            };
        let mut picked = picked;
        picked.sort_unstable_by(|a, b| b.cmp(a));
        for k in picked {
            labelled.push(pool.swap_remove(k));
        }
        // ANCHOR_END: round
    }
    Ok(curve)
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var.sqrt())
}

fn main() -> bayesburn::Result<()> {
    let args = parse_args();
    let started = Instant::now();
    let path = std::path::Path::new(&args.data).exists().then_some(args.data.as_str());
    let (images, source) = ImageSet::open_or_synthetic(path, 0)?;
    let (pool_set, test_set) = images.stratified_split(N_TEST.min(images.len() / 5), 0)?;
    let d = pool_set.height() * pool_set.width();
    let device = Device::flex();
    let x_test = test_set.tensor(&device).reshape([test_set.len(), d]);
    let methods: Vec<Acquisition> =
        Acquisition::ALL.into_iter().filter(|a| args.only == "all" || args.only == a.key()).collect();
    if methods.is_empty() {
        return Err(Error::invalid(
            "examples/active_learning",
            "--only",
            &args.only,
            "one of bald, entropy, variation-ratio, random",
            "pick an acquisition function or leave --only out",
        ));
    }
    let mut curves: Vec<(Acquisition, Vec<Vec<f64>>)> = Vec::new();
    for &a in &methods {
        let mut per_seed = Vec::new();
        for seed in 0..args.seeds {
            let start = Instant::now();
            let curve = run(a, seed, (pool_set.pixels(), pool_set.labels(), d), (&x_test, test_set.labels()), &args)?;
            if !args.json {
                eprintln!(
                    "{} seed {seed}: accuracy {:.3} at {} labels ({:.0} s)",
                    a.name(),
                    curve.last().copied().unwrap_or(f64::NAN),
                    10 * START_PER_CLASS + ACQUIRE * (curve.len() - 1),
                    start.elapsed().as_secs_f64()
                );
            }
            per_seed.push(curve);
        }
        curves.push((a, per_seed));
    }
    let labels_at = |round: usize| 10 * START_PER_CLASS + ACQUIRE * round;
    let rounds = curves[0].1[0].len();
    println!(
        "Active learning on {source}: {} pool / {} test images, MLP 784-{HIDDEN}-{HIDDEN}-10 with MC dropout, \
         {} epochs per round, T = {}, {} seeds",
        pool_set.len(),
        test_set.len(),
        args.epochs,
        args.samples,
        args.seeds
    );
    let shown: Vec<usize> = (0..rounds).filter(|&r| labels_at(r) % 50 == 0 || r + 1 == rounds).collect();
    println!(
        "| acquisition | {} |",
        shown.iter().map(|&r| format!("{} labels", labels_at(r))).collect::<Vec<_>>().join(" | ")
    );
    println!("| --- |{}", " --- |".repeat(shown.len()));
    let mut summary = Vec::new();
    for (a, per_seed) in &curves {
        let cells: Vec<String> = shown
            .iter()
            .map(|&r| {
                let (m, s) = mean_sd(&per_seed.iter().map(|c| c[r]).collect::<Vec<_>>());
                format!("{m:.3} ± {s:.3}")
            })
            .collect();
        println!("| {} | {} |", a.name(), cells.join(" | "));
        let last: Vec<f64> = per_seed.iter().map(|c| c[rounds - 1]).collect();
        let (m, s) = mean_sd(&last);
        summary.push(serde_json::json!({"method": a.key(), "labels": labels_at(rounds - 1), "accuracy_mean": m, "accuracy_sd": s, "per_seed": last}));
    }
    #[cfg(feature = "plot")]
    {
        use bayesburn::plot::{save_bands, ConfidenceBand, PanelLayout};
        std::fs::create_dir_all(&args.out).map_err(|e| Error::Io { path: args.out.clone(), message: e.to_string() })?;
        let x: Vec<f64> = (0..rounds).map(|r| labels_at(r) as f64).collect();
        let bands: Vec<ConfidenceBand> = curves
            .iter()
            .map(|(a, per_seed)| {
                let (m, s): (Vec<f64>, Vec<f64>) =
                    (0..rounds).map(|r| mean_sd(&per_seed.iter().map(|c| c[r]).collect::<Vec<_>>())).unzip();
                // The band helper draws +-2 sd: half the seed sd gives a +-1 sd band.
                let half: Vec<f64> = s.iter().map(|v| v / 2.0).collect();
                ConfidenceBand::new(a.name(), x.clone(), m, half.clone(), half)
                    .with_axis_labels("labels used", "test accuracy")
            })
            .collect();
        let png = format!("{}/active_learning.png", args.out);
        save_bands(&png, &bands, PanelLayout::row().with_shared_y(true))?;
        println!("figure: {png}");
    }
    println!("total_s {:.0}", started.elapsed().as_secs_f64());
    if args.json {
        println!("{}", serde_json::json!({ "methods": summary, "source": source }));
    }
    Ok(())
}
