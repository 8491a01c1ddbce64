//! Shared by the tests of this binary: an f64 CPU autodiff device (configured once, before any
//! tensor of the test process exists) and host read-back.
#![allow(dead_code)]

pub mod stats;

use std::sync::Once;

use burn::prelude::*;
use burn::tensor::{FloatDType, TensorData};

static CONFIGURE: Once = Once::new();

/// `Device::flex()` in f64, with autodiff. Every test calls this before making tensors, so the
/// configuration happens before the device's settings are locked.
pub fn device() -> Device {
    CONFIGURE.call_once(|| {
        let mut d = Device::flex();
        // Another test's helper may have configured it first; either way it must be f64 now.
        let _ = d.configure(FloatDType::F64);
        assert_eq!(d.settings().float_dtype, FloatDType::F64, "flex was locked to another float type");
    });
    Device::flex().autodiff()
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
