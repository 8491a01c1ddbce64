//! All-weights Laplace for a stack of dense layers ("Laplace Redux", Daxberger et al. 2021,
//! Sec. 3.2): a Gaussian posterior `N(theta*, (s C + lambda I)^-1)` over every weight and bias of
//! a chain of `burn::nn::Linear` layers with one elementwise activation between them, `C` the
//! GGN or the empirical Fisher in a full, diagonal or per-layer Kronecker-factored structure.
//!
//! Parameters are the layers' `vec([W_l; b_l])` (row-major `[H'_l, O_l]`, as for the last-layer
//! posterior) concatenated in layer order. The network is evaluated on the host in `f64`, with
//! the Jacobian of its outputs by backpropagation: for layer `l` with (bias-augmented) input
//! `a_l` and the output's gradient `delta_l` (`[O, O_l]`) in its pre-activations,
//! `d f_o / d W'_l[i][j] = a_l[i] delta_l[o][j]`. KFAC per layer (Martens & Grosse 2015) is
//! `A_l (x) G_l` with `A_l = sum_n a_l a_l^T` and `G_l = (1/N) sum_n delta_l^T Lambda_n delta_l`:
//! the data sum on the input factor, the mean on the output factor, exact for a single layer
//! under a Gaussian likelihood.

use burn::nn::Linear;
use burn::prelude::*;

use super::curvature::{Curvature, Factors, Fisher};
use super::last_layer::{gaussian_scale, softmax, LaplaceLikelihood};
use super::linalg::symmetric_eigen;
use super::predictive::{monte_carlo_summary, probit_summary, regression_summary, wrong_likelihood};
use super::tuning::{
    evidence_arguments, laplace_evidence, optimize_prior_precision, optimize_prior_precision_and_sigma, replace_sigma,
    Evidence,
};
use crate::error::{check_nonzero, check_positive, Error, Result};
use crate::metrics::host::{self, ColumnsOf};
use crate::predict::{ClassificationSummary, RegressionSummary};

/// Most parameters [`Curvature::Full`] accepts: its `P x P` matrix is eigendecomposed once by
/// cyclic Jacobi rotations, `O(P^3)` per sweep (about half a minute at `P = 1000`); use
/// [`Curvature::Kron`] or [`Curvature::Diagonal`] beyond.
pub const MAX_FULL_PARAMETERS: usize = 1000;

/// The elementwise nonlinearity between the layers of a [`DenseLaplace`] stack (none after the
/// last layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Activation {
    /// `max(z, 0)` (derivative 0 at 0, as burn's).
    #[default]
    Relu,
    /// `tanh(z)`.
    Tanh,
    /// `z`: a linear network.
    Identity,
}

impl Activation {
    fn apply(self, z: f64) -> f64 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Tanh => z.tanh(),
            Activation::Identity => z,
        }
    }

    fn derivative(self, z: f64) -> f64 {
        match self {
            Activation::Relu => f64::from(u8::from(z > 0.0)),
            Activation::Tanh => 1.0 - z.tanh().powi(2),
            Activation::Identity => 1.0,
        }
    }
}

/// Settings of an all-weights Laplace fit: the curvature's structure and matrix, the isotropic
/// prior `N(0, I / prior_precision)` on every weight and bias, and the activation between layers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DenseLaplaceConfig {
    /// The structure (default [`Curvature::Kron`]: one Kronecker factor pair per layer;
    /// [`Curvature::Full`] is one `P x P` block, [`Curvature::Diagonal`] its diagonal).
    pub curvature: Curvature,
    /// The matrix: GGN (default) or empirical Fisher.
    pub fisher: Fisher,
    /// The prior precision `lambda > 0` (default 1).
    pub prior_precision: f64,
    /// The nonlinearity after every layer but the last (default ReLU).
    pub activation: Activation,
}

