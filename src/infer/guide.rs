//! Guides (variational families): the [`Guide`] trait, hand-written guides ([`ModelGuide`])
//! and MAP ([`AutoDelta`]). The Gaussian auto guides are in `auto_normal.rs`.

use std::collections::HashMap;
use std::path::Path;

use burn::module::Param;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Gradients;

use super::layout::LatentLayout;
use crate::distributions::Family;
use crate::error::{Error, Result};
use crate::ppl::ctx::{Ctx, Model};
use crate::ppl::params::ParamStore;
use crate::ppl::trace::sum_terms;
use crate::ppl::value::{host_f64, Values};

/// One draw from a guide: constrained values of the model's latent sites and their log-density
/// under the guide.
#[derive(Debug, Clone)]
pub struct GuideDraw {
    /// Constrained value of every latent site.
    pub values: Values,
    /// `log q(values)` (shape `[1]`, differentiable in the guide's parameters).
    pub log_q: Tensor<1>,
    /// Per-site `log q` and the site's family under the guide, where the guide factorises
    /// over sites (`None` for a joint guide such as [`AutoMultivariateNormal`](super::AutoMultivariateNormal)).
    /// Each site's `log q` carries the site's scale (`N / B` inside a subsampled plate).
    pub sites: Option<HashMap<String, (Tensor<1>, Family)>>,
    /// `Σ log q` over the sites whose draws are **not** reparameterized (a Bernoulli, Poisson,
    /// mixture, ... guide site; `None` when every draw is): the ELBOs add Pyro's
    /// score-function surrogate `(score - stop_grad(score)) * stop_grad(elbo)` for them, so
    /// their parameters get an unbiased gradient (the value of the loss is unchanged).
    pub score: Option<Tensor<1>>,
}

/// A variational family `q(z)` over a model's latent sites, trained by [`Svi`](super::Svi).
pub trait Guide: Clone {
    /// One reparameterized draw.
    ///
    /// # Errors
    /// Whatever running the guide fails with.
    fn draw(&self) -> Result<GuideDraw>;

    /// One optimizer step on the guide's parameters, taking their gradients out of `grads`.
    fn step(self, optim: &mut ModuleOptimizer, lr: f64, grads: &mut Gradients) -> Self;

    /// Writes the guide's trainable state (burn's record, parameter ids included) to `path`,
    /// for [`Svi::save`](super::Svi::save). Implemented by every guide of this crate.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] if the file cannot be written; by default (a guide type that does
    /// not implement it) always.
    fn save_state(&self, path: &Path) -> Result<()> {
        Err(Error::Checkpoint {
            path: path.display().to_string(),
            field: "guide".into(),
            problem: "this guide type does not implement Guide::save_state".into(),
            fix: "implement Guide::save_state and Guide::load_state (a burn Module: save_file / try_load_file)",
        })
    }

    /// Reads back what [`save_state`](Self::save_state) wrote, into this guide (built like the
    /// saved one).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] if the file is missing, damaged or of another guide; by default always.
    fn load_state(self, path: &Path) -> Result<Self> {
        Err(Error::Checkpoint {
            path: path.display().to_string(),
            field: "guide".into(),
            problem: "this guide type does not implement Guide::load_state".into(),
            fix: "implement Guide::save_state and Guide::load_state (a burn Module: save_file / try_load_file)",
        })
    }
}

/// A module's record written to `path` (a guide's or a [`ParamStore`]'s state).
pub(crate) fn save_module<T: Module>(module: &T, path: &Path) -> Result<()> {
    module.clone().save_file(path).map_err(|e| state_error(path, e))
}

/// A module's record read from `path` into `template`.
pub(crate) fn load_module<T: Module>(template: T, path: &Path) -> Result<T> {
    template.try_load_file(path).map_err(|e| state_error(path, e))
}

fn state_error(path: &Path, e: burn::store::RecordError) -> Error {
    Error::Checkpoint {
        path: path.display().to_string(),
        field: path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        problem: e.to_string(),
        fix: "load into an Svi built like the saved one (same model, guide type and sizes), from a directory written by Svi::save",
    }
}

/// A hand-written guide: a `#[model]` function whose `sample!` sites (named like the model's
/// latents) have distributions built from `param!` sites.
#[derive(Debug, Clone)]
pub struct ModelGuide<G> {
    guide: G,
    params: ParamStore,
}

impl<G: Model + Clone> ModelGuide<G> {
    /// Wraps `guide` and creates its parameters with one run.
    ///
    /// # Errors
    /// Whatever the guide fails with.
    pub fn new(guide: G) -> Result<Self> {
        let mut ctx = Ctx::new();
        guide.run(&mut ctx)?;
        let (_, params) = ctx.into_parts();
        Ok(Self { guide, params })
    }

