//! A variational autoencoder on binarized digits: amortized variational inference with a
//! Gaussian encoder, a Bernoulli decoder and the prior N(0, I) (Kingma & Welling 2014), scored
//! by the importance-weighted bound with k = 100 samples (Burda et al. 2016).
//!
//! Data: the digits binarized (a pixel is 1 when its grey level is above 127 of 255, i.e.
//! above 1/2 of the range); 20 % held out as the test set (stratified, fixed by `--seed`), and
//! `--val` images of the rest (default 500) held out for early stopping. On mnist5k: 3,500
//! training, 500 validation and 1,000 test images.
//!
//! Model (the defaults): the MLP of Kingma & Welling, 784-400-(20, 20) encoder and
//! 20-400-784 decoder with ReLU; `--conv` switches to two stride-2 convolutions each way.
//! Training: Adam on the negative ELBO (one latent sample per image, KL in closed form, KL
//! weight `--beta`), batches of 100. 4,000 images overfit quickly (on a PyTorch stand-in the
//! test bound peaked near -92 nats after 60-80 epochs and fell to -114 by 440 epochs), so after
//! every epoch the validation ELBO is measured and the best model is kept; training stops
//! after `--patience` epochs without improvement. The epoch kept is reported.
//!
//! Reports the test ELBO and the test IWAE bound with k = 100 (nats per image; higher is
//! better, both are lower bounds on log p(x)), the epochs, training time; writes PNGs of test
//! digits with their reconstructions, of samples from the prior (the decoder's pixel
//! probabilities at z ~ N(0, I)) and, for a 2-D latent (`--latent 2`), the latent map: the
//! decoded images over a grid of latent values at standard-normal quantiles. With `--json`,
//! one JSON line last.
//!
//! Run: `cargo run --release --example vae -- --data ../shared/data/mnist5k/mnist_5k.csv.gz`
//! (about 2 minutes on 2 cores in release; without `--data` it uses generated digits and says
//! so). Measured at seed 0 (shared machine, dev profile): test IWAE bound (k = 100) -92.6
//! nats, test ELBO -100.7, epoch 64 kept of 79 run, 49 s of training.
//! Flags: `--data PATH`, `--epochs N` (most epochs, default 150), `--patience N` (default 15),
//! `--latent Z` (default 20), `--hidden H` (default 400), `--conv`, `--beta B` (default 1),
//! `--lr LR` (default 1e-3), `--batch B` (default 100), `--val N` (default 500), `--k K`
//! (importance samples of the test bound, default 100), `--seed N`, `--json`,
//! `--device cpu|cuda`, `--out DIR` (default `target/vae`).

use std::time::Instant;

use bayesburn::data::images::ImageSet;
use bayesburn::noise;
use bayesburn::train::{fit, FitConfig};
use bayesburn::vae::{elbo, iwae_bound, ConvVaeConfig, MlpVae, MlpVaeConfig, Vae};
use bayesburn_fixtures::cli;
use bayesburn_fixtures::cli::Long;
use burn::optim::AdamConfig;
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

const EVAL_CHUNK: usize = 500;

struct Args {
    data: Option<String>,
    epochs: usize,
    patience: usize,
    latent: usize,
    hidden: usize,
    conv: bool,
    beta: f64,
    lr: f64,
    batch: usize,
    val: usize,
    k: usize,
    seed: u64,
    json: bool,
    device: String,
    out: String,
}

