//! [`Ctx`]: the trace context a `#[model]` function runs in, and the [`Model`] trait.

use std::collections::HashSet;
use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::seq::index;

use super::handlers::{Handler, Message};
use super::params::ParamStore;
use super::trace::{PlateFrame, Site, SiteKind, Trace};
use super::value::Value;
use crate::distributions::Constraint;
use crate::distributions::{Erased, SiteDistribution};
use crate::error::{Error, Result};
use crate::noise;

/// A probabilistic program: anything that can run in a [`Ctx`].
///
/// A `#[model]` function `fn m(a: A, b: B) -> Result<R>` becomes
/// `fn m(ctx: &mut Ctx, a: A, b: B) -> Result<R>`; a closure `|ctx: &mut Ctx| m(ctx, a, b)`
/// then implements `Model` (every `Fn(&mut Ctx) -> Result<R>` does), and so do the handler
/// wrappers ([`condition`](super::condition), [`seed`](super::seed), ...).
pub trait Model {
    /// What the program returns.
    type Output;

    /// Runs the program once, reporting every site to `ctx`.
    ///
    /// # Errors
    /// Whatever the program or a site fails with (e.g. [`Error::DuplicateSite`]).
    fn run(&self, ctx: &mut Ctx) -> Result<Self::Output>;
}

impl<F, R> Model for F
where
    F: Fn(&mut Ctx) -> Result<R>,
{
    type Output = R;

    fn run(&self, ctx: &mut Ctx) -> Result<R> {
        self(ctx)
    }
}

/// Runs `model` once in a fresh context and returns its output and trace.
///
/// # Errors
/// Whatever the model fails with.
pub fn trace<M: Model>(model: &M) -> Result<(M::Output, Trace)> {
    let mut ctx = Ctx::new();
    let out = model.run(&mut ctx)?;
    Ok((out, ctx.into_trace()))
}

/// The active plate handle inside `plate!`: which elements of the plate this run covers.
#[derive(Debug, Clone)]
pub struct Plate {
    frame: PlateFrame,
}

impl Plate {
    /// Indices of this run's elements in `0..size` (all of them without subsampling).
    pub fn indices(&self) -> &[usize] {
        &self.frame.indices
    }

    /// The plate's full size `N`.
    pub fn size(&self) -> usize {
        self.frame.size
    }

    /// The number of elements in this run (the subsample size, or `N`).
    pub fn batch(&self) -> usize {
        self.frame.batch
    }

    /// Whether this run covers a random subset.
    pub fn is_subsampled(&self) -> bool {
        self.frame.batch < self.frame.size
    }

    /// The rows of `x` along `dim` that belong to this run: `x` itself without subsampling,
    /// else `x.select(dim, indices)`.
    pub fn subsample<const D: usize>(&self, x: Tensor<D>, dim: usize) -> Tensor<D> {
        if !self.is_subsampled() {
            return x;
        }
        let idx: Vec<i64> = self.frame.indices.iter().map(|&i| i as i64).collect();
        let n = idx.len();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &x.device());
        x.select(dim, idx)
    }
}

/// The trace context: records sites, applies handlers, holds the active plates and the
/// [`ParamStore`]. `#[model]` functions receive it as a hidden first argument.
#[derive(Debug, Default)]
pub struct Ctx {
    trace: Trace,
    seen: HashSet<String>,
    handlers: Vec<Handler>,
    plates: Vec<PlateFrame>,
    params: ParamStore,
    improper_init: bool,
}

impl Ctx {
    /// A fresh context with an empty parameter store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh context whose `param!` sites read (and create) parameters in `params`.
    pub fn with_params(params: ParamStore) -> Self {
        Self { params, ..Self::default() }
    }

    /// The same context, with improper sites ([`ImproperUniform`](crate::distributions::ImproperUniform))
    /// given a starting point (uniform in `(-2, 2)` on the unconstrained space) instead of
    /// failing: how [`ModelPotential`](crate::infer::ModelPotential), the auto guides and
    /// [`Svi::new`](crate::infer::Svi::new) read a model's layout and start its chains.
    pub fn with_improper_init(mut self) -> Self {
        self.improper_init = true;
        self
    }

    /// Runs `model` in this context.
    ///
    /// # Errors
    /// Whatever the model fails with.
    pub fn run<M: Model>(&mut self, model: &M) -> Result<M::Output> {
        model.run(self)
    }

    /// The trace recorded so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The recorded trace.
    pub fn into_trace(self) -> Trace {
        self.trace
    }

