//! Temperature scaling and vector scaling of a classifier's logits (Guo et al. 2017, *On
//! calibration of modern neural networks*, section 4.2), fitted on a validation set by
//! minimising the negative log-likelihood, in `f64` on the host.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::TensorData;
use serde::Serialize;

use super::input;
use crate::error::{check_positive, Error, Result};

/// The range of temperatures a fit may return. Outside it the validation NLL has no minimum
/// worth the name: below, the logits separate the validation set perfectly; above, they carry
/// no information about the labels.
pub const TEMPERATURE_RANGE: (f64, f64) = (1e-4, 1e4);

/// Mean NLL of the labels under `softmax(beta * z)` and its first two derivatives in `beta`:
/// `f(beta) = mean_n [lse_k(beta z_nk) - beta z_{n,y}]`, `f' = mean_n [E_p z_n - z_{n,y}]`,
/// `f'' = mean_n Var_p z_n >= 0` (`p = softmax(beta z_n)`), so `f` is convex in `beta`.
fn nll_in_beta(z: &[f64], labels: &[usize], k: usize, beta: f64) -> (f64, f64, f64) {
    let (mut f, mut d1, mut d2) = (0.0, 0.0, 0.0);
    let mut w = vec![0.0; k];
    for (row, &y) in z.chunks(k).zip(labels) {
        let m = row.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(beta * v));
        for (w, &v) in w.iter_mut().zip(row) {
            *w = (beta * v - m).exp();
        }
        let total: f64 = w.iter().sum();
        let mean = w.iter().zip(row).map(|(w, v)| w * v).sum::<f64>() / total;
        let var = w.iter().zip(row).map(|(w, v)| w * (v - mean).powi(2)).sum::<f64>() / total;
        f += m + total.ln() - beta * row[y];
        d1 += mean - row[y];
        d2 += var;
    }
    let n = labels.len() as f64;
    (f / n, d1 / n, d2 / n)
}

/// The `beta = 1 / T` minimising [`nll_in_beta`]: a bracket on the sign of `f'` (doubling or
/// halving from `beta = 1`), then Newton steps kept inside the bracket (bisection where a step
/// would leave it). `f` is convex, so the root of `f'` is the global minimum.
fn fit_beta(z: &[f64], labels: &[usize], k: usize) -> Result<f64> {
    const CONTEXT: &str = "TemperatureScaling::fit";
    // f' rises from f'(0) = mean_n [mean_k z_nk - z_{n,y}] to a limit that is > 0 exactly when
    // some label is not a row maximum; the minimum is at a finite beta > 0 iff f'(0) < 0 and
    // that limit is > 0. Checked up front: near the limits f' rounds to 0 and would fake a root.
    let uninformative =
        z.chunks(k).zip(labels).map(|(row, &y)| row.iter().sum::<f64>() / k as f64 - row[y]).sum::<f64>() >= 0.0;
    let separable = z.chunks(k).zip(labels).all(|(row, &y)| row.iter().enumerate().all(|(j, &v)| j == y || v < row[y]));
    let separable_error = || {
        Error::invalid(
            CONTEXT,
            "logits",
            "logits whose largest entry is the label in every row (the NLL falls for ever as T -> 0)",
            "such that the validation NLL has a minimum at a temperature in [1e-4, 1e4]",
            "fit on a validation set the model was not trained on, with some errors in it",
        )
    };
    let uninformative_error = || {
        Error::invalid(
            CONTEXT,
            "logits",
            "logits that carry no information about the labels (the NLL falls for ever as T -> inf)",
            "such that the validation NLL has a minimum at a temperature in [1e-4, 1e4]",
            "check that logits and labels belong together (same order, same class encoding)",
        )
    };
    if separable {
        return Err(separable_error());
    }
    if uninformative {
        return Err(uninformative_error());
    }
    let slope = |beta: f64| nll_in_beta(z, labels, k, beta).1;
    let (beta_min, beta_max) = (1.0 / TEMPERATURE_RANGE.1, 1.0 / TEMPERATURE_RANGE.0);
    let at_one = slope(1.0);
    if at_one == 0.0 {
        return Ok(1.0);
    }
    let (mut lo, mut hi) = (1.0, 1.0);
    if at_one < 0.0 {
        while slope(hi) < 0.0 {
            lo = hi;
            hi *= 2.0;
            if hi > beta_max {
                return Err(separable_error());
            }
        }
    } else {
        while slope(lo) > 0.0 {
            hi = lo;
            lo /= 2.0;
            if lo < beta_min {
                return Err(uninformative_error());
            }
        }
    }
    let mut beta = 0.5 * (lo + hi);
    for _ in 0..200 {
        let (_, g, h) = nll_in_beta(z, labels, k, beta);
        if g == 0.0 {
            break;
        }
        if g < 0.0 {
            lo = beta;
        } else {
            hi = beta;
        }
        let newton = beta - g / h;
        let next = if h > 0.0 && newton > lo && newton < hi { newton } else { 0.5 * (lo + hi) };
        let done = (next - beta).abs() <= 1e-12 * beta;
        beta = next;
        if done {
            break;
        }
    }
    Ok(beta)
}

