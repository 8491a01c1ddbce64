//! The generalised Gauss-Newton (GGN) of a last `Linear` layer in three structures, each kept in
//! an eigenbasis so that the posterior precision `s GGN + lambda I` of any prior precision
//! `lambda` and likelihood scale `s` is a diagonal in that basis.
//!
//! Parameters are `theta = vec(W')` row-major, `W' = [W; b]` of shape `[H', O]` (`H' = H + 1`
//! with a bias, whose input is the constant 1), so `theta[i O + o] = W'[i][o]`. The Jacobian of
//! the outputs at features `phi` is `J = phi^T (x) I_O` and the GGN is
//! `sum_n (phi_n phi_n^T) (x) Lambda_n`, `Lambda_n` the Hessian of the negative log-likelihood in
//! the outputs (Immer et al. 2021, Eq. 3; Daxberger et al. 2021, Sec. 2).

use super::linalg::symmetric_eigen;

/// Which approximation of the last layer's GGN the posterior precision uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Curvature {
    /// The whole `P x P` GGN, `P = H' O`. Costs `O(P^3)` once at fit time (an eigendecomposition);
    /// for a last layer of a few hundred parameters.
    Full,
    /// The diagonal of the GGN: weights independent a posteriori.
    Diagonal,
    /// KFAC (Martens & Grosse 2015), the variant of laplace-torch's `Kron` for a `Linear` layer:
    /// `GGN ~ A (x) G` with `A = sum_n phi_n phi_n^T` (`H' x H'`, the bias as an input of 1) and
    /// `G = (1/N) sum_n Lambda_n` (`O x O`): the data sum on the input factor, the mean on the
    /// output factor, so `A (x) G` has the GGN's scale. Exact when `Lambda_n` is the same for
    /// every point (a Gaussian likelihood, whatever `O`) or `N = 1`.
    #[default]
    Kron,
}

/// Which curvature matrix the structure of [`Curvature`] approximates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Fisher {
    /// The generalised Gauss-Newton `sum_n J_n^T Lambda_n J_n`, `Lambda_n` the Hessian of the
    /// negative log-likelihood in the outputs (the Fisher information of the model's own
    /// predictive; positive semi-definite, the default).
    #[default]
    Ggn,
    /// The empirical Fisher `sum_n g_n g_n^T` of the per-point gradients
    /// `g_n = J_n^T r_n`, `r_n` the gradient of the negative log-likelihood in the outputs at
    /// the observed target (`(f_n - y_n) / sigma^2` for a Gaussian, `p_n - e_{y_n}` for a
    /// softmax): laplace-torch's `EF` backend. Cheaper in general, but it is not the Hessian
    /// even at the optimum (Kunstner et al. 2019), and it scales as `1 / sigma^4`.
    Empirical,
}

/// A GGN (for likelihood scale `s = 1`) in its eigenbasis.
#[derive(Debug, Clone)]
pub(crate) enum Factors {
    /// `GGN = q diag(e) q^T`, `q` row-major `P x P` (eigenvectors in columns).
    Full { e: Vec<f64>, q: Vec<f64> },
    /// `GGN ~ diag(d)`.
    Diagonal { d: Vec<f64> },
    /// `GGN ~ (qa diag(ea) qa^T) (x) (qg diag(eg) qg^T)`.
    Kron { ea: Vec<f64>, qa: Vec<f64>, eg: Vec<f64>, qg: Vec<f64> },
}

impl Factors {
    /// Builds the chosen structure from features `phi` (`[N, H']` row-major) and the output
    /// Hessians: `lambda(n)` is `Lambda_n` (`O x O` row-major).
    pub(crate) fn build(
        curvature: Curvature,
        phi: &[f64],
        n: usize,
        h: usize,
        o: usize,
        lambda: impl Fn(usize) -> Vec<f64>,
    ) -> Self {
        let p = h * o;
        match curvature {
            Curvature::Full => {
                let mut ggn = vec![0.0; p * p];
                for row in 0..n {
                    let f = &phi[row * h..(row + 1) * h];
                    let l = lambda(row);
                    for i in 0..h {
                        for j in 0..h {
                            let fij = f[i] * f[j];
                            if fij == 0.0 {
                                continue;
                            }
                            for a in 0..o {
                                let r = (i * o + a) * p + j * o;
                                for b in 0..o {
                                    ggn[r + b] += fij * l[a * o + b];
                                }
                            }
                        }
                    }
                }
                let (e, q) = symmetric_eigen(&ggn, p);
                Factors::Full { e, q }
            }
            Curvature::Diagonal => {
                let mut d = vec![0.0; p];
                for row in 0..n {
                    let f = &phi[row * h..(row + 1) * h];
                    let l = lambda(row);
                    for i in 0..h {
                        for a in 0..o {
                            d[i * o + a] += f[i] * f[i] * l[a * o + a];
                        }
                    }
                }
                Factors::Diagonal { d }
            }
            Curvature::Kron => {
                let a = gram(phi, n, h);
                let mut g = vec![0.0; o * o];
                for row in 0..n {
                    for (gi, li) in g.iter_mut().zip(lambda(row)) {
                        *gi += li / n as f64;
                    }
                }
                let (ea, qa) = symmetric_eigen(&a, h);
                let (eg, qg) = symmetric_eigen(&g, o);
                Factors::Kron { ea, qa, eg, qg }
            }
        }
    }

