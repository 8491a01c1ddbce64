//! `predict::DenseStack` against a reference computed here in f64 on the host, and its two routes
//! (the host kernel on `flex`, burn's composed operations on an autodiff device) and its dropout
//! masks against `McDropout` on the composed tensors.
//!
//! Tolerance: the stack runs in f32. An output `z = b + sum_k a_k w_k` of a layer with `k` inputs
//! computed in f32, in any order of summation, is within `gamma_(k+1) (|b| + sum_k |a_k| |w_k|)` of
//! the exact value of its f32 inputs (Higham, *Accuracy and Stability of Numerical Algorithms*,
//! 2nd ed., §3.1, `gamma_n = n u / (1 - n u)`, `u = 2^-24`), and an error `e_k` in the inputs adds
//! `sum_k |w_k| e_k`; ReLU does not increase an error, dropout's scale multiplies it (plus one
//! rounding). [`reference`] propagates that bound layer by layer next to the exact values, with
//! every unit kept and scaled when the layer has dropout, which bounds the magnitudes under any
//! mask. Two f32 evaluations of the same function then differ by at most twice the bound.

use crate::support::host;
use bayesburn::ensemble::{StackedLinear, StackedLinearConfig};
use bayesburn::layers::McDropoutConfig;
use bayesburn::ops;
use bayesburn::predict::{Activation, DenseStack};
use bayesburn::prelude::*;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::RngExt;

const U: f64 = 1.0 / 16_777_216.0;

fn gamma(n: usize) -> f64 {
    n as f64 * U / (1.0 - n as f64 * U)
}

/// `n` values uniform on `[low, high)` from a seeded stream, rounded to f32 so that the f64
/// reference sees exactly the tensors' values.
fn uniform(n: usize, low: f64, high: f64, seed: u64) -> Vec<f64> {
    noise::with_seed(seed, || {
        noise::with_rng(|rng| (0..n).map(|_| (low + (high - low) * rng.random::<f64>()) as f32 as f64).collect())
    })
}

fn tensor<const D: usize>(values: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape), device)
}

/// One test layer on the host: weights `[s, i, o]`, bias `[s, o]` (`s` = T or 1).
#[derive(Clone)]
struct Spec {
    s: usize,
    i: usize,
    o: usize,
    w: Vec<f64>,
    b: Option<(usize, Vec<f64>)>,
    relu: bool,
    dropout: f64,
}

impl Spec {
    fn new(s: usize, i: usize, o: usize, bias_s: Option<usize>, relu: bool, seed: u64) -> Self {
        let k = 1.0 / (i as f64).sqrt();
        let w = uniform(s * i * o, -2.0 * k, 2.0 * k, seed);
        let b = bias_s.map(|sb| (sb, uniform(sb * o, -0.5, 0.5, seed + 1)));
        Spec { s, i, o, w, b, relu, dropout: 0.0 }
    }

    fn with_dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }
}

fn stack(t: usize, specs: &[Spec], device: &Device) -> DenseStack {
    let mut stack = DenseStack::new(t).unwrap();
    for l in specs {
        let w = tensor(&l.w, [l.s, l.i, l.o], device);
        let b = l.b.as_ref().map(|(sb, b)| tensor(b, [*sb, l.o], device));
        let act = if l.relu { Activation::Relu } else { Activation::Identity };
        stack = stack.layer(w, b, act).unwrap();
        if l.dropout > 0.0 {
            stack = stack.dropout(l.dropout).unwrap();
        }
    }
    stack
}

