use bayesburn::prelude::*;
use burn::nn::Linear;
use burn::prelude::*;

#[derive(Module, Bayesian, Debug)]
struct Net {
    #[bayesian(prior = "normal")]
    hidden: Linear,
}

fn main() {}