fn parse_args() -> Args {
    let mut a = Args {
        data: None,
        epochs: 150,
        patience: 15,
        latent: 20,
        hidden: 400,
        conv: false,
        beta: 1.0,
        lr: 1e-3,
        batch: 100,
        val: 500,
        k: 100,
        seed: 0,
        json: false,
        device: "cpu".into(),
        out: "target/vae".into(),
    };
    let mut cli =
        cli!("cargo run --release --example vae -- [--data FILE] [--json] [--device D] [--seed N] [--out DIR] [flags]");
    let usage = cli.usage();
    while let Some(arg) = cli.next() {
        match arg {
            Long("data") => a.data = Some(cli.value()),
            Long("epochs") => a.epochs = cli.value(),
            Long("patience") => a.patience = cli.value(),
            Long("latent") => a.latent = cli.value(),
            Long("hidden") => a.hidden = cli.value(),
            Long("conv") => a.conv = true,
            Long("beta") => a.beta = cli.value(),
            Long("lr") => a.lr = cli.value(),
            Long("batch") => a.batch = cli.value(),
            Long("val") => a.val = cli.value(),
            Long("k") => a.k = cli.value(),
            Long("seed") => a.seed = cli.value(),
            Long("json") => a.json = true,
            Long("device") => a.device = cli.value(),
            Long("out") => a.out = cli.value(),
            _ => usage.fail(arg.unexpected()),
        }
    }
    a
}

/// Binary pixels `[N, H * W]`: 1 where the grey level is above half the range (127 of 255).
fn binarize(set: &ImageSet, device: &Device) -> Tensor<2> {
    let bits: Vec<f32> = set.pixels().iter().map(|&p| if p > 127.0 / 255.0 { 1.0 } else { 0.0 }).collect();
    Tensor::from_data(TensorData::new(bits, [set.len(), set.height() * set.width()]), device)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64")
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

// ANCHOR: evaluate
/// Mean ELBO (one latent sample per image, KL in closed form) over `x`, in chunks.
fn mean_elbo<V: Vae>(model: &V, x: &Tensor<2>) -> bayesburn::Result<f64> {
    let [n, _] = x.dims();
    let mut values = Vec::with_capacity(n);
    for start in (0..n).step_by(EVAL_CHUNK) {
        let end = (start + EVAL_CHUNK).min(n);
        values.extend(host(elbo(model, x.clone().slice(s![start..end]), 1, 1.0)?.elbo()));
    }
    Ok(mean(&values))
}

/// Mean IWAE bound with `k` importance samples over `x` (Burda et al. 2016), in chunks.
fn mean_iwae<V: Vae>(model: &V, x: &Tensor<2>, k: usize) -> bayesburn::Result<f64> {
    let [n, _] = x.dims();
    let mut values = Vec::with_capacity(n);
    for start in (0..n).step_by(EVAL_CHUNK / 10) {
        let end = (start + EVAL_CHUNK / 10).min(n);
        values.extend(host(iwae_bound(model, x.clone().slice(s![start..end]), k, 50)?));
    }
    Ok(mean(&values))
}
// ANCHOR_END: evaluate

/// What was trained and how it scored.
#[derive(serde::Serialize)]
struct Report {
    test_elbo: f64,
    test_iwae100: f64,
    train_s: f64,
    data: String,
    epoch_kept: usize,
    epochs_run: usize,
    val_elbo: f64,
    k: usize,
    model: String,
    n_train: usize,
    n_val: usize,
    n_test: usize,
    png: Vec<String>,
    seed: u64,
}

// ANCHOR: train
/// Trains with early stopping: one pass of Adam on the negative ELBO per epoch, then the
/// validation ELBO; the best model so far is kept, and training stops after `patience` epochs
/// without improvement. Returns the kept model, its epoch (1-based), its validation ELBO, the
/// epochs run and the training time.
fn train<V: Vae + Module>(
    model: V,
    train: &Tensor<2>,
    val: &Tensor<2>,
    args: &Args,
) -> bayesburn::Result<(V, usize, f64, usize, f64)> {
    let [n, _] = train.dims();
    let mut optim = AdamConfig::new().init();
    let config = FitConfig::new(1, args.batch, args.lr).with_progress(false);
    let bar = if args.json { ProgressBar::hidden() } else { ProgressBar::new(args.epochs as u64) };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} epochs {elapsed_precise} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix("vae");
    let start = Instant::now();
    let mut model = model;
    let (mut best, mut best_epoch, mut best_val) = (model.valid(), 0, f64::NEG_INFINITY);
    let mut epochs_run = 0;
    for epoch in 1..=args.epochs {
        (model, _) =
            fit(model, &mut optim, n, &config, |m, b| Ok(elbo(m, b.select(train.clone()), 1, args.beta)?.terms()))?;
        epochs_run = epoch;
        let current = model.valid();
        let val_elbo = mean_elbo(&current, val)?;
        if val_elbo > best_val {
            (best, best_epoch, best_val) = (current, epoch, val_elbo);
        }
        bar.set_message(format!("val ELBO {val_elbo:.2} (best {best_val:.2} at epoch {best_epoch})"));
        bar.inc(1);
        if epoch - best_epoch >= args.patience {
            break;
        }
    }
    bar.finish_and_clear();
    Ok((best, best_epoch, best_val, epochs_run, start.elapsed().as_secs_f64()))
}
// ANCHOR_END: train

