//! The `flex` implementation of the extension: host loops over contiguous f32 storage (the
//! `bayesburn-cpu` crate), the composed operations for anything else.

use burn::backend::tensor::FloatTensor;
use burn::backend::TensorMetadata;
use burn::tensor::Shape;

use super::extension::{
    dropout_composed, kl_drho_composed, kl_sum_composed, linear_composed, rsample_composed, scaled_noise_composed,
    GaussianKernels,
};
use crate::posterior::SIGMA_RHO_MAX;

impl GaussianKernels for burn::backend::Flex {
    fn gaussian_rsample(mu: FloatTensor<Self>, rho: FloatTensor<Self>, eps: FloatTensor<Self>) -> FloatTensor<Self> {
        match (host::slice(&mu), host::slice(&rho), host::slice(&eps)) {
            (Some(m), Some(r), Some(e)) if m.len() == r.len() && host::samples_of(e, r) => {
                host::tensor(bayesburn_cpu::gaussian::rsample(Some(m), r, e, RHO_MAX), eps.shape())
            }
            _ => rsample_composed::<Self>(mu, rho, eps),
        }
    }

    fn gaussian_scaled_noise(rho: FloatTensor<Self>, eps: FloatTensor<Self>) -> FloatTensor<Self> {
        match (host::slice(&rho), host::slice(&eps)) {
            (Some(r), Some(e)) if host::samples_of(e, r) => {
                host::tensor(bayesburn_cpu::gaussian::rsample(None, r, e, RHO_MAX), eps.shape())
            }
            _ => scaled_noise_composed::<Self>(rho, eps),
        }
    }

    fn gaussian_dsigma(rho: FloatTensor<Self>) -> FloatTensor<Self> {
        match host::slice(&rho) {
            Some(r) => host::tensor(bayesburn_cpu::gaussian::sigmoid(r), rho.shape()),
            None => <Self as burn::backend::ops::ActivationOps<Self>>::sigmoid(rho),
        }
    }

    fn gaussian_kl_drho(rho: FloatTensor<Self>, inv_var: f64) -> FloatTensor<Self> {
        let c = inv_var as f32;
        match host::slice(&rho) {
            Some(r) => host::tensor(bayesburn_cpu::gaussian::kl_drho(r, c, RHO_MAX), rho.shape()),
            None => kl_drho_composed::<Self>(rho, inv_var),
        }
    }

    fn gaussian_kl_sum(mu: FloatTensor<Self>, rho: FloatTensor<Self>, loc: f64, scale: f64) -> FloatTensor<Self> {
        match (host::slice(&mu), host::slice(&rho)) {
            (Some(m), Some(r)) if m.len() == r.len() => {
                // f32 terms, summed in f64 in blocks of 64.
                let (c, loc32) = ((0.5 / (scale * scale)) as f32, loc as f32);
                let sum = bayesburn_cpu::gaussian::kl_terms_sum(m, r, loc32, c, RHO_MAX);
                let kl = sum + r.len() as f64 * (scale.ln() - 0.5);
                host::tensor(vec![kl as f32], Shape::from(vec![1]))
            }
            _ => kl_sum_composed::<Self>(mu, rho, loc, scale),
        }
    }

    fn gaussian_linear(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        match flex_linear(&x, &w, &b, relu) {
            Some(out) => out,
            None => linear_composed::<Self>(x, w, b, relu),
        }
    }

    fn gaussian_dropout(x: FloatTensor<Self>, seed: u64, threshold: u64, scale: f32) -> FloatTensor<Self> {
        use burn::backend::flex::FlexTensor;
        use burn::tensor::{DType, TensorData};
        if x.dtype() != DType::F32 {
            return dropout_composed::<Self>(x, seed, threshold, scale);
        }
        let apply = |v: &mut [f32]| bayesburn_cpu::mask::apply(seed, threshold, scale, v);
        let mut x = x;
        // In place when `x` owns exactly its (contiguous) storage.
        if x.is_contiguous() && x.layout().start_offset() == 0 && x.bytes().len() == 4 * x.layout().num_elements() {
            if let Some(v) = x.try_storage_mut::<f32>() {
                apply(v);
                return x;
            }
        }
        let shape = x.shape();
        let mut v = x.into_data().try_to_vec::<f32>().expect("an F32 tensor reads as f32");
        apply(&mut v);
        FlexTensor::from_data(TensorData::new(v, shape))
    }
}

/// The clamp of `sigma_of_rho` in f32.
const RHO_MAX: f32 = SIGMA_RHO_MAX as f32;

/// Host access to contiguous f32 flex tensors, for the kernels above.
mod host {
    use burn::backend::flex::FlexTensor;
    use burn::tensor::{DType, Shape, TensorData};

    /// The values of a contiguous f32 tensor, else `None` (and the composed path).
    pub(super) fn slice(t: &FlexTensor) -> Option<&[f32]> {
        if t.dtype() != DType::F32 || !t.is_contiguous() {
            return None;
        }
        let (start, n) = (t.layout().start_offset(), t.layout().num_elements());
        t.storage::<f32>().get(start..start + n)
    }

    /// Whether `eps` is whole samples of a parameter shaped like `param`.
    pub(super) fn samples_of(eps: &[f32], param: &[f32]) -> bool {
        !param.is_empty() && eps.len().is_multiple_of(param.len())
    }

    /// A new tensor of `values`.
    pub(super) fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values, shape))
    }
}

/// The flex kernel of [`linear`](super::linear); `None` (and the composed path) for anything but
/// f32 tensors of ranks 3, 3, 2 with matching dimensions.
fn flex_linear(
    x: &burn::backend::flex::FlexTensor,
    w: &burn::backend::flex::FlexTensor,
    b: &burn::backend::flex::FlexTensor,
    relu: bool,
) -> Option<burn::backend::flex::FlexTensor> {
    use bayesburn_cpu::linear::{batched, View};
    use burn::backend::flex::FlexTensor;
    use burn::tensor::{DType, TensorData};
    if [x.dtype(), w.dtype(), b.dtype()].iter().any(|d| *d != DType::F32) {
        return None;
    }
    let (xl, wl, bl) = (x.layout(), w.layout(), b.layout());
    let (xs, ws, bs) = (xl.shape(), wl.shape(), bl.shape());
    if xs.num_dims() != 3 || ws.num_dims() != 3 || bs.num_dims() != 2 {
        return None;
    }
    let (s, n, i) = (xs[0], xs[1], xs[2]);
    let (o, sw, sb) = (ws[2], ws[0], bs[0]);
    if ws[1] != i || bs[1] != o || !(sw == s || sw == 1) || !(sb == s || sb == 1) || s * n * o == 0 {
        return None;
    }
    // A shared weight or bias (leading axis 1) is a batch stride of 0.
    let batch_stride = |shared: bool, stride: isize| if shared { 0 } else { stride };
    let (xt, wt, bt) = (xl.strides(), wl.strides(), bl.strides());
    let xv = View { data: x.storage::<f32>(), offset: xl.start_offset(), strides: [xt[0], xt[1], xt[2]] };
    let wv = View {
        data: w.storage::<f32>(),
        offset: wl.start_offset(),
        strides: [batch_stride(sw == 1, wt[0]), wt[1], wt[2]],
    };
    let bv =
        View { data: b.storage::<f32>(), offset: bl.start_offset(), strides: [batch_stride(sb == 1, bt[0]), 0, bt[1]] };
    let out = batched(xv, wv, bv, [s, n, i, o], relu)?;
    Some(FlexTensor::from_data(TensorData::new(out, [s, n, o])))
}
