//! [`MeanField`]: one variational weight tensor, `q(w) = N(mu, softplus(rho)^2)` elementwise.
//!
//! Everything a variational layer does with its weights apart from the forward pass lives here:
//! the standard deviations, reparameterized samples, the KL against a [`Prior`], the posterior
//! statistics, and the initialisations (from a [`PosteriorInit`] or by MOPED). A layer holds one
//! `MeanField` per weight tensor (`weight`, and `bias` when it has one), so its record paths
//! read `weight.mu`, `weight.rho`, `bias.mu`, `bias.rho`.

use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param};
use burn::prelude::*;

use super::{moped, sigma_of_rho, KlEstimate, PosteriorInit, Prior};
use crate::bayesian::LayerStats;
use crate::error::{Error, Result};
use crate::noise;
use crate::ops;

/// A mean-field Normal posterior over a weight tensor of rank `D`: independent
/// `w_i ~ N(mu_i, softplus(rho_i)^2)` (Blundell et al. 2015, section 3.2), stored as two burn
/// `Param`s so optimizers, records and devices treat them as any other parameter.
///
/// ```
/// use bayesburn::posterior::{MeanField, PosteriorInit, Prior};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let weight = MeanField::from_init(&PosteriorInit::default(), [3, 2], 3, &device);
/// assert_eq!(weight.dims(), [3, 2]);
/// let samples: Tensor<3> = weight.sample(4); // [4, 3, 2]
/// assert_eq!(samples.dims(), [4, 3, 2]);
/// let kl: f32 = weight.kl(&Prior::standard_normal()).into_scalar();
/// assert!(kl > 0.0);
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct MeanField<const D: usize> {
    /// Posterior means.
    pub mu: Param<Tensor<D>>,
    /// Posterior `rho`, the unconstrained scale: `sigma = softplus(rho)` ([`sigma_of_rho`]).
    pub rho: Param<Tensor<D>>,
}

impl<const D: usize> MeanField<D> {
    /// The posterior with these means and `rho`s (of the same shape).
    pub fn new(mu: Tensor<D>, rho: Tensor<D>) -> Self {
        MeanField { mu: Param::from_tensor(mu), rho: Param::from_tensor(rho) }
    }

    /// Initial posterior of `shape`: means drawn as `init` says (`fan_in` for Kaiming
    /// initialisation), then `rho = init.rho` everywhere.
    pub fn from_init(init: &PosteriorInit, shape: [usize; D], fan_in: usize, device: &Device) -> Self {
        MeanField::new(init.init_mu(shape, fan_in, device), init.init_rho(shape, device))
    }

    /// MOPED initialisation (Krishnan et al. 2020) from trained deterministic weights `w`
    /// (detached): `mu = w`, `sigma = delta * |w|`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `delta` is not positive.
    pub fn moped(w: Tensor<D>, delta: f64) -> Result<Self> {
        let (mu, rho) = moped(w.detach(), delta)?;
        // Both detached again: `rho` is computed, and a parameter must be a leaf of the graph to
        // be tracked on an autodiff device.
        Ok(MeanField::new(mu.detach(), rho.detach()))
    }

    /// The shape of the weight tensor.
    pub fn dims(&self) -> [usize; D] {
        self.mu.dims()
    }

    /// Number of weights.
    pub fn num_elements(&self) -> usize {
        self.dims().iter().product()
    }

    /// Posterior standard deviations `softplus(rho)`, the shape of the weights.
    pub fn sigma(&self) -> Tensor<D> {
        sigma_of_rho(self.rho.val())
    }

    /// Reparameterized samples `mu + sigma * eps` for standard normal noise `eps`, one fused
    /// operation ([`ops::rsample`]).
    ///
    /// # Shapes
    /// - `eps`: `[S, ...weight shape]` (rank `D1 = D + 1`)
    /// - output: `[S, ...weight shape]`
    pub fn rsample<const D1: usize>(&self, eps: Tensor<D1>) -> Tensor<D1> {
        ops::rsample(self.mu.val(), self.rho.val(), eps)
    }

    /// `samples` independent draws from the posterior, with noise from [`noise::normal`].
    ///
    /// # Shapes
    /// - output: `[samples, ...weight shape]` (rank `D1 = D + 1`)
    ///
    /// # Panics
    /// If `D1 != D + 1` (a rank the caller wrote wrong, not a runtime value).
    pub fn sample<const D1: usize>(&self, samples: usize) -> Tensor<D1> {
        let eps = noise::normal(self.sample_shape(samples), &self.mu.device());
        self.rsample(eps)
    }

    /// `sigma * eps` for `samples` draws of standard normal noise: the zero-mean perturbation
    /// of Flipout (Wen et al. 2018), one fused operation ([`ops::scaled_noise`]).
    ///
    /// # Shapes
    /// - output: `[samples, ...weight shape]` (rank `D1 = D + 1`)
    ///
    /// # Panics
    /// If `D1 != D + 1`.
    pub fn perturbation<const D1: usize>(&self, samples: usize) -> Tensor<D1> {
        let eps = noise::normal(self.sample_shape(samples), &self.rho.device());
        ops::scaled_noise(self.rho.val(), eps)
    }