/// Temperature scaling (Guo et al. 2017, section 4.2): calibrated probabilities
/// `softmax(z / T)` with one temperature `T > 0` for all classes, chosen to minimise the
/// negative log-likelihood of a validation set. `T > 1` softens an over-confident model,
/// `T < 1` sharpens an under-confident one; the predicted class (the argmax) never changes,
/// so accuracy does not either.
///
/// The fit is a one-dimensional convex problem in `beta = 1 / T` (the NLL is a log-sum-exp of
/// functions linear in `beta`), solved by a safeguarded Newton iteration in `f64` to relative
/// precision `1e-12`.
///
/// For a predictive made of samples (MC dropout, an ensemble, Bayes-by-backprop), calibrate the
/// pooled prediction: [`fit_probs`](Self::fit_probs) on the mean probabilities uses their
/// logarithms as logits ("pool, then calibrate": Ashukha et al. 2020, *Pitfalls of in-domain
/// uncertainty estimation and ensembling in deep learning*, section 4), and
/// [`rescale_probs`](Self::rescale_probs) applies the fit to new mean probabilities.
///
/// ```
/// use bayesburn::calibration::TemperatureScaling;
/// use burn::prelude::*;
/// use burn::tensor::TensorData;
///
/// let device = Device::flex();
/// // Over-confident logits: the right class 3 times out of 4, with probability ~0.98.
/// let logits = Tensor::<2>::from_data(TensorData::new(vec![4.0f32, 0.0, 4.0, 0.0, 4.0, 0.0, 0.0, 4.0], [4, 2]), &device);
/// let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 0, 0, 0], [4]), &device);
/// let scaling = TemperatureScaling::fit(logits.clone(), labels).unwrap();
/// // Calibrated: softmax(4 / T) = 0.75, i.e. T = 4 / ln 3.
/// assert!((scaling.temperature() - 4.0 / 3f64.ln()).abs() < 1e-6);
/// let probs = scaling.probs(logits); // [4, 2], rows summing to 1
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TemperatureScaling {
    temperature: f64,
}

impl TemperatureScaling {
    /// A given temperature (e.g. one fitted earlier).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `temperature` is `> 0` and finite.
    pub fn new(temperature: f64) -> Result<Self> {
        check_positive("TemperatureScaling", "temperature", temperature, "use a positive temperature such as 1.5")?;
        Ok(TemperatureScaling { temperature })
    }

    /// The temperature minimising the validation NLL of `softmax(logits / T)`.
    ///
    /// # Shapes
    /// - `logits`: `[N, K]`, `K >= 2`
    /// - `labels`: `[N]`, values in `0..K`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] on an empty set, `K < 2` or a label count other than `N`;
    /// [`Error::InvalidParameter`] on a NaN/inf logit, a label out of range, or when the NLL
    /// has no minimum in [`TEMPERATURE_RANGE`] (logits that separate the validation set
    /// perfectly, or that carry no information about the labels).
    pub fn fit(logits: Tensor<2>, labels: Tensor<1, Int>) -> Result<Self> {
        let (z, labels, k) = input::logits_and_labels("TemperatureScaling::fit", logits, labels)?;
        Ok(TemperatureScaling { temperature: 1.0 / fit_beta(&z, &labels, k)? })
    }

