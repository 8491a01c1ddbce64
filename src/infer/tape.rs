//! The site tape of a [`ModelPotential`](super::ModelPotential): `U(q)` and `∇U(q)` of a model
//! evaluated on the host in f64 over flat buffers, without running the model, burn or its
//! autodiff graph.
//!
//! burn 0.22 offers no way to intercept the tensor operations of an ordinary model (its one
//! recording device, `Device::capture`, refuses autodiff tensors and cannot read values back,
//! which the distributions' checks do; docs/PERFORMANCE.md has the reasons). So the tape records
//! the model at the level the library owns, its sites: a `U` is
//!
//! ```text
//! U(q) = -Σ_sites scale · Σ_elements log p_family(value | params) - Σ_slots log |det J_T(q)|
//! ```
//!
//! and every `value` and parameter of every site is a function of the constrained latents
//! `z = T(q)` that the model computes with tensor code the tape cannot see. Recording finds that
//! function by finite differences of model runs and keeps it when it is a polynomial of degree
//! at most two in `z` (an affine predictor `X β`, a hierarchical `N(mu, tau)`, the non-centered
//! `mu + tau · theta_tilde`; the differences of a polynomial of degree two are exact up to
//! rounding). The polynomial is then verified against fresh model runs at other points, value
//! for value and in the total log-density; anything else — another degree, an unsupported family
//! or constraint, a trace whose sites change between runs (value-dependent control flow, a
//! subsampled plate) — leaves the tape unrecorded with the reason, and the potential keeps the
//! burn path.
//!
//! Evaluation: `z`, `dz/dq` and the log-Jacobians per slot; every input as its polynomial;
//! each site's elementwise log-density and its derivatives in value and parameters (written out
//! per family below); then the reverse pass through the polynomials and the bijections.

use std::cell::RefCell;
use std::f64::consts::{FRAC_PI_2, LN_2, PI};

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use statrs::function::gamma::ln_gamma;

use super::layout::LatentLayout;
use crate::distributions::{Constraint, Family};
use crate::noise;
use crate::ppl::ctx::{Ctx, Model};
use crate::ppl::handlers::substitute;
use crate::ppl::params::ParamStore;
use crate::ppl::value::{host_f64, Value, Values};

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// Probe points (besides the differencing ones) the recorded polynomials must reproduce.
const VERIFY_POINTS: usize = 3;
/// The largest latent dimension for which the mixed second differences are taken
/// (`dim (dim - 1) / 2` model runs); above it only affine inputs are recorded.
const MAX_QUADRATIC_DIM: usize = 48;
/// Agreement a recorded input must reach at the verification points, relative to `1 + |x|`.
const INPUT_TOLERANCE: f64 = 1e-9;

/// One site's log-density family, as the tape evaluates it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// `factor!`: the log-density is the input itself.
    Factor,
    /// An `ImproperUniform`: contributes nothing.
    Flat,
    Normal,
    LogNormal,
    HalfNormal,
    HalfCauchy,
    Cauchy,
    Laplace,
    /// Inputs value, loc, scale; `df` constant, kept in `StudentConsts`.
    StudentT,
    Exponential,
}

/// What a probe run saw of a site: its name, family, scale, length and inputs (value first).
#[derive(Debug, Clone, PartialEq)]
struct SiteSig {
    name: String,
    kind: Kind,
    scale: f64,
    len: usize,
    inputs: usize,
}

/// One model run at constrained latents `z`: the sites' structure, every input on the host and
/// the trace's log-density (the model's own arithmetic, the reference the tape must match).
struct Probe {
    sigs: Vec<SiteSig>,
    inputs: Vec<Vec<f64>>,
    log_density: f64,
}

/// An input as a polynomial of `d = z - z0`: `x = base + Σ lin · d_j + Σ quad · d_j d_l`.
#[derive(Debug, Clone)]
struct Form {
    offset: usize,
    base: Vec<f64>,
    /// `(row, j, coefficient)`.
    lin: Vec<(usize, usize, f64)>,
    /// `(row, j, l, coefficient)`, `j <= l`.
    quad: Vec<(usize, usize, usize, f64)>,
}

