//! Shared by the property-test files.

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
