//! Criterion benchmark of one `U` and gradient of the eight-schools `#[model]` (non-centered,
//! `fixtures/src/eight_schools/model.rs`) through `ModelPotential`: by its site tape and by the
//! burn path (`with_tape(false)`: the model re-run and burn's autodiff), the tape without its
//! spot checks (`with_tape_check_every(0)`), beside the hand-written
//! potential. f64 on burn's `flex` device, which is why this is its own binary (one float type
//! per process).
//!
//! `cargo bench --profile dev --bench model_potential` measures the dev profile the examples run
//! in (a minute); `cargo bench --bench model_potential` the release one. Never asserted in a
//! test; figures in docs/PERFORMANCE.md.

use bayesburn::infer::{ModelPotential, Potential, TapeStatus};
use bayesburn::ppl::Ctx;
use bayesburn_fixtures::eight_schools::{self, EightSchools, EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y};
use burn::prelude::*;
use burn::tensor::{FloatDType, TensorData};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

// The allocator the example binaries use too (a dev-dependency; the library imposes none).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn eight_schools_gradient(c: &mut Criterion) {
    let mut plain = Device::flex();
    plain.configure(FloatDType::F64).expect("configure before creating tensors");
    let device = plain.autodiff();
    let sigma = Tensor::<1>::from_data(TensorData::new(EIGHT_SCHOOLS_SIGMA.to_vec(), [8]), &device);
    let y = Tensor::<1>::from_data(TensorData::new(EIGHT_SCHOOLS_Y.to_vec(), [8]), &device);
    let model = move |ctx: &mut Ctx| eight_schools::non_centered(ctx, sigma.clone(), Some(y.clone()));
    let tape = ModelPotential::new(model.clone()).expect("the model runs");
    let unchecked = ModelPotential::new(model.clone()).expect("the model runs").with_tape_check_every(0);
    let burn = ModelPotential::new(model).expect("the model runs").with_tape(false);
    let hand = EightSchools::non_centered();
    let q = [1.0, 0.5, 0.3, -0.2, 0.1, 0.0, -0.4, 0.6, 0.2, -0.1];
    tape.value_and_grad(&q).expect("records the tape");
    unchecked.value_and_grad(&q).expect("records the tape");
    assert!(matches!(tape.tape_status(), TapeStatus::Active { .. }), "{:?}", tape.tape_status());
    let mut group = c.benchmark_group("eight_schools_value_and_grad");
    group.bench_function("model_tape", |b| b.iter(|| tape.value_and_grad(black_box(&q)).unwrap()));
    // Without the spot check every 10 000th call (one burn-path evaluation each).
    group.bench_function("model_tape_unchecked", |b| b.iter(|| unchecked.value_and_grad(black_box(&q)).unwrap()));
    group.bench_function("model_burn_path", |b| b.iter(|| burn.value_and_grad(black_box(&q)).unwrap()));
    group.bench_function("hand_written", |b| b.iter(|| hand.value_and_grad(black_box(&q)).unwrap()));
    group.finish();
}

criterion_group!(benches, eight_schools_gradient);
criterion_main!(benches);
