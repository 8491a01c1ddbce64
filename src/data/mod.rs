//! Benchmark datasets read from files: loaders with typed errors for malformed layouts.

pub mod uci;
