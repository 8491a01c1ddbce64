//! Checkpoints of SVI state (guide, model parameters, optimizer, step count, noise stream):
//! training straight through equals training, saving, loading into a freshly built `Svi` and
//! training on, bit for bit. (The MCMC results' round trip is in `ppl_results.rs`.)

use crate::support::{device, host, tensor1, tensor2};
use bayesburn::distributions::{Bernoulli, Normal};
use bayesburn::infer::{AutoNormal, ModelGuide, Svi, TraceElbo};
use bayesburn::noise;
use bayesburn::ppl::{Ctx, Model};
use bayesburn::prelude::*;
use bayesburn_fixtures::regression::{self, regression, D, N};
use burn::optim::AdamConfig;
use burn::prelude::*;

fn regression_svi(columns: usize) -> Svi<impl Model, AutoNormal, TraceElbo> {
    let device = device();
    let (xh, yh) = regression::data();
    let xh: Vec<f64> = xh.chunks(D).flat_map(|r| r[..columns].to_vec()).collect();
    let (x, y) = (tensor2(&xh, N, columns, &device), tensor1(&yh, &device));
    // Subsampled, so that the minibatches (noise) must resume where they were too.
    let model = move |ctx: &mut Ctx| regression(ctx, x.clone(), Some(y.clone()), Some(10));
    let guide = AutoNormal::new(&model, 0.1).unwrap();
    Svi::new(model, guide, TraceElbo::new(2).unwrap(), AdamConfig::new().init()).unwrap()
}

fn bits(t: Tensor<1>) -> Vec<u64> {
    host(t).iter().map(|v| v.to_bits()).collect()
}

fn dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("bayesburn_svi_{name}_{}", std::process::id()))
}

#[test]
fn svi_resumes_bit_identically_from_a_checkpoint() {
    let straight = noise::with_seed(1, || {
        let mut svi = regression_svi(D);
        for _ in 0..20 {
            svi.step(0.05).unwrap();
        }
        (bits(svi.guide().loc.val()), bits(svi.guide().scale_raw.val()))
    });
    let path = dir("auto");
    noise::with_seed(1, || {
        let mut svi = regression_svi(D);
        for _ in 0..8 {
            svi.step(0.05).unwrap();
        }
        svi.save(&path).unwrap();
    });
    // A fresh run under another seed: everything comes from the checkpoint.
    let resumed = noise::with_seed(99, || {
        let mut svi = regression_svi(D).load(&path).unwrap();
        assert_eq!(svi.steps(), 8);
        for _ in 0..12 {
            svi.step(0.05).unwrap();
        }
        (bits(svi.guide().loc.val()), bits(svi.guide().scale_raw.val()))
    });
    assert_eq!(resumed, straight);
    // Without the checkpoint the same 12 steps end elsewhere (the test can tell).
    let fresh = noise::with_seed(99, || {
        let mut svi = regression_svi(D);
        for _ in 0..20 {
            svi.step(0.05).unwrap();
        }
        bits(svi.guide().loc.val())
    });
    assert_ne!(fresh, straight.0);
    // A guide of another size is a typed error naming the file.
    let err = regression_svi(3).load(&path).unwrap_err();
    assert!(matches!(&err, bayesburn::Error::Checkpoint { field, .. } if field == "guide.bpk"), "{err}");
    println!("{err}");
    let err = regression_svi(D).load(dir("missing")).unwrap_err();
    assert!(matches!(err, bayesburn::Error::Io { .. }), "{err}");
    println!("{err}");
    std::fs::remove_dir_all(&path).unwrap();
}

#[model]
fn coin(x: Tensor<1>) -> bayesburn::Result<()> {
    let z: Tensor<1> = sample!("z", Bernoulli::from_probs(x.ones_like().mul_scalar(0.3))?);
    let shift: Tensor<1> = param!("shift", x.zeros_like());
    observe!("x", Normal::new_unchecked(z.mul_scalar(2.0) + shift, x.ones_like()), x);
    Ok(())
}

#[model]
fn coin_guide(device: Device) -> bayesburn::Result<()> {
    let logit: Tensor<1> = param!("logit", Tensor::full([1], -1.0, &device));
    sample!("z", Bernoulli::from_logits(logit)?);
    Ok(())
}

/// The guide's `logit` and the model's `shift`, as bits.
fn read<M: Model, G: Model + Clone>(svi: &Svi<M, ModelGuide<G>, TraceElbo>) -> (Vec<u64>, Vec<u64>) {
    let g = svi.guide().params().unconstrained("logit").unwrap();
    (bits(g), bits(svi.params().unconstrained("shift").unwrap()))
}

#[test]
fn a_model_guide_and_model_params_round_trip() {
    let device = device();
    let build = || {
        let (x, d) = (tensor1(&[3.0], &device), device.clone());
        let model = move |ctx: &mut Ctx| coin(ctx, x.clone());
        let guide = ModelGuide::new(move |ctx: &mut Ctx| coin_guide(ctx, d.clone())).unwrap();
        Svi::new(model, guide, TraceElbo::new(1).unwrap(), AdamConfig::new().init()).unwrap()
    };
    let path = dir("model_guide");
    let (straight, saved) = noise::with_seed(4, || {
        let mut svi = build();
        for _ in 0..5 {
            svi.step(0.1).unwrap();
        }
        svi.save(&path).unwrap();
        let saved = read(&svi);
        for _ in 0..5 {
            svi.step(0.1).unwrap();
        }
        (read(&svi), saved)
    });
    let (loaded, resumed) = noise::with_seed(7, || {
        let mut svi = build().load(&path).unwrap();
        let loaded = read(&svi);
        for _ in 0..5 {
            svi.step(0.1).unwrap();
        }
        (loaded, read(&svi))
    });
    assert_eq!(loaded, saved);
    assert_eq!(resumed, straight);
    std::fs::remove_dir_all(&path).unwrap();
}
