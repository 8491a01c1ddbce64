//! The dropout mask stream: the one definition of which elements a dropout mask keeps, used by
//! bayesburn's `noise` (the masks of `McDropout` and the flex dropout kernel) and by the fused
//! MLP predictive ([`mlp`](crate::mlp)), so a seed gives the same mask on every route.
//!
//! Word `j` of the stream of `seed` is SplitMix64's output function (Steele, Lea & Flood 2014;
//! the generator that seeds xoshiro) applied to `seed + (j + 1) * 0x9E3779B97F4A7C15`, exactly
//! the `j`-th output of a SplitMix64 generator started at `seed`. Each word gives two 32-bit
//! draws: element `2j` the low half, element `2j + 1` the high half; an element is kept when its
//! draw is below the [`threshold`]. As a function of the counter, the words have no dependency
//! chain, so the loop runs at the multiplier's throughput (a serial xoshiro256++ stream took
//! 1.3 ns per element here).

use crate::dispatch;

/// The seed, keep threshold ([`threshold`]) and inverted-dropout scale of one dropout mask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mask {
    /// The stream's seed.
    pub seed: u64,
    /// An element is kept when its 32-bit draw is below this.
    pub threshold: u64,
    /// What a kept element is multiplied by (`1 / keep` for inverted dropout).
    pub scale: f32,
}

/// The keep threshold of keep probability `keep`: an element is kept when a uniform 32-bit draw
/// is below `round(keep * 2^32)`, so the keep probability is `keep` to within `2^-33`.
pub fn threshold(keep: f64) -> u64 {
    (keep.clamp(0.0, 1.0) * 4_294_967_296.0).round() as u64
}

/// The SplitMix64 increment: word `j + 1`'s counter is word `j`'s plus this.
pub const STEP: u64 = 0x9E37_79B9_7F4A_7C15;

/// Word `j` of the stream of `seed`: element `2j` is kept when its low half is below the
/// threshold, element `2j + 1` when its high half is.
#[inline(always)]
pub fn word(seed: u64, j: u64) -> u64 {
    mix(counter(seed, j))
}

/// The counter of word `j`, `seed + (j + 1) * STEP`: [`mix`] of it is the word. Loops over words
/// `j, j + d, j + 2d, ...` add `d * STEP` (wrapping) instead of multiplying, which the vectoriser
/// turns into one vector add.
#[inline(always)]
pub fn counter(seed: u64, j: u64) -> u64 {
    seed.wrapping_add(j.wrapping_add(1).wrapping_mul(STEP))
}

/// SplitMix64's output function.
#[inline(always)]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `x * scale` when the 32-bit `draw` is below `threshold`, else 0.
#[inline(always)]
pub(crate) fn keep(draw: u64, threshold: u64, scale: f32, x: f32) -> f32 {
    if draw < threshold {
        x * scale
    } else {
        0.0
    }
}

/// The values `0..n` of the mask of `seed`: `value` where kept, else 0.
pub fn values(seed: u64, n: usize, threshold: u64, value: f32) -> Vec<f32> {
    let mut out = vec![1.0f32; n];
    apply(seed, threshold, value, &mut out);
    out
}

/// Applies the mask of `seed` to `v` in place: element `i` becomes `v[i] * scale` if kept,
/// else `0`. (Branch-free over pairs, vectorised.)
pub fn apply(seed: u64, threshold: u64, scale: f32, v: &mut [f32]) {
    apply_at(seed, 0, threshold, scale, v)
}

/// [`apply`] for the elements `first..first + v.len()` of the stream: `v[i]` meets mask element
/// `first + i`, so a tensor processed in pieces gets the mask of the whole.
pub fn apply_at(seed: u64, first: usize, threshold: u64, scale: f32, v: &mut [f32]) {
    if v.is_empty() {
        return;
    }
    let (v, first) = if first % 2 == 1 {
        // The high half of word first / 2, then whole words from (first + 1) / 2.
        let w = word(seed, (first / 2) as u64);
        v[0] = keep(w >> 32, threshold, scale, v[0]);
        (&mut v[1..], first + 1)
    } else {
        (v, first)
    };
    let word0 = (first / 2) as u64;
    dispatch::vectorize(
        #[inline(always)]
        |_| apply_pairs(seed, word0, threshold, scale, v),
    )
}

/// Pairs of `v` meet the words `word0, word0 + 1, ...` of the stream (low half first).
#[inline(always)]
fn apply_pairs(seed: u64, word0: u64, threshold: u64, scale: f32, v: &mut [f32]) {
    let mut pairs = v.chunks_exact_mut(2);
    let mut z = counter(seed, word0);
    for pair in &mut pairs {
        let w = mix(z);
        z = z.wrapping_add(STEP);
        let keep0 = (w & 0xFFFF_FFFF) < threshold;
        let keep1 = (w >> 32) < threshold;
        pair[0] = if keep0 { pair[0] * scale } else { 0.0 };
        pair[1] = if keep1 { pair[1] * scale } else { 0.0 };
    }
    let n = v.len();
    if n % 2 == 1 {
        let w = word(seed, word0 + (n / 2) as u64);
        v[n - 1] = keep(w & 0xFFFF_FFFF, threshold, scale, v[n - 1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(word(1234567, j as u64), *w, "word {j}");
        }
    }

    /// Keep rate, the two halves of a word, neighbouring words and two seeds, each within 4
    /// standard errors of independence: `sqrt(q (1 - q) / n)` for a rate `q` over `n` draws.
    #[test]
    fn mask_is_bernoulli_and_independent() {
        let n = 1 << 20;
        let keep = 0.9;
        let a = values(11, n, threshold(keep), 1.0);
        let b = values(12, n, threshold(keep), 1.0);
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
        assert_eq!(values(7, 5, threshold(1.0), 2.0), vec![2.0; 5]);
        assert_eq!(values(7, 5, threshold(0.0), 2.0), vec![0.0; 5]);
    }

    /// In place and as a mask give the same values, for odd and even lengths.
    #[test]
    fn apply_equals_mask_times_input() {
        for n in [1, 2, 7, 64] {
            let x: Vec<f32> = (0..n).map(|i| i as f32 - 3.5).collect();
            let mut y = x.clone();
            apply(5, threshold(0.6), 1.5, &mut y);
            let mask = values(5, n, threshold(0.6), 1.5);
            let want: Vec<f32> = x.iter().zip(&mask).map(|(a, m)| a * m).collect();
            assert_eq!(y, want, "n = {n}");
        }
    }

    /// A slice processed in pieces at any (odd or even) offsets gets the mask of the whole.
    #[test]
    fn apply_at_pieces_equal_the_whole() {
        let n = 41;
        let x: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
        let mut whole = x.clone();
        apply(9, threshold(0.5), 2.0, &mut whole);
        for cuts in [vec![0, 1, 41], vec![0, 3, 4, 10, 41], vec![0, 2, 17, 40, 41]] {
            let mut pieces = x.clone();
            for w in cuts.windows(2) {
                apply_at(9, w[0], threshold(0.5), 2.0, &mut pieces[w[0]..w[1]]);
            }
            assert_eq!(pieces, whole, "cuts {cuts:?}");
        }
    }
}
