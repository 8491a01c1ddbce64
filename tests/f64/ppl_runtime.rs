//! The PPL runtime: `#[model]`, traces, handlers, plates, duplicate names, constraint
//! bijections. Exact tests (values computed by hand in f64).

use crate::support::{device, host, scalar, tensor1};
use bayesburn::distributions::{HalfNormal, Normal};
use bayesburn::noise;
use bayesburn::prelude::*;
use bayesburn::{
    distributions::Constraint,
    ppl::{self, block, condition, scale, seed, substitute, trace, Ctx, SiteKind, Value, Values},
};
use burn::prelude::*;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

fn normal_lp(x: f64, m: f64, s: f64) -> f64 {
    -0.5 * ((x - m) / s).powi(2) - s.ln() - LN_SQRT_2PI
}

/// z ~ N(0, 1); sigma ~ HalfNormal(1); y_i ~ N(z, sigma), i in a plate of 3.
#[model]
fn small(device: Device, y: Tensor<1>) -> bayesburn::Result<Tensor<1>> {
    let z: Tensor<1> = sample!("z", Normal::new(Tensor::zeros([1], &device), Tensor::ones([1], &device))?);
    let sigma: Tensor<1> = sample!("sigma", HalfNormal::new(Tensor::ones([1], &device))?);
    let n = y.dims()[0];
    plate!("data", n, |p| {
        let yb = p.subsample(y.clone(), 0);
        let b = yb.dims()[0];
        observe!("y", Normal::new(z.clone().expand([b]), sigma.clone().expand([b]))?, yb);
    });
    Ok(z)
}

fn values(pairs: &[(&str, f64)], device: &Device) -> Values {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::from(tensor1(&[*v], device)))).collect()
}

#[test]
fn trace_records_sites_in_order_with_log_densities() {
    let device = device();
    let y = tensor1(&[0.5, -1.0, 2.0], &device);
    let m = |ctx: &mut Ctx| small(ctx, device.clone(), y.clone());
    let (_, tr) = trace(&substitute(m, values(&[("z", 0.3), ("sigma", 1.5)], &device))).unwrap();
    assert_eq!(tr.names(), vec!["z", "sigma", "y"]);
    let y_site = tr.get("y").unwrap();
    assert!(y_site.is_observed && !tr.get("z").unwrap().is_observed);
    assert_eq!(y_site.plates[0].name, "data");
    assert_eq!(y_site.scale, 1.0);
    let half_normal = (2.0f64).ln() + normal_lp(1.5, 0.0, 1.0);
    let expected =
        normal_lp(0.3, 0.0, 1.0) + half_normal + [0.5, -1.0, 2.0].iter().map(|&v| normal_lp(v, 0.3, 1.5)).sum::<f64>();
    let got = scalar(tr.log_density().unwrap());
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
}

#[test]
fn condition_makes_a_latent_observed() {
    let device = device();
    let y = tensor1(&[0.5], &device);
    let m = |ctx: &mut Ctx| small(ctx, device.clone(), y.clone());
    let (z, tr) = trace(&condition(m, values(&[("z", 2.0)], &device))).unwrap();
    assert_eq!(host(z), vec![2.0]);
    let site = tr.get("z").unwrap();
    assert!(site.is_observed);
    assert_eq!(tr.latent_sites().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["sigma"]);
    assert!((scalar(site.log_prob.clone().unwrap()) - normal_lp(2.0, 0.0, 1.0)).abs() < 1e-12);
}

#[test]
fn substitute_keeps_the_site_latent_and_seed_fixes_the_rest() {
    let device = device();
    let y = tensor1(&[0.5], &device);
    let m = |ctx: &mut Ctx| small(ctx, device.clone(), y.clone());
    let sub = seed(substitute(m, values(&[("z", -0.7)], &device)), 3);
    let (_, a) = trace(&sub).unwrap();
    let (_, b) = trace(&sub).unwrap();
    assert!(!a.get("z").unwrap().is_observed);
    assert_eq!(a.get("z").unwrap().value.to_vec(), vec![-0.7]);
    // seed: the unsubstituted `sigma` is the same draw both times, and differs under another seed
    let s = |t: &ppl::Trace| t.get("sigma").unwrap().value.to_vec()[0];
    assert_eq!(s(&a), s(&b));
    let (_, c) = trace(&seed(m, 4)).unwrap();
    assert_ne!(s(&a), s(&c));
    // seed restores the surrounding stream
    noise::seed(9);
    let before: Vec<f64> = host(noise::normal([2], &device));
    noise::seed(9);
    let _ = trace(&seed(m, 1)).unwrap();
    assert_eq!(before, host(noise::normal([2], &device)));
}

