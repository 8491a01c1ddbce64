//! Parameter validation, broadcasting and host-side noise shared by the distributions.

use crate::noise::NoiseRng;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use rand::RngExt;

use crate::error::{Error, Result};
use crate::noise;

/// What a tensor parameter must satisfy, elementwise.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Requirement {
    /// Finite (not NaN or infinite).
    Finite,
    /// `> 0` and finite.
    Positive,
    /// In `[0, 1]`.
    UnitInterval,
    /// `>= 0` and finite.
    NonNegative,
    /// A whole number `>= 0` (a count such as a number of trials).
    Count,
    /// In `[0, 1)` (a success probability whose failures must eventually come).
    BelowOne,
    /// In `(0, 1]` (a success probability that must eventually succeed).
    AboveZero,
    /// Exactly 0 (the entries above the diagonal of a lower-triangular factor).
    Zero,
}

impl Requirement {
    fn text(self) -> &'static str {
        match self {
            Requirement::Finite => "finite",
            Requirement::Positive => "> 0 and finite",
            Requirement::UnitInterval => "in [0, 1]",
            Requirement::NonNegative => ">= 0 and finite",
            Requirement::Count => "a whole number >= 0",
            Requirement::BelowOne => "in [0, 1)",
            Requirement::AboveZero => "in (0, 1]",
            Requirement::Zero => "0",
        }
    }

    fn holds(self, v: f64) -> bool {
        match self {
            Requirement::Finite => v.is_finite(),
            Requirement::Positive => v.is_finite() && v > 0.0,
            Requirement::UnitInterval => (0.0..=1.0).contains(&v),
            Requirement::NonNegative => v.is_finite() && v >= 0.0,
            Requirement::Count => v.is_finite() && v >= 0.0 && v.fract() == 0.0,
            Requirement::BelowOne => (0.0..1.0).contains(&v),
            Requirement::AboveZero => v > 0.0 && v <= 1.0,
            Requirement::Zero => v == 0.0,
        }
    }

    /// `true` where the requirement fails (NaN always fails: comparisons with NaN are false).
    fn violated<const D: usize>(self, t: Tensor<D>) -> Tensor<D, Bool> {
        match self {
            Requirement::Finite => t.is_finite().bool_not(),
            Requirement::Positive => t.clone().greater_elem(0.0).bool_and(t.is_finite()).bool_not(),
            Requirement::UnitInterval => t.clone().greater_equal_elem(0.0).bool_and(t.lower_equal_elem(1.0)).bool_not(),
            Requirement::NonNegative => t.clone().greater_equal_elem(0.0).bool_and(t.is_finite()).bool_not(),
            Requirement::Count => {
                let whole = t.clone().floor().equal(t.clone());
                t.clone().greater_equal_elem(0.0).bool_and(t.is_finite()).bool_and(whole).bool_not()
            }
            Requirement::BelowOne => t.clone().greater_equal_elem(0.0).bool_and(t.lower_elem(1.0)).bool_not(),
            Requirement::AboveZero => t.clone().greater_elem(0.0).bool_and(t.lower_equal_elem(1.0)).bool_not(),
            Requirement::Zero => t.equal_elem(0.0).bool_not(),
        }
    }
}

/// One tensor parameter to validate.
pub(crate) struct Check<'a, const D: usize> {
    pub field: &'static str,
    pub tensor: &'a Tensor<D>,
    pub requirement: Requirement,
    pub fix: &'static str,
}

/// Validates all `checks` with a single host read-back (one flag per check); only on failure
/// is the offending tensor read to report its first bad value and where it is.
pub(crate) fn validate<const D: usize>(context: &'static str, checks: &[Check<'_, D>]) -> Result<()> {
    if checks.is_empty() {
        return Ok(());
    }
    let flags: Vec<Tensor<1, Int>> =
        checks.iter().map(|c| c.requirement.violated(c.tensor.clone().detach()).any().int()).collect();
    let flags = Tensor::cat(flags, 0).into_data();
    for (check, bad) in checks.iter().zip(flags.iter::<i64>()) {
        if bad != 0 {
            let dims = check.tensor.dims();
            let data = check.tensor.clone().detach().into_data();
            let (index, value) =
                data.iter::<f64>().enumerate().find(|(_, v)| !check.requirement.holds(*v)).unwrap_or((0, f64::NAN));
            let value = format!("{value} (at index {:?})", unravel(index, &dims));
            return Err(Error::invalid(context, check.field, value, check.requirement.text(), check.fix));
        }
    }
    Ok(())
}

/// Flat (row-major) index to multi-index.
pub(crate) fn unravel(mut flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut out = vec![0; dims.len()];
    for (o, &d) in out.iter_mut().zip(dims).rev() {
        if d > 0 {
            *o = flat % d;
            flat /= d;
        }
    }
    out
}

