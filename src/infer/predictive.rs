//! [`Predictive`]: posterior predictive draws from a guide or from posterior samples.

use burn::prelude::*;

use super::guide::Guide;
use crate::error::{check_nonzero, Error, Result};
use crate::ppl::ctx::{Ctx, Model};
use crate::ppl::handlers::substitute;
use crate::ppl::params::ParamStore;
use crate::ppl::value::{Value, Values};

/// Runs a model on posterior draws and collects every site, stacked along a new leading
/// sample axis `S` (`[S, ...site shape]`), as everywhere in bayesburn.
///
/// Each draw is one run of the model with its latent sites substituted by the draw; sites
/// the draw does not fix (an `observe!` given `None`, a latent missing from the draw) are
/// drawn from their distributions. So a model written as `observe!("y", dist, y)` with
/// `y: Option<Tensor<1>>` gives predictive draws of `y` when run with `None`.
///
/// Draws are independent model runs (a loop over `S`), not one batched run: a model written
/// for one value per site cannot be assumed to broadcast a sample axis.
pub struct Predictive<M> {
    model: M,
    params: ParamStore,
}

impl<M> std::fmt::Debug for Predictive<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictive").field("params", &self.params.names()).finish_non_exhaustive()
    }
}

impl<M: Model> Predictive<M> {
    /// Predictive draws of `model` (its `param!` sites at their `init` values).
    pub fn new(model: M) -> Self {
        Self { model, params: ParamStore::new() }
    }

    /// The same, with the model's `param!` sites read from `params` (e.g. from
    /// [`Svi::into_parts`](crate::infer::Svi::into_parts)).
    pub fn with_params(model: M, params: ParamStore) -> Self {
        Self { model, params }
    }

    fn run_on(&self, values: Values) -> Result<Values> {
        let mut ctx = Ctx::with_params(self.params.clone());
        substitute(|c: &mut Ctx| self.model.run(c), values).run(&mut ctx)?;
        Ok(ctx.into_trace().values().into_iter().map(|(k, v)| (k, v.detach())).collect())
    }

    /// `num_samples` draws with the latents drawn from `guide`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `num_samples` is 0; whatever the model or guide fails with.
    pub fn from_guide<G: Guide>(&self, guide: &G, num_samples: usize) -> Result<Values> {
        check_nonzero("Predictive", "num_samples", num_samples, "ask for at least one draw")?;
        let draws = (0..num_samples)
            .map(|_| {
                let values = guide.draw()?.values.into_iter().map(|(k, v)| (k, v.detach())).collect();
                self.run_on(values)
            })
            .collect::<Result<Vec<_>>>()?;
        stack(draws)
    }

    /// One draw per posterior sample (e.g. MCMC draws mapped through
    /// [`ModelPotential::constrain`](super::ModelPotential::constrain)).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `samples` is empty; whatever the model fails with.
    pub fn from_samples(&self, samples: &[Values]) -> Result<Values> {
        check_nonzero("Predictive", "samples", samples.len(), "pass at least one posterior sample")?;
        stack(samples.iter().map(|s| self.run_on(s.clone())).collect::<Result<Vec<_>>>()?)
    }
}

/// Per site, the draws stacked along a new axis 0.
fn stack(draws: Vec<Values>) -> Result<Values> {
    let s = draws.len();
    let names: Vec<String> = draws[0].keys().cloned().collect();
    let mut out = Values::new();
    for name in names {
        let parts = draws
            .iter()
            .map(|d| {
                d.get(&name).map(Value::flat).ok_or_else(|| Error::Model {
                    site: name.clone(),
                    problem: "appears in some predictive draws but not in others".to_string(),
                    fix: "keep the set of sites the same in every run (no data-dependent control flow over sites)",
                })
            })
            .collect::<Result<Vec<Tensor<1>>>>()?;
        let mut shape = vec![s];
        shape.extend_from_slice(draws[0][&name].shape());
        out.insert(name, Value::from_flat(Tensor::cat(parts, 0), shape)?);
    }
    Ok(out)
}
