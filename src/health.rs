//! Posterior health during training: why a Bayesian network does not learn, said once, with
//! the fix.
//!
//! [`train::fit`](crate::train::fit) feeds a [`HealthMonitor`] the mean ELBO terms of every
//! epoch, and [`train::fit_bayesian`](crate::train::fit_bayesian) also the per-layer
//! [`LayerStats`] from [`Bayesian::posterior_stats`](crate::Bayesian::posterior_stats). Three
//! failures are caught, each reported at most once per run:
//!
//! | warning | condition (checked at the end of each epoch) | usual cause |
//! | --- | --- | --- |
//! | [`HealthWarning::SigmaUnderflow`] | a layer's mean posterior sd `< 1e-4` | `rho` initialised far too low (e.g. −12): the weights are deterministic and the KL gradient moves `rho` only by the learning rate per step |
//! | [`HealthWarning::KlDominates`] | after the first epoch, `β·KL > 100 × |NLL of the first epoch|` | the KL is mis-weighted (`Elbo` built with the batch size instead of the dataset size, or β far above 1), or far more weights than the data can inform |
//! | [`HealthWarning::LossStalled`] | the epoch-mean loss is not below the first epoch's, from epoch `max(3, epochs / 10)` on | a learning rate far too large (the optimizer overshoots) or far too small |
//!
//! The thresholds are wide on purpose. A healthy small-data BNN often has a weighted KL 10 to 20
//! times its first-epoch NLL (the KL of thousands of weights against a few hundred points), and
//! once the data are fit its NLL can sit near zero (a Gaussian NLL with learnt variances is
//! negative where the fit is good), so the KL is compared with the data term the run started
//! from, not with the current one.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bayesian::LayerStats;

/// Mean posterior sd below which a layer is reported as [`HealthWarning::SigmaUnderflow`].
pub const SIGMA_UNDERFLOW: f64 = 1e-4;
/// Ratio of the weighted KL to the first epoch's `|NLL|` above which
/// [`HealthWarning::KlDominates`] is reported.
pub const KL_RATIO_LIMIT: f64 = 100.0;

/// A problem [`HealthMonitor`] found, with the numbers that show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HealthWarning {
    /// The posterior sd of a layer has (nearly) vanished: the layer is deterministic.
    SigmaUnderflow {
        /// Path of the layer in the network.
        layer: String,
        /// Its mean posterior sd.
        mean_sigma: f64,
        /// Epoch (0-based) at whose end it was seen.
        epoch: usize,
    },
    /// The KL term outweighs the data term.
    KlDominates {
        /// `β·KL / |NLL of the first epoch|` over the epoch.
        ratio: f64,
        /// Epoch (0-based) at whose end it was seen.
        epoch: usize,
    },
    /// The loss has not fallen below its first-epoch value.
    LossStalled {
        /// Mean loss of the first epoch.
        first: f64,
        /// Mean loss of this epoch.
        latest: f64,
        /// Epoch (0-based) at whose end it was seen.
        epoch: usize,
    },
}

impl HealthWarning {
    /// What to do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            HealthWarning::SigmaUnderflow { .. } => {
                "initialise rho near -5 (PosteriorInit::default(), sigma = softplus(rho) ~ 0.007) or use MOPED; \
                 a rho of -12 or lower leaves the weights deterministic for thousands of steps"
            }
            HealthWarning::KlDominates { .. } => {
                "check that Elbo::new got the training-set size N (not the batch size), lower the KL weight \
                 (KlSchedule::Constant(beta < 1) or a warm-up), or make fewer weights Bayesian"
            }
            HealthWarning::LossStalled { .. } => {
                "the optimizer is not making progress: try a learning rate 10x smaller (1e-3 to 1e-2 suits Adam \
                 on most models); if it is already small, try 10x larger"
            }
        }
    }
}

impl fmt::Display for HealthWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealthWarning::SigmaUnderflow { layer, mean_sigma, epoch } => write!(
                f,
                "posterior sd of layer `{layer}` underflows: mean sigma {mean_sigma:.2e} < {SIGMA_UNDERFLOW:e} \
                 after epoch {epoch}"
            )?,
            HealthWarning::KlDominates { ratio, epoch } => write!(
                f,
                "the weighted KL is {ratio:.0} times the first epoch's NLL after epoch {epoch} (limit \
                 {KL_RATIO_LIMIT:.0}): the prior swamps the data"
            )?,
            HealthWarning::LossStalled { first, latest, epoch } => {
                write!(f, "the loss stalls: mean {latest:.4e} in epoch {epoch}, not below {first:.4e} in epoch 0")?
            }
        }
        write!(f, "; fix: {}", self.fix())
    }
}

/// Watches the epochs of one training run and reports each kind of [`HealthWarning`] once.
/// Serializable, so a resumed run (see [`TrainState`](crate::train::TrainState)) keeps what it
/// has seen and warned about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthMonitor {
    epochs: usize,
    first_loss: Option<f64>,
    first_nll: Option<f64>,
    warned: [bool; 3],
    warnings: Vec<HealthWarning>,
    kl_share: Option<f64>,
    mean_snr: Option<f64>,
    prior_share: Option<f64>,
}

