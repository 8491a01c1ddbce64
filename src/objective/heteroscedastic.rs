//! Losses for heteroscedastic heads: the network's predicted noise enters the likelihood.
//!
//! - [`GaussianNllLoss`]: the Gaussian negative log-likelihood with a predicted variance
//!   (Nix & Weigend 1994; Kendall & Gal 2017 eq. 8 up to the `log var` parameterisation), and
//!   its β-NLL variant (Seitzer et al. 2022), which re-weights each term by
//!   `stop_gradient(var^β)` so badly fit points are not ignored by inflating their variance.
//! - [`KendallGalLoss`]: the heteroscedastic classification loss of Kendall & Gal (2017, §3.2,
//!   eq. 12), Gaussian noise on the logits marginalised by Monte Carlo; or, as a named option,
//!   the form of Kyle Dorman's Keras blog post.
//!
//! Both return **per-example** losses `[S, N]` (summed over output dimensions), which is what
//! [`Elbo::loss`](crate::objective::Elbo::loss) takes:
//!
//! ```ignore
//! let out = head.forward(features);                                   // [S, B, D] each
//! let nll = GaussianNllLossConfig::new().init().forward_no_reduction(out.mean, out.var, y);
//! let terms = elbo.loss(nll, model.kl(), step)?;                      // nll: [S, B]
//! ```

use burn::nn::loss::Reduction;
use burn::prelude::*;
use burn::tensor::activation::{elu, log_softmax};
use serde::{Deserialize, Serialize};

use super::gaussian_nll;
use crate::error::{check_nonzero, Error, Result};
use crate::noise;

fn reduce(loss: Tensor<2>, reduction: Reduction) -> Tensor<1> {
    match reduction {
        // Per-example losses are already summed over output dimensions, so "batch mean" and
        // "mean" agree: both average over the S samples and N examples.
        Reduction::Mean | Reduction::Auto | Reduction::BatchMean => loss.mean(),
        Reduction::Sum => loss.sum(),
    }
}

/// Checks `[S, N, ...]` with `S, N` and the last axis `>= 1`.
fn check_nonempty(context: &'static str, field: &'static str, dims: [usize; 3]) -> Result<()> {
    if dims.contains(&0) {
        return Err(Error::shape(
            context,
            field,
            "[S, N, D] with S, N, D >= 1",
            &dims,
            "pass at least one sample, one example (an empty batch has no loss) and one output",
        ));
    }
    Ok(())
}

/// Configuration of a [`GaussianNllLoss`].
#[derive(Config, Debug)]
pub struct GaussianNllLossConfig {
    /// β of the β-NLL (Seitzer et al. 2022), in `[0, 1]`: every term is multiplied by
    /// `stop_gradient(var^β)`. `0` is the plain Gaussian NLL; `0.5` is the paper's
    /// recommendation; `1` gives mean gradients equal to those of the MSE.
    #[config(default = 0.0)]
    pub beta: f64,
}

impl GaussianNllLossConfig {
    /// The β-NLL with the given `beta` (`GaussianNllLossConfig::new().with_beta(beta)`).
    pub fn beta_nll(beta: f64) -> Self {
        Self::new().with_beta(beta)
    }

    /// Builds the loss after checking `beta`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `beta` is not in `[0, 1]`.
    pub fn try_init(&self) -> Result<GaussianNllLoss> {
        if !(0.0..=1.0).contains(&self.beta) {
            return Err(Error::invalid(
                "GaussianNllLossConfig",
                "beta",
                self.beta,
                "in [0, 1]",
                "use 0 for the plain NLL or 0.5 as Seitzer et al. 2022 recommend",
            ));
        }
        Ok(GaussianNllLoss { beta: self.beta })
    }

