//! Student-t with a tensor `df` (one per element): the density against statrs within 1e-9 (and
//! the scalar-`df` path within 1e-9 too), moments of `sample` and `rsample` within 4 SE,
//! moments that do not exist, the entropy, the pathwise gradient in `df` against
//! `d E[t^2] / d df` within 4 SE, typed errors.

use bayesburn::distributions::{DegreesOfFreedom, Distribution, Entropy, Rsample, StudentT};
use bayesburn::noise;
use burn::prelude::*;
use burn::tensor::TensorData;
use statrs::distribution::Continuous;
use statrs::statistics::Distribution as _;

use crate::support::stats::*;

const S: usize = 20_000;
const TOL: f64 = 1e-9;

#[test]
fn tensor_and_scalar_df_log_prob_match_statrs() {
    let (l, s, x) = grid(&[-1.5, 0.0, 2.0], &[0.3, 1.0, 2.5], &[-60.0, -2.0, -0.2, 0.0, 0.7, 3.0, 8.0]);
    for dfs in [[0.5, 1.0, 2.5], [10.0, 1e3, 7.99]] {
        // A different df for every element: cycle through the three.
        let df: Vec<f64> = (0..x.len()).map(|i| dfs[i % 3]).collect();
        let got = host(StudentT::new(t1(&df), t1(&l), t1(&s)).unwrap().log_prob(t1(&x)));
        for i in 0..x.len() {
            let want = statrs::distribution::StudentsT::new(l[i], s[i], df[i]).unwrap().ln_pdf(x[i]);
            assert_rel(got[i], want, TOL, &format!("StudentT({}, {}, {}).log_prob({})", df[i], l[i], s[i], x[i]));
        }
        for d in dfs {
            let got = host(StudentT::new(d, t1(&l), t1(&s)).unwrap().log_prob(t1(&x)));
            for i in 0..x.len() {
                let want = statrs::distribution::StudentsT::new(l[i], s[i], d).unwrap().ln_pdf(x[i]);
                assert_rel(got[i], want, TOL, &format!("StudentT(scalar {d}).log_prob({})", x[i]));
            }
        }
    }
}

#[test]
fn tensor_df_broadcasts_against_loc_and_scale() {
    // df [3, 1] against loc [1, 2]: batch [3, 2].
    let d = StudentT::new(t2(&[1.0, 4.0, 9.0], 3, 1), t2(&[0.0, 1.0], 1, 2), t2(&[1.0], 1, 1)).unwrap();
    assert_eq!(d.dims(), [3, 2]);
    assert_eq!(host(d.df()), vec![1.0, 1.0, 4.0, 4.0, 9.0, 9.0]);
    assert!(matches!(d.degrees_of_freedom(), DegreesOfFreedom::Tensor(_)));
    assert!(StudentT::new(t1(&[1.0, 2.0, 3.0]), t1(&[0.0, 0.0]), t1(&[1.0, 1.0])).is_err());
}

#[test]
fn tensor_df_moments() {
    // The fourth moment (for the SE of the sample variance) needs df > 4.
    let (df, loc, scale) = ([6.0, 12.0], [0.0, 3.0], [1.0, 0.5]);
    let truth: Vec<Moments> = (0..2)
        .map(|j| {
            let r = statrs::distribution::StudentsT::new(loc[j], scale[j], df[j]).unwrap();
            let mu4 = 3.0 * df[j] * df[j] / ((df[j] - 2.0) * (df[j] - 4.0)) * scale[j].powi(4);
            Moments { mean: r.mean().unwrap(), var: r.variance().unwrap(), mu4 }
        })
        .collect();
    let d = StudentT::new(rows(&df, S), rows(&loc, S), rows(&scale, S)).unwrap();
    check_closed_moments("StudentT(tensor df)", &d, &truth);
    check_sampling("StudentT(tensor df)", &d, S, &truth, 700);

    let d = StudentT::new(t1(&[0.8, 1.5, 3.0]), t1(&[1.0; 3]), t1(&[2.0; 3])).unwrap();
    let (m, v) = (host(d.mean()), host(d.variance()));
    assert!(m[0].is_nan() && m[1] == 1.0 && m[2] == 1.0, "{m:?}");
    assert!(v[0].is_nan() && v[1] == f64::INFINITY, "{v:?}");
    assert_rel(v[2], 4.0 * 3.0, 1e-15, "StudentT(3, 1, 2) variance");
}

#[test]
fn tensor_df_entropy_matches_statrs_and_the_scalar_path() {
    let df = [0.7, 3.0, 10.0, 250.0];
    let h = host(StudentT::new(t1(&df), t1(&[0.0; 4]), t1(&[1.0; 4])).unwrap().entropy());
    let scaled = host(StudentT::new(t1(&df), t1(&[0.0; 4]), t1(&[3.0; 4])).unwrap().entropy());
    for j in 0..4 {
        // statrs at scale 1 (its location-scale entropy has the sign of ln(scale) reversed).
        let want = statrs::distribution::StudentsT::new(0.0, 1.0, df[j]).unwrap().entropy().unwrap();
        assert_rel(h[j], want, 1e-9, &format!("StudentT({}) entropy", df[j]));
        let scalar = host(StudentT::new(df[j], t1(&[0.0]), t1(&[3.0])).unwrap().entropy())[0];
        assert_rel(scaled[j], scalar, 1e-9, "tensor vs scalar df entropy");
    }
}

#[test]
fn rsample_is_differentiable_in_a_tensor_df() {
    // E[t^2] = df / (df - 2), so d E[t^2] / d df = -2 / (df - 2)^2 (loc 0, scale 1); the
    // per-draw pathwise gradients of t^2, averaged, must agree within 4 SE.
    let dfs = [9.0, 15.0];
    let m = dfs.len();
    let v: Vec<f64> = (0..S).flat_map(|_| dfs).collect();
    let df = Tensor::<2>::from_data(TensorData::new(v, [S, m]), &device().autodiff()).require_grad();
    let zeros = Tensor::<2>::zeros([S, m], &device().autodiff());
    let d = StudentT::new(df.clone(), zeros.clone(), zeros.ones_like()).unwrap();
    assert!(!d.sample().is_tracked(), "sample() must be detached");
    let t = noise::with_seed(710, || d.rsample());
    let grads = t.square().sum().backward();
    let stats = mean_and_se(&host(df.grad(&grads).expect("df has a gradient")), m);
    for j in 0..m {
        let want = -2.0 / (dfs[j] - 2.0).powi(2);
        let (got, se) = stats[j];
        assert!((got - want).abs() <= 4.0 * se, "E[d t^2 / d df] at df {}: {got} (SE {se}), want {want}", dfs[j]);
    }
}

#[test]
fn invalid_tensor_df_is_a_typed_error() {
    for (bad, shown) in [(0.0, "0"), (-2.0, "-2"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        expect_invalid(
            StudentT::new(t1(&[1.0, bad]), t1(&[0.0, 0.0]), t1(&[1.0, 1.0])),
            "StudentT",
            "df",
            &format!("{shown} (at index [1])"),
        );
    }
}
