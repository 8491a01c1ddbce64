use std::time::Instant;

use super::adapt::{find_initial_step_size, DualAveraging, WelfordVariance, WindowSchedule};
use super::diagnostics::Summary;
use super::nuts::{DrawStats, Hamiltonian, PhasePoint};
use crate::error::{Error, Result};
use crate::infer::Potential;
use crate::noise;
use rand::RngExt;

const CONTEXT: &str = "NutsConfig";

/// Where each chain starts, in the unconstrained space.
#[derive(Debug, Clone, PartialEq)]
pub enum InitStrategy {
    /// Every coordinate uniform on `[-radius, radius]` (Stan's default, radius 2); redrawn up to
    /// 100 times until `U` and its gradient are finite.
    Uniform {
        /// Half-width of the interval.
        radius: f64,
    },
    /// All chains start at the origin.
    Zeros,
    /// All chains start at this point.
    Values(Vec<f64>),
}

/// How [`Mcmc::run`] schedules the chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainMethod {
    /// One scoped thread per chain.
    Parallel,
    /// One chain after the other on the calling thread.
    Sequential,
}

/// Settings of a NUTS run (defaults are Stan's and NumPyro's).
#[derive(Debug, Clone, PartialEq)]
pub struct NutsConfig {
    /// Warmup (adaptation) iterations per chain, discarded. Default 1000; 0 skips adaptation.
    pub num_warmup: usize,
    /// Kept draws per chain. Default 1000.
    pub num_samples: usize,
    /// Number of independent chains. Default 4.
    pub num_chains: usize,
    /// Mean acceptance probability the step size is tuned to, in `(0, 1)`. Default 0.8; raise it
    /// (0.9, 0.95) when a posterior shows divergences.
    pub target_accept: f64,
    /// Most doublings of a trajectory (at most `2^max_tree_depth` leapfrog steps). Default 10.
    pub max_tree_depth: usize,
    /// Seed of the whole run. Default 0.
    pub seed: u64,
    /// Initial points. Default `Uniform { radius: 2.0 }`.
    pub init: InitStrategy,
    /// Threads or not, for [`Mcmc::run`]. Default `Parallel`.
    pub chain_method: ChainMethod,
    /// Adapt a diagonal mass matrix in Stan's windows during warmup. Default true.
    pub adapt_mass_matrix: bool,
}

impl Default for NutsConfig {
    fn default() -> Self {
        NutsConfig {
            num_warmup: 1000,
            num_samples: 1000,
            num_chains: 4,
            target_accept: 0.8,
            max_tree_depth: 10,
            seed: 0,
            init: InitStrategy::Uniform { radius: 2.0 },
            chain_method: ChainMethod::Parallel,
            adapt_mass_matrix: true,
        }
    }
}

