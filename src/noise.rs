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

/// The keep threshold of a dropout mask: an element is kept when a uniform 32-bit draw is below
/// `round(keep * 2^32)`, so the keep probability is `keep` to within `2^-33`.
pub(crate) fn mask_threshold(keep: f64) -> u64 {
    (keep.clamp(0.0, 1.0) * 4_294_967_296.0).round() as u64
}

/// The keep threshold ([`mask_threshold`]) and inverted-dropout scale `1 / keep` (in f32) of
/// drop probability `p`: what `McDropout` and `predict::DenseStack` both apply, so that they
/// draw the same masks.
pub(crate) fn dropout_params(p: f64) -> (u64, f32) {
    let keep = 1.0 - p;
    (mask_threshold(keep), 1.0f32 / keep as f32)
}

/// The values `0..n` of a dropout mask (`value` where kept, else 0) from the counter-based
/// stream of `seed`: word `j` is SplitMix64's output function (Steele, Lea & Flood 2014; the
/// generator that seeds xoshiro) applied to `seed + (j + 1) * 0x9E3779B97F4A7C15`, exactly the
/// `j`-th output of a SplitMix64 generator started at `seed`. Each word gives two 32-bit draws:
/// element `2j` the low half, element `2j + 1` the high half. As a function of the counter, the
/// words have no dependency chain, so the loop runs at the multiplier's throughput (a serial
/// xoshiro256++ stream took 1.3 ns per element here). [`dropout_mask`] and the fused flex kernel
/// behind [`McDropout`](crate::layers::McDropout) both use it, so a seed gives the same mask with
/// and without autodiff.
pub(crate) fn mask_values(seed: u64, n: usize, threshold: u64, value: f32) -> Vec<f32> {
    let mut out = vec![1.0f32; n];
    apply_dropout(seed, threshold, value, &mut out);
    out
}

/// Word `j` of the mask stream of `seed` (see [`mask_values`]): mask element `2j` is kept when
/// its low half is below the threshold, element `2j + 1` when its high half is.
#[inline(always)]
pub(crate) fn mask_word(seed: u64, j: u64) -> u64 {
    mask_mix(mask_counter(seed, j))
}

/// The SplitMix64 increment: word `j + 1`'s counter is word `j`'s plus this.
pub(crate) const MASK_STEP: u64 = 0x9E37_79B9_7F4A_7C15;

/// The counter of word `j`, `seed + (j + 1) * MASK_STEP`: [`mask_mix`] of it is the word.
/// Loops over words `j, j + d, j + 2d, ...` add `d * MASK_STEP` (wrapping) instead of
/// multiplying, which the vectoriser turns into one vector add.
#[inline(always)]
pub(crate) fn mask_counter(seed: u64, j: u64) -> u64 {
    seed.wrapping_add(j.wrapping_add(1).wrapping_mul(MASK_STEP))
}

/// SplitMix64's output function.
#[inline(always)]
pub(crate) fn mask_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Applies the dropout mask of `seed` ([`mask_values`]) to `v` in place: element `i` becomes
/// `v[i] * scale` if kept, else `0`. (Branch-free over pairs; with AVX-512 where the CPU has it.)
pub(crate) fn apply_dropout(seed: u64, threshold: u64, scale: f32, v: &mut [f32]) {
    apply_dropout_at(seed, 0, threshold, scale, v)
}