    /// `KL(q || prior)` summed over all weights, shape `[1]`: closed form for a Normal prior
    /// (one fused operation), a one-sample Monte-Carlo estimate for the scale mixture
    /// ([`Prior::kl_rho`]).
    pub fn kl(&self, prior: &Prior) -> Tensor<1> {
        prior.kl_rho(self.mu.val(), self.rho.val())
    }

    /// [`kl`](Self::kl) against a prior centred on the elementwise `loc` (MOPED's pretrained
    /// weights) when it is given: closed form for a Normal prior, one Monte-Carlo draw otherwise
    /// ([`Prior::kl`]).
    pub fn kl_about(&self, prior: &Prior, loc: Option<Tensor<D>>) -> Tensor<1> {
        match loc {
            None => self.kl(prior),
            Some(loc) => prior.kl(self.mu.val(), self.sigma(), Some(loc)),
        }
    }

    /// The KL against `prior` (centred on `loc` when given) averaged over `samples` draws, with
    /// the variance of one draw ([`Prior::kl_estimate`]; exact for a Normal prior).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `samples < 2`.
    pub fn kl_estimate(&self, prior: &Prior, loc: Option<Tensor<D>>, samples: usize) -> Result<KlEstimate> {
        prior.kl_estimate(self.mu.val(), self.sigma(), loc, samples)
    }

    /// `[samples, ...weight shape]`.
    fn sample_shape<const D1: usize>(&self, samples: usize) -> [usize; D1] {
        assert_eq!(D1, D + 1, "MeanField<{D}>: samples have rank {}, not {D1}", D + 1);
        let mut shape = [samples; D1];
        shape[1..].copy_from_slice(&self.dims());
        shape
    }
}

impl<const D: usize> ModuleDisplay for MeanField<D> {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new().with_new_line_after_attribute(false).optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content.add("shape", &format!("{:?}", self.dims())).optional()
    }
}

/// An elementwise prior centre for a layer's weights and bias, in place of the prior's scalar
/// `loc`: the data-dependent prior of MOPED's empirical Bayes (Krishnan et al. 2020), centred
/// on the pretrained weights the posterior starts from.
///
/// The tensors are constants of the module (not `Param`s): no gradient, no optimizer state, not
/// in burn's record. A checkpoint loaded into a template built by the same call (e.g.
/// [`ToBayesian::to_bayesian`](crate::convert::ToBayesian::to_bayesian) of the same pretrained
/// network) keeps the template's centre.
#[derive(Module, Debug)]
pub struct PriorCentre<const D: usize> {
    /// Centre of the weights' prior, the shape of the weights.
    pub weight: Tensor<D>,
    /// Centre of the bias's prior, the shape of the bias (`None` for a layer without bias).
    pub bias: Option<Tensor<1>>,
}

impl<const D: usize> PriorCentre<D> {
    /// The centre `weight`, `bias` (detached) of a layer whose posteriors are `posterior` and
    /// `posterior_bias`; `context` names the caller in the error.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if `weight` is not the shape of the
    /// weights, or `bias` is given for a layer without bias (or missing for one with), or not the
    /// shape of the bias.
    pub fn for_layer(
        context: &'static str,
        posterior: &MeanField<D>,
        posterior_bias: Option<&MeanField<1>>,
        weight: Tensor<D>,
        bias: Option<Tensor<1>>,
    ) -> Result<Self> {
        let dims = posterior.dims();
        if weight.dims() != dims {
            return Err(Error::shape(
                context,
                "weight",
                format!("{dims:?}"),
                &weight.dims(),
                "pass a centre of the weights' shape, e.g. the pretrained weights",
            ));
        }
        let problem = match (posterior_bias, &bias) {
            (Some(b), Some(centre)) if centre.dims() != b.dims() => Some((
                format!("{:?}", b.dims()),
                centre.dims().to_vec(),
                "pass a centre of the bias's shape, e.g. the pretrained bias",
            )),
            (Some(b), None) => {
                Some((format!("{:?}", b.dims()), Vec::new(), "the layer has a bias: pass its centre too"))
            }
            (None, Some(centre)) => Some((
                "none (the layer has no bias)".to_string(),
                centre.dims().to_vec(),
                "pass None for a layer without bias",
            )),
            _ => None,
        };
        if let Some((expected, got, fix)) = problem {
            return Err(Error::shape(context, "bias", expected, &got, fix));
        }
        Ok(PriorCentre { weight: weight.detach(), bias: bias.map(Tensor::detach) })
    }
}

