//! Choosing a device from a name, as examples take it on the command line (`--device cpu`).

use burn::prelude::*;

use crate::error::{Error, Result};

/// Returns the device named `name`:
///
/// - `cpu`: the default CPU backend (`flex` when that feature is on, else `ndarray`);
/// - `flex`, `ndarray`: that CPU backend (its feature must be on);
/// - `cuda` or `cuda:N`: the N-th CUDA GPU (feature `cuda`).
///
/// The device is the plain (inference) device; call `.autodiff()` on it for training.
///
/// # Errors
/// [`Error::InvalidParameter`] for an unknown name or a backend whose feature is off.
pub fn from_name(name: &str) -> Result<Device> {
    let unknown = |fix: &'static str| {
        Err(Error::invalid("device", "name", format!("{name:?}"), "one of cpu, flex, ndarray, cuda, cuda:N", fix))
    };
    match name {
        "cpu" => {
            #[cfg(feature = "flex")]
            return Ok(Device::flex());
            #[cfg(all(not(feature = "flex"), feature = "ndarray"))]
            #[allow(deprecated)]
            return Ok(Device::ndarray());
            #[cfg(not(any(feature = "flex", feature = "ndarray")))]
            return unknown("enable the `flex` feature of bayesburn");
        }
        "flex" => {
            #[cfg(feature = "flex")]
            return Ok(Device::flex());
            #[cfg(not(feature = "flex"))]
            return unknown("enable the `flex` feature of bayesburn");
        }
        "ndarray" => {
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            return Ok(Device::ndarray());
            #[cfg(not(feature = "ndarray"))]
            return unknown("build with `--features ndarray`");
        }
        _ if name == "cuda" || name.starts_with("cuda:") => {
            let index = match name.strip_prefix("cuda:") {
                None => 0,
                Some(i) => match i.parse::<usize>() {
                    Ok(i) => i,
                    Err(_) => return unknown("write the GPU index as a number, e.g. cuda:0"),
                },
            };
            #[cfg(feature = "cuda")]
            return Ok(Device::cuda(index));
            #[cfg(not(feature = "cuda"))]
            {
                let _ = index;
                return unknown("build with `--features cuda` (see the README's CUDA section)");
            }
        }
        _ => unknown("use `cpu` or `cuda`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_device_is_a_typed_error() {
        let err = from_name("tpu").unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { field: "name", .. }));
        assert!(err.to_string().contains("\"tpu\""), "{err}");
    }

    #[cfg(feature = "flex")]
    #[test]
    fn cpu_is_available() {
        assert!(from_name("cpu").is_ok());
    }
}
