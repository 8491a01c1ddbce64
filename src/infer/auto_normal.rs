//! Gaussian auto guides on the unconstrained vector: [`AutoNormal`] (mean-field) and
//! [`AutoMultivariateNormal`] (full-rank, Cholesky factor with a positive diagonal).

use std::collections::HashMap;
use std::path::Path;

use burn::module::Param;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::{Gradients, TensorData};

use super::guide::{layout_of, load_module, save_module, Guide, GuideDraw};
use super::layout::LatentLayout;
use crate::distributions::Constraint;
use crate::distributions::Family;
use crate::distributions::{Distribution, Normal, LN_SQRT_2PI};
use crate::error::{check_positive, Result};
use crate::noise;
use crate::posterior::{inverse_softplus, softplus};
use crate::ppl::ctx::Model;
use crate::ppl::value::Values;

/// Mean-field Normal on the unconstrained latent vector (Pyro's `AutoNormal`):
/// `u ~ N(loc, diag(softplus(scale_raw))^2)`, `z = T(u)` site by site.
#[derive(Module, Debug)]
pub struct AutoNormal {
    /// Means of `u` (`[dim]`).
    pub loc: Param<Tensor<1>>,
    /// `softplus^{-1}` of the standard deviations of `u` (`[dim]`).
    pub scale_raw: Param<Tensor<1>>,
    #[module(skip)]
    layout: LatentLayout,
}

impl AutoNormal {
    /// A mean-field guide for the latent sites of `model`: means at the unconstrained origin,
    /// standard deviations `init_scale` (Pyro uses 0.1).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless `init_scale > 0`; as
    /// [`LatentLayout::from_trace`].
    pub fn new<M: Model>(model: &M, init_scale: f64) -> Result<Self> {
        check_positive("AutoNormal", "init_scale", init_scale, "use a small positive scale such as 0.1")?;
        let (layout, device) = layout_of(model)?;
        let d = layout.dim();
        Ok(Self {
            loc: Param::from_tensor(Tensor::zeros([d], &device)),
            scale_raw: Param::from_tensor(Tensor::full([d], inverse_softplus(init_scale), &device)),
            layout,
        })
    }

    /// The layout of the latent sites in `u`.
    pub fn layout(&self) -> &LatentLayout {
        &self.layout
    }

    /// Standard deviations of `u`.
    pub fn scale(&self) -> Tensor<1> {
        softplus(self.scale_raw.val())
    }

    /// `T(loc)`: the constrained median of every site (detached).
    ///
    /// # Errors
    /// Never in practice.
    pub fn median(&self) -> Result<Values> {
        Ok(self.layout.constrain(self.loc.val().detach())?.0)
    }
}

impl Guide for AutoNormal {
    fn draw(&self) -> Result<GuideDraw> {
        let (loc, scale) = (self.loc.val(), self.scale());
        let eps = noise::normal([self.layout.dim()], &loc.device());
        let u = loc.clone() + scale.clone() * eps;
        let (values, log_dets) = self.layout.constrain(u.clone())?;
        let mut sites = HashMap::new();
        let mut log_q = None;
        for (slot, log_det) in self.layout.slots().iter().zip(log_dets) {
            let r = slot.offset..slot.offset + slot.len;
            let (l, s) = (loc.clone().slice(r.clone()), scale.clone().slice(r.clone()));
            let lq = Normal::new_unchecked(l.clone(), s.clone()).log_prob(u.clone().slice(r)).sum() - log_det;
            // A local latent inside a subsampled plate: its log q is scaled as the model's log p.
            let lq = if slot.scale == 1.0 { lq } else { lq.mul_scalar(slot.scale) };
            let family = match slot.constraint {
                Constraint::Real => Family::Normal { loc: l, scale: s },
                Constraint::Positive => Family::LogNormal { loc: l, scale: s },
                _ => Family::Other,
            };
            log_q = Some(match log_q {
                None => lq.clone(),
                Some(acc) => acc + lq.clone(),
            });
            sites.insert(slot.name.clone(), (lq, family));
        }
        Ok(GuideDraw { values, log_q: log_q.expect("at least one slot"), sites: Some(sites), score: None })
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

/// Full-rank Normal on the unconstrained latent vector (Pyro's `AutoMultivariateNormal`):
/// `u = loc + L eps`, `L` lower triangular with diagonal `softplus(diag(scale_tril_raw))`
/// and strictly-lower part `tril(scale_tril_raw, -1)`.
#[derive(Module, Debug)]
pub struct AutoMultivariateNormal {
    /// Mean of `u` (`[dim]`).
    pub loc: Param<Tensor<1>>,
    /// Raw Cholesky factor (`[dim, dim]`; the upper triangle is unused).
    pub scale_tril_raw: Param<Tensor<2>>,
    #[module(skip)]
    layout: LatentLayout,
}

fn masks(d: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let (mut eye, mut lower) = (vec![0.0f32; d * d], vec![0.0f32; d * d]);
    for i in 0..d {
        eye[i * d + i] = 1.0;
        for j in 0..i {
            lower[i * d + j] = 1.0;
        }
    }
    let t = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [d, d]), device);
    (t(eye), t(lower))
}

