//! Aleatoric versus epistemic uncertainty in classification: a heteroscedastic classifier
//! (Kendall & Gal 2017, §3.2) with MC dropout (Gal & Ghahramani 2016) on a 2-D toy problem.
//!
//! Data: three Gaussian classes (sd 0.6) centred at (-1, 0), (1, 0) and (0, 2.2), 300
//! training points each. Classes 0 and 1 overlap around the origin, so labels there are
//! noisy; class 2 is mostly separate. Evaluation sets, drawn fresh from the same mixture and
//! split by the *true* Bayes posterior: the overlap (max true class probability < 0.75) and
//! the clean part of the training region (max true class probability > 0.99); plus far-away
//! points on a ring at `--ring` times the training-data radius, where there is no data at all.
//!
//! Prediction: S dropout samples in one batched call; for each, the class probabilities are
//! the mean over T Gaussian-distorted copies of the logits, `softmax(f + sigma * eps)` (the
//! aleatoric part the heteroscedastic head predicts). `predict::classification` splits the
//! uncertainty into the expected entropy (aleatoric, should be high in the overlap) and the
//! mutual information (epistemic, should be high far from the data).
//!
//! Setup (the defaults): inputs standardised; MLP 2-64-64 with ReLU and MC dropout p = 0.2
//! after each hidden layer; Adam with weight decay 0.1 on the summed NLL, i.e. MAP under a
//! Gaussian prior of variance 10 on the weights, the prior of MC dropout's variational reading (Gal &
//! Ghahramani 2016, §3); loss `KendallGalLoss` (paper form, eq. 12). Stronger decay (1, 10)
//! flattens the in-data logits more than the far-away ones and lowers the epistemic contrast;
//! a wider net (128) averages the dropout noise away. The known limit of ReLU networks (Hein et
//! al. 2019): far away the logits grow linearly, so the dropout samples agree except near the
//! extrapolated class boundaries; the mutual-information map shows exactly those bands, and
//! the far-ring mean is higher than in the data mainly because of them.
//!
//! Prints a table (mean expected entropy and mutual information per set and their ratios;
//! accuracy, ECE, NLL and Brier score on fresh test points; training time) and the
//! accuracy-vs-coverage table of refusing to predict below a confidence threshold; writes two PNG
//! heat maps (expected entropy and mutual information over a grid covering the ring, training
//! points on top) and a reliability diagram, and with `--json` prints one JSON line last.
//!
//! Takes about 15–20 s on 2 cores in the dev profile (about a third training, the rest the
//! 50 x 8 Monte-Carlo predictions on ~3,200 points and drawing):
//! `cargo run --example classify_uncertainty`.
//! Flags: `--json`, `--device cpu|cuda`, `--seed N`, `--out DIR` (default `target/classify`),
//! and to vary the setup `--epochs N`, `--hidden N`, `--dropout P`, `--weight-decay L`,
//! `--ring R`, `--lr LR`.

use std::time::Instant;

use bayesburn::layers::{
    ClassificationHead, ClassificationHeadConfig, ClassificationOutput, McDropout, McDropoutConfig,
};
use bayesburn::objective::{Elbo, KendallGalLossConfig};
use bayesburn::predict::{self, ClassificationSummary};
use bayesburn::train::{fit, FitConfig};
use bayesburn::{metrics, noise, Bayesian};
use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::Long;
use burn::nn::{Linear, LinearConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};

const CENTRES: [(f64, f64); 3] = [(-1.0, 0.0), (1.0, 0.0), (0.0, 2.2)];
const CLASS_SD: f64 = 0.6;
const N_PER_CLASS: usize = 300;
const N_TEST: usize = 1500;
const N_FAR: usize = 120;
const SAMPLES: usize = 50;
const DISTORTIONS: usize = 8;
const GRID: usize = 40;
const OVERLAP_MAX_P: f64 = 0.75;
const CLEAN_MIN_P: f64 = 0.99;

// ANCHOR: model
/// An MLP with MC dropout after each hidden ReLU and a deterministic heteroscedastic
/// classification head (logits and one logit variance per class).
#[derive(Module, Bayesian, Debug)]
pub struct Classifier {
    hidden1: Linear,
    drop1: McDropout,
    hidden2: Linear,
    drop2: McDropout,
    head: ClassificationHead,
}

impl Classifier {
    fn new(hidden: usize, p: f64, device: &Device) -> Self {
        Classifier {
            hidden1: LinearConfig::new(2, hidden).init(device),
            drop1: McDropoutConfig::new(p).init(),
            hidden2: LinearConfig::new(hidden, hidden).init(device),
            drop2: McDropoutConfig::new(p).init(),
            head: ClassificationHeadConfig::new(hidden, CENTRES.len()).init(device),
        }
    }