    /// Builds the loss.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self) -> GaussianNllLoss {
        self.try_init().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Gaussian negative log-likelihood with a predicted variance, optionally β-weighted.
///
/// Per example `n` and sample `s`, summed over the `D` outputs:
///
/// `loss[s, n] = sum_d w[s, n, d] * (0.5 (y[n, d] - mu[s, n, d])^2 / var[s, n, d] + 0.5 log var[s, n, d] + 0.5 log 2 pi)`
///
/// with `w = 1` for `beta = 0` and `w = stop_gradient(var^beta)` otherwise (Seitzer et al. 2022,
/// eq. 4). `var` must be positive, as [`GaussianHead`](crate::layers::GaussianHead) guarantees.
/// Built with [`GaussianNllLossConfig`].
#[derive(Module, Debug)]
pub struct GaussianNllLoss {
    beta: f64,
}

impl GaussianNllLoss {
    /// The β of the β-NLL (0: plain NLL).
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Per-example losses.
    ///
    /// # Shapes
    /// - `mean`, `var`: `[S, N, D]`
    /// - `target`: `[N, D]` (shared by the S samples)
    /// - output: `[S, N]`
    ///
    /// # Errors
    /// - [`Error::ShapeMismatch`] when `S`, `N` or `D` is 0, `var` differs from `mean` in shape,
    ///   or `target` is not `[N, D]`;
    /// - [`Error::InvalidParameter`] when `target` holds a NaN (one host read-back per call).
    pub fn try_forward_no_reduction(&self, mean: Tensor<3>, var: Tensor<3>, target: Tensor<2>) -> Result<Tensor<2>> {
        const CONTEXT: &str = "GaussianNllLoss";
        let [s, n, d] = mean.dims();
        check_nonempty(CONTEXT, "mean", [s, n, d])?;
        if var.dims() != [s, n, d] {
            return Err(Error::shape(
                CONTEXT,
                "var",
                format!("{:?} (the shape of mean)", [s, n, d]),
                &var.dims(),
                "predict one variance per predicted mean",
            ));
        }
        if target.dims() != [n, d] {
            return Err(Error::shape(
                CONTEXT,
                "target",
                format!("[{n}, {d}] ([N, D] of mean)"),
                &target.dims(),
                "pass one target row per example, with D columns",
            ));
        }
        check_no_nan(CONTEXT, "target", &target)?;
        let mut per_element = gaussian_nll(mean, target.unsqueeze::<3>(), var.clone());
        if self.beta > 0.0 {
            per_element = per_element * var.detach().powf_scalar(self.beta);
        }
        Ok(per_element.sum_dim(2).reshape([s, n]))
    }

    /// Per-example losses; see [`try_forward_no_reduction`](Self::try_forward_no_reduction).
    ///
    /// # Shapes
    /// - `mean`, `var`: `[S, N, D]`, `target`: `[N, D]`
    /// - output: `[S, N]`
    ///
    /// # Panics
    /// With the text of the error `try_forward_no_reduction` would return.
    pub fn forward_no_reduction(&self, mean: Tensor<3>, var: Tensor<3>, target: Tensor<2>) -> Tensor<2> {
        self.try_forward_no_reduction(mean, var, target).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The reduced loss: `Mean`, `Auto` and `BatchMean` average the per-example losses over
    /// samples and examples, `Sum` sums them.
    ///
    /// # Shapes
    /// - `mean`, `var`: `[S, N, D]`, `target`: `[N, D]`
    /// - output: `[1]`
    ///
    /// # Panics
    /// With the text of the error `try_forward_no_reduction` would return.
    pub fn forward(&self, mean: Tensor<3>, var: Tensor<3>, target: Tensor<2>, reduction: Reduction) -> Tensor<1> {
        reduce(self.forward_no_reduction(mean, var, target), reduction)
    }
}

/// Errors with the position of the first NaN in `t`, if any.
fn check_no_nan(context: &'static str, field: &'static str, t: &Tensor<2>) -> Result<()> {
    if !t.clone().is_nan().any().into_scalar::<bool>() {
        return Ok(());
    }
    let [_, cols] = t.dims();
    let values = t.clone().into_data().convert::<f64>();
    let at = values.as_slice::<f64>().map(|v| v.iter().position(|x| x.is_nan()).unwrap_or(0)).unwrap_or(0);
    Err(Error::invalid(
        context,
        field,
        format!("NaN at row {}, column {}", at / cols.max(1), at % cols.max(1)),
        "finite",
        "drop or impute missing targets before training",
    ))
}

/// Which form of the heteroscedastic classification loss [`KendallGalLoss`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum KendallGalForm {
    /// Kendall & Gal (2017) eq. 12: `-log (1/T) sum_t softmax(x_t)[y]` with
    /// `x_t = f + sigma ∘ eps_t`, the Monte-Carlo estimate of `-log E[softmax(x)[y]]`.
    #[default]
    Paper,
    /// Kyle Dorman, "Building a Bayesian deep learning classifier" (2017, Keras):
    /// `ce(f) + ce(f) * mean_t(-elu(ce(f) - ce(x_t))) + mean_c(exp(var_c) - 1)`.
    KerasBlog,
}

/// Configuration of a [`KendallGalLoss`].
#[derive(Config, Debug)]
pub struct KendallGalLossConfig {
    /// Number `T` of Gaussian-distorted copies of the logits (>= 1).
    #[config(default = 10)]
    pub samples: usize,
    /// Which form of the loss.
    #[config(default = "KendallGalForm::Paper")]
    pub form: KendallGalForm,
}

impl KendallGalLossConfig {
    /// Builds the loss after checking `samples`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `samples` is 0.
    pub fn try_init(&self) -> Result<KendallGalLoss> {
        check_nonzero("KendallGalLossConfig", "samples", self.samples, "use T = 10 or more distorted copies")?;
        Ok(KendallGalLoss { samples: self.samples, form: self.form })
    }

