//! What a checkpoint keeps of each stochastic layer beyond its burn `Param`s.

use std::collections::BTreeMap;

use burn::nn::PaddingConfig2d;
use serde::{Deserialize, Serialize};

use crate::bayesian::Mode;
use crate::error::{Error, Result};
use crate::layers::Estimator;
use crate::posterior::Prior;

/// The hyper-parameters of one stochastic layer that burn's record does not hold (it records
/// `Param` tensors only), written to `checkpoint.json` by [`save`](super::save).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerState {
    /// Path of the layer in the network, as in [`LayerStats::name`](crate::LayerStats::name)
    /// (`hidden`, `blocks.2`; empty for a model that is a single layer).
    pub path: String,
    /// The layer's kind and values.
    pub layer: LayerKind,
}

/// The kind of a stochastic layer and the values a checkpoint keeps for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LayerKind {
    /// A [`BayesLinear`](crate::layers::BayesLinear).
    BayesLinear {
        /// The weight prior (for a MOPED layer, the prior it was given).
        prior: Prior,
        /// Whether the prior is centred elementwise (a
        /// [`PriorCentre`](crate::posterior::PriorCentre), e.g. on pretrained weights). The
        /// centre's values are not saved: the model loaded into must have one too, built by the
        /// same conversion. Absent in older checkpoints: `false`.
        #[serde(default)]
        prior_centred: bool,
        /// The estimator used in [`Mode::Sample`].
        estimator: Estimator,
        /// The mode.
        mode: Mode,
    },
    /// A [`BayesConv2d`](crate::layers::BayesConv2d).
    BayesConv2d {
        /// The kernel prior.
        prior: Prior,
        /// Whether the prior is centred elementwise, as for `BayesLinear`.
        #[serde(default)]
        prior_centred: bool,
        /// The estimator used in [`Mode::Sample`].
        estimator: Estimator,
        /// The mode.
        mode: Mode,
        /// Stride (architecture: must match the model loaded into).
        stride: [usize; 2],
        /// Dilation (architecture: must match).
        dilation: [usize; 2],
        /// Padding (architecture: must match).
        padding: PaddingConfig2d,
    },
    /// An [`McDropout`](crate::layers::McDropout).
    McDropout {
        /// The drop probability.
        p: f64,
        /// The mode.
        mode: Mode,
    },
}

impl LayerKind {
    /// The layer type's name.
    pub fn name(&self) -> &'static str {
        match self {
            LayerKind::BayesLinear { .. } => "BayesLinear",
            LayerKind::BayesConv2d { .. } => "BayesConv2d",
            LayerKind::McDropout { .. } => "McDropout",
        }
    }
}

/// The [`LayerState`]s of a checkpoint being loaded, keyed by path; each layer of the model
/// takes its own out in [`Bayesian::restore_layer_states`](crate::Bayesian::restore_layer_states).
#[derive(Debug, Clone)]
pub struct LayerStates {
    source: String,
    states: BTreeMap<String, LayerKind>,
}

/// How a layer path reads in a message.
pub(crate) fn shown(path: &str) -> String {
    if path.is_empty() {
        "(the model itself)".into()
    } else {
        path.to_string()
    }
}

const FIX_ARCHITECTURE: &str = "load the checkpoint into a model built from the same config as the one that was saved";

impl LayerStates {
    /// The states of `layers`, read from the checkpoint at `source` (named in errors).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] if two layers have the same path.
    pub fn new(source: impl Into<String>, layers: Vec<LayerState>) -> Result<Self> {
        let source = source.into();
        let mut states = BTreeMap::new();
        for LayerState { path, layer } in layers {
            if states.contains_key(&path) {
                return Err(Error::Checkpoint {
                    path: source,
                    field: shown(&path),
                    problem: "two layers have this path".into(),
                    fix: "give every stochastic layer its own field (a hand-written `Bayesian` impl must pass \
                          distinct prefixes)",
                });
            }
            states.insert(path, layer);
        }
        Ok(LayerStates { source, states })
    }

    fn error(&self, path: &str, problem: String) -> Error {
        Error::Checkpoint { path: self.source.clone(), field: shown(path), problem, fix: FIX_ARCHITECTURE }
    }

