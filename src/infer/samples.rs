//! [`McmcSamples`]: MCMC draws in the model's own terms — per site, constrained, shaped as the
//! site — with NumPyro's `print_summary`, `get_samples(group_by_chain)` and an ArviZ export.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::mcmc::diagnostics;
use super::mcmc::{Mcmc, McmcResult};
use super::model_potential::ModelPotential;
use crate::error::{Error, Result};
use crate::ppl::ctx::Model;
use crate::ppl::trace::{SiteKind, Trace};
use crate::ppl::value::{Value, Values};

/// Whether a recorded site is a latent random variable or a `deterministic!` function of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SampleKind {
    /// A latent `sample!` site (what NUTS moves).
    Latent,
    /// A `deterministic!` site, recomputed from the latents of each draw.
    Deterministic,
}

/// One site's draws: constrained values, `[chains, draws, ...site shape]` row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteSamples {
    /// Site name.
    pub name: String,
    /// Latent or deterministic.
    pub kind: SampleKind,
    /// The site's own shape (without the chain and draw axes).
    pub shape: Vec<usize>,
    /// Number of chains.
    pub chains: usize,
    /// Draws per chain.
    pub draws: usize,
    /// Every value, chain-major: element `e` of draw `d` of chain `c` is at
    /// `(c * draws + d) * numel + e`.
    pub values: Vec<f64>,
}

impl SiteSamples {
    /// Number of elements of one value.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The full shape `[chains, draws, ...site shape]`.
    pub fn grouped_shape(&self) -> Vec<usize> {
        let mut s = vec![self.chains, self.draws];
        s.extend_from_slice(&self.shape);
        s
    }

    /// Element `e` (flat index into the site's shape) of every draw, `[chain][draw]`, the input
    /// of [`diagnostics`].
    pub fn element(&self, e: usize) -> Vec<Vec<f64>> {
        let n = self.numel();
        (0..self.chains).map(|c| (0..self.draws).map(|d| self.values[(c * self.draws + d) * n + e]).collect()).collect()
    }

    /// The label of element `e` as NumPyro prints it: `name` for a one-element site, else
    /// `name[i]` or `name[i,j]`.
    pub fn element_label(&self, e: usize) -> String {
        if self.numel() == 1 {
            return self.name.clone();
        }
        let mut idx = vec![0; self.shape.len()];
        let mut rest = e;
        for (k, &dim) in self.shape.iter().enumerate().rev() {
            idx[k] = rest % dim;
            rest /= dim;
        }
        let idx: Vec<String> = idx.iter().map(usize::to_string).collect();
        format!("{}[{}]", self.name, idx.join(","))
    }
}

/// Draws of one site as [`McmcSamples::get_samples`] returns them: the shape
/// (`[chains, draws, ...]` or `[chains * draws, ...]`) and the values row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Draws {
    /// The shape, sample axes first.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<f64>,
}

impl Draws {
    /// The draws as a rank-`D` tensor on `device`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `D` is not the rank of [`Draws::shape`].
    pub fn tensor<const D: usize>(&self, device: &Device) -> Result<Tensor<D>> {
        let shape: [usize; D] = self.shape.clone().try_into().map_err(|_| {
            Error::shape(
                "Draws::tensor",
                "rank",
                format!("a rank-{D} tensor"),
                &self.shape,
                "ask for the rank of the draws' shape (2 sample axes grouped by chain, 1 pooled, plus the site's)",
            )
        })?;
        Ok(Tensor::from_data(TensorData::new(self.values.clone(), shape), device))
    }
}

/// One row of [`McmcSamples::summary`]: one element of one site, NumPyro's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// `name`, `name[i]` or `name[i,j]`.
    pub label: String,
    /// Mean over all draws.
    pub mean: f64,
    /// Standard deviation over all draws (`n − 1`).
    pub sd: f64,
    /// 5 % quantile (linear interpolation, numpy's default).
    pub q5: f64,
    /// Median.
    pub median: f64,
    /// 95 % quantile.
    pub q95: f64,
    /// Bulk effective sample size ([`diagnostics::ess_bulk`]).
    pub n_eff: f64,
    /// Rank-normalized split R-hat ([`diagnostics::rhat`]).
    pub r_hat: f64,
    /// Monte-Carlo standard error of the mean ([`diagnostics::mcse_mean`]).
    pub mcse_mean: f64,
}

/// MCMC results in the model's terms (NumPyro's `MCMC` after `run`): the draws of every latent
/// and `deterministic!` site, constrained and shaped as the site, with the raw run.
///
/// Made by [`Mcmc::run_model`] (or [`McmcSamples::from_result`] for a run of
/// [`Mcmc::run_sequential`]). Serializable (serde), so a run can be checkpointed
/// ([`McmcSamples::save`], [`McmcSamples::load`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McmcSamples {
    /// The sampler's run: unconstrained draws, per-draw statistics, step sizes, mass matrices.
    pub result: McmcResult,
    sites: Vec<SiteSamples>,
}

