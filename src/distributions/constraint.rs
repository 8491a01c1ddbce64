//! [`Constraint`]: the support of a site, and the bijection from `R^n` onto it that inference
//! runs through.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::tensor::TensorData;

use crate::error::{Error, Result};
// Its derivative at exactly 0 is 1/2, which matters here: `u = 0` is a common starting point
// for samplers.
use crate::posterior::softplus;

/// Where a site's values live, and how an unconstrained real vector is mapped onto that set.
///
/// Each continuous constraint is a bijection `x = T(u)` from `R^m` onto the support with a
/// log-Jacobian `log |det dT/du|`; inference (SVI guides, [`ModelPotential`](crate::infer::ModelPotential)
/// for NUTS) works on `u` and adds the log-Jacobian, so it targets the right density.
///
/// | constraint | support | `T(u)` | `log |det J|` |
/// | --- | --- | --- | --- |
/// | `Real` | `R` | `u` | `0` |
/// | `Positive` | `(0, inf)` | `exp(u)` | `sum u` |
/// | `PositiveSoftplus` | `(0, inf)` | `ln(1 + e^u)` | `sum ln sigmoid(u)` |
/// | `UnitInterval` | `(0, 1)` | `sigmoid(u)` | `sum ln sigmoid(u) + ln sigmoid(-u)` |
/// | `Interval { low, high }` | `(low, high)` | `low + (high - low) sigmoid(u)` | `sum ln(high - low) + ln sigmoid(u) + ln sigmoid(-u)` |
/// | `GreaterThan { low }` | `(low, inf)` | `low + exp(u)` | `sum u` |
/// | `LessThan { high }` | `(-inf, high)` | `high - exp(u)` | `sum u` |
/// | `Ordered` | increasing vectors over the last dimension | `x_0 = u_0`, `x_k = x_(k-1) + exp(u_k)` | `sum_(k >= 1) u_k` |
/// | `PositiveOrdered` | increasing positive vectors over the last dimension | `x_0 = exp(u_0)`, `x_k = x_(k-1) + exp(u_k)` | `sum u` |
/// | `Simplex` | `{x >= 0, sum x = 1}` over the last dimension (`K`) | stick-breaking from `R^(K-1)` | see [`Constraint::forward`] |
/// | `CorrCholesky` | Cholesky factors `[..., n, n]` of correlation matrices | `tanh` then stick-breaking, row by row, from `R^(n (n - 1) / 2)` | see [`Constraint::forward`] |
/// | `Discrete` | integers (Bernoulli, Categorical) | none: cannot be a latent of SVI/NUTS | |
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Constraint {
    /// The real line (identity transform).
    Real,
    /// Positive reals through `exp` (NumPyro's default).
    Positive,
    /// Positive reals through `softplus` (gentler than `exp` for large values).
    PositiveSoftplus,
    /// The open unit interval through the logistic sigmoid.
    UnitInterval,
    /// The open interval `(low, high)` through a scaled sigmoid (the support of a
    /// [`Uniform`](super::Uniform) with the same bounds for every element). Bounds that are not
    /// finite with `low < high` (a Uniform with per-element bounds reports NaN ones) are an
    /// [`Error::Model`] wherever the bijection is needed.
    Interval {
        /// The lower bound.
        low: f64,
        /// The upper bound.
        high: f64,
    },
    /// The half-line `(low, inf)` through `low + exp(u)` (Stan's `<lower=a>`, NumPyro's
    /// `greater_than(a)`). A bound that is not finite is an [`Error::Model`] wherever the
    /// bijection is needed.
    GreaterThan {
        /// The lower bound.
        low: f64,
    },
    /// The half-line `(-inf, high)` through `high - exp(u)` (Stan's `<upper=b>`, NumPyro's
    /// `less_than(b)`). A bound that is not finite is an [`Error::Model`] wherever the
    /// bijection is needed.
    LessThan {
        /// The upper bound.
        high: f64,
    },
    /// Strictly increasing vectors over the last dimension (Stan's `ordered[K]`, NumPyro's
    /// `ordered_vector`): the first element free, each next one the previous plus `exp(u_k)`.
    Ordered,
    /// Strictly increasing positive vectors over the last dimension (Stan's
    /// `positive_ordered[K]`, NumPyro's `positive_ordered_vector`): `x_0 = exp(u_0)`, each next
    /// element the previous plus `exp(u_k)`.
    PositiveOrdered,
    /// The probability simplex over the last dimension, through stick-breaking (Stan's
    /// transform, with the `ln(K - 1 - k)` offsets that map `u = 0` to the uniform vector).
    Simplex,
    /// Lower-triangular Cholesky factors of correlation matrices over the last two dimensions
    /// (`[..., n, n]`, rows of unit norm, positive diagonal): the support of
    /// [`LKJCholesky`](super::LKJCholesky). The bijection is Stan's and NumPyro's
    /// (`CorrCholeskyTransform`): canonical partial correlations `z = tanh(u)`, then each row
    /// broken from a stick of unit length.
    CorrCholesky,
    /// A discrete support: no bijection to `R`.
    Discrete,
}

