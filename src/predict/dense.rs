//! Monte-Carlo prediction through a stack of dense layers in one pass: [`DenseStack`].
//!
//! A predictive over `T` weight samples (Bayes-by-backprop) or `T` dropout masks (MC dropout)
//! applies the network `T` times. With burn's tensor operations every layer of every block of
//! samples is a matmul, a bias add, an activation and a dropout multiply, each a `[T, N, width]`
//! tensor written to memory and read back. For the small MLPs of Bayesian regression the
//! arithmetic is a few GFLOP, and those passes and the per-operation overhead cost as much again.
//!
//! On the CPU backends (`flex`, `ndarray`, without autodiff) a [`DenseStack`] instead copies the
//! weight samples to the host once and runs every sample through the whole network a tile of rows
//! at a time. Each layer's activations (a tile of at most 32 K values, held column-major) stay in
//! the core's cache for the next layer. The wide layers run an AVX-512 kernel that keeps a block
//! of 48 rows by 8 outputs in registers over the whole inner product and applies the bias and
//! ReLU before its single store (on CPUs without AVX-512, SGEMM from the `gemm` crate, as in
//! [`ops::linear`], then one pass for the bias and activation); layers with a small input (the
//! first layer of a 1-D regression) or output width run a direct loop; the dropout mask is drawn
//! in one pass over the tile while it is in cache. [`regression`](DenseStack::regression)
//! accumulates each output's mean and variance over the samples in f64 as they are computed, so
//! the `[T, N, d_out]` samples are never held. With more than one rayon thread the samples are
//! split between the threads.
//!
//! On any other device (CUDA, or an autodiff device) the same function is computed with
//! [`ops::linear`] and the dropout mask operation over the whole `[T, N, width]` tensors.
//! Dropout masks come from the counter-based stream behind [`McDropout`](crate::layers::McDropout):
//! element `(t, n, j)` of layer `l`'s `[T, N, width]` output meets mask element
//! `(t * N + n) * width + j` of the layer's seed, so both routes, and `McDropout::forward` on
//! the composed tensors, draw the same masks for the same seed.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::TensorData;

use super::{regression, RegressionSummary};
use crate::ensemble::StackedLinear;
use crate::error::{Error, Result};
use crate::layers::{BayesLinear, McDropout};
use crate::noise;
use crate::ops;

const CONTEXT: &str = "DenseStack";

/// The activation after a layer of a [`DenseStack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// None (an output layer).
    Identity,
    /// `max(x, 0)`.
    Relu,
}

/// One layer: weights `[T or 1, d_in, d_out]`, bias `[T or 1, d_out]`, then the activation,
/// then inverted dropout with probability `dropout` (0 for none).
#[derive(Debug, Clone)]
struct DenseLayer {
    weights: Tensor<3>,
    bias: Option<Tensor<2>>,
    activation: Activation,
    dropout: f64,
}

impl DenseLayer {
    fn d_in(&self) -> usize {
        self.weights.dims()[1]
    }

    fn d_out(&self) -> usize {
        self.weights.dims()[2]
    }
}

/// A stack of dense layers with `T` sampled weights (or shared ones and dropout masks), applied
/// to a batch of inputs for a Monte-Carlo predictive in one fused pass: `[N, d_in] -> [T, N, d_out]`.
///
/// Build it from the layers' weight samples ([`bayes_linear`](Self::bayes_linear) draws them from
/// a [`BayesLinear`] posterior), point-estimate layers ([`linear`](Self::linear)), MC
/// [`dropout`](Self::dropout) and an ensemble's stacked members
/// ([`stacked_linear`](Self::stacked_linear)), then call [`forward`](Self::forward) for the `T` sampled outputs or
/// [`regression`](Self::regression) for their summary. The weights are drawn once when the stack
/// is built, so every row meets the same `T` functions (as a loop of `T` passes over the whole
/// input would); dropout masks are drawn afresh on every call. See the [module docs](self) for
/// how it is computed.
///
/// ```
/// use bayesburn::layers::BayesLinearConfig;
/// use bayesburn::predict::{Activation, DenseStack};
/// use burn::prelude::*;
///
/// let device = Device::flex();
/// let l1 = BayesLinearConfig::new(1, 16).init(&device);
/// let l2 = BayesLinearConfig::new(16, 1).init(&device);
/// let stack = DenseStack::new(50)?
///     .bayes_linear(&l1, Activation::Relu)?
///     .bayes_linear(&l2, Activation::Identity)?;
/// let x = Tensor::<1>::from_floats([-1.0, 0.0, 1.0], &device).reshape([3, 1]);
/// let samples = stack.forward(x.clone())?; // [50, 3, 1]
/// assert_eq!(samples.dims(), [50, 3, 1]);
/// let summary = stack.regression(x)?; // mean and epistemic variance, [3, 1] each
/// assert_eq!(summary.samples, 50);
/// # Ok::<(), bayesburn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DenseStack {
    samples: usize,
    layers: Vec<DenseLayer>,
}

