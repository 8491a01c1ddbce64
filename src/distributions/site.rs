//! [`SiteDistribution`]: what a distribution must offer to be the distribution of a site, its
//! implementations for [`crate::distributions`], and the type-erased [`SiteDist`] that traces store.

use std::fmt::Debug;

use burn::prelude::*;

use super::constraint::Constraint;
use super::{
    Bernoulli, Beta, Binomial, Categorical, Cauchy, Dirichlet, Distribution, Exponential, Gamma, Geometric, HalfCauchy,
    HalfNormal, InverseGamma, Laplace, LogNormal, Logistic, MultivariateNormal, NegativeBinomial, Normal, Poisson,
    Rsample, ScaleMixtureNormal, StudentT, Uniform, Weibull,
};

/// A distribution family the inference code recognises, with its parameters flat (row-major)
/// and broadcast to the value's shape, so that
/// [`TraceMeanFieldElbo`](crate::infer::TraceMeanFieldElbo) can use a closed-form KL and
/// [`ModelPotential`](crate::infer::ModelPotential)'s site tape can evaluate the log-density on
/// the host.
// Three tensor handles in the largest variant: boxing them would cost an allocation per site
// and run for nothing (a `Family` lives only while a caller matches on it).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Family {
    /// `N(loc, scale^2)` elementwise.
    Normal {
        /// Means.
        loc: Tensor<1>,
        /// Standard deviations.
        scale: Tensor<1>,
    },
    /// `LogNormal(loc, scale)` elementwise (parameters of `ln x`).
    LogNormal {
        /// Means of `ln x`.
        loc: Tensor<1>,
        /// Standard deviations of `ln x`.
        scale: Tensor<1>,
    },
    /// `HalfNormal(scale)` elementwise.
    HalfNormal {
        /// Scales.
        scale: Tensor<1>,
    },
    /// `HalfCauchy(scale)` elementwise.
    HalfCauchy {
        /// Scales.
        scale: Tensor<1>,
    },
    /// `Cauchy(loc, scale)` elementwise.
    Cauchy {
        /// Locations.
        loc: Tensor<1>,
        /// Scales.
        scale: Tensor<1>,
    },
    /// `Laplace(loc, scale)` elementwise.
    Laplace {
        /// Locations.
        loc: Tensor<1>,
        /// Scales.
        scale: Tensor<1>,
    },
    /// Student's t elementwise.
    StudentT {
        /// Degrees of freedom.
        df: Tensor<1>,
        /// Locations.
        loc: Tensor<1>,
        /// Scales.
        scale: Tensor<1>,
    },
    /// `Exponential(rate)` elementwise.
    Exponential {
        /// Rates.
        rate: Tensor<1>,
    },
    /// An [`ImproperUniform`](super::ImproperUniform): log-density 0 on its support.
    Flat,
    /// Anything else (Monte-Carlo terms only).
    Other,
}

/// A distribution that can be the distribution of a `sample!`/`observe!` site: a batch of
/// random variables with a rank-`D` value, a support, a (preferably reparameterized) sampler
/// and an elementwise log-density.
///
/// Implemented for every distribution of [`crate::distributions`] (see the table there) and
/// for [`Delta`](super::Delta).
pub trait SiteDistribution<const D: usize>: Debug + Clone + Send + Sync + 'static {
    /// Shape of one value.
    fn value_shape(&self) -> [usize; D];

    /// The support.
    fn support(&self) -> Constraint;

    /// One draw: reparameterized (differentiable in the parameters) where
    /// [`is_reparameterized`](Self::is_reparameterized), else detached.
    fn draw(&self) -> Tensor<D>;

    /// The draw a `sample!` site makes when nothing supplies its value: [`draw`](Self::draw),
    /// or the typed error of a distribution that has nothing to draw from (an improper prior,
    /// [`ImproperUniform`](super::ImproperUniform)), naming `site`.
    ///
    /// # Errors
    /// [`Error::Model`](crate::Error::Model) for an improper distribution.
    fn try_draw(&self, site: &str) -> crate::error::Result<Tensor<D>> {
        let _ = site;
        Ok(self.draw())
    }

    /// Whether [`draw`](Self::draw) is differentiable in the parameters.
    fn is_reparameterized(&self) -> bool;

    /// Log-density (or log-mass) of `value`, elementwise (any shape whose sum is the joint
    /// log-density of the batch).
    fn log_density(&self, value: Tensor<D>) -> Tensor<D>;

    /// The family and its parameters, if the inference code knows it.
    fn family(&self) -> Family {
        Family::Other
    }

    /// Mean and variance elementwise (shape [`value_shape`](Self::value_shape)), where the
    /// distribution has them: what the predictive summary of a site splits into aleatoric and
    /// epistemic parts. `None` by default.
    fn moments(&self) -> Option<(Tensor<D>, Tensor<D>)> {
        None
    }
}