fn interval_error(low: f64, high: f64) -> Error {
    Error::Model {
        site: "a value on an interval".to_string(),
        problem: format!(
            "has the support Interval {{ low: {low}, high: {high} }}, which is not one finite interval with low < high \
             (NaN bounds: a Uniform whose bounds differ between elements, or built by Uniform::new_unchecked)"
        ),
        fix:
            "give a latent Uniform the same finite bounds for every element, built with Uniform::new \
              (or sample a standard Uniform(0, 1) and scale it by hand); per-element bounds are fine for observed sites",
    }
}

fn bound_error(constraint: Constraint, bound: f64) -> Error {
    Error::Model {
        site: "a value on a half-line".to_string(),
        problem: format!("has the support {constraint:?}, whose bound {bound} is not finite"),
        fix: "give GreaterThan / LessThan a finite bound (use Constraint::Real for no bound at all)",
    }
}

/// `(rows, K)` of a value with an ordering along its last dimension `[..., K]`, `K >= 1`.
fn ordered_rows(constraint: Constraint, shape: &[usize]) -> Result<(usize, usize)> {
    match shape.last() {
        Some(&k) if k >= 1 => Ok((shape.iter().product::<usize>() / k, k)),
        _ => Err(Error::shape(
            if constraint == Constraint::Ordered { "Constraint::Ordered" } else { "Constraint::PositiveOrdered" },
            "shape",
            "[..., K] with K >= 1 elements along the last dimension (the ordered one)",
            shape,
            "give the ordered vector a last dimension of at least one element",
        )),
    }
}

/// `x = cumsum([u_0 or exp(u_0), exp(u_1), ...])` per row, and the log-Jacobian.
fn ordered_forward(u: Tensor<1>, rows: usize, k: usize, positive: bool) -> (Tensor<1>, Tensor<1>) {
    let u = u.reshape([rows, k]);
    let first = u.clone().slice(s![.., 0..1]);
    let (first, mut log_det) =
        if positive { (first.clone().exp(), first.sum()) } else { (first.clone(), first.sum().mul_scalar(0.0)) };
    let steps = if k > 1 {
        let rest = u.slice(s![.., 1..k]);
        log_det = log_det + rest.clone().sum();
        Tensor::cat(vec![first, rest.exp()], 1)
    } else {
        first
    };
    (steps.cumsum(1).reshape([rows * k]), log_det)
}

/// The inverse of [`ordered_forward`].
fn ordered_inverse(x: Tensor<1>, rows: usize, k: usize, positive: bool) -> Tensor<1> {
    let x = x.reshape([rows, k]);
    let first = x.clone().slice(s![.., 0..1]);
    let first = if positive { first.log() } else { first };
    let u = if k > 1 {
        let gaps = x.clone().slice(s![.., 1..k]) - x.slice(s![.., 0..(k - 1)]);
        Tensor::cat(vec![first, gaps.log()], 1)
    } else {
        first
    };
    u.reshape([rows * k])
}

