//! [`random_module`]: a prior on every parameter of a burn module (NumPyro's
//! `random_flax_module`), so an ordinary network becomes a Bayesian one inside a model.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;

use super::ctx::Ctx;
use crate::distributions::{HalfCauchy, Laplace, Normal, ScaleMixtureNormal, StudentT};
use crate::error::{Error, Result};
use crate::posterior::Prior;

struct Sampler<'a> {
    ctx: &'a mut Ctx,
    prefix: &'a str,
    prior: Prior,
    path: Vec<String>,
    error: Option<Error>,
}

impl Sampler<'_> {
    fn draw<const D: usize>(&mut self, like: Tensor<D>) -> Result<Tensor<D>> {
        let name = format!("{}.{}", self.prefix, self.path.join("."));
        let (dims, device) = (like.dims(), like.device());
        match self.prior {
            Prior::Normal { loc, scale } => self.ctx.sample(
                name,
                Normal::new_unchecked(Tensor::full(dims, loc, &device), Tensor::full(dims, scale, &device)),
            ),
            Prior::ScaleMixture { pi, sigma1, sigma2 } => {
                self.ctx.sample(name, ScaleMixtureNormal::new(pi, sigma1, sigma2, dims, &device)?)
            }
            Prior::Laplace { loc, scale } => self.ctx.sample(
                name,
                Laplace::new_unchecked(Tensor::full(dims, loc, &device), Tensor::full(dims, scale, &device)),
            ),
            Prior::StudentT { df, loc, scale } => self.ctx.sample(
                name,
                StudentT::new_unchecked(df, Tensor::full(dims, loc, &device), Tensor::full(dims, scale, &device)),
            ),
            Prior::Horseshoe { tau } => {
                // The hierarchical form: a local scale site per weight, then the weight.
                let lambda: Tensor<D> = self
                    .ctx
                    .sample(format!("{name}.lambda"), HalfCauchy::new_unchecked(Tensor::ones(dims, &device)))?;
                self.ctx.sample(name, Normal::new_unchecked(Tensor::zeros(dims, &device), lambda.mul_scalar(tau)))
            }
        }
    }
}

impl ModuleMapper for Sampler<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        match self.draw(param.val().detach()) {
            Ok(value) => Param::initialized(param.id, value),
            Err(e) => {
                self.error = Some(e);
                param
            }
        }
    }
}

/// `module` with every float parameter replaced by a `sample!` site from `prior`, named
/// `"{name}.{path}"` (`"net.linear1.weight"`, `"net.linear1.bias"`, ...), so the returned
/// module's forward pass is a function of the model's latents: a BNN that SVI guides
/// (`AutoNormal`) and NUTS ([`ModelPotential`](crate::infer::ModelPotential)) can fit. The module's
/// own parameter values only give shapes and the device.
///
/// A [`Prior::Horseshoe`] is sampled in its hierarchical form: a site `"{name}.{path}.lambda"`
/// (the half-Cauchy local scales) before each weight site, which is `N(0, (tau lambda)^2)`.
///
/// Call it from a model as `ctx.random_module(..)` or, in a `#[model]` function,
/// `random_module!("net", module, prior)`.
///
/// # Errors
/// The prior's validation error ([`Error::InvalidParameter`]); [`Error::DuplicateSite`] if a
/// site name is taken.
pub fn random_module<M: Module>(ctx: &mut Ctx, name: &str, module: M, prior: Prior) -> Result<M> {
    prior.validate("random_module")?;
    let mut sampler = Sampler { ctx, prefix: name, prior, path: Vec::new(), error: None };
    let out = module.map(&mut sampler);
    match sampler.error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

impl Ctx {
    /// [`random_module`] on this context.
    ///
    /// # Errors
    /// As [`random_module`].
    pub fn random_module<M: Module>(&mut self, name: &str, module: M, prior: Prior) -> Result<M> {
        random_module(self, name, module, prior)
    }
}
