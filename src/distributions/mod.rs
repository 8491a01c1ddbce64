//! Distributions over tensors.
//!
//! Every distribution here is *batched*: its parameters are tensors (or scalars that apply to
//! every element) and it describes one independent random variable per element of its
//! **batch shape**, the broadcast shape of its parameters. `sample()`, `mean()`, `variance()`
//! and `entropy()` have that shape; `log_prob(value)` is elementwise.
//!
//! | type | parameters | `rsample` | `entropy` | closed-form KL against |
//! | --- | --- | --- | --- | --- |
//! | [`Normal`] | `loc`, `scale` | yes | yes | [`Normal`]; Monte Carlo against [`ScaleMixtureNormal`] |
//! | [`LogNormal`] | `loc`, `scale` (of `ln x`) | yes | yes | [`LogNormal`] |
//! | [`HalfNormal`] | `scale` | yes | yes | |
//! | [`Laplace`] | `loc`, `scale` | yes | yes | [`Laplace`] |
//! | [`StudentT`] | `df` (scalar or tensor), `loc`, `scale` | yes (in `df` too for a tensor `df`) | yes | |
//! | [`Cauchy`] | `loc`, `scale` | yes | yes | |
//! | [`HalfCauchy`] | `scale` | yes | yes | |
//! | [`Exponential`] | `rate` | yes | yes | [`Exponential`] |
//! | [`Uniform`] | `low`, `high` | yes | yes | |
//! | [`Logistic`] | `loc`, `scale` | yes | yes | |
//! | [`Weibull`] | `scale`, `concentration` | yes | yes | |
//! | [`Gamma`] | `concentration`, `rate` | yes (implicit) | yes | [`Gamma`] |
//! | [`InverseGamma`] | `concentration`, `rate` | yes (implicit) | yes | [`InverseGamma`] |
//! | [`Beta`] | `alpha`, `beta` | yes (implicit) | yes | [`Beta`] |
//! | [`Bernoulli`] | `probs` or `logits` | no | yes | [`Bernoulli`] |
//! | [`Categorical`] | `probs` or `logits` over the last dimension | no | yes | [`Categorical`] |
//! | [`Poisson`] | `rate` | no | no | [`Poisson`] |
//! | [`Binomial`] | `total_count`, `probs` or `logits` | no | no | |
//! | [`NegativeBinomial`] | `total_count`, `probs` or `logits` (or `mean`, `concentration`) | no | no | |
//! | [`Geometric`] | `probs` or `logits` | no | no | |
//! | [`MultivariateNormal`] | `loc` `[..., n]`, `scale_tril` `[..., n, n]` | yes | yes | [`MultivariateNormal`] |
//! | [`Dirichlet`] | `concentration` over the last dimension | yes (implicit) | yes | [`Dirichlet`] |
//! | [`LKJCholesky`] | `dimension`, `concentration` `[..., 1, 1]` | no | no | |
//! | [`Independent`] (`to_event`) | a base distribution, the number of trailing event dimensions | as the base | as the base | as the base, summed |
//! | [`MixtureSameFamily`] | a [`Categorical`] over the last dimension, components of one family | no | no | Monte Carlo, as `q` of [`kl_monte_carlo`] |
//! | [`ImproperUniform`] | a support ([`Constraint`]), a shape | no (improper: nothing to draw) | no | |
//! | [`ScaleMixtureNormal`] | `pi`, `sigma1`, `sigma2` (scalars) | no | no | |
//!
//! [`MultivariateNormal`], [`Dirichlet`] and [`LKJCholesky`] have their event in the last
//! dimension (the last two for `LKJCholesky`): draws have the parameters' shape, while
//! `log_prob` and `entropy` sum the event and keep it with size 1 (`[..., 1]`), as
//! [`Categorical`] and [`MixtureSameFamily`] (whose values are `[..., 1]`) do. "implicit" marks
//! an `rsample` differentiable through the implicit reparameterization of its Gamma draws (see
//! [`Gamma`]). Discrete values (counts, classes) are floats holding whole numbers; their draws
//! have no gradient.
//!
//! Constructors validate (`Result<Self, Error>`, in the style of statrs and rand_distr): a
//! scale must be `> 0` and finite, probabilities in `[0, 1]`, and so on. Tensor parameters are
//! checked with a single host read-back; the [`Error`](crate::Error) names the distribution, the
//! field, the first offending value and its index, and the fix. Where parameters are valid by
//! construction (e.g. `sigma = softplus(rho)` inside a layer) `new_unchecked` skips that
//! read-back.
//!
//! # Drawing `S` samples
//!
//! `sample()` returns one draw per batch element. To draw `S` samples, expand the parameters to
//! `[S, ...]` first; dimension 0 is then the sample axis, as everywhere in bayesburn:
//!
//! ```
//! use bayesburn::distributions::{Distribution, Normal};
//! use burn::prelude::*;
//!
//! let device = Device::flex();
//! let loc = Tensor::<1>::from_floats([0.0, 10.0], &device);
//! let scale = Tensor::<1>::from_floats([1.0, 0.1], &device);
//! let s = 100;
//! let normal = Normal::new(loc.unsqueeze::<2>().expand([s, 2]), scale.unsqueeze::<2>().expand([s, 2]))?;
//! let draws: Tensor<2> = normal.sample(); // [S, 2]
//! assert_eq!(draws.dims(), [s, 2]);
//! # Ok::<(), bayesburn::Error>(())
//! ```
//!
//! All randomness comes from [`crate::noise`], so `noise::with_seed` makes draws reproducible
//! even when tests run on parallel threads.
//!
//! # KL divergences
//!
//! [`KlDivergence`] gives elementwise `KL(p || q)` ([`kl`] is the free-function form); closed
//! forms live in `kl.rs`, and [`kl_monte_carlo`] estimates any pair where `p` can `rsample`.