impl DenseStack {
    /// An empty stack for `samples` predictive samples (`T`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `samples` is 0.
    pub fn new(samples: usize) -> Result<Self> {
        if samples == 0 {
            return Err(Error::invalid(CONTEXT, "samples", 0, ">= 1", "ask for at least one predictive sample"));
        }
        Ok(DenseStack { samples, layers: Vec::new() })
    }

    /// Number of predictive samples `T`.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the stack has no layers yet.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Appends a layer `h -> activation(h @ weights[t] + bias[t])`.
    ///
    /// # Shapes
    /// - `weights`: `[T, d_in, d_out]`, or `[1, d_in, d_out]` to share one matrix between samples
    /// - `bias`: `[T, d_out]` or `[1, d_out]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the leading axis is neither `T` nor 1, `d_in` is not the
    /// previous layer's `d_out`, a width is 0, or the bias does not match the weights.
    pub fn layer(mut self, weights: Tensor<3>, bias: Option<Tensor<2>>, activation: Activation) -> Result<Self> {
        let [s, d_in, d_out] = weights.dims();
        let t = self.samples;
        if !(s == t || s == 1) || d_in == 0 || d_out == 0 {
            return Err(Error::shape(
                CONTEXT,
                "weights",
                format!("[{t} or 1, d_in >= 1, d_out >= 1]"),
                &[s, d_in, d_out],
                "pass one weight matrix per predictive sample (e.g. BayesLinear::sample_weights(T)) or one shared matrix",
            ));
        }
        if let Some(prev) = self.layers.last() {
            if prev.d_out() != d_in {
                return Err(Error::shape(
                    CONTEXT,
                    "weights",
                    format!("[{s}, {}, d_out] (d_in = the previous layer's d_out)", prev.d_out()),
                    &[s, d_in, d_out],
                    "add the layers in order, each taking the previous layer's outputs",
                ));
            }
        }
        if let Some(b) = &bias {
            let [sb, db] = b.dims();
            if !(sb == t || sb == 1) || db != d_out {
                return Err(Error::shape(
                    CONTEXT,
                    "bias",
                    format!("[{t} or 1, {d_out}]"),
                    &[sb, db],
                    "pass one bias vector per predictive sample, or one shared vector, of the weights' d_out",
                ));
            }
        }
        self.layers.push(DenseLayer { weights, bias, activation, dropout: 0.0 });
        Ok(self)
    }

    /// Appends a point-estimate [`Linear`] (its weights shared by every sample).
    ///
    /// # Errors
    /// As [`layer`](Self::layer).
    pub fn linear(self, linear: &Linear, activation: Activation) -> Result<Self> {
        let weights = linear.weight.val().unsqueeze::<3>();
        let bias = linear.bias.as_ref().map(|b| b.val().unsqueeze::<2>());
        self.layer(weights, bias, activation)
    }

    /// Appends a [`StackedLinear`]: its `M` members' weights as the `T = M` samples (an
    /// ensemble's predictive, one member per sample; the stack must have `M` samples).
    ///
    /// # Errors
    /// As [`layer`](Self::layer) (a [`ShapeMismatch`](Error::ShapeMismatch) on `weights` when
    /// `M` is not the stack's `T`).
    pub fn stacked_linear(self, layer: &StackedLinear, activation: Activation) -> Result<Self> {
        let bias = layer.bias.as_ref().map(|b| b.val());
        self.layer(layer.weight.val(), bias, activation)
    }

