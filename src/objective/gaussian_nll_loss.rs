//! [`GaussianNllLoss`]: the Gaussian negative log-likelihood with a predicted variance, and its
//! β-NLL variant (Seitzer et al. 2022).

use burn::nn::loss::Reduction;
use burn::prelude::*;

use super::gaussian_nll;
use super::heteroscedastic::{check_nonempty, reduce};
use crate::error::{Error, Result};

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
}
