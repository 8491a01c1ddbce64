use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use crate::error::{check_nonzero, Error, Result};
use crate::layers::{GaussianHead, GaussianOutput};
use crate::noise;
use crate::objective::ElboTerms;
use crate::predict::{ClassificationAccumulator, ClassificationSummary, RegressionAccumulator, RegressionSummary};
use crate::train::{fit, Batch, FitConfig, History};

/// A network that predicts a Gaussian for an input of type `I`; what [`Ensemble::predict`]
/// and [`Ensemble::summary`] call on each member.
pub trait Member<I = Tensor<2>> {
    /// Predicted mean and variance, `[S, N, D]` each (`S = 1` for a deterministic network;
    /// every member of an ensemble must return the same `S`).
    fn predict(&self, input: I) -> GaussianOutput;
}

impl Member<Tensor<3>> for GaussianHead {
    /// [`GaussianHead::forward`] on `[S, N, d_input]` features.
    fn predict(&self, input: Tensor<3>) -> GaussianOutput {
        self.forward(input)
    }
}

/// `M` independently initialised and trained networks.
#[derive(Debug, Clone)]
pub struct Ensemble<M> {
    members: Vec<M>,
}

impl<M> Ensemble<M> {
    /// An ensemble of the given members.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `members` is empty.
    pub fn new(members: Vec<M>) -> Result<Self> {
        check_nonzero("Ensemble", "members", members.len(), "an ensemble needs at least one member (5 is usual)")?;
        Ok(Ensemble { members })
    }

    /// Builds `size` members with `build(i)`, each under its own seed drawn from the calling
    /// thread's [`noise`] source (so members differ, and the ensemble is reproducible under an
    /// outer [`noise::with_seed`]). Initialise weights through [`noise`] (e.g. bayesburn's
    /// layers and heads) for this to hold.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `size` is 0.
    pub fn init(size: usize, mut build: impl FnMut(usize) -> M) -> Result<Self> {
        Self::try_init(size, |i| Ok(build(i)))
    }

