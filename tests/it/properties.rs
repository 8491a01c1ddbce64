//! Property tests (proptest): arbitrary parameters and shapes give `Ok` or a typed error, never
//! a panic; for valid parameters, log-densities are finite at points inside the support.
//!
//! - distributions (`src/distributions/`): every constructor with arbitrary `f64` parameters (NaN, ±inf,
//!   subnormals, huge values included) and shapes that may not broadcast; `log_prob` of Normal,
//!   LogNormal, HalfNormal, Laplace, StudentT, Bernoulli, Categorical and the scale-mixture prior
//!   at points drawn inside the support, for parameters in a working range;
//! - `BayesLinearConfig::try_init` + `BayesLinear::try_forward` (and the same for
//!   `BayesConv2d`) with arbitrary small dimensions, any estimator and mode, arbitrary prior
//!   scale and `rho`: no panic, and a successful forward has the documented shape and finite
//!   values.
//!
//! 64 cases per property from a fixed seed keep the file repeatable and well under a second
//! once built; `properties.proptest-regressions` replays the cases that once panicked (an empty
//! parameter broadcast against size 1, a categorical with no class). The device is the
//! default flex device (f32), where parameters that do not fit f32 are rejected by the same
//! checks.

use crate::support::host;
use bayesburn::distributions::{
    Bernoulli, Categorical, Distribution, HalfNormal, Laplace, LogNormal, Normal, ScaleMixtureNormal, StudentT,
};
use bayesburn::layers::{BayesConv2dConfig, BayesLinearConfig, Estimator};
use bayesburn::posterior::{PosteriorInit, Prior};
use bayesburn::{noise, Error, Mode, Result};
use burn::prelude::*;
use burn::tensor::TensorData;
use proptest::prelude::*;

fn dev() -> Device {
    crate::support::device()
}

fn t1(v: &[f64]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &dev())
}

/// `Ok`, or one of the typed errors a bad parameter or shape may give.
fn typed<T>(r: Result<T>) -> std::result::Result<Option<T>, TestCaseError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::InvalidParameter { .. } | Error::ShapeMismatch { .. }) => Ok(None),
        Err(other) => Err(TestCaseError::fail(format!("unexpected error kind: {other}"))),
    }
}

/// Any `f64`: normal, subnormal, zero, ±inf, NaN, with ordinary values over-represented.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => proptest::num::f64::ANY,
        3 => -10.0..10.0f64,
        1 => Just(0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

/// A parameter vector of length 0..=3 (0 is an empty tensor; 1 broadcasts).
fn any_vec() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(any_f64(), 0..=3)
}

/// A location that f32 holds comfortably.
fn loc() -> impl Strategy<Value = f64> {
    -1e3..1e3f64
}

/// A scale that f32 holds comfortably (and whose reciprocal squared does too).
fn scale() -> impl Strategy<Value = f64> {
    prop_oneof![1e-3..1.0f64, 1.0..1e3f64]
}

/// A standardised offset inside the bulk of the distribution.
fn z() -> impl Strategy<Value = f64> {
    -5.0..5.0f64
}

fn assert_finite(what: &str, v: &[f64]) -> std::result::Result<(), TestCaseError> {
    prop_assert!(v.iter().all(|x| x.is_finite()), "{what}: log_prob {v:?}");
    Ok(())
}

