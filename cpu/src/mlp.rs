//! The fused MLP predictive behind bayesburn's `predict::DenseStack`: every predictive sample
//! through a stack of dense layers, a tile of rows at a time.
//!
//! Activations are held column-major per tile (`[width][rows]`, at most [`TILE_VALUES`] values,
//! so a tile stays in the core's cache from one layer to the next): the wide layers read their
//! input columns in place, and the bias, ReLU, dropout and the narrow layers run along
//! contiguous columns of rows. The wide layers run, on CPUs with AVX-512, a kernel that keeps a
//! block of 48 rows by 8 outputs in registers over the whole inner product and applies the bias
//! and ReLU before its single store; elsewhere SGEMM from the `gemm` crate
//! ([`linear::gemm_tile`]) and then one pass for the bias and activation. Layers with a small
//! input or output width run a direct loop; the dropout mask ([`mask`]) is drawn in one pass
//! over the tile while it is in cache.
//!
//! The AVX-512 kernel is written with intrinsics (masked loads and stores for a tile's last
//! rows, 24 accumulators that the compiler would not keep in registers from portable code); it
//! is chosen through the crate's one dispatch point (`dispatch::vectorize`, `Isa::V4`), whose
//! token proves the CPU has AVX-512. Its sums are fused multiply-adds in a different order from
//! gemm's, so the samples differ in the last bits between CPUs with and without AVX-512.

use std::ops::Range;

use crate::dispatch::{self, Isa};
use crate::linear;
use crate::mask::{self, Mask};

/// Activations per tile: rows * widest layer at most this many values (128 KB of f32).
pub const TILE_VALUES: usize = 32 * 1024;

/// Widths up to this take the direct loops instead of SGEMM.
pub const NARROW: usize = 4;

/// One dense layer of the stack: `h -> dropout(act(h @ w[t] + b[t]))`.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Input width.
    pub i: usize,
    /// Output width.
    pub o: usize,
    /// `[S, i, o]` row-major, `S` = 1 when `shared_w`, else one matrix per sample.
    pub w: Vec<f32>,
    /// Whether every sample uses the one matrix of `w`.
    pub shared_w: bool,
    /// `[S, o]`, `S` = 1 when `shared_b`.
    pub b: Vec<f32>,
    /// Whether every sample uses the one bias of `b`.
    pub shared_b: bool,
    /// A ReLU after the bias (else the identity).
    pub relu: bool,
    /// Inverted dropout after the activation: element `(t, n, j)` of the layer's `[T, N, o]`
    /// output meets element `(t * N + n) * o + j` of the mask stream.
    pub dropout: Option<Mask>,
}

impl Layer {
    fn w(&self, t: usize) -> &[f32] {
        let k = if self.shared_w { 0 } else { t };
        &self.w[k * self.i * self.o..(k + 1) * self.i * self.o]
    }

    fn b(&self, t: usize) -> &[f32] {
        let k = if self.shared_b { 0 } else { t };
        &self.b[k * self.o..(k + 1) * self.o]
    }
}

/// Where the last layer's outputs go.
pub enum Sink<'a> {
    /// All of them, `[T, N, d_out]` row-major (`T` = the samples run).
    Samples(&'a mut [f32]),
    /// Their running mean and sum of squared deviations per output, over the samples run
    /// (Welford's update, in f64), `[N * d_out]` each.
    Moments {
        /// The running means.
        mean: &'a mut [f64],
        /// The running sums of squared deviations.
        m2: &'a mut [f64],
    },
}

/// Runs the samples `range` of the `[n, d_in]` row-major input `x` through `layers` into `sink`,
/// with the widest vector unit the CPU has.
///
/// # Panics
/// When the layers' widths do not chain from `d_in`, a layer's `w` or `b` is shorter than its
/// shape and sample count say, or `sink` is shorter than the samples run.
pub fn run(x: &[f32], n: usize, d_in: usize, layers: &[Layer], range: Range<usize>, sink: &mut Sink) {
    dispatch::vectorize(
        #[inline(always)]
        |isa| {
            let kernel = match isa {
                #[cfg(target_arch = "x86_64")]
                Isa::V4(simd) => Kernel::Avx512(simd),
                _ => Kernel::Gemm,
            };
            run_generic(x, n, d_in, layers, range, sink, kernel)
        },
    )
}