/// Exact outputs without dropout and the f32 error bound (see the module docs), `[T, N, d_out]`.
fn reference(t: usize, x: &[f64], n: usize, specs: &[Spec]) -> (Vec<f64>, Vec<f64>) {
    let mut out = Vec::new();
    let mut bound = Vec::new();
    for s in 0..t {
        for r in 0..n {
            let d_in = specs[0].i;
            let mut a: Vec<f64> = x[r * d_in..(r + 1) * d_in].to_vec();
            let mut e = vec![0.0; d_in];
            let mut mag: Vec<f64> = a.iter().map(|v| v.abs()).collect();
            for l in specs {
                let ws = if l.s == 1 { 0 } else { s };
                let w = |k: usize, u: usize| l.w[(ws * l.i + k) * l.o + u];
                let (mut a2, mut e2, mut m2) = (vec![0.0; l.o], vec![0.0; l.o], vec![0.0; l.o]);
                for u in 0..l.o {
                    let b = l.b.as_ref().map_or(0.0, |(sb, b)| b[(if *sb == 1 { 0 } else { s }) * l.o + u]);
                    let (mut z, mut m, mut err) = (b, b.abs(), 0.0);
                    for k in 0..l.i {
                        z += a[k] * w(k, u);
                        m += (mag[k] + e[k]) * w(k, u).abs();
                        err += w(k, u).abs() * e[k];
                    }
                    err += gamma(l.i + 1) * m;
                    if l.relu {
                        z = z.max(0.0);
                    }
                    if l.dropout > 0.0 {
                        let scale = 1.0 / (1.0 - l.dropout);
                        m *= scale;
                        err = err * scale + U * m;
                    }
                    (a2[u], e2[u], m2[u]) = (z, err, m);
                }
                (a, e, mag) = (a2, e2, m2);
            }
            out.extend(a);
            bound.extend(e);
        }
    }
    (out, bound)
}

#[track_caller]
fn assert_within(what: &str, got: &[f64], want: &[f64], bound: &[f64], factor: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (j, ((g, w), b)) in got.iter().zip(want).zip(bound).enumerate() {
        assert!((g - w).abs() <= factor * b, "{what}[{j}]: got {g}, want {w} (bound {})", factor * b);
    }
}

/// N = 1500 rows: two tiles of the 64-wide layers (1024 rows each), the second partial.
const N: usize = 1500;

fn inputs(n: usize, d: usize) -> Vec<f64> {
    uniform(n * d, -3.0, 3.0, 99)
}

#[test]
fn bbb_mlp_matches_the_f64_reference() {
    let t = 7;
    // 1 -> 64 (narrow input), 64 -> 64 (SGEMM), 64 -> 1 (narrow output); per-sample weights.
    let specs = [
        Spec::new(t, 1, 64, Some(t), true, 1),
        Spec::new(t, 64, 64, Some(t), true, 3),
        Spec::new(t, 64, 1, Some(t), false, 5),
    ];
    let x = inputs(N, 1);
    let device = crate::support::device();
    let got = host(stack(t, &specs, &device).forward(tensor(&x, [N, 1], &device)).unwrap());
    let (want, bound) = reference(t, &x, N, &specs);
    assert_within("1-64-64-1", &got, &want, &bound, 1.0);
}

#[test]
fn shared_weights_no_bias_and_wide_inputs_match_the_f64_reference() {
    let t = 3;
    // 6 -> 20 (SGEMM, shared weights, no bias), 20 -> 5 (SGEMM, per-sample weights, shared
    // bias), 5 -> 3 (SGEMM, identity), 3 -> 2 (narrow input and output).
    let specs = [
        Spec::new(1, 6, 20, None, true, 11),
        Spec::new(t, 20, 5, Some(1), true, 13),
        Spec::new(t, 5, 3, Some(t), false, 15),
        Spec::new(1, 3, 2, Some(1), false, 17),
    ];
    let x = inputs(N, 6);
    let device = crate::support::device();
    let got = host(stack(t, &specs, &device).forward(tensor(&x, [N, 6], &device)).unwrap());
    let (want, bound) = reference(t, &x, N, &specs);
    assert_within("6-20-5-3-2", &got, &want, &bound, 1.0);
}

#[test]
fn regression_summarises_the_samples() {
    let t = 5;
    let specs = [Spec::new(t, 2, 8, Some(t), true, 21), Spec::new(t, 8, 2, Some(t), false, 23)];
    let n = 40;
    let x = inputs(n, 2);
    let device = crate::support::device();
    let summary = stack(t, &specs, &device).regression(tensor(&x, [n, 2], &device)).unwrap();
    let (want, bound) = reference(t, &x, n, &specs);
    // Mean over T: within the mean of the bounds plus the rounding of an f32 mean of T terms.
    let per = n * 2;
    let mean: Vec<f64> = (0..per).map(|j| (0..t).map(|s| want[s * per + j]).sum::<f64>() / t as f64).collect();
    let mean_bound: Vec<f64> = (0..per)
        .map(|j| (0..t).map(|s| bound[s * per + j] + gamma(t) * want[s * per + j].abs()).sum::<f64>() / t as f64)
        .collect();
    assert_within("mean", &host(summary.mean), &mean, &mean_bound, 2.0);
    assert_eq!(summary.samples, t);
    let var = host(summary.epistemic_var);
    assert!(var.iter().all(|&v| v >= 0.0) && var.iter().any(|&v| v > 0.0), "variances {var:?}");
    assert!(host(summary.aleatoric_var).iter().all(|&v| v == 0.0));
}