/// The broadcast shape of two parameter shapes (numpy rules at equal rank), or a
/// [`Error::ShapeMismatch`] naming the second field.
pub(crate) fn broadcast_shape<const D: usize>(
    context: &'static str,
    (field_a, a): (&'static str, [usize; D]),
    (field_b, b): (&'static str, [usize; D]),
) -> Result<[usize; D]> {
    let mut out = [0; D];
    for i in 0..D {
        out[i] = match (a[i], b[i]) {
            (x, y) if x == y => x,
            // numpy would broadcast size 1 to size 0, but burn's `expand` panics on a 0.
            (0, _) | (_, 0) => {
                return Err(Error::shape(
                    context,
                    field_b,
                    format!("{a:?} (the shape of {field_a}), with no size-0 dimension against size 1"),
                    &b,
                    "pass parameters with at least one element, or give both the same shape",
                ))
            }
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::shape(
                    context,
                    field_b,
                    format!("{a:?} (the shape of {field_a}) or one that broadcasts with it"),
                    &b,
                    "give both parameters the same shape, or size 1 along the dimensions to broadcast",
                ))
            }
        };
    }
    Ok(out)
}

/// Expands two parameters to their common shape.
pub(crate) fn expand_pair<const D: usize>(
    context: &'static str,
    a: (&'static str, Tensor<D>),
    b: (&'static str, Tensor<D>),
) -> Result<(Tensor<D>, Tensor<D>)> {
    let shape = broadcast_shape(context, (a.0, a.1.dims()), (b.0, b.1.dims()))?;
    Ok((expand_to(a.1, shape), expand_to(b.1, shape)))
}

/// `t.expand(shape)`, skipped when the shape already matches.
pub(crate) fn expand_to<const D: usize, K>(t: Tensor<D, K>, shape: [usize; D]) -> Tensor<D, K>
where
    K: burn::tensor::kind::Basic,
{
    if t.dims() == shape {
        t
    } else {
        t.expand(shape)
    }
}

/// Noise drawn on the host from the thread's seeded source (see [`crate::noise`]) by `draw`,
/// uploaded in `dtype`.
pub(crate) fn host_noise<const D: usize>(
    shape: [usize; D],
    device: &Device,
    dtype: DType,
    mut draw: impl FnMut(&mut NoiseRng) -> f64,
) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let values: Vec<f64> = noise::with_rng(|rng| (0..n).map(|_| draw(rng)).collect());
    Tensor::from_data(TensorData::new(values, shape), (device, dtype))
}

/// A uniform draw in the open interval `(0, 1)`: 53 random bits, centred in their cell, so
/// neither 0 nor 1 can come out (inverse CDFs such as `-ln u` or `tan(pi (u - 1/2))` stay
/// finite).
pub(crate) fn open_unit(rng: &mut NoiseRng) -> f64 {
    ((rng.random::<u64>() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// `c ln x`, with `0 ln 0 = 0` (as in `x^0 = 1` of a density's kernel); the gradient in `c`
/// stays `ln x` wherever `x > 0`.
pub(crate) fn xlogy<const D: usize>(c: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
    let both_zero = c.clone().equal_elem(0.0).bool_and(x.clone().equal_elem(0.0));
    c * x.mask_fill(both_zero, 1.0).log()
}

/// `true` where `value` is not a whole number `>= 0` (outside the support of a count).
pub(crate) fn not_a_count<const D: usize>(value: Tensor<D>) -> Tensor<D, Bool> {
    let whole = value.clone().floor().equal(value.clone());
    value.greater_equal_elem(0.0).bool_and(whole).bool_not()
}

/// A parameter tensor read back to the host as f64 (for samplers that run there).
pub(crate) fn to_host<const D: usize>(t: &Tensor<D>) -> Vec<f64> {
    t.clone().detach().into_data().iter::<f64>().collect()
}

/// Host values uploaded as a tensor of `shape` on `device` in `dtype`.
pub(crate) fn upload<const D: usize>(values: Vec<f64>, shape: [usize; D], device: &Device, dtype: DType) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), (device, dtype))
}

/// Machine epsilon of a float dtype (used to keep probabilities off exactly 0 and 1 when they
/// are turned into logits).
pub(crate) fn epsilon(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::EPSILON,
        DType::F16 => 9.765_625e-4,
        DType::BF16 => 7.812_5e-3,
        _ => f32::EPSILON as f64,
    }
}

/// Smallest positive normal number of a float dtype (keeps `ln(0)` finite, so `0 * ln(0)`
/// evaluates to 0 rather than NaN).
pub(crate) fn tiny(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::MIN_POSITIVE,
        DType::F16 => 6.103_515_625e-5,
        _ => f32::MIN_POSITIVE as f64,
    }
}

/// `ln(exp(a) + exp(b))` without overflow: `max(a, b) + log1p(exp(-|a - b|))`.
pub(crate) fn log_add_exp<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    let m = a.clone().max_pair(b.clone());
    m + (a - b).abs().neg().exp().log1p()
}

/// Replaces `value` by `safe` where `outside` holds, so that a log-density evaluated on the
/// result stays finite there (and its gradient is 0 instead of NaN once the result is masked).
pub(crate) fn sanitize<const D: usize>(value: Tensor<D>, outside: Tensor<D, Bool>, safe: f64) -> Tensor<D> {
    value.mask_fill(outside, safe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(0, &[4]), vec![0]);
        assert_eq!(unravel(7, &[2, 2, 2]), vec![1, 1, 1]);
    }

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_shape::<2>("t", ("a", [3, 1]), ("b", [1, 4])).unwrap(), [3, 4]);
        assert_eq!(broadcast_shape::<1>("t", ("a", [5]), ("b", [5])).unwrap(), [5]);
        let e = broadcast_shape::<1>("t", ("a", [2]), ("b", [3])).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { field: "b", .. }), "{e}");
    }
}
