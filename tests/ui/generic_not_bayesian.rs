use bayesburn::prelude::*;
use burn::nn::Relu;
use burn::prelude::*;

#[derive(Module, Bayesian, Debug)]
struct Stack<L: Module> {
    #[bayesian]
    layers: Vec<L>,
}

fn total_kl<M: Bayesian>(model: &M) -> Option<Tensor<1>> {
    model.kl()
}

fn main() {
    let stack = Stack {
        layers: vec![Relu::new()],
    };
    let _ = total_kl(&stack);
}
