// `ppl::deterministic!` in a function without `#[model]`: there is no trace to record it in.
use bayesburn::ppl;
use burn::prelude::*;

fn not_a_model(x: Tensor<1>) -> bayesburn::Result<Tensor<1>> {
    let y = ppl::deterministic!("y", x.clone() * 2.0);
    Ok(y)
}

fn main() {}
