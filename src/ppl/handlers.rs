//! Effect handlers (Pyro's poutine): wrappers that change what the sites of a model do.
//!
//! Each handler wraps a [`Model`] into another `Model`, so they compose by nesting, the
//! innermost wrapper seeing a site first:
//!
//! ```ignore
//! let m = seed(condition(model, data), 0);     // run `model` on `data`, with fixed noise
//! let (_, trace) = trace(&m)?;
//! ```

use std::sync::Arc;

use super::ctx::{Ctx, Model};
use super::trace::{SiteKind, Trace};
use super::value::{Value, Values};
use crate::error::{check_positive, Result};
use crate::noise;

/// One handler on a [`Ctx`]'s stack. Most users use the wrapping functions ([`condition`],
/// [`substitute`], [`replay`], [`scale`], [`block`]) instead of pushing these by hand.
#[derive(Clone)]
pub enum Handler {
    /// Sample sites named in the map become observed with the given value.
    Condition(Arc<Values>),
    /// Latent sample sites and param sites named in the map take the given value (they stay
    /// latent: their log-density is still counted, as a latent's).
    Substitute(Arc<Values>),
    /// Multiplies the log-density of every site below it by the factor.
    Scale(f64),
    /// Hides the sites for which the predicate is true from every handler outside this one
    /// and from the trace.
    Block(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handler::Condition(v) => write!(f, "Condition({:?})", v.keys().collect::<Vec<_>>()),
            Handler::Substitute(v) => write!(f, "Substitute({:?})", v.keys().collect::<Vec<_>>()),
            Handler::Scale(s) => write!(f, "Scale({s})"),
            Handler::Block(_) => write!(f, "Block(..)"),
        }
    }
}

/// What a site tells the handlers, and what they may change.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    pub name: &'a str,
    pub kind: SiteKind,
    pub is_observed: bool,
    pub value: Option<Value>,
    pub scale: f64,
    /// Set by `Block`: handlers further out and the trace do not see the site.
    pub hidden: bool,
}

impl Handler {
    pub(crate) fn process(&self, msg: &mut Message<'_>) {
        match self {
            Handler::Condition(values) => {
                if msg.kind == SiteKind::Sample && !msg.is_observed {
                    if let Some(v) = values.get(msg.name) {
                        msg.value = Some(v.clone());
                        msg.is_observed = true;
                    }
                }
            }
            Handler::Substitute(values) => {
                if msg.kind != SiteKind::Deterministic && !msg.is_observed && msg.value.is_none() {
                    if let Some(v) = values.get(msg.name) {
                        msg.value = Some(v.clone());
                    }
                }
            }
            Handler::Scale(s) => msg.scale *= s,
            Handler::Block(hide) => msg.hidden |= hide(msg.name),
        }
    }
}

/// A model run with one more handler on the stack (see the functions of this module).
#[derive(Debug, Clone)]
pub struct Handled<M> {
    inner: M,
    handler: Handler,
}

impl<M: Model> Model for Handled<M> {
    type Output = M::Output;

    fn run(&self, ctx: &mut Ctx) -> Result<M::Output> {
        ctx.push_handler(self.handler.clone());
        let out = self.inner.run(ctx);
        ctx.pop_handler();
        out
    }
}

/// `model` with the sample sites named in `data` observed at the given values (Pyro's
/// `condition`): their log-density becomes a likelihood term and inference leaves them alone.
pub fn condition<M: Model>(model: M, data: Values) -> Handled<M> {
    Handled { inner: model, handler: Handler::Condition(Arc::new(data)) }
}

/// `model` with the latent sample sites and param sites named in `values` fixed at the given
/// values (Pyro's `substitute`); they stay latent.
pub fn substitute<M: Model>(model: M, values: Values) -> Handled<M> {
    Handled { inner: model, handler: Handler::Substitute(Arc::new(values)) }
}

/// `model` with its latent sample sites taking their values from `trace` (Pyro's `replay`),
/// e.g. the model run on a guide's draw.
pub fn replay<M: Model>(model: M, trace: &Trace) -> Handled<M> {
    substitute(model, trace.latent_values())
}

/// `model` with the log-density of every site multiplied by `factor` (Pyro's `scale`), e.g.
/// a tempered likelihood.
///
/// # Errors
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless `factor > 0` and finite.
pub fn scale<M: Model>(model: M, factor: f64) -> Result<Handled<M>> {
    check_positive("scale", "factor", factor, "use a positive finite factor such as 0.5")?;
    Ok(Handled { inner: model, handler: Handler::Scale(factor) })
}

/// `model` with the sites for which `hide(name)` is true hidden from the trace and from the
/// handlers wrapped around this one (Pyro's `block`).
pub fn block<M: Model>(model: M, hide: impl Fn(&str) -> bool + Send + Sync + 'static) -> Handled<M> {
    Handled { inner: model, handler: Handler::Block(Arc::new(hide)) }
}

/// `model` run with the calling thread's [`noise`] source seeded with `seed` (Pyro's `seed`):
/// every draw of the run is determined, and the surrounding stream is left as it was.
pub fn seed<M: Model>(model: M, seed: u64) -> Seeded<M> {
    Seeded { inner: model, seed }
}

/// A model run under a fixed noise seed (see [`seed`](fn@seed)).
#[derive(Debug, Clone)]
pub struct Seeded<M> {
    inner: M,
    seed: u64,
}

impl<M: Model> Model for Seeded<M> {
    type Output = M::Output;

    fn run(&self, ctx: &mut Ctx) -> Result<M::Output> {
        noise::with_seed(self.seed, || self.inner.run(ctx))
    }
}