#[test]
fn scale_multiplies_every_log_density() {
    let device = device();
    let y = tensor1(&[0.5, 1.0], &device);
    let m = |ctx: &mut Ctx| small(ctx, device.clone(), y.clone());
    let fixed = values(&[("z", 0.1), ("sigma", 0.9)], &device);
    let (_, plain) = trace(&substitute(m, fixed.clone())).unwrap();
    let (_, scaled) = trace(&scale(substitute(m, fixed), 0.25).unwrap()).unwrap();
    let (p, s) = (scalar(plain.log_density().unwrap()), scalar(scaled.log_density().unwrap()));
    assert!((s - 0.25 * p).abs() < 1e-12, "{s} vs {p}");
    assert!(scaled.sites().iter().all(|site| site.scale == 0.25));
    assert!(matches!(scale(m, -1.0), Err(Error::InvalidParameter { field: "factor", .. })));
}

#[test]
fn block_hides_sites_from_the_trace_and_outer_handlers() {
    let device = device();
    let y = tensor1(&[0.5], &device);
    let m = |ctx: &mut Ctx| small(ctx, device.clone(), y.clone());
    let (_, tr) = trace(&block(m, |name| name == "sigma")).unwrap();
    assert_eq!(tr.names(), vec!["z", "y"]);
    // a condition outside the block does not reach the hidden site
    let outer = condition(block(m, |name| name == "z"), values(&[("z", 5.0)], &device));
    let (z, tr) = trace(&outer).unwrap();
    assert_ne!(host(z), vec![5.0]);
    assert!(tr.get("z").is_none());
}

#[model]
fn twice(device: Device) -> bayesburn::Result<()> {
    for _ in 0..2 {
        sample!("w", Normal::new(Tensor::<1>::zeros([1], &device), Tensor::ones([1], &device))?);
    }
    Ok(())
}

#[test]
fn a_duplicate_site_name_is_a_typed_error() {
    let device = device();
    let err = trace(&|ctx: &mut Ctx| twice(ctx, device.clone())).unwrap_err();
    assert_eq!(err, Error::DuplicateSite { site: "w".to_string() });
    assert!(err.to_string().contains("\"w\"") && err.to_string().contains("unique name"), "{err}");
}

#[model]
fn with_param(device: Device) -> bayesburn::Result<Tensor<1>> {
    let s: Tensor<1> = param!("s", Tensor::from_floats([2.0, 0.5], &device), Constraint::Positive);
    let m: Tensor<1> = param!("m", Tensor::zeros([2], &device));
    Ok(s + m)
}

#[test]
fn params_are_created_once_and_read_back() {
    let device = device();
    let mut ctx = Ctx::new();
    let out = with_param(&mut ctx, device.clone()).unwrap();
    assert!((host(out)[0] - 2.0).abs() < 1e-12);
    let (tr, store) = ctx.into_parts();
    assert_eq!(tr.get("s").unwrap().kind, SiteKind::Param);
    assert_eq!(store.names(), vec!["s", "m"]);
    let u = host(store.unconstrained("s").unwrap());
    assert!((u[0] - 2.0f64.ln()).abs() < 1e-12 && (u[1] - 0.5f64.ln()).abs() < 1e-12);
    // second run reads the store: the init expression is not used again
    let mut ctx = Ctx::with_params(store);
    let out = with_param(&mut ctx, device.clone()).unwrap();
    assert!((host(out)[1] - 0.5).abs() < 1e-12);
    // an init outside the support is an error naming the site
    let bad = |ctx: &mut Ctx| -> bayesburn::Result<()> {
        ctx.param("neg", || Tensor::<1>::from_floats([-1.0], &device), Constraint::Positive)?;
        Ok(())
    };
    assert!(matches!(trace(&bad), Err(Error::Model { ref site, .. }) if site == "neg"));
}

#[model]
fn subsampled(device: Device, n: usize, b: usize) -> bayesburn::Result<Vec<usize>> {
    let idx = plate!("data", n, subsample = b, |p| {
        sample!("x", Normal::new(Tensor::<1>::zeros([p.batch()], &device), Tensor::ones([p.batch()], &device))?);
        p.indices().to_vec()
    });
    Ok(idx)
}

#[test]
fn a_subsampled_plate_scales_by_n_over_batch_and_draws_distinct_indices() {
    let device = device();
    let (idx, tr) = noise::with_seed(1, || trace(&|ctx: &mut Ctx| subsampled(ctx, device.clone(), 10, 4))).unwrap();
    assert_eq!(idx.len(), 4);
    assert!(idx.windows(2).all(|w| w[0] < w[1]) && idx.iter().all(|&i| i < 10));
    assert_eq!(tr.get("x").unwrap().scale, 2.5);
    let err = trace(&|ctx: &mut Ctx| subsampled(ctx, device.clone(), 3, 5)).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { field: "subsample", .. }), "{err}");
}

/// Central differences of `f` at `u`, column `j` of the Jacobian.
fn jacobian(f: &dyn Fn(&[f64]) -> Vec<f64>, u: &[f64], rows: usize) -> Vec<Vec<f64>> {
    let h = 1e-6;
    let mut jac = vec![vec![0.0; u.len()]; rows];
    for j in 0..u.len() {
        let (mut a, mut b) = (u.to_vec(), u.to_vec());
        a[j] += h;
        b[j] -= h;
        let (fa, fb) = (f(&a), f(&b));
        for i in 0..rows {
            jac[i][j] = (fa[i] - fb[i]) / (2.0 * h);
        }
    }
    jac
}

