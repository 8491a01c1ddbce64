//! `#[derive(Bayesian)]`: what the generated `kl`, `with_mode` and `posterior_stats` do, on
//! hand-written Bayesian modules (so these tests do not depend on the library's layers), and
//! the compile errors of misuse (trybuild cases in `tests/ui/`).

use bayesburn::prelude::*;
use burn::module::Param;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

/// A one-parameter "variational layer" whose KL is the sum of its weights, and whose posterior
/// statistics report that KL under the path it is given.
#[derive(Module, Debug)]
struct Toy {
    w: Param<Tensor<1>>,
    #[module(skip)]
    mode: Mode,
}

impl Toy {
    fn new(value: f32) -> Self {
        let device = crate::support::device();
        Self { w: Param::from_tensor(Tensor::from_floats([value], &device)), mode: Mode::Sample }
    }

    fn value(&self) -> f32 {
        self.w.val().into_scalar::<f32>()
    }
}

impl Bayesian for Toy {
    fn kl(&self) -> Option<Tensor<1>> {
        Some(self.w.val().sum())
    }

    fn with_mode(self, mode: Mode) -> Self {
        Self { mode, ..self }
    }

    fn collect_posterior_stats(&self, prefix: &str, out: &mut Vec<LayerStats>) {
        out.push(LayerStats {
            name: prefix.to_string(),
            n_weights: 1,
            mean_snr: 0.0,
            mean_sigma: 0.0,
            prior_share: 0.0,
            kl: f64::from(self.value()),
        });
    }
}

/// A stochastic module without variational weights (like MC dropout): no KL, no statistics.
#[derive(Module, Debug)]
struct Silent {
    #[module(skip)]
    mode: Mode,
}

impl Silent {
    fn new() -> Self {
        Self { mode: Mode::Sample }
    }
}

impl Bayesian for Silent {
    fn kl(&self) -> Option<Tensor<1>> {
        None
    }

    fn with_mode(self, mode: Mode) -> Self {
        Self { mode }
    }

    fn collect_posterior_stats(&self, _prefix: &str, _out: &mut Vec<LayerStats>) {}
}

#[derive(Module, Bayesian, Debug)]
struct Net {
    first: Toy,
    blocks: Vec<Toy>,
    present: Option<Toy>,
    absent: Option<Toy>,
    dropout: Silent,
    /// Bayesian by type but skipped: must stay out of KL, modes and statistics.
    #[bayesian(skip)]
    unmarked: Toy,
    /// burn's deterministic modules take part with no KL and no statistics.
    linear: Linear,
    activation: Relu,
}

/// Powers of two, so each field's share of the sum is visible and the f32 sums are exact.
fn net() -> Net {
    Net {
        first: Toy::new(1.0),
        blocks: vec![Toy::new(2.0), Toy::new(4.0)],
        present: Some(Toy::new(8.0)),
        absent: None,
        dropout: Silent::new(),
        unmarked: Toy::new(16.0),
        linear: LinearConfig::new(2, 3).init(&crate::support::device()),
        activation: Relu::new(),
    }
}

fn scalar(kl: Option<Tensor<1>>) -> f32 {
    kl.expect("a KL term").into_scalar::<f32>()
}

#[test]
fn kl_is_the_sum_of_the_fields_not_skipped() {
    let net = net();
    let by_hand = [net.first.kl(), net.blocks.kl(), net.present.kl(), net.absent.kl(), net.dropout.kl()]
        .into_iter()
        .flatten()
        .map(|kl| kl.into_scalar::<f32>())
        .sum::<f32>();
    assert_eq!(scalar(net.kl()), by_hand);
    assert_eq!(by_hand, 1.0 + 2.0 + 4.0 + 8.0);
}

#[test]
fn kl_keeps_the_shape_one() {
    assert_eq!(net().kl().expect("a KL term").dims(), [1]);
}

#[test]
fn with_mode_reaches_every_field_not_skipped_and_nothing_else() {
    let before = net();
    let ids = (before.first.w.id, before.unmarked.w.id, before.linear.weight.id);
    let linear = before.linear.weight.val().into_data();

    let net = before.with_mode(Mode::Mean);
    assert_eq!(net.first.mode, Mode::Mean);
    assert!(net.blocks.iter().all(|b| b.mode == Mode::Mean));
    assert_eq!(net.present.as_ref().map(|p| p.mode), Some(Mode::Mean));
    assert!(net.absent.is_none());
    assert_eq!(net.dropout.mode, Mode::Mean);
    assert_eq!(net.unmarked.mode, Mode::Sample);

    // Moved, not rebuilt: the parameters that come out are the ones that went in.
    assert_eq!((net.first.w.id, net.unmarked.w.id, net.linear.weight.id), ids);
    net.linear.weight.val().into_data().assert_eq(&linear, true);
    assert_eq!(net.with_mode(Mode::Sample).blocks[0].mode, Mode::Sample);
}