impl HealthMonitor {
    /// A monitor for a run of `epochs` epochs.
    pub fn new(epochs: usize) -> Self {
        HealthMonitor {
            epochs,
            first_loss: None,
            first_nll: None,
            warned: [false; 3],
            warnings: Vec::new(),
            kl_share: None,
            mean_snr: None,
            prior_share: None,
        }
    }

    /// Checks the end of epoch `epoch` from its mean `loss`, `nll`, `kl`, its KL weight `beta`,
    /// and the layer statistics when the model is Bayesian. Returns the warnings that are new.
    pub fn end_epoch(
        &mut self,
        epoch: usize,
        [loss, nll, kl]: [f64; 3],
        beta: f64,
        layers: Option<&[LayerStats]>,
    ) -> Vec<HealthWarning> {
        let mut new = Vec::new();
        let first = *self.first_loss.get_or_insert(loss);
        let first_nll = *self.first_nll.get_or_insert(nll);
        let weighted_kl = beta * kl;
        let share = if weighted_kl + nll.abs() > 0.0 { weighted_kl / (weighted_kl + nll.abs()) } else { 0.0 };
        self.kl_share = Some(share);
        if let Some(layers) = layers {
            let total: usize = layers.iter().map(|l| l.n_weights).sum();
            if total > 0 {
                let snr = layers.iter().map(|l| l.mean_snr * l.n_weights as f64).sum::<f64>() / total as f64;
                self.mean_snr = Some(snr);
                let at_prior = layers.iter().map(|l| l.prior_share * l.n_weights as f64).sum::<f64>();
                self.prior_share = Some(at_prior / total as f64);
            }
            if let Some(l) = layers.iter().find(|l| l.n_weights > 0 && l.mean_sigma < SIGMA_UNDERFLOW) {
                new.push((0, HealthWarning::SigmaUnderflow { layer: l.name.clone(), mean_sigma: l.mean_sigma, epoch }));
            }
        }
        let ratio = weighted_kl / first_nll.abs().max(f64::MIN_POSITIVE);
        if epoch >= 1 && ratio > KL_RATIO_LIMIT {
            new.push((1, HealthWarning::KlDominates { ratio, epoch }));
        }
        if epoch >= (self.epochs / 10).max(3) && loss >= first {
            new.push((2, HealthWarning::LossStalled { first, latest: loss, epoch }));
        }
        let mut fresh = Vec::new();
        for (kind, warning) in new {
            if !self.warned[kind] {
                self.warned[kind] = true;
                self.warnings.push(warning.clone());
                fresh.push(warning);
            }
        }
        fresh
    }

    /// The short health figures for a progress line: the KL's share of this epoch's loss terms
    /// (`β·KL / (β·KL + |NLL|)`), and for a Bayesian model the mean signal-to-noise ratio
    /// `|mu| / sigma` and the share of weights collapsed to the prior, e.g. `kl 35% snr 4.10
    /// prior 12%`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(share) = self.kl_share {
            parts.push(format!("kl {:.0}%", 100.0 * share));
        }
        if let Some(snr) = self.mean_snr {
            parts.push(format!("snr {snr:.2}"));
        }
        if let Some(share) = self.prior_share {
            parts.push(format!("prior {:.0}%", 100.0 * share));
        }
        parts.join(" ")
    }

    /// Every warning reported so far, in order.
    pub fn warnings(&self) -> &[HealthWarning] {
        &self.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(mean_sigma: f64) -> LayerStats {
        LayerStats { name: "hidden".into(), n_weights: 10, mean_snr: 2.0, prior_share: 0.1, kl: 1.0, mean_sigma }
    }

    #[test]
    fn each_warning_is_reported_once() {
        let mut m = HealthMonitor::new(10);
        assert!(m.end_epoch(0, [100.0, 10.0, 90.0], 1.0, Some(&[layer(1e-5)])).len() == 1);
        assert!(m.end_epoch(1, [100.0, 10.0, 90.0], 1.0, Some(&[layer(1e-5)])).is_empty());
        let kl = m.end_epoch(2, [2000.0, 1.0, 1999.0], 1.0, None);
        assert!(matches!(kl[..], [HealthWarning::KlDominates { epoch: 2, .. }]), "{kl:?}");
        let stall = m.end_epoch(3, [1000.0, 1.0, 0.0], 1.0, None);
        assert!(matches!(stall[..], [HealthWarning::LossStalled { epoch: 3, .. }]), "{stall:?}");
        assert_eq!(m.warnings().len(), 3);
    }

    #[test]
    fn a_healthy_run_is_quiet() {
        let mut m = HealthMonitor::new(20);
        for epoch in 0..20 {
            let nll = 100.0 / (1.0 + epoch as f64);
            let fresh = m.end_epoch(epoch, [nll + 50.0, nll, 50.0], 1.0, Some(&[layer(0.05)]));
            assert!(fresh.is_empty(), "epoch {epoch}: {fresh:?}");
        }
        // Last epoch: NLL 5, KL 50 (share 50 / 55); every weight has SNR 2, 10 % at the prior.
        assert_eq!(m.summary(), "kl 91% snr 2.00 prior 10%");
    }

    #[test]
    fn the_first_epoch_is_exempt_from_the_kl_check() {
        // At initialisation the KL of thousands of weights often dwarfs the data term.
        let mut m = HealthMonitor::new(10);
        assert!(m.end_epoch(0, [1000.0, 1.0, 999.0], 1.0, None).is_empty());
    }
}
