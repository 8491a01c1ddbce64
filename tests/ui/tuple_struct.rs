use bayesburn::layers::BayesLinear;
use bayesburn::prelude::*;
use burn::nn::Linear;

#[derive(Bayesian)]
struct Net(BayesLinear, Linear);

fn main() {}