/// A site's term in the log-density.
#[derive(Debug, Clone)]
struct Term {
    kind: Kind,
    scale: f64,
    len: usize,
    /// Indices into the tape's forms, value first.
    inputs: Vec<usize>,
    /// Student's t: per element `df` and the normalising constant.
    student: Option<(Vec<f64>, Vec<f64>)>,
}

/// One slot's bijection, as the tape evaluates it.
#[derive(Debug, Clone, Copy)]
enum Bijection {
    Real,
    /// `low + e^u` (`Positive` is `low = 0`).
    Above(f64),
    /// `high - e^u`.
    Below(f64),
    Softplus,
    /// `low + width · sigmoid(u)`.
    Interval(f64, f64),
}

impl Bijection {
    fn of(constraint: Constraint) -> Option<Self> {
        Some(match constraint {
            Constraint::Real => Bijection::Real,
            Constraint::Positive => Bijection::Above(0.0),
            Constraint::GreaterThan { low } => Bijection::Above(low),
            Constraint::LessThan { high } => Bijection::Below(high),
            Constraint::PositiveSoftplus => Bijection::Softplus,
            Constraint::UnitInterval => Bijection::Interval(0.0, 1.0),
            Constraint::Interval { low, high } => Bijection::Interval(low, high - low),
            _ => return None,
        })
    }

    /// `(z, dz/du, log |dz/du|, d log |dz/du| / du)`.
    fn forward(self, u: f64) -> (f64, f64, f64, f64) {
        match self {
            Bijection::Real => (u, 1.0, 0.0, 0.0),
            Bijection::Above(low) => {
                let e = u.exp();
                (low + e, e, u, 1.0)
            }
            Bijection::Below(high) => {
                let e = u.exp();
                (high - e, -e, u, 1.0)
            }
            Bijection::Softplus => {
                let s = sigmoid(u);
                (softplus(u), s, -softplus(-u), 1.0 - s)
            }
            Bijection::Interval(low, width) => {
                let s = sigmoid(u);
                let log_det = -(softplus(-u) + softplus(u));
                (low + width * s, width * s * (1.0 - s), log_det + width.ln(), 1.0 - 2.0 * s)
            }
        }
    }

