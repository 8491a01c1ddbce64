//! One NUTS transition: the multinomial no-U-turn sampler as in Stan (Hoffman & Gelman 2014;
//! Betancourt 2017, "A Conceptual Introduction to Hamiltonian Monte Carlo", appendix A).
//!
//! - Euclidean kinetic energy with a diagonal inverse metric `M⁻¹`: `K(p) = ½ pᵀ M⁻¹ p`,
//!   `p ~ N(0, M)`, leapfrog integrator.
//! - The trajectory doubles in a random direction until the generalized no-U-turn criterion
//!   (`p♯ · ρ > 0` at both ends, `p♯ = M⁻¹ p`, `ρ` the summed momenta) fails, a sub-tree
//!   diverges (energy error above `MAX_DELTA_H`) or the maximum depth is reached. As in Stan
//!   (since 2.22), the criterion is also checked across the two halves of every merged tree
//!   (the extra checks that catch U-turns of length one step past a half).
//! - Inside a sub-tree, states are drawn multinomially (proportional to `exp(-H)`); at the top
//!   level the new sub-tree's draw replaces the current one with probability
//!   `min(1, w_new / w_old)` (biased progressive sampling), which favours states far from the
//!   start.
//! - The acceptance statistic for step-size adaptation is the mean over every leapfrog state of
//!   `min(1, exp(H0 − H))`, including sub-trees that were rejected.

use rand::RngExt;
use rand_distr::StandardNormal;

use crate::error::Result;
use crate::infer::Potential;
use crate::noise;

/// Energy error (`H − H0`) beyond which a trajectory is declared divergent (Stan's 1000).
pub const MAX_DELTA_H: f64 = 1000.0;

/// What one draw's transition did (Stan's sampler diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DrawStats {
    /// Number of doublings of the trajectory that were kept (Stan's `treedepth__`).
    pub tree_depth: usize,
    /// Leapfrog steps taken, rejected sub-trees included (`n_leapfrog__`).
    pub n_leapfrog: usize,
    /// Mean Metropolis acceptance probability over the trajectory (`accept_stat__`).
    pub accept_prob: f64,
    /// Whether the trajectory hit an energy error above [`MAX_DELTA_H`] (`divergent__`).
    pub divergent: bool,
    /// Hamiltonian `U(q) + K(p)` at the draw (`energy__`).
    pub energy: f64,
    /// Potential `U(q) = −log p(q, data)` at the draw (Stan's `−lp__`).
    pub potential: f64,
    /// Leapfrog step size used (`stepsize__`).
    pub step_size: f64,
}

/// A point of phase space: position, momentum, and the potential with its gradient at `q`.
#[derive(Debug, Clone)]
pub(crate) struct PhasePoint {
    pub q: Vec<f64>,
    pub p: Vec<f64>,
    pub u: f64,
    pub grad: Vec<f64>,
}

impl PhasePoint {
    /// The point `q` with zero momentum, `U` and `∇U` evaluated.
    pub fn at<P: Potential + ?Sized>(potential: &P, q: Vec<f64>) -> Result<Self> {
        let (u, grad) = potential.value_and_grad(&q)?;
        Ok(PhasePoint { p: vec![0.0; q.len()], q, u, grad })
    }
}

/// The Hamiltonian `H(q, p) = U(q) + ½ pᵀ M⁻¹ p` with a diagonal inverse metric.
pub(crate) struct Hamiltonian<'a, P: ?Sized> {
    pub potential: &'a P,
    pub inv_mass: Vec<f64>,
}

impl<P: Potential + ?Sized> Hamiltonian<'_, P> {
    pub fn kinetic(&self, p: &[f64]) -> f64 {
        0.5 * p.iter().zip(&self.inv_mass).map(|(p, m)| m * p * p).sum::<f64>()
    }

    /// `H`, with NaN read as `+inf` (a state that can never be accepted).
    pub fn energy(&self, z: &PhasePoint) -> f64 {
        let h = z.u + self.kinetic(&z.p);
        if h.is_nan() {
            f64::INFINITY
        } else {
            h
        }
    }

    /// `p♯ = M⁻¹ p = ∂K/∂p`.
    pub fn sharp(&self, p: &[f64]) -> Vec<f64> {
        p.iter().zip(&self.inv_mass).map(|(p, m)| m * p).collect()
    }

    /// A fresh momentum `p ~ N(0, M)`, drawn from the thread's noise source.
    pub fn sample_momentum(&self, z: &mut PhasePoint) {
        noise::with_rng(|rng| {
            for (p, m) in z.p.iter_mut().zip(&self.inv_mass) {
                let e: f64 = rng.sample(StandardNormal);
                *p = e / m.sqrt();
            }
        });
    }

    /// One leapfrog step of size `eps` (negative: backwards in time).
    pub fn leapfrog(&self, z: &mut PhasePoint, eps: f64) -> Result<()> {
        for (p, g) in z.p.iter_mut().zip(&z.grad) {
            *p -= 0.5 * eps * g;
        }
        for ((q, p), m) in z.q.iter_mut().zip(&z.p).zip(&self.inv_mass) {
            *q += eps * m * p;
        }
        let (u, grad) = self.potential.value_and_grad(&z.q)?;
        z.u = u;
        z.grad = grad;
        for (p, g) in z.p.iter_mut().zip(&z.grad) {
            *p -= 0.5 * eps * g;
        }
        Ok(())
    }
}

