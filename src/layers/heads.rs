//! Heteroscedastic output heads: a network that predicts its own noise level.
//!
//! - [`GaussianHead`]: features → a predicted mean and a predicted variance per output
//!   (Nix & Weigend 1994; Kendall & Gal 2017 §3.1; Lakshminarayanan et al. 2017 §2.2.1).
//! - [`ClassificationHead`]: features → logits and a variance of the logits, for the
//!   Kendall & Gal (2017, §3.2) heteroscedastic classification loss
//!   ([`KendallGalLoss`](crate::objective::KendallGalLoss)).
//!
//! Both come in two flavours ([`HeadKind`]): **deterministic** (a plain linear projection, the
//! usual choice) or **Bayesian** (a [`BayesLinear`] projection with a KL term). Both implement
//! [`Bayesian`], so a head can sit in a `#[derive(Bayesian)]` network: a Bayes-by-backprop body
//! with a deterministic variance head is "partial Bayesianization" — epistemic uncertainty from
//! the body, aleatoric from the head.
//!
//! Variances are `softplus(raw) + min_variance`: positive, with a floor that keeps the Gaussian
//! NLL's `1 / var` finite when the network drives `raw` very negative (the failure mode Seitzer
//! et al. 2022 describe).
//!
//! # Shapes
//! - input: `[S, N, d_input]`
//! - [`GaussianOutput`]: `mean`, `var` `[S, N, d_output]`
//! - [`ClassificationOutput`]: `logits` `[S, N, K]`, `var` `[S, N, K]` or `[S, N, 1]`

use burn::module::{Content, DisplaySettings, ModuleDisplay, Param};
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::checks::check_sample_and_batch;
use super::{BayesLinear, BayesLinearConfig, Estimator};
use crate::bayesian::{Bayesian, LayerStats, Mode};
use crate::checkpoint::{LayerState, LayerStates};
use crate::error::{check_nonzero, check_positive, Error, Result};
use crate::noise;
use crate::posterior::{softplus, PosteriorInit, Prior};

/// Which projection a head uses.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum HeadKind {
    /// A deterministic linear layer, Kaiming-uniform initialised from the seeded
    /// [`noise`](crate::noise) source (`U(-1/sqrt(d_input), 1/sqrt(d_input))`, burn's `Linear`
    /// default); no KL term.
    #[default]
    Deterministic,
    /// A [`BayesLinear`] with these settings; contributes its KL term.
    Bayesian {
        /// Prior of every weight and bias.
        prior: Prior,
        /// Initialisation of the posterior.
        init: PosteriorInit,
        /// Gradient estimator in [`Mode::Sample`].
        estimator: Estimator,
    },
}

impl HeadKind {
    /// The Bayesian flavour with [`BayesLinearConfig`]'s defaults: prior `N(0, 1)`,
    /// `mu ~ N(0, 0.1^2)`, `rho = -5`, reparameterization.
    pub fn bayesian() -> Self {
        HeadKind::Bayesian {
            prior: Prior::Normal { loc: 0.0, scale: 1.0 },
            init: PosteriorInit::default(),
            estimator: Estimator::Reparameterization,
        }
    }
}

/// The linear map inside a head: deterministic or variational.
// A head holds one projection, so the size difference costs nothing; boxing `BayesLinear` would
// change the public variant (burn's `Module` is not implemented for `Box`).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum HeadProjection {
    /// A deterministic linear layer.
    Deterministic(Linear),
    /// A variational linear layer.
    Bayesian(BayesLinear),
}

impl HeadProjection {
    fn new(kind: HeadKind, d_input: usize, d_output: usize, context: &'static str, device: &Device) -> Result<Self> {
        check_nonzero(context, "d_input", d_input, "a head needs at least one input feature")?;
        Ok(match kind {
            HeadKind::Deterministic => {
                // Kaiming-uniform through our seeded source (burn's initializer would draw from
                // its process-global RNG, which parallel tests share).
                let k = 1.0 / (d_input as f64).sqrt();
                HeadProjection::Deterministic(Linear {
                    weight: Param::from_tensor(noise::uniform([d_input, d_output], -k, k, device)),
                    bias: Some(Param::from_tensor(noise::uniform([d_output], -k, k, device))),
                })
            }
            HeadKind::Bayesian { prior, init, estimator } => HeadProjection::Bayesian(
                BayesLinearConfig::new(d_input, d_output)
                    .with_prior(prior)
                    .with_init(init)
                    .with_estimator(estimator)
                    .try_init(device)?,
            ),
        })
    }

