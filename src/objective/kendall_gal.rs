//! [`KendallGalLoss`]: the heteroscedastic classification loss of Kendall & Gal (2017, §3.2,
//! eq. 12), or the form of Kyle Dorman's Keras blog post.

use burn::nn::loss::Reduction;
use burn::prelude::*;
use burn::tensor::activation::{elu, log_softmax};
use serde::{Deserialize, Serialize};

use super::heteroscedastic::{check_nonempty, reduce};
use crate::error::{check_nonzero, Error, Result};
use crate::noise;

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
    fn zero_samples_are_rejected() {
        assert!(KendallGalLossConfig::new().with_samples(0).try_init().is_err());
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
