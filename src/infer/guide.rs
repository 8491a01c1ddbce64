//! Guides (variational families): the [`Guide`] trait, hand-written guides ([`ModelGuide`])
//! and MAP ([`AutoDelta`]). The Gaussian auto guides are in `auto_normal.rs`.

use std::collections::HashMap;

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
    pub sites: Option<HashMap<String, (Tensor<1>, Family)>>,
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
        for s in trace.latent_sites() {
            let lp = s.scaled_log_prob_sum().expect("sample site");
            let family = s.dist.as_ref().map(|d| d.family()).unwrap_or(Family::Other);
            sites.insert(s.name.clone(), (lp, family));
        }
        let log_q = sum_terms(sites.values().map(|(lp, _)| lp.clone())).ok_or_else(|| Error::Model {
            site: String::new(),
            problem: "(none): the guide has no latent sample site".to_string(),
            fix: "give the guide one sample! site per latent site of the model",
        })?;
        Ok(GuideDraw { values: trace.latent_values(), log_q, sites: Some(sites) })
    }

    fn step(self, optim: &mut ModuleOptimizer, lr: f64, grads: &mut Gradients) -> Self {
        Self { params: self.params.step(optim, lr, grads), ..self }
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
        Ok(GuideDraw { values, log_q: zero, sites: Some(sites) })
    }

    fn step(self, optim: &mut ModuleOptimizer, lr: f64, grads: &mut Gradients) -> Self {
        let g = GradientsParams::from_module(grads, &self);
        optim.step(lr, self, g)
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
