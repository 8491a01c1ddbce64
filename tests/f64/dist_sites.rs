//! Every distribution family as a `sample!` / `observe!` site of a `#[model]`: the trace's
//! log-density is the sum of the distributions' own log-densities (checked against statrs or
//! the closed form at substituted values), and each site reports its support.

use crate::support::{device, scalar, tensor1};
use bayesburn::distributions::{
    Beta, Binomial, Categorical, Cauchy, Constraint, Dirichlet, Distribution, Exponential, Gamma, Geometric,
    HalfCauchy, InverseGamma, LKJCholesky, Logistic, MixtureSameFamily, MultivariateNormal, NegativeBinomial, Normal,
    Poisson, StudentT, ToEvent, Uniform, Weibull,
};
use bayesburn::infer::{ModelPotential, Potential as _};
use bayesburn::ppl::{substitute, trace, Ctx, Value, Values};
use bayesburn::prelude::*;
use burn::prelude::*;
use statrs::distribution::Continuous;

fn values(pairs: &[(&str, f64)], device: &Device) -> Values {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::from(tensor1(&[*v], device)))).collect()
}

/// loc ~ Cauchy(0, 1), tau ~ HalfCauchy(2), rate ~ Exponential(1), u ~ Uniform(-1, 3),
/// w ~ Weibull(1, 1.5); y_i ~ Logistic(loc, tau).
#[model]
fn continuous(device: Device, y: Tensor<1>) -> bayesburn::Result<()> {
    let full = |v: f64| Tensor::<1>::full([1], v, &device);
    let loc: Tensor<1> = sample!("loc", Cauchy::new(full(0.0), full(1.0))?);
    let tau: Tensor<1> = sample!("tau", HalfCauchy::new(full(2.0))?);
    let _rate: Tensor<1> = sample!("rate", Exponential::new(full(1.0))?);
    let _u: Tensor<1> = sample!("u", Uniform::new(full(-1.0), full(3.0))?);
    let _w: Tensor<1> = sample!("w", Weibull::new(full(1.0), full(1.5))?);
    let n = y.dims()[0];
    observe!("y", Logistic::new(loc.expand([n]), tau.expand([n]))?, y);
    Ok(())
}

fn logistic_lp(x: f64, loc: f64, s: f64) -> f64 {
    let z = ((x - loc) / s).abs();
    -z - s.ln() - 2.0 * (-z).exp().ln_1p()
}

#[test]
fn continuous_sites_sum_to_the_trace_log_density() {
    let device = device();
    let y = [0.4, -1.3, 2.2];
    let yt = tensor1(&y, &device);
    let m = |ctx: &mut Ctx| continuous(ctx, device.clone(), yt.clone());
    let at = [("loc", 0.3), ("tau", 1.7), ("rate", 0.6), ("u", 2.5), ("w", 0.8)];
    let (_, tr) = trace(&substitute(m, values(&at, &device))).unwrap();
    let expected = statrs::distribution::Cauchy::new(0.0, 1.0).unwrap().ln_pdf(0.3)
        + 2f64.ln()
        + statrs::distribution::Cauchy::new(0.0, 2.0).unwrap().ln_pdf(1.7)
        + statrs::distribution::Exp::new(1.0).unwrap().ln_pdf(0.6)
        + statrs::distribution::Uniform::new(-1.0, 3.0).unwrap().ln_pdf(2.5)
        + statrs::distribution::Weibull::new(1.5, 1.0).unwrap().ln_pdf(0.8)
        + y.iter().map(|&v| logistic_lp(v, 0.3, 1.7)).sum::<f64>();
    let got = scalar(tr.log_density().unwrap());
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
    let support = |name: &str| tr.get(name).unwrap().constraint;
    assert_eq!(support("loc"), Constraint::Real);
    assert_eq!(support("tau"), Constraint::Positive);
    assert_eq!(support("rate"), Constraint::Positive);
    assert_eq!(support("u"), Constraint::Interval { low: -1.0, high: 3.0 });
    assert_eq!(support("w"), Constraint::Positive);
    assert_eq!(support("y"), Constraint::Real);
    // Drawn (not substituted), every latent is inside its support.
    let (_, tr) = trace(&m).unwrap();
    let u = tr.get("u").unwrap().value.to_vec()[0];
    assert!((-1.0..3.0).contains(&u), "{u}");
    assert!(["tau", "rate", "w"].iter().all(|s| tr.get(s).unwrap().value.to_vec()[0] > 0.0));
}

