use bayesburn::prelude::*;
use burn::prelude::*;

#[derive(Module, Bayesian, Debug)]
struct Net {
    #[bayesian(prior = "normal")]
    hidden: bayesburn::layers::BayesLinear,
}

fn main() {}
