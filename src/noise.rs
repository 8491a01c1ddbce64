//! Reproducible noise: every random draw bayesburn makes comes from here.
//!
//! burn keeps one global random stream per backend, so two tests seeding and sampling on
//! parallel threads consume each other's numbers. bayesburn therefore draws all of its noise
//! (weight perturbations, Flipout signs, dropout masks, distribution samples) from a
//! **per-thread** seeded generator and uploads it to the tensor's device. Seeding is then a
//! property of the calling thread, not of test scheduling:
//!
//! ```
//! use bayesburn::noise;
//! use burn::prelude::*;
//! let device = Device::flex();
//! let a: Tensor<2> = noise::with_seed(7, || noise::normal([2, 3], &device));
//! let b: Tensor<2> = noise::with_seed(7, || noise::normal([2, 3], &device));
//! a.into_data().assert_eq(&b.into_data(), true);
//! ```
//!
//! A thread that was never seeded starts from operating-system entropy.
//!
//! The position of the stream can be saved and restored ([`state`], [`restore`]), which is how
//! a [checkpoint](crate::checkpoint) resumes training with exactly the noise it would have drawn.

use std::cell::RefCell;

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution as _, StandardNormal};
use serde::{Deserialize, Serialize};

use bayesburn_cpu::mask;

use crate::error::{Error, Result};

/// The generator behind every draw: ChaCha with 12 rounds, the algorithm of rand's `StdRng`
/// (whose `StdRng(ChaCha12Rng)` wrapper draws the same numbers from the same seed), used
/// directly because it exposes its position in the stream, so [`state`] can save it.
pub type NoiseRng = chacha20::ChaCha12Rng;

thread_local! {
    static RNG: RefCell<Option<NoiseRng>> = const { RefCell::new(None) };
}

/// Name of the generator in a saved [`NoiseState`].
const ALGORITHM: &str = "chacha12";

/// The position of a thread's noise stream (key, stream id and word offset of the ChaCha12
/// generator), from [`state`]; [`restore`] continues the stream from there. Serializable, so a
/// checkpoint can carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoiseState {
    /// The generator, `chacha12`.
    pub algorithm: String,
    /// The generator's 49-byte serialized state, hex-encoded.
    pub state: String,
}

/// The calling thread's noise state (seeding it from entropy first if it was never seeded).
/// Drawing nothing, it leaves the stream where it is.
pub fn state() -> NoiseState {
    let bytes = with_rng(|rng| rng.serialize_state());
    NoiseState { algorithm: ALGORITHM.into(), state: bytes.iter().map(|b| format!("{b:02x}")).collect() }
}

/// Puts the calling thread's noise stream at `state` (from [`state`], possibly in another
/// process): the following draws are the ones that followed when the state was taken.
///
/// # Errors
/// [`Error::InvalidParameter`] if `state` names another generator or its bytes are not the
/// 98 hex digits of a ChaCha12 state.
pub fn restore(state: &NoiseState) -> Result<()> {
    if state.algorithm != ALGORITHM {
        return Err(Error::invalid(
            "noise::restore",
            "algorithm",
            &state.algorithm,
            "\"chacha12\"",
            "restore a state saved by this version of bayesburn (noise::state)",
        ));
    }
    let hex = state.state.as_bytes();
    let mut bytes = [0u8; 49];
    let valid = hex.len() == 2 * bytes.len()
        && bytes.iter_mut().zip(hex.chunks(2)).all(|(b, pair)| {
            std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok()).map(|v| *b = v).is_some()
        });
    if !valid {
        return Err(Error::invalid(
            "noise::restore",
            "state",
            &state.state,
            "98 hex digits",
            "restore a state saved by noise::state, unchanged",
        ));
    }
    let rng = NoiseRng::deserialize_state(&bytes);
    RNG.with(|r| *r.borrow_mut() = Some(rng));
    Ok(())
}

/// Seeds the calling thread's noise source. Every later draw on this thread is determined by
/// `seed` and the sequence of calls.
pub fn seed(seed: u64) {
    RNG.with(|r| *r.borrow_mut() = Some(NoiseRng::seed_from_u64(seed)));
}