/// `KL(q || prior)` of a layer: its weights and, when it has one, its bias, against the prior
/// centred on `centre` when it is given.
pub(crate) fn layer_kl<const D: usize>(
    prior: &Prior,
    weight: &MeanField<D>,
    bias: Option<&MeanField<1>>,
    centre: Option<&PriorCentre<D>>,
) -> Tensor<1> {
    let kl = weight.kl_about(prior, centre.map(|c| c.weight.clone()));
    match bias {
        Some(bias) => kl + bias.kl_about(prior, centre.and_then(|c| c.bias.clone())),
        None => kl,
    }
}

/// [`layer_kl`] averaged over `samples` draws with the variance of one
/// ([`MeanField::kl_estimate`]).
pub(crate) fn layer_kl_estimate<const D: usize>(
    prior: &Prior,
    weight: &MeanField<D>,
    bias: Option<&MeanField<1>>,
    centre: Option<&PriorCentre<D>>,
    samples: usize,
) -> Result<KlEstimate> {
    let kl = weight.kl_estimate(prior, centre.map(|c| c.weight.clone()), samples)?;
    match bias {
        Some(bias) => Ok(kl + bias.kl_estimate(prior, centre.and_then(|c| c.bias.clone()), samples)?),
        None => Ok(kl),
    }
}

/// The [`LayerStats`] of the layer called `name`, over its weights and bias together.
pub(crate) fn layer_stats<const D: usize>(
    name: String,
    prior: &Prior,
    weight: &MeanField<D>,
    bias: Option<&MeanField<1>>,
    centre: Option<&PriorCentre<D>>,
) -> LayerStats {
    let mut acc = StatsAccumulator::default();
    acc.add(prior, weight.mu.val(), weight.sigma(), centre.map(|c| c.weight.clone()));
    if let Some(bias) = bias {
        acc.add(prior, bias.mu.val(), bias.sigma(), centre.and_then(|c| c.bias.clone()));
    }
    acc.finish(name)
}

/// Running sums behind one [`LayerStats`], accumulated over a layer's weight tensors.
#[derive(Debug, Default)]
struct StatsAccumulator {
    n_weights: usize,
    snr_sum: f64,
    sigma_sum: f64,
    at_prior_sum: f64,
    kl: f64,
}

impl StatsAccumulator {
    /// Adds the elements of one variational tensor `N(mu, sigma^2)` under `prior`.
    fn add<const D: usize>(&mut self, prior: &Prior, mu: Tensor<D>, sigma: Tensor<D>, centre: Option<Tensor<D>>) {
        self.n_weights += mu.shape().num_elements();
        self.snr_sum += scalar((mu.clone().abs() / sigma.clone()).sum());
        self.sigma_sum += scalar(sigma.clone().sum());
        self.at_prior_sum += scalar(prior.at_prior_mask(mu.clone(), sigma.clone(), centre.clone()).sum());
        self.kl += scalar(prior.kl(mu, sigma, centre));
    }

    /// The finished statistics of the layer called `name`.
    fn finish(self, name: String) -> LayerStats {
        let n = self.n_weights.max(1) as f64;
        LayerStats {
            name,
            n_weights: self.n_weights,
            mean_snr: self.snr_sum / n,
            mean_sigma: self.sigma_sum / n,
            prior_share: self.at_prior_sum / n,
            kl: self.kl,
        }
    }
}

/// Reads a one-element tensor back as `f64`.
fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_paths_are_mu_and_rho() {
        let device = Device::flex();
        let weight = MeanField::from_init(&PosteriorInit::default(), [2, 3], 2, &device);
        let mut names = Vec::new();
        struct Names<'a>(&'a mut Vec<String>, Vec<String>);
        impl burn::module::ModuleVisitor for Names<'_> {
            fn enter_module(&mut self, name: &str, _: &str) {
                self.1.push(name.to_string());
            }
            fn exit_module(&mut self, _: &str, _: &str) {
                self.1.pop();
            }
            fn visit_float<const D: usize>(&mut self, _: &Param<Tensor<D>>) {
                self.0.push(self.1.join("."));
            }
        }
        weight.visit(&mut Names(&mut names, Vec::new()));
        assert_eq!(names, ["mu", "rho"]);
    }

    #[test]
    fn sample_shape_puts_the_samples_first() {
        let device = Device::flex();
        let weight = MeanField::from_init(&PosteriorInit::default(), [2, 3, 4], 2, &device);
        assert_eq!(weight.sample_shape::<4>(5), [5, 2, 3, 4]);
        assert_eq!(weight.num_elements(), 24);
    }

    #[test]
    #[should_panic(expected = "samples have rank 3, not 4")]
    fn sample_of_the_wrong_rank_panics() {
        let device = Device::flex();
        let weight = MeanField::from_init(&PosteriorInit::default(), [2, 3], 2, &device);
        let _: Tensor<4> = weight.sample(1);
    }

    #[test]
    fn display_shows_the_shape() {
        let device = Device::flex();
        let weight = MeanField::from_init(&PosteriorInit::default(), [2, 3], 2, &device);
        assert!(format!("{weight}").starts_with("MeanField {shape: [2, 3]"), "{weight}");
    }
}