impl Default for DenseLaplaceConfig {
    fn default() -> Self {
        Self { curvature: Curvature::Kron, fisher: Fisher::Ggn, prior_precision: 1.0, activation: Activation::Relu }
    }
}

/// One layer's place in the parameter vector.
#[derive(Debug, Clone, Copy)]
struct Shape {
    d_in: usize,
    d_out: usize,
    bias: bool,
    offset: usize,
}

impl Shape {
    fn h(&self) -> usize {
        self.d_in + usize::from(self.bias)
    }

    fn len(&self) -> usize {
        self.h() * self.d_out
    }
}

/// One block of the block-diagonal curvature: parameters `offset..offset + h o`.
#[derive(Debug, Clone)]
struct Block {
    offset: usize,
    h: usize,
    o: usize,
    factors: Factors,
}

impl Block {
    fn len(&self) -> usize {
        self.h * self.o
    }
}

/// The network at one input: its outputs, each layer's augmented input and the outputs'
/// gradients in each layer's pre-activations.
struct Pass {
    f: Vec<f64>,
    inputs: Vec<Vec<f64>>,
    deltas: Vec<Vec<f64>>,
}

/// A fitted all-weights Laplace posterior `N(theta*, (s C + lambda I)^-1)` over every weight and
/// bias of a stack of `Linear` layers, `C` the GGN or the empirical Fisher in the chosen
/// structure (per-layer KFAC: `A_l (x) G_l`, `A_l = sum_n a_l a_l^T` of the layer's
/// bias-augmented inputs, `G_l = (1/N) sum_n delta_l^T Lambda_n delta_l` of the outputs'
/// gradients in its pre-activations; zero between layers). Built by
/// [`DenseLaplaceConfig::fit_regression`] or [`DenseLaplaceConfig::fit_classification`].
#[derive(Debug, Clone)]
pub struct DenseLaplace {
    config: DenseLaplaceConfig,
    likelihood: LaplaceLikelihood,
    shapes: Vec<Shape>,
    blocks: Vec<Block>,
    eigenvalues: Vec<f64>,
    theta: Vec<f64>,
    outputs: usize,
    points: usize,
    /// `sum ||y - f||^2` (Gaussian) or `log p(D | theta*)` (categorical) at the trained weights.
    fit_term: f64,
}

const LAYERS_FIX: &str = "pass the network's Linear layers in order, each d_input equal to the previous d_output";

/// The layers' parameters as `theta` and their shapes.
fn parameters(context: &'static str, layers: &[Linear]) -> Result<(Vec<f64>, Vec<Shape>)> {
    if layers.is_empty() {
        return Err(Error::shape(context, "layers", "[L] with L >= 1 Linear layers", &[0], LAYERS_FIX));
    }
    let (mut theta, mut shapes) = (Vec::new(), Vec::with_capacity(layers.len()));
    for (l, layer) in layers.iter().enumerate() {
        let [d_in, d_out] = layer.weight.val().dims();
        if let Some(prev) = shapes.last().map(|s: &Shape| s.d_out) {
            if d_in != prev {
                return Err(Error::shape(
                    context,
                    "layers",
                    format!("[{prev}, d_output] for layer {l} (layer {} has d_output {prev})", l - 1),
                    &[d_in, d_out],
                    LAYERS_FIX,
                ));
            }
        }
        let offset = theta.len();
        theta.extend(host::floats(context, "layers.weight", layer.weight.val())?);
        let bias = match &layer.bias {
            Some(b) => {
                theta.extend(host::floats(context, "layers.bias", b.val())?);
                true
            }
            None => false,
        };
        shapes.push(Shape { d_in, d_out, bias, offset });
    }
    Ok((theta, shapes))
}

