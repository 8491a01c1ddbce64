//! The multivariate normal distribution, parameterized by a Cholesky factor.

use std::f64::consts::PI;

use burn::prelude::*;
use burn::tensor::TensorData;
use rand_distr::{Distribution as _, StandardNormal};

use super::check::{broadcast_shape, expand_to, host_noise, validate, Check, Requirement};
use super::{Distribution, Entropy, Rsample, LN_SQRT_2PI};
use crate::error::{Error, Result};

/// The multivariate normal `N(loc, L L^T)` over the **last dimension** (`n` coordinates), with
/// mean `loc` (`[..., n]`) and a lower-triangular Cholesky factor `scale_tril` (`L`,
/// `[..., n, n]`, positive diagonal), batched over the leading dimensions:
///
/// `ln p(x) = -|z|^2 / 2 - sum_i ln L_ii - n ln(2 pi) / 2`, `z = L^-1 (x - loc)`.
///
/// One random vector per batch element: `sample()`, `mean()` and `variance()` (the diagonal of
/// the covariance) have the shape `[..., n]` of `loc`; `log_prob` and `entropy` have `[..., 1]`.
/// The factor is stored flat, `[..., n * n]` row-major, so the type keeps the rank `D` of
/// `loc`; [`MultivariateNormal::scale_tril`] and [`MultivariateNormal::covariance`] give it back
/// as `[..., n, n]`. `z` is found by forward substitution (`n` steps of burn ops, so it is
/// differentiable and runs on any device). `rsample` is `loc + L eps` with `eps ~ N(0, I)`. The
/// KL against another multivariate normal of the same batch shape is in closed form.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, MultivariateNormal, Rsample};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let loc = Tensor::<2>::zeros([4, 2], &device); // a batch of 4 two-dimensional normals
/// let l = Tensor::<2>::from_floats([[1.0, 0.0], [0.5, 2.0]], &device).unsqueeze::<3>().expand([4, 2, 2]);
/// let d = MultivariateNormal::new(loc, l)?;
/// let x = d.rsample(); // [4, 2]
/// assert_eq!(d.log_prob(x).dims(), [4, 1]);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MultivariateNormal<const D: usize> {
    loc: Tensor<D>,
    /// `L`, `[..., n * n]` row-major.
    scale_tril: Tensor<D>,
}

const CONTEXT: &str = "MultivariateNormal";

impl<const D: usize> MultivariateNormal<D> {
    /// A multivariate normal with mean `loc` (`[..., n]`) and Cholesky factor `scale_tril`
    /// (`[..., n, n]`, rank `D + 1`); the batch dimensions broadcast.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `scale_tril` is not of rank `D + 1` with two trailing
    /// dimensions equal to `n`, or the batch shapes do not broadcast;
    /// [`Error::InvalidParameter`] if `loc` or `scale_tril` is not finite, a diagonal entry of
    /// `scale_tril` is not `> 0`, or an entry above the diagonal is not 0 (one host read-back).
    pub fn new<const E: usize>(loc: Tensor<D>, scale_tril: Tensor<E>) -> Result<Self> {
        let d = Self::from_parts(loc, scale_tril)?;
        let (diagonal, upper) = (d.diagonal(), d.upper());
        let mut checks = vec![
            Check { field: "loc", tensor: &d.loc, requirement: Requirement::Finite, fix: "use a finite mean" },
            Check {
                field: "scale_tril (flattened to [..., n * n], row-major)",
                tensor: &d.scale_tril,
                requirement: Requirement::Finite,
                fix: "use a finite Cholesky factor",
            },
            Check {
                field: "diagonal of scale_tril",
                tensor: &diagonal,
                requirement: Requirement::Positive,
                fix: "use a Cholesky factor with a positive diagonal (e.g. softplus or exp of a learnt one)",
            },
        ];
        if let Some(upper) = &upper {
            checks.push(Check {
                field: "entries above the diagonal of scale_tril (row by row)",
                tensor: upper,
                requirement: Requirement::Zero,
                fix: "pass the lower-triangular Cholesky factor L of the covariance L L^T (e.g. tensor.tril(0))",
            });
        }
        validate(CONTEXT, &checks)?;
        Ok(d)
    }