    /// A differencing step from `z` that stays inside the support on both sides.
    fn step(self, z: f64) -> f64 {
        match self {
            Bijection::Real => 1.0,
            Bijection::Above(low) => 0.5 * (z - low),
            Bijection::Below(high) => 0.5 * (high - z),
            Bijection::Softplus => 0.5 * z,
            Bijection::Interval(low, width) => 0.5 * (z - low).min(low + width - z),
        }
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn softplus(x: f64) -> f64 {
    crate::posterior::softplus_f64(x)
}

/// A recorded model: slots, polynomial inputs and site terms (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct SiteTape {
    bijections: Vec<Bijection>,
    z0: Vec<f64>,
    forms: Vec<Form>,
    terms: Vec<Term>,
    input_len: usize,
}

thread_local! {
    /// Per-thread scratch (inputs, their adjoints, z, dz/dq, adjoint of z): grown once, reused
    /// by every evaluation on the thread, so an evaluation allocates only the gradient it returns.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

impl SiteTape {
    /// Number of polynomial coefficients (linear and quadratic) the tape holds.
    pub(crate) fn coefficients(&self) -> usize {
        self.forms.iter().map(|f| f.lin.len() + f.quad.len()).sum()
    }

    /// Number of site terms.
    pub(crate) fn terms(&self) -> usize {
        self.terms.len()
    }

    /// `U(q)` and `∇U(q)` (`q` of the layout's length, checked by the caller).
    pub(crate) fn value_and_grad(&self, q: &[f64]) -> (f64, Vec<f64>) {
        let dim = self.z0.len();
        let n = self.input_len;
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            if scratch.len() < 2 * n + 3 * dim {
                scratch.resize(2 * n + 3 * dim, 0.0);
            }
            let (x, rest) = scratch.split_at_mut(n);
            let (gx, rest) = rest.split_at_mut(n);
            let (d, rest) = rest.split_at_mut(dim);
            let (dzdq, gz) = rest.split_at_mut(dim);
            let mut grad = vec![0.0; dim];
            let mut log_joint = 0.0;
            for i in 0..dim {
                let (z, dz, log_det, dlog_det) = self.bijections[i].forward(q[i]);
                d[i] = z - self.z0[i];
                dzdq[i] = dz;
                log_joint += log_det;
                grad[i] = dlog_det;
            }
            for form in &self.forms {
                let xs = &mut x[form.offset..form.offset + form.base.len()];
                xs.copy_from_slice(&form.base);
                for &(r, j, c) in &form.lin {
                    xs[r] += c * d[j];
                }
                for &(r, j, l, c) in &form.quad {
                    xs[r] += c * d[j] * d[l];
                }
            }
            gx.fill(0.0);
            for term in &self.terms {
                log_joint += term.eval(x, gx, &self.forms);
            }
            gz.fill(0.0);
            for form in &self.forms {
                let gs = &gx[form.offset..form.offset + form.base.len()];
                for &(r, j, c) in &form.lin {
                    gz[j] += c * gs[r];
                }
                for &(r, j, l, c) in &form.quad {
                    gz[j] += c * d[l] * gs[r];
                    gz[l] += c * d[j] * gs[r];
                }
            }
            for i in 0..dim {
                grad[i] = -(grad[i] + gz[i] * dzdq[i]);
            }
            (-log_joint, grad)
        })
    }
}

impl Term {
    /// Adds `scale ·` the elementwise derivatives to `gx` and returns `scale · Σ log p`.
    fn eval(&self, x: &[f64], gx: &mut [f64], forms: &[Form]) -> f64 {
        let at = |k: usize| forms[self.inputs[k]].offset;
        let s = self.scale;
        let mut total = 0.0;
        match self.kind {
            Kind::Flat => {}
            Kind::Factor => {
                let o = at(0);
                for i in 0..self.len {
                    total += x[o + i];
                    gx[o + i] += s;
                }
            }
            Kind::Normal | Kind::Cauchy | Kind::Laplace | Kind::StudentT => {
                let (ov, ol, os) = (at(0), at(1), at(2));
                let mut scale = ScaleCache::default();
                for i in 0..self.len {
                    let sigma = x[os + i];
                    let (ln_sigma, inv) = scale.of(sigma);
                    let z = (x[ov + i] - x[ol + i]) * inv;
                    // log p = f(z) - ln sigma + c; g = f'(z).
                    let (f, g) = match self.kind {
                        Kind::Normal => (-0.5 * z * z - LN_SQRT_2PI, -z),
                        Kind::Cauchy => (-(z * z).ln_1p() - PI.ln(), -2.0 * z / (1.0 + z * z)),
                        Kind::Laplace => (-z.abs() - LN_2, -sign(z)),
                        _ => {
                            let (df, norm) = self.student.as_ref().expect("a Student-t term has its constants");
                            let nu = df[i];
                            (-0.5 * (nu + 1.0) * (z * z / nu).ln_1p() + norm[i], -(nu + 1.0) * z / (nu + z * z))
                        }
                    };
                    total += f - ln_sigma;
                    gx[ov + i] += s * g * inv;
                    gx[ol + i] -= s * g * inv;
                    gx[os + i] += s * (-g * z - 1.0) * inv;
                }
            }
            Kind::LogNormal => {
                let (ov, ol, os) = (at(0), at(1), at(2));
                for i in 0..self.len {
                    let v = x[ov + i];
                    if v <= 0.0 {
                        total += f64::NEG_INFINITY;
                        continue;
                    }
                    let (ln_v, sigma) = (v.ln(), x[os + i]);
                    let z = (ln_v - x[ol + i]) / sigma;
                    total += -0.5 * z * z - ln_v - sigma.ln() - LN_SQRT_2PI;
                    gx[ov + i] += s * (-z / sigma - 1.0) / v;
                    gx[ol + i] += s * z / sigma;
                    gx[os + i] += s * (z * z - 1.0) / sigma;
                }
            }
            Kind::HalfNormal | Kind::HalfCauchy => {
                let (ov, os) = (at(0), at(1));
                let mut scale = ScaleCache::default();
                for i in 0..self.len {
                    let v = x[ov + i];
                    if v < 0.0 {
                        total += f64::NEG_INFINITY;
                        continue;
                    }
                    let (ln_sigma, inv) = scale.of(x[os + i]);
                    let z = v * inv;
                    let (f, g) = if self.kind == Kind::HalfNormal {
                        (-0.5 * z * z + (LN_2 - LN_SQRT_2PI), -z)
                    } else {
                        (-(z * z).ln_1p() - FRAC_PI_2.ln(), -2.0 * z / (1.0 + z * z))
                    };
                    total += f - ln_sigma;
                    gx[ov + i] += s * g * inv;
                    gx[os + i] += s * (-g * z - 1.0) * inv;
                }
            }
            Kind::Exponential => {
                let (ov, or) = (at(0), at(1));
                for i in 0..self.len {
                    let (v, rate) = (x[ov + i], x[or + i]);
                    if v < 0.0 {
                        total += f64::NEG_INFINITY;
                        continue;
                    }
                    total += rate.ln() - rate * v;
                    gx[ov + i] -= s * rate;
                    gx[or + i] += s * (1.0 / rate - v);
                }
            }
        }
        s * total
    }
}

