//! A Bayesian neural network inside a probabilistic program: priors on every weight of an
//! ordinary burn MLP with `random_module!`, fitted by SVI (NUTS to be added by the lead).
//!
//! What it shows: turning a deterministic burn module into a BNN inside a `#[model]` function
//! (NumPyro's `random_flax_module`), fitting it with `AutoNormal` + `TraceMeanFieldElbo`
//! (the N(0, 1) priors give a closed-form KL), and posterior predictive bands from
//! `Predictive::from_guide`. Measured: the mean-field bands barely widen outside the data
//! (sd 3.97 inside [-3, 3] vs 4.05 at x = ±6, noise sd 3), the known under-estimate of
//! epistemic uncertainty by mean-field VI that the NUTS comparison is meant to show.
//!
//! Data: the cubic toy of the Python peers with 20 points: x ~ U[-4, 4], y = x^3 + N(0, 3^2),
//! standardised; known noise sd. Model: MLP 1-10-1 with tanh, N(0, 1) on every weight and
//! bias (31 latents). SVI: 4000 Adam steps at lr 0.01, 4 particles. Prediction: 300 guide
//! draws on 9 points of [-6, 6].
//!
//! Takes about 20 s on 2 cores (`cargo run --example ppl_bnn`); `--json` prints one JSON line.

use bayesburn::dist::Normal;
use bayesburn::noise;
use bayesburn::posterior::Prior;
use bayesburn::ppl::{AutoNormal, Ctx, ModelPotential, Potential, Predictive, Svi, TraceMeanFieldElbo};
use bayesburn::prelude::*;
use burn::nn::{Linear, LinearConfig};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::TensorData;

/// A deterministic 1-10-1 MLP; the model below makes its weights random.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Linear,
    out: Linear,
}

impl Mlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.hidden.forward(x).tanh())
    }
}

// ANCHOR: model
/// y ~ N(mlp(x), noise_sd^2) with N(0, 1) priors on every parameter of `mlp`.
#[model]
fn bnn(mlp: Mlp, x: Tensor<2>, y: Option<Tensor<2>>, noise_sd: f64) -> bayesburn::Result<Tensor<2>> {
    let mlp = random_module!("mlp", mlp, Prior::Normal { loc: 0.0, scale: 1.0 });
    let mean = mlp.forward(x);
    let n = mean.dims()[0];
    plate!("data", n, {
        observe!("y", Normal::new_unchecked(mean.clone(), mean.ones_like().mul_scalar(noise_sd)), y.clone());
    });
    Ok(mean)
}
// ANCHOR_END: model

fn column(v: &[f64], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len(), 1]), device)
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let device = Device::flex().autodiff();
    let n = 20;
    let (xs, ys) = noise::with_seed(0, || {
        let u: Vec<f64> = noise::uniform([n], -4.0, 4.0, &device).into_data().try_to_vec_as::<f64>().unwrap();
        let e: Vec<f64> = noise::normal([n], &device).into_data().try_to_vec_as::<f64>().unwrap();
        let y: Vec<f64> = u.iter().zip(&e).map(|(x, e)| x.powi(3) + 3.0 * e).collect();
        (u, y)
    });
    let (y_mean, y_sd) = {
        let m = ys.iter().sum::<f64>() / n as f64;
        (m, (ys.iter().map(|y| (y - m).powi(2)).sum::<f64>() / n as f64).sqrt())
    };
    let x = column(&xs.iter().map(|x| x / 4.0).collect::<Vec<_>>(), &device);
    let y = column(&ys.iter().map(|y| (y - y_mean) / y_sd).collect::<Vec<_>>(), &device);
    let noise_sd = 3.0 / y_sd;
    let mlp = Mlp { hidden: LinearConfig::new(1, 10).init(&device), out: LinearConfig::new(10, 1).init(&device) };

    let (m, xd, yd) = (mlp.clone(), x.clone(), y.clone());
    let model = move |ctx: &mut Ctx| bnn(ctx, m.clone(), xd.clone(), Some(yd.clone()), noise_sd);
    // ANCHOR: svi
    let guide = noise::with_seed(1, || {
        let guide = AutoNormal::new(&model, 0.05).expect("continuous latents");
        let mut svi =
            Svi::new(model.clone(), guide, TraceMeanFieldElbo::new(4).unwrap(), AdamConfig::new().init()).unwrap();
        for step in 0..4000 {
            let s = svi.step(0.01).expect("finite ELBO");
            if step % 1000 == 0 && !json {
                println!(
                    "step {step:>4}: -ELBO {:>9.3} (log-likelihood {:>8.3}, KL {:>7.3})",
                    s.loss, s.log_likelihood, s.kl
                );
            }
        }
        svi.into_parts().0
    });
    // ANCHOR_END: svi

    let grid: Vec<f64> = (0..9).map(|i| -6.0 + 1.5 * i as f64).collect();
    let xg = column(&grid.iter().map(|x| x / 4.0).collect::<Vec<_>>(), &device);
    let predictive = Predictive::new(move |ctx: &mut Ctx| bnn(ctx, mlp.clone(), xg.clone(), None, noise_sd));
    let draws = noise::with_seed(2, || predictive.from_guide(&guide, 300)).unwrap();
    let yv = draws["y"].to_vec();
    let s = 300;
    println!("   x    true x^3   predictive mean   predictive sd");
    let mut sds = Vec::new();
    for (g, &xv) in grid.iter().enumerate() {
        let v: Vec<f64> = (0..s).map(|k| yv[k * grid.len() + g] * y_sd + y_mean).collect();
        let mean = v.iter().sum::<f64>() / s as f64;
        let sd = (v.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / (s - 1) as f64).sqrt();
        sds.push(sd);
        println!("{xv:>5.1}  {:>9.2}  {mean:>15.2}  {sd:>14.2}", xv.powi(3));
    }

    // ---------------------------------------------------------------------------------------
    // NUTS: to be added by the lead, on `potential` (31 unconstrained dimensions); compare its
    // bands with the SVI ones above.
    let potential = ModelPotential::new(model).expect("continuous latents on an autodiff device");
    println!("NUTS target: {} unconstrained dimensions", potential.dim());
    // ---------------------------------------------------------------------------------------

    if json {
        let inside = sds[2..7].iter().sum::<f64>() / 5.0;
        let outside = (sds[0] + sds[8]) / 2.0;
        println!("{}", serde_json::json!({ "svi_sd_inside": inside, "svi_sd_outside": outside }));
    }
}