fn discrete_error(what: &str) -> Error {
    Error::Model {
        site: what.to_string(),
        problem: "has a discrete support, which has no bijection to the real line".to_string(),
        fix: "observe or condition discrete sites; only continuous latents can be inferred by SVI or NUTS",
    }
}

/// `(rows, K)` of a simplex-valued shape `[..., K]`, `K >= 2`.
fn simplex_rows(shape: &[usize]) -> Result<(usize, usize)> {
    match shape.last() {
        Some(&k) if k >= 2 => Ok((shape.iter().product::<usize>() / k, k)),
        _ => Err(Error::shape(
            "Constraint::Simplex",
            "shape",
            "[..., K] with K >= 2 categories along the last dimension",
            shape,
            "give the simplex at least two categories in its last dimension",
        )),
    }
}

/// `[K-1, K-1]` with ones strictly above the diagonal: `v.matmul(upper)` is the exclusive
/// cumulative sum along the last dimension.
fn strict_upper(m: usize, device: &Device) -> Tensor<2> {
    let mut data = vec![0.0f32; m * m];
    for j in 0..m {
        for k in (j + 1)..m {
            data[j * m + k] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(data, [m, m]), device)
}

/// The stick-breaking offsets `ln(K - 1 - k)`, `k = 0..K-1`, as `[1, K-1]`.
fn offsets(k: usize, device: &Device) -> Tensor<2> {
    let data: Vec<f32> = (0..k - 1).map(|i| ((k - 1 - i) as f32).ln()).collect();
    Tensor::from_data(TensorData::new(data, [1, k - 1]), device)
}

/// `(rows, n)` of a value of shape `[..., n, n]`, `n >= 2`.
fn corr_cholesky_rows(shape: &[usize]) -> Result<(usize, usize)> {
    match shape {
        [.., a, b] if a == b && *a >= 2 => Ok((shape.iter().product::<usize>() / (a * b), *a)),
        _ => Err(Error::shape(
            "Constraint::CorrCholesky",
            "shape",
            "[..., n, n] with n >= 2",
            shape,
            "give the Cholesky factors of n x n correlation matrices, n >= 2, in the last two dimensions",
        )),
    }
}

/// `ln(1 - tanh(u)^2) = 2 (ln 2 - |u| - ln(1 + e^(-2 |u|)))`, without cancellation for large `|u|`.
fn ln_one_minus_tanh_sq<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    let a = u.abs();
    (a.clone().neg() - a.mul_scalar(-2.0).exp().log1p()).add_scalar(std::f64::consts::LN_2).mul_scalar(2.0)
}

impl Constraint {
    /// Length of the unconstrained vector for a value of `shape` (`K - 1` per row for a simplex).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for a simplex with fewer than 2 categories; [`Error::Model`]
    /// for a discrete support.
    pub fn unconstrained_len(&self, shape: &[usize]) -> Result<usize> {
        match self {
            Constraint::Simplex => simplex_rows(shape).map(|(rows, k)| rows * (k - 1)),
            Constraint::Discrete => Err(discrete_error("a discrete value")),
            Constraint::CorrCholesky => corr_cholesky_rows(shape).map(|(rows, n)| rows * n * (n - 1) / 2),
            Constraint::Interval { low, high } if !(low.is_finite() && high.is_finite() && low < high) => {
                Err(interval_error(*low, *high))
            }
            Constraint::GreaterThan { low: bound } | Constraint::LessThan { high: bound } if !bound.is_finite() => {
                Err(bound_error(*self, *bound))
            }
            Constraint::Ordered | Constraint::PositiveOrdered => ordered_rows(*self, shape).map(|(rows, k)| rows * k),
            _ => Ok(shape.iter().product()),
        }
    }