/// How the wide layers are multiplied.
#[derive(Clone, Copy)]
enum Kernel {
    /// The `gemm` crate, then one pass for the bias and activation.
    Gemm,
    /// [`avx512::dense`]: bias and activation applied in registers.
    #[cfg(target_arch = "x86_64")]
    Avx512(pulp::x86::V4),
}

#[inline(always)]
fn run_generic(
    x: &[f32],
    n: usize,
    d_in: usize,
    layers: &[Layer],
    range: Range<usize>,
    sink: &mut Sink,
    kernel: Kernel,
) {
    let d_out = layers.last().map_or(0, |l| l.o);
    let widest = layers.iter().map(|l| l.o).chain([d_in]).max().unwrap_or(1).max(1);
    let tile = (TILE_VALUES / widest).clamp(16, n.max(16));
    let mut held = vec![0.0f32; tile * widest];
    let mut spare = vec![0.0f32; tile * widest];
    let first = range.start;
    for t in range {
        for r0 in (0..n).step_by(tile) {
            let rows = tile.min(n - r0);
            // The input tile, column-major.
            for (r, row) in x[r0 * d_in..(r0 + rows) * d_in].chunks_exact(d_in).enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    held[c * rows + r] = v;
                }
            }
            for layer in layers {
                // Mask element of (t, r0, 0) in the layer's [T, N, o] output.
                let offset = (t * n + r0) * layer.o;
                let (src, dst) = (&held[..rows * layer.i], &mut spare[..rows * layer.o]);
                apply_layer(layer, t, src, rows, dst, offset, kernel);
                std::mem::swap(&mut held, &mut spare);
            }
            let cols = &held[..rows * d_out];
            match sink {
                Sink::Samples(out) => {
                    // Back to row-major.
                    let dst = &mut out[((t - first) * n + r0) * d_out..((t - first) * n + r0 + rows) * d_out];
                    for (c, col) in cols.chunks_exact(rows).enumerate() {
                        for (r, &v) in col.iter().enumerate() {
                            dst[r * d_out + c] = v;
                        }
                    }
                }
                Sink::Moments { mean, m2 } => {
                    let inv = 1.0 / (t - first + 1) as f64;
                    for (c, col) in cols.chunks_exact(rows).enumerate() {
                        for (r, &v) in col.iter().enumerate() {
                            let j = (r0 + r) * d_out + c;
                            let (v, old) = (f64::from(v), mean[j]);
                            mean[j] = old + (v - old) * inv;
                            m2[j] += (v - old) * (v - mean[j]);
                        }
                    }
                }
            }
        }
    }
}
/// `dst = dropout(act(src @ w[t] + b[t]))` for a tile of `rows` rows; `src` is `[i][rows]`,
/// `dst` `[o][rows]` (column-major).
#[inline(always)]
fn apply_layer(layer: &Layer, t: usize, src: &[f32], rows: usize, dst: &mut [f32], offset: usize, kernel: Kernel) {
    let (i, o) = (layer.i, layer.o);
    let (w, b) = (layer.w(t), layer.b(t));
    if i <= NARROW || o <= NARROW {
        // Narrow: each output column is its bias plus i scaled input columns, summed in
        // registers over blocks of rows, with the ReLU on the way out.
        for (u, col) in dst.chunks_exact_mut(rows).enumerate() {
            narrow_column(src, rows, |k| w[k * o + u], b[u], layer.relu, col);
        }
        if let Some(mask) = layer.dropout {
            epilogue(dst, rows, None, false, Some(mask), offset);
        }
        return;
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512(simd) => {
            avx512::dense(simd, src, rows, w, i, o, b, layer.relu, dst);
            if let Some(mask) = layer.dropout {
                epilogue(dst, rows, None, false, Some(mask), offset);
            }
        }
        Kernel::Gemm => {
            linear::gemm_tile(rows, i, o, src, w, dst);
            epilogue(dst, rows, Some(b), layer.relu, layer.dropout, offset);
        }
    }
}

