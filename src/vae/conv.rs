//! A convolutional VAE for small grey-scale images: two stride-2 convolutions down to an
//! `H/4 x W/4` feature map, and two stride-2 transposed convolutions back up.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::decoder::{Likelihood, Reconstruction};
use super::latent::{kaiming_linear, GaussianEncoderHead, GaussianEncoderHeadConfig, LatentGaussian};
use super::Vae;
use crate::error::{check_nonzero, Error, Result};
use crate::noise;

/// Configuration of a [`ConvVae`].
#[derive(Config, Debug)]
pub struct ConvVaeConfig {
    /// Image height (a multiple of 4, >= 4).
    pub height: usize,
    /// Image width (a multiple of 4, >= 4).
    pub width: usize,
    /// Latent dimensions `Z` (>= 1).
    pub d_latent: usize,
    /// Channels after the first and the second convolution.
    #[config(default = "[32, 64]")]
    pub channels: [usize; 2],
    /// The observation model.
    #[config(default = "Likelihood::Bernoulli")]
    pub likelihood: Likelihood,
}

impl ConvVaeConfig {
    /// Builds the VAE (kernels 4 x 4, stride 2, padding 1, so each layer halves or doubles the
    /// side exactly; weights Kaiming-uniform from the seeded [`noise`] source).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if a side is not a positive multiple of 4, a channel count is
    /// zero, or the likelihood is invalid.
    pub fn try_init(&self, device: &Device) -> Result<ConvVae> {
        const C: &str = "ConvVaeConfig";
        for (field, side) in [("height", self.height), ("width", self.width)] {
            if side == 0 || side % 4 != 0 {
                return Err(Error::invalid(
                    C,
                    field,
                    side,
                    "a positive multiple of 4",
                    "pad or crop the images (two stride-2 layers halve the side twice)",
                ));
            }
        }
        let [c1, c2] = self.channels;
        check_nonzero(C, "channels[0]", c1, "use e.g. [32, 64]")?;
        check_nonzero(C, "channels[1]", c2, "use e.g. [32, 64]")?;
        self.likelihood.validate(C)?;
        let flat = c2 * (self.height / 4) * (self.width / 4);
        let p = self.likelihood.params_per_dim();
        let down = |c_in: usize, c_out: usize| {
            let mut conv = Conv2dConfig::new([c_in, c_out], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device);
            let k = 1.0 / ((c_in * 16) as f64).sqrt();
            conv.weight = Param::from_tensor(noise::uniform([c_out, c_in, 4, 4], -k, k, device));
            conv.bias = Some(Param::from_tensor(noise::uniform([c_out], -k, k, device)));
            conv
        };
        let up = |c_in: usize, c_out: usize| {
            let mut conv =
                ConvTranspose2dConfig::new([c_in, c_out], [4, 4]).with_stride([2, 2]).with_padding([1, 1]).init(device);
            let k = 1.0 / ((c_in * 16) as f64).sqrt();
            conv.weight = Param::from_tensor(noise::uniform([c_in, c_out, 4, 4], -k, k, device));
            conv.bias = Some(Param::from_tensor(noise::uniform([c_out], -k, k, device)));
            conv
        };
        Ok(ConvVae {
            down1: down(1, c1),
            down2: down(c1, c2),
            latent: GaussianEncoderHeadConfig::new(flat, self.d_latent).try_init(device)?,
            expand: kaiming_linear(self.d_latent, flat, device),
            up1: up(c2, c1),
            up2: up(c1, p),
            height: self.height,
            width: self.width,
            likelihood: self.likelihood,
        })
    }

    /// Builds the VAE.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self, device: &Device) -> ConvVae {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Encoder: conv (stride 2) - ReLU - conv (stride 2) - ReLU - [`GaussianEncoderHead`];
/// decoder: linear - ReLU - transposed conv (stride 2) - ReLU - transposed conv (stride 2) to
/// `P` output channels (the likelihood's parameters per pixel).
///
/// Data are flat rows `[N, H * W]` (row-major images), like [`MlpVae`](super::MlpVae).
#[derive(Module, Debug)]
pub struct ConvVae {
    /// `1 -> c1` channels, side halved.
    pub down1: Conv2d,
    /// `c1 -> c2` channels, side halved.
    pub down2: Conv2d,
    /// Features → `q(z | x)`.
    pub latent: GaussianEncoderHead,
    /// `Z -> c2 * H/4 * W/4`.
    pub expand: Linear,
    /// `c2 -> c1` channels, side doubled.
    pub up1: ConvTranspose2d,
    /// `c1 -> P` channels, side doubled.
    pub up2: ConvTranspose2d,
    height: usize,
    width: usize,
    #[module(skip)]
    likelihood: Likelihood,
}

impl Vae for ConvVae {
    fn d_data(&self) -> usize {
        self.height * self.width
    }

    fn d_latent(&self) -> usize {
        self.latent.d_latent()
    }

    fn encode(&self, x: Tensor<2>) -> Result<LatentGaussian> {
        let [n, d] = x.dims();
        if d != self.d_data() || n == 0 {
            return Err(Error::shape(
                "ConvVae::encode",
                "x",
                format!("[N >= 1, {} * {}]", self.height, self.width),
                &[n, d],
                "pass flat row-major images, one per row",
            ));
        }
        let h = relu(self.down1.forward(x.reshape([n, 1, self.height, self.width])));
        let h = relu(self.down2.forward(h));
        let [_, c, hh, ww] = h.dims();
        self.latent.try_forward(h.reshape([n, c * hh * ww]))
    }

    fn decode(&self, z: Tensor<3>) -> Result<Reconstruction> {
        let [k, n, d] = z.dims();
        if d != self.d_latent() || k == 0 || n == 0 {
            return Err(Error::shape(
                "ConvVae::decode",
                "z",
                format!("[K >= 1, N >= 1, {}]", self.d_latent()),
                &[k, n, d],
                "pass latent samples with the sample axis first",
            ));
        }
        let c2 = self.up1.weight.dims()[0];
        let (h4, w4) = (self.height / 4, self.width / 4);
        let h = relu(self.expand.forward(z)).reshape([k * n, c2, h4, w4]);
        let h = relu(self.up1.forward(h));
        let out = self.up2.forward(h); // [K N, P, H, W]
        let p = out.dims()[1];
        Ok(self.likelihood.reconstruction(out.reshape([k, n, p * self.height * self.width])))
    }
}
