//! SWAG (Maddox et al. 2019, "A Simple Baseline for Bayesian Uncertainty in Deep Learning"): a
//! Gaussian over the weights of any burn module, fitted to the iterates of its ordinary SGD
//! training, and MultiSWAG (Wilson & Izmailov 2020): one SWAG per ensemble member.
//!
//! Train as usual, then keep training with a constant (or cyclic) learning rate and call
//! [`Swag::collect`] on the model once per epoch. With `T` snapshots `theta_1..theta_T` (every
//! float `Param` of the module, in burn's visiting order, flattened) SWAG keeps
//!
//! - the SWA mean `theta_bar = mean_t theta_t` and the second moment `mean_t theta_t^2`, so
//!   `Sigma_diag = max(mean theta^2 - theta_bar^2, 0)` elementwise;
//! - the last `K` deviations `D = [theta_t - theta_bar_t]` (the running mean at snapshot `t`),
//!   the low-rank part `D D^T / (K - 1)`;
//!
//! and samples
//! `theta = theta_bar + sqrt(scale / 2) Sigma_diag^(1/2) z_1 + sqrt(scale / (2 (K - 1))) D z_2`,
//! `z_1 ~ N(0, I_P)`, `z_2 ~ N(0, I_K)`: a Gaussian with
//! covariance `scale (Sigma_diag + D D^T / (K - 1)) / 2`. Each [`Swag::sample`] is a copy of the
//! module with those weights; `S` samples' forward passes stacked on axis 0 are the `[S, N, ..]`
//! input of [`predict::regression`](crate::predict::regression) and
//! [`predict::classification`](crate::predict::classification), as for every other method.
//! BatchNorm statistics are not refitted per sample (the paper does so; run your own pass over
//! the training data if the model has them).
//!
//! ```
//! use bayesburn::swag::Swag;
//! use burn::nn::LinearConfig;
//! use burn::prelude::*;
//!
//! let device = Device::flex();
//! let mut model = LinearConfig::new(2, 1).init(&device);
//! let mut swag = Swag::new(5)?;
//! for _ in 0..6 {
//!     // ... one epoch of SGD on `model` ...
//!     swag.collect(&model)?;
//! }
//! let draw = swag.sample(model.clone())?; // a Linear with SWAG-sampled weights
//! let mean = swag.swa(model)?; // the SWA solution
//! # Ok::<(), bayesburn::Error>(())
//! ```

use std::collections::VecDeque;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand_distr::{Distribution as _, StandardNormal};

use crate::distributions::check::to_host;
use crate::error::{Error, Result};
use crate::noise;

/// The SWAG moments of one module's weights; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Swag {
    max_rank: usize,
    scale: f64,
    count: usize,
    /// Number of elements of each float parameter, in visiting order.
    layout: Vec<usize>,
    mean: Vec<f64>,
    sq_mean: Vec<f64>,
    deviations: VecDeque<Vec<f64>>,
}

impl Swag {
    /// An empty SWAG keeping at most `max_rank` deviation columns (the paper's `K`, 20 there;
    /// 0 gives the diagonal-only SWAG), with covariance scale 1.
    ///
    /// # Errors
    /// None today; the `Result` keeps the constructor's signature stable.
    pub fn new(max_rank: usize) -> Result<Self> {
        Ok(Self {
            max_rank,
            scale: 1.0,
            count: 0,
            layout: Vec::new(),
            mean: Vec::new(),
            sq_mean: Vec::new(),
            deviations: VecDeque::new(),
        })
    }

    /// Scales the sampled covariance by `scale` (the paper's sample scale; 1 is the SWAG
    /// posterior, 0.5 as used for some of its experiments).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `scale > 0` and finite.
    pub fn with_scale(mut self, scale: f64) -> Result<Self> {
        crate::error::check_positive("Swag", "scale", scale, "pass a positive covariance scale, e.g. 1.0")?;
        self.scale = scale;
        Ok(self)
    }