    /// Builds the loss.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self) -> KendallGalLoss {
        self.try_init().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Heteroscedastic classification loss (Kendall & Gal 2017, §3.2).
///
/// The logits are a Gaussian `x ~ N(f, diag(sigma^2))` with `f` and `sigma^2 = var` predicted by
/// the network (e.g. a [`ClassificationHead`](crate::layers::ClassificationHead)). `T` distorted
/// copies `x_t = f + sigma ∘ eps_t`, `eps_t ~ N(0, I)`, are drawn in one batched op
/// (`eps: [T, S, N, K]`, from [`noise`](crate::noise)).
///
/// [`KendallGalForm::Paper`] (eq. 12). The paper writes
/// `L = sum_n log (1/T) sum_t exp(x_{n,t,c} - log sum_c' exp x_{n,t,c'})` — the log of the
/// Monte-Carlo mean of the softmax probability of the true class `c`; as a loss to minimise we
/// return its negative per example,
///
/// `loss[s, n] = -( logsumexp_t log_softmax(x_t)[y_n] - log T )`,
///
/// computed with a max-shifted log-sum-exp over `t` of the log-softmax at the true class, so
/// it neither under- nor overflows for confident logits. As `sigma -> 0` it is the softmax
/// cross-entropy; as `T -> inf` it tends to `-log E[softmax(x)[y]]`.
///
/// [`KendallGalForm::KerasBlog`] (Kyle Dorman's Keras implementation), with
/// `ce(z) = -log_softmax(z)[y]`, the undistorted `u = ce(f)` and `d_t = ce(x_t)`:
///
/// `loss[s, n] = u + u * (1/T) sum_t -elu(u - d_t) + mean_c (exp(var_c) - 1)`,
///
/// `mean_c` over the predicted variances (one term for a shared variance, as in the post).
///
/// Built with [`KendallGalLossConfig`].
#[derive(Module, Debug)]
pub struct KendallGalLoss {
    samples: usize,
    #[module(skip)]
    form: KendallGalForm,
}

impl KendallGalLoss {
    /// Number `T` of distorted copies.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// The form of the loss.
    pub fn form(&self) -> KendallGalForm {
        self.form
    }