impl Mcmc {
    /// Runs NUTS on a model's potential and returns the draws per site, constrained and shaped
    /// as the site (`samples.site("beta")?.grouped_shape() == [chains, draws, 2]`), with the
    /// `deterministic!` sites recomputed for every draw.
    ///
    /// # Errors
    /// As [`Mcmc::run`] and [`McmcSamples::from_result`].
    pub fn run_model<M: Model>(&self, potential: &ModelPotential<M>) -> Result<McmcSamples>
    where
        ModelPotential<M>: Sync,
    {
        McmcSamples::from_result(potential, self.run(potential)?)
    }
}

fn site_of_trace(trace: &Trace) -> Vec<(String, SampleKind, Value)> {
    trace
        .sites()
        .iter()
        .filter_map(|s| match s.kind {
            SiteKind::Sample if s.is_latent() => Some((s.name.clone(), SampleKind::Latent, s.value.clone())),
            SiteKind::Deterministic => Some((s.name.clone(), SampleKind::Deterministic, s.value.clone())),
            _ => None,
        })
        .collect()
}

impl McmcSamples {
    /// The sites of `result` (a run on `potential`): the model is run once per draw at `T(q)`
    /// to record its latent and deterministic sites.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `result`'s draws do not have the potential's dimension;
    /// [`Error::Model`] if a site's shape or presence changes between draws; whatever the model
    /// fails with.
    pub fn from_result<M: Model>(potential: &ModelPotential<M>, result: McmcResult) -> Result<Self> {
        let (chains, draws) = (result.num_chains(), result.num_samples());
        let mut sites: Vec<SiteSamples> = Vec::new();
        for (c, chain) in result.draws.iter().enumerate() {
            for (d, q) in chain.iter().enumerate() {
                let recorded = site_of_trace(&potential.trace_at(q)?);
                if c == 0 && d == 0 {
                    sites = recorded
                        .iter()
                        .map(|(name, kind, v)| SiteSamples {
                            name: name.clone(),
                            kind: *kind,
                            shape: v.shape().to_vec(),
                            chains,
                            draws,
                            values: Vec::with_capacity(chains * draws * v.numel()),
                        })
                        .collect();
                }
                if recorded.len() != sites.len() {
                    return Err(Error::Model {
                        site: recorded.iter().map(|r| r.0.clone()).collect::<Vec<_>>().join(", "),
                        problem: format!(
                            "are the sites of draw {d} of chain {c}, not the {} sites of the first draw",
                            sites.len()
                        ),
                        fix: "keep the set of sites the same in every run (no data-dependent control flow over sites)",
                    });
                }
                for (site, (name, _, v)) in sites.iter_mut().zip(recorded) {
                    if site.name != name || site.shape != v.shape() {
                        return Err(Error::Model {
                            site: name,
                            problem: format!(
                                "has shape {:?} at draw {d} of chain {c}, not {:?} (site {:?}) as at the first draw",
                                v.shape(),
                                site.shape,
                                site.name
                            ),
                            fix: "keep every site's name, order and shape the same in every run",
                        });
                    }
                    site.values.extend(v.to_vec());
                }
            }
        }
        Ok(Self { result, sites })
    }

    /// Number of chains.
    pub fn num_chains(&self) -> usize {
        self.result.num_chains()
    }

    /// Kept draws per chain.
    pub fn num_samples(&self) -> usize {
        self.result.num_samples()
    }

    /// Divergent transitions among the kept draws.
    pub fn divergences(&self) -> usize {
        self.result.divergences()
    }

    /// Every recorded site (latent, then deterministic, in the model's execution order).
    pub fn sites(&self) -> &[SiteSamples] {
        &self.sites
    }