fn flat<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    let n: usize = t.dims().iter().product();
    t.reshape([n])
}

macro_rules! continuous_site {
    ($ty:ident, $support:expr, |$d:ident| $family:expr) => {
        impl<const D: usize> SiteDistribution<D> for $ty<D> {
            fn value_shape(&self) -> [usize; D] {
                self.dims()
            }
            fn support(&self) -> Constraint {
                $support
            }
            fn draw(&self) -> Tensor<D> {
                self.rsample()
            }
            fn is_reparameterized(&self) -> bool {
                true
            }
            fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
                self.log_prob(value)
            }
            fn family(&self) -> Family {
                let $d = self;
                $family
            }
            fn moments(&self) -> Option<(Tensor<D>, Tensor<D>)> {
                Some((self.mean(), self.variance()))
            }
        }
    };
}

continuous_site!(Normal, Constraint::Real, |d| Family::Normal { loc: flat(d.loc()), scale: flat(d.scale()) });
continuous_site!(LogNormal, Constraint::Positive, |d| Family::LogNormal { loc: flat(d.loc()), scale: flat(d.scale()) });
continuous_site!(HalfNormal, Constraint::Positive, |d| Family::HalfNormal { scale: flat(d.scale()) });
continuous_site!(Laplace, Constraint::Real, |d| Family::Laplace { loc: flat(d.loc()), scale: flat(d.scale()) });
continuous_site!(StudentT, Constraint::Real, |d| Family::StudentT {
    df: flat(d.df()),
    loc: flat(d.loc()),
    scale: flat(d.scale())
});
continuous_site!(Cauchy, Constraint::Real, |d| Family::Cauchy { loc: flat(d.loc()), scale: flat(d.scale()) });
continuous_site!(HalfCauchy, Constraint::Positive, |d| Family::HalfCauchy { scale: flat(d.scale()) });
continuous_site!(Exponential, Constraint::Positive, |d| Family::Exponential { rate: flat(d.rate()) });
continuous_site!(Logistic, Constraint::Real, |_d| Family::Other);
continuous_site!(Weibull, Constraint::Positive, |_d| Family::Other);
continuous_site!(Gamma, Constraint::Positive, |_d| Family::Other);
continuous_site!(InverseGamma, Constraint::Positive, |_d| Family::Other);
continuous_site!(Beta, Constraint::UnitInterval, |_d| Family::Other);
// One simplex per row; the log-density is `[..., 1]`, one value per row.
continuous_site!(Dirichlet, Constraint::Simplex, |_d| Family::Other);
continuous_site!(MultivariateNormal, Constraint::Real, |_d| Family::Other);

/// The support is [`Uniform::support`]: an interval shared by the batch.
impl<const D: usize> SiteDistribution<D> for Uniform<D> {
    fn value_shape(&self) -> [usize; D] {
        self.dims()
    }
    fn support(&self) -> Constraint {
        Uniform::support(self)
    }
    fn draw(&self) -> Tensor<D> {
        self.rsample()
    }
    fn is_reparameterized(&self) -> bool {
        true
    }
    fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
        self.log_prob(value)
    }
    fn moments(&self) -> Option<(Tensor<D>, Tensor<D>)> {
        Some((self.mean(), self.variance()))
    }
}