/// `ln sigma` and `1 / sigma`, recomputed only when `sigma` changes from one element to the
/// next: a scale broadcast over a likelihood (`sigma.expand([n])`) costs one logarithm, not `n`.
#[derive(Default)]
struct ScaleCache {
    sigma: f64,
    ln: f64,
    inv: f64,
}

impl ScaleCache {
    fn of(&mut self, sigma: f64) -> (f64, f64) {
        // `sigma == self.sigma` is false for NaN, so a NaN scale is always recomputed; the
        // default 0.0 never matches a valid scale's first use without its values.
        if sigma != self.sigma || self.inv == 0.0 {
            *self = Self { sigma, ln: sigma.ln(), inv: 1.0 / sigma };
        }
        (self.ln, self.inv)
    }
}

fn sign(z: f64) -> f64 {
    if z > 0.0 {
        1.0
    } else if z < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The family of a site, and its inputs after the value, or why the tape cannot take it.
fn site_inputs(family: Family, name: &str) -> std::result::Result<(Kind, Vec<Tensor<1>>), String> {
    Ok(match family {
        Family::Normal { loc, scale } => (Kind::Normal, vec![loc, scale]),
        Family::LogNormal { loc, scale } => (Kind::LogNormal, vec![loc, scale]),
        Family::HalfNormal { scale } => (Kind::HalfNormal, vec![scale]),
        Family::HalfCauchy { scale } => (Kind::HalfCauchy, vec![scale]),
        Family::Cauchy { loc, scale } => (Kind::Cauchy, vec![loc, scale]),
        Family::Laplace { loc, scale } => (Kind::Laplace, vec![loc, scale]),
        Family::StudentT { df, loc, scale } => (Kind::StudentT, vec![loc, scale, df]),
        Family::Exponential { rate } => (Kind::Exponential, vec![rate]),
        Family::Flat => (Kind::Flat, vec![]),
        Family::Other => return Err(format!("site `{name}` has a distribution the tape has no log-density for")),
    })
}

/// Records `model` into a tape, or says why it cannot (the potential then keeps the burn path).
pub(crate) fn record<M: Model>(
    model: &M,
    layout: &LatentLayout,
    params: &ParamStore,
    device: &Device,
) -> std::result::Result<SiteTape, String> {
    // Model runs under substitute draw nothing, except a subsampled plate's indices: a seeded
    // block keeps those off the caller's stream (a chain's draws are the same with the tape).
    noise::with_seed(0x7a9e_5eed, || Recorder { model, layout, params, device }.record())
}

struct Recorder<'a, M> {
    model: &'a M,
    layout: &'a LatentLayout,
    params: &'a ParamStore,
    device: &'a Device,
}