/// An ensemble's stacked members are the samples: member m's MLP gives sample m.
#[test]
fn stacked_members_are_the_samples() {
    let device = crate::support::device();
    let (m, n) = (3, 50);
    let l1 = StackedLinearConfig::new(m, 2, 16).init(&device);
    let l2 = StackedLinearConfig::new(m, 16, 1).init(&device);
    let stack = DenseStack::new(m).unwrap();
    let stack = stack.stacked_linear(&l1, Activation::Relu).unwrap().stacked_linear(&l2, Activation::Identity).unwrap();
    let x = inputs(n, 2);
    let got = host(stack.forward(tensor(&x, [n, 2], &device)).unwrap());
    let spec = |l: &StackedLinear, relu| {
        let [_, i, o] = l.weight.dims();
        let b = l.bias.as_ref().map(|b| (m, host(b.val())));
        Spec { s: m, i, o, w: host(l.weight.val()), b, relu, dropout: 0.0 }
    };
    let (want, bound) = reference(m, &x, n, &[spec(&l1, true), spec(&l2, false)]);
    assert_within("stacked 2-16-1", &got, &want, &bound, 1.0);
    let wrong = DenseStack::new(m + 1).unwrap().stacked_linear(&l1, Activation::Relu);
    assert!(matches!(wrong, Err(Error::ShapeMismatch { field: "weights", .. })), "{wrong:?}");
}

fn dropout_specs() -> [Spec; 3] {
    [
        Spec::new(1, 1, 64, Some(1), true, 31).with_dropout(0.1),
        Spec::new(1, 64, 64, Some(1), true, 33).with_dropout(0.3),
        Spec::new(1, 64, 1, Some(1), false, 35),
    ]
}

/// MC dropout: the same masks as `McDropout` applied to the composed layers' outputs, for the
/// same seed (the stack draws one seed per dropout layer, in order, as two `McDropout` calls do).
#[test]
fn dropout_draws_the_masks_of_mc_dropout() {
    let t = 4;
    let specs = dropout_specs();
    let x = inputs(N, 1);
    let device = crate::support::device();
    let xt = tensor(&x, [N, 1], &device);
    let got = host(noise::with_seed(77, || stack(t, &specs, &device).forward(xt.clone()).unwrap()));
    let composed = noise::with_seed(77, || {
        let layer = |h: Tensor<3>, l: &Spec| {
            let w = tensor(&l.w, [1, l.i, l.o], &device);
            let b = l.b.as_ref().map(|(_, b)| tensor(b, [1, l.o], &device));
            ops::linear(h, w, b, l.relu)
        };
        let h = xt.clone().unsqueeze::<3>().expand([t, N, 1]);
        let h = McDropoutConfig::new(0.1).init().forward(layer(h, &specs[0]));
        let h = McDropoutConfig::new(0.3).init().forward(layer(h, &specs[1]));
        host(layer(h, &specs[2]))
    });
    let (_, bound) = reference(t, &x, N, &specs);
    assert_within("stack vs McDropout", &got, &composed, &bound, 2.0);
    // The masks act: a different seed gives other outputs (a kept-everything stack would not).
    let other = host(noise::with_seed(78, || stack(t, &specs, &device).forward(xt).unwrap()));
    let moved = got.iter().zip(&other).filter(|(a, b)| (*a - *b).abs() > 2.0 * 1e-3).count();
    assert!(moved > N * t / 2, "only {moved} of {} outputs changed with the seed", N * t);
}

/// The composed route (an autodiff device) and the host kernel compute the same function,
/// dropout masks included.
#[test]
fn composed_route_equals_the_kernel() {
    let t = 3;
    let mut specs = dropout_specs().to_vec();
    specs[1] = Spec::new(t, 64, 64, Some(t), true, 41).with_dropout(0.2);
    let x = inputs(N, 1);
    let run = |device: &Device| {
        host(noise::with_seed(5, || stack(t, &specs, device).forward(tensor(&x, [N, 1], device)).unwrap()))
    };
    let kernel = run(&crate::support::device());
    let composed = run(&crate::support::device().autodiff());
    let (_, bound) = reference(t, &x, N, &specs);
    assert_within("kernel vs composed", &kernel, &composed, &bound, 2.0);
}

