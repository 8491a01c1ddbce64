//! The test device by name, shared by the `it` and `f64` test binaries (included into each one's
//! `support` module with `#[path]`, so that the `cfg(feature)`s below are the package's own).

use burn::prelude::*;

/// The name `BAYESBURN_TEST_DEVICE` gives, `flex` when it is unset.
pub fn from_env() -> Device {
    named(&std::env::var("BAYESBURN_TEST_DEVICE").unwrap_or_else(|_| "flex".into()))
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
