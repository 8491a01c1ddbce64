//! Losses for heteroscedastic heads: the network's predicted noise enters the likelihood.
//! This module holds what both losses share; each loss has its own file.
//!
//! - [`GaussianNllLoss`]: the Gaussian negative log-likelihood with a predicted variance
//!   (Nix & Weigend 1994; Kendall & Gal 2017 eq. 8 up to the `log var` parameterisation), and
//!   its β-NLL variant (Seitzer et al. 2022), which re-weights each term by
//!   `stop_gradient(var^β)` so badly fit points are not ignored by inflating their variance.
//! - [`KendallGalLoss`]: the heteroscedastic classification loss of Kendall & Gal (2017, §3.2,
//!   eq. 12), Gaussian noise on the logits marginalised by Monte Carlo; or, as a named option,
//!   the form of Kyle Dorman's Keras blog post.
//!
//! Both return **per-example** losses `[S, N]` (summed over output dimensions), which is what
//! [`Elbo::loss`](crate::objective::Elbo::loss) takes:
//!
//! ```ignore
//! let out = head.forward(features);                                   // [S, B, D] each
//! let nll = GaussianNllLossConfig::new().init().forward_no_reduction(out.mean, out.var, y);
//! let terms = elbo.loss(nll, model.kl(), step)?;                      // nll: [S, B]
//! ```

use burn::nn::loss::Reduction;
use burn::prelude::*;

use crate::error::{Error, Result};

pub(super) fn reduce(loss: Tensor<2>, reduction: Reduction) -> Tensor<1> {
    match reduction {
        // Per-example losses are already summed over output dimensions, so "batch mean" and
        // "mean" agree: both average over the S samples and N examples.
        Reduction::Mean | Reduction::Auto | Reduction::BatchMean => loss.mean(),
        Reduction::Sum => loss.sum(),
    }
}

/// Checks `[S, N, ...]` with `S, N` and the last axis `>= 1`.
pub(super) fn check_nonempty(context: &'static str, field: &'static str, dims: [usize; 3]) -> Result<()> {
    if dims.contains(&0) {
        return Err(Error::shape(
            context,
            field,
            "[S, N, D] with S, N, D >= 1",
            &dims,
            "pass at least one sample, one example (an empty batch has no loss) and one output",
        ));
    }
    Ok(())
}
