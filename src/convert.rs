//! A trained deterministic burn network becomes its Bayesian twin, layer by layer (the
//! `dnn_to_bnn` of bayesian-torch, with MOPED's initialisation, Krishnan et al. 2020).
//!
//! [`ToBayesian`] maps a module to its twin: burn's [`Linear`] to a [`BayesLinear`] and
//! [`Conv2d`] to a [`BayesConv2d`] with `mu = w` and `sigma = delta |w|`, optionally with the
//! prior centred on `w` ([`MopedConfig::centre_prior`]); activations, dropout, pooling and
//! normalisation layers are their own twins (copied). `Vec`, `Option` and arrays map
//! elementwise. `#[derive(ToBayesian)]` on a struct of such fields writes the twin struct and
//! the conversion:
//!
//! ```
//! use bayesburn::convert::{MopedConfig, ToBayesian};
//! use bayesburn::prelude::*;
//! use burn::nn::{Linear, LinearConfig, Relu};
//! use burn::prelude::*;
//!
//! #[derive(Module, ToBayesian, Debug)]
//! #[to_bayesian(twin = BayesMlp)]
//! pub struct Mlp {
//!     hidden: Linear,
//!     activation: Relu,
//!     out: Linear,
//! }
//!
//! impl Mlp {
//!     fn forward(&self, x: Tensor<2>) -> Tensor<2> {
//!         self.out.forward(self.activation.forward(self.hidden.forward(x)))
//!     }
//! }
//!
//! // The twin has the same fields, each converted, and derives `Module` and `Bayesian`; its
//! // forward pass takes the sample axis first, `[S, N, d]`.
//! impl BayesMlp {
//!     fn forward(&self, x: Tensor<3>) -> Tensor<3> {
//!         self.out.forward(self.activation.forward(self.hidden.forward(x)))
//!     }
//! }
//!
//! let device = Device::flex();
//! let mlp = Mlp {
//!     hidden: LinearConfig::new(3, 8).init(&device),
//!     activation: Relu::new(),
//!     out: LinearConfig::new(8, 1).init(&device),
//! };
//! let bnn: BayesMlp = mlp.to_bayesian(&MopedConfig::new().with_delta(0.05)).unwrap();
//! let x = Tensor::<2>::ones([4, 3], &device);
//! let mean = bnn.clone().with_mode(Mode::Mean).forward(x.clone().unsqueeze::<3>());
//! mean.squeeze_dim::<2>(0).into_data().assert_eq(&mlp.forward(x).into_data(), true);
//! assert!(bnn.kl().is_some());
//! ```

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::Linear;
use burn::prelude::*;

use crate::bayesian::Bayesian;
use crate::error::{check_positive, Result};
use crate::layers::{BayesConv2d, BayesLinear, Estimator};
use crate::posterior::Prior;

/// How [`ToBayesian`] turns deterministic weights `w` into a mean-field posterior: MOPED's
/// `mu = w`, `sigma = delta |w|`, the prior of every converted layer, whether that prior is
/// centred on `w` (empirical Bayes) or on its own `loc`, and the converted layers' estimator.
#[derive(Config, Debug)]
pub struct MopedConfig {
    /// Relative posterior standard deviation: `sigma = delta |w|` (> 0; MOPED uses 0.1).
    #[config(default = 0.1)]
    pub delta: f64,
    /// The prior of every converted weight and bias; default `N(0, 1)`.
    #[config(default = "Prior::Normal { loc: 0.0, scale: 1.0 }")]
    pub prior: Prior,
    /// Centre the prior on the pretrained weights (elementwise `loc = w`, MOPED's
    /// data-dependent prior) instead of the prior's scalar `loc`; default `false`.
    #[config(default = false)]
    pub centre_prior: bool,
    /// Gradient estimator of the converted layers in `Mode::Sample`; default reparameterization.
    #[config(default = "Estimator::Reparameterization")]
    pub estimator: Estimator,
}

impl MopedConfig {
    /// Checks `delta` and the prior; `context` names the caller.
    fn validate(&self, context: &'static str) -> Result<()> {
        check_positive(context, "delta", self.delta, "use a small positive factor such as 0.1")?;
        self.prior.validate(context)
    }
}