    /// The draws of site `name`.
    ///
    /// # Errors
    /// [`Error::Model`] naming `name` if the model has no latent or deterministic site of that
    /// name.
    pub fn site(&self, name: &str) -> Result<&SiteSamples> {
        self.sites.iter().find(|s| s.name == name).ok_or_else(|| Error::Model {
            site: name.to_string(),
            problem: format!(
                "is not a latent or deterministic site of the sampled model (its sites: {})",
                self.sites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
            fix: "ask for one of the listed sites; observed sites are data, not draws",
        })
    }

    /// NumPyro's `get_samples(group_by_chain)`: per site, `[chains, draws, ...site shape]`
    /// when `group_by_chain`, else the chains pooled, `[chains * draws, ...site shape]`
    /// (chain 0's draws first).
    pub fn get_samples(&self, group_by_chain: bool) -> HashMap<String, Draws> {
        self.sites
            .iter()
            .map(|s| {
                let mut shape = if group_by_chain { vec![s.chains, s.draws] } else { vec![s.chains * s.draws] };
                shape.extend_from_slice(&s.shape);
                (s.name.clone(), Draws { shape, values: s.values.clone() })
            })
            .collect()
    }

    /// The pooled draws as site values with a leading sample axis (`[chains * draws, ...]`) on
    /// `device`: the input of [`BatchedPredictive`](super::BatchedPredictive).
    ///
    /// # Errors
    /// Only if a site's values do not fill its shape (a corrupted checkpoint).
    pub fn values(&self, device: &Device) -> Result<Values> {
        self.sites
            .iter()
            .map(|s| {
                let mut shape = vec![s.chains * s.draws];
                shape.extend_from_slice(&s.shape);
                let n = s.values.len();
                let flat = Tensor::<1>::from_data(TensorData::new(s.values.clone(), [n]), device);
                Ok((s.name.clone(), Value::from_flat(flat, shape)?))
            })
            .collect()
    }

    /// One map of site values per draw (chain 0's draws first): the input of
    /// [`Predictive::from_samples`](super::Predictive::from_samples), which runs the model
    /// once per draw.
    ///
    /// # Errors
    /// As [`McmcSamples::values`].
    pub fn draws(&self, device: &Device) -> Result<Vec<Values>> {
        (0..self.num_chains() * self.num_samples())
            .map(|k| {
                self.sites
                    .iter()
                    .map(|s| {
                        let n = s.numel();
                        let v = s.values[k * n..(k + 1) * n].to_vec();
                        let flat = Tensor::<1>::from_data(TensorData::new(v, [n]), device);
                        Ok((s.name.clone(), Value::from_flat(flat, s.shape.clone())?))
                    })
                    .collect()
            })
            .collect()
    }

    /// Per element of every site (NumPyro's `summary`): mean, sd, 5 % / 50 % / 95 % quantiles,
    /// bulk ESS (`n_eff`) and R-hat from [`diagnostics`].
    ///
    /// # Errors
    /// Fewer than 4 draws per chain, or a non-finite draw (as [`diagnostics::summary`]).
    pub fn summary(&self) -> Result<Vec<SummaryRow>> {
        let mut rows = Vec::new();
        for site in &self.sites {
            for e in 0..site.numel() {
                let chains = site.element(e);
                let s = diagnostics::summary(&chains)?;
                let mut pooled: Vec<f64> = chains.into_iter().flatten().collect();
                pooled.sort_by(f64::total_cmp);
                rows.push(SummaryRow {
                    label: site.element_label(e),
                    mean: s.mean,
                    sd: s.sd,
                    q5: quantile(&pooled, 0.05),
                    median: quantile(&pooled, 0.5),
                    q95: quantile(&pooled, 0.95),
                    n_eff: s.ess_bulk,
                    r_hat: s.rhat,
                    mcse_mean: s.mcse_mean,
                });
            }
        }
        Ok(rows)
    }

    /// The table [`print_summary`](Self::print_summary) prints: NumPyro's layout (`mean std
    /// median 5.0% 95.0% n_eff r_hat`, one row per element) and the number of divergences.
    ///
    /// # Errors
    /// As [`McmcSamples::summary`].
    pub fn summary_table(&self) -> Result<String> {
        let rows = self.summary()?;
        let width = rows.iter().map(|r| r.label.len()).max().unwrap_or(0).max(4) + 2;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "", "mean", "std", "median", "5.0%", "95.0%", "n_eff", "r_hat"
        );
        for r in &rows {
            let _ = writeln!(
                out,
                "{:>width$} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                r.label, r.mean, r.sd, r.median, r.q5, r.q95, r.n_eff, r.r_hat
            );
        }
        let _ = writeln!(out, "\nNumber of divergences: {}", self.divergences());
        Ok(out)
    }

    /// Prints [`summary_table`](Self::summary_table) to stdout (NumPyro's `print_summary`).
    ///
    /// # Errors
    /// As [`McmcSamples::summary`].
    pub fn print_summary(&self) -> Result<()> {
        print!("\n{}", self.summary_table()?);
        Ok(())
    }