fn uniform() -> f64 {
    noise::with_rng(|rng| rng.random::<f64>())
}

fn log_sum_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a + b).collect()
}

/// The generalized no-U-turn criterion between two ends (Betancourt 2017, eq. A.6).
fn no_u_turn(p_sharp_minus: &[f64], p_sharp_plus: &[f64], rho: &[f64]) -> bool {
    dot(p_sharp_plus, rho) > 0.0 && dot(p_sharp_minus, rho) > 0.0
}

/// The boundary of a (sub-)trajectory that the U-turn checks need: `beg` is the end it was
/// built from, `end` the end it was built to.
#[derive(Clone)]
struct Ends {
    p_beg: Vec<f64>,
    p_sharp_beg: Vec<f64>,
    p_end: Vec<f64>,
    p_sharp_end: Vec<f64>,
}

struct Tree<'h, 'a, P: ?Sized> {
    h: &'h Hamiltonian<'a, P>,
    h0: f64,
    eps: f64,
    n_leapfrog: usize,
    sum_metro_prob: f64,
    divergent: bool,
}

impl<P: Potential + ?Sized> Tree<'_, '_, P> {
    /// Builds a sub-tree of `2^depth` steps from `z` (which ends at the sub-tree's far end),
    /// adds its summed momenta to `rho` and its log weight to `log_sum_weight`, draws
    /// `z_propose` from it multinomially, and returns its ends, or `None` when it diverged or
    /// turned (Stan's `base_nuts::build_tree`).
    fn build(
        &mut self,
        depth: usize,
        z: &mut PhasePoint,
        z_propose: &mut PhasePoint,
        rho: &mut [f64],
        log_sum_weight: &mut f64,
    ) -> Result<Option<Ends>> {
        if depth == 0 {
            self.h.leapfrog(z, self.eps)?;
            self.n_leapfrog += 1;
            let h = self.h.energy(z);
            if h - self.h0 > MAX_DELTA_H {
                self.divergent = true;
            }
            *log_sum_weight = log_sum_exp(*log_sum_weight, self.h0 - h);
            self.sum_metro_prob += if self.h0 - h > 0.0 { 1.0 } else { (self.h0 - h).exp() };
            z_propose.clone_from(z);
            for (r, p) in rho.iter_mut().zip(&z.p) {
                *r += p;
            }
            let p_sharp = self.h.sharp(&z.p);
            let ends =
                Ends { p_beg: z.p.clone(), p_sharp_beg: p_sharp.clone(), p_end: z.p.clone(), p_sharp_end: p_sharp };
            return Ok((!self.divergent).then_some(ends));
        }
        let dim = rho.len();
        let mut log_sum_weight_init = f64::NEG_INFINITY;
        let mut rho_init = vec![0.0; dim];
        let Some(init) = self.build(depth - 1, z, z_propose, &mut rho_init, &mut log_sum_weight_init)? else {
            return Ok(None);
        };
        let mut z_propose_final = z.clone();
        let mut log_sum_weight_final = f64::NEG_INFINITY;
        let mut rho_final = vec![0.0; dim];
        let Some(last) = self.build(depth - 1, z, &mut z_propose_final, &mut rho_final, &mut log_sum_weight_final)?
        else {
            return Ok(None);
        };
        // Multinomial choice between the two halves, by their weights.
        let log_sum_weight_subtree = log_sum_exp(log_sum_weight_init, log_sum_weight_final);
        *log_sum_weight = log_sum_exp(*log_sum_weight, log_sum_weight_subtree);
        if log_sum_weight_final > log_sum_weight_subtree
            || uniform() < (log_sum_weight_final - log_sum_weight_subtree).exp()
        {
            *z_propose = z_propose_final;
        }
        let rho_subtree = add(&rho_init, &rho_final);
        for (r, s) in rho.iter_mut().zip(&rho_subtree) {
            *r += s;
        }
        // Around the merged tree, then across its halves (each half extended by the first
        // state of the other).
        let persist = no_u_turn(&init.p_sharp_beg, &last.p_sharp_end, &rho_subtree)
            && no_u_turn(&init.p_sharp_beg, &last.p_sharp_beg, &add(&rho_init, &last.p_beg))
            && no_u_turn(&init.p_sharp_end, &last.p_sharp_end, &add(&rho_final, &init.p_end));
        Ok(persist.then_some(Ends {
            p_beg: init.p_beg,
            p_sharp_beg: init.p_sharp_beg,
            p_end: last.p_end,
            p_sharp_end: last.p_sharp_end,
        }))
    }
}

