//! Shared by the tests of this binary: the f64 test device (configured once, before any tensor
//! of the test process exists) and host read-back.
#![allow(dead_code)]

pub mod stats;

use std::sync::Once;

use burn::prelude::*;
use burn::tensor::{FloatDType, TensorData};

static CONFIGURE: Once = Once::new();

/// The plain device of the tests in f64, configured once, before any tensor of the test process
/// exists: the one `BAYESBURN_TEST_DEVICE` names (`flex`, `ndarray`, `cuda`, `cuda:N`, each with
/// its feature on), `flex` when it is unset. Every test takes its device from here or [`device`].
pub fn plain() -> Device {
    let d = named(&std::env::var("BAYESBURN_TEST_DEVICE").unwrap_or_else(|_| "flex".into()));
    CONFIGURE.call_once(|| {
        let mut d = d.clone();
        // Another test's helper may have configured it first; either way it must be f64 now.
        let _ = d.configure(FloatDType::F64);
        assert_eq!(d.settings().float_dtype, FloatDType::F64, "the test device was locked to another float type");
    });
    d
}

/// [`plain`] with autodiff. Every test calls this (or [`plain`]) before making tensors.
pub fn device() -> Device {
    plain().autodiff()
}

/// The device called `name`; test code, so a name it cannot serve panics with the fix.
// Each arm returns from one of its `cfg` alternatives.
#[allow(clippy::needless_return, unreachable_code)]
fn named(name: &str) -> Device {
    match name {
        "flex" => {
            #[cfg(feature = "flex")]
            return Device::flex();
        }
        "ndarray" => {
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            return Device::ndarray();
        }
        _ if name == "cuda" || name.starts_with("cuda:") => {
            let index = name.strip_prefix("cuda:").map_or(0, |i| {
                i.parse::<usize>()
                    .unwrap_or_else(|_| panic!("BAYESBURN_TEST_DEVICE={name:?}: write cuda:N with N a number"))
            });
            #[cfg(feature = "cuda")]
            return Device::cuda(index);
            let _ = index;
        }
        _ => panic!("BAYESBURN_TEST_DEVICE={name:?}: use flex, ndarray, cuda or cuda:N"),
    }
    panic!(
        "BAYESBURN_TEST_DEVICE={name:?}: that backend's feature is off; run `cargo test --features {}`",
        name.split(':').next().unwrap_or(name)
    )
}

pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_to_vec_as::<f64>().unwrap()
}

pub fn scalar<const D: usize>(t: Tensor<D>) -> f64 {
    host(t.sum())[0]
}

pub fn tensor1(v: &[f64], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

pub fn tensor2(v: &[f64], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [rows, cols]), device)
}