    /// `x = T(u)` and `log |det dT/du|` (shape `[1]`), for a value of `shape` (`u` flat).
    ///
    /// For the simplex, with `z_k = sigmoid(u_k - ln(K - 1 - k))` and the remaining stick
    /// `r_k = prod_{j<k} (1 - z_j)`: `x_k = z_k r_k` (`k < K - 1`), `x_{K-1} = r_{K-1}`, and the
    /// Jacobian is triangular with `log |det| = sum_k ln z_k + ln(1 - z_k) + ln r_k` (Stan
    /// reference manual, "Unit simplex").
    ///
    /// For the correlation Cholesky factor, with `z = tanh(u)` taken row by row (row `i` has
    /// `i` free entries): `L_i0 = z_i0`, `L_ij = z_ij sqrt(1 - sum_{k<j} L_ik^2)`,
    /// `L_ii = sqrt(1 - sum_{k<i} L_ik^2)`, and
    /// `log |det| = sum_{i>j} ln(1 - z_ij^2) + ln(1 - sum_{k<j} L_ik^2) / 2`, the Jacobian taken
    /// with respect to the strictly lower-triangular entries (the measure the LKJ density is
    /// written in).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `u` has the wrong length; [`Error::Model`] for a discrete support.
    pub fn forward(&self, u: Tensor<1>, shape: &[usize]) -> Result<(Tensor<1>, Tensor<1>)> {
        let m = self.unconstrained_len(shape)?;
        if u.dims()[0] != m {
            return Err(Error::shape(
                "Constraint::forward",
                "u",
                format!("[{m}] (unconstrained length for shape {shape:?})"),
                &u.dims(),
                "pass the unconstrained vector of the site",
            ));
        }
        Ok(match self {
            Constraint::Real => {
                let zero = u.clone().sum().mul_scalar(0.0);
                (u, zero)
            }
            Constraint::Positive => (u.clone().exp(), u.sum()),
            Constraint::PositiveSoftplus => (softplus(u.clone()), softplus(u.neg()).sum().neg()),
            Constraint::UnitInterval => {
                let log_det = (softplus(u.clone().neg()) + softplus(u.clone())).sum().neg();
                (sigmoid(u), log_det)
            }
            Constraint::Interval { low, high } => {
                let width = high - low;
                let log_det =
                    (softplus(u.clone().neg()) + softplus(u.clone())).sum().neg().add_scalar(m as f64 * width.ln());
                (sigmoid(u).mul_scalar(width).add_scalar(*low), log_det)
            }
            Constraint::GreaterThan { low } => (u.clone().exp().add_scalar(*low), u.sum()),
            Constraint::LessThan { high } => (u.clone().exp().neg().add_scalar(*high), u.sum()),
            Constraint::Ordered | Constraint::PositiveOrdered => {
                let (rows, k) = ordered_rows(*self, shape)?;
                ordered_forward(u, rows, k, *self == Constraint::PositiveOrdered)
            }
            Constraint::Simplex => {
                let (rows, k) = simplex_rows(shape)?;
                let device = u.device();
                let a = u.reshape([rows, k - 1]) - offsets(k, &device);
                let log_z = softplus(a.clone().neg()).neg();
                let log_1mz = softplus(a).neg();
                let log_r = log_1mz.clone().matmul(strict_upper(k - 1, &device));
                let last = (log_r.clone().slice(s![.., (k - 2)..(k - 1)])
                    + log_1mz.clone().slice(s![.., (k - 2)..(k - 1)]))
                .exp();
                let head = (log_z.clone() + log_r.clone()).exp();
                let x = Tensor::cat(vec![head, last], 1).reshape([rows * k]);
                let log_det = (log_z + log_1mz + log_r).sum();
                (x, log_det)
            }
            Constraint::CorrCholesky => {
                let (rows, n) = corr_cholesky_rows(shape)?;
                let u = u.reshape([rows, n * (n - 1) / 2]);
                let z = u.clone().tanh();
                let mut log_det = ln_one_minus_tanh_sq(u).sum();
                let one = z.clone().slice(s![.., 0..1]).ones_like();
                let mut entries: Vec<Tensor<2>> = Vec::with_capacity(n * n);
                entries.push(one.clone());
                entries.extend((1..n).map(|_| one.zeros_like()));
                let mut at = 0;
                for i in 1..n {
                    let mut remaining = one.clone();
                    for _ in 0..i {
                        let zij = z.clone().slice(s![.., at..at + 1]);
                        at += 1;
                        log_det = log_det + remaining.clone().log().sum().mul_scalar(0.5);
                        let x = zij * remaining.clone().sqrt();
                        remaining = remaining - x.clone().square();
                        entries.push(x);
                    }
                    entries.push(remaining.sqrt());
                    entries.extend(((i + 1)..n).map(|_| one.zeros_like()));
                }
                (Tensor::cat(entries, 1).reshape([rows * n * n]), log_det)
            }
            Constraint::Discrete => unreachable!("rejected by unconstrained_len"),
        })
    }

