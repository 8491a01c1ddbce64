//! Stacked ensembles: a `StackedLinear` is M independent linear layers (checked against each
//! member as a plain burn `Linear`), `fit_stacked` gives every member its own shuffle, and
//! training members stacked takes the same Adam steps as training one member alone on its
//! batches (the members share no parameter; Adam ignores the 1/M scale of the mean loss).

use std::cell::RefCell;

use crate::support::host;
use bayesburn::ensemble::{fit_stacked, StackedBatch, StackedLinear, StackedLinearConfig};
use bayesburn::objective::Elbo;
use bayesburn::train::FitConfig;
use bayesburn::{noise, Error};
use burn::module::Param;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::TensorData;

/// f32 agreement: relative 1e-5 of the magnitude plus an absolute 1e-5.
fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs())))
}

#[test]
fn each_member_is_a_linear_layer_on_its_block() {
    let device = crate::support::device();
    let layer = noise::with_seed(1, || StackedLinearConfig::new(3, 4, 2).init(&device));
    assert_eq!((layer.members(), layer.d_input(), layer.d_output()), (3, 4, 2));
    let x: Tensor<3> = noise::with_seed(2, || noise::normal([3, 5, 4], &device));
    let out = host(layer.forward(x.clone()));
    let shared = host(layer.forward(x.clone().slice(s![0..1])));
    for m in 0..3 {
        let linear = layer.member(m).unwrap();
        let block: Tensor<2> = x.clone().slice(s![m..m + 1]).squeeze_dim(0);
        let expected = host(linear.forward(block));
        assert!(close(&out[m * 10..(m + 1) * 10], &expected, 1e-5), "member {m}");
        let first: Tensor<2> = x.clone().slice(s![0..1]).squeeze_dim(0);
        assert!(close(&shared[m * 10..(m + 1) * 10], &host(linear.forward(first)), 1e-5), "member {m}, shared input");
    }
    assert!(layer.member(3).is_none());
    // Members are initialised independently.
    let w = host(layer.weight.val());
    assert!(w[..8] != w[8..16], "members 0 and 1 start equal");
}

/// Squared error of a 1-1 stacked linear model on `y = 3x` (64 points), as an ELBO without KL.
fn line(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let xs: Vec<f32> = (0..64).map(|i| i as f32 / 32.0 - 1.0).collect();
    let ys: Vec<f32> = xs.iter().map(|x| 3.0 * x).collect();
    (
        Tensor::<1>::from_floats(xs.as_slice(), device).reshape([64, 1]),
        Tensor::<1>::from_floats(ys.as_slice(), device).reshape([64, 1]),
    )
}

#[test]
fn members_get_their_own_orders_and_train_as_if_alone() {
    let device = crate::support::device().autodiff();
    let (x, y) = line(&device);
    let elbo = Elbo::new(64).unwrap();
    let config = FitConfig::new(3, 16, 0.05).with_progress(false);
    let model = noise::with_seed(3, || StackedLinearConfig::new(4, 1, 1).init(&device));
    let start = model.member(0).unwrap();
    let seen: RefCell<Vec<StackedBatch>> = RefCell::new(Vec::new());
    let loss =
        |out: Tensor<3>, target: Tensor<3>, step| elbo.loss((out - target).square().squeeze_dim::<2>(2), None, step);
    let (trained, history) = noise::with_seed(4, || {
        fit_stacked(model, &mut AdamConfig::new().init(), 64, 4, &config, |m: &StackedLinear, batch| {
            seen.borrow_mut().push(batch.clone());
            loss(m.forward(batch.select(x.clone())), batch.select(y.clone()), batch.step)
        })
    })
    .unwrap();
    assert_eq!(history.steps, 12);
    let seen = seen.into_inner();
    // Every epoch, each member's batches are a permutation of all rows, and members differ.
    for epoch in 0..3 {
        let batches: Vec<&StackedBatch> = seen.iter().filter(|b| b.epoch == epoch).collect();
        assert_eq!(batches.len(), 4);
        let orders: Vec<Vec<usize>> =
            (0..4).map(|m| batches.iter().flat_map(|b| b.indices[m].iter().copied()).collect()).collect();
        for order in &orders {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..64).collect::<Vec<_>>(), "epoch {epoch}");
        }
        assert!(orders[0] != orders[1] && orders[1] != orders[2], "epoch {epoch}: members share an order");
    }

    // Member 0 trained alone on member 0's batches reaches the same weights.
    // Uploaded in their final shapes: a reshape on the autodiff device would make them non-leaves.
    let leaf = |t: Vec<f64>, shape: Vec<usize>| TensorData::new(t.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape);
    let w = leaf(host(start.weight.val()), vec![1, 1, 1]);
    let b = leaf(host(start.bias.unwrap().val()), vec![1, 1]);
    let alone = StackedLinear {
        weight: Param::from_tensor(Tensor::<3>::from_data(w, &device)),
        bias: Some(Param::from_tensor(Tensor::<2>::from_data(b, &device))),
    };
    let (alone, _) = fit_stacked(alone, &mut AdamConfig::new().init(), 64, 1, &config, |m: &StackedLinear, batch| {
        let own = StackedBatch { indices: vec![seen[batch.step].indices[0].clone()], ..batch.clone() };
        loss(m.forward(own.select(x.clone())), own.select(y.clone()), batch.step)
    })
    .unwrap();
    let stacked0 = trained.member(0).unwrap();
    let alone0 = alone.member(0).unwrap();
    let (a, b) = (host(stacked0.weight.val()), host(alone0.weight.val()));
    // Adam's epsilon (1e-8) against gradients of order 1 is the only difference: 1e-4 is ample.
    assert!(close(&a, &b, 1e-4), "stacked {a:?} vs alone {b:?}");
    assert!(close(&host(stacked0.bias.unwrap().val()), &host(alone0.bias.unwrap().val()), 1e-4));
}

#[test]
fn bad_stacks_are_typed_errors() {
    let device = crate::support::device();
    let err = StackedLinearConfig::new(0, 2, 2).try_init(&device).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { field: "members", .. }), "{err}");
    let layer = StackedLinearConfig::new(2, 3, 1).init(&device);
    let err = layer.try_forward(Tensor::zeros([3, 4, 3], &device)).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { field: "input", .. }), "{err}");
    let err = layer.try_forward(Tensor::zeros([2, 4, 2], &device)).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { field: "input", .. }), "{err}");
    let config = FitConfig::new(1, 4, 0.1).with_progress(false);
    let step = |_: &StackedLinear, _: &StackedBatch| -> bayesburn::Result<bayesburn::objective::ElboTerms> {
        unreachable!("no step runs without members")
    };
    let err = fit_stacked(layer, &mut AdamConfig::new().init(), 8, 0, &config, step).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { field: "members", .. }), "{err}");
}
