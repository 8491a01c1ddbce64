//! Adversarial training for deep ensembles: the fast-gradient-sign example and its step size.

use burn::prelude::*;

use crate::error::{check_nonzero, check_positive, Error, Result};

/// The fast-gradient-sign adversarial example (Goodfellow et al. 2015) used for adversarial
/// training in deep ensembles (Lakshminarayanan et al. 2017, §2.3):
/// `x' = x + epsilon ∘ sign(∇_x loss(x))`, detached, with a per-feature `epsilon`
/// (the paper uses 1 % of each input feature's range, see [`fgsm_epsilon`]). Train on
/// `loss(x) + loss(x')`.
///
/// `loss` maps the input to a scalar loss; `x` must live on an autodiff device.
///
/// # Shapes
/// - `x`: `[N, d]`, `epsilon`: `[d]`
/// - output: `[N, d]`
///
/// # Errors
/// - [`Error::ShapeMismatch`] when `epsilon` is not `[d]`;
/// - [`Error::InvalidParameter`] when `x` is not on an autodiff device or `loss` does not
///   depend on its input.
pub fn fgsm(x: Tensor<2>, epsilon: Tensor<1>, loss: impl FnOnce(Tensor<2>) -> Tensor<1>) -> Result<Tensor<2>> {
    let [_, d] = x.dims();
    if epsilon.dims() != [d] {
        return Err(Error::shape(
            "fgsm",
            "epsilon",
            format!("[{d}] (one step per input feature)"),
            &epsilon.dims(),
            "use fgsm_epsilon(&x, 0.01)",
        ));
    }
    if !x.device().is_autodiff() {
        return Err(Error::invalid(
            "fgsm",
            "x",
            "a tensor on a plain device",
            "on an autodiff device",
            "create the input on device.autodiff()",
        ));
    }
    let probe = x.clone().detach().require_grad();
    let grads = loss(probe.clone()).backward();
    let Some(grad) = probe.grad(&grads) else {
        return Err(Error::invalid(
            "fgsm",
            "loss",
            "independent of its input",
            "a function of the input",
            "compute the loss from the tensor passed to the closure",
        ));
    };
    let step = Tensor::<2>::from_data(grad.sign().into_data(), &x.device()) * epsilon.detach().unsqueeze::<2>();
    Ok(x.detach() + step)
}

/// Per-feature FGSM step `fraction * (max - min)` over the rows of `x` (Lakshminarayanan et
/// al. 2017 use `fraction = 0.01`).
///
/// # Shapes
/// - `x`: `[N, d]` → `[d]`
///
/// # Errors
/// [`Error::InvalidParameter`] when `fraction` is not positive and finite or `x` has no rows.
pub fn fgsm_epsilon(x: &Tensor<2>, fraction: f64) -> Result<Tensor<1>> {
    check_positive("fgsm_epsilon", "fraction", fraction, "use 0.01 (1 % of each feature's range)")?;
    let [n, d] = x.dims();
    check_nonzero("fgsm_epsilon", "rows of x", n, "pass the training inputs")?;
    let range = x.clone().detach().max_dim(0) - x.clone().detach().min_dim(0);
    Ok(range.mul_scalar(fraction).reshape([d]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fgsm_steps_by_epsilon_in_the_gradient_sign() {
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::from_data([[1.0, -2.0], [3.0, 0.5]], &device);
        let eps = fgsm_epsilon(&x, 0.01).unwrap();
        // Ranges 2 and 2.5.
        let e: Vec<f32> = eps.clone().into_data().convert::<f32>().try_to_vec().unwrap();
        assert!((e[0] - 0.02).abs() < 1e-6 && (e[1] - 0.025).abs() < 1e-6, "{e:?}");
        // loss = sum(x * w) with w = [1, -1]: gradient sign is [+, -] in every row.
        let w = Tensor::<2>::from_data([[1.0, -1.0]], &device);
        let adv = fgsm(x.clone(), eps, |x| (x * w).sum()).unwrap();
        let delta: Vec<f32> = (adv - x).into_data().convert::<f32>().try_to_vec().unwrap();
        let expected = [0.02, -0.025, 0.02, -0.025];
        for (d, e) in delta.iter().zip(expected) {
            assert!((d - e).abs() < 1e-6, "{delta:?}");
        }
        let plain = Tensor::<2>::zeros([1, 2], &Device::flex());
        assert!(fgsm(plain, Tensor::ones([2], &Device::flex()), |x| x.sum()).is_err());
    }
}