    /// `u = T^{-1}(x)` for a value `x` (flat) of `shape`.
    ///
    /// # Errors
    /// As [`Constraint::forward`].
    pub fn inverse(&self, x: Tensor<1>, shape: &[usize]) -> Result<Tensor<1>> {
        self.unconstrained_len(shape)?;
        Ok(match self {
            Constraint::Real => x,
            Constraint::Positive => x.log(),
            // ln(e^x - 1) = x + ln(1 - e^-x)
            Constraint::PositiveSoftplus => x.clone() + x.neg().exp().neg().log1p(),
            Constraint::UnitInterval => x.clone().log() - x.neg().log1p(),
            Constraint::Interval { low, high } => {
                let p = x.sub_scalar(*low).div_scalar(high - low);
                p.clone().log() - p.neg().log1p()
            }
            Constraint::GreaterThan { low } => x.sub_scalar(*low).log(),
            Constraint::LessThan { high } => x.neg().add_scalar(*high).log(),
            Constraint::Ordered | Constraint::PositiveOrdered => {
                let (rows, k) = ordered_rows(*self, shape)?;
                ordered_inverse(x, rows, k, *self == Constraint::PositiveOrdered)
            }
            Constraint::Simplex => {
                let (rows, k) = simplex_rows(shape)?;
                let device = x.device();
                let x = x.reshape([rows, k]);
                let head = x.slice(s![.., 0..(k - 1)]);
                let r = head.clone().matmul(strict_upper(k - 1, &device)).neg().add_scalar(1.0);
                let z = head / r;
                let logit = z.clone().log() - z.neg().log1p();
                (logit + offsets(k, &device)).reshape([rows * (k - 1)])
            }
            Constraint::CorrCholesky => {
                let (rows, n) = corr_cholesky_rows(shape)?;
                let x = x.reshape([rows, n * n]);
                let mut free: Vec<Tensor<2>> = Vec::with_capacity(n * (n - 1) / 2);
                for i in 1..n {
                    let mut remaining = x.clone().slice(s![.., 0..1]).ones_like();
                    for j in 0..i {
                        let xij = x.clone().slice(s![.., i * n + j..i * n + j + 1]);
                        free.push((xij.clone() / remaining.clone().sqrt()).atanh());
                        remaining = remaining - xij.square();
                    }
                }
                Tensor::cat(free, 1).reshape([rows * n * (n - 1) / 2])
            }
            Constraint::Discrete => unreachable!("rejected by unconstrained_len"),
        })
    }

    /// Whether the support is continuous (has a bijection to `R^m`).
    pub fn is_continuous(&self) -> bool {
        !matches!(self, Constraint::Discrete)
    }
}
