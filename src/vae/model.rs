use burn::prelude::*;

use super::{LatentGaussian, Reconstruction};
use crate::error::Result;

/// An encoder–decoder pair: what [`elbo`](super::elbo) and [`iwae_bound`](super::iwae_bound) need.
pub trait Vae {
    /// Number of data dimensions `D` (e.g. 784 pixels).
    fn d_data(&self) -> usize;

    /// Number of latent dimensions `Z`.
    fn d_latent(&self) -> usize;

    /// The approximate posterior `q(z | x)`.
    ///
    /// # Shapes
    /// - `x`: `[N, D]`
    /// - output: `mean`, `log_var` `[N, Z]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the last axis is not `D` or `N = 0`.
    fn encode(&self, x: Tensor<2>) -> Result<LatentGaussian>;

    /// The likelihood `p(x | z)` for each latent sample.
    ///
    /// # Shapes
    /// - `z`: `[K, N, Z]`
    /// - output: parameters `[K, N, D]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the last axis is not `Z` or an
    /// axis is empty.
    fn decode(&self, z: Tensor<3>) -> Result<Reconstruction>;
}
