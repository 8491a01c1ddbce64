//! The ELBO's scaling and gradients, on the f64 flex backend.
//!
//! - With the full batch and beta = 1 the loss is exactly NLL_sum + KL; with a batch of B of N
//!   examples it is (N/B) NLL_sum(batch) + beta KL.
//! - The gradients of the ELBO with respect to mu and rho (through the reparameterized weight
//!   sample and the closed-form KL) match central finite differences.

use bayesburn::layers::{BayesLinear, BayesLinearConfig};
use bayesburn::objective::{gaussian_nll, Elbo, KlSchedule};
use bayesburn::posterior::{MeanField, Prior};
use bayesburn::{noise, Bayesian, Error};
use burn::prelude::*;

fn device() -> Device {
    crate::support::plain()
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()[0]
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

/// A `[3, 2]` tensor from f64 values without a round trip through f32 (`from_floats` takes
/// f32, which would quantise the finite-difference steps).
fn f64_tensor(v: &[f64], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [3, 2]), device)
}

/// A small layer with every posterior parameter set by hand.
fn layer(device: &Device) -> BayesLinear {
    let mut l = noise::with_seed(1, || {
        BayesLinearConfig::new(3, 2).with_prior(Prior::Normal { loc: 0.1, scale: 0.7 }).init(device)
    });
    let mu = f64_tensor(&[0.3, -0.2, 0.5, 0.1, -0.4, 0.25], device);
    let rho = f64_tensor(&[-1.0, -0.5, -2.0, 0.1, -1.5, -0.7], device);
    l.weight = MeanField::new(mu, rho);
    l
}

fn data(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let x = Tensor::<1>::from_floats([0.5, -1.0, 2.0, 1.5, 0.2, -0.3, -0.7, 0.9, 1.1, 0.0, -1.2, 0.4], device)
        .reshape([4, 3]);
    let y = Tensor::<1>::from_floats([0.2, -0.1, 1.0, 0.3, -0.5, 0.8, 0.0, 0.4], device).reshape([4, 2]);
    (x, y)
}

/// The ELBO loss of `l` on (x, y) with the noise of seed 7 (so it is a deterministic function
/// of the parameters).
fn loss_of(l: &BayesLinear, x: Tensor<2>, y: Tensor<2>, elbo: &Elbo) -> Tensor<1> {
    noise::with_seed(7, || {
        let pred = l.forward(x.unsqueeze::<3>()); // [1, 4, 2]
        let y = y.unsqueeze::<3>();
        let nll = gaussian_nll(pred, y.clone(), y.full_like(0.3)).sum_dim(2).squeeze_dim::<2>(2);
        elbo.loss(nll, l.kl(), 0).unwrap().loss
    })
}

#[test]
fn full_batch_loss_is_nll_sum_plus_kl() {
    let device = device();
    let l = layer(&device);
    let (x, y) = data(&device);
    let elbo = Elbo::new(4).unwrap();
    let (pred, kl) = noise::with_seed(3, || (l.forward(x.clone().unsqueeze::<3>()), l.kl().unwrap()));
    let nll = gaussian_nll(pred, y.clone().unsqueeze::<3>(), y.clone().unsqueeze::<3>().full_like(0.3));
    let nll_sum = scalar(nll.clone().sum());
    let terms = elbo.loss(nll.sum_dim(2).squeeze_dim::<2>(2), kl.clone(), 0).unwrap();
    assert_eq!(terms.beta, 1.0);
    // Same floating-point operations on both sides up to summation order: f64 rounding only.
    let expected = nll_sum + scalar(kl);
    assert!((scalar(terms.loss.clone()) - expected).abs() <= 1e-12 * expected.abs().max(1.0));
    assert!((scalar(terms.nll) - nll_sum).abs() <= 1e-12 * nll_sum.abs().max(1.0));
}