    /// # Shapes
    /// - `x`: `[S, N, 2]`
    /// - output: `logits`, `var` `[S, N, K]`
    fn forward(&self, x: Tensor<3>) -> ClassificationOutput {
        let h = self.drop1.forward(relu(self.hidden1.forward(x)));
        let h = self.drop2.forward(relu(self.hidden2.forward(h)));
        self.head.forward(h)
    }
}
// ANCHOR_END: model

struct Args {
    json: bool,
    device: String,
    seed: u64,
    out: String,
    epochs: usize,
    hidden: usize,
    dropout: f64,
    weight_decay: f64,
    ring: f64,
    lr: f64,
}

fn parse_args() -> Args {
    let mut a = Args {
        json: false,
        device: "cpu".into(),
        seed: 0,
        out: "target/classify".into(),
        epochs: 60,
        hidden: 64,
        dropout: 0.2,
        weight_decay: 0.1,
        ring: 3.0,
        lr: 3e-3,
    };
    let mut cli = cli!(
        "cargo run --release --example classify_uncertainty -- [--json] [--device D] [--seed N] [--out DIR] [flags]"
    );
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("json") => a.json = true,
            Long("device") => a.device = cli.value(),
            Long("seed") => a.seed = cli.value(),
            Long("out") => a.out = cli.value(),
            Long("epochs") => a.epochs = cli.value(),
            Long("hidden") => a.hidden = cli.value(),
            Long("dropout") => a.dropout = cli.value(),
            Long("weight-decay") => a.weight_decay = cli.value(),
            Long("ring") => a.ring = cli.value(),
            Long("lr") => a.lr = cli.value(),
            _ => usage.fail(arg.unexpected()),
        }
    }
    a
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64")
}

/// Points `[n, 2]` as rows of `(x1, x2)`, with their labels.
struct Points {
    xy: Vec<(f64, f64)>,
    labels: Vec<usize>,
}

/// `n_per_class` points of each Gaussian class, from the seeded noise source.
fn sample_mixture(n_per_class: usize) -> Points {
    let k = CENTRES.len();
    let eps = host(noise::normal::<2>([k * n_per_class, 2], &Device::flex()));
    let mut xy = Vec::with_capacity(k * n_per_class);
    let mut labels = Vec::with_capacity(k * n_per_class);
    for (c, &(cx, cy)) in CENTRES.iter().enumerate() {
        for i in 0..n_per_class {
            let r = c * n_per_class + i;
            xy.push((cx + CLASS_SD * eps[2 * r], cy + CLASS_SD * eps[2 * r + 1]));
            labels.push(c);
        }
    }
    Points { xy, labels }
}

/// The Bayes posterior of the generating mixture (equal priors, equal isotropic covariances):
/// `p(c | x) ∝ exp(-|x - m_c|^2 / (2 sd^2))`; its maximum says how noisy a label at `x` is.
fn true_max_posterior((x, y): (f64, f64)) -> f64 {
    let logits: Vec<f64> =
        CENTRES.iter().map(|&(cx, cy)| -((x - cx).powi(2) + (y - cy).powi(2)) / (2.0 * CLASS_SD * CLASS_SD)).collect();
    let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = logits.iter().map(|l| (l - m).exp()).sum();
    1.0 / z
}

/// Inputs are standardised with the training data's mean and one common scale (the root mean
/// squared distance from the mean), which keeps the geometry (and hence "far") isotropic.
#[derive(Clone, Copy)]
struct Standardise {
    mean: (f64, f64),
    scale: f64,
}

impl Standardise {
    fn fit(xy: &[(f64, f64)]) -> Self {
        let n = xy.len() as f64;
        let mean = (xy.iter().map(|p| p.0).sum::<f64>() / n, xy.iter().map(|p| p.1).sum::<f64>() / n);
        let ms = xy.iter().map(|p| (p.0 - mean.0).powi(2) + (p.1 - mean.1).powi(2)).sum::<f64>() / n;
        Standardise { mean, scale: (ms / 2.0).sqrt() }
    }

    /// `[N, 2]` standardised inputs on `device`.
    fn tensor(&self, xy: &[(f64, f64)], device: &Device) -> Tensor<2> {
        let flat: Vec<f32> = xy
            .iter()
            .flat_map(|p| [((p.0 - self.mean.0) / self.scale) as f32, ((p.1 - self.mean.1) / self.scale) as f32])
            .collect();
        Tensor::<1>::from_floats(flat.as_slice(), device).reshape([xy.len(), 2])
    }
}

