//! The layer priors without a closed-form KL (Laplace, Student-t, horseshoe, the scale mixture):
//! their log-densities against statrs (and the horseshoe's marginal against its integral over the
//! half-Cauchy local scale), the Monte-Carlo KL of a mean-field Normal posterior within 4
//! standard errors of a numerical-quadrature reference `sum_i E_q[log q - log p]`, the reported
//! variance of one draw against its quadrature value, and the pathwise gradient of the one-draw
//! KL (what `Bayesian::kl` returns) against the derivative of the reference.

use bayesburn::noise;
use bayesburn::posterior::{sigma_of_rho, Prior};
use burn::prelude::*;
use statrs::distribution::Continuous;

use crate::support::stats::*;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// The priors under test.
fn priors() -> [Prior; 5] {
    [
        Prior::Laplace { loc: 0.2, scale: 0.5 },
        Prior::StudentT { df: 3.0, loc: -0.1, scale: 0.4 },
        Prior::StudentT { df: 1.0, loc: 0.0, scale: 1.0 },
        Prior::Horseshoe { tau: 0.3 },
        Prior::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.05 },
    ]
}

/// The horseshoe's marginal density by its definition, `p(w) = int N(w; 0, (tau lambda)^2)
/// 2 / (pi (1 + lambda^2)) dlambda`; `lambda = tan t` makes the half-Cauchy a uniform angle:
/// `(2 / pi) int_0^{pi/2} N(w; 0, (tau tan t)^2) dt`.
fn horseshoe_marginal(w: f64, tau: f64) -> f64 {
    let integrand = |t: f64| {
        let s = tau * t.tan();
        if s == 0.0 {
            0.0
        } else {
            (-0.5 * (w / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt())
        }
    };
    2.0 / std::f64::consts::PI * tanh_sinh(&integrand, 0.0, std::f64::consts::FRAC_PI_2)
}

/// `ln p(w)` in f64: statrs for the Laplace and the Student-t, the horseshoe's defining
/// integral ([`horseshoe_marginal`]), the mixture by log-sum-exp.
fn log_p_ref(prior: &Prior, w: f64) -> f64 {
    match *prior {
        Prior::Laplace { loc, scale } => statrs::distribution::Laplace::new(loc, scale).unwrap().ln_pdf(w),
        Prior::StudentT { df, loc, scale } => statrs::distribution::StudentsT::new(loc, scale, df).unwrap().ln_pdf(w),
        Prior::Horseshoe { tau } => horseshoe_marginal(w, tau).ln(),
        Prior::ScaleMixture { pi, sigma1, sigma2 } => {
            let log_n = |s: f64| -0.5 * (w / s).powi(2) - s.ln() - LN_SQRT_2PI;
            let (a, b) = (pi.ln() + log_n(sigma1), (1.0 - pi).ln() + log_n(sigma2));
            a.max(b) + (-(a - b).abs()).exp().ln_1p()
        }
        Prior::Normal { .. } => unreachable!("closed form"),
    }
}

/// Tanh-sinh (double-exponential) quadrature of `f` over `[a, b]`: exact to about 1e-14 for
/// an integrand analytic inside the interval, even with integrable endpoint singularities
/// (the horseshoe's logarithmic pole at 0).
fn tanh_sinh(f: &dyn Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    let h = 1.0 / 64.0;
    let (half, mut sum) = ((b - a) / 2.0, 0.0);
    for k in -220i32..=220 {
        let u = k as f64 * h;
        let s = std::f64::consts::FRAC_PI_2 * u.sinh();
        let weight = std::f64::consts::FRAC_PI_2 * u.cosh() / s.cosh().powi(2);
        // Distance from the nearer end in units of `half`, without cancellation.
        let d = 2.0 / (1.0 + (2.0 * s.abs()).exp());
        if d * half == 0.0 || weight == 0.0 {
            continue;
        }
        let x = if u >= 0.0 { b - half * d } else { a + half * d };
        sum += weight * f(x);
    }
    sum * h * half
}

/// `E[g(w)]` for `w ~ N(mu, sigma^2)` by quadrature over `mu ± 14 sigma`, split at `w = 0` (the
/// Laplace kink at its centre is handled by `kink`, the horseshoe pole at 0).
fn normal_expectation(g: &dyn Fn(f64) -> f64, mu: f64, sigma: f64, kinks: &[f64]) -> f64 {
    let density = |w: f64| (-0.5 * ((w - mu) / sigma).powi(2)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt());
    let (lo, hi) = (mu - 14.0 * sigma, mu + 14.0 * sigma);
    let mut cuts = vec![lo];
    let mut inner: Vec<f64> = kinks.iter().copied().filter(|&k| k > lo && k < hi).collect();
    inner.sort_by(f64::total_cmp);
    cuts.extend(inner);
    cuts.push(hi);
    cuts.windows(2).map(|c| tanh_sinh(&|w| density(w) * g(w), c[0], c[1])).sum()
}

fn kinks(prior: &Prior) -> Vec<f64> {
    vec![0.0, prior.loc()]
}

/// Per weight: the quadrature KL `-H(q) - E_q[log p]` and the variance of one draw of the
/// estimator the prior uses (`log p(w)` alone for Laplace, Student-t and horseshoe, `log q - log p`
/// for the mixture).
fn reference(prior: &Prior, mu: f64, sigma: f64) -> (f64, f64) {
    let log_p = |w: f64| log_p_ref(prior, w);
    let k = kinks(prior);
    let e_log_p = normal_expectation(&log_p, mu, sigma, &k);
    let neg_entropy = -sigma.ln() - LN_SQRT_2PI - 0.5;
    let kl = neg_entropy - e_log_p;
    let variance = match prior {
        Prior::ScaleMixture { .. } => {
            let log_ratio = |w: f64| -0.5 * ((w - mu) / sigma).powi(2) - sigma.ln() - LN_SQRT_2PI - log_p(w);
            normal_expectation(&|w| log_ratio(w).powi(2), mu, sigma, &k) - kl * kl
        }
        _ => normal_expectation(&|w| log_p(w).powi(2), mu, sigma, &k) - e_log_p * e_log_p,
    };
    (kl, variance)
}

/// 48 posteriors: means across both sides of the prior centre, sds from narrow to wide.
fn posterior_grid() -> (Vec<f64>, Vec<f64>) {
    let mut mu = Vec::new();
    let mut sigma = Vec::new();
    for m in [-1.5, -0.4, -0.05, 0.0, 0.1, 0.3, 0.8, 2.0] {
        for s in [0.01, 0.05, 0.1, 0.3, 0.7, 1.5] {
            mu.push(m);
            sigma.push(s);
        }
    }
    (mu, sigma)
}

#[test]
fn quadrature_is_exact_on_known_moments() {
    for (mu, sigma) in [(0.3, 0.01), (-1.0, 2.0)] {
        let one = normal_expectation(&|_| 1.0, mu, sigma, &[0.0]);
        let second = normal_expectation(&|w| w * w, mu, sigma, &[0.0]);
        assert!((one - 1.0).abs() < 1e-13, "{one}");
        assert!((second - (mu * mu + sigma * sigma)).abs() < 1e-12 * (1.0 + mu * mu), "{second}");
    }
}

#[test]
fn log_densities_match_statrs_and_the_horseshoe_marginal_integral() {
    let _ = device();
    let w = [-40.0, -3.0, -0.7, -0.05, -1e-4, 1e-6, 0.01, 0.2, 0.9, 2.5, 15.0, 300.0];
    for prior in priors() {
        let got = host(prior.log_prob(t1(&w)));
        for (i, &x) in w.iter().enumerate() {
            assert_rel(got[i], log_p_ref(&prior, x), 1e-11, &format!("{prior} log_prob({x})"));
        }
    }
}

#[test]
fn monte_carlo_kl_is_within_4_se_of_quadrature_and_reports_its_variance() {
    let _ = device();
    let (mu, sigma) = posterior_grid();
    const DRAWS: usize = 400;
    for (p, prior) in priors().into_iter().enumerate() {
        let (mut kl_ref, mut var_ref) = (0.0, 0.0);
        for i in 0..mu.len() {
            let (k, v) = reference(&prior, mu[i], sigma[i]);
            kl_ref += k;
            var_ref += v;
        }
        let est = noise::with_seed(100 + p as u64, || prior.kl_estimate(t1(&mu), t1(&sigma), None, DRAWS)).unwrap();
        assert_eq!(est.samples, DRAWS);
        let z = (est.value - kl_ref) / est.std_error();
        assert!(z.abs() < 4.0, "{prior}: MC KL {est} vs quadrature {kl_ref} (z = {z:.2})");
        // The sample variance of a near-Gaussian sum has relative standard error sqrt(2 / (S - 1)).
        let rel = est.variance / var_ref - 1.0;
        let se = (2.0 / (DRAWS as f64 - 1.0)).sqrt();
        assert!(rel.abs() < 5.0 * se, "{prior}: variance {} vs quadrature {var_ref} ({rel:+.3})", est.variance);
        eprintln!("{prior}: KL {est}, quadrature {kl_ref:.6}, z {z:+.2}; variance {:.4} vs {var_ref:.4}", est.variance);
    }
}

#[test]
fn an_elementwise_centre_replaces_the_scalar_one() {
    let _ = device();
    let (mu, sigma) = posterior_grid();
    let shift = 0.7;
    for prior in priors() {
        // A prior centred on `loc_i = shift` for every weight sees the posterior `mu - shift`
        // against the zero-centred family: the same KL as shifting the posterior.
        let centred = t1(&vec![shift; mu.len()]);
        let moved: Vec<f64> = mu.iter().map(|m| m - shift + prior.loc()).collect();
        let a = noise::with_seed(7, || prior.kl_estimate(t1(&mu), t1(&sigma), Some(centred.clone()), 3)).unwrap();
        let b = noise::with_seed(7, || prior.kl_estimate(t1(&moved), t1(&sigma), None, 3)).unwrap();
        assert_rel(a.value, b.value, 1e-10, &format!("{prior} with an elementwise centre"));
    }
}

#[test]
fn one_draw_kl_gradient_is_unbiased() {
    // d/dt KL(mu + t, rho) and d/dt KL(mu, rho + t) (all weights moved together): the mean of
    // the pathwise gradients of the one-draw KL within 4 SE of central differences of the
    // quadrature reference.
    let device = crate::support::device();
    let (mu, sigma) = posterior_grid();
    let rho: Vec<f64> = sigma.iter().map(|s| s.exp_m1().ln()).collect();
    const DRAWS: usize = 300;
    for (p, prior) in priors().into_iter().enumerate() {
        let kl_at = |dmu: f64, drho: f64| -> f64 {
            (0..mu.len()).map(|i| reference(&prior, mu[i] + dmu, (rho[i] + drho).exp().ln_1p()).0).sum()
        };
        let h = 1e-4;
        let want_mu = (kl_at(h, 0.0) - kl_at(-h, 0.0)) / (2.0 * h);
        let want_rho = (kl_at(0.0, h) - kl_at(0.0, -h)) / (2.0 * h);
        let (mut g_mu, mut g_rho) = (Vec::new(), Vec::new());
        noise::with_seed(200 + p as u64, || {
            for _ in 0..DRAWS {
                let m = Tensor::<1>::from_data(mu.as_slice(), &device).require_grad();
                let r = Tensor::<1>::from_data(rho.as_slice(), &device).require_grad();
                let grads = prior.kl(m.clone(), sigma_of_rho(r.clone()), None).backward();
                g_mu.push(host(m.grad(&grads).unwrap()).iter().sum::<f64>());
                g_rho.push(host(r.grad(&grads).unwrap()).iter().sum::<f64>());
            }
        });
        for (what, g, want) in [("mu", &g_mu, want_mu), ("rho", &g_rho, want_rho)] {
            let (m, se) = (mean(g), (var(g) / DRAWS as f64).sqrt());
            assert!(((m - want) / se).abs() < 4.0, "{prior}: dKL/d{what} {m} ± {se} vs {want}");
        }
    }
}

#[test]
fn a_prior_centred_on_pretrained_weights_gives_zero_kl_at_the_prior_and_shifts_by_the_closed_form() {
    use bayesburn::convert::{MopedConfig, ToBayesian};
    use bayesburn::posterior::inverse_softplus;
    use bayesburn::Bayesian;
    use burn::module::Param;

    let device = device();
    let linear = noise::with_seed(4, || burn::nn::LinearConfig::new(5, 3).init(&device));
    let scale = 0.3;
    let config = MopedConfig::new().with_prior(Prior::Normal { loc: 0.0, scale }).with_centre_prior(true);
    let mut layer = linear.to_bayesian(&config).unwrap();
    let kl = |l: &bayesburn::layers::BayesLinear| host(l.kl().unwrap())[0];
    let moped_kl = kl(&layer);
    // The posterior equal to the prior: mu = w = the centre, sigma = the prior scale.
    let rho = inverse_softplus(scale);
    layer.weight.rho = Param::from_tensor(layer.weight.rho.val().full_like(rho));
    let bias = layer.bias.as_mut().unwrap();
    bias.rho = Param::from_tensor(bias.rho.val().full_like(rho));
    assert!(kl(&layer).abs() < 1e-12, "KL at the prior {}", kl(&layer));
    // Shifting the centre by c adds n c^2 / (2 scale^2) (n = 18 weights and biases), whatever sigma.
    let (w, b) = (linear.weight.val(), linear.bias.as_ref().unwrap().val());
    for c in [0.05, -0.4] {
        let want = 18.0 * c * c / (2.0 * scale * scale);
        let shifted = layer.clone().with_prior_centre(w.clone().add_scalar(c), Some(b.clone().add_scalar(c))).unwrap();
        assert_rel(kl(&shifted), want, 1e-10, &format!("KL at the prior, centre shifted by {c}"));
        let moped = linear.to_bayesian(&config).unwrap();
        let moped_shifted = moped.with_prior_centre(w.clone().add_scalar(c), Some(b.clone().add_scalar(c))).unwrap();
        assert_rel(kl(&moped_shifted) - moped_kl, want, 1e-10, &format!("MOPED KL, centre shifted by {c}"));
    }
    // The statistics see the centre: every weight is at its prior.
    assert_eq!(layer.posterior_stats()[0].prior_share, 1.0);
}
