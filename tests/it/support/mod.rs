//! Shared by the tests of this binary: the device, host read-back, and the property tests'
//! configuration.
#![allow(dead_code)]

use burn::prelude::*;

#[path = "../../common/device.rs"]
mod test_device;

use proptest::test_runner::{Config as ProptestConfig, RngSeed};

/// 64 cases from a fixed seed, so a run is repeatable; `BAYESBURN_PROPTEST_CASES=5000` and
/// `BAYESBURN_PROPTEST_SEED=n` search further by hand.
pub fn config() -> ProptestConfig {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    ProptestConfig {
        rng_seed: RngSeed::Fixed(var("BAYESBURN_PROPTEST_SEED").unwrap_or(0)),
        ..ProptestConfig::with_cases(var("BAYESBURN_PROPTEST_CASES").unwrap_or(64) as u32)
    }
}

/// The device the tests run on, plain (call `.autodiff()` on it to train): the one
/// `BAYESBURN_TEST_DEVICE` names, burn's `flex` CPU backend (f32) when it is unset. Every test
/// takes its device from here, so a GPU run is `BAYESBURN_TEST_DEVICE=cuda cargo test --features
/// cuda` (see [`named`](test_device::named)).
pub fn device() -> Device {
    test_device::from_env()
}

/// Reads a tensor back to the host as `f64` (converting from the device's float type).
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    bayesburn_fixtures::host(t)
}