/// Splitting the samples between threads changes nothing: each sample is computed alike, and
/// the threads' moments merge (Chan et al.) to those of one pass, up to f64 rounding (far below
/// the f32 the summary is returned in).
#[test]
fn threads_give_identical_samples_and_moments() {
    let t = 9;
    let specs = dropout_specs();
    let x = inputs(300, 1);
    let device = crate::support::device();
    let pool = |threads: usize| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let samples = |threads: usize| {
        pool(threads).install(|| {
            host(noise::with_seed(3, || stack(t, &specs, &device).forward(tensor(&x, [300, 1], &device)).unwrap()))
        })
    };
    assert_eq!(samples(1), samples(4));
    let moments = |threads: usize| {
        pool(threads).install(|| {
            let s =
                noise::with_seed(3, || stack(t, &specs, &device).regression(tensor(&x, [300, 1], &device)).unwrap());
            (host(s.mean), host(s.epistemic_var))
        })
    };
    let ((m1, v1), (m4, v4)) = (moments(1), moments(4));
    for (what, a, b) in [("mean", &m1, &m4), ("var", &v1, &v4)] {
        for (j, (a, b)) in a.iter().zip(b.iter()).enumerate() {
            // One f32 rounding of the same f64 value, possibly on either side: 1 ulp.
            assert!((a - b).abs() <= a.abs() * 2.0 * U, "{what}[{j}]: {a} with 1 thread, {b} with 4");
        }
    }
    // And the moments are those of the samples.
    let all = samples(1);
    let per = 300;
    for j in 0..per {
        let col: Vec<f64> = (0..t).map(|s| all[s * per + j]).collect();
        let mean = col.iter().sum::<f64>() / t as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / t as f64;
        assert!((m1[j] - mean).abs() <= mean.abs() * 2.0 * U + 1e-12, "mean[{j}]: {} vs {mean}", m1[j]);
        assert!((v1[j] - var).abs() <= var * 2.0 * U + 1e-12, "var[{j}]: {} vs {var}", v1[j]);
    }
}

#[test]
fn bad_input_gets_typed_errors() {
    let device = crate::support::device();
    let w = |s, i, o| Tensor::<3>::zeros([s, i, o], &device);
    let b = |s, o| Some(Tensor::<2>::zeros([s, o], &device));
    let shape = |r: bayesburn::Result<DenseStack>, field: &str| match r {
        Err(Error::ShapeMismatch { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected a shape error on {field}, got {other:?}"),
    };
    assert!(matches!(DenseStack::new(0), Err(Error::InvalidParameter { field: "samples", .. })));
    let s = || DenseStack::new(4).unwrap();
    shape(s().layer(w(3, 2, 5), None, Activation::Relu), "weights");
    shape(s().layer(w(4, 0, 5), None, Activation::Relu), "weights");
    shape(s().layer(w(4, 2, 5), b(4, 4), Activation::Relu), "bias");
    shape(s().layer(w(4, 2, 5), b(2, 5), Activation::Relu), "bias");
    shape(
        s().layer(w(4, 2, 5), None, Activation::Relu).unwrap().layer(w(1, 4, 1), None, Activation::Identity),
        "weights",
    );
    assert!(matches!(s().dropout(0.1), Err(Error::InvalidParameter { field: "dropout", .. })));
    let one = s().layer(w(1, 2, 5), b(1, 5), Activation::Relu).unwrap();
    for p in [1.0, -0.1, f64::NAN] {
        assert!(matches!(one.clone().dropout(p), Err(Error::InvalidParameter { field: "dropout p", .. })), "p = {p}");
    }
    assert!(matches!(
        s().forward(Tensor::zeros([3, 2], &device)),
        Err(Error::InvalidParameter { field: "layers", .. })
    ));
    for dims in [[3, 1], [0, 2]] {
        match one.forward(Tensor::zeros(dims, &device)) {
            Err(e @ Error::ShapeMismatch { field: "x", .. }) => assert!(e.to_string().contains("d_in"), "{e}"),
            other => panic!("x {dims:?}: expected a shape error, got {other:?}"),
        }
    }
    assert_eq!(one.forward(Tensor::zeros([3, 2], &device)).unwrap().dims(), [4, 3, 5]);
}
