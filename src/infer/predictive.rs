//! [`Predictive`]: posterior predictive draws from a guide or from posterior samples.

use burn::prelude::*;

use super::guide::Guide;
use crate::error::{check_nonzero, Error, Result};
use crate::ppl::ctx::{Ctx, Model};
use crate::ppl::handlers::substitute;
use crate::ppl::params::ParamStore;
use crate::ppl::trace::Trace;
use crate::ppl::value::{Value, Values};
use crate::predict::{RegressionAccumulator, RegressionSummary};

/// Runs a model on posterior draws and collects every site, stacked along a new leading
/// sample axis `S` (`[S, ...site shape]`), as everywhere in bayesburn.
///
/// Each draw is one run of the model with its latent sites substituted by the draw; sites
/// the draw does not fix (an `observe!` given `None`, a latent missing from the draw) are
/// drawn from their distributions. So a model written as `observe!("y", dist, y)` with
/// `y: Option<Tensor<1>>` gives predictive draws of `y` when run with `None`.
///
/// Draws are independent model runs (a loop over `S`): a model written for one value per site
/// cannot be assumed to broadcast a sample axis. A model that takes the number of draws and
/// shapes its sites `[S, ...]` runs all draws in one pass through [`BatchedPredictive`]
/// ([`BatchedPredictive::new`]); this loop is the fallback for every other model.
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

    fn run_trace(&self, values: Values) -> Result<Trace> {
        let mut ctx = Ctx::with_params(self.params.clone());
        substitute(|c: &mut Ctx| self.model.run(c), values).run(&mut ctx)?;
        Ok(ctx.into_trace())
    }

    fn run_on(&self, values: Values) -> Result<Values> {
        Ok(detached(&self.run_trace(values)?))
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

    /// The predictive summary of site `site` (e.g. the model's `observe!` site, run with its
    /// data `None`) over the posterior samples: per draw, the mean and variance of the site's
    /// distribution, summarised as [`predict::regression`](crate::predict::regression) does
    /// for layers — aleatoric variance = mean over draws of the variances, epistemic = variance
    /// over draws of the means. The site's first axis is `N`, the rest flattened to `D`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `samples` is empty; [`Error::Model`] if the model has no
    /// sample site `site` or its distribution has no mean and variance; whatever the model
    /// fails with.
    pub fn regression_summary(&self, samples: &[Values], site: &str) -> Result<RegressionSummary> {
        check_nonzero("Predictive", "samples", samples.len(), "pass at least one posterior sample")?;
        let mut acc = RegressionAccumulator::new();
        for s in samples {
            let (mean, var) = site_moments(&self.run_trace(s.clone())?, site, false)?;
            acc.push(mean, Some(var))?;
        }
        acc.finish()
    }
}

/// Every value of a trace, detached from the autodiff graph.
fn detached(trace: &Trace) -> Values {
    trace.values().into_iter().map(|(k, v)| (k, v.detach())).collect()
}

/// The mean and variance of site `name`'s distribution as `[S, N, D]` (`S = 1` unless
/// `batched`, where the site's first axis is the sample axis).
fn site_moments(trace: &Trace, name: &str, batched: bool) -> Result<(Tensor<3>, Tensor<3>)> {
    let site = trace.get(name).filter(|s| s.dist.is_some()).ok_or_else(|| Error::Model {
        site: name.to_string(),
        problem: format!("is not a sample or observe site of the model (its sites: {})", trace.names().join(", ")),
        fix: "name the model's observe! site (run with its data None)",
    })?;
    let (mean, var) = site.dist.as_ref().and_then(|d| d.moments_flat()).ok_or_else(|| Error::Model {
        site: name.to_string(),
        problem: "has a distribution without a mean and variance".to_string(),
        fix: "summarise the draws of the site instead (Predictive::from_samples)",
    })?;
    let mut shape: Vec<usize> = site.value.shape().to_vec();
    if !batched {
        shape.insert(0, 1);
    }
    if shape.is_empty() {
        shape.push(1);
    }
    let s = shape[0];
    let n = shape.get(1).copied().unwrap_or(1);
    let d = shape.iter().skip(2).product::<usize>();
    Ok((mean.detach().reshape([s, n, d]), var.detach().reshape([s, n, d])))
}

/// Predictive draws of a model that runs all draws in one pass: the model takes the number of
/// draws `S` as its last argument (`Fn(&mut Ctx, usize) -> Result<R>`) and gives every site a
/// leading sample axis (`sample!("w", Normal::new(zeros([s, d]), ..))`, data broadcast along
/// it), so one run with the latents substituted by `[S, ...]` draws replaces `S` runs.
///
/// [`BatchedPredictive::from_samples_looped`] runs the same model once per draw with `S = 1`
/// and concatenates: the same draws (the noise is consumed in the same order), the reference
/// the batched pass is tested against.
pub struct BatchedPredictive<B> {
    model: B,
    params: ParamStore,
}

impl<B> std::fmt::Debug for BatchedPredictive<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedPredictive").field("params", &self.params.names()).finish_non_exhaustive()
    }
}

