//! [`ParamStore`]: the learnable values of `param!` sites, as burn `Param`s.

use burn::module::Param;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Gradients;

use super::value::Value;
use crate::distributions::Constraint;
use crate::error::{Error, Result};

/// Name, shape and constraint of one stored parameter.
#[derive(Debug, Clone)]
pub(crate) struct ParamMeta {
    pub name: String,
    pub shape: Vec<usize>,
    pub constraint: Constraint,
}

/// The values of `param!` sites, stored **unconstrained** (flat) as burn [`Param`]s, so any
/// burn optimizer ([`ModuleOptimizer`]) can train them: it is a burn [`Module`].
///
/// A run of a model (or hand-written guide) through a [`Ctx`](super::Ctx) that owns a store
/// creates each parameter at its first `param!` (from the `init` value, mapped through the
/// inverse of its constraint) and reads it on later runs.
#[derive(Module, Debug)]
pub struct ParamStore {
    values: Vec<Param<Tensor<1>>>,
    #[module(skip)]
    meta: Vec<ParamMeta>,
}

impl Default for ParamStore {
    fn default() -> Self {
        Self::new()
    }
}

impl ParamStore {
    /// An empty store.
    pub fn new() -> Self {
        Self { values: Vec::new(), meta: Vec::new() }
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The parameter names, in creation order.
    pub fn names(&self) -> Vec<&str> {
        self.meta.iter().map(|m| m.name.as_str()).collect()
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.meta.iter().position(|m| m.name == name)
    }

    /// The constrained value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<Result<Value>> {
        let i = self.index(name)?;
        let meta = &self.meta[i];
        Some(
            meta.constraint
                .forward(self.values[i].val(), &meta.shape)
                .and_then(|(x, _)| Value::from_flat(x, meta.shape.clone())),
        )
    }

    /// The unconstrained (stored) value of parameter `name`, flat.
    pub fn unconstrained(&self, name: &str) -> Option<Tensor<1>> {
        self.index(name).map(|i| self.values[i].val())
    }

    /// The constraint of parameter `name`.
    pub fn constraint(&self, name: &str) -> Option<Constraint> {
        self.index(name).map(|i| self.meta[i].constraint)
    }

    /// Adds parameter `name` with the constrained initial value `init`.
    ///
    /// # Errors
    /// [`Error::Model`] if the name is taken, the constraint is discrete, or `init` maps to a
    /// non-finite unconstrained value (it lies outside the constraint's support).
    pub fn insert(&mut self, name: &str, init: Value, constraint: Constraint) -> Result<()> {
        if self.index(name).is_some() {
            return Err(Error::DuplicateSite { site: name.to_string() });
        }
        let u = constraint.inverse(init.flat().detach(), init.shape()).map_err(|_| Error::Model {
            site: name.to_string(),
            problem: "is a param with a discrete constraint".to_string(),
            fix: "use Real, Positive, UnitInterval or Simplex for a param",
        })?;
        let host = super::value::host_f64(u.clone());
        if let Some(bad) = host.iter().position(|v| !v.is_finite()) {
            return Err(Error::Model {
                site: name.to_string(),
                problem: format!(
                    "is a param whose init value at flat index {bad} is outside the support of {constraint:?}"
                ),
                fix: "give an init value inside the constraint (e.g. > 0 for Positive, in (0, 1) for UnitInterval)",
            });
        }
        self.values.push(Param::from_tensor(u));
        self.meta.push(ParamMeta { name: name.to_string(), shape: init.shape().to_vec(), constraint });
        Ok(())
    }

    /// One optimizer step on every parameter of the store that has a gradient in `grads`
    /// (the gradients of those parameters are taken out of `grads`).
    pub fn step(self, optim: &mut ModuleOptimizer, lr: f64, grads: &mut Gradients) -> Self {
        if self.is_empty() {
            return self;
        }
        let g = GradientsParams::from_module(grads, &self);
        optim.step(lr, self, g)
    }
}
