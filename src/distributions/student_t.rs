//! Student's t distribution (location-scale form).

use std::f64::consts::PI;

use burn::prelude::*;
use rand_distr::Distribution as _;

use super::check::{expand_pair, host_noise, validate, Check, Requirement};
use super::special::{digamma, ln_beta, ln_gamma};
use super::{Distribution, Entropy, Rsample};
use crate::error::{check_positive, Result};

/// Student's t distribution with `df` degrees of freedom, location `loc` and scale `scale`,
/// elementwise:
///
/// `p(x) = Gamma((df + 1) / 2) / (Gamma(df / 2) sqrt(df pi) scale) * (1 + z^2 / df)^(-(df + 1) / 2)`,
/// `z = (x - loc) / scale`.
///
/// `df` is one scalar for the whole batch; `loc` and `scale` are tensors. Heavy-tailed: the
/// mean exists for `df > 1`, the variance for `df > 2` (else `NaN` / `inf`, as documented on
/// [`Distribution::mean`] and [`Distribution::variance`] below). Samples are drawn on the host
/// with `rand_distr::StudentT` from the seeded [`crate::noise`] source and uploaded;
/// `rsample` is reparameterized in `loc` and `scale` (not in `df`).
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
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct StudentT<const D: usize> {
    df: f64,
    loc: Tensor<D>,
    scale: Tensor<D>,
}

impl<const D: usize> StudentT<D> {
    /// A Student-t with `df` degrees of freedom, location `loc` and scale `scale`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `df` is not `> 0` and
    /// finite, `loc` is not finite or `scale` is not `> 0` and finite;
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not broadcast.
    pub fn new(df: f64, loc: Tensor<D>, scale: Tensor<D>) -> Result<Self> {
        check_positive(
            "StudentT",
            "df",
            df,
            "use positive degrees of freedom (e.g. 3.0; large df approaches a Normal)",
        )?;
        validate(
            "StudentT",
            &[
                Check { field: "loc", tensor: &loc, requirement: Requirement::Finite, fix: "use a finite location" },
                Check {
                    field: "scale",
                    tensor: &scale,
                    requirement: Requirement::Positive,
                    fix: "use a positive scale",
                },
            ],
        )?;
        let (loc, scale) = expand_pair("StudentT", ("loc", loc), ("scale", scale))?;
        Ok(Self { df, loc, scale })
    }

    /// Like [`StudentT::new`] without the tensor value checks (no host read-back); `df` is
    /// still checked.
    ///
    /// # Panics
    /// If `df` is not `> 0` and finite, or the shapes of `loc` and `scale` do not broadcast.
    pub fn new_unchecked(df: f64, loc: Tensor<D>, scale: Tensor<D>) -> Self {
        let build = || -> Result<Self> {
            check_positive("StudentT", "df", df, "use positive degrees of freedom")?;
            let (loc, scale) = expand_pair("StudentT", ("loc", loc), ("scale", scale))?;
            Ok(Self { df, loc, scale })
        };
        build().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The degrees of freedom.
    pub fn df(&self) -> f64 {
        self.df
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

    fn standard_noise(&self) -> Tensor<D> {
        // `df` was validated, so the constructor cannot fail.
        let t = rand_distr::StudentT::new(self.df).expect("df > 0 was checked at construction");
        host_noise(self.dims(), &self.loc.device(), self.loc.dtype(), |rng| t.sample(rng))
    }
}

impl<const D: usize> Distribution<D> for StudentT<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let df = self.df;
        let norm = ln_gamma(0.5 * (df + 1.0)) - ln_gamma(0.5 * df) - 0.5 * (df * PI).ln();
        let z = (value - self.loc.clone()) / self.scale.clone();
        z.square().div_scalar(df).log1p().mul_scalar(-0.5 * (df + 1.0)) - self.scale.clone().log() + norm
    }

    /// `loc` for `df > 1`, else `NaN` (the mean does not exist).
    fn mean(&self) -> Tensor<D> {
        if self.df > 1.0 {
            self.loc.clone()
        } else {
            self.loc.full_like(f64::NAN)
        }
    }

    /// `scale^2 df / (df - 2)` for `df > 2`; `inf` for `1 < df <= 2`; `NaN` for `df <= 1`.
    fn variance(&self) -> Tensor<D> {
        let df = self.df;
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
}

impl<const D: usize> Rsample<D> for StudentT<D> {
    /// `loc + scale * t` with `t ~ StudentT(df)`, drawn on the host.
    fn rsample(&self) -> Tensor<D> {
        self.loc.clone() + self.scale.clone() * self.standard_noise()
    }
}

impl<const D: usize> Entropy<D> for StudentT<D> {
    /// `(df + 1)/2 [psi((df + 1)/2) - psi(df/2)] + ln(sqrt(df) B(df/2, 1/2)) + ln scale`.
    fn entropy(&self) -> Tensor<D> {
        let df = self.df;
        let h =
            0.5 * (df + 1.0) * (digamma(0.5 * (df + 1.0)) - digamma(0.5 * df)) + 0.5 * df.ln() + ln_beta(0.5 * df, 0.5);
        self.scale.clone().log().add_scalar(h)
    }
}
