//! Stacked ensembles: `M` members' weights on a leading member axis, so the whole ensemble
//! trains and predicts in one batched call per layer instead of `M` small ones.
//!
//! A [`StackedLinear`] holds `M` independent linear layers as one `[M, d_input, d_output]`
//! weight; its input and output keep the member axis where the rest of bayesburn keeps the
//! sample axis (`[M, N, d] -> [M, N, d']`), so a stacked network's output goes straight into
//! [`predict::regression`](crate::predict::regression) or a
//! [`RegressionAccumulator`](crate::predict::RegressionAccumulator), exactly like the output of
//! an [`Ensemble`](super::Ensemble) of separate members.
//!
//! [`fit_stacked`] trains it with an independent minibatch order per member: member `m`'s rows of
//! a [`StackedBatch`] are its own shuffle's. The loss of a step is the mean over members of each
//! member's loss; the members share no parameter, so each gets (1/M of) its own gradient, and
//! Adam, which is invariant to the scale of a gradient, takes the same steps as it would on
//! each member alone.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use rand::seq::SliceRandom;

use crate::error::{check_nonzero, Error, Result};
use crate::noise;
use crate::objective::ElboTerms;
use crate::train::{fit, FitConfig, History};

const LAYER: &str = "StackedLinear";

/// Configuration of a [`StackedLinear`].
#[derive(Config, Debug)]
pub struct StackedLinearConfig {
    /// Number of members `M` (>= 1).
    pub members: usize,
    /// Input features of each member (>= 1).
    pub d_input: usize,
    /// Output features of each member (>= 1).
    pub d_output: usize,
    /// Whether each member has a bias.
    #[config(default = true)]
    pub bias: bool,
}

impl StackedLinearConfig {
    /// Builds the layer: every member's weight and bias drawn independently from
    /// `U(-1/sqrt(d_input), 1/sqrt(d_input))` (burn's and PyTorch's `Linear` default) through the
    /// seeded [`noise`] source.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `members`, `d_input` or `d_output` is zero.
    pub fn try_init(&self, device: &Device) -> Result<StackedLinear> {
        const CONFIG: &str = "StackedLinearConfig";
        check_nonzero(CONFIG, "members", self.members, "stack at least one member (5 is usual)")?;
        check_nonzero(CONFIG, "d_input", self.d_input, "a layer needs at least one input feature")?;
        check_nonzero(CONFIG, "d_output", self.d_output, "a layer needs at least one output feature")?;
        let k = 1.0 / (self.d_input as f64).sqrt();
        let weight = noise::uniform([self.members, self.d_input, self.d_output], -k, k, device);
        let bias = self.bias.then(|| Param::from_tensor(noise::uniform([self.members, self.d_output], -k, k, device)));
        Ok(StackedLinear { weight: Param::from_tensor(weight), bias })
    }

