//! Dense layers on the host: SGEMM from the `gemm` crate behind safe functions, and the one
//! bias + ReLU step that follows it (bayesburn's `ops::linear` on flex and the MLP predictive's
//! fallback, [`mlp`](crate::mlp)).

/// `max(z, 0)` when `relu`, else `z`; NaN propagates, as burn's `relu` does. An unconditional
/// select, so loops over it vectorise.
#[inline(always)]
pub fn relu_if(z: f32, relu: bool) -> f32 {
    if relu && z < 0.0 {
        0.0
    } else {
        z
    }
}

/// `relu_if(z + b, relu)`: the bias and activation after a product.
#[inline(always)]
pub fn bias_relu(z: f32, b: f32, relu: bool) -> f32 {
    relu_if(z + b, relu)
}

/// Adds `bias` to every row of the row-major `block` (rows of `bias.len()`), then the ReLU.
#[inline(always)]
fn bias_relu_rows(block: &mut [f32], bias: &[f32], relu: bool) {
    // The two loops let each vectorise without a test per element.
    for row in block.chunks_exact_mut(bias.len()) {
        if relu {
            row.iter_mut().zip(bias).for_each(|(v, &b)| *v = bias_relu(*v, b, true));
        } else {
            row.iter_mut().zip(bias).for_each(|(v, &b)| *v = bias_relu(*v, b, false));
        }
    }
}

/// A strided view of `[batch, rows, cols]` values: element `(k, r, c)` is
/// `data[offset + k * strides[0] + r * strides[1] + c * strides[2]]`. A batch stride of 0 shares
/// one matrix between the batch.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The storage.
    pub data: &'a [f32],
    /// The index of element `(0, 0, 0)`.
    pub offset: usize,
    /// The strides of the three axes, in elements (may be negative or 0).
    pub strides: [isize; 3],
}

impl View<'_> {
    /// Whether every element of a `dims` view lies in `data` (a view with an empty axis has
    /// none).
    fn covers(&self, dims: [usize; 3]) -> bool {
        if dims.contains(&0) {
            return true;
        }
        let (mut lo, mut hi) = (self.offset as i128, self.offset as i128);
        for (&d, &s) in dims.iter().zip(&self.strides) {
            let reach = (d as i128 - 1) * s as i128;
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        lo >= 0 && hi < self.data.len() as i128
    }

    /// The index of `(k, r, c)`; within `data` when [`covers`](Self::covers) held for dims
    /// above the indices.
    fn index(&self, k: usize, r: usize, c: usize) -> usize {
        let [s0, s1, s2] = self.strides;
        (self.offset as isize + k as isize * s0 + r as isize * s1 + c as isize * s2) as usize
    }
}

