//! The [`Bayesian`] trait, [`Mode`] and [`LayerStats`].

use burn::prelude::*;

use crate::checkpoint::{LayerState, LayerStates};
use crate::error::Result;

/// How a stochastic module behaves on the next forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Fresh noise on every call: a new weight sample (Bayes-by-backprop, Flipout, local
    /// reparameterization) or a new dropout mask (MC dropout).
    #[default]
    Sample,
    /// The posterior mean: deterministic weights, dropout off.
    Mean,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Sample => "sample",
            Mode::Mean => "mean",
        })
    }
}

/// Summary of one layer's variational posterior, from [`Bayesian::posterior_stats`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerStats {
    /// Path of the layer in the network, e.g. `hidden` or `blocks.2.conv`.
    pub name: String,
    /// Number of variational weights (weights and biases).
    pub n_weights: usize,
    /// Mean over weights of the signal-to-noise ratio `|mu| / sigma`.
    pub mean_snr: f64,
    /// Mean over weights of the posterior standard deviation `sigma`.
    pub mean_sigma: f64,
    /// Share of weights whose posterior is within 5 % of the prior (both the mean within
    /// 5 % of the prior scale from the prior mean and sigma within 5 % of the prior scale):
    /// weights the data did not move, "collapsed to the prior".
    pub prior_share: f64,
    /// KL divergence of this layer's posterior from its prior (exact sum over weights; a
    /// one-sample Monte-Carlo estimate for priors without a closed form).
    pub kl: f64,
}

/// A module whose weights (some of them) are distributions.
///
/// Implemented by the variational layers ([`BayesLinear`](crate::layers::BayesLinear),
/// [`BayesConv2d`](crate::layers::BayesConv2d), [`McDropout`](crate::layers::McDropout), the
/// heads), by burn's deterministic modules and primitives (zero KL, `with_mode` a no-op: see
/// [`deterministic!`](crate::deterministic)), by `Vec`, `Option`, arrays and tuples of
/// implementors, and by any struct that derives it. Every field of a derived struct takes
/// part unless it is marked `#[bayesian(skip)]`:
///
/// ```ignore
/// #[derive(Module, Bayesian, Debug)]
/// pub struct Regressor {
///     hidden: BayesLinear,
///     out: BayesLinear,
///     activation: Relu,
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Bayesian module, so `#[derive(Bayesian)]` cannot account for this field",
    label = "this field takes part in the KL term and `with_mode` unless it is marked `#[bayesian(skip)]`",
    note = "either mark the field `#[bayesian(skip)]` (its KL and mode are then ignored), or implement `bayesburn::Bayesian` for its type: `#[derive(Bayesian)]` on a struct of Bayesian fields, or `bayesburn::deterministic!(Type);` for a module without variational weights"
)]
pub trait Bayesian: Sized {
    /// KL divergence of the variational posterior from the prior, summed exactly over every
    /// variational parameter (never a mean), shape `[1]`. `None` when the module has no
    /// variational weights (e.g. only MC dropout).
    fn kl(&self) -> Option<Tensor<1>>;

    /// Returns the module with every stochastic part switched to `mode`.
    fn with_mode(self, mode: Mode) -> Self;

    /// Appends one [`LayerStats`] per variational layer, names prefixed with `prefix`.
    fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>);

    /// One [`LayerStats`] per variational layer.
    fn posterior_stats(&self) -> Vec<LayerStats> {
        let mut out = Vec::new();
        self.collect_posterior_stats("", &mut out);
        out
    }

    /// Appends what a [checkpoint](crate::checkpoint) must keep that burn's record does not
    /// hold (prior, estimator, mode, ...): one [`LayerState`] per stochastic layer, paths
    /// prefixed with `prefix`. The layers and `#[derive(Bayesian)]` implement it; the default adds
    /// nothing, which is right only for a module whose whole state is in burn `Param`s.
    fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
        let _ = (prefix, out);
    }

    /// Puts back what [`collect_layer_states`](Self::collect_layer_states) wrote: each layer
    /// takes its entry (same path) out of `states`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`](crate::Error::Checkpoint) naming the layer if its entry is missing,
    /// belongs to another kind of layer, has another prior family or another architecture
    /// (convolution stride, dilation, padding), or holds invalid values.
    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        let _ = (prefix, states);
        Ok(self)
    }
}

/// Joins a path prefix and a field name with a dot.
pub fn join_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else if name.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Adds two optional KL terms.
pub fn add_kl(a: Option<Tensor<1>>, b: Option<Tensor<1>>) -> Option<Tensor<1>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, None) => a,
        (None, b) => b,
    }
}