/// Forward and backward pass of the stack at one input `x`.
fn pass(shapes: &[Shape], activation: Activation, theta: &[f64], x: &[f64]) -> Pass {
    let (mut inputs, mut pre) = (Vec::with_capacity(shapes.len()), Vec::with_capacity(shapes.len()));
    let mut a = x.to_vec();
    for (l, s) in shapes.iter().enumerate() {
        let w = &theta[s.offset..s.offset + s.len()];
        let mut z: Vec<f64> = if s.bias { w[s.d_in * s.d_out..].to_vec() } else { vec![0.0; s.d_out] };
        for (i, &ai) in a.iter().enumerate() {
            for (j, zj) in z.iter_mut().enumerate() {
                *zj += ai * w[i * s.d_out + j];
            }
        }
        if s.bias {
            a.push(1.0);
        }
        inputs.push(a);
        a = if l + 1 < shapes.len() { z.iter().map(|&v| activation.apply(v)).collect() } else { z.clone() };
        pre.push(z);
    }
    let o = shapes.last().map_or(0, |s| s.d_out);
    // delta of the last layer: the identity; then delta_{l-1} = (delta_l W_l^T) * act'(z_{l-1}).
    let mut deltas = vec![Vec::new(); shapes.len()];
    let mut delta: Vec<f64> = (0..o * o).map(|k| f64::from(u8::from(k / o == k % o))).collect();
    for l in (0..shapes.len()).rev() {
        if l + 1 < shapes.len() {
            let (s, next) = (shapes[l], shapes[l + 1]);
            let w = &theta[next.offset..next.offset + next.len()];
            let mut d = vec![0.0; o * s.d_out];
            for b in 0..o {
                for i in 0..s.d_out {
                    let g: f64 = (0..next.d_out).map(|j| delta[b * next.d_out + j] * w[i * next.d_out + j]).sum();
                    d[b * s.d_out + i] = g * activation.derivative(pre[l][i]);
                }
            }
            delta = d;
        }
        deltas[l] = delta.clone();
    }
    Pass { f: a, inputs, deltas }
}

impl Pass {
    /// The Jacobian `[O, P]` of the outputs in the parameters.
    fn jacobian(&self, shapes: &[Shape], p: usize) -> Vec<f64> {
        let o = self.f.len();
        let mut jac = vec![0.0; o * p];
        for (l, s) in shapes.iter().enumerate() {
            for b in 0..o {
                let row = &mut jac[b * p + s.offset..b * p + s.offset + s.len()];
                for (i, &ai) in self.inputs[l].iter().enumerate() {
                    for j in 0..s.d_out {
                        row[i * s.d_out + j] = ai * self.deltas[l][b * s.d_out + j];
                    }
                }
            }
        }
        jac
    }
}

/// Rows of a `[N, d]` tensor, checked.
fn rows(context: &'static str, field: &'static str, x: Tensor<2>, d: usize, fix: &'static str) -> Result<Vec<f64>> {
    let [n, w] = x.dims();
    if n == 0 || w != d {
        return Err(Error::shape(
            context,
            field,
            format!("[N, {d}] with N >= 1 (d_input of the first layer)"),
            &[n, w],
            fix,
        ));
    }
    host::floats(context, field, x)
}

const INPUT_FIX: &str = "pass the inputs of the first layer, one row per point";

impl DenseLaplaceConfig {
    /// The defaults: per-layer KFAC of the GGN, prior precision 1, ReLU between layers.
    pub fn new() -> Self {
        Self::default()
    }

    /// With another curvature structure.
    pub fn with_curvature(mut self, curvature: Curvature) -> Self {
        self.curvature = curvature;
        self
    }

    /// With another curvature matrix.
    pub fn with_fisher(mut self, fisher: Fisher) -> Self {
        self.fisher = fisher;
        self
    }

    /// With another prior precision (checked at fit time).
    pub fn with_prior_precision(mut self, prior_precision: f64) -> Self {
        self.prior_precision = prior_precision;
        self
    }

