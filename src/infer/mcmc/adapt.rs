//! Warmup adaptation as in Stan: dual-averaging step size, the initial step-size heuristic, and
//! a diagonal mass matrix estimated in doubling windows.

use std::cmp::Ordering;

use crate::error::{Error, Result};

/// Nesterov dual averaging of `log ε` (Hoffman & Gelman 2014, §3.2.1, eq. 6), with Stan's
/// restart after every mass-matrix update.
#[derive(Debug, Clone)]
pub struct DualAveraging {
    target_accept: f64,
    gamma: f64,
    t0: f64,
    kappa: f64,
    mu: f64,
    counter: f64,
    s_bar: f64,
    x_bar: f64,
}

impl DualAveraging {
    /// Hoffman & Gelman's constants: `γ = 0.05`, `t0 = 10`, `κ = 0.75`; `μ = log(10 ε0)`.
    pub fn new(target_accept: f64, initial_step_size: f64) -> Self {
        let mut da = DualAveraging {
            target_accept,
            gamma: 0.05,
            t0: 10.0,
            kappa: 0.75,
            mu: 0.0,
            counter: 0.0,
            s_bar: 0.0,
            x_bar: 0.0,
        };
        da.restart(initial_step_size);
        da
    }

    /// Forgets the history and recentres on `log(10 ε)` (after a new mass matrix).
    pub fn restart(&mut self, step_size: f64) {
        self.mu = (10.0 * step_size).ln();
        self.counter = 0.0;
        self.s_bar = 0.0;
        self.x_bar = 0.0;
    }

    /// One update from the transition's mean acceptance statistic; returns the step size to use
    /// for the next transition.
    pub fn update(&mut self, accept_stat: f64) -> f64 {
        self.counter += 1.0;
        let accept = accept_stat.min(1.0);
        let eta = 1.0 / (self.counter + self.t0);
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.target_accept - accept);
        let x = self.mu - self.s_bar * self.counter.sqrt() / self.gamma;
        let x_eta = self.counter.powf(-self.kappa);
        self.x_bar = (1.0 - x_eta) * self.x_bar + x_eta * x;
        x.exp()
    }

    /// The step size for sampling: `exp(x̄)`, the weighted average of the iterates.
    pub fn final_step_size(&self) -> f64 {
        self.x_bar.exp()
    }
}

/// Stan's initial step-size heuristic (`base_hmc::init_stepsize`): from `step_size`, double (or
/// halve) `ε` until the energy change of one leapfrog step from a fresh momentum crosses
/// `log 0.8`. `delta_h(ε)` draws a momentum, takes one step of size `ε` and returns `H0 − H`
/// (`-inf` for a non-finite energy).
///
/// # Errors
/// `delta_h`'s errors, and a step size that shrinks to 0 (the potential is not finite or its
/// gradient explodes everywhere near the point). A step size that grows past `1e7` (a flat
/// posterior) stops the search there.
pub fn find_initial_step_size(mut step_size: f64, mut delta_h: impl FnMut(f64) -> Result<f64>) -> Result<f64> {
    let threshold = 0.8f64.ln();
    let direction_up = delta_h(step_size)? > threshold;
    loop {
        let dh = delta_h(step_size)?;
        // Stop once the energy change is no longer on the starting side (NaN counts as crossed).
        let side = dh.partial_cmp(&threshold);
        let crossed = if direction_up { side != Some(Ordering::Greater) } else { side != Some(Ordering::Less) };
        if crossed {
            return Ok(step_size);
        }
        step_size = if direction_up { 2.0 * step_size } else { 0.5 * step_size };
        if step_size > 1e7 {
            return Ok(1e7);
        }
        if step_size < 1e-300 {
            return Err(Error::invalid(
                "Mcmc",
                "step size",
                step_size,
                "> 0 after the initial step-size search",
                "the potential's energy is not finite around the initial point; check the model's \
                 log density and gradient there, or choose another init",
            ));
        }
    }
}

