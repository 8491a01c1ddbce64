//! [`BayesConv2d`]: a 2-D convolution with a mean-field Normal posterior over its kernels.
//!
//! # Shapes
//! - input: `[S, N, C_in, H, W]` (S Monte-Carlo samples, N examples)
//! - output: `[S, N, C_out, H', W']`, `H' = (H + pad_h - dilation_h (kh - 1) - 1) / stride_h + 1`
//!
//! The S weight samples are applied in one grouped convolution: the sample axis is folded into
//! the channels (`[N, S * C_in, H, W]`), the S kernels are stacked (`[S * C_out, C_in, kh, kw]`)
//! and `groups = S` keeps sample `s` of the input with kernel sample `s`.
//!
//! # Errors
//! [`BayesConv2dConfig::try_init`] rejects zero channels, kernel sizes, strides or dilations and
//! invalid priors or initialisations ([`Error::InvalidParameter`]);
//! [`BayesConv2d::try_forward`] rejects inputs with the wrong channel count, an empty sample or
//! batch axis, or a spatial size smaller than the (dilated) kernel ([`Error::ShapeMismatch`]).

use burn::module::{Content, DisplaySettings, ModuleDisplay, Param};
use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use super::checks::check_sample_and_batch;
use super::Estimator;
use crate::bayesian::{join_path, Bayesian, LayerStats, Mode};
use crate::checkpoint::{LayerKind, LayerState, LayerStates};
use crate::error::{check_nonzero, Error, Result};
use crate::noise;
use crate::posterior::{
    layer_kl, layer_kl_estimate, layer_stats, KlEstimate, MeanField, PosteriorInit, Prior, PriorCentre,
};

const CONFIG: &str = "BayesConv2dConfig";
const LAYER: &str = "BayesConv2d";

/// See `linear.rs`: keeps the gradient of `sqrt` finite where an input patch is all zeros.
const VARIANCE_FLOOR: f64 = 1e-12;

/// Configuration of a [`BayesConv2d`] layer.
#[derive(Config, Debug)]
pub struct BayesConv2dConfig {
    /// Input and output channels `[C_in, C_out]` (each >= 1).
    pub channels: [usize; 2],
    /// Kernel size `[kh, kw]` (each >= 1).
    pub kernel_size: [usize; 2],
    /// Stride `[sh, sw]` (each >= 1).
    #[config(default = "[1, 1]")]
    pub stride: [usize; 2],
    /// Dilation `[dh, dw]` (each >= 1).
    #[config(default = "[1, 1]")]
    pub dilation: [usize; 2],
    /// Padding, as in burn's `Conv2d`. `Same` pads so that `H' = ceil(H / stride)`, using the
    /// dilated kernel extent.
    #[config(default = "PaddingConfig2d::Valid")]
    pub padding: PaddingConfig2d,
    /// Whether the layer has a (variational) bias.
    #[config(default = true)]
    pub bias: bool,
    /// Prior of every weight and bias; default `N(0, 1)`.
    #[config(default = "Prior::Normal { loc: 0.0, scale: 1.0 }")]
    pub prior: Prior,
    /// Initialisation of the posterior; default `mu ~ N(0, 0.1^2)`, `rho = -5`.
    #[config(default = "PosteriorInit::default()")]
    pub init: PosteriorInit,
    /// Gradient estimator used in [`Mode::Sample`]; all three are supported.
    #[config(default = "Estimator::Reparameterization")]
    pub estimator: Estimator,
}