    /// The recorded trace and the (possibly grown) parameter store.
    pub fn into_parts(self) -> (Trace, ParamStore) {
        (self.trace, self.params)
    }

    /// The parameter store.
    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    /// Pushes `handler` (it sees sites before the handlers already on the stack).
    pub fn push_handler(&mut self, handler: Handler) {
        self.handlers.push(handler);
    }

    /// Pops the innermost handler.
    pub fn pop_handler(&mut self) {
        self.handlers.pop();
    }

    fn claim(&mut self, name: &str) -> Result<()> {
        if !self.seen.insert(name.to_string()) {
            return Err(Error::DuplicateSite { site: name.to_string() });
        }
        Ok(())
    }

    fn message<'a>(&self, name: &'a str, kind: SiteKind, value: Option<Value>) -> Message<'a> {
        let is_observed = value.is_some();
        let scale = self.plates.iter().map(PlateFrame::scale).product();
        let mut msg = Message { name, kind, is_observed, value, scale, hidden: false };
        for handler in self.handlers.iter().rev() {
            handler.process(&mut msg);
            if msg.hidden {
                break;
            }
        }
        msg
    }

    /// A `sample!` site: draws from `dist` (reparameterized where possible) unless a handler
    /// supplies the value, records it, and returns the value.
    ///
    /// # Errors
    /// [`Error::DuplicateSite`] if `name` was used before in this run; [`Error::Model`] if a
    /// supplied value does not have the distribution's shape.
    pub fn sample<const D: usize, T: SiteDistribution<D>>(
        &mut self,
        name: impl AsRef<str>,
        dist: T,
    ) -> Result<Tensor<D>> {
        self.site(name.as_ref(), dist, None)
    }

    /// An `observe!` site: `value` is data with distribution `dist`; returns `value`.
    /// `value` may be a `Tensor<D>` or an `Option<Tensor<D>>`: with `None` the site is drawn
    /// like a `sample!` site, which is how a model makes posterior predictive draws of its data
    /// (see [`Predictive`](crate::infer::Predictive)).
    ///
    /// # Errors
    /// As [`Ctx::sample`].
    pub fn observe<const D: usize, T: SiteDistribution<D>>(
        &mut self,
        name: impl AsRef<str>,
        dist: T,
        value: impl Into<Option<Tensor<D>>>,
    ) -> Result<Tensor<D>> {
        self.site(name.as_ref(), dist, value.into().map(Value::from))
    }

    fn site<const D: usize, T: SiteDistribution<D>>(
        &mut self,
        name: &str,
        dist: T,
        obs: Option<Value>,
    ) -> Result<Tensor<D>> {
        self.claim(name)?;
        let msg = self.message(name, SiteKind::Sample, obs);
        let value = match &msg.value {
            Some(v) => v.reshaped(dist.value_shape(), name)?,
            None if self.improper_init => dist.draw(),
            None => dist.try_draw(name)?,
        };
        if !msg.hidden {
            let log_prob = dist.log_density(value.clone());
            let n: usize = log_prob.dims().iter().product();
            self.trace.push(Site {
                name: name.to_string(),
                kind: SiteKind::Sample,
                value: Value::from(value.clone()),
                is_observed: msg.is_observed,
                log_prob: Some(log_prob.reshape([n])),
                constraint: dist.support(),
                dist: Some(Arc::new(Erased::<D, T>(dist))),
                scale: msg.scale,
                plates: self.plates.clone(),
            });
        }
        Ok(value)
    }

    /// A `factor!` site (Stan's `target += lp`, NumPyro's `numpyro.factor`): adds
    /// `sum(log_density)` to the model's log joint density, scaled like any site by the plates
    /// it is in. Recorded as an observed site whose value and elementwise log-density are
    /// `log_density` and which has no distribution, so NUTS's potential and SVI's ELBO (as part
    /// of the log-likelihood term) include it.
    ///
    /// # Errors
    /// [`Error::DuplicateSite`] if `name` was used before in this run.
    pub fn factor<const D: usize>(&mut self, name: impl AsRef<str>, log_density: Tensor<D>) -> Result<()> {
        let name = name.as_ref();
        self.claim(name)?;
        let value = Value::from(log_density.clone());
        let msg = self.message(name, SiteKind::Sample, Some(value.clone()));
        if !msg.hidden {
            let n: usize = log_density.dims().iter().product();
            self.trace.push(Site {
                name: name.to_string(),
                kind: SiteKind::Sample,
                value,
                is_observed: true,
                log_prob: Some(log_density.reshape([n])),
                constraint: Constraint::Real,
                dist: None,
                scale: msg.scale,
                plates: self.plates.clone(),
            });
        }
        Ok(())
    }

    /// A `param!` site: the learnable value `name`, created from `init()` (constrained) on
    /// the first run and read from the [`ParamStore`] afterwards; returns the constrained value.
    ///
    /// # Errors
    /// [`Error::DuplicateSite`]; [`Error::Model`] if `init` lies outside `constraint` or the
    /// stored parameter has another shape.
    pub fn param<const D: usize>(
        &mut self,
        name: impl AsRef<str>,
        init: impl FnOnce() -> Tensor<D>,
        constraint: Constraint,
    ) -> Result<Tensor<D>> {
        let name = name.as_ref();
        self.claim(name)?;
        let msg = self.message(name, SiteKind::Param, None);
        let value = match msg.value {
            Some(v) => v,
            None => {
                if self.params.get(name).is_none() {
                    self.params.insert(name, Value::from(init()), constraint)?;
                }
                self.params.get(name).expect("inserted above")?
            }
        };
        let shape: [usize; D] = value.shape().to_vec().try_into().map_err(|_| Error::Model {
            site: name.to_string(),
            problem: format!("is stored with shape {:?}, not a rank-{D} tensor", value.shape()),
            fix: "use one shape per param name",
        })?;
        let tensor = value.reshaped(shape, name)?;
        if !msg.hidden {
            self.trace.push(Site {
                name: name.to_string(),
                kind: SiteKind::Param,
                value,
                is_observed: false,
                log_prob: None,
                dist: None,
                scale: 1.0,
                plates: self.plates.clone(),
                constraint,
            });
        }
        Ok(tensor)
    }

    /// A `deterministic!` site: records `value` under `name` (NumPyro's `deterministic`), so
    /// that MCMC samples and predictive draws carry it; it adds nothing to the log-density and
    /// handlers cannot replace its value (it is recomputed from the other sites on every run).
    /// Returns `value`.
    ///
    /// # Errors
    /// [`Error::DuplicateSite`] if `name` was used before in this run.
    pub fn deterministic<const D: usize>(&mut self, name: impl AsRef<str>, value: Tensor<D>) -> Result<Tensor<D>> {
        let name = name.as_ref();
        self.claim(name)?;
        let msg = self.message(name, SiteKind::Deterministic, None);
        if !msg.hidden {
            self.trace.push(Site {
                name: name.to_string(),
                kind: SiteKind::Deterministic,
                value: Value::from(value.clone()),
                is_observed: false,
                log_prob: None,
                dist: None,
                scale: 1.0,
                plates: self.plates.clone(),
                constraint: Constraint::Real,
            });
        }
        Ok(value)
    }

    /// Enters plate `name` of `size` conditionally independent elements. With
    /// `subsample = Some(b)` a random batch of `b` distinct indices is drawn from [`noise`]
    /// and the log-density of every site inside is scaled by `size / b`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `size` is 0 or `b` is 0 or larger than `size`;
    /// [`Error::Model`] if a plate of that name is already active.
    pub fn enter_plate(&mut self, name: impl AsRef<str>, size: usize, subsample: Option<usize>) -> Result<Plate> {
        let name = name.as_ref();
        crate::error::check_nonzero("plate", "size", size, "a plate needs at least one element")?;
        let batch = subsample.unwrap_or(size);
        if batch == 0 || batch > size {
            return Err(Error::invalid(
                "plate",
                "subsample",
                format!("{batch} (plate {name:?} of size {size})"),
                "in 1..=size",
                "use a subsample size between 1 and the plate size, or none for the full plate",
            ));
        }
        if self.plates.iter().any(|p| p.name == name) {
            return Err(Error::Model {
                site: name.to_string(),
                problem: "is a plate entered again inside itself".to_string(),
                fix: "give nested plates different names",
            });
        }
        let indices: Vec<usize> = if batch == size {
            (0..size).collect()
        } else {
            let mut v = noise::with_rng(|rng| index::sample(rng, size, batch).into_vec());
            v.sort_unstable();
            v
        };
        let frame = PlateFrame { name: name.to_string(), size, batch, indices: Arc::new(indices) };
        self.plates.push(frame.clone());
        Ok(Plate { frame })
    }

    /// Leaves the innermost plate.
    pub fn exit_plate(&mut self) {
        self.plates.pop();
    }
}