/// `col[r] = act(bias + sum_k src[k][r] w(k))` over the `src.len() / rows >= 1` input
/// columns: one pass per input column over `col` (a few KB, in L1), the bias in the first
/// and the activation in the last.
#[inline(always)]
fn narrow_column(src: &[f32], rows: usize, w: impl Fn(usize) -> f32, bias: f32, relu: bool, col: &mut [f32]) {
    let act = |z: f32| linear::relu_if(z, relu);
    let last = src.len() / rows - 1;
    for (k, a) in src.chunks_exact(rows).enumerate() {
        let wk = w(k);
        match (k == 0, k == last) {
            (true, true) => col.iter_mut().zip(a).for_each(|(d, &a)| *d = act(bias + a * wk)),
            (true, false) => col.iter_mut().zip(a).for_each(|(d, &a)| *d = bias + a * wk),
            (false, false) => col.iter_mut().zip(a).for_each(|(d, &a)| *d += a * wk),
            (false, true) => col.iter_mut().zip(a).for_each(|(d, &a)| *d = act(*d + a * wk)),
        }
    }
}

/// One pass over a column-major block `[width][rows]`: add the bias, apply the ReLU, then
/// dropout with the mask of `(seed, threshold, scale)`, where element `(r, u)` meets mask
/// element `first + r * width + u` of the layer's row-major `[T, N, width]` output.
#[inline(always)]
fn epilogue(cols: &mut [f32], rows: usize, bias: Option<&[f32]>, relu: bool, dropout: Option<Mask>, first: usize) {
    let width = cols.len() / rows;
    // Without a bias (the narrow and AVX-512 kernels applied theirs), 0 is added, as it was.
    let pre = |z: f32, u: usize| linear::bias_relu(z, bias.map_or(0.0, |b| b[u]), relu);
    match dropout {
        None => {
            for (u, col) in cols.chunks_exact_mut(rows).enumerate() {
                for d in col {
                    *d = pre(*d, u);
                }
            }
        }
        Some(Mask { seed, threshold, scale }) => {
            let keep = |draw: u64, z: f32| mask::keep(draw, threshold, scale, z);
            if first.is_multiple_of(2) && width.is_multiple_of(2) {
                // Columns 2m and 2m + 1 of row r share word (first + r width) / 2 + m:
                // its low half and its high half.
                // Row r + 1's word is width / 2 words on: its counter is a constant add.
                let (w0, step) = ((first / 2) as u64, ((width / 2) as u64).wrapping_mul(mask::STEP));
                for (m, pair) in cols.chunks_exact_mut(2 * rows).enumerate() {
                    let (lo, hi) = pair.split_at_mut(rows);
                    let mut z = mask::counter(seed, w0 + m as u64);
                    for (l, h) in lo.iter_mut().zip(hi.iter_mut()) {
                        let word = mask::mix(z);
                        z = z.wrapping_add(step);
                        *l = keep(word & 0xFFFF_FFFF, pre(*l, 2 * m));
                        *h = keep(word >> 32, pre(*h, 2 * m + 1));
                    }
                }
            } else {
                for (u, col) in cols.chunks_exact_mut(rows).enumerate() {
                    for (r, d) in col.iter_mut().enumerate() {
                        let e = (first + r * width + u) as u64;
                        let word = mask::word(seed, e / 2);
                        *d = keep(if e.is_multiple_of(2) { word & 0xFFFF_FFFF } else { word >> 32 }, pre(*d, u));
                    }
                }
            }
        }
    }
}