    /// The error for a layer at `path` that should be a `kind` but whose entry is `found`.
    fn mismatch(&self, path: &str, kind: &'static str, found: Option<LayerKind>) -> Error {
        match found {
            Some(layer) => {
                self.error(path, format!("the checkpoint holds a {} here, the model a {kind}", layer.name()))
            }
            None => self.error(path, format!("the model has a {kind} here, the checkpoint has no layer here")),
        }
    }

    fn check_centre(&self, path: &str, saved: bool, template: bool) -> Result<()> {
        let says = |centred: bool| if centred { "centred on a PriorCentre" } else { "centred on its loc" };
        if saved == template {
            Ok(())
        } else {
            Err(self.error(path, format!("the checkpoint's prior is {}, the model's {}", says(saved), says(template))))
        }
    }

    fn check_prior(&self, path: &str, saved: Prior, template: Prior) -> Result<Prior> {
        if std::mem::discriminant(&saved) != std::mem::discriminant(&template) {
            return Err(
                self.error(path, format!("prior family differs: the checkpoint has {saved:?}, the model {template:?}"))
            );
        }
        saved.validate("checkpoint").map_err(|e| self.error(path, format!("invalid prior: {e}")))?;
        Ok(saved)
    }

    /// For a `BayesLinear` at `path` whose template has `template_prior`: the saved prior,
    /// estimator and mode.
    pub(crate) fn take_bayes_linear(
        &mut self,
        path: &str,
        template_prior: Prior,
        template_centred: bool,
    ) -> Result<(Prior, Estimator, Mode)> {
        match self.states.remove(path) {
            Some(LayerKind::BayesLinear { prior, prior_centred, estimator, mode }) => {
                self.check_centre(path, prior_centred, template_centred)?;
                Ok((self.check_prior(path, prior, template_prior)?, estimator, mode))
            }
            other => Err(self.mismatch(path, "BayesLinear", other)),
        }
    }

    /// For a `BayesConv2d` at `path`: the saved prior, estimator and mode, after checking
    /// that stride, dilation and padding are the template's.
    pub(crate) fn take_bayes_conv2d(
        &mut self,
        path: &str,
        template_prior: Prior,
        template_centred: bool,
        architecture: ([usize; 2], [usize; 2], &PaddingConfig2d),
    ) -> Result<(Prior, Estimator, Mode)> {
        match self.states.remove(path) {
            Some(LayerKind::BayesConv2d { prior, prior_centred, estimator, mode, stride, dilation, padding }) => {
                self.check_centre(path, prior_centred, template_centred)?;
                let (t_stride, t_dilation, t_padding) = architecture;
                for (what, saved, template) in [
                    ("stride", format!("{stride:?}"), format!("{t_stride:?}")),
                    ("dilation", format!("{dilation:?}"), format!("{t_dilation:?}")),
                    ("padding", format!("{padding:?}"), format!("{t_padding:?}")),
                ] {
                    if saved != template {
                        return Err(self
                            .error(path, format!("{what} differs: the checkpoint has {saved}, the model {template}")));
                    }
                }
                Ok((self.check_prior(path, prior, template_prior)?, estimator, mode))
            }
            other => Err(self.mismatch(path, "BayesConv2d", other)),
        }
    }

    /// For an `McDropout` at `path`: the saved drop probability and mode.
    pub(crate) fn take_mc_dropout(&mut self, path: &str) -> Result<(f64, Mode)> {
        match self.states.remove(path) {
            Some(LayerKind::McDropout { p, mode }) => {
                if !(0.0..1.0).contains(&p) {
                    return Err(self.error(path, format!("drop probability {p} is not in [0, 1)")));
                }
                Ok((p, mode))
            }
            other => Err(self.mismatch(path, "McDropout", other)),
        }
    }

    /// Errors if an entry was not taken: the checkpoint has a layer the model lacks.
    pub(crate) fn finish(self) -> Result<()> {
        match self.states.iter().next() {
            None => Ok(()),
            Some((path, layer)) => Err(self.error(
                path,
                format!(
                    "the checkpoint holds a {} here, the model has no stochastic layer here{}",
                    layer.name(),
                    match self.states.len() {
                        1 => String::new(),
                        n => format!(" ({} more such layers)", n - 1),
                    }
                ),
            )),
        }
    }
}