    /// Number of input features.
    pub fn d_input(&self) -> usize {
        match self {
            HeadProjection::Deterministic(l) => l.weight.dims()[0],
            HeadProjection::Bayesian(b) => b.d_input(),
        }
    }

    fn forward(&self, x: Tensor<3>, context: &'static str) -> Result<Tensor<3>> {
        let dims = x.dims();
        let d_input = self.d_input();
        let expected = format!("[S, N, {d_input}]");
        if dims[2] != d_input {
            return Err(Error::shape(
                context,
                "input",
                expected,
                &dims,
                "the last axis must hold the head's d_input features",
            ));
        }
        check_sample_and_batch(context, &dims, &expected)?;
        Ok(match self {
            HeadProjection::Deterministic(l) => l.forward(x),
            HeadProjection::Bayesian(b) => b.try_forward(x)?,
        })
    }
}

impl Bayesian for HeadProjection {
    fn kl(&self) -> Option<Tensor<1>> {
        match self {
            HeadProjection::Deterministic(_) => None,
            HeadProjection::Bayesian(b) => Bayesian::kl(b),
        }
    }

    fn with_mode(self, mode: Mode) -> Self {
        match self {
            HeadProjection::Bayesian(b) => HeadProjection::Bayesian(b.with_mode(mode)),
            deterministic => deterministic,
        }
    }

    fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>) {
        if let HeadProjection::Bayesian(b) = self {
            b.collect_posterior_stats(prefix, out);
        }
    }

    fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
        if let HeadProjection::Bayesian(b) = self {
            b.collect_layer_states(prefix, out);
        }
    }

    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        Ok(match self {
            HeadProjection::Bayesian(b) => HeadProjection::Bayesian(b.restore_layer_states(prefix, states)?),
            deterministic => deterministic,
        })
    }
}

fn check_min_variance(context: &'static str, min_variance: f64) -> Result<()> {
    check_positive(context, "min_variance", min_variance, "use a small positive floor such as 1e-6")
}

/// `softplus(raw) + floor`.
fn positive_variance(raw: Tensor<3>, floor: f64) -> Tensor<3> {
    softplus(raw).add_scalar(floor)
}

/// A predicted Gaussian: mean and variance, both `[S, N, D]`.
#[derive(Debug, Clone)]
pub struct GaussianOutput {
    /// Predicted means `[S, N, D]`.
    pub mean: Tensor<3>,
    /// Predicted variances `[S, N, D]` (> 0).
    pub var: Tensor<3>,
}

/// Configuration of a [`GaussianHead`].
#[derive(Config, Debug)]
pub struct GaussianHeadConfig {
    /// Number of input features (>= 1).
    pub d_input: usize,
    /// Number of predicted outputs `D` (>= 1); the head has `2 D` linear outputs.
    pub d_output: usize,
    /// Floor added to every predicted variance (> 0).
    #[config(default = 1e-6)]
    pub min_variance: f64,
    /// Deterministic or Bayesian projection.
    #[config(default = "HeadKind::Deterministic")]
    pub kind: HeadKind,
}

impl GaussianHeadConfig {
    /// Builds the head after checking the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `d_input` or `d_output` is zero, `min_variance` is not
    /// positive and finite, or the Bayesian flavour's prior or initialisation is invalid.
    pub fn try_init(&self, device: &Device) -> Result<GaussianHead> {
        const CONTEXT: &str = "GaussianHeadConfig";
        check_nonzero(CONTEXT, "d_output", self.d_output, "predict at least one output")?;
        check_min_variance(CONTEXT, self.min_variance)?;
        Ok(GaussianHead {
            projection: HeadProjection::new(self.kind, self.d_input, 2 * self.d_output, CONTEXT, device)?,
            d_output: self.d_output,
            min_variance: self.min_variance,
        })
    }

    /// Builds the head.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self, device: &Device) -> GaussianHead {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Predicts a Gaussian per output: one linear map to `2 D` values, the first `D` the mean and
/// the last `D` the variance through `softplus + min_variance`. Built with
/// [`GaussianHeadConfig`].
///
/// # Shapes
/// - input: `[S, N, d_input]`
/// - output: [`GaussianOutput`] with `mean`, `var` `[S, N, d_output]`
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct GaussianHead {
    /// The linear map `d_input -> 2 d_output` (means first, then raw variances).
    pub projection: HeadProjection,
    d_output: usize,
    min_variance: f64,
}

impl GaussianHead {
    /// Number of predicted outputs `D`.
    pub fn d_output(&self) -> usize {
        self.d_output
    }

