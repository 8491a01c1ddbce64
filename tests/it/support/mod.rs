//! Shared by the tests of this binary: the device, host read-back, and the property tests'
//! configuration.
#![allow(dead_code)]

use burn::prelude::*;

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
/// cuda` (see [`named`]).
pub fn device() -> Device {
    match std::env::var("BAYESBURN_TEST_DEVICE") {
        Ok(name) => named(&name),
        Err(_) => named("flex"),
    }
}

/// The device called `name`: `flex`, `ndarray` or `cuda` / `cuda:N`, each with its feature on;
/// test code, so a name it cannot serve panics with the fix.
// Each arm returns from one of its `cfg` alternatives.
#[allow(clippy::needless_return, unreachable_code)]
pub fn named(name: &str) -> Device {
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

/// Reads a tensor back to the host as `f64` (converting from the device's float type).
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    bayesburn_fixtures::host(t)
}