    /// Builds the layer.
    ///
    /// # Panics
    /// With the text of the error [`try_init`](Self::try_init) would return.
    pub fn init(&self, device: &Device) -> StackedLinear {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// `M` independent linear layers applied in one batched matmul. Built with
/// [`StackedLinearConfig`].
///
/// # Shapes
/// - input: `[M, N, d_input]` (member `m` sees row block `m`), or `[1, N, d_input]` (every
///   member sees the same input)
/// - output: `[M, N, d_output]`
#[derive(Module, Debug)]
pub struct StackedLinear {
    /// The members' weights, `[M, d_input, d_output]`.
    pub weight: Param<Tensor<3>>,
    /// The members' biases, `[M, d_output]`.
    pub bias: Option<Param<Tensor<2>>>,
}

impl StackedLinear {
    /// Number of members `M`.
    pub fn members(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Input features of each member.
    pub fn d_input(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Output features of each member.
    pub fn d_output(&self) -> usize {
        self.weight.dims()[2]
    }

    /// Applies member `m` to input block `m` (or every member to a shared `[1, N, d_input]`).
    ///
    /// # Shapes
    /// - input: `[M, N, d_input]` or `[1, N, d_input]`
    /// - output: `[M, N, d_output]`
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the last axis is not `d_input`, the first is neither `M` nor
    /// 1, or `N = 0`.
    pub fn try_forward(&self, x: Tensor<3>) -> Result<Tensor<3>> {
        let [s, n, d] = x.dims();
        let m = self.members();
        if d != self.d_input() || (s != m && s != 1) || n == 0 {
            return Err(Error::shape(
                LAYER,
                "input",
                format!("[{m} or 1, N >= 1, {}]", self.d_input()),
                &[s, n, d],
                "stack one row block per member on axis 0 (or one shared block), features last",
            ));
        }
        let out = x.matmul(self.weight.val());
        Ok(match &self.bias {
            Some(b) => out + b.val().unsqueeze_dim::<3>(1),
            None => out,
        })
    }

    /// Applies the layer; see [`try_forward`](Self::try_forward).
    ///
    /// # Shapes
    /// - input: `[M, N, d_input]` or `[1, N, d_input]`
    /// - output: `[M, N, d_output]`
    ///
    /// # Panics
    /// With the text of the [`Error::ShapeMismatch`] `try_forward` would return.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Member `m` as a plain burn [`Linear`] (detached), or `None` when `m >= M`.
    pub fn member(&self, m: usize) -> Option<Linear> {
        if m >= self.members() {
            return None;
        }
        let [_, d_input, d_output] = self.weight.dims();
        // Detached last, so the parameters are leaves on an autodiff device too.
        let weight = self.weight.val().slice(s![m..m + 1]).reshape([d_input, d_output]).detach();
        let bias =
            self.bias.as_ref().map(|b| Param::from_tensor(b.val().slice(s![m..m + 1]).reshape([d_output]).detach()));
        Some(Linear { weight: Param::from_tensor(weight), bias })
    }
}

/// One step's minibatches of a stacked ensemble, as [`fit_stacked`] hands them to its closure:
/// a separate set of rows for each member, from that member's own shuffle.
#[derive(Debug, Clone)]
pub struct StackedBatch {
    /// Row indices of each member's examples, `[M][B]` (every member gets the same `B`).
    pub indices: Vec<Vec<usize>>,
    /// 0-based optimisation step since the start of training.
    pub step: usize,
    /// 0-based epoch.
    pub epoch: usize,
}

impl StackedBatch {
    /// Examples per member in this batch.
    pub fn len(&self) -> usize {
        self.indices.first().map_or(0, Vec::len)
    }

    /// Whether the batch is empty (never, for batches made by [`fit_stacked`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each member's rows of `data`, stacked on a new member axis.
    ///
    /// # Shapes
    /// - `data`: `[N, d]` → `[M, B, d]`
    pub fn select(&self, data: Tensor<2>) -> Tensor<3> {
        let [_, d] = data.dims();
        let (m, b) = (self.indices.len(), self.len());
        let idx: Vec<i64> = self.indices.iter().flatten().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [m * b]), &data.device());
        data.select(0, idx).reshape([m, b, d])
    }
}

/// Trains a stacked ensemble of `members` members (a model built from [`StackedLinear`]s, say)
/// like [`train::fit`](crate::train::fit), but every epoch shuffles each member's rows
/// separately: `step` gets a [`StackedBatch`] with one row set per member and returns the
/// [`ElboTerms`] of the step (typically [`Elbo::loss`](crate::objective::Elbo::loss) of the
/// members' per-example NLLs `[M, B]`, which averages over members).
///
/// # Errors
/// [`Error::InvalidParameter`] for an invalid config, `n = 0` or `members = 0`;
/// [`Error::NonFinite`] as in `fit`; any error of `step`.
pub fn fit_stacked<M, F>(
    model: M,
    optim: &mut ModuleOptimizer,
    n: usize,
    members: usize,
    config: &FitConfig,
    step: F,
) -> Result<(M, History)>
where
    M: Module,
    F: FnMut(&M, &StackedBatch) -> Result<ElboTerms>,
{
    check_nonzero("fit_stacked", "members", members, "stack at least one member (5 is usual)")?;
    let mut orders: Vec<Vec<usize>> = vec![(0..n).collect(); members];
    let mut step = step;
    // `fit` runs the loop (NaN guard, progress, history) over the rows in their own order, so
    // its batch k holds rows k*B..; each member's rows for that batch are the same positions of
    // the member's own order, reshuffled at the start of every epoch.
    let unshuffled = config.clone().with_shuffle(false);
    fit(model, optim, n, &unshuffled, |m, b| {
        let first = b.indices.first().copied().unwrap_or(0);
        if first == 0 && config.shuffle {
            noise::with_rng(|rng| orders.iter_mut().for_each(|order| order.shuffle(rng)));
        }
        let rows = first..first + b.indices.len();
        let indices = orders.iter().map(|order| order[rows.clone()].to_vec()).collect();
        step(m, &StackedBatch { indices, step: b.step, epoch: b.epoch })
    })
}