    /// With another activation between the layers.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Fits the posterior of every weight of `layers` (applied in order, the config's
    /// `activation` between them) under a Gaussian likelihood with noise sd `sigma`, from the training
    /// `inputs` `[N, D]` and `targets` `[N, O]`, centred on the trained weights.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `layers` is empty or consecutive layers do not chain, or
    /// `inputs` / `targets` are not `[N, D]` / `[N, O]`; [`Error::InvalidParameter`] on a NaN or
    /// infinite entry, a prior precision or `sigma` that is not `> 0` and finite, or
    /// [`Curvature::Full`] with more than [`MAX_FULL_PARAMETERS`] parameters.
    pub fn fit_regression(
        &self,
        layers: &[Linear],
        inputs: Tensor<2>,
        targets: Tensor<2>,
        sigma: f64,
    ) -> Result<DenseLaplace> {
        const CONTEXT: &str = "DenseLaplaceConfig::fit_regression";
        check_positive(CONTEXT, "sigma", sigma, "pass the observation noise sd, e.g. the training RMSE")?;
        let (theta, shapes) = self.check(CONTEXT, layers)?;
        let (d, o) = (shapes[0].d_in, shapes[shapes.len() - 1].d_out);
        let x = rows(CONTEXT, "inputs", inputs, d, INPUT_FIX)?;
        let n = x.len() / d;
        if targets.dims() != [n, o] {
            return Err(Error::shape(
                CONTEXT,
                "targets",
                format!("[{n}, {o}] (N of inputs, d_output of the last layer)"),
                &targets.dims(),
                "pass one target row per input row, one column per output",
            ));
        }
        let y = host::floats(CONTEXT, "targets", targets)?;
        let identity: Vec<f64> = (0..o * o).map(|k| f64::from(u8::from(k / o == k % o))).collect();
        let mut rss = 0.0;
        let passes: Vec<(Pass, Vec<f64>)> = x
            .chunks_exact(d)
            .zip(y.chunks_exact(o))
            .map(|(xr, yr)| {
                let ps = pass(&shapes, self.activation, &theta, xr);
                let r: Vec<f64> = ps.f.iter().zip(yr).map(|(f, y)| f - y).collect();
                rss += r.iter().map(|v| v * v).sum::<f64>();
                let lambda = match self.fisher {
                    Fisher::Ggn => identity.clone(),
                    Fisher::Empirical => (0..o * o).map(|k| r[k / o] * r[k % o]).collect(),
                };
                (ps, lambda)
            })
            .collect();
        Ok(self.assemble(shapes, theta, &passes, LaplaceLikelihood::Gaussian { sigma }, rss))
    }

    /// Fits the posterior of every weight of `layers` under a categorical likelihood (softmax of
    /// the last layer's `K` outputs) from the training `inputs` `[N, D]` and class `labels` `[N]`.
    ///
    /// # Errors
    /// As [`fit_regression`](Self::fit_regression); also [`Error::ShapeMismatch`] when the
    /// last layer has fewer than 2 outputs and [`Error::InvalidParameter`] for a label outside
    /// `0..K`.
    pub fn fit_classification(
        &self,
        layers: &[Linear],
        inputs: Tensor<2>,
        labels: Tensor<1, Int>,
    ) -> Result<DenseLaplace> {
        const CONTEXT: &str = "DenseLaplaceConfig::fit_classification";
        let (theta, shapes) = self.check(CONTEXT, layers)?;
        let (d, k) = (shapes[0].d_in, shapes[shapes.len() - 1].d_out);
        if k < 2 {
            return Err(Error::shape(
                CONTEXT,
                "layers",
                "[H, K] with K >= 2 classes for the last layer",
                &[shapes[shapes.len() - 1].d_in, k],
                LAYERS_FIX,
            ));
        }
        let x = rows(CONTEXT, "inputs", inputs, d, INPUT_FIX)?;
        let n = x.len() / d;
        if labels.dims() != [n] {
            return Err(Error::shape(
                CONTEXT,
                "labels",
                format!("[{n}] (one label per row of inputs)"),
                &labels.dims(),
                "pass one class index per point",
            ));
        }
        let labels = host::class_labels(CONTEXT, labels, k, ColumnsOf::Logits)?;
        let mut log_lik = 0.0;
        let passes: Vec<(Pass, Vec<f64>)> = x
            .chunks_exact(d)
            .zip(&labels)
            .map(|(xr, &label)| {
                let ps = pass(&shapes, self.activation, &theta, xr);
                let p = softmax(&ps.f);
                log_lik += p[label].max(f64::MIN_POSITIVE).ln();
                let lambda = match self.fisher {
                    Fisher::Ggn => (0..k * k)
                        .map(|c| f64::from(u8::from(c / k == c % k)) * p[c / k] - p[c / k] * p[c % k])
                        .collect(),
                    Fisher::Empirical => {
                        let r: Vec<f64> = (0..k).map(|a| p[a] - f64::from(u8::from(a == label))).collect();
                        (0..k * k).map(|c| r[c / k] * r[c % k]).collect()
                    }
                };
                (ps, lambda)
            })
            .collect();
        Ok(self.assemble(shapes, theta, &passes, LaplaceLikelihood::Categorical, log_lik))
    }

