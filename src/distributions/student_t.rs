//! Student's t distribution (location-scale form).

use std::f64::consts::PI;

use burn::prelude::*;
use rand_distr::{Distribution as _, StandardNormal};

use super::check::{broadcast_shape, expand_to, host_noise, validate, Check, Requirement};
use super::gamma::standard_gamma;
use super::special::{digamma, digamma_tensor, lgamma, ln_beta, ln_gamma};
use super::{Distribution, Entropy, Rsample};
use crate::error::{check_positive, Result};

/// The degrees of freedom of a [`StudentT`]: one scalar for the whole batch, or a tensor (one
/// per element, e.g. learnt). `f64` and `Tensor<D>` convert into it, so
/// `StudentT::new(4.0, loc, scale)` and `StudentT::new(df_tensor, loc, scale)` both work.
// A tensor handle next to an f64: boxing it would cost an allocation per distribution for
// nothing, since the enum lives inside a `StudentT` that holds two tensors already.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum DegreesOfFreedom<const D: usize> {
    /// The same `df` for every element: the normalising constants are computed on the host
    /// with statrs, and draws need no read-back.
    Scalar(f64),
    /// `df` per element (broadcast against `loc` and `scale`); `rsample` is differentiable in
    /// it through the implicitly reparameterized Gamma draw.
    Tensor(Tensor<D>),
}

impl<const D: usize> From<f64> for DegreesOfFreedom<D> {
    fn from(df: f64) -> Self {
        DegreesOfFreedom::Scalar(df)
    }
}

impl<const D: usize> From<Tensor<D>> for DegreesOfFreedom<D> {
    fn from(df: Tensor<D>) -> Self {
        DegreesOfFreedom::Tensor(df)
    }
}

/// Student's t distribution with `df` degrees of freedom, location `loc` and scale `scale`,
/// elementwise:
///
/// `p(x) = Gamma((df + 1) / 2) / (Gamma(df / 2) sqrt(df pi) scale) * (1 + z^2 / df)^(-(df + 1) / 2)`,
/// `z = (x - loc) / scale`.
///
/// `df` is a scalar for the whole batch or a tensor ([`DegreesOfFreedom`]); `loc` and `scale`
/// are tensors. Heavy-tailed: the mean exists for `df > 1`, the variance for `df > 2` (else
/// `NaN` / `inf`, as documented on [`Distribution::mean`] and [`Distribution::variance`]
/// below). With a scalar `df`, standard-t noise is drawn on the host with `rand_distr::StudentT`
/// from the seeded [`crate::noise`] source and `rsample` is reparameterized in `loc` and `scale`.
/// With a tensor `df`, `rsample` is `loc + scale z sqrt(df / (2 g))` with `z ~ N(0, 1)` and
/// `g ~ Gamma(df / 2, 1)` (so `2 g` is chi-squared with `df` degrees of freedom), the Gamma draw
/// implicitly reparameterized (see [`Gamma`](super::Gamma)): differentiable in `df` too, at the
/// cost of one read-back of `df` per draw.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, StudentT};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let t = StudentT::new(4.0, Tensor::<1>::zeros([3], &device), Tensor::<1>::ones([3], &device))?;
/// assert_eq!(t.sample().dims(), [3]);
/// assert!(StudentT::new(0.0, Tensor::<1>::zeros([3], &device), Tensor::<1>::ones([3], &device)).is_err());
/// // One df per element:
/// let df = Tensor::<1>::from_floats([1.0, 3.0, 30.0], &device);
/// let t = StudentT::new(df, Tensor::<1>::zeros([3], &device), Tensor::<1>::ones([3], &device))?;
/// assert_eq!(t.log_prob(Tensor::zeros([3], &device)).dims(), [3]);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct StudentT<const D: usize> {
    df: DegreesOfFreedom<D>,
    loc: Tensor<D>,
    scale: Tensor<D>,
}

const DF_FIX: &str = "use positive degrees of freedom (e.g. 3.0; large df approaches a Normal)";