    /// The variance floor.
    pub fn min_variance(&self) -> f64 {
        self.min_variance
    }

    /// Predicts mean and variance.
    ///
    /// # Shapes
    /// - input: `[S, N, d_input]`
    /// - output: `mean`, `var` `[S, N, d_output]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the last axis is not `d_input`, or `S = 0` or `N = 0`.
    pub fn try_forward(&self, x: Tensor<3>) -> Result<GaussianOutput> {
        let raw = self.projection.forward(x, "GaussianHead")?;
        let [s, n, _] = raw.dims();
        let d = self.d_output;
        let mean = raw.clone().slice([0..s, 0..n, 0..d]);
        let var = positive_variance(raw.slice([0..s, 0..n, d..2 * d]), self.min_variance);
        Ok(GaussianOutput { mean, var })
    }

    /// Predicts mean and variance; see [`try_forward`](Self::try_forward).
    ///
    /// # Shapes
    /// - input: `[S, N, d_input]`
    /// - output: `mean`, `var` `[S, N, d_output]`
    ///
    /// # Panics
    /// With the text of the [`Error::ShapeMismatch`] `try_forward` would return.
    pub fn forward(&self, x: Tensor<3>) -> GaussianOutput {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl ModuleDisplay for GaussianHead {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new().with_new_line_after_attribute(false).optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("d_input", &self.projection.d_input())
            .add("d_output", &self.d_output)
            .add("min_variance", &self.min_variance)
            .add("projection", &self.projection)
            .optional()
    }
}

impl Bayesian for GaussianHead {
    /// The projection's KL in the Bayesian flavour, `None` in the deterministic one.
    fn kl(&self) -> Option<Tensor<1>> {
        self.projection.kl()
    }

    fn with_mode(self, mode: Mode) -> Self {
        GaussianHead { projection: self.projection.with_mode(mode), ..self }
    }

    fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
        self.projection.collect_layer_states(prefix, out);
    }

    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        Ok(GaussianHead { projection: self.projection.restore_layer_states(prefix, states)?, ..self })
    }

    /// One entry in the Bayesian flavour, none in the deterministic one.
    fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>) {
        self.projection.collect_posterior_stats(prefix, out);
    }
}

/// How many logit variances a [`ClassificationHead`] predicts per example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LogitVariance {
    /// One variance per class, `var: [S, N, K]`: Kendall & Gal (2017, §3.2) place a Gaussian
    /// `N(f, diag(sigma^2))` on the logit vector, `sigma` one entry per logit.
    #[default]
    PerClass,
    /// One variance shared by all classes of an example, `var: [S, N, 1]` (the form of
    /// Kyle Dorman's Keras implementation).
    Shared,
}

/// Logits and their predicted variance.
#[derive(Debug, Clone)]
pub struct ClassificationOutput {
    /// Logits `[S, N, K]`.
    pub logits: Tensor<3>,
    /// Variance of the Gaussian on the logits (> 0): `[S, N, K]` for
    /// [`LogitVariance::PerClass`], `[S, N, 1]` for [`LogitVariance::Shared`].
    pub var: Tensor<3>,
}

/// Configuration of a [`ClassificationHead`].
#[derive(Config, Debug)]
pub struct ClassificationHeadConfig {
    /// Number of input features (>= 1).
    pub d_input: usize,
    /// Number of classes `K` (>= 2).
    pub n_classes: usize,
    /// One variance per class (default, as Kendall & Gal 2017) or one shared.
    #[config(default = "LogitVariance::PerClass")]
    pub variance: LogitVariance,
    /// Floor added to every predicted variance (> 0).
    #[config(default = 1e-6)]
    pub min_variance: f64,
    /// Deterministic or Bayesian projection.
    #[config(default = "HeadKind::Deterministic")]
    pub kind: HeadKind,
}