/// Welford's streaming mean and variance, one per coordinate.
#[derive(Debug, Clone)]
pub struct WelfordVariance {
    n: usize,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl WelfordVariance {
    /// An empty estimator for vectors of length `dim`.
    pub fn new(dim: usize) -> Self {
        WelfordVariance { n: 0, mean: vec![0.0; dim], m2: vec![0.0; dim] }
    }

    /// Adds one draw.
    pub fn add(&mut self, x: &[f64]) {
        self.n += 1;
        let n = self.n as f64;
        for ((m, m2), &xi) in self.mean.iter_mut().zip(&mut self.m2).zip(x) {
            let delta = xi - *m;
            *m += delta / n;
            *m2 += delta * (xi - *m);
        }
    }

    /// Number of draws added since the last restart.
    pub fn count(&self) -> usize {
        self.n
    }

    /// Sample variances (`n − 1` denominator).
    pub fn variance(&self) -> Vec<f64> {
        let d = (self.n as f64 - 1.0).max(1.0);
        self.m2.iter().map(|m2| m2 / d).collect()
    }

    /// Stan's regularised estimate, shrunk towards `1e-3`:
    /// `(n / (n + 5)) var + 1e-3 (5 / (n + 5))`.
    pub fn regularized_variance(&self) -> Vec<f64> {
        let n = self.n as f64;
        self.variance().into_iter().map(|v| (n / (n + 5.0)) * v + 1e-3 * (5.0 / (n + 5.0))).collect()
    }

    /// Forgets every draw.
    pub fn restart(&mut self) {
        *self = WelfordVariance::new(self.mean.len());
    }
}

/// Stan's warmup schedule (`windowed_adaptation`): an initial fast interval (step size only), a
/// series of slow windows that each end with a new diagonal mass matrix (the first of
/// `base_window` iterations, each next twice as long, the last stretched to the terminal
/// interval), then a terminal fast interval (step size only).
#[derive(Debug, Clone)]
pub struct WindowSchedule {
    num_warmup: usize,
    init_buffer: usize,
    term_buffer: usize,
    window_size: usize,
    next_window_end: usize,
    counter: usize,
    enabled: bool,
}

impl WindowSchedule {
    /// Stan's defaults: 75 initial, first slow window 25, 50 terminal. With fewer than
    /// `75 + 25 + 50` warmup iterations the intervals become 15 % / rest / 10 % (as Stan does);
    /// with fewer than 20 the mass matrix is not adapted at all.
    pub fn new(num_warmup: usize) -> Self {
        Self::with_buffers(num_warmup, 75, 25, 50)
    }

    /// A schedule with explicit interval lengths (`init_buffer`, first slow window, `term_buffer`).
    pub fn with_buffers(num_warmup: usize, init_buffer: usize, base_window: usize, term_buffer: usize) -> Self {
        let (mut init_buffer, mut base_window, mut term_buffer) = (init_buffer, base_window, term_buffer);
        let enabled = num_warmup >= 20;
        if enabled && init_buffer + base_window + term_buffer > num_warmup {
            init_buffer = (0.15 * num_warmup as f64) as usize;
            term_buffer = (0.1 * num_warmup as f64) as usize;
            base_window = num_warmup - (init_buffer + term_buffer);
        }
        WindowSchedule {
            num_warmup,
            init_buffer,
            term_buffer,
            window_size: base_window,
            next_window_end: init_buffer + base_window - 1,
            counter: 0,
            enabled,
        }
    }

    /// Whether the current warmup iteration's draw feeds the variance estimate.
    pub fn in_slow_window(&self) -> bool {
        self.enabled
            && self.counter >= self.init_buffer
            && self.counter < self.num_warmup - self.term_buffer
            && self.counter != self.num_warmup
    }

    /// Whether the current iteration ends a slow window (the mass matrix is updated after it).
    pub fn ends_slow_window(&self) -> bool {
        self.enabled && self.counter == self.next_window_end && self.counter != self.num_warmup
    }

    /// Moves to the next iteration; call once per warmup iteration after the checks above.
    pub fn advance(&mut self) {
        if self.ends_slow_window() {
            self.compute_next_window();
        }
        self.counter += 1;
    }