    /// Appends a [`BayesLinear`] with `T` weight samples drawn from its posterior now
    /// ([`BayesLinear::sample_weights`]).
    ///
    /// # Errors
    /// As [`layer`](Self::layer).
    pub fn bayes_linear(self, layer: &BayesLinear, activation: Activation) -> Result<Self> {
        let (weights, bias) = layer.sample_weights(self.samples);
        self.layer(weights.detach(), bias.map(|b| b.detach()), activation)
    }

    /// Inverted dropout with probability `p` on the last layer's output (after its activation),
    /// a fresh mask per sample, row and unit on every call, as [`McDropout`] in `Mode::Sample`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `p` is not in `[0, 1)` or there is no layer yet.
    pub fn dropout(mut self, p: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::invalid(CONTEXT, "dropout p", p, "in [0, 1)", "pass a drop probability below 1"));
        }
        match self.layers.last_mut() {
            Some(layer) => layer.dropout = p,
            None => {
                return Err(Error::invalid(
                    CONTEXT,
                    "dropout",
                    "before any layer",
                    "after a layer",
                    "add the layer whose outputs are dropped first",
                ))
            }
        }
        Ok(self)
    }

    /// [`dropout`](Self::dropout) with an [`McDropout`]'s probability.
    ///
    /// # Errors
    /// As [`dropout`](Self::dropout).
    pub fn mc_dropout(self, dropout: &McDropout) -> Result<Self> {
        self.dropout(dropout.p())
    }

    /// The `T` sampled outputs: `x: [N, d_in] -> [T, N, d_out]`, sample `t` through weight sample
    /// `t` of every layer (and its own dropout masks).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a stack without layers; [`Error::ShapeMismatch`] when `x`
    /// has no rows or not `d_in` columns.
    pub fn forward(&self, x: Tensor<2>) -> Result<Tensor<3>> {
        let seeds = self.check_input(&x)?;
        #[cfg(any(feature = "flex", feature = "ndarray"))]
        if ops::plain_kernel_device(&x.device()) {
            let host = self.host_stack(x, &seeds)?;
            let out = host::samples(&host.x, host.n, host.d_in, &host.layers, self.samples);
            let d_out = host.layers.last().map_or(0, |l| l.o);
            return Ok(Tensor::from_data(TensorData::new(out, [self.samples, host.n, d_out]), &host.device));
        }
        Ok(self.forward_composed(x, &seeds))
    }

    /// The predictive mean and epistemic variance (the population variance over the `T`
    /// samples) of [`forward`](Self::forward)'s outputs, `[N, d_out]` each; the aleatoric
    /// variance is 0. On the CPU backends the moments are accumulated in f64 as the samples
    /// are computed, so the `[T, N, d_out]` samples are never held.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn regression(&self, x: Tensor<2>) -> Result<RegressionSummary> {
        let seeds = self.check_input(&x)?;
        #[cfg(any(feature = "flex", feature = "ndarray"))]
        if ops::plain_kernel_device(&x.device()) {
            let host = self.host_stack(x, &seeds)?;
            let (mean, var) = host::moments(&host.x, host.n, host.d_in, &host.layers, self.samples);
            let d_out = host.layers.last().map_or(0, |l| l.o);
            let tensor = |v: Vec<f64>| {
                let v: Vec<f32> = v.into_iter().map(|v| v as f32).collect();
                Tensor::<2>::from_data(TensorData::new(v, [host.n, d_out]), &host.device)
            };
            let epistemic_var = tensor(var);
            let aleatoric_var = epistemic_var.zeros_like();
            return Ok(RegressionSummary { mean: tensor(mean), aleatoric_var, epistemic_var, samples: self.samples });
        }
        regression(self.forward_composed(x, &seeds), None)
    }

    /// Checks `x` against the stack; draws one mask seed per dropout layer, in layer order
    /// (whichever route then runs).
    fn check_input(&self, x: &Tensor<2>) -> Result<Vec<u64>> {
        let Some(first) = self.layers.first() else {
            return Err(Error::invalid(CONTEXT, "layers", 0, ">= 1", "add layers before calling forward"));
        };
        let [n, d] = x.dims();
        if n == 0 || d != first.d_in() {
            return Err(Error::shape(
                CONTEXT,
                "x",
                format!("[N >= 1, {}]", first.d_in()),
                &[n, d],
                "pass one row of the first layer's d_in features per point",
            ));
        }
        Ok(self.layers.iter().map(|l| if l.dropout > 0.0 { noise::next_seed() } else { 0 }).collect())
    }

    /// Burn's operations on whole `[T, N, width]` tensors (any device).
    fn forward_composed(&self, x: Tensor<2>, seeds: &[u64]) -> Tensor<3> {
        let [n, d] = x.dims();
        let mut h = x.unsqueeze::<3>().expand([self.samples, n, d]);
        for (layer, &seed) in self.layers.iter().zip(seeds) {
            h = ops::linear(h, layer.weights.clone(), layer.bias.clone(), layer.activation == Activation::Relu);
            if layer.dropout > 0.0 {
                let (threshold, scale) = noise::dropout_params(layer.dropout);
                h = ops::dropout(h, seed, threshold, scale);
            }
        }
        h
    }

    /// The host copies the kernel runs on (see the module docs).
    #[cfg(any(feature = "flex", feature = "ndarray"))]
    fn host_stack(&self, x: Tensor<2>, seeds: &[u64]) -> Result<HostStack> {
        let device = x.device();
        let [n, d_in] = x.dims();
        let x = host_f32("x", x)?;
        let mut layers = Vec::with_capacity(self.layers.len());
        for (layer, &seed) in self.layers.iter().zip(seeds) {
            let (i, o) = (layer.d_in(), layer.d_out());
            let shared_w = layer.weights.dims()[0] == 1;
            let w = host_f32("weights", layer.weights.clone())?;
            let (b, shared_b) = match &layer.bias {
                Some(b) => (host_f32("bias", b.clone())?, b.dims()[0] == 1),
                None => (vec![0.0; o], true),
            };
            let dropout = (layer.dropout > 0.0).then(|| {
                let (threshold, scale) = noise::dropout_params(layer.dropout);
                (seed, threshold, scale)
            });
            layers.push(HostLayer {
                i,
                o,
                w,
                shared_w,
                b,
                shared_b,
                relu: layer.activation == Activation::Relu,
                dropout,
            });
        }
        Ok(HostStack { x, n, d_in, layers, device })
    }
}