proptest! {
    #![proptest_config(crate::support::config())]

    #[test]
    fn location_scale_constructors_never_panic(l in any_vec(), s in any_vec(), df in any_f64()) {
        if let Some(d) = typed(Normal::new(t1(&l), t1(&s)))? {
            let _ = d.log_prob(d.mean());
        }
        if let Some(d) = typed(LogNormal::new(t1(&l), t1(&s)))? {
            let _ = d.log_prob(d.mean());
        }
        if let Some(d) = typed(Laplace::new(t1(&l), t1(&s)))? {
            let _ = d.log_prob(d.mean());
        }
        if let Some(d) = typed(StudentT::new(df, t1(&l), t1(&s)))? {
            let _ = d.log_prob(d.sample());
        }
        if let Some(d) = typed(HalfNormal::new(t1(&s)))? {
            let _ = d.log_prob(d.sample());
        }
    }

    #[test]
    fn discrete_and_mixture_constructors_never_panic(
        p in any_vec(),
        k in 0usize..4,
        pi in any_f64(),
        s1 in any_f64(),
        s2 in any_f64(),
        n in 0usize..3,
    ) {
        if let Some(d) = typed(Bernoulli::from_probs(t1(&p)))? {
            let _ = d.log_prob(d.sample());
        }
        if let Some(d) = typed(Bernoulli::from_logits(t1(&p)))? {
            let _ = d.log_prob(d.sample());
        }
        // `p` cut or padded to `k` classes, as a [1, k] row.
        let mut row = p.clone();
        row.resize(k, 1.0);
        let probs = || Tensor::<2>::from_data(TensorData::new(row.clone(), [1, k]), &dev());
        for c in [typed(Categorical::from_probs(probs()))?, typed(Categorical::from_logits(probs()))?]
            .into_iter()
            .flatten()
        {
            let _ = c.try_log_prob(c.sample());
        }
        if let Some(d) = typed(ScaleMixtureNormal::new(pi, s1, s2, [n], &dev()))? {
            let _ = d.log_prob(d.sample());
        }
    }

    #[test]
    fn normal_laplace_student_t_log_prob_is_finite_inside_the_support(
        m in loc(),
        s in scale(),
        zs in prop::collection::vec(z(), 1..4),
        df in 0.1..100.0f64,
    ) {
        let n = zs.len();
        let x: Vec<f64> = zs.iter().map(|z| m + s * z).collect();
        let (l, sc) = (t1(&vec![m; n]), t1(&vec![s; n]));
        let d = Normal::new(l.clone(), sc.clone()).unwrap();
        assert_finite("Normal", &host(d.log_prob(t1(&x))))?;
        let d = Laplace::new(l.clone(), sc.clone()).unwrap();
        assert_finite("Laplace", &host(d.log_prob(t1(&x))))?;
        let d = StudentT::new(df, l, sc).unwrap();
        assert_finite("StudentT", &host(d.log_prob(t1(&x))))?;
    }

    #[test]
    fn positive_support_log_prob_is_finite(
        m in -5.0..5.0f64,
        s in 1e-2..3.0f64,
        zs in prop::collection::vec(-3.0..3.0f64, 1..4),
    ) {
        let n = zs.len();
        // LogNormal: x = exp(m + s z) > 0; HalfNormal: x = s |z| >= 0 (0 included).
        let x: Vec<f64> = zs.iter().map(|z| (m + s * z).exp()).collect();
        let d = LogNormal::new(t1(&vec![m; n]), t1(&vec![s; n])).unwrap();
        assert_finite("LogNormal", &host(d.log_prob(t1(&x))))?;
        let x: Vec<f64> = zs.iter().map(|z| s * z.abs()).collect();
        let d = HalfNormal::new(t1(&vec![s; n])).unwrap();
        assert_finite("HalfNormal", &host(d.log_prob(t1(&x))))?;
    }

    #[test]
    fn discrete_log_prob_is_finite_inside_the_support(
        p in prop::collection::vec(prop_oneof![Just(0.0), Just(1.0), 1e-6..(1.0 - 1e-6)], 1..4),
        weights in prop::collection::vec(prop_oneof![Just(0.0), 1e-3..10.0f64], 1..5),
        pick in 0usize..5,
    ) {
        // Bernoulli: 1 is in the support when p > 0, 0 when p < 1.
        let x: Vec<f64> = p.iter().map(|&pi| if pi > 0.0 { 1.0 } else { 0.0 }).collect();
        let d = Bernoulli::from_probs(t1(&p)).unwrap();
        assert_finite("Bernoulli", &host(d.log_prob(t1(&x))))?;
        // Categorical: any class with positive weight (at least one is made positive).
        let mut w = weights.clone();
        let k = w.len();
        let class = pick % k;
        w[class] = w[class].max(1.0);
        let c = Categorical::from_probs(Tensor::<2>::from_data(TensorData::new(w, [1, k]), &dev())).unwrap();
        let value = Tensor::<2, Int>::from_data(TensorData::new(vec![class as i64], [1, 1]), &dev());
        assert_finite("Categorical", &host(c.try_log_prob(value).unwrap()))?;
    }

    #[test]
    fn scale_mixture_log_prob_is_finite_everywhere(
        pi in 1e-3..(1.0 - 1e-3),
        s1 in 1e-3..10.0f64,
        s2 in 1e-3..10.0f64,
        w in prop::collection::vec(-10.0..10.0f64, 1..4),
    ) {
        let d = ScaleMixtureNormal::new(pi, s1, s2, [w.len()], &dev()).unwrap();
        assert_finite("ScaleMixtureNormal", &host(d.log_prob(t1(&w))))?;
    }

    #[test]
    fn bayes_linear_never_panics_on_small_dims(
        (d_in, d_out, s, n, x_in) in (0usize..4, 0usize..4, 0usize..3, 0usize..3, 0usize..5),
        estimator in prop_oneof![
            Just(Estimator::Reparameterization),
            Just(Estimator::Flipout),
            Just(Estimator::LocalReparameterization),
        ],
        mean_mode: bool,
        bias: bool,
        prior_scale in any_f64(),
        rho in any_f64(),
        seed: u64,
    ) {
        let cfg = BayesLinearConfig::new(d_in, d_out)
            .with_bias(bias)
            .with_estimator(estimator)
            .with_prior(Prior::Normal { loc: 0.0, scale: prior_scale })
            .with_init(PosteriorInit { rho, ..PosteriorInit::default() });
        noise::with_seed(seed, || -> std::result::Result<(), TestCaseError> {
            let Some(layer) = typed(cfg.try_init(&dev()))? else { return Ok(()) };
            let layer = if mean_mode { layer.with_mode(Mode::Mean) } else { layer };
            let x = noise::normal([s, n, x_in], &dev());
            if let Some(y) = typed(layer.try_forward(x))? {
                prop_assert_eq!(y.dims(), [s, n, d_out]);
                let v = host(y);
                // rho is finite here but may be huge, so sigma (and y) may overflow f32 in Sample mode.
                if mean_mode || rho.abs() < 30.0 {
                    prop_assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
                }
            }
            Ok(())
        })?;
    }

    #[test]
    fn bayes_conv2d_never_panics_on_small_dims(
        (c_in, c_out, k, stride) in (0usize..3, 0usize..3, 0usize..4, 0usize..3),
        (s, n, x_c, h, w) in (0usize..3, 0usize..3, 0usize..4, 0usize..5, 0usize..5),
        estimator in prop_oneof![
            Just(Estimator::Reparameterization),
            Just(Estimator::Flipout),
            Just(Estimator::LocalReparameterization),
        ],
        seed: u64,
    ) {
        let cfg = BayesConv2dConfig::new([c_in, c_out], [k, k]).with_stride([stride, 1]).with_estimator(estimator);
        noise::with_seed(seed, || -> std::result::Result<(), TestCaseError> {
            let Some(layer) = typed(cfg.try_init(&dev()))? else { return Ok(()) };
            let x = noise::normal([s, n, x_c, h, w], &dev());
            if let Some(y) = typed(layer.try_forward(x))? {
                let [ys, yn, yc, _, _] = y.dims();
                prop_assert_eq!([ys, yn, yc], [s, n, c_out]);
                let v = host(y);
                prop_assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
            }
            Ok(())
        })?;
    }
}
