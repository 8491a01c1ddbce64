//! The scale-mixture Gaussian prior of Blundell et al. 2015.

use burn::prelude::*;

use super::check::log_add_exp;
use super::{Distribution, LN_SQRT_2PI};
use crate::error::{check_positive, Error, Result};
use crate::noise;

/// The two-component, zero-mean scale mixture of Normals of Blundell et al. 2015 ("Weight
/// Uncertainty in Neural Networks", eq. 7):
///
/// `p(w) = pi N(w; 0, sigma1^2) + (1 - pi) N(w; 0, sigma2^2)`.
///
/// With `sigma1 > sigma2` and `sigma2 << 1` it is a spike-and-slab-like prior: many weights
/// near 0, a few large ones. The parameters are scalars shared by every element of the batch
/// shape `dims` (given at construction, as there are no tensor parameters to carry it).
///
/// It has no closed-form entropy or KL; the KL from a [`Normal`](super::Normal) posterior is a
/// one-sample Monte-Carlo estimate (see [`KlDivergence`](super::KlDivergence)), and it has no
/// reparameterized sampler (the component choice is discrete).
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{kl, Distribution, Normal, ScaleMixtureNormal};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let prior = ScaleMixtureNormal::new(0.5, 1.0, (-6.0f64).exp(), [4, 3], &device)?;
/// let posterior = Normal::new(Tensor::<2>::zeros([4, 3], &device), Tensor::<2>::full([4, 3], 0.1, &device))?;
/// let kl_estimate: Tensor<2> = kl(&posterior, &prior); // one-sample Monte Carlo, differentiable
/// assert_eq!(kl_estimate.dims(), [4, 3]);
/// assert!(ScaleMixtureNormal::new(1.5, 1.0, 0.1, [4, 3], &device).is_err()); // pi outside (0, 1)
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ScaleMixtureNormal<const D: usize> {
    pi: f64,
    sigma1: f64,
    sigma2: f64,
    dims: [usize; D],
    device: Device,
}

impl<const D: usize> ScaleMixtureNormal<D> {
    /// The mixture `pi N(0, sigma1^2) + (1 - pi) N(0, sigma2^2)` over a batch of shape `dims`
    /// on `device`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if `pi` is not in `(0, 1)`
    /// or a sigma is not `> 0` and finite.
    pub fn new(pi: f64, sigma1: f64, sigma2: f64, dims: [usize; D], device: &Device) -> Result<Self> {
        if !(pi > 0.0 && pi < 1.0) {
            return Err(Error::invalid(
                "ScaleMixtureNormal",
                "pi",
                pi,
                "in (0, 1)",
                "use a mixture weight strictly between 0 and 1 such as 0.5 (for a single Gaussian use Normal)",
            ));
        }
        check_positive("ScaleMixtureNormal", "sigma1", sigma1, "use a positive standard deviation such as 1.0")?;
        check_positive("ScaleMixtureNormal", "sigma2", sigma2, "use a positive standard deviation such as exp(-6)")?;
        Ok(Self { pi, sigma1, sigma2, dims, device: device.clone() })
    }

    /// The weight of the first component.
    pub fn pi(&self) -> f64 {
        self.pi
    }

    /// The standard deviation of the first component.
    pub fn sigma1(&self) -> f64 {
        self.sigma1
    }

    /// The standard deviation of the second component.
    pub fn sigma2(&self) -> f64 {
        self.sigma2
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.dims
    }

    /// The same mixture over another batch shape.
    pub fn with_dims<const D2: usize>(&self, dims: [usize; D2]) -> ScaleMixtureNormal<D2> {
        ScaleMixtureNormal { pi: self.pi, sigma1: self.sigma1, sigma2: self.sigma2, dims, device: self.device.clone() }
    }
}

/// Elementwise log-density of the scale mixture `pi N(0, sigma1^2) + (1 - pi) N(0, sigma2^2)`
/// at `value`, as a log-sum-exp of the two weighted component log-densities (stable when
/// either component underflows, e.g. `|w| >> sigma2`).
///
/// The parameters are not validated (see [`ScaleMixtureNormal::new`]); this is the kernel
/// behind [`ScaleMixtureNormal`]'s `log_prob`, usable on any shape.
pub fn scale_mixture_log_prob<const D: usize>(value: Tensor<D>, pi: f64, sigma1: f64, sigma2: f64) -> Tensor<D> {
    let sq = value.square();
    let a = sq.clone().div_scalar(-2.0 * sigma1 * sigma1).add_scalar(pi.ln() - sigma1.ln() - LN_SQRT_2PI);
    let b = sq.div_scalar(-2.0 * sigma2 * sigma2).add_scalar((-pi).ln_1p() - sigma2.ln() - LN_SQRT_2PI);
    log_add_exp(a, b)
}

impl<const D: usize> Distribution<D> for ScaleMixtureNormal<D> {
    /// Picks the first component with probability `pi`, then draws from it.
    fn sample(&self) -> Tensor<D> {
        let first = noise::bernoulli(self.dims, self.pi, &self.device);
        let eps = noise::normal(self.dims, &self.device);
        eps * first.mul_scalar(self.sigma1 - self.sigma2).add_scalar(self.sigma2)
    }

    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        scale_mixture_log_prob(value, self.pi, self.sigma1, self.sigma2)
    }

    /// Zero.
    fn mean(&self) -> Tensor<D> {
        Tensor::zeros(self.dims, &self.device)
    }

    /// `pi sigma1^2 + (1 - pi) sigma2^2`.
    fn variance(&self) -> Tensor<D> {
        let v = self.pi * self.sigma1 * self.sigma1 + (1.0 - self.pi) * self.sigma2 * self.sigma2;
        Tensor::full(self.dims, v, &self.device)
    }
}