/// Runs `f` with the calling thread's noise source seeded with `seed`, then restores the
/// previous state of the source (so a seeded block does not disturb the surrounding stream).
pub fn with_seed<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    let previous = RNG.with(|r| r.borrow_mut().replace(NoiseRng::seed_from_u64(seed)));
    let out = f();
    RNG.with(|r| *r.borrow_mut() = previous);
    out
}

/// Runs `f` with `stream` as the calling thread's noise source, then puts the thread's own
/// source back; `stream` is left where `f`'s draws took it. What a worker thread of
/// [`train::fit_data_parallel`](crate::train::fit_data_parallel) draws a device's weight noise
/// from, one persistent stream per device across steps.
pub(crate) fn with_stream<R>(stream: &mut NoiseRng, f: impl FnOnce() -> R) -> R {
    let placeholder = NoiseRng::seed_from_u64(0);
    let previous = RNG.with(|r| r.borrow_mut().replace(std::mem::replace(stream, placeholder)));
    let out = f();
    *stream = RNG.with(|r| std::mem::replace(&mut *r.borrow_mut(), previous)).expect("installed above");
    out
}

/// Gives `f` the calling thread's generator (seeded from entropy on first use).
pub fn with_rng<R>(f: impl FnOnce(&mut NoiseRng) -> R) -> R {
    RNG.with(|r| {
        let mut guard = r.borrow_mut();
        let rng = guard.get_or_insert_with(|| NoiseRng::from_rng(&mut rand::rng()));
        f(rng)
    })
}

/// Draws a `u64` from the thread's source, e.g. to seed another thread or an ensemble member.
pub fn next_seed() -> u64 {
    with_rng(|rng| rng.random::<u64>())
}

// Noise is always drawn in f32 and converted to the device's float type by `from_data`: the
// same seed then gives the same numbers on a plain device and on its autodiff twin, whatever
// precision either reports, and f32 resolution is ample for Monte-Carlo noise.

/// Builds a float tensor of `shape` on `device` from values produced by `draw`.
fn fill<const D: usize>(shape: [usize; D], device: &Device, mut draw: impl FnMut(&mut NoiseRng) -> f32) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let data = with_rng(|rng| TensorData::new((0..n).map(|_| draw(rng)).collect::<Vec<f32>>(), shape));
    Tensor::from_data(data, device)
}

/// Standard normal noise `N(0, 1)` of the given shape.
pub fn normal<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let data = with_rng(|rng| {
        let v: Vec<f32> = StandardNormal.sample_iter(&mut *rng).take(n).collect();
        TensorData::new(v, shape)
    });
    Tensor::from_data(data, device)
}

/// Uniform noise on `[low, high)`.
pub fn uniform<const D: usize>(shape: [usize; D], low: f64, high: f64, device: &Device) -> Tensor<D> {
    fill(shape, device, |rng| (low + (high - low) * rng.random::<f64>()) as f32)
}

/// Rademacher signs: `+1` or `-1` with probability 1/2 each.
pub fn rademacher<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    let n: usize = shape.iter().product();
    // 64 signs per random word.
    let data = with_rng(|rng| {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let bits: u64 = rng.random();
            for k in 0..64.min(n - out.len()) {
                out.push(if (bits >> k) & 1 == 1 { 1.0f32 } else { -1.0f32 });
            }
        }
        TensorData::new(out, shape)
    });
    Tensor::from_data(data, device)
}

/// Bernoulli noise: `1` with probability `p`, else `0`.
pub fn bernoulli<const D: usize>(shape: [usize; D], p: f64, device: &Device) -> Tensor<D> {
    fill(shape, device, |rng| if rng.random::<f64>() < p { 1.0 } else { 0.0 })
}

/// The keep threshold ([`bayesburn_cpu::mask::threshold`]) and inverted-dropout scale
/// `1 / keep` (in f32) of drop probability `p`: what `McDropout` and `predict::DenseStack` both
/// apply, so that they draw the same masks.
pub(crate) fn dropout_params(p: f64) -> (u64, f32) {
    let keep = 1.0 - p;
    (mask::threshold(keep), 1.0f32 / keep as f32)
}