    /// The GGN's eigenvalues, in the order of [`Self::eigenvector`].
    pub(crate) fn eigenvalues(&self) -> Vec<f64> {
        match self {
            Factors::Full { e, .. } => e.clone(),
            Factors::Diagonal { d } => d.clone(),
            Factors::Kron { ea, eg, .. } => ea.iter().flat_map(|a| eg.iter().map(move |g| a * g)).collect(),
        }
    }

    /// Eigenvector `k` of the GGN, length `P`.
    fn eigenvector(&self, k: usize, h: usize, o: usize) -> Vec<f64> {
        let p = h * o;
        match self {
            Factors::Full { q, .. } => (0..p).map(|r| q[r * p + k]).collect(),
            Factors::Diagonal { .. } => (0..p).map(|r| f64::from(u8::from(r == k))).collect(),
            Factors::Kron { qa, qg, .. } => {
                let (i, j) = (k / o, k % o);
                (0..p).map(|r| qa[(r / o) * h + i] * qg[(r % o) * o + j]).collect()
            }
        }
    }

    /// `sum_k f(k) v_k v_k^T` over the eigenvectors: the matrix with the GGN's eigenvectors and
    /// eigenvalues `f(k)` (e.g. the posterior covariance with `f = 1 / (s e_k + lambda)`).
    pub(crate) fn dense(&self, h: usize, o: usize, f: impl Fn(usize) -> f64) -> Vec<f64> {
        let p = h * o;
        let mut out = vec![0.0; p * p];
        for k in 0..p {
            let v = self.eigenvector(k, h, o);
            let w = f(k);
            for r in 0..p {
                for c in 0..p {
                    out[r * p + c] += w * v[r] * v[c];
                }
            }
        }
        out
    }

    /// The function-space covariance `J M J^T` (`O x O`) at one feature row `phi` (`[H']`), for
    /// `M = sum_k f(k) v_k v_k^T`.
    pub(crate) fn function_covariance(&self, phi: &[f64], h: usize, o: usize, f: &impl Fn(usize) -> f64) -> Vec<f64> {
        let p = h * o;
        let mut v = vec![0.0; o * o];
        match self {
            Factors::Full { q, .. } => {
                let mut u = vec![0.0; o];
                for k in 0..p {
                    for (a, ua) in u.iter_mut().enumerate() {
                        *ua = (0..h).map(|i| phi[i] * q[(i * o + a) * p + k]).sum();
                    }
                    let w = f(k);
                    for a in 0..o {
                        for b in 0..o {
                            v[a * o + b] += w * u[a] * u[b];
                        }
                    }
                }
            }
            Factors::Diagonal { .. } => {
                for a in 0..o {
                    v[a * o + a] = (0..h).map(|i| phi[i] * phi[i] * f(i * o + a)).sum();
                }
            }
            Factors::Kron { qa, qg, .. } => {
                for i in 0..h {
                    let ai: f64 = (0..h).map(|r| qa[r * h + i] * phi[r]).sum();
                    for j in 0..o {
                        let w = ai * ai * f(i * o + j);
                        for a in 0..o {
                            for b in 0..o {
                                v[a * o + b] += w * qg[a * o + j] * qg[b * o + j];
                            }
                        }
                    }
                }
            }
        }
        v
    }
}

impl Factors {
    /// The output-space covariance `J M J^T` (`out x out`) for a Jacobian block `jac`
    /// (`out` rows of `P = h o` columns, this block's parameters) and
    /// `M = sum_k f(k) v_k v_k^T`: the GLM predictive of any network, one block at a time.
    pub(crate) fn jacobian_covariance(
        &self,
        jac: &[f64],
        out: usize,
        h: usize,
        o: usize,
        f: &impl Fn(usize) -> f64,
    ) -> Vec<f64> {
        let p = h * o;
        let mut v = vec![0.0; out * out];
        let mut add = |w: f64, u: &[f64]| {
            for a in 0..out {
                for b in 0..out {
                    v[a * out + b] += w * u[a] * u[b];
                }
            }
        };
        match self {
            Factors::Full { q, .. } => {
                for k in 0..p {
                    let u: Vec<f64> = (0..out).map(|a| (0..p).map(|r| jac[a * p + r] * q[r * p + k]).sum()).collect();
                    add(f(k), &u);
                }
            }
            Factors::Diagonal { .. } => {
                for k in 0..p {
                    let u: Vec<f64> = (0..out).map(|a| jac[a * p + k]).collect();
                    add(f(k), &u);
                }
            }
            Factors::Kron { qa, qg, .. } => {
                // u_a for eigenvector (i, j) is (qa^T J_a qg)[i][j], J_a the row as an h x o matrix.
                let rotated: Vec<Vec<f64>> = (0..out)
                    .map(|a| {
                        let ja = &jac[a * p..(a + 1) * p];
                        let left: Vec<f64> = (0..h * o)
                            .map(|ij| (0..h).map(|r| qa[r * h + ij / o] * ja[r * o + ij % o]).sum())
                            .collect();
                        (0..h * o).map(|ij| (0..o).map(|c| left[(ij / o) * o + c] * qg[c * o + ij % o]).sum()).collect()
                    })
                    .collect();
                for k in 0..p {
                    let u: Vec<f64> = rotated.iter().map(|m| m[k]).collect();
                    add(f(k), &u);
                }
            }
        }
        v
    }
}

/// `phi^T phi` (`h x h`) of `n` rows.
pub(crate) fn gram(phi: &[f64], n: usize, h: usize) -> Vec<f64> {
    let mut a = vec![0.0; h * h];
    for row in phi.chunks_exact(h).take(n) {
        for i in 0..h {
            for j in 0..h {
                a[i * h + j] += row[i] * row[j];
            }
        }
    }
    a
}
