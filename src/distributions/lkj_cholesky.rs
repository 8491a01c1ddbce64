//! The LKJ distribution over Cholesky factors of correlation matrices.

use std::f64::consts::PI;

use burn::prelude::*;
use burn::tensor::TensorData;
use rand_distr::{Distribution as _, StandardNormal};

use super::check::{broadcast_shape, expand_to, to_host, upload, validate, Check, Requirement};
use super::constraint::Constraint;
use super::site::SiteDistribution;
use super::special::lgamma;
use super::Distribution;
use crate::error::{Error, Result};
use crate::noise;

/// The LKJ distribution (Lewandowski, Kurowicka & Joe 2009) over lower-triangular Cholesky
/// factors `L` of `n x n` correlation matrices `L L^T`, with concentration `eta`: the density
/// of the correlation matrix is proportional to `det(L L^T)^(eta - 1)`, so `eta = 1` is
/// uniform over correlation matrices and a larger `eta` favours the identity. In terms of
/// the factor (NumPyro's `LKJCholesky`, density with respect to the strictly lower-triangular
/// entries):
///
/// `ln p(L) = sum_{i=1}^{n-1} (n - 1 - i + 2 (eta - 1)) ln L_ii - ln c_n(eta)`,
///
/// with the onion-method normaliser `ln c_n = (n - 1) ln(pi) / 2 + ln Gamma_{n-1}(a - 1/2) -
/// (n - 1) ln Gamma(a)`, `a = eta + (n - 1) / 2`, `Gamma_p` the multivariate Gamma function.
/// Every off-diagonal correlation is marginally `2 Beta(b, b) - 1`, `b = eta - 1 + n / 2`.
///
/// `concentration` has the batch shape followed by two dimensions of size 1 (`[..., 1, 1]`);
/// values are `[..., n, n]` and `log_prob` is `[..., 1, 1]`. Draws use the onion method on the
/// host (row `k` has squared norm `y ~ Beta(k / 2, eta + (n - 1 - k) / 2)` off the diagonal, in
/// a uniform direction), one read-back of `eta` per draw; they are not reparameterized. The
/// entries of `L` have no closed-form mean or variance here: [`Distribution::mean`] and
/// [`Distribution::variance`] are `NaN` (the correlation matrix has mean `I`). As a `sample!`
/// site its support is [`Constraint::CorrCholesky`], so NUTS and SVI can infer it.
///
/// # Example
///
/// ```
/// use bayesburn::distributions::{Distribution, LKJCholesky};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let lkj = LKJCholesky::new(3, Tensor::<3>::full([2, 1, 1], 2.0, &device))?; // a batch of 2
/// let l = lkj.sample(); // [2, 3, 3]
/// assert_eq!(lkj.log_prob(l).dims(), [2, 1, 1]);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LKJCholesky<const D: usize> {
    dimension: usize,
    concentration: Tensor<D>,
}

impl<const D: usize> LKJCholesky<D> {
    /// An LKJ distribution over `dimension x dimension` correlation Cholesky factors, with
    /// concentration `concentration` (`[..., 1, 1]`, rank `D >= 2`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `dimension < 2` or a concentration is not `> 0` and
    /// finite; [`Error::ShapeMismatch`] if `concentration` is not `[..., 1, 1]`.
    pub fn new(dimension: usize, concentration: Tensor<D>) -> Result<Self> {
        let d = Self::from_parts(dimension, concentration)?;
        validate(
            "LKJCholesky",
            &[Check {
                field: "concentration",
                tensor: &d.concentration,
                requirement: Requirement::Positive,
                fix: "use a positive concentration eta (1 is uniform over correlation matrices)",
            }],
        )?;
        Ok(d)
    }

