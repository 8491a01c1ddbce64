//! The Gamma distribution, and the implicitly reparameterized Gamma sampler that Beta, Dirichlet,
//! Student-t and the inverse Gamma draw through.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand_distr::Distribution as _;
use statrs::function::gamma::{gamma_lr, gamma_ur};

use super::check::{expand_pair, sanitize, validate, xlogy, Check, Requirement};
use super::special::{digamma_tensor, lgamma, ln_gamma};
use super::{Distribution, Entropy, Rsample};
use crate::error::Result;
use crate::noise;

/// The Gamma distribution with shape `concentration` (`alpha`) and `rate` (`beta`),
/// elementwise:
///
/// `p(x) = beta^alpha x^(alpha - 1) exp(-beta x) / Gamma(alpha)` for `x >= 0`.
///
/// Mean `alpha / beta`, variance `alpha / beta^2`. The KL against another Gamma is in closed
/// form.
///
/// # Reparameterization
///
/// `rsample` is differentiable in both parameters: `x = g / beta` with `g ~ Gamma(alpha, 1)`,
/// and the gradient of `g` in `alpha` is the **implicit reparameterization** gradient of
/// Figurnov, Mohamed & Mnih (2018, eq. 6): holding the CDF value `u = P(alpha, g)` fixed,
/// `dg / dalpha = -(dP(alpha, g) / dalpha) / p(g; alpha)`, with `P` the regularized lower
/// incomplete gamma function. The draw itself comes from `rand_distr::Gamma` (Marsaglia &
/// Tsang 2000) on the host, from the seeded [`crate::noise`] source, so `alpha` is read back
/// once per draw; `dP / dalpha` is a central difference of statrs's `gamma_lr` / `gamma_ur`
/// (whichever is the smaller tail, so it keeps its relative precision), with a step of
/// `1e-4 min(alpha, sqrt(alpha))`. The draw enters the graph as
/// `g + (alpha - detach(alpha)) dg/dalpha`: the value is `g`, the gradient `dg/dalpha`.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, Gamma, Rsample};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let g = Gamma::new(Tensor::<1>::from_floats([2.0, 0.5], &device), Tensor::<1>::ones([2], &device))?;
/// let x = g.rsample(); // differentiable in concentration and rate
/// assert_eq!(g.log_prob(x).dims(), [2]);
/// assert!(Gamma::new(Tensor::<1>::zeros([1], &device), Tensor::<1>::ones([1], &device)).is_err());
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Gamma<const D: usize> {
    concentration: Tensor<D>,
    rate: Tensor<D>,
}

impl<const D: usize> Gamma<D> {
    /// A Gamma with shape `concentration` and inverse scale `rate` (broadcast to a common shape).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if either is not `> 0` and
    /// finite; [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not
    /// broadcast.
    pub fn new(concentration: Tensor<D>, rate: Tensor<D>) -> Result<Self> {
        validate(
            "Gamma",
            &[
                Check {
                    field: "concentration",
                    tensor: &concentration,
                    requirement: Requirement::Positive,
                    fix: "use a positive shape alpha (e.g. softplus of a learnt value)",
                },
                Check {
                    field: "rate",
                    tensor: &rate,
                    requirement: Requirement::Positive,
                    fix: "use a positive rate beta (1 / scale)",
                },
            ],
        )?;
        Self::from_parts(concentration, rate)
    }

    /// Like [`Gamma::new`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// If the shapes of `concentration` and `rate` do not broadcast.
    pub fn new_unchecked(concentration: Tensor<D>, rate: Tensor<D>) -> Self {
        Self::from_parts(concentration, rate).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(concentration: Tensor<D>, rate: Tensor<D>) -> Result<Self> {
        let (concentration, rate) = expand_pair("Gamma", ("concentration", concentration), ("rate", rate))?;
        Ok(Self { concentration, rate })
    }

    /// The shape `alpha`.
    pub fn concentration(&self) -> Tensor<D> {
        self.concentration.clone()
    }

    /// The rate `beta`.
    pub fn rate(&self) -> Tensor<D> {
        self.rate.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.concentration.dims()
    }
}

impl<const D: usize> Distribution<D> for Gamma<D> {
    fn sample(&self) -> Tensor<D> {
        (standard_gamma(&self.concentration, false) / self.rate.clone()).detach()
    }