    /// Per-example losses.
    ///
    /// # Shapes
    /// - `logits`: `[S, N, K]`
    /// - `var`: `[S, N, K]` (per-class) or `[S, N, 1]` (shared), positive
    /// - `labels`: `[N]`, class indices in `[0, K)`
    /// - output: `[S, N]`
    ///
    /// # Errors
    /// - [`Error::ShapeMismatch`] when `S` or `N` is 0, `K < 2`, `var` is neither `[S, N, K]` nor
    ///   `[S, N, 1]`, or `labels` is not `[N]`;
    /// - [`Error::InvalidParameter`] when a label is outside `[0, K)` (one host read-back per
    ///   call).
    pub fn try_forward_no_reduction(
        &self,
        logits: Tensor<3>,
        var: Tensor<3>,
        labels: Tensor<1, Int>,
    ) -> Result<Tensor<2>> {
        const CONTEXT: &str = "KendallGalLoss";
        let [s, n, k] = logits.dims();
        check_nonempty(CONTEXT, "logits", [s, n, k])?;
        // K = 1 is no classification, and burn's `one_hot` below panics on it.
        if k < 2 {
            return Err(Error::shape(
                CONTEXT,
                "logits",
                format!("[{s}, {n}, K] with K >= 2"),
                &[s, n, k],
                "predict one logit per class, for at least two classes",
            ));
        }
        let vd = var.dims();
        if vd != [s, n, k] && vd != [s, n, 1] {
            return Err(Error::shape(
                CONTEXT,
                "var",
                format!("[{s}, {n}, {k}] or [{s}, {n}, 1]"),
                &vd,
                "predict one variance per logit or one per example",
            ));
        }
        if labels.dims() != [n] {
            return Err(Error::shape(
                CONTEXT,
                "labels",
                format!("[{n}] (N of logits)"),
                &labels.dims(),
                "pass one class index per example",
            ));
        }
        check_labels(CONTEXT, &labels, k)?;

        let device = logits.device();
        let t = self.samples;
        let one_hot: Tensor<4> = labels.one_hot::<2>(k).float().reshape([1, 1, n, k]);
        let sigma = var.clone().sqrt();
        let eps = noise::normal([t, s, n, k], &device);
        let distorted = logits.clone().unsqueeze::<4>() + sigma.unsqueeze::<4>() * eps; // [T, S, N, K]
        let log_p_true: Tensor<4> = (log_softmax(distorted, 3) * one_hot.clone()).sum_dim(3); // [T, S, N, 1]
        Ok(match self.form {
            KendallGalForm::Paper => {
                // log mean_t p_t = logsumexp_t log p_t - log T; the shift by the max is exact
                // for the gradient too, so it can be detached.
                let shift = log_p_true.clone().max_dim(0).detach();
                let lse = (log_p_true - shift.clone()).exp().sum_dim(0).log() + shift;
                lse.sub_scalar((t as f64).ln()).neg().reshape([s, n])
            }
            KendallGalForm::KerasBlog => {
                let undistorted: Tensor<2> =
                    (log_softmax(logits, 2) * one_hot.reshape([1, n, k])).sum_dim(2).neg().reshape([s, n]);
                let distorted_ce: Tensor<3> = log_p_true.neg().reshape([t, s, n]);
                let diff = undistorted.clone().unsqueeze::<3>() - distorted_ce;
                let variance_loss: Tensor<2> = elu(diff, 1.0).neg().mean_dim(0).reshape([s, n]) * undistorted.clone();
                let depressor: Tensor<2> = var.exp().sub_scalar(1.0).mean_dim(2).reshape([s, n]);
                undistorted + variance_loss + depressor
            }
        })
    }

