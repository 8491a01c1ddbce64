use bayesburn::layers::BayesLinear;
use bayesburn::prelude::*;
use burn::prelude::*;

#[derive(Module, Bayesian, Debug)]
struct Net {
    #[bayesian(skip)]
    hidden: BayesLinear,
    #[bayesian(skip)]
    out: BayesLinear,
}

fn main() {}
