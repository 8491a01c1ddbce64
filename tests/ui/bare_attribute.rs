use bayesburn::layers::BayesLinear;
use bayesburn::prelude::*;
use burn::nn::Relu;
use burn::prelude::*;

#[derive(Module, Bayesian, Debug)]
struct Net {
    #[bayesian]
    hidden: BayesLinear,
    activation: Relu,
}

fn main() {}