/// u ~ Uniform(-1, 3) alone: NUTS's potential runs through the interval's scaled sigmoid.
#[model]
fn uniform_only(device: Device, per_element: bool) -> bayesburn::Result<()> {
    let low =
        if per_element { Tensor::<1>::from_floats([-1.0, 0.0], &device) } else { Tensor::full([2], -1.0, &device) };
    let _u: Tensor<1> = sample!("u", Uniform::new(low, Tensor::full([2], 3.0, &device))?);
    Ok(())
}

#[test]
fn a_latent_uniform_has_the_interval_jacobian_and_per_element_bounds_are_a_typed_error() {
    let device = device();
    let d = device.clone();
    let pot = ModelPotential::new(move |ctx: &mut Ctx| uniform_only(ctx, d.clone(), false)).unwrap();
    // U(q) = -(ln p(x) + ln|dx/dq|) = -(-ln 4 + ln 4 + ln sigmoid(q) + ln sigmoid(-q)) per coordinate.
    for q in [[0.0, 0.0], [1.5, -0.3]] {
        let want: f64 = q.iter().map(|&v: &f64| (1.0 + (-v).exp()).ln() + (1.0 + v.exp()).ln()).sum();
        let got = pot.value(&q).unwrap();
        assert!((got - want).abs() < 1e-12, "U({q:?}) = {got}, want {want}");
    }
    assert!((pot.value(&[0.0, 0.0]).unwrap() - 4.0 * 2f64.ln()).abs() < 1e-12);
    let Err(err) = ModelPotential::new(move |ctx: &mut Ctx| uniform_only(ctx, device.clone(), true)) else {
        panic!("a latent Uniform with per-element bounds should be a typed error");
    };
    assert!(matches!(err, Error::Model { .. }), "{err}");
}

/// prec ~ Gamma(2, 3), var ~ InverseGamma(3, 2); y_i ~ Gamma(prec, var) (a likelihood with
/// both parameters latent).
#[model]
fn gamma_family(device: Device, y: Tensor<1>) -> bayesburn::Result<()> {
    let full = |v: f64| Tensor::<1>::full([1], v, &device);
    let prec: Tensor<1> = sample!("prec", Gamma::new(full(2.0), full(3.0))?);
    let var: Tensor<1> = sample!("var", InverseGamma::new(full(3.0), full(2.0))?);
    let n = y.dims()[0];
    observe!("y", Gamma::new(prec.expand([n]), var.expand([n]))?, y);
    Ok(())
}

#[test]
fn gamma_family_sites_sum_to_the_trace_log_density() {
    let device = device();
    let y = [0.4, 1.3, 2.2];
    let yt = tensor1(&y, &device);
    let m = |ctx: &mut Ctx| gamma_family(ctx, device.clone(), yt.clone());
    let (_, tr) = trace(&substitute(m, values(&[("prec", 1.4), ("var", 0.9)], &device))).unwrap();
    let lik = statrs::distribution::Gamma::new(1.4, 0.9).unwrap();
    let expected = statrs::distribution::Gamma::new(2.0, 3.0).unwrap().ln_pdf(1.4)
        + statrs::distribution::InverseGamma::new(3.0, 2.0).unwrap().ln_pdf(0.9)
        + y.iter().map(|&v| lik.ln_pdf(v)).sum::<f64>();
    let got = scalar(tr.log_density().unwrap());
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
    assert_eq!(tr.get("prec").unwrap().constraint, Constraint::Positive);
    assert_eq!(tr.get("var").unwrap().constraint, Constraint::Positive);
    // Drawn, the latents are positive and reparameterized (implicitly, through the Gamma draw).
    let (_, tr) = trace(&m).unwrap();
    for name in ["prec", "var"] {
        let site = tr.get(name).unwrap();
        assert!(site.value.to_vec()[0] > 0.0);
        assert!(site.dist.as_ref().unwrap().is_reparameterized());
    }
}