fn main() -> bayesburn::Result<()> {
    let args = parse_args();
    let device = bayesburn_fixtures::cli::from_name(&args.device)?;
    noise::seed(args.seed);
    device.seed(args.seed);

    let (images, data) = ImageSet::open_or_synthetic(args.data.as_deref(), args.seed)?;
    let n_test = (images.len() as f64 * 0.2).round() as usize;
    let (rest, test) = images.stratified_split(n_test, args.seed)?;
    let (fit_set, val) = rest.stratified_split(args.val.min(rest.len() / 2).max(1), args.seed.wrapping_add(1))?;
    let ad = device.clone().autodiff();
    let (x_train, x_val, x_test) = (binarize(&fit_set, &ad), binarize(&val, &device), binarize(&test, &device));
    let (h, w) = (images.height(), images.width());
    let d = h * w;

    let png: Vec<String> = ["reconstructions", "prior_samples", "latent_map"]
        .iter()
        .map(|name| format!("{}/{name}.png", args.out))
        .collect();
    let (report_model, test_elbo, test_iwae, kept, val_elbo, epochs_run, train_s) = if args.conv {
        let model = ConvVaeConfig::new(h, w, args.latent).init(&ad);
        let (model, kept, val_elbo, run, train_s) = train(model, &x_train, &x_val, &args)?;
        draw(&model, &test, &x_test, &png, &args)?;
        let name = format!("conv VAE 1-32-64 channels, latent {}", args.latent);
        (name, mean_elbo(&model, &x_test)?, mean_iwae(&model, &x_test, args.k)?, kept, val_elbo, run, train_s)
    } else {
        let model: MlpVae = MlpVaeConfig::new(d, args.hidden, args.latent).init(&ad);
        let (model, kept, val_elbo, run, train_s) = train(model, &x_train, &x_val, &args)?;
        draw(&model, &test, &x_test, &png, &args)?;
        let name = format!("MLP VAE {d}-{h2}-{z}, Bernoulli decoder", h2 = args.hidden, z = args.latent);
        (name, mean_elbo(&model, &x_test)?, mean_iwae(&model, &x_test, args.k)?, kept, val_elbo, run, train_s)
    };

    let report = Report {
        test_elbo,
        test_iwae100: test_iwae,
        train_s,
        data,
        epoch_kept: kept,
        epochs_run,
        val_elbo,
        k: args.k,
        model: report_model,
        n_train: fit_set.len(),
        n_val: val.len(),
        n_test: test.len(),
        png: if args.latent == 2 { png.clone() } else { png[..2].to_vec() },
        seed: args.seed,
    };
    println!(
        "data: {} ({} train / {} validation / {} test, binarized at 127/255, seed {}); model: {}; beta {}",
        report.data, report.n_train, report.n_val, report.n_test, report.seed, report.model, args.beta
    );
    println!("| metric | value |");
    println!("| --- | --- |");
    println!("| test ELBO (nats / image) | {:.2} |", report.test_elbo);
    println!("| test IWAE bound, k = {} (nats / image) | {:.2} |", report.k, report.test_iwae100);
    println!("| validation ELBO of the kept model | {:.2} |", report.val_elbo);
    println!("| epoch kept / epochs run | {} / {} |", report.epoch_kept, report.epochs_run);
    println!("| train_s | {:.1} |", report.train_s);
    for p in &report.png {
        println!("figure: {p}");
    }
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    }
    Ok(())
}