    /// The temperature minimising the validation NLL of the rescaled probabilities
    /// `softmax(ln(p) / T)` (see [`rescale_probs`](Self::rescale_probs)): for the mean
    /// probabilities of a sampled predictive, e.g.
    /// [`ClassificationSummary::probs`](crate::predict::ClassificationSummary).
    ///
    /// # Shapes
    /// - `probs`: `[N, K]`, rows summing to 1, `K >= 2`
    /// - `labels`: `[N]`, values in `0..K`
    ///
    /// # Errors
    /// As [`fit`](Self::fit), and [`Error::InvalidParameter`] on rows that are not
    /// probabilities.
    pub fn fit_probs(probs: Tensor<2>, labels: Tensor<1, Int>) -> Result<Self> {
        let (p, labels, k) = input::probs_and_labels("TemperatureScaling::fit_probs", probs, labels)?;
        // ln 0 = -inf would make NaN in the softmax; 1e-300 keeps a zero probability negligible.
        let z: Vec<f64> = p.iter().map(|&p| p.max(1e-300).ln()).collect();
        Ok(TemperatureScaling { temperature: 1.0 / fit_beta(&z, &labels, k)? })
    }

    /// The temperature `T`.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The scaled logits `logits / T`, on the device of `logits`.
    ///
    /// # Shapes
    /// - `logits`: `[..., K]` (e.g. `[N, K]`, or `[S, N, K]` per sample) → same shape
    pub fn apply<const D: usize>(&self, logits: Tensor<D>) -> Tensor<D> {
        logits.div_scalar(self.temperature)
    }

    /// The calibrated probabilities `softmax(logits / T)` over the last axis.
    ///
    /// # Shapes
    /// - `logits`: `[..., K]` → same shape
    pub fn probs<const D: usize>(&self, logits: Tensor<D>) -> Tensor<D> {
        softmax(self.apply(logits), D - 1)
    }

    /// Rescaled probabilities `softmax(ln(p) / T)`, i.e. `p^(1/T)` normalised over the last
    /// axis (probabilities below `1e-30` are treated as `1e-30`), for a temperature fitted with
    /// [`fit_probs`](Self::fit_probs).
    ///
    /// # Shapes
    /// - `probs`: `[..., K]`, rows summing to 1 → same shape
    pub fn rescale_probs<const D: usize>(&self, probs: Tensor<D>) -> Tensor<D> {
        softmax(probs.clamp_min(1e-30).log().div_scalar(self.temperature), D - 1)
    }
}

/// Vector scaling (Guo et al. 2017, section 4.2): calibrated probabilities
/// `softmax(w ⊙ z + b)` with one weight and one bias per class, fitted on a validation set by
/// minimising the NLL. The NLL is convex in `(w, b)` (logits linear in the parameters), solved
/// by damped Newton steps with a backtracking line search in `f64`. Softmax ignores a common
/// shift of the biases, so the fit returns biases of mean 0.
///
/// It has `2K` parameters where temperature scaling has one: prefer it only with a validation
/// set of many points per class (Guo et al. found it no better than temperature scaling on most
/// image sets). Unlike temperature scaling it can change the predicted class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorScaling {
    weights: Vec<f64>,
    biases: Vec<f64>,
}

/// Mean NLL of the labels under `softmax(w ⊙ z + b)`, its gradient and Hessian in
/// `theta = (w_1..w_K, b_1..b_K)`. With `u = w ⊙ z + b` and `p = softmax(u)`, `dNLL/du = p - e_y`
/// and `d2NLL/du2 = diag(p) - p p^T`; `du_k/dw_k = z_k`, `du_k/db_k = 1`.
fn nll_vector(z: &[f64], labels: &[usize], k: usize, theta: &[f64], hessian: bool) -> (f64, Vec<f64>, Vec<f64>) {
    let (w, b) = theta.split_at(k);
    let dim = 2 * k;
    let mut f = 0.0;
    let mut g = vec![0.0; dim];
    let mut h = vec![0.0; if hessian { dim * dim } else { 0 }];
    let mut p = vec![0.0; k];
    for (row, &y) in z.chunks(k).zip(labels) {
        let u: Vec<f64> = (0..k).map(|j| w[j] * row[j] + b[j]).collect();
        let m = u.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        for (p, u) in p.iter_mut().zip(&u) {
            *p = (u - m).exp();
        }
        let total: f64 = p.iter().sum();
        p.iter_mut().for_each(|p| *p /= total);
        f += m + total.ln() - u[y];
        for j in 0..k {
            let r = p[j] - if j == y { 1.0 } else { 0.0 };
            g[j] += r * row[j];
            g[k + j] += r;
        }
        if hessian {
            for i in 0..k {
                for j in 0..k {
                    let hu = if i == j { p[i] } else { 0.0 } - p[i] * p[j];
                    h[i * dim + j] += row[i] * hu * row[j];
                    h[i * dim + k + j] += row[i] * hu;
                    h[(k + i) * dim + j] += hu * row[j];
                    h[(k + i) * dim + k + j] += hu;
                }
            }
        }
    }
    let n = labels.len() as f64;
    g.iter_mut().for_each(|g| *g /= n);
    h.iter_mut().for_each(|h| *h /= n);
    (f / n, g, h)
}

