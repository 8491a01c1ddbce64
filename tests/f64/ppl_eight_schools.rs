//! Eight schools written as `#[model]` functions (`fixtures/src/eight_schools/model.rs`)
//! against the hand-written `bayesburn_fixtures::eight_schools::EightSchools`: the same potential and
//! gradient at random points.
//!
//! Coordinates: both use `q = [mu, log tau, theta (or theta_tilde)]` — `ModelPotential` lays
//! the latents out in execution order (mu, tau, the plate's eight) and maps `tau` through the
//! `Positive` constraint's `exp` with log-Jacobian `q[1]`, which is exactly the hand
//! potential's `log tau` with its `-log tau` term. The check asserts that mapping: the layout's
//! slots and `constrain(q)["tau"] = exp(q[1])`. The two `U`s then differ only by the
//! normalizing constants the hand potential drops (`dropped_constant`, derived in the model
//! file); the gradients are equal. Tolerance 1e-9 relative: both are f64 sums of ~30 terms of
//! size ≤ 1e3, so rounding is ~1e-13 relative.

use crate::support::{device, tensor1};
use bayesburn::noise;
use bayesburn::{
    distributions::Constraint,
    infer::{ModelPotential, Potential},
    ppl::Ctx,
};
use bayesburn_fixtures::eight_schools::{self, EightSchools, EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y};
use rand::RngExt;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn model_potentials_equal_the_hand_written_eight_schools() {
    let device = device();
    let sigma = tensor1(&EIGHT_SCHOOLS_SIGMA, &device);
    let y = tensor1(&EIGHT_SCHOOLS_Y, &device);
    let (s1, y1, s2, y2) = (sigma.clone(), y.clone(), sigma, y);
    let non_centered =
        ModelPotential::new(move |ctx: &mut Ctx| eight_schools::non_centered(ctx, s1.clone(), Some(y1.clone())))
            .unwrap();
    let centered =
        ModelPotential::new(move |ctx: &mut Ctx| eight_schools::centered(ctx, s2.clone(), Some(y2.clone()))).unwrap();
    let constant = eight_schools::dropped_constant(&EIGHT_SCHOOLS_SIGMA);

    for (name, potential, hand) in [
        ("non-centered", &non_centered as &dyn Potential, EightSchools::non_centered()),
        ("centered", &centered as &dyn Potential, EightSchools::centered()),
    ] {
        assert_eq!(potential.dim(), hand.dim(), "{name}");
        let points: Vec<Vec<f64>> = noise::with_seed(5, || {
            noise::with_rng(|rng| (0..20).map(|_| (0..10).map(|_| 6.0 * rng.random::<f64>() - 3.0).collect()).collect())
        });
        for q in &points {
            let (u_model, g_model) = potential.value_and_grad(q).unwrap();
            let (u_hand, g_hand) = hand.value_and_grad(q).unwrap();
            assert!(close(u_model, u_hand + constant), "{name} at {q:?}: U {u_model} vs {} + {constant}", u_hand);
            for i in 0..10 {
                assert!(
                    close(g_model[i], g_hand[i]),
                    "{name} at {q:?}, coordinate {i}: {} vs {}",
                    g_model[i],
                    g_hand[i]
                );
            }
        }
    }

    // The coordinate map, asserted rather than assumed.
    for (layout, school_site) in [(non_centered.layout(), "theta_tilde"), (centered.layout(), "theta")] {
        let slots: Vec<(&str, usize, usize, Constraint)> =
            layout.slots().iter().map(|s| (s.name.as_str(), s.offset, s.len, s.constraint)).collect();
        assert_eq!(
            slots,
            vec![
                ("mu", 0, 1, Constraint::Real),
                ("tau", 1, 1, Constraint::Positive),
                (school_site, 2, 8, Constraint::Real)
            ]
        );
    }
    let q = [0.3, -0.7, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    let values = non_centered.constrain(&q).unwrap();
    assert!(close(values["tau"].to_vec()[0], (-0.7f64).exp()));
    assert!(close(values["mu"].to_vec()[0], 0.3));
}