impl NutsConfig {
    /// Sets [`NutsConfig::num_warmup`].
    pub fn with_num_warmup(mut self, n: usize) -> Self {
        self.num_warmup = n;
        self
    }
    /// Sets [`NutsConfig::num_samples`].
    pub fn with_num_samples(mut self, n: usize) -> Self {
        self.num_samples = n;
        self
    }
    /// Sets [`NutsConfig::num_chains`].
    pub fn with_num_chains(mut self, n: usize) -> Self {
        self.num_chains = n;
        self
    }
    /// Sets [`NutsConfig::target_accept`].
    pub fn with_target_accept(mut self, p: f64) -> Self {
        self.target_accept = p;
        self
    }
    /// Sets [`NutsConfig::max_tree_depth`].
    pub fn with_max_tree_depth(mut self, depth: usize) -> Self {
        self.max_tree_depth = depth;
        self
    }
    /// Sets [`NutsConfig::seed`].
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets [`NutsConfig::init`].
    pub fn with_init(mut self, init: InitStrategy) -> Self {
        self.init = init;
        self
    }
    /// Sets [`NutsConfig::chain_method`].
    pub fn with_chain_method(mut self, method: ChainMethod) -> Self {
        self.chain_method = method;
        self
    }
    /// Sets [`NutsConfig::adapt_mass_matrix`].
    pub fn with_adapt_mass_matrix(mut self, adapt: bool) -> Self {
        self.adapt_mass_matrix = adapt;
        self
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the field: `num_samples`, `num_chains` or
    /// `max_tree_depth` of 0, `target_accept` outside `(0, 1)`, a non-positive uniform init
    /// radius, non-finite init values.
    pub fn validate(&self) -> Result<()> {
        crate::error::check_nonzero(CONTEXT, "num_samples", self.num_samples, "keep at least one draw per chain")?;
        crate::error::check_nonzero(CONTEXT, "num_chains", self.num_chains, "run at least one chain (4 is usual)")?;
        crate::error::check_nonzero(CONTEXT, "max_tree_depth", self.max_tree_depth, "use a depth such as 10")?;
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(Error::invalid(
                CONTEXT,
                "target_accept",
                self.target_accept,
                "in (0, 1)",
                "use a target acceptance probability such as 0.8 (0.9 or 0.95 against divergences)",
            ));
        }
        match &self.init {
            InitStrategy::Uniform { radius } => {
                crate::error::check_positive(CONTEXT, "init radius", *radius, "use a radius such as 2 (Stan's default)")
            }
            InitStrategy::Values(v) => match v.iter().find(|x| !x.is_finite()) {
                Some(x) => {
                    Err(Error::invalid(CONTEXT, "init", x, "finite", "start from a point with finite coordinates"))
                }
                None => Ok(()),
            },
            InitStrategy::Zeros => Ok(()),
        }
    }
}

/// The NUTS sampler over a [`Potential`] (NumPyro's `MCMC(NUTS(model))`).
#[derive(Debug, Clone)]
pub struct Mcmc {
    config: NutsConfig,
}

impl Mcmc {
    /// A sampler with a checked configuration.
    ///
    /// # Errors
    /// See [`NutsConfig::validate`].
    pub fn new(config: NutsConfig) -> Result<Self> {
        config.validate()?;
        Ok(Mcmc { config })
    }

    /// The configuration.
    pub fn config(&self) -> &NutsConfig {
        &self.config
    }