impl ClassificationHeadConfig {
    /// Builds the head after checking the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `d_input` is zero, `n_classes < 2`, `min_variance` is not
    /// positive and finite, or the Bayesian flavour's prior or initialisation is invalid.
    pub fn try_init(&self, device: &Device) -> Result<ClassificationHead> {
        const CONTEXT: &str = "ClassificationHeadConfig";
        if self.n_classes < 2 {
            return Err(Error::invalid(
                CONTEXT,
                "n_classes",
                self.n_classes,
                ">= 2",
                "a classifier needs at least two classes",
            ));
        }
        check_min_variance(CONTEXT, self.min_variance)?;
        let n_var = match self.variance {
            LogitVariance::PerClass => self.n_classes,
            LogitVariance::Shared => 1,
        };
        Ok(ClassificationHead {
            projection: HeadProjection::new(self.kind, self.d_input, self.n_classes + n_var, CONTEXT, device)?,
            n_classes: self.n_classes,
            n_var,
            min_variance: self.min_variance,
        })
    }

    /// Builds the head.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self, device: &Device) -> ClassificationHead {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Predicts logits and a Gaussian variance on them (Kendall & Gal 2017, §3.2): one linear map
/// to `K + K` (per-class) or `K + 1` (shared) values, the variances through
/// `softplus + min_variance`. Built with [`ClassificationHeadConfig`]; train it with
/// [`KendallGalLoss`](crate::objective::KendallGalLoss).
///
/// The head predicts the variance `sigma^2` itself (not `log sigma^2`): the Keras-blog form of
/// the loss penalises `exp(sigma^2) - 1`, and `sigma = sqrt(var)` is what distorts the logits.
///
/// # Shapes
/// - input: `[S, N, d_input]`
/// - output: [`ClassificationOutput`], `logits` `[S, N, K]`, `var` `[S, N, K]` or `[S, N, 1]`
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct ClassificationHead {
    /// The linear map `d_input -> K + n_var` (logits first, then raw variances).
    pub projection: HeadProjection,
    n_classes: usize,
    n_var: usize,
    min_variance: f64,
}

impl ClassificationHead {
    /// Number of classes `K`.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Which variance layout the head predicts.
    pub fn variance(&self) -> LogitVariance {
        if self.n_var == 1 {
            LogitVariance::Shared
        } else {
            LogitVariance::PerClass
        }
    }

    /// Predicts logits and their variance.
    ///
    /// # Shapes
    /// - input: `[S, N, d_input]`
    /// - output: `logits` `[S, N, K]`, `var` `[S, N, K]` (per class) or `[S, N, 1]` (shared)
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the last axis is not `d_input`, or `S = 0` or `N = 0`.
    pub fn try_forward(&self, x: Tensor<3>) -> Result<ClassificationOutput> {
        let raw = self.projection.forward(x, "ClassificationHead")?;
        let [s, n, _] = raw.dims();
        let k = self.n_classes;
        let logits = raw.clone().slice([0..s, 0..n, 0..k]);
        let var = positive_variance(raw.slice([0..s, 0..n, k..k + self.n_var]), self.min_variance);
        Ok(ClassificationOutput { logits, var })
    }

    /// Predicts logits and their variance; see [`try_forward`](Self::try_forward).
    ///
    /// # Shapes
    /// - input: `[S, N, d_input]`
    /// - output: `logits` `[S, N, K]`, `var` `[S, N, K]` or `[S, N, 1]`
    ///
    /// # Panics
    /// With the text of the [`Error::ShapeMismatch`] `try_forward` would return.
    pub fn forward(&self, x: Tensor<3>) -> ClassificationOutput {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl ModuleDisplay for ClassificationHead {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new().with_new_line_after_attribute(false).optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("d_input", &self.projection.d_input())
            .add("n_classes", &self.n_classes)
            .add("variance", &format!("{:?}", self.variance()))
            .add("min_variance", &self.min_variance)
            .add("projection", &self.projection)
            .optional()
    }
}

impl Bayesian for ClassificationHead {
    /// The projection's KL in the Bayesian flavour, `None` in the deterministic one.
    fn kl(&self) -> Option<Tensor<1>> {
        self.projection.kl()
    }

    fn with_mode(self, mode: Mode) -> Self {
        ClassificationHead { projection: self.projection.with_mode(mode), ..self }
    }

    fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
        self.projection.collect_layer_states(prefix, out);
    }

    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        Ok(ClassificationHead { projection: self.projection.restore_layer_states(prefix, states)?, ..self })
    }