/// The wide layers with AVX-512F intrinsics.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// `dst[u * rows + r] = act(b[u] + sum_k src[k * rows + r] w[k * o + u])`: a column-major
    /// `rows x i` tile times a row-major `i x o` matrix into a column-major `rows x o` tile.
    /// Blocks of 48 rows (three vectors) by 8 columns keep their 24 sums in registers over
    /// the whole `k` loop; the bias and ReLU are applied before the single store. Rows past
    /// the tile's end are masked (AVX-512 masked loads and stores touch no masked lane).
    /// `simd` proves the CPU has AVX-512.
    ///
    /// # Panics
    /// When `src.len() < rows * i`, `w.len() < i * o`, `b.len() < o` or `dst.len() < rows * o`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn dense(
        simd: pulp::x86::V4,
        src: &[f32],
        rows: usize,
        w: &[f32],
        i: usize,
        o: usize,
        b: &[f32],
        relu: bool,
        dst: &mut [f32],
    ) {
        let _ = simd;
        assert!(
            src.len() >= rows * i && w.len() >= i * o && b.len() >= o && dst.len() >= rows * o,
            "avx512::dense: operands shorter than rows = {rows}, i = {i}, o = {o}"
        );
        let p = Panel { src: src.as_ptr(), rows, w: w.as_ptr(), i, o, b: b.as_ptr(), relu, dst: dst.as_mut_ptr() };
        for r0 in (0..rows).step_by(48) {
            let left = rows - r0;
            let m = [lanes(left), lanes(left.saturating_sub(16)), lanes(left.saturating_sub(32))];
            let mut u0 = 0;
            while u0 + 8 <= o {
                // SAFETY: `simd` exists only on a CPU with AVX-512F; the lengths were checked
                // above, and `block` reads and writes only within rows r0..rows of columns
                // u0..u0 + NR <= o (its masks cover the rows past `rows`). So below.
                unsafe { block::<8>(&p, r0, m, u0) };
                u0 += 8;
            }
            match o - u0 {
                0 => {}
                // SAFETY: as above.
                1 => unsafe { block::<1>(&p, r0, m, u0) },
                // SAFETY: as above.
                2 => unsafe { block::<2>(&p, r0, m, u0) },
                // SAFETY: as above.
                3 => unsafe { block::<3>(&p, r0, m, u0) },
                // SAFETY: as above.
                4 => unsafe { block::<4>(&p, r0, m, u0) },
                // SAFETY: as above.
                5 => unsafe { block::<5>(&p, r0, m, u0) },
                // SAFETY: as above.
                6 => unsafe { block::<6>(&p, r0, m, u0) },
                // SAFETY: as above.
                _ => unsafe { block::<7>(&p, r0, m, u0) },
            }
        }
    }

    /// The operands of [`dense`], as raw pointers.
    struct Panel {
        src: *const f32,
        rows: usize,
        w: *const f32,
        i: usize,
        o: usize,
        b: *const f32,
        relu: bool,
        dst: *mut f32,
    }

    /// The mask of the first `n` of 16 lanes.
    #[inline(always)]
    fn lanes(n: usize) -> __mmask16 {
        if n >= 16 {
            0xFFFF
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// Rows `r0..r0 + 48` (lanes `m`) by columns `u0..u0 + NR` of the panel.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `p.src` points to `p.rows * p.i` values, `p.w` to `p.i * p.o`,
    /// `p.b` to `p.o` and `p.dst` to `p.rows * p.o`; `u0 + NR <= p.o`, `r0 < p.rows`, and `m`
    /// masks off the lanes of rows from `p.rows` on.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const NR: usize>(p: &Panel, r0: usize, m: [__mmask16; 3], u0: usize) {
        let zero = _mm512_setzero_ps();
        let mut acc = [[zero; 3]; NR];
        for k in 0..p.i {
            // Wrapping: the masked lanes' addresses may lie past the slice; they are not read.
            let a = p.src.wrapping_add(k * p.rows + r0);
            // SAFETY: the caller's contract: the unmasked lanes are rows below p.rows of input
            // column k < p.i, and weights k * o + u0 + j with u0 + j < o.
            let (a, wk) = unsafe {
                (
                    [
                        _mm512_maskz_loadu_ps(m[0], a),
                        _mm512_maskz_loadu_ps(m[1], a.wrapping_add(16)),
                        _mm512_maskz_loadu_ps(m[2], a.wrapping_add(32)),
                    ],
                    p.w.add(k * p.o + u0),
                )
            };
            for (j, acc) in acc.iter_mut().enumerate() {
                // SAFETY: j < NR, so k * o + u0 + j < i * o.
                let wj = _mm512_set1_ps(unsafe { *wk.add(j) });
                for v in 0..3 {
                    acc[v] = _mm512_fmadd_ps(a[v], wj, acc[v]);
                }
            }
        }
        for (j, acc) in acc.iter().enumerate() {
            // SAFETY: u0 + j < o.
            let bias = _mm512_set1_ps(unsafe { *p.b.add(u0 + j) });
            let out = p.dst.wrapping_add((u0 + j) * p.rows + r0);
            for v in 0..3 {
                let z = _mm512_add_ps(acc[v], bias);
                // max(0, z) returns its second operand, z, when z is NaN: NaN propagates.
                let z = if p.relu { _mm512_max_ps(zero, z) } else { z };
                // SAFETY: the unmasked lanes are rows below p.rows of output column u0 + j < o.
                unsafe { _mm512_mask_storeu_ps(out.wrapping_add(16 * v), m[v], z) };
            }
        }
    }
}
