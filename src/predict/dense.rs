//! Monte-Carlo prediction through a stack of dense layers in one pass: [`DenseStack`].
//!
//! The fused route is documented on [`DenseStack`] ("How it is computed"), the public item.

#[cfg(any(feature = "flex", feature = "ndarray"))]
use bayesburn_cpu::{mask::Mask, mlp};
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
/// input would); dropout masks are drawn afresh on every call. The section *How it is computed*
/// below explains the fused CPU route.
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
///
/// # How it is computed
///
/// A predictive over `T` weight samples (Bayes-by-backprop) or `T` dropout masks (MC dropout)
/// applies the network `T` times. With burn's tensor operations every layer of every block of
/// samples is a matmul, a bias add, an activation and a dropout multiply, each a `[T, N, width]`
/// tensor written to memory and read back. For the small MLPs of Bayesian regression the
/// arithmetic is a few GFLOP, and those passes and the per-operation overhead cost as much again.
///
/// On the CPU backends (`flex`, `ndarray`, without autodiff) a [`DenseStack`] instead copies the
/// weight samples to the host once and runs every sample through the whole network a tile of rows
/// at a time ([`bayesburn_cpu::mlp`], which holds the kernels: a register-blocked AVX-512 product
/// with the bias and ReLU applied before its single store, else SGEMM from the `gemm` crate, as in
/// [`ops::linear`], then one pass for the bias and activation; direct loops for narrow layers;
/// the dropout mask drawn over the tile while it is in cache). Each layer's activations (a tile of
/// at most 32 K values, held column-major) stay in the core's cache for the next layer.
/// [`regression`](DenseStack::regression) accumulates each output's mean and variance over the
/// samples in f64 as they are computed, so the `[T, N, d_out]` samples are never held. With more
/// than one rayon thread the samples are split between the threads.
///
/// On any other device (CUDA, or an autodiff device) the same function is computed with
/// [`ops::linear`] and the dropout mask operation over the whole `[T, N, width]` tensors.
/// Dropout masks come from the counter-based stream behind [`McDropout`](crate::layers::McDropout):
/// element `(t, n, j)` of layer `l`'s `[T, N, width]` output meets mask element
/// `(t * N + n) * width + j` of the layer's seed, so both routes, and `McDropout::forward` on
/// the composed tensors, draw the same masks for the same seed.
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
                Mask { seed, threshold, scale }
            });
            layers.push(mlp::Layer {
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
    layers: Vec<mlp::Layer>,
    device: Device,
}

/// The host route's parallel split: the samples are divided between the threads of the
/// current rayon pool, each running [`mlp::run`] over its share.
#[cfg(any(feature = "flex", feature = "ndarray"))]
mod host {
    use std::ops::Range;

    use bayesburn_cpu::mlp::{self, Layer, Sink};

    /// The predictive samples, `[T, N, d_out]` row-major.
    pub(super) fn samples(x: &[f32], n: usize, d_in: usize, layers: &[Layer], samples: usize) -> Vec<f32> {
        let per_sample = n * layers.last().map_or(0, |l| l.o);
        let mut out = vec![0.0f32; samples * per_sample];
        let chunk = samples.div_ceil(threads(samples));
        if chunk == samples {
            mlp::run(x, n, d_in, layers, 0..samples, &mut Sink::Samples(&mut out));
        } else {
            use rayon::prelude::*;
            out.par_chunks_mut(chunk * per_sample).enumerate().for_each(|(c, block)| {
                let first = c * chunk;
                mlp::run(x, n, d_in, layers, first..first + block.len() / per_sample, &mut Sink::Samples(block));
            });
        }
        out
    }

    /// The mean and population variance over the `T` samples of every output, `[N * d_out]`
    /// each, without holding the samples (threads' partial moments merged as Chan et al. 1979).
    pub(super) fn moments(x: &[f32], n: usize, d_in: usize, layers: &[Layer], samples: usize) -> (Vec<f64>, Vec<f64>) {
        let len = n * layers.last().map_or(0, |l| l.o);
        let part = |range: Range<usize>| {
            let (mut mean, mut m2) = (vec![0.0f64; len], vec![0.0f64; len]);
            let count = range.len();
            mlp::run(x, n, d_in, layers, range, &mut Sink::Moments { mean: &mut mean, m2: &mut m2 });
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
}
