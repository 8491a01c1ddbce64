use bayesburn::layers::BayesLinear;
use bayesburn::prelude::*;
use burn::nn::Linear;
use burn::prelude::*;

/// A deterministic module of the user's: not `Bayesian` until it is declared so.
#[derive(Module, Debug)]
struct Encoder {
    linear: Linear,
}

#[derive(Module, Bayesian, Debug)]
struct Net {
    encoder: Encoder,
    blocks: Vec<Encoder>,
    head: BayesLinear,
}

fn main() {}