    /// Like [`LKJCholesky::new`] without the value check (no host read-back).
    ///
    /// # Panics
    /// On the dimension and shape errors of [`LKJCholesky::new`].
    pub fn new_unchecked(dimension: usize, concentration: Tensor<D>) -> Self {
        Self::from_parts(dimension, concentration).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_parts(dimension: usize, concentration: Tensor<D>) -> Result<Self> {
        if dimension < 2 {
            return Err(Error::invalid(
                "LKJCholesky",
                "dimension",
                dimension,
                ">= 2",
                "use correlation matrices of at least 2 x 2",
            ));
        }
        let dims = concentration.dims();
        if D < 2 || dims[D - 1] != 1 || dims[D - 2] != 1 {
            return Err(Error::shape(
                "LKJCholesky",
                "concentration",
                "[..., 1, 1] (the batch shape, then two dimensions of size 1 for the matrix)",
                &dims,
                "give the concentration two trailing dimensions of size 1, e.g. eta.reshape([b, 1, 1])",
            ));
        }
        Ok(Self { dimension, concentration })
    }

    /// The matrix size `n`.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The concentration `eta`, `[..., 1, 1]`.
    pub fn concentration(&self) -> Tensor<D> {
        self.concentration.clone()
    }

    /// The shape of one value, `[..., n, n]`.
    pub fn dims(&self) -> [usize; D] {
        let mut dims = self.concentration.dims();
        dims[D - 1] = self.dimension;
        dims[D - 2] = self.dimension;
        dims
    }

    /// `ln c_n(eta)`, `[..., 1, 1]`.
    fn log_normalizer(&self, eta: Tensor<D>) -> Tensor<D> {
        let dm1 = (self.dimension - 1) as f64;
        let a = eta.add_scalar(0.5 * dm1);
        // ln Gamma_p(x) = p (p - 1) ln(pi) / 4 + sum_{j=1}^{p} ln Gamma(x + (1 - j) / 2), x = a - 1/2.
        let mvlgamma = (1..self.dimension)
            .map(|j| lgamma(a.clone().add_scalar(-0.5 + (1.0 - j as f64) / 2.0)))
            .reduce(|x, y| x + y)
            .expect("dimension >= 2");
        let constant = 0.5 * dm1 * PI.ln() + dm1 * (dm1 - 1.0) / 4.0 * PI.ln();
        (mvlgamma - lgamma(a).mul_scalar(dm1)).add_scalar(constant)
    }
}

impl<const D: usize> Distribution<D> for LKJCholesky<D> {
    /// The onion method on the host, `[..., n, n]`.
    fn sample(&self) -> Tensor<D> {
        let n = self.dimension;
        let etas = to_host(&self.concentration);
        let values: Vec<f64> = noise::with_rng(|rng| {
            let mut out = Vec::with_capacity(etas.len() * n * n);
            for &eta in &etas {
                let mut l = vec![0.0; n * n];
                l[0] = 1.0;
                for k in 1..n {
                    let beta = rand_distr::Beta::new(k as f64 / 2.0, eta + (n - 1 - k) as f64 / 2.0);
                    let y: f64 = beta.map(|b| b.sample(rng)).unwrap_or(f64::NAN);
                    let direction: Vec<f64> = (0..k).map(|_| StandardNormal.sample(rng)).collect();
                    let norm = direction.iter().map(|v| v * v).sum::<f64>().sqrt();
                    for (j, v) in direction.iter().enumerate() {
                        l[k * n + j] = y.sqrt() * v / norm;
                    }
                    l[k * n + k] = (1.0 - y).max(0.0).sqrt();
                }
                out.extend(l);
            }
            out
        });
        upload(values, self.dims(), &self.concentration.device(), self.concentration.dtype())
    }

    /// `sum_{i>=1} (n - 1 - i + 2 (eta - 1)) ln L_ii - ln c_n(eta)`, `[..., 1, 1]`. `value`
    /// (`[..., n, n]`) broadcasts against the batch; it is not checked to be a correlation
    /// factor (only its diagonal enters).
    ///
    /// # Panics
    /// If `value` does not broadcast against the batch shape.
    fn log_prob(&self, value: Tensor<D>) -> Tensor<D> {
        let n = self.dimension;
        let shape = broadcast_shape("LKJCholesky", ("value", value.dims()), ("concentration", self.dims()))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut batch = shape;
        batch[D - 1] = 1;
        batch[D - 2] = 1;
        let eta = expand_to(self.concentration.clone(), batch);
        let rows: usize = batch.iter().product();
        let device = value.device();
        let idx: Vec<i64> = (1..n).map(|i| (i * n + i) as i64).collect();
        let diag = expand_to(value, shape)
            .reshape([rows, n * n])
            .select(1, Tensor::from_data(TensorData::new(idx, [n - 1]), &device))
            .log();
        let order: Vec<f64> = (1..n).map(|i| (n - 1 - i) as f64).collect();
        let order = Tensor::<2>::from_data(TensorData::new(order, [1, n - 1]), (&device, diag.dtype()));
        let fixed = (diag.clone() * order).sum_dim(1).reshape(batch);
        let scaled = diag.sum_dim(1).reshape(batch) * eta.clone().sub_scalar(1.0).mul_scalar(2.0);
        fixed + scaled - self.log_normalizer(eta)
    }

    /// `NaN`: no closed form for the entries of `L` (the correlation matrix has mean `I`).
    fn mean(&self) -> Tensor<D> {
        Tensor::full(self.dims(), f64::NAN, &self.concentration.device())
    }

    /// `NaN`, as [`LKJCholesky::mean`].
    fn variance(&self) -> Tensor<D> {
        Tensor::full(self.dims(), f64::NAN, &self.concentration.device())
    }
}

impl<const D: usize> SiteDistribution<D> for LKJCholesky<D> {
    fn value_shape(&self) -> [usize; D] {
        self.dims()
    }
    fn support(&self) -> Constraint {
        Constraint::CorrCholesky
    }
    fn draw(&self) -> Tensor<D> {
        self.sample()
    }
    fn is_reparameterized(&self) -> bool {
        false
    }
    fn log_density(&self, value: Tensor<D>) -> Tensor<D> {
        self.log_prob(value)
    }
}
