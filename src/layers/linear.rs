//! [`BayesLinear`]: a fully connected layer with a mean-field Normal posterior over its weights.
//!
//! # Shapes
//! - input: `[S, N, d_input]` (S Monte-Carlo samples, N examples)
//! - output: `[S, N, d_output]`
//!
//! The S samples are drawn in one batched call: under
//! [`Estimator::Reparameterization`] the layer samples S weight matrices `[S, d_input, d_output]`
//! and does one batched matmul, never a loop over S.
//!
//! # Errors
//! [`BayesLinearConfig::try_init`] rejects zero features and invalid priors or initialisations
//! ([`Error::InvalidParameter`]); [`BayesLinear::try_forward`] rejects an input whose last axis is
//! not `d_input` or whose sample or batch axis is empty ([`Error::ShapeMismatch`]).

use burn::module::{Content, DisplaySettings, ModuleDisplay, Param};
use burn::nn::Linear;
use burn::prelude::*;

use super::checks::check_sample_and_batch;
use super::Estimator;
use crate::bayesian::{join_path, Bayesian, LayerStats, Mode};
use crate::checkpoint::{LayerKind, LayerState, LayerStates};
use crate::error::{check_nonzero, Error, Result};
use crate::noise;
use crate::ops;
use crate::posterior::{
    layer_kl, layer_kl_estimate, layer_stats, KlEstimate, MeanField, PosteriorInit, Prior, PriorCentre,
};

const CONFIG: &str = "BayesLinearConfig";
const LAYER: &str = "BayesLinear";

/// Floor added to the local-reparameterization variance so `sqrt` keeps a finite gradient when
/// an input row is exactly zero (e.g. after a ReLU) and the layer has no bias.
const VARIANCE_FLOOR: f64 = 1e-12;

/// Configuration of a [`BayesLinear`] layer.
#[derive(Config, Debug)]
pub struct BayesLinearConfig {
    /// Number of input features (>= 1).
    pub d_input: usize,
    /// Number of output features (>= 1).
    pub d_output: usize,
    /// Whether the layer has a (variational) bias.
    #[config(default = true)]
    pub bias: bool,
    /// Prior of every weight and bias; default `N(0, 1)`.
    #[config(default = "Prior::Normal { loc: 0.0, scale: 1.0 }")]
    pub prior: Prior,
    /// Initialisation of the posterior; default `mu ~ N(0, 0.1^2)`, `rho = -5`.
    #[config(default = "PosteriorInit::default()")]
    pub init: PosteriorInit,
    /// Gradient estimator used in [`Mode::Sample`]; default reparameterization.
    #[config(default = "Estimator::Reparameterization")]
    pub estimator: Estimator,
}

impl BayesLinearConfig {
    /// Builds the layer after checking the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `d_input` or `d_output` is zero, or the prior or the
    /// initialisation is invalid (e.g. a prior scale <= 0).
    pub fn try_init(&self, device: &Device) -> Result<BayesLinear> {
        check_nonzero(CONFIG, "d_input", self.d_input, "a layer needs at least one input feature")?;
        check_nonzero(CONFIG, "d_output", self.d_output, "a layer needs at least one output feature")?;
        self.prior.validate(CONFIG)?;
        self.init.validate(CONFIG)?;
        // The bias is drawn before the weights: the order of the seeded draws, kept so that
        // seeded models start from the same values as they always have.
        let bias = self.bias.then(|| MeanField::from_init(&self.init, [self.d_output], self.d_input, device));
        Ok(BayesLinear {
            weight: MeanField::from_init(&self.init, [self.d_input, self.d_output], self.d_input, device),
            bias,
            prior_centre: None,
            prior: self.prior,
            estimator: self.estimator,
            mode: Mode::Sample,
        })
    }