/// [`apply_dropout`] for the elements `first..first + v.len()` of the mask stream: `v[i]` meets
/// mask element `first + i`, so a tensor processed in pieces gets the mask of the whole.
pub(crate) fn apply_dropout_at(seed: u64, first: usize, threshold: u64, scale: f32, v: &mut [f32]) {
    if v.is_empty() {
        return;
    }
    let (v, first) = if first % 2 == 1 {
        // The high half of word first / 2, then whole words from (first + 1) / 2.
        let w = mask_word(seed, (first / 2) as u64);
        v[0] = if (w >> 32) < threshold { v[0] * scale } else { 0.0 };
        (&mut v[1..], first + 1)
    } else {
        (v, first)
    };
    let word0 = (first / 2) as u64;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { apply_dropout_avx512(seed, word0, threshold, scale, v) };
    }
    apply_dropout_pairs(seed, word0, threshold, scale, v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn apply_dropout_avx512(seed: u64, word0: u64, threshold: u64, scale: f32, v: &mut [f32]) {
    apply_dropout_pairs(seed, word0, threshold, scale, v)
}

/// Pairs of `v` meet the words `word0, word0 + 1, ...` of the stream (low half first).
#[inline(always)]
fn apply_dropout_pairs(seed: u64, word0: u64, threshold: u64, scale: f32, v: &mut [f32]) {
    let mut pairs = v.chunks_exact_mut(2);
    let mut z = mask_counter(seed, word0);
    for pair in &mut pairs {
        let w = mask_mix(z);
        z = z.wrapping_add(MASK_STEP);
        let keep0 = (w & 0xFFFF_FFFF) < threshold;
        let keep1 = (w >> 32) < threshold;
        pair[0] = if keep0 { pair[0] * scale } else { 0.0 };
        pair[1] = if keep1 { pair[1] * scale } else { 0.0 };
    }
    let n = v.len();
    if n % 2 == 1 {
        let w = mask_word(seed, word0 + (n / 2) as u64);
        v[n - 1] = if (w & 0xFFFF_FFFF) < threshold { v[n - 1] * scale } else { 0.0 };
    }
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
    /// SplitMix64's published reference outputs for seed 1234567 (Vigna's `splitmix64.c`).
    #[test]
    fn mask_words_are_splitmix64() {
        let want = [
            6457827717110365317u64,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for (j, w) in want.iter().enumerate() {
            assert_eq!(mask_word(1234567, j as u64), *w, "word {j}");
        }
    }

    /// Keep rate, the two halves of a word, neighbouring words and two seeds, each within 4
    /// standard errors of independence: `sqrt(q (1 - q) / n)` for a rate `q` over `n` draws.
    #[test]
    fn mask_is_bernoulli_and_independent() {
        let n = 1 << 20;
        let keep = 0.9;
        let a = mask_values(11, n, mask_threshold(keep), 1.0);
        let b = mask_values(12, n, mask_threshold(keep), 1.0);
        let rate = |k: usize, f: &dyn Fn(usize) -> bool| (0..k).filter(|&i| f(i)).count() as f64 / k as f64;
        let within = |what: &str, got: f64, q: f64, k: usize| {
            let se = (q * (1.0 - q) / k as f64).sqrt();
            assert!((got - q).abs() <= 4.0 * se, "{what}: {got} vs {q} (4 SE = {})", 4.0 * se);
        };
        within("keep rate", rate(n, &|i| a[i] == 1.0), keep, n);
        within("both halves of a word", rate(n / 2, &|j| a[2 * j] == 1.0 && a[2 * j + 1] == 1.0), keep * keep, n / 2);
        within(
            "neighbouring words",
            rate(n / 2 - 1, &|j| a[2 * j + 1] == 1.0 && a[2 * j + 2] == 1.0),
            keep * keep,
            n / 2 - 1,
        );
        within("two seeds", rate(n, &|i| a[i] == 1.0 && b[i] == 1.0), keep * keep, n);
        assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
        assert_eq!(mask_values(7, 5, mask_threshold(1.0), 2.0), vec![2.0; 5]);
        assert_eq!(mask_values(7, 5, mask_threshold(0.0), 2.0), vec![0.0; 5]);
    }

    /// In place and as a mask give the same values, for odd and even lengths.
    #[test]
    fn apply_dropout_equals_mask_times_input() {
        for n in [1, 2, 7, 64] {
            let x: Vec<f32> = (0..n).map(|i| i as f32 - 3.5).collect();
            let mut y = x.clone();
            apply_dropout(5, mask_threshold(0.6), 1.5, &mut y);
            let mask = mask_values(5, n, mask_threshold(0.6), 1.5);
            let want: Vec<f32> = x.iter().zip(&mask).map(|(a, m)| a * m).collect();
            assert_eq!(y, want, "n = {n}");
        }
    }

    /// A slice processed in pieces at any (odd or even) offsets gets the mask of the whole.
    #[test]
    fn apply_dropout_at_pieces_equal_the_whole() {
        let n = 41;
        let x: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
        let mut whole = x.clone();
        apply_dropout(9, mask_threshold(0.5), 2.0, &mut whole);
        for cuts in [vec![0, 1, 41], vec![0, 3, 4, 10, 41], vec![0, 2, 17, 40, 41]] {
            let mut pieces = x.clone();
            for w in cuts.windows(2) {
                apply_dropout_at(9, w[0], mask_threshold(0.5), 2.0, &mut pieces[w[0]..w[1]]);
            }
            assert_eq!(pieces, whole, "cuts {cuts:?}");
        }
    }
}
