//! [`Bayesian`] for modules without variational weights: burn's layers, activations, losses and
//! parameter types, and the primitives burn's `Module` derive accepts as fields. Each has no KL
//! term, and `with_mode` returns it unchanged, so a plain field of a `#[derive(Bayesian)]`
//! network compiles without an attribute and adds nothing.

#[allow(deprecated)]
use burn::module::Ignored;
use burn::module::{Param, ParameterValue, RunningState};
use burn::nn;
use burn::tensor::{Bool, Int, Tensor};

/// Implements [`Bayesian`](crate::Bayesian) for types without variational weights: no KL
/// term, `with_mode` a no-op, no posterior statistics and no checkpoint state beyond burn's
/// record.
///
/// burn's own modules and the primitives are covered already; use this for a deterministic
/// module of your own that is a field of a `#[derive(Bayesian)]` network (the alternative is
/// `#[bayesian(skip)]` on that field):
///
/// ```
/// use bayesburn::prelude::*;
/// use burn::prelude::*;
///
/// #[derive(Module, Debug)]
/// pub struct Encoder {
///     linear: burn::nn::Linear,
/// }
/// bayesburn::deterministic!(Encoder);
///
/// #[derive(Module, Bayesian, Debug)]
/// pub struct Net {
///     encoder: Encoder,
///     head: bayesburn::layers::BayesLinear,
/// }
/// ```
#[macro_export]
macro_rules! deterministic {
    ($($ty:ty),+ $(,)?) => {
        $(
            impl $crate::Bayesian for $ty {
                fn kl(&self) -> ::core::option::Option<$crate::burn::tensor::Tensor<1>> {
                    ::core::option::Option::None
                }

                fn with_mode(self, _mode: $crate::Mode) -> Self {
                    self
                }

                fn collect_posterior_stats(
                    &self,
                    _prefix: &str,
                    _out: &mut ::std::vec::Vec<$crate::LayerStats>,
                ) {
                }
            }
        )+
    };
}

/// The same as [`deterministic!`] for generic types: `[generics] type`.
macro_rules! deterministic_generic {
    ($([$($generics:tt)*] $ty:ty),+ $(,)?) => {
        $(
            // `Ignored` is deprecated in burn 0.22 (for `#[module(skip)]`) but still a field type.
            #[allow(deprecated)]
            impl<$($generics)*> crate::Bayesian for $ty {
                fn kl(&self) -> Option<Tensor<1>> {
                    None
                }

                fn with_mode(self, _mode: crate::Mode) -> Self {
                    self
                }

                fn collect_posterior_stats(&self, _prefix: &str, _out: &mut Vec<crate::LayerStats>) {}
            }
        )+
    };
}

deterministic_generic!(
    [T: ParameterValue] Param<T>,
    [const D: usize] Tensor<D>,
    [const D: usize] Tensor<D, Int>,
    [const D: usize] Tensor<D, Bool>,
    [V] RunningState<V>,
    [T] Ignored<T>,
    [T: ?Sized] core::marker::PhantomData<T>,
);

deterministic!(bool, f32, f64, usize, u64, u32, u16, u8, isize, i64, i32, i16, i8, String);

// Layers.
deterministic!(
    nn::Linear,
    nn::Embedding,
    nn::Identity,
    nn::Dropout,
    nn::GaussianNoise,
    nn::PositionalEncoding,
    nn::RotaryEncoding,
    nn::PixelShuffle,
    nn::PixelUnshuffle,
    nn::Unfold4d,
    nn::Fold4d,
    nn::CosineSimilarity,
    nn::PairwiseDistance,
    nn::BatchNorm,
    nn::GroupNorm,
    nn::InstanceNorm,
    nn::LayerNorm,
    nn::LocalResponseNorm,
    nn::RmsNorm,
    nn::Rnn,
    nn::BiRnn,
    nn::Lstm,
    nn::BiLstm,
    nn::Gru,
    nn::BiGru,
    nn::conv::Conv1d,
    nn::conv::Conv2d,
    nn::conv::Conv3d,
    nn::conv::ConvTranspose1d,
    nn::conv::ConvTranspose2d,
    nn::conv::ConvTranspose3d,
    nn::conv::DeformConv2d,
    nn::pool::AdaptiveAvgPool1d,
    nn::pool::AdaptiveAvgPool2d,
    nn::pool::AdaptiveAvgPool3d,
    nn::pool::AvgPool1d,
    nn::pool::AvgPool2d,
    nn::pool::MaxPool1d,
    nn::pool::MaxPool2d,
    nn::interpolate::Interpolate1d,
    nn::interpolate::Interpolate2d,
    nn::attention::MultiHeadAttention,
    nn::transformer::PositionWiseFeedForward,
    nn::transformer::TransformerEncoder,
    nn::transformer::TransformerEncoderLayer,
    nn::transformer::TransformerDecoder,
    nn::transformer::TransformerDecoderLayer,
);

// Activations.
deterministic!(
    nn::activation::Activation,
    nn::activation::Celu,
    nn::activation::Elu,
    nn::activation::Gelu,
    nn::activation::GLU,
    nn::activation::HardShrink,
    nn::activation::HardSigmoid,
    nn::activation::HardSwish,
    nn::activation::Hardtanh,
    nn::activation::LeakyRelu,
    nn::activation::LogSigmoid,
    nn::activation::Mish,
    nn::activation::PRelu,
    nn::activation::RRelu,
    nn::activation::Relu,
    nn::activation::Relu6,
    nn::activation::Selu,
    nn::activation::Shrink,
    nn::activation::SiLU,
    nn::activation::Sigmoid,
    nn::activation::SoftShrink,
    nn::activation::Softplus,
    nn::activation::Softsign,
    nn::activation::SwiGlu,
    nn::activation::Tanh,
    nn::activation::Tanhshrink,
    nn::activation::Threshold,
    nn::activation::ThresholdedRelu,
);

// Losses (modules in burn, so they can be fields).
deterministic!(
    nn::loss::BinaryCrossEntropyLoss,
    nn::loss::CrossEntropyLoss,
    nn::loss::GaussianNLLLoss,
    nn::loss::HuberLoss,
    nn::loss::MseLoss,
    nn::loss::PoissonNllLoss,
    nn::loss::SmoothL1Loss,
);