impl<const D: usize> StudentT<D> {
    /// A Student-t with `df` degrees of freedom (an `f64` or a tensor), location `loc` and
    /// scale `scale`, broadcast to a common shape.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `df` is not `> 0` and
    /// finite (everywhere), `loc` is not finite or `scale` is not `> 0` and finite (one host
    /// read-back for all tensor parameters); [`Error::ShapeMismatch`](crate::Error::ShapeMismatch)
    /// if the shapes do not broadcast.
    pub fn new(df: impl Into<DegreesOfFreedom<D>>, loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        let df = df.into();
        let mut checks = vec![
            Check { field: "loc", tensor: &loc, requirement: Requirement::Finite, fix: "use a finite location" },
            Check { field: "scale", tensor: &scale, requirement: Requirement::Positive, fix: "use a positive scale" },
        ];
        match &df {
            DegreesOfFreedom::Scalar(v) => check_positive("StudentT", "df", *v, DF_FIX)?,
            DegreesOfFreedom::Tensor(t) => {
                checks.insert(0, Check { field: "df", tensor: t, requirement: Requirement::Positive, fix: DF_FIX })
            }
        }
        validate("StudentT", &checks)?;
        Self::from_parts(df, loc, scale)
    }

    /// Like [`StudentT::new`] without the tensor value checks (no host read-back); a scalar
    /// `df` is still checked.
    ///
    /// # Panics
    /// If a scalar `df` is not `> 0` and finite, or the shapes do not broadcast.
    pub fn new_unchecked(df: impl Into<DegreesOfFreedom<D>>, loc: Tensor<D>, scale: Tensor<D>) -> Self {
        let df = df.into();
        let build = || -> Result<Self> {
            if let DegreesOfFreedom::Scalar(v) = &df {
                check_positive("StudentT", "df", *v, DF_FIX)?;
            }
            Self::from_parts(df, loc, scale)
        };
        build().unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(df: DegreesOfFreedom<D>, loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        let mut shape = broadcast_shape("StudentT", ("loc", loc.dims()), ("scale", scale.dims()))?;
        if let DegreesOfFreedom::Tensor(t) = &df {
            shape = broadcast_shape("StudentT", ("loc and scale", shape), ("df", t.dims()))?;
        }
        let df = match df {
            DegreesOfFreedom::Tensor(t) => DegreesOfFreedom::Tensor(expand_to(t, shape)),
            scalar => scalar,
        };
        Ok(Self { df, loc: expand_to(loc, shape), scale: expand_to(scale, shape) })
    }

    /// The degrees of freedom, as a tensor of the batch shape.
    pub fn df(&self) -> Tensor<D> {
        match &self.df {
            DegreesOfFreedom::Scalar(v) => self.loc.full_like(*v),
            DegreesOfFreedom::Tensor(t) => t.clone(),
        }
    }

    /// The degrees of freedom as given: a scalar or a tensor.
    pub fn degrees_of_freedom(&self) -> &DegreesOfFreedom<D> {
        &self.df
    }

    /// The location.
    pub fn loc(&self) -> Tensor<D> {
        self.loc.clone()
    }

    /// The scale.
    pub fn scale(&self) -> Tensor<D> {
        self.scale.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.loc.dims()
    }

    /// Standard-t noise; reparameterized in a tensor `df` when `reparameterized`.
    fn standard_noise(&self, reparameterized: bool) -> Tensor<D> {
        let (dims, device, dtype) = (self.dims(), self.loc.device(), self.loc.dtype());
        match &self.df {
            DegreesOfFreedom::Scalar(df) => {
                // `df` was validated, so the constructor cannot fail.
                let t = rand_distr::StudentT::new(*df).expect("df > 0 was checked at construction");
                host_noise(dims, &device, dtype, |rng| t.sample(rng))
            }
            DegreesOfFreedom::Tensor(df) => {
                let z = host_noise(dims, &device, dtype, |rng| StandardNormal.sample(rng));
                let g = standard_gamma(&df.clone().mul_scalar(0.5), reparameterized);
                z * (df.clone() / g.mul_scalar(2.0)).sqrt()
            }
        }
    }
}

impl<const D: usize> Distribution<D> for StudentT<D> {
    fn sample(&self) -> Tensor<D> {
        (self.loc.clone() + self.scale.clone() * self.standard_noise(false)).detach()
    }

    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let z = (value - self.loc.clone()) / self.scale.clone();
        match &self.df {
            DegreesOfFreedom::Scalar(df) => {
                let df = *df;
                let norm = ln_gamma(0.5 * (df + 1.0)) - ln_gamma(0.5 * df) - 0.5 * (df * PI).ln();
                z.square().div_scalar(df).log1p().mul_scalar(-0.5 * (df + 1.0)) - self.scale.clone().log() + norm
            }
            DegreesOfFreedom::Tensor(df) => {
                let half_df = df.clone().mul_scalar(0.5);
                let norm = lgamma(half_df.clone().add_scalar(0.5)) - lgamma(half_df) - df.clone().log().mul_scalar(0.5);
                let kernel = (z.square() / df.clone()).log1p() * df.clone().add_scalar(1.0).mul_scalar(-0.5);
                kernel - self.scale.clone().log() + norm - 0.5 * PI.ln()
            }
        }
    }

