//! [`Value`]: a site's value, a float tensor of any rank stored flat with its shape.

use std::collections::HashMap;

use burn::prelude::*;

use crate::error::{Error, Result};

/// The value of a site: a float tensor of any rank, kept flat (`[numel]`) together with its
/// shape, so that traces and value maps can hold sites of different ranks side by side.
///
/// Build one from any tensor with `Value::from(tensor)` and get the tensor back with
/// [`Value::tensor`], which checks the rank.
#[derive(Debug, Clone)]
pub struct Value {
    flat: Tensor<1>,
    shape: Vec<usize>,
}

/// Named site values, e.g. the data to [`condition`](super::condition) a model on, one posterior
/// draw to [`substitute`](super::substitute), or one draw of a [`Predictive`](crate::infer::Predictive).
pub type Values = HashMap<String, Value>;

impl<const D: usize> From<Tensor<D>> for Value {
    fn from(tensor: Tensor<D>) -> Self {
        let shape = tensor.dims().to_vec();
        let n: usize = shape.iter().product();
        Self { flat: tensor.reshape([n]), shape }
    }
}

impl Value {
    /// A value of `shape` from a flat tensor holding its elements in row-major order.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `flat` does not have `shape`'s number of elements.
    pub fn from_flat(flat: Tensor<1>, shape: Vec<usize>) -> Result<Self> {
        let n: usize = shape.iter().product();
        if flat.dims()[0] != n {
            return Err(Error::shape(
                "Value::from_flat",
                "flat",
                format!("[{n}] (the number of elements of {shape:?})"),
                &flat.dims(),
                "pass as many elements as the shape holds",
            ));
        }
        Ok(Self { flat, shape })
    }

    /// The elements, flat (row-major).
    pub fn flat(&self) -> Tensor<1> {
        self.flat.clone()
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.flat.dims()[0]
    }

    /// The value as a rank-`D` tensor.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the value's rank is not `D`.
    pub fn tensor<const D: usize>(&self) -> Result<Tensor<D>> {
        let shape: [usize; D] = self.shape.clone().try_into().map_err(|_| {
            Error::shape(
                "Value::tensor",
                "rank",
                format!("a rank-{D} tensor"),
                &self.shape,
                "ask for the rank the site was sampled with",
            )
        })?;
        Ok(self.flat.clone().reshape(shape))
    }

    /// The value reshaped to `shape` (same number of elements), the form a site with a
    /// distribution of that shape needs.
    pub(crate) fn reshaped<const D: usize>(&self, shape: [usize; D], site: &str) -> Result<Tensor<D>> {
        let n: usize = shape.iter().product();
        if n != self.numel() {
            return Err(Error::Model {
                site: site.to_string(),
                problem: format!(
                    "the value given for it has shape {:?}, but its distribution has shape {shape:?}",
                    self.shape
                ),
                fix: "condition or substitute a value with the distribution's shape",
            });
        }
        Ok(self.flat.clone().reshape(shape))
    }

    /// The elements read back to the host as `f64`.
    pub fn to_vec(&self) -> Vec<f64> {
        host_f64(self.flat.clone())
    }

    /// The same value, detached from the autodiff graph.
    pub fn detach(&self) -> Self {
        Self { flat: self.flat.clone().detach(), shape: self.shape.clone() }
    }
}

/// A float tensor read back to the host as `f64` (one read-back).
pub(crate) fn host_f64<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_to_vec_as::<f64>().unwrap_or_default()
}
