//! Small dense symmetric linear algebra on row-major `f64` buffers: a Cholesky factorisation
//! (for sampling `N(m, V)` in function space) and a cyclic Jacobi eigendecomposition (for the
//! curvature: once decomposed, every prior precision and noise level of the marginal-likelihood
//! search costs `O(P)` instead of a new factorisation).
//!
//! Written here rather than taken from nalgebra or faer: the matrices are small (a last layer's
//! parameters, or its Kronecker factors), the two routines are 80 lines, and the crate keeps its
//! dependency tree free of a second linear-algebra stack.

/// Lower-triangular `L` with `L L^T = a` for a symmetric positive-definite `n x n` matrix `a`,
/// or `None` when a pivot is not positive (the matrix is not positive definite).
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Eigenvalues `e` and eigenvectors (the columns of the row-major `q`) of a symmetric `n x n`
/// matrix, `a = q diag(e) q^T`, by cyclic Jacobi rotations (Golub & Van Loan, Algorithm 8.5.3)
/// until the off-diagonal mass is below `1e-15` of the whole.
pub(crate) fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut q = vec![0.0; n * n];
    for i in 0..n {
        q[i * n + i] = 1.0;
    }
    let total: f64 = a.iter().map(|v| v * v).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off <= 1e-30 * total || off == 0.0 {
            break;
        }
        for p in 0..n {
            for r in p + 1..n {
                let apr = a[p * n + r];
                if apr == 0.0 {
                    continue;
                }
                // The rotation that zeroes a[p][r]: tan(2 theta) = 2 a_pr / (a_rr - a_pp).
                let tau = (a[r * n + r] - a[p * n + p]) / (2.0 * apr);
                // signum(0.0) = 1: a rotation by pi/4 when the diagonal entries tie.
                let t = tau.signum() / (tau.abs() + (1.0 + tau * tau).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akr) = (a[k * n + p], a[k * n + r]);
                    a[k * n + p] = c * akp - s * akr;
                    a[k * n + r] = s * akp + c * akr;
                }
                for k in 0..n {
                    let (apk, ark) = (a[p * n + k], a[r * n + k]);
                    a[p * n + k] = c * apk - s * ark;
                    a[r * n + k] = s * apk + c * ark;
                }
                for k in 0..n {
                    let (qkp, qkr) = (q[k * n + p], q[k * n + r]);
                    q[k * n + p] = c * qkp - s * qkr;
                    q[k * n + r] = s * qkp + c * qkr;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reproduces_the_matrix_and_rejects_an_indefinite_one() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn jacobi_diagonalises_a_symmetric_matrix() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, -3.0];
        let (e, q) = symmetric_eigen(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| q[i * 3 + k] * e[k] * q[j * 3 + k]).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12, "{v} vs {}", a[i * 3 + j]);
                let o: f64 = (0..3).map(|k| q[k * 3 + i] * q[k * 3 + j]).sum();
                assert!((o - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
    }
}