    fn check(&self, context: &'static str, layers: &[Linear]) -> Result<(Vec<f64>, Vec<Shape>)> {
        check_positive(context, "prior_precision", self.prior_precision, "use a positive prior precision such as 1.0")?;
        let (theta, shapes) = parameters(context, layers)?;
        if self.curvature == Curvature::Full && theta.len() > MAX_FULL_PARAMETERS {
            return Err(Error::invalid(
                context,
                "curvature",
                format!("Curvature::Full over {} parameters", theta.len()),
                "at most MAX_FULL_PARAMETERS (1000) parameters for a full curvature",
                "use Curvature::Kron (per layer) or Curvature::Diagonal for a network this large",
            ));
        }
        Ok((theta, shapes))
    }

    /// The curvature blocks from the passes and each point's `Lambda_n` (or `r_n r_n^T`).
    fn assemble(
        &self,
        shapes: Vec<Shape>,
        theta: Vec<f64>,
        passes: &[(Pass, Vec<f64>)],
        likelihood: LaplaceLikelihood,
        fit_term: f64,
    ) -> DenseLaplace {
        let p = theta.len();
        let o = shapes[shapes.len() - 1].d_out;
        let n = passes.len();
        let blocks = match self.curvature {
            Curvature::Full | Curvature::Diagonal => {
                let full = self.curvature == Curvature::Full;
                let mut c = vec![0.0; if full { p * p } else { p }];
                for (ps, lambda) in passes {
                    let jac = ps.jacobian(&shapes, p);
                    // m = Lambda J, [O, P]; C += J^T m (or its diagonal).
                    let m: Vec<f64> = (0..o * p)
                        .map(|k| (0..o).map(|b| lambda[(k / p) * o + b] * jac[b * p + k % p]).sum())
                        .collect();
                    for a in 0..o {
                        let (ja, ma) = (&jac[a * p..(a + 1) * p], &m[a * p..(a + 1) * p]);
                        if full {
                            for (r, &jr) in ja.iter().enumerate().filter(|(_, &v)| v != 0.0) {
                                for (cc, &mc) in c[r * p..(r + 1) * p].iter_mut().zip(ma) {
                                    *cc += jr * mc;
                                }
                            }
                        } else {
                            for ((cc, &jr), &mr) in c.iter_mut().zip(ja).zip(ma) {
                                *cc += jr * mr;
                            }
                        }
                    }
                }
                let factors = if full {
                    let (e, q) = symmetric_eigen(&c, p);
                    Factors::Full { e, q }
                } else {
                    Factors::Diagonal { d: c }
                };
                vec![Block { offset: 0, h: p, o: 1, factors }]
            }
            Curvature::Kron => shapes
                .iter()
                .enumerate()
                .map(|(l, s)| {
                    let (h, dl) = (s.h(), s.d_out);
                    let (mut a, mut g) = (vec![0.0; h * h], vec![0.0; dl * dl]);
                    for (ps, lambda) in passes {
                        let x = &ps.inputs[l];
                        for i in 0..h {
                            for j in 0..h {
                                a[i * h + j] += x[i] * x[j];
                            }
                        }
                        // delta^T Lambda delta / N, delta [O, d_l].
                        let delta = &ps.deltas[l];
                        for i in 0..dl {
                            for j in 0..dl {
                                let mut v = 0.0;
                                for b in 0..o {
                                    for c in 0..o {
                                        v += delta[b * dl + i] * lambda[b * o + c] * delta[c * dl + j];
                                    }
                                }
                                g[i * dl + j] += v / n as f64;
                            }
                        }
                    }
                    let (ea, qa) = symmetric_eigen(&a, h);
                    let (eg, qg) = symmetric_eigen(&g, dl);
                    Block { offset: s.offset, h, o: dl, factors: Factors::Kron { ea, qa, eg, qg } }
                })
                .collect(),
        };
        let eigenvalues = blocks.iter().flat_map(|b| b.factors.eigenvalues()).collect();
        DenseLaplace { config: *self, likelihood, shapes, blocks, eigenvalues, theta, outputs: o, points: n, fit_term }
    }
}

