//! The continuous uniform distribution.

use burn::prelude::*;

use super::check::{expand_pair, host_noise, open_unit, unravel};
use super::constraint::Constraint;
use super::{Distribution, Entropy, Rsample};
use crate::error::{Error, Result};

/// The uniform distribution on `[low, high]`, elementwise: `p(x) = 1 / (high - low)` there,
/// 0 elsewhere.
///
/// Mean `(low + high) / 2`, variance `(high - low)^2 / 12`. `rsample` is
/// `low + (high - low) u` with `u ~ U(0, 1)`, differentiable in both bounds.
///
/// As a `sample!` site its support is [`Constraint::Interval`], which needs one interval for
/// the whole batch: [`Uniform::new`] records the bounds when every element has the same ones
/// (read back with the validation, no extra transfer). A Uniform with per-element bounds, or
/// one built by [`Uniform::new_unchecked`], works everywhere except as a latent site of SVI or
/// NUTS, where the interval is needed: there its support is an interval with NaN bounds, which
/// [`Constraint`] rejects with a typed error.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, Uniform};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let d = Uniform::new(Tensor::<1>::zeros([2], &device), Tensor::<1>::full([2], 4.0, &device))?;
/// let v: Vec<f32> = d.log_prob(Tensor::from_floats([1.0, 5.0], &device)).into_data().convert::<f32>().try_to_vec().unwrap();
/// assert!((v[0] + 4f32.ln()).abs() < 1e-6);
/// assert_eq!(v[1], f32::NEG_INFINITY); // outside [low, high]
/// assert!(Uniform::new(Tensor::<1>::ones([1], &device), Tensor::<1>::zeros([1], &device)).is_err());
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Uniform<const D: usize> {
    low: Tensor<D>,
    high: Tensor<D>,
    /// The bounds, where they are the same for every element (known after `new`).
    interval: Option<(f64, f64)>,
}

impl<const D: usize> Uniform<D> {
    /// A uniform on `[low, high]` (broadcast to a common shape).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if a bound is not finite or `high <= low` somewhere (one
    /// host read-back of both bounds); [`Error::ShapeMismatch`] if the shapes do not broadcast.
    pub fn new(low: Tensor<D>, high: Tensor<D>) -> Result<Self> {
        let (low, high) = expand_pair("Uniform", ("low", low), ("high", high))?;
        let dims = low.dims();
        let n: usize = dims.iter().product();
        let both = Tensor::cat(vec![low.clone().detach().reshape([n]), high.clone().detach().reshape([n])], 0);
        let values: Vec<f64> = both.into_data().iter::<f64>().collect();
        let (lo, hi) = values.split_at(n);
        let at = |i: usize| format!("(at index {:?})", unravel(i, &dims));
        for (field, bounds) in [("low", lo), ("high", hi)] {
            if let Some(i) = bounds.iter().position(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    "Uniform",
                    field,
                    format!("{} {}", bounds[i], at(i)),
                    "finite",
                    "use finite bounds (for a half-line use Exponential or HalfNormal)",
                ));
            }
        }
        if let Some(i) = (0..n).find(|&i| hi[i] <= lo[i]) {
            return Err(Error::invalid(
                "Uniform",
                "high",
                format!("{} {}, where low is {}", hi[i], at(i), lo[i]),
                "> low",
                "use high > low (swap the bounds if they are reversed)",
            ));
        }
        let constant = |b: &[f64]| b.first().filter(|&&first| b.iter().all(|&v| v == first)).copied();
        let interval = constant(lo).zip(constant(hi));
        Ok(Self { low, high, interval })
    }

    /// Like [`Uniform::new`] without the value checks (no host read-back); the interval of the
    /// support is then unknown (see the type's docs).
    ///
    /// # Panics
    /// If the shapes of `low` and `high` do not broadcast.
    pub fn new_unchecked(low: Tensor<D>, high: Tensor<D>) -> Self {
        let (low, high) = expand_pair("Uniform", ("low", low), ("high", high)).unwrap_or_else(|e| panic!("{e}"));
        Self { low, high, interval: None }
    }

    /// The lower bound.
    pub fn low(&self) -> Tensor<D> {
        self.low.clone()
    }

    /// The upper bound.
    pub fn high(&self) -> Tensor<D> {
        self.high.clone()
    }

    /// The batch shape.
    pub fn dims(&self) -> [usize; D] {
        self.low.dims()
    }

    /// [`Constraint::Interval`] with the bounds shared by every element, or NaN bounds where
    /// they differ between elements or were not read (`new_unchecked`).
    pub fn support(&self) -> Constraint {
        let (low, high) = self.interval.unwrap_or((f64::NAN, f64::NAN));
        Constraint::Interval { low, high }
    }
}

impl<const D: usize> Distribution<D> for Uniform<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    /// `-ln(high - low)` on `[low, high]`, `-inf` outside.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let width = self.high.clone() - self.low.clone();
        // Compared through z = (x - low) / width, whose shape is the broadcast one.
        let z = (value - self.low.clone()) / width.clone();
        let outside = z.clone().lower_elem(0.0).bool_or(z.clone().greater_elem(1.0));
        (z.zeros_like() - width.log()).mask_fill(outside, f64::NEG_INFINITY)
    }

    /// `(low + high) / 2`.
    fn mean(&self) -> Tensor<D> {
        (self.low.clone() + self.high.clone()).mul_scalar(0.5)
    }

    /// `(high - low)^2 / 12`.
    fn variance(&self) -> Tensor<D> {
        (self.high.clone() - self.low.clone()).square().div_scalar(12.0)
    }
}

impl<const D: usize> Rsample<D> for Uniform<D> {
    /// `low + (high - low) u`, `u ~ U(0, 1)` drawn on the host.
    fn rsample(&self) -> Tensor<D> {
        let u = host_noise(self.dims(), &self.low.device(), self.low.dtype(), open_unit);
        self.low.clone() + (self.high.clone() - self.low.clone()) * u
    }
}

impl<const D: usize> Entropy<D> for Uniform<D> {
    /// `ln(high - low)`.
    fn entropy(&self) -> Tensor<D> {
        (self.high.clone() - self.low.clone()).log()
    }
}