    /// The guide's parameters.
    pub fn params(&self) -> &ParamStore {
        &self.params
    }
}

impl<G: Model + Clone> Guide for ModelGuide<G> {
    fn draw(&self) -> Result<GuideDraw> {
        let mut ctx = Ctx::with_params(self.params.clone());
        self.guide.run(&mut ctx)?;
        let trace = ctx.into_trace();
        let mut sites = HashMap::new();
        let mut score = Vec::new();
        for s in trace.latent_sites() {
            let lp = s.scaled_log_prob_sum().expect("sample site");
            let family = s.dist.as_ref().map(|d| d.family()).unwrap_or(Family::Other);
            if s.dist.as_ref().is_some_and(|d| !d.is_reparameterized()) {
                score.push(lp.clone());
            }
            sites.insert(s.name.clone(), (lp, family));
        }
        let log_q = sum_terms(sites.values().map(|(lp, _)| lp.clone())).ok_or_else(|| Error::Model {
            site: String::new(),
            problem: "(none): the guide has no latent sample site".to_string(),
            fix: "give the guide one sample! site per latent site of the model",
        })?;
        Ok(GuideDraw { values: trace.latent_values(), log_q, sites: Some(sites), score: sum_terms(score.into_iter()) })
    }

    fn step(self, optim: &mut ModuleOptimizer, lr: f64, grads: &mut Gradients) -> Self {
        Self { params: self.params.step(optim, lr, grads), ..self }
    }

    fn save_state(&self, path: &Path) -> Result<()> {
        save_module(&self.params, path)
    }

    fn load_state(self, path: &Path) -> Result<Self> {
        Ok(Self { params: load_module(self.params, path)?, ..self })
    }
}

/// The point mass at a learnt value of every latent site (MAP estimation, Pyro's
/// `AutoDelta`): `log q = 0`, so the ELBO is the log joint density at the point, in the
/// constrained space (no Jacobian term).
#[derive(Module, Debug)]
pub struct AutoDelta {
    /// The point, unconstrained (`[dim]`).
    pub loc: Param<Tensor<1>>,
    #[module(skip)]
    layout: LatentLayout,
}

impl AutoDelta {
    /// A point mass for the latent sites of `model`, starting at the unconstrained origin
    /// (`0` for real sites, `1` for positive ones, `1/2` on the unit interval, the uniform
    /// vector on a simplex).
    ///
    /// # Errors
    /// As [`LatentLayout::from_trace`], and whatever the model fails with.
    pub fn new<M: Model>(model: &M) -> Result<Self> {
        let (layout, device) = layout_of(model)?;
        Ok(Self { loc: Param::from_tensor(Tensor::zeros([layout.dim()], &device)), layout })
    }

    /// The MAP point, constrained and detached.
    ///
    /// # Errors
    /// Never in practice (the layout fits the point).
    pub fn median(&self) -> Result<Values> {
        let (v, _) = self.layout.constrain(self.loc.val().detach())?;
        Ok(v)
    }
}

impl Guide for AutoDelta {
    fn draw(&self) -> Result<GuideDraw> {
        let (values, _) = self.layout.constrain(self.loc.val())?;
        let zero = self.loc.val().sum().mul_scalar(0.0);
        let sites = self.layout.slots().iter().map(|s| (s.name.clone(), (zero.clone(), Family::Other))).collect();
        Ok(GuideDraw { values, log_q: zero, sites: Some(sites), score: None })
    }

    fn step(self, optim: &mut ModuleOptimizer, lr: f64, grads: &mut Gradients) -> Self {
        let g = GradientsParams::from_module(grads, &self);
        optim.step(lr, self, g)
    }

    fn save_state(&self, path: &Path) -> Result<()> {
        save_module(self, path)
    }

    fn load_state(self, path: &Path) -> Result<Self> {
        load_module(self, path)
    }
}

/// The latent layout of one run of `model` and the device its latents live on.
pub(crate) fn layout_of<M: Model>(model: &M) -> Result<(LatentLayout, Device)> {
    let mut ctx = Ctx::new().with_improper_init();
    model.run(&mut ctx)?;
    let trace = ctx.into_trace();
    let layout = LatentLayout::from_trace(&trace)?;
    let device = trace.latent_sites().next().expect("layout has a latent").value.flat().device();
    Ok((layout, device))
}

/// A `[1]` tensor read back as `f64`.
pub(crate) fn scalar(t: Tensor<1>) -> f64 {
    host_f64(t.detach())[0]
}