/// One NUTS transition from `z0` (its `q`, `u`, `grad`; the momentum is redrawn). Returns the
/// next state and the transition's statistics (Stan's `base_nuts::transition`).
pub(crate) fn transition<P: Potential + ?Sized>(
    h: &Hamiltonian<'_, P>,
    z0: &PhasePoint,
    step_size: f64,
    max_depth: usize,
) -> Result<(PhasePoint, DrawStats)> {
    let mut z = z0.clone();
    h.sample_momentum(&mut z);
    let h0 = h.energy(&z);
    let p_sharp = h.sharp(&z.p);
    // Ends of the trajectory (`fwd`, `bck`) and of its two top-level halves.
    let mut z_fwd = z.clone();
    let mut z_bck = z.clone();
    let mut z_sample = z.clone();
    let mut z_propose = z.clone();
    let mut fwd = Ends { p_beg: z.p.clone(), p_sharp_beg: p_sharp.clone(), p_end: z.p.clone(), p_sharp_end: p_sharp };
    let mut bck = fwd.clone();
    let mut rho = z.p.clone();
    let mut log_sum_weight = 0.0; // log exp(H0 − H0)
    let mut tree = Tree { h, h0, eps: step_size, n_leapfrog: 0, sum_metro_prob: 0.0, divergent: false };
    let mut depth = 0;
    let dim = rho.len();
    while depth < max_depth {
        let mut rho_fwd = vec![0.0; dim];
        let mut rho_bck = vec![0.0; dim];
        let mut log_sum_weight_subtree = f64::NEG_INFINITY;
        let built = if uniform() > 0.5 {
            // Forwards: the trajectory so far becomes the backward half; `fwd.p_beg` is the
            // end of the old trajectory nearest the new half (Stan's `p_bck_fwd = p_fwd_fwd`).
            rho_bck.clone_from(&rho);
            bck.p_beg.clone_from(&fwd.p_end);
            bck.p_sharp_beg.clone_from(&fwd.p_sharp_end);
            tree.eps = step_size;
            let built = tree.build(depth, &mut z_fwd, &mut z_propose, &mut rho_fwd, &mut log_sum_weight_subtree)?;
            built.map(|new| fwd = new).is_some()
        } else {
            rho_fwd.clone_from(&rho);
            fwd.p_beg.clone_from(&bck.p_end);
            fwd.p_sharp_beg.clone_from(&bck.p_sharp_end);
            tree.eps = -step_size;
            let built = tree.build(depth, &mut z_bck, &mut z_propose, &mut rho_bck, &mut log_sum_weight_subtree)?;
            built.map(|new| bck = new).is_some()
        };
        if !built {
            break;
        }
        depth += 1;
        // Biased progressive sampling: the new half wins with probability min(1, w_new / w_old).
        if log_sum_weight_subtree > log_sum_weight || uniform() < (log_sum_weight_subtree - log_sum_weight).exp() {
            z_sample.clone_from(&z_propose);
        }
        log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);
        rho = add(&rho_bck, &rho_fwd);
        // `bck` holds its ends from the far backward end (`p_end`) to the middle (`p_beg`),
        // `fwd` from the middle (`p_beg`) to the far forward end (`p_end`).
        let persist = no_u_turn(&bck.p_sharp_end, &fwd.p_sharp_end, &rho)
            && no_u_turn(&bck.p_sharp_end, &fwd.p_sharp_beg, &add(&rho_bck, &fwd.p_beg))
            && no_u_turn(&bck.p_sharp_beg, &fwd.p_sharp_end, &add(&rho_fwd, &bck.p_beg));
        if !persist {
            break;
        }
    }
    let stats = DrawStats {
        tree_depth: depth,
        n_leapfrog: tree.n_leapfrog,
        accept_prob: if tree.n_leapfrog > 0 { tree.sum_metro_prob / tree.n_leapfrog as f64 } else { 0.0 },
        divergent: tree.divergent,
        energy: h.energy(&z_sample),
        potential: z_sample.u,
        step_size,
    };
    Ok((z_sample, stats))
}