/// `act(x[k] @ w[k] + b[k])` for `k < s`: `x` is `[s, n, i]`, `w` `[s, i, o]`, `b` `[s, 1, o]`
/// (the row axis unused), the result `[s, n, o]` row-major. Each product is one SGEMM (split
/// between rayon's threads from 192^3 multiply-adds up), then the bias and ReLU in one pass
/// over each row while it is in cache.
///
/// `None` when `s * n * o` is 0 or a view reaches outside its storage.
pub fn batched(x: View, w: View, b: View, [s, n, i, o]: [usize; 4], relu: bool) -> Option<Vec<f32>> {
    if s * n * o == 0 || !x.covers([s, n, i]) || !w.covers([s, i, o]) || !b.covers([s, 1, o]) {
        return None;
    }
    let parallelism = if n * o * i >= 192 * 192 * 192 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    let len = s * n * o;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let dst_all = out.spare_capacity_mut().as_mut_ptr() as *mut f32;
    for k in 0..s {
        // SAFETY: `covers` checked that every element of the `[n, i]` and `[i, o]` matrices
        // gemm reads (offsets index(k, 0, 0) plus the row and column strides) lies in `x.data`
        // and `w.data`; the destination is the k-th n x o row-major block of `out`'s capacity
        // (len = s * n * o), which gemm writes in full (`read_dst = false`) before anything
        // reads it, and which aliases neither input.
        unsafe {
            gemm::gemm(
                n,
                o,
                i,
                dst_all.add(k * n * o),
                1,
                o as isize,
                false,
                x.data.as_ptr().add(x.index(k, 0, 0)),
                x.strides[2],
                x.strides[1],
                w.data.as_ptr().add(w.index(k, 0, 0)),
                w.strides[2],
                w.strides[1],
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
    // SAFETY: every block 0..s was written by gemm above, and the capacity is `len`.
    unsafe { out.set_len(len) };
    let mut bias = vec![0.0f32; o];
    for (k, block) in out.chunks_exact_mut(n * o).enumerate() {
        for (c, v) in bias.iter_mut().enumerate() {
            *v = b.data[b.index(k, 0, c)];
        }
        bias_relu_rows(block, &bias, relu);
    }
    Some(out)
}

/// `dst = src @ w` for a column-major `rows x i` tile `src`, a row-major `i x o` matrix `w` and
/// a column-major `rows x o` tile `dst` (every element written), single-threaded.
///
/// # Panics
/// When `src.len() < rows * i`, `w.len() < i * o` or `dst.len() < rows * o`.
pub fn gemm_tile(rows: usize, i: usize, o: usize, src: &[f32], w: &[f32], dst: &mut [f32]) {
    assert!(
        src.len() >= rows * i && w.len() >= i * o && dst.len() >= rows * o,
        "gemm_tile: operands shorter than rows = {rows}, i = {i}, o = {o}"
    );
    // SAFETY: the lengths checked above cover every element gemm reads (`src` rows x i with
    // column stride `rows`, `w` i x o with row stride `o`) and writes (`dst` rows x o with column
    // stride `rows`, in full as `read_dst = false`); `dst` is a unique borrow, so no aliasing.
    unsafe {
        gemm::gemm(
            rows,
            o,
            i,
            dst.as_mut_ptr(),
            rows as isize,
            1,
            false,
            src.as_ptr(),
            rows as isize,
            1,
            w.as_ptr(),
            1,
            o as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transposed, shared-weight, negatively strided product against the naive sums (exact:
    /// small integers), and views that reach outside their storage refused.
    #[test]
    fn batched_matches_naive_sums_and_refuses_bad_views() {
        let (s, n, i, o) = (2, 3, 4, 5);
        let xs: Vec<f32> = (0..s * n * i).map(|v| (v % 7) as f32 - 3.0).collect();
        let ws: Vec<f32> = (0..i * o).map(|v| (v % 5) as f32 - 2.0).collect();
        let bs: Vec<f32> = (0..o).map(|v| v as f32 - 2.0).collect();
        // x as [s, n, i] row-major; w shared (batch stride 0) and read transposed from a
        // [o, i] buffer; b shared, its columns read backwards.
        let x = View { data: &xs, offset: 0, strides: [(n * i) as isize, i as isize, 1] };
        let w = View { data: &ws, offset: 0, strides: [0, 1, i as isize] };
        let b = View { data: &bs, offset: o - 1, strides: [0, 0, -1] };
        for relu in [false, true] {
            let got = batched(x, w, b, [s, n, i, o], relu).expect("views within storage");
            for k in 0..s {
                for r in 0..n {
                    for c in 0..o {
                        let z: f32 =
                            (0..i).map(|q| xs[(k * n + r) * i + q] * ws[c * i + q]).sum::<f32>() + bs[o - 1 - c];
                        let want = if relu { z.max(0.0) } else { z };
                        assert_eq!(got[(k * n + r) * o + c], want, "({k}, {r}, {c}), relu {relu}");
                    }
                }
            }
        }
        let short = View { data: &xs[1..], ..x };
        assert!(batched(short, w, b, [s, n, i, o], false).is_none());
        let backwards = View { offset: 0, ..b };
        assert!(batched(x, w, backwards, [s, n, i, o], false).is_none());
    }

    /// The column-major tile product against the naive sums.
    #[test]
    fn gemm_tile_matches_naive_sums() {
        let (rows, i, o) = (7, 3, 6);
        let src: Vec<f32> = (0..rows * i).map(|v| (v % 5) as f32 - 2.0).collect();
        let w: Vec<f32> = (0..i * o).map(|v| (v % 3) as f32 - 1.0).collect();
        let mut dst = vec![f32::NAN; rows * o];
        gemm_tile(rows, i, o, &src, &w, &mut dst);
        for u in 0..o {
            for r in 0..rows {
                let want: f32 = (0..i).map(|k| src[k * rows + r] * w[k * o + u]).sum();
                assert_eq!(dst[u * rows + r], want, "({r}, {u})");
            }
        }
    }
}
