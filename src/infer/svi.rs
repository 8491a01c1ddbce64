//! Stochastic variational inference: ELBO estimators and the [`Svi`] loop.

use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use super::guide::{scalar, Guide, GuideDraw};
use crate::distributions::Family;
use crate::distributions::{kl, LogNormal, Normal};
use crate::error::{check_nonzero, Error, Result};
use crate::ppl::ctx::{Ctx, Model};
use crate::ppl::handlers::substitute;
use crate::ppl::params::ParamStore;
use crate::ppl::trace::{sum_terms, Trace};

/// One estimate of the ELBO's terms, averaged over particles (each `[1]`, differentiable).
#[derive(Debug, Clone)]
pub struct ElboEstimate {
    /// `-ELBO`, the loss to minimise.
    pub loss: Tensor<1>,
    /// Expected log-likelihood of the observed sites (with plate scales).
    pub log_likelihood: Tensor<1>,
    /// `KL(q || prior)`: closed form where available, else Monte Carlo.
    pub kl: Tensor<1>,
}

/// An estimator of the evidence lower bound `E_q[log p(x, z) - log q(z)]`.
pub trait ElboObjective {
    /// The estimate for `model` and `guide`, with the model's `param!` sites read from `params`.
    ///
    /// # Errors
    /// Whatever the model or guide fails with; [`Error::Model`] if a latent site of the model
    /// has no value in the guide's draw.
    fn estimate<M: Model, G: Guide>(&self, model: &M, guide: &G, params: &ParamStore) -> Result<ElboEstimate>;
}

/// The model's trace on one guide draw.
fn model_on(model: &impl Model, draw: &GuideDraw, params: &ParamStore) -> Result<Trace> {
    let mut ctx = Ctx::with_params(params.clone());
    substitute(|c: &mut Ctx| model.run(c), draw.values.clone()).run(&mut ctx)?;
    let trace = ctx.into_trace();
    if let Some(missing) = trace.latent_sites().find(|s| !draw.values.contains_key(&s.name)) {
        return Err(Error::Model {
            site: missing.name.clone(),
            problem: "is a latent site of the model that the guide does not sample".to_string(),
            fix: "give the guide a sample! site of the same name (auto guides: build them from this model)",
        });
    }
    Ok(trace)
}

fn log_likelihood(trace: &Trace, device: &Device) -> Tensor<1> {
    sum_terms(trace.observed_sites().filter_map(|s| s.scaled_log_prob_sum()))
        .unwrap_or_else(|| Tensor::zeros([1], device))
}

fn average(terms: Vec<(Tensor<1>, Tensor<1>)>) -> ElboEstimate {
    let k = terms.len() as f64;
    let (ll, kl): (Vec<_>, Vec<_>) = terms.into_iter().unzip();
    let ll = sum_terms(ll.into_iter()).expect("particles >= 1").div_scalar(k);
    let kl = sum_terms(kl.into_iter()).expect("particles >= 1").div_scalar(k);
    ElboEstimate { loss: kl.clone() - ll.clone(), log_likelihood: ll, kl }
}

/// The Monte-Carlo ELBO with reparameterized draws (Pyro's `Trace_ELBO`), averaged over
/// `particles` independent guide draws.
#[derive(Debug, Clone, Copy)]
pub struct TraceElbo {
    particles: usize,
}

impl TraceElbo {
    /// An estimator with `particles` draws per step.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `particles` is 0.
    pub fn new(particles: usize) -> Result<Self> {
        check_nonzero("TraceElbo", "particles", particles, "use at least one particle")?;
        Ok(Self { particles })
    }
}

impl ElboObjective for TraceElbo {
    fn estimate<M: Model, G: Guide>(&self, model: &M, guide: &G, params: &ParamStore) -> Result<ElboEstimate> {
        let mut terms = Vec::with_capacity(self.particles);
        for _ in 0..self.particles {
            let draw = guide.draw()?;
            let trace = model_on(model, &draw, params)?;
            let device = draw.log_q.device();
            let log_prior =
                sum_terms(trace.latent_sites().filter_map(|s| s.scaled_log_prob_sum())).expect("latent sites");
            terms.push((log_likelihood(&trace, &device), draw.log_q.clone() - log_prior));
        }
        Ok(average(terms))
    }
}

/// The ELBO with the KL term in closed form per site where the guide's and the prior's
/// families allow it (Normal–Normal, LogNormal–LogNormal, via [`crate::distributions::kl`]) and a
/// Monte-Carlo term elsewhere (Pyro's `TraceMeanField_ELBO`). Needs a guide that factorises
/// over sites ([`AutoNormal`](super::AutoNormal), [`AutoDelta`](super::AutoDelta), a
/// [`ModelGuide`](super::ModelGuide)); with a dependent prior the KL is taken given the
/// parents drawn from the guide.
#[derive(Debug, Clone, Copy)]
pub struct TraceMeanFieldElbo {
    particles: usize,
}

impl TraceMeanFieldElbo {
    /// An estimator with `particles` draws per step.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `particles` is 0.
    pub fn new(particles: usize) -> Result<Self> {
        check_nonzero("TraceMeanFieldElbo", "particles", particles, "use at least one particle")?;
        Ok(Self { particles })
    }
}