    /// Like [`MultivariateNormal::new`] without the value checks (no host read-back).
    ///
    /// # Panics
    /// On the shape errors of [`MultivariateNormal::new`].
    pub fn new_unchecked<const E: usize>(loc: Tensor<D>, scale_tril: Tensor<E>) -> Self {
        Self::from_parts(loc, scale_tril).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts<const E: usize>(loc: Tensor<D>, scale_tril: Tensor<E>) -> Result<Self> {
        let (ld, sd) = (loc.dims(), scale_tril.dims());
        let n = ld[D - 1];
        if E != D + 1 || sd[E - 1] != n || sd[E - 2] != n || n == 0 {
            return Err(Error::shape(
                CONTEXT,
                "scale_tril",
                format!("[..., {n}, {n}] of rank {} (for loc of shape {ld:?}), with n >= 1", D + 1),
                &sd,
                "pass one n x n lower-triangular factor per batch element, n the last dimension of loc",
            ));
        }
        let mut flat = [0; D];
        flat[..D - 1].copy_from_slice(&sd[..D - 1]);
        flat[D - 1] = n * n;
        let scale_tril = scale_tril.reshape(flat);
        let (mut a, mut b) = (ld, flat);
        a[D - 1] = 1;
        b[D - 1] = 1;
        let mut batch = broadcast_shape(CONTEXT, ("loc (batch dimensions)", a), ("scale_tril (batch dimensions)", b))?;
        batch[D - 1] = n;
        let loc = expand_to(loc, batch);
        batch[D - 1] = n * n;
        Ok(Self { loc, scale_tril: expand_to(scale_tril, batch) })
    }

    /// The number of coordinates `n`.
    pub fn event_size(&self) -> usize {
        self.loc.dims()[D - 1]
    }

    /// The mean `loc`, `[..., n]`.
    pub fn loc(&self) -> Tensor<D> {
        self.loc.clone()
    }

    /// The Cholesky factor `L`, `[..., n, n]` (`E` must be `D + 1`).
    ///
    /// # Panics
    /// If `E != D + 1`.
    pub fn scale_tril<const E: usize>(&self) -> Tensor<E> {
        self.scale_tril.clone().reshape(self.matrix_dims::<E>())
    }

    /// The covariance `L L^T`, `[..., n, n]` (`E` must be `D + 1`).
    ///
    /// # Panics
    /// If `E != D + 1`.
    pub fn covariance<const E: usize>(&self) -> Tensor<E> {
        let l = self.tril3();
        l.clone().matmul(l.swap_dims(1, 2)).reshape(self.matrix_dims::<E>())
    }

    /// The shape of `loc`, `[..., n]` (the batch shape with the event last).
    pub fn dims(&self) -> [usize; D] {
        self.loc.dims()
    }

    fn matrix_dims<const E: usize>(&self) -> [usize; E] {
        assert_eq!(E, D + 1, "MultivariateNormal<{D}>: the factor has rank {} ([..., n, n]), not {E}", D + 1);
        let (dims, n) = (self.dims(), self.event_size());
        let mut out = [n; E];
        out[..D - 1].copy_from_slice(&dims[..D - 1]);
        out
    }

    /// Number of batch elements (the product of the leading dimensions).
    fn batch_size(&self) -> usize {
        self.dims()[..D - 1].iter().product()
    }

    /// `L` as `[B, n, n]`.
    fn tril3(&self) -> Tensor<3> {
        let n = self.event_size();
        self.scale_tril.clone().reshape([self.batch_size(), n, n])
    }

    /// `L_ii`, `[..., n]`.
    fn diagonal(&self) -> Tensor<D> {
        let n = self.event_size();
        let idx: Vec<i64> = (0..n).map(|i| (i * n + i) as i64).collect();
        self.scale_tril.clone().select(D - 1, Tensor::from_data(TensorData::new(idx, [n]), &self.loc.device()))
    }

    /// The entries above the diagonal, `[..., n (n - 1) / 2]` (`None` for `n = 1`).
    fn upper(&self) -> Option<Tensor<D>> {
        let n = self.event_size();
        let idx: Vec<i64> = (0..n).flat_map(|i| ((i + 1)..n).map(move |j| (i * n + j) as i64)).collect();
        let m = idx.len();
        (m > 0).then(|| {
            self.scale_tril.clone().select(D - 1, Tensor::from_data(TensorData::new(idx, [m]), &self.loc.device()))
        })
    }

    /// `sum_i ln L_ii`, `[..., 1]`.
    fn half_log_det(&self) -> Tensor<D> {
        self.diagonal().log().sum_dim(D - 1)
    }

    /// `[..., n]` -> `[B, n, 1]`.
    fn column(&self, t: Tensor<D>) -> Tensor<3> {
        t.reshape([self.batch_size(), self.event_size(), 1])
    }

    /// `[B, 1, 1]` -> `[..., 1]`.
    fn per_row(&self, t: Tensor<3>) -> Tensor<D> {
        let mut dims = self.dims();
        dims[D - 1] = 1;
        t.reshape(dims)
    }

    /// The same distribution expanded to a batch of shape `dims` (`[..., n]`).
    fn expand(&self, mut dims: [usize; D]) -> Self {
        let loc = expand_to(self.loc.clone(), dims);
        dims[D - 1] = self.event_size().pow(2);
        Self { loc, scale_tril: expand_to(self.scale_tril.clone(), dims) }
    }
}

/// `X` with `L X = rhs` for lower-triangular `L` (`[B, n, n]`, `rhs` `[B, n, m]`), by forward
/// substitution, row by row.
pub(crate) fn solve_lower(l: Tensor<3>, rhs: Tensor<3>) -> Tensor<3> {
    let n = l.dims()[1];
    let mut rows: Vec<Tensor<3>> = Vec::with_capacity(n);
    for i in 0..n {
        let mut row = rhs.clone().slice(s![.., i..i + 1, ..]);
        if i > 0 {
            let solved = Tensor::cat(rows.clone(), 1);
            row = row - l.clone().slice(s![.., i..i + 1, 0..i]).matmul(solved);
        }
        rows.push(row / l.clone().slice(s![.., i..i + 1, i..i + 1]));
    }
    Tensor::cat(rows, 1)
}

impl<const D: usize> Distribution<D> for MultivariateNormal<D> {
    fn sample(&self) -> Tensor<D> {
        self.rsample().detach()
    }

