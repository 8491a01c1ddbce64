//! [`McDropout`]: dropout that stays on at prediction time (Gal & Ghahramani 2016).
//!
//! burn's own `Dropout` is the identity unless the input lives on an autodiff device and the
//! module is in training, so it cannot sample masks at test time. `McDropout` draws its mask
//! from [`noise::bernoulli`](crate::noise::bernoulli) on every backend, in every `Module` state
//! (also after `valid()`); only [`Mode::Mean`] turns it off.
//!
//! # Shapes
//! - input: any shape, conventionally `[S, N, ...]` with the sample axis first
//! - output: the same shape; every element gets its own mask value, so the S samples get
//!   independent masks
//!
//! # Errors
//! [`McDropoutConfig::try_init`] rejects `p` outside `[0, 1)` ([`Error::InvalidParameter`]).

use burn::module::{Content, DisplaySettings, ModuleDisplay};
use burn::prelude::*;

use crate::bayesian::{join_path, Bayesian, LayerStats, Mode};
use crate::checkpoint::{LayerKind, LayerState, LayerStates};
use crate::error::{Error, Result};
use crate::noise;
use crate::ops;

/// Configuration of an [`McDropout`] layer.
#[derive(Config, Debug)]
pub struct McDropoutConfig {
    /// Probability of dropping an element, in `[0, 1)`.
    pub p: f64,
}

impl McDropoutConfig {
    /// Builds the layer after checking `p` (no device: the layer has no parameters).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `p` is not in `[0, 1)`.
    pub fn try_init(&self) -> Result<McDropout> {
        if !(0.0..1.0).contains(&self.p) {
            return Err(Error::invalid(
                "McDropoutConfig",
                "p",
                self.p,
                "in [0, 1)",
                "use a drop probability such as 0.1 (p = 1 would drop everything)",
            ));
        }
        Ok(McDropout { p: self.p, mode: Mode::Sample })
    }

    /// Builds the layer.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self) -> McDropout {
        self.try_init().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Monte-Carlo dropout: multiplies by a Bernoulli(1 - p) mask scaled by `1 / (1 - p)`, at
/// training and at prediction time. Built with [`McDropoutConfig`].
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct McDropout {
    p: f64,
    #[module(skip)]
    mode: Mode,
}

impl McDropout {
    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Returns the layer in `mode` ([`Mode::Mean`]: the identity).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Applies a fresh dropout mask (identity in [`Mode::Mean`] or for `p = 0`).
    ///
    /// # Shapes
    /// - input: `[...]`
    /// - output: `[...]` (the same)
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if self.mode == Mode::Mean || self.p == 0.0 {
            return x;
        }
        // Inverted dropout: scaling the kept units by 1/keep keeps E[output] = input, so the
        // mean network (Mode::Mean) needs no rescaling.
        // `1 / keep` in f32, as `bernoulli(..).div_scalar(keep)` computed it.
        let (threshold, scale) = noise::dropout_params(self.p);
        ops::dropout(x, noise::next_seed(), threshold, scale)
    }
}

impl ModuleDisplay for McDropout {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new().with_new_line_after_attribute(false).optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content.add("p", &self.p).add("mode", &self.mode.to_string()).optional()
    }
}

impl Bayesian for McDropout {
    /// `None`: dropout has no variational parameters with a KL term here.
    fn kl(&self) -> Option<Tensor<1>> {
        None
    }

    fn with_mode(self, mode: Mode) -> Self {
        McDropout::with_mode(self, mode)
    }

    /// Adds nothing: there is no weight posterior to summarise.
    fn collect_posterior_stats(&self, _prefix: &str, _out: &mut Vec<LayerStats>) {}

    fn collect_layer_states(&self, prefix: &str, out: &mut Vec<LayerState>) {
        out.push(LayerState {
            path: join_path(prefix, ""),
            layer: LayerKind::McDropout { p: self.p, mode: self.mode },
        });
    }

    fn restore_layer_states(self, prefix: &str, states: &mut LayerStates) -> Result<Self> {
        let (p, mode) = states.take_mc_dropout(&join_path(prefix, ""))?;
        Ok(McDropout { p, mode })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_one_is_rejected() {
        let err = McDropoutConfig::new(1.0).try_init().unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { field: "p", .. }), "{err}");
    }

    #[test]
    fn mean_mode_and_p_zero_are_identity() {
        let device = Device::flex();
        let x = Tensor::<2>::ones([3, 4], &device);
        let mean = McDropoutConfig::new(0.5).init().with_mode(Mode::Mean);
        mean.forward(x.clone()).into_data().assert_eq(&x.clone().into_data(), true);
        let zero = McDropoutConfig::new(0.0).init();
        zero.forward(x.clone()).into_data().assert_eq(&x.into_data(), true);
    }

    #[test]
    fn kl_is_none_and_no_stats() {
        let layer = McDropoutConfig::new(0.2).init();
        assert!(Bayesian::kl(&layer).is_none());
        assert!(layer.posterior_stats().is_empty());
    }
}
