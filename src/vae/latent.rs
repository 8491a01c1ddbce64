//! The Gaussian encoder head and the latent distribution it predicts.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;

use crate::distributions::{kl, Distribution, Normal};
use crate::error::{check_nonzero, check_positive, Error, Result};
use crate::noise;

/// Configuration of a [`GaussianEncoderHead`].
#[derive(Config, Debug)]
pub struct GaussianEncoderHeadConfig {
    /// Input features (>= 1).
    pub d_input: usize,
    /// Latent dimensions `Z` (>= 1).
    pub d_latent: usize,
    /// The predicted log-variance is clamped to `[-max_abs_log_var, max_abs_log_var]` (> 0):
    /// an unbounded `exp(log_var)` overflows when training diverges.
    #[config(default = 10.0)]
    pub max_abs_log_var: f64,
}

impl GaussianEncoderHeadConfig {
    /// Builds the head: one linear map `d_input -> 2 Z`, Kaiming-uniform from the seeded
    /// [`noise`] source.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero size or a non-positive clamp.
    pub fn try_init(&self, device: &Device) -> Result<GaussianEncoderHead> {
        const C: &str = "GaussianEncoderHeadConfig";
        check_nonzero(C, "d_input", self.d_input, "the head needs at least one input feature")?;
        check_nonzero(C, "d_latent", self.d_latent, "use a latent size such as 20")?;
        check_positive(C, "max_abs_log_var", self.max_abs_log_var, "use e.g. 10")?;
        Ok(GaussianEncoderHead {
            projection: kaiming_linear(self.d_input, 2 * self.d_latent, device),
            d_latent: self.d_latent,
            max_abs_log_var: self.max_abs_log_var,
        })
    }

    /// Builds the head.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self, device: &Device) -> GaussianEncoderHead {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A linear layer initialised like burn's `Linear` (`U(-1/sqrt(fan_in), 1/sqrt(fan_in))`), but
/// from the per-thread seeded [`noise`] source so parallel tests are reproducible.
pub(super) fn kaiming_linear(d_input: usize, d_output: usize, device: &Device) -> Linear {
    let k = 1.0 / (d_input as f64).sqrt();
    Linear {
        weight: Param::from_tensor(noise::uniform([d_input, d_output], -k, k, device)),
        bias: Some(Param::from_tensor(noise::uniform([d_output], -k, k, device))),
    }
}

/// Features → the mean and log-variance of `q(z | x)`.
///
/// # Shapes
/// - input: `[N, d_input]`
/// - output: [`LatentGaussian`] with `mean`, `log_var` `[N, Z]`
#[derive(Module, Debug)]
pub struct GaussianEncoderHead {
    /// The linear map `d_input -> 2 Z` (means first, then log-variances).
    pub projection: Linear,
    d_latent: usize,
    max_abs_log_var: f64,
}

impl GaussianEncoderHead {
    /// Latent dimensions `Z`.
    pub fn d_latent(&self) -> usize {
        self.d_latent
    }

    /// Predicts `q(z | x)`.
    ///
    /// # Shapes
    /// - input: `[N, d_input]`
    /// - output: `mean`, `log_var` `[N, Z]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the last axis is not `d_input` or `N = 0`.
    pub fn try_forward(&self, x: Tensor<2>) -> Result<LatentGaussian> {
        let [n, d] = x.dims();
        let d_input = self.projection.weight.dims()[0];
        if d != d_input || n == 0 {
            return Err(Error::shape(
                "GaussianEncoderHead",
                "input",
                format!("[N >= 1, {d_input}]"),
                &[n, d],
                "pass one row of features per example",
            ));
        }
        let out = self.projection.forward(x);
        let z = self.d_latent;
        let mean = out.clone().slice([0..n, 0..z]);
        let log_var = out.slice([0..n, z..2 * z]).clamp(-self.max_abs_log_var, self.max_abs_log_var);
        Ok(LatentGaussian { mean, log_var })
    }

    /// Predicts `q(z | x)`; see [`try_forward`](Self::try_forward).
    ///
    /// # Panics
    /// With the text of the error `try_forward` would return.
    pub fn forward(&self, x: Tensor<2>) -> LatentGaussian {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A diagonal Gaussian over the latent, `N(mean, diag(exp(log_var)))`, one per example.
#[derive(Debug, Clone)]
pub struct LatentGaussian {
    /// Means `[N, Z]`.
    pub mean: Tensor<2>,
    /// Log-variances `[N, Z]`.
    pub log_var: Tensor<2>,
}

impl LatentGaussian {
    /// Standard deviations `exp(log_var / 2)`, `[N, Z]`.
    pub fn std(&self) -> Tensor<2> {
        self.log_var.clone().mul_scalar(0.5).exp()
    }

    /// `k` reparameterized samples `z = mean + std * eps` (Kingma & Welling 2014, §2.4), sample
    /// axis first, differentiable in `mean` and `log_var`.
    ///
    /// # Shapes
    /// - output: `[k, N, Z]`
    pub fn rsample(&self, k: usize) -> Tensor<3> {
        let [n, z] = self.mean.dims();
        let eps = noise::normal([k, n, z], &self.mean.device());
        self.mean.clone().unsqueeze::<3>() + self.std().unsqueeze::<3>() * eps
    }

    /// `log q(z | x)` summed over the latent dimensions.
    ///
    /// # Shapes
    /// - `z`: `[K, N, Z]`
    /// - output: `[K, N]`
    pub fn log_prob(&self, z: Tensor<3>) -> Tensor<2> {
        let [k, n, d] = z.dims();
        let q = Normal::new_unchecked(
            self.mean.clone().unsqueeze::<3>().expand([k, n, d]),
            self.std().unsqueeze::<3>().expand([k, n, d]),
        );
        q.log_prob(z).sum_dim(2).reshape([k, n])
    }

    /// `KL(q(z | x) || N(0, I))` summed over the latent dimensions, in closed form from the
    /// shared [`distributions::kl`](crate::distributions::kl) (elementwise `-(1 + log_var - mean^2 - var) / 2`,
    /// Kingma & Welling 2014, appendix B).
    ///
    /// # Shapes
    /// - output: `[N]`
    pub fn kl_to_standard_normal(&self) -> Tensor<1> {
        let [n, _] = self.mean.dims();
        let q = Normal::new_unchecked(self.mean.clone(), self.std());
        let prior = Normal::new_unchecked(self.mean.zeros_like(), self.mean.ones_like());
        kl(&q, &prior).sum_dim(1).reshape([n])
    }
}

/// `log N(z; 0, I)` summed over the latent dimensions, `[K, N, Z] -> [K, N]`.
pub(super) fn standard_normal_log_prob(z: Tensor<3>) -> Tensor<2> {
    let [k, n, _] = z.dims();
    let prior = Normal::new_unchecked(z.zeros_like(), z.ones_like());
    prior.log_prob(z).sum_dim(2).reshape([k, n])
}
