use bayesburn::prelude::*;
use burn::nn::Linear;

#[derive(Bayesian)]
enum Net {
    Small(Linear),
    Large(Linear),
}

fn main() {}