/// A module that has a Bayesian twin: the same computation with (some) weights replaced by
/// mean-field Normal posteriors initialised from them.
///
/// Implemented for burn's [`Linear`] and [`Conv2d`] (the variational layers), for modules without
/// weights to convert (activations, dropout, pooling, normalisation, embeddings: their own
/// twins), for `Vec`, `Option` and arrays of implementors, and by `#[derive(ToBayesian)]` for a
/// struct of implementors (see the [module documentation](self)).
pub trait ToBayesian {
    /// The Bayesian twin.
    type Bayesian: Bayesian + Module;

    /// The twin of this module, with weights initialised by MOPED as `config` says.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `config.delta <= 0`, the
    /// prior is invalid, or a layer cannot be converted (a grouped convolution).
    fn to_bayesian(&self, config: &MopedConfig) -> Result<Self::Bayesian>;
}

impl ToBayesian for Linear {
    type Bayesian = BayesLinear;

    /// A [`BayesLinear`] with `mu = w`, `sigma = delta |w|` for the weights and the bias; in
    /// `Mode::Mean` it computes exactly what this layer computes.
    fn to_bayesian(&self, config: &MopedConfig) -> Result<BayesLinear> {
        config.validate("Linear::to_bayesian")?;
        let layer = BayesLinear::from_linear(self, config.delta, config.prior)?.with_estimator(config.estimator);
        if config.centre_prior {
            layer.with_prior_centre(self.weight.val(), self.bias.as_ref().map(|b| b.val()))
        } else {
            Ok(layer)
        }
    }
}

impl ToBayesian for Conv2d {
    type Bayesian = BayesConv2d;

    /// A [`BayesConv2d`] with `mu = w`, `sigma = delta |w|` for the kernel and the bias, the same
    /// stride, dilation and padding.
    fn to_bayesian(&self, config: &MopedConfig) -> Result<BayesConv2d> {
        config.validate("Conv2d::to_bayesian")?;
        let layer = BayesConv2d::from_conv2d(self, config.delta, config.prior)?.with_estimator(config.estimator);
        if config.centre_prior {
            layer.with_prior_centre(self.weight.val(), self.bias.as_ref().map(|b| b.val()))
        } else {
            Ok(layer)
        }
    }
}

impl<T: ToBayesian> ToBayesian for Vec<T> {
    type Bayesian = Vec<T::Bayesian>;

    fn to_bayesian(&self, config: &MopedConfig) -> Result<Self::Bayesian> {
        self.iter().map(|m| m.to_bayesian(config)).collect()
    }
}

impl<T: ToBayesian> ToBayesian for Option<T> {
    type Bayesian = Option<T::Bayesian>;

    fn to_bayesian(&self, config: &MopedConfig) -> Result<Self::Bayesian> {
        self.as_ref().map(|m| m.to_bayesian(config)).transpose()
    }
}

impl<T: ToBayesian, const N: usize> ToBayesian for [T; N]
where
    [T::Bayesian; N]: Bayesian + Module,
{
    type Bayesian = [T::Bayesian; N];

    fn to_bayesian(&self, config: &MopedConfig) -> Result<Self::Bayesian> {
        let twins = self.iter().map(|m| m.to_bayesian(config)).collect::<Result<Vec<_>>>()?;
        Ok(twins.try_into().unwrap_or_else(|_| unreachable!("{N} elements in, {N} out")))
    }
}

/// `ToBayesian` for modules that are their own twins (a copy).
macro_rules! own_twin {
    ($($ty:ty),+ $(,)?) => {
        $(
            impl ToBayesian for $ty {
                type Bayesian = $ty;

                /// A copy: nothing to convert.
                fn to_bayesian(&self, _config: &MopedConfig) -> Result<$ty> {
                    Ok(self.clone())
                }
            }
        )+
    };
}

use burn::nn;
own_twin!(
    nn::Dropout,
    nn::Identity,
    nn::Embedding,
    nn::BatchNorm,
    nn::GroupNorm,
    nn::InstanceNorm,
    nn::LayerNorm,
    nn::RmsNorm,
    nn::pool::AdaptiveAvgPool2d,
    nn::pool::AvgPool2d,
    nn::pool::MaxPool2d,
    nn::activation::Activation,
    nn::activation::Gelu,
    nn::activation::LeakyRelu,
    nn::activation::Relu,
    nn::activation::Sigmoid,
    nn::activation::SiLU,
    nn::activation::Softplus,
    nn::activation::Tanh,
);
