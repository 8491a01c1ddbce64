//! The improper flat prior on a support: Stan's implicit prior, NumPyro's `ImproperUniform`.

use burn::prelude::*;
use burn::tensor::TensorData;

use super::constraint::Constraint;
use super::site::SiteDistribution;
use crate::error::{Error, Result};
use crate::noise;

/// The flat (improper) density on a support: `log p(x) = 0` for every `x` in `support`, with
/// values of `shape`.
///
/// This is the prior Stan gives a parameter with no `~` statement (`real<lower=0> sigma;` and
/// nothing else is a flat prior on `(0, inf)`), and NumPyro's `ImproperUniform(support, (), shape)`.
/// It integrates to infinity, so it has nothing to draw from: [`ImproperUniform::sample`] is a
/// typed error, and so is a `sample!` site of it run where nothing supplies its value. Inference
/// from the unconstrained space works:
/// [`ModelPotential`](crate::infer::ModelPotential) (NUTS) and the auto guides start such a site
/// at [`ImproperUniform::init_draw`] (uniform in `(-2, 2)` on the unconstrained space, NumPyro's
/// `init_to_uniform`), and the posterior is proper whenever the likelihood makes it so. In SVI
/// the guide must have a site of the same name (auto guides built from the model do).
/// `log_prob` does not check that values lie on the support: it is 0 everywhere.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Constraint, ImproperUniform};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let flat = ImproperUniform::new(Constraint::Positive, [2], &device)?;
/// let lp = flat.log_prob(Tensor::<1>::from_floats([0.5, 3.0], &device));
/// assert_eq!(lp.sum().into_scalar::<f32>(), 0.0);
/// assert!(flat.sample().is_err());
/// assert!(ImproperUniform::new(Constraint::Discrete, [2], &device).is_err());
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ImproperUniform<const D: usize> {
    support: Constraint,
    shape: [usize; D],
    device: Device,
}

impl<const D: usize> ImproperUniform<D> {
    /// The flat density on `support` for values of `shape`, on `device`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a discrete support (`support`), a bound that is not
    /// finite or an interval with `low >= high` (`support`), or a zero dimension (`shape`);
    /// [`Error::ShapeMismatch`] for a shape the support cannot have (a simplex of fewer than
    /// two categories, a non-square correlation factor, an ordered vector of rank 0).
    pub fn new(support: Constraint, shape: [usize; D], device: &Device) -> Result<Self> {
        let bad_bound = match support {
            Constraint::Interval { low, high } => !(low.is_finite() && high.is_finite() && low < high),
            Constraint::GreaterThan { low: b } | Constraint::LessThan { high: b } => !b.is_finite(),
            _ => false,
        };
        if bad_bound {
            return Err(Error::invalid(
                "ImproperUniform",
                "support",
                format!("{support:?}"),
                "a support with finite bounds (low < high for an interval)",
                "give the bounds as finite numbers, e.g. Constraint::GreaterThan { low: 0.0 }",
            ));
        }
        if support == Constraint::Discrete {
            return Err(Error::invalid(
                "ImproperUniform",
                "support",
                "Discrete",
                "a continuous support",
                "use a continuous constraint (Real, Positive, Interval, ...); a flat prior on counts is not supported",
            ));
        }
        if shape.contains(&0) {
            return Err(Error::invalid(
                "ImproperUniform",
                "shape",
                format!("{shape:?}"),
                "every dimension >= 1",
                "give the site's value shape, e.g. [3] for a vector of three parameters",
            ));
        }
        support.unconstrained_len(&shape)?;
        Ok(Self { support, shape, device: device.clone() })
    }

    /// The support.
    pub fn support(&self) -> Constraint {
        self.support
    }

    /// The value shape.
    pub fn dims(&self) -> [usize; D] {
        self.shape
    }

    /// `0` elementwise (the flat density), with the shape of `value`.
    pub fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        value.zeros_like()
    }

    /// Always an error: a flat density on an unbounded set cannot be sampled.
    ///
    /// # Errors
    /// Always [`Error::Model`], naming the fix.
    pub fn sample(&self) -> Result<Tensor<D>> {
        Err(improper_error("an ImproperUniform", self.support))
    }

    /// A starting point for inference, not a draw from the prior: `T(u)` with `u` uniform in
    /// `(-2, 2)` on the unconstrained space (NumPyro's `init_to_uniform`), from [`noise`].
    pub fn init_draw(&self) -> Tensor<D> {
        let m = self.support.unconstrained_len(&self.shape).expect("checked by new");
        let u: Vec<f64> = noise::with_rng(|rng| (0..m).map(|_| 4.0 * super::check::open_unit(rng) - 2.0).collect());
        let u = Tensor::<1>::from_data(TensorData::new(u, [m]), &self.device);
        let (x, _) = self.support.forward(u, &self.shape).expect("checked by new");
        x.reshape(self.shape)
    }
}

fn improper_error(site: &str, support: Constraint) -> Error {
    Error::Model {
        site: site.to_string(),
        problem: format!(
            "has the improper flat prior ImproperUniform on {support:?}, which has no distribution to draw a value from"
        ),
        fix: "infer it from the unconstrained space: NUTS through ModelPotential, or SVI with a guide that has a \
              sample! site of the same name (AutoNormal and the other auto guides built from this model do); or give \
              it a value with condition/substitute",
    }
}

impl<const D: usize> SiteDistribution<D> for ImproperUniform<D> {
    fn value_shape(&self) -> [usize; D] {
        self.shape
    }
    fn support(&self) -> Constraint {
        self.support
    }
    /// The starting point of [`ImproperUniform::init_draw`] (what inference starts from);
    /// a site run without it is an error, through [`try_draw`](SiteDistribution::try_draw).
    fn draw(&self) -> Tensor<D> {
        self.init_draw()
    }
    fn try_draw(&self, site: &str) -> Result<Tensor<D>> {
        Err(improper_error(site, self.support))
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
        self.log_prob(value)
    }
    fn family(&self) -> super::site::Family {
        super::site::Family::Flat
    }
}