/// nu ~ Gamma(2, 0.1); y_i ~ StudentT(nu, 0, 1): a latent, per-element `df`.
#[model]
fn robust(device: Device, y: Tensor<1>) -> bayesburn::Result<()> {
    let nu: Tensor<1> = sample!("nu", Gamma::new(Tensor::full([1], 2.0, &device), Tensor::full([1], 0.1, &device))?);
    let n = y.dims()[0];
    observe!("y", StudentT::new(nu.expand([n]), Tensor::zeros([n], &device), Tensor::ones([n], &device))?, y);
    Ok(())
}

#[test]
fn student_t_with_a_latent_df_sums_to_the_trace_log_density() {
    let device = device();
    let y = [0.4, -3.3, 12.0];
    let yt = tensor1(&y, &device);
    let m = |ctx: &mut Ctx| robust(ctx, device.clone(), yt.clone());
    let (_, tr) = trace(&substitute(m, values(&[("nu", 3.5)], &device))).unwrap();
    let lik = statrs::distribution::StudentsT::new(0.0, 1.0, 3.5).unwrap();
    let expected =
        statrs::distribution::Gamma::new(2.0, 0.1).unwrap().ln_pdf(3.5) + y.iter().map(|&v| lik.ln_pdf(v)).sum::<f64>();
    let got = scalar(tr.log_density().unwrap());
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
    assert_eq!(tr.get("y").unwrap().constraint, Constraint::Real);
    assert!(tr.get("y").unwrap().dist.as_ref().unwrap().is_reparameterized());
}

/// p ~ Beta(2, 3); y_i ~ Beta(5 p, 5 (1 - p)): a proportion with a latent mean.
#[model]
fn proportions(device: Device, y: Tensor<1>) -> bayesburn::Result<()> {
    let p: Tensor<1> = sample!("p", Beta::new(Tensor::full([1], 2.0, &device), Tensor::full([1], 3.0, &device))?);
    let n = y.dims()[0];
    let a = p.clone().mul_scalar(5.0).expand([n]);
    let b = p.neg().add_scalar(1.0).mul_scalar(5.0).expand([n]);
    observe!("y", Beta::new(a, b)?, y);
    Ok(())
}

#[test]
fn beta_sites_sum_to_the_trace_log_density() {
    let device = device();
    let y = [0.1, 0.45, 0.8];
    let yt = tensor1(&y, &device);
    let m = |ctx: &mut Ctx| proportions(ctx, device.clone(), yt.clone());
    let (_, tr) = trace(&substitute(m, values(&[("p", 0.3)], &device))).unwrap();
    let lik = statrs::distribution::Beta::new(1.5, 3.5).unwrap();
    let expected =
        statrs::distribution::Beta::new(2.0, 3.0).unwrap().ln_pdf(0.3) + y.iter().map(|&v| lik.ln_pdf(v)).sum::<f64>();
    let got = scalar(tr.log_density().unwrap());
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
    let site = tr.get("p").unwrap();
    assert_eq!(site.constraint, Constraint::UnitInterval);
    assert!(site.dist.as_ref().unwrap().is_reparameterized());
}