impl BayesConv2dConfig {
    /// Builds the layer after checking the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if a channel count, kernel size, stride or dilation is zero,
    /// or the prior or the initialisation is invalid.
    pub fn try_init(&self, device: &Device) -> Result<BayesConv2d> {
        let [c_in, c_out] = self.channels;
        check_nonzero(CONFIG, "channels[0] (input channels)", c_in, "a convolution needs at least one input channel")?;
        check_nonzero(
            CONFIG,
            "channels[1] (output channels)",
            c_out,
            "a convolution needs at least one output channel",
        )?;
        for (field, values) in [("kernel_size", self.kernel_size), ("stride", self.stride), ("dilation", self.dilation)]
        {
            if values.contains(&0) {
                return Err(Error::invalid(
                    CONFIG,
                    field,
                    format!("{values:?}"),
                    ">= 1 in both dimensions",
                    "use positive sizes such as [1, 1]",
                ));
            }
        }
        self.prior.validate(CONFIG)?;
        self.init.validate(CONFIG)?;
        let [kh, kw] = self.kernel_size;
        let shape = [c_out, c_in, kh, kw];
        let fan_in = c_in * kh * kw;
        // The bias is drawn before the kernel, the order seeded models have always used.
        let bias = self.bias.then(|| MeanField::from_init(&self.init, [c_out], fan_in, device));
        Ok(BayesConv2d {
            weight: MeanField::from_init(&self.init, shape, fan_in, device),
            bias,
            stride: self.stride,
            dilation: self.dilation,
            padding: self.padding.clone(),
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
    pub fn init(&self, device: &Device) -> BayesConv2d {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A 2-D convolution whose kernel and bias are independent Normals `N(mu, softplus(rho)^2)`.
///
/// Built with [`BayesConv2dConfig`].
///
/// # Shapes
/// - input: `[S, N, C_in, H, W]` (S Monte-Carlo samples, N examples)
/// - output: `[S, N, C_out, H', W']`
///
/// The S kernel samples are applied in one grouped convolution (S folded into the channels,
/// `groups = S`), never a loop over S.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct BayesConv2d {
    /// Posterior of the kernel, `[C_out, C_in, kh, kw]` (burn's `Conv2d` layout); record paths
    /// `weight.mu`, `weight.rho`.
    pub weight: MeanField<4>,
    /// Posterior of the bias, `[C_out]`; record paths `bias.mu`, `bias.rho`.
    pub bias: Option<MeanField<1>>,
    stride: [usize; 2],
    dilation: [usize; 2],
    #[module(skip)]
    padding: PaddingConfig2d,
    /// Elementwise centre of the prior (MOPED's pretrained weights), in place of the prior's
    /// scalar `loc`; `None` for a prior centred on its `loc`. Constants, not parameters.
    pub prior_centre: Option<PriorCentre<4>>,
    #[module(skip)]
    prior: Prior,
    #[module(skip)]
    estimator: Estimator,
    #[module(skip)]
    mode: Mode,
}

impl BayesConv2d {
    /// MOPED initialisation (Krishnan et al. 2020) from a trained deterministic convolution:
    /// `mu = w`, `sigma = delta * |w|` for the kernel and the bias; stride, dilation and padding
    /// are copied.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `delta <= 0`, the prior is invalid, or the convolution is
    /// grouped (`groups > 1` is not supported).
    pub fn from_conv2d(conv: &Conv2d, delta: f64, prior: Prior) -> Result<BayesConv2d> {
        const CONTEXT: &str = "BayesConv2d::from_conv2d";
        if conv.groups != 1 {
            return Err(Error::invalid(
                CONTEXT,
                "groups",
                conv.groups,
                "1",
                "only ungrouped convolutions can be converted",
            ));
        }
        prior.validate(CONTEXT)?;
        let weight = MeanField::moped(conv.weight.val(), delta)?;
        let bias = conv.bias.as_ref().map(|b| MeanField::moped(b.val(), delta)).transpose()?;
        Ok(BayesConv2d {
            weight,
            bias,
            stride: conv.stride,
            dilation: conv.dilation,
            padding: conv.padding.clone(),
            prior_centre: None,
            prior,
            estimator: Estimator::default(),
            mode: Mode::Sample,
        })
    }

    /// Input and output channels `[C_in, C_out]`.
    pub fn channels(&self) -> [usize; 2] {
        let [c_out, c_in, _, _] = self.weight.dims();
        [c_in, c_out]
    }

    /// Kernel size `[kh, kw]`.
    pub fn kernel_size(&self) -> [usize; 2] {
        let [_, _, kh, kw] = self.weight.dims();
        [kh, kw]
    }

    /// The layer with its prior centred elementwise on `weight` and `bias` (a data-dependent
    /// prior such as MOPED's, centred on pretrained weights) instead of the prior's scalar
    /// `loc`; the KL ([`Bayesian::kl`], [`kl_estimate`](Self::kl_estimate)) and the posterior
    /// statistics use it. The tensors are detached.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `weight` is not the shape of the weights, or `bias` is given
    /// for a layer without bias (or missing for one with), or not the shape of the bias.
    pub fn with_prior_centre(mut self, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Result<Self> {
        const CONTEXT: &str = "BayesConv2d::with_prior_centre";
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

    /// Returns the layer in `mode` ([`Mode::Mean`]: deterministic posterior-mean kernel).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Deterministic export: the posterior-mean convolution as a plain burn [`Conv2d`] (kernel
    /// and bias `mu`, the same stride, dilation and padding), detached from the autodiff graph.
    /// It computes what this layer computes in [`Mode::Mean`] (up to float rounding: burn pads
    /// `Same` itself, this layer pads explicitly).
    pub fn to_conv2d(&self) -> Conv2d {
        self.conv2d_with(self.weight.mu.val().detach(), self.bias.as_ref().map(|b| b.mu.val().detach()))
    }

    /// Deterministic export of one posterior draw (kernel and bias `mu + sigma * eps`, from
    /// [`noise`]) as a plain burn [`Conv2d`]; call it K times for K sampled networks.
    pub fn sample_conv2d(&self) -> Conv2d {
        let (weights, bias) = self.sample_weights(1);
        self.conv2d_with(weights.squeeze_dim::<4>(0).detach(), bias.map(|b| b.squeeze_dim::<1>(0).detach()))
    }

    fn conv2d_with(&self, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Conv2d {
        let [_, _, kh, kw] = weight.dims();
        Conv2d {
            weight: Param::from_tensor(weight),
            bias: bias.map(Param::from_tensor),
            stride: self.stride,
            kernel_size: [kh, kw],
            dilation: self.dilation,
            groups: 1,
            padding: self.padding.clone(),
        }
    }

    /// Draws `samples` independent kernels and biases from the posterior (`w = mu + sigma * eps`).
    ///
    /// # Shapes
    /// - weights: `[samples, C_out, C_in, kh, kw]`
    /// - bias: `[samples, C_out]`
    pub fn sample_weights(&self, samples: usize) -> (Tensor<5>, Option<Tensor<2>>) {
        let weights = self.weight.sample(samples);
        (weights, self.bias.as_ref().map(|b| b.sample(samples)))
    }

    /// Applies given kernel samples (e.g. from [`sample_weights`](Self::sample_weights)): sample
    /// `s` of the input meets kernel sample `s`, in one grouped convolution.
    ///
    /// # Shapes
    /// - input: `[S, N, C_in, H, W]`, weights: `[S, C_out, C_in, kh, kw]`, bias: `[S, C_out]`
    /// - output: `[S, N, C_out, H', W']`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the shapes do not fit together.
    pub fn forward_with_weights(&self, x: Tensor<5>, weights: Tensor<5>, bias: Option<Tensor<2>>) -> Result<Tensor<5>> {
        let [s, ..] = self.check_input(&x)?;
        let [c_out, c_in, kh, kw] = self.weight.dims();
        let expected = [s, c_out, c_in, kh, kw];
        if weights.dims() != expected {
            return Err(Error::shape(
                LAYER,
                "weights",
                format!("{expected:?}"),
                &weights.dims(),
                "pass one kernel per input sample, e.g. from sample_weights(S)",
            ));
        }
        if let Some(b) = &bias {
            if b.dims() != [s, c_out] {
                return Err(Error::shape(
                    LAYER,
                    "bias",
                    format!("[{s}, {c_out}]"),
                    &b.dims(),
                    "pass one bias vector per input sample, e.g. from sample_weights(S)",
                ));
            }
        }
        Ok(self.per_sample_conv(x, weights, bias))
    }

    /// Applies the layer: in [`Mode::Sample`] each of the S input samples meets an independent
    /// posterior sample (drawn by the layer's [`Estimator`]); in [`Mode::Mean`] every sample meets
    /// the posterior mean, deterministically.
    ///
    /// # Shapes
    /// - input: `[S, N, C_in, H, W]`
    /// - output: `[S, N, C_out, H', W']`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the channel axis is not `C_in`, `S = 0` or `N = 0`, or the
    /// padded input is smaller than the dilated kernel.
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<5>> {
        let [s, n, ..] = self.check_input(&x)?;
        if self.mode == Mode::Mean {
            return Ok(self.mean_conv(x));
        }
        let device = x.device();
        let [c_out, c_in, _, _] = self.weight.dims();
        Ok(match self.estimator {
            Estimator::Reparameterization => {
                let (weights, bias) = self.sample_weights(s);
                self.per_sample_conv(x, weights, bias)
            }
            Estimator::Flipout => {
                // Wen et al. 2018, eq. 4, with the signs per example and channel (broadcast over
                // the spatial axes, as in their convolutional experiments).
                let delta_w = self.weight.perturbation(s);
                let delta_b = self.bias.as_ref().map(|b| b.perturbation(s));
                let sign_in = noise::rademacher([s, n, c_in, 1, 1], &device);
                let sign_out = noise::rademacher([s, n, c_out, 1, 1], &device);
                let mean = self.mean_conv(x.clone());
                let perturbation = self.per_sample_conv(x * sign_in, delta_w, delta_b);
                mean + perturbation * sign_out
            }
            Estimator::LocalReparameterization => {
                // Kingma et al. 2015, eq. 6, for a convolution: each output is a linear map of
                // its patch, so its variance is conv(x^2, sigma^2) + b_sigma^2.
                let mean = self.mean_conv(x.clone());
                let bias_variance = self.bias.as_ref().map(|b| b.sigma().square());
                let variance = self.shared_conv(x.square(), self.weight.sigma().square(), bias_variance);
                let std = variance.add_scalar(VARIANCE_FLOOR).sqrt();
                let [_, _, _, h_out, w_out] = mean.dims();
                mean + std * noise::normal([s, n, c_out, h_out, w_out], &device)
            }
        })
    }

    /// Applies the layer; see [`try_forward`](Self::try_forward).
    ///
    /// # Shapes
    /// - input: `[S, N, C_in, H, W]`
    /// - output: `[S, N, C_out, H', W']`
    ///
    /// # Panics
    /// With the text of the [`Error::ShapeMismatch`] `try_forward` would return.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `(top, bottom), (left, right)` padding for an `h x w` input.
    fn padding_pairs(&self, h: usize, w: usize) -> [(usize, usize); 2] {
        let [kh, kw] = self.kernel_size();
        match self.padding {
            PaddingConfig2d::Valid => [(0, 0), (0, 0)],
            PaddingConfig2d::Same => [
                same_padding(extent(kh, self.dilation[0]), self.stride[0], h),
                same_padding(extent(kw, self.dilation[1]), self.stride[1], w),
            ],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        }
    }

    fn options(&self, h: usize, w: usize, groups: usize) -> ConvOptions<2> {
        ConvOptions::new_with_padding(self.stride, self.padding_pairs(h, w), self.dilation, groups)
    }

    /// The posterior-mean kernel and bias for every sample.
    fn mean_conv(&self, x: Tensor<5>) -> Tensor<5> {
        self.shared_conv(x, self.weight.mu.val(), self.bias.as_ref().map(|b| b.mu.val()))
    }

    /// One kernel for every sample: the sample axis is folded into the batch.
    fn shared_conv(&self, x: Tensor<5>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<5> {
        let [s, n, c_in, h, w] = x.dims();
        let out = conv2d(x.reshape([s * n, c_in, h, w]), weight, bias, self.options(h, w, 1));
        let [_, c_out, h_out, w_out] = out.dims();
        out.reshape([s, n, c_out, h_out, w_out])
    }

    /// Kernel sample `s` for input sample `s`: fold S into the channels, one grouped convolution.
    fn per_sample_conv(&self, x: Tensor<5>, weights: Tensor<5>, bias: Option<Tensor<2>>) -> Tensor<5> {
        let [s, n, c_in, h, w] = x.dims();
        let [_, c_out, _, kh, kw] = weights.dims();
        let x = x.swap_dims(0, 1).reshape([n, s * c_in, h, w]);
        let weights = weights.reshape([s * c_out, c_in, kh, kw]);
        let bias = bias.map(|b| b.reshape([s * c_out]));
        let out = conv2d(x, weights, bias, self.options(h, w, s));
        let [_, _, h_out, w_out] = out.dims();
        out.reshape([n, s, c_out, h_out, w_out]).swap_dims(0, 1)
    }

    fn check_input(&self, x: &Tensor<5>) -> Result<[usize; 5]> {
        let dims = x.dims();
        let [c_in, _] = self.channels();
        let expected = format!("[S, N, {c_in}, H, W]");
        if dims[2] != c_in {
            return Err(Error::shape(
                LAYER,
                "input",
                expected,
                &dims,
                "the channel axis (dim 2) must hold C_in channels",
            ));
        }
        check_sample_and_batch(LAYER, &dims, &expected)?;
        let kernel = self.kernel_size();
        let pads = self.padding_pairs(dims[3], dims[4]);
        for i in 0..2 {
            let needed = extent(kernel[i], self.dilation[i]);
            if dims[3 + i] + pads[i].0 + pads[i].1 < needed {
                return Err(Error::shape(
                    LAYER,
                    "input (spatial size)",
                    format!("[S, N, {c_in}, H, W] with padded H and W >= the dilated kernel extent {needed}"),
                    &dims,
                    "use a larger input, a smaller kernel or dilation, or padding",
                ));
            }
        }
        Ok(dims)
    }
}

impl ModuleDisplay for BayesConv2d {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new().with_new_line_after_attribute(false).optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("channels", &format!("{:?}", self.channels()))
            .add("kernel_size", &format!("{:?}", self.kernel_size()))
            .add("stride", &format!("{:?}", self.stride))
            .add("dilation", &format!("{:?}", self.dilation))
            .add("padding", &format!("{:?}", self.padding))
            .add("bias", &self.bias.is_some())
            .add("prior", &self.prior.to_string())
            .add("estimator", &self.estimator.to_string())
            .add("mode", &self.mode.to_string())
            .optional()
    }
}

/// Extent of a dilated kernel: `dilation * (k - 1) + 1`.
fn extent(kernel: usize, dilation: usize) -> usize {
    dilation * (kernel - 1) + 1
}

/// `(begin, end)` padding so that the output has `ceil(size / stride)` positions; an odd total
/// goes to the end (ONNX convention, as burn).
fn same_padding(extent: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = if out > 0 { ((out - 1) * stride + extent).saturating_sub(size) } else { 0 };
    (total / 2, total - total / 2)
}

impl Bayesian for BayesConv2d {
    /// `KL(q || p)` summed over every kernel weight and bias, shape `[1]`; always `Some`.
    fn kl(&self) -> Option<Tensor<1>> {
        Some(layer_kl(&self.prior, &self.weight, self.bias.as_ref(), self.prior_centre.as_ref()))
    }

    fn with_mode(self, mode: Mode) -> Self {
        BayesConv2d::with_mode(self, mode)
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
        let layer = LayerKind::BayesConv2d {
            prior: self.prior,
            prior_centred: self.prior_centre.is_some(),
            estimator: self.estimator,
            mode: self.mode,
            stride: self.stride,
            dilation: self.dilation,
            padding: self.padding.clone(),
        };
        out.push(LayerState { path: join_path(prefix, ""), layer });
    }

    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        let architecture = (self.stride, self.dilation, &self.padding);
        let (prior, estimator, mode) =
            states.take_bayes_conv2d(&join_path(prefix, ""), self.prior, self.prior_centre.is_some(), architecture)?;
        Ok(BayesConv2d { prior, estimator, mode, ..self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_shapes() {
        let device = Device::flex();
        let layer = BayesConv2dConfig::new([2, 3], [3, 3]).init(&device);
        assert_eq!(layer.forward(Tensor::zeros([4, 2, 2, 5, 6], &device)).dims(), [4, 2, 3, 3, 4]);
        let same = BayesConv2dConfig::new([2, 3], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .with_stride([2, 2])
            .with_estimator(Estimator::Flipout)
            .init(&device);
        assert_eq!(same.forward(Tensor::zeros([2, 1, 2, 5, 6], &device)).dims(), [2, 1, 3, 3, 3]);
    }

    #[test]
    fn mean_mode_matches_burn_conv2d() {
        let device = Device::flex();
        let layer = BayesConv2dConfig::new([2, 3], [2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 0, 0, 1))
            .init(&device)
            .with_mode(Mode::Mean);
        let x: Tensor<4> = noise::with_seed(1, || noise::normal([2, 2, 4, 4], &device));
        let expected = conv2d(
            x.clone(),
            layer.weight.mu.val(),
            layer.bias.as_ref().map(|b| b.mu.val()),
            ConvOptions::new_with_padding([1, 1], [(1, 0), (0, 1)], [1, 1], 1),
        );
        let got = layer.forward(x.unsqueeze::<5>().repeat_dim(0, 3));
        for s in 0..3 {
            let slice: Tensor<4> = got.clone().slice(s![s..s + 1]).squeeze_dim(0);
            slice.into_data().assert_approx_eq::<f32>(&expected.clone().into_data(), Default::default());
        }
    }

    #[test]
    fn too_small_input_is_an_error() {
        let device = Device::flex();
        let layer = BayesConv2dConfig::new([1, 1], [3, 3]).with_dilation([2, 1]).init(&device);
        let err = layer.try_forward(Tensor::zeros([1, 1, 1, 4, 4], &device)).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = BayesConv2dConfig::new([2, 3], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 2, 1, 2))
            .with_estimator(Estimator::LocalReparameterization);
        let back: BayesConv2dConfig = serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(back.padding, config.padding);
        assert_eq!(back.estimator, Estimator::LocalReparameterization);
    }

    #[test]
    fn zero_stride_is_an_error() {
        let err = BayesConv2dConfig::new([1, 1], [3, 3]).with_stride([1, 0]).try_init(&Device::flex()).unwrap_err();
        assert!(err.to_string().contains("stride") && err.to_string().contains("[1, 0]"), "{err}");
    }
}
