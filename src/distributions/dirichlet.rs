//! The Dirichlet distribution.

use burn::prelude::*;

use super::check::{tiny, validate, xlogy, Check, Requirement};
use super::gamma::standard_gamma;
use super::special::{digamma_tensor, lgamma};
use super::{Distribution, Entropy, Rsample};
use crate::error::{Error, Result};

/// The Dirichlet distribution over the probability simplex of the **last dimension** (`K`
/// categories), with concentrations `alpha` (`[..., K]`):
///
/// `p(x) = Gamma(alpha_0) / prod_k Gamma(alpha_k) * prod_k x_k^(alpha_k - 1)`,
/// `alpha_0 = sum_k alpha_k`.
///
/// One random vector per row: `sample()`, `mean()` and `variance()` have the shape `[..., K]`
/// of the parameters, while `log_prob` and `entropy` sum over the event and keep it as a
/// dimension of size 1 (`[..., 1]`), as [`Categorical`](super::Categorical) does. `K = 2` is the
/// [`Beta`](super::Beta) of the first coordinate. `rsample` normalises `K` implicitly
/// reparameterized Gamma draws (see [`Gamma`](super::Gamma)), so it is differentiable in
/// `alpha`. The KL against another Dirichlet is in closed form. As a `sample!` site its support
/// is [`Constraint::Simplex`](super::Constraint::Simplex).
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Dirichlet, Distribution, Rsample};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = Dirichlet::new(Tensor::<2>::from_floats([[1.0, 2.0, 3.0]], &device))?;
/// let x = d.rsample(); // [1, 3], a point on the simplex
/// assert_eq!(d.log_prob(x).dims(), [1, 1]);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dirichlet<const D: usize> {
    concentration: Tensor<D>,
}

impl<const D: usize> Dirichlet<D> {
    /// A Dirichlet with concentrations `concentration` over the last dimension (`K >= 2`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the last dimension has fewer than 2 categories;
    /// [`Error::InvalidParameter`] if a concentration is not `> 0` and finite.
    pub fn new(concentration: Tensor<D>) -> Result<Self> {
        check_categories(concentration.dims())?;
        validate(
            "Dirichlet",
            &[Check {
                field: "concentration",
                tensor: &concentration,
                requirement: Requirement::Positive,
                fix: "use positive concentrations (1 everywhere is uniform on the simplex)",
            }],
        )?;
        Ok(Self { concentration })
    }

    /// Like [`Dirichlet::new`] without the value check (no host read-back).
    ///
    /// # Panics
    /// If the last dimension has fewer than 2 categories.
    pub fn new_unchecked(concentration: Tensor<D>) -> Self {
        check_categories(concentration.dims()).unwrap_or_else(|e| panic!("{e}"));
        Self { concentration }
    }

    /// The concentrations `alpha`, `[..., K]`.
    pub fn concentration(&self) -> Tensor<D> {
        self.concentration.clone()
    }

    /// The shape of the parameters, `[..., K]` (the batch shape with the event last).
    pub fn dims(&self) -> [usize; D] {
        self.concentration.dims()
    }

    /// `alpha_0 = sum_k alpha_k`, `[..., 1]`.
    fn total(&self) -> Tensor<D> {
        self.concentration.clone().sum_dim(D - 1)
    }

    fn draw(&self, reparameterized: bool) -> Tensor<D> {
        let g = standard_gamma(&self.concentration, reparameterized);
        // Keeps a coordinate whose Gamma draw underflowed (tiny alpha) off exactly 0.
        let g = g.clamp_min(tiny(self.concentration.dtype()));
        g.clone() / g.sum_dim(D - 1)
    }
}

fn check_categories<const D: usize>(dims: [usize; D]) -> Result<()> {
    match dims.last() {
        Some(&k) if k >= 2 => Ok(()),
        _ => Err(Error::shape(
            "Dirichlet",
            "concentration",
            "[..., K] with K >= 2 categories along the last dimension",
            &dims,
            "give one concentration per category along the last dimension (at least two)",
        )),
    }
}

impl<const D: usize> Distribution<D> for Dirichlet<D> {
    fn sample(&self) -> Tensor<D> {
        self.draw(false).detach()
    }

    /// `sum_k (alpha_k - 1) ln x_k + ln Gamma(alpha_0) - sum_k ln Gamma(alpha_k)`, shape
    /// `[..., 1]`; `-inf` where a coordinate is negative (the sum to 1 is not checked).
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let outside = value.clone().lower_elem(0.0);
        let x = value.mask_fill(outside.clone(), 1.0);
        let a = self.concentration.clone();
        let kernel = xlogy(a.clone().sub_scalar(1.0), x).mask_fill(outside, f64::NEG_INFINITY);
        kernel.sum_dim(D - 1) + lgamma(self.total()) - lgamma(a).sum_dim(D - 1)
    }

    /// `alpha / alpha_0`.
    fn mean(&self) -> Tensor<D> {
        self.concentration.clone() / self.total()
    }

    /// `alpha (alpha_0 - alpha) / (alpha_0^2 (alpha_0 + 1))`.
    fn variance(&self) -> Tensor<D> {
        let (a, a0) = (self.concentration.clone(), self.total());
        a.clone() * (a0.clone() - a) / (a0.clone().square() * a0.add_scalar(1.0))
    }
}

impl<const D: usize> Rsample<D> for Dirichlet<D> {
    /// `g / sum_k g_k` of implicitly reparameterized draws `g_k ~ Gamma(alpha_k, 1)`.
    fn rsample(&self) -> Tensor<D> {
        self.draw(true)
    }
}

impl<const D: usize> Entropy<D> for Dirichlet<D> {
    /// `ln B(alpha) + (alpha_0 - K) psi(alpha_0) - sum_k (alpha_k - 1) psi(alpha_k)`, `[..., 1]`.
    fn entropy(&self) -> Tensor<D> {
        let (a, a0) = (self.concentration.clone(), self.total());
        let k = self.dims()[D - 1] as f64;
        let ln_b = lgamma(a.clone()).sum_dim(D - 1) - lgamma(a0.clone());
        ln_b + a0.clone().sub_scalar(k) * digamma_tensor(a0)
            - (a.clone().sub_scalar(1.0) * digamma_tensor(a)).sum_dim(D - 1)
    }
}
