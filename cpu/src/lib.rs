//! bayesburn's host CPU loops, and every `unsafe` block of bayesburn: vectorised f32 math, the
//! Gaussian-weight kernels of the `flex` backend, the dropout mask stream, SGEMM layers and the
//! fused MLP predictive. No dependency on burn: everything works on slices, and bayesburn
//! (which `forbid`s `unsafe_code`) converts its tensors.
//!
//! - [`vmath`]: branch-free `exp`, `ln`, `ln_1p`, softplus and sigmoid, within a few ulp.
//! - [`gaussian`]: the softplus `sigma`, samples, KL terms and derivatives of Gaussian weights.
//! - [`mask`]: the one definition of the counter-based dropout mask stream.
//! - [`linear`]: SGEMM from the `gemm` crate behind safe functions, and the bias + ReLU step.
//! - [`mlp`]: a stack of dense layers for every predictive sample, a cache-sized tile at a time.
//!
//! A separate crate so that these loops are compiled optimised even in dev builds (bayesburn's
//! own crate builds at `opt-level = 1` there, which does not vectorise); see the workspace
//! `Cargo.toml`.
//!
//! # CPU features
//!
//! One dispatch point, `dispatch::vectorize` over `pulp`'s x86-64 levels, runs every loop
//! compiled for the widest vector unit the CPU has (AVX-512, else AVX2 and FMA, else the
//! baseline). The loops are portable Rust: the compiler vectorises them, and the same f32
//! operations run in the same order at every level, so their results do not depend on the CPU.
//! The one kernel written with intrinsics, the register-blocked 48 x 8 AVX-512 product of
//! [`mlp`] (masked loads and stores, 24 accumulators in registers), is selected through the same
//! dispatch point, by the AVX-512 token pulp hands it; neither pulp's portable vector types nor
//! macerator's express masked tails and that register blocking without losing its speed.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod dispatch;
pub mod gaussian;
pub mod linear;
pub mod mask;
pub mod mlp;
pub mod vmath;