/// rate ~ Gamma(2, 1), p ~ Beta(2, 2); counts ~ Poisson(rate), over-dispersed counts ~
/// NegativeBinomial(mean rate, concentration 3), successes ~ Binomial(10, p), failures before a
/// success ~ Geometric(p).
#[model]
fn counts(device: Device, data: [Tensor<1>; 4]) -> bayesburn::Result<()> {
    let full = |v: f64| Tensor::<1>::full([1], v, &device);
    let rate: Tensor<1> = sample!("rate", Gamma::new(full(2.0), full(1.0))?);
    let p: Tensor<1> = sample!("p", Beta::new(full(2.0), full(2.0))?);
    let [k, over, successes, failures] = data;
    let n = k.dims()[0];
    observe!("k", Poisson::new(rate.clone().expand([n]))?, k);
    observe!("over", NegativeBinomial::from_mean(rate.expand([n]), Tensor::full([n], 3.0, &device))?, over);
    observe!("successes", Binomial::from_probs(Tensor::full([n], 10.0, &device), p.clone().expand([n]))?, successes);
    observe!("failures", Geometric::from_probs(p.expand([n]))?, failures);
    Ok(())
}

#[test]
fn count_sites_sum_to_the_trace_log_density() {
    let device = device();
    let data: [[f64; 3]; 4] = [[0.0, 2.0, 5.0], [1.0, 0.0, 9.0], [3.0, 7.0, 10.0], [0.0, 1.0, 4.0]];
    let tensors = data.map(|d| tensor1(&d, &device));
    let m = |ctx: &mut Ctx| counts(ctx, device.clone(), tensors.clone());
    let (rate, p) = (2.5, 0.4);
    let (_, tr) = trace(&substitute(m, values(&[("rate", rate), ("p", p)], &device))).unwrap();
    let (poisson, binomial, geometric) = (
        statrs::distribution::Poisson::new(rate).unwrap(),
        statrs::distribution::Binomial::new(p, 10).unwrap(),
        statrs::distribution::Geometric::new(p).unwrap(),
    );
    // statrs's negative binomial counts failures before r successes of probability r / (r + mu).
    let negative_binomial = statrs::distribution::NegativeBinomial::new(3.0, 3.0 / (3.0 + rate)).unwrap();
    use statrs::distribution::Discrete;
    let expected = statrs::distribution::Gamma::new(2.0, 1.0).unwrap().ln_pdf(rate)
        + statrs::distribution::Beta::new(2.0, 2.0).unwrap().ln_pdf(p)
        + data[0].iter().map(|&k| poisson.ln_pmf(k as u64)).sum::<f64>()
        + data[1].iter().map(|&k| negative_binomial.ln_pmf(k as u64)).sum::<f64>()
        + data[2].iter().map(|&k| binomial.ln_pmf(k as u64)).sum::<f64>()
        + data[3].iter().map(|&k| geometric.ln_pmf(k as u64 + 1)).sum::<f64>();
    let got = scalar(tr.log_density().unwrap());
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
    for name in ["k", "over", "successes", "failures"] {
        let site = tr.get(name).unwrap();
        assert_eq!(site.constraint, Constraint::Discrete, "{name}");
        assert!(!site.dist.as_ref().unwrap().is_reparameterized(), "{name}");
    }
}

/// w ~ Dirichlet(1, 2, 3), labels_i ~ Categorical(w); z ~ N(0, L L^T) in 2-d, y_i ~ N(z, I).
#[model]
fn simplex_and_vector(device: Device, labels: Tensor<2>, y: Tensor<2>) -> bayesburn::Result<()> {
    let w: Tensor<2> = sample!("w", Dirichlet::new(Tensor::<2>::from_floats([[1.0, 2.0, 3.0]], &device))?);
    let n = labels.dims()[0];
    observe!("labels", Categorical::from_probs(w.expand([n, 3]))?, labels);
    let factor = Tensor::<3>::from_floats([[[1.0, 0.0], [0.5, 2.0]]], &device);
    let z: Tensor<2> = sample!("z", MultivariateNormal::new(Tensor::zeros([1, 2], &device), factor)?);
    let m = y.dims()[0];
    observe!("y", Normal::new(z.expand([m, 2]), Tensor::ones([m, 2], &device))?, y);
    Ok(())
}

