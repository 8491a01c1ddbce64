//! Decoders: latent features → the parameters of `p(x | z)`.

use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::latent::kaiming_linear;
use crate::distributions::{Bernoulli, Distribution, Normal};
use crate::error::{check_nonzero, check_positive, Error, Result};
use crate::posterior::softplus;

/// The observation model `p(x | z)`, independent over the data dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Likelihood {
    /// `x_d ~ Bernoulli(sigmoid(logit_d))`, for binary data (e.g. binarized MNIST).
    Bernoulli,
    /// `x_d ~ N(mean_d, var_d)` with `var_d = softplus(raw_d) + min_variance`, both predicted.
    Gaussian {
        /// Floor of every variance (> 0): keeps the density bounded on data without noise.
        min_variance: f64,
    },
}

impl Likelihood {
    /// Network outputs per data dimension: 1 (Bernoulli) or 2 (Gaussian: mean and variance).
    pub fn params_per_dim(&self) -> usize {
        match self {
            Likelihood::Bernoulli => 1,
            Likelihood::Gaussian { .. } => 2,
        }
    }

    pub(super) fn validate(&self, context: &'static str) -> Result<()> {
        match self {
            Likelihood::Bernoulli => Ok(()),
            Likelihood::Gaussian { min_variance } => {
                check_positive(context, "likelihood min_variance", *min_variance, "use e.g. 1e-3")
            }
        }
    }

    /// The reconstruction from raw network outputs `[K, N, P * D]`, laid out parameter-major
    /// (the `D` logits or means first, then the `D` raw variances).
    pub fn reconstruction(&self, raw: Tensor<3>) -> Reconstruction {
        match *self {
            Likelihood::Bernoulli => Reconstruction::Bernoulli { logits: raw },
            Likelihood::Gaussian { min_variance } => {
                let [k, n, pd] = raw.dims();
                let d = pd / 2;
                let mean = raw.clone().slice([0..k, 0..n, 0..d]);
                let var = softplus(raw.slice([0..k, 0..n, d..2 * d])).add_scalar(min_variance);
                Reconstruction::Gaussian { mean, var }
            }
        }
    }
}

/// The parameters of `p(x | z)` for each latent sample.
// One tensor handle against two: a short-lived value, not worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Reconstruction {
    /// Bernoulli logits `[K, N, D]`.
    Bernoulli {
        /// Log-odds of each data dimension being 1.
        logits: Tensor<3>,
    },
    /// Gaussian means and variances `[K, N, D]`.
    Gaussian {
        /// Means.
        mean: Tensor<3>,
        /// Variances (> 0).
        var: Tensor<3>,
    },
}

impl Reconstruction {
    /// `log p(x | z)` summed over the data dimensions, for each latent sample.
    ///
    /// # Shapes
    /// - `x`: `[N, D]` (for Bernoulli, values in `{0, 1}`)
    /// - output: `[K, N]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` is not `[N, D]`.
    pub fn log_prob(&self, x: Tensor<2>) -> Result<Tensor<2>> {
        let [k, n, d] = self.mean().dims();
        if x.dims() != [n, d] {
            return Err(Error::shape(
                "Reconstruction::log_prob",
                "x",
                format!("[{n}, {d}]"),
                &x.dims(),
                "pass the data the latents were encoded from",
            ));
        }
        let x = x.unsqueeze::<3>().expand([k, n, d]);
        let per_dim = match self {
            Reconstruction::Bernoulli { logits } => Bernoulli::from_logits_unchecked(logits.clone()).log_prob(x),
            Reconstruction::Gaussian { mean, var } => {
                Normal::new_unchecked(mean.clone(), var.clone().sqrt()).log_prob(x)
            }
        };
        Ok(per_dim.sum_dim(2).reshape([k, n]))
    }

    /// The mean of `p(x | z)`: probabilities (Bernoulli) or means (Gaussian), `[K, N, D]`.
    pub fn mean(&self) -> Tensor<3> {
        match self {
            Reconstruction::Bernoulli { logits } => burn::tensor::activation::sigmoid(logits.clone()),
            Reconstruction::Gaussian { mean, .. } => mean.clone(),
        }
    }
}

/// Configuration of a [`DecoderHead`].
#[derive(Config, Debug)]
pub struct DecoderHeadConfig {
    /// Input features (>= 1).
    pub d_input: usize,
    /// Data dimensions `D` (>= 1).
    pub d_data: usize,
    /// The observation model.
    #[config(default = "Likelihood::Bernoulli")]
    pub likelihood: Likelihood,
}

impl DecoderHeadConfig {
    /// Builds the head: one linear map `d_input -> P * D`, Kaiming-uniform from the seeded
    /// [`noise`](crate::noise) source.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero size or an invalid likelihood.
    pub fn try_init(&self, device: &Device) -> Result<DecoderHead> {
        const C: &str = "DecoderHeadConfig";
        check_nonzero(C, "d_input", self.d_input, "the head needs at least one input feature")?;
        check_nonzero(C, "d_data", self.d_data, "the data need at least one dimension")?;
        self.likelihood.validate(C)?;
        Ok(DecoderHead {
            projection: kaiming_linear(self.d_input, self.likelihood.params_per_dim() * self.d_data, device),
            likelihood: self.likelihood,
        })
    }

    /// Builds the head.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self, device: &Device) -> DecoderHead {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Features → the parameters of `p(x | z)`: a Bernoulli or a Gaussian decoder's last layer.
///
/// # Shapes
/// - input: `[K, N, d_input]`
/// - output: [`Reconstruction`] with `[K, N, D]` parameters
#[derive(Module, Debug)]
pub struct DecoderHead {
    /// The linear map `d_input -> P * D`.
    pub projection: Linear,
    #[module(skip)]
    likelihood: Likelihood,
}

impl DecoderHead {
    /// The observation model.
    pub fn likelihood(&self) -> Likelihood {
        self.likelihood
    }

    /// Predicts the reconstruction.
    ///
    /// # Shapes
    /// - input: `[K, N, d_input]`
    /// - output: `[K, N, D]` parameters
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the last axis is not `d_input` or an axis is empty.
    pub fn try_forward(&self, h: Tensor<3>) -> Result<Reconstruction> {
        let dims = h.dims();
        let d_input = self.projection.weight.dims()[0];
        if dims[2] != d_input || dims[0] == 0 || dims[1] == 0 {
            return Err(Error::shape(
                "DecoderHead",
                "input",
                format!("[K >= 1, N >= 1, {d_input}]"),
                &dims,
                "pass latent features with the sample axis first",
            ));
        }
        Ok(self.likelihood.reconstruction(self.projection.forward(h)))
    }

    /// Predicts the reconstruction; see [`try_forward`](Self::try_forward).
    ///
    /// # Panics
    /// With the text of the error `try_forward` would return.
    pub fn forward(&self, h: Tensor<3>) -> Reconstruction {
        self.try_forward(h).unwrap_or_else(|e| panic!("{e}"))
    }
}
