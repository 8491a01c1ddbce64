//! One short training run of a Bayesian CNN (BayesConv2d + BayesLinear, Flipout) on the real
//! 8x8 digits (`../shared/data/digits/digits.csv.gz`, 1,797 images): the readers, the split,
//! the layers, the ELBO and the predictive summary working together on real data. Skipped, with
//! the reason printed, when the shared data folder is absent.

use std::path::PathBuf;

use bayesburn::data::images::{read_csv_images, CsvLayout};
use bayesburn::layers::{BayesConv2d, BayesConv2dConfig, BayesLinear, BayesLinearConfig, Estimator};
use bayesburn::objective::{Elbo, KlSchedule};
use bayesburn::posterior::{MuInit, PosteriorInit, Prior};
use bayesburn::predict::ClassificationAccumulator;
use bayesburn::train::{fit, FitConfig};
use bayesburn::{noise, Bayesian};
use burn::nn::PaddingConfig2d;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

#[derive(Module, Bayesian, Debug)]
struct TinyCnn {
    conv: BayesConv2d,
    out: BayesLinear,
}

impl TinyCnn {
    /// `[S, N, 1, 8, 8]` -> logits `[S, N, 10]`.
    fn forward(&self, x: Tensor<5>) -> Tensor<3> {
        let h = relu(self.conv.forward(x));
        let [s, n, c, height, width] = h.dims();
        let h = max_pool2d(h.reshape([s * n, c, height, width]), MaxPoolOptions::new([2, 2]));
        self.out.forward(h.reshape([s, n, c * (height / 2) * (width / 2)]))
    }
}

fn digits_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/digits/digits.csv.gz")
}

#[test]
fn bayes_cnn_learns_the_real_digits() {
    let path = digits_path();
    if !path.exists() {
        println!("skipped: {} not found (the shared data folder sits beside the repository)", path.display());
        return;
    }
    let images = read_csv_images(&path, CsvLayout::DIGITS_8X8).unwrap();
    assert_eq!((images.len(), images.n_classes()), (1797, 10), "the file's README documents 1797 images of 10 classes");
    let (train, test) = images.stratified_split(360, 0).unwrap();

    let device = crate::support::device();
    let ad = device.clone().autodiff();
    noise::seed(1);
    let prior = Prior::Normal { loc: 0.0, scale: 0.1 };
    let init = PosteriorInit { mu: MuInit::KaimingUniform, rho: -5.0 };
    let model = TinyCnn {
        conv: BayesConv2dConfig::new([1, 8], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .with_prior(prior)
            .with_init(init)
            .with_estimator(Estimator::Flipout)
            .init(&ad),
        out: BayesLinearConfig::new(8 * 4 * 4, 10)
            .with_prior(prior)
            .with_init(init)
            .with_estimator(Estimator::Flipout)
            .init(&ad),
    };
    let x = train.tensor(&ad);
    let one_hot: Tensor<2> = train.labels_tensor(&ad).one_hot::<2>(10).float();
    let elbo = Elbo::new(train.len()).unwrap().with_schedule(KlSchedule::Constant(0.1)).unwrap();
    let config = FitConfig::new(6, 64, 1e-2).with_progress(false);
    let (model, _) = fit(model, &mut AdamConfig::new().init(), train.len(), &config, |m, b| {
        let logits = m.forward(b.select(x.clone()).unsqueeze::<5>());
        let nll = (log_softmax(logits, 2) * b.select(one_hot.clone()).unsqueeze::<3>()).sum_dim(2).neg();
        elbo.loss(nll.squeeze_dim(2), m.kl(), b.step)
    })
    .unwrap();

    let model = model.valid();
    let mut acc = ClassificationAccumulator::new();
    for _ in 0..10 {
        acc.push(softmax(model.forward(test.tensor(&device).unsqueeze::<5>()), 2)).unwrap();
    }
    let predicted = acc.finish().unwrap().predicted_class();
    let predicted: Vec<i64> = predicted.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
    let correct = predicted.iter().zip(test.labels()).filter(|(p, &l)| **p == i64::from(l)).count();
    let accuracy = correct as f64 / test.len() as f64;
    // Guessing scores 0.1 on 10 balanced classes, with binomial standard error
    // sqrt(0.1 * 0.9 / 360) = 0.016 over the 360 test images; 10 standard errors above chance
    // (0.26) cannot be luck, while a trained CNN scores far higher (about 0.9 here).
    let bound = 0.1 + 10.0 * (0.1f64 * 0.9 / test.len() as f64).sqrt();
    println!("test accuracy {accuracy:.3} (bound {bound:.3})");
    assert!(accuracy > bound, "accuracy {accuracy:.3} <= {bound:.3}");
}