/// Widths up to this take the direct loops instead of SGEMM.
#[cfg(any(feature = "flex", feature = "ndarray"))]
const NARROW: usize = 4;

/// A tensor's values as f32 on the host.
#[cfg(any(feature = "flex", feature = "ndarray"))]
fn host_f32<const D: usize>(field: &'static str, t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.into_data();
    let dtype = data.dtype();
    data.try_into_vec_as::<f32>().map_err(|_| {
        Error::invalid(
            CONTEXT,
            field,
            format!("a tensor of dtype {dtype:?}"),
            "a float tensor readable as f32",
            "dequantize or cast the tensor to a float dtype first",
        )
    })
}

/// The input and layers on the host, and the device the results go back to.
#[cfg(any(feature = "flex", feature = "ndarray"))]
struct HostStack {
    x: Vec<f32>,
    n: usize,
    d_in: usize,
    layers: Vec<HostLayer>,
    device: Device,
}

/// One layer's host copy.
#[cfg(any(feature = "flex", feature = "ndarray"))]
struct HostLayer {
    i: usize,
    o: usize,
    /// `[S, i, o]` row-major, `S` = 1 when `shared_w`.
    w: Vec<f32>,
    shared_w: bool,
    /// `[S, o]`, `S` = 1 when `shared_b`.
    b: Vec<f32>,
    shared_b: bool,
    relu: bool,
    /// Seed, keep threshold and scale of the dropout mask.
    dropout: Option<(u64, u64, f32)>,
}

