//! Shared by the tests of this binary: the f64 test device (configured once, before any tensor
//! of the test process exists) and host read-back.
#![allow(dead_code)]

pub mod stats;
#[path = "../../common/device.rs"]
mod test_device;

use std::sync::Once;

use burn::prelude::*;
use burn::tensor::{FloatDType, TensorData};

static CONFIGURE: Once = Once::new();

/// The plain device of the tests in f64, configured once, before any tensor of the test process
/// exists: the one `BAYESBURN_TEST_DEVICE` names (`flex`, `ndarray`, `cuda`, `cuda:N`, each with
/// its feature on), `flex` when it is unset. Every test takes its device from here or [`device`].
pub fn plain() -> Device {
    let d = test_device::from_env();
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