/// A site whose draws are not reparameterized (`sample`, no gradient through the draw).
macro_rules! sampled_site {
    ($ty:ident, $support:expr) => {
        impl<const D: usize> SiteDistribution<D> for $ty<D> {
            fn value_shape(&self) -> [usize; D] {
                self.dims()
            }
            fn support(&self) -> Constraint {
                $support
            }
            fn draw(&self) -> Tensor<D> {
                self.sample()
            }
            fn is_reparameterized(&self) -> bool {
                false
            }
            fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
                self.log_prob(value)
            }
            fn moments(&self) -> Option<(Tensor<D>, Tensor<D>)> {
                Some((self.mean(), self.variance()))
            }
        }
    };
}

sampled_site!(Bernoulli, Constraint::Discrete);
sampled_site!(Poisson, Constraint::Discrete);
sampled_site!(Binomial, Constraint::Discrete);
sampled_site!(NegativeBinomial, Constraint::Discrete);
sampled_site!(Geometric, Constraint::Discrete);
// The scale-mixture prior of Blundell et al.: a prior only, so its draws need no gradient.
sampled_site!(ScaleMixtureNormal, Constraint::Real);

/// Values are class indices stored as floats with the class dimension kept at size 1
/// (`[..., 1]`, as [`Categorical::sample`] returns them).
impl<const D: usize> SiteDistribution<D> for Categorical<D> {
    fn value_shape(&self) -> [usize; D] {
        let mut dims = self.dims();
        dims[D - 1] = 1;
        dims
    }
    fn support(&self) -> Constraint {
        Constraint::Discrete
    }
    fn draw(&self) -> Tensor<D> {
        self.sample().float()
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
        self.log_prob(value.int())
    }
}

/// A site's distribution with its rank erased, as a [`Trace`](crate::ppl::Trace) stores it: values
/// and log-densities are flat (row-major) tensors.
pub trait SiteDist: Debug + Send + Sync {
    /// Shape of one value.
    fn shape(&self) -> Vec<usize>;
    /// The support.
    fn support(&self) -> Constraint;
    /// One draw, flat (reparameterized where the distribution allows).
    fn draw_flat(&self) -> Tensor<1>;
    /// Whether draws are differentiable in the parameters.
    fn is_reparameterized(&self) -> bool;
    /// Elementwise log-density of a flat value of [`shape`](Self::shape), flat.
    fn log_prob_flat(&self, value: Tensor<1>) -> Tensor<1>;
    /// The family, for closed-form KL terms.
    fn family(&self) -> Family;
    /// Mean and variance, flat, where the distribution has them.
    fn moments_flat(&self) -> Option<(Tensor<1>, Tensor<1>)>;
}

/// Wraps a [`SiteDistribution`] of rank `D` as a [`SiteDist`].
#[derive(Debug, Clone)]
pub(crate) struct Erased<const D: usize, T>(pub T);

impl<const D: usize, T: SiteDistribution<D>> SiteDist for Erased<D, T> {
    fn shape(&self) -> Vec<usize> {
        self.0.value_shape().to_vec()
    }
    fn support(&self) -> Constraint {
        self.0.support()
    }
    fn draw_flat(&self) -> Tensor<1> {
        flat(self.0.draw())
    }
    fn is_reparameterized(&self) -> bool {
        self.0.is_reparameterized()
    }
    fn log_prob_flat(&self, value: Tensor<1>) -> Tensor<1> {
        flat(self.0.log_density(value.reshape(self.0.value_shape())))
    }
    fn family(&self) -> Family {
        self.0.family()
    }
    fn moments_flat(&self) -> Option<(Tensor<1>, Tensor<1>)> {
        self.0.moments().map(|(m, v)| (flat(m), flat(v)))
    }
}