mod bernoulli;
mod beta;
mod binomial;
mod categorical;
mod cauchy;
pub(crate) mod check;
pub(crate) mod constraint;
mod delta;
mod dirichlet;
mod exponential;
mod gamma;
mod geometric;
mod half_cauchy;
mod half_normal;
mod improper_uniform;
mod independent;
mod inverse_gamma;
mod kl;
mod laplace;
mod lkj_cholesky;
mod log_normal;
mod logistic;
mod mixture_same_family;
mod multivariate_normal;
mod negative_binomial;
mod normal;
mod poisson;
mod scale_mixture;
mod site;
pub(crate) mod special;
mod student_t;
mod traits;
mod uniform;
mod weibull;

pub use bernoulli::Bernoulli;
pub use beta::Beta;
pub use binomial::Binomial;
pub use categorical::Categorical;
pub use cauchy::Cauchy;
pub use constraint::Constraint;
pub use delta::Delta;
pub use dirichlet::Dirichlet;
pub use exponential::Exponential;
pub use gamma::Gamma;
pub use geometric::Geometric;
pub use half_cauchy::HalfCauchy;
pub use half_normal::HalfNormal;
pub use improper_uniform::ImproperUniform;
pub use independent::{Independent, ToEvent};
pub use inverse_gamma::InverseGamma;
pub use kl::{kl, kl_monte_carlo, kl_monte_carlo_with_error, kl_normal_f64, MonteCarloEstimate};
pub use laplace::Laplace;
pub use lkj_cholesky::LKJCholesky;
pub use log_normal::LogNormal;
pub use logistic::Logistic;
pub use mixture_same_family::MixtureSameFamily;
pub use multivariate_normal::MultivariateNormal;
pub use negative_binomial::NegativeBinomial;
pub use normal::Normal;
pub use poisson::Poisson;
pub use scale_mixture::{scale_mixture_log_prob, ScaleMixtureNormal};
pub(crate) use site::Erased;
pub use site::{Family, SiteDist, SiteDistribution};
pub use student_t::{DegreesOfFreedom, StudentT};
pub use traits::{Distribution, Entropy, KlDivergence, Rsample};
pub use uniform::Uniform;
pub use weibull::Weibull;

/// `0.5 * ln(2 pi)`, the normalising constant of the standard normal density.
pub(crate) const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
