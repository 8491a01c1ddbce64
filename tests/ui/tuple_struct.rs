use bayesburn::prelude::*;
use burn::nn::Linear;

#[derive(Bayesian)]
struct Net(#[bayesian] Linear, Linear);

fn main() {}
