//! [`ModelPotential`]: a model's posterior as a [`Potential`] on the unconstrained vector.

use burn::prelude::*;
use burn::tensor::TensorData;

use super::layout::LatentLayout;
use super::potential::Potential;
use crate::error::{Error, Result};
use crate::ppl::ctx::{Ctx, Model};
use crate::ppl::handlers::substitute;
use crate::ppl::params::ParamStore;
use crate::ppl::trace::Trace;
use crate::ppl::value::{host_f64, Values};

/// `U(q) = -log p(T(q), data) - log |det J_T(q)|` of a model whose latent sites are laid out
/// in `q` by a [`LatentLayout`] taken from a first trace (a prior draw): the target of NUTS.
///
/// The model is re-run for every evaluation with its latents substituted by `T(q)`; the
/// gradient comes from burn's autodiff. Precision follows the device's float type: the
/// default `f32` gives `U` to about 7 significant digits (enough for SVI, marginal for NUTS's
/// energy error on large datasets); configure the device to `f64` before creating any tensor
/// (`device.configure(FloatDType::F64)`) for MCMC — `ppl_*` tests do.
pub struct ModelPotential<M> {
    model: M,
    layout: LatentLayout,
    device: Device,
    params: ParamStore,
}

impl<M> std::fmt::Debug for ModelPotential<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelPotential").field("layout", &self.layout).finish_non_exhaustive()
    }
}

impl<M: Model> ModelPotential<M> {
    /// The potential of `model` (which must build its tensors on an autodiff device).
    ///
    /// # Errors
    /// Whatever the model fails with; [`Error::Model`] for a discrete latent, no latent, or a
    /// model on a device without autodiff.
    pub fn new(model: M) -> Result<Self> {
        let mut ctx = Ctx::new().with_improper_init();
        model.run(&mut ctx)?;
        let (trace, params) = ctx.into_parts();
        let layout = LatentLayout::from_trace(&trace)?;
        let first = trace.latent_sites().next().expect("layout has a latent site");
        let device = first.value.flat().device();
        if !device.is_autodiff() {
            return Err(Error::Model {
                site: first.name.clone(),
                problem: "is on a device without autodiff, so U has no gradient".to_string(),
                fix: "build the model's tensors on an autodiff device, e.g. Device::flex().autodiff()",
            });
        }
        Ok(Self { model, layout, device, params })
    }

    /// Where each latent site lives in `q`.
    pub fn layout(&self) -> &LatentLayout {
        &self.layout
    }

    /// The device `q` is built on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn q_tensor(&self, q: &[f64]) -> Result<Tensor<1>> {
        if q.len() != self.layout.dim() {
            return Err(Error::shape(
                "ModelPotential",
                "q",
                format!("[{}]", self.layout.dim()),
                &[q.len()],
                "pass one coordinate per unconstrained latent dimension",
            ));
        }
        Ok(Tensor::from_data(TensorData::new(q.to_vec(), [q.len()]), &self.device))
    }

    /// The named constrained sample `T(q)` (detached), e.g. to turn MCMC draws into values for
    /// [`Predictive`](super::Predictive).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `q` has the wrong length.
    pub fn constrain(&self, q: &[f64]) -> Result<Values> {
        let (values, _) = self.layout.constrain(self.q_tensor(q)?)?;
        Ok(values.into_iter().map(|(k, v)| (k, v.detach())).collect())
    }

    /// `q = T^{-1}(values)`.
    ///
    /// # Errors
    /// [`Error::Model`] if a latent site is missing from `values`.
    pub fn unconstrain(&self, values: &Values) -> Result<Vec<f64>> {
        Ok(host_f64(self.layout.unconstrain(values)?))
    }

    /// A starting point: the unconstrained value of a fresh prior draw of the model (through
    /// [`noise`](crate::noise), so seed it for reproducible chains); an improper site
    /// ([`ImproperUniform`](crate::distributions::ImproperUniform)) starts uniform in `(-2, 2)`
    /// on the unconstrained space.
    ///
    /// # Errors
    /// Whatever the model fails with.
    pub fn prior_draw(&self) -> Result<Vec<f64>> {
        let mut ctx = Ctx::with_params(self.params.clone()).with_improper_init();
        self.model.run(&mut ctx)?;
        self.unconstrain(&ctx.into_trace().latent_values())
    }

    /// The trace of one run of the model at the unconstrained point `q`: its latent sites set to
    /// `T(q)`, its deterministic sites recomputed from them (what
    /// [`McmcSamples`](super::McmcSamples) records per draw).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `q` has the wrong length; whatever the model fails with.
    pub fn trace_at(&self, q: &[f64]) -> Result<Trace> {
        let values = self.constrain(q)?;
        let mut ctx = Ctx::with_params(self.params.clone());
        substitute(|c: &mut Ctx| self.model.run(c), values).run(&mut ctx)?;
        Ok(ctx.into_trace())
    }

    fn energy(&self, q: Tensor<1>) -> Result<Tensor<1>> {
        let (values, log_dets) = self.layout.constrain(q)?;
        let mut ctx = Ctx::with_params(self.params.clone());
        substitute(|c: &mut Ctx| self.model.run(c), values).run(&mut ctx)?;
        let log_joint = ctx.into_trace().log_density().expect("the model has latent sites");
        let log_det = log_dets.into_iter().reduce(|a, b| a + b).expect("at least one slot");
        Ok((log_joint + log_det).neg())
    }

    /// `U(q)` without the gradient.
    ///
    /// # Errors
    /// As [`Potential::value_and_grad`].
    pub fn value(&self, q: &[f64]) -> Result<f64> {
        Ok(host_f64(self.energy(self.q_tensor(q)?)?.detach())[0])
    }
}

impl<M: Model> Potential for ModelPotential<M> {
    fn dim(&self) -> usize {
        self.layout.dim()
    }

    fn value_and_grad(&self, q: &[f64]) -> Result<(f64, Vec<f64>)> {
        let q = self.q_tensor(q)?.require_grad();
        let u = self.energy(q.clone())?;
        let grads = u.backward();
        let value = host_f64(u.detach())[0];
        let grad = q.grad(&grads).map(host_f64).unwrap_or_else(|| vec![0.0; self.layout.dim()]);
        Ok((value, grad))
    }
}