impl<M: Model> Recorder<'_, M> {
    fn record(&self) -> std::result::Result<SiteTape, String> {
        let dim = self.layout.dim();
        let mut bijections = Vec::with_capacity(dim);
        for slot in self.layout.slots() {
            let b = Bijection::of(slot.constraint)
                .ok_or_else(|| format!("site `{}` has a {:?} support", slot.name, slot.constraint))?;
            bijections.extend(std::iter::repeat_n(b, slot.len));
        }
        let mut points = PointStream(0x243f_6a88_85a3_08d3);
        let z_at = |q: &[f64]| -> Vec<f64> { q.iter().zip(&bijections).map(|(&u, b)| b.forward(u).0).collect() };
        let z0 = z_at(&points.next(dim));
        let steps: Vec<f64> = z0.iter().zip(&bijections).map(|(&z, b)| b.step(z)).collect();
        let p0 = self.probe(&z0)?;
        let shifted = |deltas: &[(usize, f64)]| {
            let mut z = z0.clone();
            for &(j, h) in deltas {
                z[j] += h;
            }
            z
        };
        let mut plus = Vec::with_capacity(dim);
        let mut minus = Vec::with_capacity(dim);
        for (j, &h) in steps.iter().enumerate() {
            plus.push(self.probe_like(&shifted(&[(j, h)]), &p0)?);
            minus.push(self.probe_like(&shifted(&[(j, -h)]), &p0)?);
        }
        let n_inputs = p0.inputs.len();
        let mut forms: Vec<Form> = Vec::with_capacity(n_inputs);
        let mut offset = 0;
        let mut curved = false;
        for k in 0..n_inputs {
            let base = p0.inputs[k].clone();
            let mut lin = Vec::new();
            let mut quad = Vec::new();
            for j in 0..dim {
                let (xp, xm, h) = (&plus[j].inputs[k], &minus[j].inputs[k], steps[j]);
                for r in 0..base.len() {
                    let size = xp[r].abs() + 2.0 * base[r].abs() + xm[r].abs();
                    let first = xp[r] - xm[r];
                    if first.abs() > 1e-14 * size {
                        lin.push((r, j, first / (2.0 * h)));
                    }
                    let second = xp[r] - 2.0 * base[r] + xm[r];
                    if second.abs() > 1e-12 * size {
                        quad.push((r, j, j, second / (2.0 * h * h)));
                        curved = true;
                    }
                }
            }
            lin.sort_unstable_by_key(|&(r, j, _)| (r, j));
            forms.push(Form { offset, base, lin, quad });
            offset += p0.inputs[k].len();
        }
        let terms = terms_of(&p0);
        for (term, sig) in terms.iter().zip(&p0.sigs) {
            let df = &forms[term.inputs.last().copied().unwrap_or_default()];
            if term.kind == Kind::StudentT && !(df.lin.is_empty() && df.quad.is_empty()) {
                return Err(format!(
                    "site `{}` is a Student-t whose degrees of freedom depend on the latents",
                    sig.name
                ));
            }
        }
        let mut tape = SiteTape { bijections: bijections.clone(), z0: z0.clone(), forms, terms, input_len: offset };
        let checks: Vec<Vec<f64>> = (0..VERIFY_POINTS).map(|_| points.next(dim)).collect();
        let verified = if curved { Err(String::new()) } else { self.verify(&tape, &checks, &z_at, &p0) };
        if verified.is_ok() {
            return Ok(tape);
        }
        if dim > MAX_QUADRATIC_DIM {
            let why = verified.err().filter(|e| !e.is_empty()).unwrap_or_else(|| "curvature".to_string());
            return Err(format!(
                "the sites' inputs are not affine in the latents ({why}), and with {dim} latent coordinates \
                 (over {MAX_QUADRATIC_DIM}) the quadratic terms are not searched"
            ));
        }
        for j in 0..dim {
            for l in j + 1..dim {
                let both = self.probe_like(&shifted(&[(j, steps[j]), (l, steps[l])]), &p0)?;
                for (k, form) in tape.forms.iter_mut().enumerate() {
                    let (x, xj, xl, x0) = (&both.inputs[k], &plus[j].inputs[k], &plus[l].inputs[k], &p0.inputs[k]);
                    for r in 0..x0.len() {
                        let size = x[r].abs() + xj[r].abs() + xl[r].abs() + x0[r].abs();
                        let mixed = x[r] - xj[r] - xl[r] + x0[r];
                        if mixed.abs() > 1e-12 * size {
                            form.quad.push((r, j, l, mixed / (steps[j] * steps[l])));
                        }
                    }
                }
            }
        }
        // The quadratic fit also moves the linear part: with curvature, the central difference
        // is still the exact first derivative at z0 (odd terms cancel), so `lin` stands.
        self.verify(&tape, &checks, &z_at, &p0)?;
        Ok(tape)
    }

    /// One model run at `z` (constrained, slot order) read back to the host.
    fn probe(&self, z: &[f64]) -> std::result::Result<Probe, String> {
        let mut values = Values::new();
        for slot in self.layout.slots() {
            let flat = Tensor::<1>::from_data(
                TensorData::new(z[slot.offset..slot.offset + slot.len].to_vec(), [slot.len]),
                self.device,
            );
            let value = Value::from_flat(flat, slot.shape.clone()).map_err(|e| e.to_string())?;
            values.insert(slot.name.clone(), value);
        }
        let mut ctx = Ctx::with_params(self.params.clone());
        substitute(|c: &mut Ctx| self.model.run(c), values)
            .run(&mut ctx)
            .map_err(|e| format!("the model failed at a probe point: {e}"))?;
        let trace = ctx.into_trace();
        let log_density = trace.log_density().map(|t| host_f64(t.detach())[0]).unwrap_or(0.0);
        let mut sigs = Vec::new();
        let mut inputs = Vec::new();
        for site in trace.sites() {
            let Some(log_prob) = &site.log_prob else { continue };
            if log_prob.dtype() != DType::F64 {
                return Err("the device's float type is not f64 (the tape is exact in f64 only)".to_string());
            }
            let (kind, params) = match &site.dist {
                None => (Kind::Factor, vec![log_prob.clone()]),
                Some(dist) => site_inputs(dist.family(), &site.name)?,
            };
            let len = log_prob.dims()[0];
            let mut site_inputs = Vec::with_capacity(params.len() + 1);
            if kind != Kind::Factor && kind != Kind::Flat {
                site_inputs.push(host_f64(site.value.flat().detach()));
            }
            for p in params {
                site_inputs.push(host_f64(p.detach()));
            }
            if site_inputs.iter().any(|v| v.len() != len) {
                return Err(format!("site `{}` has parameters of another length than its value", site.name));
            }
            sigs.push(SiteSig { name: site.name.clone(), kind, scale: site.scale, len, inputs: site_inputs.len() });
            inputs.extend(site_inputs);
        }
        Ok(Probe { sigs, inputs, log_density })
    }

    /// A probe whose sites must be those of `reference`.
    fn probe_like(&self, z: &[f64], reference: &Probe) -> std::result::Result<Probe, String> {
        let p = self.probe(z)?;
        if p.sigs != reference.sigs {
            let names = |p: &Probe| p.sigs.iter().map(|s| s.name.clone()).collect::<Vec<_>>().join(", ");
            return Err(format!(
                "the model's sites changed between runs (value-dependent control flow or a subsampled plate): \
                 [{}] then [{}]",
                names(reference),
                names(&p)
            ));
        }
        Ok(p)
    }

    /// The tape must reproduce every input and the trace's log-density at each point.
    fn verify(
        &self,
        tape: &SiteTape,
        points: &[Vec<f64>],
        z_at: &dyn Fn(&[f64]) -> Vec<f64>,
        reference: &Probe,
    ) -> std::result::Result<(), String> {
        for q in points {
            let z = z_at(q);
            let p = self.probe_like(&z, reference)?;
            let d: Vec<f64> = z.iter().zip(&tape.z0).map(|(a, b)| a - b).collect();
            for (k, form) in tape.forms.iter().enumerate() {
                let mut x = form.base.clone();
                for &(r, j, c) in &form.lin {
                    x[r] += c * d[j];
                }
                for &(r, j, l, c) in &form.quad {
                    x[r] += c * d[j] * d[l];
                }
                for (r, (&want, got)) in p.inputs[k].iter().zip(x).enumerate() {
                    if (want - got).abs() > INPUT_TOLERANCE * (1.0 + want.abs()) || !got.is_finite() {
                        let sig = input_owner(&reference.sigs, k);
                        return Err(format!(
                            "input {} of site `{}` is not a polynomial of degree <= 2 in the latents \
                             (element {r}: {want} from the model, {got} from the fit)",
                            sig.1, sig.0
                        ));
                    }
                }
            }
            // The family formulas against the model's own log-density.
            let (u, _) = tape.value_and_grad(q);
            let log_det: f64 = q.iter().zip(&tape.bijections).map(|(&u, b)| b.forward(u).2).sum();
            let host = -u - log_det;
            if (host - p.log_density).abs() > 1e-10 * (1.0 + p.log_density.abs()) {
                return Err(format!(
                    "the tape's log-density {host} differs from the model's {} at a check point",
                    p.log_density
                ));
            }
        }
        Ok(())
    }
}