impl<B, R> BatchedPredictive<B>
where
    B: Fn(&mut Ctx, usize) -> Result<R>,
{
    /// Predictive draws of `model`, a model that takes the number of draws `S` and shapes
    /// every site `[S, ...]` (its `param!` sites at their `init` values).
    pub fn new(model: B) -> Self {
        Self { model, params: ParamStore::new() }
    }

    /// The same, with the model's `param!` sites read from `params`.
    pub fn with_params(model: B, params: ParamStore) -> Self {
        Self { model, params }
    }

    fn run_trace(&self, values: Values, s: usize) -> Result<Trace> {
        let mut ctx = Ctx::with_params(self.params.clone());
        substitute(|c: &mut Ctx| (self.model)(c, s), values).run(&mut ctx)?;
        Ok(ctx.into_trace())
    }

    /// One pass with the latents substituted by `samples` (each `[S, ...site shape]`, e.g.
    /// [`McmcSamples::values`](super::McmcSamples::values)); every site comes back `[S, ...]`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `samples` is empty; [`Error::ShapeMismatch`] if the
    /// samples disagree on `S`; whatever the model fails with.
    pub fn from_samples(&self, samples: &Values) -> Result<Values> {
        let s = sample_count(samples)?;
        Ok(detached(&self.run_trace(samples.clone(), s)?))
    }

    /// The loop fallback: the model once per draw with `S = 1`, the sites concatenated along
    /// axis 0. Equal to [`BatchedPredictive::from_samples`] up to rounding.
    ///
    /// # Errors
    /// As [`BatchedPredictive::from_samples`].
    pub fn from_samples_looped(&self, samples: &Values) -> Result<Values> {
        let s = sample_count(samples)?;
        let runs = (0..s)
            .map(|k| {
                let one = samples
                    .iter()
                    .map(|(name, v)| {
                        let mut shape = v.shape().to_vec();
                        let per = v.numel() / s;
                        shape[0] = 1;
                        Ok((name.clone(), Value::from_flat(v.flat().slice(k * per..(k + 1) * per), shape)?))
                    })
                    .collect::<Result<Values>>()?;
                Ok(detached(&self.run_trace(one, 1)?))
            })
            .collect::<Result<Vec<_>>>()?;
        concat(runs, s)
    }

    /// `num_samples` latent draws from `guide` (stacked along a new axis 0), then one pass.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `num_samples` is 0; whatever the model or guide fails with.
    pub fn from_guide<G: Guide>(&self, guide: &G, num_samples: usize) -> Result<Values> {
        check_nonzero("BatchedPredictive", "num_samples", num_samples, "ask for at least one draw")?;
        let draws = (0..num_samples)
            .map(|_| Ok(guide.draw()?.values.into_iter().map(|(k, v)| (k, v.detach())).collect()))
            .collect::<Result<Vec<Values>>>()?;
        self.from_samples(&stack(draws)?)
    }

    /// As [`Predictive::regression_summary`], in one pass: site `site`'s mean and variance
    /// `[S, N, ...]` summarised into the aleatoric/epistemic split.
    ///
    /// # Errors
    /// As [`BatchedPredictive::from_samples`] and [`Predictive::regression_summary`].
    pub fn regression_summary(&self, samples: &Values, site: &str) -> Result<RegressionSummary> {
        let s = sample_count(samples)?;
        let (mean, var) = site_moments(&self.run_trace(samples.clone(), s)?, site, true)?;
        crate::predict::regression(mean, Some(var))
    }
}

/// The common leading axis `S` of batched samples.
fn sample_count(samples: &Values) -> Result<usize> {
    check_nonzero("BatchedPredictive", "samples", samples.len(), "pass the draws of at least one site")?;
    let mut names: Vec<&String> = samples.keys().collect();
    names.sort();
    let s = samples[names[0]].shape().first().copied().unwrap_or(0);
    check_nonzero("BatchedPredictive", "number of draws", s, "pass samples with a leading sample axis of length >= 1")?;
    for name in names {
        let shape = samples[name].shape();
        if shape.first() != Some(&s) {
            return Err(Error::shape(
                "BatchedPredictive",
                "samples",
                format!("[{s}, ...] (the leading sample axis of every site)"),
                shape,
                "give every site the same number of draws on axis 0",
            ));
        }
    }
    Ok(s)
}

/// Per site, the runs concatenated along axis 0 (each run's sites have a leading axis of 1).
fn concat(runs: Vec<Values>, s: usize) -> Result<Values> {
    let mut out = Values::new();
    for name in runs[0].keys() {
        let parts = runs.iter().map(|r| present(r, name)).collect::<Result<Vec<_>>>()?;
        let mut shape = runs[0][name].shape().to_vec();
        if let Some(first) = shape.first_mut() {
            *first = s;
        }
        out.insert(name.clone(), Value::from_flat(Tensor::cat(parts, 0), shape)?);
    }
    Ok(out)
}

fn present(draw: &Values, name: &str) -> Result<Tensor<1>> {
    draw.get(name).map(Value::flat).ok_or_else(|| Error::Model {
        site: name.to_string(),
        problem: "appears in some predictive draws but not in others".to_string(),
        fix: "keep the set of sites the same in every run (no data-dependent control flow over sites)",
    })
}

/// Per site, the draws stacked along a new axis 0.
fn stack(draws: Vec<Values>) -> Result<Values> {
    let s = draws.len();
    let names: Vec<String> = draws[0].keys().cloned().collect();
    let mut out = Values::new();
    for name in names {
        let parts = draws.iter().map(|d| present(d, &name)).collect::<Result<Vec<Tensor<1>>>>()?;
        let mut shape = vec![s];
        shape.extend_from_slice(draws[0][&name].shape());
        out.insert(name, Value::from_flat(Tensor::cat(parts, 0), shape)?);
    }
    Ok(out)
}
