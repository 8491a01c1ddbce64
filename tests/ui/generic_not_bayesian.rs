use bayesburn::prelude::*;
use burn::nn::Linear;
use burn::prelude::*;

#[derive(Module, Bayesian, Debug)]
struct Stack<L: Module> {
    layers: Vec<L>,
}

/// A deterministic module of the user's: not `Bayesian` until it is declared so.
#[derive(Module, Debug)]
struct Encoder {
    linear: Linear,
}

fn total_kl<M: Bayesian>(model: &M) -> Option<Tensor<1>> {
    model.kl()
}

fn main() {
    let device = Device::flex();
    let stack = Stack {
        layers: vec![Encoder { linear: burn::nn::LinearConfig::new(1, 1).init(&device) }],
    };
    let _ = total_kl(&stack);
}
