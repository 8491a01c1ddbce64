//! f32 `exp`, `ln` and `ln_1p` written without branches or calls, so that loops over slices
//! vectorise: Cephes' range reductions and minimax polynomials (S. L. Moshier, *Methods and
//! Programs for Mathematical Functions*, 1989; `expf.c`, `logf.c`), within a few ulp of the
//! correctly rounded result. bayesburn's flex kernels (`ops::flex`) use them, through
//! [`gaussian`](crate::gaussian), for the softplus `sigma` of every Gaussian weight, its log and
//! its derivative, where glibc's scalar `expf` / `log1pf` calls were a fifth of a Flipout
//! training step. The unit tests below check them against f64; bayesburn's `tests/it/fused.rs`
//! checks the kernels. Integer steps wrap explicitly, so overflow checks (dev builds) do not
//! stop the loops from vectorising.

// The polynomial coefficients are Cephes' published digits (more than an f32 holds), kept as
// printed so they can be checked against the source; they round to the same f32 either way.
#![allow(clippy::excessive_precision)]

/// `c[0] x^(k-1) + ... + c[k-1]` by Horner's rule (unrolled: `c` is a constant).
#[inline(always)]
fn horner(x: f32, c: &[f32]) -> f32 {
    c[1..].iter().fold(c[0], |p, &c| p * x + c)
}

/// `e^x`; 0 from -104 down (where `e^x` is under half the smallest denormal), `e^88` above 88
/// (the callers clamp their arguments far below that), NaN for NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // Cody-Waite split of ln 2: C1 has 9 significant bits, so n * C1 is exact.
    const C1: f32 = 0.693_359_375;
    const C2: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer (|v| < 2^22).
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-104.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = (x - n * C1) - n * C2;
    let p = horner(r, &[1.987_569_2e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5.000_000_1e-1]);
    let er = p * (r * r) + r + 1.0;
    // 2^n (n in [-150, 127]) as two normal powers of two, so results down to the denormals
    // are scaled exactly; NaN casts to 0 and stays NaN through `er`.
    let n = n as i32;
    let half = n >> 1;
    let a = f32::from_bits((half.wrapping_add(127) as u32) << 23);
    let b = f32::from_bits((n.wrapping_sub(half).wrapping_add(127) as u32) << 23);
    er * a * b
}

/// `ln(u)`: `-inf` at 0, NaN below 0 and for NaN, `inf` at `inf`; denormals included.
#[inline(always)]
pub fn ln(u: f32) -> f32 {
    let tiny = u < f32::MIN_POSITIVE;
    let v = if tiny { u * 8_388_608.0 } else { u }; // 2^23
    let bits = v.to_bits();
    let mut e = (((bits >> 23) & 0xff) as i32).wrapping_sub(if tiny { 150 } else { 127 });
    // v = m 2^e with m in [sqrt(1/2), sqrt(2)).
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    e = e.wrapping_add(big as i32);
    let f = m - 1.0;
    let z = f * f;
    let p = horner(
        f,
        &[
            7.037_683_6e-2,
            -1.151_461e-1,
            1.167_699_9e-1,
            -1.242_014_1e-1,
            1.424_932_3e-1,
            -1.666_805_8e-1,
            2.000_071_4e-1,
            -2.499_999_4e-1,
            3.333_333_1e-1,
        ],
    );
    let ef = e as f32;
    let y = f * z * p - 2.121_944_4e-4 * ef - 0.5 * z;
    let r = f + y + 0.693_359_375 * ef;
    if u == 0.0 {
        f32::NEG_INFINITY
    } else if u == f32::INFINITY {
        f32::INFINITY
    } else if u > 0.0 {
        r
    } else {
        f32::NAN
    }
}

/// `ln(1 + y)` for `y > -1`, accurate for small `y`: `ln(u) + (y - (u - 1)) / u` with
/// `u = 1 + y` rounded, the second term the first-order correction for that rounding.
#[inline(always)]
pub fn ln_1p(y: f32) -> f32 {
    let u = 1.0 + y;
    let r = ln(u) + (y - (u - 1.0)) / u;
    // |y| below half an ulp of 1: ln(1 + y) = y to f32 precision. inf: inf. -1: -inf.
    if u == 1.0 || y == f32::INFINITY {
        y
    } else if u == 0.0 {
        f32::NEG_INFINITY
    } else {
        r
    }
}

/// `softplus(rho) = ln(1 + e^min(rho, max))`, the `sigma` of a Gaussian weight.
#[inline(always)]
pub fn softplus(rho: f32, max: f32) -> f32 {
    ln_1p(exp(rho.min(max)))
}

/// `1 / (1 + e^-rho)`, the derivative of the softplus.
#[inline(always)]
pub fn sigmoid(rho: f32) -> f32 {
    1.0 / (1.0 + exp(-rho))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error in units of the f32 spacing at the exact value.
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        let spacing = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        ((got as f64) - want).abs() / spacing.max(f64::from(f32::from_bits(1)))
    }

    /// Over a dense grid of each domain, every value is within 4 ulp of the f64 result (the
    /// polynomials are Cephes' ~1-2 ulp; the reductions add at most one rounding each).
    #[test]
    fn within_a_few_ulp_of_f64() {
        let grid = |lo: f64, hi: f64, n: usize| (0..=n).map(move |i| lo + (hi - lo) * i as f64 / n as f64);
        for x in grid(-103.0, 88.0, 200_000) {
            let x = x as f32;
            let u = ulps(exp(x), (x as f64).exp());
            assert!(u <= 4.0, "exp({x}): {} vs {} ({u} ulp)", exp(x), (x as f64).exp());
        }
        for k in grid(-140.0, 127.0, 100_000) {
            let x = 2f64.powf(k) as f32;
            let u = ulps(ln(x), (x as f64).ln());
            assert!(u <= 4.0, "ln({x}): {} vs {} ({u} ulp)", ln(x), (x as f64).ln());
        }
        for k in grid(-40.0, 40.0, 100_000) {
            for y in [2f64.powf(k) as f32, -(2f64.powf(k.min(-0.01)) as f32)] {
                let u = ulps(ln_1p(y), (y as f64).ln_1p());
                assert!(u <= 4.0, "ln_1p({y}): {} vs {} ({u} ulp)", ln_1p(y), (y as f64).ln_1p());
            }
        }
        for r in grid(-30.0, 30.0, 100_000) {
            let r = r as f32;
            let sp = (r as f64).exp().ln_1p();
            assert!(ulps(softplus(r, 80.0), sp) <= 4.0, "softplus({r})");
            let sg = 1.0 / (1.0 + (-(r as f64)).exp());
            assert!(ulps(sigmoid(r), sg) <= 4.0, "sigmoid({r})");
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(exp(-200.0), 0.0);
        assert!(exp(f32::NAN).is_nan() && ln(f32::NAN).is_nan() && ln_1p(f32::NAN).is_nan());
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
        assert_eq!(ln(f32::INFINITY), f32::INFINITY);
        assert_eq!(ln_1p(0.0), 0.0);
        assert_eq!(ln_1p(-1.0), f32::NEG_INFINITY);
        assert_eq!(softplus(1000.0, 80.0), softplus(80.0, 80.0));
    }
}