    /// `-|L^-1 (x - loc)|^2 / 2 - sum_i ln L_ii - n ln(2 pi) / 2`, `[..., 1]`. `value`
    /// (`[..., n]`) broadcasts against the batch.
    ///
    /// # Panics
    /// If `value` does not broadcast against the batch shape.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let dims =
            broadcast_shape(CONTEXT, ("loc", self.dims()), ("value", value.dims())).unwrap_or_else(|e| panic!("{e}"));
        let d = self.expand(dims);
        let z = solve_lower(d.tril3(), d.column(expand_to(value, dims) - d.loc.clone()));
        let n = d.event_size() as f64;
        d.per_row(z.square().sum_dim(1)).mul_scalar(-0.5) - d.half_log_det() - n * LN_SQRT_2PI
    }

    fn mean(&self) -> Tensor<D> {
        self.loc.clone()
    }

    /// The diagonal of `L L^T`: `sum_j L_ij^2`, `[..., n]`.
    fn variance(&self) -> Tensor<D> {
        self.tril3().square().sum_dim(2).reshape(self.dims())
    }
}

impl<const D: usize> Rsample<D> for MultivariateNormal<D> {
    /// `loc + L eps`, `eps ~ N(0, I)` drawn on the host.
    fn rsample(&self) -> Tensor<D> {
        let (b, n) = (self.batch_size(), self.event_size());
        let eps = host_noise([b, n, 1], &self.loc.device(), self.loc.dtype(), |rng| StandardNormal.sample(rng));
        self.loc.clone() + self.tril3().matmul(eps).reshape(self.dims())
    }
}

impl<const D: usize> Entropy<D> for MultivariateNormal<D> {
    /// `n (1 + ln(2 pi)) / 2 + sum_i ln L_ii`, `[..., 1]`.
    fn entropy(&self) -> Tensor<D> {
        let n = self.event_size() as f64;
        self.half_log_det().add_scalar(0.5 * n * (1.0 + (2.0 * PI).ln()))
    }
}

/// `KL(N(m_p, L_p L_p^T) || N(m_q, L_q L_q^T))`
/// `= (|L_q^-1 L_p|_F^2 + |L_q^-1 (m_q - m_p)|^2 - n) / 2 + sum ln (L_q)_ii - sum ln (L_p)_ii`.
pub(crate) fn kl_mvn<const D: usize>(p: &MultivariateNormal<D>, q: &MultivariateNormal<D>) -> Tensor<D> {
    assert_eq!(p.dims(), q.dims(), "KL of multivariate normals: both need the same batch and event shape");
    let n = p.event_size() as f64;
    let lq = q.tril3();
    let trace = p.per_row(solve_lower(lq.clone(), p.tril3()).square().sum_dim(1).sum_dim(2));
    let w = solve_lower(lq, p.column(q.loc.clone() - p.loc.clone()));
    let quad = p.per_row(w.square().sum_dim(1));
    (trace + quad).sub_scalar(n).mul_scalar(0.5) + q.half_log_det() - p.half_log_det()
}