    /// Builds the layer.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self, device: &Device) -> BayesLinear {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A fully connected layer whose weights and bias are independent Normals
/// `N(mu, softplus(rho)^2)` (Blundell et al. 2015), trained by the ELBO.
///
/// Built with [`BayesLinearConfig`].
///
/// # Shapes
/// - input: `[S, N, d_input]` (S Monte-Carlo samples, N examples)
/// - output: `[S, N, d_output]`
///
/// The S posterior samples are drawn in one batched call (e.g. one batched matmul
/// `[S, N, d_input] @ [S, d_input, d_output]`), never a loop over S.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct BayesLinear {
    /// Posterior of the weights, `[d_input, d_output]` (burn's `Linear` layout); record paths
    /// `weight.mu`, `weight.rho`.
    pub weight: MeanField<2>,
    /// Posterior of the bias, `[d_output]`; record paths `bias.mu`, `bias.rho`.
    pub bias: Option<MeanField<1>>,
    /// Elementwise centre of the prior (MOPED's pretrained weights), in place of the prior's
    /// scalar `loc`; `None` for a prior centred on its `loc`. Constants, not parameters.
    pub prior_centre: Option<PriorCentre<2>>,
    #[module(skip)]
    prior: Prior,
    #[module(skip)]
    estimator: Estimator,
    #[module(skip)]
    mode: Mode,
}

impl BayesLinear {
    /// MOPED initialisation (Krishnan et al. 2020) from a trained deterministic layer:
    /// `mu = w`, `sigma = delta * |w|` for the weights and the bias.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `delta <= 0` or the prior is invalid.
    pub fn from_linear(linear: &Linear, delta: f64, prior: Prior) -> Result<BayesLinear> {
        prior.validate("BayesLinear::from_linear")?;
        // burn's Linear stores its weight as [d_input, d_output] whatever its layout, like ours.
        let weight = MeanField::moped(linear.weight.val(), delta)?;
        let bias = linear.bias.as_ref().map(|b| MeanField::moped(b.val(), delta)).transpose()?;
        Ok(BayesLinear { weight, bias, prior_centre: None, prior, estimator: Estimator::default(), mode: Mode::Sample })
    }

    /// Deterministic export: the posterior-mean layer as a plain burn [`Linear`] (weights `mu`,
    /// bias `mu`), detached from the autodiff graph. It computes what this layer computes in
    /// [`Mode::Mean`], so a network of exported layers serves the posterior-mean predictions
    /// without this crate's sampling code.
    ///
    /// ```
    /// use bayesburn::prelude::*;
    /// use burn::prelude::*;
    ///
    /// let device = Device::flex();
    /// let layer = BayesLinearConfig::new(3, 2).init(&device);
    /// let plain: burn::nn::Linear = layer.to_linear();
    /// let x = Tensor::<2>::ones([4, 3], &device);
    /// let mean_mode = layer.with_mode(Mode::Mean).forward(x.clone().unsqueeze::<3>());
    /// plain.forward(x).into_data().assert_eq(&mean_mode.squeeze_dim::<2>(0).into_data(), true);
    /// ```
    pub fn to_linear(&self) -> Linear {
        Linear {
            weight: Param::from_tensor(self.weight.mu.val().detach()),
            bias: self.bias.as_ref().map(|b| Param::from_tensor(b.mu.val().detach())),
        }
    }

    /// Deterministic export of one posterior draw `w = mu + sigma * eps` (from [`noise`]) as a
    /// plain burn [`Linear`]; call it K times for K sampled networks.
    pub fn sample_linear(&self) -> Linear {
        let (weights, bias) = self.sample_weights(1);
        Linear {
            weight: Param::from_tensor(weights.squeeze_dim::<2>(0).detach()),
            bias: bias.map(|b| Param::from_tensor(b.squeeze_dim::<1>(0).detach())),
        }
    }