#[test]
fn posterior_stats_are_named_by_field_path() {
    let names: Vec<String> = net().posterior_stats().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["first", "blocks.0", "blocks.1", "present"]);

    let mut out = Vec::new();
    net().collect_posterior_stats("model", &mut out);
    let named: Vec<(String, f64)> = out.into_iter().map(|s| (s.name, s.kl)).collect();
    assert_eq!(
        named,
        [
            ("model.first".to_string(), 1.0),
            ("model.blocks.0".to_string(), 2.0),
            ("model.blocks.1".to_string(), 4.0),
            ("model.present".to_string(), 8.0),
        ]
    );
}

#[derive(Module, Bayesian, Debug)]
struct Outer {
    inner: Net,
    heads: Vec<Option<Toy>>,
}

#[test]
fn derived_structs_nest() {
    let outer = Outer { inner: net(), heads: vec![None, Some(Toy::new(32.0))] };
    let names: Vec<String> = outer.posterior_stats().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["inner.first", "inner.blocks.0", "inner.blocks.1", "inner.present", "heads.1"]);
    assert_eq!(scalar(outer.kl()), 1.0 + 2.0 + 4.0 + 8.0 + 32.0);
    let outer = outer.with_mode(Mode::Mean);
    assert_eq!(outer.inner.blocks[1].mode, Mode::Mean);
    assert_eq!(outer.inner.unmarked.mode, Mode::Sample);
    assert_eq!(outer.heads[1].as_ref().map(|h| h.mode), Some(Mode::Mean));
}

#[derive(Module, Bayesian, Debug)]
struct Stack<L: Module>
where
    L: core::fmt::Debug,
{
    layers: Vec<L>,
    head: L,
    #[bayesian(skip)]
    spare: L,
}

#[test]
fn generics_pass_through() {
    let stack = Stack { layers: vec![Toy::new(1.0), Toy::new(2.0)], head: Toy::new(4.0), spare: Toy::new(8.0) };
    assert_eq!(scalar(stack.kl()), 7.0);
    let names: Vec<String> = stack.posterior_stats().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["layers.0", "layers.1", "head"]);
    let stack = stack.with_mode(Mode::Mean);
    assert_eq!((stack.head.mode, stack.spare.mode), (Mode::Mean, Mode::Sample));

    let silent = Stack { layers: vec![Silent::new()], head: Silent::new(), spare: Silent::new() };
    assert!(silent.kl().is_none());
}

#[derive(Module, Bayesian, Debug)]
struct NoVariationalWeights {
    dropout: Silent,
    more: Vec<Silent>,
    absent: Option<Toy>,
}

#[test]
fn kl_is_none_without_variational_weights() {
    let net = NoVariationalWeights { dropout: Silent::new(), more: vec![Silent::new()], absent: None };
    assert!(net.kl().is_none());
    assert!(net.posterior_stats().is_empty());
}

/// Field names that equal the generated code's local names (`kl`, `mode`, `prefix`, `out`)
/// and a raw identifier, whose statistics are named without the `r#`; a `#[module(skip)]`
/// field (not a module, so never Bayesian) is left out without an attribute, a primitive
/// (`usize`) takes part and adds nothing.
#[derive(Module, Bayesian, Debug)]
struct Hygiene {
    kl: Toy,
    out: Toy,
    r#type: Toy,
    #[module(skip)]
    mode: Mode,
    prefix: usize,
}

#[test]
fn field_names_do_not_clash_with_generated_code() {
    let net = Hygiene { kl: Toy::new(1.0), out: Toy::new(2.0), r#type: Toy::new(4.0), mode: Mode::Sample, prefix: 3 };
    assert_eq!(scalar(Bayesian::kl(&net)), 7.0);
    let names: Vec<String> = net.posterior_stats().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["kl", "out", "type"]);
    let net = net.with_mode(Mode::Mean);
    assert_eq!((net.kl.mode, net.out.mode, net.r#type.mode), (Mode::Mean, Mode::Mean, Mode::Mean));
    assert_eq!((net.mode, net.prefix), (Mode::Sample, 3));
}

#[derive(Module, Bayesian, Debug)]
struct Containers {
    pair: (Toy, Silent),
    array: [Toy; 2],
    bias: Param<Tensor<1>>,
    encoder: Encoder,
}

/// A deterministic module of the user's, made a valid field by `deterministic!`.
#[derive(Module, Debug)]
struct Encoder {
    linear: Linear,
}
bayesburn::deterministic!(Encoder);

#[test]
fn tuples_arrays_and_declared_deterministic_modules_take_part() {
    let device = crate::support::device();
    let net = Containers {
        pair: (Toy::new(1.0), Silent::new()),
        array: [Toy::new(2.0), Toy::new(4.0)],
        bias: Param::from_tensor(Tensor::from_floats([64.0], &device)),
        encoder: Encoder { linear: LinearConfig::new(2, 2).init(&device) },
    };
    assert_eq!(scalar(net.kl()), 1.0 + 2.0 + 4.0);
    let names: Vec<String> = net.posterior_stats().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["pair.0", "array.0", "array.1"]);
    let net = net.with_mode(Mode::Mean);
    assert_eq!((net.pair.0.mode, net.pair.1.mode), (Mode::Mean, Mode::Mean));
    assert!(net.array.iter().all(|t| t.mode == Mode::Mean));
}

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