impl DenseLaplace {
    /// Number of parameters `P` (every weight and bias of the stack).
    pub fn num_parameters(&self) -> usize {
        self.theta.len()
    }

    /// The settings, with the current prior precision.
    pub fn config(&self) -> DenseLaplaceConfig {
        self.config
    }

    /// The prior precision `lambda`.
    pub fn prior_precision(&self) -> f64 {
        self.config.prior_precision
    }

    /// The likelihood, with the current `sigma` for a Gaussian one.
    pub fn likelihood(&self) -> LaplaceLikelihood {
        self.likelihood
    }

    /// The posterior mean `theta*`: the trained weights, layer after layer, each `[H'_l, O_l]`
    /// row-major with the bias row last.
    pub fn posterior_mean(&self) -> &[f64] {
        &self.theta
    }

    fn scale(&self) -> f64 {
        match self.likelihood {
            LaplaceLikelihood::Gaussian { sigma } => gaussian_scale(self.config.fisher, sigma),
            LaplaceLikelihood::Categorical => 1.0,
        }
    }

    /// The dense `P x P` matrix with the curvature's eigenvectors and eigenvalues `f(k)`, block
    /// by block.
    fn dense(&self, f: impl Fn(usize) -> f64) -> Vec<f64> {
        let p = self.theta.len();
        let mut out = vec![0.0; p * p];
        for b in &self.blocks {
            let m = b.factors.dense(b.h, b.o, |k| f(b.offset + k));
            let len = b.len();
            for r in 0..len {
                out[(b.offset + r) * p + b.offset..(b.offset + r) * p + b.offset + len]
                    .copy_from_slice(&m[r * len..(r + 1) * len]);
            }
        }
        out
    }

    /// The posterior precision `s C + lambda I` (`P x P` row-major, in the chosen structure:
    /// zero between the layers' blocks under KFAC).
    pub fn posterior_precision(&self) -> Vec<f64> {
        let (s, lambda) = (self.scale(), self.prior_precision());
        self.dense(|k| s * self.eigenvalues[k] + lambda)
    }

    /// The posterior covariance `(s C + lambda I)^-1` (`P x P` row-major).
    pub fn posterior_covariance(&self) -> Vec<f64> {
        let (s, lambda) = (self.scale(), self.prior_precision());
        self.dense(|k| 1.0 / (s * self.eigenvalues[k] + lambda))
    }

    /// The Laplace log marginal likelihood at the current prior precision and sigma (the
    /// formula of [`LastLayerLaplace::log_marginal_likelihood_at`](super::LastLayerLaplace::log_marginal_likelihood_at)
    /// with every weight's curvature).
    pub fn log_marginal_likelihood(&self) -> f64 {
        self.evidence_at(self.prior_precision(), self.sigma())
    }