    fn compute_next_window(&mut self) {
        let last = self.num_warmup - self.term_buffer - 1;
        if self.next_window_end == last {
            return;
        }
        self.window_size *= 2;
        self.next_window_end = self.counter + self.window_size;
        if self.next_window_end != last
            && self.next_window_end + 2 * self.window_size >= self.num_warmup - self.term_buffer
        {
            self.next_window_end = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stan_windows_for_1000_warmup() {
        // Stan's documented schedule: slow windows [75, 100), [100, 150), [150, 250),
        // [250, 450), [450, 950), terminal [950, 1000).
        let mut s = WindowSchedule::new(1000);
        let mut ends = vec![];
        let mut first_slow = None;
        for i in 0..1000 {
            if s.in_slow_window() && first_slow.is_none() {
                first_slow = Some(i);
            }
            if s.ends_slow_window() {
                ends.push(i);
            }
            s.advance();
        }
        assert_eq!(first_slow, Some(75));
        assert_eq!(ends, vec![99, 149, 249, 449, 949]);
    }

    #[test]
    fn short_warmup_shrinks_the_buffers_and_tiny_warmup_disables_them() {
        let mut s = WindowSchedule::new(100);
        let mut ends = vec![];
        for i in 0..100 {
            if s.ends_slow_window() {
                ends.push(i);
            }
            s.advance();
        }
        // 15 initial, 10 terminal, one window of 75: it ends at 89.
        assert_eq!(ends, vec![89]);
        let s = WindowSchedule::new(10);
        assert!(!s.in_slow_window() && !s.ends_slow_window());
    }

    #[test]
    fn welford_matches_the_two_pass_variance() {
        let xs = [[1.0, -2.0], [3.5, 0.0], [2.0, 4.0], [-1.0, 1.0], [0.5, 0.5]];
        let mut w = WelfordVariance::new(2);
        xs.iter().for_each(|x| w.add(x));
        for j in 0..2 {
            let m = xs.iter().map(|x| x[j]).sum::<f64>() / 5.0;
            let v = xs.iter().map(|x| (x[j] - m).powi(2)).sum::<f64>() / 4.0;
            assert!((w.variance()[j] - v).abs() < 1e-12);
            let reg = 5.0 / 10.0 * v + 1e-3 * 5.0 / 10.0;
            assert!((w.regularized_variance()[j] - reg).abs() < 1e-12);
        }
    }

    #[test]
    fn dual_averaging_finds_the_step_size_of_the_target_acceptance() {
        // A made-up acceptance curve a(ε) = exp(-ε): the target 0.8 is met at ε* = -ln 0.8.
        // The shrinkage towards μ decays like sqrt(t) / t, so the error of exp(x̄) falls as
        // 1/sqrt(t): ten times the iterations, about a third of the error.
        let target = -(0.8f64.ln());
        let error_after = |n: usize| {
            let mut da = DualAveraging::new(0.8, 1.0);
            let mut eps = 1.0f64;
            for _ in 0..n {
                eps = da.update((-eps).exp());
            }
            (da.final_step_size() / target - 1.0).abs()
        };
        let (e2k, e20k) = (error_after(2_000), error_after(20_000));
        assert!(e20k < 0.01, "relative error after 20 000 updates: {e20k}");
        assert!(e20k < e2k / 2.0, "error must shrink like 1/sqrt(t): {e2k} then {e20k}");
    }

    #[test]
    fn initial_step_size_brackets_the_threshold() {
        // One leapfrog step on a standard normal from q = 0 with momentum 1: H0 - H = -ε⁴/8
        // (exact for the leapfrog), which crosses log 0.8 at ε = (8 ln 1.25)^(1/4) ≈ 1.16.
        let dh = |eps: f64| Ok(-eps.powi(4) / 8.0);
        let eps = find_initial_step_size(1.0, dh).unwrap();
        assert_eq!(eps, 2.0);
        let eps = find_initial_step_size(16.0, dh).unwrap();
        assert_eq!(eps, 1.0);
        let never = find_initial_step_size(1.0, |_| Ok(f64::NEG_INFINITY));
        assert!(matches!(never, Err(Error::InvalidParameter { field: "step size", .. })));
    }
}
