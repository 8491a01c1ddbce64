//! A tiny run of the UCI benchmark runner (`examples/uci.rs`) on yacht: 2 splits, few epochs.
//! Every method must give finite figures that beat predicting the training mean, whose test
//! RMSE and Gaussian log-likelihood (mean and sd of the training targets) are computed here from
//! the same splits. Skipped, with a message, when `../shared/data/uci/yacht` is absent.

#[path = "../../examples/uci/main.rs"]
#[allow(dead_code)]
mod uci_example;

use std::path::PathBuf;

use bayesburn::data::uci::{Standardizer, UciDataset};

const SPLITS: usize = 2;

/// Test RMSE and mean Gaussian log-likelihood of the training-mean predictor, averaged over
/// the first `SPLITS` splits.
fn mean_predictor(data: &UciDataset) -> (f64, f64) {
    let (mut rmse, mut ll) = (0.0, 0.0);
    for split in &data.splits[..SPLITS] {
        let (_, y_train) = data.rows(&split.train).unwrap();
        let (_, y_test) = data.rows(&split.test).unwrap();
        let s = Standardizer::fit(&y_train, 1).unwrap();
        let (mean, sd) = (s.mean[0], s.std[0]);
        let n = y_test.len() as f64;
        rmse += (y_test.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n).sqrt();
        ll += y_test
            .iter()
            .map(|y| -0.5 * (2.0 * std::f64::consts::PI).ln() - sd.ln() - 0.5 * ((y - mean) / sd).powi(2))
            .sum::<f64>()
            / n;
    }
    (rmse / SPLITS as f64, ll / SPLITS as f64)
}

#[test]
fn every_method_beats_the_training_mean_on_two_yacht_splits() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/uci/yacht");
    if !folder.exists() {
        eprintln!("skipped: {} is absent (the UCI splits live in ../shared/data/uci)", folder.display());
        return;
    }
    let data = UciDataset::load(&folder).expect("the shared yacht folder is well formed");
    let (base_rmse, base_ll) = mean_predictor(&data);

    let mut args = uci_example::Args::new(folder.to_string_lossy());
    args.splits = Some(SPLITS);
    args.epochs = Some(40);
    args.samples = 500;
    args.json = true;
    let reports = uci_example::run(&args).expect("the tiny benchmark runs");
    assert_eq!(reports.len(), 5);
    for r in &reports {
        eprintln!("{r:?}; training mean: rmse {base_rmse:.3} ll {base_ll:.3}");
        assert_eq!(r.splits, SPLITS);
        assert!(r.rmse_mean.is_finite() && r.ll_mean.is_finite(), "{r:?}");
        assert!(
            r.rmse_mean < base_rmse,
            "{}: rmse {} not below the mean predictor's {base_rmse}",
            r.method,
            r.rmse_mean
        );
        assert!(r.ll_mean > base_ll, "{}: ll {} not above the mean predictor's {base_ll}", r.method, r.ll_mean);
    }
}

/// The deep ensemble of the UCI runner learns the noise sd of a synthetic set
/// (`data::synthetic::NoisyRegression`, noise known) within a factor of 2 from almost none to
/// a lot of noise. The sd estimate from 1 800 training rows has a relative standard error of
/// `1 / sqrt(2 n)`, about 2 %, so the factor 2 is the room left for optimisation error: the learnt
/// variance is the noise variance plus the fit's squared error, and 2 allows a fit error up to
/// `sqrt(3)` times the noise sd. The full sweep (1e-4 to 1, 20 000 rows) is the example's
/// `--noise-sweep`.
#[test]
fn the_ensemble_learns_the_noise_from_1e_3_to_1_of_the_signal() {
    use bayesburn::data::synthetic::NoisyRegression;
    for (seed, noise) in [(0, 1e-3), (1, 1e-2), (2, 1.0)] {
        // A linear teacher: the short training fits it finely enough to expose the noise floor.
        let recipe = NoisyRegression { teacher_hidden: 0, ..NoisyRegression::new(2_000, 8, noise) };
        let data = bayesburn::noise::with_seed(seed, || recipe.generate()).unwrap();
        let mut args = uci_example::Args::new("synthetic");
        args.epochs = Some(200);
        args.threads = 1;
        let score = bayesburn::noise::with_seed(seed, || uci_example::methods::ensemble(&data, &data.splits[0], &args))
            .expect("the ensemble trains");
        let ratio = score.noise_sd / noise;
        eprintln!("noise {noise}: learnt {:.3e}, ratio {ratio:.2}", score.noise_sd);
        assert!(
            (0.5..=2.0).contains(&ratio),
            "noise {noise}: learnt sd {} is {ratio:.2} times the true",
            score.noise_sd
        );
    }
}

/// Bad recipes of a synthetic set are typed errors naming the field (docs/ERRORS.md D12, D13).
#[test]
fn a_bad_synthetic_recipe_is_an_error_naming_the_field() {
    use bayesburn::data::synthetic::NoisyRegression;
    use bayesburn::Error;
    for (recipe, field) in [
        (NoisyRegression::new(5, 8, 1e-3), "rows"),
        (NoisyRegression::new(100, 8, 0.0), "noise_fraction"),
        (NoisyRegression::new(100, 0, 1e-3), "inputs"),
    ] {
        let err = recipe.generate().expect_err("an invalid recipe");
        eprintln!("{err}");
        assert!(matches!(&err, Error::InvalidParameter { field: f, .. } if *f == field), "{err:?}");
        assert!(err.to_string().contains(field), "{err}");
    }
}