    /// Adds the module's current weights as one snapshot.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the module's float parameters do not have the layout of the
    /// first snapshot (another architecture); [`Error::InvalidParameter`] if a weight is not
    /// finite (training diverged) — nothing is added then.
    pub fn collect<M: Module>(&mut self, model: &M) -> Result<()> {
        let (layout, theta) = flatten(model);
        if self.count == 0 {
            self.layout = layout;
            self.mean = vec![0.0; theta.len()];
            self.sq_mean = vec![0.0; theta.len()];
        } else if layout != self.layout {
            return Err(Error::shape(
                "Swag::collect",
                "parameters",
                format!("{:?} (the first snapshot's parameter sizes)", self.layout),
                &layout,
                "collect snapshots of one architecture; start a new Swag for another",
            ));
        }
        if let Some(i) = theta.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "Swag::collect",
                "weights",
                format!("{} at flat index {i}", theta[i]),
                "finite",
                "training diverged: lower the learning rate of the SWAG phase",
            ));
        }
        let n = self.count as f64;
        for ((m, s), &t) in self.mean.iter_mut().zip(&mut self.sq_mean).zip(&theta) {
            *m = (*m * n + t) / (n + 1.0);
            *s = (*s * n + t * t) / (n + 1.0);
        }
        self.count += 1;
        if self.max_rank > 0 {
            self.deviations.push_back(theta.iter().zip(&self.mean).map(|(t, m)| t - m).collect());
            if self.deviations.len() > self.max_rank {
                self.deviations.pop_front();
            }
        }
        Ok(())
    }

    /// Number of snapshots collected.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Number of deviation columns kept (`min(count, max_rank)`).
    pub fn rank(&self) -> usize {
        self.deviations.len()
    }

    /// The SWA mean `theta_bar`, flattened in burn's visiting order.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The diagonal variance `max(mean theta^2 - theta_bar^2, 0)`, flattened.
    pub fn diagonal_variance(&self) -> Vec<f64> {
        self.sq_mean.iter().zip(&self.mean).map(|(s, m)| (s - m * m).max(0.0)).collect()
    }

    /// The deviation columns `theta_t - theta_bar_t`, oldest first.
    pub fn deviations(&self) -> impl Iterator<Item = &[f64]> {
        self.deviations.iter().map(Vec::as_slice)
    }

    /// `model` with the SWA mean as its weights.
    ///
    /// # Errors
    /// As [`sample`](Self::sample).
    pub fn swa<M: Module>(&self, model: M) -> Result<M> {
        self.check_ready(model_layout(&model), 1)?;
        Ok(unflatten(model, &self.mean))
    }

    /// `model` with weights drawn from the SWAG Gaussian (noise from [`noise`],
    /// so `noise::with_seed` makes draws reproducible).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] before 2 snapshots (no variance yet);
    /// [`Error::ShapeMismatch`] if `model` has another parameter layout than the snapshots.
    pub fn sample<M: Module>(&self, model: M) -> Result<M> {
        self.check_ready(model_layout(&model), 2)?;
        let p = self.mean.len();
        let k = self.deviations.len();
        let (z1, z2): (Vec<f64>, Vec<f64>) = noise::with_rng(|rng| {
            let z1 = (0..p).map(|_| StandardNormal.sample(rng)).collect();
            let z2 = (0..k).map(|_| StandardNormal.sample(rng)).collect();
            (z1, z2)
        });
        Ok(unflatten(model, &self.draw(&z1, &z2)))
    }

    /// The weights for given standard normal vectors `z1` (`P` values) and `z2` (`K` values):
    /// `theta_bar + sqrt(scale / 2) Sigma_diag^(1/2) z1 + sqrt(scale / (2 (K - 1))) D z2` (the
    /// low-rank term only for `K >= 2`).
    pub fn draw(&self, z1: &[f64], z2: &[f64]) -> Vec<f64> {
        let half = (self.scale / 2.0).sqrt();
        let mut theta: Vec<f64> =
            self.mean.iter().zip(self.diagonal_variance()).zip(z1).map(|((m, v), z)| m + half * v.sqrt() * z).collect();
        let k = self.deviations.len();
        if k >= 2 {
            let c = (self.scale / (2.0 * (k as f64 - 1.0))).sqrt();
            for (column, &z) in self.deviations.iter().zip(z2) {
                for (t, d) in theta.iter_mut().zip(column) {
                    *t += c * d * z;
                }
            }
        }
        theta
    }

    fn check_ready(&self, layout: Vec<usize>, needed: usize) -> Result<()> {
        if self.count < needed {
            return Err(Error::invalid(
                "Swag",
                "snapshots",
                self.count,
                if needed == 1 { ">= 1" } else { ">= 2" },
                "call Swag::collect on the model during training (once per epoch) first",
            ));
        }
        if layout != self.layout {
            return Err(Error::shape(
                "Swag",
                "model",
                format!("{:?} (the snapshots' parameter sizes)", self.layout),
                &layout,
                "sample into a module of the architecture the snapshots came from",
            ));
        }
        Ok(())
    }
}

/// MultiSWAG: one [`Swag`] per ensemble member; `samples_per_member` draws from each, members
/// in order, so `S = members × samples_per_member` models form the predictive mixture.
///
/// # Errors
/// As [`Swag::sample`], for the first member that fails; [`Error::InvalidParameter`] if
/// `members` and `swags` differ in length or are empty.
pub fn multi_swag_samples<M: Module>(members: &[M], swags: &[Swag], samples_per_member: usize) -> Result<Vec<M>> {
    if members.is_empty() || members.len() != swags.len() {
        return Err(Error::invalid(
            "multi_swag_samples",
            "swags",
            format!("{} for {} members", swags.len(), members.len()),
            "one Swag per member, at least one member",
            "collect one Swag per ensemble member",
        ));
    }
    let mut out = Vec::with_capacity(members.len() * samples_per_member);
    for (member, swag) in members.iter().zip(swags) {
        for _ in 0..samples_per_member {
            out.push(swag.sample(member.clone())?);
        }
    }
    Ok(out)
}

/// The sizes of a module's float parameters, in visiting order.
fn model_layout<M: Module>(model: &M) -> Vec<usize> {
    struct Sizes(Vec<usize>);
    impl ModuleVisitor for Sizes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().shape().num_elements());
        }
    }
    let mut sizes = Sizes(Vec::new());
    model.visit(&mut sizes);
    sizes.0
}

/// A module's float parameters, flattened in visiting order, with their sizes.
fn flatten<M: Module>(model: &M) -> (Vec<usize>, Vec<f64>) {
    struct Flat(Vec<usize>, Vec<f64>);
    impl ModuleVisitor for Flat {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = to_host(&param.val());
            self.0.push(values.len());
            self.1.extend(values);
        }
    }
    let mut flat = Flat(Vec::new(), Vec::new());
    model.visit(&mut flat);
    (flat.0, flat.1)
}

/// `model` with its float parameters replaced by consecutive slices of `theta` (visiting order).
fn unflatten<M: Module>(model: M, theta: &[f64]) -> M {
    struct Write<'a> {
        theta: &'a [f64],
        at: usize,
    }
    impl ModuleMapper for Write<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let at = self.at;
            param.map(|t| {
                let dims = t.dims();
                let n: usize = dims.iter().product();
                let values = self.theta[at..at + n].to_vec();
                self.at += n;
                Tensor::from_data(TensorData::new(values, dims).convert_dtype(t.dtype()), &t.device())
            })
        }
    }
    model.map(&mut Write { theta, at: 0 })
}