impl AutoMultivariateNormal {
    /// A full-rank guide for the latent sites of `model`: mean at the unconstrained origin,
    /// `L = init_scale * I`.
    ///
    /// # Errors
    /// As [`AutoNormal::new`]; [`Error::Model`](crate::Error::Model) naming the site for a latent
    /// site inside a subsampled plate (or under a `scale` handler): a joint `log q` cannot be
    /// scaled per site.
    pub fn new<M: Model>(model: &M, init_scale: f64) -> Result<Self> {
        check_positive("AutoMultivariateNormal", "init_scale", init_scale, "use a small positive scale such as 0.1")?;
        let (layout, device) = layout_of(model)?;
        if let Some(slot) = layout.slots().iter().find(|s| s.scale != 1.0) {
            return Err(crate::Error::Model {
                site: slot.name.clone(),
                problem: format!(
                    "is a latent site with log-density scale {} (a subsampled plate or a scale handler), which \
                     AutoMultivariateNormal's joint log q cannot carry per site",
                    slot.scale
                ),
                fix: "use AutoNormal (its per-site log q is scaled like the model's), or do not subsample that plate",
            });
        }
        let d = layout.dim();
        let (eye, _) = masks(d, &device);
        Ok(Self {
            loc: Param::from_tensor(Tensor::zeros([d], &device)),
            scale_tril_raw: Param::from_tensor(eye.mul_scalar(inverse_softplus(init_scale))),
            layout,
        })
    }

    /// The Cholesky factor `L` of the covariance of `u`.
    pub fn scale_tril(&self) -> Tensor<2> {
        let raw = self.scale_tril_raw.val();
        let (eye, lower) = masks(self.layout.dim(), &raw.device());
        let diag = softplus((raw.clone() * eye.clone()).sum_dim(1)); // [d, 1]
        raw * lower + eye * diag
    }

    /// The covariance `L L^T` of `u`.
    pub fn covariance(&self) -> Tensor<2> {
        let l = self.scale_tril();
        l.clone().matmul(l.transpose())
    }

    /// `T(loc)`: the constrained median of every site (detached).
    ///
    /// # Errors
    /// Never in practice.
    pub fn median(&self) -> Result<Values> {
        Ok(self.layout.constrain(self.loc.val().detach())?.0)
    }
}

impl Guide for AutoMultivariateNormal {
    fn draw(&self) -> Result<GuideDraw> {
        let d = self.layout.dim();
        let loc = self.loc.val();
        let l = self.scale_tril();
        let eps = noise::normal([d, 1], &loc.device());
        let u = loc + l.clone().matmul(eps.clone()).reshape([d]);
        let (eye, _) = masks(d, &l.device());
        let log_diag = (l * eye).sum_dim(1).log().sum();
        // log N(u; loc, L L^T) = -|eps|^2 / 2 - sum ln L_ii - d ln sqrt(2 pi)
        let log_n = eps.square().sum().mul_scalar(-0.5) - log_diag - (d as f64) * LN_SQRT_2PI;
        let (values, log_dets) = self.layout.constrain(u)?;
        let log_det = log_dets.into_iter().reduce(|a, b| a + b).expect("at least one slot");
        Ok(GuideDraw { values, log_q: log_n.reshape([1]) - log_det, sites: None, score: None })
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
