//! [`Potential`]: what a sampler needs to know of a model.

use crate::error::Result;

/// The potential energy `U(q) = -log p(q, data)` (up to a constant) of a posterior over an
/// unconstrained vector `q ∈ R^dim`, and its gradient.
///
/// Constrained parameters (a positive scale, a probability) are mapped to `R` by a bijection
/// before they reach `q`; `U` then includes `-log |det J|` of the inverse transform, so that a
/// sampler that moves freely in `R^dim` targets the right distribution.
///
/// Implemented by probabilistic programs (through their trace) and by hand-written densities.
pub trait Potential {
    /// Length of the unconstrained vector.
    fn dim(&self) -> usize;

    /// `U(q)` and `∇U(q)`.
    ///
    /// # Errors
    /// Whatever evaluating the model can fail with (e.g. a distribution parameter out of its
    /// support). A non-finite `U` is returned as a value, not an error: samplers treat it as a
    /// divergence.
    fn value_and_grad(&self, q: &[f64]) -> Result<(f64, Vec<f64>)>;
}