/// Solves `a x = rhs` for a symmetric positive definite `a` (`dim x dim`, row-major) by
/// Cholesky decomposition; `None` when `a` is not positive definite.
fn solve_spd(a: &[f64], rhs: &[f64], dim: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; dim * dim];
    for i in 0..dim {
        for j in 0..=i {
            let s: f64 = a[i * dim + j] - (0..j).map(|m| l[i * dim + m] * l[j * dim + m]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * dim + i] = s.sqrt();
            } else {
                l[i * dim + j] = s / l[j * dim + j];
            }
        }
    }
    let mut y = vec![0.0; dim];
    for i in 0..dim {
        y[i] = (rhs[i] - (0..i).map(|m| l[i * dim + m] * y[m]).sum::<f64>()) / l[i * dim + i];
    }
    let mut x = vec![0.0; dim];
    for i in (0..dim).rev() {
        x[i] = (y[i] - (i + 1..dim).map(|m| l[m * dim + i] * x[m]).sum::<f64>()) / l[i * dim + i];
    }
    Some(x)
}

impl VectorScaling {
    /// Given per-class weights and biases (e.g. fitted earlier).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the lengths differ, are below 2, or an entry is not
    /// finite.
    pub fn new(weights: Vec<f64>, biases: Vec<f64>) -> Result<Self> {
        const CONTEXT: &str = "VectorScaling";
        if weights.len() < 2 || weights.len() != biases.len() {
            return Err(Error::invalid(
                CONTEXT,
                "biases",
                format!("{} biases for {} weights", biases.len(), weights.len()),
                "one bias per weight, at least two classes",
                "pass one weight and one bias per class",
            ));
        }
        if let Some(v) = weights.iter().chain(&biases).find(|v| !v.is_finite()) {
            return Err(Error::invalid(CONTEXT, "weights", v, "finite", "pass finite weights and biases"));
        }
        Ok(VectorScaling { weights, biases })
    }

    /// The weights and biases minimising the validation NLL of `softmax(w ⊙ logits + b)`,
    /// starting from `w = 1`, `b = 0`.
    ///
    /// # Shapes
    /// - `logits`: `[N, K]`, `K >= 2`
    /// - `labels`: `[N]`, values in `0..K`
    ///
    /// # Errors
    /// As [`TemperatureScaling::fit`]; the `logits` error when Newton's method has not
    /// converged after 100 steps (the scaled logits separate the validation set, so the NLL has
    /// no minimum).
    pub fn fit(logits: Tensor<2>, labels: Tensor<1, Int>) -> Result<Self> {
        const CONTEXT: &str = "VectorScaling::fit";
        let (z, labels, k) = input::logits_and_labels(CONTEXT, logits, labels)?;
        let dim = 2 * k;
        let mut theta: Vec<f64> = (0..dim).map(|i| if i < k { 1.0 } else { 0.0 }).collect();
        let mut converged = false;
        for _ in 0..100 {
            let (f, g, mut h) = nll_vector(&z, &labels, k, &theta, true);
            if g.iter().all(|g| g.abs() < 1e-10) {
                converged = true;
                break;
            }
            // A small ridge makes the Hessian invertible along the common bias shift, the one
            // direction the NLL does not depend on (its gradient there is 0, so nothing moves).
            let ridge = 1e-9 * (1.0 + (0..dim).map(|i| h[i * dim + i]).sum::<f64>() / dim as f64);
            for i in 0..dim {
                h[i * dim + i] += ridge;
            }
            let minus_g: Vec<f64> = g.iter().map(|g| -g).collect();
            let step = solve_spd(&h, &minus_g, dim).unwrap_or(minus_g);
            let slope: f64 = g.iter().zip(&step).map(|(g, s)| g * s).sum();
            let mut t = 1.0;
            loop {
                let trial: Vec<f64> = theta.iter().zip(&step).map(|(x, s)| x + t * s).collect();
                let f_trial = nll_vector(&z, &labels, k, &trial, false).0;
                if f_trial <= f + 1e-4 * t * slope || t < 1e-10 {
                    theta = trial;
                    break;
                }
                t *= 0.5;
            }
        }
        if !converged {
            return Err(Error::invalid(
                CONTEXT,
                "logits",
                "logits whose scaled form separates the validation set (Newton's method did not converge)",
                "such that the validation NLL has a minimum in the weights and biases",
                "use temperature scaling, or a larger validation set the model was not trained on",
            ));
        }
        let (w, b) = theta.split_at(k);
        let shift = b.iter().sum::<f64>() / k as f64;
        Ok(VectorScaling { weights: w.to_vec(), biases: b.iter().map(|b| b - shift).collect() })
    }

