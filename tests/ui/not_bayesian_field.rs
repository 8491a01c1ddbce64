use bayesburn::prelude::*;
use burn::nn::{Linear, Relu};
use burn::prelude::*;

#[derive(Module, Bayesian, Debug)]
struct Net {
    #[bayesian]
    hidden: Linear,
    #[bayesian]
    blocks: Vec<Relu>,
}

fn main() {}