/// The site name and the input's index within the site for the tape's `k`-th input.
fn input_owner(sigs: &[SiteSig], mut k: usize) -> (&str, usize) {
    for s in sigs {
        if k < s.inputs {
            return (&s.name, k);
        }
        k -= s.inputs;
    }
    ("?", k)
}

/// The terms of a probe's sites; a Student-t's degrees of freedom must be constant.
fn terms_of(p: &Probe) -> Vec<Term> {
    let mut terms = Vec::with_capacity(p.sigs.len());
    let mut next = 0;
    for sig in &p.sigs {
        let inputs: Vec<usize> = (next..next + sig.inputs).collect();
        next += sig.inputs;
        let student = (sig.kind == Kind::StudentT).then(|| {
            let df = p.inputs[inputs[3]].clone();
            let norm =
                df.iter().map(|&nu| ln_gamma(0.5 * (nu + 1.0)) - ln_gamma(0.5 * nu) - 0.5 * (nu * PI).ln()).collect();
            (df, norm)
        });
        terms.push(Term { kind: sig.kind, scale: sig.scale, len: sig.len, inputs, student });
    }
    terms
}

/// Deterministic points `u ∈ (-2, 2)^dim` on the unconstrained space (SplitMix64), so that
/// recording neither depends on nor moves the caller's noise stream.
struct PointStream(u64);

impl PointStream {
    fn next(&mut self, dim: usize) -> Vec<f64> {
        (0..dim)
            .map(|_| {
                self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = self.0;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                4.0 * ((z >> 11) as f64 / (1u64 << 53) as f64) - 2.0
            })
            .collect()
    }
}