#[cfg(any(feature = "flex", feature = "ndarray"))]
impl HostLayer {
    fn w(&self, t: usize) -> &[f32] {
        let k = if self.shared_w { 0 } else { t };
        &self.w[k * self.i * self.o..(k + 1) * self.i * self.o]
    }

    fn b(&self, t: usize) -> &[f32] {
        let k = if self.shared_b { 0 } else { t };
        &self.b[k * self.o..(k + 1) * self.o]
    }
}

#[cfg(any(feature = "flex", feature = "ndarray"))]
mod host {
    //! Activations are held column-major per tile (`[width][rows]`): the wide layers read their
    //! input columns in place, and the bias, ReLU, dropout and the narrow layers run along
    //! contiguous columns of rows.

    use std::ops::Range;

    use super::{HostLayer, NARROW};

    /// Activations per tile: rows * widest layer at most this many values (128 KB of f32).
    const TILE_VALUES: usize = 32 * 1024;

    /// Where the last layer's outputs go.
    pub(super) enum Sink<'a> {
        /// All of them, `[T, N, d_out]` row-major (`T` = the samples run).
        Samples(&'a mut [f32]),
        /// Their running mean and sum of squared deviations per output, over the samples run
        /// (Welford's update, in f64), `[N * d_out]` each.
        Moments { mean: &'a mut [f64], m2: &'a mut [f64] },
    }

    /// The predictive samples, `[T, N, d_out]` row-major.
    pub(super) fn samples(x: &[f32], n: usize, d_in: usize, layers: &[HostLayer], samples: usize) -> Vec<f32> {
        let per_sample = n * layers.last().map_or(0, |l| l.o);
        let mut out = vec![0.0f32; samples * per_sample];
        let chunk = samples.div_ceil(threads(samples));
        if chunk == samples {
            run_samples(x, n, d_in, layers, 0..samples, &mut Sink::Samples(&mut out));
        } else {
            use rayon::prelude::*;
            out.par_chunks_mut(chunk * per_sample).enumerate().for_each(|(c, block)| {
                let first = c * chunk;
                run_samples(x, n, d_in, layers, first..first + block.len() / per_sample, &mut Sink::Samples(block));
            });
        }
        out
    }

    /// The mean and population variance over the `T` samples of every output, `[N * d_out]`
    /// each, without holding the samples (threads' partial moments merged as Chan et al. 1979).
    pub(super) fn moments(
        x: &[f32],
        n: usize,
        d_in: usize,
        layers: &[HostLayer],
        samples: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let len = n * layers.last().map_or(0, |l| l.o);
        let part = |range: Range<usize>| {
            let (mut mean, mut m2) = (vec![0.0f64; len], vec![0.0f64; len]);
            let count = range.len();
            run_samples(x, n, d_in, layers, range, &mut Sink::Moments { mean: &mut mean, m2: &mut m2 });
            (mean, m2, count)
        };
        let chunk = samples.div_ceil(threads(samples));
        let (mean, mut m2, _) = if chunk == samples {
            part(0..samples)
        } else {
            use rayon::prelude::*;
            let parts: Vec<_> = (0..samples.div_ceil(chunk))
                .into_par_iter()
                .map(|c| part(c * chunk..((c + 1) * chunk).min(samples)))
                .collect();
            parts
                .into_iter()
                .reduce(|(mut ma, mut sa, na), (mb, sb, nb)| {
                    let total = (na + nb) as f64;
                    for j in 0..len {
                        let delta = mb[j] - ma[j];
                        ma[j] += delta * nb as f64 / total;
                        sa[j] += sb[j] + delta * delta * na as f64 * nb as f64 / total;
                    }
                    (ma, sa, na + nb)
                })
                .expect("at least one part")
        };
        m2.iter_mut().for_each(|v| *v /= samples as f64);
        (mean, m2)
    }

    /// The threads of the current rayon pool that the samples can use.
    fn threads(samples: usize) -> usize {
        rayon::current_num_threads().clamp(1, samples.max(1))
    }