    /// The Laplace log marginal likelihood at prior precision `lambda` and, for a Gaussian
    /// likelihood, noise sd `sigma` (`None` keeps the current one).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `lambda` or `sigma` is not `> 0` and finite, or a
    /// `sigma` is given for a categorical fit.
    pub fn log_marginal_likelihood_at(&self, lambda: f64, sigma: Option<f64>) -> Result<f64> {
        const CONTEXT: &str = "DenseLaplace::log_marginal_likelihood_at";
        let sigma = evidence_arguments(CONTEXT, self.likelihood, lambda, sigma)?;
        Ok(self.evidence_at(lambda, sigma))
    }

    /// Sets the prior precision.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `lambda` is not `> 0` and finite.
    pub fn set_prior_precision(&mut self, lambda: f64) -> Result<()> {
        check_positive(
            "DenseLaplace::set_prior_precision",
            "prior_precision",
            lambda,
            "use a positive prior precision such as 1.0",
        )?;
        self.config.prior_precision = lambda;
        Ok(())
    }

    /// Sets the observation noise sd of a Gaussian fit.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `sigma` is not `> 0` and finite or the fit is categorical.
    pub fn set_sigma(&mut self, sigma: f64) -> Result<()> {
        const CONTEXT: &str = "DenseLaplace::set_sigma";
        replace_sigma(CONTEXT, &mut self.likelihood, sigma)?;
        Ok(())
    }

    /// Sets the prior precision to the maximiser of the log marginal likelihood, sigma held
    /// fixed, and returns it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`prior_precision`) when the maximiser sits at an end of
    /// `[e^-20, e^20]`.
    pub fn optimize_prior_precision(&mut self) -> Result<f64> {
        optimize_prior_precision(self, "DenseLaplace::optimize_prior_precision")
    }

    /// Gaussian likelihood: the prior precision and the noise sd that jointly maximise the log
    /// marginal likelihood (set and returned).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a categorical fit or a maximiser at an end of the range.
    pub fn optimize_prior_precision_and_sigma(&mut self) -> Result<(f64, f64)> {
        let lambda = self.prior_precision();
        optimize_prior_precision_and_sigma(self, lambda, "DenseLaplace::optimize_prior_precision_and_sigma")
    }

    /// The linearised network's output means `[M, O]` and covariances `J Sigma J^T` at inputs.
    fn moments(&self, context: &'static str, inputs: Tensor<2>) -> Result<(Vec<f64>, Vec<f64>, usize)> {
        let d = self.shapes[0].d_in;
        let x = rows(context, "inputs", inputs, d, INPUT_FIX)?;
        let (p, o) = (self.theta.len(), self.outputs);
        let (s, lambda) = (self.scale(), self.prior_precision());
        let (mut mean, mut cov) = (Vec::new(), Vec::new());
        for xr in x.chunks_exact(d) {
            let ps = pass(&self.shapes, self.config.activation, &self.theta, xr);
            let jac = ps.jacobian(&self.shapes, p);
            let mut v = vec![0.0; o * o];
            for b in &self.blocks {
                let block: Vec<f64> =
                    (0..o).flat_map(|a| jac[a * p + b.offset..a * p + b.offset + b.len()].iter().copied()).collect();
                let f = |k: usize| 1.0 / (s * self.eigenvalues[b.offset + k] + lambda);
                for (vi, bi) in v.iter_mut().zip(b.factors.jacobian_covariance(&block, o, b.h, b.o, &f)) {
                    *vi += bi;
                }
            }
            mean.extend(ps.f);
            cov.extend(v);
        }
        Ok((mean, cov, x.len() / d))
    }