    /// The run as the groups of `arviz.from_dict`: `posterior` (every site,
    /// `[chain][draw]...` nested lists; a one-element site `[1]` written as a scalar per draw,
    /// as NumPyro's scalar sites), `sample_stats` (`diverging`, `energy`, `tree_depth`,
    /// `n_steps`, `acceptance_rate`, `step_size`, `lp` = `-U`) and `dims` (`<site>_dim_<k>`
    /// for the site axes), so that
    /// `az.from_dict(posterior=d["posterior"], sample_stats=d["sample_stats"], dims=d["dims"])`
    /// gives an `InferenceData` with `chain` and `draw` dimensions.
    pub fn to_arviz_json(&self) -> Json {
        let mut posterior = serde_json::Map::new();
        let mut dims = serde_json::Map::new();
        for s in &self.sites {
            let shape = if s.numel() == 1 { vec![s.chains, s.draws] } else { s.grouped_shape() };
            posterior.insert(s.name.clone(), nested(&s.values, &shape));
            if s.numel() > 1 {
                let names: Vec<Json> = (0..s.shape.len()).map(|k| json!(format!("{}_dim_{k}", s.name))).collect();
                dims.insert(s.name.clone(), Json::Array(names));
            }
        }
        let stat = |f: &dyn Fn(&super::mcmc::DrawStats) -> Json| -> Json {
            Json::Array(self.result.stats.iter().map(|c| Json::Array(c.iter().map(f).collect())).collect())
        };
        json!({
            "posterior": posterior,
            "sample_stats": {
                "diverging": stat(&|s| json!(s.divergent)),
                "energy": stat(&|s| json!(s.energy)),
                "tree_depth": stat(&|s| json!(s.tree_depth)),
                "n_steps": stat(&|s| json!(s.n_leapfrog)),
                "acceptance_rate": stat(&|s| json!(s.accept_prob)),
                "step_size": stat(&|s| json!(s.step_size)),
                "lp": stat(&|s| json!(-s.potential)),
            },
            "dims": dims,
            "attrs": { "inference_library": "bayesburn", "num_chains": self.num_chains(), "num_draws": self.num_samples() },
        })
    }

    /// Writes [`to_arviz_json`](Self::to_arviz_json) to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written.
    pub fn save_arviz_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(path.as_ref(), &self.to_arviz_json().to_string())
    }

    /// Saves the whole result (sites, unconstrained draws, statistics, adaptation) as JSON,
    /// every `f64` bit-exact (serde_json's `float_roundtrip`), for [`McmcSamples::load`].
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string(self).map_err(|e| Error::Io {
            path: path.as_ref().display().to_string(),
            message: format!("could not serialize the MCMC samples: {e}"),
        })?;
        write_file(path.as_ref(), &text)
    }

    /// Loads a result written by [`McmcSamples::save`]; bit-identical to the saved one.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; [`Error::Checkpoint`] if it is not a saved
    /// result or its sites do not fill their shapes.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::Io { path: shown.clone(), message: e.to_string() })?;
        let samples: Self = serde_json::from_str(&text).map_err(|e| Error::Checkpoint {
            path: shown.clone(),
            field: "McmcSamples".to_string(),
            problem: format!("is not a saved MCMC result: {e}"),
            fix: "load a file written by McmcSamples::save",
        })?;
        if let Some(s) = samples.sites.iter().find(|s| s.values.len() != s.chains * s.draws * s.numel()) {
            return Err(Error::Checkpoint {
                path: shown,
                field: s.name.clone(),
                problem: format!(
                    "holds {} values, not chains x draws x elements = {} x {} x {}",
                    s.values.len(),
                    s.chains,
                    s.draws,
                    s.numel()
                ),
                fix: "load a file written by McmcSamples::save, unedited",
            });
        }
        Ok(samples)
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })
}

/// Quantile `p` of sorted values, linear interpolation between order statistics (numpy's
/// default, type 7).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Row-major `values` as nested JSON lists of `shape`.
fn nested(values: &[f64], shape: &[usize]) -> Json {
    match shape {
        [] => json!(values[0]),
        [n, rest @ ..] => {
            let stride: usize = rest.iter().product();
            Json::Array((0..*n).map(|i| nested(&values[i * stride..(i + 1) * stride], rest)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_numpy() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&x, 0.5), 3.0);
        // numpy.quantile([1, 2, 3, 4, 5], 0.05) = 1.2
        assert!((quantile(&x, 0.05) - 1.2).abs() < 1e-12);
        assert!((quantile(&x, 0.95) - 4.8).abs() < 1e-12);
    }

    #[test]
    fn nested_lists_follow_the_shape() {
        let v: Vec<f64> = (0..12).map(f64::from).collect();
        assert_eq!(
            nested(&v, &[2, 3, 2]),
            json!([[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], [[6.0, 7.0], [8.0, 9.0], [10.0, 11.0]]])
        );
    }

    #[test]
    fn labels_index_like_numpyro() {
        let s = SiteSamples {
            name: "L".into(),
            kind: SampleKind::Latent,
            shape: vec![2, 3],
            chains: 1,
            draws: 1,
            values: vec![0.0; 6],
        };
        assert_eq!(s.element_label(4), "L[1,1]");
        let one = SiteSamples { shape: vec![1], values: vec![0.0], ..s };
        assert_eq!(one.element_label(0), "L");
    }
}
