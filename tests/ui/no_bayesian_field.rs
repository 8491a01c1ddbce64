use bayesburn::prelude::*;
use burn::nn::{Linear, Relu};
use burn::prelude::*;

#[derive(Module, Bayesian, Debug)]
struct Net {
    hidden: Linear,
    activation: Relu,
}

fn main() {}
