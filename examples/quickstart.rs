//! The README's quickstart: declare a Bayes-by-backprop network, train it with the ELBO, get
//! posterior samples and a posterior-mean prediction. Runs in a few seconds.
//!
//! `cargo run --release --example quickstart`

// ANCHOR: all
use bayesburn::prelude::*;
use bayesburn::{
    objective::gaussian_nll,
    train::{fit, FitConfig},
};
use burn::{optim::AdamConfig, prelude::*, tensor::activation::relu};

#[derive(Module, Bayesian, Debug)]
struct Net {
    hidden: BayesLinear,
    out: BayesLinear,
}

impl Net {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        // [S, N, 1] -> [S, N, 1]
        self.out.forward(relu(self.hidden.forward(x)))
    }
}

fn main() -> Result<()> {
    noise::seed(0); // every draw below is reproducible
    let device = Device::flex().autodiff();
    let x = Tensor::<1>::from_floats([-1.0, -0.5, 0.0, 0.5, 1.0], &device).reshape([5, 1]);
    let y = x.clone().powi_scalar(3); // y = x^3
    let net =
        Net { hidden: BayesLinearConfig::new(1, 32).init(&device), out: BayesLinearConfig::new(32, 1).init(&device) };
    let elbo = Elbo::new(5)?; // N = 5: the likelihood of a batch is scaled by N / B
    let (net, _) = fit(net, &mut AdamConfig::new().init(), 5, &FitConfig::new(500, 5, 1e-2), |net, batch| {
        let pred = net.forward(batch.select(x.clone()).unsqueeze()); // one posterior sample
        let yb = batch.select(y.clone()).unsqueeze::<3>();
        elbo.loss(gaussian_nll(pred, yb.clone(), yb.full_like(0.01)).squeeze_dim(2), net.kl(), batch.step)
    })?;
    let xs = Tensor::<1>::from_floats([0.25, 3.0], &device).reshape([1, 2, 1]).expand([100, 2, 1]);
    let samples = net.forward(xs.clone()); // [100, 2, 1]: 100 posterior samples
    let sd = samples.var(0).sqrt(); // epistemic sd: small at x = 0.25, large at x = 3
    let mean_pred = net.with_mode(Mode::Mean).forward(xs.slice(s![0..1])); // posterior-mean weights
    let values = |t: Tensor<3>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    println!("at x = [0.25, 3.0]: mean {:?}, epistemic sd {:?}", values(mean_pred), values(sd));
    Ok(())
}
// ANCHOR_END: all