/// The values `0..n` of a dropout mask (`value` where kept, else 0) from the counter-based
/// SplitMix64 stream of `seed`, defined once in [`bayesburn_cpu::mask`]: [`dropout_mask`], the
/// fused flex kernel behind [`McDropout`](crate::layers::McDropout) and
/// [`DenseStack`](crate::predict::DenseStack) all draw from it, so a seed gives the same mask
/// with and without autodiff.
pub(crate) fn mask_values(seed: u64, n: usize, threshold: u64, value: f32) -> Vec<f32> {
    mask::values(seed, n, threshold, value)
}

/// The inverted-dropout mask of `seed` ([`mask_values`]) as a tensor: `value` where kept, else 0.
///
/// [`McDropout`](crate::layers::McDropout) takes one `u64` from the thread's source as `seed`,
/// so a mask of any size moves the thread's stream by one draw. MC-dropout prediction draws a mask
/// element per hidden unit, point and sample (128 M for the peers' T = 100 workload), where one
/// ChaCha12 `f64` per element cost most of the predictive time.
pub(crate) fn dropout_mask<const D: usize>(
    shape: [usize; D],
    seed: u64,
    threshold: u64,
    value: f32,
    device: &Device,
) -> Tensor<D> {
    let n: usize = shape.iter().product();
    Tensor::from_data(TensorData::new(mask_values(seed, n, threshold, value), shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn same_seed_same_numbers_on_parallel_threads() {
        let run = || {
            let device = Device::flex();
            with_seed(11, || to_vec(normal([64], &device)))
        };
        let handles: Vec<_> = (0..4).map(|_| std::thread::spawn(run)).collect();
        let first = run();
        for h in handles {
            assert_eq!(h.join().unwrap(), first);
        }
    }

    #[test]
    fn rademacher_is_plus_minus_one() {
        let device = Device::flex();
        let v = with_seed(3, || to_vec(rademacher([1000], &device)));
        assert!(v.iter().all(|&s| s == 1.0 || s == -1.0));
        let plus = v.iter().filter(|&&s| s == 1.0).count() as f64;
        // Binomial(1000, 1/2): sd = 15.8; 4 sd.
        assert!((plus - 500.0).abs() < 4.0 * 15.82, "plus = {plus}");
    }

    #[test]
    fn same_numbers_as_rand_std_rng() {
        use rand::rngs::StdRng;
        let mut std = StdRng::seed_from_u64(42);
        let mut ours = NoiseRng::seed_from_u64(42);
        let a: Vec<u64> = (0..100).map(|_| std.random::<u64>()).collect();
        let b: Vec<u64> = (0..100).map(|_| ours.random::<u64>()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn state_and_restore_continue_the_stream() {
        let device = Device::flex();
        seed(21);
        let _ = to_vec(normal([3], &device));
        let _ = to_vec(rademacher([5], &device)); // leaves a half-used word in the buffer
        let saved = state();
        let expected = to_vec(normal([7], &device));
        seed(99);
        restore(&saved).unwrap();
        assert_eq!(to_vec(normal([7], &device)), expected);
        let json = serde_json::to_string(&saved).unwrap();
        let back: NoiseState = serde_json::from_str(&json).unwrap();
        restore(&back).unwrap();
        assert_eq!(to_vec(normal([7], &device)), expected);
    }

    #[test]
    fn restore_rejects_foreign_states() {
        let good = state();
        let err = restore(&NoiseState { algorithm: "pcg".into(), ..good.clone() }).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { field: "algorithm", .. }), "{err}");
        let err = restore(&NoiseState { state: "zz".repeat(49), ..good }).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { field: "state", .. }), "{err}");
    }

    #[test]
    fn with_seed_restores_previous_stream() {
        let device = Device::flex();
        seed(5);
        let a1 = to_vec(normal([4], &device));
        seed(5);
        let _ = to_vec(normal::<1>([0], &device));
        let _inner = with_seed(99, || to_vec(normal([4], &device)));
        let b1 = to_vec(normal([4], &device));
        assert_eq!(a1, b1);
    }
}