    /// Gaussian likelihood: the GLM predictive at `inputs` `[M, D]`, mean `f(x; theta*)`,
    /// epistemic variance `diag(J Sigma J^T)`, aleatoric `sigma^2` (`samples` is 0).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `inputs` is empty or not `D` wide; [`Error::InvalidParameter`]
    /// on a NaN or infinite input or for a categorical fit.
    pub fn predict_regression(&self, inputs: Tensor<2>) -> Result<RegressionSummary> {
        const CONTEXT: &str = "DenseLaplace::predict_regression";
        let LaplaceLikelihood::Gaussian { sigma } = self.likelihood else {
            return Err(wrong_likelihood(CONTEXT, "Categorical", "Gaussian"));
        };
        let device = inputs.device();
        let (mean, cov, m) = self.moments(CONTEXT, inputs)?;
        Ok(regression_summary(mean, &cov, m, self.outputs, sigma, &device))
    }

    /// Categorical likelihood: the probit approximation of the GLM predictive (as
    /// [`LastLayerLaplace::predict_probit`](super::LastLayerLaplace::predict_probit)).
    ///
    /// # Errors
    /// As [`predict_regression`](Self::predict_regression), for a Gaussian fit.
    pub fn predict_probit(&self, inputs: Tensor<2>) -> Result<ClassificationSummary> {
        const CONTEXT: &str = "DenseLaplace::predict_probit";
        if let LaplaceLikelihood::Gaussian { .. } = self.likelihood {
            return Err(wrong_likelihood(CONTEXT, "Gaussian", "Categorical"));
        }
        let device = inputs.device();
        let (mean, cov, m) = self.moments(CONTEXT, inputs)?;
        Ok(probit_summary(&mean, &cov, m, self.outputs, &device))
    }

    /// Categorical likelihood: `samples` draws of the logits from the GLM at each input through
    /// the softmax (noise from the thread's [`noise`](crate::noise) source).
    ///
    /// # Errors
    /// As [`predict_probit`](Self::predict_probit); [`Error::InvalidParameter`] when `samples` is 0.
    pub fn predict_monte_carlo(&self, inputs: Tensor<2>, samples: usize) -> Result<ClassificationSummary> {
        const CONTEXT: &str = "DenseLaplace::predict_monte_carlo";
        check_nonzero(CONTEXT, "samples", samples, "draw at least one sample, e.g. 100")?;
        if let LaplaceLikelihood::Gaussian { .. } = self.likelihood {
            return Err(wrong_likelihood(CONTEXT, "Gaussian", "Categorical"));
        }
        let device = inputs.device();
        let (mean, cov, m) = self.moments(CONTEXT, inputs)?;
        monte_carlo_summary(&mean, &cov, m, self.outputs, samples, &device)
    }
}

impl Evidence for DenseLaplace {
    fn evidence_at(&self, lambda: f64, sigma: Option<f64>) -> f64 {
        let (log_lik, s) = match (self.likelihood, sigma) {
            (LaplaceLikelihood::Gaussian { .. }, Some(sigma)) => {
                let n_obs = (self.points * self.outputs) as f64;
                let ll = -0.5 * n_obs * (2.0 * std::f64::consts::PI * sigma * sigma).ln()
                    - self.fit_term / (2.0 * sigma * sigma);
                (ll, gaussian_scale(self.config.fisher, sigma))
            }
            _ => (self.fit_term, 1.0),
        };
        laplace_evidence(log_lik, &self.theta, &self.eigenvalues, s, lambda)
    }

    fn sigma(&self) -> Option<f64> {
        match self.likelihood {
            LaplaceLikelihood::Gaussian { sigma } => Some(sigma),
            LaplaceLikelihood::Categorical => None,
        }
    }

    fn store_prior_precision(&mut self, lambda: f64) {
        self.config.prior_precision = lambda;
    }

    fn store_sigma(&mut self, sigma: f64) {
        if let LaplaceLikelihood::Gaussian { sigma: s } = &mut self.likelihood {
            *s = sigma;
        }
    }
}