    /// Runs every chain, on threads when [`NutsConfig::chain_method`] is `Parallel`.
    ///
    /// # Errors
    /// A potential of dimension 0, an init of the wrong length or where `U` or its gradient is
    /// not finite, and whatever the potential returns.
    pub fn run<P: Potential + Sync + ?Sized>(&self, potential: &P) -> Result<McmcResult> {
        if self.config.chain_method == ChainMethod::Sequential || self.config.num_chains == 1 {
            return self.run_sequential(potential);
        }
        let start = Instant::now();
        let seeds = self.chain_seeds(potential)?;
        let chains: Vec<Result<Chain>> = std::thread::scope(|s| {
            let handles: Vec<_> =
                seeds.iter().map(|&seed| s.spawn(move || run_chain(potential, &self.config, seed))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        McmcResult::collect(chains, start)
    }

    /// Runs the chains one after the other on the calling thread; the potential need not be
    /// `Sync`. Same draws as [`Mcmc::run`] for the same seed.
    ///
    /// # Errors
    /// As [`Mcmc::run`].
    pub fn run_sequential<P: Potential + ?Sized>(&self, potential: &P) -> Result<McmcResult> {
        let start = Instant::now();
        let seeds = self.chain_seeds(potential)?;
        let chains = seeds.iter().map(|&seed| run_chain(potential, &self.config, seed)).collect();
        McmcResult::collect(chains, start)
    }

    fn chain_seeds<P: Potential + ?Sized>(&self, potential: &P) -> Result<Vec<u64>> {
        let dim = potential.dim();
        if dim == 0 {
            return Err(Error::invalid(
                "Mcmc::run",
                "dim",
                0,
                ">= 1",
                "the potential has no parameters; NUTS needs at least one unconstrained coordinate",
            ));
        }
        if let InitStrategy::Values(v) = &self.config.init {
            if v.len() != dim {
                return Err(Error::shape(
                    "Mcmc::run",
                    "init",
                    format!("[{dim}] (the potential's dim)"),
                    &[v.len()],
                    "pass one initial value per unconstrained coordinate",
                ));
            }
        }
        Ok(noise::with_seed(self.config.seed, || (0..self.config.num_chains).map(|_| noise::next_seed()).collect()))
    }
}

/// Everything one chain produced.
struct Chain {
    draws: Vec<Vec<f64>>,
    stats: Vec<DrawStats>,
    step_size: f64,
    inv_mass: Vec<f64>,
    warmup_divergences: usize,
    elapsed_s: f64,
}

/// The initial phase point for a chain.
fn initial_point<P: Potential + ?Sized>(potential: &P, init: &InitStrategy) -> Result<PhasePoint> {
    let dim = potential.dim();
    let finite = |z: &PhasePoint| z.u.is_finite() && z.grad.iter().all(|g| g.is_finite());
    let tries = if matches!(init, InitStrategy::Uniform { .. }) { 100 } else { 1 };
    let mut last = f64::NAN;
    for _ in 0..tries {
        let q = match init {
            InitStrategy::Uniform { radius } => {
                noise::with_rng(|rng| (0..dim).map(|_| radius * (2.0 * rng.random::<f64>() - 1.0)).collect())
            }
            InitStrategy::Zeros => vec![0.0; dim],
            InitStrategy::Values(v) => v.clone(),
        };
        let z = PhasePoint::at(potential, q)?;
        if finite(&z) {
            return Ok(z);
        }
        last = z.u;
    }
    Err(Error::invalid(
        "Mcmc::run",
        "init",
        format!("a point with U = {last} (or a non-finite gradient) after {tries} tries"),
        "a point where the potential and its gradient are finite",
        "start inside the support: pass InitStrategy::Values with a valid point, or check the model's density",
    ))
}

/// One chain: warmup with adaptation, then `num_samples` draws.
fn run_chain<P: Potential + ?Sized>(potential: &P, config: &NutsConfig, seed: u64) -> Result<Chain> {
    noise::with_seed(seed, || {
        let start = Instant::now();
        let mut z = initial_point(potential, &config.init)?;
        let dim = z.q.len();
        let mut h = Hamiltonian { potential, inv_mass: vec![1.0; dim] };
        let heuristic = |h: &Hamiltonian<'_, P>, z: &PhasePoint, eps: f64| {
            find_initial_step_size(eps, |eps| {
                let mut trial = z.clone();
                h.sample_momentum(&mut trial);
                let h0 = h.energy(&trial);
                h.leapfrog(&mut trial, eps)?;
                Ok(h0 - h.energy(&trial))
            })
        };
        let mut step_size = heuristic(&h, &z, 1.0)?;
        let mut dual = DualAveraging::new(config.target_accept, step_size);
        let mut windows = WindowSchedule::new(config.num_warmup);
        let mut welford = WelfordVariance::new(dim);
        let mut warmup_divergences = 0;
        for _ in 0..config.num_warmup {
            let (next, stats) = super::nuts::transition(&h, &z, step_size, config.max_tree_depth)?;
            z = next;
            warmup_divergences += usize::from(stats.divergent);
            step_size = dual.update(stats.accept_prob);
            if config.adapt_mass_matrix {
                if windows.in_slow_window() {
                    welford.add(&z.q);
                }
                if windows.ends_slow_window() {
                    h.inv_mass = welford.regularized_variance();
                    welford.restart();
                    step_size = heuristic(&h, &z, step_size)?;
                    dual.restart(step_size);
                }
            }
            windows.advance();
        }
        if config.num_warmup > 0 {
            step_size = dual.final_step_size();
        }
        let mut draws = Vec::with_capacity(config.num_samples);
        let mut all_stats = Vec::with_capacity(config.num_samples);
        for _ in 0..config.num_samples {
            let (next, stats) = super::nuts::transition(&h, &z, step_size, config.max_tree_depth)?;
            z = next;
            draws.push(z.q.clone());
            all_stats.push(stats);
        }
        Ok(Chain {
            draws,
            stats: all_stats,
            step_size,
            inv_mass: h.inv_mass,
            warmup_divergences,
            elapsed_s: start.elapsed().as_secs_f64(),
        })
    })
}

/// What [`Mcmc::run`] returns: the kept draws in the unconstrained space and the sampler's
/// statistics, per chain. Serializable (serde), e.g. to checkpoint a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct McmcResult {
    /// Draws `[chain][draw][dim]` (unconstrained coordinates).
    pub draws: Vec<Vec<Vec<f64>>>,
    /// Per-draw statistics `[chain][draw]` of the kept draws.
    pub stats: Vec<Vec<DrawStats>>,
    /// The adapted step size of each chain.
    pub step_sizes: Vec<f64>,
    /// The adapted diagonal inverse mass matrix (posterior variance estimate) of each chain.
    pub inv_mass: Vec<Vec<f64>>,
    /// Divergent transitions during warmup, per chain (not counted in [`McmcResult::divergences`]).
    pub warmup_divergences: Vec<usize>,
    /// Wall time of the whole run, warmup included, in seconds.
    pub elapsed_s: f64,
    /// Wall time of each chain, warmup included, in seconds.
    pub chain_elapsed_s: Vec<f64>,
}

impl McmcResult {
    fn collect(chains: Vec<Result<Chain>>, start: Instant) -> Result<Self> {
        let chains = chains.into_iter().collect::<Result<Vec<_>>>()?;
        let mut out = McmcResult {
            draws: vec![],
            stats: vec![],
            step_sizes: vec![],
            inv_mass: vec![],
            warmup_divergences: vec![],
            elapsed_s: start.elapsed().as_secs_f64(),
            chain_elapsed_s: vec![],
        };
        for c in chains {
            out.draws.push(c.draws);
            out.stats.push(c.stats);
            out.step_sizes.push(c.step_size);
            out.inv_mass.push(c.inv_mass);
            out.warmup_divergences.push(c.warmup_divergences);
            out.chain_elapsed_s.push(c.elapsed_s);
        }
        Ok(out)
    }