    /// The per-class weights `w`.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The per-class biases `b` (mean 0 after a fit).
    pub fn biases(&self) -> &[f64] {
        &self.biases
    }

    /// The scaled logits `w ⊙ logits + b` over the last axis, on the device of `logits`.
    ///
    /// # Shapes
    /// - `logits`: `[..., K]` → same shape
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the last dimension is not the `K` of the fit.
    pub fn apply<const D: usize>(&self, logits: Tensor<D>) -> Result<Tensor<D>> {
        let dims = logits.dims();
        let k = self.weights.len();
        if D == 0 || dims[D - 1] != k {
            return Err(Error::shape(
                "VectorScaling::apply",
                "logits",
                format!("[..., {k}] (K of the fit)"),
                &dims,
                "pass logits of the classifier the scaling was fitted on, classes last",
            ));
        }
        let device = logits.device();
        let w = Tensor::<1>::from_data(TensorData::new(self.weights.clone(), [k]), &device).unsqueeze::<D>();
        let b = Tensor::<1>::from_data(TensorData::new(self.biases.clone(), [k]), &device).unsqueeze::<D>();
        Ok(logits * w + b)
    }

    /// The calibrated probabilities `softmax(w ⊙ logits + b)` over the last axis.
    ///
    /// # Shapes
    /// - `logits`: `[..., K]` → same shape
    ///
    /// # Errors
    /// As [`apply`](Self::apply).
    pub fn probs<const D: usize>(&self, logits: Tensor<D>) -> Result<Tensor<D>> {
        Ok(softmax(self.apply(logits)?, D - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        let z = [1.0, -0.5, 2.0, 0.3, 0.0, -1.2];
        let labels = [2, 0];
        let (f, d1, d2) = nll_in_beta(&z, &labels, 3, 0.7);
        let h = 1e-5;
        let (fp, d1p, _) = nll_in_beta(&z, &labels, 3, 0.7 + h);
        let (fm, d1m, _) = nll_in_beta(&z, &labels, 3, 0.7 - h);
        assert!(((fp - fm) / (2.0 * h) - d1).abs() < 1e-8, "f' {d1}");
        assert!(((d1p - d1m) / (2.0 * h) - d2).abs() < 1e-8, "f'' {d2}");
        assert!(f > 0.0);
    }

    #[test]
    fn vector_gradient_and_hessian_match_finite_differences() {
        let z = [1.0, -0.5, 2.0, 0.3, 0.0, -1.2, 0.4, 0.4, 0.9];
        let labels = [2, 0, 1];
        let theta = [0.9, 1.1, 0.5, 0.1, -0.2, 0.3];
        let (_, g, h) = nll_vector(&z, &labels, 3, &theta, true);
        for i in 0..6 {
            let mut up = theta;
            let mut down = theta;
            up[i] += 1e-5;
            down[i] -= 1e-5;
            let (fu, gu, _) = nll_vector(&z, &labels, 3, &up, false);
            let (fd, gd, _) = nll_vector(&z, &labels, 3, &down, false);
            assert!(((fu - fd) / 2e-5 - g[i]).abs() < 1e-8, "gradient {i}");
            for j in 0..6 {
                assert!(((gu[j] - gd[j]) / 2e-5 - h[j * 6 + i]).abs() < 1e-7, "hessian {j} {i}");
            }
        }
    }

    #[test]
    fn cholesky_solves_a_small_system() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let x = [1.0, -2.0, 0.5];
        let rhs: Vec<f64> = (0..3).map(|i| (0..3).map(|j| a[i * 3 + j] * x[j]).sum()).collect();
        let got = solve_spd(&a, &rhs, 3).unwrap();
        for (g, w) in got.iter().zip(&x) {
            assert!((g - w).abs() < 1e-12);
        }
        assert!(solve_spd(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0], 2).is_none());
    }
}