#[test]
fn dirichlet_and_multivariate_normal_sites_sum_to_the_trace_log_density() {
    let device = device();
    // f64 data through TensorData (from_floats would round through f32).
    let labels = tensor1(&[0.0, 2.0, 2.0], &device).reshape([3, 1]);
    let y = tensor1(&[0.3, -1.0, 1.2, 0.4], &device).reshape([2, 2]);
    let m = |ctx: &mut Ctx| simplex_and_vector(ctx, device.clone(), labels.clone(), y.clone());
    let (w, z): ([f64; 3], [f64; 2]) = ([0.2, 0.3, 0.5], [0.4, -0.6]);
    let at: Values = [
        ("w".to_string(), Value::from(tensor1(&w, &device).reshape([1, 3]))),
        ("z".to_string(), Value::from(tensor1(&z, &device).reshape([1, 2]))),
    ]
    .into_iter()
    .collect();
    let (_, tr) = trace(&substitute(m, at)).unwrap();
    // Dirichlet(1, 2, 3) at w: Gamma(6) / (Gamma(1) Gamma(2) Gamma(3)) w_1 w_2^2.
    let dirichlet = (120.0f64 / 2.0).ln() + w[1].ln() + 2.0 * w[2].ln();
    let categorical = w[0].ln() + 2.0 * w[2].ln();
    // z ~ N(0, [[1, 0.5], [0.5, 4.25]]): z1 = z_0, z2 = (z_1 - 0.5 z_0) / 2; ln det L = ln 2.
    let (e0, e1) = (z[0], (z[1] - 0.5 * z[0]) / 2.0);
    let mvn = -0.5 * (e0 * e0 + e1 * e1) - 2f64.ln() - (2.0 * std::f64::consts::PI).ln();
    let normal: f64 = [[0.3, -1.0], [1.2, 0.4]]
        .iter()
        .flat_map(|r| r.iter().zip(z).map(|(v, m)| statrs::distribution::Normal::new(m, 1.0).unwrap().ln_pdf(*v)))
        .sum();
    let expected = dirichlet + categorical + mvn + normal;
    let got = scalar(tr.log_density().unwrap());
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
    assert_eq!(tr.get("w").unwrap().constraint, Constraint::Simplex);
    assert_eq!(tr.get("z").unwrap().constraint, Constraint::Real);
    // NUTS's potential runs through the simplex bijection: finite at the origin.
    let d = device.clone();
    let (l, yy) = (labels.clone(), y.clone());
    let pot =
        ModelPotential::new(move |ctx: &mut Ctx| simplex_and_vector(ctx, d.clone(), l.clone(), yy.clone())).unwrap();
    assert_eq!(pot.dim(), 4, "K - 1 = 2 coordinates for the simplex, 2 for z");
    assert!(pot.value(&[0.0; 4]).unwrap().is_finite());
}

/// w ~ N(0, 1) over 3 coordinates as one event; y_i ~ 0.3 N(w_0, 1) + 0.7 N(w_1, 2).
#[model]
fn wrapped(device: Device, y: Tensor<2>) -> bayesburn::Result<()> {
    let w: Tensor<2> =
        sample!("w", Normal::new(Tensor::zeros([1, 3], &device), Tensor::ones([1, 3], &device))?.to_event(1)?);
    let n = y.dims()[0];
    let weights = Categorical::from_probs(tensor1(&[0.3, 0.7], &device).reshape([1, 2]).expand([n, 2]))?;
    let loc = w.slice(s![.., 0..2]).expand([n, 2]);
    let scale = tensor1(&[1.0, 2.0], &device).reshape([1, 2]).expand([n, 2]);
    observe!("y", MixtureSameFamily::new(weights, Normal::new(loc, scale)?)?, y);
    Ok(())
}