    /// Samples `range` into `sink`, with the widest vector unit the CPU has.
    fn run_samples(x: &[f32], n: usize, d_in: usize, layers: &[HostLayer], range: Range<usize>, sink: &mut Sink) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq") {
                // SAFETY: the CPU has the features the function is compiled for.
                return unsafe { run_samples_avx512(x, n, d_in, layers, range, sink) };
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                return unsafe { run_samples_avx2(x, n, d_in, layers, range, sink) };
            }
        }
        run_samples_generic(x, n, d_in, layers, range, sink, Kernel::Gemm)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn run_samples_avx512(
        x: &[f32],
        n: usize,
        d_in: usize,
        layers: &[HostLayer],
        range: Range<usize>,
        sink: &mut Sink,
    ) {
        run_samples_generic(x, n, d_in, layers, range, sink, Kernel::Avx512)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_samples_avx2(
        x: &[f32],
        n: usize,
        d_in: usize,
        layers: &[HostLayer],
        range: Range<usize>,
        sink: &mut Sink,
    ) {
        run_samples_generic(x, n, d_in, layers, range, sink, Kernel::Gemm)
    }

    /// How the wide layers are multiplied.
    #[derive(Clone, Copy, PartialEq)]
    enum Kernel {
        /// The `gemm` crate, then one pass for the bias and activation.
        Gemm,
        /// [`avx512::dense`]: bias and activation applied in registers (the caller has AVX-512F).
        #[cfg(target_arch = "x86_64")]
        Avx512,
    }

    #[inline(always)]
    fn run_samples_generic(
        x: &[f32],
        n: usize,
        d_in: usize,
        layers: &[HostLayer],
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
    fn apply_layer(
        layer: &HostLayer,
        t: usize,
        src: &[f32],
        rows: usize,
        dst: &mut [f32],
        offset: usize,
        kernel: Kernel,
    ) {
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
        } else if cfg!(target_arch = "x86_64") && kernel != Kernel::Gemm {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `kernel` is `Avx512` only inside `run_samples_avx512`, on a CPU with
            // AVX-512F; the slices have the lengths `dense` requires (rows * i, i * o, o, rows * o).
            unsafe {
                avx512::dense(src, rows, w, i, o, b, layer.relu, dst)
            };
            if let Some(mask) = layer.dropout {
                epilogue(dst, rows, None, false, Some(mask), offset);
            }
        } else {
            // SAFETY: `dst` is rows x o column-major (len rows * o), `src` rows x i column-major,
            // `w` i x o row-major; gemm writes every element of `dst` (read_dst = false) and
            // reads only within the three slices.
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
            epilogue(dst, rows, Some(b), layer.relu, layer.dropout, offset);
        }
    }

    /// `col[r] = act(bias + sum_k src[k][r] w(k))` over the `src.len() / rows >= 1` input
    /// columns: one pass per input column over `col` (a few KB, in L1), the bias in the first
    /// and the activation in the last.
    #[inline(always)]
    fn narrow_column(src: &[f32], rows: usize, w: impl Fn(usize) -> f32, bias: f32, relu: bool, col: &mut [f32]) {
        let act = |z: f32| if relu && z < 0.0 { 0.0 } else { z };
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
    fn epilogue(
        cols: &mut [f32],
        rows: usize,
        bias: Option<&[f32]>,
        relu: bool,
        dropout: Option<(u64, u64, f32)>,
        first: usize,
    ) {
        use crate::noise::{mask_counter, mask_mix, mask_word, MASK_STEP};
        let width = cols.len() / rows;
        let pre = |z: f32, u: usize| {
            let z = z + bias.map_or(0.0, |b| b[u]);
            if relu && z < 0.0 {
                0.0
            } else {
                z
            }
        };
        match dropout {
            None => {
                for (u, col) in cols.chunks_exact_mut(rows).enumerate() {
                    for d in col {
                        *d = pre(*d, u);
                    }
                }
            }
            Some((seed, threshold, scale)) => {
                let keep = |draw: u64, z: f32| if draw < threshold { z * scale } else { 0.0 };
                if first % 2 == 0 && width % 2 == 0 {
                    // Columns 2m and 2m + 1 of row r share word (first + r width) / 2 + m:
                    // its low half and its high half.
                    // Row r + 1's word is width / 2 words on: its counter is a constant add.
                    let (w0, step) = ((first / 2) as u64, ((width / 2) as u64).wrapping_mul(MASK_STEP));
                    for (m, pair) in cols.chunks_exact_mut(2 * rows).enumerate() {
                        let (lo, hi) = pair.split_at_mut(rows);
                        let mut z = mask_counter(seed, w0 + m as u64);
                        for (l, h) in lo.iter_mut().zip(hi.iter_mut()) {
                            let word = mask_mix(z);
                            z = z.wrapping_add(step);
                            *l = keep(word & 0xFFFF_FFFF, pre(*l, 2 * m));
                            *h = keep(word >> 32, pre(*h, 2 * m + 1));
                        }
                    }
                } else {
                    for (u, col) in cols.chunks_exact_mut(rows).enumerate() {
                        for (r, d) in col.iter_mut().enumerate() {
                            let e = (first + r * width + u) as u64;
                            let word = mask_word(seed, e / 2);
                            *d = keep(if e % 2 == 0 { word & 0xFFFF_FFFF } else { word >> 32 }, pre(*d, u));
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
        ///
        /// # Safety
        /// The CPU has AVX-512F; `src.len() >= rows * i`, `w.len() >= i * o`, `b.len() >= o`,
        /// `dst.len() >= rows * o`.
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn dense(
            src: &[f32],
            rows: usize,
            w: &[f32],
            i: usize,
            o: usize,
            b: &[f32],
            relu: bool,
            dst: &mut [f32],
        ) {
            debug_assert!(src.len() >= rows * i && w.len() >= i * o && b.len() >= o && dst.len() >= rows * o);
            let p = Panel { src: src.as_ptr(), rows, w: w.as_ptr(), i, o, b: b.as_ptr(), relu, dst: dst.as_mut_ptr() };
            for r0 in (0..rows).step_by(48) {
                let left = rows - r0;
                let m = [lanes(left), lanes(left.saturating_sub(16)), lanes(left.saturating_sub(32))];
                let mut u0 = 0;
                while u0 + 8 <= o {
                    block::<8>(&p, r0, m, u0);
                    u0 += 8;
                }
                match o - u0 {
                    0 => {}
                    1 => block::<1>(&p, r0, m, u0),
                    2 => block::<2>(&p, r0, m, u0),
                    3 => block::<3>(&p, r0, m, u0),
                    4 => block::<4>(&p, r0, m, u0),
                    5 => block::<5>(&p, r0, m, u0),
                    6 => block::<6>(&p, r0, m, u0),
                    _ => block::<7>(&p, r0, m, u0),
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

        /// Rows `r0..r0 + 48` (lanes `m`) by columns `u0..u0 + NR`.
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn block<const NR: usize>(p: &Panel, r0: usize, m: [__mmask16; 3], u0: usize) {
            let zero = _mm512_setzero_ps();
            let mut acc = [[zero; 3]; NR];
            for k in 0..p.i {
                // Wrapping: the masked lanes' addresses may lie past the slice; they are not read.
                let a = p.src.wrapping_add(k * p.rows + r0);
                let a = [
                    _mm512_maskz_loadu_ps(m[0], a),
                    _mm512_maskz_loadu_ps(m[1], a.wrapping_add(16)),
                    _mm512_maskz_loadu_ps(m[2], a.wrapping_add(32)),
                ];
                let wk = p.w.add(k * p.o + u0);
                for (j, acc) in acc.iter_mut().enumerate() {
                    let wj = _mm512_set1_ps(*wk.add(j));
                    for v in 0..3 {
                        acc[v] = _mm512_fmadd_ps(a[v], wj, acc[v]);
                    }
                }
            }
            for (j, acc) in acc.iter().enumerate() {
                let bias = _mm512_set1_ps(*p.b.add(u0 + j));
                let out = p.dst.wrapping_add((u0 + j) * p.rows + r0);
                for v in 0..3 {
                    let z = _mm512_add_ps(acc[v], bias);
                    // max(0, z) returns its second operand, z, when z is NaN: NaN propagates.
                    let z = if p.relu { _mm512_max_ps(zero, z) } else { z };
                    _mm512_mask_storeu_ps(out.wrapping_add(16 * v), m[v], z);
                }
            }
        }
    }
}