    /// As [`init`](Self::init) with a fallible `build`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `size` is 0; the first error of `build`.
    pub fn try_init(size: usize, mut build: impl FnMut(usize) -> Result<M>) -> Result<Self> {
        check_nonzero("Ensemble::init", "size", size, "an ensemble needs at least one member (5 is usual)")?;
        let members = member_seeds(size)
            .into_iter()
            .enumerate()
            .map(|(i, seed)| noise::with_seed(seed, || build(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Ensemble { members })
    }

    /// Number of members `M`.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always `false`: an ensemble has at least one member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members.
    pub fn members(&self) -> &[M] {
        &self.members
    }

    /// The members, by value.
    pub fn into_members(self) -> Vec<M> {
        self.members
    }

    /// Applies `f` to every member (e.g. `|m| m.with_mode(Mode::Mean)`).
    pub fn map<N>(self, f: impl FnMut(M) -> N) -> Ensemble<N> {
        Ensemble { members: self.members.into_iter().map(f).collect() }
    }

    /// The members' predictions stacked on the sample axis: `[M * S, N, D]` for members that
    /// return `[S, N, D]`. This is the ensemble's uniform mixture as samples.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when a member's `mean` and `var` differ in shape, or members
    /// return different shapes (a different `S` would weight the mixture unevenly).
    pub fn predict_with(&self, mut f: impl FnMut(&M) -> GaussianOutput) -> Result<GaussianOutput> {
        let mut means = Vec::with_capacity(self.len());
        let mut vars = Vec::with_capacity(self.len());
        let mut first: Option<[usize; 3]> = None;
        for member in &self.members {
            let out = f(member);
            check_member_output(&out, &mut first)?;
            means.push(out.mean);
            vars.push(out.var);
        }
        Ok(GaussianOutput { mean: Tensor::cat(means, 0), var: Tensor::cat(vars, 0) })
    }

    /// The mixture summary (mean, aleatoric and epistemic variance) of the members'
    /// predictions, accumulated member by member (memory does not grow with `M`).
    ///
    /// # Errors
    /// As [`predict_with`](Self::predict_with).
    pub fn summary_with(&self, mut f: impl FnMut(&M) -> GaussianOutput) -> Result<RegressionSummary> {
        let mut acc = RegressionAccumulator::new();
        let mut first: Option<[usize; 3]> = None;
        for member in &self.members {
            let out = f(member);
            check_member_output(&out, &mut first)?;
            acc.push(out.mean, Some(out.var))?;
        }
        acc.finish()
    }

    /// The classification summary of an ensemble of classifiers: `f` returns a member's class
    /// probabilities `[S, N, K]` (e.g. `softmax(logits, 2)`), which are averaged uniformly.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when members return different shapes.
    pub fn classify_with(&self, mut f: impl FnMut(&M) -> Tensor<3>) -> Result<ClassificationSummary> {
        let mut acc = ClassificationAccumulator::new();
        let mut first: Option<[usize; 3]> = None;
        for member in &self.members {
            let probs = f(member);
            check_same_shape(probs.dims(), &mut first)?;
            acc.push(probs)?;
        }
        acc.finish()
    }

    /// [`predict_with`](Self::predict_with) through [`Member::predict`].
    ///
    /// # Shapes
    /// - output: `mean`, `var` `[M * S, N, D]`
    ///
    /// # Errors
    /// As [`predict_with`](Self::predict_with).
    pub fn predict<I: Clone>(&self, input: I) -> Result<GaussianOutput>
    where
        M: Member<I>,
    {
        self.predict_with(|m| m.predict(input.clone()))
    }

    /// [`summary_with`](Self::summary_with) through [`Member::predict`]: the uniform Gaussian
    /// mixture's mean, aleatoric and epistemic variance, `[N, D]` each.
    ///
    /// # Errors
    /// As [`predict_with`](Self::predict_with).
    pub fn summary<I: Clone>(&self, input: I) -> Result<RegressionSummary>
    where
        M: Member<I>,
    {
        self.summary_with(|m| m.predict(input.clone()))
    }
}

impl<M: Module> Ensemble<M> {
    /// Every member with autodiff off (burn's [`Module::valid`]), for prediction.
    pub fn valid(&self) -> Self {
        Ensemble { members: self.members.iter().map(Module::valid).collect() }
    }

    /// Trains every member with [`train::fit`](crate::train::fit), one after the other, each
    /// with a fresh optimizer from `make_optimizer` and under its own seed (drawn from the
    /// calling thread's [`noise`] source): members see different minibatch orders and noise.
    /// `step` computes a member's loss for a batch, as in `fit`.
    ///
    /// # Errors
    /// The first error of any member's `fit` (invalid config, non-finite loss, `step`'s
    /// error).
    pub fn fit<F>(
        self,
        mut make_optimizer: impl FnMut() -> ModuleOptimizer,
        n: usize,
        config: &FitConfig,
        mut step: F,
    ) -> Result<(Self, Vec<History>)>
    where
        F: FnMut(&M, &Batch) -> Result<ElboTerms>,
    {
        let seeds = member_seeds(self.len());
        let count = self.len();
        let mut members = Vec::with_capacity(count);
        let mut histories = Vec::with_capacity(count);
        for (i, (member, seed)) in self.members.into_iter().zip(seeds).enumerate() {
            let mut optim = make_optimizer();
            let config = member_config(config, i, count);
            let (member, history) = noise::with_seed(seed, || fit(member, &mut optim, n, &config, &mut step))?;
            members.push(member);
            histories.push(history);
        }
        Ok((Ensemble { members }, histories))
    }

    /// As [`fit_parallel`](Self::fit_parallel), with member `i` moved to
    /// `devices[i % devices.len()]` first ([`Module::fork`]): the members spread over the
    /// devices (several GPUs, say), each trained on its own thread under the same seed as in
    /// [`fit`](Self::fit). `step` gets the member on its device and must move its batch there
    /// (`batch.select(x.clone()).to_device(&member.devices()[0])`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty device list; otherwise as
    /// [`fit_parallel`](Self::fit_parallel).
    pub fn fit_on_devices<F, O>(
        self,
        devices: &[Device],
        make_optimizer: O,
        n: usize,
        config: &FitConfig,
        step: F,
    ) -> Result<(Self, Vec<History>)>
    where
        M: Send,
        F: Fn(&M, &Batch) -> Result<ElboTerms> + Sync,
        O: Fn() -> ModuleOptimizer + Sync,
    {
        if devices.is_empty() {
            return Err(Error::invalid(
                "Ensemble::fit_on_devices",
                "devices",
                "[]",
                "a list of at least one device",
                "list the devices to spread the members over, e.g. vec![Device::cuda(0), Device::cuda(1)]",
            ));
        }
        let members = self.members.into_iter().enumerate().map(|(i, m)| m.fork(&devices[i % devices.len()])).collect();
        Ensemble { members }.fit_parallel(make_optimizer, n, config, step)
    }

    /// As [`fit`](Self::fit), with members trained on parallel threads (at most
    /// [`std::thread::available_parallelism`] at a time). Each member gets the same seed as
    /// under `fit`, so the trained members are identical to `fit`'s. Progress bars are turned
    /// off (several bars on one terminal would garble each other).
    ///
    /// # Errors
    /// As [`fit`](Self::fit); with several failing members, the error of the lowest index.
    pub fn fit_parallel<F, O>(
        self,
        make_optimizer: O,
        n: usize,
        config: &FitConfig,
        step: F,
    ) -> Result<(Self, Vec<History>)>
    where
        M: Send,
        F: Fn(&M, &Batch) -> Result<ElboTerms> + Sync,
        O: Fn() -> ModuleOptimizer + Sync,
    {
        let seeds = member_seeds(self.len());
        let count = self.len();
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).max(1);
        let (step, make_optimizer) = (&step, &make_optimizer);
        let mut pending: Vec<(usize, M, u64)> =
            self.members.into_iter().zip(seeds).enumerate().map(|(i, (m, s))| (i, m, s)).collect();
        pending.reverse();
        let mut results: Vec<Result<(M, History)>> = Vec::with_capacity(count);
        while !pending.is_empty() {
            let wave: Vec<_> = (0..threads.min(pending.len())).filter_map(|_| pending.pop()).collect();
            let done: Vec<Result<(M, History)>> = std::thread::scope(|scope| {
                let handles: Vec<_> = wave
                    .into_iter()
                    .map(|(i, member, seed)| {
                        let config = member_config(config, i, count).with_progress(false);
                        scope.spawn(move || {
                            noise::with_seed(seed, || {
                                let mut optim = make_optimizer();
                                fit(member, &mut optim, n, &config, step)
                            })
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
            });
            results.extend(done);
        }
        let mut members = Vec::with_capacity(count);
        let mut histories = Vec::with_capacity(count);
        for result in results {
            let (member, history) = result?;
            members.push(member);
            histories.push(history);
        }
        Ok((Ensemble { members }, histories))
    }
}

/// One seed per member from the calling thread's noise source.
fn member_seeds(count: usize) -> Vec<u64> {
    (0..count).map(|_| noise::next_seed()).collect()
}

fn member_config(config: &FitConfig, i: usize, count: usize) -> FitConfig {
    config.clone().with_label(format!("{} {}/{}", config.label, i + 1, count))
}

fn check_same_shape(dims: [usize; 3], first: &mut Option<[usize; 3]>) -> Result<()> {
    match first {
        None => {
            *first = Some(dims);
            Ok(())
        }
        Some(expected) if *expected == dims => Ok(()),
        Some(expected) => Err(Error::shape(
            "Ensemble",
            "member output",
            format!("{expected:?} (the first member's shape)"),
            &dims,
            "every member must predict the same [S, N, D] so the mixture weights members uniformly",
        )),
    }
}

fn check_member_output(out: &GaussianOutput, first: &mut Option<[usize; 3]>) -> Result<()> {
    if out.var.dims() != out.mean.dims() {
        return Err(Error::shape(
            "Ensemble",
            "member var",
            format!("{:?} (the shape of its mean)", out.mean.dims()),
            &out.var.dims(),
            "a member must predict one variance per mean",
        ));
    }
    check_same_shape(out.mean.dims(), first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ensembles_are_rejected() {
        assert!(matches!(Ensemble::<u8>::new(vec![]), Err(Error::InvalidParameter { field: "members", .. })));
        assert!(matches!(Ensemble::<u8>::init(0, |_| 0), Err(Error::InvalidParameter { field: "size", .. })));
    }

    #[test]
    fn members_get_distinct_reproducible_seeds() {
        let draw = || noise::with_seed(4, || Ensemble::init(3, |_| noise::next_seed()).unwrap().into_members());
        let (a, b) = (draw(), draw());
        assert_eq!(a, b);
        assert!(a[0] != a[1] && a[1] != a[2] && a[0] != a[2]);
    }

    #[test]
    fn members_with_different_shapes_are_an_error() {
        let device = Device::flex();
        let ensemble = Ensemble::new(vec![1usize, 2]).unwrap();
        let err = ensemble
            .predict_with(|&s| GaussianOutput {
                mean: Tensor::zeros([s, 2, 1], &device),
                var: Tensor::ones([s, 2, 1], &device),
            })
            .unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { field: "member output", .. }), "{err}");
    }
}