#[test]
fn independent_and_mixture_sites_sum_to_the_trace_log_density() {
    let device = device();
    let y = [0.5, -2.0, 3.0];
    let yt = tensor1(&y, &device).reshape([3, 1]);
    let m = |ctx: &mut Ctx| wrapped(ctx, device.clone(), yt.clone());
    let w = [0.4, -0.2, 1.0];
    let at: Values = [("w".to_string(), Value::from(tensor1(&w, &device).reshape([1, 3])))].into_iter().collect();
    let (_, tr) = trace(&substitute(m, at)).unwrap();
    let std = statrs::distribution::Normal::new(0.0, 1.0).unwrap();
    let (a, b) =
        (statrs::distribution::Normal::new(w[0], 1.0).unwrap(), statrs::distribution::Normal::new(w[1], 2.0).unwrap());
    let expected = w.iter().map(|&v| std.ln_pdf(v)).sum::<f64>()
        + y.iter().map(|&v| (0.3 * a.pdf(v) + 0.7 * b.pdf(v)).ln()).sum::<f64>();
    let got = scalar(tr.log_density().unwrap());
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
    let site = tr.get("w").unwrap();
    assert_eq!(site.log_prob.as_ref().unwrap().dims(), [1], "one log-density for the whole event");
    assert!(site.dist.as_ref().unwrap().is_reparameterized());
    assert_eq!(tr.get("y").unwrap().constraint, Constraint::Real);
}

/// L ~ LKJCholesky(3, 2); y_i ~ N(0, diag(s) L L^T diag(s)) with s = (1, 2, 0.5).
#[model]
fn correlated(device: Device, y: Tensor<2>) -> bayesburn::Result<()> {
    let l: Tensor<3> = sample!("L", LKJCholesky::new(3, Tensor::full([1, 1, 1], 2.0, &device))?);
    let s = tensor1(&[1.0, 2.0, 0.5], &device).reshape([1, 3, 1]);
    let n = y.dims()[0];
    let factor = (l * s).expand([n, 3, 3]);
    observe!("y", MultivariateNormal::new_unchecked(Tensor::zeros([n, 3], &device), factor), y);
    Ok(())
}

#[test]
fn a_latent_lkj_factor_sums_to_the_trace_log_density_and_runs_through_nuts_potential() {
    let device = device();
    let y = tensor1(&[0.3, -1.0, 0.2, 1.1, 2.5, -0.4], &device).reshape([2, 3]);
    let m = |ctx: &mut Ctx| correlated(ctx, device.clone(), y.clone());
    let (_, tr) = trace(&m).unwrap();
    let site = tr.get("L").unwrap();
    assert_eq!(site.constraint, Constraint::CorrCholesky);
    assert!(!site.dist.as_ref().unwrap().is_reparameterized());
    let l: Tensor<3> = site.value.tensor::<3>().unwrap();
    let prior = LKJCholesky::new(3, Tensor::full([1, 1, 1], 2.0, &device)).unwrap();
    let factor = (l.clone() * tensor1(&[1.0, 2.0, 0.5], &device).reshape([1, 3, 1])).expand([2, 3, 3]);
    let lik = MultivariateNormal::new(Tensor::zeros([2, 3], &device), factor).unwrap();
    let expected = scalar(prior.log_prob(l)) + scalar(lik.log_prob(y.clone()));
    let got = scalar(tr.log_density().unwrap());
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
    let d = device.clone();
    let yy = y.clone();
    let pot = ModelPotential::new(move |ctx: &mut Ctx| correlated(ctx, d.clone(), yy.clone())).unwrap();
    assert_eq!(pot.dim(), 3, "n (n - 1) / 2 unconstrained coordinates");
    let (u, grad) = pot.value_and_grad(&[0.1, -0.4, 0.7]).unwrap();
    assert!(u.is_finite() && grad.iter().all(|g| g.is_finite()), "U = {u}, grad {grad:?}");
}