    /// Number of input features.
    pub fn d_input(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Number of output features.
    pub fn d_output(&self) -> usize {
        self.weight.dims()[1]
    }

    /// The layer with its prior centred elementwise on `weight` and `bias` (a data-dependent
    /// prior such as MOPED's, centred on pretrained weights) instead of the prior's scalar
    /// `loc`; the KL ([`Bayesian::kl`], [`kl_estimate`](Self::kl_estimate)) and the posterior
    /// statistics use it. The tensors are detached.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `weight` is not the shape of the weights, or `bias` is given
    /// for a layer without bias (or missing for one with), or not the shape of the bias.
    pub fn with_prior_centre(mut self, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Result<Self> {
        const CONTEXT: &str = "BayesLinear::with_prior_centre";
        self.prior_centre = Some(PriorCentre::for_layer(CONTEXT, &self.weight, self.bias.as_ref(), weight, bias)?);
        Ok(self)
    }

    /// The KL of [`Bayesian::kl`] averaged over `samples` Monte-Carlo draws, with the variance
    /// of one draw (exact, variance 0, for a Normal prior).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `samples < 2`.
    pub fn kl_estimate(&self, samples: usize) -> Result<KlEstimate> {
        layer_kl_estimate(&self.prior, &self.weight, self.bias.as_ref(), self.prior_centre.as_ref(), samples)
    }

    /// The weight prior.
    pub fn prior(&self) -> Prior {
        self.prior
    }

    /// The estimator used in [`Mode::Sample`].
    pub fn estimator(&self) -> Estimator {
        self.estimator
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Returns the layer using `estimator` in [`Mode::Sample`].
    pub fn with_estimator(mut self, estimator: Estimator) -> Self {
        self.estimator = estimator;
        self
    }

    /// Returns the layer in `mode` ([`Mode::Mean`]: deterministic posterior-mean weights).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Draws `samples` independent weight matrices and biases from the posterior
    /// (`w = mu + sigma * eps`).
    ///
    /// # Shapes
    /// - weights: `[samples, d_input, d_output]`
    /// - bias: `[samples, d_output]`
    pub fn sample_weights(&self, samples: usize) -> (Tensor<3>, Option<Tensor<2>>) {
        let weights = self.weight.sample(samples);
        (weights, self.bias.as_ref().map(|b| b.sample(samples)))
    }

    /// Applies given weight samples (e.g. from [`sample_weights`](Self::sample_weights)): sample
    /// `s` of the input meets weight sample `s`.
    ///
    /// # Shapes
    /// - input: `[S, N, d_input]`, weights: `[S, d_input, d_output]`, bias: `[S, d_output]`
    /// - output: `[S, N, d_output]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the shapes do not fit together.
    pub fn forward_with_weights(&self, x: Tensor<3>, weights: Tensor<3>, bias: Option<Tensor<2>>) -> Result<Tensor<3>> {
        self.apply_weights(x, weights, bias, false)
    }

    /// [`forward_with_weights`](Self::forward_with_weights) followed by a ReLU, fused into one
    /// kernel for prediction on the `flex` backend ([`ops::linear`]): SGEMM writes the product,
    /// then one in-place pass adds the bias and applies the ReLU.
    ///
    /// # Shapes
    /// - input: `[S, N, d_input]`, weights: `[S, d_input, d_output]`, bias: `[S, d_output]`
    /// - output: `[S, N, d_output]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the shapes do not fit together.
    pub fn forward_with_weights_relu(
        &self,
        x: Tensor<3>,
        weights: Tensor<3>,
        bias: Option<Tensor<2>>,
    ) -> Result<Tensor<3>> {
        self.apply_weights(x, weights, bias, true)
    }

    fn apply_weights(
        &self,
        x: Tensor<3>,
        weights: Tensor<3>,
        bias: Option<Tensor<2>>,
        relu: bool,
    ) -> Result<Tensor<3>> {
        let dims = self.check_input(&x)?;
        let s = dims[0];
        let expected = [s, self.d_input(), self.d_output()];
        if weights.dims() != expected {
            return Err(Error::shape(
                LAYER,
                "weights",
                format!("{expected:?}"),
                &weights.dims(),
                "pass one weight matrix per input sample, e.g. from sample_weights(S)",
            ));
        }
        if let Some(b) = &bias {
            if b.dims() != [s, self.d_output()] {
                return Err(Error::shape(
                    LAYER,
                    "bias",
                    format!("[{s}, {}]", self.d_output()),
                    &b.dims(),
                    "pass one bias vector per input sample, e.g. from sample_weights(S)",
                ));
            }
        }
        Ok(ops::linear(x, weights, bias, relu))
    }

    /// Applies the layer: in [`Mode::Sample`] each of the S input samples meets an independent
    /// posterior sample (drawn by the layer's [`Estimator`]); in [`Mode::Mean`] every sample meets
    /// the posterior mean, deterministically.
    ///
    /// # Shapes
    /// - input: `[S, N, d_input]`
    /// - output: `[S, N, d_output]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the last axis is not `d_input`, or `S = 0` or `N = 0`.
    pub fn try_forward(&self, x: Tensor<3>) -> Result<Tensor<3>> {
        let dims = self.check_input(&x)?;
        if self.mode == Mode::Mean {
            return Ok(self.mean_output(x));
        }
        let [s, n, _] = dims;
        let d_output = self.d_output();
        let device = x.device();
        Ok(match self.estimator {
            Estimator::Reparameterization => {
                let (weights, bias) = self.sample_weights(s);
                let out = x.matmul(weights);
                match bias {
                    Some(b) => out + b.unsqueeze_dim::<3>(1),
                    None => out,
                }
            }
            Estimator::Flipout => {
                // Wen et al. 2018, eq. 4: one perturbation per sample, decorrelated across
                // examples by per-example Rademacher signs on its input and output side. The bias
                // perturbation joins before the output flip, so it is decorrelated too.
                let delta_w: Tensor<3> = self.weight.perturbation(s);
                let sign_in = noise::rademacher([s, n, self.d_input()], &device);
                let sign_out = noise::rademacher([s, n, d_output], &device);
                let mut perturbation = (x.clone() * sign_in).matmul(delta_w);
                if let Some(bias) = &self.bias {
                    let delta_b: Tensor<2> = bias.perturbation(s);
                    perturbation = perturbation + delta_b.unsqueeze_dim::<3>(1);
                }
                self.mean_output(x) + perturbation * sign_out
            }
            Estimator::LocalReparameterization => {
                // Kingma et al. 2015, eq. 6: the pre-activation given x is Normal with these
                // moments, so sample it directly with independent noise per example.
                let sigma = self.weight.sigma();
                let mut variance = x.clone().square().matmul(sigma.square().unsqueeze::<3>());
                if let Some(bias) = &self.bias {
                    variance = variance + bias.sigma().square().unsqueeze::<3>();
                }
                let std = variance.add_scalar(VARIANCE_FLOOR).sqrt();
                self.mean_output(x) + std * noise::normal([s, n, d_output], &device)
            }
        })
    }

    /// Applies the layer; see [`try_forward`](Self::try_forward).
    ///
    /// # Shapes
    /// - input: `[S, N, d_input]`
    /// - output: `[S, N, d_output]`
    ///
    /// # Panics
    /// With the text of the [`Error::ShapeMismatch`] `try_forward` would return.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `x @ mu + b_mu`, broadcast over the sample axis.
    fn mean_output(&self, x: Tensor<3>) -> Tensor<3> {
        let out = x.matmul(self.weight.mu.val().unsqueeze::<3>());
        match &self.bias {
            Some(b) => out + b.mu.val().unsqueeze::<3>(),
            None => out,
        }
    }

    fn check_input(&self, x: &Tensor<3>) -> Result<[usize; 3]> {
        let dims = x.dims();
        let d_input = self.d_input();
        let expected = format!("[S, N, {d_input}]");
        if dims[2] != d_input {
            return Err(Error::shape(
                LAYER,
                "input",
                expected,
                &dims,
                "the last axis must hold the layer's d_input features",
            ));
        }
        check_sample_and_batch(LAYER, &dims, &expected)?;
        Ok(dims)
    }
}

impl ModuleDisplay for BayesLinear {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new().with_new_line_after_attribute(false).optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("d_input", &self.d_input())
            .add("d_output", &self.d_output())
            .add("bias", &self.bias.is_some())
            .add("prior", &self.prior.to_string())
            .add("estimator", &self.estimator.to_string())
            .add("mode", &self.mode.to_string())
            .optional()
    }
}

impl Bayesian for BayesLinear {
    /// `KL(q || p)` summed over every weight and bias, shape `[1]`; always `Some`.
    fn kl(&self) -> Option<Tensor<1>> {
        Some(layer_kl(&self.prior, &self.weight, self.bias.as_ref(), self.prior_centre.as_ref()))
    }

    fn with_mode(self, mode: Mode) -> Self {
        BayesLinear::with_mode(self, mode)
    }

    fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>) {
        out.push(layer_stats(
            join_path(prefix, ""),
            &self.prior,
            &self.weight,
            self.bias.as_ref(),
            self.prior_centre.as_ref(),
        ));
    }

    fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
        let layer = LayerKind::BayesLinear {
            prior: self.prior,
            prior_centred: self.prior_centre.is_some(),
            estimator: self.estimator,
            mode: self.mode,
        };
        out.push(LayerState { path: join_path(prefix, ""), layer });
    }

    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        let (prior, estimator, mode) =
            states.take_bayes_linear(&join_path(prefix, ""), self.prior, self.prior_centre.is_some())?;
        Ok(BayesLinear { prior, estimator, mode, ..self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.try_to_vec_as::<f32>().unwrap()
    }

    #[test]
    fn shapes_and_parameters() {
        let device = Device::flex();
        let layer = BayesLinearConfig::new(3, 2).init(&device);
        assert_eq!(layer.weight.dims(), [3, 2]);
        assert_eq!(layer.bias.as_ref().unwrap().dims(), [2]);
        let out = layer.forward(Tensor::zeros([4, 5, 3], &device));
        assert_eq!(out.dims(), [4, 5, 2]);
        let no_bias = BayesLinearConfig::new(3, 2).with_bias(false).init(&device);
        assert!(no_bias.bias.is_none());
    }

    #[test]
    fn rho_init_gives_softplus_sigma() {
        let device = Device::flex();
        let layer = BayesLinearConfig::new(2, 2).init(&device);
        let expected = (-5.0f64).exp().ln_1p() as f32;
        for v in values(layer.weight.sigma()) {
            assert!((v - expected).abs() < 1e-6 * expected.max(1.0), "{v} vs {expected}");
        }
    }

    #[test]
    fn mean_mode_is_x_mu_plus_b() {
        let device = Device::flex();
        let mut layer = BayesLinearConfig::new(2, 1).init(&device).with_mode(Mode::Mean);
        layer.weight.mu = Param::from_tensor(Tensor::from_data([[2.0], [-1.0]], &device));
        layer.bias.as_mut().unwrap().mu = Param::from_tensor(Tensor::from_data([0.5], &device));
        let x = Tensor::<3>::from_data([[[1.0, 3.0]], [[0.0, 1.0]]], &device);
        // 1*2 + 3*(-1) + 0.5 = -0.5; 0*2 + 1*(-1) + 0.5 = -0.5
        assert_eq!(values(layer.forward(x)), vec![-0.5, -0.5]);
    }

    #[test]
    fn valid_keeps_estimator_mode_and_prior() {
        let device = Device::flex().autodiff();
        let prior = Prior::Normal { loc: 0.0, scale: 0.5 };
        let layer = BayesLinearConfig::new(2, 2)
            .with_prior(prior)
            .with_estimator(Estimator::Flipout)
            .init(&device)
            .with_mode(Mode::Mean)
            .valid();
        assert_eq!((layer.estimator(), layer.mode(), layer.prior()), (Estimator::Flipout, Mode::Mean, prior));
        assert!(!layer.weight.mu.val().device().is_autodiff());
    }

    #[test]
    fn zero_features_is_an_error() {
        let err = BayesLinearConfig::new(0, 2).try_init(&Device::flex()).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { field: "d_input", .. }), "{err}");
    }

    #[test]
    #[should_panic(expected = "BayesLinear: input must have shape [S, N, 3], got [1, 1, 2]")]
    fn forward_panics_with_the_error_text() {
        let device = Device::flex();
        BayesLinearConfig::new(3, 2).init(&device).forward(Tensor::zeros([1, 1, 2], &device));
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = BayesLinearConfig::new(3, 2).with_estimator(Estimator::Flipout).with_prior(Prior::ScaleMixture {
            pi: 0.5,
            sigma1: 1.0,
            sigma2: 0.01,
        });
        let json = serde_json::to_string(&config).unwrap();
        let back: BayesLinearConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.estimator, Estimator::Flipout);
        assert_eq!(back.prior, config.prior);
        assert_eq!(back.init, PosteriorInit::default());
    }
}