/// `ln |det|` by Gaussian elimination with partial pivoting.
fn log_abs_det(mut m: Vec<Vec<f64>>) -> f64 {
    let n = m.len();
    let mut out = 0.0;
    for c in 0..n {
        let p = (c..n).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs())).unwrap();
        m.swap(c, p);
        out += m[c][c].abs().ln();
        for r in (c + 1)..n {
            let f = m[r][c] / m[c][c];
            let pivot = m[c].clone();
            for (v, p) in m[r].iter_mut().zip(&pivot).skip(c) {
                *v -= f * p;
            }
        }
    }
    out
}

#[test]
fn constraint_bijections_round_trip_and_log_det_matches_finite_differences() {
    let device = device();
    let u = [0.3, -1.2, 2.0, 0.0, -0.4, 1.1];
    for (c, shape) in [
        (Constraint::Real, vec![6]),
        (Constraint::Positive, vec![2, 3]),
        (Constraint::PositiveSoftplus, vec![6]),
        (Constraint::UnitInterval, vec![3, 2]),
        (Constraint::Interval { low: -1.0, high: 3.0 }, vec![2, 3]),
        (Constraint::Simplex, vec![2, 4]),
        (Constraint::GreaterThan { low: -1.5 }, vec![2, 3]),
        (Constraint::LessThan { high: 2.5 }, vec![6]),
        (Constraint::Ordered, vec![2, 3]),
        (Constraint::PositiveOrdered, vec![3, 2]),
    ] {
        let m = c.unconstrained_len(&shape).unwrap();
        let u = &u[..m];
        let (x, log_det) = c.forward(tensor1(u, &device), &shape).unwrap();
        let back = host(c.inverse(x.clone(), &shape).unwrap());
        for (a, b) in u.iter().zip(&back) {
            assert!((a - b).abs() < 1e-9, "{c:?}: round trip {u:?} -> {back:?}");
        }
        let xs = host(x);
        let f = |v: &[f64]| host(c.forward(tensor1(v, &device), &shape).unwrap().0);
        let expected = if c == Constraint::Simplex {
            // two rows of K = 4: the Jacobian is block diagonal over rows, each block the first
            // K - 1 coordinates of x against that row's K - 1 coordinates of u
            let (k, rows) = (4, 2);
            assert!((xs[..k].iter().sum::<f64>() - 1.0).abs() < 1e-12 && xs.iter().all(|&v| v > 0.0));
            (0..rows)
                .map(|r| {
                    let g = |v: &[f64]| {
                        let mut full = u.to_vec();
                        full[r * (k - 1)..(r + 1) * (k - 1)].copy_from_slice(v);
                        f(&full)[r * k..r * k + k - 1].to_vec()
                    };
                    log_abs_det(jacobian(&g, &u[r * (k - 1)..(r + 1) * (k - 1)], k - 1))
                })
                .sum::<f64>()
        } else {
            log_abs_det(jacobian(&f, u, m))
        };
        let got = host(log_det)[0];
        assert!((got - expected).abs() < 1e-6, "{c:?}: log det {got} vs finite differences {expected}");
        // the image lies on the support
        let k = *shape.last().unwrap();
        let on_support = match c {
            Constraint::GreaterThan { low } => xs.iter().all(|&v| v > low),
            Constraint::LessThan { high } => xs.iter().all(|&v| v < high),
            Constraint::Ordered => xs.chunks(k).all(|r| r.windows(2).all(|w| w[0] < w[1])),
            Constraint::PositiveOrdered => xs.chunks(k).all(|r| r[0] > 0.0 && r.windows(2).all(|w| w[0] < w[1])),
            _ => true,
        };
        assert!(on_support, "{c:?}: {xs:?} is not on the support");
    }
    // Half-lines need a finite bound; an ordered vector needs a last dimension.
    for c in [Constraint::GreaterThan { low: f64::NEG_INFINITY }, Constraint::LessThan { high: f64::NAN }] {
        assert!(matches!(c.unconstrained_len(&[2]), Err(Error::Model { .. })), "{c:?}");
    }
    for c in [Constraint::Ordered, Constraint::PositiveOrdered] {
        assert!(matches!(c.unconstrained_len(&[]), Err(Error::ShapeMismatch { field: "shape", .. })), "{c:?}");
    }
    assert!(Constraint::Discrete.forward(tensor1(&[0.0], &device), &[1]).is_err());
    assert!(matches!(Constraint::Simplex.unconstrained_len(&[3, 1]), Err(Error::ShapeMismatch { .. })));
    // An interval that is not one finite (low, high) (a Uniform with per-element bounds).
    let nan = Constraint::Interval { low: f64::NAN, high: f64::NAN };
    assert!(matches!(nan.unconstrained_len(&[2]), Err(Error::Model { .. })));
    assert!(matches!(
        Constraint::Interval { low: 1.0, high: 1.0 }.forward(tensor1(&[0.0], &device), &[1]),
        Err(Error::Model { .. })
    ));
}