#[test]
fn minibatch_scales_nll_by_n_over_b_and_kl_by_beta() {
    let device = device();
    let n = 1000;
    let nll = Tensor::<1>::from_floats([0.5, 1.5, 2.0, 0.25, 1.0, 3.0], &device).reshape([2, 3]); // S = 2, B = 3
    let kl = Tensor::<1>::from_floats([42.0], &device);
    let schedule = KlSchedule::Constant(0.3);
    let elbo = Elbo::new(n).unwrap().with_schedule(schedule).unwrap();
    let t = elbo.loss(nll, Some(kl), 5).unwrap();
    // mean over S of the per-sample batch sums: (4.0 + 4.25) / 2
    let nll_sum = (0.5 + 1.5 + 2.0 + 0.25 + 1.0 + 3.0) / 2.0;
    let expected = (n as f64 / 3.0) * nll_sum + 0.3 * 42.0;
    assert!((scalar(t.loss) - expected).abs() < 1e-9 * expected);
    assert_eq!(t.beta, 0.3);
    assert_eq!(scalar(t.kl), 42.0);
}

#[test]
fn a_model_without_kl_contributes_zero() {
    let device = device();
    let nll = Tensor::<1>::from_floats([1.0, 2.0], &device).reshape([1, 2]);
    let t = Elbo::new(2).unwrap().loss(nll, None, 0).unwrap();
    assert_eq!(scalar(t.kl), 0.0);
    assert_eq!(scalar(t.loss), 3.0);
}

#[test]
fn bad_elbo_inputs_are_typed_errors() {
    let device = device();
    let e = Elbo::new(0).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter { field: "dataset_size", .. }), "{e}");
    assert!(e.to_string().contains("dataset_size must be >= 1, got 0"), "{e}");
    let elbo = Elbo::new(2).unwrap();
    let nll = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device).reshape([1, 3]);
    let e = elbo.loss(nll, None, 0).unwrap_err();
    assert!(matches!(e, Error::InvalidParameter { field: "batch_size", .. }), "{e}");
    assert!(e.to_string().contains("got 3"), "{e}");
    let empty = Tensor::<2>::zeros([0, 3], &device);
    let e = elbo.loss(empty, None, 0).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { field: "nll", .. }), "{e}");
}

#[test]
fn gradients_match_central_finite_differences() {
    let device = device();
    let ad = device.clone().autodiff();
    let elbo = Elbo::new(40).unwrap(); // N/B = 10: the KL and the data term both matter
    let base = layer(&device);
    let (x, y) = data(&device);

    // Autodiff gradient.
    let l_ad = layer(&ad);
    let (xa, ya) = data(&ad);
    let loss = loss_of(&l_ad, xa, ya, &elbo);
    let grads = loss.backward();
    let g_mu = vec_of(l_ad.weight.mu.val().grad(&grads).expect("mu has a gradient"));
    let g_rho = vec_of(l_ad.weight.rho.val().grad(&grads).expect("rho has a gradient"));

    // Central differences, h = 1e-5: truncation error O(h^2 f''') ~ 1e-10, rounding ~ 1e-16/h.
    let h = 1e-5;
    let mu0 = vec_of(base.weight.mu.val());
    let rho0 = vec_of(base.weight.rho.val());
    let with = |mu: &[f64], rho: &[f64]| {
        let mut l = base.clone();
        l.weight = MeanField::new(f64_tensor(mu, &device), f64_tensor(rho, &device));
        scalar(loss_of(&l, x.clone(), y.clone(), &elbo))
    };
    for i in 0..6 {
        let (mut up, mut down) = (mu0.clone(), mu0.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (with(&up, &rho0) - with(&down, &rho0)) / (2.0 * h);
        assert!((fd - g_mu[i]).abs() <= 1e-6 * (1.0 + fd.abs()), "d/dmu[{i}]: autodiff {} vs fd {fd}", g_mu[i]);
        let (mut up, mut down) = (rho0.clone(), rho0.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (with(&mu0, &up) - with(&mu0, &down)) / (2.0 * h);
        assert!((fd - g_rho[i]).abs() <= 1e-6 * (1.0 + fd.abs()), "d/drho[{i}]: autodiff {} vs fd {fd}", g_rho[i]);
    }
    // The KL part alone has a closed-form gradient in mu: (mu - loc) / scale^2.
    let l = layer(&ad);
    let kl_grads = l.kl().unwrap().backward();
    let g = vec_of(l.weight.mu.val().grad(&kl_grads).unwrap());
    for (gi, mi) in g.iter().zip(&mu0) {
        let exact = (mi - 0.1) / (0.7 * 0.7);
        // burn passes scalar operands (loc, 2 scale^2) at f32 precision: ~1e-7 relative.
        assert!((gi - exact).abs() <= 1e-7 + 1e-6 * exact.abs(), "dKL/dmu {gi} vs {exact}");
    }
}
