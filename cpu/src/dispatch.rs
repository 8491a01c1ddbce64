//! The one CPU-feature dispatch of the crate: every loop runs inside [`vectorize`], which asks
//! `pulp` once per call for the best instruction set the CPU has and runs the loop compiled for
//! it (x86-64 level v4, AVX-512; level v3, AVX2 and FMA; else the baseline).
//!
//! The loops are plain Rust that the compiler vectorises for the level it is compiled at; they
//! contain no fused multiply-adds unless written as such (Rust does not contract `a * b + c`), so
//! every level computes the same f32 operations in the same order and the results do not depend
//! on the CPU. The one exception is the register-blocked AVX-512 kernel of the MLP predictive
//! ([`mlp`](crate::mlp)), chosen through [`Isa::V4`], whose token proves the CPU has AVX-512.

/// The instruction set a loop was dispatched to.
#[derive(Clone, Copy)]
pub(crate) enum Isa {
    /// x86-64-v4 (AVX-512F/BW/CD/DQ/VL); the token proves the CPU has it.
    #[cfg(target_arch = "x86_64")]
    V4(pulp::x86::V4),
    /// x86-64-v3 (AVX2, FMA, BMI1/2, LZCNT), or what pulp chose on another architecture.
    Vector,
    /// The baseline of the target.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Baseline,
}

/// Runs `op` compiled for the widest instruction set the CPU has, telling it which. (The
/// features are detected once by the standard library and cached; a call costs a few loads.)
///
/// `op` and what it calls with `#[inline(always)]` are compiled inside pulp's
/// `#[target_feature]` function for that level; the closure is inlined there because it has a
/// single call site.
#[inline(always)]
pub(crate) fn vectorize<R>(op: impl FnOnce(Isa) -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        // The levels' tokens directly: pulp's `Arch` has a v3 variant only with its `x86-v3`
        // feature, which the rest of the tree (gemm) does not turn on.
        if let Some(simd) = pulp::x86::V4::try_new() {
            return simd.vectorize(
                #[inline(always)]
                || op(Isa::V4(simd)),
            );
        }
        if let Some(simd) = pulp::x86::V3::try_new() {
            return simd.vectorize(
                #[inline(always)]
                || op(Isa::Vector),
            );
        }
        op(Isa::Baseline)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        pulp::Arch::new().dispatch(
            #[inline(always)]
            || op(Isa::Vector),
        )
    }
}