    /// One entry in the Bayesian flavour, none in the deterministic one.
    fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>) {
        self.projection.collect_posterior_stats(prefix, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
        t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
    }

    #[test]
    fn shapes_of_both_heads_and_flavours() {
        let device = Device::flex();
        let x = Tensor::<3>::ones([2, 5, 3], &device);
        for kind in [HeadKind::Deterministic, HeadKind::bayesian()] {
            let out = GaussianHeadConfig::new(3, 4).with_kind(kind).init(&device).forward(x.clone());
            assert_eq!((out.mean.dims(), out.var.dims()), ([2, 5, 4], [2, 5, 4]));
            for (variance, k_var) in [(LogitVariance::PerClass, 6), (LogitVariance::Shared, 1)] {
                let head = ClassificationHeadConfig::new(3, 6).with_variance(variance).with_kind(kind).init(&device);
                assert_eq!(head.variance(), variance);
                let out = head.forward(x.clone());
                assert_eq!((out.logits.dims(), out.var.dims()), ([2, 5, 6], [2, 5, k_var]));
            }
        }
    }

    #[test]
    fn deterministic_head_has_no_kl_bayesian_head_has_one() {
        let device = Device::flex();
        let det = GaussianHeadConfig::new(3, 1).init(&device);
        assert!(Bayesian::kl(&det).is_none() && det.posterior_stats().is_empty());
        let bayes = GaussianHeadConfig::new(3, 1).with_kind(HeadKind::bayesian()).init(&device);
        assert!(Bayesian::kl(&bayes).is_some());
        assert_eq!(bayes.posterior_stats().len(), 1);
        assert_eq!(bayes.posterior_stats()[0].n_weights, 3 * 2 + 2);
    }

    #[test]
    fn seeded_init_is_reproducible() {
        let device = Device::flex();
        let build = || noise::with_seed(3, || GaussianHeadConfig::new(4, 2).init(&device));
        let (a, b) = (build(), build());
        let (HeadProjection::Deterministic(a), HeadProjection::Deterministic(b)) = (a.projection, b.projection) else {
            panic!("deterministic flavour expected");
        };
        a.weight.val().into_data().assert_eq(&b.weight.val().into_data(), true);
        // Kaiming-uniform bound 1/sqrt(4).
        assert!(values(a.weight.val()).iter().all(|w| w.abs() <= 0.5));
    }

    #[test]
    fn both_flavours_round_trip_through_a_record() {
        use burn::store::ModuleRecord;
        let device = Device::flex();
        let x = Tensor::<3>::ones([1, 2, 3], &device);
        for kind in [HeadKind::Deterministic, HeadKind::bayesian()] {
            let config = GaussianHeadConfig::new(3, 1).with_kind(kind);
            let head = noise::with_seed(1, || config.init(&device)).with_mode(Mode::Mean);
            let bytes = head.clone().into_record().into_bytes().unwrap();
            let fresh = noise::with_seed(2, || config.init(&device)).with_mode(Mode::Mean);
            let loaded = fresh.load_record(ModuleRecord::from_bytes(bytes).unwrap());
            let (a, b) = (head.forward(x.clone()), loaded.forward(x.clone()));
            a.mean.into_data().assert_eq(&b.mean.into_data(), true);
            a.var.into_data().assert_eq(&b.var.into_data(), true);
        }
    }

    #[test]
    fn invalid_configs_are_typed_errors() {
        let device = Device::flex();
        let cases = [
            (GaussianHeadConfig::new(0, 1).try_init(&device).err(), "d_input"),
            (GaussianHeadConfig::new(2, 0).try_init(&device).err(), "d_output"),
            (GaussianHeadConfig::new(2, 1).with_min_variance(0.0).try_init(&device).err(), "min_variance"),
            (ClassificationHeadConfig::new(2, 1).try_init(&device).err(), "n_classes"),
        ];
        for (err, field) in cases {
            let err = err.expect("invalid config accepted");
            assert!(matches!(&err, Error::InvalidParameter { field: f, .. } if *f == field), "{err}");
        }
    }

    #[test]
    #[should_panic(expected = "GaussianHead: input must have shape [S, N, 3], got [1, 2, 4]")]
    fn wrong_width_panics_with_the_error_text() {
        let device = Device::flex();
        GaussianHeadConfig::new(3, 1).init(&device).forward(Tensor::zeros([1, 2, 4], &device));
    }

    #[test]
    fn empty_batch_is_a_shape_error() {
        let device = Device::flex();
        let err =
            GaussianHeadConfig::new(3, 1).init(&device).try_forward(Tensor::zeros([1, 0, 3], &device)).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    }
}
