//! [`ModelPotential`]: a model's posterior as a [`Potential`] on the unconstrained vector.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use burn::prelude::*;
use burn::tensor::TensorData;

use super::layout::LatentLayout;
use super::potential::Potential;
use super::tape::{self, SiteTape};
use crate::error::{Error, Result};
use crate::ppl::ctx::{Ctx, Model};
use crate::ppl::handlers::substitute;
use crate::ppl::params::ParamStore;
use crate::ppl::trace::Trace;
use crate::ppl::value::{host_f64, Values};

/// `U(q) = -log p(T(q), data) - log |det J_T(q)|` of a model whose latent sites are laid out
/// in `q` by a [`LatentLayout`] taken from a first trace (a prior draw): the target of NUTS.
///
/// Two ways to evaluate it, with the same result:
///
/// - **the site tape** (the default, on an f64 device): on the first
///   [`value_and_grad`](Potential::value_and_grad) the model is recorded once — every site's
///   family, scale, value and parameters, each parameter as a polynomial of degree ≤ 2 in the
///   constrained latents found by finite differences of model runs and verified at other
///   points — and from then on `U` and `∇U` are computed on the host over flat f64 buffers,
///   without running the model (a few hundred nanoseconds for eight schools). It covers the
///   families Normal, LogNormal, HalfNormal, HalfCauchy, Cauchy, Laplace, Student-t (constant
///   `df`), Exponential, `ImproperUniform` and `factor!` terms; the supports real, positive,
///   softplus-positive, half-lines and intervals; inputs affine in the latents (regressions)
///   or quadratic (`mu + tau * theta_tilde`). [`tape_status`](Self::tape_status) says whether
///   it is in use and why not. Every [`tape_check_every`](Self::with_tape_check_every)-th call
///   is also evaluated the burn way; a disagreement (a branch on the latents' values that
///   recording never saw) turns the tape off for good and returns the burn result. On the tape a
///   parameter pushed outside its support (a negative scale) gives a non-finite `U`, which NUTS
///   treats as a divergence, where the burn path returns the distribution's [`Error`].
/// - **the burn path** (the fallback, or [`with_tape(false)`](Self::with_tape)): the model is
///   re-run for every evaluation with its latents substituted by `T(q)`; the gradient comes
///   from burn's autodiff.
///
/// Precision follows the device's float type: the default `f32` gives `U` to about 7
/// significant digits (enough for SVI, marginal for NUTS's energy error on large datasets), and
/// the tape needs `f64`; configure the device to `f64` before creating any tensor
/// (`device.configure(FloatDType::F64)`) for MCMC — `ppl_*` tests do.
pub struct ModelPotential<M> {
    model: M,
    layout: LatentLayout,
    device: Device,
    params: ParamStore,
    tape: TapeCell,
}

/// Whether a [`ModelPotential`] evaluates through its site tape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapeStatus {
    /// Turned off with [`ModelPotential::with_tape`]`(false)`.
    Disabled,
    /// Not recorded yet (the first evaluation records it).
    NotRecorded,
    /// In use.
    Active {
        /// Site terms on the tape.
        terms: usize,
        /// Polynomial coefficients (linear and quadratic) linking the sites to the latents.
        coefficients: usize,
    },
    /// The burn path is used, for this reason: the model could not be recorded, or a spot check
    /// found the tape disagreeing with the model.
    Fallback(String),
}

/// The tape's lazily recorded state.
struct TapeCell {
    enabled: bool,
    check_every: usize,
    recorded: OnceLock<std::result::Result<SiteTape, String>>,
    broken: Mutex<Option<String>>,
    calls: AtomicUsize,
}

impl Default for TapeCell {
    fn default() -> Self {
        Self {
            enabled: true,
            check_every: DEFAULT_CHECK_EVERY,
            recorded: OnceLock::new(),
            broken: Mutex::new(None),
            calls: AtomicUsize::new(0),
        }
    }
}