    /// Number of chains.
    pub fn num_chains(&self) -> usize {
        self.draws.len()
    }

    /// Kept draws per chain.
    pub fn num_samples(&self) -> usize {
        self.draws.first().map_or(0, Vec::len)
    }

    /// Length of each draw.
    pub fn dim(&self) -> usize {
        self.draws.first().and_then(|c| c.first()).map_or(0, Vec::len)
    }

    /// Divergent transitions among the kept draws, all chains.
    pub fn divergences(&self) -> usize {
        self.stats.iter().flatten().filter(|s| s.divergent).count()
    }

    /// [`McmcResult::divergences`] over the number of kept draws.
    pub fn divergence_rate(&self) -> f64 {
        self.divergences() as f64 / (self.num_chains() * self.num_samples()) as f64
    }

    /// Mean acceptance statistic over the kept draws.
    pub fn mean_accept_prob(&self) -> f64 {
        let all: Vec<f64> = self.stats.iter().flatten().map(|s| s.accept_prob).collect();
        all.iter().sum::<f64>() / all.len() as f64
    }

    /// A scalar function of each draw, as chains `[chain][draw]` for [`diagnostics`](super::diagnostics): e.g.
    /// `result.map(|q| q[1].exp())` for a scale sampled on log scale.
    pub fn map(&self, f: impl Fn(&[f64]) -> f64) -> Vec<Vec<f64>> {
        self.draws.iter().map(|c| c.iter().map(|q| f(q)).collect()).collect()
    }

    /// Coordinate `i` of every draw, `[chain][draw]`.
    ///
    /// # Errors
    /// `i >= dim`.
    pub fn param(&self, i: usize) -> Result<Vec<Vec<f64>>> {
        if i >= self.dim() {
            return Err(Error::invalid(
                "McmcResult::param",
                "index",
                i,
                "< dim",
                "pass the index of an unconstrained coordinate",
            ));
        }
        Ok(self.map(|q| q[i]))
    }

    /// [`Summary`] (mean, sd, MCSE, bulk ESS, R-hat) of every coordinate.
    ///
    /// # Errors
    /// Fewer than 4 draws per chain, or non-finite draws.
    pub fn summary(&self) -> Result<Vec<Summary>> {
        (0..self.dim()).map(|i| super::diagnostics::summary(&self.param(i)?)).collect()
    }
}