    /// `loc` for `df > 1`, else `NaN` (the mean does not exist).
    fn mean(&self) -> Tensor<D> {
        match &self.df {
            DegreesOfFreedom::Scalar(df) if *df > 1.0 => self.loc.clone(),
            DegreesOfFreedom::Scalar(_) => self.loc.full_like(f64::NAN),
            DegreesOfFreedom::Tensor(df) => self.loc.clone().mask_fill(df.clone().lower_equal_elem(1.0), f64::NAN),
        }
    }

    /// `scale^2 df / (df - 2)` for `df > 2`; `inf` for `1 < df <= 2`; `NaN` for `df <= 1`.
    fn variance(&self) -> Tensor<D> {
        match &self.df {
            DegreesOfFreedom::Scalar(df) => {
                let df = *df;
                let factor = if df > 2.0 {
                    df / (df - 2.0)
                } else if df > 1.0 {
                    f64::INFINITY
                } else {
                    f64::NAN
                };
                if factor.is_finite() {
                    self.scale.clone().square().mul_scalar(factor)
                } else {
                    self.scale.full_like(factor)
                }
            }
            DegreesOfFreedom::Tensor(df) => {
                let finite = self.scale.clone().square() * df.clone() / df.clone().sub_scalar(2.0);
                finite
                    .mask_fill(df.clone().lower_equal_elem(2.0), f64::INFINITY)
                    .mask_fill(df.clone().lower_equal_elem(1.0), f64::NAN)
            }
        }
    }
}

impl<const D: usize> Rsample<D> for StudentT<D> {
    /// `loc + scale * t` with standard-t noise `t` (reparameterized in a tensor `df` too).
    fn rsample(&self) -> Tensor<D> {
        self.loc.clone() + self.scale.clone() * self.standard_noise(true)
    }
}

impl<const D: usize> Entropy<D> for StudentT<D> {
    /// `(df + 1)/2 [psi((df + 1)/2) - psi(df/2)] + ln(sqrt(df) B(df/2, 1/2)) + ln scale`.
    fn entropy(&self) -> Tensor<D> {
        match &self.df {
            DegreesOfFreedom::Scalar(df) => {
                let df = *df;
                let h = 0.5 * (df + 1.0) * (digamma(0.5 * (df + 1.0)) - digamma(0.5 * df))
                    + 0.5 * df.ln()
                    + ln_beta(0.5 * df, 0.5);
                self.scale.clone().log().add_scalar(h)
            }
            DegreesOfFreedom::Tensor(df) => {
                let (half, half_up) = (df.clone().mul_scalar(0.5), df.clone().mul_scalar(0.5).add_scalar(0.5));
                let ln_b = lgamma(half.clone()) - lgamma(half_up.clone()) + 0.5 * PI.ln();
                half_up.clone() * (digamma_tensor(half_up) - digamma_tensor(half))
                    + df.clone().log().mul_scalar(0.5)
                    + ln_b
                    + self.scale.clone().log()
            }
        }
    }
}
