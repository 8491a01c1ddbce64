//! [`LatentLayout`]: where each latent site lives in the flat unconstrained vector.

use burn::prelude::*;

use crate::distributions::Constraint;
use crate::error::{Error, Result};
use crate::ppl::trace::Trace;
use crate::ppl::value::{Value, Values};

/// One latent site's slot in the unconstrained vector.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentSlot {
    /// Site name.
    pub name: String,
    /// Shape of the constrained value.
    pub shape: Vec<usize>,
    /// The site's support (its bijection maps the slot onto it).
    pub constraint: Constraint,
    /// First index of the slot in the unconstrained vector.
    pub offset: usize,
    /// Length of the slot (`K - 1` per row for a simplex, else the number of elements).
    pub len: usize,
    /// The site's log-density scale in the model (`N / B` inside a subsampled plate, times any
    /// `scale` handler): auto guides scale the site's `log q` by it, as the model's `log p`.
    pub scale: f64,
}

/// The latent sample sites of a model, in execution order of a first trace, laid out
/// end to end in one unconstrained vector `q` (the vector NUTS and the auto guides work on).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LatentLayout {
    slots: Vec<LatentSlot>,
    dim: usize,
}

impl LatentLayout {
    /// The layout of the latent sites of `trace`.
    ///
    /// # Errors
    /// [`Error::Model`] if a latent site has a discrete support, or the trace has no latent site.
    pub fn from_trace(trace: &Trace) -> Result<Self> {
        let mut slots = Vec::new();
        let mut dim = 0;
        for site in trace.latent_sites() {
            let len = site.constraint.unconstrained_len(site.value.shape()).map_err(|_| Error::Model {
                site: site.name.clone(),
                problem: "is a latent site with a discrete support".to_string(),
                fix: "observe it, condition on it, or marginalise it out by hand; SVI auto guides and NUTS need continuous latents",
            })?;
            slots.push(LatentSlot {
                name: site.name.clone(),
                shape: site.value.shape().to_vec(),
                constraint: site.constraint,
                offset: dim,
                len,
                scale: site.scale,
            });
            dim += len;
        }
        if slots.is_empty() {
            return Err(Error::Model {
                site: String::new(),
                problem: "(none): the model has no latent sample site".to_string(),
                fix: "add a sample! site, or do not condition on every site",
            });
        }
        Ok(Self { slots, dim })
    }

    /// Length of the unconstrained vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The slots, in order.
    pub fn slots(&self) -> &[LatentSlot] {
        &self.slots
    }

    /// `q` split by site and mapped onto each support: the constrained values and each site's
    /// `log |det J|` (shape `[1]`), in slot order.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `q` does not have length [`dim`](Self::dim).
    pub fn constrain(&self, q: Tensor<1>) -> Result<(Values, Vec<Tensor<1>>)> {
        if q.dims()[0] != self.dim {
            return Err(Error::shape(
                "LatentLayout::constrain",
                "q",
                format!("[{}] (the number of unconstrained latent coordinates)", self.dim),
                &q.dims(),
                "pass one coordinate per unconstrained latent dimension (see LatentLayout::slots)",
            ));
        }
        let mut values = Values::new();
        let mut log_dets = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let u = q.clone().slice(slot.offset..slot.offset + slot.len);
            let (x, log_det) = slot.constraint.forward(u, &slot.shape)?;
            values.insert(slot.name.clone(), Value::from_flat(x, slot.shape.clone())?);
            log_dets.push(log_det);
        }
        Ok((values, log_dets))
    }

    /// The unconstrained vector of named constrained values (every slot must be present).
    ///
    /// # Errors
    /// [`Error::Model`] if a slot's value is missing or has the wrong number of elements.
    pub fn unconstrain(&self, values: &Values) -> Result<Tensor<1>> {
        let parts = self
            .slots
            .iter()
            .map(|slot| {
                let v = values.get(&slot.name).ok_or_else(|| Error::Model {
                    site: slot.name.clone(),
                    problem: "is a latent site with no value in the map".to_string(),
                    fix: "give a value for every latent site (see LatentLayout::slots)",
                })?;
                let flat = v.reshaped([slot.shape.iter().product()], &slot.name)?;
                slot.constraint.inverse(flat, &slot.shape)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::cat(parts, 0))
    }
}