    /// `alpha ln beta + (alpha - 1) ln x - beta x - ln Gamma(alpha)`; `-inf` for `x < 0`.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = value.clone().lower_elem(0.0);
        let x = sanitize(value, outside.clone(), 1.0);
        let (a, b) = (self.concentration.clone(), self.rate.clone());
        let lp = a.clone() * b.clone().log() + xlogy(a.clone().sub_scalar(1.0), x.clone()) - b * x - lgamma(a);
        lp.mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `alpha / beta`.
    fn mean(&self) -> Tensor<D> {
        self.concentration.clone() / self.rate.clone()
    }

    /// `alpha / beta^2`.
    fn variance(&self) -> Tensor<D> {
        self.concentration.clone() / self.rate.clone().square()
    }
}

impl<const D: usize> Rsample<D> for Gamma<D> {
    /// `g / beta` with `g ~ Gamma(alpha, 1)` implicitly reparameterized (see the type's docs).
    fn rsample(&self) -> Tensor<D> {
        standard_gamma(&self.concentration, true) / self.rate.clone()
    }
}

impl<const D: usize> Entropy<D> for Gamma<D> {
    /// `alpha - ln beta + ln Gamma(alpha) + (1 - alpha) psi(alpha)`.
    fn entropy(&self) -> Tensor<D> {
        let a = self.concentration.clone();
        a.clone() - self.rate.clone().log() + lgamma(a.clone()) + a.clone().neg().add_scalar(1.0) * digamma_tensor(a)
    }
}

/// `g ~ Gamma(alpha, 1)` elementwise, drawn on the host. With `reparameterized` (and `alpha` on
/// an autodiff device) the result carries the implicit reparameterization gradient
/// `dg / dalpha` (see [`Gamma`]); without, it is a constant and the gradient is not computed.
pub(crate) fn standard_gamma<const D: usize>(alpha: &Tensor<D>, reparameterized: bool) -> Tensor<D> {
    let (shape, device, dtype) = (alpha.dims(), alpha.device(), alpha.dtype());
    let a: Vec<f64> = alpha.clone().detach().into_data().iter::<f64>().collect();
    let g: Vec<f64> = noise::with_rng(|rng| {
        a.iter().map(|&a| rand_distr::Gamma::new(a, 1.0).map(|d| d.sample(rng)).unwrap_or(f64::NAN)).collect()
    });
    let upload = |v: Vec<f64>| Tensor::<D>::from_data(TensorData::new(v, shape), (&device, dtype));
    if !(reparameterized && alpha.is_autodiff()) {
        return upload(g);
    }
    let dg: Vec<f64> = a.iter().zip(&g).map(|(&a, &g)| dx_dalpha(a, g)).collect();
    upload(g) + (alpha.clone() - alpha.clone().detach()) * upload(dg)
}

/// `dx / dalpha = -(dP(alpha, x) / dalpha) / p(x; alpha)` for `x ~ Gamma(alpha, 1)`, at a fixed
/// CDF value (0 where it is not finite, e.g. a draw that underflowed to 0).
pub(crate) fn dx_dalpha(alpha: f64, x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite() && alpha > 0.0 && alpha.is_finite()) {
        return 0.0;
    }
    let h = 1e-4 * alpha.min(alpha.sqrt());
    // The smaller tail keeps its relative precision: P below the mode region, Q above.
    let d_cdf = if x < 1.0 || x <= alpha {
        (gamma_lr(alpha + h, x) - gamma_lr(alpha - h, x)) / (2.0 * h)
    } else {
        -(gamma_ur(alpha + h, x) - gamma_ur(alpha - h, x)) / (2.0 * h)
    };
    let log_density = (alpha - 1.0) * x.ln() - x - ln_gamma(alpha);
    let d = -d_cdf / log_density.exp();
    if d.is_finite() {
        d
    } else {
        0.0
    }
}
