//! Stochastic variational inference: ELBO estimators and the [`Svi`] loop.

use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use std::path::Path;

use super::guide::{load_module, save_module, scalar, Guide, GuideDraw};
use crate::distributions::Family;
use crate::distributions::{kl, LogNormal, Normal};
use crate::error::{check_nonzero, Error, Result};
use crate::noise;
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

/// One particle's terms: log-likelihood, KL, and the score-function surrogate (zero-valued,
/// its gradient the REINFORCE term) when the guide has non-reparameterized sites.
struct Particle {
    ll: Tensor<1>,
    kl: Tensor<1>,
    surrogate: Option<Tensor<1>>,
}

impl Particle {
    /// Pyro's `Trace_ELBO` surrogate for the guide's non-reparameterized sites:
    /// `(score - stop_grad(score)) * stop_grad(elbo)`, whose value is 0 and whose gradient is
    /// `elbo * ∇ log q` (the score-function estimator), unbiased.
    fn new(ll: Tensor<1>, kl: Tensor<1>, draw: &GuideDraw) -> Self {
        let surrogate = draw.score.as_ref().map(|score| {
            let elbo = (ll.clone() - kl.clone()).detach();
            (score.clone() - score.clone().detach()) * elbo
        });
        Self { ll, kl, surrogate }
    }
}

fn average(terms: Vec<Particle>) -> ElboEstimate {
    let k = terms.len() as f64;
    let mut surrogates = Vec::new();
    let (mut ll, mut kl) = (Vec::new(), Vec::new());
    for p in terms {
        ll.push(p.ll);
        kl.push(p.kl);
        surrogates.extend(p.surrogate);
    }
    let ll = sum_terms(ll.into_iter()).expect("particles >= 1").div_scalar(k);
    let kl = sum_terms(kl.into_iter()).expect("particles >= 1").div_scalar(k);
    let mut loss = kl.clone() - ll.clone();
    if let Some(s) = sum_terms(surrogates.into_iter()) {
        loss = loss - s.div_scalar(k);
    }
    ElboEstimate { loss, log_likelihood: ll, kl }
}

/// The Monte-Carlo ELBO (Pyro's `Trace_ELBO`), averaged over `particles` independent guide
/// draws: reparameterized draws carry their gradient through the value; a guide site whose
/// draws are not reparameterized (a Bernoulli, Poisson, mixture site of a
/// [`ModelGuide`](super::ModelGuide)) adds the score-function surrogate of
/// [`GuideDraw::score`], so its parameters get an unbiased (if noisier) gradient.
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
            terms.push(Particle::new(log_likelihood(&trace, &device), draw.log_q.clone() - log_prior, &draw));
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
                // The guide's per-site log q already carries the site's scale.
                let term = match closed_form_kl(q_family, &p_family) {
                    Some(k) if s.scale == 1.0 => k,
                    Some(k) => k.mul_scalar(s.scale),
                    None => log_q.clone() - s.scaled_log_prob_sum().expect("sample site"),
                };
                kl_terms.push(term);
            }
            let kl = sum_terms(kl_terms.into_iter()).expect("latent sites");
            terms.push(Particle::new(log_likelihood(&trace, &device), kl, &draw));
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

    /// Checkpoints the run in directory `dir` (created if needed), after the conventions of
    /// [`checkpoint`](crate::checkpoint): `guide.bpk` (the guide's state,
    /// [`Guide::save_state`]), `params.bpk` (the model's `param!` sites), `optimizer.bpk`
    /// (burn's optimizer record, e.g. Adam's moments, keyed by parameter id) and `svi.json`
    /// (the step count and the position of the calling thread's [`noise`](crate::noise)
    /// stream), written last. [`Svi::load`] into an `Svi` built the same way continues the run
    /// bit for bit.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Checkpoint`] if a file cannot be written.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let io = |e: std::io::Error, file: &str| Error::Io {
            path: dir.join(file).display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(e, ""))?;
        match std::fs::remove_file(dir.join(SVI_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e, SVI_FILE)),
            _ => {}
        }
        self.guide.save_state(&dir.join("guide.bpk"))?;
        save_module(&self.params, &dir.join("params.bpk"))?;
        self.optim.save(dir.join("optimizer.bpk")).map_err(|e| Error::Checkpoint {
            path: dir.display().to_string(),
            field: "optimizer.bpk".into(),
            problem: e.to_string(),
            fix: "check that the directory is writable",
        })?;
        let state = SviState { format: SVI_FORMAT.into(), steps: self.steps, noise: noise::state() };
        let text = serde_json::to_string_pretty(&state)
            .map_err(|e| Error::Io { path: dir.join(SVI_FILE).display().to_string(), message: e.to_string() })?;
        std::fs::write(dir.join(SVI_FILE), text).map_err(|e| io(e, SVI_FILE))
    }

    /// Loads a checkpoint written by [`Svi::save`] into this run (built like the saved one:
    /// same model, guide type and sizes, elbo and optimizer kind): the guide, the model's
    /// parameters, the optimizer state and the step count; and restores the calling thread's
    /// [`noise`](crate::noise) stream, so that the next steps are those the saved run would
    /// have taken.
    ///
    /// # Errors
    /// [`Error::Io`] if `svi.json` is missing (not a checkpoint directory);
    /// [`Error::Checkpoint`] naming the file that is damaged or does not fit.
    pub fn load(self, dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let path = dir.join(SVI_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: format!("{e} (not an SVI checkpoint directory: Svi::save writes {SVI_FILE} there)"),
        })?;
        let state: SviState = serde_json::from_str(&text)
            .ok()
            .filter(|s: &SviState| s.format == SVI_FORMAT)
            .ok_or_else(|| Error::Checkpoint {
                path: dir.display().to_string(),
                field: SVI_FILE.into(),
                problem: format!("is not an SVI state of format {SVI_FORMAT:?}"),
                fix: "load a directory written by Svi::save",
            })?;
        let guide = self.guide.load_state(&dir.join("guide.bpk"))?;
        let params = load_module(self.params, &dir.join("params.bpk"))?;
        let optim = self.optim.load(dir.join("optimizer.bpk")).map_err(|e| Error::Checkpoint {
            path: dir.display().to_string(),
            field: "optimizer.bpk".into(),
            problem: e.to_string(),
            fix: "load into an Svi with the same optimizer kind, from a directory written by Svi::save",
        })?;
        noise::restore(&state.noise)?;
        Ok(Self { guide, params, optim, steps: state.steps, ..self })
    }
}

const SVI_FILE: &str = "svi.json";
const SVI_FORMAT: &str = "bayesburn-svi-1";

/// `svi.json`: what an SVI checkpoint holds besides the burn records.
#[derive(serde::Serialize, serde::Deserialize)]
struct SviState {
    format: String,
    steps: usize,
    noise: noise::NoiseState,
}