fn closed_form_kl(q: &Family, p: &Family) -> Option<Tensor<1>> {
    match (q, p) {
        (Family::Normal { loc: lq, scale: sq }, Family::Normal { loc: lp, scale: sp }) => Some(
            kl(&Normal::new_unchecked(lq.clone(), sq.clone()), &Normal::new_unchecked(lp.clone(), sp.clone())).sum(),
        ),
        (Family::LogNormal { loc: lq, scale: sq }, Family::LogNormal { loc: lp, scale: sp }) => Some(
            kl(&LogNormal::new_unchecked(lq.clone(), sq.clone()), &LogNormal::new_unchecked(lp.clone(), sp.clone()))
                .sum(),
        ),
        _ => None,
    }
}

impl ElboObjective for TraceMeanFieldElbo {
    fn estimate<M: Model, G: Guide>(&self, model: &M, guide: &G, params: &ParamStore) -> Result<ElboEstimate> {
        let mut terms = Vec::with_capacity(self.particles);
        for _ in 0..self.particles {
            let draw = guide.draw()?;
            let sites = draw.sites.as_ref().ok_or_else(|| Error::Model {
                site: String::new(),
                problem: "(guide): TraceMeanFieldElbo needs a guide that factorises over sites".to_string(),
                fix: "use TraceElbo with AutoMultivariateNormal",
            })?;
            let trace = model_on(model, &draw, params)?;
            let device = draw.log_q.device();
            let mut kl_terms = Vec::new();
            for s in trace.latent_sites() {
                let (log_q, q_family) = &sites[&s.name];
                let p_family = s.dist.as_ref().map(|d| d.family()).unwrap_or(Family::Other);
                let term = match closed_form_kl(q_family, &p_family) {
                    Some(k) => k,
                    None => log_q.clone() - s.log_prob.clone().expect("sample site").sum(),
                };
                kl_terms.push(if s.scale == 1.0 { term } else { term.mul_scalar(s.scale) });
            }
            let kl = sum_terms(kl_terms.into_iter()).expect("latent sites");
            terms.push((log_likelihood(&trace, &device), kl));
        }
        Ok(average(terms))
    }
}

/// The terms of one SVI step, read back to the host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SviStep {
    /// `-ELBO` estimate.
    pub loss: f64,
    /// Expected log-likelihood estimate.
    pub log_likelihood: f64,
    /// KL estimate.
    pub kl: f64,
}

/// Stochastic variational inference: fits `guide` to the posterior of `model` by following
/// the gradient of an [`ElboObjective`] with a burn optimizer. The model's own `param!` sites
/// (if any) are trained too, by the same optimizer.
pub struct Svi<M, G, E> {
    model: M,
    guide: G,
    elbo: E,
    optim: ModuleOptimizer,
    params: ParamStore,
    steps: usize,
}

impl<M, G: std::fmt::Debug, E: std::fmt::Debug> std::fmt::Debug for Svi<M, G, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Svi")
            .field("guide", &self.guide)
            .field("elbo", &self.elbo)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

impl<M: Model, G: Guide, E: ElboObjective> Svi<M, G, E> {
    /// SVI on `model` with `guide`, `elbo` and `optim` (e.g. `AdamConfig::new().init()`).
    ///
    /// # Errors
    /// Whatever a first run of the model fails with (it creates the model's parameters).
    pub fn new(model: M, guide: G, elbo: E, optim: impl Into<ModuleOptimizer>) -> Result<Self> {
        // Improper sites start anywhere: this run only creates the model's parameters.
        let mut ctx = Ctx::new().with_improper_init();
        model.run(&mut ctx)?;
        let (_, params) = ctx.into_parts();
        Ok(Self { model, guide, elbo, optim: optim.into(), params, steps: 0 })
    }

    /// One gradient step with learning rate `lr`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the step and the term (`log_likelihood`, `kl` or `loss`)
    /// if the estimate is NaN or infinite (the guide is left unchanged); whatever the model
    /// or guide fails with.
    pub fn step(&mut self, lr: f64) -> Result<SviStep> {
        let est = self.elbo.estimate(&self.model, &self.guide, &self.params)?;
        let out = self.check(&est)?;
        let mut grads = est.loss.backward();
        self.guide = self.guide.clone().step(&mut self.optim, lr, &mut grads);
        self.params = std::mem::take(&mut self.params).step(&mut self.optim, lr, &mut grads);
        self.steps += 1;
        Ok(out)
    }

    fn check(&self, est: &ElboEstimate) -> Result<SviStep> {
        let out = SviStep {
            loss: scalar(est.loss.clone()),
            log_likelihood: scalar(est.log_likelihood.clone()),
            kl: scalar(est.kl.clone()),
        };
        for (term, value) in [("log_likelihood", out.log_likelihood), ("kl", out.kl), ("loss", out.loss)] {
            if !value.is_finite() {
                return Err(Error::NonFinite { step: self.steps, term, value });
            }
        }
        Ok(out)
    }

    /// An estimate of the terms without a step (detached).
    ///
    /// # Errors
    /// As [`Svi::step`].
    pub fn evaluate(&self) -> Result<SviStep> {
        let est = self.elbo.estimate(&self.model, &self.guide, &self.params)?;
        self.check(&est)
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The guide as fitted so far.
    pub fn guide(&self) -> &G {
        &self.guide
    }

    /// The model's parameters.
    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    /// The fitted guide and the model's parameters.
    pub fn into_parts(self) -> (G, ParamStore) {
        (self.guide, self.params)
    }
}