    /// Per-example losses; see [`try_forward_no_reduction`](Self::try_forward_no_reduction).
    ///
    /// # Shapes
    /// - `logits`: `[S, N, K]`, `var`: `[S, N, K]` or `[S, N, 1]`, `labels`: `[N]`
    /// - output: `[S, N]`
    ///
    /// # Panics
    /// With the text of the error `try_forward_no_reduction` would return.
    pub fn forward_no_reduction(&self, logits: Tensor<3>, var: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<2> {
        self.try_forward_no_reduction(logits, var, labels).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The reduced loss: `Mean`, `Auto` and `BatchMean` average over samples and examples,
    /// `Sum` sums.
    ///
    /// # Shapes
    /// - `logits`: `[S, N, K]`, `var`: `[S, N, K]` or `[S, N, 1]`, `labels`: `[N]`
    /// - output: `[1]`
    ///
    /// # Panics
    /// With the text of the error `try_forward_no_reduction` would return.
    pub fn forward(
        &self,
        logits: Tensor<3>,
        var: Tensor<3>,
        labels: Tensor<1, Int>,
        reduction: Reduction,
    ) -> Tensor<1> {
        reduce(self.forward_no_reduction(logits, var, labels), reduction)
    }
}

/// Errors when a label is outside `[0, k)`.
fn check_labels(context: &'static str, labels: &Tensor<1, Int>, k: usize) -> Result<()> {
    let range = Tensor::cat(vec![labels.clone().min(), labels.clone().max()], 0);
    let range = range.into_data().convert::<i64>();
    let range = range.as_slice::<i64>().expect("converted to i64");
    let (lo, hi) = (range[0], range[1]);
    let bad = if lo < 0 { lo } else { hi };
    if lo < 0 || hi >= k as i64 {
        return Err(Error::invalid(
            context,
            "labels",
            format!("{bad} (with K = {k} classes)"),
            "class indices in [0, K)",
            "labels must be 0-based class indices smaller than the number of logits",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
        t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
    }

    #[test]
    fn beta_outside_unit_interval_is_rejected() {
        for beta in [-0.1, 1.5, f64::NAN] {
            let err = GaussianNllLossConfig::beta_nll(beta).try_init().unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { field: "beta", .. }), "{err}");
        }
        assert!(KendallGalLossConfig::new().with_samples(0).try_init().is_err());
    }

    #[test]
    fn gaussian_nll_sums_over_outputs() {
        let d = device();
        let mean = Tensor::<3>::from_data([[[0.0, 1.0]]], &d);
        let var = Tensor::<3>::from_data([[[1.0, 4.0]]], &d);
        let y = Tensor::<2>::from_data([[1.0, 1.0]], &d);
        let loss = values(GaussianNllLossConfig::new().init().forward_no_reduction(mean, var, y));
        let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let expected = (0.5 + half_ln_2pi) + (0.5 * 4f64.ln() + half_ln_2pi);
        assert_eq!(loss.len(), 1);
        assert!((loss[0] - expected).abs() < 1e-5, "{} vs {expected}", loss[0]);
    }

    #[test]
    fn nll_input_errors_name_the_field() {
        let d = device();
        let nll = GaussianNllLossConfig::new().init();
        let m = || Tensor::<3>::zeros([2, 3, 1], &d);
        let cases = [
            (nll.try_forward_no_reduction(m(), Tensor::ones([2, 3, 2], &d), Tensor::zeros([3, 1], &d)), "var"),
            (nll.try_forward_no_reduction(m(), Tensor::ones([2, 3, 1], &d), Tensor::zeros([4, 1], &d)), "target"),
            (
                nll.try_forward_no_reduction(
                    Tensor::zeros([2, 0, 1], &d),
                    Tensor::ones([2, 0, 1], &d),
                    Tensor::zeros([0, 1], &d),
                ),
                "mean",
            ),
        ];
        for (result, field) in cases {
            let err = result.unwrap_err();
            assert!(matches!(&err, Error::ShapeMismatch { field: f, .. } if *f == field), "{err}");
        }
        let y = Tensor::<2>::from_data([[0.0], [f32::NAN], [1.0]], &d);
        let err = nll.try_forward_no_reduction(m(), Tensor::ones([2, 3, 1], &d), y).unwrap_err();
        assert!(matches!(&err, Error::InvalidParameter { field: "target", .. }), "{err}");
        assert!(err.to_string().contains("NaN at row 1, column 0"), "{err}");
    }

    #[test]
    fn classification_input_errors_name_the_field() {
        let d = device();
        let loss = KendallGalLossConfig::new().init();
        let logits = || Tensor::<3>::zeros([1, 2, 3], &d);
        let labels = |v: [i64; 2]| Tensor::<1, Int>::from_data(v, &d);
        let shape_cases = [
            (loss.try_forward_no_reduction(logits(), Tensor::ones([1, 2, 2], &d), labels([0, 1])), "var"),
            (
                loss.try_forward_no_reduction(logits(), Tensor::ones([1, 2, 3], &d), Tensor::from_data([0, 1, 2], &d)),
                "labels",
            ),
            (
                loss.try_forward_no_reduction(
                    Tensor::zeros([1, 0, 3], &d),
                    Tensor::ones([1, 0, 3], &d),
                    Tensor::from_data(TensorData::new(Vec::<i64>::new(), [0]), &d),
                ),
                "logits",
            ),
        ];
        for (result, field) in shape_cases {
            let err = result.unwrap_err();
            assert!(matches!(&err, Error::ShapeMismatch { field: f, .. } if *f == field), "{err}");
        }
        for bad in [[0, 3], [-1, 0]] {
            let err = loss.try_forward_no_reduction(logits(), Tensor::ones([1, 2, 1], &d), labels(bad)).unwrap_err();
            assert!(matches!(&err, Error::InvalidParameter { field: "labels", .. }), "{err}");
        }
    }

    #[test]
    fn keras_blog_form_with_tiny_variance_is_cross_entropy_plus_depressor() {
        // With var -> 0 every distorted copy equals the logits, so elu(0) = 0 and the loss is
        // ce + (exp(var) - 1) ~= ce.
        let d = device();
        let logits = Tensor::<3>::from_data([[[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]]], &d);
        let var = Tensor::<3>::full([1, 2, 1], 1e-12, &d);
        let labels = Tensor::<1, Int>::from_data([0, 2], &d);
        let loss = KendallGalLossConfig::new().with_form(KendallGalForm::KerasBlog).init();
        let got = values(noise::with_seed(1, || loss.forward_no_reduction(logits, var, labels)));
        let ce = |z: [f64; 3], y: usize| z.iter().map(|v| v.exp()).sum::<f64>().ln() - z[y];
        let expected = [ce([2.0, 0.0, -1.0], 0), ce([0.0, 1.0, 0.0], 2)];
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-5, "{g} vs {e}");
        }
    }
}