/// Reconstructions of ten test digits (one per class when there are ten), samples from the
/// prior, and for a 2-D latent the decoded grid of latent values.
fn draw<V: Vae>(model: &V, test: &ImageSet, x_test: &Tensor<2>, png: &[String], args: &Args) -> bayesburn::Result<()> {
    #[cfg(feature = "plot")]
    {
        use bayesburn::plot::{GridTile, ImageGrid};
        let device = x_test.device();
        let (h, w) = (test.height(), test.width());
        let tile = |pixels: Vec<f64>, caption: String| GridTile {
            pixels: pixels.into_iter().map(|p| p.clamp(0.0, 1.0)).collect(),
            height: h,
            width: w,
            caption,
            subcaption: String::new(),
        };
        std::fs::create_dir_all(&args.out)
            .map_err(|e| bayesburn::Error::Io { path: args.out.clone(), message: e.to_string() })?;
        // One test digit per class, first occurrence.
        let mut picks = Vec::new();
        for class in 0..test.n_classes() as u8 {
            if let Some(i) = test.labels().iter().position(|&l| l == class) {
                picks.push(i);
            }
        }
        let ids: Vec<i64> = picks.iter().map(|&i| i as i64).collect();
        let x = x_test.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(ids, [picks.len()]), &device));
        let q = model.encode(x.clone())?;
        let recon = host(model.decode(q.mean.clone().unsqueeze::<3>())?.mean());
        let data = host(x);
        let d = h * w;
        let originals = (0..picks.len())
            .map(|j| tile(data[j * d..(j + 1) * d].to_vec(), format!("digit {}", test.labels()[picks[j]])))
            .collect();
        let recons =
            (0..picks.len()).map(|j| tile(recon[j * d..(j + 1) * d].to_vec(), String::from("p(x | mean z)"))).collect();
        ImageGrid::new("Binarized test digits and their reconstructions (decoder probabilities)", picks.len().max(1))
            .with_group("data", originals)
            .with_group("reconstruction", recons)
            .save(&png[0])?;

        let z = noise::normal([1, 32, model.d_latent()], &device);
        let samples = host(model.decode(z)?.mean());
        let tiles = (0..32).map(|j| tile(samples[j * d..(j + 1) * d].to_vec(), String::new())).collect();
        ImageGrid::new("Samples from the prior: decoder probabilities at z ~ N(0, I)", 8)
            .with_group("", tiles)
            .save(&png[1])?;

        if model.d_latent() == 2 {
            // Kingma & Welling (2014), fig. 4: latent values at standard-normal quantiles.
            const SIDE: usize = 12;
            let quantile = |i: usize| bayesburn::predict::inverse_normal_cdf((i as f64 + 0.5) / SIDE as f64);
            let mut grid = Vec::with_capacity(2 * SIDE * SIDE);
            for r in 0..SIDE {
                for c in 0..SIDE {
                    grid.push(quantile(c) as f32);
                    grid.push(quantile(SIDE - 1 - r) as f32);
                }
            }
            let z = Tensor::<3>::from_data(TensorData::new(grid, [1, SIDE * SIDE, 2]), &device);
            let images = host(model.decode(z)?.mean());
            let tiles = (0..SIDE * SIDE).map(|j| tile(images[j * d..(j + 1) * d].to_vec(), String::new())).collect();
            ImageGrid::new("Latent map: decoded images over z1 (left to right) and z2 (bottom to top)", SIDE)
                .with_tile_size(48)
                .with_group("", tiles)
                .save(&png[2])?;
        }
    }
    #[cfg(not(feature = "plot"))]
    let _ = (model, test, x_test, png, args);
    Ok(())
}
