// `sample!` in a function without `#[model]`: there is no trace context to record it in.
use bayesburn::distributions::Normal;
use bayesburn::prelude::*;
use burn::prelude::*;

fn not_a_model(device: &Device) -> bayesburn::Result<Tensor<1>> {
    let w: Tensor<1> = sample!("w", Normal::new(Tensor::zeros([1], device), Tensor::ones([1], device))?);
    Ok(w)
}

fn main() {}
