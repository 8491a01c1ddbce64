//! The fully connected VAE of Kingma & Welling (2014, §5): `D - hidden - (Z, Z)` encoder and
//! `Z - hidden - D` decoder, one hidden layer each.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::decoder::{DecoderHead, DecoderHeadConfig, Likelihood, Reconstruction};
use super::latent::{kaiming_linear, GaussianEncoderHead, GaussianEncoderHeadConfig, LatentGaussian};
use super::Vae;
use crate::error::{check_nonzero, Error, Result};

/// Configuration of an [`MlpVae`].
#[derive(Config, Debug)]
pub struct MlpVaeConfig {
    /// Data dimensions `D` (e.g. 784).
    pub d_data: usize,
    /// Hidden units of the encoder and of the decoder (e.g. 400).
    pub hidden: usize,
    /// Latent dimensions `Z` (e.g. 20, or 2 to draw the latent space).
    pub d_latent: usize,
    /// The observation model.
    #[config(default = "Likelihood::Bernoulli")]
    pub likelihood: Likelihood,
}

impl MlpVaeConfig {
    /// Builds the VAE (weights from the seeded [`noise`](crate::noise) source).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero size or an invalid likelihood.
    pub fn try_init(&self, device: &Device) -> Result<MlpVae> {
        check_nonzero("MlpVaeConfig", "hidden", self.hidden, "use e.g. 400 hidden units")?;
        check_nonzero("MlpVaeConfig", "d_data", self.d_data, "the data need at least one dimension")?;
        Ok(MlpVae {
            encoder: kaiming_linear(self.d_data, self.hidden, device),
            latent: GaussianEncoderHeadConfig::new(self.hidden, self.d_latent).try_init(device)?,
            decoder: kaiming_linear(self.d_latent, self.hidden, device),
            output: DecoderHeadConfig::new(self.hidden, self.d_data)
                .with_likelihood(self.likelihood)
                .try_init(device)?,
        })
    }

    /// Builds the VAE.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self, device: &Device) -> MlpVae {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A VAE with one ReLU hidden layer in the encoder and in the decoder.
#[derive(Module, Debug)]
pub struct MlpVae {
    /// `D -> hidden`.
    pub encoder: Linear,
    /// `hidden -> (mean, log_var)`.
    pub latent: GaussianEncoderHead,
    /// `Z -> hidden`.
    pub decoder: Linear,
    /// `hidden -> p(x | z)`.
    pub output: DecoderHead,
}

impl Vae for MlpVae {
    fn d_data(&self) -> usize {
        self.encoder.weight.dims()[0]
    }

    fn d_latent(&self) -> usize {
        self.latent.d_latent()
    }

    fn encode(&self, x: Tensor<2>) -> Result<LatentGaussian> {
        let [n, d] = x.dims();
        if d != self.d_data() || n == 0 {
            return Err(Error::shape(
                "MlpVae::encode",
                "x",
                format!("[N >= 1, {}]", self.d_data()),
                &[n, d],
                "pass flat examples, one per row",
            ));
        }
        self.latent.try_forward(relu(self.encoder.forward(x)))
    }

    fn decode(&self, z: Tensor<3>) -> Result<Reconstruction> {
        let dims = z.dims();
        if dims[2] != self.d_latent() {
            return Err(Error::shape(
                "MlpVae::decode",
                "z",
                format!("[K, N, {}]", self.d_latent()),
                &dims,
                "pass latent samples with the sample axis first",
            ));
        }
        self.output.try_forward(relu(self.decoder.forward(z)))
    }
}