fn labels_tensor(labels: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::<1, Int>::from_data(TensorData::new(v, [labels.len()]), device)
}

// ANCHOR: predict
/// The predictive summary at `x` `[N, 2]` (standardised): S dropout samples in one batched call
/// (sample axis first); per sample the class probabilities are the mean over T distorted
/// copies `softmax(f + sqrt(var) * eps)`, so each `p_s` already holds the aleatoric noise the
/// head predicts, and the spread of `p_s` over the dropout samples is the epistemic part.
fn summarise(model: &Classifier, x: Tensor<2>, chunk: usize) -> bayesburn::Result<ClassificationSummary> {
    let [n, _] = x.dims();
    let mut probs_per_chunk = Vec::new();
    for start in (0..n).step_by(chunk) {
        let end = (start + chunk).min(n);
        let xs = x.clone().slice([start..end, 0..2]).unsqueeze::<3>().expand([SAMPLES, end - start, 2]);
        let out = model.forward(xs);
        let [s, m, k] = out.logits.dims();
        let eps = noise::normal([DISTORTIONS, s, m, k], &out.logits.device());
        let distorted = out.logits.unsqueeze::<4>() + out.var.sqrt().unsqueeze::<4>() * eps; // [T, S, m, K]
        let probs: Tensor<3> = softmax(distorted, 3).mean_dim(0).squeeze_dim(0); // [S, m, K]
        probs_per_chunk.push(probs);
    }
    // Only the points are chunked (to bound the [T, S, m, K] tensor), so concatenate along N.
    predict::classification(Tensor::cat(probs_per_chunk, 1))
}
// ANCHOR_END: predict

fn mean_of(v: &[f64], keep: impl Fn(usize) -> bool) -> f64 {
    let picked: Vec<f64> = v.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, a)| *a).collect();
    picked.iter().sum::<f64>() / picked.len().max(1) as f64
}

/// What the table and the JSON line report.
#[derive(serde::Serialize)]
struct Report {
    mi_ratio_far: f64,
    alea_ratio_overlap: f64,
    mi_far: f64,
    mi_train: f64,
    mi_overlap: f64,
    mi_clean: f64,
    alea_overlap: f64,
    alea_clean: f64,
    alea_far: f64,
    accuracy: f64,
    bayes_accuracy: f64,
    ece: f64,
    nll: f64,
    brier: f64,
    n_overlap: usize,
    n_clean: usize,
    train_s: f64,
    total_s: f64,
    png: String,
    png_entropy: String,
    setup: String,
    seed: u64,
}