/// Every this many tape evaluations one is repeated the burn way: 0.01 % of the calls, for
/// eight schools ~0.04 µs per call on average (a check costs one burn-path evaluation, ~400 µs
/// on a busy machine), and a few checks in a default NUTS run of 4 × 2000 iterations.
const DEFAULT_CHECK_EVERY: usize = 10_000;

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
        Ok(Self { model, layout, device, params, tape: TapeCell::default() })
    }

    /// With `false`, every evaluation runs the model through burn's autodiff (the tape is never
    /// recorded); `true` (the default) uses the site tape where the model allows it.
    pub fn with_tape(mut self, enabled: bool) -> Self {
        self.tape = TapeCell { enabled, check_every: self.tape.check_every, ..TapeCell::default() };
        self
    }

    /// Repeat every `n`-th tape evaluation the burn way and fall back for good when they
    /// disagree (default 10 000; `1` checks every call, `0` never).
    pub fn with_tape_check_every(mut self, n: usize) -> Self {
        self.tape.check_every = n;
        self
    }

    /// Whether evaluations go through the site tape, and why not.
    pub fn tape_status(&self) -> TapeStatus {
        if !self.tape.enabled {
            return TapeStatus::Disabled;
        }
        if let Some(reason) = self.tape.broken.lock().map(|b| b.clone()).unwrap_or_else(|e| e.into_inner().clone()) {
            return TapeStatus::Fallback(reason);
        }
        match self.tape.recorded.get() {
            None => TapeStatus::NotRecorded,
            Some(Ok(t)) => TapeStatus::Active { terms: t.terms(), coefficients: t.coefficients() },
            Some(Err(reason)) => TapeStatus::Fallback(reason.clone()),
        }
    }

    /// The recorded tape, recording it on first use; `None` when it is off or fell back.
    fn active_tape(&self) -> Option<&SiteTape> {
        if !self.tape.enabled || self.tape.broken.lock().map(|b| b.is_some()).unwrap_or(true) {
            return None;
        }
        self.tape
            .recorded
            .get_or_init(|| tape::record(&self.model, &self.layout, &self.params, &self.device))
            .as_ref()
            .ok()
    }

    /// `U` and `∇U` the burn way: the model run at `T(q)`, autodiff.
    fn burn_value_and_grad(&self, q: &[f64]) -> Result<(f64, Vec<f64>)> {
        let q = self.q_tensor(q)?.require_grad();
        let u = self.energy(q.clone())?;
        let grads = u.backward();
        let value = host_f64(u.detach())[0];
        let grad = q.grad(&grads).map(host_f64).unwrap_or_else(|| vec![0.0; self.layout.dim()]);
        Ok((value, grad))
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
        let Some(tape) = self.active_tape() else { return self.burn_value_and_grad(q) };
        if q.len() != self.layout.dim() {
            return self.q_tensor(q).map(|_| (0.0, Vec::new()));
        }
        let (value, grad) = tape.value_and_grad(q);
        let every = self.tape.check_every;
        if every > 0 && self.tape.calls.fetch_add(1, Ordering::Relaxed) % every == every - 1 {
            let (burn_value, burn_grad) = self.burn_value_and_grad(q)?;
            if let Some(problem) = disagreement(value, &grad, burn_value, &burn_grad) {
                let reason = format!("a spot check at q = {q:?} found the tape disagreeing with the model: {problem}");
                *self.tape.broken.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
                return Ok((burn_value, burn_grad));
            }
        }
        Ok((value, grad))
    }
}

/// Where the tape's `U` and `∇U` differ from the burn path's beyond rounding (1e-7 relative;
/// the two agree to ~1e-12 on a model the tape recorded correctly), or `None`.
fn disagreement(u: f64, g: &[f64], burn_u: f64, burn_g: &[f64]) -> Option<String> {
    let close = |a: f64, b: f64| (a == b) || (a - b).abs() <= 1e-7 * (1.0 + a.abs().max(b.abs()));
    if !close(u, burn_u) {
        return Some(format!("U {u} vs {burn_u}"));
    }
    let g_scale = burn_g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    g.iter().zip(burn_g).enumerate().find_map(|(i, (&a, &b))| {
        (!((a == b) || (a - b).abs() <= 1e-7 * (1.0 + g_scale))).then(|| format!("dU/dq[{i}] {a} vs {b}"))
    })
}