fn main() -> bayesburn::Result<()> {
    let args = parse_args();
    let device = bayesburn_fixtures::cli::from_name(&args.device)?;
    noise::seed(args.seed);
    device.seed(args.seed); // burn's own initialisers (the hidden Linear layers)
    let started = Instant::now();

    // Data.
    let train = sample_mixture(N_PER_CLASS);
    let test = sample_mixture(N_TEST / CENTRES.len());
    let scaler = Standardise::fit(&train.xy);
    let radius = train
        .xy
        .iter()
        .map(|p| ((p.0 - scaler.mean.0).powi(2) + (p.1 - scaler.mean.1).powi(2)).sqrt())
        .fold(0.0, f64::max);
    let far_r = args.ring * radius;
    let far: Vec<(f64, f64)> = (0..N_FAR)
        .map(|i| {
            let a = 2.0 * std::f64::consts::PI * i as f64 / N_FAR as f64;
            (scaler.mean.0 + far_r * a.cos(), scaler.mean.1 + far_r * a.sin())
        })
        .collect();
    let max_p: Vec<f64> = test.xy.iter().map(|&p| true_max_posterior(p)).collect();
    let is_overlap = |i: usize| max_p[i] < OVERLAP_MAX_P;
    let is_clean = |i: usize| max_p[i] > CLEAN_MIN_P;

    // ANCHOR: train
    let ad = device.clone().autodiff();
    let n_train = train.xy.len();
    let x_train = scaler.tensor(&train.xy, &ad);
    let loss = KendallGalLossConfig::new().init(); // paper form, eq. 12, T = 10
    let elbo = Elbo::new(n_train)?;
    // Adam's weight decay adds `lambda * w` to the gradient of the summed NLL the Elbo returns:
    // MAP under a Gaussian prior N(0, 1 / lambda) on the weights, the prior MC dropout's
    // variational interpretation assumes (Gal & Ghahramani 2016, §3). A weak prior (0.1, variance
    // 10) suits this task: strong decay softens the in-data logits more than the far-away ones.
    let mut optim = AdamConfig::new().with_weight_decay(Some(WeightDecayConfig::new(args.weight_decay as f32))).init();
    let config = FitConfig::new(args.epochs, 64, args.lr).with_label("classifier").with_progress(!args.json);
    let start = Instant::now();
    let model = Classifier::new(args.hidden, args.dropout, &ad);
    let (model, _) = fit(model, &mut optim, n_train, &config, |m, b| {
        let out = m.forward(b.select(x_train.clone()).unsqueeze());
        let labels = labels_tensor(&b.indices.iter().map(|&i| train.labels[i]).collect::<Vec<_>>(), &ad);
        elbo.loss(loss.try_forward_no_reduction(out.logits, out.var, labels)?, None, b.step)
    })?;
    let train_s = start.elapsed().as_secs_f64();
    // ANCHOR_END: train

    // ANCHOR: evaluate
    let model = model.valid(); // McDropout keeps sampling masks on the inference device
    let chunk = 1024;
    let test_summary = summarise(&model, scaler.tensor(&test.xy, &device), chunk)?;
    let far_summary = summarise(&model, scaler.tensor(&far, &device), chunk)?;
    let test_labels = labels_tensor(&test.labels, &device);
    let predicted: Vec<f64> = host(test_summary.predicted_class().float());
    let accuracy = mean_of(
        &predicted.iter().zip(&test.labels).map(|(p, &l)| f64::from(*p as usize == l)).collect::<Vec<_>>(),
        |_| true,
    );
    let bayes_accuracy = mean_of(&max_p, |_| true); // expected accuracy of the true posterior
    let ece = metrics::expected_calibration_error(
        test_summary.probs.clone(),
        test_labels.clone(),
        metrics::DEFAULT_CALIBRATION_BINS,
    )?;
    let alea = host(test_summary.expected_entropy.clone());
    let mi = host(test_summary.mutual_information());
    let (alea_far_v, mi_far_v) = (host(far_summary.expected_entropy.clone()), host(far_summary.mutual_information()));
    let mi_train = mean_of(&mi, |_| true);
    let mi_far = mean_of(&mi_far_v, |_| true);
    let (alea_overlap, alea_clean) = (mean_of(&alea, is_overlap), mean_of(&alea, is_clean));
    // ANCHOR_END: evaluate

    // ANCHOR: judge
    // Judging the predictive probabilities themselves: two proper scores, calibration per
    // confidence bin, and the accuracy left when the least confident predictions are refused.
    let probs = test_summary.probs.clone();
    let nll = metrics::categorical_nll(probs.clone(), test_labels.clone())?;
    let brier = metrics::brier_score(probs.clone(), test_labels.clone())?;
    let reliability = metrics::reliability_diagram(probs.clone(), test_labels.clone(), 10)?;
    let (confidence, correct) = metrics::confidence_and_correct(probs, test_labels)?;
    let refusals = metrics::accuracy_coverage(confidence, correct, &[0.0, 0.6, 0.8, 0.9, 0.95, 0.99])?;
    // ANCHOR_END: judge

    // Maps over a grid covering the ring.
    let half = 1.1 * far_r;
    let (x_range, y_range) =
        ((scaler.mean.0 - half, scaler.mean.0 + half), (scaler.mean.1 - half, scaler.mean.1 + half));
    let grid: Vec<(f64, f64)> = (0..GRID * GRID)
        .map(|k| {
            let (i, j) = ((k % GRID) as f64 + 0.5, (k / GRID) as f64 + 0.5);
            (
                x_range.0 + i * (x_range.1 - x_range.0) / GRID as f64,
                y_range.0 + j * (y_range.1 - y_range.0) / GRID as f64,
            )
        })
        .collect();
    let grid_summary = summarise(&model, scaler.tensor(&grid, &device), chunk)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| bayesburn::Error::Io { path: args.out.clone(), message: e.to_string() })?;
    let png = vec![format!("{}/expected_entropy.png", args.out), format!("{}/mutual_information.png", args.out)];
    let png_reliability = format!("{}/reliability.png", args.out);
    #[cfg(feature = "plot")]
    {
        use bayesburn::plot::{HeatMap, ScatterPoint};
        // Every fourth training point, so the map shows through the clouds.
        let points: Vec<ScatterPoint> = train
            .xy
            .iter()
            .zip(&train.labels)
            .step_by(4)
            .map(|(&(x, y), &class)| ScatterPoint { x, y, class })
            .collect();
        let max_entropy = (CENTRES.len() as f64).ln();
        let maps = [
            ("Expected entropy (aleatoric)", host(grid_summary.expected_entropy.clone()), "nats"),
            ("Mutual information (epistemic)", host(grid_summary.mutual_information()), "nats"),
        ];
        for ((title, values, label), path) in maps.into_iter().zip(&png) {
            HeatMap::new(title, values, (GRID, GRID), x_range, y_range)
                .with_points(points.clone())
                .with_value_range(0.0, max_entropy)
                .with_value_label(label)
                .save(path, (900, 760))?;
        }
        bayesburn::plot::ReliabilityDiagram::from_metrics("MC dropout + Kendall-Gal, test points", &reliability)
            .save(&png_reliability, (640, 560))?;
    }
    #[cfg(not(feature = "plot"))]
    let _ = grid_summary;

    let setup = format!(
        "MLP 2-{h}-{h}-(3 logits + 3 variances), ReLU, MC dropout p = {p} after each hidden layer, \
         Adam lr {lr} with weight decay {wd} (Gaussian prior precision on the summed NLL), {e} epochs of \
         batch 64, inputs standardised, Kendall-Gal paper loss T = 10; prediction S = {SAMPLES} dropout \
         samples x T = {DISTORTIONS} distortions; far ring at {ring} x the training radius ({far_r:.2})",
        h = args.hidden,
        p = args.dropout,
        lr = args.lr,
        wd = args.weight_decay,
        e = args.epochs,
        ring = args.ring,
    );
    let report = Report {
        mi_ratio_far: mi_far / mi_train,
        alea_ratio_overlap: alea_overlap / alea_clean,
        mi_far,
        mi_train,
        mi_overlap: mean_of(&mi, is_overlap),
        mi_clean: mean_of(&mi, is_clean),
        alea_overlap,
        alea_clean,
        alea_far: mean_of(&alea_far_v, |_| true),
        accuracy,
        bayes_accuracy,
        ece,
        nll,
        brier,
        n_overlap: (0..max_p.len()).filter(|&i| is_overlap(i)).count(),
        n_clean: (0..max_p.len()).filter(|&i| is_clean(i)).count(),
        train_s,
        total_s: started.elapsed().as_secs_f64(),
        png: png[1].clone(),
        png_entropy: png[0].clone(),
        setup,
        seed: args.seed,
    };

    let r = &report;
    println!(
        "Three Gaussian classes, {n_train} training points, {N_TEST} test points, {N_FAR} far points; \
         uncertainty in nats (max ln 3 = {:.3})",
        3f64.ln()
    );
    println!("| set | points | expected entropy (aleatoric) | mutual information (epistemic) |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| overlap (true max p < {OVERLAP_MAX_P}) | {} | {:.4} | {:.4} |",
        r.n_overlap, r.alea_overlap, r.mi_overlap
    );
    println!("| clean (true max p > {CLEAN_MIN_P}) | {} | {:.4} | {:.4} |", r.n_clean, r.alea_clean, r.mi_clean);
    println!("| all test points (training region) | {N_TEST} | {:.4} | {:.4} |", mean_of(&alea, |_| true), r.mi_train);
    println!("| far ring | {N_FAR} | {:.4} | {:.4} |", r.alea_far, r.mi_far);
    println!();
    println!("| metric | value | target |");
    println!("| --- | --- | --- |");
    println!("| mi_ratio_far (MI far / MI training region) | {:.2} | >= 3 |", r.mi_ratio_far);
    println!("| alea_ratio_overlap (exp. entropy overlap / clean) | {:.2} | >= 2 |", r.alea_ratio_overlap);
    println!("| accuracy (Bayes-optimal {:.3}) | {:.3} | |", r.bayes_accuracy, r.accuracy);
    println!("| ECE ({} bins) | {:.4} | |", metrics::DEFAULT_CALIBRATION_BINS, r.ece);
    println!("| NLL (nats per point) | {:.4} | |", r.nll);
    println!("| Brier score | {:.4} | |", r.brier);
    println!("| train_s | {:.1} | |", r.train_s);
    println!();
    println!("Refusing to predict below a confidence threshold (max class probability):");
    println!("| threshold | coverage | accuracy on the kept points |");
    println!("| --- | --- | --- |");
    for p in &refusals {
        let acc = p.accuracy.map_or("-".to_string(), |a| format!("{a:.3}"));
        println!("| {:.2} | {:.3} | {acc} |", p.threshold, p.coverage);
    }
    println!("setup: {}", r.setup);
    println!(
        "note: ReLU logits grow linearly far away, so the dropout samples disagree mostly near the \
         extrapolated class boundaries (the bands in the mutual-information map)"
    );
    for p in png.iter().chain([&png_reliability]) {
        println!("figure: {p}");
    }
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    }
    Ok(())
}
